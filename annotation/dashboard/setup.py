"""Campaign setup, a short sequence of pages: basics, task and settings, trees and review,
prompts, models, people."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings as django_settings
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from annotation import selectors, services
from annotation.dashboard import kind_fields
from annotation.dashboard.base import campaign_admin_page, number_field, page, paged, rule_errors
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.kinds import KINDS, kind_for
from annotation.kinds.base import DisputeRule
from annotation.kinds.trees import TreeSettings
from annotation.models import Campaign, Membership
from annotation.prompt_files import prompt_file_format, prompt_rows_parse
from annotation.selectors import progress
from annotation.services import adjudication, campaign_admin, campaign_stages
from annotation.services.people import MAX_LIST_BYTES, PeopleReport
from generation import selectors as generation_selectors
from webapp.untrusted import Untrusted, form_int, json_parse

PREVIEW_ROWS = 10
# A start for kinds whose settings have no defaults (a rating needs its attributes).
STARTER_SETTINGS: dict[str, dict[str, Any]] = {
    "rating": {
        "attributes": [
            {"name": "helpfulness", "scale": {"type": "likert", "points": list("12345")}}
        ]
    }
}


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
            errors = rule_errors(e)
        else:
            return redirect("dashboard:setup_task", campaign_id=campaign.id)
    return page(
        request,
        "dashboard/setup_basics.html",
        campaign,
        {"form": form, "errors": errors, "step": "basics"},
        status=422 if errors else 200,
    )


def _settings_current(kind: str, current: dict[str, Any] | None) -> dict[str, Any]:
    """The settings to show: `current`, or the kind's defaults (a start for a kind whose
    settings have none, like a rating's attributes)."""
    if current is not None:
        return current
    try:
        return kind_for(kind).settings_dict(None)
    except RuleError:
        return kind_for(kind).settings_dict(STARTER_SETTINGS.get(kind, {}))


def kind_defaults(kind: str) -> dict[str, Any]:
    """The kind's settings with nothing set (a start where it needs some): the fields' types."""
    return _settings_current(kind, None)


def _kind_form(kind: str, settings: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The settings editor's context: the kind's fields and rows, and the JSON for experts."""
    defaults = kind_defaults(kind)
    return {
        "kind_fields": kind_fields.fields_for(kind, settings, defaults, errors),
        "kind_rows": kind_fields.rows_for(kind, settings, errors),
        "settings_json": json.dumps(settings, indent=2, ensure_ascii=False),
    }


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def setup_task(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    errors: dict[str, str] = {}
    kind = request.GET.get("task_kind") or campaign.task_kind
    # Another kind chosen in the form: its defaults in the editor.
    settings = _settings_current(kind, campaign.settings if kind == campaign.task_kind else None)
    form: Any = {
        "task_kind": kind,
        "overlap": campaign.overlap,
        "lease_minutes": f"{campaign.lease_seconds / 60:g}",
        "routing": campaign.routing,
        "repeat_percent": f"{campaign.repeat_share * 100:g}",
    }
    if request.method == "POST":
        form = request.POST
        # A campaign with tasks keeps its kind (the form shows it disabled, so it is not sent).
        kind = form.get("task_kind") or campaign.task_kind
        changes: dict[str, Any] = {"task_kind": kind}
        try:
            settings = json_parse(form.get("settings") or "{}")
        except Untrusted as e:
            errors["settings"] = e.message
        # The fields, unless the expert saves the JSON (or the fields are another kind's).
        by_fields = (
            isinstance(settings, dict)
            and "use_json" not in form
            and form.get("kind_fields") == kind
        )
        if by_fields:
            settings = kind_fields.settings_from_form(kind, form, settings, kind_defaults(kind))
        changes["settings"] = settings
        changes["overlap"] = number_field(form, "overlap", errors)
        minutes = number_field(form, "lease_minutes", errors, float)
        changes["lease_seconds"] = round(minutes * 60) if minutes is not None else None
        changes["routing"] = form.get("routing", "")
        percent = number_field(form, "repeat_percent", errors, float)
        changes["repeat_share"] = percent / 100 if percent is not None else None
        if not errors:
            try:
                services.campaign_update(campaign=campaign, **changes)
            except RuleError as e:
                errors = rule_errors(e)
                if by_fields and (target := kind_fields.field_of(kind, e.field)):
                    # Under the field it names, not (again) under the JSON.
                    errors.pop("settings", None)
                    errors[target] = e.message
                if "lease_seconds" in errors:
                    errors["lease_minutes"] = "The lease must be from 0.5 to 1440 minutes."
                if "repeat_share" in errors:
                    errors["repeat_percent"] = errors["repeat_share"]
            else:
                return redirect("dashboard:setup_trees", campaign_id=campaign.id)
        if not isinstance(settings, dict):
            settings = _settings_current(kind, None)
    return page(
        request,
        "dashboard/setup_task.html",
        campaign,
        {
            "form": form,
            "errors": errors,
            "step": "task",
            "kind": kind,
            **_kind_form(kind, settings, errors),
            "kinds": [(k.name, k.label) for k in KINDS.values()],
            "routings": Campaign.Routing.choices,
            "has_tasks": campaign.tasks.exists(),
        },
        status=422 if errors else 200,
    )


# The tree rules on the page: (form field, rule, cast); the spam share is shown in percent.
TREE_FIELDS: list[tuple[str, str, type]] = [
    ("max_depth", "max_depth", int),
    ("max_children", "max_children", int),
    ("review_votes", "review_votes", int),
    ("spam_percent", "spam_share", float),
    ("ranking_overlap", "ranking_overlap", int),
    ("prompt_tasks", "prompt_tasks", int),
]


# When an item is disputed (kinds.base.DisputeRule), on the page: (form field, rule, cast).
ADJUDICATION_FIELDS: list[tuple[str, str, type]] = [
    ("adj_min_judgments", "min_judgments", int),
    ("adj_share", "share", float),
    ("adj_width", "width", float),
    ("adj_distance", "distance", float),
    ("adj_gold_wrong", "gold_wrong", float),
]


ADJUDICATION_INPUTS = [
    ("adj_min_judgments", "Judgments before an item can be disputed", 2, 100, 1),
    ("adj_share", "Pairwise: share the top outcome must reach", 0.5, 1, 0.01),
    ("adj_width", "Rating: widest spread of one score", 0, 1000, "any"),
    ("adj_distance", "Ranking: largest mean Kendall distance", 0, 1, 0.01),
    ("adj_gold_wrong", "Gold: share answered wrongly", 0.01, 1, 0.01),
]


def _adjudication_form(raw: Any) -> dict[str, Any]:
    rule = DisputeRule.parse(raw)
    return {
        "adj_on": rule.enabled,
        **{f"{name}": f"{getattr(rule, field):g}" for name, field, _ in ADJUDICATION_FIELDS},
    }


def _tree_form(tree: dict[str, Any]) -> dict[str, Any]:
    defaults = TreeSettings()
    values = {rule: tree.get(rule, getattr(defaults, rule)) for _, rule, _ in TREE_FIELDS}
    values["spam_percent"] = f"{values.pop('spam_share') * 100:g}"
    return values


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def setup_trees(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    """Tree rules (off = not a tree campaign), the review stage, and the media kinds."""
    errors: dict[str, str] = {}
    form: Any = {
        "tree_on": bool(campaign.tree),
        "review_stage": campaign.review_stage,
        "media_kinds": campaign.media_kinds,
        **_tree_form(campaign.tree),
        **_adjudication_form(campaign.adjudication),
    }
    if request.method == "POST":
        post = request.POST
        form = {
            **_tree_form(campaign.tree),
            **_adjudication_form(campaign.adjudication),
            **post.dict(),
        }
        form["adj_on"] = post.get("adj_on") == "on"
        dispute: dict[str, Any] | None = None
        if "adj_share" in post:
            dispute = {"enabled": form["adj_on"]}
            for name, field, cast in ADJUDICATION_FIELDS:
                value = number_field(post, name, errors, cast)
                if value is not None:
                    dispute[field] = value
        form["tree_on"] = (
            post.get("tree_on") == "on" if "max_depth" in post else bool(campaign.tree)
        )
        form["review_stage"] = post.get("review_stage") == "on"
        form["media_kinds"] = post.getlist("media_kinds")
        tree: dict[str, Any] | None = campaign.tree  # the fieldset is disabled once locked
        if "max_depth" in post:
            tree = {}
        if "max_depth" in post and form["tree_on"]:
            # Rules the page does not show (priorities, kinds) are kept.
            tree = {k: v for k, v in campaign.tree.items() if k in ("priorities", "kinds")}
            for name, rule, cast in TREE_FIELDS:
                value = number_field(post, name, errors, cast)
                if value is not None:
                    tree[rule] = value / 100 if name == "spam_percent" else value
        if not errors:
            try:
                if dispute is not None:
                    adjudication.adjudication_settings(dispute)  # checked before any is saved
                campaign_stages.campaign_stages_set(
                    campaign=campaign,
                    tree=tree,
                    review_stage=form["review_stage"],
                    media_kinds=form["media_kinds"],
                )
                if dispute is not None:
                    adjudication.campaign_adjudication_set(campaign=campaign, adjudication=dispute)
            except RuleError as e:
                errors = _tree_errors(e)
            else:
                return redirect("dashboard:setup_prompts", campaign_id=campaign.id)
    return page(
        request,
        "dashboard/setup_trees.html",
        campaign,
        {
            "form": form,
            "errors": errors,
            "step": "trees",
            "locked": campaign.tree and campaign.judgments.exists(),
            "optional_media": campaign_stages.OPTIONAL_MEDIA,
            "adjudication_inputs": [
                {
                    "name": name,
                    "label": label,
                    "min": lo,
                    "max": hi,
                    "step": step,
                    "value": form.get(name, ""),
                    "error": errors.get(name, ""),
                }
                for name, label, lo, hi, step in ADJUDICATION_INPUTS
            ],
        },
        status=422 if errors else 200,
    )


def _tree_errors(e: RuleError) -> dict[str, str]:
    """A rule's error under its field on the page: `tree.spam_share` -> spam_percent,
    `adjudication.share` -> adj_share."""
    field = e.field or ""
    if field.startswith("adjudication."):
        return {"adj_" + field.removeprefix("adjudication."): e.message}
    rule = (e.field or "").removeprefix("tree.")
    for name, field, _ in TREE_FIELDS:
        if rule == field:
            if name == "spam_percent":
                return {name: "The spam share must be from 0 to 100%."}
            return {name: e.message.removeprefix("tree.")}
    return rule_errors(e)


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
    return page(request, "dashboard/setup_prompts.html", campaign, context, status=status)


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def setup_models(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    errors: dict[str, str] = {}
    if request.method == "POST":
        per_prompt = number_field(request.POST, "responses_per_prompt", errors)
        live = {
            field: number_field(request.POST, field, errors)
            for field in ("live_first_replies", "live_later_replies", "live_max_turns")
            if field in request.POST
        }
        ids = [n for i in request.POST.getlist("language_models") if (n := form_int(i)) is not None]
        if not errors:
            try:
                services.campaign_update(campaign=campaign, responses_per_prompt=per_prompt, **live)
                campaign_admin.campaign_models_set(campaign=campaign, model_ids=ids)
            except RuleError as e:
                errors = rule_errors(e)
            else:
                return redirect("dashboard:setup_people", campaign_id=campaign.id)
    seen = progress.models_seen(campaign=campaign)
    return page(
        request,
        "dashboard/setup_models.html",
        campaign,
        {
            "step": "models",
            "errors": errors,
            "models": generation_selectors.language_models_for(campaign=campaign),
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
    report: PeopleReport | None = None
    if request.method == "POST":
        try:
            if "membership" in request.POST:
                member = campaign_stages.member_role_set(
                    campaign=campaign,
                    membership_id=form_int(request.POST["membership"]) or 0,
                    role=request.POST.get("role", ""),
                )
                notice = f"{member.user.username} is now {member.get_role_display().lower()}."
            elif "is_public" in request.POST:
                services.campaign_update(
                    campaign=campaign, is_public=request.POST["is_public"] == "on"
                )
                notice = "Saved who may join."
            else:
                upload = request.FILES.get("file")
                report = services.people_add(
                    campaign=campaign,
                    # Past the service's limit by one byte: refused as too large, not cut.
                    people=upload.read(MAX_LIST_BYTES + 1)
                    if upload
                    else request.POST.get("people", ""),
                    role=request.POST.get("role", Membership.Role.ANNOTATOR),
                    create=request.POST.get("create") == "on",
                )
                notice = report.summary()
        except RuleError as e:
            errors = rule_errors(e)
    # A long list of people is paged by the database: by role and name, or newest first.
    order = (
        ("-joined_at", "-id") if request.GET.get("sort") == "joined" else ("role", "user__username")
    )
    members = paged(request, selectors.campaign_members(campaign=campaign).order_by(*order))
    invites = [
        (
            line,
            request.build_absolute_uri(reverse("invite", args=[line.invite_token]))
            if line.invite_token
            else "",
        )
        for line in (report.lines if report else [])
    ]
    return page(
        request,
        "dashboard/setup_people.html",
        campaign,
        {
            "step": "people",
            "errors": errors,
            "notice": notice,
            "members": members,
            "form": request.POST,
            "roles": Membership.Role.choices,
            "report": report,
            "report_lines": invites,
        },
        status=422 if errors else 200,
    )
