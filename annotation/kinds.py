"""Per judgment kind: its settings, its payload, how a payload is checked and normalised.

Only `pairwise` is served so far; the other kinds of the domain model are accepted as campaign
kinds but refuse to validate until they are built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .errors import RuleError

REASON_MAX_CHARS = 5000
STRENGTH_WORDS = {
    2: ["slightly better", "much better"],
    3: ["slightly better", "clearly better", "much better"],
}


@dataclass(frozen=True)
class PairwiseSettings:
    # 0: no strength asked; 2: a 5-point scale (2 each side of a tie); 3: a 7-point scale.
    strength_levels: int = 0
    allow_tie: bool = True
    allow_both_bad: bool = True
    reason: str = "optional"  # "off", "optional" or "required"

    def strength_choices(self) -> list[tuple[int, str]]:
        return list(enumerate(STRENGTH_WORDS.get(self.strength_levels, []), start=1))


class Pairwise:
    kind = "pairwise"
    OUTCOMES = ("preferred", "tie", "both_bad")

    def settings(self, raw: Mapping[str, Any] | None) -> PairwiseSettings:
        raw = dict(raw or {})
        unknown = set(raw) - set(PairwiseSettings.__dataclass_fields__)
        if unknown:
            raise RuleError(f"Unknown pairwise setting: {sorted(unknown)[0]}.", field="settings")
        s = PairwiseSettings(**raw)
        if s.strength_levels not in (0, 2, 3):
            raise RuleError(
                "strength_levels must be 0 (none), 2 (5-point) or 3 (7-point).",
                field="settings.strength_levels",
            )
        if s.reason not in ("off", "optional", "required"):
            raise RuleError("reason must be off, optional or required.", field="settings.reason")
        return s

    def settings_dict(self, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        return asdict(self.settings(raw))

    def validate(
        self, payload: Any, *, settings: PairwiseSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        """The stored payload: it names messages, never screen positions."""
        if not isinstance(payload, Mapping):
            raise RuleError("payload must be an object.", field="payload")
        unknown = set(payload) - {"outcome", "preferred", "strength", "reason"}
        if unknown:
            raise RuleError(
                f"Unknown field {sorted(unknown)[0]}.", field=f"payload.{sorted(unknown)[0]}"
            )
        outcome = payload.get("outcome")
        if outcome not in self.OUTCOMES:
            raise RuleError(
                "outcome must be one of preferred, tie, both_bad.", field="payload.outcome"
            )
        if outcome == "tie" and not settings.allow_tie:
            raise RuleError("This campaign does not allow ties.", field="payload.outcome")
        if outcome == "both_bad" and not settings.allow_both_bad:
            raise RuleError("This campaign does not allow 'both bad'.", field="payload.outcome")

        out: dict[str, Any] = {"outcome": outcome}
        preferred = payload.get("preferred")
        if outcome == "preferred":
            if isinstance(preferred, bool) or not isinstance(preferred, int):
                raise RuleError(
                    "preferred must be the id of one of the two candidates.",
                    field="payload.preferred",
                )
            if preferred not in candidate_ids:
                raise RuleError(
                    f"Message {preferred} is not a candidate of this task.",
                    field="payload.preferred",
                )
            out["preferred"] = preferred
            out["rejected"] = next(c for c in candidate_ids if c != preferred)
        elif preferred is not None:
            raise RuleError(
                "preferred is only given when the outcome is preferred.",
                field="payload.preferred",
            )

        strength = payload.get("strength")
        if settings.strength_levels and outcome == "preferred":
            if (
                isinstance(strength, bool)
                or not isinstance(strength, int)
                or not 1 <= strength <= settings.strength_levels
            ):
                raise RuleError(
                    f"strength must be a whole number from 1 to {settings.strength_levels}.",
                    field="payload.strength",
                )
            out["strength"] = strength
        elif strength is not None:
            raise RuleError(
                "strength is only given for a preferred outcome on a campaign with a scale.",
                field="payload.strength",
            )

        reason = payload.get("reason", "")
        if reason is None:
            reason = ""
        if not isinstance(reason, str):
            raise RuleError("reason must be text.", field="payload.reason")
        reason = reason.strip()
        if len(reason) > REASON_MAX_CHARS:
            raise RuleError(
                f"reason is longer than {REASON_MAX_CHARS} characters.", field="payload.reason"
            )
        if settings.reason == "required" and not reason:
            raise RuleError("Please give a reason.", field="payload.reason")
        if settings.reason == "off" and reason:
            raise RuleError("This campaign does not ask for a reason.", field="payload.reason")
        if reason:
            out["reason"] = reason
        return out

    def payload_from_form(self, data: Mapping[str, str]) -> dict[str, Any]:
        """The form of the task page, in the API's payload shape."""
        choice = data.get("choice", "")
        payload: dict[str, Any] = {}
        if choice in ("tie", "both_bad"):
            payload["outcome"] = choice
        elif choice.isdigit():
            payload["outcome"] = "preferred"
            payload["preferred"] = int(choice)
        else:
            raise RuleError(
                "Pick the better response (or tie, or both bad) before submitting.",
                field="payload.outcome",
            )
        if data.get("strength", "").isdigit() and payload["outcome"] == "preferred":
            payload["strength"] = int(data["strength"])
        if data.get("reason"):
            payload["reason"] = data["reason"]
        return payload


KINDS: dict[str, Pairwise] = {"pairwise": Pairwise()}


def kind_for(kind: str) -> Pairwise:
    try:
        return KINDS[kind]
    except KeyError:
        raise RuleError(f"Tasks of kind {kind!r} cannot be judged yet.", field="kind") from None


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
