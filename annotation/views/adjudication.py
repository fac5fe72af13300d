"""The adjudication page: the next disputed item with all its judgments side by side,
anonymised, and the final answer in the kind's own form, or ambiguous. Each view calls the
services (services.adjudication)."""

from __future__ import annotations

import json
import string
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from annotation import access
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign
from annotation.selectors.adjudication import payload_named
from annotation.services import adjudication
from annotation.views.base import form_draft, refused_status


@login_required
@require_GET
def adjudication_page(request: AuthedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = access.campaign_for_reviewer(user=request.user, campaign_id=campaign_id)
    return _response(request, campaign)


@login_required
@require_POST
def adjudication_submit(
    request: AuthedHttpRequest, campaign_id: int, adjudication_id: int
) -> HttpResponse:
    campaign = access.campaign_for_reviewer(user=request.user, campaign_id=campaign_id)
    ambiguous = request.POST.get("decision") == "ambiguous"
    try:
        payload = None
        if not ambiguous:
            payload = adjudication.final_answer_from_form(
                adjudication_id=adjudication_id, campaign=campaign, data=request.POST
            )
        adjudication.adjudication_decide(
            adjudication_id=adjudication_id,
            reviewer=request.user,
            campaign=campaign,
            payload=payload,
            ambiguous=ambiguous,
            note=request.POST.get("note", ""),
        )
    except RuleError as e:
        return _response(
            request, campaign, error=e.message, form=request.POST, status=refused_status(e)
        )
    if not request.htmx:
        return redirect("adjudication_page", campaign_id=campaign.id)
    return _response(request, campaign, notice=_("Saved."))


def _response(
    request: AuthedHttpRequest,
    campaign: Campaign,
    *,
    error: str = "",
    notice: str = "",
    form: QueryDict | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "campaign": campaign,
        "error": error,
        "notice": notice,
        "form": form or {},
        "shortcuts": [],
    }
    try:
        item = adjudication.adjudication_next(campaign=campaign, reviewer=request.user)
    except RuleError as e:
        item, context["error"], status = None, error or e.message, e.status
    if item is not None:
        kind, settings = adjudication.kind_settings_of(item.adjudication, campaign)
        letters = dict(zip((c.id for c in item.candidates), string.ascii_uppercase, strict=False))
        context.update(
            item=item,
            kind=kind,
            settings=settings,
            shortcuts=[
                *[(key, _(what)) for key, what in kind.shortcuts(settings) if key != "S"],
                ("S", _("Mark the item ambiguous")),
            ],
            # Named by their place on this screen (A, B, ...), never by model or annotator.
            candidates=list(zip(string.ascii_uppercase, item.candidates, strict=False)),
            opinions=[
                (
                    o.label,
                    json.dumps(
                        payload_named(_without_reasons(o.payload), letters),
                        ensure_ascii=False,
                        sort_keys=True,
                    ),
                    o.reason,
                )
                for o in item.opinions
            ],
        )
        if context["form"]:
            context["draft"] = form_draft(context["form"])
    template = (
        "annotation/_adjudication_card.html" if request.htmx else "annotation/adjudication.html"
    )
    return render(request, template, context, status=status)


def _without_reasons(payload: Any) -> Any:
    """The answer itself (the reasons are shown beside it, as written)."""
    if isinstance(payload, dict):
        return {
            k: _without_reasons(v) for k, v in payload.items() if k not in ("reason", "rationales")
        }
    return payload
