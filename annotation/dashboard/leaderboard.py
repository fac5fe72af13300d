"""The model leaderboard, routing priorities, and the leaderboard's JSON."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from annotation import services
from annotation.dashboard import charts
from annotation.dashboard.base import campaign_admin_page, page
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign
from annotation.selectors.leaderboard import pairwise_attributes
from annotation.services import routing


@campaign_admin_page
@require_GET
def campaign_leaderboard_page(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    attributes = pairwise_attributes(campaign=campaign)
    attribute = request.GET.get("attribute") or (attributes[0] if attributes else None)
    if attribute not in attributes:
        attribute = None
    # The overall fit knows the profile fields there are (kept with it: reading them is a
    # pass over the judgments).
    shown = services.leaderboard_shown(campaign=campaign, attribute=attribute, field=None)
    fields = shown.fields
    field = request.GET.get("field") or ""
    if field in fields:
        shown = services.leaderboard_shown(campaign=campaign, attribute=attribute, field=field)
    board, groups = shown.board, shown.groups
    names = [s.name for s in board.standings]
    by_group = [
        (
            name,
            [next((s for s in g.board.standings if s.name == name), None) for g in groups],
        )
        for name in names
    ]
    return page(
        request,
        "dashboard/leaderboard.html",
        campaign,
        {
            "board": board,
            "attributes": attributes,
            "attribute": attribute,
            "fields": fields,
            "field": field,
            "groups": groups,
            "by_group": by_group,
            "ratings": shown.ratings,
            "shown": shown,
            "strength_chart": charts.intervals(
                [(s.name, s.rating, s.rating_low, s.rating_high) for s in board.standings],
                label="Rating with its bootstrap 95% interval",
                centre=1000,
            ),
            "matrix_chart": charts.heatmap(names, board.win_rates),
        },
    )


@campaign_admin_page
@require_POST
def routing_refresh(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    routing.task_priorities_refresh(campaign=campaign)
    return redirect("dashboard:campaign", campaign_id=campaign.id)


@campaign_admin_page
@require_GET
def leaderboard_json(request: AuthedHttpRequest, campaign: Campaign) -> JsonResponse:
    attribute = request.GET.get("attribute") or None
    if attribute not in pairwise_attributes(campaign=campaign):
        attribute = None
    shown = services.leaderboard_shown(campaign=campaign, attribute=attribute, field=None)
    board = shown.board
    return JsonResponse(
        {
            "campaign": campaign.id,
            "computed_at": shown.computed_at.isoformat() if shown.computed_at else None,
            "stale": shown.stale,
            "judgments": board.judgments,
            "comparisons": board.comparisons,
            "standings": [
                {
                    "model": s.name,
                    "strength": s.strength,
                    "interval": [s.low, s.high],
                    "rating": s.rating,
                    "comparisons": s.comparisons,
                    "win_rate": s.win_rate,
                }
                for s in board.standings
            ],
        }
    )
