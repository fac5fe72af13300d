"""Live chat turns (PRISM): each turn's replies become a rating task for the participant who
wrote the turn, leased to them at once and never offered to anyone else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from annotation.models import Assignment, Campaign, Message, Task, TaskCandidate, User

# The participant rates their own turn whenever they come back to it; the lease only has to
# outlive the conversation (the task is LIVE, so no one else could take it anyway).
LIVE_LEASE = timedelta(days=30)


@transaction.atomic
def live_task_create(
    *, campaign: Campaign, parent: Message, replies: Sequence[Message], participant: User
) -> Assignment:
    """The turn's rating task over `replies` (in the order the participant saw them stream),
    leased to the participant."""
    now = timezone.now()
    task = Task.objects.create(
        campaign=campaign,
        conversation_id=parent.conversation_id,
        parent=parent,
        kind=Campaign.Kind.RATING,
        overlap=1,
        leased_count=1,
        state=Task.State.LIVE,
        round=campaign.current_round,
        candidate_keys=[[m.id, f"m{m.model_id}"] for m in replies],
    )
    TaskCandidate.objects.bulk_create(
        [TaskCandidate(task=task, message=m, position=i) for i, m in enumerate(replies)]
    )
    return Assignment.objects.create(
        task=task,
        campaign=campaign,
        annotator=participant,
        leased_at=now,
        expires_at=now + LIVE_LEASE,
        display_order=[m.id for m in replies],
    )
