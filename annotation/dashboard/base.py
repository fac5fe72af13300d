"""What every dashboard page shares: who may see it, the layout's context, and rule errors
shown under their field."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import render

from annotation import access
from annotation.errors import Forbidden, RuleError
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign
from annotation.services import campaign_admin
from webapp.untrusted import form_int, form_number

SETUP_STEPS = [
    ("basics", "Basics and instructions"),
    ("task", "Task and settings"),
    ("trees", "Trees and review"),
    ("prompts", "Prompts"),
    ("models", "Models"),
    ("people", "People"),
]
STATE_VERBS = {"open": "Open", "paused": "Pause", "closed": "Close"}


def dashboard_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login, then the pages above any one campaign: for staff and for the admins of some
    campaign (checked before anything else, so others get 403 whatever the method)."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthedHttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            access.campaign_creator_check(user=request.user)
        except Forbidden:
            raise PermissionDenied("The dashboard is for campaign admins.") from None
        return view(request, **kwargs)

    return wrapper


def campaign_admin_page(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Login, then the campaign through the one access helper: 404 for a campaign this person
    may not know of, 403 for one they annotate in but do not administer."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthedHttpRequest, campaign_id: int, **kwargs: Any) -> HttpResponseBase:
        try:
            campaign = access.campaign_for_admin(user=request.user, campaign_id=campaign_id)
        except Forbidden as e:
            raise PermissionDenied(e.message) from None
        return view(request, campaign, **kwargs)

    return wrapper


def page(
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


PER_PAGE = 50


def paged(request: AuthedHttpRequest, items: Any, per_page: int | None = None) -> Any:
    """One page of a long table (a queryset is sliced by the database), by `?page=`; a page
    number out of range or not a number gives the nearest page, never an error. The page
    carries `query`: the request's other parameters, for the pager's links."""
    from django.core.paginator import Paginator

    shown = Paginator(items, per_page or PER_PAGE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    shown.query = params.urlencode()  # type: ignore[attr-defined]  # for _pager.html's links
    return shown


def rule_errors(e: RuleError) -> dict[str, str]:
    """A rule's error under its top-level field (`settings.scale.points` -> settings)."""
    field = (e.field or "form").split(".")[0].split("[")[0]
    path = f"{e.field}: " if e.field and e.field != field else ""
    return {field: path + e.message}


def number_field(form: Any, field: str, errors: dict[str, str], cast: type = int) -> Any:
    """A number typed in the form (ASCII, finite, of a sane length; a whole one where `cast`
    is int), or None with the field's error."""
    raw = str(form.get(field, ""))
    value = form_int(raw, signed=True) if cast is int else form_number(raw)
    if value is None:
        errors[field] = f"{field.replace('_', ' ')} must be a number."
    return value
