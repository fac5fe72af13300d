"""What every format reads: a campaign's judgments, filtered once for all of them, in batches of
whole tasks (keyset pages, flat memory), with the messages they judge loaded per batch.

Rows are built from `values_list` tuples, never model instances: an export of a million
judgments spends its time on the rows themselves.
"""

from __future__ import annotations

import contextlib
import gc
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_datetime

from annotation.kinds import kind_for
from annotation.models import (
    Campaign,
    Conversation,
    Judgment,
    JudgmentReview,
    Membership,
    Message,
    Profile,
    Task,
    User,
)
from annotation.selectors import studies as study_selectors
from generation.models import LanguageModel

from ..options import ExportOptions


def _fetch(qs: QuerySet[Any], fields: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows of `qs.values_list(*fields)`, without the ORM's per-value converters: the SQL
    is the ORM's, run on a plain cursor. JSON comes back as text and (on SQLite) datetimes too;
    the callers convert only the columns they read."""
    sql, params = qs.values_list(*fields).query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # psycopg's own C loader: Django's tz-aware one is Python, a few µs per value.
            raw = cursor.cursor
            raw.adapters.register_loader("timestamptz", _pg_timestamptz_loader())
        cursor.execute(sql, params)
        return cursor.fetchall()


def _pg_timestamptz_loader() -> Any:
    import psycopg
    from psycopg.pq import Format

    oid = psycopg.postgres.types["timestamptz"].oid
    return psycopg.adapters.get_loader(oid, Format.TEXT)


def _datetime(value: Any) -> datetime | None:
    """A datetime from the database: aware already (PostgreSQL), or UTC text (SQLite)."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = parse_datetime(value)
    assert parsed is not None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    """JSON from the database: text (a jsonb column, Django's loader) or already decoded."""
    if isinstance(value, str | bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:  # what orjson refuses and json takes (NaN, huge ints)
            return json.loads(value)
    return value


def consent_withdrawn_users(*, campaign: Campaign) -> QuerySet[User]:
    """People who withdrew consent from the campaign: absent from every export, whatever the
    options say.

    Every format reads judgments, profiles and authored messages through ExportContext, which
    asks this function, so this is the one place to change.
    """
    return study_selectors.users_withdrawn(campaign=campaign)


def annotator_pseudonym(*, campaign_id: int, user_pseudonym: str) -> str:
    """A person's id in one campaign's exports: stable across exports of that campaign, different
    in every other campaign, and not reversible without SECRET_KEY (so not a database id or a
    login, and two campaigns' exports cannot be joined on it)."""
    digest = salted_hmac(
        "agora.exports.annotator", f"{campaign_id}:{user_pseudonym}", algorithm="sha256"
    )
    return "u" + digest.hexdigest()[:16]


REVIEW_EXPORTED = (JudgmentReview.Decision.ACCEPTED, JudgmentReview.Decision.CORRECTED)


class J(NamedTuple):
    """One judgment as the formats read it."""

    id: int
    task_id: int
    kind: str
    payload: Any
    annotator_id: int
    profile_version: int | None
    seconds_spent: float | None
    instructions_version: int
    gold_score: float | None
    created_at: datetime
    display_order: list[int]
    parent_id: int | None
    conversation_id: int
    round: int
    # Only for formats that ask for everything (`full=True`), else None.
    leased_at: datetime | None = None
    task_gold: Any = None
    candidate_keys: list[list[Any]] | None = None
    repeat_of: int | None = None
    # Campaigns with a review stage: {"decision", "reviewer", "original_payload"}; `payload`
    # is then the reviewer's correction where there is one.
    review: dict[str, Any] | None = None


# A judgment's own columns, read without joining its task (whose columns come from the page
# of tasks the batch reads first: joining a million-task table per batch costs more).
_J_OWN = (
    "id",
    "task_id",
    "kind",
    "payload",
    "annotator_id",
    "profile_id",
    "seconds_spent",
    "instructions_version",
    "gold_score",
    "created_at",
    "assignment__display_order",
)
_J_OWN_FULL = (*_J_OWN, "assignment__leased_at")
_T_FIELDS = ("id", "parent_id", "conversation_id", "round")
_T_FULL = (*_T_FIELDS, "gold", "candidate_keys", "repeat_of_id")
_new = tuple.__new__  # as Django's named values_list: no Python __new__ per row
# J's columns past the task's, None unless the format reads everything (`full`).
_J_PAD = (None,) * (len(J._fields) - J._fields.index("leased_at"))


def _tasks(rows: list[tuple[Any, ...]], full: bool) -> dict[int, tuple[Any, ...]]:
    """Task id -> the J columns it gives: (parent, conversation, round[, gold, keys, repeat])."""
    if full:
        return {r[0]: (r[1], r[2], r[3], _json(r[4]), _json(r[5]), r[6]) for r in rows}
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
    loads = _json
    out = []
    for r in rows:
        # id, task, kind, payload, annotator, profile, seconds, instr. v., gold score,
        # created_at, display_order [, leased_at]
        task = tasks.get(r[1])
        if task is None:
            continue  # a task the export leaves out (gold, repeat, other round)
        created = _datetime(r[9]) if sqlite else r[9]
        head = (*r[:3], loads(r[3]), r[4], versions[r[5]], *r[6:9], created, loads(r[10]))
        if full:
            leased = _datetime(r[11]) if sqlite else r[11]
            out.append(_new(J, (*head, *task[:3], leased, *task[3:], None)))
        else:
            out.append(_new(J, (*head, *task, *_J_PAD)))
    return out


class M(NamedTuple):
    """One message as the formats read it."""

    id: int
    parent_id: int | None
    role: str
    text: str
    model_id: int | None
    author_id: int | None
    conversation_id: int
    # Only with `full=True`.
    created_at: datetime | None = None
    sampling_params: dict[str, Any] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int | None = None
    finish_reason: str | None = None
    backend: str | None = None
    worker: str | None = None
    round: int | None = None


_M_FIELDS = (
    "id",
    "parent_id",
    "role",
    "text",
    "model_id",
    "author_id",
    "conversation_id",
)
_M_FULL = (
    *_M_FIELDS,
    "created_at",
    "sampling_params",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms",
    "finish_reason",
    "backend",
    "worker",
    "round",
)
_M_PAD = (None,) * (len(_M_FULL) - len(_M_FIELDS))


class C(NamedTuple):
    """One conversation (tree) as the formats read it."""

    id: int
    external_id: str
    origin: str
    prism_type: str
    metadata: dict[str, Any]
    created_by_id: int | None
    created_at: datetime
    tree_state: str  # blank for a campaign without tree rules


_C_FIELDS = (
    "id",
    "external_id",
    "origin",
    "prism_type",
    "metadata",
    "created_by_id",
    "created_at",
    "tree_state",
)


class ModelInfo(NamedTuple):
    name: str
    provider: str  # the model's `settings.provider` if given, else its backend


class ExportContext:
    """One export: the campaign, the options, and what is worth loading once."""

    def __init__(
        self,
        campaign: Campaign,
        options: ExportOptions,
        *,
        progress: Callable[[int], None] | None = None,
    ):
        self.campaign = campaign
        self.options = options
        self.batch_size: int = settings.AGORA_EXPORT_BATCH_SIZE
        self.withdrawn: frozenset[int] = frozenset(
            consent_withdrawn_users(campaign=campaign).values_list("id", flat=True)
        )
        self._progress = progress
        self._pseudonyms: dict[int, str] = {}
        self._profile_versions: dict[int | None, int | None] = {None: None}
        self._models: dict[int, ModelInfo] | None = None

    # --- people -------------------------------------------------------------------------

    def pseudonyms_load(self, user_ids: Iterable[int]) -> None:
        missing = {u for u in user_ids if u not in self._pseudonyms}
        if missing:
            for uid, pseudonym in User.objects.filter(id__in=missing).values_list(
                "id", "pseudonym"
            ):
                self._pseudonyms[uid] = annotator_pseudonym(
                    campaign_id=self.campaign.id, user_pseudonym=pseudonym
                )

    def profile_versions(self, rows: list[tuple[Any, ...]]) -> dict[int | None, int | None]:
        """Profile id -> version, for the raw judgment rows of a page (profiles are few:
        a dict reads faster than a join per row)."""
        versions = self._profile_versions
        missing = {r[5] for r in rows} - versions.keys()
        if missing:
            versions.update(Profile.objects.filter(id__in=missing).values_list("id", "version"))
        return versions

    @property
    def pseudonyms(self) -> Mapping[int, str]:
        """User id -> campaign-scoped pseudonym, for the ids loaded (see person)."""
        return self._pseudonyms

    def person(self, user_id: int | None) -> str | None:
        """The campaign-scoped pseudonym of a user id (call pseudonyms_load first)."""
        if user_id is None:
            return None
        return self._pseudonyms[user_id]

    # --- models -------------------------------------------------------------------------

    @property
    def models(self) -> dict[int, ModelInfo]:
        if self._models is None:
            self._models = {
                mid: ModelInfo(name, str((cfg or {}).get("provider") or backend))
                for mid, name, backend, cfg in LanguageModel.objects.values_list(
                    "id", "name", "backend", "settings"
                )
            }
        return self._models

    def model_name(self, model_id: int | None) -> str | None:
        return None if model_id is None else self.models[model_id].name

    # --- the campaign's kind settings ----------------------------------------------------

    def kind_settings(self, kind: str) -> Any:
        """The campaign's checked settings of this kind (None for a campaign of another kind;
        a tree campaign has the settings of every kind its trees make)."""
        raw = self.campaign.settings
        if self.campaign.task_kind != kind:
            if not self.campaign.tree:
                return None
            raw = dict(self.campaign.tree.get("kinds") or {}).get(kind, {})
        # Through JSON: a campaign just created holds tuples where the database gives lists.
        raw = json.loads(json.dumps(raw))
        return kind_for(kind).settings(raw)

    # --- progress -----------------------------------------------------------------------

    def advance(self, n: int) -> None:
        if self._progress is not None and n:
            self._progress(n)

    # --- judgments ----------------------------------------------------------------------

    def _wanted(self, kinds: Sequence[str]) -> list[str]:
        return [k for k in kinds if not self.options.kinds or k in self.options.kinds]

    def tasks(self, kinds: Sequence[str]) -> QuerySet[Task]:
        """The campaign's tasks this export may read judgments of."""
        o = self.options
        qs = Task.objects.filter(campaign=self.campaign, kind__in=self._wanted(kinds))
        if not o.include_gold:
            qs = qs.filter(gold__isnull=True)
        if not o.include_repeats:
            qs = qs.filter(repeat_of__isnull=True)
        if o.round is not None:
            qs = qs.filter(round=o.round)
        return qs

    def _own_judgments(self, kinds: Sequence[str]) -> QuerySet[Judgment]:
        """The filters on judgments themselves (tasks are filtered by `tasks`)."""
        o = self.options
        qs = Judgment.objects.filter(campaign=self.campaign, kind__in=self._wanted(kinds))
        if not o.include_gold:
            qs = qs.filter(gold_score__isnull=True)
        if o.since:
            qs = qs.filter(created_at__gte=o.since)
        if o.until:
            qs = qs.filter(created_at__lt=o.until)
        # The people held out are few: a list reads faster than a subquery per row.
        held_out = set(self.withdrawn)
        if not o.include_flagged:
            held_out |= set(
                Membership.objects.filter(campaign=self.campaign, is_flagged=True).values_list(
                    "user_id", flat=True
                )
            )
        if held_out:
            qs = qs.exclude(annotator_id__in=sorted(held_out))
        if self.campaign.review_stage:
            # Only what a reviewer accepted or corrected leaves a campaign with a review stage.
            qs = qs.filter(review__decision__in=REVIEW_EXPORTED)
        return qs

    def reviewed(self, judgments: list[J]) -> list[J]:
        """With a review stage: each judgment with its review, the correction as payload."""
        if not self.campaign.review_stage or not judgments:
            return judgments
        reviews = {
            jid: (decision, correction, reviewer_id)
            for jid, decision, correction, reviewer_id in JudgmentReview.objects.filter(
                judgment_id__in=[j.id for j in judgments]
            ).values_list("judgment_id", "decision", "correction", "reviewer_id")
        }
        self.pseudonyms_load({r[2] for r in reviews.values()})
        out = []
        for j in judgments:
            decision, correction, reviewer_id = reviews[j.id]
            review = {
                "decision": decision,
                "reviewer": self.person(reviewer_id),
                "original_payload": j.payload if correction is not None else None,
            }
            payload = j.payload if correction is None else correction
            out.append(j._replace(payload=payload, review=review))
        return out

    def judgments(self, kinds: Sequence[str]) -> QuerySet[Judgment]:
        """The campaign's judgments that this export may read, of the kinds the format reads."""
        return self._own_judgments(kinds).filter(task__in=self.tasks(kinds))

    def judgments_count(self, kinds: Sequence[str]) -> int:
        return self.judgments(kinds).count()

    def batches_by_task(self, kinds: Sequence[str], *, full: bool = False) -> Iterator[Batch]:
        """Every judgment of whole tasks at a time, by task then judgment id."""
        own = self._own_judgments(kinds)
        tasks = self.tasks(kinds).order_by("id")
        t_fields, j_fields = (_T_FULL, _J_OWN_FULL) if full else (_T_FIELDS, _J_OWN)
        batch_size = self.batch_size

        def pages() -> Iterator[_Page]:
            last = 0
            while page := _fetch(tasks.filter(id__gt=last)[:batch_size], t_fields):
                first, last = last, page[-1][0]
                rows = own.filter(task_id__gt=first, task_id__lte=last).order_by("task_id", "id")
                raw = _fetch(rows, j_fields)
                versions = self.profile_versions(raw)
                judgments = self.reviewed(_judgments(raw, _tasks(page, full), versions, full))
                yield _Page.load(judgments, {j.conversation_id for j in judgments}, full)

        for page in _pages(pages()):
            if page.judgments:
                yield Batch(self, page)
            self.advance(len(page.judgments))

    def batches_by_conversation(
        self, kinds: Sequence[str], *, full: bool = False
    ) -> Iterator[Batch]:
        """Every conversation of the campaign, a page at a time, with every judgment of its
        tasks (by conversation, task, judgment); progress counts conversations."""
        own = self._own_judgments(kinds)
        tasks = self.tasks(kinds)
        conversations = Conversation.objects.filter(campaign=self.campaign).order_by("id")
        t_fields, j_fields = (_T_FULL, _J_OWN_FULL) if full else (_T_FIELDS, _J_OWN)
        batch_size = self.batch_size

        def pages() -> Iterator[_Page]:
            last = 0
            while ids := list(
                conversations.filter(id__gt=last).values_list("id", flat=True)[:batch_size]
            ):
                first, last = last, ids[-1]
                task_rows = _fetch(
                    tasks.filter(conversation_id__gt=first, conversation_id__lte=last), t_fields
                )
                judgments: list[J] = []
                if task_rows:
                    rows, _ = _in_ids(own, "task_id", sorted(r[0] for r in task_rows))
                    raw = _fetch(rows, j_fields)
                    versions = self.profile_versions(raw)
                    judgments = self.reviewed(
                        _judgments(raw, _tasks(task_rows, full), versions, full)
                    )
                    judgments.sort(key=lambda j: (j.conversation_id, j.task_id, j.id))
                yield _Page.load(judgments, ids, full)

        for page in _pages(pages()):
            yield Batch(self, page)
            self.advance(len(page.conversation_ids))


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
    written: at 700 the collector walked them again every few rows, promoted them to the
    oldest generation, and then walked them with the whole heap (Django's and pyarrow's
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


class Batch:
    """A batch of judgments and every message of their conversations."""

    def __init__(self, ctx: ExportContext, page: _Page):
        self.ctx = ctx
        self.judgments = page.judgments
        self.conversation_ids = page.conversation_ids
        self.messages = page.messages
        self.conversations = page.conversations
        ctx.pseudonyms_load({j.annotator_id for j in self.judgments})
        ctx.pseudonyms_load({m.author_id for m in self.messages.values() if m.author_id})
        self._paths: dict[int | None, list[M]] = {None: []}
        self._chats: dict[int | None, list[dict[str, str]]] = {}
        self._replies: dict[int, list[dict[str, str]]] = {}

    def path(self, message_id: int | None) -> list[M]:
        """The messages from the root to this one (cached: a batch's tasks share parents)."""
        path = self._paths.get(message_id)
        if path is None:
            assert message_id is not None
            m = self.messages[message_id]
            path = [*self.path(m.parent_id), m]
            self._paths[message_id] = path
        return path

    def chat(self, message_id: int | None) -> list[dict[str, str]]:
        """The path as TRL's conversational messages; one shared list per message."""
        chat = self._chats.get(message_id)
        if chat is None:
            chat = [{"role": m.role, "content": m.text} for m in self.path(message_id)]
            self._chats[message_id] = chat
        return chat

    def external_id(self, conversation_id: int) -> str | None:
        return self.conversations[conversation_id].external_id or None

    def reply(self, message_id: int) -> list[dict[str, str]]:
        """One message as a one-message conversation (TRL's chosen / rejected / completion);
        one shared list per message."""
        reply = self._replies.get(message_id)
        if reply is None:
            m = self.messages[message_id]
            reply = [{"role": m.role, "content": m.text}]
            self._replies[message_id] = reply
        return reply

    def withdrawn(self, *message_ids: int | None) -> bool:
        """Whether any of these messages, or their context, was written by someone who
        withdrew consent."""
        if not self.ctx.withdrawn:
            return False
        return any(m.author_id in self.ctx.withdrawn for mid in message_ids for m in self.path(mid))


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
        r[0]: _new(C, (*r[:4], _json(r[4]), r[5], _datetime(r[6]), r[7]))
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
        r[0]: _new(M, (*r[:7], _datetime(r[7]) if sqlite else r[7], _json(r[8]), *r[9:]))
        for r in rows
    }


def review_columns(j: J) -> dict[str, Any]:
    """A reviewed judgment's decision and, where a reviewer corrected it, the annotator's own
    payload as JSON text (the row itself follows the correction); null without a review stage."""
    if j.review is None:
        return {"review_decision": None, "original_payload": None}
    original = j.review["original_payload"]
    return {
        "review_decision": j.review["decision"],
        "original_payload": None
        if original is None
        else json.dumps(original, ensure_ascii=False, sort_keys=True),
    }


def system_text(chat: list[dict[str, str]]) -> str | None:
    """The system message the models saw, if the conversation has one (it is also the first
    message of the prompt)."""
    return chat[0]["content"] if chat and chat[0]["role"] == "system" else None


def plain_text(chat: list[dict[str, str]]) -> str:
    """A conversation as one string: the user's text alone for a single user message, else
    each message as `role: content`, separated by blank lines."""
    if len(chat) == 1 and chat[0]["role"] == "user":
        return chat[0]["content"]
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in chat)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
