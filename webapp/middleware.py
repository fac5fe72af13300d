"""Answers for requests the views cannot serve: the database gone for a moment, NUL bytes,
and the Content-Security-Policy header on every answer.

A database that restarts or fails over raises OperationalError in whatever view runs then.
That is not a bug in the request, so the client gets 503 with Retry-After (JSON for the API
and htmx, a short page otherwise) and can send the same request again: submits carry an
idempotency key, so a retry of one that did commit returns the stored judgment.

PostgreSQL refuses NUL characters in text, and nothing Agora stores needs them: a request
that carries one (query string or form field) is refused with 400 before any view runs.
JSON bodies are read by `UntrustedJSONParser`, through the one boundary (webapp.untrusted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser

from webapp.untrusted import json_parse

logger = logging.getLogger("agora.request")

RETRY_AFTER_SECONDS = 5


def _wants_json(request: HttpRequest) -> bool:
    return (
        request.path.startswith("/api/")
        or request.headers.get("HX-Request") == "true"
        or "application/json" in request.headers.get("Accept", "")
    )


def _error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if _wants_json(request):
        response: HttpResponse = JsonResponse(
            {"detail": message, "code": code, "field": None}, status=status
        )
    else:
        # No template: rendering one may need the database that just went away.
        response = HttpResponse(
            f'<!doctype html><html lang="en"><meta charset="utf-8"><title>Agora</title>'
            f"<h1>{status}</h1><p>{message}</p></html>",
            status=status,
        )
    return response


class UntrustedJSONParser(JSONParser):
    """Every JSON body of the API, read by webapp.untrusted: a body that cannot be stored or
    walked (NUL, lone surrogates, nesting past the limit, numbers past 20 digits, NaN) is an
    `Untrusted` error, which the API's handler answers with 400 naming the field."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            raise ParseError(f"The request body is not {encoding} text.") from None
        # Strings as long as the body: its size is limited already (DATA_UPLOAD_MAX_MEMORY_SIZE)
        # and a reply's images come as base64 text.
        return json_parse(text, max_string=len(text))


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """A view with one renderer (JSON: every API view but the schema's) answers with it,
    whatever the Accept header says, instead of matching media types on each request.
    Views with several renderers, and request parsing, negotiate as DRF does."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        if len(renderers) == 1:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class RequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            nul = self._carries_nul(request)
        except (RequestDataTooBig, TooManyFieldsSent):
            # A form body past the limit, read here before any view: the same 413 as the
            # API's handler gives, not Django's bare 400 page.
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return _error(
                request,
                413,
                "too_large",
                f"The request body is larger than {limit} bytes (or has too many fields); "
                "send less per request.",
            )
        if nul:
            return _error(request, 400, "nul_character", _("Text may not contain NUL characters."))
        response = self.get_response(request)
        if policy := getattr(settings, "CONTENT_SECURITY_POLICY", ""):
            response.headers.setdefault("Content-Security-Policy", policy)
        return response

    @staticmethod
    def _carries_nul(request: HttpRequest) -> bool:
        if "\x00" in request.path or any(
            "\x00" in s for k, vs in request.GET.lists() for s in (k, *vs)
        ):
            return True
        content_type = request.content_type or ""
        if request.method == "POST" and content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            return any("\x00" in s for k, vs in request.POST.lists() for s in (k, *vs))
        return False

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable: %s", exception)
        response = _error(
            request,
            503,
            "database_unavailable",
            _("The database is unavailable for a moment. Please try again."),
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
