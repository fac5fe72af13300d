from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from annotation import access
from annotation.http import api_user

from .formats import FORMATS
from .services import export_jsonl_stream


class CampaignExportApi(APIView):
    @extend_schema(
        summary="Export the campaign's judgments as a JSON Lines stream",
        parameters=[
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=list(FORMATS),
                default="preference",
                description="The dataset format (see the export docs for each schema).",
            )
        ],
        responses={
            (200, "application/jsonl"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description='One JSON object per line, e.g. {"prompt": [{"role": "user", '
                '"content": "..."}], "chosen": [...], "rejected": [...], "annotator": ...}',
            ),
            400: OpenApiResponse(description="Unknown format."),
            403: OpenApiResponse(description="Not an admin of this campaign."),
        },
    )
    def get(self, request: Request, campaign_id: int) -> StreamingHttpResponse:
        campaign = access.campaign_for_admin(user=api_user(request), campaign_id=campaign_id)
        fmt = request.query_params.get("format", "preference")
        stream = export_jsonl_stream(campaign=campaign, fmt=fmt)  # checks fmt before streaming
        response = StreamingHttpResponse(stream, content_type="application/jsonl")
        response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-{fmt}.jsonl"'
        return response
