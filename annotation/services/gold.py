"""Gold answers: tasks whose right answer is known, that score the annotators who judge them
(Judgment.gold_score; the quality tab's gold accuracy). A gold answer comes with its prompt in
the import file (`gold`, responses named by their place in the line) or is set and cleared per
task by an admin (the dashboard's Gold page, the API, `manage.py task_gold`); either way the
task's kind checks it as it checks an annotator's payload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from annotation.errors import NotFound, RuleError
from annotation.kinds import kind_for
from annotation.kinds.base import gold_by_position
from annotation.models import Campaign, Judgment, Task


def _kind_and_settings(campaign: Campaign) -> tuple[Any, Any]:
    if campaign.tree:
        raise RuleError(
            "Gold answers are for campaigns without message trees.", field="gold", code="gold"
        )
    kind = kind_for(campaign.task_kind)
    return kind, kind.settings(campaign.settings)


def gold_import_check(*, campaign: Campaign, gold: Any, responses: int) -> None:
    """A prompt line's gold answer, checked before anything is imported: against every task
    the line's responses will make (by place: 0, 1, ...), as those tasks will check it."""
    kind, settings = _kind_and_settings(campaign)
    places = list(range(responses))
    groups = kind.task_groups(places)
    if not groups:
        raise RuleError("gold: the line makes no task to hold it.", field="gold")
    fits = 0
    for group in groups:
        mapped = gold_by_position(gold, {p: p for p in group}, responses)
        if mapped is not None:
            kind.gold_clean(mapped, settings=settings, candidate_ids=group)
            fits += 1
    if not fits:
        raise RuleError("gold: no task of the line shows the responses it names.", field="gold")


def gold_import_apply(
    *, campaign: Campaign, gold: Any, candidates: Sequence[Any], tasks: Sequence[Task]
) -> None:
    """The checked gold of a line, in each of its new tasks' message ids (a pair without the
    preferred response gets none)."""
    kind, settings = _kind_and_settings(campaign)
    place = {m.id: i for i, m in enumerate(candidates)}
    for task in tasks:
        ids = [int(k[0]) for k in task.candidate_keys]
        mapped = gold_by_position(gold, {place[i]: i for i in ids}, len(candidates))
        task.gold = (
            None
            if mapped is None
            else kind.gold_clean(mapped, settings=settings, candidate_ids=ids)
        )
    Task.objects.bulk_update([t for t in tasks if t.gold is not None], ["gold"])


@transaction.atomic
def task_gold_set(*, campaign: Campaign, task_id: int, gold: Any | None) -> Task:
    """Set (or, with None, clear) one task's gold answer, in its message ids, checked by the
    task's kind; the judgments already made on it are scored again (or unscored). Locks the
    task's row."""
    kind, settings = _kind_and_settings(campaign)
    task = Task.objects.select_for_update().filter(campaign=campaign, id=task_id).first()
    if task is None:
        raise NotFound("No such task in this campaign.")
    ids = [int(k[0]) for k in task.candidate_keys]
    if gold is not None:
        gold = kind.gold_clean(gold, settings=settings, candidate_ids=ids)
    task.gold = gold
    task.save(update_fields=["gold"])
    judgments = list(Judgment.objects.filter(task=task).only("id", "payload"))
    for j in judgments:
        j.gold_score = None if task.gold is None else kind.gold_score(j.payload, task.gold)
    Judgment.objects.bulk_update(judgments, ["gold_score"])
    return task


def gold_from_form(*, kind: str, value: str) -> dict[str, Any] | None:
    """The Gold page's choice as a gold answer (None: clear it): `none`, `tie`, `both_bad`,
    `preferred:<message id>` (pairwise), `label:true` / `label:false` (binary), or
    `ranking:<id>,<id>,...` best first (ranking). The task's kind then checks it."""
    value = value.strip()
    if value in ("", "none"):
        return None
    head, _, rest = value.partition(":")
    if kind == "pairwise" and head in ("tie", "both_bad") and not rest:
        return {"outcome": head}
    if kind == "pairwise" and head == "preferred" and _digits(rest):
        return {"outcome": "preferred", "preferred": int(rest)}
    if kind == "binary" and head == "label" and rest in ("true", "false"):
        return {"label": rest == "true"}
    if kind == "ranking" and head == "ranking":
        ids = [p.strip() for p in rest.split(",")]
        if ids and all(_digits(p) for p in ids):
            return {"ranking": [int(p) for p in ids]}
    raise RuleError(f"Not a gold answer for a {kind} task: {value[:50]!r}.", field="gold")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) < 19
