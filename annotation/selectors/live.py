"""Reads of the live chat (PRISM): a participant's own conversations and their turns' leases.
The turns as the page shows them, with their replies, are generation.selectors'."""

from __future__ import annotations

from annotation.models import Assignment, Campaign, Conversation, User


def live_conversation_of(
    *, campaign: Campaign, user: User, conversation_id: int
) -> Conversation | None:
    """One of this participant's own live conversations; anyone else's is None."""
    return Conversation.objects.filter(
        id=conversation_id,
        campaign=campaign,
        origin=Conversation.Origin.LIVE,
        created_by=user,
    ).first()


def live_turn_assignment(
    *, conversation: Conversation, user: User, assignment_id: int
) -> Assignment | None:
    """The lease of one of this conversation's turns, if it is this person's."""
    return Assignment.objects.filter(
        id=assignment_id, annotator=user, task__conversation=conversation
    ).first()
