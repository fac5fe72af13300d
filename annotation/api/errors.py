"""One shape for every API error: {"detail": message, "code": ..., "field": path or null}."""

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import RuleError


def _first_error(detail: Any, path: str = "") -> tuple[str, str]:
    """The first (field path, message) of DRF's nested validation errors."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = key if key == "non_field_errors" else f"{path}.{key}" if path else key
            return _first_error(value, "" if key == "non_field_errors" else sub)
    if isinstance(detail, list) and detail:
        return _first_error(detail[0], path)
    return path, str(detail)


ERRORS_DEPTH = 32


def _depth(value: Any, limit: int = ERRORS_DEPTH + 1) -> int:
    """How deep `value` nests (lists and dicts), counted up to `limit` and no further."""
    depth, level = 0, [value]
    while level and depth < limit:
        nested = [
            v
            for x in level
            if isinstance(x, dict | list)
            for v in (x.values() if isinstance(x, dict) else x)
        ]
        depth += 1
        level = [v for v in nested if isinstance(v, dict | list)]
    return depth


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {
                "detail": f"The request body is larger than {limit} bytes (or has too many "
                "fields); send less per request.",
                "code": "too_large",
                "field": None,
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, RuleError):
        return Response(
            {"detail": exc.message, "code": exc.code, "field": exc.field}, status=exc.status
        )
    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_error(exc.detail)
        return Response(
            {
                "detail": f"{field}: {message}" if field else message,
                "code": "invalid",
                "field": field or None,
                # The errors field by field, unless it nests as deep as a hostile body did
                # (each level of the input wraps its error once more): then the first only.
                "errors": exc.detail if _depth(exc.detail) <= ERRORS_DEPTH else None,
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data.setdefault("code", getattr(response.data["detail"], "code", "error"))
        response.data.setdefault("field", None)
    return response
