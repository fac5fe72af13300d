"""The quality tab's flags are tests with a stated error rate.

A simulation with known truth, through the services on the real database: honest annotators
answer by a Bradley-Terry model with known strengths, random clickers pick a side at random,
and one annotator leans hard toward the response shown first. Under default and active
routing, the random clickers and the biased one are flagged, at most the stated rate of the
honest ones is, the page and `quality.json` say why and how sure; and the leaderboard, the
position-bias estimate and the counterbalancing come out as the truth says, within stated
tolerances.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest
from django.urls import reverse
from django.utils.html import escape

from annotation.models import Assignment, Campaign, Membership
from annotation.selectors import quality
from annotation.selectors.leaderboard import campaign_leaderboard
from annotation.selectors.quality import JudgmentRow
from annotation.selectors.quality import flags as quality_flags
from annotation.services import (
    campaign_update,
    judgment_submit,
    prompts_import,
    task_lease_next,
    task_priorities_refresh,
)

from .helpers import model_lines, model_of, people

# Eight models, evenly spread in Bradley-Terry log-strength (mean 0, like the fit's).
TRUE = {f"m{k}": s for k, s in enumerate(np.linspace(-1.4, 1.4, 8).round(2))}
HONEST, RANDOM = 12, 2
POSITION_LOGIT = 2.0  # the biased annotator's lean toward the first shown response


def honest(rng):
    def choose(assignment, models):
        a, b = assignment.display_order
        p = 1 / (1 + math.exp(TRUE[models[b]] - TRUE[models[a]]))
        return a if rng.random() < p else b

    return choose


def clicker(rng):
    def choose(assignment, models):
        return rng.choice(assignment.display_order)

    return choose


def leaning(rng):
    def choose(assignment, models):
        a, b = assignment.display_order  # a is shown first
        p = 1 / (1 + math.exp(TRUE[models[b]] - TRUE[models[a]] - POSITION_LOGIT))
        return a if rng.random() < p else b

    return choose


def simulate(campaign, cast, choosers, *, judgments, active, seed):
    """Annotators take turns through the services until `judgments` are in; every one
    answers in a time drawn from the same distribution, so time flags nobody here."""
    rng = random.Random(seed)
    done = turn = 0
    while done < judgments:
        user = cast[turn % len(cast)]
        turn += 1
        assignment = task_lease_next(annotator=user, campaign=campaign)
        assert assignment is not None, "the campaign ran out of tasks"
        chosen = choosers[user.id](assignment, model_of(assignment))
        judgment_submit(
            assignment=assignment,
            annotator=user,
            payload={"outcome": "preferred", "preferred": chosen},
            idempotency_key=f"sim-{assignment.id}",
            seconds_spent=round(rng.lognormvariate(2.2, 0.5), 1),
        )
        done += 1
        if active and done % 100 == 0:
            task_priorities_refresh(campaign=campaign)


@pytest.fixture
def cast(db):
    return {
        "honest": people(HONEST, prefix="honest"),
        "random": people(RANDOM, prefix="random"),
        "position": people(1, prefix="leaning"),
    }


@pytest.mark.parametrize("routing", ["default", "active"])
def test_random_and_biased_annotators_are_flagged_and_honest_ones_at_most_at_the_stated_rate(
    make_campaign, cast, client, carol, routing
):
    everyone = [u for group in cast.values() for u in group]
    campaign = make_campaign(members=everyone, overlap=3)
    assert prompts_import(campaign=campaign, content=model_lines(40, list(TRUE))).ok
    if routing == "active":
        campaign_update(campaign=campaign, routing=Campaign.Routing.ACTIVE)
        task_priorities_refresh(campaign=campaign)
    rng = random.Random(20)
    choosers = {u.id: honest(random.Random(rng.random())) for u in cast["honest"]}
    choosers |= {u.id: clicker(random.Random(rng.random())) for u in cast["random"]}
    choosers |= {u.id: leaning(random.Random(rng.random())) for u in cast["position"]}
    order = everyone[:]
    rng.shuffle(order)
    simulate(campaign, order, choosers, judgments=2400, active=routing == "active", seed=21)

    result = quality.annotator_quality(campaign=campaign)
    by_name = {a.username: a for a in result.annotators}
    flagged = {a.username for a in result.annotators if a.flags}

    # Every random clicker, for not picking the favourite as someone like the others would.
    for user in cast["random"]:
        tests = {f.test for f in by_name[user.username].flags}
        assert "favourite" in tests, (user.username, by_name[user.username].flags)
    # The biased annotator, for position.
    (leaner,) = cast["position"]
    assert "position" in {f.test for f in by_name[leaner.username].flags}
    # Honest annotators: at most the stated family-wise rate (5% of 12 rounds down to none).
    wrongly = flagged & {u.username for u in cast["honest"]}
    assert len(wrongly) <= math.floor(quality_flags.ALPHA * HONEST), {
        name: by_name[name].flags for name in wrongly
    }
    # Each flag says how sure it is: a p-value below its corrected level.
    for a in result.annotators:
        for f in a.flags:
            assert 0 <= f.p_value <= f.level <= quality_flags.ALPHA
            assert f.tests == result.tests

    # The page and quality.json say the same, with the p-values and the membership ids.
    client.force_login(carol)
    page = client.get(reverse("dashboard:quality", args=[campaign.id])).content.decode()
    data = client.get(reverse("dashboard:quality_json", args=[campaign.id])).json()
    random_one = by_name[cast["random"][0].username]
    favourite = next(f for f in random_one.flags if f.test == "favourite")
    assert escape(favourite.message) in page
    assert f"p = {favourite.p_value:.2g}" in page
    rows = {r["annotator"]: r for r in data["annotators"]}
    row = rows[random_one.pseudonym]
    assert (
        row["membership_id"]
        == Membership.objects.get(campaign=campaign, user__username=random_one.username).id
    )
    assert {w["test"] for w in row["warnings"]} >= {"favourite"}
    (w,) = [w for w in row["warnings"] if w["test"] == "favourite"]
    assert w["p_value"] == pytest.approx(favourite.p_value)
    assert w["level"] == pytest.approx(favourite.level)
    assert w["message"] == favourite.message
    assert data["alpha_level"] == quality_flags.ALPHA and data["tests"] == result.tests
    assert data["position_bias"]["n"] == result.position_bias.n
    assert data["position_bias"]["share"] == pytest.approx(result.position_bias.value)
    for name in {u.username for u in cast["honest"]} - wrongly:
        assert rows[by_name[name].pseudonym]["warnings"] == []

    # The leaderboard without the random and biased annotators (flagged): the true order
    # within one swap of neighbours, and 95% intervals that cover the truth for at least 6 of
    # the 8 models.
    for name in flagged:
        m = Membership.objects.get(campaign=campaign, user__username=name)
        m.is_flagged = True
        m.save(update_fields=["is_flagged"])
    board = campaign_leaderboard(campaign=campaign, bootstrap=100)
    fitted = [s.name for s in board.standings]
    truth = sorted(TRUE, key=lambda m: -TRUE[m])
    assert sum(fitted.index(m) != k for k, m in enumerate(truth)) <= 2, fitted
    covered = sum(s.low <= TRUE[s.name] <= s.high for s in board.standings)
    assert covered >= 6, [(s.name, s.low, TRUE[s.name], s.high) for s in board.standings]

    # Position bias: the honest annotators choose the first shown response half the time
    # (counterbalancing: each model is shown first about as often as second).
    kept = quality.annotator_quality(campaign=campaign)
    honest_names = {u.username for u in cast["honest"]}
    hits = sum(
        round(a.position_bias.value * a.position_bias.n)
        for a in kept.annotators
        if a.username in honest_names
    )
    n = sum(a.position_bias.n for a in kept.annotators if a.username in honest_names)
    assert abs(hits / n - 0.5) <= 3 * math.sqrt(0.25 / n)
    # The leaning annotator's share matches what a +2 logit lean gives on these pairs.
    lean = by_name[leaner.username].position_bias.value
    assert 0.75 <= lean <= 0.95
    # Counterbalancing: each model was shown first in half of its leases, within 5 points.
    firsts: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for shown, keys in Assignment.objects.filter(campaign=campaign).values_list(
        "display_order", "task__candidate_keys"
    ):
        key = {int(m): k for m, k in keys}
        firsts[key[shown[0]]] += 1
        seen.update(key[m] for m in shown)
    assert len(seen) == len(TRUE)
    for k in seen:
        assert abs(firsts[k] / seen[k] - 0.5) <= 0.05, (k, firsts[k], seen[k])


# --- the stated error rate, over many simulated campaigns -------------------------------------


def simulated_rows(rng, *, honest: int, random_: int, per: int) -> list[JudgmentRow]:
    """Judgment rows of one simulated campaign without a database: each annotator judges
    `per` pairs of the eight models (a prompt each, the screen order at random); honest ones
    by Bradley-Terry with TRUE's strengths, random ones by a coin. Annotator ids: honest
    ones first."""
    strengths = list(TRUE.values())
    rows = []
    for user in range(honest + random_):
        for k in range(per):
            a, b = rng.sample(range(len(strengths)), 2)
            ma, mb = 1000 * k + a, 1000 * k + b
            shown = [ma, mb] if rng.random() < 0.5 else [mb, ma]
            if user < honest:
                p = 1 / (1 + math.exp(strengths[b] - strengths[a]))
                chosen = ma if rng.random() < p else mb
            else:
                chosen = rng.choice(shown)
            rows.append(
                JudgmentRow(
                    id=len(rows) + 1,
                    annotator_id=user,
                    task_id=len(rows) + 1,
                    kind="pairwise",
                    payload={
                        "outcome": "preferred",
                        "preferred": chosen,
                        "rejected": mb if chosen == ma else ma,
                    },
                    seconds=round(rng.lognormvariate(2.2, 0.5), 1),
                    gold_score=None,
                    created_at=datetime.now(UTC),
                    display_order=shown,
                    candidate_keys=[[ma, f"m{a}"], [mb, f"m{b}"]],
                    is_gold=False,
                    repeat_of=None,
                    parent_id=k,
                    profile={},
                )
            )
    return rows


def test_flags_hold_their_stated_error_rate_over_simulated_campaigns():
    """150 campaigns of 10 honest annotators: each test alone rejects about ALPHA of them,
    and Holm's procedure flags anyone in at most ALPHA of the campaigns (both within three
    standard errors); the random clickers of campaigns that have them are found."""
    rng = random.Random(2026)
    campaigns, people = 150, 10
    anyone = 0
    rejected: Counter[str] = Counter()
    tested: Counter[str] = Counter()
    for _ in range(campaigns):
        rows = simulated_rows(rng, honest=people, random_=0, per=60)
        findings = quality_flags.annotator_findings(
            rows, reference=set(range(people)), annotators=range(people)
        )
        for f in findings:
            tested[f.test] += 1
            rejected[f.test] += f.p_value <= quality_flags.ALPHA
        anyone += bool(quality_flags.holm(findings))
    alpha = quality_flags.ALPHA
    assert set(tested) == {"favourite", "position", "time"}
    for test, n in tested.items():
        assert rejected[test] / n <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / n), test
    assert anyone / campaigns <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / campaigns)

    found = 0
    for _ in range(20):
        rows = simulated_rows(rng, honest=8, random_=2, per=150)
        flags = quality_flags.holm(
            quality_flags.annotator_findings(rows, reference=set(range(10)), annotators=range(10))
        )
        found += sum(any(f.test == "favourite" for f in flags.get(u, [])) for u in (8, 9))
    assert found >= 38  # of 40: the power at 150 judgments over every pair is ~99%
