"""Structured logs: one JSON object a line, one line per HTTP request and per Celery task.

`LOG_FORMAT=json` (see docker/.env.example) puts `JsonFormatter` on the console handler;
`LOG_REQUESTS` turns the per-request and per-task lines on (on by default with JSON). The
request id comes from an incoming `X-Request-ID` or is made here, goes back in the response
header, rides along to Celery tasks enqueued during the request, and is added to every line
logged while the request or task runs, so one id finds everything a request caused.

This module imports nothing from Django's settings at import time: gunicorn's config loads
`JsonFormatter` before the Django app exists.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# What an incoming id may look like: it is copied into logs and a response header, so no
# spaces, quotes or control characters, and not too long.
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# Health probes arrive every few seconds; a line for each would bury the real traffic.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})

request_id_var: ContextVar[str | None] = ContextVar("agora_request_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("agora_task_id", default=None)
task_name_var: ContextVar[str | None] = ContextVar("agora_task_name", default=None)

request_logger = logging.getLogger("agora.request")
task_logger = logging.getLogger("agora.task")

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "agora_context",
}
_CONTEXT_VARS = (("request_id", request_id_var), ("task_id", task_id_var), ("task", task_name_var))


def _stamp_context(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """Wrap a LogRecord factory to keep the ids in scope on each record, as `agora_context`.

    At creation, in the thread that logs: a handler may format the record later or elsewhere
    (a queue, a test's capture), where the context variables no longer hold.
    """

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.agora_context = {
            key: value for key, var in _CONTEXT_VARS if (value := var.get()) is not None
        }
        return record

    make.agora_stamps = True  # type: ignore[attr-defined]  # so it is installed once
    return make


if not getattr(logging.getLogRecordFactory(), "agora_stamps", False):
    logging.setLogRecordFactory(_stamp_context(logging.getLogRecordFactory()))
# Django's server and request loggers pass the request (or its socket) as `extra`: not data.
_DROPPED_EXTRAS = frozenset({"request", "server_time"})


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time, level, logger, message, the ids in scope when it
    was made, and its extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "agora_context", None) or {})
        # Django logs a 4xx after the middleware has returned, with the request attached.
        if "request_id" not in entry:
            request_id = getattr(getattr(record, "request", None), "request_id", None)
            if request_id is not None:
                entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in _DROPPED_EXTRAS and key[0] != "_":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def request_id_from(value: str | None) -> str:
    """The caller's request id when it is a sane token, else a fresh one."""
    if value and _REQUEST_ID_RE.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """Gives each request an id and logs one line when its response is ready.

    First in MIDDLEWARE, so the duration covers every other middleware and the id is set
    before anything logs. For a streamed response (exports) the duration is the time to the
    first byte, marked with `"streaming": true`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]  # read by views and tests
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if request_logger.isEnabledFor(logging.INFO) and (
                request.path not in QUIET_PATHS or response.status_code != 200
            ):
                self._log(request, response, started)
            return response
        finally:
            request_id_var.reset(token)

    @staticmethod
    def _log(request: HttpRequest, response: HttpResponse, started: float) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        fields: dict[str, Any] = {
            "event": "request",
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "request_id": request.request_id,  # type: ignore[attr-defined]  # set by RequestLogMiddleware
        }
        if isinstance(response, StreamingHttpResponse):
            fields["streaming"] = True
        request_logger.info(
            "%s %s %s %sms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra=fields,
        )


# Celery: one line per task, through signals, so no task needs to know about it. Keyed by task
# id: when the start time and the context tokens to put back.
_running: dict[str, tuple[float, list[tuple[ContextVar[str | None], Any]]]] = {}
REQUEST_ID_TASK_HEADER = "agora_request_id"


def _header(task_request: Any, name: str) -> Any:
    # Custom message headers land as attributes of the task's request; some Celery versions
    # keep them under `.headers` instead.
    value = getattr(task_request, name, None)
    if value is None:
        value = (getattr(task_request, "headers", None) or {}).get(name)
    return value


def _task_prerun(*, task_id: str, task: Any, **_: Any) -> None:
    tokens: list[tuple[ContextVar[str | None], Any]] = [
        (task_id_var, task_id_var.set(task_id)),
        (task_name_var, task_name_var.set(task.name)),
    ]
    # A task run eagerly inside a request keeps that request's id.
    if (request_id := _header(task.request, REQUEST_ID_TASK_HEADER)) is not None:
        tokens.append((request_id_var, request_id_var.set(str(request_id))))
    _running[task_id] = (time.perf_counter(), tokens)


def _elapsed_ms(started: float | None) -> float | None:
    return None if started is None else round((time.perf_counter() - started) * 1000, 1)


def _task_postrun(*, task_id: str, task: Any, state: str | None = None, **_: Any) -> None:
    started, tokens = _running.pop(task_id, (None, []))
    delivery = getattr(task.request, "delivery_info", None) or {}
    duration_ms = _elapsed_ms(started)
    task_logger.info(
        "task %s %s %sms",
        task.name,
        state,
        duration_ms,
        extra={
            "event": "task",
            "task": task.name,
            "task_id": task_id,
            "state": state,
            "duration_ms": duration_ms,
            "queue": delivery.get("routing_key"),
            "retries": getattr(task.request, "retries", 0),
        },
    )
    for var, token in reversed(tokens):
        var.reset(token)


def _task_revoked(
    *,
    request: Any,
    sender: Any = None,
    terminated: bool = False,
    expired: bool = False,
    **_: Any,
) -> None:
    # A revoked task gets no postrun (it never ran, or was killed): its line is written here.
    started, _tokens = _running.pop(request.id, (None, []))
    name = getattr(request, "task", None) or getattr(sender, "name", None)
    task_logger.info(
        "task %s REVOKED",
        name,
        extra={
            "event": "task",
            "task": name,
            "task_id": request.id,
            "state": "REVOKED",
            "duration_ms": _elapsed_ms(started),
            "terminated": terminated,
            "expired": expired,
        },
    )


def _before_task_publish(*, headers: dict[str, Any] | None = None, **_: Any) -> None:
    # The web request (or the task) that enqueues work hands its id on: custom headers of
    # Celery's message protocol 2 arrive as attributes of the task's request.
    if headers is not None and (request_id := request_id_var.get()) is not None:
        headers.setdefault(REQUEST_ID_TASK_HEADER, request_id)


def _after_setup_task_logger(**_: Any) -> None:
    # A worker replaces the root logger's handlers with its own plain ones; with JSON logs,
    # put Django's LOGGING back so the worker speaks the same JSON as the web processes.
    from logging.config import dictConfig

    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        dictConfig(settings.LOGGING)


def celery_signals_connect() -> None:
    """Connect the task log lines and the request id hand-over (once; called by webapp.celery)."""
    from celery import signals

    for signal, receiver in (
        (signals.task_prerun, _task_prerun),
        (signals.task_postrun, _task_postrun),
        (signals.task_revoked, _task_revoked),
        (signals.before_task_publish, _before_task_publish),
        (signals.after_setup_task_logger, _after_setup_task_logger),
    ):
        signal.connect(receiver, weak=False, dispatch_uid=f"agora.{receiver.__name__}")
