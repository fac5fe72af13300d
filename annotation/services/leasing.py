"""Leasing tasks to annotators: the hot path of every annotator's loop."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from ..errors import Conflict, Forbidden, NotFound, RuleError
from ..models import (
    Assignment,
    Campaign,
    Membership,
    Task,
    User,
)


def leases_expire(*, campaign: Campaign | None = None, now: datetime | None = None) -> int:
    """Hand the tasks of leases past their time back to the pool. Returns how many."""
    qs = (
        Assignment.objects.all()
        if campaign is None
        else Assignment.objects.filter(campaign=campaign)
    )
    with transaction.atomic():
        return _leases_release(qs, now=now or timezone.now())


def task_lease_next(
    *, annotator: User, campaign: Campaign | int, now: datetime | None = None
) -> Assignment | None:
    """The annotator's current lease in the campaign, or a new one; None when nothing is left.

    The hot path: one query reads (and locks) the member's row with the campaign and their
    current lease; one picks the task: open, short of its overlap counting live leases, never
    leased to this annotator, fewest judgments first, locked with SKIP LOCKED on PostgreSQL so
    concurrent annotators neither wait on each other nor share a last slot (the check
    constraint on Task backs that up); then the lease is written.
    """
    now = now or timezone.now()
    campaign_id = campaign if isinstance(campaign, int) else campaign.id
    with transaction.atomic():
        membership = _membership_for_annotation(campaign_id=campaign_id, user=annotator)
        campaign = membership.campaign
        current = membership.current_assignment
        if current is not None and current.state == Assignment.State.ACTIVE:
            if current.expires_at > now:
                return current
            # My own lease ran out. If nobody took the slot meanwhile, keep the same task
            # (the annotator may still have it open); otherwise give it back.
            renewed = Task.objects.filter(
                id=current.task_id,
                state=Task.State.OPEN,
                judgments_count__lte=F("overlap") - F("leased_count"),
            ).exists()
            if renewed:
                current.leased_at, current.expires_at = now, now + campaign.lease_length
                current.save(update_fields=["leased_at", "expires_at"])
                return current
            _leases_release(Assignment.objects.filter(id=current.id), now=now)

        task = _task_pick(campaign=campaign, annotator=annotator, skip_locked=True)
        if task is None and connection.features.has_select_for_update_skip_locked:
            # Nothing free, but rows others hold for a moment may still have a slot: wait
            # for them (PostgreSQL re-checks the counters once the row is free).
            task = _task_pick(campaign=campaign, annotator=annotator, skip_locked=False)
        if task is None and _leases_release(Assignment.objects.filter(campaign=campaign), now=now):
            task = _task_pick(campaign=campaign, annotator=annotator, skip_locked=True)
        if task is None:
            return None

        order = _display_order(candidate_keys=task.candidate_keys, placements=membership.placements)
        assignment = Assignment.objects.create(
            task=task,
            campaign=campaign,
            annotator=annotator,
            leased_at=now,
            expires_at=now + campaign.lease_length,
            display_order=[message_id for message_id, _ in order],
        )
        Task.objects.filter(id=task.id).update(leased_count=F("leased_count") + 1)
        for position, (_, key) in enumerate(order):
            counts = membership.placements.setdefault(key, [])
            counts.extend([0] * (position + 1 - len(counts)))
            counts[position] += 1
        membership.current_assignment = assignment
        membership.save(update_fields=["placements", "current_assignment"])
    assignment.campaign = campaign
    assignment.task = task
    return assignment


def _membership_for_annotation(*, campaign_id: int, user: User) -> Membership:
    """The member's row with its campaign and current lease, locked so that one person's
    concurrent requests take turns. Joins a public campaign on first use."""
    qs = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("campaign", "current_assignment")
        .filter(campaign_id=campaign_id, user=user)
    )
    membership = qs.first()
    if membership is None:
        campaign = Campaign.objects.filter(id=campaign_id, is_public=True).first()
        if campaign is None or campaign.state == Campaign.State.DRAFT:
            raise NotFound("No such campaign.")
        Membership.objects.get_or_create(campaign=campaign, user=user)
        membership = qs.get()
    campaign = membership.campaign
    if campaign.state == Campaign.State.DRAFT:
        raise NotFound("No such campaign.")
    if membership.is_blocked:
        raise Forbidden("You can no longer take tasks in this campaign.", code="blocked")
    if campaign.state != Campaign.State.OPEN:
        raise Conflict(f"This campaign is {campaign.get_state_display().lower()}.", code="closed")
    return membership


def _task_pick(*, campaign: Campaign, annotator: User, skip_locked: bool) -> Task | None:
    tasks = (
        Task.objects.filter(
            campaign=campaign,
            state=Task.State.OPEN,
            judgments_count__lt=F("overlap") - F("leased_count"),
        )
        .filter(~Exists(Assignment.objects.filter(task=OuterRef("pk"), annotator=annotator)))
        .order_by("judgments_count", "id")
    )
    if connection.features.has_select_for_update:
        tasks = tasks.select_for_update(skip_locked=skip_locked, of=("self",))
    return tasks.first()


def _leases_release(assignments: QuerySet[Assignment], *, now: datetime) -> int:
    """Expire the active leases among `assignments` whose time is up; their slots go back."""
    qs = assignments.filter(state=Assignment.State.ACTIVE, expires_at__lte=now)
    if connection.features.has_select_for_update_skip_locked:
        # Another sweeper holding some of these rows will expire them itself.
        qs = qs.select_for_update(skip_locked=True)
    expired = list(qs.values_list("id", "task_id"))
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

    orders = list(itertools.permutations(keyed)) if len(keyed) <= 6 else [tuple(keyed)]
    random.shuffle(orders)
    return list(min(orders, key=cost))


def assignment_skip(
    *, assignment: Assignment, annotator: User, reason: str = "", now: datetime | None = None
) -> Assignment:
    """Give the task back; it is never offered to this annotator again."""
    if assignment.annotator_id != annotator.id:
        raise Forbidden("This task is leased to someone else.")
    if not isinstance(reason, str) or len(reason) > 500:
        raise RuleError("reason must be text of at most 500 characters.", field="reason")
    now = now or timezone.now()
    with transaction.atomic():
        a = Assignment.objects.select_for_update().get(id=assignment.id)
        if a.state == Assignment.State.SKIPPED:
            return a
        if a.state != Assignment.State.ACTIVE:
            raise Conflict(f"This task is already {a.get_state_display().lower()}.")
        a.state = Assignment.State.SKIPPED
        a.skip_reason = reason.strip()
        a.finished_at = now
        a.save(update_fields=["state", "skip_reason", "finished_at"])
        Task.objects.filter(id=a.task_id).update(leased_count=F("leased_count") - 1)
    return a
