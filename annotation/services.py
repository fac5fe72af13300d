"""Every write and rule of annotation: importing prompts, leasing tasks, judging, skipping.

The pages, the API, the CLI and the tests all call these functions.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Exists, F, OuterRef, QuerySet, Subquery, Value, When
from django.utils import timezone

from generation.services import language_model_get_or_create_external

from .errors import Conflict, Forbidden, NotFound, RuleError
from .kinds import kind_for, seconds_spent_clean
from .models import (
    Assignment,
    Campaign,
    Conversation,
    Judgment,
    Membership,
    Message,
    Profile,
    Task,
    TaskCandidate,
    User,
)
from .prompt_files import PromptRow, prompt_rows_parse

IMPORT_CHUNK = 500


# --- campaigns and members ------------------------------------------------------------------


def campaign_create(
    *,
    name: str,
    slug: str,
    created_by: User | None = None,
    task_kind: str = Campaign.Kind.PAIRWISE,
    settings: dict[str, Any] | None = None,
    **fields: Any,
) -> Campaign:
    """A campaign whose kind settings are checked and filled with their defaults."""
    clean = kind_for(task_kind).settings_dict(settings)
    if fields.get("overlap", 1) < 1:
        raise RuleError("overlap must be at least 1.", field="overlap")
    return Campaign.objects.create(
        name=name, slug=slug, created_by=created_by, task_kind=task_kind, settings=clean, **fields
    )


def membership_add(
    *, campaign: Campaign, user: User, role: str = Membership.Role.ANNOTATOR
) -> Membership:
    membership, created = Membership.objects.get_or_create(
        campaign=campaign, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


# --- importing prompts ----------------------------------------------------------------------


@dataclass
class ImportReport:
    """What happened to each line. Nothing is imported when any line is bad."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    conversations_created: int = 0
    tasks_created: int = 0
    duplicates: int = 0
    errors: int = 0

    @property
    def ok(self) -> bool:
        return self.errors == 0


def prompts_import(
    *,
    campaign: Campaign,
    content: str | bytes,
    fmt: str = "jsonl",
    created_by: User | None = None,
) -> ImportReport:
    """Import prompts (and any ready-made responses) from a JSONL or CSV file.

    All or nothing: a file with a bad line imports nothing and the report names every bad
    line, so fixing the file and sending it again never duplicates a prompt. Lines whose `id`
    is already in the campaign are reported as duplicates and left alone.
    """
    rows, errors = prompt_rows_parse(content, fmt=fmt, max_lines=settings.AGORA_IMPORT_MAX_LINES)
    report = ImportReport()
    seen: dict[str, int] = {}
    for row in rows:
        if row.external_id:
            if row.external_id in seen:
                report.lines.append(
                    {
                        "line": row.line,
                        "status": "error",
                        "message": f"id {row.external_id!r} repeats line {seen[row.external_id]}",
                    }
                )
                report.errors += 1
            seen.setdefault(row.external_id, row.line)
    for err in errors:
        report.lines.append({"line": err.line, "status": "error", "message": err.message})
        report.errors += 1
    if report.errors:
        report.lines.sort(key=lambda r: r["line"])
        return report

    existing = set(
        Conversation.objects.filter(campaign=campaign, external_id__in=list(seen)).values_list(
            "external_id", flat=True
        )
    )
    fresh = []
    for row in rows:
        if row.external_id in existing:
            report.lines.append(
                {"line": row.line, "status": "duplicate", "message": "already imported"}
            )
            report.duplicates += 1
        else:
            fresh.append(row)
    with transaction.atomic():
        for start in range(0, len(fresh), IMPORT_CHUNK):
            _import_chunk(campaign, fresh[start : start + IMPORT_CHUNK], created_by, report)
    report.lines.sort(key=lambda r: r["line"])
    return report


def _import_chunk(
    campaign: Campaign, rows: Sequence[PromptRow], created_by: User | None, report: ImportReport
) -> None:
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(
                campaign=campaign,
                origin=Conversation.Origin.IMPORTED,
                external_id=row.external_id,
                metadata=row.metadata,
                created_by=created_by,
            )
            for row in rows
        ]
    )
    # The context of each prompt is a chain; create it one depth at a time so that each
    # message's parent already has its id.
    last: list[Message | None] = [None] * len(rows)
    for depth in range(max(len(r.messages) for r in rows)):
        batch = []
        for i, row in enumerate(rows):
            if depth < len(row.messages):
                m = row.messages[depth]
                batch.append(
                    (
                        i,
                        Message(
                            conversation=conversations[i],
                            parent=last[i],
                            role=m["role"],
                            text=m["content"],
                        ),
                    )
                )
        for (i, _), saved in zip(
            batch, Message.objects.bulk_create([m for _, m in batch]), strict=True
        ):
            last[i] = saved

    models: dict[str, Any] = {}
    responses: list[tuple[int, Message]] = []
    for i, row in enumerate(rows):
        for r in row.responses:
            model = None
            if r["model"]:
                model = models.get(r["model"]) or language_model_get_or_create_external(
                    name=r["model"]
                )
                models[r["model"]] = model
            responses.append(
                (
                    i,
                    Message(
                        conversation=conversations[i],
                        parent=last[i],
                        role="assistant",
                        text=r["text"],
                        model=model,
                        metadata=r.get("metadata") or {},
                    ),
                )
            )
    saved_responses = Message.objects.bulk_create([m for _, m in responses])
    by_row: dict[int, list[Message]] = {}
    for (i, _), saved in zip(responses, saved_responses, strict=True):
        by_row.setdefault(i, []).append(saved)

    tasks_created = 0
    for i, row in enumerate(rows):
        candidates = by_row.get(i, [])
        parent = last[i]
        assert parent is not None
        tasks_created += len(
            tasks_create_for_candidates(campaign=campaign, parent=parent, candidates=candidates)
        )
        report.lines.append(
            {
                "line": row.line,
                "status": "created",
                "conversation_id": conversations[i].id,
                "responses": len(candidates),
            }
        )
    report.conversations_created += len(rows)
    report.tasks_created += tasks_created


def tasks_create_for_candidates(
    *, campaign: Campaign, parent: Message, candidates: Sequence[Message]
) -> list[Task]:
    """Sibling replies under one parent become the campaign's comparison tasks.

    Pairwise: one task per pair of candidates. Fewer than two candidates: nothing yet.
    """
    if campaign.task_kind != Campaign.Kind.PAIRWISE or len(candidates) < 2:
        return []
    position = {m.id: i for i, m in enumerate(candidates)}
    pairs = list(itertools.combinations(candidates, 2))
    tasks = Task.objects.bulk_create(
        [
            Task(
                campaign=campaign,
                conversation_id=parent.conversation_id,
                parent=parent,
                kind=campaign.task_kind,
                overlap=campaign.overlap,
                candidate_keys=[
                    [m.id, f"m{m.model_id}" if m.model_id else f"p{position[m.id]}"] for m in pair
                ],
            )
            for pair in pairs
        ]
    )
    TaskCandidate.objects.bulk_create(
        [
            TaskCandidate(task=task, message=m, position=pos)
            for task, pair in zip(tasks, pairs, strict=True)
            for pos, m in enumerate(pair)
        ]
    )
    return tasks


# --- leasing --------------------------------------------------------------------------------


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


# --- judging --------------------------------------------------------------------------------


def _idempotency_key_clean(key: Any) -> str:
    if not isinstance(key, str) or not key.strip():
        raise RuleError("idempotency_key must be non-empty text.", field="idempotency_key")
    if len(key) > 100:
        raise RuleError("idempotency_key is longer than 100 characters.", field="idempotency_key")
    return key.strip()


def _replay(*, annotator: User, key: str, assignment_id: int) -> Judgment | None:
    """The judgment already stored under this key, if this is a repeat of the same submit."""
    existing = Judgment.objects.filter(annotator=annotator, idempotency_key=key).first()
    if existing is not None and existing.assignment_id != assignment_id:
        raise Conflict(
            "This idempotency key was already used for another task; use a new key per task.",
            field="idempotency_key",
            code="key_reused",
        )
    return existing


class _Replayed(Exception):
    def __init__(self, judgment: Judgment):
        self.judgment = judgment


def judgment_submit(
    *,
    assignment: Assignment | int,
    annotator: User,
    payload: Any,
    idempotency_key: Any,
    seconds_spent: Any = None,
    now: datetime | None = None,
) -> tuple[Judgment, bool]:
    """Store the annotator's judgment and close the lease. Returns (judgment, created).

    The same idempotency key again returns the stored judgment (created=False), so a client
    that lost the answer can safely send it again.
    """
    key = _idempotency_key_clean(idempotency_key)
    seconds = seconds_spent_clean(seconds_spent)
    assignment_id = assignment if isinstance(assignment, int) else assignment.id
    now = now or timezone.now()
    try:
        with transaction.atomic():
            judgment = _judgment_store(
                assignment_id=assignment_id,
                annotator=annotator,
                payload=payload,
                key=key,
                seconds=seconds,
                now=now,
            )
    except _Replayed as r:
        return r.judgment, False
    except IntegrityError:
        # The key is taken: a concurrent submit of this task won the race, or the client
        # reused a key of another task.
        replayed = _replay(annotator=annotator, key=key, assignment_id=assignment_id)
        if replayed is None:
            raise
        return replayed, False
    return judgment, True


def _judgment_store(
    *,
    assignment_id: int,
    annotator: User,
    payload: Any,
    key: str,
    seconds: float | None,
    now: datetime,
) -> Judgment:
    latest_profile = Profile.objects.filter(user=OuterRef("annotator_id")).order_by("-version")
    a = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("task", "campaign")
        .annotate(profile_id=Subquery(latest_profile.values("id")[:1]))
        .filter(id=assignment_id)
        .first()
    )
    if a is None:
        raise NotFound("No such task.")
    if a.annotator_id != annotator.id:
        raise Forbidden("This task is leased to someone else.")
    if a.state == Assignment.State.SUBMITTED:
        if (replayed := _replay(annotator=annotator, key=key, assignment_id=a.id)) is not None:
            raise _Replayed(replayed)
        raise Conflict("This task was already submitted.", code="already_submitted")
    if a.state == Assignment.State.SKIPPED:
        raise Conflict("This task was skipped.", code="skipped")
    if a.state == Assignment.State.EXPIRED or a.expires_at <= now:
        raise Conflict(
            "Your time on this task ran out and it went back to the pool; "
            "this answer was not stored.",
            code="lease_expired",
        )
    kind = kind_for(a.task.kind)
    clean = kind.validate(
        payload, settings=kind.settings(a.campaign.settings), candidate_ids=a.display_order
    )
    judgment = Judgment.objects.create(
        assignment=a,
        task_id=a.task_id,
        campaign_id=a.campaign_id,
        annotator=annotator,
        profile_id=a.profile_id,  # annotated above
        kind=a.task.kind,
        payload=clean,
        seconds_spent=seconds,
        idempotency_key=key,
        instructions_version=a.campaign.instructions_version,
    )
    a.state = Assignment.State.SUBMITTED
    a.finished_at = now
    a.save(update_fields=["state", "finished_at"])
    Task.objects.filter(id=a.task_id).update(
        judgments_count=F("judgments_count") + 1,
        leased_count=F("leased_count") - 1,
        state=Case(
            When(judgments_count__gte=F("overlap") - 1, then=Value(Task.State.COMPLETE)),
            default=F("state"),
        ),
    )
    return judgment


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
