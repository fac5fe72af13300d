from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import webapp.converters  # noqa: F401  - registers <id:...>
from annotation.api import assignments, campaigns, review, tokens
from exports import api as exports_api

urlpatterns = [
    path("auth/token/", tokens.TokenApi.as_view(), name="api_token"),
    path("campaigns/", campaigns.CampaignListApi.as_view(), name="api_campaigns"),
    path("campaigns/<id:campaign_id>/", campaigns.CampaignApi.as_view(), name="api_campaign"),
    path(
        "campaigns/<id:campaign_id>/spec/",
        campaigns.CampaignSpecApi.as_view(),
        name="api_campaign_spec",
    ),
    path(
        "campaigns/<id:campaign_id>/state/",
        campaigns.CampaignStateApi.as_view(),
        name="api_campaign_state",
    ),
    path(
        "campaigns/<id:campaign_id>/study/",
        campaigns.CampaignStudyApi.as_view(),
        name="api_campaign_study",
    ),
    path(
        "campaigns/<id:campaign_id>/next/",
        assignments.CampaignNextApi.as_view(),
        name="api_campaign_next",
    ),
    path(
        "campaigns/<id:campaign_id>/reviews/next/",
        review.ReviewNextApi.as_view(),
        name="api_review_next",
    ),
    path(
        "judgments/<id:judgment_id>/review/",
        review.JudgmentReviewApi.as_view(),
        name="api_judgment_review",
    ),
    path(
        "campaigns/<id:campaign_id>/prompts/",
        campaigns.PromptImportApi.as_view(),
        name="api_campaign_prompts",
    ),
    path(
        "campaigns/<id:campaign_id>/tasks/<id:task_id>/gold/",
        campaigns.TaskGoldApi.as_view(),
        name="api_task_gold",
    ),
    path(
        "campaigns/<id:campaign_id>/members/",
        campaigns.CampaignMembersApi.as_view(),
        name="api_campaign_members",
    ),
    path(
        "campaigns/<id:campaign_id>/export/",
        exports_api.CampaignExportApi.as_view(),
        name="api_campaign_export",
    ),
    path("exports/", exports_api.ExportJobListApi.as_view(), name="api_export_jobs"),
    path("exports/<id:job_id>/", exports_api.ExportJobApi.as_view(), name="api_export_job"),
    path(
        "exports/<id:job_id>/download/",
        exports_api.ExportJobDownloadApi.as_view(),
        name="api_export_job_download",
    ),
    path(
        "assignments/<id:assignment_id>/judgment/",
        assignments.JudgmentSubmitApi.as_view(),
        name="api_judgment_submit",
    ),
    path(
        "assignments/<id:assignment_id>/skip/",
        assignments.AssignmentSkipApi.as_view(),
        name="api_assignment_skip",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
]
