"""Reads: what a person may see, what a task shows, how far a campaign has come."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from annotation import db
from annotation.models import (
    Assignment,
    Attachment,
    Campaign,
    Conversation,
    Membership,
    Message,
    Task,
    User,
)
from webapp.untrusted import form_int


def campaigns_visible_to(*, user: User) -> QuerySet[Campaign]:
    """Campaigns this person may annotate in: public ones, or those they are a member of."""
    member = Membership.objects.filter(campaign=OuterRef("pk"), user=user)
    return Campaign.objects.filter(
        Q(is_public=True) | Q(Exists(member.filter(is_blocked=False)))
    ).exclude(Exists(member.filter(is_blocked=True)))


def campaigns_open_to(*, user: User) -> QuerySet[Campaign]:
    return campaigns_visible_to(user=user).filter(state=Campaign.State.OPEN)


def campaigns_administered_by(*, user: User) -> QuerySet[Campaign]:
    if user.is_staff:
        return Campaign.objects.all()
    return Campaign.objects.filter(memberships__user=user, memberships__role=Membership.Role.ADMIN)


def dashboard_visible_to(*, user: User) -> bool:
    """Who may see /dashboard/ (and the top bar's link to it): staff, and the admins of some
    campaign."""
    if not user.is_authenticated:
        return False
    return user.is_staff or campaigns_administered_by(user=user).exists()


def campaigns_reviewed_by(*, user: User) -> set[int]:
    """The campaigns with a review stage where this person reviews (reviewers and admins)."""
    return set(
        Membership.objects.filter(
            user=user,
            role__in=[Membership.Role.REVIEWER, Membership.Role.ADMIN],
            is_blocked=False,
            campaign__review_stage=True,
        ).values_list("campaign_id", flat=True)
    )


def campaign_tasks_visible(*, user: User, campaign_id: int) -> bool:
    """Whether this person may see the campaign's tasks: as an annotator (a member, or any
    signed-in user of a public campaign) or as one of its admins."""
    return (
        campaigns_visible_to(user=user).filter(pk=campaign_id).exists()
        or campaigns_administered_by(user=user).filter(pk=campaign_id).exists()
    )


def campaign_is_admin(*, user: User, campaign: Campaign) -> bool:
    return campaigns_administered_by(user=user).filter(pk=campaign.pk).exists()


# Counting every open task of a large campaign on each page would cost more than the page;
# past this many, the page says "1000+".
AVAILABLE_COUNT_CAP = 1000


@dataclass(frozen=True)
class Progress:
    done: int  # judgments this annotator has given in the campaign
    available: int  # tasks this annotator holds or could still be given now (capped)
    # A study participant's task limit (Study.tasks_per_participant), None where there is
    # none: they see "task 2 of 3", not how many the campaign holds.
    cap: int | None = None

    @property
    def current(self) -> int:
        """The place of the task on screen among this person's tasks."""
        return self.done + 1

    @property
    def available_capped(self) -> bool:
        return self.available >= AVAILABLE_COUNT_CAP


def campaign_progress(*, campaign: Campaign, user: User) -> Progress:
    mine = Assignment.objects.filter(campaign=campaign, annotator=user).aggregate(
        done=Count("id", filter=Q(state=Assignment.State.SUBMITTED)),
        # The task on screen (a live lease of mine) still counts as available to me.
        holding=Count("id", filter=Q(state=Assignment.State.ACTIVE, expires_at__gt=timezone.now())),
    )
    done, holding = mine["done"], mine["holding"]
    open_to_me = (
        Task.objects.filter(
            campaign=campaign,
            state=Task.State.OPEN,
            judgments_count__lt=F("overlap") - F("leased_count"),
        )
        # Matched on (task, annotator), the unique index: one probe per task.
        .filter(~Exists(Assignment.objects.filter(task=OuterRef("pk"), annotator=user)))
        .order_by()
    )
    available = holding + open_to_me[: AVAILABLE_COUNT_CAP - holding].count()
    # The study's limit binds its participants (not members left outside the study's steps).
    cap = (
        Membership.objects.filter(
            campaign=campaign, user=user, campaign__study__tasks_per_participant__gt=0
        )
        .exclude(stage=Membership.Stage.READY)
        .values_list("campaign__study__tasks_per_participant", flat=True)
        .first()
    )
    if cap:
        return Progress(done=done, available=min(available, max(cap - done, 0)), cap=cap)
    return Progress(done=done, available=available)


@dataclass(frozen=True)
class TaskView:
    """What an annotator sees of a task: the path to it and the candidates in screen order."""

    task: Task
    context: list[Message]
    candidates: list[Message]
    # Facts for the judgment (a caption, a ground-truth answer, retrieved documents) that the
    # prompt was imported with, or None.
    reference: dict[str, Any] | None = None


def path_to(by_id: Mapping[int, Message], message_id: int | None) -> list[Message]:
    """The messages from the root down to `message_id` (none for None), read from `by_id`."""
    path = []
    while message_id is not None:
        node = by_id[message_id]
        path.append(node)
        message_id = node.parent_id
    return path[::-1]


def conversation_path(*, message: Message) -> list[Message]:
    """The messages from the root of the tree down to `message`, in one query."""
    by_id = {m.id: m for m in Message.objects.filter(conversation_id=message.conversation_id)}
    return path_to(by_id, message.id)


def task_view(*, assignment: Assignment) -> TaskView:
    """The task as its annotator sees it, in one query: the candidates are in the same tree.

    Every annotator's "next task" reads this, so the query is plain SQL (the ORM spent more
    CPU building it than the database answering it); the messages are the model's, with
    the other fields deferred as `.only()` would leave them."""
    task = assignment.task
    # The lease that just handed the task out read its messages in the same statement.
    messages = getattr(assignment, "prefetched_messages", None)
    if messages is None:
        messages = db.task_messages(task.conversation_id)
    by_id = {m.id: m for m in messages}
    context = path_to(by_id, task.parent_id)
    reference = None
    for m in context:
        reference = m.metadata.get("reference") or reference
    return TaskView(
        task=task,
        context=messages_with_files(context),
        candidates=messages_with_files([by_id[i] for i in assignment.display_order]),
        reference=reference,
    )


def messages_with_files(messages: list[Message]) -> list[Message]:
    """The messages, each with `files` (its attachments in order); one query, and none
    when no message says it carries files."""
    carrying = [m.id for m in messages if m.metadata.get("attachments")]
    files: dict[int, list[Attachment]] = {}
    if carrying:
        for a in Attachment.objects.filter(message_id__in=carrying):
            files.setdefault(a.message_id, []).append(a)
    for m in messages:
        m.files = files.get(m.id, [])  # type: ignore[attr-defined]  # for the template only
    return messages


def assignment_for_annotator(*, user: User, assignment_id: int) -> Assignment | None:
    return (
        Assignment.objects.select_related("task", "campaign", "campaign__study")
        .filter(id=assignment_id, annotator=user)
        .first()
    )


def campaign_by_ref(*, ref: str) -> Campaign | None:
    """The campaign with this id (ASCII digits) or else this slug; None if there is none.
    Digits that are no id (past 64 bits, or "²") match nothing rather than overflowing the
    database's integer or int()."""
    if (campaign_id := form_int(ref)) is not None:
        return Campaign.objects.filter(id=campaign_id).first()
    if ref.isdigit():
        return None
    return Campaign.objects.filter(slug=ref).first()


def attachment_visible(*, user: User, attachment_id: int) -> Attachment | None:
    """A message's file, if this person may see its campaign's tasks."""
    attachment = (
        Attachment.objects.select_related("message__conversation").filter(id=attachment_id).first()
    )
    if attachment is None or not campaign_tasks_visible(
        user=user, campaign_id=attachment.message.conversation.campaign_id
    ):
        return None
    return attachment


def conversation_prism_type(*, conversation_id: int) -> str:
    """The PRISM conversation type of a conversation ("" for none)."""
    value = (
        Conversation.objects.filter(id=conversation_id).values_list("prism_type", flat=True).first()
    )
    return value or ""


def campaign_members(*, campaign: Campaign) -> QuerySet[Membership]:
    return Membership.objects.filter(campaign=campaign).select_related("user")
