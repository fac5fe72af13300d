"""Reads: length bias - does the chosen response tend to be the longer one?"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models.functions import Length

from annotation.models import Campaign, Message
from annotation.selectors.quality.answers import pair_choices
from annotation.selectors.quality.rows import JudgmentRow, Share, judgment_rows

# --- length bias ----------------------------------------------------------------------------

LENGTH_BINS = [(0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 1.01)]


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


def length_choices(
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
    return length_bias_from(list(length_choices(rows, message_lengths(campaign=campaign))))
