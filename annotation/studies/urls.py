"""/study/<campaign slug>/...: the participant's pages (included from webapp/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("<slug:slug>/", views.study_entry, name="study_entry"),
    path("<slug:slug>/next/", views.study_next, name="study_next"),
    path("<slug:slug>/signup/", views.study_signup, name="study_signup"),
    path("<slug:slug>/invite/<str:token>/", views.study_invitation, name="study_invitation"),
    path("<slug:slug>/consent/", views.study_consent, name="study_consent"),
    path("<slug:slug>/survey/", views.study_survey, name="study_survey"),
    path("<slug:slug>/qualification/", views.study_qualification, name="study_qualification"),
    path("<slug:slug>/withdraw/", views.study_withdraw, name="study_withdraw"),
    path("<slug:slug>/complete/", views.study_complete, name="study_complete"),
    path("<slug:slug>/end/", views.study_end, name="study_end"),
]
