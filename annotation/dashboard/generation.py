"""Generation for a campaign's admins: the queue (queued / running / done / failed), each
failure with its error and a retry, tokens and compute-seconds per model, "make this candidate
again", and a button that starts generation (the service `manage.py generate` runs) whose
progress the page follows."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.dashboard.base import campaign_admin_page, page
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign
from generation import selectors, services
from generation.backends import BackendError

# How often the page asks for the queue while requests are in flight.
POLL = "every 2s"


def generation_context(campaign: Campaign) -> dict[str, Any]:
    """What the queue partial shows; the progress page includes it too."""
    return {"queue": selectors.generation_queue(campaign=campaign), "poll": POLL}


def _generation_page(
    request: AuthedHttpRequest,
    campaign: Campaign,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = generation_context(campaign)
    if request.htmx:
        return render(
            request, "dashboard/_generation_queue.html", {"campaign": campaign, **context}
        )
    context.update(
        candidates=selectors.generated_candidates(campaign=campaign),
        models=list(campaign.language_models.exclude(backend="external")),
        error=error,
        notice=" ".join(str(m) for m in messages.get_messages(request)),
    )
    return page(request, "dashboard/generation.html", campaign, context, status=status)


@campaign_admin_page
@require_GET
def generation_page(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    return _generation_page(request, campaign)


@campaign_admin_page
@require_POST
def generation_start(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    try:
        made = services.generation_requests_for_campaign(campaign=campaign)
    except BackendError as e:
        return _generation_page(request, campaign, error=str(e), status=409)
    notice = (
        f"Queued {len(made)} generation request{'s' if len(made) != 1 else ''}."
        if made
        else "Every prompt already has its candidates."
    )
    return _back(request, campaign, notice)


@campaign_admin_page
@require_POST
def generation_retry(
    request: AuthedHttpRequest, campaign: Campaign, request_id: int
) -> HttpResponse:
    failed = selectors.generation_request_of(campaign=campaign, request_id=request_id)
    if failed is None:
        return _generation_page(request, campaign, error="No such generation request.", status=404)
    retried = services.generation_retry(request=failed)
    if request.htmx:
        return _generation_page(request, campaign)
    return _back(request, campaign, f"Sent request {retried.id} again.")


@campaign_admin_page
@require_POST
def generation_regenerate(
    request: AuthedHttpRequest, campaign: Campaign, message_id: int
) -> HttpResponse:
    try:
        made = services.generation_regenerate(campaign=campaign, message_id=message_id)
    except RuleError as e:
        return _generation_page(request, campaign, error=e.message, status=e.status)
    return _back(request, campaign, f"Making candidate {message_id} again (request {made.id}).")


def _back(request: AuthedHttpRequest, campaign: Campaign, notice: str) -> HttpResponse:
    messages.success(request, notice)
    return redirect("dashboard:generation", campaign_id=campaign.id)
