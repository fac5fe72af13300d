""" "Fewest judgments first" counts the tasks already out: a task leased to someone is not
handed out again while a task nobody has is left, so judgments spread over the tasks
(breadth first) instead of piling onto the first ones while earlier leases are open."""

from __future__ import annotations

import re
import threading
import traceback
import uuid
from functools import partial

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from annotation import db
from annotation.models import Judgment, Task, User
from annotation.services import judgment_submit, prompts_import, task_lease_next
from tests.conftest import pairwise_lines

TASKS = 48
ANNOTATORS = 12
ROUNDS = TASKS // ANNOTATORS


def test_leases_open_at_once_go_to_different_tasks(make_campaign):
    people = [User.objects.create_user(username=f"wide{i}", password="pw") for i in range(6)]
    campaign = make_campaign(members=people, overlap=3)
    assert prompts_import(campaign=campaign, content=pairwise_lines(10)).ok

    leases = [task_lease_next(annotator=p, campaign=campaign) for p in people]

    assert len({a.task_id for a in leases}) == 6


def test_a_task_out_comes_after_the_tasks_nobody_has_but_before_judged_ones(make_campaign):
    people = [User.objects.create_user(username=f"wide{i}", password="pw") for i in range(4)]
    campaign = make_campaign(members=people, overlap=3)
    assert prompts_import(campaign=campaign, content=pairwise_lines(2)).ok
    first, second = Task.objects.filter(campaign=campaign).order_by("id")
    a = task_lease_next(annotator=people[0], campaign=campaign)
    assert a.task_id == first.id
    judgment_submit(
        assignment=a,
        annotator=people[0],
        payload={"outcome": "preferred", "preferred": a.display_order[0]},
        idempotency_key="k1",
    )
    # first: 1 judgment; second: nothing. The next lease takes the second...
    b = task_lease_next(annotator=people[1], campaign=campaign)
    assert b.task_id == second.id
    # ...and with one judgment on the first and one lease out on the second, the first
    # (1 + 0) ties the second (0 + 1): the older one goes first.
    c = task_lease_next(annotator=people[2], campaign=campaign)
    assert c.task_id == first.id


def test_the_pick_orders_by_judgments_and_leases_out(make_campaign, alice):
    campaign = make_campaign(members=[alice], overlap=2)
    assert prompts_import(campaign=campaign, content=pairwise_lines(3)).ok
    with CaptureQueriesContext(connection) as queries:
        task_lease_next(annotator=alice, campaign=campaign)

    picks = [q["sql"] for q in queries if "ORDER BY t." in q["sql"]]
    assert len(picks) == 1
    assert "ORDER BY t.judgments_count + t.leased_count, t.id LIMIT 1" in picks[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_spread_their_judgments_over_the_tasks(make_campaign):
    """Twelve annotators lease and judge at once until they have made as many judgments as
    there are tasks: nearly every task gets exactly one (breadth first)."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent leases need PostgreSQL (row locks, SKIP LOCKED)")
    people = [
        User.objects.create_user(username=f"wide{i:02d}", password="pw") for i in range(ANNOTATORS)
    ]
    campaign = make_campaign(members=people, overlap=3)
    assert prompts_import(campaign=campaign, content=pairwise_lines(TASKS)).ok
    barrier = threading.Barrier(ANNOTATORS)
    failures: list[str] = []
    lock = threading.Lock()

    def annotate(user: User) -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(ROUNDS):
                a = task_lease_next(annotator=user, campaign=campaign)
                assert a is not None
                # Leases overlap: everyone holds one while the others pick theirs.
                barrier.wait(timeout=30)
                judgment_submit(
                    assignment=a,
                    annotator=user,
                    payload={"outcome": "preferred", "preferred": a.display_order[0]},
                    idempotency_key=str(uuid.uuid4()),
                )
        except BaseException:
            with lock:
                failures.append(f"{user.username}:\n{traceback.format_exc()}")
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=partial(annotate, u), daemon=True) for u in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not [t for t in threads if t.is_alive()], "threads still running (deadlock?)"
    assert not failures, "\n".join(failures)

    per_task = dict(
        Task.objects.filter(campaign=campaign).annotate(n=Count("judgments")).values_list("id", "n")
    )
    assert Judgment.objects.filter(campaign=campaign).count() == TASKS
    # Breadth first, as far as concurrency allows: a pick skips rows another annotator's
    # lease has locked (SKIP LOCKED), so a task that lease then does not take may be passed
    # over once (seen in 1 of 4 runs on a loaded machine). Depth first would leave two tasks
    # in three untouched (overlap 3); here at most one in ten may be missed or doubled.
    counts = sorted(per_task.values())
    assert max(counts) <= 2, per_task
    assert counts.count(1) >= 0.9 * TASKS, per_task


@pytest.mark.postgres
def test_the_pick_reads_an_index_in_its_order_on_postgresql(make_campaign, alice, bob):
    """EXPLAIN: the pick walks an index of open tasks by judgments + leases out, no sort."""
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN of PostgreSQL's plan")
    campaign = make_campaign(members=[alice, bob], overlap=2)
    assert prompts_import(campaign=campaign, content=pairwise_lines(30)).ok
    with CaptureQueriesContext(connection) as queries:
        db.task_pick(
            campaign_id=campaign.id, annotator_id=alice.id, pick=db.Pick.DEFAULT, lock=True
        )
    (sql,) = [q["sql"] for q in queries if "ORDER BY t." in q["sql"]]
    # The statement as sent (server-side binding: $1, $2), with its parameters bound again.
    statement = re.sub(r"\$\d+", "%s", sql)
    with connection.cursor() as cursor:
        # A small table reads faster whole; the plan that matters is the large table's.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, [campaign.id, alice.id])
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "task_open_by_load" in plan, plan
    assert "Sort" not in plan, plan
