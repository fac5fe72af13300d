"""Studies: who may join, by every way in (joining.py); joining through links, consent, the
PRISM survey, screening with quotas, qualification and completion (participants.py); quota
rules and steering (quotas.py); the lease's hook (gate.py)."""

from annotation.services.studies.joining import JOIN_REFUSED, join_allowed, join_check
from annotation.services.studies.participants import (
    Completion,
    Feedback,
    LinkArrival,
    consent_give,
    consent_text_set,
    consent_withdraw,
    invitation_make,
    invitation_revoke,
    participant_advance,
    participant_complete,
    participant_from_link,
    participant_join,
    participant_link_check,
    profile_latest,
    profile_save,
    qualification_answer,
    qualification_items,
    survey_questions,
    survey_submit,
)
from annotation.services.studies.quotas import quotas_clean, steering_allows
from annotation.services.studies.setup import study_configure

__all__ = [
    "JOIN_REFUSED",
    "Completion",
    "Feedback",
    "LinkArrival",
    "consent_give",
    "consent_text_set",
    "consent_withdraw",
    "invitation_make",
    "invitation_revoke",
    "join_allowed",
    "join_check",
    "participant_advance",
    "participant_complete",
    "participant_from_link",
    "participant_join",
    "participant_link_check",
    "profile_latest",
    "profile_save",
    "qualification_answer",
    "qualification_items",
    "quotas_clean",
    "steering_allows",
    "study_configure",
    "survey_questions",
    "survey_submit",
]
