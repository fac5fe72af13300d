"""What a campaign admin does to generation: start it, retry a failure, make a candidate
again."""

from __future__ import annotations

import secrets

from django.db import transaction

from annotation.errors import Conflict, NotFound, RuleError
from annotation.models import Assignment, Campaign, Conversation, Judgment, Message, Task
from generation.models import GenerationRequest, LanguageModel
from generation.services.queue import request_enqueue


def generation_retry(*, request: GenerationRequest) -> GenerationRequest:
    """Send a failed request again (the admin's retry)."""
    updated = GenerationRequest.objects.filter(
        id=request.id, state=GenerationRequest.State.FAILED
    ).update(state=GenerationRequest.State.QUEUED, error="", partial_texts=[], enqueued_at=None)
    if updated:
        transaction.on_commit(lambda: request_enqueue(request))
    request.refresh_from_db()
    return request


@transaction.atomic
def generation_regenerate(*, campaign: Campaign, message_id: int) -> GenerationRequest:
    """Make a candidate again with its model and a fresh seed (say it came out empty or
    garbled). Its tasks that nobody has judged are cancelled; the new candidate joins new
    ones with its siblings. A candidate someone has judged or is judging stays: its
    judgments are about its text."""
    candidate = (
        # Only the candidate's row: its model is a nullable (outer) join PostgreSQL cannot lock.
        Message.objects.select_for_update(of=("self",))
        .select_related("model", "conversation")
        .filter(id=message_id, conversation__campaign=campaign, role=Message.Role.ASSISTANT)
        .first()
    )
    if candidate is None:
        raise NotFound("No such candidate in this campaign.", code="not_found")
    model = candidate.model
    if model is None or model.backend == LanguageModel.Backend.EXTERNAL:
        raise RuleError("This response was imported, not generated: there is nothing to rerun.")
    if candidate.conversation.origin == Conversation.Origin.LIVE:
        raise RuleError("A live chat's replies belong to its participant's conversation.")
    if not model.enabled:
        raise RuleError(f"{model.name} is disabled.")
    existing = GenerationRequest.objects.filter(replaces=candidate).first()
    if existing is not None:
        return existing
    if "replaced_by" in candidate.metadata:
        raise Conflict("This candidate was already made again.")
    assert candidate.parent is not None  # a candidate answers a parent
    tasks = Task.objects.filter(candidates=candidate)
    if Judgment.objects.filter(task__in=tasks).exists():
        raise Conflict("Annotators have judged this candidate; its judgments need its text.")
    if Assignment.objects.filter(task__in=tasks, state=Assignment.State.ACTIVE).exists():
        raise Conflict("An annotator is judging this candidate now; try again later.")
    tasks.filter(state__in=[Task.State.OPEN, Task.State.REPEAT]).update(state=Task.State.CANCELLED)
    request = GenerationRequest.objects.create(
        campaign=campaign,
        parent=candidate.parent,
        language_model=model,
        n=1,
        round=candidate.round,
        replaces=candidate,
        # The model's own seed would draw the same text again.
        sampling_params={"seed": secrets.randbelow(2**31)},
    )
    transaction.on_commit(lambda: request_enqueue(request))
    return request
