"""Campaigns as code on the dashboard: a new campaign from a spec (pasted or uploaded), and a
campaign's spec to read, download or apply (docs/campaign-spec.md)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods

from annotation.campaign_spec import MAX_SPEC_BYTES, spec_yaml
from annotation.dashboard.base import campaign_admin_page, dashboard_page, page
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest, file_headers
from annotation.models import Campaign
from annotation.selectors.campaign_spec import campaign_spec_of
from annotation.services.campaign_spec import campaign_spec_apply


def _spec_text(request: AuthedHttpRequest) -> str | bytes:
    """The uploaded file, else the pasted text (an upload past the limit is cut one byte
    past it, so the spec's parser refuses it by its size)."""
    upload = request.FILES.get("file")
    if upload:
        return upload.read(MAX_SPEC_BYTES + 1)
    return request.POST.get("spec", "")


def _shown(text: str | bytes) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


@dashboard_page
@require_http_methods(["GET", "POST"])
def campaign_new_from_spec(request: AuthedHttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"text": "", "spec_error": ""}
    if request.method == "POST":
        text = _spec_text(request)
        context["text"] = _shown(text)
        if not text.strip():
            context["spec_error"] = "Paste a spec or choose its file."
        else:
            try:
                applied = campaign_spec_apply(spec=text, user=request.user, create_only=True)
            except RuleError as e:
                context["spec_error"] = e.message
            else:
                return redirect("dashboard:campaign", campaign_id=applied.campaign.id)
    return page(
        request,
        "dashboard/campaign_spec.html",
        None,
        context,
        status=422 if context["spec_error"] else 200,
    )


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def campaign_spec_page(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    """The campaign's spec in an editor: applied here, it changes the campaign (all or
    nothing); the downloads are the same document."""
    context: dict[str, Any] = {"spec_error": "", "notice": ""}
    status = 200
    if request.method == "POST":
        text = _spec_text(request)
        try:
            campaign = campaign_spec_apply(spec=text, user=request.user, campaign=campaign).campaign
        except RuleError as e:
            context.update(spec_error=e.message, text=_shown(text))
            status = 422 if e.status == 400 else e.status
        else:
            context["notice"] = "Applied the spec."
    context.setdefault("text", spec_yaml(campaign_spec_of(campaign=campaign)))
    return page(request, "dashboard/campaign_spec.html", campaign, context, status=status)


@campaign_admin_page
@require_GET
def campaign_spec_download(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    spec = campaign_spec_of(campaign=campaign)
    if request.GET.get("format") == "json":
        body, kind, ext = json.dumps(spec, indent=2, ensure_ascii=False), "application/json", "json"
    else:
        body, kind, ext = spec_yaml(spec), "application/yaml", "yaml"
    response = HttpResponse(body, content_type=f"{kind}; charset=utf-8")
    file_headers(response, disposition=f'attachment; filename="{campaign.slug}.{ext}"')
    return response
