"""Active routing: the comparisons that narrow the leaderboard's intervals most come first,
through a plan refreshed from the Bradley-Terry fit; the default route is left as it was."""

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Campaign, Task
from annotation.selectors.leaderboard import campaign_leaderboard
from annotation.services import (
    campaign_update,
    campaigns_priorities_refresh,
    prompts_import,
    task_lease_next,
    task_priorities_refresh,
)
from generation.models import LanguageModel

from .helpers import bt_chooser, judge, model_lines, people

# Far apart, as a strong model and small ones are: uniform routing spends many judgments on
# pairs whose outcome is all but certain.
TRUE = {"a": -2.4, "b": -0.8, "c": 0.8, "d": 2.4}


@pytest.fixture
def annotators(db):
    return people(10)


@pytest.fixture
def arena(make_campaign, annotators):
    """60 prompts, each answered by the four models: 360 pairwise tasks, overlap 3."""
    campaign = make_campaign(members=annotators, overlap=3)
    assert prompts_import(campaign=campaign, content=model_lines(60, list(TRUE))).ok
    return campaign


def test_default_routing_picks_with_the_same_statement_as_before(arena, annotators):
    with CaptureQueriesContext(connection) as queries:
        task_lease_next(annotator=annotators[0], campaign=arena)

    picks = [q["sql"] for q in queries if "ORDER BY t." in q["sql"]]
    assert len(picks) == 1
    # Fewest judgments first, counting the leases out (issue 20: breadth first).
    assert "ORDER BY t.judgments_count + t.leased_count, t.id LIMIT 1" in picks[0]
    assert "priority" not in picks[0]


def test_active_routing_leases_the_top_of_the_plan_first(arena, annotators):
    campaign_update(campaign=arena, routing=Campaign.Routing.ACTIVE)
    judge(arena, annotators, bt_chooser(TRUE, random.Random(1)), limit=60)

    planned = task_priorities_refresh(campaign=arena, plan_size=30)
    top = Task.objects.filter(campaign=arena, state="open").order_by("-priority", "id").first()
    lease = task_lease_next(annotator=annotators[0], campaign=arena)

    assert 0 < planned <= 30
    assert lease.task_id == top.id


def test_a_plan_spreads_over_the_informative_pairs(arena, annotators):
    campaign_update(campaign=arena, routing=Campaign.Routing.ACTIVE)
    judge(arena, annotators, bt_chooser(TRUE, random.Random(2)), limit=120)

    task_priorities_refresh(campaign=arena, plan_size=60)
    names = {f"m{i}": name for i, name in LanguageModel.objects.values_list("id", "name")}
    planned = Task.objects.filter(campaign=arena, priority__gt=0)
    pairs = {tuple(sorted(names[k] for _, k in t.candidate_keys)) for t in planned}

    # Neighbours in strength are close calls; a against d is all but decided.
    assert ("a", "b") in pairs and ("c", "d") in pairs
    assert ("a", "d") not in pairs


def test_switching_back_to_the_default_clears_the_plan(arena, annotators):
    campaign_update(campaign=arena, routing=Campaign.Routing.ACTIVE)
    assert campaigns_priorities_refresh() == 1
    assert Task.objects.filter(campaign=arena, priority__gt=0).exists()

    campaign_update(campaign=arena, routing=Campaign.Routing.FEWEST_JUDGMENTS)
    task_priorities_refresh(campaign=arena)

    assert not Task.objects.filter(campaign=arena, priority__gt=0).exists()
    assert campaigns_priorities_refresh() == 0


def judgments_to_reach(campaign, annotators, width: float, *, active: bool) -> int | None:
    """Judge with simulated annotators, re-planning every 20 judgments when active, until the
    leaderboard's mean 95% interval is at most `width` wide (BT log-strength units)."""
    if active:
        campaign_update(campaign=campaign, routing=Campaign.Routing.ACTIVE)
        task_priorities_refresh(campaign=campaign, plan_size=20)
    reached: list[int] = []

    def checkpoint(n: int) -> None:
        if active:
            task_priorities_refresh(campaign=campaign, plan_size=20)
        board = campaign_leaderboard(campaign=campaign, bootstrap=100)
        if not reached and board.mean_width <= width:
            reached.append(n)

    judge(
        campaign,
        annotators,
        bt_chooser(TRUE, random.Random(7)),
        limit=600,
        every=(20, checkpoint),
    )
    return reached[0] if reached else None


def test_active_routing_reaches_an_interval_width_with_fewer_judgments_than_uniform(
    make_campaign, annotators
):
    uniform_campaign = make_campaign(members=annotators, overlap=3)
    active_campaign = make_campaign(members=annotators, overlap=3)
    for c in (uniform_campaign, active_campaign):
        assert prompts_import(campaign=c, content=model_lines(60, list(TRUE))).ok

    uniform = judgments_to_reach(uniform_campaign, annotators, 0.8, active=False)
    active = judgments_to_reach(active_campaign, annotators, 0.8, active=True)

    assert uniform is not None and active is not None
    assert active < uniform * 0.9, (active, uniform)
