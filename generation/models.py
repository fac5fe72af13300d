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
