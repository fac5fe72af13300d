"""Adjudication: a reviewer's final answer on a disputed item, stored beside its judgments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models.campaigns import Campaign
from annotation.models.trees import Task

USER_MODEL = settings.AUTH_USER_MODEL


class Adjudication(models.Model):
    """One disputed item (a task) in the adjudication queue: leased to one reviewer at a time
    (`leased_until`), then decided (the final answer, `payload`, checked by the kind's code)
    or marked ambiguous. The judgments stay as they were; this row sits beside them."""

    class State(models.TextChoices):
        LEASED = "leased", "Leased"
        DECIDED = "decided", "Decided"
        AMBIGUOUS = "ambiguous", "Ambiguous"

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="adjudication")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    adjudicator = models.ForeignKey(USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.LEASED)
    leased_until = models.DateTimeField()
    # The final answer in the kind's payload shape; only when decided.
    payload = models.JSONField(null=True, blank=True)
    note = models.CharField(max_length=1000, blank=True)
    # What made the item disputed when it was leased ("split", "spread", "gold", ...).
    why = models.CharField(max_length=20, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(state="decided", payload__isnull=False)
                | (~Q(state="decided") & Q(payload__isnull=True)),
                name="adjudication_payload_iff_decided",
            ),
            models.CheckConstraint(
                condition=Q(state="leased", decided_at__isnull=True)
                | (~Q(state="leased") & Q(decided_at__isnull=False)),
                name="adjudication_decided_at_iff_done",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "state"], name="adjudication_by_state")]
