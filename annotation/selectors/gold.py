"""Reads for the Gold page: a campaign's tasks a page at a time, with their candidates."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from annotation.models import Campaign, Task, TaskCandidate

GOLD_PAGE_SIZE = 25


@dataclass(frozen=True)
class GoldPage:
    tasks: list[Task]
    page: int
    pages: int
    with_gold: int  # tasks of the campaign that have a gold answer


def gold_tasks_page(*, campaign: Campaign, page: int = 1, only_gold: bool = False) -> GoldPage:
    """The campaign's tasks (repeats left out), oldest first, each with its candidates'
    messages; `only_gold` keeps those with a gold answer."""
    tasks = Task.objects.filter(campaign=campaign, repeat_of__isnull=True)
    with_gold = tasks.filter(gold__isnull=False).count()
    if only_gold:
        tasks = tasks.filter(gold__isnull=False)
    total = with_gold if only_gold else tasks.count()
    pages = max(1, -(-total // GOLD_PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * GOLD_PAGE_SIZE
    rows = list(
        tasks.select_related("parent")
        .prefetch_related(
            Prefetch(
                "task_candidates",
                queryset=TaskCandidate.objects.select_related("message").order_by("position"),
            )
        )
        .order_by("id")[start : start + GOLD_PAGE_SIZE]
    )
    return GoldPage(tasks=rows, page=page, pages=pages, with_gold=with_gold)
