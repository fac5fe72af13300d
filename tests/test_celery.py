"""The Celery wiring: a real worker takes a task off the configured broker and runs it.

Whatever CELERY_BROKER_URL says is used as is: the default `filesystem://` folder broker
under var/, or Redis (e.g. CELERY_BROKER_URL=redis://127.0.0.1:6379/0). The worker runs in
a thread of this process, so it shares the test database. And the heartbeat a running job
writes, which tells the sweeper its worker is alive.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from celery import signals
from django.conf import settings
from django.utils import timezone

from annotation.models import Assignment, Task
from annotation.services import task_lease_next
from annotation.tasks import leases_expire_task
from exports.models import ExportJob
from exports.services import export_jobs_resend
from webapp.celery import app as celery_app
from webapp.queueing import heartbeat

WAIT_SECONDS = 10


def test_app_reads_celery_settings_and_knows_the_beat_tasks():
    assert celery_app.conf.broker_url == settings.CELERY_BROKER_URL
    assert celery_app.conf.task_ignore_result is True
    celery_app.loader.import_default_modules()  # autodiscovery, as a worker does at start
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks


# transaction=True: the worker runs in its own thread with its own database connection, so it
# only sees committed rows; and at start-up Celery's Django fix-up closes the database
# connections of the thread that builds the worker (this one), which would break the
# transaction that a plain `django_db` test runs inside.
@pytest.mark.django_db(transaction=True)
def test_worker_expires_leases_sent_over_the_broker(campaign, alice, worker):
    assignment = task_lease_next(annotator=alice, campaign=campaign)
    assert assignment is not None
    Assignment.objects.filter(id=assignment.id).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert Task.objects.get(id=assignment.task_id).leased_count == 1

    ran: list[str] = []
    failed: list[BaseException] = []

    def on_postrun(task_id, task, **kwargs) -> None:
        ran.append(task.name)

    def on_failure(exception, **kwargs) -> None:
        failed.append(exception)

    signals.task_postrun.connect(on_postrun, weak=False)
    signals.task_failure.connect(on_failure, weak=False)
    try:
        leases_expire_task.delay()
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and not failed:
            a = Assignment.objects.get(id=assignment.id)
            task = Task.objects.get(id=assignment.task_id)
            if a.state == Assignment.State.EXPIRED and task.leased_count == 0:
                break
            time.sleep(0.1)
    finally:
        signals.task_postrun.disconnect(on_postrun)
        signals.task_failure.disconnect(on_failure)

    assert failed == [], f"the task failed in the worker: {failed!r}"
    assert (a.state, a.finished_at is not None, task.leased_count) == (
        Assignment.State.EXPIRED,
        True,
        0,
    ), f"the worker did not expire the lease within {WAIT_SECONDS}s (tasks run: {ran})"
    assert leases_expire_task.name in ran


# transaction=True: the heartbeat is written from a thread of its own, on its own connection.
@pytest.mark.django_db(transaction=True)
def test_a_running_job_beats_until_it_ends_and_the_sweeper_leaves_it(campaign, settings):
    settings.AGORA_HEARTBEAT_SECONDS = 0.05
    settings.AGORA_WORKER_LOST_AFTER = 0.5
    long_ago = timezone.now() - timedelta(hours=1)
    job = ExportJob.objects.create(
        campaign=campaign, format="preference", container="jsonl", schema_version="1",
        state=ExportJob.State.RUNNING, attempts=1, started_at=long_ago, heartbeat_at=long_ago,
    )  # fmt: skip
    threads = set(threading.enumerate())
    with heartbeat(ExportJob, job.id):
        deadline = time.monotonic() + WAIT_SECONDS
        while ExportJob.objects.get(id=job.id).heartbeat_at == long_ago:
            assert time.monotonic() < deadline, "no heartbeat was written"
            time.sleep(0.02)
        time.sleep(0.6)  # longer than AGORA_WORKER_LOST_AFTER: only the beat keeps it
        assert export_jobs_resend() == 0
        job.refresh_from_db()
        assert (job.state, job.attempts) == (ExportJob.State.RUNNING, 1)
    assert set(threading.enumerate()) == threads  # the beating thread is gone
    last = ExportJob.objects.get(id=job.id).heartbeat_at
    time.sleep(0.2)
    assert ExportJob.objects.get(id=job.id).heartbeat_at == last
