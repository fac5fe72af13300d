"""The Gold page: a campaign's tasks with their candidates, each task's gold answer set or
cleared (the service the API and `manage.py task_gold` call, checked by the task's kind)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from annotation.dashboard.base import campaign_admin_page, page
from annotation.errors import NotFound, RuleError
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign
from annotation.selectors.gold import gold_tasks_page
from annotation.services.gold import gold_from_form, task_gold_set
from webapp.untrusted import form_int


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def gold_page(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    number = form_int(request.GET.get("page", "1")) or 1
    only_gold = request.GET.get("only") == "gold"
    error, status = "", 200
    if request.method == "POST":
        task_id = form_int(request.POST.get("task", ""))
        try:
            if task_id is None:
                raise NotFound("No such task in this campaign.")
            gold = gold_from_form(kind=campaign.task_kind, value=request.POST.get("gold", ""))
            task_gold_set(campaign=campaign, task_id=task_id, gold=gold)
        except RuleError as e:
            error, status = f"Task {task_id}: {e.message}", 422 if e.status == 400 else e.status
        else:
            verb = "set on" if gold is not None else "cleared from"
            messages.success(request, f"Gold {verb} task {task_id}.")
            return redirect(reverse("dashboard:gold", args=[campaign.id]) + f"?page={number}")
    return page(
        request,
        "dashboard/gold.html",
        campaign,
        {
            "gold": gold_tasks_page(campaign=campaign, page=number, only_gold=only_gold),
            "only_gold": only_gold,
            "error": error,
            "notice": " ".join(str(m) for m in messages.get_messages(request)),
        },
        status=status,
    )
