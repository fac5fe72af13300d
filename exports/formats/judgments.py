"""`judgments`: every judgment as stored, with its provenance: the kind-specific payload, the
annotator's campaign pseudonym and profile version, the task's context and candidates (with
the model and exact sampling parameters behind each), the order the annotator saw them in, the
time spent and the timestamps. Documented in docs/exports.md.

Payloads differ by kind (and name messages by id), so `payload`, `task_gold` and each
candidate's `sampling_params` are JSON text: one typed schema holds every kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from annotation.models import Campaign

from ..options import ExportOptions
from .context import Batch, ExportContext
from .rows import iso, review_columns, system_text
from .spec import MESSAGES, Format, Table, arrow_schema

SCHEMA_VERSION = "agora.judgments/1"
KINDS = tuple(Campaign.Kind.values)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _images(ctx: ExportContext, batch: Batch) -> dict[int, list[dict[str, Any]]]:
    """Message id -> its images as `datasets.Image` stores them ({bytes, path}): the path in
    the media storage, the bytes only when asked for (`image_bytes`). One query a batch."""
    out: dict[int, list[dict[str, Any]]] = {}
    for mid, files in batch.image_attachments().items():
        for a in files:
            data = None
            if ctx.options.image_bytes:
                with a.file.open("rb") as f:
                    data = f.read()
            out.setdefault(mid, []).append({"bytes": data, "path": a.file.name})
    return out


def rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    for batch in ctx.batches_by_task(KINDS, full=True):
        images = _images(ctx, batch)
        for j in batch.judgments:
            candidate_ids = [c[0] for c in j.candidate_keys or []]
            written = j.payload.get("message_id")  # rewrite and reply: the message written
            if batch.withdrawn(j.parent_id, *candidate_ids):
                continue
            candidates = []
            for mid in candidate_ids:
                m = batch.messages[mid]
                candidates.append(
                    {
                        "message_id": m.id,
                        "role": m.role,
                        "text": m.text,
                        "model": ctx.model_name(m.model_id),
                        "author": ctx.person(m.author_id),
                        "sampling_params": _json(m.sampling_params or None),
                        "prompt_tokens": m.prompt_tokens,
                        "completion_tokens": m.completion_tokens,
                        "latency_ms": m.latency_ms,
                        "finish_reason": m.finish_reason or None,
                        "backend": m.backend or None,
                        "worker": m.worker or None,
                        "round": m.round,
                        "created_at": iso(m.created_at),
                    }
                )
            chat = batch.chat(j.parent_id)
            yield {
                "judgment_id": j.id,
                "kind": j.kind,
                "payload": _json(j.payload),
                # A campaign with a review stage: the reviewer's decision, and where they
                # corrected the judgment, the annotator's own payload (`payload` is theirs).
                **review_columns(j),
                "reviewer": j.review["reviewer"] if j.review else None,
                "prompt": chat,
                "system": system_text(chat),
                "images": [i for m in batch.path(j.parent_id) for i in images.get(m.id, [])],
                "candidates": candidates,
                "display_order": j.display_order,
                "written_message_id": written,
                "annotator": ctx.person(j.annotator_id),
                "profile_version": j.profile_version,
                "instructions_version": j.instructions_version,
                "seconds_spent": j.seconds_spent,
                "leased_at": iso(j.leased_at),
                "created_at": iso(j.created_at),
                "gold_score": j.gold_score,
                "task_gold": _json(j.task_gold),
                "task_id": j.task_id,
                "round": j.round,
                "repeat_of_task_id": j.repeat_of,
                "parent_message_id": j.parent_id,
                "conversation_id": j.conversation_id,
                "conversation_external_id": batch.external_id(j.conversation_id),
                "campaign": ctx.campaign.slug,
                "schema_version": SCHEMA_VERSION,
            }


CANDIDATE = pa.struct(
    [
        ("message_id", pa.int64()),
        ("role", pa.string()),
        ("text", pa.string()),
        ("model", pa.string()),
        ("author", pa.string()),
        ("sampling_params", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("latency_ms", pa.int64()),
        ("finish_reason", pa.string()),
        ("backend", pa.string()),
        ("worker", pa.string()),
        ("round", pa.int64()),
        ("created_at", pa.string()),
    ]
)
COLUMNS: list[tuple[str, pa.DataType]] = [
    ("judgment_id", pa.int64()),
    ("kind", pa.string()),
    ("payload", pa.string()),
    ("review_decision", pa.string()),
    ("original_payload", pa.string()),
    ("reviewer", pa.string()),
    ("prompt", MESSAGES),
    ("system", pa.string()),
    # The prompt's images, in datasets.Image's storage shape.
    ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
    ("candidates", pa.list_(CANDIDATE)),
    ("display_order", pa.list_(pa.int64())),
    ("written_message_id", pa.int64()),
    ("annotator", pa.string()),
    ("profile_version", pa.int64()),
    ("instructions_version", pa.int64()),
    ("seconds_spent", pa.float64()),
    ("leased_at", pa.string()),
    ("created_at", pa.string()),
    ("gold_score", pa.float64()),
    ("task_gold", pa.string()),
    ("task_id", pa.int64()),
    ("round", pa.int64()),
    ("repeat_of_task_id", pa.int64()),
    ("parent_message_id", pa.int64()),
    ("conversation_id", pa.int64()),
    ("conversation_external_id", pa.string()),
    ("campaign", pa.string()),
    ("schema_version", pa.string()),
]


def schema(options: ExportOptions) -> pa.Schema:
    return arrow_schema(*COLUMNS)


FORMAT = Format(
    name="judgments",
    version=SCHEMA_VERSION,
    kinds=KINDS,
    summary="Every judgment as stored, with its payload, context, candidates and provenance.",
    tables={
        "default": Table(rows=rows, schema=schema, size=lambda ctx: ctx.judgments_count(KINDS))
    },
    options=frozenset({"image_bytes"}),
    tags=("human-feedback", "annotations"),
    task_categories=("text-generation",),
)
