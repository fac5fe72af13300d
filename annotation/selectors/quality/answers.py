"""Answers: one annotator's value for one unit (a pair's outcome, one response's score on one
attribute, one label), and how much two answers agree."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from annotation.errors import RuleError
from annotation.kinds import kind_for
from annotation.models import Campaign
from annotation.selectors.quality.rows import JudgmentRow

Level = Literal["nominal", "ordinal", "interval"]
PAIR_CODES = {"first": 0, "tie": 1, "second": 2, "both_bad": 3}


@dataclass(frozen=True)
class Answer:
    unit: tuple[Any, ...]  # what was judged
    group: str  # one alpha per group: the attribute, the label, or the kind
    level: Level  # Krippendorff's level of measurement
    code: float  # the value alpha sees
    score: float  # the value agreement is measured on
    span: float  # the range of `score`; 0: agreement is equality of `code`


def pair_choices(row: JudgmentRow) -> list[tuple[str, dict[str, Any]]]:
    """(attribute or "", choice) of a pairwise judgment."""
    if row.kind != "pairwise":
        return []
    if "attributes" in row.payload:
        return list((row.payload["attributes"] or {}).items())
    return [("", row.payload)]


def pair_code(choice: dict[str, Any], candidates: Sequence[int]) -> int:
    """The outcome by the task's candidate order (the prompt file's order of the responses,
    or the models' for generated ones), never by screen side nor by id: ids are stored in a
    random order so that annotators cannot tell the models apart by them."""
    outcome = choice.get("outcome")
    if outcome == "preferred":
        return PAIR_CODES["first" if choice.get("preferred") == candidates[0] else "second"]
    return PAIR_CODES["both_bad" if outcome == "both_bad" else "tie"]


def scale_spans(campaign: Campaign) -> dict[str, tuple[Level, float]]:
    """attribute or label name -> (level, range) from the campaign's kind settings."""
    try:
        settings = kind_for(campaign.task_kind).settings(campaign.settings)
    except RuleError:
        return {}
    out: dict[str, tuple[Level, float]] = {}
    for a in getattr(settings, "attributes", ()) or ():
        scale = getattr(a, "scale", None)
        if scale is not None:
            level: Level = "interval" if scale.type == "slider" else "ordinal"
            out[a.name] = (level, float(scale.max - scale.min))
    for spec in getattr(settings, "labels", ()) or ():
        if spec.scale is not None:
            out[spec.name] = ("ordinal", float(spec.scale.max - spec.scale.min))
    return out


def answers_of(row: JudgmentRow, spans: dict[str, tuple[Level, float]]) -> Iterable[Answer]:
    p = row.payload
    if row.kind == "pairwise":
        ids = [int(m) for m, _ in row.candidate_keys]
        for name, choice in pair_choices(row):
            code = pair_code(choice, ids)
            score = {0: -1.0, 2: 1.0}.get(code, 0.0)
            yield Answer((row.task_id, name), name or "preference", "nominal", code, score, 2.0)
    elif row.kind == "ranking":
        groups = p.get("ranking") or []
        span = float(max(len(groups) - 1, 1))
        for place, group in enumerate(groups):
            for m in group:
                yield Answer((row.task_id, int(m)), "ranking", "ordinal", place, place, span)
    elif row.kind == "rating":
        for message_id, scores in (p.get("ratings") or {}).items():
            for name, value in scores.items():
                level, span = spans.get(name, ("ordinal", 4.0))
                unit = (row.task_id, int(message_id), name)
                yield Answer(unit, name, level, float(value), float(value), span)
    elif row.kind == "binary":
        value = float(bool(p.get("label")))
        yield Answer((row.task_id,), "thumbs up", "nominal", value, value, 0.0)
    elif row.kind == "label":
        for name, value in (p.get("labels") or {}).items():
            if isinstance(value, bool):
                yield Answer((row.task_id, name), name, "nominal", float(value), float(value), 0)
            elif value is not None:
                level, span = spans.get(name, ("ordinal", 4.0))
                yield Answer((row.task_id, name), name, level, float(value), float(value), span)


def similarity(a: Answer, b: Answer) -> float:
    if a.span:
        return max(0.0, 1 - abs(a.score - b.score) / a.span)
    return float(a.code == b.code)


def units_of(
    rows: Iterable[JudgmentRow], spans: dict[str, tuple[Level, float]]
) -> dict[tuple[Any, ...], list[tuple[int, Answer]]]:
    units: dict[tuple[Any, ...], list[tuple[int, Answer]]] = defaultdict(list)
    for row in rows:
        for answer in answers_of(row, spans):
            units[answer.unit].append((row.annotator_id, answer))
    return units
