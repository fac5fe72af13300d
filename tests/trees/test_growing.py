"""Trees that grow by rules: replies, reviews and rankings by several annotators."""

import pytest

from annotation.errors import RuleError
from annotation.models import Conversation, Message, Task
from annotation.services import judgment_submit, prompts_import, task_lease_next
from exports.services import export_rows

from .conftest import depth, good_payload, work_round


def _tree_of(campaign) -> Conversation:
    return Conversation.objects.filter(campaign=campaign).order_by("id").first()


def test_a_written_prompt_grows_to_depth_3_and_is_ready_for_export(tree_campaign, crew):
    tree = _tree_of(tree_campaign)
    assert tree.tree_state == Conversation.TreeState.GROWING
    kinds_done: set[str] = set()
    for _ in range(200):
        served: list = []
        if not work_round(tree_campaign, crew, served=served):
            break
        kinds_done |= {a.task.kind for _, a in served if a.task.conversation_id == tree.id}
        tree.refresh_from_db()
        if tree.tree_state == Conversation.TreeState.READY:
            break
    tree.refresh_from_db()
    assert tree.tree_state == Conversation.TreeState.READY
    assert kinds_done == {"reply", "label", "pairwise"}

    messages = list(Message.objects.filter(conversation=tree))
    root = next(m for m in messages if m.parent_id is None)
    assert root.role == "user" and tree.created_by_id == root.author_id
    # 1 + 2 + 4 + 8: every accepted message shallower than 3 got two replies.
    assert len(messages) == 15
    assert max(depth(m) for m in messages) == 3
    assert {m.review_state for m in messages} == {Message.Review.ACCEPTED}
    for m in messages:
        if m.parent_id is not None:
            parent = next(p for p in messages if p.id == m.parent_id)
            assert m.role != parent.role  # prompter and assistant take turns
    # Several annotators wrote it, and every sibling pair was compared.
    assert len({m.author_id for m in messages}) >= 3
    compared = Task.objects.filter(conversation=tree, kind="pairwise", state=Task.State.COMPLETE)
    assert compared.count() == 7

    trees = list(export_rows(campaign=tree_campaign, fmt="oasst"))
    assert [t["conversation_id"] for t in trees] == [tree.id]
    exported = trees[0]
    assert exported["tree_state"] == "ready_for_export"
    assert exported["prompt"]["text"] == root.text
    leaf = exported["prompt"]["replies"][0]["replies"][0]["replies"][0]
    assert leaf["role"] == "assistant"
    assert {r["rank"] for r in exported["prompt"]["replies"]} == {0, 1}
    assert exported["prompt"]["review_count"] == 2


def test_a_message_voted_spam_stops_its_branch(make_campaign, crew):
    campaign = make_campaign(
        members=crew,
        task_kind="reply",
        overlap=1,
        tree={"max_depth": 2, "max_children": 2, "review_votes": 2, "ranking_overlap": 1},
    )
    report = prompts_import(campaign=campaign, content='{"id": "t1", "prompt": "Hello there?"}')
    assert report.ok, report.lines
    tree = _tree_of(campaign)
    spam_text = "Buy cheap watches now"

    def pick(a, person):
        if a.task.kind == "reply" and a.task.parent.parent_id is None and person == crew[0]:
            return {"text": spam_text}
        if a.task.kind == "label":
            target = Message.objects.get(id=a.display_order[0])
            return {"labels": {"spam": target.text == spam_text}}
        return good_payload(a)

    for _ in range(100):
        if not work_round(campaign, crew, pick):
            break
    tree.refresh_from_db()
    spam = Message.objects.get(conversation=tree, text=spam_text)
    assert spam.review_state == Message.Review.SPAM
    assert not spam.children.exists()
    assert not Task.objects.filter(parent=spam).exists()  # no replies asked for under it
    # Its sibling branch grew on, alone: nothing to compare it with under the root.
    sibling = Message.objects.get(parent=spam.parent, review_state=Message.Review.ACCEPTED)
    assert sibling.children.count() == 2
    assert not Task.objects.filter(parent=spam.parent, kind__in=["pairwise", "ranking"]).exists()
    assert tree.tree_state == Conversation.TreeState.READY


def test_a_tree_whose_root_is_voted_spam_is_aborted(tree_campaign, crew):
    alice, bob, dave, _ = crew
    tree = _tree_of(tree_campaign)
    a = task_lease_next(annotator=alice, campaign=tree_campaign)
    assert a.task.kind == "reply" and a.task.parent_id is None
    judgment_submit(assignment=a, annotator=alice, payload={"text": "asdf"}, idempotency_key="1")
    for person in (bob, dave):
        review = task_lease_next(annotator=person, campaign=tree_campaign)
        assert review.task.kind == "label" and review.task.conversation_id == tree.id
        judgment_submit(
            assignment=review,
            annotator=person,
            payload={"labels": {"spam": True}},
            idempotency_key="2",
        )
    tree.refresh_from_db()
    assert tree.tree_state == Conversation.TreeState.ABORTED
    assert not Task.objects.filter(conversation=tree, state=Task.State.OPEN).exists()
    # The next written prompt is offered (a fresh tree), never more work on this one.
    nxt = task_lease_next(annotator=bob, campaign=tree_campaign)
    assert nxt.task.conversation_id != tree.id and nxt.task.parent_id is None
    assert list(export_rows(campaign=tree_campaign, fmt="oasst")) == []
    everything = list(export_rows(campaign=tree_campaign, fmt="oasst", all_trees=True))
    assert [t["tree_state"] for t in everything] == ["aborted_low_grade"]


@pytest.mark.parametrize(
    ("tree", "field"),
    [
        ({"max_depth": 0}, "tree.max_depth"),
        ({"max_children": "two"}, "tree.max_children"),
        ({"depth": 3}, "tree.depth"),
        ({"kinds": {"label": {"labels": []}}}, "tree.kinds.label.labels"),
        ({"priorities": {"prompt": 0}}, "tree.priorities.prompt"),
    ],
)
def test_bad_tree_rules_are_refused_naming_the_field(make_campaign, tree, field):
    with pytest.raises(RuleError) as e:
        make_campaign(task_kind="reply", tree=tree)
    assert e.value.field == field


def test_the_prompt_task_asks_for_a_prompt_written_as_the_user(tree_campaign, alice, client):
    client.force_login(alice)
    page = client.get(f"/campaigns/{tree_campaign.id}/").content.decode()
    assert "Write a prompt: the first message of a new conversation" in page
    assert "written as the user" in page
