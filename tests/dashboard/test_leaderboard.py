"""The leaderboard recovers a known Bradley-Terry model, from pairs and from rankings."""

import math
import random

import pytest

from annotation.models import Membership, Profile
from annotation.selectors.leaderboard import (
    campaign_leaderboard,
    leaderboard_by_profile,
    rating_means,
)
from annotation.services import membership_flag, prompts_import

from .helpers import bt_chooser, judge, model_lines, people

TRUE = {"tiny": -1.0, "small": -0.3, "medium": 0.4, "large": 0.9}  # mean 0, like the fit's


@pytest.fixture
def annotators(db):
    return people(4)


@pytest.fixture
def arena(make_campaign, annotators):
    """60 prompts answered by the four models: 360 pairwise tasks, two judgments each."""
    campaign = make_campaign(members=annotators, overlap=2)
    assert prompts_import(campaign=campaign, content=model_lines(60, list(TRUE))).ok
    return campaign


def test_it_recovers_the_true_order_and_its_intervals_cover_the_true_strengths(arena, annotators):
    judged = judge(arena, annotators, bt_chooser(TRUE, random.Random(0)))

    board = campaign_leaderboard(campaign=arena)

    assert judged == 720
    assert board.judgments == 720
    assert [s.name for s in board.standings] == ["large", "medium", "small", "tiny"]
    for s in board.standings:
        assert s.low <= TRUE[s.name] <= s.high, (s.name, s.low, TRUE[s.name], s.high)
        assert s.low < s.strength < s.high
    assert sum(s.strength for s in board.standings) == pytest.approx(0, abs=1e-9)


def test_its_win_rate_matrix_is_consistent(arena, annotators):
    judge(arena, annotators, bt_chooser(TRUE, random.Random(3)), limit=300)

    board = campaign_leaderboard(campaign=arena, bootstrap=0)

    n = len(board.standings)
    for a in range(n):
        assert board.win_rates[a][a] is None
        for b in range(n):
            if a != b and board.win_rates[a][b]:
                cell, other = board.win_rates[a][b], board.win_rates[b][a]
                assert cell.rate + other.rate == pytest.approx(1)
                assert cell.n == other.n
    best, worst = board.win_rates[0][n - 1], board.win_rates[n - 1][0]
    assert best.rate > 0.5 > worst.rate


def test_it_leaves_flagged_annotators_out(arena, annotators):
    # The last annotator always picks the weakest model; flagged, the order stays right.
    contrarian = {a.id: bt_chooser(TRUE, random.Random(a.id)) for a in annotators}
    contrarian[annotators[-1].id] = bt_chooser(
        {k: -v * 5 for k, v in TRUE.items()}, random.Random(1)
    )
    judge(arena, annotators, contrarian)
    membership = Membership.objects.get(campaign=arena, user=annotators[-1])

    membership_flag(campaign=arena, membership_id=membership.id, flagged=True)
    board = campaign_leaderboard(campaign=arena, bootstrap=0)

    assert board.judgments == 540
    assert [s.name for s in board.standings] == ["large", "medium", "small", "tiny"]


def test_it_counts_rankings_by_the_pairs_they_order(make_campaign, annotators):
    campaign = make_campaign(members=annotators, overlap=2, task_kind="ranking")
    assert prompts_import(campaign=campaign, content=model_lines(80, list(TRUE))).ok
    rng = random.Random(5)

    def plackett_luce(user, assignment, models):
        left = list(assignment.display_order)
        order = []
        while left:
            weights = [math.exp(TRUE[models[m]]) for m in left]
            pick = rng.choices(left, weights)[0]
            order.append(pick)
            left.remove(pick)
        return {"ranking": order}

    judge(campaign, annotators, plackett_luce)
    board = campaign_leaderboard(campaign=campaign)

    assert board.judgments == 160
    assert board.comparisons == 160 * 6
    assert [s.name for s in board.standings] == ["large", "medium", "small", "tiny"]
    for s in board.standings:
        assert s.low <= TRUE[s.name] <= s.high


def test_it_breaks_down_by_a_profile_field(make_campaign, annotators):
    campaign = make_campaign(members=annotators, overlap=4)
    assert prompts_import(campaign=campaign, content=model_lines(30, ["tiny", "large"])).ok
    for k, a in enumerate(annotators):
        Profile.objects.create(user=a, answers={"country": "NZ" if k < 2 else "FR"})
    likes_large = bt_chooser({"tiny": -2, "large": 2}, random.Random(1))
    likes_tiny = bt_chooser({"tiny": 2, "large": -2}, random.Random(2))
    judge(
        campaign,
        annotators,
        {a.id: likes_large if k < 2 else likes_tiny for k, a in enumerate(annotators)},
    )

    groups = {g.value: g for g in leaderboard_by_profile(campaign=campaign, field="country")}

    assert set(groups) == {"NZ", "FR"}
    assert groups["NZ"].board.standings[0].name == "large"
    assert groups["FR"].board.standings[0].name == "tiny"
    assert groups["NZ"].annotators == 2
    assert groups["NZ"].board.judgments == 60


def test_it_averages_ratings_per_model_and_attribute(make_campaign, annotators):
    settings = {"attributes": [{"name": "helpfulness"}, {"name": "honesty"}]}
    campaign = make_campaign(members=annotators, overlap=2, task_kind="rating", settings=settings)
    assert prompts_import(campaign=campaign, content=model_lines(5, ["tiny", "large"])).ok
    score = {"tiny": 2, "large": 4}

    def rate(user, assignment, models):
        return {
            "ratings": {
                str(m): {"helpfulness": score[models[m]], "honesty": 5}
                for m in assignment.display_order
            }
        }

    judge(campaign, annotators, rate)
    means = {(r.attribute, r.name): r for r in rating_means(campaign=campaign)}

    assert means[("helpfulness", "large")].mean == 4
    assert means[("helpfulness", "tiny")].mean == 2
    assert means[("honesty", "tiny")].mean == 5
    assert means[("helpfulness", "large")].n == 10
