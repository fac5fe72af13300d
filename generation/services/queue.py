"""Sending a request to the workers of its model's queue, and again if the broker was down
or lost it, or its worker died (webapp.queueing: the row is the truth, the message a
notification)."""

from __future__ import annotations

from generation.models import GenerationRequest
from webapp.queueing import mark_enqueued, rows_resend, task_send


def request_enqueue(request: GenerationRequest) -> bool:
    """Send the request to a worker; a broker that is down leaves it for the sweeper."""
    from generation.tasks import generate_candidates_task

    if not task_send(generate_candidates_task, args=(request.id,), queue=request.queue):
        return False
    mark_enqueued(GenerationRequest, request.id)
    return True


def generation_enqueue(*, request: GenerationRequest) -> bool:
    """Send a queued request to a worker now (the admin's "send again")."""
    return request_enqueue(request)


def generation_requests_resend() -> int:
    """The sweep: a running request whose worker died is queued again (or failed, its
    attempts spent), and every queued request whose message never reached the broker or was
    lost there is sent again; how many were sent."""
    return rows_resend(
        GenerationRequest.objects.select_related("language_model"),
        request_enqueue,
        requeue={"partial_texts": []},
    )
