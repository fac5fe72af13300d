"""Reads: what a person may see, what a task shows, how far a campaign has come."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from .models import Assignment, Campaign, Membership, Message, Task, User


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


def campaign_is_admin(*, user: User, campaign: Campaign) -> bool:
    return campaigns_administered_by(user=user).filter(pk=campaign.pk).exists()


@dataclass(frozen=True)
class Progress:
    done: int  # judgments this annotator has given in the campaign
    available: int  # tasks this annotator holds or could still be given now
    campaign_done: int  # judgments given by everyone
    campaign_needed: int  # judgments the campaign needs in all


def campaign_progress(*, campaign: Campaign, user: User) -> Progress:
    mine = Assignment.objects.filter(campaign=campaign, annotator=user)
    done = mine.filter(state=Assignment.State.SUBMITTED).count()
    # The task on screen (a live lease of mine) still counts as available to me.
    holding = mine.filter(state=Assignment.State.ACTIVE, expires_at__gt=timezone.now()).count()
    available = holding + (
        Task.objects.filter(
            campaign=campaign,
            state=Task.State.OPEN,
            judgments_count__lt=F("overlap") - F("leased_count"),
        )
        .filter(~Exists(mine.filter(task=OuterRef("pk"))))
        .count()
    )
    totals = (
        Task.objects.filter(campaign=campaign)
        .exclude(state=Task.State.CANCELLED)
        .aggregate(needed=Sum("overlap"), judged=Sum("judgments_count"))
    )
    return Progress(
        done=done,
        available=available,
        campaign_done=totals["judged"] or 0,
        campaign_needed=totals["needed"] or 0,
    )


@dataclass(frozen=True)
class TaskView:
    """What an annotator sees of a task: the path to it and the candidates in screen order."""

    task: Task
    context: list[Message]
    candidates: list[Message]


def conversation_path(*, message: Message) -> list[Message]:
    """The messages from the root of the tree down to `message`, in one query."""
    by_id = {m.id: m for m in Message.objects.filter(conversation_id=message.conversation_id)}
    path = []
    node: Message | None = by_id.get(message.id, message)
    while node is not None:
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    return path[::-1]


def task_view(*, assignment: Assignment) -> TaskView:
    task = assignment.task
    context = conversation_path(message=task.parent) if task.parent else []
    by_id = {m.id: m for m in Message.objects.filter(id__in=assignment.display_order)}
    return TaskView(
        task=task,
        context=context,
        candidates=[by_id[i] for i in assignment.display_order],
    )


def assignment_for_annotator(*, user: User, assignment_id: int) -> Assignment | None:
    return (
        Assignment.objects.select_related("task", "campaign")
        .filter(id=assignment_id, annotator=user)
        .first()
    )
