"""A PRISM-style live chat campaign over the real default model, and ways to drive it."""

import time

from django.db import OperationalError

from annotation.models import Assignment, Campaign, Task
from annotation.services import judgment_submit
from generation.models import GenerationRequest, LanguageModel
from generation.tasks import generate_candidates_task
from tests.conftest import WAIT_SECONDS

PRISM_LIVE = {
    "attributes": [{"name": "score", "scale": {"type": "slider", "min": 1, "max": 100}}],
    "followup": {"feedback": "optional"},
}


def smol_models(n: int, *, max_new_tokens: int = 6) -> list[LanguageModel]:
    """n registry rows over the one default model (the worker loads it once)."""
    return [
        LanguageModel.objects.create(
            name=f"smol-{i}",
            backend="transformers",
            settings={"threads": 1},
            sampling_params={"max_new_tokens": max_new_tokens, "temperature": 0.7, "seed": 7 + i},
        )
        for i in range(n)
    ]


def live_campaign(make_campaign, members, models, **fields) -> Campaign:
    fields = {"live_first_replies": 4, "live_later_replies": 2, "live_max_turns": 3, **fields}
    campaign = make_campaign(
        members=members, task_kind="rating", settings=PRISM_LIVE, overlap=1, **fields
    )
    campaign.language_models.set(models)
    return campaign


def run_requests_here(conversation) -> None:
    """Run the turn's queued requests in this process (what a worker does)."""
    for request in GenerationRequest.objects.filter(
        parent__conversation=conversation, state="queued"
    ):
        generate_candidates_task.apply(args=[request.id])


def wait_for_turn(conversation, turn: int, *, seconds: float = WAIT_SECONDS * 6) -> Assignment:
    """The participant's lease on the conversation's `turn`-th rating task, once it exists."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            tasks = list(Task.objects.filter(conversation=conversation).order_by("id"))
            if len(tasks) >= turn:
                return Assignment.objects.get(task=tasks[turn - 1])
            failed = GenerationRequest.objects.filter(
                parent__conversation=conversation, state="failed"
            ).first()
        except OperationalError as e:
            # The SQLite test database lives in memory with a shared cache, whose table locks
            # refuse a read at once while the worker's thread is writing; look again.
            if "locked" not in str(e):
                raise
            failed = None
        assert failed is None, failed.error
        time.sleep(0.2)
    raise AssertionError(f"turn {turn} never got its rating task")


def rate(assignment: Assignment, annotator, scores: list[int], **followup):
    """Score the replies in the order shown; the highest is chosen unless told otherwise."""
    order = assignment.display_order
    best = order[scores.index(max(scores))]
    judgment, _ = judgment_submit(
        assignment=assignment,
        annotator=annotator,
        payload={
            "ratings": {str(m): {"score": s} for m, s in zip(order, scores, strict=True)},
            "followup": {"chosen": best, **followup},
        },
        idempotency_key=f"live-{assignment.id}",
    )
    return judgment, best
