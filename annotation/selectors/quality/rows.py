"""Reads: the campaign's judgments as rows the quality measures share, and profile groups."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from annotation.models import Campaign, Judgment, Membership, Profile, Task
from annotation.selectors.judgments import judgments_counted

NO_ANSWER = "(no answer)"


@dataclass(frozen=True)
class Share:
    value: float | None
    n: int

    @classmethod
    def of(cls, hits: int, n: int) -> Share:
        return cls(hits / n if n else None, n)


NO_SHARE = Share(None, 0)


@dataclass(frozen=True)
class JudgmentRow:
    """One judgment with what the measures need of its lease, task and profile."""

    id: int
    annotator_id: int
    task_id: int
    kind: str
    payload: dict[str, Any]
    seconds: float | None
    gold_score: float | None
    created_at: datetime
    display_order: list[int]
    candidate_keys: list[list[Any]]
    is_gold: bool
    repeat_of: int | None
    parent_id: int | None
    profile: dict[str, Any]


def without_flagged(qs: QuerySet[Judgment], campaign: Campaign) -> QuerySet[Judgment]:
    """Leaves out the judgments of the campaign's flagged annotators."""
    flagged = Membership.objects.filter(
        campaign=campaign, user=OuterRef("annotator_id"), is_flagged=True
    )
    return qs.filter(~Exists(flagged))


def judgment_rows(
    *,
    campaign: Campaign,
    include_flagged: bool = True,
    include_repeats: bool = False,
    kinds: Collection[str] | None = None,
) -> list[JudgmentRow]:
    """The campaign's judgments that count (selectors.judgments: nobody who withdrew), in one
    query. Repeats (self-consistency checks) are left out unless asked for: they would count
    one annotator's view of a pair twice."""
    qs = judgments_counted(campaign=campaign)
    if not include_flagged:
        qs = without_flagged(qs, campaign)
    if kinds is not None:
        qs = qs.filter(kind__in=kinds)
    if not include_repeats:
        qs = qs.filter(task__repeat_of__isnull=True)
    fields = (
        "id",
        "annotator_id",
        "task_id",
        "kind",
        "payload",
        "seconds_spent",
        "gold_score",
        "created_at",
        "assignment__display_order",
        "task__gold",
        "task__repeat_of_id",
        "task__parent_id",
        "profile_id",
    )
    # A task's candidates and a profile's answers are read once each and shared by the rows
    # of their judgments (ten judgments a task, thousands a profile), not once per judgment.
    keys: dict[int, list[list[Any]]] = {}
    answers: dict[int | None, dict[str, Any]] = {None: {}}
    rows = list(qs.order_by("id").values_list(*fields))
    for task_id, candidate_keys in Task.objects.filter(id__in=qs.values("task_id")).values_list(
        "id", "candidate_keys"
    ):
        keys[task_id] = candidate_keys or []
    for profile_id, given in Profile.objects.filter(id__in=qs.values("profile_id")).values_list(
        "id", "answers"
    ):
        answers[profile_id] = given or {}
    return [
        JudgmentRow(
            id=v[0],
            annotator_id=v[1],
            task_id=v[2],
            kind=v[3],
            payload=v[4] or {},
            seconds=v[5],
            gold_score=v[6],
            created_at=v[7],
            display_order=v[8] or [],
            candidate_keys=keys.get(v[2], []),
            is_gold=v[9] is not None,
            repeat_of=v[10],
            parent_id=v[11],
            profile=answers.get(v[12], {}),
        )
        for v in rows
    ]


def profile_value(answers: dict[str, Any], field: str | None) -> str:
    """A profile answer as a group label: lists joined, nothing given as '(no answer)'."""
    value = (answers or {}).get(field) if field else None
    if value is None or value == "" or value == []:
        return NO_ANSWER
    if isinstance(value, list):
        return ", ".join(sorted(str(v) for v in value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def profile_fields(rows: Iterable[JudgmentRow]) -> list[str]:
    """The profile fields answered by the annotators of these judgments."""
    return sorted({k for r in rows for k, v in r.profile.items() if not isinstance(v, dict)})


def profile_fields_counted(*, campaign: Campaign, include_flagged: bool = True) -> list[str]:
    """`profile_fields` of the campaign's counted judgments, read from the profiles they were
    made under (one row per profile version, not per judgment)."""
    qs = judgments_counted(campaign=campaign)
    if not include_flagged:
        qs = without_flagged(qs, campaign)
    answers = Profile.objects.filter(id__in=qs.values("profile_id")).values_list(
        "answers", flat=True
    )
    return sorted(
        {k for a in answers.iterator() for k, v in (a or {}).items() if not isinstance(v, dict)}
    )
