"""What a researcher may ask of an export: filters that every format honours, and the options
of single formats. One parser serves the API (query strings and JSON), the CLI and Python, so
a bad value gets the same message, naming the option, whichever way it came in."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from annotation.errors import RuleError
from annotation.models import Campaign
from webapp.untrusted import value_check

CONTAINERS = ("jsonl", "parquet", "hf")
PAIRS = ("all", "best_vs_worst")
AGGREGATES = ("none", "majority", "adjudicated")
SIMILARITIES = ("jaccard", "difflib")

# Options every format accepts; the others belong to the formats that name them.
COMMON = frozenset(
    {
        "kinds",
        "since",
        "until",
        "include_flagged",
        "include_gold",
        "include_repeats",
        "round",
        "table",
        "license",
    }
)


@dataclass(frozen=True)
class ExportOptions:
    # Filters, for every format.
    kinds: tuple[str, ...] = ()  # judgment kinds to read; () = every kind the format reads
    since: datetime | None = None  # judgments made at or after
    until: datetime | None = None  # judgments made before
    include_flagged: bool = False  # annotators an admin flagged are held out unless asked
    include_gold: bool = False  # judgments on gold tasks score annotators; held out
    include_repeats: bool = False  # repeated pairs measure self-consistency; held out
    round: int | None = None  # only tasks of this collection round
    table: str | None = None  # for formats of several tables (oasst, prism)
    license: str = "unknown"  # the dataset card's licence id
    # preference (and kto where it reads pairs).
    pairs: str = "all"  # rankings and ratings: every ordered pair, or best vs worst
    rating_attribute: str | None = None  # which rated attribute orders responses
    keep_ties: bool = False  # keep tie / both-bad outcomes as rows
    aggregate: str = "none"  # one row per judgment, or one per task by majority
    min_agreement: float | None = None  # drop pairs whose annotators agree less
    max_similarity: float | None = None  # drop pairs whose texts are at least this similar
    similarity: str = "jaccard"  # how similar: word-set Jaccard, or difflib's ratio
    text: bool = False  # plain strings instead of message lists
    # With text: the registered model whose chat template writes them (else the plain layout).
    chat_template: str | None = None
    # kto.
    threshold: float | None = None  # a rating at or above it is desirable
    # oasst.
    all_trees: bool = False  # every tree, not only those ready for export
    # judgments: each prompt image's bytes beside its path (base64 text in JSON Lines).
    image_bytes: bool = False
    # preference and kto: an `images` column (TRL's vision layout). None: the campaign
    # decides (a column where its prompts carry images, none where they never do).
    images: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        """The options that differ from the defaults, as JSON (for jobs and dataset cards)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def differs(self, name: str) -> bool:
        default = next(f.default for f in fields(self) if f.name == name)
        return bool(getattr(self, name) != default)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RuleError(f"{name} must be true or false.", field=name)


def _number(value: Any, name: str, *, lo: float | None = None, hi: float | None = None) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RuleError(f"{name} must be a number.", field=name) from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise RuleError(f"{name} must be a number.", field=name)
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise RuleError(f"{name} must be from {lo:g} to {hi:g}.", field=name)
    return number


def _when(value: Any, name: str) -> datetime:
    """An ISO 8601 date or date-time; a date means its midnight, UTC; naive times are UTC."""
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(), tzinfo=UTC)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "+") if "T" in value else value.strip()
        parsed = parse_datetime(text)
        if parsed is None and (day := parse_date(text)) is not None:
            parsed = datetime.combine(day, time(), tzinfo=UTC)
    else:
        parsed = None
    if parsed is None:
        raise RuleError(f"{name} must be an ISO 8601 date or date-time.", field=name)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _choice(value: Any, options: tuple[str, ...], name: str) -> str:
    if value not in options:
        raise RuleError(f"{name} must be one of {', '.join(options)}.", field=name)
    return str(value)


def options_parse(raw: Mapping[str, Any] | None) -> ExportOptions:
    """Options from a dict of JSON values or of query-string text. Unknown names are errors;
    so is a value that cannot be stored with the job (webapp.untrusted)."""
    raw = dict(value_check(dict(raw or {})))
    known = {f.name for f in fields(ExportOptions)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RuleError(f"Unknown export option {unknown[0]!r}.", field=unknown[0])
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None:
            continue
        if name == "kinds":
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple):
                raise RuleError("kinds must be a list of judgment kinds.", field=name)
            kinds = tuple(str(k).strip() for k in items if str(k).strip())
            for k in kinds:
                _choice(k, tuple(Campaign.Kind.values), "kinds")
            out[name] = kinds
        elif name in ("since", "until"):
            out[name] = _when(value, name)
        elif name in (
            "include_flagged",
            "include_gold",
            "include_repeats",
            "keep_ties",
            "text",
            "all_trees",
            "image_bytes",
            "images",
        ):
            out[name] = _bool(value, name)
        elif name == "round":
            number = _number(value, name, lo=1)
            if not number.is_integer():
                raise RuleError("round must be a whole number.", field=name)
            out[name] = int(number)
        elif name in ("min_agreement", "max_similarity"):
            out[name] = _number(value, name, lo=0, hi=1)
        elif name == "threshold":
            out[name] = _number(value, name)
        elif name == "pairs":
            out[name] = _choice(value, PAIRS, name)
        elif name == "aggregate":
            out[name] = _choice(value, AGGREGATES, name)
        elif name == "similarity":
            out[name] = _choice(value, SIMILARITIES, name)
        else:  # table, license, rating_attribute, chat_template: text
            if not isinstance(value, str) or not value.strip() or len(value) > 100:
                raise RuleError(f"{name} must be non-empty text.", field=name)
            out[name] = value.strip()
    if "chat_template" in out:
        # A chat template writes the text variant: it implies `text`, and contradicts text=false.
        if out.get("text") is False:
            raise RuleError("chat_template writes the text variant: drop text=false.",
                            field="chat_template")  # fmt: skip
        out["text"] = True
    options = ExportOptions(**out)
    if options.since and options.until and options.since >= options.until:
        raise RuleError("since must be before until.", field="since")
    return options


def container_check(container: str) -> str:
    return _choice(container, CONTAINERS, "container")
