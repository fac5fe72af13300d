"""`kto`: TRL's unpaired preference format: `prompt`, `completion`, `label` (desirable or not).

From binary judgments (thumbs up = true), from ratings on one attribute (at or above a
threshold = true), from pairwise choices (the preferred response true, the other false; a
"both bad" makes two false rows when ties are kept), and from rankings (the first place true,
the last false). Only assistant messages are completions: a tree's rankings of the prompter's
answers are no assistant's feedback. Documented in docs/exports.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from .context import Batch, ExportContext
from .pairs import BOTH_BAD, PREFERRED, pairwise_votes
from .preference import options_check, rating_attribute
from .rows import J, iso, review_columns, system_text
from .spec import (
    JUDGMENT_PROVENANCE,
    MESSAGES,
    Format,
    Table,
    schema_with_text_variant,
)

SCHEMA_VERSION = "agora.kto/1"
KINDS = ("binary", "rating", "pairwise", "ranking")


def _threshold(ctx: ExportContext, attribute: str | None) -> tuple[float | None, bool]:
    """(threshold, strict): the option (score >= it is desirable), else the middle of the
    attribute's scale (above it desirable, below not, the middle itself left out)."""
    if ctx.options.threshold is not None:
        return ctx.options.threshold, False
    settings = ctx.kind_settings("rating")
    if attribute is None or settings is None:
        return None, True
    scale = next(a.scale for a in settings.attributes if a.name == attribute)
    return (scale.min + scale.max) / 2, True


def rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    attribute = rating_attribute(ctx)
    threshold, strict = _threshold(ctx, attribute)
    keep_both_bad = ctx.options.keep_ties
    for batch in ctx.batches_by_task(KINDS):
        for j in batch.judgments:
            if j.kind == "binary":
                for mid in j.display_order[:1]:
                    yield from _row(ctx, batch, j, mid, j.payload["label"], attribute=None)
            elif j.kind == "rating":
                if attribute is None or threshold is None:
                    continue
                ratings = j.payload.get("ratings") or {}
                # In screen order, never the stored key order (jsonb sorts keys, SQLite not).
                for mid in j.display_order:
                    score = (ratings.get(str(mid)) or {}).get(attribute)
                    if score is None or (strict and score == threshold):
                        continue
                    label = score > threshold if strict else score >= threshold
                    yield from _row(
                        ctx, batch, j, mid, label, attribute=attribute,
                        score=float(score), threshold=threshold,
                    )  # fmt: skip
            elif j.kind == "ranking":
                places = [g if isinstance(g, list) else [g] for g in j.payload["ranking"]]
                if len(places) < 2:
                    continue  # all tied: neither better nor worse
                for mid in places[0]:
                    yield from _row(ctx, batch, j, mid, True, attribute=None)
                for mid in places[-1]:
                    yield from _row(ctx, batch, j, mid, False, attribute=None)
            else:
                for v in pairwise_votes(j):
                    if v.outcome == PREFERRED:
                        yield from _row(ctx, batch, j, v.chosen, True, attribute=v.attribute)
                        yield from _row(ctx, batch, j, v.rejected, False, attribute=v.attribute)
                    elif v.outcome == BOTH_BAD and keep_both_bad:
                        yield from _row(ctx, batch, j, v.chosen, False, attribute=v.attribute)
                        yield from _row(ctx, batch, j, v.rejected, False, attribute=v.attribute)


def _row(
    ctx: ExportContext,
    batch: Batch,
    j: J,
    message_id: int,
    label: bool,
    *,
    attribute: str | None,
    score: float | None = None,
    threshold: float | None = None,
) -> Iterator[dict[str, Any]]:
    m = batch.messages[message_id]
    if m.role != "assistant" or batch.withdrawn(message_id):
        return
    chat = batch.chat(j.parent_id)
    prompt: Any = chat
    completion: Any = [{"role": m.role, "content": m.text}]
    if ctx.options.text:
        layout = ctx.text_layout
        prompt, completion = layout.prompt(chat), layout.completion(chat, m.text)
    trl: dict[str, Any] = {
        "prompt": prompt,
        "completion": completion,
        "label": bool(label),
    }
    if ctx.options.images:
        trl["images"] = batch.images(j.parent_id)
    yield {
        **trl,
        "system": system_text(chat),
        "attribute": attribute,
        "source_kind": j.kind,
        "score": score,
        "threshold": threshold,
        "reason": j.payload.get("reason"),
        "model": ctx.model_name(m.model_id),
        "message_id": m.id,
        "position": j.display_order.index(m.id) if m.id in j.display_order else None,
        "judgment_id": j.id,
        "annotator": ctx.person(j.annotator_id),
        "profile_version": j.profile_version,
        "instructions_version": j.instructions_version,
        "seconds_spent": j.seconds_spent,
        "task_id": j.task_id,
        "round": j.round,
        "conversation_id": j.conversation_id,
        "conversation_external_id": batch.external_id(j.conversation_id),
        "campaign": ctx.campaign.slug,
        "created_at": iso(j.created_at),
        **review_columns(j),
        "schema_version": SCHEMA_VERSION,
    }


COLUMNS: list[tuple[str, pa.DataType]] = [
    ("prompt", MESSAGES),
    ("completion", MESSAGES),
    ("label", pa.bool_()),
    ("system", pa.string()),
    ("attribute", pa.string()),
    ("source_kind", pa.string()),
    ("score", pa.float64()),
    ("threshold", pa.float64()),
    ("reason", pa.string()),
    ("model", pa.string()),
    ("message_id", pa.int64()),
    ("position", pa.int64()),
    *JUDGMENT_PROVENANCE,
]


schema = schema_with_text_variant(COLUMNS, images_after="label")


FORMAT = Format(
    name="kto",
    version=SCHEMA_VERSION,
    kinds=KINDS,
    check=options_check,
    summary="Unpaired feedback (prompt, completion, label) in TRL's format, with provenance.",
    tables={
        "default": Table(
            rows=rows,
            schema=schema,
            size=lambda ctx: ctx.judgments_count(KINDS),
            needs=KINDS,
        )
    },
    options=frozenset(
        {"rating_attribute", "threshold", "keep_ties", "text", "chat_template", "images"}
    ),
    tags=("human-feedback", "kto", "rlhf"),
    task_categories=("text-generation",),
)
