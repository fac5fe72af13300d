"""People and their keys: users (known outside only by their pseudonym), API tokens, and
the versions of an annotator's survey answers (profiles) that judgments point at."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models

USER_MODEL = settings.AUTH_USER_MODEL


def _pseudonym() -> str:
    return "a_" + secrets.token_hex(6)


class User(AbstractUser):
    # The only identifier of a person that leaves Agora in exports.
    pseudonym = models.CharField(max_length=32, unique=True, default=_pseudonym, editable=False)


class ApiToken(models.Model):
    """A key for `Authorization: Token <key>`. Only its SHA-256 is stored: the key is shown
    once, when it is made, and a leaked database holds nothing that authenticates.

    Keys are 40 random hex characters, so one unsalted hash is enough (no dictionary to try);
    `prefix` lets a person tell their keys apart in lists without revealing them.
    """

    user = models.ForeignKey(USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Profile(models.Model):
    """A version of an annotator's survey answers; judgments point at the version in force."""

    user = models.ForeignKey(USER_MODEL, on_delete=models.CASCADE, related_name="profiles")
    version = models.PositiveIntegerField(default=1)
    answers = models.JSONField(default=dict, blank=True)
    consent_version = models.CharField(max_length=50, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The campaign whose survey saved this version (null: saved elsewhere): a campaign's
    # exports show the answers given in it, never those a later study asked for.
    campaign = models.ForeignKey(
        "annotation.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["user", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="profile_version_unique")
        ]
