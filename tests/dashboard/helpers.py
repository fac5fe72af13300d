"""Simulated annotators for the dashboard's tests: prompts answered by known models, and
annotators who judge through the same services the pages and the API call."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from annotation.models import Assignment, Campaign, User
from annotation.services import judgment_submit, task_lease_next
from generation.models import LanguageModel


def model_lines(
    n: int, models: Sequence[str], *, start: int = 0, lengths: dict[str, int] | None = None
) -> str:
    """n prompts, each answered once by every model, as JSONL. A response's length can be
    set per model (in words), to test length bias."""

    def text(i: int, model: str) -> str:
        words = (lengths or {}).get(model, 6)
        return " ".join([f"Answer {i} from {model}."] + ["more"] * max(0, words - 4))

    return "\n".join(
        json.dumps(
            {
                "id": f"p{i}",
                "prompt": f"Prompt number {i}",
                "responses": [{"text": text(i, m), "model": m} for m in models],
            }
        )
        for i in range(start, start + n)
    )


def model_of(assignment: Assignment) -> dict[int, str]:
    """Candidate message id -> its model's name, for the simulated annotator's eyes only."""
    ids = {int(m): int(key[1:]) for m, key in assignment.task.candidate_keys if key.startswith("m")}
    names = dict(LanguageModel.objects.filter(id__in=ids.values()).values_list("id", "name"))
    return {m: names[i] for m, i in ids.items()}


Chooser = Callable[[User, Assignment, dict[int, str]], dict[str, Any]]


def bt_chooser(strengths: dict[str, float], rng: random.Random) -> Chooser:
    """Picks the better response as a Bradley-Terry model with these strengths would."""

    def choose(user: User, assignment: Assignment, models: dict[int, str]) -> dict[str, Any]:
        a, b = assignment.display_order
        p = 1 / (1 + math.exp(strengths[models[b]] - strengths[models[a]]))
        return {"outcome": "preferred", "preferred": a if rng.random() < p else b}

    return choose


def left_chooser() -> Chooser:
    def choose(user: User, assignment: Assignment, models: dict[int, str]) -> dict[str, Any]:
        return {"outcome": "preferred", "preferred": assignment.display_order[0]}

    return choose


def judge(
    campaign: Campaign,
    annotators: Iterable[User],
    choose: Chooser | dict[int, Chooser],
    *,
    limit: int | None = None,
    every: tuple[int, Callable[[int], None]] | None = None,
) -> int:
    """Annotators take turns leasing and judging until nothing is left (or `limit`
    judgments). `choose` may differ per annotator id. `every=(k, f)` calls f(n) after each
    k judgments. Returns the number of judgments."""
    people = list(annotators)
    done = 0
    active = set(range(len(people)))
    turn = 0
    while active and (limit is None or done < limit):
        k = turn % len(people)
        turn += 1
        if k not in active:
            continue
        user = people[k]
        assignment = task_lease_next(annotator=user, campaign=campaign)
        if assignment is None:
            active.discard(k)
            continue
        chooser = choose[user.id] if isinstance(choose, dict) else choose
        payload = chooser(user, assignment, model_of(assignment))
        judgment_submit(
            assignment=assignment,
            annotator=user,
            payload=payload,
            idempotency_key=f"sim-{assignment.id}",
            seconds_spent=8.0,
        )
        done += 1
        if every and done % every[0] == 0:
            every[1](done)
    return done


def people(n: int, prefix: str = "sim") -> list[User]:
    return [User.objects.create_user(username=f"{prefix}{i}", password="pw") for i in range(n)]
