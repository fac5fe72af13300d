"""Adjudication driven by disagreement: disputed items (selectors.adjudication) are leased to
one reviewer at a time, who decides the final answer in the kind's own form (checked by the
kind's code) or marks the item ambiguous. The decision is stored beside the judgments
(models.Adjudication), never over them. Nobody adjudicates an item they judged.

One reviewer per item under concurrency: a new lease is an INSERT under the table's unique
task, so of two reviewers racing for an item one wins and the other moves on; an expired lease
is taken over by a conditional UPDATE (`state = leased AND leased_until <= now`), which
PostgreSQL re-checks on the locked row, so again only one reviewer takes it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.errors import Conflict, Forbidden, NotFound, RuleError
from annotation.kinds import kind_for
from annotation.kinds.base import DisputeRule, text
from annotation.kinds.trees import kind_settings_raw
from annotation.models import Adjudication, Campaign, Message, User
from annotation.selectors.adjudication import (
    AdjudicationItem,
    adjudication_item,
    adjudicator_check,
    disputed_items,
    judged_by,
)
from annotation.services.review import KEPT_ON_CORRECTION, payload_as_input

DONE = (Adjudication.State.DECIDED, Adjudication.State.AMBIGUOUS)


def adjudication_settings(raw: Any) -> dict[str, Any]:
    """A campaign's adjudication settings, checked, with their defaults (errors name the
    field: `adjudication.share`)."""
    return asdict(DisputeRule.parse(raw))


def campaign_adjudication_set(*, campaign: Campaign, adjudication: Any) -> Campaign:
    """Turn adjudication on or off and set when an item is disputed; may change at any time
    (the queue is computed from the judgments as they are)."""
    campaign.adjudication = adjudication_settings(adjudication)
    campaign.save(update_fields=["adjudication"])
    return campaign


def adjudication_next(*, campaign: Campaign, reviewer: User) -> AdjudicationItem | None:
    """The item this reviewer holds, else the oldest disputed item nobody decided or holds
    and that they did not judge, leased to them for the campaign's lease length."""
    adjudicator_check(campaign=campaign, user=reviewer)
    now = timezone.now()
    held = (
        Adjudication.objects.select_related("task", "campaign")
        .filter(
            campaign=campaign,
            adjudicator=reviewer,
            state=Adjudication.State.LEASED,
            leased_until__gt=now,
        )
        .first()
    )
    disputed = disputed_items(campaign=campaign)
    rows = dict(Adjudication.objects.filter(campaign=campaign).values_list("task_id", "state"))
    pending = sum(1 for t in disputed if rows.get(t) not in DONE)
    if held is not None:
        return adjudication_item(adjudication=held, pending=pending)
    busy = set(
        Adjudication.objects.filter(campaign=campaign)
        .exclude(state=Adjudication.State.LEASED, leased_until__lte=now)
        .values_list("task_id", flat=True)
    )
    mine = judged_by(campaign=campaign, user=reviewer)
    until = now + campaign.lease_length
    for task_id in sorted(disputed):
        if task_id in busy or task_id in mine:
            continue
        why = disputed[task_id].why
        if task_id not in rows:
            try:
                with transaction.atomic():
                    taken = Adjudication.objects.create(
                        task_id=task_id,
                        campaign=campaign,
                        adjudicator=reviewer,
                        leased_until=until,
                        why=why,
                    )
            except IntegrityError:
                continue  # another reviewer took it a moment ago
        else:
            # An expired lease: taken over by one reviewer only (the row is re-checked).
            if not Adjudication.objects.filter(
                task_id=task_id, state=Adjudication.State.LEASED, leased_until__lte=now
            ).update(adjudicator=reviewer, leased_until=until, why=why):
                continue
            taken = Adjudication.objects.get(task_id=task_id)
        taken = Adjudication.objects.select_related("task", "campaign").get(id=taken.id)
        return adjudication_item(adjudication=taken, pending=pending)
    return None


def adjudication_decide(
    *,
    adjudication_id: int,
    reviewer: User,
    campaign: Campaign,
    payload: Any = None,
    ambiguous: bool = False,
    note: Any = "",
) -> Adjudication:
    """Record the reviewer's final answer on the item they hold: `payload` (the kind's
    payload, checked against the campaign's settings as an annotator's is), or ambiguous."""
    adjudicator_check(campaign=campaign, user=reviewer)
    note = text(note, "note", max_chars=1000)
    with transaction.atomic():
        adjudication = (
            Adjudication.objects.select_for_update()
            .select_related("task")
            .filter(id=adjudication_id, campaign=campaign)
            .first()
        )
        if adjudication is None:
            raise NotFound("No such item to adjudicate.")
        if adjudication.task_id in judged_by(campaign=campaign, user=reviewer):
            raise Forbidden("Nobody adjudicates an item they judged.")
        if (
            adjudication.adjudicator_id != reviewer.id
            or adjudication.state != Adjudication.State.LEASED
        ):
            raise Conflict(
                "This item is no longer yours to decide: it was decided, or another reviewer "
                "holds it.",
                code="not_your_item",
            )
        clean = None
        if ambiguous:
            if payload is not None:
                raise RuleError("An ambiguous item carries no answer.", field="payload")
        else:
            if payload is None:
                raise RuleError(
                    "Give the final answer, or mark the item ambiguous.", field="payload"
                )
            clean = final_answer(adjudication=adjudication, campaign=campaign, payload=payload)
        adjudication.state = (
            Adjudication.State.AMBIGUOUS if ambiguous else Adjudication.State.DECIDED
        )
        adjudication.payload = clean
        adjudication.note = note
        adjudication.decided_at = timezone.now()
        adjudication.save(update_fields=["state", "payload", "note", "decided_at"])
    return adjudication


def candidate_ids_of(adjudication: Adjudication) -> list[int]:
    return list(
        adjudication.task.task_candidates.order_by("position").values_list("message_id", flat=True)
    )


def kind_settings_of(adjudication: Adjudication, campaign: Campaign) -> tuple[Any, Any]:
    """The item's kind and the settings its judgments were checked against."""
    kind = kind_for(adjudication.task.kind)
    parent_id = adjudication.task.parent_id
    parent_role = (
        None
        if parent_id is None
        else Message.objects.filter(id=parent_id).values_list("role", flat=True).first()
    )
    raw = kind_settings_raw(campaign=campaign, task_kind=kind.name, parent_role=parent_role)
    return kind, kind.settings(raw)


def final_answer_from_form(*, adjudication_id: int, campaign: Campaign, data: Any) -> Any:
    """The adjudication page's form (the kind's own controls) in the kind's payload shape;
    adjudication_decide then checks it as any payload."""
    found = (
        Adjudication.objects.select_related("task")
        .filter(id=adjudication_id, campaign=campaign)
        .first()
    )
    if found is None:
        raise NotFound("No such item to adjudicate.")
    kind, settings = kind_settings_of(found, campaign)
    return kind.payload_from_form(data, settings=settings, candidate_ids=candidate_ids_of(found))


def final_answer(*, adjudication: Adjudication, campaign: Campaign, payload: Any) -> Any:
    kind, settings = kind_settings_of(adjudication, campaign)
    clean = kind.validate(
        payload_as_input(payload), settings=settings, candidate_ids=candidate_ids_of(adjudication)
    )
    return {k: v for k, v in clean.items() if k not in KEPT_ON_CORRECTION}
