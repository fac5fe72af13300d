"""Reads: which annotators to look at more closely, by tests with a stated error rate.

Each test asks whether an annotator answers unlike someone who answers as the others do (its
null hypothesis), and gives a p-value: how often such an annotator would look at least this
far off by chance. Every test run on every annotator of the campaign is one hypothesis, and
Holm's step-down procedure over all of them together keeps the family-wise error rate at
ALPHA: the chance that the page flags anyone, for any reason, who answers as the others do is
at most ALPHA (5%). A test runs only with enough evidence (a minimum n), and the page shows
each flag's p-value next to the level Holm held it to.

- favourite: picks the fitted favourite less often than an annotator like the others would.
  The favourite is the response whose model is strongest in a Bradley-Terry fit of everyone
  else's comparisons (leave-one-out, flagged annotators left out, as on the leaderboard).
  Under the fit, a pairwise choice picks it with p = sigma(theta_best - theta_other), a
  ranking puts it on top with Plackett-Luce's p = exp(theta_best) / sum exp(theta); the count
  of favourites is then a sum of Bernoullis (Poisson-binomial), and the p-value its lower
  tail. A random clicker picks it half the time (1/k of rankings) wherever the fit expects
  more, so its p-value falls with every judgment.
- position: picks the response shown first more or less often than chance (1/2 of pairs,
  1/k of rankings' top places): two-sided, exact. Display order is counterbalanced per
  annotator, so an annotator without a lean is at chance whatever the models' strengths.
- gold: right on tasks with a known answer less often than the others are (one-sided
  binomial against the others' pooled gold accuracy, smoothed by half a hit).
- time: faster than the others (one-sided Mann-Whitney U of the annotator's seconds per
  judgment against everyone else's).
- cycles: more intransitive triads (a > b > c > a among their choices between responses to
  one prompt) than the fit expects of choices made by it (a Poisson-binomial upper tail; a
  triad of random choices is a cycle one time in four).

The tests assume what the fit assumes: annotators share one Bradley-Terry ordering of the
models, and judgments are independent given it. An annotator with a view of their own, not
carelessness, fails "favourite" too: a flag says "look at this person's work", not "block".
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from annotation.selectors.quality.answers import pair_choices
from annotation.selectors.quality.rows import JudgmentRow

ALPHA = 0.05  # the family-wise error rate of all the flags of a campaign together
MIN_CHOICES = 10  # favourite, position and time run from this many judgments on
MIN_GOLD = 5
MIN_TRIADS = 4


@dataclass(frozen=True)
class Finding:
    """One test of one annotator: its p-value and what it compared."""

    test: str  # favourite | position | gold | time | cycles
    user_id: int
    p_value: float
    n: int  # the evidence: choices, gold tasks, judgments or triads
    observed: float  # the annotator's share (or median seconds, or cycles)
    expected: float  # what the null hypothesis expects of it
    message: str  # why, in words


@dataclass(frozen=True)
class Flag:
    """A finding Holm's procedure kept: significant at its level."""

    test: str
    p_value: float
    level: float  # Holm's level at this p-value's rank: ALPHA / (tests - rank)
    tests: int  # hypotheses tested in the campaign (the family)
    alpha: float  # the family-wise error rate Holm held them to
    n: int
    observed: float
    expected: float
    message: str

    @property
    def certainty(self) -> str:
        return (
            f"p = {self.p_value:.2g}, below the level {self.level:.2g} that keeps the chance of "
            f"flagging anyone who answers as the others do at {self.alpha:.0%} over "
            f"{self.tests} tests"
        )


# --- the distributions -----------------------------------------------------------------------


def binomial_pmf(n: int, p: float) -> np.ndarray:
    """P(X = k), k = 0..n, for X ~ Binomial(n, p)."""
    from scipy.special import gammaln

    if p <= 0 or p >= 1:
        pmf = np.zeros(n + 1)
        pmf[0 if p <= 0 else n] = 1.0
        return pmf
    k = np.arange(n + 1)
    log = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    return np.exp(log + k * math.log(p) + (n - k) * math.log1p(-p))


def poisson_binomial_pmf(ps: Iterable[float]) -> np.ndarray:
    """P(X = k) for X a sum of independent Bernoulli(p_i): equal p's are taken together as
    one binomial, and the binomials convolved."""
    counts: dict[float, int] = defaultdict(int)
    for p in ps:
        counts[float(p)] += 1
    pmf = np.ones(1)
    for p, n in counts.items():
        pmf = np.convolve(pmf, binomial_pmf(n, p))
    return pmf


def tail_low(k: int, ps: Sequence[float]) -> float:
    """P(X <= k)."""
    return float(min(1.0, poisson_binomial_pmf(ps)[: k + 1].sum()))


def tail_high(k: int, ps: Sequence[float]) -> float:
    """P(X >= k)."""
    return float(min(1.0, poisson_binomial_pmf(ps)[k:].sum()))


def holm(findings: Sequence[Finding], alpha: float = ALPHA) -> dict[int, list[Flag]]:
    """Holm's step-down procedure over every finding: the smallest p-value against
    alpha / m, the next against alpha / (m - 1), ..., stopping at the first that is not
    below its level. Returns the flags kept, by annotator."""
    m = len(findings)
    out: dict[int, list[Flag]] = defaultdict(list)
    for rank, f in enumerate(sorted(findings, key=lambda f: f.p_value)):
        level = alpha / (m - rank)
        if f.p_value > level:
            break
        out[f.user_id].append(
            Flag(f.test, f.p_value, level, m, alpha, f.n, f.observed, f.expected, f.message)
        )
    return out


# --- favourite -------------------------------------------------------------------------------


def _models(row: JudgmentRow) -> dict[int, int]:
    from annotation.selectors.leaderboard import candidate_models

    return candidate_models(row)


def _choice(row: JudgmentRow) -> tuple[list[int], int] | None:
    """(the models of the candidates, the model chosen first) of a decisive choice between
    responses of different models; None otherwise."""
    from annotation.selectors.leaderboard import pairwise_outcome

    models = _models(row)
    candidates = [int(m) for m, _ in row.candidate_keys]
    if not candidates or not all(m in models for m in candidates):
        return None
    distinct = {models[m] for m in candidates}
    if len(distinct) != len(candidates) or len(distinct) < 2:
        return None
    if row.kind == "pairwise":
        choice = pairwise_outcome(row.payload, None)
        if not choice or choice.get("outcome") != "preferred":
            return None
        chosen = choice.get("preferred")
    elif row.kind == "ranking":
        top = (row.payload.get("ranking") or [[]])[0]
        if len(top) != 1:
            return None
        chosen = int(top[0])
    else:
        return None
    if chosen not in models:
        return None
    return [models[m] for m in candidates], models[chosen]


class LeaveOneOut:
    """Bradley-Terry strengths from everyone's comparisons but one annotator's."""

    def __init__(self, rows: Sequence[JudgmentRow], reference: set[int]):
        from annotation.selectors.leaderboard import row_comparisons

        self.index: dict[int, int] = {}
        by_annotator: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
        for row in rows:
            if row.is_gold:
                continue
            for a, b, credit in row_comparisons(row):
                i = self.index.setdefault(a, len(self.index))
                j = self.index.setdefault(b, len(self.index))
                by_annotator[row.annotator_id].append((i, j, credit))
        n = len(self.index)
        self._wins = {u: self._matrix(cs, n) for u, cs in by_annotator.items()}
        self._total = sum(
            (w for u, w in self._wins.items() if u in reference), start=np.zeros((n, n))
        )
        self._reference = reference

    @staticmethod
    def _matrix(comparisons: list[tuple[int, int, float]], n: int) -> np.ndarray:
        wins = np.zeros((n, n))
        for i, j, credit in comparisons:
            wins[i, j] += credit
            wins[j, i] += 1 - credit
        return wins

    def strengths(self, user_id: int) -> dict[int, float]:
        """model id -> log-strength, fitted without this annotator's judgments."""
        from annotation.selectors.leaderboard import bt_fit

        wins = self._total
        if user_id in self._reference and user_id in self._wins:
            wins = wins - self._wins[user_id]
        if not wins.sum():
            return {}
        theta = bt_fit(wins)
        return {m: float(theta[k]) for m, k in self.index.items()}


def favourite_finding(
    user_id: int, rows: Sequence[JudgmentRow], theta: dict[int, float]
) -> Finding | None:
    hits, ps = 0, []
    for row in rows:
        if row.is_gold:
            continue
        found = _choice(row)
        if found is None:
            continue
        models, chosen = found
        if not all(m in theta for m in models):
            continue
        strengths = [theta[m] for m in models]
        top = max(strengths)
        if sum(abs(x - top) < 1e-9 for x in strengths) > 1:
            continue  # no favourite: the fit cannot tell the best ones apart
        best = strengths.index(top)
        ps.append(1 / sum(math.exp(x - top) for x in strengths))
        hits += chosen == models[best]
    n = len(ps)
    if n < MIN_CHOICES:
        return None
    expected = sum(ps) / n
    return Finding(
        "favourite",
        user_id,
        tail_low(hits, ps),
        n,
        hits / n,
        expected,
        f"picks the favourite of the others' fit in {hits / n:.0%} of {n} choices; someone who "
        f"answers as the others do would in {expected:.0%}",
    )


# --- position --------------------------------------------------------------------------------


def position_counts(rows: Iterable[JudgmentRow]) -> tuple[int, list[float]]:
    """(choices of the first shown response, the chance of each choice): pairs and rankings'
    top place."""
    hits, ps = 0, []
    for row in rows:
        if not row.display_order:
            continue
        first = row.display_order[0]
        for _, choice in pair_choices(row):
            if choice.get("outcome") == "preferred":
                hits += choice["preferred"] == first
                ps.append(0.5)
        if row.kind == "ranking":
            top = (row.payload.get("ranking") or [[]])[0]
            if len(top) == 1:
                hits += top[0] == first
                ps.append(1 / len(row.display_order))
    return hits, ps


def position_finding(user_id: int, rows: Sequence[JudgmentRow]) -> Finding | None:
    hits, ps = position_counts(rows)
    n = len(ps)
    if n < MIN_CHOICES:
        return None
    p = min(1.0, 2 * min(tail_low(hits, ps), tail_high(hits, ps)))
    expected = sum(ps) / n
    return Finding(
        "position",
        user_id,
        p,
        n,
        hits / n,
        expected,
        f"picks the first shown response in {hits / n:.0%} of {n} choices (chance: {expected:.0%})",
    )


# --- gold ------------------------------------------------------------------------------------


def gold_finding(
    user_id: int, mine: Sequence[float], others_right: float, others_n: int
) -> Finding | None:
    """`mine`: gold scores (1 right, 0 wrong); the others' by their sum and count."""
    if len(mine) < MIN_GOLD or not others_n:
        return None
    hits, n = round(sum(mine)), len(mine)
    p0 = (others_right + 0.5) / (others_n + 1)
    return Finding(
        "gold",
        user_id,
        tail_low(hits, [p0] * n),
        n,
        hits / n,
        p0,
        f"right on {hits / n:.0%} of {n} gold tasks; the others are right on {p0:.0%}",
    )


# --- time ------------------------------------------------------------------------------------


def time_finding(user_id: int, mine: Sequence[float], others: Sequence[float]) -> Finding | None:
    if len(mine) < MIN_CHOICES or len(others) < MIN_CHOICES:
        return None
    from scipy.stats import mannwhitneyu

    p = float(mannwhitneyu(mine, others, alternative="less").pvalue)
    median, theirs = statistics.median(mine), statistics.median(others)
    return Finding(
        "time",
        user_id,
        p,
        len(mine),
        median,
        theirs,
        f"takes {median:.1f} s per judgment (median of {len(mine)}); the others take "
        f"{theirs:.1f} s",
    )


class TimeReference:
    """`time_finding` for every annotator against everyone else in the reference, without
    copying and ranking all the others' seconds once per annotator (that is quadratic in the
    campaign's size): the others' seconds are the reference's, sorted once, less the
    annotator's own. Mann-Whitney's U comes from counting, by binary search, how many of the
    others' seconds each of the annotator's is above (ties half), and its p-value from the
    normal approximation with the tie correction and continuity correction that scipy's
    `mannwhitneyu` uses for samples this size (its exact method only serves samples of at
    most 8, below MIN_CHOICES)."""

    def __init__(self, seconds: Mapping[int, Sequence[float]], reference: set[int]):
        self.reference = reference
        owners = [u for u in seconds if u in reference]
        self.values = np.concatenate(
            [np.asarray(seconds[u], dtype=float) for u in owners] or [np.zeros(0)]
        )
        self.owner = np.concatenate(
            [np.full(len(seconds[u]), u) for u in owners] or [np.zeros(0, dtype=int)]
        )
        self.sorted = np.sort(self.values)
        _, counts = np.unique(self.sorted, return_counts=True)
        self.ties = float((counts.astype(float) ** 3 - counts).sum())

    def finding(self, user_id: int, mine: Sequence[float]) -> Finding | None:
        from scipy.stats import norm

        x = np.sort(np.asarray(mine, dtype=float))
        inside = user_id in self.reference
        n1, n2 = len(x), len(self.sorted) - (len(x) if inside else 0)
        if n1 < MIN_CHOICES or n2 < MIN_CHOICES:
            return None
        below = np.searchsorted(self.sorted, x, "left").astype(float)
        upto = np.searchsorted(self.sorted, x, "right").astype(float)
        if inside:  # the annotator's own seconds are in the reference: take them out
            below -= np.searchsorted(x, x, "left")
            upto -= np.searchsorted(x, x, "right")
        u1 = float((below + 0.5 * (upto - below)).sum())
        if inside:
            ties = self.ties
        else:
            both = np.sort(np.concatenate([self.sorted, x]))
            _, counts = np.unique(both, return_counts=True)
            ties = float((counts.astype(float) ** 3 - counts).sum())
        n = n1 + n2
        spread = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
        u2 = n1 * n2 - u1  # alternative "less": the annotator's seconds below the others'
        p = float(np.clip(norm.sf((u2 - n1 * n2 / 2 - 0.5) / spread), 0, 1)) if spread else 1.0
        others = self.values[self.owner != user_id] if inside else self.values
        median, theirs = statistics.median(mine), float(np.median(others))
        return Finding(
            "time",
            user_id,
            p,
            n1,
            median,
            theirs,
            f"takes {median:.1f} s per judgment (median of {n1}); the others take {theirs:.1f} s",
        )


# --- cycles ----------------------------------------------------------------------------------


def cycles_counts(
    rows: Iterable[JudgmentRow], theta: dict[int, float] | None = None
) -> list[tuple[bool, float | None]]:
    """Per triad of responses to one prompt whose three pairs one annotator judged
    decisively: whether their choices go round in a circle (a > b > c > a), and the chance
    of that for choices made by the fitted strengths (None where the fit does not know the
    three models)."""
    beats: dict[tuple[object, str], set[tuple[int, int]]] = defaultdict(set)
    models: dict[int, int] = {}
    for row in rows:
        models.update(_models(row))
        for name, choice in pair_choices(row):
            if choice.get("outcome") == "preferred":
                beats[(row.parent_id, name)].add((choice["preferred"], choice["rejected"]))
    out: list[tuple[bool, float | None]] = []
    for edges in beats.values():
        nodes = sorted({m for e in edges for m in e})
        for triad in itertools.combinations(nodes, 3):
            found = [(x, y) for x, y in itertools.permutations(triad, 2) if (x, y) in edges]
            if len({frozenset(e) for e in found}) < 3:
                continue
            winners = [x for x, _ in found]
            cycle = all(winners.count(m) == 1 for m in triad)
            chance = None
            known = [models.get(m) for m in triad]
            if theta and all(m in theta for m in known if m is not None) and None not in known:
                a, b, c = (theta[m] for m in known if m is not None)
                ab, bc, ca = (1 / (1 + np.exp(y - x)) for x, y in ((a, b), (b, c), (c, a)))
                chance = float(ab * bc * ca + (1 - ab) * (1 - bc) * (1 - ca))
            out.append((cycle, chance))
    return out


def cycles_finding(
    user_id: int, rows: Sequence[JudgmentRow], theta: dict[int, float]
) -> Finding | None:
    """Over the triads whose models the fit knows; where it knows none (responses written
    by people, or nobody else judged), against the chance of random choices, 1/4."""
    triads = cycles_counts(rows, theta)
    if theta:
        tested = [(cycle, p) for cycle, p in triads if p is not None]
    else:
        tested = [(cycle, 0.25) for cycle, _ in triads]
    if len(tested) < MIN_TRIADS:
        return None
    cycles = sum(cycle for cycle, _ in tested)
    ps = [float(p) for _, p in tested if p is not None]
    expected = sum(ps)
    return Finding(
        "cycles",
        user_id,
        tail_high(cycles, ps),
        len(ps),
        cycles,
        expected,
        f"intransitive in {cycles} of {len(ps)} triads (a > b > c > a); choices made by the "
        f"{'fitted strengths' if theta else 'toss of a coin'} would be in {expected:.1f}",
    )


# --- all of them -----------------------------------------------------------------------------


def annotator_findings(
    rows: Sequence[JudgmentRow], *, reference: set[int], annotators: Iterable[int]
) -> list[Finding]:
    """Every test each annotator has the evidence for. `reference`: whose judgments the
    others' fit, gold accuracy and time are made of (flagged annotators left out)."""
    by_annotator: dict[int, list[JudgmentRow]] = defaultdict(list)
    for r in rows:
        by_annotator[r.annotator_id].append(r)
    loo = LeaveOneOut(rows, reference)
    gold = {
        u: [r.gold_score for r in rs if r.gold_score is not None] for u, rs in by_annotator.items()
    }
    seconds = {
        u: [r.seconds for r in rs if r.seconds is not None] for u, rs in by_annotator.items()
    }
    times = TimeReference(seconds, reference)
    # The others' gold accuracy is all the reference's less the annotator's own.
    gold_hits = sum(sum(gold.get(u, [])) for u in reference)
    gold_n = sum(len(gold.get(u, [])) for u in reference)
    out: list[Finding] = []
    for user_id in annotators:
        mine = by_annotator.get(user_id, [])
        if not mine:
            continue
        own = gold[user_id] if user_id in reference else []
        theta = loo.strengths(user_id)
        found = [
            favourite_finding(user_id, mine, theta),
            position_finding(user_id, mine),
            gold_finding(user_id, gold[user_id], gold_hits - sum(own), gold_n - len(own)),
            times.finding(user_id, seconds[user_id]),
            cycles_finding(user_id, mine, theta),
        ]
        out.extend(f for f in found if f is not None)
    return out
