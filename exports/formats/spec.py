"""How a format describes itself: its tables, each with its rows and its typed schema, the
options it reads, and what a dataset card says about it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..options import ExportOptions
from .context import ExportContext

# Rows are dicts, or SplitRows where many rows share columns.
Rows = Callable[[ExportContext], Iterator[Any]]


@dataclass(frozen=True)
class Table:
    rows: Rows
    # The Arrow schema of a row (it may depend on the options, e.g. the plain-text variant);
    # None for a table that only JSON Lines can hold (OpenAssistant's nested trees).
    schema: Callable[[ExportOptions], pa.Schema] | None
    # How many units (judgments, conversations, people) the rows are read from, for progress.
    size: Callable[[ExportContext], int]
    # The judgment kinds the rows come from: a campaign that makes none of them has nothing
    # for this table, and is refused before anything is written. () = any campaign.
    needs: tuple[str, ...] = ()
    # Where the published JSON Lines layout differs from the typed one (OpenAssistant's
    # messages: labels and emojis as dicts, nulls left out): a row of the typed layout as a
    # JSON line's object, and that layout's schema (it may name the campaign's labels).
    json_row: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    json_schema: Callable[[ExportContext], pa.Schema] | None = None

    def rows_for(self, ctx: ExportContext, container: str) -> Iterator[Any]:
        """The rows in the layout of the container."""
        ctx.container = container
        rows = self.rows(ctx)
        if container == "jsonl" and self.json_row is not None:
            return map(self.json_row, rows)
        return rows


@dataclass(frozen=True)
class Format:
    name: str
    version: str
    summary: str  # one line, for the dataset card
    tables: dict[str, Table]
    # The judgment kinds it reads (for the dataset card's counts).
    kinds: tuple[str, ...] = ()
    # Checks the options against the campaign before any row is written (raises RuleError).
    check: Callable[[ExportContext], Any] | None = None
    # Options beyond the common filters that this format reads.
    options: frozenset[str] = frozenset()
    # The table a single-file container writes when none is asked for; None: ask.
    default_table: dict[str, str | None] = field(default_factory=dict)
    # For the dataset card: the published dataset whose layout the format follows, and each
    # deliberate difference from it (a line of Markdown naming its column).
    published: str = ""
    differences: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    task_categories: tuple[str, ...] = ()

    def table_for(self, container: str, table: str | None) -> str | None:
        if table is not None:
            return table
        if len(self.tables) == 1:
            return next(iter(self.tables))
        return self.default_table.get(container)


class Shared:
    """Columns that many rows share (a task's prompt and responses, say), so that a JSON
    Lines writer encodes them once, not once per row."""

    __slots__ = ("columns", "json")

    def __init__(self, columns: dict[str, Any]):
        self.columns = columns
        self.json: bytes | None = None  # the encoded columns, without braces, once a writer asks


class SplitRow:
    """A row as the columns it shares with others, then its own. Writers take it as is;
    everyone else gets `merged()`, a plain dict (the shared columns first)."""

    __slots__ = ("own", "shared")

    def __init__(self, shared: Shared, own: dict[str, Any]):
        self.shared = shared
        self.own = own

    def merged(self) -> dict[str, Any]:
        return {**self.shared.columns, **self.own}


def plain(rows: Iterator[Any]) -> Iterator[dict[str, Any]]:
    """Rows as plain dicts, whatever a format yields."""
    for row in rows:
        yield row.merged() if type(row) is SplitRow else row


def either(words: Sequence[str], last: str = "or") -> str:
    """Words as a sentence lists them: "a", "a or b", "a, b or c"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
# A list of images in `datasets.Image`'s storage shape. A table whose schema comes from
# `images_declared` says in its `huggingface` metadata (and its dataset card) that the column
# is `List(Image())`, so `datasets` decodes it to PIL images from every container.
IMAGES = pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))


def arrow_schema(*columns: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, kind) for name, kind in columns])


# The provenance every one-row-per-judgment table ends with (kto, ratings).
JUDGMENT_PROVENANCE: list[tuple[str, pa.DataType]] = [
    ("judgment_id", pa.int64()),
    ("annotator", pa.string()),
    ("profile_version", pa.int64()),
    ("instructions_version", pa.int64()),
    ("seconds_spent", pa.float64()),
    ("task_id", pa.int64()),
    ("round", pa.int64()),
    ("conversation_id", pa.int64()),
    ("conversation_external_id", pa.string()),
    ("campaign", pa.string()),
    ("created_at", pa.string()),
    # With a review stage: the reviewer's decision, and a corrected judgment's original payload.
    ("review_decision", pa.string()),
    ("original_payload", pa.string()),
    ("schema_version", pa.string()),
]


def images_declared(schema: pa.Schema, names: Sequence[str] = ("images",)) -> pa.Schema:
    """The schema with these IMAGES columns declared as `datasets.List(datasets.Image())` in
    its `huggingface` metadata, which Parquet files keep and `datasets` reads its features
    from. (datasets is imported here only: a web process that never exports images never
    loads it.)"""
    import datasets

    features = datasets.Features.from_arrow_schema(schema)
    for name in names:
        features[name] = datasets.List(datasets.Image())
    declared: pa.Schema = features.arrow_schema
    return declared


def image_columns(schema: pa.Schema) -> frozenset[str]:
    """The columns a schema declares as lists of `datasets.Image` (see images_declared)."""
    raw = (schema.metadata or {}).get(b"huggingface")
    if raw is None:
        return frozenset()
    features = json.loads(raw).get("info", {}).get("features", {})
    return frozenset(
        name
        for name, feature in features.items()
        if isinstance(feature, dict) and (feature.get("feature") or {}).get("_type") == "Image"
    )


def schema_with_text_variant(
    columns: list[tuple[str, pa.DataType]], *, images_after: str | None = None
) -> Callable[[ExportOptions], pa.Schema]:
    """The table's schema; with the `text` option, message lists become plain strings. With
    the `images` option (a campaign whose prompts carry images), an `images` column follows
    `images_after`: TRL's vision layout."""

    def schema(options: ExportOptions) -> pa.Schema:
        typed = columns
        if options.text:
            typed = [(n, pa.string()) if t == MESSAGES else (n, t) for n, t in columns]
        if options.images and images_after is not None:
            at = [n for n, _ in typed].index(images_after) + 1
            typed = [*typed[:at], ("images", IMAGES), *typed[at:]]
            return images_declared(arrow_schema(*typed))
        return arrow_schema(*typed)

    return schema
