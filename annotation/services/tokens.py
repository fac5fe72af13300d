"""API tokens: made with the key shown once, stored as a hash, revoked by setting a date."""

import secrets

from django.utils import timezone

from annotation.models import ApiToken, User
from annotation.selectors.tokens import api_token_hash, token_cache_forget


def api_token_create(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user` and its key (the only time the key exists in clear)."""
    key = secrets.token_hex(20)
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=key[:8], key_hash=api_token_hash(key)
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Refuse the token from now on (other web processes within TOKEN_CACHE_SECONDS)."""

    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    token_cache_forget(token_id=token.id)
    return token


def api_tokens_revoke_all(*, user: User) -> int:
    """Revoke every active token of `user` (a lost laptop, a leaver)."""
    revoked = 0
    for token in ApiToken.objects.filter(user=user, revoked_at__isnull=True):
        api_token_revoke(token=token)
        revoked += 1
    return revoked
