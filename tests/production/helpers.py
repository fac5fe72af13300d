"""Running Agora in a fresh process with a chosen environment, as a deployment would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ENV_EXAMPLE = DOCKER / ".env.example"

# Variables of the test run itself that must not leak into a process given its own settings.
_SETTINGS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "LOG_FORMAT",
    "LOG_REQUESTS",
    "LOG_LEVEL",
    "AGORA_VAR_DIR",
    "AGORA_EXPORTS_DIR",
    "AGORA_EXPORTS_S3_BUCKET",
)


def env_example() -> dict[str, str]:
    """docker/.env.example as a mapping (what an operator's docker/.env starts from)."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def closed_port() -> int:
    """A local TCP port that nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_agora(
    args: list[str], *, var_dir: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in the repository with a clean Agora environment plus `env`."""
    # Less the harness's own DJANGO_ALLOW_ASYNC_UNSAFE (the browser tests set it while they
    # run), which `check --deploy` rightly refuses.
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in _SETTINGS_VARIABLES and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    base.update({"AGORA_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "webapp.settings"})
    base.update(env or {})
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_django(
    code: str, *, var_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `code` after django.setup() in a fresh process."""
    return run_agora(["-c", "import django\ndjango.setup()\n" + code], var_dir=var_dir, env=env)
