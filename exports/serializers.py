"""Shapes of the exports API. Serializers validate and describe; they never save."""

from rest_framework import serializers

from .formats import FORMATS
from .options import CONTAINERS

OPTIONS_HELP = (
    "Filters and format options, e.g. "
    '{"kinds": ["pairwise", "ranking"], "since": "2025-01-01", "include_flagged": false, '
    '"include_gold": false, "min_agreement": 0.66, "max_similarity": 0.9, "aggregate": '
    '"majority", "pairs": "all", "keep_ties": false, "text": false, "table": "utterances"}. '
    "Every option is documented in the export docs."
)


class ExportJobIn(serializers.Serializer):
    campaign = serializers.IntegerField(help_text="The campaign's id.")
    format = serializers.ChoiceField(choices=list(FORMATS), default="preference")
    container = serializers.ChoiceField(
        choices=list(CONTAINERS),
        default="jsonl",
        help_text="jsonl, parquet, or hf (a Hugging Face dataset folder, downloaded as a zip).",
    )
    options = serializers.DictField(required=False, default=dict, help_text=OPTIONS_HELP)


class ExportJobOut(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.IntegerField(source="campaign_id")
    format = serializers.CharField()
    container = serializers.CharField()
    options = serializers.DictField()
    schema_version = serializers.CharField()
    state = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    progress = serializers.FloatField(help_text="0 to 1.")
    row_count = serializers.IntegerField(allow_null=True)
    size = serializers.IntegerField(allow_null=True, help_text="The file's bytes, once done.")
    error = serializers.CharField(help_text="Why it failed; empty otherwise.")
    attempts = serializers.IntegerField(
        help_text="How many times a worker has started it: more than 1 when a worker died "
        "running it and it was sent again."
    )
    created_at = serializers.DateTimeField()
    enqueued_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When a worker queue took the job; null while the broker is unreachable "
        "(it is sent again once the broker is back).",
    )
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    superseded_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When someone withdrew consent after the job read who had: the file may "
        "hold their data and is no longer given out (download answers 410); null otherwise.",
    )
    url = serializers.CharField(help_text="This job's status.")
    download_url = serializers.CharField(
        allow_null=True,
        help_text="The file, once the job is done; null before, and once superseded.",
    )
