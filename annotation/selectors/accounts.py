"""Reads about people's accounts."""

from __future__ import annotations

from annotation.models import User
from webapp.untrusted import skeleton


def username_look_alike(*, username: str) -> str | None:
    """An existing username that reads as this one (same skeleton: "\\u0430lice" with a
    Cyrillic a, "ALICE" or "a1ice" for "alice"), or None. Every username is compared: a
    skeleton is not a column, and sign-ups are rare next to everything else."""
    wanted = skeleton(username)
    for existing in User.objects.values_list("username", flat=True).iterator(chunk_size=2000):
        if skeleton(existing) == wanted:
            return str(existing)
    return None
