"""Live chat (PRISM's live conversations): a participant writes a turn, the campaign's models
answer it (several at the first turn, then the chosen model a few times), streamed to the page
by the workers; the participant rates every reply 1-100 and the chosen one carries the
conversation on. Each turn's replies become a rating task for that participant alone.

The tree: Conversation(origin=live) -> the participant's turn -> the models' replies -> under
the chosen reply, the participant's next turn -> ...
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from django.db import transaction
from django.utils.translation import gettext as _

from annotation.errors import Conflict, Forbidden, RuleError
from annotation.kinds.rating import chosen_attribute, rating_chosen
from annotation.models import (
    Assignment,
    Campaign,
    Conversation,
    Judgment,
    Membership,
    Message,
    Task,
    User,
)
from annotation.services.live import live_task_create
from annotation.services.studies import gate as study_gate
from generation.models import GenerationRequest, LanguageModel
from generation.services.queue import request_enqueue

MAX_TURN_CHARS = 5000


def live_chat_start(
    *, campaign: Campaign, participant: User, text: str, prism_type: str = ""
) -> Conversation:
    """A new live conversation with the participant's first turn; its replies are queued.
    `prism_type` is PRISM's conversation type (unguided, values or controversy guided; ""
    for none), whose guidance the participant was shown."""
    _check_open(campaign, participant)
    if prism_type not in ("", *Conversation.PrismType.values):
        raise RuleError(
            _("Choose one of the kinds of conversation offered."), field="conversation_type"
        )
    text = _turn_text(text)
    models = _generating_models(campaign)
    with transaction.atomic():
        conversation = Conversation.objects.create(
            campaign=campaign,
            origin=Conversation.Origin.LIVE,
            created_by=participant,
            prism_type=prism_type,
        )
        turn = Message.objects.create(
            conversation=conversation, role=Message.Role.USER, text=text, author=participant
        )
        _replies_request(campaign, turn, _share(models, campaign.live_first_replies))
    return conversation


def live_chat_say(*, conversation: Conversation, participant: User, text: str) -> Message:
    """The participant's next turn, under the reply they chose; the chosen model answers it
    `live_later_replies` times. Sending the same turn twice (a double click) stores it once."""
    text = _turn_text(text)
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(id=conversation.id)
        campaign = conversation.campaign
        if conversation.created_by_id != participant.id:
            raise Forbidden(_("This conversation is someone else's."))
        _check_open(campaign, participant)
        last = _last_turn_judgment(conversation)
        if last is None:
            raise Conflict(_("Rate the replies to your last message first."), code="not_rated")
        judgment, display_order = last
        chosen_id = rating_chosen(
            judgment.payload,
            display_order=display_order,
            attribute=chosen_attribute(campaign.settings),
        )
        if chosen_id is None:
            raise Conflict(_("Rate the replies to your last message first."), code="not_rated")
        chosen = Message.objects.select_related("model").get(id=chosen_id)
        already = chosen.children.filter(role=Message.Role.USER).first()
        if already is not None:
            if already.text == text:
                return already
            raise Conflict(_("You already answered this reply."), code="already_answered")
        turns = Message.objects.filter(
            conversation=conversation, role=Message.Role.USER, author=participant
        ).count()
        if turns >= campaign.live_max_turns:
            raise Conflict(
                _("This conversation has had its %(n)d turns.") % {"n": campaign.live_max_turns},
                code="max_turns",
            )
        turn = Message.objects.create(
            conversation=conversation,
            parent=chosen,
            role=Message.Role.USER,
            text=text,
            author=participant,
        )
        model = chosen.model
        if model is not None and model.enabled:
            shares = [(model, campaign.live_later_replies)]
        else:  # the chosen model was switched off meanwhile: the campaign's others answer
            shares = _share(_generating_models(campaign), campaign.live_later_replies)
        _replies_request(campaign, turn, shares)
    return turn


def live_turn_task_when_done(*, request: GenerationRequest) -> Assignment | None:
    """Called in the transaction that stores a live request's replies (the parent's row is
    locked): once every request of the turn is done, its rating task goes to the participant,
    the replies in the order their slots streamed on the page."""
    requests = GenerationRequest.objects.filter(
        parent_id=request.parent_id, round=request.round, replaces__isnull=True
    )
    if requests.exclude(state=GenerationRequest.State.DONE).exists():
        return None
    if Task.objects.filter(parent_id=request.parent_id, state=Task.State.LIVE).exists():
        return None
    replies = sorted(
        Message.objects.filter(parent_id=request.parent_id, role=Message.Role.ASSISTANT),
        key=lambda m: (m.metadata.get("generation_request", 0), m.metadata.get("sample", 0)),
    )
    conversation = request.parent.conversation
    assert conversation.created_by is not None  # a live conversation has its participant
    return live_task_create(
        campaign=request.campaign,
        parent=request.parent,
        replies=replies,
        participant=conversation.created_by,
    )


def live_turn_retry(*, conversation: Conversation, participant: User) -> int:
    """Send the failed replies of the participant's current turn again."""
    if conversation.created_by_id != participant.id:
        raise Forbidden(_("This conversation is someone else's."))
    failed = GenerationRequest.objects.filter(
        parent__conversation=conversation, state=GenerationRequest.State.FAILED
    )
    retried = 0
    for request in failed:
        updated = GenerationRequest.objects.filter(
            id=request.id, state=GenerationRequest.State.FAILED
        ).update(state=GenerationRequest.State.QUEUED, error="", partial_texts=[])
        if updated:
            transaction.on_commit(lambda r=request: request_enqueue(r))  # type: ignore[misc]  # default binds the loop's row
            retried += 1
    return retried


def _check_open(campaign: Campaign, participant: User) -> None:
    if campaign.live_first_replies < 1 or campaign.task_kind != Campaign.Kind.RATING:
        raise RuleError(_("This campaign has no live chat."), code="no_live_chat")
    if campaign.state != Campaign.State.OPEN:
        raise Conflict(_("This campaign is not open."), code="closed")
    member = (
        Membership.objects.filter(campaign=campaign, user=participant)
        .values_list("is_blocked", "stage")
        .first()
    )
    if member is not None and member[0]:
        raise Forbidden(_("You can no longer take part in this campaign."), code="blocked")
    # A study participant chats once through consent, survey and qualification, as for tasks.
    if member is not None and (refusal := study_gate.stage_refusal(member[1])):
        raise refusal


def _turn_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise RuleError(_("Write a message first."), field="text")
    if len(text) > MAX_TURN_CHARS:
        raise RuleError(
            _("A message holds at most %(max)d characters; this one has %(n)d.")
            % {"max": MAX_TURN_CHARS, "n": len(text)},
            field="text",
        )
    return text


def _generating_models(campaign: Campaign) -> list[LanguageModel]:
    models = list(
        campaign.language_models.filter(enabled=True).exclude(
            backend=LanguageModel.Backend.EXTERNAL
        )
    )
    if not models:
        raise RuleError(_("No model can answer in this campaign yet."), code="no_model")
    return models


def _share(models: Sequence[LanguageModel], replies: int) -> list[tuple[LanguageModel, int]]:
    """`replies` spread over the models in a random order: different models while there are
    enough, then a second sample of each. The order is the slots' order on the page, so a
    slot's place says nothing of its model."""
    shuffled = random.sample(list(models), len(models))
    count = Counter(shuffled[i % len(shuffled)].id for i in range(replies))
    return [(m, count[m.id]) for m in shuffled if count[m.id]]


def _replies_request(
    campaign: Campaign, turn: Message, shares: Sequence[tuple[LanguageModel, int]]
) -> list[GenerationRequest]:
    requests = GenerationRequest.objects.bulk_create(
        [
            GenerationRequest(
                campaign=campaign,
                parent=turn,
                language_model=model,
                n=n,
                round=campaign.current_round,
            )
            for model, n in shares
        ]
    )
    for request in requests:
        transaction.on_commit(lambda r=request: request_enqueue(r))  # type: ignore[misc]  # default binds the loop's row
    return requests


def _last_turn_judgment(conversation: Conversation) -> tuple[Judgment, list[int]] | None:
    """The judgment of the conversation's latest turn, with the order its replies were shown;
    None while that turn is not rated yet."""
    task = (
        Task.objects.filter(
            conversation=conversation, state__in=[Task.State.LIVE, Task.State.COMPLETE]
        )
        .order_by("-id")
        .first()
    )
    if task is None:
        return None
    judgment = Judgment.objects.filter(task=task).select_related("assignment").first()
    if judgment is None:
        return None
    return judgment, list(judgment.assignment.display_order)
