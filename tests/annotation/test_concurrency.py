"""Leasing and judging under real concurrency: many annotators, one PostgreSQL database.

Each thread has its own database connection, so these tests exercise the row locks that
keep the pool honest (the member's row, SELECT ... FOR UPDATE SKIP LOCKED on tasks, the
assignment's row on submit) and the check constraint that backs them up. SQLite takes one
writer at a time for the whole database, so it cannot show these races: the module is
skipped there.
"""

from __future__ import annotations

import threading
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import partial

import pytest
from django.db import connection
from django.db.models import Count

from annotation.errors import Conflict
from annotation.models import Assignment, Campaign, Judgment, Membership, Task, User
from annotation.services import judgment_submit, prompts_import, task_lease_next
from tests.conftest import pairwise_lines

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ANNOTATORS = 16
THREADS_PER_ANNOTATOR = 2
TASKS = 50
OVERLAP = 3
JOIN_TIMEOUT = 120  # seconds; the whole run takes a few seconds on a local PostgreSQL


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    # The vendor is only known once pytest-django has set Django up, so this is checked here
    # rather than in a module-level skipif.
    if connection.vendor != "postgresql":
        pytest.skip(
            f"concurrency tests need PostgreSQL (row locks, SKIP LOCKED), not {connection.vendor}; "
            "set DATABASE_URL=postgres://... to run them"
        )


def _run_threads(targets: list[Callable[[], None]], *, timeout: float = JOIN_TIMEOUT) -> None:
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still running after {timeout}s (deadlock?): {stuck}"


def test_annotators_racing_fill_every_task_exactly_to_its_overlap(make_campaign):
    annotators = [
        User.objects.create_user(username=f"racer{i:02d}", password=f"pw-racer{i:02d}")
        for i in range(ANNOTATORS)
    ]
    campaign = make_campaign(members=annotators, overlap=OVERLAP)
    report = prompts_import(campaign=campaign, content=pairwise_lines(TASKS))
    assert report.ok, report.lines
    assert report.tasks_created == TASKS

    n_threads = ANNOTATORS * THREADS_PER_ANNOTATOR
    barrier = threading.Barrier(n_threads)
    lock = threading.Lock()
    created_ids: list[int] = []  # judgment ids of submits that answered created=True
    replayed = 0  # submits that answered created=False (must stay 0: every key is fresh)
    already_submitted = 0  # the other thread of the same annotator submitted that lease first
    leased_to: defaultdict[int, set[int]] = defaultdict(set)  # assignment id -> annotator ids
    failures: list[str] = []
    # A thread can never do more than one lease per task plus a few repeats of a lease its
    # twin already submitted; far beyond that means a loop that does not end.
    max_rounds = TASKS * 4

    def annotate(annotator: User) -> None:
        nonlocal replayed, already_submitted
        try:
            barrier.wait(timeout=30)
            for _ in range(max_rounds):
                assignment = task_lease_next(annotator=annotator, campaign=campaign)
                if assignment is None:
                    return
                with lock:
                    leased_to[assignment.id].add(annotator.id)
                try:
                    judgment, created = judgment_submit(
                        assignment=assignment,
                        annotator=annotator,
                        payload={"outcome": "preferred", "preferred": assignment.display_order[0]},
                        idempotency_key=str(uuid.uuid4()),
                    )
                except Conflict as exc:
                    if exc.code != "already_submitted":
                        raise
                    with lock:
                        already_submitted += 1
                    continue
                with lock:
                    if created:
                        created_ids.append(judgment.id)
                    else:
                        replayed += 1
            raise AssertionError(f"{annotator.username} still leasing after {max_rounds} rounds")
        except BaseException:
            with lock:
                failures.append(f"{annotator.username}:\n{traceback.format_exc()}")
            barrier.abort()
        finally:
            connection.close()

    _run_threads([partial(annotate, a) for a in annotators for _ in range(THREADS_PER_ANNOTATOR)])
    assert not failures, "\n".join(failures)

    tasks = list(Task.objects.filter(campaign=campaign).annotate(real_judgments=Count("judgments")))
    assert len(tasks) == TASKS
    for task in tasks:
        assert (task.state, task.judgments_count, task.leased_count, task.real_judgments) == (
            Task.State.COMPLETE,
            OVERLAP,
            0,
            OVERLAP,
        ), f"task {task.id}"

    judgments = Judgment.objects.filter(campaign=campaign)
    pairs = Counter(judgments.values_list("task_id", "annotator_id"))
    assert [pair for pair, n in pairs.items() if n > 1] == []
    assert judgments.count() == len(created_ids) == TASKS * OVERLAP
    assert len(set(created_ids)) == len(created_ids)
    assert set(created_ids) == set(judgments.values_list("id", flat=True))
    assert replayed == 0

    assignments = Assignment.objects.filter(campaign=campaign)
    assert Counter(assignments.values_list("state", flat=True)) == {
        Assignment.State.SUBMITTED: TASKS * OVERLAP
    }
    assert not assignments.filter(state=Assignment.State.ACTIVE).exists()
    shared = {a: who for a, who in leased_to.items() if len(who) > 1}
    assert shared == {}, "an assignment was handed to two annotators"
    owners = dict(assignments.values_list("id", "annotator_id"))
    assert {a: next(iter(who)) for a, who in leased_to.items()} == owners

    # The member's row lock also serialises the counterbalancing counts: a lost update
    # would leave fewer "shown first" placements than leases.
    leases_per_annotator = Counter(assignments.values_list("annotator_id", flat=True))
    for membership in Membership.objects.filter(campaign=campaign, user__in=annotators):
        shown_first = sum(counts[0] for counts in membership.placements.values() if counts)
        assert shown_first == leases_per_annotator[membership.user_id], membership.user_id

    print(  # shown with -s; how often two threads of one person shared a lease
        f"\n{TASKS * OVERLAP} judgments by {n_threads} threads; "
        f"{already_submitted} submits found the lease already submitted by the twin thread"
    )


def _lease_at_barrier(
    user: User,
    campaign: Campaign,
    barrier: threading.Barrier,
    results: dict[str, Assignment | None],
    failures: list[str],
) -> None:
    try:
        barrier.wait(timeout=10)
        results[user.username] = task_lease_next(annotator=user, campaign=campaign)
    except BaseException:
        failures.append(f"{user.username}:\n{traceback.format_exc()}")
        barrier.abort()
    finally:
        connection.close()


def test_two_annotators_racing_for_the_last_slot_only_one_gets_it(make_campaign, alice, bob):
    rounds = 20
    for n in range(rounds):
        campaign = make_campaign(members=[alice, bob], overlap=1)
        report = prompts_import(campaign=campaign, content=pairwise_lines(1, start=n))
        assert report.ok, report.lines
        task = Task.objects.get(campaign=campaign)

        barrier = threading.Barrier(2)
        results: dict[str, Assignment | None] = {}
        failures: list[str] = []

        _run_threads(
            [
                partial(_lease_at_barrier, alice, campaign, barrier, results, failures),
                partial(_lease_at_barrier, bob, campaign, barrier, results, failures),
            ],
            timeout=30,
        )
        assert not failures, "\n".join(failures)
        assert set(results) == {"alice", "bob"}

        winners = [a for a in results.values() if a is not None]
        assert len(winners) == 1, f"round {n}: {results}"
        assert winners[0].task_id == task.id
        task.refresh_from_db()
        assert (task.leased_count, task.judgments_count) == (1, 0), f"round {n}"
        assert list(Assignment.objects.filter(task=task).values_list("id", flat=True)) == [
            winners[0].id
        ]
