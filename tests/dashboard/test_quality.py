"""Annotator quality: agreement against the krippendorff package, position and length bias,
ties, skips, gold, intransitive cycles, self-consistency on repeated pairs, profile groups."""

import random

import krippendorff
import numpy as np
import pytest

from annotation.models import Assignment, Campaign, Membership, Profile, Task
from annotation.selectors import quality
from annotation.services import (
    assignment_skip,
    campaign_update,
    judgment_submit,
    prompts_import,
    task_lease_next,
)
from annotation.services import routing as routing_service

from .helpers import judge, left_chooser, model_lines, people

CODES = {"a": 0, "tie": 1, "b": 2, "both_bad": 3}


def by_model(answer: str):
    """A pairwise answer given by model name ("a": model-a wins), whatever the screen order."""

    def choose(user, assignment, models):
        if answer in ("tie", "both_bad"):
            return {"outcome": answer}
        wanted = f"model-{answer}"
        return {
            "outcome": "preferred",
            "preferred": next(m for m in assignment.display_order if models[m] == wanted),
        }

    return choose


def table_chooser(table, tasks_order):
    """Answers from table[annotator index][task index]."""

    def make(k):
        def choose(user, assignment, models):
            return by_model(table[k][tasks_order.index(assignment.task.id)])(
                user, assignment, models
            )

        return choose

    return make


def test_pairwise_alpha_matches_the_krippendorff_package(make_campaign):
    annotators = people(3)
    campaign = make_campaign(members=annotators, overlap=3)
    assert prompts_import(campaign=campaign, content=model_lines(12, ["model-a", "model-b"])).ok
    tasks = list(Task.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True))
    rng = random.Random(4)
    table = [[rng.choice(["a", "a", "b", "tie", "both_bad"]) for _ in tasks] for _ in annotators]
    table[1][:6] = table[0][:6]  # some agreement to measure
    make = table_chooser(table, tasks)
    judge(campaign, annotators, {a.id: make(k) for k, a in enumerate(annotators)})

    expected = krippendorff.alpha(
        reliability_data=np.array([[CODES[x] for x in row] for row in table], dtype=float),
        level_of_measurement="nominal",
    )
    (alpha,) = quality.campaign_alphas(campaign=campaign)

    assert alpha.level == "nominal"
    assert alpha.units == 12
    assert alpha.value == pytest.approx(expected, abs=1e-12)


def test_rating_alpha_matches_the_krippendorff_package_at_the_ordinal_level(make_campaign):
    annotators = people(3)
    settings = {"attributes": [{"name": "helpfulness"}]}
    campaign = make_campaign(members=annotators, overlap=3, task_kind="rating", settings=settings)
    assert prompts_import(campaign=campaign, content=model_lines(5, ["model-a", "model-b"])).ok
    rng = random.Random(9)
    given: dict[tuple[int, int], int] = {}

    def rate(k):
        def choose(user, assignment, models):
            scores = {}
            for m in assignment.display_order:
                base = 4 if models[m] == "model-a" else 2
                given[(k, m)] = min(5, max(1, base + rng.choice([-1, 0, 0, 1])))
                scores[str(m)] = {"helpfulness": given[(k, m)]}
            return {"ratings": scores}

        return choose

    judge(campaign, annotators, {a.id: rate(k) for k, a in enumerate(annotators)})
    messages = sorted({m for _, m in given})
    data = np.array([[given.get((k, m), np.nan) for m in messages] for k in range(3)])

    (alpha,) = quality.campaign_alphas(campaign=campaign)

    assert alpha.level == "ordinal"
    assert alpha.value == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"), abs=1e-12
    )


def test_tie_aware_agreement_counts_a_tie_against_a_preference_as_half(make_campaign):
    annotators = people(2)
    campaign = make_campaign(members=annotators, overlap=2)
    assert prompts_import(campaign=campaign, content=model_lines(3, ["model-a", "model-b"])).ok
    tasks = list(Task.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True))
    # Same answer; a tie against a preference; opposite preferences.
    table = [["a", "tie", "a"], ["a", "b", "b"]]
    make = table_chooser(table, tasks)
    judge(campaign, annotators, {a.id: make(k) for k, a in enumerate(annotators)})

    pairs = quality.pair_agreement(campaign=campaign)

    assert pairs.pairs == 3
    assert pairs.tie_aware == pytest.approx((1 + 0.5 + 0) / 3)
    assert pairs.strict == pytest.approx(1 / 3)
    assert pairs.decisive == pytest.approx(1 / 2)


def test_an_annotator_who_always_picks_the_left_response_shows_position_bias_near_one(
    make_campaign,
):
    alice, bob = people(2)
    campaign = make_campaign(members=[alice, bob], overlap=2)
    assert prompts_import(campaign=campaign, content=model_lines(40, ["model-a", "model-b"])).ok
    judge(campaign, [alice, bob], {alice.id: left_chooser(), bob.id: by_model("a")})

    q = {a.username: a for a in quality.annotator_quality(campaign=campaign).annotators}

    assert q["sim0"].position_bias.n == 40
    assert q["sim0"].position_bias.value == pytest.approx(1.0)
    assert any("first shown" in w for w in q["sim0"].warnings)
    # Counterbalanced screen order: a model-driven annotator lands near one half.
    assert 0.3 <= q["sim1"].position_bias.value <= 0.7
    assert not any("first shown" in w for w in q["sim1"].warnings)


def test_length_bias_shows_an_annotator_who_always_picks_the_longer_response(make_campaign):
    alice, bob = people(2)
    campaign = make_campaign(members=[alice, bob], overlap=2)
    lines = model_lines(10, ["model-a", "model-b"], lengths={"model-a": 40, "model-b": 8})
    assert prompts_import(campaign=campaign, content=lines).ok
    judge(campaign, [alice, bob], {alice.id: by_model("a"), bob.id: by_model("b")})

    result = quality.annotator_quality(campaign=campaign)
    q = {a.username: a for a in result.annotators}

    assert q["sim0"].length_bias.value == 1.0
    assert q["sim1"].length_bias.value == 0.0
    assert result.length_bias.longer.value == pytest.approx(0.5)
    assert result.length_bias.longer.n == 20


def test_it_counts_ties_skips_gold_and_time(make_campaign):
    (alice,) = people(1)
    campaign = make_campaign(members=[alice], overlap=1)
    assert prompts_import(campaign=campaign, content=model_lines(4, ["model-a", "model-b"])).ok
    tasks = list(Task.objects.filter(campaign=campaign).order_by("id"))
    for t in tasks[:2]:
        keys = {key: int(m) for m, key in t.candidate_keys}
        t.gold = {"outcome": "preferred", "preferred": min(keys.values())}
        t.save(update_fields=["gold"])
    answers = iter(["tie", "a", "b"])

    first = task_lease_next(annotator=alice, campaign=campaign)
    assignment_skip(assignment=first, annotator=alice)
    judge(campaign, [alice], lambda u, a, m: by_model(next(answers))(u, a, m))

    (q,) = quality.annotator_quality(campaign=campaign).annotators

    assert q.judgments == 3
    assert q.skips.value == pytest.approx(1 / 4)
    assert q.ties.value == pytest.approx(1 / 3)
    assert q.median_seconds == 8.0
    assert (q.gold.value, q.gold.n) == (0.0, 1)  # the gold task got a tie


def test_it_finds_intransitive_cycles_among_one_annotators_choices(make_campaign):
    (alice,) = people(1)
    campaign = make_campaign(members=[alice], overlap=1)
    models = ["model-a", "model-b", "model-c"]
    assert prompts_import(campaign=campaign, content=model_lines(4, models)).ok
    beats = {("model-a", "model-b"), ("model-b", "model-c"), ("model-c", "model-a")}

    def circle(user, assignment, names):
        x, y = assignment.display_order
        return {"outcome": "preferred", "preferred": x if (names[x], names[y]) in beats else y}

    judge(campaign, [alice], circle)
    (q,) = quality.annotator_quality(campaign=campaign).annotators

    assert (q.cycles, q.triads) == (4, 4)  # one triad per prompt, each a circle
    assert any("intransitive" in w for w in q.warnings)


def test_repeated_pairs_come_back_later_with_the_sides_swapped_to_their_annotator_only(
    make_campaign, monkeypatch
):
    alice, bob = people(2)
    campaign = make_campaign(members=[alice, bob], overlap=2)
    assert prompts_import(campaign=campaign, content=model_lines(12, ["model-a", "model-b"])).ok
    campaign_update(campaign=campaign, repeat_share=0.5)
    monkeypatch.setattr(routing_service, "REPEAT_AFTER", 2)
    # alice is consistent (always model-a); bob flips a coin each time.
    coin = random.Random(2)

    def flip(user, assignment, models):
        return by_model(coin.choice(["a", "b"]))(user, assignment, models)

    judge(campaign, [alice, bob], {alice.id: by_model("a"), bob.id: flip})

    repeats = Task.objects.filter(campaign=campaign, repeat_of__isnull=False)
    assert repeats.exists()
    for repeat in repeats:
        (lease,) = Assignment.objects.filter(task=repeat)
        first = Assignment.objects.get(task=repeat.repeat_of, annotator=lease.annotator)
        assert lease.display_order == first.display_order[::-1]
        assert lease.id > first.id
    assert repeat.state == Task.State.COMPLETE
    q = {a.username: a for a in quality.annotator_quality(campaign=campaign).annotators}
    assert q["sim0"].self_consistency.n >= 1
    assert q["sim0"].self_consistency.value == 1.0
    # Repeats are checks, not data: alpha and the annotators' counts leave them out.
    assert q["sim0"].judgments == 12


def test_a_repeat_is_never_offered_to_anyone_else(make_campaign, monkeypatch):
    alice, bob = people(2)
    campaign = make_campaign(members=[alice, bob], overlap=1)
    assert prompts_import(campaign=campaign, content=model_lines(8, ["model-a", "model-b"])).ok
    Campaign.objects.filter(id=campaign.id).update(repeat_share=0.5)
    monkeypatch.setattr(routing_service, "REPEAT_AFTER", 1)
    monkeypatch.setattr(routing_service.random, "random", lambda: 0.0)  # always due
    for _ in range(3):
        a = task_lease_next(annotator=alice, campaign=campaign)
        judgment_submit(
            assignment=a, annotator=alice, payload={"outcome": "tie"}, idempotency_key=f"k{a.id}"
        )
    repeat = task_lease_next(annotator=alice, campaign=campaign)
    assert Task.objects.get(id=repeat.task_id).state == Task.State.REPEAT
    # alice lets her lease run out; bob never gets it.
    Assignment.objects.filter(id=repeat.id).update(expires_at=repeat.leased_at)
    while (b := task_lease_next(annotator=bob, campaign=campaign)) is not None:
        assert Task.objects.get(id=b.task_id).repeat_of_id is None
        assignment_skip(assignment=b, annotator=bob)
    assert Task.objects.get(id=repeat.task_id).state == Task.State.REPEAT


def test_agreement_by_profile_field(make_campaign):
    annotators = people(4)
    campaign = make_campaign(members=annotators, overlap=4)
    assert prompts_import(campaign=campaign, content=model_lines(10, ["model-a", "model-b"])).ok
    for k, a in enumerate(annotators):
        Profile.objects.create(user=a, answers={"age": "18-24" if k < 3 else "65+"})
    # Three young annotators agree on model-a; the older one prefers model-b.
    judge(
        campaign,
        annotators,
        {a.id: by_model("a" if k < 3 else "b") for k, a in enumerate(annotators)},
    )

    groups = {g.value: g for g in quality.agreement_by_profile(campaign=campaign, field="age")}

    assert groups["18-24"].annotators == 3
    assert groups["18-24"].within.value == 1.0
    assert groups["18-24"].with_majority.value == 1.0
    assert groups["65+"].within.value is None
    assert groups["65+"].across.value == 0.0
    assert groups["65+"].with_majority.value == 0.0
    assert quality.annotator_quality(campaign=campaign).profile_fields == ["age"]


def test_flagged_annotators_are_no_reference_for_agreement(make_campaign):
    alice, bob, carl = people(3)
    campaign = make_campaign(members=[alice, bob, carl], overlap=3)
    assert prompts_import(campaign=campaign, content=model_lines(5, ["model-a", "model-b"])).ok
    judge(
        campaign,
        [alice, bob, carl],
        {alice.id: by_model("a"), bob.id: by_model("a"), carl.id: by_model("b")},
    )
    Membership.objects.filter(campaign=campaign, user=carl).update(is_flagged=True)

    q = {a.username: a for a in quality.annotator_quality(campaign=campaign).annotators}

    assert q["sim0"].agreement.value == 1.0
    assert q["sim2"].agreement.value == 0.0
    assert q["sim2"].is_flagged
