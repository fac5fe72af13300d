"""Setting a study up: the admin's one save of everything a study sets."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from annotation.errors import RuleError
from annotation.models import Campaign, Membership, Study
from annotation.selectors.studies import EXISTING_CONSENT, EXISTING_KEEP
from annotation.services.studies.participants import consent_text_set
from annotation.services.studies.quotas import quotas_clean
from annotation.survey import questions_clean


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
    unknown = set(fields) - set(Study.SETTINGS)
    if unknown:
        raise RuleError(f"Unknown study settings: {', '.join(sorted(unknown))}.")
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
