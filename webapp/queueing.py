"""Sending work to the Celery broker without ever failing the request that asked for it.

A job's row is committed before its message is sent (`transaction.on_commit`), so the
database always knows the work exists. If the broker is down the send fails: the row stays
`queued` with `enqueued_at` empty, the failure is logged, the request that asked still
succeeds, and a sweeper (`*_resend_task`, run by beat every minute) sends every such row
again once the broker is back. Tasks claim their row with a conditional update, so a job
sent twice still runs once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone

logger = logging.getLogger("agora.queue")

# A row younger than this may still have its on_commit send ahead of it.
RESEND_AFTER = timedelta(seconds=30)


def task_send(task: Any, *, args: tuple[Any, ...], queue: str | None = None) -> bool:
    """Publish one task; False (logged, not raised) when the broker cannot be reached."""
    try:
        task.apply_async(args=args, **({"queue": queue} if queue else {}))
    except Exception as e:  # kombu/redis/amqp each raise their own connection errors
        logger.warning(
            "broker unavailable, %s%s stays queued for the sweeper: %s", task.name, args, e
        )
        return False
    return True


def mark_enqueued(model: type[Model], pk: int) -> None:
    model._default_manager.filter(pk=pk).update(enqueued_at=timezone.now())


def rows_resend(rows: QuerySet[Any], send: Callable[[Any], bool]) -> int:
    """Send again every row whose message never reached the broker; how many went."""
    sent = 0
    cutoff = timezone.now() - RESEND_AFTER
    for row in rows.filter(enqueued_at__isnull=True, created_at__lt=cutoff).order_by("id"):
        if not send(row):
            break  # still down: the next sweep tries again
        sent += 1
    return sent
