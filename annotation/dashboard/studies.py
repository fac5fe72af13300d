"""The dashboard's study pages: a campaign's study settings (joining, consent, survey,
quotas, qualification, completion) and who took part, by survey answer, against the quotas."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.dashboard import charts
from annotation.dashboard.base import campaign_admin_page, page
from annotation.errors import RuleError
from annotation.forms import StudySettingsForm
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign, Membership, Study
from annotation.selectors import studies as selectors
from annotation.services import studies


def _links(request: AuthedHttpRequest, campaign: Campaign, study: Study | None) -> dict[str, str]:
    if study is None:
        return {}
    entry = request.build_absolute_uri(reverse("study_entry", args=[campaign.slug]))
    links = {
        "study": f"{entry}?{study.participant_param}={{{{%PROLIFIC_PID%}}}}"
        f"&{study.study_param}={{{{%STUDY_ID%}}}}&{study.session_param}={{{{%SESSION_ID%}}}}",
    }
    if study.signup_open:
        links["signup"] = request.build_absolute_uri(reverse("study_signup", args=[campaign.slug]))
    if study.invitation_token:
        links["invitation"] = request.build_absolute_uri(
            reverse("study_invitation", args=[campaign.slug, study.invitation_token])
        )
    return links


@campaign_admin_page
@require_http_methods(["GET", "POST"])
def study_settings(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    study = selectors.study_of(campaign=campaign)
    initial = {
        "consent": study.consent_text if study else "",
        "questions": (campaign.survey or {}).get("questions", []),
        "quotas": campaign.quotas or {},
    }
    form = StudySettingsForm(request.POST or None, instance=study or Study(), initial=initial)
    notice, error = "", ""
    # People already working whom this save could send to the consent page: the admin is
    # warned on the page and chooses, before saving, what becomes of them.
    at_work = selectors.members_at_work(campaign=campaign)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        sends_back = at_work and (
            study is None or data["consent"].strip() != (study.consent_text or "")
        )
        if sends_back and not data["existing"]:
            form.add_error(
                "existing",
                f"{at_work} {'person is' if at_work == 1 else 'people are'} already working "
                "on this campaign: choose whether they keep working or go through consent.",
            )
        else:
            try:
                study = studies.study_configure(
                    campaign=campaign,
                    consent_text=data["consent"],
                    questions=data["questions"],
                    quotas=data["quotas"],
                    existing=data["existing"] or selectors.EXISTING_CONSENT,
                    **{f: data[f] for f in StudySettingsForm.Meta.fields},
                )
                notice = "Saved the study."
                at_work = selectors.members_at_work(campaign=campaign)
            except RuleError as e:
                error = e.message
    return page(
        request,
        "studies/admin_settings.html",
        campaign,
        {
            "form": form,
            "study": study,
            "at_work": at_work,
            "links": _links(request, campaign, study),
            "notice": notice,
            "error": error,
        },
        status=422 if (form.errors or error) else 200,
    )


@campaign_admin_page
@require_POST
def study_invitation(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    """Make a new invitation link (the old one stops working) or revoke it."""
    try:
        if request.POST.get("action") == "revoke":
            studies.invitation_revoke(campaign=campaign)
        else:
            studies.invitation_make(campaign=campaign)
    except RuleError as e:
        return page(request, "studies/admin_settings.html", campaign, {"error": e.message}, 404)
    return redirect("dashboard:study_settings", campaign_id=campaign.id)


@campaign_admin_page
@require_GET
def study_participants(request: AuthedHttpRequest, campaign: Campaign) -> HttpResponse:
    """Who took part, by the survey's fields, against the quotas."""
    breakdowns = selectors.demographics(campaign=campaign)
    charts_by_question = {
        b.question: charts.target_bars(
            [(r.answer, r.share, r.target_share, r.participants) for r in b.rows],
            label=f"Participants by {b.question}",
        )
        for b in breakdowns
    }
    return page(
        request,
        "studies/admin_participants.html",
        campaign,
        {
            "is_study": selectors.study_of(campaign=campaign) is not None,
            "stages": [
                (Membership.Stage(stage).label, n)
                for stage, n in selectors.stage_counts(campaign=campaign).items()
            ],
            "breakdowns": [(b, charts_by_question[b.question]) for b in breakdowns],
        },
    )
