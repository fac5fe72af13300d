"""`Authorization: Token <key>` for DRF, over selectors.tokens (hashed keys, remembered for a
short while per process)."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


class CachedTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        # Imported here: DRF loads this class from settings before the apps are ready.
        from annotation.selectors.tokens import api_token_owner

        owner = api_token_owner(key=key)
        if owner is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user, token = owner
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, token
