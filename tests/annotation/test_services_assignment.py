from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.errors import Conflict, Forbidden, NotFound
from annotation.models import Assignment, Campaign, Membership, Message, Study, Task
from annotation.services import (
    assignment_skip,
    judgment_submit,
    leases_expire,
    prompts_import,
    task_lease_next,
)
from tests.conftest import pairwise_lines


def judge(assignment, annotator, key=None):
    return judgment_submit(
        assignment=assignment,
        annotator=annotator,
        payload={"outcome": "preferred", "preferred": assignment.display_order[0], "strength": 1}
        if assignment.campaign.settings.get("strength_levels")
        else {"outcome": "preferred", "preferred": assignment.display_order[0]},
        idempotency_key=key or f"k-{assignment.id}",
    )


def test_it_never_leases_a_task_twice_to_one_annotator(campaign, alice):
    seen = []
    while (a := task_lease_next(annotator=alice, campaign=campaign)) is not None:
        seen.append(a.task_id)
        judge(a, alice)
    assert len(seen) == 6 == len(set(seen))


def test_it_returns_my_current_lease_instead_of_a_second_one(campaign, alice):
    first = task_lease_next(annotator=alice, campaign=campaign)
    again = task_lease_next(annotator=alice, campaign=campaign)
    assert again.id == first.id
    assert Assignment.objects.filter(annotator=alice, state="active").count() == 1


def test_a_fully_leased_task_is_not_offered(make_campaign, alice, bob, mallory):
    c = make_campaign(members=[alice, bob, mallory], overlap=2)
    prompts_import(campaign=c, content=pairwise_lines(1))
    assert task_lease_next(annotator=alice, campaign=c) is not None
    assert task_lease_next(annotator=bob, campaign=c) is not None
    assert task_lease_next(annotator=mallory, campaign=c) is None
    task = Task.objects.get(campaign=c)
    assert (task.leased_count, task.judgments_count) == (2, 0)


def test_fewest_judgments_first(make_campaign, alice, bob, carol):
    c = make_campaign(members=[alice, bob, carol], overlap=3)
    prompts_import(campaign=c, content=pairwise_lines(3))
    first = task_lease_next(annotator=alice, campaign=c)
    judge(first, alice)
    # bob should get a task nobody has judged yet, not the one alice just judged.
    assert task_lease_next(annotator=bob, campaign=c).task_id != first.task_id


def test_an_expired_lease_hands_the_task_back(make_campaign, alice, bob):
    c = make_campaign(members=[alice, bob], overlap=1, lease_seconds=60)
    prompts_import(campaign=c, content=pairwise_lines(1))
    a = task_lease_next(annotator=alice, campaign=c)
    assert task_lease_next(annotator=bob, campaign=c) is None
    later = timezone.now() + timedelta(seconds=61)
    b = task_lease_next(annotator=bob, campaign=c, now=later)
    assert b is not None and b.task_id == a.task_id
    a.refresh_from_db()
    assert a.state == Assignment.State.EXPIRED
    assert Task.objects.get(id=a.task_id).leased_count == 1


def test_leases_expire_counts_and_is_idempotent(campaign, alice, bob):
    task_lease_next(annotator=alice, campaign=campaign)
    task_lease_next(annotator=bob, campaign=campaign)
    later = timezone.now() + campaign.lease_length + timedelta(seconds=1)
    assert leases_expire(now=later) == 2
    assert leases_expire(now=later) == 0
    assert not Task.objects.filter(campaign=campaign, leased_count__gt=0).exists()


def test_a_skipped_task_is_not_offered_to_me_again(make_campaign, alice):
    c = make_campaign(members=[alice], overlap=1)
    prompts_import(campaign=c, content=pairwise_lines(1))
    a = task_lease_next(annotator=alice, campaign=c)
    skipped = assignment_skip(assignment=a, annotator=alice, reason="I don't know Python")
    assert (skipped.state, skipped.skip_reason) == ("skipped", "I don't know Python")
    assert Task.objects.get(id=a.task_id).leased_count == 0
    assert task_lease_next(annotator=alice, campaign=c) is None


def test_skipping_twice_is_harmless_and_a_submitted_task_cannot_be_skipped(campaign, alice):
    a = task_lease_next(annotator=alice, campaign=campaign)
    assignment_skip(assignment=a, annotator=alice)
    assignment_skip(assignment=a, annotator=alice)
    assert Task.objects.get(id=a.task_id).leased_count == 0
    b = task_lease_next(annotator=alice, campaign=campaign)
    judge(b, alice)
    with pytest.raises(Conflict):
        assignment_skip(assignment=b, annotator=alice)


def test_it_requires_campaign_membership(campaign, mallory):
    with pytest.raises(NotFound):
        task_lease_next(annotator=mallory, campaign=campaign)
    campaign.is_public = True
    campaign.save(update_fields=["is_public"])
    assert task_lease_next(annotator=mallory, campaign=campaign) is not None
    assert Membership.objects.filter(campaign=campaign, user=mallory).exists()


def test_a_blocked_annotator_gets_no_task(campaign, alice):
    Membership.objects.filter(campaign=campaign, user=alice).update(is_blocked=True)
    with pytest.raises(Forbidden, match="no longer"):
        task_lease_next(annotator=alice, campaign=campaign)


def test_a_paused_campaign_serves_nothing(campaign, alice):
    campaign.state = Campaign.State.PAUSED
    campaign.save(update_fields=["state"])
    with pytest.raises(Conflict, match="paused"):
        task_lease_next(annotator=alice, campaign=campaign)


def test_a_live_lease_counts_toward_a_study_limit(campaign, alice):
    """A participant holding a live lease beside their current one (as the race of many
    tabs once left) gets no new task once submitted and live leases reach the limit."""
    Study.objects.create(campaign=campaign, tasks_per_participant=2)
    Membership.objects.filter(campaign=campaign, user=alice).update(stage=Membership.Stage.ACTIVE)
    first = task_lease_next(annotator=alice, campaign=campaign)
    judge(first, alice)
    other = Task.objects.filter(campaign=campaign).exclude(id=first.task_id).first()
    now = timezone.now()
    stray = Assignment.objects.create(
        task=other,
        campaign=campaign,
        annotator=alice,
        leased_at=now,
        expires_at=now + timedelta(minutes=5),
        display_order=[m for m, _ in other.candidate_keys],
    )
    Task.objects.filter(id=other.id).update(leased_count=1)
    assert task_lease_next(annotator=alice, campaign=campaign) is None
    # Once it runs out, it no longer counts.
    Assignment.objects.filter(id=stray.id).update(expires_at=now - timedelta(seconds=1))
    assert task_lease_next(annotator=alice, campaign=campaign) is not None


def test_screen_order_is_counterbalanced_per_annotator(make_campaign, alice):
    c = make_campaign(members=[alice], overlap=1)
    prompts_import(campaign=c, content=pairwise_lines(40))
    left = Counter()
    while (a := task_lease_next(annotator=alice, campaign=c)) is not None:
        left[Message.objects.get(id=a.display_order[0]).model.name] += 1
        judge(a, alice)
    # Random placement would often stray by 5 or more; counterbalancing keeps it within 1.
    assert sum(left.values()) == 40
    assert abs(left["model-a"] - left["model-b"]) <= 1


def test_counterbalancing_keys_responses_without_a_model_by_import_position(make_campaign, alice):
    c = make_campaign(members=[alice], overlap=1)
    lines = "\n".join(
        f'{{"prompt": "q{i}", "responses": ["first {i}", "second {i}"]}}' for i in range(10)
    )
    prompts_import(campaign=c, content=lines)
    firsts_left = 0
    while (a := task_lease_next(annotator=alice, campaign=c)) is not None:
        firsts_left += Message.objects.get(id=a.display_order[0]).text.startswith("first")
        judge(a, alice)
    assert firsts_left == 5


def test_my_own_expired_lease_is_renewed_when_nobody_took_the_slot(make_campaign, alice, bob):
    c = make_campaign(members=[alice, bob], overlap=1, lease_seconds=60)
    prompts_import(campaign=c, content=pairwise_lines(1))
    a = task_lease_next(annotator=alice, campaign=c)
    later = timezone.now() + timedelta(seconds=61)
    again = task_lease_next(annotator=alice, campaign=c, now=later)
    assert again.id == a.id and again.expires_at == later + c.lease_length
    assert Task.objects.get(id=a.task_id).leased_count == 1


def test_my_own_expired_lease_is_lost_once_someone_else_took_the_slot(make_campaign, alice, bob):
    c = make_campaign(members=[alice, bob], overlap=1, lease_seconds=60)
    prompts_import(campaign=c, content=pairwise_lines(1))
    a = task_lease_next(annotator=alice, campaign=c)
    later = timezone.now() + timedelta(seconds=61)
    assert task_lease_next(annotator=bob, campaign=c, now=later).task_id == a.task_id
    assert task_lease_next(annotator=alice, campaign=c, now=later) is None
    a.refresh_from_db()
    assert a.state == Assignment.State.EXPIRED


def test_a_draft_campaign_is_not_found(make_campaign, alice):
    c = make_campaign(members=[alice], state=Campaign.State.DRAFT)
    with pytest.raises(NotFound):
        task_lease_next(annotator=alice, campaign=c.id)
