"""The admin dashboard: set a campaign up, watch it, check its annotators, see which model
wins. Staff of a campaign only (its admins, or is_staff): anyone else gets 403 on every page.
Each view parses the request and calls the services and reads it names."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from generation.models import LanguageModel

from . import access, charts, progress, quality, selectors, services
from .errors import Forbidden, RuleError
from .http import AuthedHttpRequest
from .kinds import KINDS, kind_for
from .leaderboard import (
    campaign_leaderboard,
    leaderboard_by_profile,
    pairwise_attributes,
    rating_means,
)
from .models import Campaign, Membership
from .prompt_files import prompt_file_format, prompt_rows_parse
from .services import campaign_admin, routing

SETUP_STEPS = [
    ("basics", "Basics and instructions"),
    ("task", "Task and settings"),
    ("prompts", "Prompts"),
    ("models", "Models"),
    ("people", "People"),
]
PREVIEW_ROWS = 10
STATE_VERBS = {"open": "Open", "paused": "Pause", "closed": "Close"}
# A start for kinds whose settings have no defaults (a rating needs its attributes).
STARTER_SETTINGS: dict[str, dict[str, Any]] = {
    "rating": {
        "attributes": [
            {"name": "helpfulness", "scale": {"type": "likert", "points": list("12345")}}
        ]
    }
}


def dashboard_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login, then the pages above any one campaign: for staff and for the admins of some
    campaign (checked before anything else, so others get 403 whatever the method)."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthedHttpRequest, **kwargs: Any) -> HttpResponse:
        administers = selectors.campaigns_administered_by(user=request.user).exists()
        if not (request.user.is_staff or administers):
            raise PermissionDenied("The dashboard is for campaign admins.")
        return view(request, **kwargs)

    return wrapper


def campaign_admin_page(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Login, then the campaign through the one access helper: 404 for a campaign this person
    may not know of, 403 for one they annotate in but do not administer."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthedHttpRequest, campaign_id: int, **kwargs: Any) -> HttpResponse:
        try:
            campaign = access.campaign_for_admin(user=request.user, campaign_id=campaign_id)
        except Forbidden as e:
            raise PermissionDenied(e.message) from None
        return view(request, campaign, **kwargs)

    return wrapper


def _page(
    request: AuthedHttpRequest,
    template: str,
    campaign: Campaign | None,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    base: dict[str, Any] = {"campaign": campaign, "setup_steps": SETUP_STEPS}
    if campaign is not None:
        base["state_buttons"] = [
            (s, STATE_VERBS[s] if not (s == "open" and campaign.state == "paused") else "Resume")
            for s in campaign_admin.TRANSITIONS[campaign.state]
        ]
    return render(request, template, {**base, **context}, status=status)


def _errors(e: RuleError) -> dict[str, str]:
    """A rule's error under its top-level field (`settings.scale.points` -> settings)."""
    field = (e.field or "form").split(".")[0].split("[")[0]
    path = f"{e.field}: " if e.field and e.field != field else ""
    return {field: path + e.message}


# --- campaigns ------------------------------------------------------------------------------


@dashboard_page
@require_GET
def campaign_list(request: AuthedHttpRequest) -> HttpResponse:
    campaigns = selectors.campaigns_administered_by(user=request.user).order_by("-created_at")
    return _page(request, "dashboard/campaigns.html", None, {"campaigns": campaigns})


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
            errors = _errors(e)
        else:
            return redirect("dashboard:setup_task", campaign_id=campaign.id)
    return _page(
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
    return _page(
        request,
        "dashboard/overview.html",
        campaign,
        {
            "progress": p,
            "chart": charts.time_series(p.series, bucket=p.bucket),
            "planned": campaign.tasks.filter(priority__gt=0, state="open").count(),
            "error": error,
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


# --- setup ----------------------------------------------------------------------------------


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def setup_basics(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    errors: dict[str, str] = {}
    form: Any = {
        "name": campaign.name,
        "description": campaign.description,
        "instructions": campaign.instructions,
    }
    if request.method == "POST":
        form = request.POST
        try:
            services.campaign_update(
                campaign=campaign,
                name=form.get("name", ""),
                description=form.get("description", ""),
                instructions=form.get("instructions", ""),
            )
        except RuleError as e:
            errors = _errors(e)
        else:
            return redirect("dashboard:setup_task", campaign_id=campaign.id)
    return _page(
        request,
        "dashboard/setup_basics.html",
        campaign,
        {"form": form, "errors": errors, "step": "basics"},
        status=422 if errors else 200,
    )


def _settings_text(kind: str, current: dict[str, Any] | None) -> str:
    if current is None:
        try:
            current = kind_for(kind).settings_dict(None)
        except RuleError:
            current = kind_for(kind).settings_dict(STARTER_SETTINGS.get(kind, {}))
    return json.dumps(current, indent=2, ensure_ascii=False)


def _number(form: Any, field: str, errors: dict[str, str], cast: type = int) -> Any:
    raw = str(form.get(field, "")).strip()
    try:
        return cast(raw)
    except ValueError:
        errors[field] = f"{field.replace('_', ' ')} must be a number."
        return None


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def setup_task(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    errors: dict[str, str] = {}
    kind = request.GET.get("task_kind") or campaign.task_kind
    form: Any = {
        "task_kind": kind,
        # Another kind chosen in the form: its defaults in the editor.
        "settings": _settings_text(kind, campaign.settings if kind == campaign.task_kind else None),
        "overlap": campaign.overlap,
        "lease_minutes": f"{campaign.lease_seconds / 60:g}",
        "routing": campaign.routing,
        "repeat_percent": f"{campaign.repeat_share * 100:g}",
    }
    if request.method == "POST":
        form = request.POST
        # A campaign with tasks keeps its kind (the form shows it disabled, so it is not sent).
        changes: dict[str, Any] = {"task_kind": form.get("task_kind") or campaign.task_kind}
        try:
            changes["settings"] = json.loads(form.get("settings") or "{}")
        except json.JSONDecodeError as e:
            errors["settings"] = f"Not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})."
        changes["overlap"] = _number(form, "overlap", errors)
        minutes = _number(form, "lease_minutes", errors, float)
        changes["lease_seconds"] = round(minutes * 60) if minutes is not None else None
        changes["routing"] = form.get("routing", "")
        percent = _number(form, "repeat_percent", errors, float)
        changes["repeat_share"] = percent / 100 if percent is not None else None
        if not errors:
            try:
                services.campaign_update(campaign=campaign, **changes)
            except RuleError as e:
                errors = _errors(e)
                if "lease_seconds" in errors:
                    errors["lease_minutes"] = "The lease must be from 0.5 to 1440 minutes."
                if "repeat_share" in errors:
                    errors["repeat_percent"] = errors["repeat_share"]
            else:
                return redirect("dashboard:setup_prompts", campaign_id=campaign.id)
    return _page(
        request,
        "dashboard/setup_task.html",
        campaign,
        {
            "form": form,
            "errors": errors,
            "step": "task",
            "kinds": [(k.name, k.label) for k in KINDS.values()],
            "routings": Campaign.Routing.choices,
            "has_tasks": campaign.tasks.exists(),
        },
        status=422 if errors else 200,
    )


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def setup_prompts(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    context: dict[str, Any] = {"step": "prompts", "errors": {}}
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        content: str | bytes = upload.read() if upload else request.POST.get("content", "")
        fmt = request.POST.get("format") or "auto"
        if fmt == "auto" and upload:
            fmt = prompt_file_format(upload.name or "", upload.content_type or "")
        elif fmt == "auto":
            # Pasted lines: JSON Lines start with "{", anything else is read as CSV.
            fmt = "jsonl" if str(content).lstrip()[:1] in ("{", "") else "csv"
        if not content:
            context["errors"] = {"content": "Choose a file or paste its lines."}
            status = 422
        else:
            action = request.POST.get("action", "preview")
            call = services.prompts_import if action == "import" else campaign_admin.prompts_preview
            report = call(campaign=campaign, content=content, fmt=fmt, created_by=request.user)
            text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
            context.update(report=report, action=action, content=text, format=fmt)
            if action != "import" and report.ok:
                rows, _ = prompt_rows_parse(content, fmt=fmt, max_lines=PREVIEW_ROWS)
                context["sample"] = rows[:PREVIEW_ROWS]
            status = 422 if report.errors else 200
    context["counts"] = {
        "prompts": campaign.conversations.count(),
        "tasks": campaign.tasks.filter(repeat_of__isnull=True).count(),
    }
    context["max_lines"] = django_settings.AGORA_IMPORT_MAX_LINES
    return _page(request, "dashboard/setup_prompts.html", campaign, context, status=status)


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def setup_models(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    errors: dict[str, str] = {}
    if request.method == "POST":
        per_prompt = _number(request.POST, "responses_per_prompt", errors)
        ids = [int(i) for i in request.POST.getlist("language_models") if i.isdigit()]
        if not errors:
            try:
                services.campaign_update(campaign=campaign, responses_per_prompt=per_prompt)
                campaign_admin.campaign_models_set(campaign=campaign, model_ids=ids)
            except RuleError as e:
                errors = _errors(e)
            else:
                return redirect("dashboard:setup_people", campaign_id=campaign.id)
    seen = progress.models_seen(campaign=campaign)
    return _page(
        request,
        "dashboard/setup_models.html",
        campaign,
        {
            "step": "models",
            "errors": errors,
            "models": LanguageModel.objects.filter(enabled=True),
            "chosen": set(campaign.language_models.values_list("id", flat=True)),
            "seen": seen,
        },
        status=422 if errors else 200,
    )


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def setup_people(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    errors: dict[str, str] = {}
    notice = ""
    if request.method == "POST":
        try:
            if "is_public" in request.POST:
                services.campaign_update(
                    campaign=campaign, is_public=request.POST["is_public"] == "on"
                )
                notice = "Saved who may join."
            else:
                names = request.POST.get("usernames", "").replace(",", "\n").splitlines()
                added = services.members_add(
                    campaign=campaign,
                    usernames=names,
                    role=request.POST.get("role", Membership.Role.ANNOTATOR),
                )
                notice = f"Added {len(added)}."
        except RuleError as e:
            errors = _errors(e)
    members = Membership.objects.filter(campaign=campaign).select_related("user")
    return _page(
        request,
        "dashboard/setup_people.html",
        campaign,
        {
            "step": "people",
            "errors": errors,
            "notice": notice,
            "members": members.order_by("role", "user__username"),
            "form": request.POST,
        },
        status=422 if errors else 200,
    )


# --- quality --------------------------------------------------------------------------------


@campaign_admin_page
@require_GET
def campaign_quality(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    q = quality.annotator_quality(campaign=campaign)
    field = request.GET.get("field") or (q.profile_fields[0] if q.profile_fields else "")
    by_profile = (
        quality.agreement_by_profile(campaign=campaign, field=field)
        if field in q.profile_fields
        else []
    )
    return _page(
        request,
        "dashboard/quality.html",
        campaign,
        {
            "q": q,
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
                    for a in q.annotators
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
                campaign=campaign, membership_id=membership_id, flagged=FLAG_ACTIONS[action]
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
            },
        )
    return redirect(back)


# --- leaderboard ----------------------------------------------------------------------------


@campaign_admin_page
@require_GET
def campaign_leaderboard_page(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    attributes = pairwise_attributes(campaign=campaign)
    attribute = request.GET.get("attribute") or (attributes[0] if attributes else None)
    if attribute not in attributes:
        attribute = None
    board = campaign_leaderboard(campaign=campaign, attribute=attribute)
    rows = quality.judgment_rows(campaign=campaign, include_flagged=False)
    fields = quality.profile_fields(rows)
    field = request.GET.get("field") or ""
    groups = (
        leaderboard_by_profile(campaign=campaign, field=field, attribute=attribute)
        if field in fields
        else []
    )
    names = [s.name for s in board.standings]
    by_group = [
        (
            name,
            [next((s for s in g.board.standings if s.name == name), None) for g in groups],
        )
        for name in names
    ]
    return _page(
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
            "ratings": rating_means(campaign=campaign),
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


# --- JSON, for notebooks and scripts (same access as the pages) -----------------------------


@campaign_admin_page
@require_GET
def leaderboard_json(request: AuthedHttpRequest, campaign: Campaign) -> JsonResponse:
    board = campaign_leaderboard(campaign=campaign, attribute=request.GET.get("attribute"))
    return JsonResponse(
        {
            "campaign": campaign.id,
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


@campaign_admin_page
@require_GET
def quality_json(request: AuthedHttpRequest, campaign: Campaign) -> JsonResponse:
    q = quality.annotator_quality(campaign=campaign)
    return JsonResponse(
        {
            "campaign": campaign.id,
            "alpha": [
                {"group": a.group, "level": a.level, "alpha": a.value, "units": a.units}
                for a in q.alphas
            ],
            "pairwise_agreement": {
                "tie_aware": q.pairs.tie_aware,
                "strict": q.pairs.strict,
                "decisive": q.pairs.decisive,
                "pairs": q.pairs.pairs,
            },
            "annotators": [
                {
                    "annotator": a.pseudonym,
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
                }
                for a in q.annotators
            ],
        }
    )
