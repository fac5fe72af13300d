"""Plain SQL for the annotation loop's hot path, the same text on PostgreSQL and SQLite.

Next task and submit run hundreds of times an hour per annotator; building their statements
with the ORM cost more CPU than the database spent answering them. The statements below are
standard SQL; only the row-lock clause differs by database.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_datetime

from annotation.models import Message


def for_update(*, of: str, skip_locked: bool = False) -> str:
    """The row-lock clause where the database has row locks (PostgreSQL), else nothing:
    SQLite takes the whole database for writing at BEGIN IMMEDIATE."""
    if not connection.features.has_select_for_update:
        return ""
    clause = f" FOR UPDATE OF {of}" if connection.features.has_select_for_update_of else ""
    return clause + (" SKIP LOCKED" if skip_locked else "")


def cursor() -> Any:
    """A cursor for the statements here. On PostgreSQL it binds parameters on the server
    (psycopg's own cursor, not Django's default client-side binding), so psycopg prepares
    each statement once per connection after `prepare_threshold` runs (settings) and the
    server stops parsing and planning it on every request; values are sent as they are,
    without quoting them in Python. Wrapped as `connection.cursor()` wraps its own: errors
    become django.db's, and query logging and counting see these statements."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql import base

    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = base.ServerBindingCursor(connection.connection)  # type: ignore[attr-defined]
        return connection._prepare_cursor(raw)  # type: ignore[attr-defined]


def fetchone(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    with cursor() as c:
        c.execute(sql, params)
        return c.fetchone()


def fetchall(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with cursor() as c:
        c.execute(sql, params)
        return c.fetchall()


def execute(sql: str, params: list[Any]) -> int:
    with cursor() as c:
        c.execute(sql, params)
        return c.rowcount


def json_in(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def json_out(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def datetime_in(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def datetime_out(value: Any) -> datetime | None:
    if value is None or (isinstance(value, datetime) and value.tzinfo is not None):
        return value
    parsed = parse_datetime(value) if isinstance(value, str) else value
    assert parsed is not None
    return parsed.replace(tzinfo=UTC)  # SQLite keeps UTC without an offset


def insert_then(insert: str, params: list[Any], *updates: tuple[str, list[Any]]) -> int:
    """Run `INSERT ... RETURNING id`, then the UPDATEs that go with it; returns the new id.
    An UPDATE names the new row's id as `{new_id}`.

    On PostgreSQL all of it is one statement (a data-modifying WITH): one round trip to the
    server instead of one per statement, and the same rows locked and the same constraints
    checked. Elsewhere, one statement each, in order.
    """
    return insert_then_read(insert, params, *updates)[0]


def insert_then_read(
    insert: str,
    params: list[Any],
    *updates: tuple[str, list[Any]],
    read: tuple[str, list[Any]] | None = None,
) -> tuple[int, list[tuple[Any, ...]]]:
    """insert_then, and the rows of the SELECT `read` after it, in the same statement on
    PostgreSQL (the rows are read as of before the statement: `read` must not need what it
    writes). Returns (the new id, the rows)."""
    if connection.vendor == "postgresql":
        parts = [f"new AS ({insert})"]
        for i, (sql, _) in enumerate(updates):
            parts.append(f"u{i} AS ({sql.format(new_id='(SELECT id FROM new)')} RETURNING 1)")
        values = [*params, *(p for _, update_params in updates for p in update_params)]
        if read is None:
            row = fetchone("WITH " + ", ".join(parts) + " SELECT id FROM new", values)
            assert row is not None
            return int(row[0]), []
        # Every row of `read` with the new id in front; one row of NULLs if it has none.
        rows = fetchall(
            "WITH " + ", ".join(parts) + f" SELECT new.id, r.* FROM new LEFT JOIN ({read[0]}) r"
            " ON true",
            [*values, *read[1]],
        )
        return int(rows[0][0]), [row[1:] for row in rows if any(v is not None for v in row[1:])]
    row = fetchone(insert, params)
    assert row is not None
    for sql, update_params in updates:
        execute(sql.format(new_id=int(row[0])), update_params)
    return int(row[0]), fetchall(*read) if read is not None else []


# What a task shows of its tree's messages (selectors.task_view), in the model's field order
# as Model.from_db takes it: read with the lease that hands the task out.
@functools.cache
def _message_fields() -> list[Any]:
    keep = ("id", "parent_id", "role", "text", "metadata")
    return [f for f in Message._meta.concrete_fields if f.attname in keep]


@functools.cache
def task_messages_sql() -> str:
    columns = ", ".join(f.column for f in _message_fields())
    return f"SELECT {columns} FROM {Message._meta.db_table} WHERE conversation_id = %s"


def task_messages(rows: list[tuple[Any, ...]]) -> list[Any]:
    """Message instances (the other fields deferred, as `.only()` leaves them) from rows of
    task_messages_sql()."""
    names = [f.attname for f in _message_fields()]
    metadata = names.index("metadata")
    messages = []
    for row in rows:
        values = list(row)
        values[metadata] = json_out(values[metadata])
        messages.append(Message.from_db("default", names, values))
    return messages
