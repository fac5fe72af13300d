"""The adjudication queue: served to the campaign's reviewers only, never an item the
reviewer judged, one reviewer per item; a decision checked by the kind's code and stored
beside the judgments, never over them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from annotation.errors import Conflict, Forbidden, NotFound, RuleError
from annotation.models import Adjudication, Judgment, Membership
from annotation.services import membership_add
from annotation.services.adjudication import adjudication_decide, adjudication_next
from tests.adjudication.conftest import people

pytestmark = pytest.mark.django_db


def split(i, _task, ids):
    """Annotators 0 and 1 disagree on every item (1 to 1: a split)."""
    return {"outcome": "preferred", "preferred": ids[i % 2]}


@pytest.fixture
def disputed(judged_campaign):
    annotators = people("ann", 2)
    reviewers = people("rev", 2)
    c = judged_campaign(
        kind="pairwise",
        payload_for=split,
        annotators=annotators,
        reviewers=reviewers,
        prompts=3,
    )
    return c, annotators, reviewers


def test_only_the_campaigns_reviewers_are_served(disputed, mallory):
    c, annotators, reviewers = disputed
    with pytest.raises(Forbidden):
        adjudication_next(campaign=c, reviewer=annotators[0])
    with pytest.raises(Forbidden):
        adjudication_next(campaign=c, reviewer=mallory)
    membership_add(campaign=c, user=mallory, role=Membership.Role.REVIEWER)
    Membership.objects.filter(campaign=c, user=mallory).update(is_blocked=True)
    with pytest.raises(Forbidden):
        adjudication_next(campaign=c, reviewer=mallory)
    item = adjudication_next(campaign=c, reviewer=reviewers[0])
    assert item is not None and item.pending == 3 and len(item.opinions) == 2


def test_a_campaign_without_adjudication_has_no_queue(disputed):
    c, _annotators, reviewers = disputed
    c.adjudication = {"enabled": False}
    c.save()
    with pytest.raises(NotFound):
        adjudication_next(campaign=c, reviewer=reviewers[0])


def test_one_reviewer_per_item_and_the_same_item_back_to_its_holder(disputed):
    c, _annotators, (r1, r2) = disputed
    first = adjudication_next(campaign=c, reviewer=r1)
    assert adjudication_next(campaign=c, reviewer=r1).adjudication.id == first.adjudication.id
    second = adjudication_next(campaign=c, reviewer=r2)
    assert second.adjudication.task_id != first.adjudication.task_id
    with pytest.raises(Conflict):
        adjudication_decide(
            adjudication_id=first.adjudication.id, reviewer=r2, campaign=c, ambiguous=True
        )


def test_an_expired_lease_goes_to_the_next_reviewer(disputed):
    c, _annotators, (r1, r2) = disputed
    c.adjudication = {"enabled": True}
    first = adjudication_next(campaign=c, reviewer=r1)
    Adjudication.objects.filter(id=first.adjudication.id).update(
        leased_until=first.adjudication.leased_until - timedelta(days=1)
    )
    taken = adjudication_next(campaign=c, reviewer=r2)
    assert taken.adjudication.id == first.adjudication.id
    assert Adjudication.objects.get(id=first.adjudication.id).adjudicator == r2


def test_nobody_adjudicates_an_item_they_judged(judged_campaign):
    annotators = people("judge", 2)
    c = judged_campaign(kind="pairwise", payload_for=split, annotators=annotators)
    Membership.objects.filter(campaign=c, user=annotators[0]).update(role=Membership.Role.REVIEWER)
    assert adjudication_next(campaign=c, reviewer=annotators[0]) is None


def test_a_decision_is_checked_by_the_kind_and_kept_beside_the_judgments(disputed):
    c, _annotators, (r1, _r2) = disputed
    item = adjudication_next(campaign=c, reviewer=r1)
    before = list(
        Judgment.objects.filter(task_id=item.adjudication.task_id).values_list("payload", flat=True)
    )
    with pytest.raises(RuleError) as e:
        adjudication_decide(
            adjudication_id=item.adjudication.id,
            reviewer=r1,
            campaign=c,
            payload={"outcome": "preferred", "preferred": 999999},
        )
    assert e.value.field == "payload.preferred"
    with pytest.raises(RuleError) as e:
        adjudication_decide(
            adjudication_id=item.adjudication.id,
            reviewer=r1,
            campaign=c,
            payload={"outcome": "sideways"},
        )
    assert e.value.field == "payload.outcome"
    chosen = item.candidates[1].id
    done = adjudication_decide(
        adjudication_id=item.adjudication.id,
        reviewer=r1,
        campaign=c,
        payload={"outcome": "preferred", "preferred": chosen},
        note="B answers the question.",
    )
    assert done.state == "decided"
    assert done.payload == {
        "outcome": "preferred",
        "preferred": chosen,
        "rejected": item.candidates[0].id,
    }
    after = list(
        Judgment.objects.filter(task_id=item.adjudication.task_id).values_list("payload", flat=True)
    )
    assert after == before
    # Decided: no longer anyone's to decide, and the next item is another one.
    with pytest.raises(Conflict):
        adjudication_decide(
            adjudication_id=item.adjudication.id, reviewer=r1, campaign=c, ambiguous=True
        )
    nxt = adjudication_next(campaign=c, reviewer=r1)
    assert nxt.adjudication.task_id != item.adjudication.task_id and nxt.pending == 2


def test_ambiguous_carries_no_answer_and_leaves_the_queue(disputed):
    c, _annotators, (r1, _r2) = disputed
    seen = set()
    while (item := adjudication_next(campaign=c, reviewer=r1)) is not None:
        seen.add(item.adjudication.task_id)
        with pytest.raises(RuleError):
            adjudication_decide(
                adjudication_id=item.adjudication.id,
                reviewer=r1,
                campaign=c,
                ambiguous=True,
                payload={"outcome": "tie"},
            )
        adjudication_decide(
            adjudication_id=item.adjudication.id, reviewer=r1, campaign=c, ambiguous=True
        )
    assert len(seen) == 3
    assert set(Adjudication.objects.filter(campaign=c).values_list("state", flat=True)) == {
        "ambiguous"
    }
