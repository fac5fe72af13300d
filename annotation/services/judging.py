"""Storing judgments: validated, idempotent, closing the lease in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, F, OuterRef, Subquery, Value, When
from django.utils import timezone

from ..errors import Conflict, Forbidden, NotFound, RuleError
from ..kinds import kind_for, seconds_spent_clean
from ..models import (
    Assignment,
    Judgment,
    Profile,
    Task,
    User,
)


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
