"""Export jobs: an export too large to stream in one request, written by a worker to the
`exports` storage and downloaded when done."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ExportJob(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Container(models.TextChoices):
        JSONL = "jsonl", "JSON Lines"
        PARQUET = "parquet", "Parquet"
        HF = "hf", "Hugging Face dataset folder (zip)"

    campaign = models.ForeignKey(
        "annotation.Campaign", on_delete=models.CASCADE, related_name="export_jobs"
    )
    format = models.CharField(max_length=20)
    container = models.CharField(max_length=10, choices=Container.choices)
    # The checked options that differ from the defaults (ExportOptions.as_dict()).
    options = models.JSONField(default=dict, blank=True)
    schema_version = models.CharField(max_length=40)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.FloatField(default=0.0)  # 0 to 1
    row_count = models.PositiveBigIntegerField(null=True, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)  # the file's bytes, once done
    # The file's name in the `exports` storage (settings.STORAGES["exports"]).
    file = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the broker accepted its message; empty while it waits for the broker (the
    # sweeper sends it again, see webapp/queueing.py).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written by the worker while it runs the job; a running job whose heartbeat stopped lost
    # its worker and is run again, up to AGORA_JOB_MAX_ATTEMPTS starts (webapp/queueing.py).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when someone withdrew consent after the job read who had: its file may hold their
    # data, so it is no longer given out (services.export_jobs_supersede).
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="export_job_progress_0_1"
            )
        ]

    def __str__(self) -> str:
        return f"{self.format} export of campaign {self.campaign_id} ({self.state})"

    @property
    def filename(self) -> str:
        """What the download is called: `<campaign>-<format>[-<table>].<ext>`."""
        table = self.options.get("table")
        stem = f"{self.campaign.slug}-{self.format}" + (f"-{table}" if table else "")
        return stem + {"jsonl": ".jsonl", "parquet": ".parquet", "hf": ".zip"}[self.container]
