"""Plain SQL for the annotation loop's hot path, the same text on PostgreSQL and SQLite.

Next task and submit run hundreds of times an hour per annotator; building their statements
with the ORM cost more CPU than the database spent answering them. The statements below are
standard SQL; only the row-lock clause differs by database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_datetime


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
    if connection.vendor == "postgresql":
        parts = [f"new AS ({insert})"]
        for i, (sql, _) in enumerate(updates):
            parts.append(f"u{i} AS ({sql.format(new_id='(SELECT id FROM new)')} RETURNING 1)")
        row = fetchone(
            "WITH " + ", ".join(parts) + " SELECT id FROM new",
            [*params, *(p for _, update_params in updates for p in update_params)],
        )
    else:
        row = fetchone(insert, params)
        assert row is not None
        for sql, update_params in updates:
            execute(sql.format(new_id=int(row[0])), update_params)
    assert row is not None
    return int(row[0])
