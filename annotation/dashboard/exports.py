"""The Export tab: any format in any container started as an export job (the service that
`POST /api/v1/exports/` calls), its progress followed while it runs, the campaign's past jobs
with their size, rows and state, and their files. A request the service refuses (a format
the campaign cannot fill, a table to choose, a bad option) is shown with its reason."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotation.dashboard.base import campaign_admin_page, page
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign
from exports import services
from exports.models import ExportJob
from exports.options import CONTAINERS
from webapp.untrusted import json_parse

# How often the history asks for news while a job is queued or running.
POLL = "every 1s"
FLAGS = ("include_gold", "include_flagged", "include_repeats")


def _options(form: QueryDict) -> dict[str, Any]:
    """The form's options: the expert JSON (checked at the untrusted boundary) with the
    table and the checkboxes on top; export_plan checks every one of them."""
    raw = form.get("options", "").strip()
    options: Any = json_parse(raw, field="options", max_depth=4) if raw else {}
    if not isinstance(options, dict):
        raise RuleError('options: must be a JSON object, e.g. {"keep_ties": true}.')
    if table := form.get("table", ""):
        options["table"] = table
    for flag in FLAGS:
        if form.get(flag):
            options[flag] = True
    return options


def _context(campaign: Campaign) -> dict[str, Any]:
    jobs = services.export_jobs_of(campaign=campaign)
    active = any(j.state in (ExportJob.State.QUEUED, ExportJob.State.RUNNING) for j in jobs)
    return {"jobs": jobs, "active": active, "poll": POLL}


def _page(
    request: AuthedHttpRequest, campaign: Campaign, *, error: str = "", status: int = 200
) -> HttpResponse:
    context = _context(campaign)
    if request.htmx:
        return render(request, "dashboard/_export_jobs.html", {"campaign": campaign, **context})
    context.update(
        formats=services.export_choices(),
        containers=[(c, ExportJob.Container(c).label) for c in CONTAINERS],
        form=request.POST if request.method == "POST" else {},
        flags=FLAGS,
        error=error,
        notice=" ".join(str(m) for m in messages.get_messages(request)),
    )
    return page(request, "dashboard/exports.html", campaign, context, status=status)


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def export_page(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    if request.method == "GET":
        return _page(request, campaign)
    try:
        job = services.export_job_start(
            campaign=campaign,
            requested_by=request.user,
            fmt=request.POST.get("format", ""),
            container=request.POST.get("container", ""),
            options=_options(request.POST),
        )
    except RuleError as e:
        where = f" ({e.field})" if e.field and e.field not in e.message else ""
        status = 422 if e.status == 400 else e.status
        return _page(request, campaign, error=f"Not started{where}: {e.message}", status=status)
    messages.success(request, f"Export #{job.id} started: {job.format} as {job.container}.")
    return redirect("dashboard:exports", campaign_id=campaign.id)


@campaign_admin_page
@require_GET
def export_download(
    request: AuthedHttpRequest, campaign: Campaign, job_id: int
) -> HttpResponseBase:
    try:
        return services.export_job_download(
            job=services.export_job_of(campaign=campaign, job_id=job_id)
        )
    except RuleError as e:
        return _page(request, campaign, error=e.message, status=e.status)
