"""Request types for views behind login: the user is a real User, htmx details are attached."""

from typing import cast

from django.http import HttpRequest, HttpResponseBase
from django_htmx.middleware import HtmxDetails
from rest_framework.request import Request

from annotation.models import User


class AuthedHttpRequest(HttpRequest):
    user: User  # login_required guarantees a real user
    htmx: HtmxDetails


def api_user(request: Request) -> User:
    """The authenticated user of an API request (IsAuthenticated is the default permission)."""
    return cast(User, request.user)


def file_headers(response: HttpResponseBase, *, disposition: str) -> HttpResponseBase:
    """A file served to the browser (an attachment, a downloaded spec): shown as its declared
    type and nothing else (no script, no sniffing into HTML), `disposition` inline or as a
    download (`attachment; filename="..."`)."""
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = disposition
    return response
