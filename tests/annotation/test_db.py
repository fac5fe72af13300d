"""annotation.db: the hot path's statements, their rows, and the partial instances built from
them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import db
from annotation.models import Campaign, Task
from annotation.services import task_lease_next


def test_a_partial_instance_refuses_to_be_saved_or_deleted(campaign):
    partial = db.unsaved_partial(Campaign, id=campaign.id, state=campaign.state)
    assert partial.name == ""  # not read: the field's default, not the row's value

    with pytest.raises(TypeError, match=r"annotation\.Campaign holds only some columns"):
        partial.save()
    with pytest.raises(TypeError, match="holds only some columns"):
        partial.save(update_fields=["state"])
    with pytest.raises(TypeError, match="holds only some columns"):
        partial.delete()
    campaign.refresh_from_db()
    assert campaign.name and Campaign.objects.filter(id=campaign.id).exists()


def test_the_lease_hands_out_its_campaign_and_task_as_partial_instances(campaign, alice):
    lease = task_lease_next(annotator=alice, campaign=campaign)
    assert lease is not None
    before = Task.objects.get(id=lease.task_id)

    for partial in (lease.campaign, lease.task):
        with pytest.raises(TypeError, match="holds only some columns"):
            partial.save()
    assert lease.campaign.lease_seconds == campaign.lease_seconds
    assert lease.task.candidate_keys == before.candidate_keys
    # The lease itself is a whole row.
    lease.expires_at = timezone.now() + timedelta(minutes=5)
    lease.save(update_fields=["expires_at"])


def test_rows_name_their_columns(campaign, alice):
    member = db.member_for_lease(campaign_id=campaign.id, user_id=alice.id)
    assert member is not None
    assert member.campaign_state == Campaign.State.OPEN and member.current_id is None
    assert member.placements == {} and member.quota_cells == [] and member.quotas == {}

    task = db.task_pick(
        campaign_id=campaign.id, annotator_id=alice.id, pick=db.Pick.DEFAULT, lock=False
    )
    assert task is not None
    assert task.candidate_keys == Task.objects.get(id=task.id).candidate_keys


def test_a_select_list_must_follow_its_row_type():
    with pytest.raises(TypeError, match="not the row's fields"):
        db._select(db.TaskRow._fields, conversation_id="t.conversation_id", id="t.id")
