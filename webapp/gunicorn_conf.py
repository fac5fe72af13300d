"""gunicorn's settings for Agora: `gunicorn -c python:webapp.gunicorn_conf webapp.wsgi:application`.

The same for the Docker image, the systemd unit, the Procfile and `make bench`; each knob is
an environment variable (docker/.env.example).

Sync workers by default: one request at a time per process, taken from the shared listening
socket only when the process is free, so the load spreads evenly and no request waits on
another thread's turn at the interpreter lock. Measured with `make bench` on 2 cores (with
PostgreSQL and the load generator on the same machine), three sync processes kept the p99 of
"next task" at 64 annotators near 100 ms; two threaded processes of 8 threads served about 6%
more judgments per second with a p99 near 200 ms (docs/performance.md). They need a
proxy in front that buffers slow clients (nginx, Caddy, a cloud load balancer: the README's
production setup has one), and a request may run at most `timeout` seconds, which bounds the
direct streamed export (larger exports run as export jobs). GUNICORN_THREADS above 1 switches
to threaded workers instead.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core, and one more to use a core while another waits on the database.
workers = int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) + 1)
threads = int(os.environ.get("GUNICORN_THREADS") or 1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Recycle workers now and then so a slow leak never grows without bound; the jitter keeps
# them from restarting all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# The heartbeat file on a tmpfs where there is one (Docker's /tmp may be an overlay disk).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# RequestLogMiddleware writes the access line, with the request id; gunicorn's would repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

if os.environ.get("LOG_FORMAT", "plain") == "json":
    # gunicorn's own lines (start, worker boots, timeouts) in the same JSON as the app's.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "webapp.logging.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper()},
            "gunicorn.access": {"handlers": [], "propagate": False},
        },
    }
