"""Storing judgments: validated, idempotent, closing the lease in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation import db
from annotation.attachments import CheckedFile
from annotation.errors import Conflict, NotFound, RuleError
from annotation.kinds import kind_for, seconds_spent_clean
from annotation.kinds.text import edit_distance, unified_diff
from annotation.models import Assignment, Campaign, Judgment, Message, Task, User
from annotation.services import trees
from annotation.services.attachments import message_files_add
from annotation.services.leasing import campaign_closed


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


CLOSED_MESSAGE = "This campaign is closed; this answer was not stored."


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
    files: Sequence[CheckedFile] = (),
) -> tuple[Judgment, bool]:
    """Store the annotator's judgment and close the lease. Returns (judgment, created).

    The same idempotency key again returns the stored judgment (created=False), so a client
    that lost the answer can safely send it again. `files` (checked by annotation.attachments)
    go with the message a reply writes as the prompter.
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
                files=files,
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
    files: Sequence[CheckedFile] = (),
) -> Judgment:
    lease = db.assignment_for_submit(assignment_id=assignment_id)
    # Someone else's lease is not found, as one that does not exist: its id tells nothing.
    if lease is None or lease.annotator_id != annotator.id:
        raise NotFound("No such task.")
    if lease.state == Assignment.State.SUBMITTED:
        if replayed := _replay(annotator=annotator, key=key, assignment_id=assignment_id):
            raise _Replayed(replayed)
        raise Conflict("This task was already submitted.", code="already_submitted")
    if lease.state == Assignment.State.SKIPPED:
        raise Conflict("This task was skipped.", code="skipped")
    # Closing a campaign ends its leases (services.campaign_admin) after waiting for the
    # submits that hold them; a submit that waited reads the lease ended but the campaign
    # from before the close, so an ended lease asks the campaign again.
    if lease.campaign_state == Campaign.State.CLOSED or (
        lease.state == Assignment.State.EXPIRED and campaign_closed(lease.campaign_id)
    ):
        raise Conflict(CLOSED_MESSAGE, code="closed")
    # A paused campaign hands out no new leases; those held when it paused are stored until
    # their time runs out.
    if lease.state == Assignment.State.EXPIRED or lease.expires_at <= now:
        raise Conflict(
            "Your time on this task ran out and it went back to the pool; "
            "this answer was not stored.",
            code="lease_expired",
        )
    task_id, campaign_id, kind_name = lease.task_id, lease.campaign_id, lease.kind
    kind = kind_for(kind_name)
    candidate_ids = lease.display_order
    settings, tree = lease.settings, lease.tree
    if tree:  # a tree campaign: the task's kind may not be the campaign's (services.trees)
        trees.tree_lock(task_id=task_id)
        settings = trees.task_settings_raw(task_id=task_id, tree=tree, settings=settings)
    clean = kind.validate(payload, settings=kind.settings(settings), candidate_ids=candidate_ids)
    gold_score = kind.gold_score(clean, lease.gold) if lease.gold is not None else None
    if files and (kind_name != "reply" or clean["role"] != "user"):
        raise RuleError("Only a message written as the user can carry files.", field="images")
    if kind_name in WRITES_A_MESSAGE:
        clean = _message_write(
            kind_name, clean, task_id=task_id, candidate_ids=candidate_ids, author=annotator
        )
        if files:
            message_files_add(message_id=clean["message_id"], files=files)
    judgment = Judgment(
        assignment_id=assignment_id,
        task_id=task_id,
        campaign_id=campaign_id,
        annotator=annotator,
        profile_id=lease.profile_id,
        kind=kind_name,
        payload=clean,
        seconds_spent=seconds,
        idempotency_key=key,
        instructions_version=lease.instructions_version,
        gold_score=gold_score,
        created_at=now,
    )
    judgment.id = db.judgment_insert(judgment)
    judgment._state.adding = False
    if tree:
        trees.tree_judgment_grow(
            campaign_id=campaign_id, tree=tree, task_id=task_id, kind=kind_name, payload=clean
        )
    return judgment


WRITES_A_MESSAGE = ("rewrite", "reply")


def _message_write(
    kind_name: str,
    clean: dict[str, Any],
    *,
    task_id: int,
    candidate_ids: list[int],
    author: User,
) -> dict[str, Any]:
    """A rewrite becomes a sibling of the response it improves, a reply a child of the
    task's last message; both authored by the annotator. The payload names the new message
    (and, for a rewrite, keeps the diff and the edit distance)."""
    if kind_name == "rewrite":
        original = Message.objects.get(id=candidate_ids[0])
        written = Message.objects.create(
            conversation_id=original.conversation_id,
            parent_id=original.parent_id,
            role=original.role,
            text=clean["text"],
            author=author,
            metadata={"rewrite_of": original.id},
        )
        return {
            **clean,
            "message_id": written.id,
            "rewrite_of": original.id,
            "edit_distance": edit_distance(original.text, clean["text"]),
            "diff": unified_diff(original.text, clean["text"]),
        }
    task = Task.objects.only("conversation_id", "parent_id").get(id=task_id)
    written = Message.objects.create(
        conversation_id=task.conversation_id,
        parent_id=task.parent_id,
        role=clean["role"],
        text=clean["text"],
        author=author,
    )
    return {**clean, "message_id": written.id}
