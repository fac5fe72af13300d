"""The campaigns open to me, a campaign's prompt import, and its people added in bulk."""

import json

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import access, selectors, services
from annotation.api.serializers import (
    ERROR,
    CampaignOut,
    ErrorOut,
    GoldIn,
    GoldOut,
    ImportReportOut,
    MembersIn,
    MembersReportOut,
    PromptImportIn,
)
from annotation.http import api_user
from annotation.prompt_files import prompt_file_format
from annotation.services.gold import task_gold_set
from webapp.middleware import UntrustedJSONParser


class CampaignListApi(APIView):
    @extend_schema(responses=CampaignOut(many=True), summary="The campaigns open to me")
    def get(self, request: Request) -> Response:
        campaigns = selectors.campaigns_open_to(user=api_user(request))
        return Response(CampaignOut(campaigns, many=True).data)


class PromptImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser, UntrustedJSONParser]

    @extend_schema(
        request={"multipart/form-data": PromptImportIn, "application/json": PromptImportIn},
        responses={
            201: ImportReportOut,
            # Bad lines: the report naming each; a request without a file or prompts: an error.
            400: PolymorphicProxySerializer(
                component_name="ImportRefused",
                serializers=[ImportReportOut, ErrorOut],
                resource_type_field_name=None,
            ),
            403: ERROR,
        },
        summary="Import prompts (JSONL or CSV), with a per-line report",
        description="All or nothing: when any line is bad nothing is imported and the report "
        "(400) names each bad line. Lines whose id is already imported are skipped.",
        examples=[
            OpenApiExample(
                "Two prompts as JSON",
                value={
                    "prompts": [
                        {
                            "id": "p1",
                            "prompt": "Explain recursion to a child.",
                            "responses": [
                                {"text": "...", "model": "model-a"},
                                {"text": "...", "model": "model-b"},
                            ],
                        },
                        {"id": "p2", "prompt": [{"role": "user", "content": "Hi!"}]},
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = access.campaign_for_admin(user=api_user(request), campaign_id=campaign_id)
        data = PromptImportIn(data=request.data)
        data.is_valid(raise_exception=True)
        if upload := data.validated_data.get("file"):
            fmt = data.validated_data.get("format") or prompt_file_format(
                upload.name, upload.content_type or ""
            )
            content: str | bytes = upload.read()
        else:
            fmt = "jsonl"
            content = "\n".join(json.dumps(p) for p in data.validated_data["prompts"])
        report = services.prompts_import(
            campaign=campaign, content=content, fmt=fmt, created_by=api_user(request)
        )
        out = ImportReportOut(report).data
        return Response(out, status=status.HTTP_201_CREATED if report.ok else 400)


class CampaignMembersApi(APIView):
    @extend_schema(
        request=MembersIn,
        responses={200: MembersReportOut, 400: ERROR, 403: ERROR, 404: ERROR},
        summary="Add people to the campaign by username, with a result per line",
        description="Each name is added on its own: a name that is no account is reported "
        "(status unknown) and the others are added, unless create makes it an account with "
        "an invite link. A name twice is added once; a member already keeps their place with "
        "the role asked for. The dashboard's People step and `manage.py add_people` do the "
        "same.",
        examples=[
            OpenApiExample(
                "Two annotators, one of them new",
                value={"people": ["alice", "newcomer"], "role": "annotator", "create": True},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = access.campaign_for_admin(user=api_user(request), campaign_id=campaign_id)
        data = MembersIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        report = services.people_add(
            campaign=campaign, people=v["people"], role=v["role"], create=v["create"]
        )
        lines = [
            {
                **line.__dict__,
                "invite_url": request.build_absolute_uri(
                    reverse("invite", args=[line.invite_token])
                )
                if line.invite_token
                else None,
            }
            for line in report.lines
        ]
        out = {"added": report.added, "summary": report.summary(), "lines": lines}
        return Response(MembersReportOut(out).data)


class TaskGoldApi(APIView):
    @extend_schema(
        request=GoldIn,
        responses={200: GoldOut, 400: ERROR, 403: ERROR, 404: ERROR},
        summary="Set or clear a task's gold answer",
        description="Checked by the task's kind as an annotator's payload is (400 naming the "
        "field); the judgments already made on the task are scored again. The dashboard's "
        "Gold page and `manage.py task_gold` do the same; gold can also come with the prompts "
        "(a `gold` field on an import line).",
    )
    def put(self, request: Request, campaign_id: int, task_id: int) -> Response:
        campaign = access.campaign_for_admin(user=api_user(request), campaign_id=campaign_id)
        data = GoldIn(data=request.data)
        data.is_valid(raise_exception=True)
        task = task_gold_set(campaign=campaign, task_id=task_id, gold=data.validated_data["gold"])
        return Response(GoldOut({"task": task.id, "gold": task.gold}).data)
