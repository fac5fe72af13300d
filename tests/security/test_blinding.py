"""Annotators judge blind: nothing the API or the task page shows tells the models apart.

Prompt files list their models in a fixed order, and generation asks the models in the order
the campaign names them. Were candidates stored in that order, their ids (shown to annotators,
since judgments name candidates by id) would say which model wrote which response in every
task: the lower id, or `id mod k`. These tests import with known truth and check, with a
stated bound, that no rule reading ids or their order does better than chance.

The bound: over N tasks a rule that guesses at random is right N/2 +- sqrt(N)/2 times. A rule
right more than N/2 + 2.5 sqrt(N) times (5 standard deviations; 75 of 100) fails the test; by
chance that happens about once in two million runs per rule, while with candidates stored in
file order every rule here is right N times.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Message
from annotation.services import prompts_import
from generation.models import LanguageModel
from generation.services import generation_requests_for_campaign
from tests.conftest import api_client_for
from tests.exports.conftest import PRISM_SETTINGS

MODELS = ("secret-model-alpha", "secret-model-beta", "secret-model-gamma")
LATENCY = 98765  # a figure a response's metadata carries; it must never reach an annotator


def _lines(n: int, models: tuple[str, ...]) -> str:
    return "\n".join(
        json.dumps(
            {
                "id": f"p{i}",
                "prompt": f"Question {i}?",
                "responses": [
                    {
                        "text": f"Answer {i}, take {k}.",
                        "model": m,
                        "metadata": {"latency_ms": LATENCY, "provider": f"{m}-provider"},
                    }
                    for k, m in enumerate(models)
                ],
            }
        )
        for i in range(n)
    )


def _lease_all(campaign, user) -> list[dict[str, Any]]:
    """Every task of the campaign as the annotator API shows it, one lease after another."""
    api = api_client_for(user)
    shown = []
    while True:
        r = api.get(reverse("api_campaign_next", args=[campaign.id]))
        if r.status_code == 204:
            return shown
        assert r.status_code == 200, r.content
        body = r.json()
        shown.append(body)
        skipped = api.post(reverse("api_assignment_skip", args=[body["assignment"]["id"]]))
        assert skipped.status_code == 200


def _truth(ids: list[int]) -> dict[int, str]:
    return dict(Message.objects.filter(id__in=ids).values_list("id", "model__name"))


def _bound(n: int) -> float:
    return n / 2 + 2.5 * math.sqrt(n)


def test_ids_and_their_order_do_not_tell_two_models_apart(make_campaign, alice):
    n = 100
    campaign = make_campaign(members=[alice], overlap=1)
    assert prompts_import(campaign=campaign, content=_lines(n, MODELS[:2])).ok
    tasks = _lease_all(campaign, alice)
    assert len(tasks) == n

    # Each rule guesses which candidate is the first model's.
    right: Counter[str] = Counter()
    for body in tasks:
        ids = [c["id"] for c in body["task"]["candidates"]]
        truth = _truth(ids)
        alpha = next(i for i in ids if truth[i] == MODELS[0])
        right["lower id"] += alpha == min(ids)
        right["even id"] += alpha % 2 == 0
        right["shown first"] += alpha == ids[0]
    for rule in list(right):
        right[f"not {rule}"] = n - right[rule]

    best = max(right.items(), key=lambda kv: kv[1])
    assert best[1] <= _bound(n), f"{best[0]} names the model in {best[1]} of {n} tasks"


def test_ids_do_not_tell_three_models_apart_in_a_ranking(make_campaign, alice):
    """Where each model's id falls among the three, and its id mod 3: uniform, by a chi-square
    test with 2 degrees of freedom at p = 1e-6 (27.6); stored in file order both are 2n."""
    n = 60
    campaign = make_campaign(members=[alice], overlap=1, task_kind="ranking")
    assert prompts_import(campaign=campaign, content=_lines(n, MODELS)).ok
    tasks = _lease_all(campaign, alice)
    assert len(tasks) == n

    for model in MODELS:
        place: Counter[int] = Counter()
        residue: Counter[int] = Counter()
        for body in tasks:
            ids = [c["id"] for c in body["task"]["candidates"]]
            truth = _truth(ids)
            mine = next(i for i in ids if truth[i] == model)
            place[sorted(ids).index(mine)] += 1
            residue[mine % 3] += 1
        for name, counts in (("place among the ids", place), ("id mod 3", residue)):
            chi2 = sum((counts[k] - n / 3) ** 2 / (n / 3) for k in range(3))
            assert chi2 <= 27.6, f"{model}: {name} {dict(counts)} (chi2 {chi2:.1f})"


def test_generation_asks_the_models_of_each_prompt_in_a_random_order(make_campaign):
    """A worker stores a request's replies when it finishes it, so the order the requests
    finish in is the order the candidates' ids come in."""
    n = 100
    campaign = make_campaign(responses_per_prompt=2)
    assert prompts_import(
        campaign=campaign,
        content="\n".join(json.dumps({"id": f"g{i}", "prompt": f"Say {i}."}) for i in range(n)),
    ).ok
    models = [
        LanguageModel.objects.create(name=name, backend="transformers", settings={"threads": 1})
        for name in MODELS[:2]
    ]
    campaign.language_models.set(models)

    requests = generation_requests_for_campaign(campaign=campaign, enqueue=False)

    first: Counter[str] = Counter()
    by_parent: dict[int, list] = {}
    for r in sorted(requests, key=lambda r: r.id):
        by_parent.setdefault(r.parent_id, []).append(r)
    assert len(by_parent) == n
    for queued in by_parent.values():
        first[queued[0].language_model.name] += 1
        # One prompt's requests lie a whole batch apart in the queue: workers running side by
        # side never take them together, so a faster model does not finish first for it.
        assert queued[1].id - queued[0].id >= n
    assert max(first.values()) <= _bound(n), dict(first)


# Every key the annotator's lease carries; a new one must be checked here before it ships.
LEASE_KEYS = {
    "assignment": {"id", "state", "leased_at", "expires_at"},
    "task": {"id", "kind", "campaign", "context", "reference", "candidates", "settings"},
    "context": {"id", "role", "text", "attachments"},
    "candidate": {"id", "label", "text"},
}


@pytest.mark.parametrize("kind", ["pairwise", "ranking", "rating"])
def test_no_field_of_the_lease_or_the_page_names_or_times_a_model(make_campaign, alice, kind):
    settings = PRISM_SETTINGS if kind == "rating" else {}
    campaign = make_campaign(members=[alice], overlap=1, task_kind=kind, settings=settings)
    assert prompts_import(campaign=campaign, content=_lines(2, MODELS)).ok
    Message.objects.filter(conversation__campaign=campaign, model__isnull=False).update(
        latency_ms=LATENCY, prompt_tokens=4321, completion_tokens=8765, finish_reason="length"
    )
    api = api_client_for(alice)
    body = api.get(reverse("api_campaign_next", args=[campaign.id])).json()
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("campaign_task", args=[campaign.id])).content.decode()

    assert set(body) == {"assignment", "task"}
    assert set(body["assignment"]) == LEASE_KEYS["assignment"]
    assert set(body["task"]) == LEASE_KEYS["task"]
    assert all(set(m) == LEASE_KEYS["context"] for m in body["task"]["context"])
    assert all(set(c) == LEASE_KEYS["candidate"] for c in body["task"]["candidates"])
    leased = json.dumps(body)
    for text in (leased, page):
        for secret in (*MODELS, str(LATENCY), "4321", "8765", "provider", "latency"):
            assert secret not in text, secret
    # The page names the candidates by their place only.
    assert not re.search(r"data-model|model-id|data-latency", page)
