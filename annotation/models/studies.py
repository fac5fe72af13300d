"""PRISM-style studies: a campaign's study settings, consent texts, participants (with their
recruitment platform ids) and quota cells."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models.campaigns import Campaign, Membership

USER_MODEL = settings.AUTH_USER_MODEL


class Study(models.Model):
    """How people join a campaign run as a study: consent, survey, screening, qualification,
    completion. A campaign without one is joined by its members (or by anyone, if public)."""

    # What an admin sets directly (the settings form, study_configure); the rest is derived.
    SETTINGS = (
        "signup_open",
        "crowd_links_open",
        "participant_param",
        "study_param",
        "session_param",
        "tasks_per_participant",
        "completion_code",
        "completion_url",
        "eligibility",
        "qualification",
        "guidance",
    )

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="study")
    signup_open = models.BooleanField(
        default=False, help_text="Anyone may create an account on the study's sign-up page."
    )
    crowd_links_open = models.BooleanField(
        default=False,
        help_text="Anyone with the crowd platform's study link (…?PROLIFIC_PID=…) may join, "
        "even with sign-up closed. Off, and with sign-up closed, only participants already in "
        "come back by it.",
    )
    # The invitation link's secret; empty = no invitation link (revoked or never made).
    invitation_token = models.CharField(max_length=64, blank=True, db_index=True)
    # The query parameters of the study link (Prolific's by default).
    participant_param = models.CharField(max_length=40, default="PROLIFIC_PID")
    study_param = models.CharField(max_length=40, default="STUDY_ID")
    session_param = models.CharField(max_length=40, default="SESSION_ID")
    consent_text = models.TextField(blank=True, help_text="Markdown; empty = no consent step.")
    consent_version = models.PositiveIntegerField(default=0)
    # {"field": [allowed answers]}: survey answers a participant must give to take part.
    eligibility = models.JSONField(default=dict, blank=True)
    # {"instructions": markdown, "pass_mark": 0.8, "items": [{question, options, answer,
    #  explanation, attention_check}]}; no items = no qualification step.
    qualification = models.JSONField(default=dict, blank=True)
    # Real tasks per participant before the completion code (0 = until none is left).
    tasks_per_participant = models.PositiveIntegerField(default=0)
    completion_code = models.CharField(max_length=100, blank=True)
    completion_url = models.URLField(max_length=500, blank=True)
    # PRISM's guidance per conversation type, shown above tasks of that type (empty = the
    # default text of annotation.selectors.studies).
    guidance = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "studies"


class ConsentText(models.Model):
    """Every version of a campaign's consent text: a consent names the version it agreed to."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="consent_texts")
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "version"], name="consent_text_version")
        ]


class Participant(models.Model):
    """A person in a study: how they arrived, their consent, qualification and completion."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="participants")
    membership = models.OneToOneField(
        Membership, on_delete=models.CASCADE, related_name="participant"
    )
    # The crowd platform's id (PROLIFIC_PID); empty for sign-up and invitation arrivals.
    external_id = models.CharField(max_length=200, blank=True)
    external_study = models.CharField(max_length=200, blank=True)
    external_session = models.CharField(max_length=200, blank=True)
    consent_version = models.PositiveIntegerField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Eligibility and quotas were checked (once, after the survey).
    screened_at = models.DateTimeField(null=True, blank=True)
    # {"answers": {item index: choice}, "score": 0.9, "passed": true}
    qualification = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"],
                condition=~Q(external_id=""),
                name="participant_external_id_unique",
            )
        ]


class QuotaCell(models.Model):
    """A quota cell's running counts, moved by annotation.services.studies."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="quota_cells")
    key = models.CharField(max_length=300)  # "question=answer"
    # Participants admitted to the cell (quota admission) and tasks leased to them (steering).
    participants = models.PositiveIntegerField(default=0)
    leased = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "key"], name="quota_cell_unique")
        ]
