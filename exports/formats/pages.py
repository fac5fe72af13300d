"""Reading an export from the database a page at a time: the ORM's SQL run on a plain cursor
(`_fetch`), converting only the columns the rows read; the J, M and C rows built from those
tuples; and the pages read ahead by a thread of their own, with the garbage collector relaxed
while they last.

Apart from the filters (context.py), which decide what a page holds: this module is only how a
page is read, which is where an export waits on the database, and each step is shaped for speed
(docs/performance.md has the figures).
"""

from __future__ import annotations

import contextlib
import gc
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import orjson
from django.db import connection
from django.db.models import QuerySet

from annotation.db import datetime_out, json_out, pg_timestamptz_loader
from annotation.models import Conversation, Message

from .rows import _C_FIELDS, _J_PAD, _M_FIELDS, _M_FULL, _M_PAD, C, J, M, _new


def _fetch(qs: QuerySet[Any], fields: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows of `qs.values_list(*fields)`, without the ORM's per-value converters: the SQL
    is the ORM's, run on a plain cursor. JSON comes back as text and, on SQLite, datetimes
    naive; the callers convert only the columns they read (annotation.db's adapters)."""
    sql, params = qs.values_list(*fields).query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # psycopg's own C loader: Django's tz-aware one is Python, a few µs per value.
            raw = cursor.cursor
            raw.adapters.register_loader("timestamptz", pg_timestamptz_loader())
        cursor.execute(sql, params)
        return cursor.fetchall()


def _tasks(rows: list[tuple[Any, ...]], full: bool) -> dict[int, tuple[Any, ...]]:
    """Task id -> the J columns it gives: (parent, conversation, round[, gold, keys, repeat])."""
    if full:
        return {r[0]: (r[1], r[2], r[3], json_out(r[4]), json_out(r[5]), r[6]) for r in rows}
    return {r[0]: r[1:] for r in rows}


def _judgments(
    rows: list[tuple[Any, ...]],
    tasks: dict[int, tuple[Any, ...]],
    versions: dict[int | None, int | None],
    full: bool,
) -> list[J]:
    sqlite = connection.vendor != "postgresql"
    if not sqlite and not full:
        # The common case, as one comprehension: PostgreSQL's jsonb comes as valid JSON text
        # and its datetimes are aware already.
        loads, pad = orjson.loads, _J_PAD
        with contextlib.suppress(orjson.JSONDecodeError):
            return [
                _new(J, (r[0], r[1], r[2], loads(r[3]), r[4], versions[r[5]], r[6], r[7], r[8],
                         r[9], loads(r[10]), *task, *pad))
                for r in rows
                if (task := tasks.get(r[1])) is not None
            ]  # fmt: skip
    loads = json_out
    out = []
    for r in rows:
        # id, task, kind, payload, annotator, profile, seconds, instr. v., gold score,
        # created_at, display_order [, leased_at]
        task = tasks.get(r[1])
        if task is None:
            continue  # a task the export leaves out (gold, repeat, other round)
        created = datetime_out(r[9]) if sqlite else r[9]
        head = (*r[:3], loads(r[3]), r[4], versions[r[5]], *r[6:9], created, loads(r[10]))
        if full:
            leased = datetime_out(r[11]) if sqlite else r[11]
            out.append(_new(J, (*head, *task[:3], leased, *task[3:], None)))
        else:
            out.append(_new(J, (*head, *task, *_J_PAD)))
    return out


class _Page(NamedTuple):
    """What a batch reads from the database."""

    judgments: list[J]
    conversation_ids: list[int]
    messages: dict[int, M]
    conversations: dict[int, C]

    @classmethod
    def load(cls, judgments: list[J], conversation_ids: Iterable[int], full: bool) -> _Page:
        ids = sorted(set(conversation_ids))
        return cls(judgments, ids, messages_of(ids, full=full), conversations_of(ids))


def _pages(pages: Iterator[_Page]) -> Iterator[_Page]:
    """The pages, read ahead, with the garbage collector relaxed while they last."""
    with _collector_relaxed():
        yield from _read_ahead(pages)


# Objects allocated (net) between two passes of the garbage collector while an export runs.
EXPORT_GC_THRESHOLD = 100_000
_exporting = 0  # exports under way in this process
_exporting_lock = threading.Lock()
_threshold: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def _collector_relaxed() -> Iterator[None]:
    """While an export runs, the garbage collector waits for 100,000 new objects between
    passes, not Python's 700. A page's tuples (tens of thousands) live until the page is
    written: at 700 the collector would walk them again every few rows, promote them to the
    oldest generation, and then walk them with the whole heap (Django's and pyarrow's
    objects) in a full pass every page or two: a quarter of a Parquet export's time.
    Reference cycles are still collected, in larger steps; the process's thresholds come back
    when its last export ends."""
    global _exporting, _threshold
    with _exporting_lock:
        if _exporting == 0:
            _threshold = gc.get_threshold()
            gc.set_threshold(max(EXPORT_GC_THRESHOLD, _threshold[0]), *_threshold[1:])
        _exporting += 1
    try:
        yield
    finally:
        with _exporting_lock:
            _exporting -= 1
            if _exporting == 0:
                gc.set_threshold(*_threshold)


class _Failed(NamedTuple):
    error: BaseException


_DONE = object()
READ_AHEAD = 1  # pages read while the rows of the current one are written (each is RSS)


def _read_ahead(pages: Iterator[_Page]) -> Iterator[_Page]:
    """The pages, read by a thread of their own a page or two ahead, so that the database
    works while this thread builds and writes rows (the GIL is free while a query runs).

    Only on PostgreSQL outside a transaction: the reading thread has its own connection, which
    would not see a transaction's uncommitted rows (nor may SQLite have two writers).
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield from pages
        return
    ready: queue.Queue[Any] = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def read() -> None:
        try:
            with connection.cursor() as cursor:
                # Keyset pages are small: starting parallel workers costs more than it saves.
                cursor.execute("SET max_parallel_workers_per_gather = 0")
            for page in pages:
                while not stop.is_set():
                    try:
                        ready.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_DONE)
        except BaseException as e:
            ready.put(_Failed(e))
        finally:
            connection.close()  # this thread's own

    reader = threading.Thread(target=read, name="export-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # let a reader blocked on a full queue see the stop
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.1)
        reader.join()


def _in_ids(qs: QuerySet[Any], field: str, ids: list[int]) -> tuple[QuerySet[Any], bool]:
    """qs limited to rows whose field is one of ids (sorted). A batch's conversations are
    mostly consecutive ids: a range reads the index once and spares a statement with thousands
    of parameters. Returns whether the caller must still drop rows outside ids."""
    if ids[-1] - ids[0] < 2 * len(ids):
        ranged = qs.filter(**{f"{field}__gte": ids[0], f"{field}__lte": ids[-1]})
        return ranged, len(ids) <= ids[-1] - ids[0]
    return qs.filter(**{f"{field}__in": ids}), False


def conversations_of(conversation_ids: Iterable[int]) -> dict[int, C]:
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    qs, sift = _in_ids(Conversation.objects.all(), "id", ids)
    rows = _fetch(qs, _C_FIELDS)
    wanted = set(ids)
    return {
        r[0]: _new(C, (*r[:4], json_out(r[4]), r[5], datetime_out(r[6]), r[7]))
        for r in rows
        if not sift or r[0] in wanted
    }


def messages_of(conversation_ids: Iterable[int], *, full: bool = False) -> dict[int, M]:
    """Every message of these conversations, by id."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    qs, sift = _in_ids(Message.objects.all(), "conversation_id", ids)
    rows = _fetch(qs, _M_FULL if full else _M_FIELDS)
    if sift:
        wanted = set(ids)
        rows = [r for r in rows if r[6] in wanted]
    if not full:
        return {r[0]: _new(M, r + _M_PAD) for r in rows}
    sqlite = connection.vendor != "postgresql"
    return {
        r[0]: _new(M, (*r[:7], datetime_out(r[7]) if sqlite else r[7], json_out(r[8]), *r[9:]))
        for r in rows
    }
