"""Reviewers racing for the adjudication queue on PostgreSQL: each item to one reviewer."""

from __future__ import annotations

import threading
import traceback
from collections import Counter

import pytest
from django.db import connection

from annotation.models import Adjudication
from annotation.services.adjudication import adjudication_next
from tests.adjudication.conftest import people

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ITEMS = 6
REVIEWERS = 10


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency tests need PostgreSQL; set DATABASE_URL=postgres://...")


def test_reviewers_racing_each_take_a_different_item(judged_campaign):
    annotators = people("ann", 2)
    reviewers = people("rev", REVIEWERS)
    c = judged_campaign(
        kind="pairwise",
        payload_for=lambda i, _t, ids: {"outcome": "preferred", "preferred": ids[i]},
        annotators=annotators,
        reviewers=reviewers,
        prompts=ITEMS,
    )
    barrier = threading.Barrier(REVIEWERS)
    got: dict[int, int | None] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def race(reviewer) -> None:
        try:
            barrier.wait(30)
            item = adjudication_next(campaign=c, reviewer=reviewer)
            with lock:
                got[reviewer.id] = None if item is None else item.adjudication.task_id
        except Exception:
            failures.append(traceback.format_exc())
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(r,), daemon=True) for r in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures[0]
    assert len(got) == REVIEWERS
    taken = [t for t in got.values() if t is not None]
    # Every item to exactly one reviewer; the reviewers left over got nothing, not a share.
    assert Counter(taken).most_common(1)[0][1] == 1
    assert len(taken) == ITEMS
    rows = Adjudication.objects.filter(campaign=c)
    assert rows.count() == ITEMS
    assert {r.task_id: r.adjudicator_id for r in rows} == {
        t: rid for rid, t in got.items() if t is not None
    }
