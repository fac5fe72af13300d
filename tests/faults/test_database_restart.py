"""PostgreSQL restarted while annotators submit: nothing acknowledged is lost, nothing twice.

A private PostgreSQL cluster behind a real gunicorn server; eight annotator threads loop
"next, submit" over the API while the cluster is restarted twice with `-m immediate` (every
connection cut, as in a crash or a failover). A submit answered with a retryable error (503
with a JSON body, or a dropped connection) is sent again with the same idempotency key until
it is answered. Afterwards the stored judgments are exactly the acknowledged ones.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter

import httpx
import psycopg

from tests.faults.live import agora_env, gunicorn, seed

ANNOTATORS = 8
RUN_SECONDS = 12.0
RESTARTS_AT = (3.0, 7.0)


class Annotator(threading.Thread):
    def __init__(self, base: str, token: str, campaign: int, until: float) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(
            base_url=base, headers={"Authorization": f"Token {token}"}, timeout=15
        )
        self.campaign, self.until = campaign, until
        self.acknowledged: dict[str, int] = {}  # idempotency key -> judgment id
        self.statuses: Counter[str] = Counter()
        self.bad: list[str] = []

    def _send(self, method: str, url: str, **kwargs: object) -> httpx.Response | None:
        """One call, retried while the answer is retryable; None once time is up."""
        while time.monotonic() < self.until + 20:
            try:
                r = self.client.request(method, url, **kwargs)  # type: ignore[arg-type]
            except httpx.TransportError:
                self.statuses["transport error"] += 1
                time.sleep(0.1)
                continue
            self.statuses[f"{method} {r.status_code}"] += 1
            if r.status_code == 503:
                if (
                    r.headers.get("content-type") != "application/json"
                    or "Retry-After" not in r.headers
                ):
                    self.bad.append(f"503 without JSON/Retry-After: {r.text[:200]}")
                time.sleep(0.1)
                continue
            if r.status_code >= 500:
                self.bad.append(f"{r.status_code}: {r.text[:300]}")
            return r
        return None

    def run(self) -> None:
        while time.monotonic() < self.until:
            r = self._send("GET", f"/api/v1/campaigns/{self.campaign}/next/")
            if r is None or r.status_code == 204:
                return
            if r.status_code != 200:
                continue
            task = r.json()
            key = uuid.uuid4().hex
            body = {
                "payload": {"outcome": "preferred",
                            "preferred": task["task"]["candidates"][0]["id"]},
                "idempotency_key": key,
            }  # fmt: skip
            url = f"/api/v1/assignments/{task['assignment']['id']}/judgment/"
            r = self._send("POST", url, json=body)
            if r is not None and r.status_code in (200, 201):
                self.acknowledged[key] = r.json()["id"]
            elif r is not None:
                self.bad.append(f"submit answered {r.status_code}: {r.text[:200]}")


def test_judgments_survive_a_postgres_restart_under_load(private_postgres, tmp_path):
    env = agora_env(database_url=private_postgres.url, var_dir=tmp_path, CONN_MAX_AGE="60")
    tokens_file = tmp_path / "tokens.json"
    # Enough tasks to outlast the run at the sync workers' pace (1,200 ran out before the restarts).
    campaign = seed(env, tasks=8000, annotators=ANNOTATORS, overlap=1, tokens=tokens_file)
    tokens = json.loads(tokens_file.read_text())

    # Production's kind of worker: sync (webapp/gunicorn_conf.py).
    with gunicorn(env, workers=3, threads=1, log=tmp_path / "gunicorn.log") as (base, _):
        start = time.monotonic()
        threads = [Annotator(base, t, campaign, start + RUN_SECONDS) for t in tokens]
        for t in threads:
            t.start()
        for at in RESTARTS_AT:
            time.sleep(max(0.0, start + at - time.monotonic()))
            private_postgres.restart()
        for t in threads:
            t.join(timeout=RUN_SECONDS + 60)
        assert not any(t.is_alive() for t in threads)

    statuses = sum((t.statuses for t in threads), Counter())
    print(dict(statuses))
    bad = [b for t in threads for b in t.bad]
    assert bad == [], bad[:5]
    acknowledged = {k: j for t in threads for k, j in t.acknowledged.items()}
    with psycopg.connect(private_postgres.url.replace("postgres://", "postgresql://")) as db:
        rows = db.execute("SELECT idempotency_key, id FROM annotation_judgment").fetchall()
    stored = dict(rows)
    assert len(rows) == len(stored)  # no key twice
    assert stored == acknowledged, (len(stored), len(acknowledged))
    assert len(acknowledged) > 50, statuses
    # The restarts did hit requests in flight: some were answered 503 or cut.
    assert statuses["GET 503"] + statuses["POST 503"] + statuses["transport error"] > 0, statuses
