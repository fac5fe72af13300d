"""Campaigns of every kind, judged through the real services, for the export tests."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from annotation.models import Assignment, Campaign, Message, User
from annotation.services import judgment_submit, prompts_import, task_lease_next
from exports.formats.context import annotator_pseudonym
from tests.conftest import embedded_worker

PRISM_SETTINGS = {
    "attributes": [{"name": "score", "scale": {"type": "slider", "min": 1, "max": 100}}],
    "followup": {
        "attributes": [
            {"name": "factuality", "scale": {"type": "slider", "min": 1, "max": 100}},
            {"name": "choice_factuality", "scale": {"type": "slider", "min": 1, "max": 100}},
        ],
        "feedback": "optional",
    },
}
LIKERT_SETTINGS = {
    "attributes": [
        {"name": "helpfulness", "scale": {"points": ["1", "2", "3", "4", "5"]}},
        {"name": "honesty", "scale": {"points": ["1", "2", "3", "4", "5"]}},
    ]
}


def lines(n_responses: int, n_prompts: int = 3, *, system: str | None = None) -> str:
    """n_prompts prompts, each with a response from models m0, m1, ... (m0 writes least)."""
    out = []
    for i in range(n_prompts):
        prompt: Any = f"Question {i}: how do I do thing {i}?"
        if system:
            prompt = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        out.append(
            {
                "id": f"q{i}",
                "prompt": prompt,
                "responses": [
                    {"text": f"Answer {i} from m{r}: " + " ".join(["word"] * (r + 1) * 3),
                     "model": f"m{r}"}
                    for r in range(n_responses)
                ],
            }
        )  # fmt: skip
    return "\n".join(json.dumps(o) for o in out)


def judge_all(
    campaign: Campaign, annotator: User, pick: Callable[[Assignment], dict[str, Any]]
) -> dict[int, tuple[Assignment, dict[str, Any]]]:
    """Lease and judge until nothing is left; `pick(assignment)` returns the payload."""
    picks = {}
    while (a := task_lease_next(annotator=annotator, campaign=campaign)) is not None:
        payload = pick(a)
        judgment, _ = judgment_submit(
            assignment=a, annotator=annotator, payload=payload, idempotency_key=f"k{a.id}"
        )
        picks[judgment.id] = (a, payload)
    return picks


def model_of(message_id: int) -> str:
    return Message.objects.select_related("model").get(id=message_id).model.name


def prefer_model_b(a: Assignment) -> dict[str, Any]:
    """Always prefer model-b's answer, wherever it was on screen."""
    b = Message.objects.get(id__in=a.display_order, model__name="model-b")
    return {"outcome": "preferred", "preferred": b.id, "reason": "b is better"}


def rank_by_model(a: Assignment) -> dict[str, Any]:
    """Best first: the response of the highest-numbered model (m3 > m2 > m1 > m0)."""
    return {"ranking": sorted(a.display_order, key=model_of, reverse=True)}


def pid(campaign: Campaign, user: User) -> str:
    """A person's pseudonym in a campaign's exports."""
    return annotator_pseudonym(campaign_id=campaign.id, user_pseudonym=user.pseudonym)


@pytest.fixture
def ranking_campaign(make_campaign, alice, bob) -> Campaign:
    c = make_campaign(members=[alice, bob], task_kind="ranking", overlap=2)
    assert prompts_import(campaign=c, content=lines(4)).ok
    return c


@pytest.fixture
def rating_campaign(make_campaign, alice, bob) -> Campaign:
    """PRISM-style: a 1-100 score per response, then followup attributes on the chosen one."""
    c = make_campaign(members=[alice, bob], task_kind="rating", settings=PRISM_SETTINGS, overlap=2)
    assert prompts_import(campaign=c, content=lines(3, system="Be kind.")).ok
    return c


def rate_by_model(a: Assignment) -> dict[str, Any]:
    """Scores 20, 50, 80 for m0, m1, m2; followup on the best."""
    scores = {m: 20 + 30 * int(model_of(m)[1:]) for m in a.display_order}
    best = max(scores, key=lambda m: scores[m])
    return {
        "ratings": {str(m): {"score": s} for m, s in scores.items()},
        "followup": {
            "chosen": best,
            "scores": {"factuality": 70, "choice_factuality": 90},
            "feedback": "The best one was clear.",
        },
    }


# --- tree campaigns ---------------------------------------------------------------------------

# Small OpenAssistant trees: an imported prompt, three replies under it, three answers under
# each; every reply reviewed once; siblings ranked by someone who wrote none of them.
TREE_RULES = {"max_depth": 2, "max_children": 3, "review_votes": 1, "ranking_overlap": 1}


def tree_payload(a: Assignment) -> dict[str, Any]:
    """A careful OpenAssistant volunteer: a reply, a clean review with a quality score, and a
    ranking (the lowest message id first)."""
    kind = a.task.kind
    if kind == "reply":
        return {"text": f"Message written for task {a.task_id} by {a.annotator.username}."}
    if kind == "label":
        return {"labels": {"spam": False, "quality": 4}}
    if kind == "pairwise":
        return {"outcome": "preferred", "preferred": min(a.display_order)}
    assert kind == "ranking", kind
    return {"ranking": sorted(a.display_order)}


def work_until_done(
    campaign: Campaign,
    people: list[User],
    pick: Callable[[Assignment], dict[str, Any]],
    *,
    rounds: int = 500,
) -> int:
    """Everyone takes and answers a task in turn until no one gets one; the judgments."""
    given = 0
    for _ in range(rounds):
        this_round = 0
        for person in people:
            a = task_lease_next(annotator=person, campaign=campaign)
            if a is None:
                continue
            judgment_submit(
                assignment=a, annotator=person, payload=pick(a), idempotency_key=f"k{a.id}"
            )
            this_round += 1
        if not this_round:
            return given
        given += this_round
    raise AssertionError("the campaign never ran out of tasks")


@pytest.fixture
def dave(db) -> User:
    return User.objects.create_user(username="dave", password="pw-dave")


@pytest.fixture
def erin(db) -> User:
    return User.objects.create_user(username="erin", password="pw-erin")


def tree_campaign_grown(make_campaign: Callable[..., Campaign], people: list[User]) -> Campaign:
    """Two OpenAssistant trees grown to ready for export by `people`."""
    c = make_campaign(members=people, task_kind="reply", overlap=1, tree=TREE_RULES)
    prompts = [{"id": f"t{i}", "prompt": f"Tree prompt {i}: tell me about thing {i}."}
               for i in range(2)]  # fmt: skip
    assert prompts_import(campaign=c, content="\n".join(json.dumps(p) for p in prompts)).ok
    work_until_done(c, people, tree_payload)
    return c


@pytest.fixture
def tree_campaign(make_campaign, alice, bob, dave, erin) -> Campaign:
    return tree_campaign_grown(make_campaign, [alice, bob, dave, erin])


@pytest.fixture
def exports_worker(monkeypatch) -> Iterator[object]:
    """An embedded worker on the `exports` queue."""
    with embedded_worker(monkeypatch, ["exports"]) as w:
        yield w
