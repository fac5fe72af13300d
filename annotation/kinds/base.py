"""What every judgment kind shares: checked settings, checked payloads, clear errors.

A kind's settings are the campaign's data (scale, attributes, labels, ties, rationale); they
are checked when the campaign is saved, and every payload is checked against them. An error
names the field, as `settings.attributes[1].scale` or `payload.ratings.812.helpfulness`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Generic, TypeVar

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from annotation.errors import RuleError
from webapp.untrusted import is_blank

TEXT_MAX_CHARS = 20_000
REASON_MAX_CHARS = 5000
RATIONALE = ("off", "optional", "required")
DEFAULT_SCALE = {"type": "likert", "points": ["1", "2", "3", "4", "5"]}

S = TypeVar("S")


def bad(message: str, field: str) -> RuleError:
    return RuleError(message, field=field)


def obj(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad(f"{field.rsplit('.', 1)[-1]} must be an object.", field)
    return value


def no_unknown(value: Mapping[str, Any], allowed: set[str], field: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise bad(f"Unknown field {unknown[0]}.", f"{field}.{unknown[0]}")


def integer(value: Any, field: str, *, lo: int | None = None, hi: int | None = None) -> int:
    name = field.rsplit(".", 1)[-1]
    bounds = f" from {lo} to {hi}" if lo is not None and hi is not None else ""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (lo is not None and value < lo)
        or (hi is not None and value > hi)
    ):
        raise bad(f"{name} must be a whole number{bounds}.", field)
    return value


def number(value: Any, field: str, *, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad(f"{field.rsplit('.', 1)[-1]} must be a number.", field)
    if not lo <= value <= hi:
        raise bad(f"{field.rsplit('.', 1)[-1]} must be from {lo:g} to {hi:g}.", field)
    return value


def text(value: Any, field: str, *, required: bool = False, max_chars: int = TEXT_MAX_CHARS) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise bad(f"{field.rsplit('.', 1)[-1]} must be text.", field)
    value = value.strip()
    if "\x00" in value:
        raise bad(f"{field.rsplit('.', 1)[-1]} may not contain NUL characters.", field)
    # Zero-width and format characters alone show nothing: that is not written text.
    if required and is_blank(value):
        raise bad(
            gettext("Please write the %(field)s.") % {"field": field.rsplit(".", 1)[-1]}, field
        )
    if len(value) > max_chars:
        raise bad(f"{field.rsplit('.', 1)[-1]} is longer than {max_chars} characters.", field)
    return value


def rationale(value: Any, mode: str, field: str) -> str:
    """A reason/rationale the campaign may forbid, allow or require."""
    value = text(value, field, max_chars=REASON_MAX_CHARS)
    if mode == "required" and not value:
        raise bad(gettext("Please give a reason."), field)
    if mode == "off" and value:
        raise bad("This campaign does not ask for a reason.", field)
    return value


def choice(value: Any, options: Sequence[Any], field: str) -> Any:
    if value not in options:
        raise bad(
            f"{field.rsplit('.', 1)[-1]} must be one of {', '.join(map(str, options))}.", field
        )
    return value


def candidate(value: Any, candidate_ids: Sequence[int], field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(f"{field.rsplit('.', 1)[-1]} must be the id of a candidate.", field)
    if value not in candidate_ids:
        raise bad(f"Message {value} is not a candidate of this task.", field)
    return value


def names_unique(names: Sequence[str], field: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise bad("Each name must be non-empty text.", f"{field}[{i}].name")
        if name in seen:
            raise bad(f"{name!r} appears twice.", f"{field}[{i}].name")
        seen.add(name)


@dataclass(frozen=True)
class Scale:
    """A Likert scale with labelled points, or a slider with a range."""

    type: str = "likert"  # "likert" or "slider"
    points: tuple[str, ...] = ()  # likert: the label of each point, lowest first
    min: float = 0  # likert: the value of the first point; slider: the range
    max: float = 100
    step: float = 1

    @classmethod
    def parse(cls, raw: Any, field: str) -> Scale:
        raw = obj(raw, field)
        no_unknown(raw, {f.name for f in fields(cls)}, field)
        kind = choice(raw.get("type", "likert"), ("likert", "slider"), f"{field}.type")
        if kind == "likert":
            points = raw.get("points")
            if not isinstance(points, list) or len(points) < 2:
                raise bad("A Likert scale needs at least two labelled points.", f"{field}.points")
            names_unique([str(p) for p in points], f"{field}.points")
            start = integer(raw.get("min", 1), f"{field}.min")
            return cls(
                type="likert",
                points=tuple(str(p) for p in points),
                min=start,
                max=start + len(points) - 1,
                step=1,
            )
        lo = number(raw.get("min", 0), f"{field}.min", lo=-1e9, hi=1e9)
        hi = number(raw.get("max", 100), f"{field}.max", lo=-1e9, hi=1e9)
        step = number(raw.get("step", 1), f"{field}.step", lo=1e-9, hi=1e9)
        if hi <= lo:
            raise bad("A slider's max must be above its min.", f"{field}.max")
        return cls(type="slider", points=(), min=lo, max=hi, step=step)

    def value(self, raw: Any, field: str) -> float | int:
        if self.type == "likert":
            return integer(raw, field, lo=int(self.min), hi=int(self.max))
        value = number(raw, field, lo=self.min, hi=self.max)
        return int(value) if float(value).is_integer() else value

    def labelled_points(self) -> list[tuple[int, str]]:
        return [(int(self.min) + i, label) for i, label in enumerate(self.points)]


@dataclass(frozen=True)
class Attribute:
    name: str
    description: str = ""
    scale: Scale = Scale()
    rationale: str = "off"  # "off", "optional" or "required"

    @classmethod
    def parse_list(cls, raw: Any, field: str, *, required: bool) -> tuple[Attribute, ...]:
        if raw is None:
            raw = []
        if not isinstance(raw, list) or (required and not raw):
            raise bad("attributes must be a non-empty list.", field)
        out = []
        for i, item in enumerate(raw):
            f = f"{field}[{i}]"
            item = obj(item, f)
            no_unknown(item, {"name", "description", "scale", "rationale"}, f)
            out.append(
                cls(
                    name=text(item.get("name"), f"{f}.name", required=True, max_chars=100),
                    description=text(item.get("description"), f"{f}.description"),
                    scale=Scale.parse(item.get("scale", DEFAULT_SCALE), f"{f}.scale"),
                    rationale=choice(item.get("rationale", "off"), RATIONALE, f"{f}.rationale"),
                )
            )
        names_unique([a.name for a in out], field)
        return tuple(out)


class Kind(Generic[S]):
    """A judgment kind. Subclasses set `name`, `Settings` and implement the hooks."""

    name: ClassVar[str]
    label: ClassVar[str]
    Settings: type[S]
    # How many candidates one task shows: (min, max); None = no upper bound.
    candidates: ClassVar[tuple[int, int | None]] = (2, 2)
    template: ClassVar[str]

    def settings(self, raw: Mapping[str, Any] | None) -> S:
        raise NotImplementedError

    def settings_dict(self, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        """The checked settings with their defaults, as JSON would hold them (lists, not
        tuples), so that what is stored reads back the same."""
        checked = asdict(self.settings(raw))  # type: ignore[call-overload]  # S is a dataclass
        return dict(json.loads(json.dumps(checked)))

    def validate(
        self, payload: Any, *, settings: S, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        raise NotImplementedError

    def payload_from_form(
        self, data: Any, *, settings: S, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        raise NotImplementedError

    def shortcuts(self, settings: S) -> list[tuple[str, str]]:
        """Every key the page answers for this kind, as its shortcuts panel lists them: the
        kind's own first, then the ones every task page has."""
        return [
            ("Enter", _("Submit")),
            ("Ctrl+Enter", _("Submit, even from a text box (Enter there adds a line)")),
            ("Esc", _("Leave a text box, so the keys above work again")),
            ("S", _("Skip this task")),
        ]

    def task_groups(self, candidates: Sequence[Any]) -> list[list[Any]]:
        """Which sibling candidates go together into one task."""
        lo, hi = self.candidates
        if len(candidates) < lo:
            return []
        if hi == 1:
            return [[c] for c in candidates]
        return [list(candidates)]

    def gold_score(self, payload: dict[str, Any], gold: Any) -> float | None:
        """1.0 for agreement with a gold answer, 0.0 for disagreement, None if not scorable."""
        return None

    # The payload fields a gold answer gives (those gold_score compares); () = no gold.
    gold_keys: ClassVar[tuple[str, ...]] = ()

    def gold_clean(self, gold: Any, *, settings: S, candidate_ids: Sequence[int]) -> dict[str, Any]:
        """A task's gold answer, checked as the payload of an annotator who answers it right
        is (the same validation), and kept to the fields gold_score compares."""
        if not self.gold_keys:
            raise bad(f"A {self.name} task has no gold answer to compare with.", "gold")
        given = dict(obj(gold, "gold"))
        no_unknown(given, set(self.gold_keys), "gold")
        clean = self.gold_validate(given, settings=settings, candidate_ids=candidate_ids)
        return {k: clean[k] for k in self.gold_keys if k in clean}

    def gold_validate(
        self, gold: dict[str, Any], *, settings: S, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        return self.validate(gold, settings=settings, candidate_ids=candidate_ids)

    def agreement(
        self, payloads: Sequence[Mapping[str, Any]], *, settings: S, rule: DisputeRule
    ) -> Agreement | None:
        """How far one item's judgments agree, and whether `rule` calls it disputed (None:
        this kind has no measure of agreement, as for free text)."""
        return None


def gold_by_position(gold: Any, to_id: Mapping[int, int], n: int) -> dict[str, Any] | None:
    """A gold answer written with responses by their place in the prompt file (`preferred`:
    1, `ranking`: [2, 0, 1]; 0 is the first response) in terms of one task's message ids
    (`to_id`: place -> id); None when it names a response the task does not show (a pair
    without the preferred one). A place that is no response of the `n` is refused."""
    out = dict(obj(gold, "gold"))

    def place(value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
            raise bad(
                f"{field} must be the place of a response in the line's responses (0 to {n - 1}).",
                field,
            )
        return value

    if out.get("preferred") is not None:
        p = place(out["preferred"], "gold.preferred")
        if p not in to_id:
            return None
        out["preferred"] = to_id[p]
    if "ranking" in out:
        ranking = out["ranking"]
        if not isinstance(ranking, list):
            raise bad("gold.ranking must be a list of response places, best first.", "gold")
        mapped: list[Any] = []
        for i, item in enumerate(ranking):
            group = item if isinstance(item, list) else [item]
            ids = [place(v, f"gold.ranking[{i}]") for v in group]
            if any(v not in to_id for v in ids):
                return None
            mapped.append([to_id[v] for v in ids] if isinstance(item, list) else to_id[ids[0]])
        out["ranking"] = mapped
    return out


def settings_object(raw: Mapping[str, Any] | None, allowed: set[str]) -> dict[str, Any]:
    if raw is not None and not isinstance(raw, Mapping):
        raise bad("settings must be an object.", "settings")
    raw = dict(raw or {})
    no_unknown(raw, allowed, "settings")
    return raw


# --- disputes (adjudication) ---------------------------------------------------------------


@dataclass(frozen=True)
class DisputeRule:
    """When a campaign's item is disputed and goes to adjudication (Campaign.adjudication).

    Per kind: a pairwise item whose most chosen outcome has less than `share` of the
    judgments; a rating item where one score of one response spreads (highest - lowest) over
    more than `width` points; a ranking item whose judgments lie on average more than
    `distance` apart (normalised Kendall distance, 0 = same order, 1 = reversed); a label or
    thumbs item where a label has no strict majority. Besides, a gold task that `gold_wrong`
    or more of its judgments answered wrongly. An item needs `min_judgments` counted
    judgments before it can be disputed."""

    enabled: bool = False
    min_judgments: int = 2
    share: float = 0.75
    width: float = 2
    distance: float = 0.34
    gold_wrong: float = 0.5

    @classmethod
    def parse(cls, raw: Any, field: str = "adjudication") -> DisputeRule:
        raw = obj(raw if raw is not None else {}, field)
        no_unknown(raw, {f.name for f in fields(cls)}, field)
        d = cls()
        enabled = raw.get("enabled", d.enabled)
        if not isinstance(enabled, bool):
            raise bad("enabled must be true or false.", f"{field}.enabled")
        return cls(
            enabled=enabled,
            min_judgments=integer(
                raw.get("min_judgments", d.min_judgments), f"{field}.min_judgments", lo=2, hi=100
            ),
            share=number(raw.get("share", d.share), f"{field}.share", lo=0.5, hi=1),
            width=number(raw.get("width", d.width), f"{field}.width", lo=0, hi=1e9),
            distance=number(raw.get("distance", d.distance), f"{field}.distance", lo=0, hi=1),
            gold_wrong=number(
                raw.get("gold_wrong", d.gold_wrong), f"{field}.gold_wrong", lo=0.01, hi=1
            ),
        )


@dataclass(frozen=True)
class Agreement:
    """How far one item's judgments agree: `agreement` from 0 (none) to 1 (all the same),
    in the kind's own measure (`measure`), and whether the campaign's rule calls it
    disputed, with why ("split", "spread", "distance", "no_majority", "gold")."""

    judgments: int
    measure: str
    agreement: float
    disputed: bool
    why: str = ""


def top_share(values: Sequence[Any]) -> float:
    """The share of the most frequent value (values compared as JSON text)."""
    if not values:
        return 1.0
    counts: dict[str, int] = {}
    for v in values:
        key = json.dumps(v, sort_keys=True)
        counts[key] = counts.get(key, 0) + 1
    return max(counts.values()) / len(values)


def item_agreement(
    kind: Kind[Any],
    payloads: Sequence[Mapping[str, Any]],
    *,
    settings: Any,
    rule: DisputeRule,
    gold_scores: Sequence[float | None] = (),
) -> Agreement | None:
    """The item's agreement and whether it is disputed (None: the kind measures none, or
    too few judgments). The gold rule comes first: a gold task answered wrongly by
    `rule.gold_wrong` of its scored judgments is disputed whatever the spread."""
    if len(payloads) < rule.min_judgments:
        return None
    found = kind.agreement(payloads, settings=settings, rule=rule)
    scored = [s for s in gold_scores if s is not None]
    if scored:
        wrong = sum(1 for s in scored if s < 1) / len(scored)
        if wrong >= rule.gold_wrong:
            return Agreement(
                judgments=len(payloads),
                measure=found.measure if found else "gold",
                agreement=found.agreement if found else round(1 - wrong, 4),
                disputed=True,
                why="gold",
            )
    return found
