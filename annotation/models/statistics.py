"""Statistics computed in the background: the last result of each, with when it was made."""

from __future__ import annotations

from django.db import models

from annotation.models.campaigns import Campaign


class StatisticSnapshot(models.Model):
    """The last result of a statistic that cannot be counted by the database as a page is
    served (annotator quality: agreement, the flags' tests), kept as the page shows it.
    `version` says which judgments it was made of (the campaign's last judgment, its last
    withdrawal, who is flagged): a snapshot whose version is not the campaign's is stale."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)  # "quality", "leaderboard|<attribute>|<field>"
    version = models.CharField(max_length=200)
    judgments = models.PositiveIntegerField(default=0)
    data = models.JSONField()
    computed_at = models.DateTimeField()
    seconds = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="snapshot_once_per_name")
        ]
