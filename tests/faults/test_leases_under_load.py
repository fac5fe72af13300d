"""Leases expiring under load hand their tasks back, and late submits are refused cleanly.

Twelve annotators work one campaign on PostgreSQL, each on its own connection; a third of
their leases are abandoned (never submitted), and an expirer thread keeps handing every
lease past its time back to the pool (time moved past each lease, as the beat task does
once it runs out). Submits that arrive after their lease was handed back get a 409 and
store nothing. At the end every task has exactly its overlap of judgments, by different
annotators, and no lease is left holding a slot.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from annotation.errors import Conflict
from annotation.models import Assignment, Judgment, Task, User
from annotation.services import judgment_submit, leases_expire, prompts_import, task_lease_next
from tests.conftest import pairwise_lines

pytestmark = [pytest.mark.django_db(transaction=True)]

ANNOTATORS = 12
TASKS = 40
OVERLAP = 2


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL's row locks across connections, not {connection.vendor}")


def test_expiring_leases_under_load_lose_nothing_and_store_nothing_late(make_campaign):
    annotators = [User.objects.create_user(username=f"w{i:02d}") for i in range(ANNOTATORS)]
    campaign = make_campaign(members=annotators, overlap=OVERLAP, lease_seconds=10)
    assert prompts_import(campaign=campaign, content=pairwise_lines(TASKS)).ok
    lock = threading.Lock()
    outcomes: Counter[str] = Counter()
    late: list[int] = []  # assignments whose submit was refused as late
    errors: list[BaseException] = []
    done = threading.Event()

    def expirer() -> None:
        try:
            while not done.is_set():
                leases_expire(now=timezone.now() + timedelta(seconds=11))
                done.wait(0.05)
        except BaseException as e:
            errors.append(e)
        finally:
            connection.close()

    def annotate(annotator: User, seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(TASKS * 200):
                assignment = task_lease_next(annotator=annotator, campaign=campaign)
                if assignment is None:
                    # Nothing for me now; but a lease someone else holds may still come back
                    # to the pool. Leave once no unfinished task is one I could still take.
                    if not _open_to(annotator):
                        return
                    done.wait(0.05)
                    continue
                if rng.random() < 1 / 3:
                    with lock:
                        outcomes["abandoned"] += 1
                    done.wait(0.02)  # walks away; the expirer hands the task back
                    continue
                try:
                    judgment_submit(
                        assignment=assignment, annotator=annotator,
                        payload={"outcome": "tie"}, idempotency_key=uuid.uuid4().hex,
                    )  # fmt: skip
                    with lock:
                        outcomes["stored"] += 1
                except Conflict as e:
                    with lock:
                        outcomes[e.code] += 1
                        late.append(assignment.id)
            raise AssertionError(f"{annotator.username} never ran out of tasks")
        except BaseException as e:
            errors.append(e)
        finally:
            connection.close()

    def _open_to(annotator: User) -> bool:
        return (
            Task.objects.filter(campaign=campaign, judgments_count__lt=OVERLAP)
            .exclude(assignments__annotator=annotator)
            .exists()
        )

    expiring = threading.Thread(target=expirer, daemon=True)
    expiring.start()
    workers = [threading.Thread(target=annotate, args=(a, i), daemon=True)
               for i, a in enumerate(annotators)]  # fmt: skip
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    done.set()
    expiring.join(30)
    assert not any(w.is_alive() for w in workers) and not expiring.is_alive()
    assert errors == [], errors[:3]

    # Leases did expire under load, and some submits came too late.
    assert outcomes["abandoned"] > 0 and outcomes["stored"] == TASKS * OVERLAP
    assert set(outcomes) <= {"abandoned", "stored", "lease_expired"}, outcomes
    # A refused late submit stored nothing for its lease.
    assert not Judgment.objects.filter(assignment_id__in=late).exists()
    # Every task exactly to its overlap, by different annotators; no slot still held.
    per_task = Judgment.objects.values("task").annotate(n=Count("id"), people=Count(
        "annotator", distinct=True))  # fmt: skip
    assert sorted((r["n"], r["people"]) for r in per_task) == [(OVERLAP, OVERLAP)] * TASKS
    tasks = Task.objects.filter(campaign=campaign)
    assert {(t.judgments_count, t.leased_count) for t in tasks} == {(OVERLAP, 0)}
    assert not Assignment.objects.filter(state=Assignment.State.ACTIVE).exists()
