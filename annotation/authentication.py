"""Token authentication with a short per-process memory of recent tokens.

Every API call of the annotation loop authenticates; remembering a token for a minute saves a
database round trip on each. A revoked token or a deactivated user is refused at most
TOKEN_CACHE_SECONDS later.
"""

import time
from typing import Any

from rest_framework.authentication import TokenAuthentication

TOKEN_CACHE_SECONDS = 60.0
_MAX_ENTRIES = 10_000
_recent: dict[str, tuple[float, Any]] = {}


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        now = time.monotonic()
        hit = _recent.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        user_and_token = super().authenticate_credentials(key)
        if len(_recent) >= _MAX_ENTRIES:
            _recent.clear()
        _recent[key] = (now + TOKEN_CACHE_SECONDS, user_and_token)
        return user_and_token


def token_cache_clear() -> None:
    _recent.clear()
