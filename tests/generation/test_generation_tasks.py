"""Candidates made by Celery workers with the real default model, kept with their provenance,
and turned into tasks; retries, failures and second deliveries handled."""

import json
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from annotation.models import Message, Task
from annotation.services import prompts_import
from generation.models import GenerationRequest, LanguageModel
from generation.services import (
    campaign_round_start,
    generation_buffer_top_up,
    generation_request_create,
    generation_requests_resend,
    generation_run,
)
from generation.tasks import MAX_RETRIES, generate_candidates_task
from tests.conftest import WAIT_SECONDS

TINY = {"max_new_tokens": 6, "temperature": 0.7, "seed": 11}


@pytest.fixture
def smollm(db):
    return LanguageModel.objects.create(
        name="smollm2-135m", backend="transformers", settings={"threads": 1},
        sampling_params=TINY,
    )  # fmt: skip


@pytest.fixture
def prompt_campaign(make_campaign, alice, smollm):
    c = make_campaign(members=[alice], responses_per_prompt=2, overlap=1)
    c.language_models.add(smollm)
    prompts_import(campaign=c, content=json.dumps({"id": "p", "prompt": "Name a colour."}))
    return c


def the_prompt(campaign):
    return Message.objects.get(conversation__campaign=campaign, role="user")


@pytest.mark.django_db(transaction=True)
def test_a_worker_generates_two_candidates_with_provenance_and_the_task_appears(
    prompt_campaign, smollm, default_model, worker
):
    parent = the_prompt(prompt_campaign)
    request, created = generation_request_create(
        campaign=prompt_campaign, parent=parent, language_model=smollm, n=2
    )
    assert created  # queued on commit (autocommit here), picked up by the worker
    deadline = time.monotonic() + WAIT_SECONDS * 6
    while time.monotonic() < deadline:
        request.refresh_from_db()
        if request.state in ("done", "failed"):
            break
        time.sleep(0.2)
    assert request.state == "done", request.error
    replies = list(Message.objects.filter(parent=parent).order_by("id"))
    assert len(replies) == 2
    for i, m in enumerate(replies):
        assert m.text and m.model == smollm and m.role == "assistant"
        assert m.backend == "transformers" and m.worker
        assert m.sampling_params["seed"] == TINY["seed"] + i
        assert m.sampling_params["max_new_tokens"] == 6
        assert m.prompt_tokens > 0 and 0 < m.completion_tokens <= 6
        assert m.finish_reason in ("stop", "length") and m.latency_ms > 0
    assert request.completion_tokens == sum(m.completion_tokens for m in replies)
    task = Task.objects.get(parent=parent)
    assert sorted(task.candidates.values_list("id", flat=True)) == [m.id for m in replies]


def test_a_second_delivery_stores_no_second_set(prompt_campaign, smollm):
    parent = the_prompt(prompt_campaign)
    request, _ = generation_request_create(
        campaign=prompt_campaign, parent=parent, language_model=smollm, n=2, enqueue=False
    )
    generate_candidates_task.apply(args=[request.id])
    generate_candidates_task.apply(args=[request.id])
    # A worker that died after claiming leaves the request running, its heartbeat stopped;
    # the redelivery finishes it, but the set was already stored, so nothing is added.
    GenerationRequest.objects.filter(id=request.id).update(state="running", heartbeat_at=None)
    generation_run(request_id=request.id)
    assert Message.objects.filter(parent=parent).count() == 2
    assert Task.objects.filter(parent=parent).count() == 1
    again, created = generation_request_create(
        campaign=prompt_campaign, parent=parent, language_model=smollm, n=2, enqueue=False
    )
    assert (again.id, created) == (request.id, False)


def _as_a_worker_left_it(request, *, beat_ago: timedelta, attempts: int = 1) -> None:
    now = timezone.now()
    GenerationRequest.objects.filter(id=request.id).update(
        state="running", attempts=attempts, started_at=now - beat_ago, heartbeat_at=now - beat_ago,
        partial_texts=["Once upon"],
    )  # fmt: skip


def test_a_second_delivery_while_the_request_runs_does_nothing(prompt_campaign, smollm):
    request, _ = generation_request_create(
        campaign=prompt_campaign, parent=the_prompt(prompt_campaign), language_model=smollm,
        enqueue=False,
    )  # fmt: skip
    _as_a_worker_left_it(request, beat_ago=timedelta(seconds=1))  # a worker is on it
    generate_candidates_task.apply(args=[request.id])
    request.refresh_from_db()
    assert (request.state, request.attempts) == ("running", 1)
    assert not Message.objects.filter(parent=request.parent, role="assistant").exists()


def test_a_request_whose_worker_died_is_sent_again_by_the_sweeper(
    prompt_campaign, smollm, settings, django_capture_on_commit_callbacks
):
    request, _ = generation_request_create(
        campaign=prompt_campaign, parent=the_prompt(prompt_campaign), language_model=smollm,
        enqueue=False,
    )  # fmt: skip
    _as_a_worker_left_it(request, beat_ago=timedelta(seconds=settings.AGORA_WORKER_LOST_AFTER + 1))
    with django_capture_on_commit_callbacks() as sent:
        generation_requests_resend()
    assert len(sent) == 1  # sent once the requeue is committed
    request.refresh_from_db()
    assert (request.state, request.attempts, request.partial_texts) == ("queued", 1, [])


def test_a_request_whose_worker_died_on_every_attempt_fails_where_the_admin_sees_it(
    client, carol, prompt_campaign, smollm, settings, django_capture_on_commit_callbacks
):
    request, _ = generation_request_create(
        campaign=prompt_campaign, parent=the_prompt(prompt_campaign), language_model=smollm,
        enqueue=False,
    )  # fmt: skip
    spent = settings.AGORA_JOB_MAX_ATTEMPTS
    _as_a_worker_left_it(
        request, beat_ago=timedelta(seconds=settings.AGORA_WORKER_LOST_AFTER + 1), attempts=spent
    )
    generate_candidates_task.apply(args=[request.id])  # a redelivery does not take it
    request.refresh_from_db()
    assert (request.state, request.attempts) == ("running", spent)
    with django_capture_on_commit_callbacks() as sent:
        generation_requests_resend()
    assert sent == []
    request.refresh_from_db()
    assert request.state == "failed" and request.finished_at is not None
    assert "worker stopped without finishing" in request.error
    client.force_login(carol)
    page = client.get(f"/dashboard/{prompt_campaign.id}/generation/").content.decode()
    failures = page.split('data-testid="generation-failures"')[1].split("</table>")[0]
    assert f"#{request.id}" in failures and "worker stopped without finishing" in failures


def test_a_failing_request_is_retried_then_marked_failed_with_the_error(prompt_campaign, settings):
    # An OpenAI-compatible endpoint on the allow-list that refuses connections: a transient
    # error, so the task retries before giving up.
    settings.AGORA_OPENAI_ALLOWED_BASE_URLS = ["http://127.0.0.1:9/v1"]
    down = LanguageModel.objects.create(
        name="down", backend="openai",
        settings={"base_url": "http://127.0.0.1:9/v1", "model": "x", "timeout_s": 1},
    )  # fmt: skip
    request, _ = generation_request_create(
        campaign=prompt_campaign, parent=the_prompt(prompt_campaign), language_model=down,
        enqueue=False,
    )  # fmt: skip
    generate_candidates_task.apply(args=[request.id])
    request.refresh_from_db()
    assert request.state == "failed"
    assert request.attempts == MAX_RETRIES + 1
    assert "BackendError" in request.error and "127.0.0.1:9" in request.error
    assert not Message.objects.filter(parent=request.parent, role="assistant").exists()


def test_a_base_url_off_the_allow_list_fails_at_once_with_a_clear_error(prompt_campaign, settings):
    settings.AGORA_OPENAI_ALLOWED_BASE_URLS = ["http://127.0.0.1:8000/v1"]
    elsewhere = LanguageModel.objects.create(
        name="elsewhere", backend="openai",
        settings={"base_url": "https://api.example.com/v1", "model": "x"},
    )  # fmt: skip
    request, _ = generation_request_create(
        campaign=prompt_campaign, parent=the_prompt(prompt_campaign), language_model=elsewhere,
        enqueue=False,
    )  # fmt: skip
    generate_candidates_task.apply(args=[request.id])
    request.refresh_from_db()
    assert (request.state, request.attempts) == ("failed", 1)
    assert "allow-list" in request.error


def test_the_cli_generates_for_every_prompt_short_of_candidates(prompt_campaign, smollm, capsys):
    prompts_import(campaign=prompt_campaign, content=json.dumps({"id": "q", "prompt": "Hi"}))
    call_command("generate", "--campaign", prompt_campaign.slug, "--here", "--limit", "5")
    assert "Generated 2 requests, 0 failed." in capsys.readouterr().out
    assert Task.objects.filter(campaign=prompt_campaign).count() == 2
    call_command("generate", "--campaign", prompt_campaign.slug, "--here")
    assert "Generated 0 requests" in capsys.readouterr().out


def test_the_buffer_asks_for_what_the_annotators_will_need(prompt_campaign, smollm):
    prompts_import(
        campaign=prompt_campaign,
        content="\n".join(json.dumps({"id": f"b{i}", "prompt": f"Say {i}."}) for i in range(5)),
    )
    prompt_campaign.generation_buffer = 3
    prompt_campaign.save(update_fields=["generation_buffer"])
    made = generation_buffer_top_up(campaign=prompt_campaign)
    assert len(made) == 3  # nothing ready, nothing in flight: three prompts' worth
    assert generation_buffer_top_up(campaign=prompt_campaign) == []  # all three in flight
    for request in made:
        generation_run(request_id=request.id)
    assert Task.objects.filter(campaign=prompt_campaign).count() == 3
    assert generation_buffer_top_up(campaign=prompt_campaign) == []  # three tasks ready


def test_a_new_round_generates_fresh_candidates_for_the_same_prompts(prompt_campaign, smollm):
    parent = the_prompt(prompt_campaign)
    first, _ = generation_request_create(
        campaign=prompt_campaign, parent=parent, language_model=smollm, n=2, enqueue=False
    )
    generation_run(request_id=first.id)
    checkpoint = LanguageModel.objects.create(
        name="smollm2-step-2", backend="transformers", settings={"threads": 1},
        sampling_params={**TINY, "seed": 99},
    )  # fmt: skip
    made = campaign_round_start(campaign=prompt_campaign, models=[checkpoint])
    assert [(r.parent_id, r.round, r.language_model_id) for r in made] == [
        (parent.id, 2, checkpoint.id)
    ]
    generation_run(request_id=made[0].id)
    tasks = Task.objects.filter(parent=parent).order_by("round")
    assert [t.round for t in tasks] == [1, 2]
    round_two = set(tasks[1].candidates.values_list("model__name", flat=True))
    assert round_two == {"smollm2-step-2"}
