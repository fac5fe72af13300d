"""Generating candidates: requests for them, running them on a worker, the tasks they make.

A request asks one model for n replies to one parent message in one round. Running it calls
the backend outside any transaction (it is slow), then stores the replies, their provenance
and the request's completion in one transaction, so a second delivery stores nothing.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from annotation.models import Attachment, Campaign, Conversation, Message, Task
from annotation.selectors import conversation_path, messages_with_files
from annotation.services import tasks_create_for_candidates
from generation.backends import (
    Backend,
    BackendError,
    Candidate,
    ImageData,
    SamplingParams,
    backend_for,
)
from generation.backends import Message as ChatMessage
from generation.models import GenerationRequest, LanguageModel
from generation.services import live
from generation.services.queue import request_enqueue
from webapp.queueing import claim_fields, claim_q, heartbeat

# A streaming reply's text is written for the page this often (seconds) at most.
PARTIAL_EVERY = 0.2
# Not the seeded `random`: the order candidates are stored in must not be predictable.
_shuffler = random.SystemRandom()


def generation_request_create(
    *,
    campaign: Campaign,
    parent: Message,
    language_model: LanguageModel,
    n: int = 1,
    sampling_params: dict | None = None,
    enqueue: bool = True,
) -> tuple[GenerationRequest, bool]:
    """A request for n replies (once per parent, model and round); queued after commit."""
    if language_model.backend == LanguageModel.Backend.EXTERNAL:
        raise BackendError(f"{language_model.name} is external: its responses are imported.")
    if not language_model.enabled:
        raise BackendError(f"{language_model.name} is disabled.")
    request, created = GenerationRequest.objects.get_or_create(
        parent=parent,
        language_model=language_model,
        round=campaign.current_round,
        replaces__isnull=True,
        defaults={"campaign": campaign, "n": n, "sampling_params": sampling_params or {}},
    )
    if created and enqueue:
        transaction.on_commit(lambda: request_enqueue(request))
    return request, created


def parents_needing_candidates(*, campaign: Campaign) -> QuerySet[Message]:
    """Prompts of the campaign (user turns at the end of a branch) short of candidates."""
    wanted = campaign.responses_per_prompt
    return (
        Message.objects.filter(conversation__campaign=campaign, role=Message.Role.USER)
        # A live chat asks for its own replies, turn by turn.
        .exclude(conversation__origin=Conversation.Origin.LIVE)
        .annotate(
            candidates=Count(
                "children",
                filter=Q(children__role=Message.Role.ASSISTANT)
                & Q(children__round=campaign.current_round),
            ),
            user_replies=Count("children", filter=Q(children__role=Message.Role.USER)),
        )
        .filter(candidates__lt=wanted, user_replies=0)
        .order_by("id")
    )


def generation_requests_for_campaign(
    *,
    campaign: Campaign,
    models: Sequence[LanguageModel] | None = None,
    n: int | None = None,
    limit: int | None = None,
    enqueue: bool = True,
) -> list[GenerationRequest]:
    """Requests for every prompt still short of candidates, shared among the models."""
    models = list(models or campaign.language_models.filter(enabled=True).exclude(
        backend=LanguageModel.Backend.EXTERNAL
    ))  # fmt: skip
    if not models:
        raise BackendError("The campaign names no model that can generate.")
    per_model = n or max(1, math.ceil(campaign.responses_per_prompt / len(models)))
    # A worker stores a request's replies when it finishes it, so the order a prompt's
    # requests finish in becomes the order of its candidates' ids, which annotators see. Each
    # prompt asks its models in a random order, and the queue holds every prompt's first
    # request before any prompt's second: workers running side by side then take one
    # prompt's requests far apart, and a faster model does not finish first by being faster.
    made = []
    with transaction.atomic():
        parents = list(parents_needing_candidates(campaign=campaign)[:limit])
        orders = [_shuffler.sample(models, len(models)) for _ in parents]
        for place in range(len(models)):
            for parent, order in zip(parents, orders, strict=True):
                request, created = generation_request_create(
                    campaign=campaign, parent=parent, language_model=order[place], n=per_model,
                    enqueue=enqueue,
                )  # fmt: skip
                if created:
                    made.append(request)
    return made


def _claim(request_id: int, now: datetime) -> bool:
    """Take the request for this worker: a queued one, or a running one whose worker died
    (webapp.queueing.claim_q). A done or failed request, or one another worker is running,
    is not run again."""
    return bool(
        GenerationRequest.objects.filter(claim_q(now), id=request_id).update(**claim_fields(now))
    )


def _release(request_id: int) -> None:
    """Give a request that raised back to the queue, for its task's retry to claim."""
    GenerationRequest.objects.filter(id=request_id, state=GenerationRequest.State.RUNNING).update(
        state=GenerationRequest.State.QUEUED, heartbeat_at=None, enqueued_at=timezone.now()
    )


def generation_run(*, request_id: int) -> GenerationRequest:
    """Generate the request's replies and store them with everything about how they were
    made; create the comparison tasks once the parent has enough candidates. A request that
    raises goes back to the queue (the task retries it or marks it failed)."""
    now = timezone.now()
    if not _claim(request_id, now):
        return GenerationRequest.objects.get(id=request_id)
    try:
        with heartbeat(GenerationRequest, request_id):
            return _generate(request_id)
    except Exception:
        _release(request_id)
        raise


def _generate(request_id: int) -> GenerationRequest:
    request = GenerationRequest.objects.select_related(
        "language_model", "parent__conversation", "campaign"
    ).get(id=request_id)
    model = request.language_model
    conversation = conversation_for_model(parent=request.parent)
    params = SamplingParams.from_dict({**model.sampling_params, **request.sampling_params})
    backend = backend_for(
        model.backend,
        model.settings,
        allowed_base_urls=getattr(settings, "AGORA_OPENAI_ALLOWED_BASE_URLS", ()),
    )
    started = timezone.now()
    if request.parent.conversation.origin == Conversation.Origin.LIVE:
        candidates = _stream(backend, request, conversation, params)
    else:
        [candidates] = backend.generate([conversation], params, n=request.n)
    seconds = (timezone.now() - started).total_seconds()

    with transaction.atomic():
        # The parent's row is the lock that keeps two finishing requests from both
        # creating the tasks, and a redelivered request from storing a second set.
        Message.objects.select_for_update().filter(id=request.parent_id).first()
        request.refresh_from_db(fields=["state"])
        stored = Message.objects.filter(
            parent_id=request.parent_id, metadata__generation_request=request.id
        ).exists()
        if request.state != GenerationRequest.State.RUNNING or stored:
            return request
        Message.objects.bulk_create(
            [
                Message(
                    conversation_id=request.parent.conversation_id,
                    parent_id=request.parent_id,
                    role=Message.Role.ASSISTANT,
                    text=c.text,
                    model=model,
                    sampling_params=c.params.to_dict(),
                    prompt_tokens=c.prompt_tokens,
                    completion_tokens=c.completion_tokens,
                    latency_ms=c.latency_ms,
                    finish_reason=c.finish_reason,
                    backend=c.backend,
                    worker=c.worker,
                    round=request.round,
                    metadata={
                        "generation_request": request.id,
                        "sample": j,
                        "model_identifier": c.model,
                    },
                )
                for j, c in enumerate(candidates)
            ]
        )
        request.state = GenerationRequest.State.DONE
        request.error = ""
        request.worker = candidates[0].worker if candidates else ""
        request.prompt_tokens = sum(c.prompt_tokens or 0 for c in candidates)
        request.completion_tokens = sum(c.completion_tokens or 0 for c in candidates)
        request.seconds = seconds
        request.finished_at = timezone.now()
        request.save(
            update_fields=["state", "error", "worker", "prompt_tokens", "completion_tokens",
                           "seconds", "finished_at"]
        )  # fmt: skip
        if request.parent.conversation.origin == Conversation.Origin.LIVE:
            live.live_turn_task_when_done(request=request)
        elif request.replaces_id is not None:
            _tasks_for_regenerated(request)
        else:
            _tasks_when_enough(request)
    return request


def conversation_for_model(*, parent: Message) -> list[ChatMessage]:
    """The path from the root to `parent` as a backend takes it, each message with the images
    it carries (their bytes, read from the media storage): a model that sees images gets
    them, and a text-only one refuses the request rather than answer about a picture it
    never saw (generation.backends.check_batch)."""
    out: list[ChatMessage] = []
    for m in messages_with_files(conversation_path(message=parent)):
        message: ChatMessage = {"role": m.role, "content": m.text}
        files = [a for a in m.files if a.kind == Attachment.Kind.IMAGE]  # type: ignore[attr-defined]  # set by messages_with_files
        if files:
            message["images"] = [ImageData(_read(a), a.content_type) for a in files]
        out.append(message)
    return out


def _read(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as f:
        data: bytes = f.read()
    return data


def _stream(
    backend: Backend,
    request: GenerationRequest,
    conversation: list[ChatMessage],
    params: SamplingParams,
) -> list[Candidate]:
    """A live chat's replies, one sample after another, their text written to the request
    as it comes so the participant's page shows it growing."""
    texts = [""] * request.n
    candidates = []
    for j, sample in enumerate(params.per_sample(request.n)):
        stream = backend.stream(conversation, sample)
        written = time.monotonic()
        for delta in stream:
            texts[j] += delta
            if time.monotonic() - written >= PARTIAL_EVERY:
                GenerationRequest.objects.filter(id=request.id).update(partial_texts=texts)
                written = time.monotonic()
        assert stream.candidate is not None  # set once the stream is exhausted
        candidates.append(stream.candidate)
        texts[j] = stream.candidate.text
        GenerationRequest.objects.filter(id=request.id).update(partial_texts=texts)
    return candidates


def _tasks_for_regenerated(request: GenerationRequest) -> list[Task]:
    """A regenerated candidate takes the place of the one it replaces in new tasks."""
    new = Message.objects.filter(metadata__generation_request=request.id).order_by("id").first()
    if new is None:
        return []
    assert request.replaces_id is not None  # only regenerations come here
    old = Message.objects.get(pk=request.replaces_id)
    old.metadata = {**old.metadata, "replaced_by": new.id}
    old.save(update_fields=["metadata"])
    current = _current_candidates(request.parent_id, request.round)
    if len(current) < request.campaign.responses_per_prompt:
        return []  # the set is not complete yet: its last request makes every task
    return tasks_create_for_candidates(
        campaign=request.campaign, parent=request.parent, candidates=current, only_with=new
    )


def _current_candidates(parent_id: int, round: int) -> list[Message]:
    """The parent's candidates in a round, less those an admin had made again, in the order
    of their models (the same for every prompt, as a prompt file's order is; their ids come in
    a random order of the models)."""
    return list(
        Message.objects.filter(parent_id=parent_id, role=Message.Role.ASSISTANT, round=round)
        .exclude(metadata__has_key="replaced_by")
        .order_by("model_id", "id")
    )


def _tasks_when_enough(request: GenerationRequest) -> list[Task]:
    """The tree's rule: enough sibling candidates in this round make the campaign's tasks."""
    campaign = request.campaign
    made = Task.objects.filter(parent_id=request.parent_id, round=request.round)
    if made.exclude(state=Task.State.CANCELLED).exists():
        return []
    siblings = _current_candidates(request.parent_id, request.round)
    if len(siblings) < campaign.responses_per_prompt:
        return []
    return tasks_create_for_candidates(
        campaign=campaign, parent=request.parent, candidates=siblings
    )


def generation_fail(*, request_id: int, error: str) -> None:
    GenerationRequest.objects.filter(id=request_id).exclude(
        state=GenerationRequest.State.DONE
    ).update(state=GenerationRequest.State.FAILED, error=error[:5000], finished_at=timezone.now())


def generation_buffer_top_up(*, campaign: Campaign) -> list[GenerationRequest]:
    """Keep `generation_buffer` tasks ready ahead of the annotators: count the tasks with a
    free slot and the requests still in flight, and ask for the difference."""
    if campaign.generation_buffer <= 0 or campaign.state != Campaign.State.OPEN:
        return []
    ready = (
        Task.objects.filter(
            campaign=campaign,
            state=Task.State.OPEN,
            judgments_count__lt=F("overlap") - F("leased_count"),
        )
        .order_by()[: campaign.generation_buffer]
        .count()
    )
    in_flight = (
        GenerationRequest.objects.filter(
            campaign=campaign,
            state__in=[GenerationRequest.State.QUEUED, GenerationRequest.State.RUNNING],
        )
        .values("parent_id")
        .distinct()
        .count()
    )
    short = campaign.generation_buffer - ready - in_flight
    if short <= 0:
        return []
    return generation_requests_for_campaign(campaign=campaign, limit=short)


def campaign_round_start(
    *, campaign: Campaign, models: Sequence[LanguageModel]
) -> list[GenerationRequest]:
    """A new round of on-policy collection: the campaign's models become `models` (e.g. a new
    checkpoint), and every prompt gets fresh candidates, tasks and judgments in this round."""
    with transaction.atomic():
        Campaign.objects.filter(id=campaign.id).update(current_round=F("current_round") + 1)
        campaign.refresh_from_db(fields=["current_round"])
        campaign.language_models.set(models)
        return generation_requests_for_campaign(campaign=campaign, models=models)


def generation_buffers_top_up() -> int:
    campaigns = Campaign.objects.filter(state=Campaign.State.OPEN, generation_buffer__gt=0)
    made = 0
    for campaign in campaigns:
        try:
            made += len(generation_buffer_top_up(campaign=campaign))
        except BackendError:
            continue  # a campaign without a generating model has nothing to top up
    return made
