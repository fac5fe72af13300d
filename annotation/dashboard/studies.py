"""The dashboard's study pages: a campaign's study settings (joining, consent, survey,
quotas, qualification, completion) and who took part, by survey answer, against the quotas."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.dashboard import charts, study_fields
from annotation.dashboard.base import campaign_admin_page, page
from annotation.errors import RuleError
from annotation.forms import StudySettingsForm
from annotation.http import AuthedHttpRequest
from annotation.models import Campaign, Membership, Study
from annotation.selectors import studies as selectors
from annotation.services import studies
from annotation.survey import QUESTIONS
from webapp.untrusted import Untrusted, json_parse


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
    data = None
    fields: dict[str, Any] = {}
    if request.method == "POST":
        data = request.POST.copy()
        # The fields, unless the expert saves the JSON instead.
        if "study_fields" in data and "use_json" not in data:
            fields = study_fields.from_form(request.POST)
            for name, value in fields.items():
                data[name] = json.dumps(value, ensure_ascii=False)
    form = StudySettingsForm(data, instance=study or Study(), initial=initial)
    notice, error = "", ""
    field_errors: dict[str, str] = {}
    # People already working whom this save could send to the consent page: the admin is
    # warned on the page and chooses, before saving, what becomes of them.
    at_work = selectors.members_at_work(campaign=campaign)
    if request.method == "POST" and form.is_valid():
        clean = form.cleaned_data
        sends_back = at_work and (
            study is None or clean["consent"].strip() != (study.consent_text or "")
        )
        if sends_back and not clean["existing"]:
            form.add_error(
                "existing",
                f"{at_work} {'person is' if at_work == 1 else 'people are'} already working "
                "on this campaign: choose whether they keep working or go through consent.",
            )
        else:
            try:
                study = studies.study_configure(
                    campaign=campaign,
                    consent_text=clean["consent"],
                    questions=clean["questions"],
                    quotas=clean["quotas"],
                    existing=clean["existing"] or selectors.EXISTING_CONSENT,
                    **{f: clean[f] for f in StudySettingsForm.Meta.fields},
                )
                notice = "Saved the study."
                at_work = selectors.members_at_work(campaign=campaign)
            except RuleError as e:
                error = _rule_error_placed(e, form, fields, field_errors)
    values = form.data if request.method == "POST" else None
    shown = {
        name: fields.get(name) if fields else _json_value(form, name, values)
        for name in study_fields.JSON_FIELDS
    }
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
            "json_fields": study_fields.JSON_FIELDS,
            "eligibility": study_fields.eligibility_fields(shown["eligibility"], field_errors),
            "quota_rows": study_fields.quota_rows(shown["quotas"], field_errors),
            "quota_steer": bool((shown["quotas"] or {}).get("steer", True)),
            "quota_questions": [q for q, v in QUESTIONS.items() if v.groups],
            "qualification": shown["qualification"] or {},
            "qualification_rows": study_fields.qualification_rows(
                shown["qualification"], field_errors
            ),
            "pass_mark": _pass_mark(shown["qualification"], field_errors),
        },
        status=422 if (form.errors or error or field_errors) else 200,
    )


def _rule_error_placed(
    e: RuleError, form: StudySettingsForm, fields: dict[str, Any], field_errors: dict[str, str]
) -> str:
    """Where a refused study setting is shown: under its field on the page (`field_errors`),
    under the form's field for the JSON, or (the text returned) above the form."""
    message = f"{e.field}: {e.message}" if e.field and "." in e.field else e.message
    target = study_fields.field_of(e.field, e.message)
    if target and target.startswith("quotas-question-"):
        asked = target.removeprefix("quotas-question-")
        dims = (fields.get("quotas") or {}).get("dimensions", [])
        at = [i for i, d in enumerate(dims) if d.get("question") == asked]
        target = f"quotas-{at[0]}-question" if at else None
    if target and fields:
        field_errors[target] = message
        return ""
    # Under its field where the form has one (`qualification.items[1]` -> qualification),
    # for the JSON.
    name = (e.field or "").split(".")[0].split("[")[0]
    name = {"consent_text": "consent"}.get(name, name)
    if name in form.fields:
        form.add_error(name, message)
        return ""
    return e.message


def _json_value(form: StudySettingsForm, name: str, data: Any) -> Any:
    """The JSON value the page shows in its fields: what was sent (if it parses) or saved."""
    value: Any = {}
    if data is not None:
        try:
            value = json_parse(data.get(name) or "{}")
        except Untrusted:  # the form names it under the JSON
            return {}
    else:
        value = form.initial.get(name, getattr(form.instance, name, None))
    # Not an object: the form refuses it under the JSON; the fields show nothing of it.
    return value if isinstance(value, dict) else {}


def _pass_mark(value: Any, errors: dict[str, str]) -> dict[str, Any]:
    mark = value.get("pass_mark", 0.8) if isinstance(value, dict) else 0.8
    shown = f"{mark * 100:g}" if isinstance(mark, int | float) else mark
    return {"value": shown, "error": errors.get("qualification-pass_mark", "")}


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
