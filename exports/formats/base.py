"""What every format needs: judgments in id order, in batches, with their context resolved."""

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet

from annotation.models import Campaign, Judgment, Membership, Message


def judgments_in_batches(
    campaign: Campaign, *, kind: str | None = None, batch_size: int | None = None
) -> Iterator[list[Judgment]]:
    """The campaign's judgments by id, a batch at a time (keyset pages, flat memory).

    Judgments of annotators an admin flagged are held out.
    """
    batch_size = batch_size or settings.AGORA_EXPORT_BATCH_SIZE
    flagged = Membership.objects.filter(
        campaign=campaign, user=OuterRef("annotator_id"), is_flagged=True
    )
    qs: QuerySet[Judgment] = (
        Judgment.objects.filter(campaign=campaign)
        .filter(~Exists(flagged))
        .select_related("annotator", "profile", "assignment", "task__conversation")
        .order_by("id")
    )
    if kind:
        qs = qs.filter(kind=kind)
    last_id = 0
    while True:
        batch = list(qs.filter(id__gt=last_id)[:batch_size])
        if not batch:
            return
        yield batch
        last_id = batch[-1].id


class MessageIndex:
    """Every message of a batch's conversations, loaded in one query, to walk paths in memory."""

    def __init__(self, conversation_ids: set[int]):
        self.by_id: dict[int, Message] = {
            m.id: m
            for m in Message.objects.filter(conversation_id__in=conversation_ids).select_related(
                "model"
            )
        }

    def path(self, message_id: int | None) -> list[Message]:
        out = []
        while message_id is not None:
            m = self.by_id[message_id]
            out.append(m)
            message_id = m.parent_id
        return out[::-1]

    def __getitem__(self, message_id: int) -> Message:
        return self.by_id[message_id]


def as_chat(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.text} for m in messages]
