"""Redis (the broker) stopped: annotation goes on, and work asked for meanwhile is kept.

A private redis-server stands in for the broker so that it can be stopped. While it is down
the pages and the annotation API work (they never touch the broker); an export job and a
generation request asked for meanwhile are stored `queued` with no `enqueued_at`, which the
API and the admin show; once Redis is back the sweepers send them, and a worker runs them.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from annotation.models import Message
from exports.models import ExportJob
from exports.services import export_jobs_resend
from generation.models import GenerationRequest, LanguageModel
from generation.services import generation_request_create, generation_requests_resend
from tests.conftest import WAIT_SECONDS, api_client_for, embedded_worker
from tests.faults.brokers import broker


def _age(model: type, pk: int) -> None:
    """Past the sweeper's grace period (which leaves a just-committed send to run first)."""
    model.objects.filter(pk=pk).update(created_at=timezone.now() - timedelta(minutes=2))


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_annotation_goes_on_and_queued_work_is_sent_later(
    private_redis, campaign, alice, carol, client, monkeypatch
):
    with broker(private_redis.url, monkeypatch):
        private_redis.stop()

        # The annotator's page and the annotation API do not need the broker.
        client.force_login(alice)
        assert client.get(f"/campaigns/{campaign.id}/").status_code == 200
        api = api_client_for(alice)
        leased = api.get(f"/api/v1/campaigns/{campaign.id}/next/").json()
        stored = api.post(
            f"/api/v1/assignments/{leased['assignment']['id']}/judgment/",
            {"payload": {"outcome": "tie"}, "idempotency_key": "k1"},
            format="json",
        )
        assert stored.status_code == 201
        assert client.get("/readyz").status_code == 503  # the load balancer is told

        # An export job asked for now: accepted, stored, visibly not yet sent.
        admin = api_client_for(carol)
        started = time.monotonic()
        response = admin.post(
            "/api/v1/exports/", {"campaign": campaign.id, "format": "judgments"}, format="json"
        )
        assert response.status_code == 202, response.content
        assert time.monotonic() - started < 10
        job = ExportJob.objects.get(id=response.json()["id"])
        assert (job.state, job.enqueued_at) == (ExportJob.State.QUEUED, None)
        assert admin.get(f"/api/v1/exports/{job.id}/").json()["enqueued_at"] is None

        # A generation request too (the admin lists it as not sent).
        model = LanguageModel.objects.create(name="local", backend="transformers")
        prompt = Message.objects.filter(conversation__campaign=campaign, role="user").first()
        request, created = generation_request_create(
            campaign=campaign, parent=prompt, language_model=model
        )
        assert created
        request.refresh_from_db()
        assert (request.state, request.enqueued_at) == (GenerationRequest.State.QUEUED, None)
        _age(ExportJob, job.id)
        _age(GenerationRequest, request.id)

        # Sweeping while still down sends nothing and loses nothing.
        assert export_jobs_resend() == 0 and generation_requests_resend() == 0
        job.refresh_from_db()
        assert job.enqueued_at is None

        # Redis is back: the sweepers send both, once.
        # (Nothing is reset here: the web process's producers reconnect by themselves.)
        private_redis.start()
        assert export_jobs_resend() == 1
        assert generation_requests_resend() == 1
        assert export_jobs_resend() == 0 and generation_requests_resend() == 0
        job.refresh_from_db()
        request.refresh_from_db()
        assert job.enqueued_at is not None and request.enqueued_at is not None
        queues = redis.Redis.from_url(private_redis.url)
        assert queues.llen("exports") == 1 and queues.llen("default") == 1

        # And a worker on the exports queue runs the job that was asked for while down.
        with embedded_worker(monkeypatch, ["exports"]):
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline:
                job.refresh_from_db()
                if job.state == ExportJob.State.DONE:
                    break
                time.sleep(0.1)
        assert job.state == ExportJob.State.DONE, job.error
        assert job.row_count == 1
