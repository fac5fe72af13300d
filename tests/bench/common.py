"""Shared pieces of the benchmarks: a fresh PostgreSQL database, a production-like server, and
one JSON line per measurement."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
WORDS = [
    "the",
    "model",
    "answer",
    "question",
    "data",
    "people",
    "time",
    "work",
    "system",
    "example",
    "result",
    "explain",
    "simple",
    "clear",
    "reason",
    "value",
    "training",
    "human",
    "feedback",
    "language",
    "response",
    "better",
    "helpful",
    "correct",
    "honest",
    "short",
    "long",
    "first",
    "second",
    "because",
    "however",
    "therefore",
    "while",
    "using",
    "code",
    "list",
    "python",
    "function",
    "error",
    "test",
    "write",
    "read",
    "change",
    "keep",
    "make",
    "find",
    "give",
    "take",
]


def bench_database_url() -> str:
    """A database of its own on the machine's PostgreSQL server, whatever DATABASE_URL names."""
    if url := os.environ.get("BENCH_DATABASE_URL"):
        return url
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/agora")
    if not base.startswith("postgres"):
        base = "postgres://postgres@127.0.0.1:5432/agora"
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/agora_bench"))


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def env_for(url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "AGORA_VAR_DIR": str(ROOT / "var" / "bench"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        **extra,
    }
    env.pop("CELERY_BROKER_URL", None)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout


def words(n: int, rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


@contextmanager
def gunicorn(env: dict[str, str], *, port: int, workers: int, threads: int) -> Iterator[str]:
    """Agora as production serves it: DEBUG off, gunicorn with production's settings file
    (webapp/gunicorn_conf.py), on loopback."""
    env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
        # No recycling mid-measurement (a process restarting is a pause for its clients);
        # `make soak` shows the processes' memory stays flat without it.
        "GUNICORN_MAX_REQUESTS": "0",
    }
    cmd = [
        str(Path(PY).parent / "gunicorn"),
        "-c", "python:webapp.gunicorn_conf",
        "--backlog", "2048",
        "webapp.wsgi:application",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/accounts/login/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return round(values[k], 2)
