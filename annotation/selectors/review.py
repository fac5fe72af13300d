"""Reads of the review stage: who may review a campaign, and the next judgment to review with
what its reviewer sees of it (the rules that store a review are services.review)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from annotation.errors import Forbidden, NotFound
from annotation.models import Campaign, Judgment, Membership, Message, User
from annotation.selectors.campaigns import campaigns_visible_to, messages_with_files, path_to
from annotation.selectors.judgments import judgments_counted

REVIEWER_ROLES = (Membership.Role.REVIEWER, Membership.Role.ADMIN)


def reviewer_check(*, campaign: Campaign, user: User) -> None:
    """Raises unless this person may review the campaign's judgments now."""
    if not campaign.review_stage:
        raise NotFound("This campaign has no review stage.")
    reviewer_role_check(campaign=campaign, user=user)


def reviewer_role_check(*, campaign: Campaign, user: User) -> None:
    """Raises unless this person holds the reviewer role here (the review stage and the
    adjudication queue alike): staff, the campaign's admins, and its unblocked reviewers."""
    if user.is_staff:
        return
    if not Membership.objects.filter(
        campaign=campaign, user=user, role__in=REVIEWER_ROLES, is_blocked=False
    ).exists():
        raise Forbidden("Only the campaign's reviewers may review judgments.")


def judgment_for_reviewer(
    *, judgment_id: int, user: User, campaign: Campaign | None = None
) -> Judgment | None:
    """The judgment with this id, if this person may know it exists: staff, or anyone who
    may see its campaign (reviewer_check then says whether they may review it); None
    otherwise, as for an id that does not exist. With `campaign`, one of its judgments only."""
    judgments = (
        Judgment.objects.select_related("campaign", "task", "assignment")
        .filter(id=judgment_id)
        .exclude(campaign__state=Campaign.State.DRAFT)
    )
    if campaign is not None:
        judgments = judgments.filter(campaign=campaign)
    if not user.is_staff:
        judgments = judgments.filter(campaign__in=campaigns_visible_to(user=user))
    return judgments.first()


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
        judgments_counted(campaign=campaign)
        .filter(review__isnull=True)
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
    return ReviewItem(
        judgment=judgment,
        context=messages_with_files(path_to(by_id, task.parent_id)),
        candidates=[by_id[i] for i in judgment.assignment.display_order if i in by_id],
        pending=pending,
    )
