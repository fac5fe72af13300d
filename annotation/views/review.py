"""The reviewers' pages (review stage): the next judgment to review, and a decision on it.
Each view calls the services the API calls (services.review)."""

import json
import string

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from annotation import access
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign, JudgmentReview
from annotation.selectors import review as review_selectors
from annotation.services import review
from annotation.views.base import refused_status
from webapp.untrusted import Untrusted, json_parse


@login_required
@require_GET
def review_page(request: AuthedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = access.campaign_for_reviewer(user=request.user, campaign_id=campaign_id)
    return _review_response(request, campaign)


@login_required
@require_POST
def review_submit(request: AuthedHttpRequest, campaign_id: int, judgment_id: int) -> HttpResponse:
    campaign = access.campaign_for_reviewer(user=request.user, campaign_id=campaign_id)
    decision = request.POST.get("decision", "")
    correction = None
    try:
        if decision == JudgmentReview.Decision.CORRECTED:
            try:
                correction = json_parse(request.POST.get("correction", ""), field="correction")
            except Untrusted as e:
                if e.code != "parse_error":
                    raise
                raise RuleError(
                    _("The correction must be the payload as JSON."), field="correction"
                ) from None
        review.judgment_review(
            judgment_id=judgment_id,
            campaign=campaign,
            reviewer=request.user,
            decision=decision,
            correction=correction,
            note=request.POST.get("note", ""),
        )
    except RuleError as e:
        return _review_response(
            request, campaign, error=e.message, form=request.POST, status=refused_status(e)
        )
    if not request.htmx:
        return redirect("review_page", campaign_id=campaign.id)
    return _review_response(request, campaign, notice=_("Saved."))


def _review_response(
    request: AuthedHttpRequest,
    campaign: Campaign,
    *,
    error: str = "",
    notice: str = "",
    form: object = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, object] = {
        "campaign": campaign,
        "error": error,
        "notice": notice,
        "form": form or {},
    }
    try:
        item = review_selectors.review_next(campaign=campaign, reviewer=request.user)
    except RuleError as e:
        item, context["error"], status = None, e.message, e.status
    if item is not None:
        context.update(
            item=item,
            # Named by their place on the annotator's screen (A, B, ...), never by model.
            candidates=list(zip(string.ascii_uppercase, item.candidates, strict=False)),
            payload_json=json.dumps(
                review.payload_as_input(item.judgment.payload), indent=2, ensure_ascii=False
            ),
        )
    template = "annotation/_review_card.html" if request.htmx else "annotation/review.html"
    return render(request, template, context, status=status)
