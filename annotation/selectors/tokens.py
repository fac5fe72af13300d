"""Who an API key belongs to, with a short per-process memory of recent keys.

`Authorization: Token <key>`: the key is hashed and looked up in ApiToken (never stored in
clear). Every API call of the annotation loop authenticates; remembering a key for a minute
saves a database round trip on each. A token revoked in another process, or a deactivated
user, is refused at most TOKEN_CACHE_SECONDS later; a revocation in this process at once
(services.tokens forgets it here).
"""

from __future__ import annotations

import hashlib
import time

from annotation.models import ApiToken, User

TOKEN_CACHE_SECONDS = 60.0
_MAX_ENTRIES = 10_000
# key hash -> (valid until, (user, token))
_recent: dict[str, tuple[float, tuple[User, ApiToken]]] = {}


def api_token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_owner(*, key: str) -> tuple[User, ApiToken] | None:
    """The user and the unrevoked token a key names, or None; remembered for a while."""
    digest = api_token_hash(key)
    now = time.monotonic()
    hit = _recent.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    if token.user.is_active:  # an inactive user is asked about again next time
        if len(_recent) >= _MAX_ENTRIES:
            _recent.clear()
        _recent[digest] = (now + TOKEN_CACHE_SECONDS, (token.user, token))
    return token.user, token


def token_cache_forget(*, token_id: int) -> None:
    for digest, (_until, (_user, token)) in list(_recent.items()):
        if token.id == token_id:
            _recent.pop(digest, None)


def token_cache_clear() -> None:
    _recent.clear()
