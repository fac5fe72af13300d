"""How a format describes itself: its tables, each with its rows and its typed schema, the
options it reads, and what a dataset card says about it."""

from __future__ import annotations

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


def schema_with_text_variant(
    columns: list[tuple[str, pa.DataType]],
) -> Callable[[ExportOptions], pa.Schema]:
    """The table's schema; with the `text` option, message lists become plain strings."""

    def schema(options: ExportOptions) -> pa.Schema:
        if options.text:
            return arrow_schema(
                *[(n, pa.string()) if t == MESSAGES else (n, t) for n, t in columns]
            )
        return arrow_schema(*columns)

    return schema
