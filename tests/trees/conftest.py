"""Tree campaigns grown through the real services by several annotators."""

from collections.abc import Callable
from typing import Any

import pytest

from annotation.models import Assignment, Campaign, Message, User
from annotation.services import judgment_submit, task_lease_next
from annotation.services.trees import tree_prompt_tasks_top_up


@pytest.fixture
def dave(db) -> User:
    return User.objects.create_user(username="dave", password="pw-dave")


@pytest.fixture
def erin(db) -> User:
    return User.objects.create_user(username="erin", password="pw-erin")


@pytest.fixture
def crew(alice, bob, dave, erin) -> list[User]:
    return [alice, bob, dave, erin]


TREE = {"max_depth": 3, "max_children": 2, "review_votes": 2, "ranking_overlap": 1}


@pytest.fixture
def tree_campaign(make_campaign, crew) -> Campaign:
    """A tree campaign whose trees start from one prompt an annotator writes."""
    campaign = make_campaign(
        members=crew, task_kind="reply", overlap=1, tree={**TREE, "prompt_tasks": 1}
    )
    # Creating it made the first "write a prompt" task; topping up again makes none.
    assert campaign.tasks.get().parent_id is None
    assert tree_prompt_tasks_top_up(campaign=campaign) == 0
    return campaign


def good_payload(a: Assignment) -> dict[str, Any]:
    """What a careful annotator answers: a reply, a clean review, the first candidate."""
    kind = a.task.kind
    if kind == "reply":
        return {"text": f"Message written for task {a.task_id}."}
    if kind == "label":
        return {"labels": {"spam": False}}
    if kind == "pairwise":
        return {"outcome": "preferred", "preferred": a.display_order[0]}
    assert kind == "ranking", kind
    return {"ranking": list(a.display_order)}


def work_round(
    campaign: Campaign,
    people: list[User],
    pick: Callable[[Assignment, User], dict[str, Any] | None] = lambda a, u: good_payload(a),
    *,
    served: list[tuple[User, Assignment]] | None = None,
) -> int:
    """Each person takes and answers one task (or skips it when pick says None); returns
    how many judgments were given."""
    given = 0
    for person in people:
        a = task_lease_next(annotator=person, campaign=campaign)
        if a is None:
            continue
        if served is not None:
            served.append((person, a))
        payload = pick(a, person)
        assert payload is not None
        judgment_submit(assignment=a, annotator=person, payload=payload, idempotency_key=f"k{a.id}")
        given += 1
    return given


def depth(message: Message) -> int:
    d = 0
    while message.parent_id is not None:
        message = Message.objects.get(id=message.parent_id)
        d += 1
    return d
