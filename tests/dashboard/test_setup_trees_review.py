"""Trees, review and media kinds set up from the dashboard's "Trees and review" step, and
reviewers chosen on the people page (docs/trees.md)."""

import json

import pytest
from django.urls import reverse

from annotation.models import Campaign, Conversation, Membership, Message, Task
from annotation.services import judgment_submit, task_lease_next
from annotation.services.campaign_admin import campaign_state_set
from tests.trees.media import b64, wav

RULES = {
    "tree_on": "on",
    "max_depth": "2",
    "max_children": "2",
    "review_votes": "1",
    "spam_percent": "50",
    "ranking_overlap": "1",
    "prompt_tasks": "1",
}


@pytest.fixture
def draft(make_campaign, alice, bob) -> Campaign:
    return make_campaign(members=[alice, bob], state=Campaign.State.DRAFT)


def trees_url(campaign: Campaign) -> str:
    return reverse("dashboard:setup_trees", args=[campaign.id])


def test_tree_rules_set_on_the_page_make_a_tree_that_grows(client, carol, alice, bob, draft):
    client.force_login(carol)
    page = client.get(trees_url(draft)).content.decode()
    assert 'name="max_depth"' in page and 'name="review_stage"' in page
    r = client.post(trees_url(draft), RULES)
    assert r.status_code == 302
    assert r["Location"] == reverse("dashboard:setup_prompts", args=[draft.id])
    draft.refresh_from_db()
    assert draft.tree == {
        "max_depth": 2, "max_children": 2, "review_votes": 1, "spam_share": 0.5,
        "ranking_overlap": 1, "prompt_tasks": 1,
    }  # fmt: skip
    assert draft.task_kind == "reply"  # a tree campaign's task is writing
    # The page shows the rules saved.
    assert 'id="id_max_depth" name="max_depth" type="number" min="1" max="50" value="2"' in (
        client.get(trees_url(draft)).content.decode()
    )

    campaign_state_set(campaign=draft, state=Campaign.State.OPEN)
    a = task_lease_next(annotator=alice, campaign=draft)
    assert a is not None and a.task.kind == "reply" and a.task.parent_id is None
    judgment_submit(
        assignment=a, annotator=alice, payload={"text": "Tell me about owls."}, idempotency_key="w"
    )
    root = Message.objects.get(conversation__campaign=draft)
    assert (root.text, root.parent_id) == ("Tell me about owls.", None)
    # The prompt waits for its review (never by its writer), and a new prompt task is open.
    review = task_lease_next(annotator=bob, campaign=draft)
    assert review is not None and review.task.kind == "label"
    assert Task.objects.filter(campaign=draft, kind="reply", parent__isnull=True).count() == 2


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("max_depth", "0", "max_depth must be a whole number from 1 to 50."),
        ("max_children", "many", "max children must be a number."),
        ("spam_percent", "150", "The spam share must be from 0 to 100%."),
        ("review_votes", "2.5", "review votes must be a number."),
    ],
)
def test_a_bad_rule_names_its_field_keeps_what_was_typed_and_saves_nothing(
    client, carol, draft, field, value, error
):
    client.force_login(carol)
    r = client.post(trees_url(draft), {**RULES, field: value, "review_stage": "on"})
    assert r.status_code == 422
    page = r.content.decode()
    assert f'<p class="field-error" id="error-{field}" role="alert">{error}</p>' in page
    assert f'name="{field}" type="number"' in page and f'value="{value}"' in page
    assert 'name="review_stage" value="on" checked' in page  # the rest is kept too
    draft.refresh_from_db()
    assert (draft.tree, draft.review_stage, draft.task_kind) == ({}, False, "pairwise")
    assert not draft.tasks.exists()


def test_tree_rules_are_fixed_once_judgments_are_in(client, carol, alice, draft):
    client.force_login(carol)
    assert client.post(trees_url(draft), RULES).status_code == 302
    campaign_state_set(campaign=draft, state=Campaign.State.OPEN)
    a = task_lease_next(annotator=alice, campaign=draft)
    assert a is not None
    judgment_submit(assignment=a, annotator=alice, payload={"text": "Hi."}, idempotency_key="w")

    page = client.get(trees_url(draft)).content.decode()
    assert '<fieldset id="tree-rules" disabled>' in page
    assert "the tree rules are fixed" in page
    # Posted anyway (an old form): refused by name, nothing changes.
    r = client.post(trees_url(draft), {**RULES, "max_depth": "5", "review_stage": "on"})
    assert r.status_code == 422
    assert 'id="error-tree" role="alert">Tree rules cannot change once judgments are in' in (
        r.content.decode()
    )
    draft.refresh_from_db()
    assert (draft.tree["max_depth"], draft.review_stage) == (2, False)
    # The page's own form (the tree fieldset disabled, so not sent) still sets the rest.
    assert client.post(trees_url(draft), {"review_stage": "on"}).status_code == 302
    draft.refresh_from_db()
    assert (draft.tree["max_depth"], draft.review_stage) == (2, True)


def test_turning_trees_off_before_anyone_wrote_removes_the_prompt_tasks(client, carol, draft):
    client.force_login(carol)
    client.post(trees_url(draft), {**RULES, "prompt_tasks": "3"})
    assert draft.tasks.count() == 3
    client.post(trees_url(draft), {**RULES, "prompt_tasks": "1"})
    assert draft.tasks.count() == 1
    r = client.post(trees_url(draft), {k: v for k, v in RULES.items() if k != "tree_on"})
    assert r.status_code == 302
    draft.refresh_from_db()
    assert draft.tree == {} and not draft.tasks.exists()
    assert not Conversation.objects.filter(campaign=draft).exists()


def test_a_member_made_reviewer_on_the_people_page_may_review(
    client, carol, alice, bob, make_campaign
):
    campaign = make_campaign(members=[alice, bob])  # open: annotators may see its pages
    client.force_login(carol)
    client.post(trees_url(campaign), {"review_stage": "on"})
    campaign.refresh_from_db()
    assert campaign.review_stage
    people = reverse("dashboard:setup_people", args=[campaign.id])
    bob_member = Membership.objects.get(campaign=campaign, user=bob)
    page = client.get(people).content.decode()
    assert f'<select id="role-{bob_member.id}" name="role">' in page
    r = client.post(people, {"membership": bob_member.id, "role": "reviewer"})
    assert r.status_code == 200 and "bob is now reviewer." in r.content.decode()
    bob_member.refresh_from_db()
    assert bob_member.role == Membership.Role.REVIEWER

    review_url = f"/campaigns/{campaign.id}/review/"
    client.force_login(bob)
    assert client.get(review_url).status_code == 200
    client.force_login(alice)  # an annotator
    assert client.get(review_url).status_code == 403

    # Taken back: bob is an annotator again and the review page refuses him.
    client.force_login(carol)
    client.post(people, {"membership": bob_member.id, "role": "annotator"})
    client.force_login(bob)
    assert client.get(review_url).status_code == 403


def test_the_last_admin_keeps_the_role(client, carol, draft):
    client.force_login(carol)
    people = reverse("dashboard:setup_people", args=[draft.id])
    mine = Membership.objects.get(campaign=draft, user=carol)
    r = client.post(people, {"membership": mine.id, "role": "annotator"})
    assert r.status_code == 422
    assert "A campaign keeps at least one admin." in r.content.decode()
    mine.refresh_from_db()
    assert mine.role == Membership.Role.ADMIN


def test_the_media_kinds_saved_are_what_the_import_accepts(client, carol, draft):
    client.force_login(carol)
    line = json.dumps({"id": "a1", "prompt": "Listen:", "audio": [b64(wav())]})
    prompts = reverse("dashboard:setup_prompts", args=[draft.id])
    upload = {"content": line, "format": "jsonl", "action": "import"}

    r = client.post(prompts, upload)
    assert r.status_code == 422
    assert "this campaign does not accept audio files" in r.content.decode()
    assert not Conversation.objects.filter(campaign=draft).exists()

    assert client.post(trees_url(draft), {"media_kinds": ["audio"]}).status_code == 302
    draft.refresh_from_db()
    assert draft.media_kinds == ["audio"]
    assert (
        'name="media_kinds" value="audio" checked' in client.get(trees_url(draft)).content.decode()
    )
    r = client.post(prompts, upload)
    assert r.status_code == 200, r.content.decode()[-2000:]
    message = Message.objects.get(conversation__campaign=draft)
    assert message.attachments.get().kind == "audio"

    r = client.post(trees_url(draft), {"media_kinds": ["smell"]})
    assert r.status_code == 422 and "There is no media kind &#x27;smell&#x27;" in r.content.decode()
    draft.refresh_from_db()
    assert draft.media_kinds == ["audio"]


def test_trees_are_not_turned_on_after_prompts_are_imported(client, carol, campaign):
    assert campaign.tasks.exists()  # pairwise tasks from imported prompts
    client.force_login(carol)
    r = client.post(trees_url(campaign), {**RULES, "review_stage": "on"})
    assert r.status_code == 422
    assert (
        'id="error-tree" role="alert">Trees are turned on or off before prompts are imported'
        in (r.content.decode())
    )
    campaign.refresh_from_db()
    assert (campaign.tree, campaign.task_kind, campaign.review_stage) == ({}, "pairwise", False)
    assert not campaign.tasks.filter(kind="reply").exists()
