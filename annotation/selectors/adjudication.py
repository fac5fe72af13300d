"""Reads of adjudication: which items are disputed (from the counted judgments only, by the
kind's own measure of agreement), who may adjudicate, and what an adjudicator sees of an item
(the rules that lease and decide are services.adjudication)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from annotation.errors import NotFound
from annotation.kinds import kind_for
from annotation.kinds.base import Agreement, DisputeRule, item_agreement
from annotation.kinds.trees import kind_settings_raw
from annotation.models import Adjudication, Campaign, Judgment, Membership, Message, User
from annotation.selectors.campaigns import messages_with_files, path_to
from annotation.selectors.judgments import judgments_counted
from annotation.selectors.review import REVIEWER_ROLES, reviewer_role_check


def dispute_rule(*, campaign: Campaign) -> DisputeRule:
    return DisputeRule.parse(campaign.adjudication)


def adjudicator_check(*, campaign: Campaign, user: User) -> None:
    """Raises unless this person may adjudicate the campaign's disputed items now: the
    campaign adjudicates, and they hold the reviewer role (as for the review stage)."""
    if not dispute_rule(campaign=campaign).enabled:
        raise NotFound("This campaign does not adjudicate disputed items.")
    reviewer_role_check(campaign=campaign, user=user)


def item_agreements(
    *, campaign: Campaign, task_ids: list[int] | None = None
) -> dict[int, Agreement]:
    """Each item's agreement over its counted judgments (people who withdrew are left out),
    by its kind's measure; items with too few judgments, or of a kind without a measure,
    are absent."""
    rule = dispute_rule(campaign=campaign)
    judgments = judgments_counted(campaign=campaign)
    if task_ids is not None:
        judgments = judgments.filter(task_id__in=task_ids)
    by_task: dict[int, list[tuple[str, Any, float | None]]] = defaultdict(list)
    for task_id, kind_name, payload, gold in judgments.order_by("task_id", "id").values_list(
        "task_id", "kind", "payload", "gold_score"
    ):
        by_task[task_id].append((kind_name, payload, gold))
    settings_of: dict[str, Any] = {}
    out: dict[int, Agreement] = {}
    for task_id, rows in by_task.items():
        kind = kind_for(rows[0][0])
        if kind.name not in settings_of:
            settings_of[kind.name] = kind.settings(
                kind_settings_raw(campaign=campaign, task_kind=kind.name)
            )
        found = item_agreement(
            kind,
            [r[1] for r in rows],
            settings=settings_of[kind.name],
            rule=rule,
            gold_scores=[r[2] for r in rows],
        )
        if found is not None:
            out[task_id] = found
    return out


def disputed_items(*, campaign: Campaign) -> dict[int, Agreement]:
    """The items the campaign's rule calls disputed, by task id."""
    return {t: a for t, a in item_agreements(campaign=campaign).items() if a.disputed}


def judged_by(*, campaign: Campaign, user: User) -> set[int]:
    """The tasks this person judged (they never adjudicate those)."""
    return set(
        Judgment.objects.filter(campaign=campaign, annotator=user).values_list("task_id", flat=True)
    )


@dataclass(frozen=True)
class Opinion:
    """One judgment as the adjudicator sees it: anonymous (`label`: Annotator 1, 2, ...)."""

    label: int
    payload: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class AdjudicationItem:
    adjudication: Adjudication
    context: list[Message]
    candidates: list[Message]
    opinions: list[Opinion]
    agreement: Agreement | None
    pending: int  # disputed items nobody has decided yet, this one included


def adjudication_item(*, adjudication: Adjudication, pending: int = 0) -> AdjudicationItem:
    task = adjudication.task
    by_id = {m.id: m for m in Message.objects.filter(conversation_id=task.conversation_id)}
    candidate_ids = list(
        task.task_candidates.order_by("position").values_list("message_id", flat=True)
    )
    payloads = (
        judgments_counted(campaign=adjudication.campaign_id)
        .filter(task=task)
        .order_by("id")
        .values_list("payload", flat=True)
    )
    opinions = [
        Opinion(label=i, payload=p, reason=_reasons(p)) for i, p in enumerate(payloads, start=1)
    ]
    agreement = item_agreements(campaign=adjudication.campaign, task_ids=[task.id]).get(task.id)
    return AdjudicationItem(
        adjudication=adjudication,
        context=messages_with_files(path_to(by_id, task.parent_id)),
        candidates=messages_with_files([by_id[i] for i in candidate_ids if i in by_id]),
        opinions=opinions,
        agreement=agreement,
        pending=pending,
    )


def _reasons(payload: Any) -> str:
    """Every reason or rationale a payload carries, as one text."""
    if not isinstance(payload, dict):
        return ""
    found = [payload["reason"]] if isinstance(payload.get("reason"), str) else []
    for value in (payload.get("attributes") or {}).values():
        if isinstance(value, dict) and isinstance(value.get("reason"), str):
            found.append(value["reason"])
    for notes in (payload.get("rationales") or {}).values():
        if isinstance(notes, dict):
            found.extend(str(v) for v in notes.values())
    return "\n".join(found)


def campaigns_adjudicated_by(*, user: User) -> set[int]:
    """The campaigns that adjudicate, where this person holds the reviewer role."""
    return set(
        Membership.objects.filter(
            user=user,
            role__in=REVIEWER_ROLES,
            is_blocked=False,
            campaign__adjudication__enabled=True,
        ).values_list("campaign_id", flat=True)
    )


NAMED_BY_ID = ("preferred", "rejected", "chosen", "ranking")


def payload_named(payload: Any, letters: dict[int, str]) -> Any:
    """A payload with the candidates named by their letter on the adjudicator's screen (A,
    B, ...) instead of their message id: in the keys of per-response scores and in the fields
    that name a response."""

    def name(value: Any, by_id: bool) -> Any:
        if isinstance(value, dict):
            return {
                letters.get(int(k), k) if k.isdigit() else k: name(v, by_id or k in NAMED_BY_ID)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [name(v, by_id) for v in value]
        if by_id and isinstance(value, int) and not isinstance(value, bool):
            return letters.get(value, value)
        return value

    return name(payload, False)


@dataclass(frozen=True)
class AnnotatorDisputes:
    username: str
    items: int  # items they judged that have a measure of agreement
    disputed: int  # of those, the disputed ones

    @property
    def share(self) -> float | None:
        return self.disputed / self.items if self.items else None


@dataclass(frozen=True)
class AdjudicationSummary:
    """The queue on the dashboard: its size, its throughput, the disputes per annotator."""

    disputed: int  # items disputed now
    waiting: int  # disputed, nobody holds them, not decided
    leased: int  # held by a reviewer now
    decided: int
    ambiguous: int
    done_last_day: int  # decided or marked ambiguous in the last 24 hours
    done_last_week: int
    annotators: list[AnnotatorDisputes]


def adjudication_summary(*, campaign: Campaign, now: datetime | None = None) -> AdjudicationSummary:
    now = now or timezone.now()
    agreements = item_agreements(campaign=campaign)
    disputed = {t for t, a in agreements.items() if a.disputed}
    rows = Adjudication.objects.filter(campaign=campaign)
    counts = rows.aggregate(
        decided=Count("id", filter=Q(state=Adjudication.State.DECIDED)),
        ambiguous=Count("id", filter=Q(state=Adjudication.State.AMBIGUOUS)),
        leased=Count("id", filter=Q(state=Adjudication.State.LEASED, leased_until__gt=now)),
        day=Count("id", filter=Q(decided_at__gte=now - timedelta(days=1))),
        week=Count("id", filter=Q(decided_at__gte=now - timedelta(days=7))),
    )
    busy = set(
        rows.exclude(state=Adjudication.State.LEASED, leased_until__lte=now).values_list(
            "task_id", flat=True
        )
    )
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for username, task_id in (
        judgments_counted(campaign=campaign)
        .filter(task_id__in=list(agreements))
        .values_list("annotator__username", "task_id")
    ):
        per[username][0] += 1
        per[username][1] += task_id in disputed
    return AdjudicationSummary(
        disputed=len(disputed),
        waiting=len(disputed - busy),
        leased=counts["leased"],
        decided=counts["decided"],
        ambiguous=counts["ambiguous"],
        done_last_day=counts["day"],
        done_last_week=counts["week"],
        annotators=sorted(
            (AnnotatorDisputes(u, items, n) for u, (items, n) in per.items()),
            key=lambda a: (-(a.share or 0), a.username),
        ),
    )


@dataclass(frozen=True)
class AdjudicationDone:
    state: str  # decided or ambiguous
    payload: Any  # the final answer (decided only)
    decided_at: datetime


def adjudications_done(*, campaign: Campaign) -> dict[int, AdjudicationDone]:
    """The campaign's decided and ambiguous items, by task id (what the exports follow)."""
    return {
        task_id: AdjudicationDone(state, payload, decided_at)
        for task_id, state, payload, decided_at in Adjudication.objects.filter(
            campaign=campaign,
            state__in=(Adjudication.State.DECIDED, Adjudication.State.AMBIGUOUS),
            decided_at__isnull=False,  # set with either state; the column allows NULL before
        ).values_list("task_id", "state", "payload", "decided_at")
        if decided_at is not None
    }
