"""Pointing this process's Celery app (producers and embedded workers) at a private broker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from webapp.celery import app as celery_app


def _reset_producers() -> None:
    """Forget connections to the previous broker URL (the tests switch URLs; production
    never does)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def broker(url: str, monkeypatch) -> Iterator[None]:
    conf = celery_app.conf
    saved = conf.broker_url, conf.broker_transport_options
    # Celery reads CELERY_BROKER_URL from the environment before its own settings.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    conf.broker_url = url
    conf.broker_transport_options = {"socket_connect_timeout": 1}
    _reset_producers()
    try:
        yield
    finally:
        monkeypatch.undo()
        conf.broker_url, conf.broker_transport_options = saved
        _reset_producers()
