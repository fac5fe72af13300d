"""One JSON line per request and per Celery task, tied together by the request id."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest
from django.test import Client

from annotation.tasks import leases_expire_task
from tests.production.helpers import run_django
from webapp import health
from webapp.logging import JsonFormatter, request_id_var

WAIT_SECONDS = 10


@pytest.fixture
def request_log(caplog) -> pytest.LogCaptureFixture:
    """caplog with the request log on (the logger is quiet unless LOG_REQUESTS is on)."""
    caplog.set_level(logging.INFO, logger="agora.request")
    return caplog


def _json_lines(records: list[logging.LogRecord], logger: str) -> list[dict]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in records if r.name == logger]


@pytest.mark.django_db
def test_it_makes_a_request_id_and_returns_it():
    first = Client().get("/accounts/login/")
    second = Client().get("/accounts/login/")

    assert first.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
def test_it_honours_an_incoming_request_id():
    response = Client().get("/accounts/login/", HTTP_X_REQUEST_ID="lb-7f3a.42")

    assert response["X-Request-ID"] == "lb-7f3a.42"


@pytest.mark.django_db
@pytest.mark.parametrize("incoming", ['x", "status": 200', "two words", "a" * 129, ""], ids=repr)
def test_it_replaces_a_request_id_that_could_garble_the_logs(incoming):
    response = Client().get("/accounts/login/", HTTP_X_REQUEST_ID=incoming)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
def test_each_request_logs_one_json_line_with_its_id(request_log):
    response = Client().get("/accounts/login/", HTTP_X_REQUEST_ID="req-1")

    [line] = _json_lines(request_log.records, "agora.request")
    assert line["event"] == "request"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/accounts/login/", 200)
    assert line["request_id"] == "req-1" == response["X-Request-ID"]
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["logger"] == "agora.request"


@pytest.mark.django_db
def test_every_line_logged_during_a_request_carries_its_id(request_log):
    # A 404 makes Django log a warning from inside the request.
    Client().get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")

    warnings = _json_lines(request_log.records, "django.request")
    assert warnings and all(w["request_id"] == "req-404" for w in warnings)
    assert request_id_var.get() is None  # and nothing of it outlives the request


@pytest.mark.django_db
def test_probes_are_logged_only_when_they_fail(request_log, monkeypatch):
    Client().get("/healthz")
    Client().get("/readyz")
    assert _json_lines(request_log.records, "agora.request") == []

    def broken() -> None:
        raise ConnectionError("broker down")

    monkeypatch.setitem(health.CHECKS, "broker", broken)
    Client().get("/readyz")
    [line] = _json_lines(request_log.records, "agora.request")
    assert (line["path"], line["status"]) == ("/readyz", 503)


def test_json_logs_of_a_fresh_process_are_one_object_a_line(tmp_path):
    # The real configuration (LOG_FORMAT=json) in its own process: stderr as a log pipeline
    # would read it.
    # Neither the 401 nor Celery's built-in `accumulate` task needs a database.
    code = """
from django.test import Client
Client().get("/api/v1/campaigns/", HTTP_X_REQUEST_ID="req-json")
from webapp.celery import app
app.tasks["celery.accumulate"].apply(args=(1, 2))
"""
    result = run_django(
        code, var_dir=tmp_path, env={"LOG_FORMAT": "json", "ALLOWED_HOSTS": "testserver"}
    )

    assert result.returncode == 0, result.stderr
    lines = []
    for line in result.stderr.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}\nin:\n{result.stderr}")
    requests = [line for line in lines if line.get("event") == "request"]
    tasks = [line for line in lines if line.get("event") == "task"]
    assert [(r["method"], r["path"], r["status"], r["request_id"]) for r in requests] == [
        ("GET", "/api/v1/campaigns/", 401, "req-json")
    ]
    # Django's warning about the 401 is written after the middleware, and still has the id.
    assert [(w["message"], w["request_id"]) for w in lines if w["logger"] == "django.request"] == [
        ("Unauthorized: /api/v1/campaigns/", "req-json")
    ]
    assert [(t["task"], t["state"]) for t in tasks] == [("celery.accumulate", "SUCCESS")]
    assert tasks[0]["task_id"] and tasks[0]["duration_ms"] >= 0


def test_plain_logs_stay_quiet_about_each_request(tmp_path):
    # `make run` (plain logs) shows runserver's own line per request, not a second one.
    code = """
from django.test import Client
Client().get("/api/v1/campaigns/")
"""
    result = run_django(code, var_dir=tmp_path, env={"ALLOWED_HOSTS": "testserver"})

    assert result.returncode == 0, result.stderr
    # Django's own warning about the 401 is all there is.
    assert result.stderr.count("/api/v1/campaigns/") == 1, result.stderr


@pytest.mark.django_db
def test_a_task_logs_one_line_with_its_id_and_state(caplog):
    caplog.set_level(logging.INFO, logger="agora.task")

    result = leases_expire_task.apply(headers={"agora_request_id": "req-9"})

    [line] = _json_lines(caplog.records, "agora.task")
    assert line["event"] == "task"
    assert (line["task"], line["state"]) == ("annotation.tasks.leases_expire_task", "SUCCESS")
    assert line["task_id"] == result.id
    assert line["request_id"] == "req-9"
    assert line["duration_ms"] >= 0
    assert request_id_var.get() is None


# transaction=True: the embedded worker runs the task in its own thread and connection.
@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_during_a_request_logs_that_request_id_in_the_worker(caplog, worker):
    caplog.set_level(logging.INFO, logger="agora.task")
    token = request_id_var.set("req-worker")
    try:
        sent = leases_expire_task.delay()
    finally:
        request_id_var.reset(token)

    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        lines = [
            line for line in _json_lines(caplog.records, "agora.task") if line["task_id"] == sent.id
        ]
        if lines:
            break
        time.sleep(0.05)
    assert len(lines) == 1, f"no task line from the worker within {WAIT_SECONDS}s"
    assert lines[0]["request_id"] == "req-worker"
    assert lines[0]["state"] == "SUCCESS"
    assert lines[0]["queue"] == "default"
