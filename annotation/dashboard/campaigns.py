"""The campaign list, a new campaign, its overview and its state (open, paused, closed)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import selectors, services
from annotation.dashboard import charts
from annotation.dashboard.base import campaign_admin_page, dashboard_page, page, rule_errors
from annotation.dashboard.generation import generation_context
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign
from annotation.selectors import progress


@dashboard_page
@require_GET
def campaign_list(request: AuthedHttpRequest) -> HttpResponse:
    campaigns = list(selectors.campaigns_administered_by(user=request.user).order_by("-created_at"))
    summary = progress.campaigns_progress_summary(campaign_ids=[c.id for c in campaigns])
    rows = [(c, summary[c.id]) for c in campaigns]
    return page(request, "dashboard/campaigns.html", None, {"rows": rows})


@dashboard_page
@require_http_methods(["GET", "POST"])
def campaign_new(request: AuthedHttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            campaign = services.campaign_setup_start(
                name=request.POST.get("name", ""),
                slug=request.POST.get("slug", ""),
                description=request.POST.get("description", ""),
                instructions=request.POST.get("instructions", ""),
                created_by=request.user,
            )
        except RuleError as e:
            errors = rule_errors(e)
        else:
            return redirect("dashboard:setup_task", campaign_id=campaign.id)
    return page(
        request,
        "dashboard/setup_basics.html",
        None,
        {"form": request.POST, "errors": errors, "step": "basics"},
        status=422 if errors else 200,
    )


@dashboard_page
@require_POST
def markdown_preview(request: AuthedHttpRequest) -> HttpResponse:
    return render(
        request, "dashboard/_markdown_preview.html", {"text": request.POST.get("instructions", "")}
    )


def _overview(
    request: AuthedHttpRequest, campaign: Campaign, *, error: str = "", status: int = 200
) -> HttpResponse:
    p = progress.campaign_progress_overview(campaign=campaign)
    return page(
        request,
        "dashboard/overview.html",
        campaign,
        {
            "progress": p,
            "chart": charts.time_series(p.series, bucket=p.bucket),
            "planned": campaign.tasks.filter(priority__gt=0, state="open").count(),
            "error": error,
            **generation_context(campaign),
        },
        status=status,
    )


@campaign_admin_page
@require_GET
def campaign_overview(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    return _overview(request, campaign)


@campaign_admin_page
@require_POST
def campaign_state(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    try:
        services.campaign_state_set(campaign=campaign, state=request.POST.get("state", ""))
    except RuleError as e:
        campaign.refresh_from_db()
        return _overview(request, campaign, error=e.message, status=e.status)
    return redirect("dashboard:campaign", campaign_id=campaign.id)
