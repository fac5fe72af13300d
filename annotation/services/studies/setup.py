"""Setting a study up: the admin's one save of everything a study sets."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, transaction

from annotation.errors import RuleError
from annotation.models import Campaign, Membership, Study
from annotation.selectors.studies import EXISTING_CONSENT, EXISTING_KEEP, GUIDANCE_DEFAULT
from annotation.services.studies.participants import consent_text_set
from annotation.services.studies.quotas import quotas_clean
from annotation.survey import QUESTIONS, questions_clean

# The most a positive integer field holds on every database.
COUNT_MAX = 2**31 - 1


@transaction.atomic
def study_configure(
    *,
    campaign: Campaign,
    consent_text: str,
    questions: list[str],
    quotas: Any,
    existing: str = EXISTING_CONSENT,
    **fields: Any,
) -> Study:
    """Make the campaign a study (or change its settings): the consent text (a changed one is
    a new version), the survey's questions, the quotas (checked) and the study's own fields.
    A quota or eligibility rule on a question the survey does not ask is refused: nobody
    could be placed.

    `existing` says what becomes of the people already working (selectors.members_at_work):
    "consent" sends them through the consent page and the survey before their next task (the
    campaign's annotators when it becomes a study; participants when the consent text
    changes); "keep" lets them go on as they are."""
    if existing not in (EXISTING_KEEP, EXISTING_CONSENT):
        raise RuleError("Choose whether existing members keep working.", field="existing")
    fields = study_settings_clean(fields)
    try:
        asked = questions_clean(questions)
    except ValueError as e:
        raise RuleError(str(e), field="questions") from None
    clean_quotas = quotas_clean(quotas)
    for d in clean_quotas.get("dimensions", []):
        if d["question"] not in asked:
            raise RuleError(
                f"The quota on {d['question']!r} needs that question in the survey.",
                field="quotas",
            )
    for name in fields.get("eligibility") or {}:
        if name not in asked:
            raise RuleError(
                f"The eligibility rule on {name!r} needs that question in the survey.",
                field="eligibility",
            )
    study, created = Study.objects.get_or_create(campaign=campaign)
    if created and existing == EXISTING_CONSENT:
        # Annotators already in the campaign go through the study's steps too (admins do not
        # annotate, so they are left as they are).
        Membership.objects.filter(
            campaign=campaign, role=Membership.Role.ANNOTATOR, stage=Membership.Stage.READY
        ).update(stage=Membership.Stage.CONSENT)
    for name, value in fields.items():
        setattr(study, name, value)
    study.save(update_fields=list(fields) or None)
    campaign.survey = {**(campaign.survey or {}), "questions": asked}
    campaign.quotas = clean_quotas
    campaign.save(update_fields=["survey", "quotas"])
    return consent_text_set(campaign=campaign, text=consent_text, existing=existing)


def study_settings_clean(fields: dict[str, Any]) -> dict[str, Any]:
    """A study's own settings (Study.SETTINGS), checked: each field's type and length, the
    eligibility rules, the qualification's items and the guidance. Errors name the field
    (`qualification.items[1].answer`)."""
    unknown = sorted(set(fields) - set(Study.SETTINGS))
    if unknown:
        raise RuleError(f"Unknown study setting {unknown[0]}.", field=unknown[0])
    clean = dict(fields)
    for name, value in fields.items():
        field = Study._meta.get_field(name)
        if isinstance(field, models.BooleanField) and not isinstance(value, bool):
            raise RuleError(f"{name} must be true or false.", field=name)
        if isinstance(field, models.PositiveIntegerField) and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= COUNT_MAX
        ):
            raise RuleError(f"{name} must be a whole number, 0 or more.", field=name)
        if isinstance(field, models.CharField):
            if not isinstance(value, str):
                raise RuleError(f"{name} must be text.", field=name)
            if field.max_length and len(value) > field.max_length:
                raise RuleError(f"{name} is longer than {field.max_length} characters.", field=name)
    if url := clean.get("completion_url"):
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise RuleError(
                "completion_url must be a web address (https://...).", field="completion_url"
            ) from None
    if "eligibility" in clean:
        clean["eligibility"] = _eligibility_clean(clean["eligibility"])
    if "qualification" in clean:
        clean["qualification"] = _qualification_clean(clean["qualification"])
    if "guidance" in clean:
        clean["guidance"] = _guidance_clean(clean["guidance"])
    return clean


def _eligibility_clean(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RuleError("eligibility must be an object.", field="eligibility")
    for name, allowed in value.items():
        where = f"eligibility.{name}"
        if name not in QUESTIONS or not QUESTIONS[name].groups:
            raise RuleError(f"{name!r} is not a question with fixed answers.", field=where)
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise RuleError(f"{name}: give a list of allowed answers.", field=where)
    return value


def _qualification_clean(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RuleError("qualification must be an object.", field="qualification")
    unknown = sorted(set(value) - {"instructions", "pass_mark", "items"})
    if unknown:
        raise RuleError(f"Unknown field {unknown[0]}.", field=f"qualification.{unknown[0]}")
    if not isinstance(value.get("instructions", ""), str):
        raise RuleError("instructions must be text.", field="qualification.instructions")
    items = value.get("items", [])
    if not isinstance(items, list):
        raise RuleError('"items" must be a list.', field="qualification.items")
    for n, item in enumerate(items, start=1):
        where = f"qualification.items[{n - 1}]"
        options = item.get("options") if isinstance(item, dict) else None
        if (
            not isinstance(options, list)
            or len(options) < 2
            or not all(isinstance(o, str) for o in options)
            or not isinstance(item.get("question"), str)
            or not item["question"].strip()
        ):
            raise RuleError(f"Item {n} needs a question and two options or more.", field=where)
        answer = item.get("answer")
        if (
            isinstance(answer, bool)
            or not isinstance(answer, int)
            or not 0 <= answer < len(options)
        ):
            raise RuleError(
                f"Item {n}: answer is the index of the right option.", field=f"{where}.answer"
            )
    mark = value.get("pass_mark", 0.8)
    if isinstance(mark, bool) or not isinstance(mark, int | float) or not 0 <= mark <= 1:
        raise RuleError("pass_mark is a share between 0 and 1.", field="qualification.pass_mark")
    return value


def _guidance_clean(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RuleError("guidance must be an object.", field="guidance")
    unknown = [k for k in value if k not in GUIDANCE_DEFAULT]
    if unknown or not all(isinstance(v, str) for v in value.values()):
        raise RuleError(
            "Give a text per conversation type: " + ", ".join(GUIDANCE_DEFAULT),
            field=f"guidance.{unknown[0]}" if unknown else "guidance",
        )
    return value
