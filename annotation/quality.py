"""Reads: how good are the annotators, and how much do they agree?

Per annotator: judgments, median time, agreement with the others on shared tasks, gold
accuracy, position bias (how often the first/left response wins), ties and skips, intransitive
cycles among their own choices, self-consistency on repeated pairs, length bias. Per
campaign: Krippendorff's alpha (the `krippendorff` package) for each thing judged, tie-aware
pairwise agreement, length bias, and agreement broken down by a profile field
(NLPositionality's question: whose judgments does the data represent?).

Everything works on "answers": one annotator's value for one unit (a pair's outcome, one
response's score on one attribute, one label). Two annotators agree on a unit by
1 - |difference| / range, so on a pair a tie against a preference is half an agreement and
opposite preferences none (tie-aware agreement); nominal values agree when equal.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import krippendorff
import numpy as np
from django.db.models import Count, Exists, OuterRef
from django.db.models.functions import Length

from .errors import RuleError
from .kinds import kind_for
from .models import Assignment, Campaign, Judgment, Membership, Message

NO_ANSWER = "(no answer)"
# Below this many choices, a share says little; such annotators are not marked suspicious.
MIN_EVIDENCE = 10
# |z| above this against the expected share (0.5 for a pair) marks position bias.
POSITION_Z = 3.0


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


def judgment_rows(
    *, campaign: Campaign, include_flagged: bool = True, include_repeats: bool = False
) -> list[JudgmentRow]:
    """The campaign's judgments in one query. Repeats (self-consistency checks) are left out
    unless asked for: they would count one annotator's view of a pair twice."""
    qs = Judgment.objects.filter(campaign=campaign)
    if not include_flagged:
        flagged = Membership.objects.filter(
            campaign=campaign, user=OuterRef("annotator_id"), is_flagged=True
        )
        qs = qs.filter(~Exists(flagged))
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
        "task__candidate_keys",
        "task__gold",
        "task__repeat_of_id",
        "task__parent_id",
        "profile__answers",
    )
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
            candidate_keys=v[9] or [],
            is_gold=v[10] is not None,
            repeat_of=v[11],
            parent_id=v[12],
            profile=v[13] or {},
        )
        for v in qs.order_by("id").values_list(*fields)
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


# --- answers --------------------------------------------------------------------------------

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
    """The outcome by message ids (lower id first), never by screen side."""
    outcome = choice.get("outcome")
    if outcome == "preferred":
        return PAIR_CODES["first" if choice.get("preferred") == min(candidates) else "second"]
    return PAIR_CODES["both_bad" if outcome == "both_bad" else "tie"]


def _spans(campaign: Campaign) -> dict[str, tuple[Level, float]]:
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


def _units(
    rows: Iterable[JudgmentRow], spans: dict[str, tuple[Level, float]]
) -> dict[tuple[Any, ...], list[tuple[int, Answer]]]:
    units: dict[tuple[Any, ...], list[tuple[int, Answer]]] = defaultdict(list)
    for row in rows:
        for answer in answers_of(row, spans):
            units[answer.unit].append((row.annotator_id, answer))
    return units


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
    for unit, answers in _units(rows, _spans(campaign)).items():
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
    for answers in _units([r for r in rows if r.kind == "pairwise"], {}).values():
        for (_, a), (_, b) in itertools.combinations(answers, 2):
            tie_aware.append(similarity(a, b))
            strict.append(float(a.code == b.code))
            if a.code in (0, 2) and b.code in (0, 2):
                decisive.append(float(a.code == b.code))

    def mean(xs: list[float]) -> float | None:
        return float(np.mean(xs)) if xs else None

    return PairAgreement(mean(tie_aware), mean(strict), mean(decisive), len(tie_aware))


# --- length bias ----------------------------------------------------------------------------

LENGTH_BINS = [(0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 1.01)]


@dataclass(frozen=True)
class Share:
    value: float | None
    n: int

    @classmethod
    def of(cls, hits: int, n: int) -> Share:
        return cls(hits / n if n else None, n)


@dataclass(frozen=True)
class LengthBias:
    longer: Share  # how often the chosen response is the longer one
    bins: list[tuple[str, Share]]  # the same, by how much longer it is


def message_lengths(*, campaign: Campaign) -> dict[int, int]:
    return dict(
        Message.objects.filter(conversation__campaign=campaign, role=Message.Role.ASSISTANT)
        .annotate(chars=Length("text"))
        .values_list("id", "chars")
    )


def _length_choices(
    rows: Iterable[JudgmentRow], lengths: dict[int, int]
) -> Iterable[tuple[int, bool, float]]:
    """(annotator, chose the longer, relative difference) per decisive choice."""
    for row in rows:
        for _, choice in pair_choices(row):
            if choice.get("outcome") != "preferred":
                continue
            chosen = lengths.get(choice["preferred"])
            other = lengths.get(choice.get("rejected", -1))
            if chosen is None or other is None or chosen == other:
                continue
            yield row.annotator_id, chosen > other, abs(chosen - other) / max(chosen, other)


def length_bias_from(choices: Sequence[tuple[int, bool, float]]) -> LengthBias:
    bins = []
    for lo, hi in LENGTH_BINS:
        inside = [longer for _, longer, d in choices if lo <= d < hi]
        label = f"{lo:.0%}–{min(hi, 1):.0%} longer"
        bins.append((label, Share.of(sum(inside), len(inside))))
    return LengthBias(Share.of(sum(c[1] for c in choices), len(choices)), bins)


def length_bias(*, campaign: Campaign, rows: Sequence[JudgmentRow] | None = None) -> LengthBias:
    if rows is None:
        rows = judgment_rows(campaign=campaign, include_flagged=False)
    return length_bias_from(list(_length_choices(rows, message_lengths(campaign=campaign))))


# --- per annotator --------------------------------------------------------------------------


@dataclass
class AnnotatorQuality:
    user_id: int
    username: str
    pseudonym: str
    membership_id: int | None
    role: str
    is_flagged: bool
    is_blocked: bool
    judgments: int = 0
    median_seconds: float | None = None
    agreement: Share = Share(None, 0)  # mean agreement with the others, over shared units
    gold: Share = Share(None, 0)
    position_bias: Share = Share(None, 0)  # choices of the first shown response
    position_z: float | None = None  # against the share expected by chance
    ties: Share = Share(None, 0)
    both_bad: Share = Share(None, 0)
    skips: Share = Share(None, 0)
    cycles: int = 0  # intransitive triads (a > b > c > a) among their choices on one prompt
    triads: int = 0  # triads of responses to one prompt they compared all three pairs of
    self_consistency: Share = Share(None, 0)  # the same outcome on a pair served again
    length_bias: Share = Share(None, 0)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CampaignQuality:
    annotators: list[AnnotatorQuality]
    alphas: list[Alpha]
    pairs: PairAgreement
    position_bias: Share
    length_bias: LengthBias
    profile_fields: list[str]


def _position(rows: Iterable[JudgmentRow]) -> tuple[int, int, float]:
    """(first shown chosen, choices, chance share) for pairs and for rankings' top place."""
    hits = n = 0
    expected = 0.0
    for row in rows:
        if not row.display_order:
            continue
        first = row.display_order[0]
        for _, choice in pair_choices(row):
            if choice.get("outcome") == "preferred":
                hits += choice["preferred"] == first
                n += 1
                expected += 0.5
        if row.kind == "ranking":
            top = (row.payload.get("ranking") or [[]])[0]
            if len(top) == 1:
                hits += top[0] == first
                n += 1
                expected += 1 / len(row.display_order)
    return hits, n, (expected / n if n else 0.5)


def _z(hits: int, n: int, p0: float) -> float | None:
    if not n or not 0 < p0 < 1:
        return None
    return (hits - n * p0) / math.sqrt(n * p0 * (1 - p0))


def _cycles(rows: Iterable[JudgmentRow]) -> tuple[int, int]:
    """Intransitive triads among one annotator's decisive choices between responses to the
    same prompt (a triad is intransitive when its three choices go round in a circle)."""
    beats: dict[tuple[Any, str], set[tuple[int, int]]] = defaultdict(set)
    for row in rows:
        for name, choice in pair_choices(row):
            if choice.get("outcome") == "preferred":
                beats[(row.parent_id, name)].add((choice["preferred"], choice["rejected"]))
    cycles = triads = 0
    for edges in beats.values():
        nodes = sorted({m for e in edges for m in e})
        for a, b, c in itertools.combinations(nodes, 3):
            found = [(x, y) for x, y in itertools.permutations((a, b, c), 2) if (x, y) in edges]
            if len({frozenset(e) for e in found}) < 3:
                continue
            triads += 1
            wins = Counter(x for x, _ in found)
            cycles += all(wins[m] == 1 for m in (a, b, c))
    return cycles, triads


def _self_consistency(rows: Sequence[JudgmentRow], repeats: Sequence[JudgmentRow]) -> Share:
    """How often a pair served again (sides swapped) got the same outcome as the first time."""
    first = {(r.annotator_id, r.task_id): r for r in rows}
    same = n = 0
    for again in repeats:
        original = first.get((again.annotator_id, again.repeat_of or 0))
        if original is None:
            continue
        ids = [int(m) for m, _ in original.candidate_keys]
        before = dict(pair_choices(original))
        for name, choice in pair_choices(again):
            if name in before:
                same += pair_code(choice, ids) == pair_code(before[name], ids)
                n += 1
    return Share.of(same, n)


def annotator_quality(*, campaign: Campaign) -> CampaignQuality:
    everything = judgment_rows(campaign=campaign, include_repeats=True)
    rows = [r for r in everything if r.repeat_of is None]
    repeats = [r for r in everything if r.repeat_of is not None]
    members = {
        m.user_id: m for m in Membership.objects.filter(campaign=campaign).select_related("user")
    }
    flagged = {uid for uid, m in members.items() if m.is_flagged}
    kept = [r for r in rows if r.annotator_id not in flagged]
    spans = _spans(campaign)
    lengths = message_lengths(campaign=campaign)

    # Agreement of each annotator with the others (flagged ones are no reference).
    agree: dict[int, list[float]] = defaultdict(list)
    for answers in _units(rows, spans).values():
        for (x, a), (y, b) in itertools.permutations(answers, 2):
            if x != y and y not in flagged:
                agree[x].append(similarity(a, b))

    by_annotator: dict[int, list[JudgmentRow]] = defaultdict(list)
    for r in rows:
        by_annotator[r.annotator_id].append(r)
    finished = (
        Assignment.objects.filter(
            campaign=campaign, state__in=[Assignment.State.SUBMITTED, Assignment.State.SKIPPED]
        )
        .values_list("annotator_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    skipped: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for annotator_id, state, n in finished:
        skipped[annotator_id][0 if state == Assignment.State.SKIPPED else 1] += n

    out = []
    for user_id in sorted(set(members) | set(by_annotator) | set(skipped)):
        m = members.get(user_id)
        mine = by_annotator.get(user_id, [])
        q = AnnotatorQuality(
            user_id=user_id,
            username=m.user.username if m else str(user_id),
            pseudonym=m.user.pseudonym if m else "",
            membership_id=m.id if m else None,
            role=m.role if m else "",
            is_flagged=bool(m and m.is_flagged),
            is_blocked=bool(m and m.is_blocked),
            judgments=len(mine),
        )
        if m and m.role == Membership.Role.ADMIN and not mine:
            continue  # an admin who does not annotate
        seconds = [r.seconds for r in mine if r.seconds is not None]
        q.median_seconds = statistics.median(seconds) if seconds else None
        scores = agree.get(user_id, [])
        q.agreement = Share(float(np.mean(scores)) if scores else None, len(scores))
        golds = [r.gold_score for r in mine if r.gold_score is not None]
        q.gold = Share(float(np.mean(golds)) if golds else None, len(golds))
        hits, n, p0 = _position(mine)
        q.position_bias, q.position_z = Share.of(hits, n), _z(hits, n, p0)
        outcomes = [c.get("outcome") for r in mine for _, c in pair_choices(r)]
        q.ties = Share.of(outcomes.count("tie"), len(outcomes))
        q.both_bad = Share.of(outcomes.count("both_bad"), len(outcomes))
        skips, submitted = skipped[user_id]
        q.skips = Share.of(skips, skips + submitted)
        q.cycles, q.triads = _cycles(mine)
        q.self_consistency = _self_consistency(
            mine, [r for r in repeats if r.annotator_id == user_id]
        )
        longer = list(_length_choices(mine, lengths))
        q.length_bias = Share.of(sum(c[1] for c in longer), len(longer))
        q.warnings = _warnings(q)
        out.append(q)

    hits, n, _ = _position(kept)
    return CampaignQuality(
        annotators=out,
        alphas=campaign_alphas(campaign=campaign, rows=kept),
        pairs=pair_agreement(campaign=campaign, rows=kept),
        position_bias=Share.of(hits, n),
        length_bias=length_bias_from(list(_length_choices(kept, lengths))),
        profile_fields=profile_fields(rows),
    )


def _warnings(q: AnnotatorQuality) -> list[str]:
    """Plain reasons to look at an annotator more closely."""
    out = []
    if q.position_z is not None and abs(q.position_z) >= POSITION_Z:
        out.append(f"picks the first shown response {q.position_bias.value:.0%} of the time")
    if q.agreement.n >= MIN_EVIDENCE and (q.agreement.value or 0) < 0.4:
        out.append("agrees little with the others")
    if q.gold.n >= 3 and (q.gold.value or 0) < 0.6:
        out.append("misses gold answers")
    if q.ties.n >= MIN_EVIDENCE and (q.ties.value or 0) > 0.5:
        out.append("calls most pairs a tie")
    if q.median_seconds is not None and q.judgments >= MIN_EVIDENCE and q.median_seconds < 3:
        out.append("answers in under 3 seconds")
    # Choices made at random go round in a circle in a quarter of the triads.
    if q.triads >= 4 and q.cycles / q.triads >= 0.25:
        out.append(f"intransitive in {q.cycles} of {q.triads} triads")
    if q.self_consistency.n >= 3 and (q.self_consistency.value or 0) < 0.5:
        out.append("changes their mind on repeated pairs")
    return out


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
    for answers in _units(rows, _spans(campaign)).values():
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
