"""The admin's generation page: the queue by state, failures with their error and a retry,
tokens and compute-seconds per model, regenerating a candidate, and a button that starts
generation whose progress the page follows; the progress page shows the same queue."""

import json
import re
import time

import pytest
from django.db import OperationalError
from django.urls import reverse

from annotation.models import Judgment, Message, Task
from annotation.services import judgment_submit, prompts_import, task_lease_next
from generation.models import GenerationRequest, LanguageModel
from generation.services import (
    generation_regenerate,
    generation_request_create,
    generation_requests_for_campaign,
)
from generation.tasks import generate_candidates_task
from tests.conftest import WAIT_SECONDS

TINY = {"max_new_tokens": 5, "temperature": 0.7, "seed": 3}


@pytest.fixture
def smol(db):
    return LanguageModel.objects.create(
        name="smol-admin", backend="transformers", settings={"threads": 1}, sampling_params=TINY
    )


@pytest.fixture
def down(db, settings):
    # An allow-listed endpoint that refuses connections stands in for a broken server.
    settings.AGORA_OPENAI_ALLOWED_BASE_URLS = ["http://127.0.0.1:9/v1"]
    return LanguageModel.objects.create(
        name="down-endpoint",
        backend="openai",
        settings={"base_url": "http://127.0.0.1:9/v1", "model": "x", "timeout_s": 1},
    )


@pytest.fixture
def gen_campaign(make_campaign, alice, smol):
    c = make_campaign(members=[alice], responses_per_prompt=2, overlap=1)
    c.language_models.add(smol)
    prompts_import(
        campaign=c,
        content="\n".join(json.dumps({"id": f"p{i}", "prompt": f"Say {i}."}) for i in range(3)),
    )
    return c


def page(client, campaign, name="generation", **kw):
    return client.get(reverse(f"dashboard:{name}", args=[campaign.id]), **kw)


def part(html: str, testid: str, end: str = "</table>") -> str:
    """The element marked data-testid=`testid`, up to `end`."""
    return html.split(f'data-testid="{testid}"')[1].split(end)[0]


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_the_page_shows_the_queue_failures_and_what_each_model_spent(
    client, carol, gen_campaign, smol, down
):
    requests = generation_requests_for_campaign(campaign=gen_campaign, enqueue=False)
    assert len(requests) == 3
    generate_candidates_task.apply(args=[requests[0].id])  # done, with the real model
    broken, _ = generation_request_create(
        campaign=gen_campaign, parent=requests[1].parent, language_model=down, enqueue=False
    )
    generate_candidates_task.apply(args=[broken.id])  # retried, then failed

    client.force_login(carol)
    html = page(client, gen_campaign).content.decode()
    assert "2 queued · 0 running · 1 done · 1 failed of 4 requests" in words(
        part(html, "generation-counts", "</p>")
    )
    failures = part(html, "generation-failures")
    assert "down-endpoint" in failures and "127.0.0.1:9" in failures
    retry = reverse("dashboard:generation_retry", args=[gen_campaign.id, broken.id])
    assert retry in failures
    done = GenerationRequest.objects.get(id=requests[0].id)
    assert done.completion_tokens > 0
    cells = words(part(html, "generation-spend")).split(" ")
    assert cells[-6:-1] == [
        "smol-admin", "transformers", "1", str(done.prompt_tokens), str(done.completion_tokens)
    ]  # fmt: skip
    assert float(cells[-1]) == pytest.approx(done.seconds, abs=0.06)
    # The progress page shows the queue too, its failure and retry included.
    overview = page(client, gen_campaign, name="campaign").content.decode()
    assert "1 failed" in words(part(overview, "generation-counts", "</p>"))
    assert retry in overview


def test_retry_sends_a_failed_request_again(
    client, carol, gen_campaign, down, django_capture_on_commit_callbacks
):
    parent = Message.objects.filter(conversation__campaign=gen_campaign).first()
    broken, _ = generation_request_create(
        campaign=gen_campaign, parent=parent, language_model=down, enqueue=False
    )
    generate_candidates_task.apply(args=[broken.id])
    client.force_login(carol)
    url = reverse("dashboard:generation_retry", args=[gen_campaign.id, broken.id])
    with django_capture_on_commit_callbacks() as queued:
        r = client.post(url, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and len(queued) == 1  # sent to the workers once committed
    broken.refresh_from_db()
    assert (broken.state, broken.error) == ("queued", "")
    assert 'data-testid="generation-failures"' not in r.content.decode()
    assert "1 queued" in words(part(r.content.decode(), "generation-counts", "</p>"))


@pytest.mark.django_db(transaction=True)
def test_the_generate_button_queues_the_campaign_and_the_page_follows_it_to_done(
    client, carol, gen_campaign, default_model, worker
):
    client.force_login(carol)
    r = client.post(reverse("dashboard:generation_start", args=[gen_campaign.id]), follow=True)
    assert "Queued 3 generation requests." in r.content.decode()
    deadline = time.monotonic() + WAIT_SECONDS * 6
    seen = []
    while time.monotonic() < deadline:
        try:
            fragment = page(client, gen_campaign, HTTP_HX_REQUEST="true").content.decode()
        except OperationalError as e:
            # SQLite's in-memory test database (shared cache) refuses a read at once while
            # the worker's thread writes; ask again, as the page's next poll would.
            assert "locked" in str(e)
            time.sleep(0.1)
            continue
        if 'data-testid="generation-counts"' not in fragment:
            # A 503 from the database-outage middleware: SQLite stayed locked past its
            # timeout while the worker wrote (a loaded machine); the next poll asks again.
            time.sleep(0.3)
            continue
        seen.append(words(part(fragment, "generation-counts", "</p>")))
        if "3 done" in seen[-1]:
            break
        assert 'hx-trigger="every 2s"' in fragment  # still polling while requests run
        time.sleep(0.3)
    assert "0 queued · 0 running · 3 done · 0 failed" in seen[-1], seen
    assert "hx-trigger" not in fragment  # nothing in flight: the page stops asking
    assert Task.objects.filter(campaign=gen_campaign).count() == 3
    again = client.post(reverse("dashboard:generation_start", args=[gen_campaign.id]), follow=True)
    assert "Every prompt already has its candidates." in again.content.decode()


def test_a_candidate_made_again_replaces_it_in_new_tasks(client, carol, gen_campaign, alice):
    requests = generation_requests_for_campaign(campaign=gen_campaign, enqueue=False, limit=1)
    generate_candidates_task.apply(args=[requests[0].id])
    [task] = Task.objects.filter(campaign=gen_campaign)
    old, sibling = task.candidates.order_by("id")
    client.force_login(carol)
    url = reverse("dashboard:generation_regenerate", args=[gen_campaign.id, old.id])
    r = client.post(url, follow=True)
    assert f"Making candidate {old.id} again" in r.content.decode()
    remake = GenerationRequest.objects.get(replaces=old)
    assert remake.sampling_params["seed"] != TINY["seed"]
    task.refresh_from_db()
    assert task.state == "cancelled"
    generate_candidates_task.apply(args=[remake.id])
    old.refresh_from_db()
    new = Message.objects.get(metadata__generation_request=remake.id)
    assert old.metadata["replaced_by"] == new.id and new.model_id == old.model_id
    [fresh] = Task.objects.filter(campaign=gen_campaign, state="open")
    assert set(fresh.candidates.values_list("id", flat=True)) == {sibling.id, new.id}
    # Annotators get the new pair, never the cancelled one.
    assignment = task_lease_next(annotator=alice, campaign=gen_campaign)
    assert assignment is not None and assignment.task.id == fresh.id
    # A second click asks for nothing more.
    assert generation_regenerate(campaign=gen_campaign, message_id=old.id).id == remake.id


def test_a_judged_candidate_is_not_made_again(client, carol, gen_campaign, alice):
    requests = generation_requests_for_campaign(campaign=gen_campaign, enqueue=False, limit=1)
    generate_candidates_task.apply(args=[requests[0].id])
    assignment = task_lease_next(annotator=alice, campaign=gen_campaign)
    first = assignment.display_order[0]
    judgment_submit(
        assignment=assignment, annotator=alice, idempotency_key="k",
        payload={"outcome": "preferred", "preferred": first},
    )  # fmt: skip
    client.force_login(carol)
    r = client.post(reverse("dashboard:generation_regenerate", args=[gen_campaign.id, first]))
    assert r.status_code == 409
    assert "Annotators have judged this candidate" in r.content.decode()
    assert not GenerationRequest.objects.filter(replaces_id=first).exists()
    assert Judgment.objects.count() == 1


def test_imported_responses_cannot_be_made_again(client, carol, campaign):
    imported = Message.objects.filter(conversation__campaign=campaign, role="assistant").first()
    client.force_login(carol)
    url = reverse("dashboard:generation_regenerate", args=[campaign.id, imported.id])
    r = client.post(url)
    assert r.status_code == 400 and "imported, not generated" in r.content.decode()


def test_an_annotator_cannot_start_retry_or_regenerate(client, alice, gen_campaign):
    client.force_login(alice)
    for name, args in [
        ("generation", []), ("generation_start", []), ("generation_retry", [1]),
        ("generation_regenerate", [1]),
    ]:  # fmt: skip
        url = reverse(f"dashboard:{name}", args=[gen_campaign.id, *args])
        assert client.post(url).status_code == 403, url
    assert not GenerationRequest.objects.exists()


def test_a_candidate_made_again_before_its_set_is_complete_waits_for_the_set(
    make_campaign, alice, smol
):
    campaign = make_campaign(members=[alice], responses_per_prompt=3, overlap=1)
    other = LanguageModel.objects.create(
        name="smol-other", backend="transformers", settings={"threads": 1}, sampling_params=TINY
    )
    campaign.language_models.set([smol, other])
    prompts_import(campaign=campaign, content=json.dumps({"id": "p", "prompt": "Hi."}))
    parent = Message.objects.get(conversation__campaign=campaign, role="user")
    first, _ = generation_request_create(
        campaign=campaign, parent=parent, language_model=smol, n=2, enqueue=False
    )
    generate_candidates_task.apply(args=[first.id])
    old = Message.objects.filter(parent=parent).first()
    remake = generation_regenerate(campaign=campaign, message_id=old.id)
    generate_candidates_task.apply(args=[remake.id])
    assert not Task.objects.filter(campaign=campaign).exists()  # 2 of 3 candidates so far
    last, _ = generation_request_create(
        campaign=campaign, parent=parent, language_model=other, n=1, enqueue=False
    )
    generate_candidates_task.apply(args=[last.id])
    tasks = Task.objects.filter(campaign=campaign)
    assert tasks.count() == 3  # every pair of the three current candidates
    assert not tasks.filter(candidates=old).exists()
