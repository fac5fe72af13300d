from django.urls import path

import webapp.converters  # noqa: F401  - registers <id:...>

from . import live_chat, review_pages, views
from .attachment_views import attachment_file

urlpatterns = [
    path("", views.home, name="home"),
    path("campaigns/<id:campaign_id>/", views.campaign_task, name="campaign_task"),
    path(
        "assignments/<id:assignment_id>/submit/",
        views.assignment_submit,
        name="assignment_submit",
    ),
    path("assignments/<id:assignment_id>/skip/", views.assignment_skip, name="assignment_skip"),
    path("campaigns/<id:campaign_id>/chat/", live_chat.live_chat_list, name="live_chats"),
    path(
        "campaigns/<id:campaign_id>/chat/<id:conversation_id>/",
        live_chat.live_chat,
        name="live_chat",
    ),
    path(
        "campaigns/<id:campaign_id>/chat/<id:conversation_id>/turn/",
        live_chat.live_chat_turn,
        name="live_chat_turn",
    ),
    path(
        "campaigns/<id:campaign_id>/chat/<id:conversation_id>/say/",
        live_chat.live_chat_say,
        name="live_chat_say",
    ),
    path(
        "campaigns/<id:campaign_id>/chat/<id:conversation_id>/retry/",
        live_chat.live_chat_retry,
        name="live_chat_retry",
    ),
    path(
        "campaigns/<id:campaign_id>/chat/<id:conversation_id>/assignments/<id:assignment_id>/rate/",
        live_chat.live_chat_rate,
        name="live_chat_rate",
    ),
    path("campaigns/<id:campaign_id>/review/", review_pages.review_page, name="review_page"),
    path(
        "campaigns/<id:campaign_id>/review/<id:judgment_id>/",
        review_pages.review_submit,
        name="review_submit",
    ),
    path(
        "attachments/<id:attachment_id>/",
        attachment_file,
        name="attachment_file",
    ),
]
