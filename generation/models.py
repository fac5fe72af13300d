from django.db import models


class LanguageModel(models.Model):
    """A model whose responses annotators judge. Its name is shown to admins only."""

    class Backend(models.TextChoices):
        EXTERNAL = "external", "External (responses imported with the prompts)"
        TRANSFORMERS = "transformers", "transformers (local, CPU or GPU)"
        VLLM = "vllm", "vLLM (GPU workers)"
        OPENAI = "openai", "OpenAI-compatible endpoint"

    name = models.CharField(max_length=200, unique=True)
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.EXTERNAL)
    settings = models.JSONField(default=dict, blank=True, help_text="Backend settings.")
    sampling_params = models.JSONField(
        default=dict, blank=True, help_text="Default sampling parameters."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GenerationRequest(models.Model):
    """Candidates wanted: n replies from one model to one parent message, in one round.

    One request makes at most one set of messages: the set is stored in the same transaction
    that marks the request done, so a retry or a second delivery of the task adds nothing.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    campaign = models.ForeignKey(
        "annotation.Campaign", on_delete=models.CASCADE, related_name="generation_requests"
    )
    parent = models.ForeignKey(
        "annotation.Message", on_delete=models.CASCADE, related_name="generation_requests"
    )
    language_model = models.ForeignKey(LanguageModel, on_delete=models.PROTECT, related_name="+")
    n = models.PositiveSmallIntegerField(default=1)
    sampling_params = models.JSONField(default=dict, blank=True, help_text="Overrides.")
    round = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0, help_text="Wall time of the generation call.")
    # A live chat's replies as they stream, one text per sample, written by the worker.
    partial_texts = models.JSONField(default=list, blank=True)
    # The candidate this request makes again (an admin's "regenerate"); it then runs beside
    # the first request of its parent, model and round.
    replaces = models.ForeignKey(
        "annotation.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the broker accepted its message; empty while it waits for the broker (the
    # sweeper sends it again, see webapp/queueing.py).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written by the worker while it runs the request; a running request whose heartbeat
    # stopped lost its worker (see webapp/queueing.py).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "language_model", "round"],
                condition=models.Q(replaces__isnull=True),
                name="generation_once_per_round",
            ),
            models.UniqueConstraint(
                fields=["replaces"],
                condition=models.Q(replaces__isnull=False),
                name="generation_regenerate_once",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "state"], name="generation_by_state")]

    @property
    def queue(self) -> str:
        return queue_for(self.language_model.backend)


def queue_for(backend: str) -> str:
    """GPU models run on the `gpu` queue's workers, everything else on `default`."""
    return "gpu" if backend == LanguageModel.Backend.VLLM else "default"
