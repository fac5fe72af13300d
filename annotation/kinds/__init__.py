"""Per judgment kind: its settings, its payload, how a payload is checked and normalised,
how the page's form becomes a payload, its shortcuts, and how candidates form tasks."""

import math
from typing import Any

from annotation.errors import RuleError
from annotation.kinds.base import Kind
from annotation.kinds.pairwise import Pairwise
from annotation.kinds.ranking import Ranking
from annotation.kinds.rating import Rating
from annotation.kinds.reply import Reply
from annotation.kinds.single import Binary, Critique, Label, Rewrite

KINDS: dict[str, Kind[Any]] = {
    k.name: k
    for k in (Pairwise(), Ranking(), Rating(), Binary(), Label(), Critique(), Rewrite(), Reply())
}


def kind_for(kind: str) -> Kind[Any]:
    try:
        return KINDS[kind]
    except KeyError:
        raise RuleError(f"There is no task kind {kind!r}.", field="task_kind") from None


def seconds_spent_clean(value: Any) -> float | None:
    """The client's measure of time on task: a number of seconds within a day, or None."""
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise RuleError("seconds_spent must be a number.", field="seconds_spent") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= 86400:
        raise RuleError("seconds_spent must be between 0 and 86400.", field="seconds_spent")
    return round(seconds, 3)
