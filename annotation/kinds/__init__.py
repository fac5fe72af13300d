"""Per judgment kind: its settings, its payload, how a payload is checked and normalised,
how the page's form becomes a payload, its shortcuts, and how candidates form tasks."""

import math
from typing import Any

from ..errors import RuleError
from .base import Kind
from .pairwise import Pairwise
from .ranking import Ranking
from .rating import Rating
from .reply import Reply
from .single import Binary, Critique, Label, Rewrite

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
