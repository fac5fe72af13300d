"""Reads about a study: who withdrew, who took part by survey answer, and the guidance a
participant reads before each PRISM conversation type."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KeyTransform
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from annotation.errors import NotFound
from annotation.models import (
    Campaign,
    Conversation,
    Membership,
    Participant,
    Profile,
    Study,
    User,
)
from annotation.selectors.judgments import people_withdrawn
from annotation.survey import PREFER_NOT, QUESTIONS

# Who counts as having taken part: admitted past screening and not withdrawn.
TOOK_PART = (
    Membership.Stage.QUALIFY,
    Membership.Stage.ACTIVE,
    Membership.Stage.FAILED,
    Membership.Stage.COMPLETED,
)


def users_withdrawn(*, campaign: Campaign) -> QuerySet[User]:
    """People who withdrew their consent from the campaign (the rule of
    selectors.judgments, which every statistic and export follows)."""
    return people_withdrawn(campaign=campaign)


def stage_counts(*, campaign: Campaign) -> dict[str, int]:
    """Participants at each stage of the study."""
    rows = (
        Membership.objects.filter(campaign=campaign, participant__isnull=False)
        .values_list("stage")
        .annotate(n=Count("id"))
    )
    counts = dict.fromkeys(Membership.Stage.values, 0)
    counts.update({stage: n for stage, n in rows})
    counts.pop(Membership.Stage.READY, None)
    return counts


@dataclass(frozen=True)
class Row:
    answer: str
    participants: int
    share: float | None  # of the participants counted
    target: float | None  # the quota's target (a count or a share, as the quota says)
    target_share: float | None


@dataclass(frozen=True)
class Breakdown:
    question: str
    label: Any
    total: int
    rows: list[Row]
    unit: str  # "" (no quota) | "count" | "share"


def answers_counted(*, took_part: QuerySet[Membership], total: int, name: str) -> Counter[str]:
    """How many of these people gave each answer to a survey question in their latest
    profile, counted by the database (one row per answer, not per person); no answer, or no
    profile, counts as "prefer not to say", as `answer_of` reads it."""
    latest = Profile.objects.filter(
        user_id__in=took_part.values("user_id"),
        version=Subquery(
            Profile.objects.filter(user_id=OuterRef("user_id"))
            .order_by("-version")
            .values("version")[:1]
        ),
    )
    *path, last = QUESTIONS[name].where.split(".")
    value: Any = "answers"
    for part in path:
        value = KeyTransform(part, value)
    counts: Counter[str] = Counter()
    for answer, n in (
        latest.annotate(answer=KeyTransform(last, value))
        .values_list("answer")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts[answer if isinstance(answer, str) and answer else PREFER_NOT] += n
    unanswered = total - sum(counts.values())  # people without a profile
    if unanswered:
        counts[PREFER_NOT] += unanswered
    return counts


def demographics(*, campaign: Campaign) -> list[Breakdown]:
    """Per grouping question the campaign asks (or has a quota on): how many of those who took
    part gave each answer, next to the quota's target."""
    took_part = Membership.objects.filter(
        campaign=campaign, participant__isnull=False, stage__in=TOOK_PART
    )
    total = took_part.count()
    quotas = {d["question"]: d for d in (campaign.quotas or {}).get("dimensions", [])}
    asked = [n for n in (campaign.survey or {}).get("questions", []) if n in QUESTIONS]
    names = [n for n in QUESTIONS if (n in asked or n in quotas) and QUESTIONS[n].groups]
    out = []
    for name in names:
        counts = answers_counted(took_part=took_part, total=total, name=name)
        quota = quotas.get(name) or {}
        targets: dict[str, float] = {str(k): float(v) for k, v in quota.get("targets", {}).items()}
        total_target = sum(targets.values())
        answers = [*targets, *sorted(a for a in counts if a not in targets)]
        rows = []
        for answer in answers:
            target = targets.get(answer)
            target_share = None
            if target is not None and total_target > 0:
                unit_share = quota.get("unit") == "share"
                target_share = target if unit_share else target / total_target
            rows.append(
                Row(
                    answer=answer,
                    participants=counts.get(answer, 0),
                    share=counts.get(answer, 0) / total if total else None,
                    target=target,
                    target_share=target_share,
                )
            )
        unit = quota.get("unit", "count") if quota else ""
        out.append(Breakdown(name, QUESTIONS[name].label, total, rows, unit))
    return out


# PRISM's conversation types and the guidance a participant reads before each one. The
# defaults follow the PRISM study's own instructions; a study may replace any of them
# (Study.guidance). The task page shows the guidance of the task's conversation type, and the
# `prism` export carries it with every conversation.

GUIDANCE_DEFAULT: dict[str, Any] = {
    Conversation.PrismType.UNGUIDED: _(
        "Ask, request or talk to the model about anything. It is up to you!"
    ),
    Conversation.PrismType.VALUES_GUIDED: _(
        "Ask, request or talk to the model about something important to you or that "
        "represents your values. This could be related to work, religion, family and "
        "relationships, politics or culture."
    ),
    Conversation.PrismType.CONTROVERSY_GUIDED: _(
        "Ask, request or talk to the model about something controversial or where people "
        "would disagree in your community, culture or country."
    ),
}


def guidance_for(*, study: Study | None, prism_type: str) -> str:
    """The guidance shown for conversations of this type ("" for a conversation without)."""
    if not prism_type:
        return ""
    custom = ((study.guidance if study else None) or {}).get(prism_type)
    if isinstance(custom, str) and custom.strip():
        return custom
    return str(GUIDANCE_DEFAULT.get(prism_type, ""))


def study_for(campaign: Campaign) -> Study:
    """The campaign's study, or NotFound for a campaign that is not one."""
    study = Study.objects.filter(campaign=campaign).first()
    if study is None:
        raise NotFound(gettext("This campaign is not a study."))
    return study


def survey_questions(campaign: Campaign) -> list[str]:
    return list((campaign.survey or {}).get("questions", []))


def profile_latest(user: User) -> Profile | None:
    return Profile.objects.filter(user=user).order_by("-version").first()


# What a save of the study's settings does to the people already working on the campaign
# (services.studies.study_configure): they keep working, or they go through consent first.
EXISTING_KEEP = "keep"
EXISTING_CONSENT = "consent"


def members_at_work(*, campaign: Campaign) -> int:
    """How many people a save of the study's settings could send back to its consent page:
    before the campaign is a study, its annotators taking tasks; once it is, the participants
    past consent (a changed consent text asks them again)."""
    if not Study.objects.filter(campaign=campaign).exists():
        return Membership.objects.filter(
            campaign=campaign, role=Membership.Role.ANNOTATOR, stage=Membership.Stage.READY
        ).count()
    return Membership.objects.filter(
        campaign=campaign,
        participant__isnull=False,
        stage__in=[Membership.Stage.SURVEY, Membership.Stage.QUALIFY, Membership.Stage.ACTIVE],
    ).count()


def study_of(*, campaign: Campaign) -> Study | None:
    """The campaign's study, or None; free when the campaign was read with select_related."""
    try:
        return campaign.study
    except Study.DoesNotExist:
        return None


def study_by_slug(*, slug: str) -> Study | None:
    """The study (with its campaign) a participant's link names; drafts are not found."""
    return (
        Study.objects.select_related("campaign")
        .exclude(campaign__state=Campaign.State.DRAFT)
        .filter(campaign__slug=slug)
        .first()
    )


def participant_of(*, campaign: Campaign, user: User) -> Participant | None:
    return (
        Participant.objects.select_related("membership__user", "campaign")
        .filter(campaign=campaign, membership__user=user)
        .first()
    )
