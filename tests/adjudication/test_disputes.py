"""Disputes detected for each kind from simulated judgments (the real lease and submit
services), by the campaign's rule; the counted judgments only (a withdrawal can end a dispute)."""

from __future__ import annotations

import uuid

import pytest

from annotation.errors import RuleError
from annotation.kinds.base import DisputeRule
from annotation.kinds.ranking import kendall_distance
from annotation.models import Study, Task
from annotation.selectors.adjudication import disputed_items, item_agreements
from annotation.services import judgment_submit, prompts_import, studies, task_lease_next
from annotation.services.campaigns import campaign_create
from tests.adjudication.conftest import people, prompt_lines

pytestmark = pytest.mark.django_db

LIKERT = {"attributes": [{"name": "quality", "scale": {"points": ["1", "2", "3", "4", "5"]}}]}
LABELS = {"labels": [{"name": "spam", "type": "flag"}, {"name": "toxic", "type": "flag"}]}


def preferred(choices):
    """Annotator i prefers candidate choices[i] (0 or 1 of the sorted ids)."""
    return lambda i, _task, ids: {"outcome": "preferred", "preferred": ids[choices[i]]}


def only(campaign):
    (agreement,) = item_agreements(campaign=campaign).values()
    return agreement


def test_pairwise_split_when_no_outcome_reaches_the_share(judged_campaign):
    split = judged_campaign(
        kind="pairwise", payload_for=preferred([0, 0, 1]), annotators=people("p", 3)
    )
    a = only(split)
    assert a.disputed and a.why == "split" and a.agreement == pytest.approx(0.6667)
    agreed = judged_campaign(
        kind="pairwise", payload_for=preferred([1, 1, 1]), annotators=people("q", 3)
    )
    assert not only(agreed).disputed and only(agreed).agreement == 1.0
    # The same 2 to 1 is not a split under a share of 0.6.
    lenient = judged_campaign(
        kind="pairwise",
        payload_for=preferred([0, 0, 1]),
        annotators=people("r", 3),
        rule={"share": 0.6},
    )
    assert not only(lenient).disputed


def test_a_tie_and_a_preference_do_not_agree(judged_campaign):
    def tie_or_pick(i, _task, ids):
        return {"outcome": "tie"} if i == 0 else {"outcome": "preferred", "preferred": ids[0]}

    c = judged_campaign(
        kind="pairwise",
        payload_for=tie_or_pick,
        annotators=people("t", 2),
        settings={"allow_tie": True},
    )
    assert only(c).disputed and only(c).agreement == 0.5


def test_rating_spread_over_the_width(judged_campaign):
    def scores(values):
        return lambda i, _task, ids: {"ratings": {str(m): {"quality": values[i]} for m in ids}}

    wide = judged_campaign(
        kind="rating",
        settings=LIKERT,
        payload_for=scores([1, 4]),
        annotators=people("w", 2),
        responses=1,
    )
    assert only(wide).disputed and only(wide).why == "spread"
    assert only(wide).agreement == pytest.approx(1 - 3 / 4)
    narrow = judged_campaign(
        kind="rating",
        settings=LIKERT,
        payload_for=scores([2, 4]),
        annotators=people("n", 2),
        responses=1,
    )
    assert not only(narrow).disputed  # a spread of exactly the width is not over it


def test_ranking_far_apart_by_kendall_distance(judged_campaign):
    def orders(reverse_for):
        return lambda i, _task, ids: {
            "ranking": list(reversed(ids)) if i in reverse_for else list(ids)
        }

    far = judged_campaign(
        kind="ranking", payload_for=orders({1}), annotators=people("f", 2), responses=3
    )
    assert only(far).disputed and only(far).why == "distance" and only(far).agreement == 0.0
    near = judged_campaign(
        kind="ranking", payload_for=orders(set()), annotators=people("c", 2), responses=3
    )
    assert not only(near).disputed and only(near).agreement == 1.0


def test_kendall_distance_counts_opposite_pairs_and_half_a_tie():
    assert kendall_distance({1: 0, 2: 1, 3: 2}, {1: 0, 2: 1, 3: 2}) == 0
    assert kendall_distance({1: 0, 2: 1, 3: 2}, {1: 2, 2: 1, 3: 0}) == 1
    assert kendall_distance({1: 0, 2: 1, 3: 2}, {2: 0, 1: 1, 3: 2}) == pytest.approx(1 / 3)
    assert kendall_distance({1: 0, 2: 1}, {1: 0, 2: 0}) == 0.5


def test_labels_without_a_majority(judged_campaign):
    def flags(spam):
        return lambda i, _task, _ids: {"labels": {"spam": spam[i], "toxic": False}}

    split = judged_campaign(
        kind="label",
        settings=LABELS,
        payload_for=flags([True, False]),
        annotators=people("l", 2),
        responses=1,
    )
    assert only(split).disputed and only(split).why == "no_majority"
    majority = judged_campaign(
        kind="label",
        settings=LABELS,
        payload_for=flags([True, True, False]),
        annotators=people("m", 3),
        responses=1,
    )
    assert not only(majority).disputed


def test_thumbs_without_a_majority(judged_campaign):
    c = judged_campaign(
        kind="binary",
        payload_for=lambda i, _task, _ids: {"label": i == 0},
        annotators=people("b", 2),
        responses=1,
    )
    assert only(c).disputed and only(c).why == "no_majority"


def gold_campaign(make_campaign, prefix, picks):
    """One pairwise gold task (gold: the second candidate), judged through the real submit,
    which scores each judgment against the gold; annotator i prefers candidate picks[i]."""
    annotators = people(prefix, len(picks))
    c = make_campaign(
        members=annotators,
        task_kind="pairwise",
        overlap=len(picks),
        adjudication={"enabled": True},
    )
    assert prompts_import(campaign=c, content=prompt_lines(1, 2)).ok
    task = Task.objects.get(campaign=c)
    ids = sorted(task.task_candidates.values_list("message_id", flat=True))
    Task.objects.filter(id=task.id).update(gold={"outcome": "preferred", "preferred": ids[1]})
    for who, pick in zip(annotators, picks, strict=True):
        a = task_lease_next(annotator=who, campaign=c)
        judgment_submit(
            assignment=a,
            annotator=who,
            payload={"outcome": "preferred", "preferred": ids[pick]},
            idempotency_key=uuid.uuid4().hex,
        )
    return c, task


def test_a_gold_task_answered_wrongly_by_the_share(make_campaign):
    # Both agree with each other (no split), and both are wrong.
    c, task = gold_campaign(make_campaign, "g", [0, 0])
    assert set(task.judgments.values_list("gold_score", flat=True)) == {0.0}
    found = disputed_items(campaign=c)[task.id]
    assert found.why == "gold" and found.agreement == 1.0
    # One wrong of four is under the default share of 0.5, and 3 to 1 is no split at 0.75.
    c, task = gold_campaign(make_campaign, "h", [1, 1, 1, 0])
    assert disputed_items(campaign=c) == {}


def test_too_few_judgments_are_no_dispute(judged_campaign):
    c = judged_campaign(kind="pairwise", payload_for=preferred([0]), annotators=people("o", 1))
    assert item_agreements(campaign=c) == {}


def test_free_text_kinds_have_no_measure(judged_campaign):
    c = judged_campaign(
        kind="critique",
        payload_for=lambda i, _task, _ids: {"text": f"Critique number {i} here."},
        annotators=people("k", 2),
        responses=1,
    )
    assert item_agreements(campaign=c) == {}


def test_a_withdrawal_ends_the_dispute_it_made(judged_campaign):
    annotators = people("x", 3)
    c = judged_campaign(kind="pairwise", payload_for=preferred([0, 0, 1]), annotators=annotators)
    assert only(c).disputed
    studies.consent_text_set(campaign=c, text="You may withdraw at any time.")
    Study.objects.filter(campaign=c).update(signup_open=True)
    participant = studies.participant_join(campaign=c, user=annotators[2])
    studies.consent_withdraw(participant=participant)
    assert not only(c).disputed and only(c).judgments == 2


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"share": 0.2}, "adjudication.share"),
        ({"enabled": "yes"}, "adjudication.enabled"),
        ({"min_judgments": 1}, "adjudication.min_judgments"),
        ({"distance": 2}, "adjudication.distance"),
        ({"nonsense": 1}, "adjudication.nonsense"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(raw, field, carol):
    with pytest.raises(RuleError) as e:
        campaign_create(name="x", slug="x", created_by=carol, adjudication=raw)
    assert e.value.field == field
    assert DisputeRule.parse({}).enabled is False
