"""The participant's pages of a study, under /study/<campaign slug>/. Each parses the request
and calls annotation.services.studies; `study_next` sends a participant to their step."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from annotation.errors import RuleError
from annotation.forms import ConsentForm, QualificationForm, SignupForm, SurveyForm
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign, Membership, Participant, Study
from annotation.selectors import studies as study_selectors
from annotation.services import studies
from webapp.untrusted import form_int

Stage = Membership.Stage
BACKEND = "django.contrib.auth.backends.ModelBackend"
# Where each stage is served; the final ones show the study's end page.
STEP_URLS: dict[str, str] = {
    Stage.CONSENT: "study_consent",
    Stage.SURVEY: "study_survey",
    Stage.QUALIFY: "study_qualification",
}


def _study(slug: str) -> tuple[Campaign, Study]:
    study = study_selectors.study_by_slug(slug=slug)
    if study is None:
        raise Http404("No such study.")
    return study.campaign, study


def _participant(request: AuthedHttpRequest, campaign: Campaign) -> Participant | None:
    return study_selectors.participant_of(campaign=campaign, user=request.user)


def _next(campaign: Campaign, participant: Participant) -> HttpResponse:
    stage = participant.membership.stage
    if stage in STEP_URLS:
        return redirect(STEP_URLS[stage], slug=campaign.slug)
    if stage == Stage.ACTIVE:
        return redirect("campaign_task", campaign_id=campaign.id)
    return redirect("study_end", slug=campaign.slug)


def _refusal(request: HttpRequest, campaign: Campaign, e: RuleError) -> HttpResponse:
    title = (
        _("Sign-up is closed")
        if e.code == studies.JOIN_REFUSED
        else _("This study link does not work")
    )
    return render(
        request,
        "studies/message.html",
        {"campaign": campaign, "title": title, "message": e.message},
        status=e.status,
    )


@require_http_methods(["GET", "POST"])
def study_entry(request: HttpRequest, slug: str) -> HttpResponse:
    """The study link: with the crowd platform's participant id it logs the participant in
    (made on the first visit, the same one after); without, the person signs up or in."""
    campaign, study = _study(slug)
    if study.participant_param in request.GET:
        return _crowd_entry(request, campaign)
    if request.method == "POST":
        return HttpResponseNotAllowed(["GET"])
    if not request.user.is_authenticated:
        if study.signup_open:
            return redirect("study_signup", slug=slug)
        return redirect(f"{reverse('login')}?next={request.get_full_path()}")
    # An invitation (?invite=) goes along to the step that lets the person in.
    return redirect(_next_url(slug, request.GET.get("invite", "")))


def _crowd_entry(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    """A link from a crowd platform. It signs in as the participant it names, so a person
    signed in as someone else is asked first, on a page whose form carries the CSRF token: a
    link from another site must not sign an admin out and in as a participant (login CSRF)."""
    try:
        arrival = studies.participant_link_check(campaign=campaign, params=request.GET)
    except RuleError as e:
        return _refusal(request, campaign, e)
    user = request.user
    switching = user.is_authenticated and (
        arrival.participant is None or arrival.participant.membership.user_id != user.pk
    )
    if switching and request.method != "POST":
        return render(
            request,
            "studies/switch.html",
            {"campaign": campaign, "action": request.get_full_path()},
        )
    try:
        participant = studies.participant_from_link(campaign=campaign, params=request.GET)
    except RuleError as e:
        return _refusal(request, campaign, e)
    if participant.membership.user_id != user.pk:
        login(request, participant.membership.user, backend=BACKEND)
    return _next(campaign, participant)


def _next_url(slug: str, invite: str) -> str:
    url = reverse("study_next", args=[slug])
    return f"{url}?{urlencode({'invite': invite})}" if invite else url


@login_required
@require_GET
def study_next(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    campaign, _study_row = _study(slug)
    participant = _participant(request, campaign)
    if participant is None:
        try:
            participant = studies.participant_join(
                campaign=campaign, user=request.user, token=request.GET.get("invite", "")
            )
        except RuleError as e:
            return _refusal(request, campaign, e)
    return _next(campaign, participant)


@require_http_methods(["GET", "POST"])
def study_signup(request: HttpRequest, slug: str) -> HttpResponse:
    """Open sign-up, or through the invitation link (?invite=<token>)."""
    campaign, study = _study(slug)
    token = request.GET.get("invite") or request.POST.get("invite") or ""
    try:
        studies.join_check(study=study, token=token)
    except RuleError as e:
        return _refusal(request, campaign, e)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend=BACKEND)
        try:
            participant = studies.participant_join(campaign=campaign, user=user, token=token)
        except RuleError as e:
            return _refusal(request, campaign, e)
        return _next(campaign, participant)
    return render(
        request,
        "studies/signup.html",
        {"campaign": campaign, "form": form, "invite": token},
        status=422 if form.errors else 200,
    )


@require_GET
def study_invitation(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    campaign, study = _study(slug)
    try:
        studies.join_check(study=study, token=token)
    except RuleError as e:
        return _refusal(request, campaign, e)
    if request.user.is_authenticated:
        return redirect(_next_url(slug, token))
    return redirect(f"{reverse('study_signup', args=[slug])}?invite={token}")


def _step(
    request: AuthedHttpRequest, slug: str, stages: tuple[str, ...]
) -> tuple[Campaign, Study, Participant] | HttpResponse:
    """The participant, if this step is theirs now; else where they should be."""
    campaign, study = _study(slug)
    participant = _participant(request, campaign)
    if participant is None:
        return redirect("study_next", slug=slug)
    if participant.membership.stage not in stages:
        return _next(campaign, participant)
    return campaign, study, participant


@login_required
@require_http_methods(["GET", "POST"])
def study_consent(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    got = _step(request, slug, (Stage.CONSENT,))
    if isinstance(got, HttpResponse):
        return got
    campaign, study, participant = got
    form = ConsentForm(request.POST or None, initial={"version": study.consent_version})
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            studies.consent_give(participant=participant, version=form.cleaned_data["version"])
            return _next(campaign, participant)
        except RuleError as e:
            error = e.message
            study.refresh_from_db()
            form = ConsentForm(initial={"version": study.consent_version})
    return render(
        request,
        "studies/consent.html",
        {"campaign": campaign, "study": study, "form": form, "error": error},
        status=422 if (form.errors or error) else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def study_survey(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """The survey; also where a participant edits their answers later (a new version)."""
    got = _step(request, slug, (Stage.SURVEY, Stage.QUALIFY, Stage.ACTIVE))
    if isinstance(got, HttpResponse):
        return got
    campaign, _study_row, participant = got
    latest = studies.profile_latest(request.user)
    previous: dict[str, Any] = (latest.answers if latest else None) or {}
    form = SurveyForm(
        request.POST or None,
        questions=studies.survey_questions(campaign),
        initial_answers=previous,
    )
    editing = participant.membership.stage != Stage.SURVEY
    if request.method == "POST" and form.is_valid():
        try:
            studies.survey_submit(participant=participant, answers=form.answers(previous))
        except RuleError as e:
            return _refusal(request, campaign, e)
        participant.membership.refresh_from_db()
        return _next(campaign, participant)
    return render(
        request,
        "studies/survey.html",
        {"campaign": campaign, "form": form, "editing": editing},
        status=422 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def study_qualification(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """The training items one at a time, each answered with feedback before the next."""
    got = _step(request, slug, (Stage.QUALIFY, Stage.ACTIVE, Stage.FAILED))
    if isinstance(got, HttpResponse):
        return got
    campaign, study, participant = got
    items = studies.qualification_items(study)
    answered = participant.qualification.get("answers") or {}
    feedback = None
    item_no = form_int(request.POST.get("item"))
    item_no = -1 if item_no is None else item_no
    if request.method == "POST" and 0 <= item_no < len(items):
        form = QualificationForm(request.POST, options=items[item_no].get("options", []))
        if form.is_valid():
            try:
                feedback = studies.qualification_answer(
                    participant=participant, item=item_no, choice=form.cleaned_data["choice"]
                )
            except RuleError as e:
                return _refusal(request, campaign, e)
            return render(
                request,
                "studies/qualification.html",
                {
                    "campaign": campaign,
                    "study": study,
                    "item": items[item_no],
                    "number": item_no + 1,
                    "count": len(items),
                    "feedback": feedback,
                },
            )
    elif participant.membership.stage != Stage.QUALIFY:
        return _next(campaign, participant)
    else:
        item_no = next((k for k in range(len(items)) if str(k) not in answered), -1)
        if item_no < 0:
            return _next(campaign, participant)
        form = QualificationForm(
            initial={"item": item_no}, options=items[item_no].get("options", [])
        )
    return render(
        request,
        "studies/qualification.html",
        {
            "campaign": campaign,
            "study": study,
            "item": items[item_no],
            "number": item_no + 1,
            "count": len(items),
            "form": form,
            "first": item_no == 0,
        },
        status=422 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def study_withdraw(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """Withdraw consent, after a confirmation."""
    campaign, _study_row = _study(slug)
    participant = _participant(request, campaign)
    if participant is None:
        raise Http404("No such participant.")
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        studies.consent_withdraw(participant=participant)
        return redirect("study_end", slug=slug)
    return render(
        request, "studies/withdraw.html", {"campaign": campaign, "participant": participant}
    )


@login_required
@require_http_methods(["GET", "POST"])
def study_complete(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """POST finishes (once nothing is left for the participant); GET shows the completion
    code and the link back to the crowd platform. A link, not a redirect after the form: the
    pages' CSP allows forms to post to Agora only."""
    campaign, study = _study(slug)
    participant = _participant(request, campaign)
    if participant is None:
        return redirect("study_next", slug=slug)
    if request.method == "POST":
        try:
            studies.participant_complete(participant=participant)
        except RuleError as e:
            if e.code == "not_done":
                return _next(campaign, participant)
            return _refusal(request, campaign, e)
        return redirect("study_complete", slug=slug)
    stage = participant.membership.stage
    if stage not in (Stage.ACTIVE, Stage.COMPLETED):
        return _next(campaign, participant)
    return render(
        request,
        "studies/complete.html",
        {"campaign": campaign, "study": study, "finished": stage == Stage.COMPLETED},
    )


@login_required
@require_GET
def study_end(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """The page of a participant who cannot go on: not eligible, quota full, failed the
    qualification, withdrew, or finished."""
    campaign, _study_row = _study(slug)
    participant = _participant(request, campaign)
    if participant is None:
        return redirect("study_next", slug=slug)
    stage = participant.membership.stage
    if stage == Stage.COMPLETED:
        return redirect("study_complete", slug=slug)
    if stage not in studies.participants.FINAL:
        return _next(campaign, participant)
    titles: dict[str, str] = {
        Stage.INELIGIBLE: _("Thank you: this study is not looking for you"),
        Stage.QUOTA_FULL: _("Thank you: this study has all the participants it needs"),
        Stage.FAILED: _("Thank you for trying"),
        Stage.WITHDRAWN: _("You have withdrawn"),
    }
    messages: dict[str, str] = {
        Stage.INELIGIBLE: _(
            "From your answers, you are not in the group of people this study needs. "
            "You will not be shown any tasks. Please return the study on your platform."
        ),
        Stage.QUOTA_FULL: _(
            "The study already has enough participants like you. You will not be shown "
            "any tasks. Please return the study on your platform."
        ),
        Stage.FAILED: _(
            "Your answers to the practice questions did not reach the mark this study "
            "needs, so it cannot show you its tasks."
        ),
        Stage.WITHDRAWN: _(
            "You withdrew your consent. Your answers and judgments are left out of every "
            "dataset made from this study."
        ),
    }
    return render(
        request,
        "studies/message.html",
        {"campaign": campaign, "title": titles[stage], "message": messages[stage]},
    )
