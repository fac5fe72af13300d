"""/dashboard/: the campaign admins' pages (included from webapp/urls.py)."""

from django.urls import path

from . import dashboard as views
from .studies import admin_pages as study_pages

app_name = "dashboard"

urlpatterns = [
    path("", views.campaign_list, name="campaigns"),
    path("new/", views.campaign_new, name="campaign_new"),
    path("preview/", views.markdown_preview, name="markdown_preview"),
    path("<int:campaign_id>/", views.campaign_overview, name="campaign"),
    path("<int:campaign_id>/state/", views.campaign_state, name="campaign_state"),
    path("<int:campaign_id>/setup/", views.setup_basics, name="setup_basics"),
    path("<int:campaign_id>/setup/task/", views.setup_task, name="setup_task"),
    path("<int:campaign_id>/setup/prompts/", views.setup_prompts, name="setup_prompts"),
    path("<int:campaign_id>/setup/models/", views.setup_models, name="setup_models"),
    path("<int:campaign_id>/setup/people/", views.setup_people, name="setup_people"),
    path("<int:campaign_id>/quality/", views.campaign_quality, name="quality"),
    path(
        "<int:campaign_id>/members/<int:membership_id>/<slug:action>/",
        views.member_action,
        name="member_action",
    ),
    path("<int:campaign_id>/leaderboard/", views.campaign_leaderboard_page, name="leaderboard"),
    path("<int:campaign_id>/routing/refresh/", views.routing_refresh, name="routing_refresh"),
    path("<int:campaign_id>/leaderboard.json", views.leaderboard_json, name="leaderboard_json"),
    path("<int:campaign_id>/quality.json", views.quality_json, name="quality_json"),
    path("<int:campaign_id>/study/", study_pages.study_settings, name="study_settings"),
    path(
        "<int:campaign_id>/study/invitation/",
        study_pages.study_invitation,
        name="study_invitation",
    ),
    path(
        "<int:campaign_id>/participants/",
        study_pages.study_participants,
        name="study_participants",
    ),
]
