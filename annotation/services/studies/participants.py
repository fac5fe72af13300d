"""A participant's way through a study: join, consent, survey, screening, qualification, tasks,
completion; and withdrawal at any time.

The steps, in order, each skipped where the study does not use it: consent (the study has a
consent text), survey (the campaign asks questions), screening (eligibility rules and quotas,
checked once after the survey), qualification (the study has training items), then tasks.
`Membership.stage` always names the step a participant is at, so the lease can refuse
everyone not yet through (gate.py) without reading anything else.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from annotation.errors import Conflict, RuleError
from annotation.models import (
    Assignment,
    Campaign,
    ConsentText,
    Membership,
    Participant,
    Profile,
    Study,
    User,
)
from annotation.selectors.studies import (
    EXISTING_CONSENT,
    EXISTING_KEEP,
    profile_latest,
    study_for,
    survey_questions,
)
from annotation.services import leasing
from annotation.services.studies import quotas
from annotation.services.studies.joining import join_check
from annotation.signals import consent_withdrawn
from annotation.survey import QUESTIONS, answer_of

Stage = Membership.Stage
# Stages a participant never leaves on their own.
FINAL = (Stage.INELIGIBLE, Stage.QUOTA_FULL, Stage.FAILED, Stage.WITHDRAWN, Stage.COMPLETED)


# --- joining ------------------------------------------------------------------------------


def _campaign_open(campaign: Campaign) -> None:
    if campaign.state != Campaign.State.OPEN:
        raise Conflict(_("This study is not open at the moment."), code="closed")


@transaction.atomic
def participant_join(
    *,
    campaign: Campaign,
    user: User,
    token: str = "",
    crowd_link: bool = False,
    external_id: str = "",
    external_study: str = "",
    external_session: str = "",
) -> Participant:
    """This person's place in the study, made on their first visit and returned after. A
    newcomer gets in by the rule of joining.py: open sign-up, the invitation `token`, the
    crowd link (`crowd_link`) where the study takes it, or a place the admins gave them."""
    _campaign_open(campaign)
    study = study_for(campaign)
    join_check(study=study, user=user, token=token, crowd_link=crowd_link)
    membership, _created = Membership.objects.get_or_create(
        campaign=campaign, user=user, defaults={"stage": Stage.CONSENT}
    )
    if membership.role == Membership.Role.ADMIN and not hasattr(membership, "participant"):
        # Those who run the study keep their role: following its link never turns them into
        # a participant (at the consent step, out of their own dashboard).
        raise RuleError(
            _("You run this study, so you cannot take part in it. Its pages are on the dashboard."),
            code="study_admin",
        )
    participant, created = Participant.objects.get_or_create(
        membership=membership,
        defaults={
            "campaign": campaign,
            "external_id": external_id,
            "external_study": external_study,
            "external_session": external_session,
        },
    )
    if created or membership.stage == Stage.READY:
        participant_advance(participant)
    return participant


@dataclass(frozen=True)
class LinkArrival:
    """Who a crowd link names: its participant id, and the participant if they came before."""

    external_id: str
    participant: Participant | None


def participant_link_check(*, campaign: Campaign, params: Mapping[str, str]) -> LinkArrival:
    """Check a study link (PROLIFIC_PID=... by default) before acting on it: it names a
    participant id, and a newcomer may join by it (joining.py). Makes nothing."""
    study = study_for(campaign)
    external_id = (params.get(study.participant_param) or "").strip()
    if not external_id or len(external_id) > 200:
        raise RuleError(
            _("This study link has no participant id (%(param)s).")
            % {"param": study.participant_param},
            field=study.participant_param,
        )
    found = (
        Participant.objects.select_related("membership__user")
        .filter(campaign=campaign, external_id=external_id)
        .first()
    )
    if found is None:
        # Someone already in comes back by their link whatever the study's way in now.
        _campaign_open(campaign)
        join_check(study=study, crowd_link=True)
    return LinkArrival(external_id=external_id, participant=found)


def participant_from_link(*, campaign: Campaign, params: Mapping[str, str]) -> Participant:
    """The participant a study link names: created on the first visit, with a login of their
    own and no password; the same one on every later visit."""
    arrival = participant_link_check(campaign=campaign, params=params)
    if arrival.participant is not None:
        return arrival.participant
    study = study_for(campaign)
    try:
        with transaction.atomic():
            user = User(username=f"p-{secrets.token_hex(8)}")
            user.set_unusable_password()
            user.save()
            return participant_join(
                campaign=campaign,
                user=user,
                crowd_link=True,
                external_id=arrival.external_id,
                external_study=(params.get(study.study_param) or "")[:200],
                external_session=(params.get(study.session_param) or "")[:200],
            )
    except IntegrityError:
        # The same link opened twice at once: the other request made the participant.
        return Participant.objects.select_related("membership__user").get(
            campaign=campaign, external_id=arrival.external_id
        )


def invitation_make(*, campaign: Campaign) -> str:
    """A new invitation link's token; the previous link stops working."""
    study = study_for(campaign)
    study.invitation_token = secrets.token_urlsafe(24)
    study.save(update_fields=["invitation_token"])
    return study.invitation_token


def invitation_revoke(*, campaign: Campaign) -> None:
    Study.objects.filter(campaign=campaign).update(invitation_token="")


# --- the steps ----------------------------------------------------------------------------


def _survey_done(campaign: Campaign, answers: dict[str, Any]) -> bool:
    for name in survey_questions(campaign):
        where = QUESTIONS[name].where.split(".")[0]
        if name not in answers and where not in answers:
            return False
        if QUESTIONS[name].groups and answer_of(answers, name) is None:
            return False
    return True


def _eligible(study: Study, answers: dict[str, Any]) -> bool:
    for name, allowed in (study.eligibility or {}).items():
        if answer_of(answers, name) not in allowed:
            return False
    return True


def participant_advance(participant: Participant, *, now: datetime | None = None) -> str:
    """Move the participant to the first step they have not done; returns the stage."""
    now = now or timezone.now()
    membership = participant.membership
    campaign = participant.campaign
    study = study_for(campaign)
    if membership.stage in FINAL:
        return membership.stage
    answers = (profile_latest(membership.user) or Profile(answers={})).answers or {}
    stage: str
    if study.consent_text and participant.consent_version != study.consent_version:
        stage = Stage.CONSENT
    elif not _survey_done(campaign, answers):
        stage = Stage.SURVEY
    elif participant.screened_at is None:
        participant.screened_at = now
        participant.save(update_fields=["screened_at"])
        if not _eligible(study, answers):
            stage = Stage.INELIGIBLE
        else:
            admission = quotas.quota_admit(campaign=campaign, answers=answers)
            membership.quota_cells = admission.cells
            membership.save(update_fields=["quota_cells"])
            stage = {"outside": Stage.INELIGIBLE, "full": Stage.QUOTA_FULL}.get(
                admission.refused, ""
            )
        if not stage:
            return participant_advance(participant, now=now)
    elif (study.qualification or {}).get("items") and not participant.qualification.get("passed"):
        done = participant.qualification.get("passed") is False
        stage = Stage.FAILED if done else Stage.QUALIFY
    else:
        stage = Stage.ACTIVE
    if stage != membership.stage:
        membership.stage = stage
        membership.save(update_fields=["stage"])
    return stage


@transaction.atomic
def consent_text_set(*, campaign: Campaign, text: str, existing: str = EXISTING_CONSENT) -> Study:
    """Set the study's consent text; a changed text is a new version everyone must agree to,
    but with `existing="keep"` those already past consent go on under the version they
    agreed to (each participant keeps the version they consented to)."""
    study, _created = Study.objects.select_for_update().get_or_create(campaign=campaign)
    text = text.strip()
    if text == study.consent_text:
        return study
    study.consent_text = text
    if text:
        study.consent_version += 1
        ConsentText.objects.create(campaign=campaign, version=study.consent_version, text=text)
        if existing != EXISTING_KEEP:
            # Everyone on their way through agrees to the new text before anything else
            # (unless the admin chose to let them keep working).
            Membership.objects.filter(
                campaign=campaign,
                participant__isnull=False,
                stage__in=[Stage.SURVEY, Stage.QUALIFY, Stage.ACTIVE],
            ).update(stage=Stage.CONSENT)
    study.save(update_fields=["consent_text", "consent_version"])
    return study


@transaction.atomic
def consent_give(
    *, participant: Participant, version: int, now: datetime | None = None
) -> Participant:
    """Record consent to `version` of the consent text (the one the participant was shown)."""
    study = study_for(participant.campaign)
    if participant.membership.stage in FINAL:
        raise Conflict(_("You can no longer take part in this study."), code="study_over")
    if version != study.consent_version:
        raise Conflict(
            _("The consent text changed while you were reading it; please read it again."),
            code="consent_changed",
        )
    participant.consent_version = version
    participant.consented_at = now or timezone.now()
    participant.save(update_fields=["consent_version", "consented_at"])
    participant_advance(participant)
    return participant


@transaction.atomic
def consent_withdraw(*, participant: Participant, now: datetime | None = None) -> Participant:
    """Withdraw consent: no more tasks, the place in the quota is given back, every
    statistic and export of the campaign leaves the participant out from now on
    (selectors.judgments), and export files written before are superseded (the
    `consent_withdrawn` signal, in this transaction)."""
    now = now or timezone.now()
    membership = Membership.objects.select_for_update().get(id=participant.membership_id)
    if participant.withdrawn_at is not None:
        return participant
    participant.withdrawn_at = now
    participant.save(update_fields=["withdrawn_at"])
    quotas.quota_release(campaign=participant.campaign, cells=membership.quota_cells)
    membership.stage = Stage.WITHDRAWN
    membership.save(update_fields=["stage"])
    for assignment in Assignment.objects.filter(
        campaign=participant.campaign, annotator_id=membership.user_id, state="active"
    ):
        leasing.assignment_skip(
            assignment=assignment, annotator=membership.user, reason="consent withdrawn", now=now
        )
    consent_withdrawn.send(
        sender=Participant, campaign_id=participant.campaign_id, user_id=membership.user_id, at=now
    )
    return participant


@transaction.atomic
def profile_save(
    *, user: User, answers: dict[str, Any], participant: Participant | None = None
) -> Profile:
    """A new version of the person's profile; judgments from now on point at it (the earlier
    ones keep theirs)."""
    latest = Profile.objects.select_for_update().filter(user=user).order_by("-version").first()
    profile = Profile.objects.create(
        user=user,
        version=(latest.version + 1) if latest else 1,
        answers=answers,
        consent_version=str(participant.consent_version or "") if participant else "",
        consented_at=participant.consented_at if participant else None,
        campaign_id=participant.campaign_id if participant else None,
    )
    return profile


def survey_submit(*, participant: Participant, answers: dict[str, Any]) -> Profile:
    """The participant's survey answers (a new profile version), then their next step."""
    stage = participant.membership.stage
    if stage in FINAL or stage == Stage.CONSENT:
        raise Conflict(_("The survey is not open to you now."), code="stage")
    # PRISM's own survey columns that the study, not the participant, answers.
    answers = {**answers, "consent": "Yes" if participant.consented_at else None}
    if participant.external_study:
        answers["study_id"] = participant.external_study
    with transaction.atomic():
        profile = profile_save(
            user=participant.membership.user, answers=answers, participant=participant
        )
        participant_advance(participant)
    return profile


# --- qualification ------------------------------------------------------------------------


@dataclass(frozen=True)
class Feedback:
    correct: bool
    expected: str
    explanation: str
    attention_check: bool
    finished: bool  # every item answered: passed or failed is decided
    passed: bool | None


def qualification_items(study: Study) -> list[dict[str, Any]]:
    return list((study.qualification or {}).get("items", []))


@transaction.atomic
def qualification_answer(*, participant: Participant, item: int, choice: int) -> Feedback:
    """Grade one training item. After the last: passed when the training items' score
    reaches the pass mark and every attention check was answered right."""
    participant = Participant.objects.select_for_update().get(id=participant.id)
    study = study_for(participant.campaign)
    items = qualification_items(study)
    if participant.membership.stage != Stage.QUALIFY:
        raise Conflict(_("The qualification is not open to you now."), code="stage")
    if not 0 <= item < len(items):
        raise RuleError(_("No such question."), field="item")
    answers: dict[str, int] = dict(participant.qualification.get("answers") or {})
    if str(item) in answers:
        raise Conflict(_("You already answered this question."), code="answered")
    options = items[item].get("options") or []
    if not 0 <= choice < len(options):
        raise RuleError(_("Choose one of the answers."), field="choice")
    answers[str(item)] = choice
    state: dict[str, Any] = {"answers": answers}
    finished = len(answers) == len(items)
    if finished:
        graded = [(it, answers[str(k)] == it.get("answer")) for k, it in enumerate(items)]
        training = [ok for it, ok in graded if not it.get("attention_check")]
        checks = [ok for it, ok in graded if it.get("attention_check")]
        score = sum(training) / len(training) if training else 1.0
        pass_mark = float((study.qualification or {}).get("pass_mark", 0.8))
        state.update(score=round(score, 4), passed=score >= pass_mark and all(checks))
    participant.qualification = state
    participant.save(update_fields=["qualification"])
    if finished:
        participant_advance(participant)
    it = items[item]
    return Feedback(
        correct=choice == it.get("answer"),
        expected=str(options[it.get("answer", 0)]),
        explanation=str(it.get("explanation") or ""),
        attention_check=bool(it.get("attention_check")),
        finished=finished,
        passed=state.get("passed"),
    )


# --- completion ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    code: str
    url: str


def participant_complete(*, participant: Participant, now: datetime | None = None) -> Completion:
    """Finish: allowed once nothing is left for the participant (their task limit, the
    campaign's tasks, or quota steering); returns the completion code and redirect URL."""
    study = study_for(participant.campaign)
    membership = participant.membership
    if membership.stage == Stage.ACTIVE:
        left = leasing.task_lease_next(annotator=membership.user, campaign=participant.campaign)
        if left is not None:
            raise Conflict(_("There are still tasks for you."), code="not_done")
        with transaction.atomic():
            participant.completed_at = now or timezone.now()
            participant.save(update_fields=["completed_at"])
            membership.stage = Stage.COMPLETED
            membership.save(update_fields=["stage"])
    elif membership.stage != Stage.COMPLETED:
        raise Conflict(_("You have not finished the study yet."), code="not_done")
    return Completion(code=study.completion_code, url=study.completion_url)
