"""Every write and rule of generation. The Celery tasks, the CLI, the pages and the tests call
these."""

from generation.services.admin import generation_regenerate, generation_retry
from generation.services.candidates import (
    campaign_round_start,
    generation_buffer_top_up,
    generation_buffers_top_up,
    generation_fail,
    generation_request_create,
    generation_requests_for_campaign,
    generation_run,
    parents_needing_candidates,
)
from generation.services.live import live_chat_say, live_chat_start, live_turn_retry
from generation.services.queue import generation_enqueue, generation_requests_resend

__all__ = [
    "campaign_round_start",
    "generation_buffer_top_up",
    "generation_buffers_top_up",
    "generation_enqueue",
    "generation_fail",
    "generation_regenerate",
    "generation_request_create",
    "generation_requests_for_campaign",
    "generation_requests_resend",
    "generation_retry",
    "generation_run",
    "live_chat_say",
    "live_chat_start",
    "live_turn_retry",
    "parents_needing_candidates",
]
