"""The worker side of `make bench-generate`: enqueue the requests, wait for the replies."""

from __future__ import annotations

import argparse
import json
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django.setup()

from django.db.models import Sum  # noqa: E402

from annotation.models import Message, User  # noqa: E402
from annotation.services import campaign_create, prompts_import  # noqa: E402
from generation.models import GenerationRequest, LanguageModel  # noqa: E402
from generation.services import generation_request_create  # noqa: E402
from tests.bench.generate import PROMPTS  # noqa: E402


def wait(ids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = set(GenerationRequest.objects.filter(id__in=ids).values_list("state", flat=True))
        if states <= {"done", "failed"}:
            failed = GenerationRequest.objects.filter(id__in=ids, state="failed").first()
            if failed:
                raise SystemExit(f"generation failed: {failed.error}")
            return
        time.sleep(0.05)
    raise SystemExit("the worker did not finish in time")


def main(args: argparse.Namespace) -> None:
    admin = User.objects.create_user("bench")
    campaign = campaign_create(name="gen", slug="gen", created_by=admin, state="open",
                               responses_per_prompt=args.samples)  # fmt: skip
    settings = {"threads": args.threads, "max_batch_size": args.samples}
    params = {"max_new_tokens": args.max_new_tokens, "temperature": 0.7, "top_p": 1.0}
    model = LanguageModel.objects.create(name="smollm2", backend="transformers",
                                         settings=settings, sampling_params=params)  # fmt: skip
    lines = [json.dumps({"id": f"w{i}", "prompt": p}) for i, p in enumerate(PROMPTS)]
    prompts_import(campaign=campaign, content="\n".join(["{\"id\": \"warm\", \"prompt\": \"Hi\"}",
                                                        *lines]))  # fmt: skip
    parents = list(Message.objects.filter(conversation__campaign=campaign).order_by("id"))
    # Warm-up: the worker loads the model on its first request.
    warm, _ = generation_request_create(campaign=campaign, parent=parents[0],
                                        language_model=model, n=1)  # fmt: skip
    wait([warm.id], 600)
    started = time.perf_counter()
    ids = [
        generation_request_create(
            campaign=campaign, parent=p, language_model=model, n=args.samples
        )[0].id
        for p in parents[1 : 1 + args.prompts]
    ]
    wait(ids, 1800)
    seconds = time.perf_counter() - started
    tokens = (
        Message.objects.filter(metadata__generation_request__in=ids).aggregate(
            t=Sum("completion_tokens")
        )["t"]
        or 0
    )
    print(json.dumps({"tokens": tokens, "seconds": round(seconds, 2),
                      "tokens_per_s": round(tokens / seconds, 1)}))  # fmt: skip


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    main(p.parse_args())
