"""Importing prompts, and the rule that sibling candidates become tasks."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from annotation.errors import RuleError
from annotation.kinds import kind_for
from annotation.models import Campaign, Conversation, Message, Task, TaskCandidate, User
from annotation.prompt_files import PromptRow, prompt_rows_parse
from annotation.services import gold, trees
from annotation.services.attachments import attachments_store
from generation.registry import language_model_get_or_create_external

IMPORT_CHUNK = 500
# Not the seeded `random`: the order responses are stored in must not be predictable.
_shuffler = random.SystemRandom()


@dataclass
class ImportReport:
    """What happened to each line. Nothing is imported when any line is bad."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    conversations_created: int = 0
    tasks_created: int = 0
    duplicates: int = 0
    errors: int = 0

    @property
    def ok(self) -> bool:
        return self.errors == 0


def prompts_import(
    *,
    campaign: Campaign,
    content: str | bytes,
    fmt: str = "jsonl",
    created_by: User | None = None,
) -> ImportReport:
    """Import prompts (and any ready-made responses) from a JSONL or CSV file.

    All or nothing: a file with a bad line imports nothing and the report names every bad
    line, so fixing the file and sending it again never duplicates a prompt. Lines whose `id`
    is already in the campaign are reported as duplicates and left alone.
    """
    # Replies written as the prompter answer an assistant turn; everything else answers the
    # user's last turn.
    kind = kind_for(campaign.task_kind)
    last_role = (
        "assistant" if getattr(kind.settings(campaign.settings), "role", "") == "user" else "user"
    )
    rows, errors = prompt_rows_parse(
        content,
        fmt=fmt,
        max_lines=settings.AGORA_IMPORT_MAX_LINES,
        max_bytes=settings.AGORA_IMPORT_MAX_BYTES,
        last_role=last_role,
        # Images always; audio and video where the campaign accepts them.
        media=tuple({"image", *campaign.media_kinds}),
    )
    report = ImportReport()
    seen: dict[str, int] = {}
    for row in rows:
        if row.external_id:
            if row.external_id in seen:
                report.lines.append(
                    {
                        "line": row.line,
                        "status": "error",
                        "message": f"id {row.external_id!r} repeats line {seen[row.external_id]}",
                    }
                )
                report.errors += 1
            seen.setdefault(row.external_id, row.line)
    for err in errors:
        report.lines.append({"line": err.line, "status": "error", "message": err.message})
        report.errors += 1
    for row in rows:
        if row.gold is None:
            continue
        try:
            gold.gold_import_check(campaign=campaign, gold=row.gold, responses=len(row.responses))
        except RuleError as e:
            message = e.message if e.message.startswith("gold") else f"gold: {e.message}"
            report.lines.append({"line": row.line, "status": "error", "message": message})
            report.errors += 1
    if report.errors:
        report.lines.sort(key=lambda r: r["line"])
        return report

    existing = set(
        Conversation.objects.filter(campaign=campaign, external_id__in=list(seen)).values_list(
            "external_id", flat=True
        )
    )
    fresh = []
    for row in rows:
        if row.external_id in existing:
            report.lines.append(
                {"line": row.line, "status": "duplicate", "message": "already imported"}
            )
            report.duplicates += 1
        else:
            fresh.append(row)
    with transaction.atomic():
        for start in range(0, len(fresh), IMPORT_CHUNK):
            _import_chunk(campaign, fresh[start : start + IMPORT_CHUNK], created_by, report)
    report.lines.sort(key=lambda r: r["line"])
    return report


def _import_chunk(
    campaign: Campaign, rows: Sequence[PromptRow], created_by: User | None, report: ImportReport
) -> None:
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(
                campaign=campaign,
                origin=Conversation.Origin.IMPORTED,
                external_id=row.external_id,
                prism_type=row.prism_type,
                metadata=row.metadata,
                created_by=created_by,
            )
            for row in rows
        ]
    )
    # The context of each prompt is a chain; create it one depth at a time so that each
    # message's parent already has its id.
    last: list[Message | None] = [None] * len(rows)
    for depth in range(max(len(r.messages) for r in rows)):
        batch = []
        for i, row in enumerate(rows):
            if depth < len(row.messages):
                m = row.messages[depth]
                batch.append(
                    (
                        i,
                        Message(
                            conversation=conversations[i],
                            parent=last[i],
                            role=m["role"],
                            text=m["content"],
                            metadata=_prompt_metadata(row)
                            if depth == len(row.messages) - 1
                            else {},
                        ),
                    )
                )
        for (i, _), saved in zip(
            batch, Message.objects.bulk_create([m for _, m in batch]), strict=True
        ):
            last[i] = saved

    for i, row in enumerate(rows):
        if row.files:
            prompt = last[i]
            assert prompt is not None
            attachments_store(message=prompt, files=row.files)

    models: dict[str, Any] = {}
    responses: list[tuple[int, int, Message]] = []
    for i, row in enumerate(rows):
        # Each prompt's responses are stored in a random order. Annotators see candidate ids
        # (judgments name them), and files list their models in a fixed order: stored in
        # file order, the lower id (or id mod k) would name the model in every task.
        for k in _shuffler.sample(range(len(row.responses)), len(row.responses)):
            r = row.responses[k]
            model = None
            if r["model"]:
                model = models.get(r["model"]) or language_model_get_or_create_external(
                    name=r["model"]
                )
                models[r["model"]] = model
            responses.append(
                (
                    i,
                    k,
                    Message(
                        conversation=conversations[i],
                        parent=last[i],
                        role="assistant",
                        text=r["text"],
                        model=model,
                        metadata=r.get("metadata") or {},
                    ),
                )
            )
    saved_responses = Message.objects.bulk_create([m for _, _, m in responses])
    # The tasks take the responses in file order again: a response without a model is
    # counterbalanced by its place in the file ("p<place>").
    placed: dict[int, list[tuple[int, Message]]] = {}
    for (i, k, _), saved in zip(responses, saved_responses, strict=True):
        placed.setdefault(i, []).append((k, saved))
    by_row = {i: [m for _, m in sorted(pairs, key=lambda p: p[0])] for i, pairs in placed.items()}

    tasks_created = 0
    for i, row in enumerate(rows):
        candidates = by_row.get(i, [])
        parent = last[i]
        assert parent is not None
        made = tasks_create_for_candidates(campaign=campaign, parent=parent, candidates=candidates)
        if row.gold is not None:
            gold.gold_import_apply(
                campaign=campaign, gold=row.gold, candidates=candidates, tasks=made
            )
        tasks_created += len(made)
        report.lines.append(
            {
                "line": row.line,
                "status": "created",
                "conversation_id": conversations[i].id,
                "responses": len(candidates),
            }
        )
    report.conversations_created += len(rows)
    report.tasks_created += tasks_created


def _prompt_metadata(row: PromptRow) -> dict[str, Any]:
    """What the prompt's last message keeps for the task page, so that a page over messages
    without files or facts never asks for them: how many files it carries, its reference."""
    out: dict[str, Any] = {}
    if row.files:
        out["attachments"] = len(row.files)
    if row.reference:
        out["reference"] = row.reference
    return out


def tasks_create_for_candidates(
    *,
    campaign: Campaign,
    parent: Message,
    candidates: Sequence[Message],
    only_with: Message | None = None,
) -> list[Task]:
    """Sibling messages under one parent become the campaign's tasks (the tree's rule).

    The kind decides the grouping: pairwise makes one task per pair, ranking and rating one
    task over all the candidates, binary, label, critique and rewrite one task per
    candidate, reply one task to write the next message under the parent. `only_with` keeps
    the groups that hold that candidate (a regenerated one joins the tasks of its siblings).
    """
    if campaign.tree:
        return trees.tree_tasks_for_imported(
            campaign=campaign, parent=parent, candidates=candidates
        )
    kind = kind_for(campaign.task_kind)
    position = {m.id: i for i, m in enumerate(candidates)}
    groups = kind.task_groups(candidates)
    if only_with is not None:
        groups = [g for g in groups if any(m.id == only_with.id for m in g)]
    if not groups:
        return []
    tasks = Task.objects.bulk_create(
        [
            Task(
                campaign=campaign,
                conversation_id=parent.conversation_id,
                parent=parent,
                kind=campaign.task_kind,
                overlap=campaign.overlap,
                round=campaign.current_round,
                candidate_keys=[
                    [m.id, f"m{m.model_id}" if m.model_id else f"p{position[m.id]}"] for m in group
                ],
            )
            for group in groups
        ]
    )
    TaskCandidate.objects.bulk_create(
        [
            TaskCandidate(task=task, message=m, position=pos)
            for task, group in zip(tasks, groups, strict=True)
            for pos, m in enumerate(group)
        ]
    )
    return tasks
