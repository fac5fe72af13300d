"""The cast: alice and bob annotate, carol administers, mallory has no access."""

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import tqdm
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import translation
from rest_framework.test import APIClient

from annotation.models import Campaign, Membership, User
from annotation.services import api_token_create, campaign_create, membership_add, prompts_import
from generation import backends
from webapp.celery import app as celery_app

# tqdm starts a monitor thread with its first progress bar (a model load shows one) that
# outlives the bar; without it, which test loads a model first cannot decide whether a
# worker's "no thread left behind" check passes.
tqdm.tqdm.monitor_interval = 0


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


@pytest.fixture
def exports_dir(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "exports"},
        },
    }
    return tmp_path / "exports"


def api_client_for(user: User) -> APIClient:
    client = APIClient()
    _token, key = api_token_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
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
def _language_reset():
    """A page asked for in Spanish leaves Spanish active in the thread (LocaleMiddleware turns
    a language on for the request and nothing turns it off): a later test's messages from a
    service would come out in Spanish, by test order."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _forget_tokens():
    from annotation.selectors.tokens import token_cache_clear

    token_cache_clear()
    yield
    token_cache_clear()


WAIT_SECONDS = 10


@contextmanager
def embedded_worker(
    monkeypatch, queues: list[str], *, check_threads: bool = True
) -> Iterator[object]:
    """A Celery worker (solo pool) in a thread of this process, on `queues`, over the
    configured broker; stopped afterwards. `check_threads=False` where the test runs other
    threads of its own meanwhile (a live server and a browser)."""

    # The embedded worker sets up Celery's logging, which by default takes over the root
    # logger for the rest of the session; a `setup_logging` receiver tells Celery to leave
    # logging alone. It also exports its log level into the environment; monkeypatch puts
    # that back.
    def keep_logging(**kwargs) -> None:
        return None

    signals.setup_logging.connect(keep_logging, weak=False)
    monkeypatch.setenv("CELERY_LOG_LEVEL", "")
    monkeypatch.setenv("CELERY_LOG_FILE", "")
    root_level = logging.getLogger().level
    threads_before = set(threading.enumerate())
    try:
        # No ping check: it waits on a result, and Agora has no result backend
        # (CELERY_TASK_IGNORE_RESULT); the test watches the database instead.
        with start_worker(
            celery_app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            queues=queues,
            shutdown_timeout=WAIT_SECONDS,
        ) as w:
            yield w
    finally:
        signals.setup_logging.disconnect(keep_logging)
        logging.captureWarnings(False)
        logging.getLogger().setLevel(root_level)
    # start_worker joins the worker's thread (and raises if it does not stop); make sure it
    # left nothing else behind either.
    if not check_threads:
        return
    deadline = time.monotonic() + WAIT_SECONDS
    while (left := _threads_left(threads_before)) and (time.monotonic() < deadline):
        time.sleep(0.1)
    assert left == [], f"threads left running after the worker stopped: {left}"


def _threads_left(before: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started since `before`, less the ones of the models the worker loaded: the
    process keeps a loaded model, and the one thread that runs it, for its whole life (as a
    real worker does; generation.backends.backend_for), whichever test loaded it first."""
    models = {
        thread
        for backend in backends.backends_loaded()
        for thread in getattr(backend, "threads_owned", lambda: ())()
    }
    return [t for t in threading.enumerate() if t not in before and t not in models]


@pytest.fixture(scope="session")
def default_model() -> object:
    """The default model (the settings of every `transformers` row the tests register),
    loaded in this process before a test starts its clock. A worker's first generation would
    otherwise include the load, a minute on a busy CPU, and a test's wait would pass or fail
    by whether an earlier test had loaded it."""
    return backends.backend_for("transformers", {"threads": 1})


@pytest.fixture
def worker(monkeypatch) -> Iterator[object]:
    """An embedded worker on the default queue for the length of one test."""
    with embedded_worker(monkeypatch, [settings.CELERY_TASK_DEFAULT_QUEUE]) as w:
        yield w
