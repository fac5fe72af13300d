from django.urls import path

from . import review_pages, views
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
