"""Judgments as votes on pairs of responses: what pairwise, ranking and rating judgments say
about which of two responses is better, and how much a task's annotators agree on it.

A pairwise judgment is one vote (or one per attribute); a ranking of k responses is a vote on
every one of its k(k-1)/2 pairs (or only best against worst); ratings on an attribute are a
vote on every pair of rated responses (or best-scored against worst-scored). Equal places or
equal scores are ties.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from .rows import J

PREFERRED, TIE, BOTH_BAD = "preferred", "tie", "both_bad"


class Vote(NamedTuple):
    """What one judgment says about one pair (per attribute, for per-attribute choices).
    A tuple made by `vote()`: an export makes one per judgment and pair."""

    judgment: J
    attribute: str | None
    chosen: int  # the better message; for a tie or both bad, the one shown first
    rejected: int
    outcome: str  # preferred, tie or both_bad
    # The pair voted on, whichever way round: (task, attribute, lower id, higher id).
    pair: tuple[int, str | None, int, int]
    # What the vote says about its pair: which message won, or a tie / both bad.
    says: tuple[str, int | None]
    strength: int | None = None
    chosen_score: float | None = None
    rejected_score: float | None = None
    chosen_rank: int | None = None  # 0 = best place in a ranking
    rejected_rank: int | None = None


_new = tuple.__new__  # as Django's named values_list: no Python __new__ per vote


def vote(
    judgment: J,
    attribute: str | None,
    chosen: int,
    rejected: int,
    outcome: str,
    strength: int | None = None,
    chosen_score: float | None = None,
    rejected_score: float | None = None,
    chosen_rank: int | None = None,
    rejected_rank: int | None = None,
) -> Vote:
    lo, hi = (chosen, rejected) if chosen < rejected else (rejected, chosen)
    return _new(
        Vote,
        (
            judgment, attribute, chosen, rejected, outcome,
            (judgment.task_id, attribute, lo, hi),
            (outcome, chosen if outcome == PREFERRED else None),
            strength, chosen_score, rejected_score, chosen_rank, rejected_rank,
        ),
    )  # fmt: skip


def _first_on_screen(j: J, a: int, b: int) -> tuple[int, int]:
    order = j.display_order
    if a in order and b in order and order.index(b) < order.index(a):
        return b, a
    return a, b


def _pairwise_choice(j: J, choice: dict[str, Any], attribute: str | None) -> Vote | None:
    outcome = choice.get("outcome")
    if outcome == PREFERRED:
        return vote(j, attribute, choice["preferred"], choice["rejected"], PREFERRED,
                    choice.get("strength"))  # fmt: skip
    if outcome in (TIE, BOTH_BAD) and len(j.display_order) == 2:
        first, second = j.display_order
        return vote(j, attribute, first, second, outcome)
    return None


def pairwise_votes(j: J) -> list[Vote]:
    attributes = j.payload.get("attributes")
    if not attributes:
        vote = _pairwise_choice(j, j.payload, None)
        return [] if vote is None else [vote]
    votes = (_pairwise_choice(j, attributes[name], name) for name in sorted(attributes))
    return [v for v in votes if v is not None]


def ranking_votes(j: J, *, pairs: str) -> Iterator[Vote]:
    groups: list[list[int]] = [g if isinstance(g, list) else [g] for g in j.payload["ranking"]]
    if pairs == "best_vs_worst" and len(groups) > 1:
        for a in groups[0]:
            for b in groups[-1]:
                yield vote(j, None, a, b, PREFERRED, chosen_rank=0, rejected_rank=len(groups) - 1)
        return
    for i, group in enumerate(groups):
        for x, a in enumerate(group):
            for b in group[x + 1 :]:  # tied places
                first, second = _first_on_screen(j, a, b)
                yield vote(j, None, first, second, TIE, chosen_rank=i, rejected_rank=i)
            for k in range(i + 1, len(groups)):
                for b in groups[k]:
                    yield vote(j, None, a, b, PREFERRED, chosen_rank=i, rejected_rank=k)


def rating_votes(j: J, *, attribute: str, pairs: str) -> Iterator[Vote]:
    ratings = j.payload.get("ratings") or {}
    # Floats, as the schema declares scores, in every container (a whole score too).
    scores = {int(mid): float(s[attribute]) for mid, s in ratings.items() if attribute in s}
    order = [m for m in j.display_order if m in scores] or sorted(scores)
    if len(order) < 2:
        return
    candidates: Iterable[tuple[int, int]]
    top, bottom = max(scores.values()), min(scores.values())
    if pairs == "best_vs_worst" and top != bottom:
        candidates = [
            (a, b) for a in order if scores[a] == top for b in order if scores[b] == bottom
        ]
    else:
        candidates = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :]]
    for a, b in candidates:
        sa, sb = scores[a], scores[b]
        if sa < sb:
            a, b, sa, sb = b, a, sb, sa
        yield vote(j, None, a, b, PREFERRED if sa > sb else TIE, chosen_score=sa, rejected_score=sb)


def votes_of(j: J, *, pairs: str, rating_attribute: str | None) -> list[Vote]:
    if j.kind == "pairwise":
        return pairwise_votes(j)
    if j.kind == "ranking":
        return list(ranking_votes(j, pairs=pairs))
    if j.kind == "rating" and rating_attribute:
        return list(rating_votes(j, attribute=rating_attribute, pairs=pairs))
    return []


class Tally:
    """How a batch's votes split on each pair, for agreement and majorities."""

    def __init__(self, votes: list[Vote]):
        self.counts: dict[tuple[Any, ...], dict[tuple[str, int | None], int]] = {}
        self.totals: dict[tuple[Any, ...], int] = {}
        counts, totals = self.counts, self.totals
        for v in votes:
            pair = v.pair
            says = counts.get(pair)
            if says is None:
                says = counts[pair] = {}
            says[v.says] = says.get(v.says, 0) + 1
            totals[pair] = totals.get(pair, 0) + 1

    def agreement(self, vote: Vote) -> tuple[float, int]:
        """The share of the pair's votes that say what this one says, and the votes."""
        total = self.totals[vote.pair]
        return self.counts[vote.pair][vote.says] / total, total

    def majority(self, pair: tuple[Any, ...]) -> tuple[tuple[str, int | None], float, int] | None:
        """What most votes on the pair say, its share and the votes; None if the top is split."""
        ranked = sorted(self.counts[pair].items(), key=lambda kv: -kv[1])
        says, n = ranked[0]
        if len(ranked) > 1 and ranked[1][1] == n:
            return None
        total = self.totals[pair]
        return says, n / total, total
