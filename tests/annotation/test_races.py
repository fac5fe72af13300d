"""One person's races, on a real PostgreSQL: many tabs of one annotator, a lease running out
while it is submitted, a submit while the campaign closes. Each thread has its own database
connection; every test asserts what the database holds afterwards.

SQLite takes one writer at a time for the whole database and cannot show these races: the
module is skipped there.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from annotation.errors import Conflict
from annotation.models import Assignment, Campaign, Judgment, Membership, Study, Task, User
from annotation.services import (
    campaign_admin,
    judgment_submit,
    leases_expire,
    prompts_import,
    task_lease_next,
)
from tests.conftest import api_client_for, pairwise_lines

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TABS = 10
JOIN_TIMEOUT = 60


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            f"race tests need PostgreSQL (row locks, SKIP LOCKED), not {connection.vendor}; "
            "set DATABASE_URL=postgres://... to run them"
        )


def _at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls on threads released together; each call's result, or the exception it
    raised, in order. A thread that does not finish fails the test (a deadlock)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    crashed: list[str] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = calls[i]()
        except threading.BrokenBarrierError:
            crashed.append(traceback.format_exc())
        except Exception as e:  # the outcome under test, checked by the caller
            results[i] = e
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not [t for t in threads if t.is_alive()], "threads still running (deadlock?)"
    assert not crashed, "\n".join(crashed)
    return results


def _counters_match(campaign: Campaign) -> None:
    """Every task's counters are what its assignments and judgments say."""
    for task in Task.objects.filter(campaign=campaign):
        active = task.assignments.filter(state=Assignment.State.ACTIVE).count()
        judged = Judgment.objects.filter(task=task).count()
        assert (task.leased_count, task.judgments_count) == (active, judged), f"task {task.id}"


def _tie(assignment_id: int, user: User) -> Callable[[], Any]:
    return lambda: judgment_submit(
        assignment=assignment_id,
        annotator=user,
        payload={"outcome": "tie"},
        idempotency_key=uuid.uuid4().hex,
    )


@pytest.fixture
def tasks(make_campaign, alice) -> Campaign:
    campaign = make_campaign(members=[alice], overlap=1)
    assert prompts_import(campaign=campaign, content=pairwise_lines(20)).ok
    return campaign


def test_many_tabs_of_one_annotator_share_one_lease(tasks, alice):
    for round_ in range(5):
        leases = _at_once([lambda: task_lease_next(annotator=alice, campaign=tasks)] * TABS)
        assert all(isinstance(a, Assignment) for a in leases), leases
        assert len({a.id for a in leases}) == 1, f"round {round_}: {sorted(a.id for a in leases)}"
        active = Assignment.objects.filter(annotator=alice, state=Assignment.State.ACTIVE)
        assert list(active.values_list("id", flat=True)) == [leases[0].id]
        member = Membership.objects.get(campaign=tasks, user=alice)
        assert member.current_assignment_id == leases[0].id
        _counters_match(tasks)
        _tie(leases[0].id, alice)()
    _counters_match(tasks)


def test_many_tabs_through_the_api_store_one_judgment_per_lease(tasks, alice):
    """Ten simultaneous `next` calls by one token, then each tab submits what it got: one
    lease, one 201; the other tabs hear that it was already submitted."""
    clients = [api_client_for(alice) for _ in range(TABS)]
    url = f"/api/v1/campaigns/{tasks.id}/next/"
    answers = _at_once([lambda c=c: c.get(url) for c in clients])
    assert [r.status_code for r in answers] == [200] * TABS
    ids = {r.json()["assignment"]["id"] for r in answers}
    assert len(ids) == 1
    body = {"payload": {"outcome": "tie"}}
    submits = _at_once(
        [
            lambda c=c, r=r: c.post(
                f"/api/v1/assignments/{r.json()['assignment']['id']}/judgment/",
                {**body, "idempotency_key": uuid.uuid4().hex},
                format="json",
            )
            for c, r in zip(clients, answers, strict=True)
        ]
    )
    assert sorted(r.status_code for r in submits) == [201] + [409] * (TABS - 1)
    assert Judgment.objects.filter(annotator=alice).count() == 1
    assert not Assignment.objects.filter(annotator=alice, state=Assignment.State.ACTIVE).exists()
    _counters_match(tasks)


def test_many_tabs_of_the_task_page_show_one_lease(tasks, alice):
    clients = []
    for _ in range(TABS):
        client = Client()
        client.force_login(alice)
        clients.append(client)
    pages = _at_once([lambda c=c: c.get(f"/campaigns/{tasks.id}/") for c in clients])
    assert [p.status_code for p in pages] == [200] * TABS
    assert len({p.context["assignment"].id for p in pages}) == 1
    assert Assignment.objects.filter(annotator=alice, state=Assignment.State.ACTIVE).count() == 1
    _counters_match(tasks)


@pytest.mark.parametrize("limit", [1, 2])
def test_a_study_limit_holds_against_many_tabs_leasing_and_submitting_at_once(tasks, alice, limit):
    Study.objects.update_or_create(campaign=tasks, defaults={"tasks_per_participant": limit})
    Membership.objects.filter(campaign=tasks, user=alice).update(stage=Membership.Stage.ACTIVE)
    for _ in range(limit + 2):
        # Every tab asks for a task at once, then every tab submits what it got at once.
        leases = _at_once([lambda: task_lease_next(annotator=alice, campaign=tasks)] * TABS)
        held = {a.id for a in leases if isinstance(a, Assignment)}
        assert all(a is None or isinstance(a, Assignment) for a in leases), leases
        assert len(held) <= 1
        outcomes = _at_once([_tie(a, alice) for a in held for _ in range(TABS)])
        assert all(isinstance(o, tuple | Conflict) for o in outcomes), outcomes
        submitted = Assignment.objects.filter(annotator=alice, state=Assignment.State.SUBMITTED)
        assert submitted.count() <= limit
    assert Judgment.objects.filter(annotator=alice).count() == limit
    assert not Assignment.objects.filter(annotator=alice, state=Assignment.State.ACTIVE).exists()
    assert task_lease_next(annotator=alice, campaign=tasks) is None
    _counters_match(tasks)


@pytest.mark.parametrize("slot_kept", [True, False], ids=["renewed", "given-back"])
def test_a_study_limit_holds_when_a_tab_submits_a_lease_as_it_runs_out_and_another_asks(
    make_campaign, alice, slot_kept
):
    """At the limit's last task, one tab submits its lease in its last millisecond while
    another asks for a task a millisecond after it ran out. The asking tab renews the lease
    (nobody took its slot) or gives it back (the slot is gone: here its task was closed, as
    when an admin lowers the overlap); either way it waits for the submit: a lease that may
    still be stored is never given back, so the person never holds two."""
    outcomes = {"stored": 0, "refused": 0}
    for round_ in range(12):
        campaign = make_campaign(members=[alice], overlap=1)
        assert prompts_import(campaign=campaign, content=pairwise_lines(4, start=round_)).ok
        Study.objects.update_or_create(campaign=campaign, defaults={"tasks_per_participant": 2})
        Membership.objects.filter(campaign=campaign, user=alice).update(
            stage=Membership.Stage.ACTIVE
        )
        first = task_lease_next(annotator=alice, campaign=campaign)
        _tie(first.id, alice)()
        last = task_lease_next(annotator=alice, campaign=campaign)
        assert last is not None
        if not slot_kept:
            Task.objects.filter(id=last.task_id).update(state=Task.State.COMPLETE)
        submitted, leased = _at_once(
            [
                partial(
                    judgment_submit,
                    assignment=last.id,
                    annotator=alice,
                    payload={"outcome": "tie"},
                    idempotency_key=f"last-{round_}",
                    now=last.expires_at - timedelta(milliseconds=1),
                ),
                partial(
                    task_lease_next,
                    annotator=alice,
                    campaign=campaign,
                    now=last.expires_at + timedelta(milliseconds=1),
                ),
            ]
        )
        assert not isinstance(leased, Exception), leased
        if isinstance(submitted, tuple):
            outcomes["stored"] += 1
            # No third task: nothing, or the last one renewed just before it was stored.
            assert leased is None or leased.id == last.id, f"round {round_}: a third lease"
        else:
            outcomes["refused"] += 1
            assert isinstance(submitted, Conflict), submitted
        if leased is not None and leased.id != last.id:
            _tie(leased.id, alice)()
        assert Judgment.objects.filter(campaign=campaign, annotator=alice).count() <= 2
        _counters_match(campaign)
    print(f"\nlast lease vs next: {outcomes}")


def test_a_lease_running_out_while_it_is_submitted_ends_one_way(tasks, alice):
    """The sweeper (leases_expire) and a submit that still sees time left, at once: either
    the judgment is stored and the lease submitted, or the lease expired and the submit is
    refused; the task counts one or the other, never both or neither."""
    outcomes = {"stored": 0, "expired": 0}
    for round_ in range(15):
        lease = task_lease_next(annotator=alice, campaign=tasks)
        assert lease is not None
        submitted, swept = _at_once(
            [
                partial(
                    judgment_submit,
                    assignment=lease.id,
                    annotator=alice,
                    payload={"outcome": "tie"},
                    idempotency_key=f"k{round_}",
                    now=lease.expires_at - timedelta(milliseconds=1),
                ),
                partial(leases_expire, campaign=tasks, now=lease.expires_at + timedelta(seconds=1)),
            ]
        )
        lease.refresh_from_db()
        task = Task.objects.get(id=lease.task_id)
        if isinstance(submitted, tuple):
            outcomes["stored"] += 1
            assert (lease.state, swept) == (Assignment.State.SUBMITTED, 0), round_
            assert (task.state, task.judgments_count, task.leased_count) == (
                Task.State.COMPLETE,
                1,
                0,
            )
        else:
            outcomes["expired"] += 1
            assert isinstance(submitted, Conflict) and submitted.code == "lease_expired", submitted
            assert (lease.state, swept) == (Assignment.State.EXPIRED, 1), round_
            assert (task.judgments_count, task.leased_count) == (0, 0)
            assert not Judgment.objects.filter(assignment=lease).exists()
        _counters_match(tasks)
    print(f"\nlease vs expiry: {outcomes}")


def _close(campaign: Campaign, done: threading.Event) -> Campaign:
    closed = campaign_admin.campaign_state_set(
        campaign=Campaign.objects.get(id=campaign.id), state=Campaign.State.CLOSED
    )
    done.set()  # committed
    return closed


def _submit_after(
    delay: float, assignment_id: int, user: User, close_done: threading.Event
) -> tuple[bool, Any]:
    """Submit after `delay` seconds: (whether the close had committed before, the outcome)."""
    time.sleep(delay)
    after_close = close_done.is_set()
    try:
        return after_close, _tie(assignment_id, user)()
    except Conflict as e:
        return after_close, e


def test_a_submit_racing_a_close_is_stored_before_it_or_refused(make_campaign, alice, carol):
    """A submit and the campaign's close at once: the judgment is stored before the close
    (the close waits for it) or refused with 409; a submit that begins after the close is
    always refused; once closed, no lease is left open and no counter is off."""
    outcomes = {"stored": 0, "refused": 0}
    for round_ in range(16):
        campaign = make_campaign(members=[alice], overlap=2)
        assert prompts_import(campaign=campaign, content=pairwise_lines(2, start=round_)).ok
        lease = task_lease_next(annotator=alice, campaign=campaign)
        assert lease is not None
        close_done = threading.Event()
        # Most rounds start the submit as the close commits; some well after it.
        delay = (0.0, 0.002, 0.004, 0.006, 0.008, 0.05)[round_ % 6]
        (after_close, submitted), closed = _at_once(
            [
                partial(_submit_after, delay, lease.id, alice, close_done),
                partial(_close, campaign, close_done),
            ]
        )
        assert isinstance(closed, Campaign), closed
        lease.refresh_from_db()
        if after_close:
            assert isinstance(submitted, Conflict), f"round {round_}: stored after the close"
        if isinstance(submitted, tuple):
            outcomes["stored"] += 1
            assert lease.state == Assignment.State.SUBMITTED
            assert Judgment.objects.filter(assignment=lease).count() == 1
        else:
            outcomes["refused"] += 1
            assert isinstance(submitted, Conflict) and submitted.code == "closed", submitted
            assert "closed" in submitted.message
            assert lease.state == Assignment.State.EXPIRED
            assert not Judgment.objects.filter(assignment=lease).exists()
        assert Campaign.objects.get(id=campaign.id).state == Campaign.State.CLOSED
        assert not Assignment.objects.filter(
            campaign=campaign, state=Assignment.State.ACTIVE
        ).exists(), round_
        _counters_match(campaign)
    print(f"\nsubmit vs close: {outcomes}")


DELAYS = (0.0, 0.001, 0.002, 0.004, 0.008, 0.016, 0.03, 0.06)  # seconds, one per annotator


def test_a_close_while_many_annotators_submit_leaves_nothing_half_done(make_campaign, carol):
    people = [
        User.objects.create_user(username=f"closer{i}", password=f"pw-closer{i}")
        for i in range(len(DELAYS))
    ]
    campaign = make_campaign(members=people, overlap=3)
    assert prompts_import(campaign=campaign, content=pairwise_lines(6)).ok
    leases = [task_lease_next(annotator=p, campaign=campaign) for p in people]
    assert all(a is not None for a in leases)
    close_done = threading.Event()
    *submits, closed = _at_once(
        [
            partial(_submit_after, delay, a.id, p, close_done)
            for delay, a, p in zip(DELAYS, leases, people, strict=True)
            if a is not None
        ]
        + [partial(_close, campaign, close_done)]
    )
    assert isinstance(closed, Campaign), closed
    assert all(isinstance(s, Conflict) for after, s in submits if after), submits
    stored = [s for _, s in submits if isinstance(s, tuple)]
    refused = [s for _, s in submits if isinstance(s, Conflict)]
    assert len(stored) + len(refused) == len(people), submits
    assert all(r.code == "closed" for r in refused), [r.code for r in refused]
    assert Judgment.objects.filter(campaign=campaign).count() == len(stored)
    assert not Assignment.objects.filter(campaign=campaign, state=Assignment.State.ACTIVE).exists()
    _counters_match(campaign)
