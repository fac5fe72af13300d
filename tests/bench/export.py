"""`make bench-export`: export rate and memory with a million judgments in PostgreSQL.

Sets itself up (a fresh database of its own, a pairwise campaign of 250,000 tasks judged by 4
of 500 annotators each = 1,000,000 judgments, bulk-loaded with COPY), then exports the
`preference` format as JSON Lines and as Parquet, each in a fresh process, and prints one JSON
line per measurement: judgments read per second, rows written, and the growth of the process's
peak RSS while exporting (the high-water mark is reset just before, so imports do not count).

Target (issue 7): at least 50,000 judgments/s and RSS growth under 100 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from tests.bench.common import (
    PY,
    ROOT,
    bench_database_url,
    emit,
    env_for,
    manage,
    recreate_database,
    words,
)

OUT = ROOT / "var" / "bench" / "exports"


def export_database_url() -> str:
    """A database apart from `make bench`'s, on the same server: its name with `_export`
    (`agora_bench_export` by default; BENCH_DATABASE_URL names another)."""
    parts = urlsplit(bench_database_url())
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_export"))


# --- seeding ----------------------------------------------------------------------------------


def _tsv(value: object) -> str:
    """A value in PostgreSQL's COPY text format (the generated texts hold no tabs, newlines
    or backslashes, so only NULL and booleans need care)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def after_copy(*, analyze: str) -> None:
    """After COPY wrote ids itself: each table's id sequence goes on from the largest id, and
    the planner's statistics are gathered (`ANALYZE`, or `VACUUM ANALYZE`) as autovacuum would
    after a bulk load."""
    from django.db import connection

    from annotation.models import (
        Assignment,
        Conversation,
        Judgment,
        Message,
        Task,
        TaskCandidate,
    )

    with connection.cursor() as cur:
        for model in (Conversation, Message, Task, TaskCandidate, Assignment, Judgment):
            table = model._meta.db_table
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cur.execute(analyze)


class Copier:
    """COPY rows into a model's table: every concrete column, defaults where a row says
    nothing (Django keeps defaults in Python, not in the database)."""

    def __init__(self, conn: object, model: type) -> None:
        self.conn = conn
        self.table = model._meta.db_table  # type: ignore[attr-defined]
        fields = model._meta.concrete_fields  # type: ignore[attr-defined]
        self.columns = [f.column for f in fields]
        self.defaults = [_tsv(None if f.primary_key else f.get_default()) for f in fields]
        self.index = {c: i for i, c in enumerate(self.columns)}

    def copy(self, rows: object, *, block: int = 50_000) -> int:
        cols = ", ".join(f'"{c}"' for c in self.columns)
        n = 0
        buf = io.StringIO()
        with self.conn.cursor() as cur, cur.copy(f"COPY {self.table} ({cols}) FROM STDIN") as cp:  # type: ignore[attr-defined]
            for row in rows:  # type: ignore[attr-defined]
                line = list(self.defaults)
                for column, value in row.items():
                    line[self.index[column]] = _tsv(value)
                buf.write("\t".join(line))
                buf.write("\n")
                n += 1
                if n % block == 0:
                    cp.write(buf.getvalue())
                    buf = io.StringIO()
            cp.write(buf.getvalue())
        return n


def seed(args: argparse.Namespace) -> None:
    """Runs in a process with Django set up on the bench database."""
    import django

    django.setup()
    import psycopg

    from annotation.models import (
        Assignment,
        Conversation,
        Judgment,
        Membership,
        Message,
        Profile,
        Task,
        TaskCandidate,
        User,
    )
    from annotation.services import campaign_create, membership_add
    from generation.models import LanguageModel

    t0 = time.perf_counter()
    rng = random.Random(7)
    admin = User.objects.create_user("bench-admin", is_staff=True)
    campaign = campaign_create(
        name="Export bench",
        slug="export-bench",
        created_by=admin,
        overlap=args.overlap,
        state="open",
        settings={"strength_levels": 2},
    )
    membership_add(campaign=campaign, user=admin, role=Membership.Role.ADMIN)
    users = User.objects.bulk_create(
        [User(username=f"annotator{i:03d}", password="!") for i in range(args.annotators)]
    )
    Membership.objects.bulk_create(
        [Membership(campaign=campaign, user=u, is_flagged=(i == 0)) for i, u in enumerate(users)]
    )
    profiles = Profile.objects.bulk_create(
        [Profile(user=u, version=1, answers={"age": "25-34 years old"}) for u in users]
    )
    model_a = LanguageModel.objects.create(name="bench-a")
    model_b = LanguageModel.objects.create(name="bench-b")
    now = datetime(2025, 1, 1, tzinfo=UTC)
    tasks, overlap = args.tasks, args.overlap
    prompts = [words(20, rng) for _ in range(997)]
    answers = [words(80, rng) for _ in range(1009)]

    dsn = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(scheme="postgresql"))
    with psycopg.connect(dsn) as conn:
        Copier(conn, Conversation).copy(
            {"id": t + 1, "campaign_id": campaign.id, "external_id": f"b{t}", "created_at": now}
            for t in range(tasks)
        )

        # Messages: [system,] user, then two responses; ids by conversation.
        def messages() -> object:
            mid = 0
            for t in range(tasks):
                parent = None
                if t % 10 == 0:
                    mid += 1
                    yield {
                        "id": mid,
                        "conversation_id": t + 1,
                        "role": "system",
                        "text": "You are a helpful assistant.",
                        "created_at": now,
                    }
                    parent = mid
                mid += 1
                yield {
                    "id": mid,
                    "conversation_id": t + 1,
                    "parent_id": parent,
                    "role": "user",
                    "text": prompts[t % len(prompts)],
                    "created_at": now,
                }
                user = mid
                for k, model in enumerate((model_a, model_b)):
                    mid += 1
                    yield {"id": mid, "conversation_id": t + 1, "parent_id": user,
                           "role": "assistant", "text": answers[(2 * t + k) % len(answers)],
                           "model_id": model.id, "backend": "external",
                           "created_at": now}  # fmt: skip

        Copier(conn, Message).copy(messages())

        # Where each task's parent and candidates are, without keeping a million ids around.
        def layout(t: int) -> tuple[int, int, int]:
            before = t * 3 + (t + 9) // 10  # messages of earlier conversations
            user = before + (2 if t % 10 == 0 else 1)
            return user, user + 1, user + 2

        def task_rows() -> object:
            for t in range(tasks):
                user, a, b = layout(t)
                yield {"id": t + 1, "campaign_id": campaign.id, "conversation_id": t + 1,
                       "parent_id": user, "kind": "pairwise", "overlap": overlap,
                       "judgments_count": overlap, "state": "complete",
                       "candidate_keys": [[a, f"m{model_a.id}"], [b, f"m{model_b.id}"]],
                       "created_at": now}  # fmt: skip

        Copier(conn, Task).copy(task_rows())
        Copier(conn, TaskCandidate).copy(
            {"id": 2 * t + k + 1, "task_id": t + 1, "message_id": layout(t)[1 + k],
             "position": k}
            for t in range(tasks) for k in range(2)
        )  # fmt: skip
        step = args.annotators // overlap

        def assignment_rows() -> object:
            for t in range(tasks):
                _, a, b = layout(t)
                for k in range(overlap):
                    i = t * overlap + k
                    at = now + timedelta(seconds=i)
                    yield {"id": i + 1, "task_id": t + 1, "campaign_id": campaign.id,
                           "annotator_id": users[(t + k * step) % args.annotators].id,
                           "state": "submitted", "leased_at": at,
                           "expires_at": at + timedelta(minutes=15),
                           "finished_at": at + timedelta(seconds=20),
                           "display_order": [a, b] if (t + k) % 2 else [b, a]}  # fmt: skip

        Copier(conn, Assignment).copy(assignment_rows())

        def judgment_rows() -> object:
            r = random.Random(11)
            for t in range(tasks):
                _, a, b = layout(t)
                for k in range(overlap):
                    i = t * overlap + k
                    user = (t + k * step) % args.annotators
                    x = r.random()
                    if x < 0.9:
                        win, lose = (b, a) if r.random() < 0.6 else (a, b)
                        payload: dict[str, object] = {
                            "outcome": "preferred",
                            "preferred": win,
                            "rejected": lose,
                            "strength": r.choice((1, 2)),
                        }
                        if x < 0.2:
                            payload["reason"] = "clearer and more accurate"
                    else:
                        payload = {"outcome": "tie" if x < 0.95 else "both_bad"}
                    yield {"id": i + 1, "assignment_id": i + 1, "task_id": t + 1,
                           "campaign_id": campaign.id, "annotator_id": users[user].id,
                           "profile_id": profiles[user].id, "kind": "pairwise",
                           "payload": payload, "seconds_spent": round(5 + 20 * r.random(), 3),
                           "idempotency_key": f"j{i}", "instructions_version": 1,
                           "created_at": now + timedelta(seconds=i + 20)}  # fmt: skip

        judgments = Copier(conn, Judgment).copy(judgment_rows())
        conn.commit()
    after_copy(analyze="ANALYZE")
    emit(
        bench="export_seed",
        campaign=campaign.id,
        tasks=tasks,
        judgments=judgments,
        annotators=args.annotators,
        seconds=round(time.perf_counter() - t0, 1),
    )


# --- measuring --------------------------------------------------------------------------------


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def measure(args: argparse.Namespace) -> None:
    """Runs in a fresh process: one export, timed, with its peak memory."""
    import django

    django.setup()
    from annotation.models import Campaign
    from exports.services import export_write

    campaign = Campaign.objects.get(id=args.campaign)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{args.format}.{args.container}"
    # Warm up imports, connections and the writer on a tiny export (the first minute's
    # judgments: an export with no rows is refused), so that only the export counts.
    first = campaign.judgments.order_by("created_at").values_list("created_at", flat=True)[0]
    until = (first + timedelta(minutes=1)).isoformat()
    export_write(campaign=campaign, fmt=args.format, container=args.container,
                 path=path, options={"until": until})  # fmt: skip
    judgments = campaign.judgments.count()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        reset = True
    except OSError:
        reset = False
    before = _rss_kb("VmRSS")
    t0 = time.perf_counter()
    result = export_write(campaign=campaign, fmt=args.format, container=args.container, path=path)
    seconds = time.perf_counter() - t0
    peak = _rss_kb("VmHWM")
    emit(
        bench="export",
        format=args.format,
        container=args.container,
        judgments=judgments,
        rows=result.rows,
        seconds=round(seconds, 2),
        judgments_per_s=round(judgments / seconds),
        rows_per_s=round(result.rows / seconds),
        rss_before_mb=round(before / 1024, 1),
        rss_growth_mb=round((peak - before) / 1024, 1),
        peak_reset=reset,
        file_mb=round(path.stat().st_size / 2**20, 1),
        batch_size=int(os.environ.get("AGORA_EXPORT_BATCH_SIZE", 1000)),
    )


def main(args: argparse.Namespace) -> None:
    url = export_database_url()
    env = env_for(url, DJANGO_SETTINGS_MODULE="webapp.settings")
    if not args.reuse_db:
        recreate_database(url)
        manage(env, "migrate", "--noinput")
        seeded = subprocess.run(
            [PY, "-m", "tests.bench.export", "seed", "--tasks", str(args.tasks),
             "--overlap", str(args.overlap), "--annotators", str(args.annotators)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        print(seeded.stdout, end="", flush=True)
    find = (
        "from annotation.models import Campaign; "
        "print(Campaign.objects.get(slug='export-bench').id)"
    )
    campaign = manage(env, "shell", "-c", find).split()[-1]
    for fmt in args.formats:
        for container in args.containers:
            out = subprocess.run(
                [PY, "-m", "tests.bench.export", "measure", "--campaign", campaign,
                 "--format", fmt, "--container", container],
                cwd=ROOT, env=env, check=True, capture_output=True, text=True,
            )  # fmt: skip
            print(out.stdout, end="", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("step", nargs="?", default="all", choices=["all", "seed", "measure"])
    p.add_argument("--tasks", type=int, default=250_000)
    p.add_argument("--overlap", type=int, default=4)
    p.add_argument("--annotators", type=int, default=500)
    p.add_argument("--formats", nargs="+", default=["preference"])
    p.add_argument("--containers", nargs="+", default=["jsonl", "parquet"])
    p.add_argument("--reuse-db", action="store_true", help="skip the fresh database and seed")
    p.add_argument("--campaign", type=int)
    p.add_argument("--format", default="preference")
    p.add_argument("--container", default="jsonl")
    a = p.parse_args()
    sys.setrecursionlimit(10_000)
    {"all": main, "seed": seed, "measure": measure}[a.step](a)
