"""Soak: N minutes of closed-loop annotators against a production-like server.

Sets itself up: a private PostgreSQL cluster (tests/faults/servers.py, never the machine's
own), a pairwise campaign, annotators with API tokens, gunicorn with worker recycling off
(so a leak would show), then `tests.bench.loadgen` at --concurrency for --duration seconds
while the RSS of every gunicorn worker is sampled. Prints one JSON line and exits non-zero
on any 5xx or when a worker's memory grew past --max-growth-mb after the warm-up.

    python -m tests.bench.soak                        # 10 minutes at 64 annotators
    python -m tests.bench.soak --duration 90          # a shorter run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from tests.bench.common import PY, ROOT, emit, percentile
from tests.faults.live import agora_env, gunicorn, seed
from tests.faults.servers import PrivatePostgres


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def main(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="agora-soak-"))
    db = PrivatePostgres().init()
    try:
        # Enough tasks for the whole run (about 475 judgments/s here): one prompt file larger
        # than the import limits that keep uploads in check.
        env = agora_env(
            database_url=db.url,
            var_dir=tmp,
            CONN_MAX_AGE="60",
            AGORA_IMPORT_MAX_BYTES=str(1 << 30),
            AGORA_IMPORT_MAX_LINES=str(args.tasks),
        )
        tokens = tmp / "tokens.json"
        t0 = time.perf_counter()
        campaign = seed(env, tasks=args.tasks, annotators=args.concurrency, overlap=3,
                        tokens=tokens)  # fmt: skip
        seeded_s = time.perf_counter() - t0
        with gunicorn(env, workers=args.workers, threads=args.threads) as (base, proc):
            samples: dict[int, list[tuple[float, float]]] = {}
            stop = threading.Event()
            start = time.monotonic()

            def sample() -> None:
                while not stop.wait(args.sample_every):
                    for pid in _workers(proc.pid):
                        if (rss := _rss_mb(pid)) is not None:
                            samples.setdefault(pid, []).append((time.monotonic() - start, rss))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            load = subprocess.run(
                [PY, "-m", "tests.bench.loadgen", "--base", base, "--tokens", str(tokens),
                 "--campaign", str(campaign), "--concurrency", str(args.concurrency),
                 "--duration", str(args.duration)],
                cwd=ROOT, capture_output=True, text=True, timeout=args.duration + 300,
            )  # fmt: skip
            stop.set()
            sampler.join()
        if load.returncode != 0:
            print(load.stderr, file=sys.stderr)
            return 2
        stats = json.loads(load.stdout.strip().splitlines()[-1])
    finally:
        db.destroy()

    statuses = Counter(stats["status"])
    errors_5xx = sum(n for key, n in statuses.items() if key.split()[-1].startswith("5"))
    warm = args.duration * args.warmup_share
    memory = {}
    for pid, series in samples.items():
        after = [rss for t, rss in series if t >= warm] or [series[-1][1]]
        memory[str(pid)] = {
            "start_mb": round(series[0][1], 1),
            "after_warmup_mb": round(after[0], 1),
            "end_mb": round(after[-1], 1),
            "max_mb": round(max(rss for _, rss in series), 1),
            "growth_after_warmup_mb": round(after[-1] - after[0], 1),
        }
    submits = statuses.get("submit 201", 0)
    elapsed = stats["elapsed_s"]
    result = {
        "bench": "soak",
        "duration_s": round(elapsed, 1),
        "concurrency": args.concurrency,
        "web_workers": args.workers,
        "threads": args.threads,
        "seed_s": round(seeded_s, 1),
        "judgments": submits,
        "judgments_per_s": round(submits / elapsed, 1),
        "requests": sum(statuses.values()),
        "status": dict(statuses),
        "errors_5xx": errors_5xx,
        "exhausted": stats["exhausted"],
        "next_p50_ms": percentile(stats["next_ms"], 50),
        "next_p95_ms": percentile(stats["next_ms"], 95),
        "submit_p50_ms": percentile(stats["submit_ms"], 50),
        "submit_p95_ms": percentile(stats["submit_ms"], 95),
        "worker_memory": memory,
    }
    emit(**result)
    grew = [pid for pid, m in memory.items() if m["growth_after_warmup_mb"] > args.max_growth_mb]
    return 1 if errors_5xx or grew else 0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=float, default=600)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--tasks", type=int, default=110_000)
    # Production's default on 2 cores: three sync workers (webapp/gunicorn_conf.py).
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sample-every", type=float, default=5.0)
    p.add_argument("--warmup-share", type=float, default=0.2,
                   help="the share of the run before memory is expected to be flat")  # fmt: skip
    p.add_argument("--max-growth-mb", type=float, default=20.0)
    sys.exit(main(p.parse_args()))
