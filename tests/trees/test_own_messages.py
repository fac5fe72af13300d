"""An annotator is never served a review or a ranking over a message they wrote."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.db import task_messages_sql
from annotation.models import Conversation, Message, Task, TaskCandidate
from annotation.services import judgment_submit, task_lease_next

from .conftest import work_round


def test_it_never_serves_a_ranking_or_review_over_ones_own_message(tree_campaign, crew):
    served: list = []
    for _ in range(200):
        if not work_round(tree_campaign, crew, served=served):
            break
    compared = [(p, a) for p, a in served if a.task.kind in ("pairwise", "ranking", "label")]
    assert len([1 for _, a in compared if a.task.kind == "pairwise"]) >= 7
    for person, a in compared:
        authors = set(
            Message.objects.filter(id__in=a.display_order).values_list("author", flat=True)
        )
        assert person.id not in authors, (person, a.task.kind)


def test_the_writer_gets_other_work_while_their_message_waits_for_review(make_campaign, alice, bob):
    campaign = make_campaign(
        members=[alice, bob],
        task_kind="reply",
        overlap=1,
        tree={"max_depth": 1, "max_children": 2, "review_votes": 1, "prompt_tasks": 1},
    )
    a = task_lease_next(annotator=alice, campaign=campaign)
    judgment_submit(assignment=a, annotator=alice, payload={"text": "Why?"}, idempotency_key="1")
    review = Task.objects.get(kind="label")
    # Alice's next task is the next prompt to write, never the review of her own.
    nxt = task_lease_next(annotator=alice, campaign=campaign)
    assert nxt.task_id != review.id and nxt.task.kind == "reply"
    assert task_lease_next(annotator=bob, campaign=campaign).task_id == review.id


def test_campaigns_without_trees_pay_nothing_on_next_and_submit(campaign, alice):
    with CaptureQueriesContext(connection) as leasing:
        a = task_lease_next(annotator=alice, campaign=campaign)
    with CaptureQueriesContext(connection) as judging:
        judgment_submit(
            assignment=a,
            annotator=alice,
            payload={"outcome": "preferred", "preferred": a.display_order[0]},
            idempotency_key="k",
        )
    statements = [q["sql"] for q in [*leasing, *judging]]
    # No statement reads candidates' authors, trees or tree tasks; the pick is the default.
    # Messages are read only as the task shows them (with the lease, for the task view).
    for table in (TaskCandidate, Conversation):
        assert not [s for s in statements if table._meta.db_table in s]
    reads = [s for s in statements if Message._meta.db_table in s]
    assert all(task_messages_sql().replace("%s", "") in s for s in reads)
    assert not [s for s in statements if "author_id" in s]
    picks = [s for s in statements if "ORDER BY t." in s]
    assert len(picks) == 1 and "author_id" not in picks[0]


def test_tree_campaigns_pick_with_the_authors_check_in_the_same_statement(tree_campaign, alice):
    with CaptureQueriesContext(connection) as leasing:
        task_lease_next(annotator=alice, campaign=tree_campaign)
    [pick] = [q["sql"] for q in leasing if "ORDER BY t." in q["sql"]]
    assert "m.author_id = " in pick
    if connection.vendor == "postgresql":
        assert "SKIP LOCKED" in pick  # the check rides on the locked pick itself
    assert "ORDER BY t.priority DESC, t.id" in pick
