"""A Celery worker killed (SIGKILL) in the middle of a generation job.

Real parts throughout: a private PostgreSQL and Redis, `celery -A webapp worker` processes,
the default model (SmolLM2 through transformers) asked for enough tokens to take a while.
The first worker is killed with SIGKILL while it generates; the job, delivered late
(acks_late), is handed out again once its visibility timeout passes, and a second worker,
seeing that the request's heartbeat has stopped (AGORA_WORKER_LOST_AFTER), takes it and
completes it: one set of candidates, one task.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from tests.faults.live import PY, ROOT, agora_env

CELERY = str(Path(PY).parent / "celery")
VISIBILITY_TIMEOUT = 6
HEARTBEAT_SECONDS = 1
WORKER_LOST_AFTER = 3
N = 2

SEED = """
import json
from django.db import transaction
from annotation.models import Campaign, Message, User
from annotation.services import campaign_create, prompts_import
from generation.models import LanguageModel
from generation.services import generation_request_create
carol = User.objects.create_user("carol")
campaign = campaign_create(name="K", slug="k", created_by=carol, state="open",
                           responses_per_prompt=2, overlap=1)
model = LanguageModel.objects.create(
    name="smollm2-135m", backend="transformers", settings={"threads": 1},
    sampling_params={"max_new_tokens": 64, "temperature": 0.7, "seed": 3})
prompts_import(campaign=campaign, content=json.dumps(
    {"id": "p", "prompt": "Write a long story about a lighthouse keeper and the sea."}))
parent = Message.objects.get(conversation__campaign=campaign, role="user")
with transaction.atomic():
    request, _ = generation_request_create(
        campaign=campaign, parent=parent, language_model=model, n=N)
print("REQUEST", request.id, parent.id)
""".replace("N)", f"{N})")


def _state(db: psycopg.Connection, request_id: int) -> tuple[str, int]:
    row = db.execute(
        "SELECT state, attempts FROM generation_generationrequest WHERE id = %s", [request_id]
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # --pool solo: the task runs in the worker process itself, so SIGKILL ends the work and
    # the worker at once, with the message neither acknowledged nor rejected.
    return subprocess.Popen(
        [CELERY, "-A", "webapp", "worker", "--pool", "solo", "--queues", "default",
         "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


# SmolLM2-135M's weights in float32 are about 540 MB; most of that means "loaded".
MODEL_BYTES = 400_000_000


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _wait_for_growth(pid: int, grow_by: int, timeout: float) -> None:
    start, deadline = _rss(pid), time.monotonic() + timeout
    while _rss(pid) - start < grow_by:
        assert time.monotonic() < deadline, "the worker never loaded the model"
        time.sleep(0.1)


def _wait(db, request_id: int, states: set[str], timeout: float) -> tuple[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _state(db, request_id)
        if state[0] in states:
            return state
        time.sleep(0.1)
    raise AssertionError(f"request still {_state(db, request_id)} after {timeout}s")


def test_a_killed_worker_s_job_completes_once_on_another_worker(
    private_postgres, private_redis, tmp_path
):
    env = agora_env(
        database_url=private_postgres.url,
        var_dir=tmp_path,
        CELERY_BROKER_URL=private_redis.url,
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        CELERY_UNACKED_RESTORE_INTERVAL="1",
        CELERY_UNACKED_RESTORE_THROTTLE="1",
        AGORA_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
        AGORA_WORKER_LOST_AFTER=str(WORKER_LOST_AFTER),
        LOG_LEVEL="INFO",
    )
    migrate = subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr
    seeded = subprocess.run([PY, "-c", "import django; django.setup()\n" + SEED], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    request_id, parent_id = seeded.stdout.split("REQUEST")[1].split()
    log = tmp_path / "workers.log"
    url = private_postgres.url.replace("postgres://", "postgresql://")

    with psycopg.connect(url, autocommit=True) as db:
        assert _state(db, int(request_id)) == ("queued", 0)
        first = _worker(env, log)
        try:
            assert _wait(db, int(request_id), {"running", "done"}, 120) == ("running", 1)
            # Claimed; the model loads (the process grows by its weights), then generates.
            _wait_for_growth(first.pid, MODEL_BYTES, timeout=120)
            time.sleep(0.2)
            assert _state(db, int(request_id)) == ("running", 1), "generation ended too soon"
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        stored = db.execute("SELECT count(*) FROM annotation_message WHERE parent_id = %s",
                            [int(parent_id)]).fetchone()  # fmt: skip
        assert stored == (0,)
        # A delivery while the heartbeat is fresh would leave the request to its (live, for
        # all it knows) worker; after this the request's worker counts as lost.
        time.sleep(WORKER_LOST_AFTER + 0.5)

        second = _worker(env, log)
        try:
            state = _wait(db, int(request_id), {"done", "failed"}, 150)
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(timeout=30)
        assert state == ("done", 2), log.read_text()[-3000:]
        replies = db.execute(
            "SELECT metadata->>'generation_request', text FROM annotation_message"
            " WHERE parent_id = %s AND role = 'assistant'",
            [int(parent_id)],
        ).fetchall()
        assert len(replies) == N and {r[0] for r in replies} == {request_id}
        assert all(text for _, text in replies)
        tasks = db.execute("SELECT count(*) FROM annotation_task WHERE parent_id = %s",
                           [int(parent_id)]).fetchone()  # fmt: skip
        assert tasks == (1,)
