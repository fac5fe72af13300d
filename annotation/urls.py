"""The annotator's and the study participant's pages (the API is webapp/api_urls.py, the
dashboard annotation/dashboard/urls.py)."""

from django.urls import path

import webapp.converters  # noqa: F401  - registers <id:...>
from annotation.views import adjudication, assignments, attachments, live, people, review, studies

urlpatterns = [
    path("", assignments.home, name="home"),
    path("invite/<str:token>/", people.invite, name="invite"),
    path("campaigns/<id:campaign_id>/", assignments.campaign_task, name="campaign_task"),
    path(
        "assignments/<id:assignment_id>/submit/",
        assignments.assignment_submit,
        name="assignment_submit",
    ),
    path(
        "assignments/<id:assignment_id>/skip/", assignments.assignment_skip, name="assignment_skip"
    ),
    path("campaigns/<id:campaign_id>/chat/", live.live_chat_list, name="live_chats"),
    path(
        "campaigns/<id:campaign_id>/chat/<id:conversation_id>/",
        live.live_chat,
        name="live_chat",
    ),
    path(
        "campaigns/<id:campaign_id>/chat/<id:conversation_id>/turn/",
        live.live_chat_turn,
        name="live_chat_turn",
    ),
    path(
        "campaigns/<id:campaign_id>/chat/<id:conversation_id>/say/",
        live.live_chat_say,
        name="live_chat_say",
    ),
    path(
        "campaigns/<id:campaign_id>/chat/<id:conversation_id>/retry/",
        live.live_chat_retry,
        name="live_chat_retry",
    ),
    path(
        "campaigns/<id:campaign_id>/chat/<id:conversation_id>/assignments/<id:assignment_id>/rate/",
        live.live_chat_rate,
        name="live_chat_rate",
    ),
    path("campaigns/<id:campaign_id>/review/", review.review_page, name="review_page"),
    path(
        "campaigns/<id:campaign_id>/review/<id:judgment_id>/",
        review.review_submit,
        name="review_submit",
    ),
    path(
        "campaigns/<id:campaign_id>/adjudicate/",
        adjudication.adjudication_page,
        name="adjudication_page",
    ),
    path(
        "campaigns/<id:campaign_id>/adjudicate/<id:adjudication_id>/",
        adjudication.adjudication_submit,
        name="adjudication_submit",
    ),
    path(
        "attachments/<id:attachment_id>/",
        attachments.attachment_file,
        name="attachment_file",
    ),
    # /study/<campaign slug>/...: the study participant's pages.
    path("study/<slug:slug>/", studies.study_entry, name="study_entry"),
    path("study/<slug:slug>/next/", studies.study_next, name="study_next"),
    path("study/<slug:slug>/signup/", studies.study_signup, name="study_signup"),
    path(
        "study/<slug:slug>/invite/<str:token>/", studies.study_invitation, name="study_invitation"
    ),
    path("study/<slug:slug>/consent/", studies.study_consent, name="study_consent"),
    path("study/<slug:slug>/survey/", studies.study_survey, name="study_survey"),
    path(
        "study/<slug:slug>/qualification/", studies.study_qualification, name="study_qualification"
    ),
    path("study/<slug:slug>/withdraw/", studies.study_withdraw, name="study_withdraw"),
    path("study/<slug:slug>/complete/", studies.study_complete, name="study_complete"),
    path("study/<slug:slug>/end/", studies.study_end, name="study_end"),
]
