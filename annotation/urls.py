from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("campaigns/<int:campaign_id>/", views.campaign_task, name="campaign_task"),
    path(
        "assignments/<int:assignment_id>/submit/",
        views.assignment_submit,
        name="assignment_submit",
    ),
    path("assignments/<int:assignment_id>/skip/", views.assignment_skip, name="assignment_skip"),
]
