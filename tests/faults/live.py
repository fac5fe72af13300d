"""A real Agora web server (gunicorn, as in production) on a database of the test's own."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.faults.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
GUNICORN = str(Path(PY).parent / "gunicorn")
# Settings of the test run itself that must not leak into the server's environment.
_OWN = ("DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY", "AGORA_VAR_DIR",
        "LOG_FORMAT", "LOG_REQUESTS")  # fmt: skip


def agora_env(*, database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _OWN}
    env.update(
        DATABASE_URL=database_url,
        AGORA_VAR_DIR=str(var_dir),
        SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SETTINGS_MODULE="webapp.settings",
        # A broker on a port nothing listens on: the annotation loop must not need one.
        CELERY_BROKER_URL=extra.pop("CELERY_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0"),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def seed(env: dict[str, str], *, tasks: int, annotators: int, overlap: int, tokens: Path) -> int:
    """Migrate, then a pairwise campaign and annotators with API tokens; the campaign id."""
    seed_args = ["-m", "tests.bench.seed", "--tasks", str(tasks), "--annotators",
                 str(annotators), "--overlap", str(overlap), "--tokens", str(tokens)]  # fmt: skip
    for args in (["manage.py", "migrate", "-v0"], seed_args):
        done = subprocess.run(
            [PY, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return int(json.loads(done.stdout.strip().splitlines()[-1])["campaign"])


@contextmanager
def gunicorn(
    env: dict[str, str], *, workers: int = 2, threads: int = 4, log: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [GUNICORN, "-c", "python:webapp.gunicorn_conf", "webapp.wsgi:application"],
        cwd=ROOT,
        env={
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads),
            "GUNICORN_MAX_REQUESTS": "0",
        },
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]
