"""/dashboard/: the campaign admins' pages (included from webapp/urls.py)."""

from django.urls import path

import webapp.converters  # noqa: F401  - registers <id:...>
from annotation.dashboard import (
    campaign_spec,
    campaigns,
    exports,
    generation,
    gold,
    leaderboard,
    preview,
    quality,
    setup,
)
from annotation.dashboard import studies as study_pages

app_name = "dashboard"

urlpatterns = [
    path("", campaigns.campaign_list, name="campaigns"),
    path("new/", campaigns.campaign_new, name="campaign_new"),
    path("new/spec/", campaign_spec.campaign_new_from_spec, name="campaign_new_from_spec"),
    path("preview/", campaigns.markdown_preview, name="markdown_preview"),
    path("<id:campaign_id>/", campaigns.campaign_overview, name="campaign"),
    path("<id:campaign_id>/state/", campaigns.campaign_state, name="campaign_state"),
    path("<id:campaign_id>/spec/", campaign_spec.campaign_spec_page, name="campaign_spec"),
    path(
        "<id:campaign_id>/spec/download/",
        campaign_spec.campaign_spec_download,
        name="campaign_spec_download",
    ),
    path("<id:campaign_id>/setup/", setup.setup_basics, name="setup_basics"),
    path("<id:campaign_id>/setup/task/", setup.setup_task, name="setup_task"),
    path("<id:campaign_id>/setup/preview/", preview.setup_preview, name="setup_preview"),
    path("<id:campaign_id>/setup/trees/", setup.setup_trees, name="setup_trees"),
    path("<id:campaign_id>/setup/prompts/", setup.setup_prompts, name="setup_prompts"),
    path("<id:campaign_id>/setup/models/", setup.setup_models, name="setup_models"),
    path("<id:campaign_id>/setup/people/", setup.setup_people, name="setup_people"),
    path("<id:campaign_id>/quality/", quality.campaign_quality, name="quality"),
    path(
        "<id:campaign_id>/members/<id:membership_id>/<slug:action>/",
        quality.member_action,
        name="member_action",
    ),
    path(
        "<id:campaign_id>/leaderboard/", leaderboard.campaign_leaderboard_page, name="leaderboard"
    ),
    path("<id:campaign_id>/routing/refresh/", leaderboard.routing_refresh, name="routing_refresh"),
    path(
        "<id:campaign_id>/leaderboard.json", leaderboard.leaderboard_json, name="leaderboard_json"
    ),
    path("<id:campaign_id>/generation/", generation.generation_page, name="generation"),
    path(
        "<id:campaign_id>/generation/start/", generation.generation_start, name="generation_start"
    ),
    path(
        "<id:campaign_id>/generation/<id:request_id>/retry/",
        generation.generation_retry,
        name="generation_retry",
    ),
    path(
        "<id:campaign_id>/generation/candidates/<id:message_id>/regenerate/",
        generation.generation_regenerate,
        name="generation_regenerate",
    ),
    path("<id:campaign_id>/exports/", exports.export_page, name="exports"),
    path("<id:campaign_id>/gold/", gold.gold_page, name="gold"),
    path(
        "<id:campaign_id>/exports/<id:job_id>/download/",
        exports.export_download,
        name="export_download",
    ),
    path("<id:campaign_id>/quality.json", quality.quality_json, name="quality_json"),
    path("<id:campaign_id>/study/", study_pages.study_settings, name="study_settings"),
    path(
        "<id:campaign_id>/study/invitation/",
        study_pages.study_invitation,
        name="study_invitation",
    ),
    path(
        "<id:campaign_id>/participants/",
        study_pages.study_participants,
        name="study_participants",
    ),
]
