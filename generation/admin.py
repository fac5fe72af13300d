from django.contrib import admin

from .models import LanguageModel


@admin.register(LanguageModel)
class LanguageModelAdmin(admin.ModelAdmin):
    list_display = ["name", "backend", "enabled", "created_at"]
    list_filter = ["backend", "enabled"]
