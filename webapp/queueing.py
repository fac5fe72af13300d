"""Sending work to the Celery broker without ever failing the request that asked for it, and
without losing it when the broker or a worker does. The row is the truth, the message only
a notification:

- A job's row is committed before its message is sent (`transaction.on_commit`). If the
  broker is down the send fails: the row stays `queued` with `enqueued_at` empty, the
  failure is logged, and the request that asked still succeeds.
- A broker may lose a message it took (Redis restarted without persistence): a row still
  `queued` AGORA_QUEUE_RESEND_AFTER seconds after its message was taken is sent again.
- A worker may die in the middle of a job (SIGKILL, out of memory, a lost node): a running
  job writes `heartbeat_at` every AGORA_HEARTBEAT_SECONDS, and one silent for
  AGORA_WORKER_LOST_AFTER goes back to `queued` to be sent again or, once it has been
  started AGORA_JOB_MAX_ATTEMPTS times, to `failed` with an error that says why.

A sweeper per kind of job (`*_resend_task`, run by beat every minute) does all three. Tasks
claim their row with a conditional update (`claim_q`): only a queued row, or a running one
whose worker is gone, is taken, so a message delivered twice, or sent again while its job
runs, still runs the job once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone

logger = logging.getLogger("agora.queue")

# A row younger than this may still have its on_commit send ahead of it.
RESEND_AFTER = timedelta(seconds=30)

# The states every job model shares (GenerationRequest.State, ExportJob.State).
QUEUED, RUNNING, FAILED = "queued", "running", "failed"

WORKER_LOST = (
    "Its worker stopped without finishing (killed, out of memory, or its machine lost) on "
    "each of {attempts} attempts; it is not sent again."
)


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


def worker_lost_q(now: datetime) -> Q:
    """Running rows whose worker has stopped beating (a row claimed before heartbeats
    existed counts from its start)."""
    cutoff = now - timedelta(seconds=settings.AGORA_WORKER_LOST_AFTER)
    return Q(state=RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


def claim_q(now: datetime) -> Q:
    """The rows a task may take: a queued one, or a running one whose worker is gone and
    which has attempts left (the sweeper fails the others)."""
    return Q(state=QUEUED) | (worker_lost_q(now) & Q(attempts__lt=settings.AGORA_JOB_MAX_ATTEMPTS))


def claim_fields(now: datetime) -> dict[str, Any]:
    """What a claim writes: running, started and beating now, one more attempt."""
    return {"state": RUNNING, "started_at": now, "heartbeat_at": now, "attempts": F("attempts") + 1}


@contextmanager
def heartbeat(model: type[Model], pk: int) -> Iterator[None]:
    """While the block runs, write the row's `heartbeat_at` every AGORA_HEARTBEAT_SECONDS
    from a thread of its own: the sweeper tells a slow job (beating) from one whose worker
    died (silent), however long the job takes. The thread's database connection is its own
    and is closed when the block ends."""
    every = settings.AGORA_HEARTBEAT_SECONDS
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    model._default_manager.filter(pk=pk, state=RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError as e:
                    # A missed beat only makes the job look late; the job itself goes on.
                    logger.warning("heartbeat of %s %s not written: %s", model.__name__, pk, e)
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(
        target=beat, name=f"heartbeat-{model._meta.label_lower}-{pk}", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def rows_resend(
    rows: QuerySet[Any], send: Callable[[Any], bool], *, requeue: Mapping[str, Any] | None = None
) -> int:
    """The sweep over one kind of job; how many rows were sent.

    A running row whose worker is gone goes back to queued (with `requeue`'s fields) or, its
    attempts spent, fails with an error; then every queued row whose message never reached
    the broker, or reached it more than AGORA_QUEUE_RESEND_AFTER ago without a worker
    starting it, is sent again. The sends wait for the commit of these writes.
    """
    now = timezone.now()
    attempts = settings.AGORA_JOB_MAX_ATTEMPTS
    lost_after = timedelta(seconds=settings.AGORA_QUEUE_RESEND_AFTER)
    sent = 0

    def send_all(batch: list[Any]) -> None:
        nonlocal sent
        for row in batch:
            if not send(row):
                break  # the broker is down: the next sweep tries again
            sent += 1

    with transaction.atomic():
        gone = rows.filter(worker_lost_q(now))
        failed = gone.filter(attempts__gte=attempts).update(
            state=FAILED, error=WORKER_LOST.format(attempts=attempts), finished_at=now
        )
        again = list(gone.filter(attempts__lt=attempts).values_list("id", flat=True))
        requeued = (
            rows.filter(worker_lost_q(now), id__in=again).update(
                state=QUEUED, heartbeat_at=None, enqueued_at=None, **(requeue or {})
            )
            if again
            else 0
        )
        if failed or requeued:
            logger.warning(
                "%s: %s lost their worker and were queued again, %s failed after %s attempts",
                rows.model.__name__, requeued, failed, attempts,
            )  # fmt: skip
        batch = list(
            rows.filter(state=QUEUED)
            .filter(
                Q(enqueued_at__isnull=True, created_at__lt=now - RESEND_AFTER)
                | Q(enqueued_at__isnull=True, id__in=again)
                | Q(enqueued_at__lt=now - lost_after)
            )
            .order_by("id")
        )
        if batch:
            transaction.on_commit(lambda: send_all(batch))
    return sent
