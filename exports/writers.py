"""Containers for rows: JSON Lines (streamed a line at a time), Parquet (written a row group at a
time), and a Hugging Face dataset folder (Parquet shards and a README.md dataset card).

Each writer holds at most one row group of rows in memory, whatever the export's size.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from .formats.spec import Shared, SplitRow, image_columns

# Rows per Parquet row group: small enough to bound memory (and to let the Hub's viewer read
# a page without a whole file), large enough for columnar compression to work.
ROW_GROUP_ROWS = 2_000
# Rows per shard of a dataset folder.
SHARD_ROWS = 500_000


def _json_default(value: Any) -> Any:
    # Bytes (an exported image's) are binary in Parquet and base64 text in JSON Lines.
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, default=_json_default)
_ORJSON = orjson.OPT_NON_STR_KEYS  # int keys become strings, as json.dumps makes them


def encode(value: Any) -> bytes:
    """A value as compact UTF-8 JSON. orjson is several times faster than the json module;
    it stops at 255 levels of nesting, which only a very deep OpenAssistant thread reaches,
    and json takes those."""
    try:
        return orjson.dumps(value, default=_json_default, option=_ORJSON)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(value).encode()


def encode_row(row: dict[str, Any] | SplitRow) -> bytes:
    """One row as a line of JSON (without the newline); a SplitRow's shared columns are
    encoded once for all the rows that share them."""
    if type(row) is not SplitRow:
        return encode(row)
    shared = row.shared
    if shared.json is None:
        shared.json = encode(shared.columns)[1:-1]
    own = encode(row.own)
    if not shared.json:
        return own
    return b"{" + shared.json + (b"," + own[1:] if len(own) > 2 else b"}")


def jsonl_lines(rows: Iterable[dict[str, Any] | SplitRow]) -> Iterator[bytes]:
    for row in rows:
        yield encode_row(row) + b"\n"


def write_jsonl(rows: Iterable[dict[str, Any] | SplitRow], out: BinaryIO) -> int:
    """Write rows as JSON Lines; returns how many. Lines are written in blocks of ~1 MB."""
    count = 0
    encode_ = encode_row
    block: list[bytes] = []
    size = 0
    for row in rows:
        line = encode_(row)
        block.append(line)
        size += len(line)
        count += 1
        if size > 1 << 20:
            block.append(b"")
            out.write(b"\n".join(block))
            block, size = [], 0
    if block:
        block.append(b"")
        out.write(b"\n".join(block))
    return count


@dataclass
class ParquetStats:
    rows: int = 0
    num_bytes: int = 0  # the Arrow size of the data, as datasets' `num_bytes`
    files: list[Path] = field(default_factory=list)


class _Columns:
    """Rows gathered a row group at a time, and turned into Arrow column by column.

    The shared columns of SplitRows are converted to Arrow once per Shared and repeated with
    `take`, so a task's prompt and responses cost one conversion, not one per judgment; the
    rows' own columns are converted when the group is full. A table's rows are either all
    SplitRows or all dicts.
    """

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.names = schema.names
        self.rows: list[dict[str, Any]] = []  # plain rows, or the SplitRows' own columns
        self.shared: list[Shared] = []
        self.shared_at: dict[int, int] = {}  # id(Shared) -> its place in self.shared
        self.takes: list[int] = []

    def add(self, row: dict[str, Any] | SplitRow) -> None:
        if type(row) is SplitRow:
            shared = row.shared
            place = self.shared_at.get(id(shared))
            if place is None:
                place = self.shared_at[id(shared)] = len(self.shared)
                self.shared.append(shared)
            self.takes.append(place)
            self.rows.append(row.own)
        else:
            self.rows.append(row)  # type: ignore[arg-type]  # not a SplitRow: a dict

    def table(self) -> pa.Table:
        arrays: dict[str, pa.Array] = {}
        if self.shared:
            shared = [self.schema.field(n) for n in self.shared[0].columns]
            unique = _struct([s.columns for s in self.shared], shared)
            takes = pa.array(self.takes, type=pa.int64())
            arrays = {f.name: column.take(takes) for f, column in zip(shared, unique, strict=True)}
        own = [f for f in self.schema if f.name not in arrays]
        arrays.update(zip([f.name for f in own], _struct(self.rows, own), strict=True))
        table = pa.Table.from_arrays([arrays[n] for n in self.names], schema=self.schema)
        self.rows = []
        self.shared, self.shared_at, self.takes = [], {}, []
        return table


def _struct(rows: list[dict[str, Any]], fields: list[pa.Field]) -> list[pa.Array]:
    """The rows' values column by column (null where a row leaves a column out): the rows as
    one array of structs, then its fields; faster than a Python list per column, and than
    Table.from_pylist."""
    return pa.array(rows, type=pa.struct(fields)).flatten()


def _release_memory_promptly() -> None:
    """An export frees a row group's worth of Arrow memory every few thousand rows. pyarrow's
    default pool (mimalloc in these wheels) keeps freed pages, the more so when the writer
    thread frees what this one allocated; jemalloc with no decay gives them back at once and
    keeps the worker's RSS flat. (Where jemalloc is not built in, the default stays.)"""
    with contextlib.suppress(NotImplementedError, AttributeError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)


class _ParquetFile:
    """A ParquetWriter fed from a thread of its own: pyarrow encodes and compresses a row
    group without the GIL, so it runs on the other core while this thread builds the next
    group's rows. One group waits at most (each is RSS)."""

    def __init__(self, path: Path, schema: pa.Schema):
        # Statistics of the flat columns only: min / max of every message's text would cost
        # as much as compressing it and helps no reader.
        flat = [f.name for f in schema if not pa.types.is_nested(f.type)]
        self.writer = pq.ParquetWriter(path, schema, compression="zstd", write_statistics=flat)
        self.queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._write, name="parquet-writer", daemon=True)
        self.thread.start()

    def _write(self) -> None:
        while (table := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write_table(table)
                except BaseException as e:  # raised again by the feeding thread
                    self.error = e

    def write(self, table: pa.Table) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(table)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.writer.close()
        if self.error is not None:
            raise self.error


def write_parquet(
    rows: Iterable[dict[str, Any] | SplitRow],
    path: Path,
    schema: pa.Schema,
    *,
    row_group_rows: int = ROW_GROUP_ROWS,
    max_rows: int | None = None,
) -> ParquetStats:
    """Write rows to one Parquet file, a row group at a time (at most max_rows rows: the
    caller passes an iterator and continues it into the next file)."""
    _release_memory_promptly()
    stats = ParquetStats(files=[path])
    columns = _Columns(schema)
    out = _ParquetFile(path, schema)
    try:
        for row in rows:
            columns.add(row)
            stats.rows += 1
            if len(columns.rows) >= row_group_rows:
                table = columns.table()
                stats.num_bytes += table.nbytes
                out.write(table)
            if max_rows is not None and stats.rows >= max_rows:
                break
        # No rows, no row group: readers take a file of none for an empty table, while an
        # empty group made `datasets` fail ("BatchSize must be greater than 0").
        if columns.rows:
            table = columns.table()
            stats.num_bytes += table.nbytes
            out.write(table)
    finally:
        out.close()
    return stats


def write_parquet_shards(
    rows: Iterable[dict[str, Any] | SplitRow],
    folder: Path,
    schema: pa.Schema,
    *,
    split: str = "train",
    shard_rows: int = SHARD_ROWS,
) -> ParquetStats:
    """Rows as `{split}-00000-of-0000N.parquet` shards in folder (the Hub's naming)."""
    folder.mkdir(parents=True, exist_ok=True)
    it = iter(rows)
    total = ParquetStats()
    parts: list[Path] = []
    while True:
        part = folder / f".{split}-{len(parts):05d}.parquet.part"
        stats = write_parquet(it, part, schema, max_rows=shard_rows)
        if stats.rows == 0 and parts:
            part.unlink()
            break
        parts.append(part)
        total.rows += stats.rows
        total.num_bytes += stats.num_bytes
        if stats.rows < shard_rows:
            break
    for i, part in enumerate(parts):
        final = folder / f"{split}-{i:05d}-of-{len(parts):05d}.parquet"
        os.replace(part, final)
        total.files.append(final)
    return total


# --- the dataset card's typed features ------------------------------------------------------


def features_yaml(schema: pa.Schema) -> list[dict[str, Any]]:
    """An Arrow schema as the `dataset_info.features` list of a dataset card (the YAML form of
    `datasets.Features`); a column declared as images is `list: image`."""
    images = image_columns(schema)
    return [
        {"name": f.name, **({"list": "image"} if f.name in images else _feature(f.type))}
        for f in schema
    ]


def _dtype(kind: pa.DataType) -> str:
    if pa.types.is_float64(kind):
        return "float64"
    if pa.types.is_float32(kind):
        return "float32"
    if pa.types.is_boolean(kind):
        return "bool"
    return str(kind)  # string, int64, int32, ...


def _feature(kind: pa.DataType) -> dict[str, Any]:
    if pa.types.is_struct(kind):
        return {"struct": [{"name": f.name, **_feature(f.type)} for f in kind]}
    if pa.types.is_list(kind):
        inner = kind.value_type
        if pa.types.is_struct(inner):
            return {"list": _feature(inner)["struct"]}
        if pa.types.is_list(inner):
            return {"list": _feature(inner)}
        return {"list": _dtype(inner)}
    return {"dtype": _dtype(kind)}
