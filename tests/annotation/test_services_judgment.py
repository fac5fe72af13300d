from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.errors import Conflict, NotFound, RuleError
from annotation.models import Assignment, Campaign, Judgment, Profile, Task
from annotation.services import (
    assignment_skip,
    campaign_admin,
    judgment_submit,
    prompts_import,
    task_lease_next,
)
from tests.conftest import pairwise_lines


@pytest.fixture
def scaled(make_campaign, alice, bob):
    """Pairwise with a 7-point scale (3 strength levels), no ties, reason required."""
    c = make_campaign(
        members=[alice, bob],
        overlap=2,
        settings={"strength_levels": 3, "allow_tie": False, "reason": "required"},
    )
    prompts_import(campaign=c, content=pairwise_lines(2))
    return c


def submit(a, user, payload, key="key-1", **kw):
    return judgment_submit(assignment=a, annotator=user, payload=payload, idempotency_key=key, **kw)


def test_a_double_submit_with_the_same_key_stores_one_judgment(campaign, alice):
    a = task_lease_next(annotator=alice, campaign=campaign)
    payload = {"outcome": "preferred", "preferred": a.display_order[1]}
    first, created = submit(a, alice, payload, seconds_spent=4.2)
    again, created_again = submit(a, alice, payload, seconds_spent=4.2)
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert Judgment.objects.filter(assignment=a).count() == 1
    task = Task.objects.get(id=a.task_id)
    assert (task.judgments_count, task.leased_count) == (1, 0)


def test_the_stored_choice_names_messages_not_screen_positions(campaign, alice):
    a = task_lease_next(annotator=alice, campaign=campaign)
    right = a.display_order[1]
    judgment, _ = submit(a, alice, {"outcome": "preferred", "preferred": right})
    assert judgment.payload == {
        "outcome": "preferred",
        "preferred": right,
        "rejected": a.display_order[0],
    }


def test_a_key_reused_for_another_task_is_a_conflict(campaign, alice):
    a = task_lease_next(annotator=alice, campaign=campaign)
    submit(a, alice, {"outcome": "tie"}, key="same")
    b = task_lease_next(annotator=alice, campaign=campaign)
    with pytest.raises(Conflict, match="another task") as e:
        submit(b, alice, {"outcome": "tie"}, key="same")
    assert e.value.field == "idempotency_key"
    assert Assignment.objects.get(id=b.id).state == "active"


def test_an_expired_lease_refuses_a_late_submit_and_stores_nothing(campaign, alice):
    a = task_lease_next(annotator=alice, campaign=campaign)
    later = timezone.now() + campaign.lease_length + timedelta(seconds=1)
    with pytest.raises(Conflict) as e:
        submit(a, alice, {"outcome": "tie"}, now=later)
    assert e.value.code == "lease_expired" and e.value.status == 409
    assert not Judgment.objects.exists()
    assert Task.objects.get(id=a.task_id).judgments_count == 0


def test_a_submitted_task_cannot_be_submitted_again_with_a_new_key(campaign, alice):
    a = task_lease_next(annotator=alice, campaign=campaign)
    submit(a, alice, {"outcome": "tie"}, key="one")
    with pytest.raises(Conflict, match="already submitted"):
        submit(a, alice, {"outcome": "tie"}, key="two")
    assert Judgment.objects.count() == 1


def test_only_the_lease_holder_may_submit(campaign, alice, bob):
    a = task_lease_next(annotator=alice, campaign=campaign)
    # Not found, as a lease that does not exist: its id tells bob nothing.
    with pytest.raises(NotFound):
        submit(a, bob, {"outcome": "tie"})
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({}, "payload.outcome", "outcome must be one of"),
        ({"outcome": "maybe"}, "payload.outcome", "outcome must be one of"),
        ({"outcome": "tie", "reason": "same"}, "payload.outcome", "does not allow ties"),
        (
            {"outcome": "preferred", "strength": 2, "reason": "r"},
            "payload.preferred",
            "id of a candidate",
        ),
        (
            {"outcome": "preferred", "preferred": 999999, "strength": 1, "reason": "r"},
            "payload.preferred",
            "not a candidate",
        ),
        (
            {"outcome": "preferred", "preferred": "left", "strength": 1, "reason": "r"},
            "payload.preferred",
            "id of a candidate",
        ),
        (
            {"outcome": "preferred", "preferred": "FIRST", "strength": 4, "reason": "r"},
            "payload.strength",
            "from 1 to 3",
        ),
        (
            {"outcome": "preferred", "preferred": "FIRST", "reason": "r"},
            "payload.strength",
            "from 1 to 3",
        ),
        (
            {"outcome": "preferred", "preferred": "FIRST", "strength": 1},
            "payload.reason",
            "give a reason",
        ),
        (
            {"outcome": "preferred", "preferred": "FIRST", "strength": 1, "reason": "x" * 5001},
            "payload.reason",
            "longer than",
        ),
        ({"outcome": "both_bad", "strength": 2, "reason": "r"}, "payload.strength", "only given"),
        ({"outcome": "both_bad", "reason": "r", "colour": "red"}, "payload.colour", "Unknown"),
        ("tie", "payload", "must be an object"),
    ],
)
def test_a_payload_that_does_not_fit_names_the_field(scaled, alice, payload, field, message):
    a = task_lease_next(annotator=alice, campaign=scaled)
    if isinstance(payload, dict) and payload.get("preferred") == "FIRST":
        payload = {**payload, "preferred": a.display_order[0]}
    with pytest.raises(RuleError, match=message) as e:
        submit(a, alice, payload)
    assert e.value.field == field and e.value.status == 400
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(id=a.id).state == "active"


def test_a_full_pairwise_judgment_on_a_scaled_campaign(scaled, alice):
    a = task_lease_next(annotator=alice, campaign=scaled)
    judgment, _ = submit(
        a,
        alice,
        {
            "outcome": "preferred",
            "preferred": a.display_order[0],
            "strength": 3,
            "reason": "  clearer  ",
        },
        seconds_spent=12.5,
    )
    assert judgment.payload["strength"] == 3 and judgment.payload["reason"] == "clearer"
    assert judgment.seconds_spent == 12.5
    assert judgment.instructions_version == scaled.instructions_version


@pytest.mark.parametrize("seconds", [-1, "abc", 10**9, float("nan")])
def test_seconds_spent_must_be_a_sensible_number(campaign, alice, seconds):
    a = task_lease_next(annotator=alice, campaign=campaign)
    with pytest.raises(RuleError) as e:
        submit(a, alice, {"outcome": "tie"}, seconds_spent=seconds)
    assert e.value.field == "seconds_spent"


def test_a_task_completes_at_its_overlap(make_campaign, alice, bob):
    c = make_campaign(members=[alice, bob], overlap=2)
    prompts_import(campaign=c, content=pairwise_lines(1))
    a = task_lease_next(annotator=alice, campaign=c)
    submit(a, alice, {"outcome": "tie"}, key="a")
    b = task_lease_next(annotator=bob, campaign=c)
    assert b.task_id == a.task_id
    assert Task.objects.get(id=a.task_id).state == "open"
    submit(b, bob, {"outcome": "both_bad"}, key="b")
    task = Task.objects.get(id=a.task_id)
    assert (task.state, task.judgments_count, task.leased_count) == ("complete", 2, 0)


def test_a_judgment_points_at_the_profile_version_in_force(campaign, alice):
    Profile.objects.create(user=alice, version=1, answers={"age": "25-34 years old"})
    Profile.objects.create(user=alice, version=2, answers={"age": "35-44 years old"})
    a = task_lease_next(annotator=alice, campaign=campaign)
    judgment, _ = submit(a, alice, {"outcome": "tie"})
    assert judgment.profile.version == 2


def _state_set(campaign, state):
    campaign_admin.campaign_state_set(campaign=Campaign.objects.get(id=campaign.id), state=state)


def test_a_lease_held_when_the_campaign_closed_stores_nothing(campaign, alice):
    a = task_lease_next(annotator=alice, campaign=campaign)
    _state_set(campaign, Campaign.State.CLOSED)
    with pytest.raises(Conflict, match="closed; this answer was not stored") as refused:
        submit(a, alice, {"outcome": "tie"})
    assert (refused.value.status, refused.value.code) == (409, "closed")
    assert not Judgment.objects.exists()
    # Closing ended the lease and gave its slot back.
    a.refresh_from_db()
    assert a.state == Assignment.State.EXPIRED and a.finished_at is not None
    assert Task.objects.get(id=a.task_id).leased_count == 0
    with pytest.raises(Conflict, match="closed"):
        assignment_skip(assignment=a, annotator=alice)


def test_a_judgment_stored_before_the_close_is_still_replayed(campaign, alice):
    a = task_lease_next(annotator=alice, campaign=campaign)
    first, _ = submit(a, alice, {"outcome": "tie"}, key="before-close")
    _state_set(campaign, Campaign.State.CLOSED)
    again, created = submit(a, alice, {"outcome": "tie"}, key="before-close")
    assert (again.id, created) == (first.id, False)


def test_a_lease_held_when_the_campaign_paused_may_be_submitted_until_it_runs_out(
    campaign, alice, bob
):
    a = task_lease_next(annotator=alice, campaign=campaign)
    b = task_lease_next(annotator=bob, campaign=campaign)
    _state_set(campaign, Campaign.State.PAUSED)
    with pytest.raises(Conflict, match="paused"):
        task_lease_next(annotator=alice, campaign=campaign)
    _, created = submit(a, alice, {"outcome": "tie"})
    assert created and Judgment.objects.filter(assignment=a).exists()
    # bob's runs out while paused: refused as any late submit.
    with pytest.raises(Conflict, match="ran out") as late:
        submit(b, bob, {"outcome": "tie"}, key="late", now=b.expires_at)
    assert late.value.code == "lease_expired"
    assert Judgment.objects.count() == 1
