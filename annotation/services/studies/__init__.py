"""Studies: joining through links, consent, the PRISM survey, screening with quotas,
qualification and completion (participants.py); quota rules and steering (quotas.py); the
lease's hook (gate.py)."""

from annotation.services.studies.participants import (
    Completion,
    Feedback,
    consent_give,
    consent_text_set,
    consent_withdraw,
    invitation_make,
    invitation_revoke,
    join_allowed,
    participant_advance,
    participant_complete,
    participant_from_link,
    participant_join,
    profile_latest,
    profile_save,
    qualification_answer,
    qualification_items,
    signup_allowed,
    survey_questions,
    survey_submit,
)
from annotation.services.studies.quotas import quotas_clean, steering_allows
from annotation.services.studies.setup import study_configure

__all__ = [
    "Completion",
    "Feedback",
    "consent_give",
    "consent_text_set",
    "consent_withdraw",
    "invitation_make",
    "invitation_revoke",
    "join_allowed",
    "participant_advance",
    "participant_complete",
    "participant_from_link",
    "participant_join",
    "profile_latest",
    "profile_save",
    "qualification_answer",
    "qualification_items",
    "quotas_clean",
    "signup_allowed",
    "steering_allows",
    "study_configure",
    "survey_questions",
    "survey_submit",
]
