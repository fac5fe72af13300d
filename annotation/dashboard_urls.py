"""/dashboard/: the campaign admins' pages (included from webapp/urls.py)."""

from django.urls import path

import webapp.converters  # noqa: F401  - registers <id:...>

from . import dashboard as views

app_name = "dashboard"

urlpatterns = [
    path("", views.campaign_list, name="campaigns"),
    path("new/", views.campaign_new, name="campaign_new"),
    path("preview/", views.markdown_preview, name="markdown_preview"),
    path("<id:campaign_id>/", views.campaign_overview, name="campaign"),
    path("<id:campaign_id>/state/", views.campaign_state, name="campaign_state"),
    path("<id:campaign_id>/setup/", views.setup_basics, name="setup_basics"),
    path("<id:campaign_id>/setup/task/", views.setup_task, name="setup_task"),
    path("<id:campaign_id>/setup/prompts/", views.setup_prompts, name="setup_prompts"),
    path("<id:campaign_id>/setup/models/", views.setup_models, name="setup_models"),
    path("<id:campaign_id>/setup/people/", views.setup_people, name="setup_people"),
    path("<id:campaign_id>/quality/", views.campaign_quality, name="quality"),
    path(
        "<id:campaign_id>/members/<id:membership_id>/<slug:action>/",
        views.member_action,
        name="member_action",
    ),
    path("<id:campaign_id>/leaderboard/", views.campaign_leaderboard_page, name="leaderboard"),
    path("<id:campaign_id>/routing/refresh/", views.routing_refresh, name="routing_refresh"),
    path("<id:campaign_id>/leaderboard.json", views.leaderboard_json, name="leaderboard_json"),
    path("<id:campaign_id>/quality.json", views.quality_json, name="quality_json"),
]
