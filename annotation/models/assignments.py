"""Leases of a task to one annotator, and the judgments they submit."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models.accounts import Profile
from annotation.models.campaigns import Campaign
from annotation.models.trees import Task

USER_MODEL = settings.AUTH_USER_MODEL


class Assignment(models.Model):
    """A lease of a task to one annotator."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        EXPIRED = "expired", "Expired"
        SKIPPED = "skipped", "Skipped"

    # `assignment_once_per_task` (task, annotator) and `assignment_mine` (campaign, ...) serve
    # these two: no index of their own to write on every lease.
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    annotator = models.ForeignKey(USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Candidate message ids in the order this annotator saw them, first = left/top.
    display_order = models.JSONField(default=list)
    skip_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="assignment_once_per_task")
        ]
        indexes = [
            models.Index(fields=["campaign", "annotator", "state"], name="assignment_mine"),
            models.Index(
                fields=["expires_at"], condition=Q(state="active"), name="assignment_active_expiry"
            ),
        ]


class Judgment(models.Model):
    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="judgment")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="judgments")
    # `judgment_by_campaign` (campaign, id) and `judgment_idempotency_key_unique` (annotator,
    # key) serve these two: no index of their own to write on every submit.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="judgments", db_index=False
    )
    annotator = models.ForeignKey(
        USER_MODEL, on_delete=models.PROTECT, related_name="judgments", db_index=False
    )
    profile = models.ForeignKey(Profile, null=True, blank=True, on_delete=models.PROTECT)
    kind = models.CharField(max_length=20, choices=Campaign.Kind.choices)
    payload = models.JSONField()
    seconds_spent = models.FloatField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=100)
    instructions_version = models.PositiveIntegerField()
    # On a task with a known answer: 1.0 agrees, 0.0 does not. Such judgments score the
    # annotator and stay out of exports unless asked for.
    gold_score = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "idempotency_key"], name="judgment_idempotency_key_unique"
            )
        ]
        indexes = [models.Index(fields=["campaign", "id"], name="judgment_by_campaign")]
