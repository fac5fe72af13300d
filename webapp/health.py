"""Probes for load balancers and orchestrators: `/healthz` (liveness) and `/readyz` (readiness).

`/healthz` says the process answers; it touches nothing else, so a database outage never
gets web processes restarted. `/readyz` says this process can serve: the database answers a
trivial query and the Celery broker accepts a connection, each within a short timeout; 200
with each check named, or 503 naming what failed. A load balancer routes on `/readyz`.

`HealthCheckMiddleware` answers both before Django validates the Host header or redirects
to HTTPS: probes come from inside the container network, by IP or `localhost`, over plain
HTTP. Neither needs a login or a session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

logger = logging.getLogger("agora.health")

Check = Callable[[], None]


def database_check() -> None:
    """One round trip to the default database (connecting first if need be)."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def broker_check() -> None:
    """Open (and close) a connection to the Celery broker, one attempt, short timeout."""
    from webapp.celery import app

    timeout = settings.READYZ_TIMEOUT
    with app.connection_for_write(connect_timeout=timeout) as connection:
        connection.ensure_connection(max_retries=0, timeout=timeout)


CHECKS: dict[str, Check] = {"database": database_check, "broker": broker_check}


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:
            # The body is public: it names the failure, the log keeps the detail.
            checks[name] = f"error: {type(exc).__name__}"
            logger.warning(
                "readiness check %s failed: %s",
                name,
                exc,
                extra={
                    "check": name,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        else:
            checks[name] = "ok"
    failed = [name for name, result in checks.items() if result != "ok"]
    body: dict[str, object] = {"status": "unavailable" if failed else "ok", "checks": checks}
    if failed:
        body["failed"] = failed
    response = JsonResponse(body, status=503 if failed else 200)
    response["Cache-Control"] = "no-store"
    return response


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    """Answers GET/HEAD on the probe paths before host checks, HTTPS redirects and sessions."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
