"""Exports over HTTP: a streamed JSON Lines pull for small exports, and export jobs (start, watch,
download) for large ones. Only a campaign's admins may export it."""

from typing import Any

from django.http import HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import access, selectors
from annotation.http import api_user
from webapp.untrusted import form_int

from .formats import FORMATS
from .models import ExportJob
from .serializers import ExportJobIn, ExportJobOut
from .services import export_job_download, export_job_start, export_jsonl_stream

ERROR = OpenApiResponse(description='{"detail": "what went wrong", "code": "...", "field": ...}')

_QUERY_OPTIONS = [
    ("kinds", "Judgment kinds to read, comma-separated (default: every kind the format reads)."),
    ("since", "Only judgments made at or after this ISO 8601 date or time (UTC if naive)."),
    ("until", "Only judgments made before this ISO 8601 date or time."),
    ("include_flagged", "Include annotators an admin flagged (default false)."),
    ("include_gold", "Include judgments on gold tasks (default false)."),
    ("include_repeats", "Include repeated pairs served for self-consistency (default false)."),
    ("round", "Only tasks of this collection round."),
    ("table", "For oasst (trees, messages) and prism (survey, conversations, utterances)."),
    ("pairs", "preference: all (every ordered pair of a ranking or rating) or best_vs_worst."),
    ("rating_attribute", "preference, kto, prism: the rated attribute that orders responses."),
    ("keep_ties", "preference: keep tie and both-bad rows; kto: both-bad as two false rows."),
    (
        "aggregate",
        "preference: none (a row per judgment), majority (a row per task and pair), or "
        "adjudicated (as majority, but a reviewer's decision where there is one).",
    ),
    ("min_agreement", "preference: drop pairs whose annotators agree less (0 to 1)."),
    ("max_similarity", "preference: drop pairs whose responses are at least this alike (0-1)."),
    ("similarity", "preference: jaccard (word sets, default) or difflib."),
    (
        "text",
        "preference, kto, ratings: strings instead of message lists: the prompt ends with the "
        "assistant's cue and prompt + completion is the whole conversation ('User: ...' / "
        "'Assistant:' blocks, or a chat template).",
    ),
    (
        "chat_template",
        "preference, kto, ratings: the registered model whose chat template writes the text "
        "variant (implies text).",
    ),
    ("threshold", "kto: a rating at or above it is desirable (default: above the midpoint)."),
    ("all_trees", "oasst: every tree, not only those ready for export."),
    (
        "images",
        "preference, kto: an images column of datasets.Image, TRL's vision layout (default: "
        "where the campaign's prompts carry images; in JSON Lines each image is a data URL).",
    ),
    ("image_bytes", "judgments: each prompt image's bytes beside its path (base64 in JSON)."),
]


def _query_options(request: Request) -> dict[str, Any]:
    params = request.query_params
    options: dict[str, Any] = {k: params.get(k) for k in params if k != "format"}
    if "kinds" in params:
        options["kinds"] = ",".join(params.getlist("kinds"))
    return options


class CampaignExportApi(APIView):
    @extend_schema(
        summary="Export the campaign's judgments as a JSON Lines stream",
        description="For small pulls; start an export job (POST /api/v1/exports/) for large "
        "ones, Parquet or a dataset folder. Options are checked before the first row is sent.",
        parameters=[
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=list(FORMATS),
                default="preference",
                description="The dataset format (see the export docs for each schema).",
            ),
            *[
                OpenApiParameter(name, OpenApiTypes.STR, description=d)
                for name, d in _QUERY_OPTIONS
            ],
        ],
        responses={
            (200, "application/jsonl"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description='One JSON object per line, e.g. {"prompt": [{"role": "user", '
                '"content": "..."}], "chosen": [...], "rejected": [...], "annotator": ...}',
            ),
            400: OpenApiResponse(
                description="Unknown format, a bad option (named), or a format that reads "
                "none of the campaign's judgment kinds."
            ),
            403: OpenApiResponse(description="Not an admin of this campaign."),
            409: OpenApiResponse(
                description='Nothing to export (`"code": "empty"`): no rows for these options.'
            ),
        },
    )
    def get(self, request: Request, campaign_id: int) -> StreamingHttpResponse:
        campaign = access.campaign_for_admin(user=api_user(request), campaign_id=campaign_id)
        fmt = request.query_params.get("format", "preference")
        options = _query_options(request)
        stream = export_jsonl_stream(campaign=campaign, fmt=fmt, **options)  # checked now
        response = StreamingHttpResponse(stream, content_type="application/jsonl")
        table = f"-{options['table']}" if options.get("table") else ""
        response["Content-Disposition"] = (
            f'attachment; filename="{campaign.slug}-{fmt}{table}.jsonl"'
        )
        return response


def job_out(request: Request, job: ExportJob) -> dict[str, Any]:
    url = request.build_absolute_uri(reverse("api_export_job", args=[job.id]))
    download = None
    if job.state == ExportJob.State.DONE and job.superseded_at is None:
        download = request.build_absolute_uri(reverse("api_export_job_download", args=[job.id]))
    return ExportJobOut({**job.__dict__, "url": url, "download_url": download}).data


def _job_for_admin(request: Request, job_id: int) -> ExportJob:
    job = get_object_or_404(ExportJob.objects.select_related("campaign"), pk=job_id)
    access.campaign_for_admin(user=api_user(request), campaign_id=job.campaign_id)
    return job


class ExportJobListApi(APIView):
    @extend_schema(
        summary="Export jobs of the campaigns I administer, newest first",
        parameters=[OpenApiParameter("campaign", OpenApiTypes.INT, description="Only this one.")],
        responses=ExportJobOut(many=True),
    )
    def get(self, request: Request) -> Response:
        campaigns = selectors.campaigns_administered_by(user=api_user(request))
        jobs = ExportJob.objects.filter(campaign__in=campaigns)
        if campaign := request.query_params.get("campaign", ""):
            # Not an id (other digits, past 64 bits as the URL converter's): matches nothing.
            campaign_id = form_int(campaign)
            jobs = jobs.filter(campaign_id=campaign_id) if campaign_id is not None else jobs.none()
        return Response([job_out(request, j) for j in jobs.select_related("campaign")[:100]])

    @extend_schema(
        request=ExportJobIn,
        responses={202: ExportJobOut, 400: ERROR, 403: ERROR, 404: ERROR},
        summary="Start an export job",
        description="A worker writes the file; poll the job's url until its state is done "
        "(or failed, with the error), then fetch its download_url.",
        examples=[
            OpenApiExample(
                "Preference pairs as Parquet, by majority",
                value={
                    "campaign": 1,
                    "format": "preference",
                    "container": "parquet",
                    "options": {"aggregate": "majority", "min_agreement": 0.6},
                },
                request_only=True,
            ),
            OpenApiExample(
                "PRISM's three tables as a dataset folder",
                value={"campaign": 1, "format": "prism", "container": "hf"},
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = ExportJobIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = api_user(request)
        campaign = access.campaign_for_admin(user=user, campaign_id=v["campaign"])
        job = export_job_start(
            campaign=campaign,
            requested_by=user,
            fmt=v["format"],
            container=v["container"],
            options=v["options"],
        )
        return Response(job_out(request, job), status=status.HTTP_202_ACCEPTED)


class ExportJobApi(APIView):
    @extend_schema(
        summary="An export job's state and progress",
        responses={200: ExportJobOut, 403: ERROR, 404: ERROR},
    )
    def get(self, request: Request, job_id: int) -> Response:
        return Response(job_out(request, _job_for_admin(request, job_id)))


class ExportJobDownloadApi(APIView):
    @extend_schema(
        summary="Download a finished export job's file",
        description="The file (a .jsonl, a .parquet, or a .zip of the dataset folder); from "
        "object storage, a redirect to a short-lived signed URL. 409 until the job is done; "
        "410 once superseded (someone withdrew consent after it was written: start a new "
        "export).",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            302: OpenApiResponse(description="To the file in object storage."),
            403: ERROR,
            404: ERROR,
            409: ERROR,
            410: ERROR,
        },
    )
    def get(self, request: Request, job_id: int) -> HttpResponseBase:
        return export_job_download(job=_job_for_admin(request, job_id))
