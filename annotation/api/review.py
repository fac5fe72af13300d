"""The review stage over HTTP: the next judgment to review, and a reviewer's decision. Each
view calls one service of services.review, as the reviewers' pages do."""

import string
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import access
from annotation.api.serializers import ERROR, ReviewIn, ReviewJudgmentOut, ReviewOut
from annotation.http import api_user
from annotation.selectors import review as review_selectors
from annotation.services import review


def review_item_out(item: review_selectors.ReviewItem) -> dict[str, Any]:
    j = item.judgment
    return {
        "id": j.id,
        "kind": j.kind,
        "payload": j.payload,
        "task": j.task_id,
        "context": [{"id": m.id, "role": m.role, "text": m.text} for m in item.context],
        "candidates": [
            {"id": m.id, "label": string.ascii_uppercase[i], "text": m.text}
            for i, m in enumerate(item.candidates)
        ],
        "pending": item.pending,
    }


class ReviewNextApi(APIView):
    @extend_schema(
        summary="The next judgment for me to review",
        description="Campaigns with a review stage, for their reviewers and admins. 204 when "
        "every judgment (other than my own) has been reviewed.",
        responses={
            200: ReviewJudgmentOut,
            204: OpenApiResponse(description="Nothing to review."),
            403: ERROR,
            404: ERROR,
        },
    )
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = access.campaign_for_reviewer(user=api_user(request), campaign_id=campaign_id)
        item = review_selectors.review_next(campaign=campaign, reviewer=api_user(request))
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(review_item_out(item))


class JudgmentReviewApi(APIView):
    @extend_schema(
        request=ReviewIn,
        responses={201: ReviewOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
        summary="Accept, reject or correct a judgment",
        description="Only accepted and corrected judgments are exported from a campaign with a "
        "review stage; a correction is checked like a payload of the judgment's kind, and the "
        "export keeps the annotator's original beside it. 409 when already reviewed.",
        examples=[
            OpenApiExample("Accept", value={"decision": "accepted"}, request_only=True),
            OpenApiExample(
                "Correct",
                value={
                    "decision": "corrected",
                    "correction": {"outcome": "preferred", "preferred": 815},
                    "note": "B answers the question; A does not.",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request, judgment_id: int) -> Response:
        data = ReviewIn(data=request.data)
        data.is_valid(raise_exception=True)
        done = review.judgment_review(
            judgment_id=judgment_id,
            reviewer=api_user(request),
            decision=data.validated_data["decision"],
            correction=data.validated_data.get("correction"),
            note=data.validated_data.get("note", ""),
        )
        return Response(ReviewOut(done).data, status=status.HTTP_201_CREATED)
