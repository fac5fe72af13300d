from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from annotation import services
from annotation.errors import RuleError
from annotation.kinds import kind_for
from annotation.kinds.trees import tree_settings
from annotation.models import (
    ApiToken,
    Assignment,
    Campaign,
    Conversation,
    Judgment,
    Membership,
    Participant,
    Profile,
    Study,
    Task,
    User,
)

admin.site.register(User, UserAdmin)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "is_blocked", "is_flagged"]
    raw_id_fields = ["user"]


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = "__all__"  # noqa: DJ007 - the admin edits every field

    def clean(self) -> dict:
        """The kind's settings are checked (and completed with defaults) when saved here too."""
        data = super().clean() or {}
        try:
            data["settings"] = kind_for(data.get("task_kind", "")).settings_dict(
                data.get("settings") or {}
            )
        except RuleError as e:
            self.add_error("settings" if e.field != "task_kind" else "task_kind",
                           f"{e.field}: {e.message}")  # fmt: skip
        if data.get("tree"):
            try:
                tree_settings(data["tree"])
            except RuleError as e:
                self.add_error("tree", f"{e.field}: {e.message}")
        return data


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ["name", "task_kind", "state", "overlap", "created_at"]
    list_filter = ["state", "task_kind"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "origin", "external_id", "created_at"]
    list_filter = ["origin"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "kind", "state", "judgments_count", "leased_count", "overlap"]
    list_filter = ["state", "kind"]
    raw_id_fields = ["conversation", "parent"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "annotator", "state", "leased_at", "expires_at"]
    list_filter = ["state"]
    raw_id_fields = ["task", "annotator"]


@admin.register(Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "task", "annotator", "kind", "created_at"]
    raw_id_fields = ["assignment", "task", "annotator", "profile"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "version", "consent_version", "created_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made through the API (the key is shown once); here they are only revoked."""

    list_display = ["prefix", "user", "name", "created_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "prefix", "name"]
    readonly_fields = ["user", "name", "prefix", "key_hash", "created_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: Any, queryset: Any) -> None:
        for token in queryset:
            services.api_token_revoke(token=token)


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["campaign", "consent_version", "signup_open", "tasks_per_participant"]
    raw_id_fields = ["campaign"]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "external_id", "consented_at", "withdrawn_at", "completed_at"]
    list_filter = ["campaign"]
    raw_id_fields = ["campaign", "membership"]
