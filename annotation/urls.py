from django.urls import path

from . import live_chat, review_pages, views
from .attachment_views import attachment_file

urlpatterns = [
    path("", views.home, name="home"),
    path("campaigns/<int:campaign_id>/", views.campaign_task, name="campaign_task"),
    path(
        "assignments/<int:assignment_id>/submit/",
        views.assignment_submit,
        name="assignment_submit",
    ),
    path("assignments/<int:assignment_id>/skip/", views.assignment_skip, name="assignment_skip"),
    path("campaigns/<int:campaign_id>/chat/", live_chat.live_chat_list, name="live_chats"),
    path(
        "campaigns/<int:campaign_id>/chat/<int:conversation_id>/",
        live_chat.live_chat,
        name="live_chat",
    ),
    path(
        "campaigns/<int:campaign_id>/chat/<int:conversation_id>/turn/",
        live_chat.live_chat_turn,
        name="live_chat_turn",
    ),
    path(
        "campaigns/<int:campaign_id>/chat/<int:conversation_id>/say/",
        live_chat.live_chat_say,
        name="live_chat_say",
    ),
    path(
        "campaigns/<int:campaign_id>/chat/<int:conversation_id>/retry/",
        live_chat.live_chat_retry,
        name="live_chat_retry",
    ),
    path(
        "campaigns/<int:campaign_id>/chat/<int:conversation_id>/assignments/<int:assignment_id>/rate/",
        live_chat.live_chat_rate,
        name="live_chat_rate",
    ),
    path("campaigns/<int:campaign_id>/review/", review_pages.review_page, name="review_page"),
    path(
        "campaigns/<int:campaign_id>/review/<int:judgment_id>/",
        review_pages.review_submit,
        name="review_submit",
    ),
    path(
        "attachments/<int:attachment_id>/",
        attachment_file,
        name="attachment_file",
    ),
]
