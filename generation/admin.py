from typing import Any

from django.contrib import admin

from generation import services
from generation.models import GenerationRequest, LanguageModel


@admin.register(LanguageModel)
class LanguageModelAdmin(admin.ModelAdmin):
    list_display = ["name", "backend", "enabled", "created_at"]
    list_filter = ["backend", "enabled"]


@admin.register(GenerationRequest)
class GenerationRequestAdmin(admin.ModelAdmin):
    """Where an operator sees generation that is waiting (for a worker or for the broker) or
    failed, and sends it again."""

    list_display = ["id", "campaign", "language_model", "round", "state", "sent", "attempts",
                    "created_at", "finished_at"]  # fmt: skip
    list_filter = ["state", ("enqueued_at", admin.EmptyFieldListFilter), "campaign"]
    readonly_fields = [f.name for f in GenerationRequest._meta.fields]
    actions = ["retry"]

    @admin.display(boolean=True, description="sent to a worker queue")
    def sent(self, obj: GenerationRequest) -> bool:
        return obj.enqueued_at is not None

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.action(description="Send again (failed, or never sent)")
    def retry(self, request: Any, queryset: Any) -> None:
        for generation_request in queryset:
            if generation_request.state == GenerationRequest.State.FAILED:
                services.generation_retry(request=generation_request)
            elif generation_request.enqueued_at is None:
                services.generation_enqueue(request=generation_request)
