"""Closed-loop virtual annotators over /api/v1/: each loops "next task", then "submit".

Runs in its own process (the server must not share its interpreter with the load), prints one
JSON object with raw counts and latencies in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections import Counter

import aiohttp


async def annotator(
    session: aiohttp.ClientSession,
    base: str,
    token: str,
    campaign: int,
    until: float,
    stats: dict,
) -> None:
    headers = {"Authorization": f"Token {token}"}
    rng = random.Random(token)
    while time.perf_counter() < until:
        t0 = time.perf_counter()
        async with session.get(f"{base}/api/v1/campaigns/{campaign}/next/", headers=headers) as r:
            body = await r.read()
            stats["next_ms"].append((time.perf_counter() - t0) * 1000)
            stats["status"][f"next {r.status}"] += 1
        if r.status == 204:
            stats["exhausted"] += 1
            return
        if r.status != 200:
            continue
        data = json.loads(body)
        pick = rng.choice(data["task"]["candidates"])["id"]
        payload = {
            "payload": {"outcome": "preferred", "preferred": pick},
            "idempotency_key": uuid.uuid4().hex,
            "seconds_spent": round(rng.uniform(2, 20), 1),
        }
        url = f"{base}/api/v1/assignments/{data['assignment']['id']}/judgment/"
        t0 = time.perf_counter()
        async with session.post(url, json=payload, headers=headers) as r:
            await r.read()
            stats["submit_ms"].append((time.perf_counter() - t0) * 1000)
            stats["status"][f"submit {r.status}"] += 1


async def main(args: argparse.Namespace) -> None:
    with open(args.tokens) as f:
        tokens = json.load(f)[: args.concurrency]
    stats: dict = {"next_ms": [], "submit_ms": [], "status": Counter(), "exhausted": 0}
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        until = start + args.duration
        await asyncio.gather(
            *(annotator(session, args.base, t, args.campaign, until, stats) for t in tokens)
        )
        elapsed = time.perf_counter() - start
    stats["elapsed_s"] = elapsed
    print(json.dumps(stats))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--campaign", type=int, required=True)
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--duration", type=float, default=20)
    asyncio.run(main(p.parse_args()))
