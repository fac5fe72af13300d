"""What the annotator's pages share: how a refused form answers, what of it is echoed back, and
the form -> judgment sequence that the task page and the live chat both run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import QueryDict

from annotation import services
from annotation.attachments import CheckedFile
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.kinds.base import Kind
from annotation.models import Assignment, Judgment

# What a refused form gives back to the page: everything the person entered, nothing of the
# submit's own bookkeeping (a fresh idempotency key and clock come with the page).
NOT_ECHOED = {"csrfmiddlewaretoken", "idempotency_key", "seconds_spent"}


def refused_status(e: RuleError) -> int:
    """A refused form is 422 on a page (the input, not the request, was bad); every other
    broken rule keeps the service's status (403, 404, 409)."""
    return 422 if e.status == 400 else e.status


def form_draft(form: QueryDict) -> dict[str, list[str]]:
    """What the person entered, to fill the refused form again."""
    return {k: v for k, v in form.lists() if k not in NOT_ECHOED}


def judgment_from_form(
    request: AuthedHttpRequest,
    *,
    assignment: Assignment,
    kind: Kind[Any],
    settings: Any,
    files: Sequence[CheckedFile] = (),
) -> tuple[Judgment, bool]:
    """The posted form read by the task's kind, then submitted as the API submits a payload:
    one validation and one store for pages and API alike (raises RuleError)."""
    payload = kind.payload_from_form(
        request.POST, settings=settings, candidate_ids=assignment.display_order
    )
    return services.judgment_submit(
        assignment=assignment,
        annotator=request.user,
        payload=payload,
        idempotency_key=request.POST.get("idempotency_key"),
        seconds_spent=request.POST.get("seconds_spent"),
        files=files,
    )
