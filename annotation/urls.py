from django.urls import path

import webapp.converters  # noqa: F401  - registers <id:...>

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("campaigns/<id:campaign_id>/", views.campaign_task, name="campaign_task"),
    path(
        "assignments/<id:assignment_id>/submit/",
        views.assignment_submit,
        name="assignment_submit",
    ),
    path("assignments/<id:assignment_id>/skip/", views.assignment_skip, name="assignment_skip"),
]
