"""/healthz (the process answers) and /readyz (the database and the broker answer)."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from tests.production.helpers import closed_port, run_django
from webapp.celery import app as celery_app

READYZ_IN_A_FRESH_PROCESS = """
import json, time
from django.test import Client
started = time.perf_counter()
response = Client().get("/readyz")
print(json.dumps({"status": response.status_code, "body": response.json(),
                  "seconds": time.perf_counter() - started}))
"""


def test_healthz_answers_without_a_database_or_a_login():
    # No `db` fixture: pytest-django fails any query, so a 200 proves /healthz makes none.
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_probes_answer_any_host_over_plain_http(settings):
    # Probes come from inside the container network, by IP, without TLS.
    settings.ALLOWED_HOSTS = ["agora.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    client = Client(HTTP_HOST="172.18.0.5:8000")

    assert client.get("/healthz").status_code == 200
    assert client.head("/healthz").status_code == 200
    # The same host and scheme anywhere else are refused or redirected, as before.
    assert client.get("/accounts/login/").status_code in (301, 400)


@pytest.mark.django_db
def test_readyz_names_each_check_when_all_is_up():
    response = Client().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_when_it_is_unreachable(monkeypatch, caplog):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    # Celery prefers the environment variable over its configuration, so set both.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(celery_app.conf, "broker_url", url)

    started = time.perf_counter()
    response = Client().get("/readyz")
    seconds = time.perf_counter() - started

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error: ")
    assert seconds < 3, f"/readyz took {seconds:.1f}s with the broker down"
    assert any(r.name == "agora.health" and r.check == "broker" for r in caplog.records)


@pytest.mark.parametrize(
    "database_url",
    [
        pytest.param("postgres://agora@127.0.0.1:{port}/agora", id="postgresql-closed-port"),
        pytest.param("sqlite:////nonexistent-folder/agora.sqlite3", id="sqlite-missing-folder"),
    ],
)
def test_readyz_is_503_naming_the_database_when_it_is_unreachable(tmp_path, database_url):
    # A fresh process whose DATABASE_URL points where no database is: a closed local port
    # (connection refused), or a SQLite file in a folder that does not exist.
    result = run_django(
        READYZ_IN_A_FRESH_PROCESS,
        var_dir=tmp_path,
        env={"DATABASE_URL": database_url.format(port=closed_port())},
    )

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert answer["body"]["status"] == "unavailable"
    assert answer["body"]["failed"] == ["database"]
    assert answer["body"]["checks"]["database"] == "error: OperationalError"
    assert answer["body"]["checks"]["broker"] == "ok"
    assert answer["seconds"] < 3


def test_readyz_in_a_fresh_process_is_200_with_its_database_and_broker_up(tmp_path):
    # The same fresh process against a reachable SQLite file and the folder broker: the 503s
    # above come from the unreachable database, not from the way the process is started.
    result = run_django(READYZ_IN_A_FRESH_PROCESS, var_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200
    assert answer["body"]["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_refuse_writes(path):
    assert Client().post(path).status_code == 405
