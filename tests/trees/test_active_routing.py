"""Active routing on a tree campaign: the plan orders the comparisons, the tree's own
priorities order the rest. Opening the campaign, every re-plan, and switching routing back
leave the tree's priorities as its rules set them."""

import pytest

from annotation.models import Campaign, Task
from annotation.services import (
    campaign_state_set,
    campaign_update,
    judgment_submit,
    prompts_import,
    task_lease_next,
    task_priorities_refresh,
)
from annotation.services import routing as routing_service
from tests.dashboard.helpers import model_lines

from .conftest import TREE, good_payload

# Replies first here, so that writing creates reviews before any comparison is made.
PRIORITIES = {"reply": 5.0, "ranking": 3.0, "pairwise": 3.0, "label": 2.0, "prompt": 0.5}


def need(task: Task) -> str:
    return "prompt" if task.kind == "reply" and task.parent_id is None else task.kind


@pytest.fixture
def forest(make_campaign, crew):
    """Six prompts answered by three models (a ranking each), two prompts to reply to, a
    "write a prompt" task, and two reviews of replies written by alice and bob."""
    campaign = make_campaign(
        members=crew,
        task_kind="reply",
        overlap=1,
        state=Campaign.State.DRAFT,
        tree={**TREE, "prompt_tasks": 1, "priorities": PRIORITIES},
    )
    lines = (
        model_lines(6, ["a", "b", "c"])
        + "\n"
        + "\n".join(f'{{"id": "w{i}", "prompt": "Tell me about thing {i}."}}' for i in range(2))
    )
    assert prompts_import(campaign=campaign, content=lines).ok
    campaign_state_set(campaign=campaign, state=Campaign.State.OPEN)
    for person in crew[:2]:
        a = task_lease_next(annotator=person, campaign=campaign)
        assert a.task.kind == "reply" and a.task.parent_id is not None
        judgment_submit(
            assignment=a, annotator=person, payload=good_payload(a), idempotency_key=f"k{a.id}"
        )
    open_tasks = Task.objects.filter(campaign=campaign, state=Task.State.OPEN)
    assert {need(t) for t in open_tasks} == {"ranking", "reply", "label", "prompt"}
    return campaign


def tiers_kept(campaign) -> None:
    """Every open task that is not a planned comparison has its tree priority."""
    for t in Task.objects.filter(campaign=campaign, state=Task.State.OPEN):
        if t.kind in ("ranking", "pairwise") and t.priority != PRIORITIES[t.kind]:
            continue
        assert t.priority == PRIORITIES[need(t)], (need(t), t.priority)


def test_active_routing_orders_a_trees_comparisons_within_the_trees_priorities(
    forest, crew, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        campaign_update(campaign=forest, routing=Campaign.Routing.ACTIVE)

    tasks = list(Task.objects.filter(campaign=forest, state=Task.State.OPEN))
    rankings = [t for t in tasks if t.kind == "ranking"]
    planned = [t for t in rankings if t.priority != PRIORITIES["ranking"]]
    # The plan ranks comparisons above the unplanned ones of their kind and below the next
    # need up (replies); reviews, replies and new prompts keep the tree's priorities.
    assert planned, "the plan ranked no comparison"
    assert all(3.0 < t.priority < 5.0 for t in planned)
    tiers_kept(forest)
    # In the plan's own order.
    plan = routing_service.plan_for(campaign=forest)
    by_plan = sorted(planned, key=lambda t: -plan[t.id])
    assert by_plan == sorted(planned, key=lambda t: -t.priority)
    # Leasing follows: replies first (the tree's rule), then the plan's top comparison.
    served = []
    for person in crew:
        a = task_lease_next(annotator=person, campaign=forest)
        served.append(need(a.task))
        if a.task.kind == "ranking":
            assert a.task_id == by_plan[0].id
            break
    assert served[0] == "reply" and served[-1] == "ranking"

    # Re-planning (the periodic refresh) keeps the tree's priorities too.
    task_priorities_refresh(campaign=forest)
    tiers_kept(forest)


def test_switching_a_tree_back_to_the_default_routing_restores_its_priorities(
    forest, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        campaign_update(campaign=forest, routing=Campaign.Routing.ACTIVE)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_update(campaign=forest, routing=Campaign.Routing.FEWEST_JUDGMENTS)

    for t in Task.objects.filter(campaign=forest, state=Task.State.OPEN):
        assert t.priority == PRIORITIES[need(t)], (need(t), t.priority)


def test_opening_an_active_tree_campaign_keeps_its_priorities(
    make_campaign, crew, django_capture_on_commit_callbacks
):
    campaign = make_campaign(
        members=crew,
        task_kind="reply",
        overlap=1,
        state=Campaign.State.DRAFT,
        tree={**TREE, "priorities": PRIORITIES},
    )
    lines = model_lines(3, ["a", "b"]) + '\n{"id": "w", "prompt": "Hello?"}'
    assert prompts_import(campaign=campaign, content=lines).ok
    campaign_update(campaign=campaign, routing=Campaign.Routing.ACTIVE)

    with django_capture_on_commit_callbacks(execute=True):
        campaign_state_set(campaign=campaign, state=Campaign.State.OPEN)

    replies = Task.objects.filter(campaign=campaign, kind="reply")
    assert [t.priority for t in replies] == [PRIORITIES["reply"]]
    pairs = Task.objects.filter(campaign=campaign, kind="pairwise")
    assert pairs.count() == 3
    assert all(3.0 <= t.priority < 5.0 for t in pairs)
    assert any(t.priority > 3.0 for t in pairs)


def test_a_re_plan_repairs_tree_priorities_lost_before(forest):
    # What a re-plan did before: every priority of the tree dropped to 0.
    Task.objects.filter(campaign=forest).update(priority=0.0)

    task_priorities_refresh(campaign=forest)

    for t in Task.objects.filter(campaign=forest, state=Task.State.OPEN):
        assert t.priority == PRIORITIES[need(t)], (need(t), t.priority)
