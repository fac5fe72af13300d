"""Redis restarted without persistence: the messages it held are gone, the rows are not.

A private redis-server (which saves nothing) takes the message of an export job and of a
generation request, then restarts empty. The rows still say `queued`, sent at `enqueued_at`;
once AGORA_QUEUE_RESEND_AFTER has passed without a worker starting them, the beat sweepers
send them again, and a worker runs each exactly once, even when a second message for it
arrives. A job that a worker had started and then died on (no heartbeat for
AGORA_WORKER_LOST_AFTER), its message gone with Redis, is sent again and completed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from annotation.models import Message, Task
from annotation.services import prompts_import
from exports.models import ExportJob
from exports.services import export_job_start, export_jobs_resend
from generation.backends import backend_for
from generation.models import GenerationRequest, LanguageModel
from generation.services import generation_request_create, generation_requests_resend
from tests.conftest import WAIT_SECONDS, embedded_worker
from tests.exports.conftest import judge_all, prefer_model_b
from tests.faults.brokers import broker

RESEND_AFTER = 60  # AGORA_QUEUE_RESEND_AFTER in these tests, in seconds
LOST_AFTER = 30  # AGORA_WORKER_LOST_AFTER
TINY = {"max_new_tokens": 6, "temperature": 0.7, "seed": 11}


@pytest.fixture
def bounds(settings, tmp_path):
    settings.AGORA_QUEUE_RESEND_AFTER = RESEND_AFTER
    settings.AGORA_WORKER_LOST_AFTER = LOST_AFTER
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "exports"},
        },
    }
    return tmp_path / "exports"


def _sent_long_ago(model: type, pk: int) -> None:
    """The broker took its message longer ago than the bound, and no worker started it."""
    model.objects.filter(pk=pk).update(
        created_at=timezone.now() - timedelta(seconds=RESEND_AFTER + 10),
        enqueued_at=timezone.now() - timedelta(seconds=RESEND_AFTER + 5),
    )


def _restart_empty(server) -> redis.Redis:
    server.stop()
    server.start()
    queues = redis.Redis.from_url(server.url)
    assert queues.dbsize() == 0  # nothing survived
    return queues


def _until(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not done after {timeout}s"
        time.sleep(0.1)


def _drained(queues: redis.Redis, queue: str) -> bool:
    """Every message taken off the queue and acknowledged."""
    return queues.llen(queue) == 0 and queues.hlen("unacked") == 0


@pytest.mark.django_db(transaction=True)
def test_an_export_job_the_broker_lost_is_sent_again_and_runs_once(
    private_redis, campaign, alice, carol, bounds, monkeypatch
):
    judge_all(campaign, alice, prefer_model_b)
    with broker(private_redis.url, monkeypatch):
        job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference")
        job.refresh_from_db()
        assert job.state == ExportJob.State.QUEUED and job.enqueued_at is not None
        assert redis.Redis.from_url(private_redis.url).llen("exports") == 1

        queues = _restart_empty(private_redis)
        # Within the bound the message may still be waiting for a worker: nothing is sent.
        assert export_jobs_resend() == 0
        _sent_long_ago(ExportJob, job.id)
        assert export_jobs_resend() == 1
        assert export_jobs_resend() == 0  # sent now: the bound starts again
        # The bound passes once more (a long queue, say): a second message for the same job.
        _sent_long_ago(ExportJob, job.id)
        assert export_jobs_resend() == 1
        assert queues.llen("exports") == 2

        with embedded_worker(monkeypatch, ["exports"]):
            _until(lambda: _drained(queues, "exports"), WAIT_SECONDS * 2)
        job.refresh_from_db()
        assert (job.state, job.attempts, job.row_count) == (ExportJob.State.DONE, 1, 6), job.error
        assert len([p for p in bounds.rglob("*") if p.is_file()]) == 1


@pytest.mark.django_db(transaction=True)
def test_a_generation_request_the_broker_lost_is_sent_again_and_runs_once(
    private_redis, make_campaign, alice, bounds, monkeypatch
):
    model = LanguageModel.objects.create(
        name="smollm2-135m", backend="transformers", settings={"threads": 1},
        sampling_params=TINY,
    )  # fmt: skip
    campaign = make_campaign(members=[alice], responses_per_prompt=2, overlap=1)
    campaign.language_models.add(model)
    prompts_import(campaign=campaign, content='{"id": "p", "prompt": "Name a colour."}')
    parent = Message.objects.get(conversation__campaign=campaign, role="user")
    with broker(private_redis.url, monkeypatch):
        request, created = generation_request_create(
            campaign=campaign, parent=parent, language_model=model, n=2
        )
        assert created
        request.refresh_from_db()
        assert request.enqueued_at is not None
        assert redis.Redis.from_url(private_redis.url).llen("default") == 1

        queues = _restart_empty(private_redis)
        assert generation_requests_resend() == 0
        _sent_long_ago(GenerationRequest, request.id)
        assert generation_requests_resend() == 1
        _sent_long_ago(GenerationRequest, request.id)
        assert generation_requests_resend() == 1
        assert queues.llen("default") == 2

        # The backend, cached, keeps its model's thread for the life of the process: load it
        # before the worker starts, so that the worker is seen to leave no thread behind.
        backend_for(model.backend, model.settings)
        with embedded_worker(monkeypatch, ["default"]):
            _until(lambda: _drained(queues, "default"), WAIT_SECONDS * 6)
        request.refresh_from_db()
        assert (request.state, request.attempts) == (GenerationRequest.State.DONE, 1)
        assert Message.objects.filter(parent=parent, role="assistant").count() == 2
        assert Task.objects.filter(parent=parent).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_died_and_whose_message_is_gone_is_run_again(
    private_redis, campaign, alice, carol, bounds, monkeypatch
):
    judge_all(campaign, alice, prefer_model_b)
    with broker(private_redis.url, monkeypatch):
        job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference")
        # A worker took it and died: the row says running, its heartbeat stopped long ago,
        # and Redis, restarted since, has forgotten the unacknowledged message.
        long_ago = timezone.now() - timedelta(seconds=LOST_AFTER + 5)
        ExportJob.objects.filter(id=job.id).update(
            state=ExportJob.State.RUNNING, attempts=1, started_at=long_ago,
            heartbeat_at=long_ago, enqueued_at=long_ago,
        )  # fmt: skip
        queues = _restart_empty(private_redis)

        assert export_jobs_resend() == 1
        job.refresh_from_db()
        assert (job.state, job.attempts) == (ExportJob.State.QUEUED, 1)
        with embedded_worker(monkeypatch, ["exports"]):
            _until(lambda: _drained(queues, "exports"), WAIT_SECONDS * 2)
        job.refresh_from_db()
        assert (job.state, job.attempts, job.row_count) == (ExportJob.State.DONE, 2, 6), job.error
