"""Annotator quality: the measures page, flag and block, and its JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotation import services
from annotation.dashboard import charts
from annotation.dashboard.base import campaign_admin_page, page, paged
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign
from annotation.selectors.adjudication import adjudication_summary, dispute_rule
from annotation.selectors.quality import AnnotatorQuality

# The annotator table's orders: a column, biggest first (names A to Z).
SORTS: dict[str, Callable[[AnnotatorQuality], Any]] = {
    "annotator": lambda a: a.username.lower(),
    "judgments": lambda a: -a.judgments,
    "agreement": lambda a: -(a.agreement.value if a.agreement.value is not None else -1),
    "position": lambda a: -(a.position_bias.value or 0),
    "notes": lambda a: (-len(a.flags), min((f.p_value for f in a.flags), default=1.0)),
}


@campaign_admin_page
@require_GET
def campaign_quality(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    shown = services.quality_shown(campaign=campaign)
    if shown.quality is None:
        return page(request, "dashboard/quality.html", campaign, {"q": None, "shown": shown})
    q = shown.quality
    field = request.GET.get("field") or (q.profile_fields[0] if q.profile_fields else "")
    by_profile = shown.by_profile.get(field, []) if field in q.profile_fields else []
    sort = request.GET.get("sort") or ""
    annotators = sorted(q.annotators, key=SORTS[sort]) if sort in SORTS else q.annotators
    pager = paged(request, annotators)
    return page(
        request,
        "dashboard/quality.html",
        campaign,
        {
            "q": q,
            "shown": shown,
            "pager": pager,
            "sort": sort,
            "sorts": list(SORTS),
            "adjudication": (
                adjudication_summary(campaign=campaign)
                if dispute_rule(campaign=campaign).enabled
                else None
            ),
            "field": field,
            "by_profile": by_profile,
            "agreement_chart": charts.histogram(
                [a.agreement.value for a in q.annotators if a.agreement.value is not None],
                label="Annotators by agreement with the others",
            ),
            "length_chart": charts.share_bars(
                [(label, s.value, s.n) for label, s in q.length_bias.bins],
                label="How often the chosen response is the longer one",
            ),
            "position_chart": charts.share_bars(
                [
                    (a.username, a.position_bias.value, a.position_bias.n)
                    for a in pager.object_list
                    if a.position_bias.n
                ],
                label="How often each annotator picks the first shown response",
            ),
        },
    )


FLAG_ACTIONS = {"flag": True, "unflag": False}
BLOCK_ACTIONS = {"block": True, "unblock": False}


@campaign_admin_page
@require_POST
def member_action(
    request: AuthedHttpRequest, campaign: Campaign, membership_id: int, action: str
) -> HttpResponse:
    try:
        if action in FLAG_ACTIONS:
            membership = services.membership_flag(
                campaign=campaign,
                membership_id=membership_id,
                flagged=FLAG_ACTIONS[action],
                by=request.user,
            )
        elif action in BLOCK_ACTIONS:
            membership = services.membership_block(
                campaign=campaign,
                membership_id=membership_id,
                blocked=BLOCK_ACTIONS[action],
                by=request.user,
            )
        else:
            return HttpResponse("No such action.", status=404)
    except RuleError as e:
        return HttpResponse(e.message, status=e.status if e.status != 400 else 422)
    back = request.POST.get("next") or reverse("dashboard:quality", args=[campaign.id])
    if not back.startswith("/dashboard/"):
        back = reverse("dashboard:quality", args=[campaign.id])
    if request.htmx:
        return render(
            request,
            "dashboard/_member_buttons.html",
            {
                "next_url": back,
                "campaign": campaign,
                "member_id": membership.id,
                "flagged": membership.is_flagged,
                "blocked": membership.is_blocked,
                "member_user_id": membership.user_id,
            },
        )
    return redirect(back)


@campaign_admin_page
@require_GET
def quality_json(request: AuthedHttpRequest, campaign: Campaign) -> JsonResponse:
    shown = services.quality_shown(campaign=campaign)
    if shown.quality is None:
        return JsonResponse(
            {"campaign": campaign.id, "computed_at": None, "stale": True}, status=202
        )
    q = shown.quality
    return JsonResponse(
        {
            "campaign": campaign.id,
            # A large campaign's statistics come from the periodic task: when, and whether
            # judgments came in since.
            "computed_at": shown.computed_at.isoformat() if shown.computed_at else None,
            "stale": shown.stale,
            "alpha": [
                {"group": a.group, "level": a.level, "alpha": a.value, "units": a.units}
                for a in q.alphas
            ],
            # The flags' family-wise error rate, and how many tests it is held over.
            "alpha_level": q.alpha,
            "tests": q.tests,
            "position_bias": {"share": q.position_bias.value, "n": q.position_bias.n},
            "pairwise_agreement": {
                "tie_aware": q.pairs.tie_aware,
                "strict": q.pairs.strict,
                "decisive": q.pairs.decisive,
                "pairs": q.pairs.pairs,
            },
            "annotators": [
                {
                    "annotator": a.pseudonym,
                    "membership_id": a.membership_id,
                    "judgments": a.judgments,
                    "median_seconds": a.median_seconds,
                    "agreement": a.agreement.value,
                    "gold_accuracy": a.gold.value,
                    "position_bias": a.position_bias.value,
                    "ties": a.ties.value,
                    "skips": a.skips.value,
                    "cycles": a.cycles,
                    "self_consistency": a.self_consistency.value,
                    "length_bias": a.length_bias.value,
                    "flagged": a.is_flagged,
                    "blocked": a.is_blocked,
                    "warnings": [
                        {
                            "test": f.test,
                            "message": f.message,
                            "p_value": f.p_value,
                            "level": f.level,
                            "n": f.n,
                            "observed": f.observed,
                            "expected": f.expected,
                        }
                        for f in a.flags
                    ],
                }
                for a in q.annotators
            ],
        }
    )
