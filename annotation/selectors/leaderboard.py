"""Reads: which model wins. Bradley-Terry strengths from pairwise and ranking judgments
(fitted with `choix`), bootstrap 95% intervals, the win-rate matrix, mean ratings per
attribute, and all of it broken down by a profile field (PRISM's question: who prefers which
model?). Model names are for a campaign's admins only; annotator pages never show them.

Every judgment becomes comparisons between the models of its candidates: a pairwise choice is
one (a tie or "both bad" is half a win each way, as Chatbot Arena counts it), a ranking of k
responses is every pair it orders (full rank-breaking, a consistent estimator of the
Plackett-Luce strengths that BT shares). Responses without a model, gold tasks and repeated
pairs (self-consistency checks) are left out; so are flagged annotators, like exports do.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Case, Count, F, IntegerField, QuerySet, Value, When
from django.db.models.fields.json import KeyTextTransform, KeyTransform

from annotation.models import Campaign
from annotation.selectors.judgments import judgments_counted
from annotation.selectors.quality import (
    JudgmentRow,
    judgment_rows,
    profile_value,
    without_flagged,
)
from generation.models import LanguageModel

# A pseudo-count of wins each way between every pair (choix's regularisation): a model that
# never lost keeps a finite strength, and a comparison graph with gaps still has a fit.
ALPHA = 0.01
BOOTSTRAP = 200
# Arena's display scale: 400 rating points per factor of 10 in the odds, 1000 = the average.
ELO_SCALE = 400 / math.log(10)
ELO_BASE = 1000


@dataclass(frozen=True)
class Comparisons:
    """Win credit between models: `i` beat `j` with credit `w` (1, 0.5 for a tie, 0), from
    judgment group number `judgment`: the comparisons of one judgment are resampled together,
    and judgments that make the very same comparisons may be taken together as one group of
    `counts[group]` judgments (what the SQL aggregate of pairwise judgments reads)."""

    models: list[int]  # LanguageModel ids; the indices below point into this list
    judgment: np.ndarray
    i: np.ndarray
    j: np.ndarray
    w: np.ndarray
    judgments: int
    counts: np.ndarray | None = None  # judgments per group; None: one each

    @property
    def n(self) -> int:
        return len(self.models)

    @property
    def group_counts(self) -> np.ndarray:
        groups = int(self.judgment.max()) + 1 if len(self.judgment) else 0
        return np.ones(groups) if self.counts is None else self.counts

    def matrix(self, weights: np.ndarray | None = None) -> np.ndarray:
        """wins[a, b]: how often model a beat model b (ties count half). `weights`: how many
        times each group counts (a bootstrap draw); by default as many as it holds."""
        weight = (self.group_counts if weights is None else weights)[self.judgment]
        wins = np.zeros((self.n, self.n))
        np.add.at(wins, (self.i, self.j), self.w * weight)
        np.add.at(wins, (self.j, self.i), (1 - self.w) * weight)
        return wins


def candidate_models(row: JudgmentRow) -> dict[int, int]:
    """message id -> LanguageModel id, from the task's counterbalancing keys ("m<id>")."""
    out = {}
    for message_id, key in row.candidate_keys:
        if isinstance(key, str) and key.startswith("m") and key[1:].isdigit():
            out[int(message_id)] = int(key[1:])
    return out


def pairwise_outcome(payload: dict[str, Any], attribute: str | None) -> dict[str, Any] | None:
    """The choice of a pairwise payload: overall, or for one attribute (the first when the
    campaign asks per attribute and none is named)."""
    if "attributes" in payload:
        attrs = payload["attributes"] or {}
        name = attribute if attribute is not None else next(iter(attrs), None)
        return attrs.get(name)
    return payload if attribute is None else None


def row_comparisons(
    row: JudgmentRow, attribute: str | None = None
) -> Iterable[tuple[int, int, float]]:
    """(model, model, credit of the first) for every comparison a judgment makes."""
    models = candidate_models(row)
    if row.kind == "pairwise":
        choice = pairwise_outcome(row.payload, attribute)
        ids = [int(m) for m, _ in row.candidate_keys]
        if choice is None or len(ids) != 2 or not all(m in models for m in ids):
            return
        a, b = ids
        if models[a] == models[b]:
            return
        if choice.get("outcome") == "preferred":
            yield models[a], models[b], 1.0 if choice["preferred"] == a else 0.0
        else:
            yield models[a], models[b], 0.5
    elif row.kind == "ranking" and attribute is None:
        groups = row.payload.get("ranking") or []
        placed = [(place, int(m)) for place, group in enumerate(groups) for m in group]
        for x, (place_a, a) in enumerate(placed):
            for place_b, b in placed[x + 1 :]:
                if a in models and b in models and models[a] != models[b]:
                    credit = 0.5 if place_a == place_b else 1.0 if place_a < place_b else 0.0
                    yield models[a], models[b], credit


def comparisons_from(rows: Sequence[JudgmentRow], attribute: str | None = None) -> Comparisons:
    index: dict[int, int] = {}
    jid, ii, jj, ww = [], [], [], []
    used = 0
    for row in rows:
        found = False
        for a, b, credit in row_comparisons(row, attribute):
            found = True
            jid.append(used)
            ii.append(index.setdefault(a, len(index)))
            jj.append(index.setdefault(b, len(index)))
            ww.append(credit)
        used += found
    return Comparisons(
        models=list(index),
        judgment=np.array(jid, dtype=int),
        i=np.array(ii, dtype=int),
        j=np.array(jj, dtype=int),
        w=np.array(ww, dtype=float),
        judgments=used,
    )


# --- the same comparisons, counted by the database ----------------------------------------------


def _model_of_key(key: str | None) -> int | None:
    if isinstance(key, str) and key.startswith("m") and key[1:].isdigit():
        return int(key[1:])
    return None


def _pairwise_counted(
    *, campaign: Campaign, attribute: str | None, field: str | None
) -> QuerySet[Any]:
    """The leaderboard's pairwise judgments (the rule of selectors.judgments, no flagged
    annotators, no gold, no repeats), counted per (first model's key, second model's key,
    outcome, whether the first response won[, profile answer]): a few thousand rows for a
    million judgments."""
    qs = without_flagged(judgments_counted(campaign=campaign), campaign).filter(
        kind=Campaign.Kind.PAIRWISE, task__gold__isnull=True, task__repeat_of__isnull=True
    )
    keys = "task__candidate_keys"
    choice: KeyTransform | str = "payload"
    if attribute is not None:
        attributes = KeyTransform("attributes", "payload")
        qs = qs.alias(attributes=attributes).filter(attributes__has_key=attribute)
        choice = KeyTransform(attribute, attributes)
    qs = qs.alias(
        third=KeyTextTransform("0", KeyTransform("2", keys)),
        first=KeyTextTransform("0", KeyTransform("0", keys)),
        preferred=KeyTextTransform("preferred", choice),
    ).filter(third__isnull=True)
    grouped = qs.annotate(
        key_a=KeyTextTransform("1", KeyTransform("0", keys)),
        key_b=KeyTextTransform("1", KeyTransform("1", keys)),
        outcome=KeyTextTransform("outcome", choice),
        first_won=Case(
            When(preferred=F("first"), then=Value(1)), default=Value(0), output_field=IntegerField()
        ),
    )
    names = ["key_a", "key_b", "outcome", "first_won"]
    if field is not None:
        grouped = grouped.annotate(answer=KeyTransform(field, "profile__answers"))
        names.append("answer")
    return grouped.values(*names).annotate(n=Count("id")).order_by()


def _answer_label(value: Any, field: str) -> str:
    """A profile answer read by the database, labelled as `profile_value` labels it."""
    return profile_value({field: value}, field)


def _comparisons_of(counted: Iterable[tuple[int, int, float, int]]) -> Comparisons:
    """Comparisons from (model, model, credit of the first, judgments) groups."""
    index: dict[int, int] = {}
    cells: dict[tuple[int, int, float], int] = defaultdict(int)
    for a, b, credit, n in counted:
        cells[(index.setdefault(a, len(index)), index.setdefault(b, len(index)), credit)] += n
    ordered = sorted(cells.items())
    counts = np.array([n for _, n in ordered], dtype=float)
    return Comparisons(
        models=list(index),
        judgment=np.arange(len(ordered), dtype=int),
        i=np.array([i for (i, _, _), _ in ordered], dtype=int),
        j=np.array([j for (_, j, _), _ in ordered], dtype=int),
        w=np.array([w for (_, _, w), _ in ordered], dtype=float),
        judgments=int(counts.sum()),
        counts=counts,
    )


def comparisons_counted(
    *, campaign: Campaign, attribute: str | None = None, field: str | None = None
) -> dict[str, Comparisons]:
    """`comparisons_from(leaderboard_rows(...))` of a pairwise campaign, counted in the
    database instead of read judgment by judgment: by answer to the profile `field` (the
    answer given when judging), or all under "" without one. A judgment counts as in
    `row_comparisons`; judgments that make the same comparison form one group (the bootstrap
    resamples judgments all the same, see `leaderboard_from`)."""
    if attribute is None:
        attributes = pairwise_attributes(campaign=campaign)
        attribute = attributes[0] if attributes else None
    groups: dict[str, list[tuple[int, int, float, int]]] = defaultdict(list)
    for row in _pairwise_counted(campaign=campaign, attribute=attribute, field=field):
        a, b = _model_of_key(row["key_a"]), _model_of_key(row["key_b"])
        if a is None or b is None or a == b:
            continue
        # A tie or "both bad" is half a win each way, as in `row_comparisons`.
        won = 1.0 if row["first_won"] else 0.0
        credit = won if row["outcome"] == "preferred" else 0.5
        group = _answer_label(row["answer"], field) if field is not None else ""
        groups[group].append((a, b, credit, row["n"]))
    return {group: _comparisons_of(counted) for group, counted in groups.items()}


def counts_serve(*, campaign: Campaign) -> bool:
    """Whether the database can count the campaign's comparisons: pairwise judgments only
    (a ranking's comparisons are every pair it orders, counted from its rows)."""
    return campaign.task_kind == Campaign.Kind.PAIRWISE and not campaign.tree


def leaderboard_rows(*, campaign: Campaign) -> list[JudgmentRow]:
    """The judgments a leaderboard counts: no flagged annotators, no gold, no repeats."""
    return [
        r
        for r in judgment_rows(
            campaign=campaign, include_flagged=False, kinds=("pairwise", "ranking")
        )
        if not r.is_gold
    ]


def bt_fit(wins: np.ndarray) -> np.ndarray:
    """Bradley-Terry log-strengths (mean 0) from a wins matrix."""
    # Imported here: choix brings scipy (most of a second), which only the dashboard and the
    # routing planner need, never the web process's annotation loop.
    import choix

    if wins.shape[0] < 2:
        return np.zeros(wins.shape[0])
    try:
        theta = choix.ilsr_pairwise_dense(wins, alpha=ALPHA, max_iter=1000)
    except RuntimeError:
        # ILSR did not settle (a lopsided resample): its first step, the spectral estimate,
        # is still a consistent one.
        theta = choix.lsr_pairwise_dense(wins, alpha=ALPHA)
    return theta - theta.mean()


def bt_covariance(theta: np.ndarray, counts: np.ndarray, *, prior: float = ALPHA) -> np.ndarray:
    """The fit's covariance (inverse Fisher information); `counts[a, b]` comparisons of a and
    b (symmetric). The prior keeps it invertible; it does not touch contrasts (sums to 0)."""
    n = len(theta)
    p = 1 / (1 + np.exp(-(theta[:, None] - theta[None, :])))
    weight = counts * p * (1 - p)
    info = np.diag(weight.sum(axis=1)) - weight + prior * np.eye(n)
    cov: np.ndarray = np.linalg.inv(info)
    centre = np.eye(n) - 1 / n
    return centre @ cov @ centre


@dataclass(frozen=True)
class Standing:
    model_id: int
    name: str
    strength: float  # BT log-strength, mean 0 over the models
    low: float  # bootstrap 95% interval
    high: float
    comparisons: int
    win_rate: float  # share of its comparisons won (ties half)

    @property
    def rating(self) -> float:
        return ELO_BASE + ELO_SCALE * self.strength

    @property
    def rating_low(self) -> float:
        return ELO_BASE + ELO_SCALE * self.low

    @property
    def rating_high(self) -> float:
        return ELO_BASE + ELO_SCALE * self.high

    @property
    def width(self) -> float:
        return self.high - self.low


@dataclass(frozen=True)
class WinCell:
    rate: float  # row model's share of wins against the column model (ties half)
    n: int


@dataclass(frozen=True)
class Leaderboard:
    standings: list[Standing]  # best first
    win_rates: list[list[WinCell | None]]  # in the order of `standings`
    judgments: int
    comparisons: int
    attribute: str | None = None

    @property
    def mean_width(self) -> float:
        return float(np.mean([s.width for s in self.standings])) if self.standings else math.inf


def leaderboard_from(
    data: Comparisons,
    *,
    names: dict[int, str],
    bootstrap: int = BOOTSTRAP,
    seed: int = 0,
    attribute: str | None = None,
) -> Leaderboard:
    if data.n < 2 or not len(data.i):
        return Leaderboard([], [], data.judgments, len(data.i), attribute)
    wins = data.matrix()
    theta = bt_fit(wins)
    rng = np.random.default_rng(seed)
    draws = np.empty((bootstrap, data.n))
    counts = data.group_counts
    for b in range(bootstrap):
        # Resample whole judgments: a ranking's comparisons stand or fall together. Drawing
        # n judgments with replacement is drawing how many of each group multinomially
        # (n, group sizes / n): the same distribution whether groups hold one judgment or
        # all the judgments that made the same comparisons.
        picked = rng.multinomial(data.judgments, counts / counts.sum())
        draws[b] = bt_fit(data.matrix(picked.astype(float)))
    low, high = (
        np.percentile(draws, [2.5, 97.5], axis=0) if bootstrap else (theta.copy(), theta.copy())
    )
    games = wins + wins.T
    standings = sorted(
        (
            Standing(
                model_id=m,
                name=names.get(m, f"model {m}"),
                strength=float(theta[k]),
                low=float(low[k]),
                high=float(high[k]),
                comparisons=round(games[k].sum()),
                win_rate=float(wins[k].sum() / games[k].sum()) if games[k].sum() else 0.0,
            )
            for k, m in enumerate(data.models)
        ),
        key=lambda s: -s.strength,
    )
    order = [data.models.index(s.model_id) for s in standings]
    matrix = [
        [
            WinCell(rate=float(wins[a, b] / games[a, b]), n=round(games[a, b]))
            if a != b and games[a, b]
            else None
            for b in order
        ]
        for a in order
    ]
    return Leaderboard(standings, matrix, data.judgments, len(data.i), attribute)


def model_names(ids: Iterable[int]) -> dict[int, str]:
    return dict(LanguageModel.objects.filter(id__in=list(ids)).values_list("id", "name"))


def pairwise_attributes(*, campaign: Campaign) -> list[str]:
    """A pairwise campaign that asks one choice per attribute has one leaderboard each."""
    if campaign.task_kind != Campaign.Kind.PAIRWISE:
        return []
    return [a.get("name") for a in (campaign.settings or {}).get("attributes") or [] if a]


def campaign_leaderboard(
    *,
    campaign: Campaign,
    attribute: str | None = None,
    bootstrap: int = BOOTSTRAP,
    seed: int = 0,
    rows: Sequence[JudgmentRow] | None = None,
) -> Leaderboard:
    """The leaderboard; `rows`: judgments to fit instead of the campaign's (a test's
    reference). A pairwise campaign's comparisons are counted by the database."""
    if rows is None and counts_serve(campaign=campaign):
        data = comparisons_counted(campaign=campaign, attribute=attribute).get(
            "", _comparisons_of([])
        )
    else:
        data = comparisons_from(
            leaderboard_rows(campaign=campaign) if rows is None else rows, attribute
        )
    return leaderboard_from(
        data,
        names=model_names(data.models),
        bootstrap=bootstrap,
        seed=seed,
        attribute=attribute,
    )


@dataclass(frozen=True)
class GroupBoard:
    value: str
    annotators: int
    board: Leaderboard


def leaderboard_by_profile(
    *,
    campaign: Campaign,
    field: str,
    attribute: str | None = None,
    bootstrap: int = 100,
    min_judgments: int = 1,
) -> list[GroupBoard]:
    """One leaderboard per answer to a profile field (the answer given when judging)."""
    datas: dict[str, Comparisons] = {}
    people: dict[str, int] = {}
    if counts_serve(campaign=campaign):
        datas = comparisons_counted(campaign=campaign, attribute=attribute, field=field)
        people = _annotators_by_answer(campaign=campaign, field=field)
    else:
        groups: dict[str, list[JudgmentRow]] = defaultdict(list)
        for row in leaderboard_rows(campaign=campaign):
            groups[profile_value(row.profile, field)].append(row)
        datas = {value: comparisons_from(rows, attribute) for value, rows in groups.items()}
        people = {value: len({r.annotator_id for r in rows}) for value, rows in groups.items()}
    out = []
    names: dict[int, str] = {}
    for value, data in sorted(datas.items()):
        if data.judgments < min_judgments:
            continue
        names.update(model_names(set(data.models) - set(names)))
        board = leaderboard_from(data, names=names, bootstrap=bootstrap, attribute=attribute)
        out.append(GroupBoard(value, people.get(value, 0), board))
    return out


def _annotators_by_answer(*, campaign: Campaign, field: str) -> dict[str, int]:
    """How many annotators judged under each answer to a profile field (pairwise judgments a
    leaderboard counts)."""
    qs = without_flagged(judgments_counted(campaign=campaign), campaign).filter(
        kind=Campaign.Kind.PAIRWISE, task__gold__isnull=True, task__repeat_of__isnull=True
    )
    out: dict[str, int] = defaultdict(int)
    for text, n in (
        qs.annotate(answer=KeyTransform(field, "profile__answers"))
        .values_list("answer")
        .annotate(n=Count("annotator_id", distinct=True))
        .order_by()
    ):
        # Two texts may label alike (a list in another order): people counted under both.
        out[_answer_label(text, field)] += n
    return out


@dataclass(frozen=True)
class AttributeMean:
    attribute: str
    model_id: int
    name: str
    mean: float
    low: float  # normal 95% interval of the mean
    high: float
    n: int
    group: str = ""


def rating_means(*, campaign: Campaign, field: str | None = None) -> list[AttributeMean]:
    """Mean score per model and attribute from rating judgments (and the followup scores of
    the chosen response), optionally per answer to a profile field."""
    acc: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for row in judgment_rows(campaign=campaign, include_flagged=False, kinds=("rating",)):
        if row.kind != "rating" or row.is_gold:
            continue
        models = candidate_models(row)
        group = profile_value(row.profile, field) if field else ""
        for message_id, scores in (row.payload.get("ratings") or {}).items():
            model = models.get(int(message_id))
            if model is None:
                continue
            for attribute, value in scores.items():
                acc[(group, attribute, model)].append(float(value))
        followup = row.payload.get("followup") or {}
        model = models.get(followup.get("chosen") or -1)
        if model is not None:
            for attribute, value in (followup.get("scores") or {}).items():
                acc[(group, f"{attribute} (chosen)", model)].append(float(value))
    names = model_names({m for _, _, m in acc})
    out = []
    for (group, attribute, model), values in sorted(acc.items()):
        arr = np.array(values)
        half = 1.96 * arr.std(ddof=1) / math.sqrt(len(arr)) if len(arr) > 1 else 0.0
        mean = float(arr.mean())
        out.append(
            AttributeMean(
                attribute=attribute,
                model_id=model,
                name=names.get(model, f"model {model}"),
                mean=mean,
                low=mean - half,
                high=mean + half,
                n=len(arr),
                group=group,
            )
        )
    return out
