"""Every raw SQL statement of the annotation loop's hot path (next task, submit) and of the
study quota gate, as named functions; the same text on PostgreSQL and SQLite.

Next task and submit run hundreds of times an hour per annotator; building their statements
with the ORM cost more CPU than the database spent answering them. The statements below are
standard SQL; only the row-lock clause differs by database. The services keep the rules (what
to check, which error to raise, in which order) and call these for the statements.

Rows come back as NamedTuples, their JSON decoded and their datetimes aware. A model instance
made from some of a row's columns comes from `unsaved_partial`, which refuses to be saved.
The value adapters (json_in/json_out, datetime_in/datetime_out, pg_timestamptz_loader) are
also those of the exports' page reads (exports/formats/pages.py).
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NamedTuple, NoReturn, TypeVar

import orjson
from django.db import connection, models
from django.utils.dateparse import parse_datetime

from annotation.models import (
    Assignment,
    Campaign,
    Judgment,
    Membership,
    Message,
    Profile,
    QuotaCell,
    Study,
    Task,
    TaskCandidate,
)

ASSIGNMENT = Assignment._meta.db_table
CAMPAIGN = Campaign._meta.db_table
JUDGMENT = Judgment._meta.db_table
MEMBERSHIP = Membership._meta.db_table
MESSAGE = Message._meta.db_table
PROFILE = Profile._meta.db_table
QUOTA_CELL = QuotaCell._meta.db_table
STUDY = Study._meta.db_table
TASK = Task._meta.db_table
TASK_CANDIDATE = TaskCandidate._meta.db_table


# Cursors: one style for every statement here.


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
        raw = base.ServerBindingCursor(connection.connection)  # type: ignore[attr-defined]  # psycopg backend only
        return connection._prepare_cursor(raw)  # type: ignore[attr-defined]  # not in django-stubs


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


def _insert_then(insert: str, params: list[Any], *updates: tuple[str, list[Any]]) -> int:
    """Run `INSERT ... RETURNING id`, then the UPDATEs that go with it; returns the new id.
    An UPDATE names the new row's id as `{new_id}`.

    On PostgreSQL all of it is one statement (a data-modifying WITH): one round trip to the
    server instead of one per statement, and the same rows locked and the same constraints
    checked. Elsewhere, one statement each, in order.
    """
    return _insert_then_read(insert, params, *updates)[0]


def _insert_then_read(
    insert: str,
    params: list[Any],
    *updates: tuple[str, list[Any]],
    read: tuple[str, list[Any]] | None = None,
) -> tuple[int, list[tuple[Any, ...]]]:
    """_insert_then, and the rows of the SELECT `read` after it, in the same statement on
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


# Values in and out.


def json_in(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def json_out(value: Any) -> Any:
    """JSON from the database: text (jsonb comes through Django's text loader; SQLite keeps
    text) or already decoded."""
    if isinstance(value, str | bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:  # what orjson refuses and json takes (NaN, huge ints)
            return json.loads(value)
    return value


def datetime_in(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def datetime_out(value: Any) -> datetime | None:
    """A datetime from the database, aware. PostgreSQL's are already; SQLite keeps UTC without
    an offset, which Django's connection parses into a naive datetime (text where a column's
    type is not declared)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if value is None:
        return None
    parsed = parse_datetime(value)
    assert parsed is not None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@functools.cache
def pg_timestamptz_loader() -> Any:
    """psycopg's own timestamptz loader, for reads of many rows on a plain cursor (exports):
    it is C (psycopg[binary]) where Django's tz-aware one is Python, a few µs per value. Its
    datetimes are aware, in the connection's time zone."""
    import psycopg
    from psycopg.pq import Format

    oid = psycopg.postgres.types["timestamptz"].oid
    return psycopg.adapters.get_loader(oid, Format.TEXT)


# Rows and partial instances.


def _select(fields: tuple[str, ...], **columns: str) -> str:
    """The SELECT list of a row type: each field's SQL expression, in the row's field order.
    Checked when the module loads, so that no column can land in another field."""
    if tuple(columns) != fields:
        raise TypeError(f"columns {tuple(columns)} are not the row's fields {fields}")
    return ", ".join(columns.values())


_M = TypeVar("_M", bound=models.Model)


def unsaved_partial(model: type[_M], /, **fields: Any) -> _M:
    """A `model` instance standing for an existing row of which only `fields` were read; its
    other fields hold their defaults, not the row's values. Its save() and delete() raise
    (TypeError): saving would write those defaults over the row. Read the row with the ORM to
    change it. (QuerySet.bulk_update does not call save() and is not guarded.)"""
    instance = model(**fields)
    refuse = functools.partial(_partial_refuses, model._meta.label)
    instance.__dict__.update(save=refuse, delete=refuse)
    return instance


def _partial_refuses(label: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(
        f"This {label} holds only some columns of its row (annotation.db.unsaved_partial):"
        " saving or deleting it would write defaults over the others."
    )


# Next task (services.leasing.task_lease_next).


class MemberRow(NamedTuple):
    """A member's row, with their campaign's and their current lease's columns."""

    id: int
    is_blocked: bool
    placements: dict[str, list[int]]
    campaign_state: str
    lease_seconds: int
    settings: Any
    instructions_version: int
    task_kind: str
    current_id: int | None  # the member's current lease, as the lock found it
    current_state: str | None  # None with a current_id: written while this statement waited
    routing: str
    repeat_share: float
    tree: dict[str, Any]
    stage: str
    quota_cells: list[str]
    quotas: dict[str, Any]


_MEMBER_COLUMNS = _select(
    MemberRow._fields,
    id="m.id",
    is_blocked="m.is_blocked",
    placements="m.placements",
    campaign_state="c.state",
    lease_seconds="c.lease_seconds",
    settings="c.settings",
    instructions_version="c.instructions_version",
    task_kind="c.task_kind",
    current_id="m.current_assignment_id",
    current_state="a.state",
    routing="c.routing",
    repeat_share="c.repeat_share",
    tree="c.tree",
    stage="m.stage",
    quota_cells="m.quota_cells",
    quotas="c.quotas",
)


def member_for_lease(*, campaign_id: int, user_id: int) -> MemberRow | None:
    """The member's row with its campaign and current lease, locked so that one person's
    concurrent requests take turns; None if they are not a member.

    A statement that waited for the lock reads the member's row as the holder left it, but
    the joined rows as they were when the statement began (PostgreSQL re-reads only the
    locked row): a lease the holder wrote meanwhile comes back as `current_id` with no
    `current_state`, and the caller must read it afresh."""
    row = fetchone(
        f"SELECT {_MEMBER_COLUMNS}"
        f" FROM {MEMBERSHIP} m JOIN {CAMPAIGN} c ON c.id = m.campaign_id"
        f" LEFT JOIN {ASSIGNMENT} a ON a.id = m.current_assignment_id"
        " WHERE m.campaign_id = %s AND m.user_id = %s" + for_update(of="m"),
        [campaign_id, user_id],
    )
    if row is None:
        return None
    member = MemberRow._make(row)
    return member._replace(
        placements=json_out(member.placements) or {},
        settings=json_out(member.settings),
        tree=json_out(member.tree) or {},
        quota_cells=json_out(member.quota_cells) or [],
        quotas=json_out(member.quotas) or {},
    )


class Pick(Enum):
    """Which open tasks a pick looks among, and in which order (services.leasing)."""

    # Every open task, fewest judgments first counting the leases out: a task someone holds
    # waits behind the tasks nobody has (breadth first), read from task_open_by_load.
    DEFAULT = "default"
    PLANNED = "planned"  # those the routing plan ranks (Task.priority > 0), highest first
    TREE = "tree"  # a tree campaign's: highest priority first, none over one's own message


_NOT_OWN = (
    f" AND NOT EXISTS (SELECT 1 FROM {TASK_CANDIDATE} tc JOIN {MESSAGE} m ON m.id = tc.message_id"
    f"                 WHERE tc.task_id = t.id AND m.author_id = %s)"
)
# (extra condition, order) of each pick. PLANNED reads the rows of the partial index
# task_open_by_priority. TREE binds the annotator a second time, for _NOT_OWN.
_PICKS = {
    Pick.DEFAULT: ("", "t.judgments_count + t.leased_count, t.id"),
    Pick.PLANNED: (" AND t.priority > 0", "t.priority DESC, t.id"),
    Pick.TREE: (_NOT_OWN, "t.priority DESC, t.id"),
}


class TaskRow(NamedTuple):
    """A picked task, as much of it as a lease needs."""

    id: int
    conversation_id: int
    parent_id: int | None
    kind: str
    candidate_keys: list[list[Any]]


_TASK_COLUMNS = _select(
    TaskRow._fields,
    id="t.id",
    conversation_id="t.conversation_id",
    parent_id="t.parent_id",
    kind="t.kind",
    candidate_keys="t.candidate_keys",
)


def task_pick(*, campaign_id: int, annotator_id: int, pick: Pick, lock: bool) -> TaskRow | None:
    """The first task of `pick` that is open, short of its overlap counting live leases, and
    never leased to this annotator. With `lock`, the row is locked, skipping rows others hold
    (PostgreSQL); without, this only looks."""
    extra, order = _PICKS[pick]
    row = fetchone(
        f"SELECT {_TASK_COLUMNS} FROM {TASK} t"
        # The state is written into the statement, not bound: a prepared statement's
        # generic plan can then use the index of open tasks (a partial index).
        f" WHERE t.campaign_id = %s AND t.state = '{Task.State.OPEN}'"
        f" AND t.judgments_count < t.overlap - t.leased_count"
        f" AND NOT EXISTS (SELECT 1 FROM {ASSIGNMENT} a"
        f"                 WHERE a.task_id = t.id AND a.annotator_id = %s)"
        f"{extra} ORDER BY {order} LIMIT 1"
        + (for_update(of="t", skip_locked=True) if lock else ""),
        [campaign_id, annotator_id] + ([annotator_id] if pick is Pick.TREE else []),
    )
    if row is None:
        return None
    task = TaskRow._make(row)
    return task._replace(candidate_keys=json_out(task.candidate_keys))


def lease_insert(
    *,
    task_id: int,
    campaign_id: int,
    annotator_id: int,
    leased_at: datetime,
    expires_at: datetime,
    display_order: list[int],
    member_id: int,
    placements: dict[str, list[int]],
    conversation_id: int,
) -> tuple[int, list[Message]]:
    """Write a lease: the active assignment, one more live lease on its task, and the member's
    placements and current lease; and read the task's messages (one statement on PostgreSQL).
    Returns (the assignment's id, the messages as task_messages gives them)."""
    assignment_id, rows = _insert_then_read(
        f"INSERT INTO {ASSIGNMENT} (task_id, campaign_id, annotator_id, state, leased_at,"
        " expires_at, display_order, skip_reason) VALUES (%s, %s, %s, %s, %s, %s, %s, '')"
        " RETURNING id",
        [task_id, campaign_id, annotator_id, Assignment.State.ACTIVE, datetime_in(leased_at),
         datetime_in(expires_at), json_in(display_order)],
        (f"UPDATE {TASK} SET leased_count = leased_count + 1 WHERE id = %s", [task_id]),
        (f"UPDATE {MEMBERSHIP} SET placements = %s, current_assignment_id = {{new_id}}"
         " WHERE id = %s", [json_in(placements), member_id]),
        read=(task_messages_sql(), [conversation_id]),
    )  # fmt: skip
    return assignment_id, _messages(rows)


# What a task shows of its tree's messages (selectors.task_view), in the model's field order
# as Model.from_db takes it: read with the lease that hands the task out.
@functools.cache
def _message_fields() -> list[Any]:
    keep = ("id", "parent_id", "role", "text", "metadata")
    return [f for f in Message._meta.concrete_fields if f.attname in keep]


@functools.cache
def task_messages_sql() -> str:
    columns = ", ".join(f.column for f in _message_fields())
    return f"SELECT {columns} FROM {MESSAGE} WHERE conversation_id = %s"


def task_messages(conversation_id: int) -> list[Message]:
    """The messages of a task's tree, the other fields deferred as `.only()` leaves them."""
    return _messages(fetchall(task_messages_sql(), [conversation_id]))


def _messages(rows: list[tuple[Any, ...]]) -> list[Message]:
    names = [f.attname for f in _message_fields()]
    metadata = names.index("metadata")
    messages = []
    for row in rows:
        values = list(row)
        values[metadata] = json_out(values[metadata])
        messages.append(Message.from_db("default", names, values))
    return messages


# Submit (services.judging.judgment_submit).


class SubmitRow(NamedTuple):
    """A lease with what storing its judgment needs of its task, campaign and annotator."""

    annotator_id: int
    state: str
    expires_at: datetime
    display_order: list[int]
    task_id: int
    campaign_id: int
    kind: str
    gold: Any
    settings: Any
    instructions_version: int
    tree: Any
    campaign_state: str
    profile_id: int | None  # the annotator's latest profile


_SUBMIT_COLUMNS = _select(
    SubmitRow._fields,
    annotator_id="a.annotator_id",
    state="a.state",
    expires_at="a.expires_at",
    display_order="a.display_order",
    task_id="a.task_id",
    campaign_id="a.campaign_id",
    kind="t.kind",
    gold="t.gold",
    settings="c.settings",
    instructions_version="c.instructions_version",
    tree="c.tree",
    campaign_state="c.state",
    profile_id=f"(SELECT p.id FROM {PROFILE} p WHERE p.user_id = a.annotator_id"
    "  ORDER BY p.version DESC LIMIT 1)",
)


def assignment_for_submit(*, assignment_id: int) -> SubmitRow | None:
    """The lease, locked, with its task's and campaign's columns; None if there is none.
    Where the statement waited for the lease's lock, the lease is read as its holder left it
    and the campaign as it was when the statement began."""
    row = fetchone(
        f"SELECT {_SUBMIT_COLUMNS}"
        f" FROM {ASSIGNMENT} a JOIN {TASK} t ON t.id = a.task_id"
        f" JOIN {CAMPAIGN} c ON c.id = a.campaign_id"
        " WHERE a.id = %s" + for_update(of="a"),
        [assignment_id],
    )
    if row is None:
        return None
    lease = SubmitRow._make(row)
    expires_at = datetime_out(lease.expires_at)
    assert expires_at is not None  # a NOT NULL column
    return lease._replace(
        expires_at=expires_at,
        display_order=json_out(lease.display_order),
        gold=json_out(lease.gold),
        settings=json_out(lease.settings),
        tree=json_out(lease.tree),
    )


def judgment_insert(judgment: Judgment) -> int:
    """Store `judgment` (not yet saved; its created_at is also the lease's finish) and close
    its lease: the assignment submitted, and the task one judgment further (complete at its
    overlap) with one live lease less; one statement on PostgreSQL. Returns the new id."""
    j = judgment
    return _insert_then(
        f"INSERT INTO {JUDGMENT} (assignment_id, task_id, campaign_id, annotator_id,"
        " profile_id, kind, payload, seconds_spent, idempotency_key, instructions_version,"
        " gold_score, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING id",
        [j.assignment_id, j.task_id, j.campaign_id, j.annotator_id, j.profile_id, j.kind,
         json_in(j.payload), j.seconds_spent, j.idempotency_key, j.instructions_version,
         j.gold_score, datetime_in(j.created_at)],
        (f"UPDATE {ASSIGNMENT} SET state = %s, finished_at = %s WHERE id = %s",
         [Assignment.State.SUBMITTED, datetime_in(j.created_at), j.assignment_id]),
        (f"UPDATE {TASK} SET judgments_count = judgments_count + 1,"
         " leased_count = leased_count - 1,"
         " state = CASE WHEN judgments_count + 1 >= overlap THEN %s ELSE state END"
         " WHERE id = %s", [Task.State.COMPLETE, j.task_id]),
    )  # fmt: skip


# The study quota gate (services.studies.gate and .quotas), on a participant's lease.


class StudyLimitRow(NamedTuple):
    """A study's task limit, with the participant's count against it."""

    tasks_per_participant: int  # 0: no limit
    taken: int  # the participant's submitted leases in the campaign, and live ones


_STUDY_LIMIT_COLUMNS = _select(
    StudyLimitRow._fields,
    tasks_per_participant="s.tasks_per_participant",
    taken=f"(SELECT COUNT(*) FROM {ASSIGNMENT} a"
    "  WHERE a.campaign_id = s.campaign_id AND a.annotator_id = %s"
    "  AND (a.state = %s OR (a.state = %s AND a.expires_at > %s)))",
)


def study_limit(*, campaign_id: int, annotator_id: int, now: datetime) -> StudyLimitRow | None:
    """The study's task limit and how many tasks the participant took: submitted, or leased
    and not run out at `now` (each may still become a judgment); None where the campaign is
    not a study."""
    row = fetchone(
        f"SELECT {_STUDY_LIMIT_COLUMNS} FROM {STUDY} s WHERE s.campaign_id = %s",
        [annotator_id, Assignment.State.SUBMITTED, Assignment.State.ACTIVE, datetime_in(now),
         campaign_id],
    )  # fmt: skip
    return None if row is None else StudyLimitRow._make(row)


def quota_leased(*, campaign_id: int) -> dict[str, int]:
    """The tasks leased to each quota cell of the campaign so far, by the cell's key."""
    rows = fetchall(f"SELECT key, leased FROM {QUOTA_CELL} WHERE campaign_id = %s", [campaign_id])
    return dict(rows)


def quota_leased_add(*, campaign_id: int, cells: list[str]) -> None:
    """One more task leased to each of these cells (at least one)."""
    marks = ", ".join(["%s"] * len(cells))
    execute(
        f"UPDATE {QUOTA_CELL} SET leased = leased + 1 WHERE campaign_id = %s AND key IN ({marks})",
        [campaign_id, *cells],
    )


def tasks_open_slots(*, campaign_id: int, up_to: int) -> int:
    """The free slots (overlap less judgments and live leases) of the campaign's open tasks,
    summed over at most `up_to` tasks that have one: the whole count when it is below
    `up_to`, else a lower bound of at least `up_to`, without reading every open task."""
    row = fetchone(
        "SELECT COALESCE(SUM(free), 0) FROM (SELECT overlap - judgments_count - leased_count"
        f" AS free FROM {TASK} WHERE campaign_id = %s AND state = %s"
        " AND judgments_count < overlap - leased_count LIMIT %s) open_tasks",
        [campaign_id, Task.State.OPEN, up_to],
    )
    assert row is not None  # an aggregate has a row
    return int(row[0])
