"""The admin's writes: states, settings, instructions versions, flags, blocks, members."""

import pytest

from annotation.errors import Conflict, Forbidden, RuleError
from annotation.models import Assignment, Campaign, Membership, Task
from annotation.services import (
    campaign_setup_start,
    campaign_state_set,
    campaign_update,
    judgment_submit,
    membership_block,
    membership_flag,
    prompts_import,
    task_lease_next,
)
from tests.conftest import pairwise_lines


@pytest.fixture
def draft(carol):
    return campaign_setup_start(name="Helpfulness study", created_by=carol)


def test_a_new_campaign_is_a_draft_administered_by_its_creator(draft, carol):
    assert draft.state == Campaign.State.DRAFT
    assert draft.slug == "helpfulness-study"
    assert Membership.objects.get(campaign=draft, user=carol).role == Membership.Role.ADMIN


def test_it_gives_a_second_campaign_of_the_same_name_its_own_slug(draft, carol):
    again = campaign_setup_start(name="Helpfulness study", created_by=carol)
    assert again.slug == "helpfulness-study-2"


def test_it_refuses_a_campaign_without_a_name(carol):
    with pytest.raises(RuleError) as e:
        campaign_setup_start(name="  ", created_by=carol)
    assert e.value.field == "name"


def test_it_moves_through_open_paused_open_closed(draft):
    assert prompts_import(campaign=draft, content=pairwise_lines(2)).ok
    for state in ("open", "paused", "open", "closed"):
        campaign_state_set(campaign=draft, state=state)
        draft.refresh_from_db()
        assert draft.state == state


def test_it_refuses_to_open_a_campaign_without_tasks(draft):
    with pytest.raises(RuleError, match="Import prompts"):
        campaign_state_set(campaign=draft, state="open")


@pytest.mark.parametrize(
    ("start", "target", "message"),
    [
        ("closed", "open", "A closed campaign cannot be opened. A closed campaign is final."),
        ("open", "draft", "A open campaign cannot be made a draft."),
        ("draft", "paused", "A draft campaign cannot be paused."),
    ],
)
def test_it_refuses_illegal_moves_with_a_clear_message(draft, start, target, message):
    Campaign.objects.filter(id=draft.id).update(state=start)
    draft.refresh_from_db()
    with pytest.raises(Conflict) as e:
        campaign_state_set(campaign=draft, state=target)
    assert e.value.message == message
    assert e.value.field == "state"


def test_new_instructions_get_a_new_version(draft):
    campaign_update(campaign=draft, instructions="Pick the more helpful answer.")
    campaign_update(campaign=draft, instructions="Pick the more helpful answer.")
    draft.refresh_from_db()
    assert draft.instructions_version == 2
    campaign_update(campaign=draft, name="Renamed")
    draft.refresh_from_db()
    assert draft.instructions_version == 2


def test_settings_are_checked_by_the_kind_and_the_error_names_the_field(draft):
    with pytest.raises(RuleError) as e:
        campaign_update(campaign=draft, settings={"strength_levels": 5})
    assert e.value.field == "settings.strength_levels"
    campaign_update(campaign=draft, settings={"strength_levels": 3, "allow_tie": False})
    draft.refresh_from_db()
    assert draft.settings["strength_levels"] == 3
    assert draft.settings["question"] == "Which response is better?"  # defaults filled in


def test_the_kind_cannot_change_once_tasks_exist(draft):
    campaign_update(campaign=draft, task_kind="ranking")
    draft.refresh_from_db()
    assert draft.task_kind == "ranking"
    assert prompts_import(campaign=draft, content=pairwise_lines(1)).ok
    with pytest.raises(Conflict) as e:
        campaign_update(campaign=draft, task_kind="pairwise")
    assert e.value.field == "task_kind"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("overlap", 0),
        ("lease_seconds", 5),
        ("routing", "random"),
        ("repeat_share", 0.9),
        ("is_public", "yes"),
        ("colour", "red"),
    ],
)
def test_it_refuses_bad_values_naming_the_field(draft, field, value):
    with pytest.raises(RuleError) as e:
        campaign_update(campaign=draft, **{field: value})
    assert e.value.field == field


def test_a_higher_overlap_reopens_complete_tasks(make_campaign, alice):
    campaign = make_campaign(members=[alice], overlap=1)
    assert prompts_import(campaign=campaign, content=pairwise_lines(2)).ok
    a = task_lease_next(annotator=alice, campaign=campaign)
    judgment_submit(assignment=a, annotator=alice, payload={"outcome": "tie"}, idempotency_key="k")
    task = Task.objects.get(id=a.task_id)
    assert task.state == Task.State.COMPLETE

    campaign_update(campaign=campaign, overlap=3)

    task.refresh_from_db()
    assert (task.overlap, task.state) == (3, Task.State.OPEN)
    campaign_update(campaign=campaign, overlap=1)
    task.refresh_from_db()
    assert (task.overlap, task.state) == (1, Task.State.COMPLETE)


def test_blocking_ends_the_lease_and_stops_new_tasks(campaign, alice, carol):
    lease = task_lease_next(annotator=alice, campaign=campaign)
    member = Membership.objects.get(campaign=campaign, user=alice)

    membership_block(campaign=campaign, membership_id=member.id, blocked=True, by=carol)

    lease.refresh_from_db()
    assert lease.state == Assignment.State.EXPIRED
    assert Task.objects.get(id=lease.task_id).leased_count == 0
    with pytest.raises(Forbidden):
        task_lease_next(annotator=alice, campaign=campaign)
    membership_block(campaign=campaign, membership_id=member.id, blocked=False, by=carol)
    assert task_lease_next(annotator=alice, campaign=campaign) is not None


def test_an_admin_cannot_block_themself(campaign, carol):
    member = Membership.objects.get(campaign=campaign, user=carol)
    with pytest.raises(RuleError, match="yourself"):
        membership_block(campaign=campaign, membership_id=member.id, blocked=True, by=carol)


def test_an_admin_cannot_flag_themself(campaign, carol):
    member = Membership.objects.get(campaign=campaign, user=carol)
    with pytest.raises(RuleError, match="yourself"):
        membership_flag(campaign=campaign, membership_id=member.id, flagged=True, by=carol)
    member.refresh_from_db()
    assert not member.is_flagged


def test_flagging_marks_the_member(campaign, alice):
    member = Membership.objects.get(campaign=campaign, user=alice)
    membership_flag(campaign=campaign, membership_id=member.id, flagged=True)
    member.refresh_from_db()
    assert member.is_flagged
