"""Reads: how much annotators agree - Krippendorff's alpha (the `krippendorff` package),
tie-aware pairwise agreement, and agreement broken down by a profile field."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import krippendorff
import numpy as np

from annotation.models import Campaign
from annotation.selectors.quality.answers import Level, scale_spans, similarity, units_of
from annotation.selectors.quality.rows import JudgmentRow, Share, judgment_rows, profile_value

# --- Krippendorff's alpha -------------------------------------------------------------------


@dataclass(frozen=True)
class Alpha:
    group: str
    level: Level
    value: float | None  # None: not enough overlap or variation to say
    units: int  # units judged by at least two annotators
    values: int  # answers on those units


def alpha_from(codes_by_unit: Sequence[Sequence[float]], level: Level) -> float | None:
    """Krippendorff's alpha from the answers of each unit (units with one answer ignored)."""
    pairable = [list(c) for c in codes_by_unit if len(c) >= 2]
    domain = sorted({v for c in pairable for v in c})
    if len(domain) < 2:
        return None
    position = {v: i for i, v in enumerate(domain)}
    counts = np.zeros((len(pairable), len(domain)))
    for u, codes in enumerate(pairable):
        for v in codes:
            counts[u, position[v]] += 1
    value = krippendorff.alpha(value_counts=counts, value_domain=domain, level_of_measurement=level)
    return None if math.isnan(value) else float(value)


def campaign_alphas(
    *, campaign: Campaign, rows: Sequence[JudgmentRow] | None = None
) -> list[Alpha]:
    """Krippendorff's alpha per thing judged (nominal for pairs, thumbs and flags; ordinal
    for rankings and Likert scores; interval for sliders), flagged annotators left out."""
    if rows is None:
        rows = judgment_rows(campaign=campaign, include_flagged=False)
    by_group: dict[str, dict[tuple[Any, ...], list[float]]] = defaultdict(dict)
    levels: dict[str, Level] = {}
    for unit, answers in units_of(rows, scale_spans(campaign)).items():
        group = answers[0][1].group
        levels[group] = answers[0][1].level
        by_group[group][unit] = [a.code for _, a in answers]
    out = []
    for group, units in by_group.items():
        pairable = [c for c in units.values() if len(c) >= 2]
        out.append(
            Alpha(
                group=group,
                level=levels[group],
                value=alpha_from(pairable, levels[group]),
                units=len(pairable),
                values=sum(len(c) for c in pairable),
            )
        )
    return out


# --- pairwise agreement ---------------------------------------------------------------------


@dataclass(frozen=True)
class PairAgreement:
    """Over every two annotators' judgments of the same pair."""

    tie_aware: float | None  # a tie against a preference counts half
    strict: float | None  # the same outcome, ties included
    decisive: float | None  # the same side, among pairs where both chose a side
    pairs: int


def pair_agreement(
    *, campaign: Campaign, rows: Sequence[JudgmentRow] | None = None
) -> PairAgreement:
    if rows is None:
        rows = judgment_rows(campaign=campaign, include_flagged=False)
    tie_aware, strict, decisive = [], [], []
    for answers in units_of([r for r in rows if r.kind == "pairwise"], {}).values():
        for (_, a), (_, b) in itertools.combinations(answers, 2):
            tie_aware.append(similarity(a, b))
            strict.append(float(a.code == b.code))
            if a.code in (0, 2) and b.code in (0, 2):
                decisive.append(float(a.code == b.code))

    def mean(xs: list[float]) -> float | None:
        return float(np.mean(xs)) if xs else None

    return PairAgreement(mean(tie_aware), mean(strict), mean(decisive), len(tie_aware))


# --- agreement by profile field -------------------------------------------------------------


@dataclass(frozen=True)
class GroupAgreement:
    value: str
    annotators: int
    judgments: int
    within: Share  # agreement between two annotators of this group on the same unit
    across: Share  # agreement of this group's annotators with everyone else
    with_majority: Share  # agreement with the majority of the other annotators


def agreement_by_profile(
    *, campaign: Campaign, field: str, rows: Sequence[JudgmentRow] | None = None
) -> list[GroupAgreement]:
    """Whose judgments does the data represent: agreement within each group of a profile
    field, with the other groups, and with the majority of the others."""
    if rows is None:
        rows = judgment_rows(campaign=campaign, include_flagged=False)
    group_of_row = {(r.annotator_id, r.task_id): profile_value(r.profile, field) for r in rows}
    within: dict[str, list[float]] = defaultdict(list)
    across: dict[str, list[float]] = defaultdict(list)
    majority: dict[str, list[float]] = defaultdict(list)
    for answers in units_of(rows, scale_spans(campaign)).values():
        for k, (x, a) in enumerate(answers):
            gx = group_of_row[(x, a.unit[0])]
            others = [(y, b) for j, (y, b) in enumerate(answers) if j != k and y != x]
            for y, b in others:
                same = group_of_row[(y, b.unit[0])] == gx
                (within if same else across)[gx].append(similarity(a, b))
            top = Counter(b.code for _, b in others).most_common(2)
            if top and (len(top) == 1 or top[0][1] > top[1][1]):
                model = next(b for _, b in others if b.code == top[0][0])
                majority[gx].append(similarity(a, model))
    members: dict[str, set[int]] = defaultdict(set)
    counts: Counter[str] = Counter()
    for r in rows:
        g = profile_value(r.profile, field)
        members[g].add(r.annotator_id)
        counts[g] += 1

    def share(xs: list[float]) -> Share:
        return Share(float(np.mean(xs)) if xs else None, len(xs))

    return [
        GroupAgreement(
            value=g,
            annotators=len(members[g]),
            judgments=counts[g],
            within=share(within[g]),
            across=share(across[g]),
            with_majority=share(majority[g]),
        )
        for g in sorted(members)
    ]
