"""The review stage (HumanEdit, KorNAT): chosen reviewers accept, reject or correct judgments.

A campaign with `review_stage` on exports only judgments a reviewer accepted or corrected; a
corrected judgment keeps the annotator's payload as it was and carries the reviewer's
(checked like any payload of its kind) beside it. Reviewers are the campaign's members with
the role `reviewer`, its admins, and staff; nobody reviews their own judgments.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from annotation.errors import Conflict, Forbidden, NotFound, RuleError
from annotation.kinds import kind_for
from annotation.kinds.base import text
from annotation.kinds.trees import kind_settings_raw
from annotation.models import Campaign, JudgmentReview, Message, User
from annotation.selectors.review import judgment_for_reviewer, reviewer_check

# What a correction may not change of a payload that wrote a message (reply, rewrite).
KEPT_ON_CORRECTION = ("message_id", "rewrite_of", "role")
# What a kind adds to the payload it stores (not part of what a client sends).
DERIVED = (*KEPT_ON_CORRECTION, "edit_distance", "diff")


def payload_as_input(payload: Any) -> Any:
    """A stored payload in the shape a client sends (what a reviewer edits): without what the
    kind derived, such as a pairwise choice's `rejected` or a rewrite's diff."""
    if not isinstance(payload, dict):
        return payload
    out = {k: v for k, v in payload.items() if k not in DERIVED}
    if out.get("outcome") == "preferred":
        out.pop("rejected", None)
    if isinstance(out.get("attributes"), dict):
        out["attributes"] = {
            name: payload_as_input(choice) for name, choice in out["attributes"].items()
        }
    return out


def judgment_review(
    *,
    judgment_id: int,
    reviewer: User,
    decision: str,
    campaign: Campaign | None = None,
    correction: Any = None,
    note: Any = "",
) -> JudgmentReview:
    """Record a reviewer's decision. A correction is checked against the kind's settings
    like the annotator's payload; the annotator's payload is never changed. A judgment of a
    campaign this person may not see is not found, and with `campaign` (a page of that
    campaign's), neither is a judgment of another campaign."""
    judgment = judgment_for_reviewer(judgment_id=judgment_id, user=reviewer, campaign=campaign)
    if judgment is None:
        raise NotFound("No such judgment.")
    campaign = judgment.campaign
    reviewer_check(campaign=campaign, user=reviewer)
    if judgment.annotator_id == reviewer.id:
        raise Forbidden("Nobody reviews their own judgments.")
    if decision not in JudgmentReview.Decision.values:
        raise RuleError("decision must be one of accepted, rejected, corrected.", field="decision")
    note = text(note, "note", max_chars=1000)
    clean = None
    if decision == JudgmentReview.Decision.CORRECTED:
        if correction is None:
            raise RuleError("A correction needs the corrected payload.", field="correction")
        kind = kind_for(judgment.kind)
        parent_id = judgment.task.parent_id
        parent_role = (
            None
            if parent_id is None
            else Message.objects.filter(id=parent_id).values_list("role", flat=True).first()
        )
        raw = kind_settings_raw(campaign=campaign, task_kind=kind.name, parent_role=parent_role)
        try:
            clean = kind.validate(
                payload_as_input(correction),
                settings=kind.settings(raw),
                candidate_ids=judgment.assignment.display_order,
            )
        except RuleError as e:
            raise RuleError(e.message, field=f"correction.{e.field or ''}".rstrip(".")) from None
        clean = {
            **clean,
            **{k: judgment.payload[k] for k in KEPT_ON_CORRECTION if k in judgment.payload},
        }
        if payload_as_input(clean) == payload_as_input(judgment.payload):
            raise RuleError(
                "The correction is the same as the judgment; accept it instead.",
                field="correction",
            )
    elif correction is not None:
        raise RuleError("Only a correction carries a payload.", field="correction")
    try:
        with transaction.atomic():
            return JudgmentReview.objects.create(
                judgment=judgment,
                campaign=campaign,
                reviewer=reviewer,
                decision=decision,
                correction=clean,
                note=note,
            )
    except IntegrityError:
        raise Conflict("Someone already reviewed this judgment.", code="already_reviewed") from None
