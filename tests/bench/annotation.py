"""`make bench`: annotation throughput and latency under closed-loop load, and the task page.

Sets itself up (a fresh PostgreSQL database, 10,000 pairwise tasks, 64 annotators with tokens,
overlap 3), serves Agora with gunicorn and DEBUG off on loopback, drives C closed-loop
annotators from a second process, and prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import urllib.request
from http.cookiejar import CookieJar
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg

from tests.bench.common import (
    PY,
    ROOT,
    bench_database_url,
    emit,
    env_for,
    gunicorn,
    manage,
    percentile,
    recreate_database,
)

INTEGRITY_SQL = {
    "tasks_over_overlap": """
        SELECT count(*) FROM annotation_task t
        WHERE (SELECT count(*) FROM annotation_judgment j WHERE j.task_id = t.id) > t.overlap
    """,
    "task_counters_wrong": """
        SELECT count(*) FROM annotation_task t
        WHERE t.judgments_count <> (SELECT count(*) FROM annotation_judgment j
                                    WHERE j.task_id = t.id)
    """,
    "annotator_task_twice": """
        SELECT count(*) FROM (SELECT task_id, annotator_id FROM annotation_judgment
                              GROUP BY 1, 2 HAVING count(*) > 1) d
    """,
}


def judgments_stored(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM annotation_judgment").fetchone()[0]


def integrity(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {k: conn.execute(sql).fetchone()[0] for k, sql in INTEGRITY_SQL.items()}


def vacuum(dsn: str) -> None:
    """Clear the dead row versions the previous level left, as autovacuum would in
    production (migration 0010 tunes it for these tables; this machine's server may run with
    autovacuum off, and 20 s is shorter than its one-minute nap)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "VACUUM (ANALYZE) annotation_task, annotation_assignment, annotation_membership"
        )


def run_load(base: str, tokens: str, campaign: int, c: int, duration: float) -> dict:
    out = subprocess.run(
        [PY, "-m", "tests.bench.loadgen", "--base", base, "--tokens", tokens,
         "--campaign", str(campaign), "--concurrency", str(c), "--duration", str(duration)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def page_bench(base: str, campaign: int, n: int = 200) -> None:
    """The task page an annotator sees: server time and what it costs to transfer."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = opener.open(base + "/accounts/login/")
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    login.read()
    body = urlencode(
        {"username": "annotator63", "password": "bench-password", "csrfmiddlewaretoken": csrf}
    ).encode()
    opener.open(urllib.request.Request(base + "/accounts/login/", data=body)).read()
    url = f"{base}/campaigns/{campaign}/"
    times = []
    html = b""
    for _ in range(n):
        t0 = time.perf_counter()
        with opener.open(url) as r:
            html = r.read()
        times.append((time.perf_counter() - t0) * 1000)
    # Transfer: the page and every asset it loads, compressed as a browser would get them.
    import gzip
    import re

    sizes = {"page": len(gzip.compress(html))}
    for asset in re.findall(rb'(?:src|href)="(/static/[^"]+)"', html):
        req = urllib.request.Request(base + asset.decode(), headers={"Accept-Encoding": "gzip"})
        with opener.open(req) as r:
            sizes[asset.decode().rsplit("/", 1)[-1]] = len(r.read())
    emit(
        bench="task_page",
        requests=n,
        median_ms=round(statistics.median(times), 2),
        p95_ms=percentile(times, 95),
        transfer_bytes=sum(sizes.values()),
        transfer_by_file=sizes,
    )


def main(args: argparse.Namespace) -> None:
    url = bench_database_url()
    dsn = urlunsplit(urlsplit(url)._replace(scheme="postgresql"))
    env = env_for(url)
    tokens = str(ROOT / "var" / "bench" / "tokens.json")
    if args.reuse_db:
        # For profiling iterations only: the figures to report come from a fresh database.
        manage(env, "migrate", "--noinput")
        campaign = 1
    else:
        recreate_database(url)
        manage(env, "migrate", "--noinput")
        seeded = subprocess.run(
            [PY, "-m", "tests.bench.seed", "--tasks", str(args.tasks), "--tokens", tokens],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        print(seeded.stdout, end="", flush=True)
        campaign = json.loads(seeded.stdout)["campaign"]
    manage(env, "collectstatic", "--noinput")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")  # as autovacuum would after a bulk import

    with gunicorn(env, port=args.port, workers=args.workers, threads=args.threads) as base:
        run_load(base, tokens, campaign, 4, 3)  # warm up connections and caches
        for c in args.concurrency:
            if not args.no_vacuum:
                vacuum(dsn)
            before = judgments_stored(dsn)
            stats = run_load(base, tokens, campaign, c, args.duration)
            stored = judgments_stored(dsn) - before
            created = stats["status"].get("submit 201", 0)
            errors = {k: v for k, v in stats["status"].items()
                      if not k.endswith((" 200", " 201", " 204"))}  # fmt: skip
            checks = integrity(dsn)
            emit(
                bench="annotation",
                concurrency=c,
                duration_s=round(stats["elapsed_s"], 1),
                judgments_per_s=round(created / stats["elapsed_s"], 1),
                next_ms={"p50": percentile(stats["next_ms"], 50),
                         "p95": percentile(stats["next_ms"], 95),
                         "p99": percentile(stats["next_ms"], 99)},
                submit_ms={"p50": percentile(stats["submit_ms"], 50),
                           "p95": percentile(stats["submit_ms"], 95),
                           "p99": percentile(stats["submit_ms"], 99)},
                errors=errors,
                # Annotators who stopped early because no task was left for them (a 204):
                # the figures only count while this is 0.
                out_of_tasks=stats["exhausted"],
                integrity_ok=stored == created and not any(checks.values()),
                judgments_stored=stored,
                submits_201=created,
                **checks,
                server=f"gunicorn {args.workers} {'sync' if args.threads == 1 else 'gthread'}"
                f" workers x {args.threads} threads",
                vacuumed=not args.no_vacuum,
            )  # fmt: skip
        page_bench(base, campaign)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--concurrency", type=int, nargs="+", default=[4, 16, 64])
    # Sync workers, one per core and one more (webapp/gunicorn_conf.py), on 2 cores.
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--port", type=int, default=8931)
    p.add_argument("--reuse-db", action="store_true", help="skip the fresh database and seed")
    p.add_argument("--no-vacuum", action="store_true", help="no VACUUM before each level")
    main(p.parse_args())
