"""The campaigns open to me; campaigns as code (create from a spec, its spec, apply a spec),
a campaign's state and study settings; a campaign's prompt import, its people added in bulk
and a task's gold answer."""

import json
from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import access, selectors, services
from annotation.api.serializers import (
    ERROR,
    CampaignOut,
    CampaignStateIn,
    ErrorOut,
    GoldIn,
    GoldOut,
    ImportReportOut,
    MembersIn,
    MembersReportOut,
    PromptImportIn,
)
from annotation.campaign_spec import MAX_SPEC_BYTES, CampaignSpec, StudySpec, spec_yaml
from annotation.http import api_user
from annotation.prompt_files import prompt_file_format
from annotation.selectors.campaign_spec import campaign_spec_of, study_spec_of
from annotation.services.campaign_spec import campaign_spec_apply, study_spec_apply
from annotation.services.gold import task_gold_set
from webapp.middleware import UntrustedJSONParser


class SpecYAMLParser(BaseParser):
    """A spec sent as YAML: its text, parsed by annotation.campaign_spec (the boundary)."""

    media_type = "application/yaml"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        # One byte past the limit is enough for the spec's parser to refuse it by size.
        return stream.read(MAX_SPEC_BYTES + 1) if stream is not None else b""


# YAML is the same document as the JSON, written as YAML.
SPEC_BODY = {"application/json": CampaignSpec, "application/yaml": CampaignSpec}
SPEC_EXAMPLE = OpenApiExample(
    "A rating campaign",
    value={
        "name": "Helpfulness",
        "slug": "helpfulness",
        "instructions": "Rate each reply for how much it helps.",
        "task_kind": "rating",
        "settings": {
            "attributes": [
                {"name": "helpfulness", "scale": {"type": "likert", "points": list("12345")}}
            ]
        },
        "overlap": 3,
        "models": [
            {
                "name": "HuggingFaceTB/SmolLM2-135M-Instruct",
                "backend": "transformers",
                "sampling": {"temperature": 0.7, "max_new_tokens": 64},
            }
        ],
    },
    request_only=True,
)


class CampaignListApi(APIView):
    parser_classes = [UntrustedJSONParser, SpecYAMLParser]

    @extend_schema(responses=CampaignOut(many=True), summary="The campaigns open to me")
    def get(self, request: Request) -> Response:
        campaigns = selectors.campaigns_open_to(user=api_user(request))
        return Response(CampaignOut(campaigns, many=True).data)

    @extend_schema(
        request=SPEC_BODY,
        responses={201: CampaignOut, 400: ERROR, 403: ERROR, 409: ERROR},
        summary="Create a campaign from its spec (JSON or YAML)",
        description="The spec's format is docs/campaign-spec.md. The campaign is made as a "
        "draft, with me as its admin; a refused spec answers 400 naming the path "
        "(`settings.attributes[2].scale`) and makes nothing. A taken slug is 409: PUT "
        "/campaigns/{id}/ changes an existing campaign. For staff and campaign admins.",
        examples=[SPEC_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        user = api_user(request)
        access.campaign_creator_check(user=user)
        applied = campaign_spec_apply(spec=request.data, user=user, create_only=True)
        return Response(CampaignOut(applied.campaign).data, status=status.HTTP_201_CREATED)


class CampaignApi(APIView):
    parser_classes = [UntrustedJSONParser, SpecYAMLParser]

    @extend_schema(responses={200: CampaignOut, 403: ERROR}, summary="A campaign I administer")
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = access.campaign_for_admin(user=api_user(request), campaign_id=campaign_id)
        return Response(CampaignOut(campaign).data)

    @extend_schema(
        request=SPEC_BODY,
        responses={200: CampaignOut, 400: ERROR, 403: ERROR, 409: ERROR},
        summary="Apply a spec to a campaign (JSON or YAML)",
        description="The campaign becomes what the spec says; absent keys take their "
        "defaults. All or nothing: a refused spec answers 400 (or 409 for a change the "
        "campaign's data no longer allows, such as its kind once prompts are in) naming the "
        "path, and changes nothing. The spec's slug, if given, must be the campaign's.",
        examples=[SPEC_EXAMPLE],
    )
    def put(self, request: Request, campaign_id: int) -> Response:
        user = api_user(request)
        campaign = access.campaign_for_admin(user=user, campaign_id=campaign_id)
        applied = campaign_spec_apply(spec=request.data, user=user, campaign=campaign)
        return Response(CampaignOut(applied.campaign).data)


class CampaignSpecApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", str, enum=["json", "yaml"], description="json (default) or yaml."
            )
        ],
        responses={
            (200, "application/json"): CampaignSpec,
            (200, "application/yaml"): CampaignSpec,
            403: ERROR,
        },
        summary="A campaign's spec: everything it is configured by",
        description="Applied to a fresh install (POST /campaigns/) it makes the same campaign.",
    )
    def get(self, request: Request, campaign_id: int) -> Response | HttpResponse:
        campaign = access.campaign_for_admin(user=api_user(request), campaign_id=campaign_id)
        spec = campaign_spec_of(campaign=campaign)
        if request.query_params.get("format") == "yaml":
            return HttpResponse(spec_yaml(spec), content_type="application/yaml; charset=utf-8")
        return Response(spec)


class CampaignStateApi(APIView):
    @extend_schema(
        request=CampaignStateIn,
        responses={200: CampaignOut, 400: ERROR, 403: ERROR, 409: ERROR},
        summary="Open, pause or close a campaign",
        description="draft -> open <-> paused -> closed; opening needs tasks; closed is final "
        "(409 for a move the state does not allow).",
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = access.campaign_for_admin(user=api_user(request), campaign_id=campaign_id)
        data = CampaignStateIn(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = services.campaign_state_set(
            campaign=campaign, state=data.validated_data["state"]
        )
        return Response(CampaignOut(campaign).data)


class CampaignStudyApi(APIView):
    @extend_schema(
        responses={200: StudySpec, 403: ERROR, 404: ERROR},
        summary="A campaign's study settings (404 when it is no study)",
    )
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = access.campaign_for_admin(user=api_user(request), campaign_id=campaign_id)
        study = study_spec_of(campaign=campaign)
        if study is None:
            return Response(
                {"detail": "This campaign is not a study.", "code": "not_found", "field": None},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(study.model_dump(mode="json"))

    @extend_schema(
        request=StudySpec,
        responses={200: StudySpec, 400: ERROR, 403: ERROR},
        summary="Make a campaign a study, or change its study settings",
        description="The `study` part of a campaign spec: consent text (a changed one is a "
        "new version), survey questions, quotas, eligibility, qualification, joining and "
        "completion. Absent keys take their defaults; errors name the path (`study.quotas`).",
    )
    def put(self, request: Request, campaign_id: int) -> Response:
        campaign = access.campaign_for_admin(user=api_user(request), campaign_id=campaign_id)
        study_spec_apply(campaign=campaign, spec=request.data)
        study = study_spec_of(campaign=campaign)
        assert study is not None
        return Response(study.model_dump(mode="json"))


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
