"""The cast: alice and bob annotate, carol administers, mallory has no access."""

import json
from collections.abc import Callable

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Campaign, Membership, User
from annotation.services import campaign_create, membership_add, prompts_import


def _user(username: str, **extra) -> User:
    return User.objects.create_user(username=username, password="pw-" + username, **extra)


@pytest.fixture
def alice(db) -> User:
    return _user("alice")


@pytest.fixture
def bob(db) -> User:
    return _user("bob")


@pytest.fixture
def carol(db) -> User:
    return _user("carol")


@pytest.fixture
def mallory(db) -> User:
    return _user("mallory")


@pytest.fixture
def make_campaign(carol) -> Callable[..., Campaign]:
    counter = iter(range(1, 10_000))

    def make(*, members=(), **fields) -> Campaign:
        n = next(counter)
        fields.setdefault("state", Campaign.State.OPEN)
        campaign = campaign_create(
            name=f"Campaign {n}", slug=f"campaign-{n}", created_by=carol, **fields
        )
        membership_add(campaign=campaign, user=carol, role=Membership.Role.ADMIN)
        for user in members:
            membership_add(campaign=campaign, user=user)
        return campaign

    return make


def pairwise_lines(n: int, *, models=("model-a", "model-b"), start: int = 0) -> str:
    """n prompts, each with one response from each of two models, as JSONL."""
    return "\n".join(
        json.dumps(
            {
                "id": f"p{i}",
                "prompt": f"Prompt number {i}: how do I do thing {i}?",
                "responses": [
                    {"text": f"Answer {i} from {models[0]}.", "model": models[0]},
                    {"text": f"Answer {i} from {models[1]}.", "model": models[1]},
                ],
            }
        )
        for i in range(start, start + n)
    )


@pytest.fixture
def campaign(make_campaign, alice, bob) -> Campaign:
    """A pairwise campaign with 6 tasks, overlap 2, alice and bob as annotators."""
    c = make_campaign(members=[alice, bob], overlap=2)
    report = prompts_import(campaign=c, content=pairwise_lines(6))
    assert report.ok, report.lines
    return c


def api_client_for(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Hashing strength is not under test; PBKDF2's iterations would dominate the suite's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _static_without_manifest(settings):
    # Production serves collected, hashed files; tests render pages without a collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _forget_tokens():
    from annotation.authentication import token_cache_clear

    token_cache_clear()
    yield
    token_cache_clear()
