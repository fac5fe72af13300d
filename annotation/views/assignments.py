"""The annotator's pages. Each view parses the request and calls the services the API calls."""

import string
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from annotation import access, selectors, services
from annotation.attachments import CheckedFile, attachment_check
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.kinds import kind_for
from annotation.kinds.trees import kind_settings_raw
from annotation.models import Assignment, Campaign
from annotation.selectors.adjudication import campaigns_adjudicated_by
from annotation.selectors.studies import guidance_for, study_of
from annotation.services.studies.gate import STUDY_CODE
from annotation.views.base import form_draft, judgment_from_form, refused_status

# The fields an annotator writes into (the kinds' text boxes): on a late submit whose task
# went to someone else, what they hold is shown back to copy, never dropped.
WRITTEN_FIELDS = ("text", "reason", "feedback")
WRITTEN_PREFIXES = ("why-",)


@login_required
@require_GET
def home(request: AuthedHttpRequest) -> HttpResponse:
    campaigns = [
        (c, selectors.campaign_progress(campaign=c, user=request.user))
        for c in selectors.campaigns_open_to(user=request.user)
    ]
    reviewing = selectors.campaigns_reviewed_by(user=request.user)
    adjudicating = campaigns_adjudicated_by(user=request.user)
    return render(
        request,
        "annotation/home.html",
        {"campaigns": campaigns, "reviewing": reviewing, "adjudicating": adjudicating},
    )


@login_required
@require_GET
def campaign_task(request: AuthedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = access.campaign_for_annotator(user=request.user, campaign_id=campaign_id)
    return _task_response(request, campaign)


@login_required
@require_POST
def assignment_submit(request: AuthedHttpRequest, assignment_id: int) -> HttpResponse:
    assignment = _my_assignment(request, assignment_id)
    try:
        kind = kind_for(assignment.task.kind)
        raw = kind_settings_raw(campaign=assignment.campaign, task_kind=kind.name)
        judgment_from_form(
            request,
            assignment=assignment,
            kind=kind,
            settings=kind.settings(raw),
            files=_uploaded_images(request),
        )
    except RuleError as e:
        if e.status == 400:
            # Same task again, with the message and everything the annotator entered.
            return _task_response(
                request,
                assignment.campaign,
                error=e.message,
                form=request.POST,
                status=refused_status(e),
            )
        # A late submit: if the task comes back to this person, their answer comes with it.
        return _task_response(
            request,
            assignment.campaign,
            error=e.message,
            form=request.POST,
            status=e.status,
            failed_assignment_id=assignment.id,
        )
    if not request.htmx:
        return redirect("campaign_task", campaign_id=assignment.campaign_id)
    return _task_response(request, assignment.campaign, notice=_("Saved."))


@login_required
@require_POST
def assignment_skip(request: AuthedHttpRequest, assignment_id: int) -> HttpResponse:
    assignment = _my_assignment(request, assignment_id)
    try:
        services.assignment_skip(
            assignment=assignment, annotator=request.user, reason=request.POST.get("reason", "")
        )
    except RuleError as e:
        return _task_response(request, assignment.campaign, error=e.message, status=e.status)
    if not request.htmx:
        return redirect("campaign_task", campaign_id=assignment.campaign_id)
    return _task_response(request, assignment.campaign, notice=_("Skipped."))


def _uploaded_images(request: AuthedHttpRequest) -> list[CheckedFile]:
    """The images a prompt written on the page carries, checked (none read past the limit)."""
    out = []
    for upload in request.FILES.getlist("images"):
        name = upload.name or "upload"
        small = upload.size <= settings.AGORA_ATTACHMENT_MAX_BYTES
        out.append(
            attachment_check(
                upload.read() if small else b"",
                kind="image",
                name=name,
                field=name,
                size=upload.size,
            )
        )
    return out


def _my_assignment(request: AuthedHttpRequest, assignment_id: int) -> Assignment:
    assignment = selectors.assignment_for_annotator(user=request.user, assignment_id=assignment_id)
    if assignment is None:
        raise Http404("No such task.")
    return assignment


def _task_response(
    request: AuthedHttpRequest,
    campaign: Campaign,
    *,
    error: str = "",
    notice: str = "",
    form: QueryDict | None = None,
    status: int = 200,
    failed_assignment_id: int | None = None,
) -> HttpResponse:
    """The task page (or, for htmx, just its card) with this person's current or next task.

    The card shows the kind's own controls (`kind.template`) and the page its shortcuts. A
    refused form comes back as `form` (for fields with fixed names) and as `draft` (every
    field by name, for the page's script to put back where the names are per candidate).
    """
    context: dict[str, Any] = {
        "campaign": campaign,
        "error": error,
        "notice": notice,
        "form": form or {},
        "shortcuts": [],
    }
    try:
        assignment = services.task_lease_next(annotator=request.user, campaign=campaign)
    except RuleError as e:
        if e.code == STUDY_CODE:
            # A study participant not yet through its first steps (or past its end).
            url = reverse("study_next", args=[campaign.slug])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        # A refused submit or skip keeps its own message (it says what became of the answer).
        assignment, context["error"], status = None, error or e.message, e.status
    if assignment is not None and failed_assignment_id is not None:
        if assignment.id == failed_assignment_id:
            context["error"] = _(
                "Your time on this task ran out, so your answer was not saved yet. "
                "The task is still yours: check your answer and submit again."
            )
        else:
            context["form"] = {}
    if failed_assignment_id is not None and (
        assignment is None or assignment.id != failed_assignment_id
    ):
        context["kept"] = _written(form)
    if assignment is not None:
        view = selectors.task_view(assignment=assignment)
        kind = kind_for(view.task.kind)
        settings = kind.settings(
            kind_settings_raw(
                campaign=campaign,
                task_kind=kind.name,
                parent_role=view.context[-1].role if view.context else None,
            )
        )
        context.update(
            assignment=assignment,
            view=view,
            kind=kind,
            settings=settings,
            # The kinds mark their descriptions for translation; the page shows them in the
            # annotator's language.
            shortcuts=[(key, _(what)) for key, what in kind.shortcuts(settings)],
            # Candidates are named by their place on screen (A, B, C...), never by model.
            candidates=list(zip(string.ascii_uppercase, view.candidates, strict=False)),
            idempotency_key=uuid.uuid4().hex,
        )
    if (study := study_of(campaign=campaign)) is not None:
        context["study"] = study
        if assignment is not None:
            prism_type = selectors.conversation_prism_type(
                conversation_id=assignment.task.conversation_id
            )
            context["guidance"] = guidance_for(study=study, prism_type=prism_type)
    if context["form"]:
        context["draft"] = form_draft(context["form"])
    context["progress"] = selectors.campaign_progress(campaign=campaign, user=request.user)
    template = "annotation/_task_card.html" if request.htmx else "annotation/task.html"
    return render(request, template, context, status=status)


def _written(form: QueryDict | None) -> list[str]:
    """What the annotator wrote into the form's text boxes, non-empty, in form order."""
    if form is None:
        return []
    return [
        value
        for name, values in form.lists()
        if name in WRITTEN_FIELDS or name.startswith(WRITTEN_PREFIXES)
        for value in values
        if value.strip()
    ]
