"""Seed the benchmark database: a pairwise campaign of N tasks, annotators with API tokens."""

from __future__ import annotations

import argparse
import json
import os
import random
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django.setup()


from annotation.models import Membership, User  # noqa: E402
from annotation.services import (  # noqa: E402
    api_token_create,
    campaign_create,
    membership_add,
    prompts_import,
)
from tests.bench.common import emit, words  # noqa: E402


def main(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    t0 = time.perf_counter()
    admin = User.objects.create_user("bench-admin", is_staff=True)
    campaign = campaign_create(
        name="Bench",
        slug="bench",
        created_by=admin,
        overlap=args.overlap,
        state="open",
        lease_seconds=600,
    )
    membership_add(campaign=campaign, user=admin, role=Membership.Role.ADMIN)
    lines = "\n".join(
        json.dumps(
            {
                "id": f"b{i}",
                "prompt": words(20, rng),
                "responses": [
                    {"text": words(80, rng), "model": "bench-a"},
                    {"text": words(80, rng), "model": "bench-b"},
                ],
            }
        )
        for i in range(args.tasks)
    )
    report = prompts_import(campaign=campaign, content=lines)
    assert report.ok and report.tasks_created == args.tasks
    tokens = []
    for i in range(args.annotators):
        user = User.objects.create_user(f"annotator{i:02d}", password="bench-password")
        membership_add(campaign=campaign, user=user)
        tokens.append(api_token_create(user=user, name="bench")[1])
    with open(args.tokens, "w") as f:
        json.dump(tokens, f)
    emit(
        bench="seed",
        campaign=campaign.id,
        tasks=args.tasks,
        annotators=args.annotators,
        overlap=args.overlap,
        seconds=round(time.perf_counter() - t0, 1),
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--annotators", type=int, default=64)
    p.add_argument("--overlap", type=int, default=3)
    p.add_argument("--tokens", required=True)
    main(p.parse_args())
