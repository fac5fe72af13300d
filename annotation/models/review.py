"""The review stage: a reviewer's decision on one judgment."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models.assignments import Judgment
from annotation.models.campaigns import Campaign

USER_MODEL = settings.AUTH_USER_MODEL


class JudgmentReview(models.Model):
    """A reviewer's decision on a judgment (the review stage): accepted, rejected, or
    corrected, keeping the annotator's original payload untouched on the judgment."""

    class Decision(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        CORRECTED = "corrected", "Corrected"

    judgment = models.OneToOneField(Judgment, on_delete=models.CASCADE, related_name="review")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    reviewer = models.ForeignKey(USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    # The reviewer's payload, checked like the annotator's; only for `corrected`.
    correction = models.JSONField(null=True, blank=True)
    note = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(decision="corrected", correction__isnull=False)
                | (~Q(decision="corrected") & Q(correction__isnull=True)),
                name="review_correction_iff_corrected",
            )
        ]
        indexes = [models.Index(fields=["campaign", "decision"], name="review_by_decision")]
