"""The language of the annotator's pages: the profile's choice, else the browser's.

LocaleMiddleware picks the browser's (Accept-Language) among settings.LANGUAGES; an annotator
whose latest profile answers name a language (`answers["language"]`, e.g. "es") gets that one
instead, on every device they log in from.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from annotation.models import Profile


def profile_language(*, user_id: int) -> str | None:
    """The supported language the user's latest profile asks for, if any."""
    wanted = (
        Profile.objects.filter(user_id=user_id)
        .order_by("-version")
        .values_list("answers__language", flat=True)
        .first()
    )
    if not isinstance(wanted, str) or not wanted:
        return None
    try:
        return translation.get_supported_language_variant(wanted)
    except LookupError:
        return None


class ProfileLanguageMiddleware:
    """After LocaleMiddleware and AuthenticationMiddleware: the profile's language wins."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = profile_language(user_id=user.pk)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)
