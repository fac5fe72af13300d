"""Reads of generation: a live chat's turns as its participant sees them, and a campaign's
generation queue, failures and spend as its admins see them."""

from __future__ import annotations

import string
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum

from annotation.kinds.rating import rating_chosen
from annotation.models import Assignment, Campaign, Conversation, Judgment, Message, Task
from generation.models import GenerationRequest, LanguageModel

# --- live chat ------------------------------------------------------------------------------


@dataclass
class LiveReply:
    """One slot of a turn: a reply streaming (text so far) or stored (its message)."""

    letter: str
    text: str
    message: Message | None = None
    failed: bool = False

    @property
    def id(self) -> int | None:
        return self.message.id if self.message else None


@dataclass
class LiveTurn:
    user: Message
    replies: list[LiveReply] = field(default_factory=list)
    assignment: Assignment | None = None  # the turn's rating task, leased to the participant
    judgment: Judgment | None = None
    chosen: LiveReply | None = None

    @property
    def generating(self) -> bool:
        return any(r.message is None and not r.failed for r in self.replies)

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.replies)


def live_conversations_of(*, campaign: Campaign, participant_id: int) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(
            campaign=campaign, origin=Conversation.Origin.LIVE, created_by_id=participant_id
        )
        .annotate(turns=Count("messages", filter=Q(messages__role=Message.Role.USER)))
        .order_by("-created_at")
    )


def live_chat_turns(*, conversation: Conversation, chosen_attribute: str) -> list[LiveTurn]:
    """The conversation's turns in order (each turn is a child of the reply chosen before it),
    in four queries whatever its length."""
    messages = list(Message.objects.filter(conversation=conversation).order_by("id"))
    requests = defaultdict(list)
    for r in GenerationRequest.objects.filter(
        parent__conversation=conversation, replaces__isnull=True
    ).order_by("id"):
        requests[r.parent_id].append(r)
    assignments = {
        a.task.parent_id: a
        for a in Assignment.objects.filter(
            task__conversation=conversation, task__state__in=[Task.State.LIVE, Task.State.COMPLETE]
        ).select_related("task")
    }
    judgments = {
        j.assignment_id: j for j in Judgment.objects.filter(task__conversation=conversation)
    }
    stored = {
        (m.metadata.get("generation_request"), m.metadata.get("sample")): m
        for m in messages
        if m.role == Message.Role.ASSISTANT
    }
    turns = []
    for user in (m for m in messages if m.role == Message.Role.USER):
        turn = LiveTurn(user=user)
        for r in requests.get(user.id, []):
            for j in range(r.n):
                letter = string.ascii_uppercase[len(turn.replies) % 26]
                message = stored.get((r.id, j))
                partial = r.partial_texts[j] if j < len(r.partial_texts) else ""
                turn.replies.append(
                    LiveReply(
                        letter=letter,
                        text=message.text if message else partial,
                        message=message,
                        failed=message is None and r.state == GenerationRequest.State.FAILED,
                    )
                )
        turn.assignment = assignments.get(user.id)
        if turn.assignment is not None:
            turn.judgment = judgments.get(turn.assignment.id)
        if turn.judgment is not None and turn.assignment is not None:
            chosen_id = rating_chosen(
                turn.judgment.payload,
                display_order=turn.assignment.display_order,
                attribute=chosen_attribute,
            )
            turn.chosen = next((r for r in turn.replies if r.id == chosen_id), None)
        turns.append(turn)
    return turns


# --- the admin's view of generation ---------------------------------------------------------


@dataclass(frozen=True)
class ModelSpend:
    name: str
    backend: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float  # wall time of the generation calls: GPU-seconds on a GPU worker


@dataclass(frozen=True)
class GenerationQueue:
    counts: dict[str, int]  # state -> requests
    total: int
    failures: list[GenerationRequest]
    recent: list[GenerationRequest]  # queued and running, oldest first
    spend: list[ModelSpend]

    @property
    def in_flight(self) -> int:
        return self.counts.get("queued", 0) + self.counts.get("running", 0)

    @property
    def done_share(self) -> float:
        return self.counts.get("done", 0) / self.total if self.total else 0.0


def generation_queue(*, campaign: Campaign, limit: int = 50) -> GenerationQueue:
    """The campaign's generation requests by state, its failures with their errors, what is
    in flight, and the tokens and compute-seconds spent per model."""
    qs = GenerationRequest.objects.filter(campaign=campaign)
    counts = {s: 0 for s in GenerationRequest.State.values}
    for state, n in qs.values_list("state").annotate(n=Count("id")).order_by():
        counts[state] = n
    failures = list(
        qs.filter(state=GenerationRequest.State.FAILED)
        .select_related("language_model", "parent", "replaces")
        .order_by("-finished_at", "-id")[:limit]
    )
    recent = list(
        qs.filter(state__in=[GenerationRequest.State.QUEUED, GenerationRequest.State.RUNNING])
        .select_related("language_model")
        .order_by("id")[:limit]
    )
    spend = [
        ModelSpend(
            name=row["language_model__name"],
            backend=row["language_model__backend"],
            requests=row["requests"],
            prompt_tokens=row["prompt"] or 0,
            completion_tokens=row["completion"] or 0,
            seconds=row["seconds"] or 0.0,
        )
        for row in qs.filter(state=GenerationRequest.State.DONE)
        .values("language_model__name", "language_model__backend")
        .annotate(
            requests=Count("id"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            seconds=Sum("seconds"),
        )
        .order_by("language_model__name")
    ]
    return GenerationQueue(
        counts=counts, total=sum(counts.values()), failures=failures, recent=recent, spend=spend
    )


def generated_candidates(*, campaign: Campaign, limit: int = 30) -> QuerySet[Message]:
    """The latest generated candidates (not live chat replies), for the regenerate action."""
    return (
        Message.objects.filter(
            conversation__campaign=campaign,
            role=Message.Role.ASSISTANT,
            model__isnull=False,
        )
        .exclude(conversation__origin=Conversation.Origin.LIVE)
        .exclude(model__backend="external")
        .exclude(metadata__has_key="replaced_by")
        .select_related("model", "parent")
        .order_by("-id")[:limit]
    )


def language_models_for(*, campaign: Campaign) -> QuerySet[LanguageModel]:
    """The models a campaign's admins see and may choose: those registered to generate
    (enabled, not external), and this campaign's own (chosen for it, or with responses in
    it). An external model is registered by the prompt file that brought its responses, and
    its name is that campaign's business: no other campaign lists it."""
    seen = (
        Message.objects.filter(conversation__campaign=campaign, model__isnull=False)
        .values("model_id")
        .distinct()
    )
    generating = Q(enabled=True) & ~Q(backend=LanguageModel.Backend.EXTERNAL)
    own = Q(campaigns=campaign) | Q(id__in=seen)
    return LanguageModel.objects.filter(generating | own).distinct().order_by("name")


def generation_request_of(*, campaign: Campaign, request_id: int) -> GenerationRequest | None:
    """One of this campaign's generation requests; another campaign's is None."""
    return GenerationRequest.objects.filter(id=request_id, campaign=campaign).first()
