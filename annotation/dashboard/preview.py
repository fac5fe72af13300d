"""*Preview as an annotator*: the real task page, with the settings being set up (saved or
not) and sample messages, and its form answered as the annotator's would be: the kind reads
it and checks it, and the page says what would be stored, or the annotator's error. Nothing
is saved."""

from __future__ import annotations

import json
import string
from datetime import timedelta
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from annotation.dashboard import kind_fields
from annotation.dashboard.base import campaign_admin_page
from annotation.dashboard.setup import kind_defaults
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.kinds import kind_for
from annotation.models import Assignment, Campaign, Message, Task
from annotation.selectors.campaigns import TaskView
from webapp.untrusted import Untrusted, json_parse

SAMPLE_PROMPT = "Explain recursion to a child in two sentences."
SAMPLE_REPLIES = [
    "Recursion is when something is made of smaller copies of itself, like a set of nesting "
    "dolls. To open the biggest doll, you open each smaller one inside until the last.",
    "A recursive function calls itself with a smaller input until it reaches a base case.",
    "Imagine asking your friend in line how many people are ahead; they ask the next person, "
    "and so on, and the answers come back adding one each time.",
]


def _sample(kind_name: str, lease_seconds: int) -> tuple[TaskView, Assignment]:
    """Sample messages for a task of this kind (never saved: ids are only names here)."""
    lo, hi = kind_for(kind_name).candidates
    n = max(lo, min(hi if hi is not None else 3, 3))
    prompt = Message(id=1, role="user", text=SAMPLE_PROMPT)
    replies = [Message(id=2 + i, role="assistant", text=SAMPLE_REPLIES[i]) for i in range(n)]
    for m in (prompt, *replies):
        m.files = []  # type: ignore[attr-defined]  # for the template only
    view = TaskView(task=Task(kind=kind_name), context=[prompt], candidates=replies)
    assignment = Assignment(id=0, expires_at=timezone.now() + timedelta(seconds=lease_seconds))
    return view, assignment


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def setup_preview(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    """GET: the saved settings. POST from the setup page: its task kind and settings as
    typed. POST from the previewed task's own form: that answer, checked by the kind."""
    data = request.POST if request.method == "POST" else request.GET
    kind_name = data.get("task_kind") or campaign.task_kind
    settings_text = data.get("settings")
    context: dict[str, Any] = {
        "campaign": campaign,
        "preview": True,
        "form": {},
        "shortcuts": [],
        "progress": {"done": 0, "available": 1},
        "error": "",
        "notice": "",
    }
    try:
        kind = kind_for(kind_name)
        raw = campaign.settings if settings_text is None else json_parse(settings_text or "{}")
        if isinstance(raw, dict) and data.get("kind_fields") == kind.name:
            # From the setup page: its fields, as saving them would read them.
            raw = kind_fields.settings_from_form(kind.name, data, raw, kind_defaults(kind.name))
        settings = kind.settings(raw)
    except (RuleError, Untrusted) as e:
        context["preview_error"] = f"{e.field}: {e.message}" if e.field else e.message
        return render(request, "annotation/task.html", context, status=422)
    view, assignment = _sample(kind.name, campaign.lease_seconds)
    ids = [m.id for m in view.candidates]
    if "idempotency_key" in request.POST:  # the previewed task's form, as an annotator sent it
        try:
            payload = kind.validate(
                kind.payload_from_form(request.POST, settings=settings, candidate_ids=ids),
                settings=settings,
                candidate_ids=ids,
            )
        except RuleError as e:
            context.update(error=e.message, form=request.POST)
        else:
            # The dashboard speaks English (the annotators' strings are the kind's own).
            context["notice"] = "Preview: this answer would be saved as " + json.dumps(
                payload, ensure_ascii=False
            )
    elif "skip" in request.POST:
        context["notice"] = "Preview: the task would be skipped."
    context.update(
        assignment=assignment,
        view=view,
        kind=kind,
        settings=settings,
        shortcuts=[(key, _(what)) for key, what in kind.shortcuts(settings)],
        candidates=list(zip(string.ascii_uppercase, view.candidates, strict=False)),
        idempotency_key="preview",
        preview_kind=kind.name,
        preview_settings=json.dumps(kind.settings_dict(raw), ensure_ascii=False),
    )
    template = "annotation/_task_card.html" if request.htmx else "annotation/task.html"
    return render(request, template, context)
