"""The annotation loop over HTTP: lease the next task, submit a judgment, skip; one view per
action, each calling one service."""

import string
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors, services
from annotation.api.serializers import (
    ERROR,
    JudgmentIn,
    JudgmentOut,
    NextOut,
    SkipIn,
)
from annotation.attachments import CheckedFile, attachment_check, base64_decode
from annotation.errors import NotFound, RuleError
from annotation.http import api_user
from annotation.kinds import kind_for
from annotation.kinds.trees import kind_settings_raw
from annotation.models import Assignment, Judgment


# The two calls of the annotation loop build their answers as plain dicts in the shapes
# NextOut and JudgmentOut document: serializers cost more than the database work here.
def next_out(assignment: Assignment) -> dict[str, Any]:
    view = selectors.task_view(assignment=assignment)
    kind = kind_for(view.task.kind)
    return {
        "assignment": {
            "id": assignment.id,
            "state": assignment.state,
            "leased_at": assignment.leased_at.isoformat(),
            "expires_at": assignment.expires_at.isoformat(),
        },
        "task": {
            "id": view.task.id,
            "kind": view.task.kind,
            "campaign": view.task.campaign_id,
            "context": [
                {
                    "id": m.id,
                    "role": m.role,
                    "text": m.text,
                    "attachments": [
                        {
                            "id": a.id,
                            "kind": a.kind,
                            "content_type": a.content_type,
                            "url": reverse("attachment_file", args=[a.id]),
                        }
                        for a in getattr(m, "files", [])
                    ],
                }
                for m in view.context
            ],
            "reference": view.reference,
            "candidates": [
                {"id": m.id, "label": string.ascii_uppercase[i], "text": m.text}
                for i, m in enumerate(view.candidates)
            ],
            "settings": kind.settings_dict(
                kind_settings_raw(
                    campaign=assignment.campaign,
                    task_kind=kind.name,
                    parent_role=view.context[-1].role if view.context else None,
                )
            ),
        },
    }


def judgment_out(j: Judgment) -> dict[str, Any]:
    return {
        "id": j.id,
        "assignment": j.assignment_id,
        "task": j.task_id,
        "kind": j.kind,
        "payload": j.payload,
        "seconds_spent": j.seconds_spent,
        "idempotency_key": j.idempotency_key,
        "created_at": j.created_at.isoformat(),
    }


class CampaignNextApi(APIView):
    @extend_schema(
        summary="Lease my next task",
        description="Returns my current lease in the campaign if I hold one, else leases the "
        "next task. 204 when nothing is left for me.",
        responses={
            200: NextOut,
            204: OpenApiResponse(description="Nothing left for me."),
            403: ERROR,
            404: ERROR,
            409: ERROR,
        },
    )
    def get(self, request: Request, campaign_id: int) -> Response:
        assignment = services.task_lease_next(annotator=api_user(request), campaign=campaign_id)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(next_out(assignment))


class JudgmentSubmitApi(APIView):
    @extend_schema(
        request=JudgmentIn,
        responses={201: JudgmentOut, 200: JudgmentOut, 400: ERROR, 404: ERROR, 409: ERROR},
        summary="Submit my judgment for a leased task",
        description="201 with the stored judgment; the same idempotency key again returns it "
        "with 200. 404 for an assignment that is not mine (as for one that does not exist). "
        "409 when the lease expired, the task was already submitted or the campaign is "
        "closed (a lease held when the campaign paused may be submitted until it runs out); "
        "400 names the field that does not fit.",
        examples=[
            OpenApiExample(
                "A is better",
                value={
                    "payload": {
                        "outcome": "preferred",
                        "preferred": 812,
                        "strength": 2,
                        "reason": "More accurate.",
                    },
                    "idempotency_key": "3f1c9a52-4d7e-4a8e-9c7b-1e2f3a4b5c6d",
                    "seconds_spent": 14.2,
                },
                request_only=True,
            ),
            OpenApiExample(
                "A tie",
                value={
                    "payload": {"outcome": "tie"},
                    "idempotency_key": "k-2",
                    "seconds_spent": 6.0,
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        # The service checks every field and names the one that does not fit.
        judgment, created = services.judgment_submit(
            assignment=assignment_id,
            annotator=api_user(request),
            payload=data.get("payload"),
            idempotency_key=data.get("idempotency_key"),
            seconds_spent=data.get("seconds_spent"),
            files=_images_in(data.get("images")),
        )
        return Response(
            judgment_out(judgment),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _images_in(raw: Any) -> list[CheckedFile]:
    """`images` of a reply written as the prompter: base64 text or data URLs, checked."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RuleError("images must be a list of base64 images.", field="images")
    out = []
    for i, item in enumerate(raw):
        field = f"images[{i}]"
        out.append(attachment_check(base64_decode(item, field), kind="image", field=field))
    return out


class AssignmentSkipApi(APIView):
    @extend_schema(
        request=SkipIn,
        responses={
            200: OpenApiResponse(description='{"id": 1, "state": "skipped"}'),
            404: ERROR,
            409: ERROR,
        },
        summary="Skip a leased task; it is not offered to me again",
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        user = api_user(request)
        # Someone else's lease is not found, in the same words as one that does not exist.
        assignment = selectors.assignment_for_annotator(user=user, assignment_id=assignment_id)
        if assignment is None:
            raise NotFound("No such task.")
        data = SkipIn(data=request.data)
        data.is_valid(raise_exception=True)
        a = services.assignment_skip(
            assignment=assignment, annotator=user, reason=data.validated_data["reason"]
        )
        return Response({"id": a.id, "state": a.state})
