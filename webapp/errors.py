"""Answers of the layers around the views, as JSON under /api/ (clients parse it) and as a
page elsewhere: not found, and a login locked out by django-axes (with the username it keys
the lockout by)."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Not found.", "code": "not_found", "field": None}, status=404
        )
    return page_not_found(request, exception)


# django-axes keeps the username a failed login tried in a column of 255 characters.
AXES_USERNAME_MAX = 255


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str | None:
    """The username django-axes records a failed login under, as long as its column holds:
    Django's login form does not enforce its own max_length before authenticating, so a
    5,000-character username reaches axes (and PostgreSQL refuses it: a 500)."""
    field = getattr(settings, "AXES_USERNAME_FORM_FIELD", "username")
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    return str(username)[:AXES_USERNAME_MAX] if username is not None else None


def locked_out(
    request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """django-axes' answer to a login from a username and address with too many failures."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = _(
        "Too many failed logins. Try again in %(minutes)d minutes, or ask an admin to unlock "
        "your account."
    ) % {"minutes": minutes}
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": message, "code": "locked_out", "field": None}, status=429
        )
    else:
        response = render(request, "registration/locked_out.html", {"message": message},
                          status=429)  # fmt: skip
    response.headers["Retry-After"] = str(minutes * 60)
    return response
