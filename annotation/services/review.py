"""The review stage (HumanEdit, KorNAT): chosen reviewers accept, reject or correct judgments.

A campaign with `review_stage` on exports only judgments a reviewer accepted or corrected; a
corrected judgment keeps the annotator's payload as it was and carries the reviewer's
(checked like any payload of its kind) beside it. Reviewers are the campaign's members with
the role `reviewer`, its admins, and staff; nobody reviews their own judgments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from annotation.errors import Conflict, Forbidden, NotFound, RuleError
from annotation.kinds import kind_for
from annotation.kinds.base import text
from annotation.models import Campaign, Judgment, JudgmentReview, Membership, Message, User
from annotation.selectors import messages_with_files
from annotation.services.trees import kind_settings_raw

REVIEWER_ROLES = (Membership.Role.REVIEWER, Membership.Role.ADMIN)
# What a correction may not change of a payload that wrote a message (reply, rewrite).
KEPT_ON_CORRECTION = ("message_id", "rewrite_of", "role")
# What a kind adds to the payload it stores (not part of what a client sends).
DERIVED = (*KEPT_ON_CORRECTION, "edit_distance", "diff")


def payload_as_input(payload: Any) -> Any:
    """A stored payload in the shape a client sends (what a reviewer edits): without what the
    kind derived, such as a pairwise choice's `rejected` or a rewrite's diff."""
    if not isinstance(payload, dict):
        return payload
    out = {k: v for k, v in payload.items() if k not in DERIVED}
    if out.get("outcome") == "preferred":
        out.pop("rejected", None)
    if isinstance(out.get("attributes"), dict):
        out["attributes"] = {
            name: payload_as_input(choice) for name, choice in out["attributes"].items()
        }
    return out


def reviewer_check(*, campaign: Campaign, user: User) -> None:
    """Raises unless this person may review the campaign's judgments now."""
    if not campaign.review_stage:
        raise NotFound("This campaign has no review stage.")
    if user.is_staff:
        return
    if not Membership.objects.filter(
        campaign=campaign, user=user, role__in=REVIEWER_ROLES, is_blocked=False
    ).exists():
        raise Forbidden("Only the campaign's reviewers may review judgments.")


@dataclass(frozen=True)
class ReviewItem:
    """A judgment as its reviewer sees it: the conversation up to the task, the candidates in
    the order the annotator saw them, and the payload."""

    judgment: Judgment
    context: list[Message]
    candidates: list[Message]
    pending: int  # judgments still waiting for review, this one included


def reviews_pending(*, campaign: Campaign, reviewer: User) -> Any:
    return (
        Judgment.objects.filter(campaign=campaign, review__isnull=True)
        .exclude(annotator=reviewer)
        .order_by("id")
    )


def review_next(*, campaign: Campaign, reviewer: User) -> ReviewItem | None:
    """The oldest judgment nobody has reviewed yet (never the reviewer's own)."""
    reviewer_check(campaign=campaign, user=reviewer)
    pending = reviews_pending(campaign=campaign, reviewer=reviewer)
    judgment = pending.select_related("task", "assignment").first()
    if judgment is None:
        return None
    return review_item(judgment=judgment, pending=pending.count())


def review_item(*, judgment: Judgment, pending: int = 0) -> ReviewItem:
    task = judgment.task
    by_id = {m.id: m for m in Message.objects.filter(conversation_id=task.conversation_id)}
    context: list[Message] = []
    at = task.parent_id
    while at is not None:
        context.append(by_id[at])
        at = by_id[at].parent_id
    return ReviewItem(
        judgment=judgment,
        context=messages_with_files(context[::-1]),
        candidates=[by_id[i] for i in judgment.assignment.display_order if i in by_id],
        pending=pending,
    )


def judgment_review(
    *,
    judgment_id: int,
    reviewer: User,
    decision: str,
    campaign: Campaign | None = None,
    correction: Any = None,
    note: Any = "",
) -> JudgmentReview:
    """Record a reviewer's decision. A correction is checked against the kind's settings
    like the annotator's payload; the annotator's payload is never changed. With `campaign`
    (a page of that campaign's), a judgment of another campaign is not found."""
    judgments = Judgment.objects.select_related("campaign", "task", "assignment")
    if campaign is not None:
        judgments = judgments.filter(campaign=campaign)
    judgment = judgments.filter(id=judgment_id).first()
    if judgment is None:
        raise NotFound("No such judgment.")
    campaign = judgment.campaign
    reviewer_check(campaign=campaign, user=reviewer)
    if judgment.annotator_id == reviewer.id:
        raise Forbidden("Nobody reviews their own judgments.")
    if decision not in JudgmentReview.Decision.values:
        raise RuleError("decision must be one of accepted, rejected, corrected.", field="decision")
    note = text(note, "note", max_chars=1000)
    clean = None
    if decision == JudgmentReview.Decision.CORRECTED:
        if correction is None:
            raise RuleError("A correction needs the corrected payload.", field="correction")
        kind = kind_for(judgment.kind)
        parent_id = judgment.task.parent_id
        parent_role = (
            None
            if parent_id is None
            else Message.objects.filter(id=parent_id).values_list("role", flat=True).first()
        )
        raw = kind_settings_raw(campaign=campaign, task_kind=kind.name, parent_role=parent_role)
        try:
            clean = kind.validate(
                payload_as_input(correction),
                settings=kind.settings(raw),
                candidate_ids=judgment.assignment.display_order,
            )
        except RuleError as e:
            raise RuleError(e.message, field=f"correction.{e.field or ''}".rstrip(".")) from None
        clean = {
            **clean,
            **{k: judgment.payload[k] for k in KEPT_ON_CORRECTION if k in judgment.payload},
        }
        if payload_as_input(clean) == payload_as_input(judgment.payload):
            raise RuleError(
                "The correction is the same as the judgment; accept it instead.",
                field="correction",
            )
    elif correction is not None:
        raise RuleError("Only a correction carries a payload.", field="correction")
    try:
        with transaction.atomic():
            return JudgmentReview.objects.create(
                judgment=judgment,
                campaign=campaign,
                reviewer=reviewer,
                decision=decision,
                correction=clean,
                note=note,
            )
    except IntegrityError:
        raise Conflict("Someone already reviewed this judgment.", code="already_reviewed") from None
