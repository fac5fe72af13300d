"""Sending a request to the workers of its model's queue."""

from __future__ import annotations

from ..models import GenerationRequest


def request_enqueue(request: GenerationRequest) -> None:
    from ..tasks import generate_candidates_task

    generate_candidates_task.apply_async(args=(request.id,), queue=request.queue)
