"""Leasing tasks to annotators: the hot path of every annotator's loop."""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from annotation import db
from annotation.errors import Conflict, Forbidden, NotFound, RuleError
from annotation.models import Assignment, Campaign, Membership, Task, User
from annotation.services import routing
from annotation.services.studies import gate as study_gate


def leases_expire(*, campaign: Campaign | None = None, now: datetime | None = None) -> int:
    """Hand the tasks of leases past their time back to the pool. Returns how many."""
    qs = (
        Assignment.objects.all()
        if campaign is None
        else Assignment.objects.filter(campaign=campaign)
    )
    with transaction.atomic():
        return _leases_release(qs, now=now or timezone.now())


# How often a lease looks again when the only tasks left are locked by other annotators.
LOCKED_RETRIES = 5


def task_lease_next(
    *, annotator: User, campaign: Campaign | int, now: datetime | None = None
) -> Assignment | None:
    """The annotator's current lease in the campaign, or a new one; None when nothing is left.

    The hot path: one statement reads (and locks) the member's row with the campaign and
    their current lease; one picks the task: open, short of its overlap counting live leases,
    never leased to this annotator, fewest judgments first counting the leases out (breadth
    first: a task someone holds waits behind those nobody has), locked with SKIP LOCKED on
    PostgreSQL so concurrent annotators neither wait on each other nor share a last slot (the
    check constraint on Task backs that up); three write the lease.
    """
    now = now or timezone.now()
    campaign_id = campaign if isinstance(campaign, int) else campaign.id
    with transaction.atomic():
        member, member_campaign = _membership_for_annotation(
            campaign_id=campaign_id, user=annotator
        )
        # No state with a current lease: another request of this person wrote it while this
        # one waited for the member's row; it is read afresh, and handed out if still active.
        if member.current_id is not None and member.current_state in (
            Assignment.State.ACTIVE,
            None,
        ):
            current = _current_lease(
                current_id=member.current_id, campaign=member_campaign, now=now
            )
            if current is not None:
                return current
        # Study hook: a participant taking tasks may be at their limit or held back by quota
        # steering (members outside a study are READY and skip it).
        if member.stage == Membership.Stage.ACTIVE and not study_gate.lease_allowed(
            campaign_id=campaign_id,
            annotator_id=annotator.id,
            quotas=member.quotas,
            cells=member.quota_cells,
            now=now,
        ):
            return None

        # Routing hook: a due repeat (self-consistency), else the next task in the campaign's
        # routing order. Both read fields of the campaign row fetched above; with repeats off
        # and the default routing, the statements are those of before.
        active = member_campaign.routing == Campaign.Routing.ACTIVE
        # Tree campaigns (services.trees): their own order, and never a review or comparison
        # of one's own message. Read from the campaign row above: others pay nothing.
        tree = bool(member_campaign.tree)
        task = (
            routing.repeat_maybe(
                campaign_id=campaign_id,
                annotator_id=annotator.id,
                share=member_campaign.repeat_share,
            )
            if member_campaign.repeat_share and not tree
            else None
        ) or _task_pick(campaign_id=campaign_id, annotator=annotator, active=active, tree=tree)
        for attempt in range(1, LOCKED_RETRIES + 1):
            if task is not None or not _task_pick(
                campaign_id=campaign_id, annotator=annotator, lock=False, tree=tree
            ):
                break
            # Only rows others hold for a moment (leasing or judging them) still have a
            # slot. Waiting on those locks could deadlock; look again in a moment instead.
            time.sleep(0.005 * attempt)
            task = _task_pick(
                campaign_id=campaign_id, annotator=annotator, active=active, tree=tree
            )
        if task is None and _leases_release(
            Assignment.objects.filter(campaign_id=campaign_id), now=now
        ):
            task = _task_pick(
                campaign_id=campaign_id, annotator=annotator, active=active, tree=tree
            )
        if task is None:
            return None

        order = (
            # A repeat shows the sides of the first time, swapped (kept in its keys' order).
            [(int(m), str(key)) for m, key in task.candidate_keys]
            if task.state == Task.State.REPEAT
            else _display_order(candidate_keys=task.candidate_keys, placements=member.placements)
        )
        display_order = [message_id for message_id, _ in order]
        expires_at = now + member_campaign.lease_length
        for position, (_, key) in enumerate(order):
            counts = member.placements.setdefault(key, [])
            counts.extend([0] * (position + 1 - len(counts)))
            counts[position] += 1
        assignment_id, messages = db.lease_insert(
            task_id=task.id,
            campaign_id=campaign_id,
            annotator_id=annotator.id,
            leased_at=now,
            expires_at=expires_at,
            display_order=display_order,
            member_id=member.id,
            placements=member.placements,
            conversation_id=task.conversation_id,
        )
        if member.quota_cells:
            study_gate.lease_counted(campaign_id=campaign_id, cells=member.quota_cells)
    assignment = Assignment(
        id=assignment_id,
        task=task,
        campaign=member_campaign,
        annotator=annotator,
        state=Assignment.State.ACTIVE,
        leased_at=now,
        expires_at=expires_at,
        display_order=display_order,
    )
    # The task's messages, read by the statement that wrote the lease (selectors.task_view).
    assignment.prefetched_messages = messages  # type: ignore[attr-defined]  # not a model field
    return assignment


def _membership_for_annotation(*, campaign_id: int, user: User) -> tuple[db.MemberRow, Campaign]:
    """The member's row with its campaign and current lease, locked so that one person's
    concurrent requests take turns, and the campaign as far as that row read it. Joins a
    public campaign on first use."""
    row = db.member_for_lease(campaign_id=campaign_id, user_id=user.id)
    if row is None:
        public = Campaign.objects.filter(id=campaign_id, is_public=True).first()
        if public is None or public.state == Campaign.State.DRAFT:
            raise NotFound("No such campaign.")
        # Joining a public study starts at its first step (the study pages take it from there).
        Membership.objects.get_or_create(
            campaign=public, user=user, defaults={"stage": study_gate.stage_on_join(public)}
        )
        row = db.member_for_lease(campaign_id=campaign_id, user_id=user.id)
        assert row is not None
    if row.campaign_state == Campaign.State.DRAFT:
        raise NotFound("No such campaign.")
    if row.is_blocked:
        raise Forbidden("You can no longer take tasks in this campaign.", code="blocked")
    if refusal := study_gate.stage_refusal(row.stage):
        raise refusal
    if row.campaign_state != Campaign.State.OPEN:
        label = Campaign.State(row.campaign_state).label.lower()
        raise Conflict(f"This campaign is {label}.", code="closed")
    campaign = db.unsaved_partial(
        Campaign,
        id=campaign_id,
        state=row.campaign_state,
        lease_seconds=row.lease_seconds,
        settings=row.settings,
        instructions_version=row.instructions_version,
        task_kind=row.task_kind,
        routing=row.routing,
        repeat_share=row.repeat_share,
        tree=row.tree,
    )
    return row, campaign


def _current_lease(*, current_id: int, campaign: Campaign, now: datetime) -> Assignment | None:
    """My current lease, renewed if its time ran out and nobody took the slot meanwhile (the
    annotator may still have the task open); otherwise it is given back. None when it is no
    longer active (another tab of mine submitted or skipped it meanwhile)."""
    current = Assignment.objects.select_related("task").get(id=current_id)
    if current.state != Assignment.State.ACTIVE:
        return None
    current.campaign = campaign
    if current.expires_at > now:
        return current
    # Its time ran out, but another tab may be submitting it right now (a submit goes by its
    # own clock). The renewal and the release both wait for that submit's lock and act only
    # on a lease still active then: a lease that may yet be stored is never given back (its
    # person could then hold two), and a stored one is never handed out again.
    slot_kept = Task.objects.filter(
        id=current.task_id,
        state=Task.State.OPEN,
        judgments_count__lte=F("overlap") - F("leased_count"),
    ).exists()
    if slot_kept:
        expires_at = now + campaign.lease_length
        still = Assignment.objects.filter(id=current.id, state=Assignment.State.ACTIVE)
        if not still.update(leased_at=now, expires_at=expires_at):
            return None
        current.leased_at, current.expires_at = now, expires_at
        return current
    leases_end(assignments=Assignment.objects.filter(id=current.id), now=now)
    return None


def _task_pick(
    *,
    campaign_id: int,
    annotator: User,
    lock: bool = True,
    active: bool = False,
    tree: bool = False,
) -> Task | None:
    """The next task for this annotator, locked (skipping rows others hold) unless
    lock=False, which only looks.

    Default routing: fewest judgments first, counting the leases out. Active routing first
    looks among the tasks its current plan ranks, then falls back to the default order, so
    annotators never wait for a plan; services.routing refreshes the plan from the
    Bradley-Terry fit. Tree campaigns: the
    needs in the order of the tree's priorities (rankings, reviews, replies, new prompts by
    default), oldest first within one (finishing trees before widening others), and never a
    task over a message of one's own."""
    picks = (
        (db.Pick.TREE,)
        if tree
        else (db.Pick.PLANNED, db.Pick.DEFAULT)
        if active
        else (db.Pick.DEFAULT,)
    )
    for pick in picks:
        row = db.task_pick(campaign_id=campaign_id, annotator_id=annotator.id, pick=pick, lock=lock)
        if row is not None:
            return db.unsaved_partial(
                Task,
                id=row.id,
                campaign_id=campaign_id,
                conversation_id=row.conversation_id,
                parent_id=row.parent_id,
                kind=row.kind,
                candidate_keys=row.candidate_keys,
            )
    return None


def _leases_release(assignments: QuerySet[Assignment], *, now: datetime) -> int:
    """Expire the active leases among `assignments` whose time is up; their slots go back."""
    qs = assignments.filter(state=Assignment.State.ACTIVE, expires_at__lte=now)
    if connection.features.has_select_for_update_skip_locked:
        # Another sweeper holding some of these rows will expire them itself; a submit
        # holding one stores it or refuses it by its own clock.
        qs = qs.select_for_update(skip_locked=True)
    return _leases_expired(qs, now=now)


def leases_end(*, assignments: QuerySet[Assignment], now: datetime | None = None) -> int:
    """End the active leases among `assignments` now, time left or not (a campaign closed, a
    member blocked); their slots go back. Returns how many.

    Locks those leases, waiting for the submits and skips that hold one: a submit under way
    is stored before the leases end, and one that comes after finds its lease expired. Call
    it inside the transaction that makes the change, after making it."""
    qs = assignments.filter(state=Assignment.State.ACTIVE).select_for_update()
    return _leases_expired(qs, now=now or timezone.now())


def campaign_closed(campaign_id: int) -> bool:
    """Whether the campaign is closed, read now (not as of a statement that waited)."""
    return Campaign.objects.filter(id=campaign_id, state=Campaign.State.CLOSED).exists()


def _leases_expired(locked: QuerySet[Assignment], *, now: datetime) -> int:
    """Mark the leases `locked` selects (and locks) expired and give their slots back."""
    expired = list(locked.values_list("id", "task_id"))
    if not expired:
        return 0
    Assignment.objects.filter(id__in=[a for a, _ in expired]).update(
        state=Assignment.State.EXPIRED, finished_at=now
    )
    by_count: dict[int, list[int]] = {}
    for task_id, n in Counter(task_id for _, task_id in expired).items():
        by_count.setdefault(n, []).append(task_id)
    for n, task_ids in by_count.items():
        Task.objects.filter(id__in=task_ids).update(leased_count=F("leased_count") - n)
    return len(expired)


def _display_order(
    *, candidate_keys: Sequence[Sequence[Any]], placements: dict[str, list[int]]
) -> list[tuple[int, str]]:
    """Counterbalanced on-screen order: each model lands first about as often as second.

    The chosen order puts each candidate's key (its model, or its import position) where this
    annotator has seen that key least; ties are broken at random.
    """
    keyed = [(int(message_id), str(key)) for message_id, key in candidate_keys]

    def cost(order: Iterable[tuple[int, str]]) -> int:
        total = 0
        for pos, (_, key) in enumerate(order):
            counts = placements.get(key, [])
            total += counts[pos] if pos < len(counts) else 0
        return total

    # Up to 6 candidates every order is weighed; past that (720 orders) a random one.
    orders = (
        list(itertools.permutations(keyed))
        if len(keyed) <= 6
        else [tuple(random.sample(keyed, len(keyed)))]
    )
    random.shuffle(orders)
    return list(min(orders, key=cost))


def assignment_skip(
    *, assignment: Assignment, annotator: User, reason: str = "", now: datetime | None = None
) -> Assignment:
    """Give the task back; it is never offered to this annotator again. Someone else's
    lease is not found (NotFound), as one that does not exist."""
    if assignment.annotator_id != annotator.id:
        raise NotFound("No such task.")
    if not isinstance(reason, str) or len(reason) > 500:
        raise RuleError("reason must be text of at most 500 characters.", field="reason")
    now = now or timezone.now()
    with transaction.atomic():
        a = Assignment.objects.select_for_update().get(id=assignment.id)
        if a.state == Assignment.State.SKIPPED:
            return a
        # Read after the lease's lock: a close that ended this lease has committed.
        if campaign_closed(a.campaign_id):
            raise Conflict("This campaign is closed.", code="closed")
        if a.state != Assignment.State.ACTIVE:
            raise Conflict(f"This task is already {a.get_state_display().lower()}.")
        a.state = Assignment.State.SKIPPED
        a.skip_reason = reason.strip()
        a.finished_at = now
        a.save(update_fields=["state", "skip_reason", "finished_at"])
        Task.objects.filter(id=a.task_id).update(leased_count=F("leased_count") - 1)
    return a
