"""`ratings`: long form, one row per response x attribute x annotator, with the attribute's scale.

From rating judgments: every score of every candidate, then the followup scores given to the
chosen response (PRISM's fine-grained attributes), marked `followup`. Documented in
docs/exports.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from annotation.kinds.base import Attribute

from .context import ExportContext
from .rows import iso, review_columns, system_text
from .spec import (
    JUDGMENT_PROVENANCE,
    MESSAGES,
    Format,
    Table,
    schema_with_text_variant,
)
from .text import text_check

SCHEMA_VERSION = "agora.ratings/1"
KINDS = ("rating",)


def _scales(ctx: ExportContext) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The scale of each attribute and of each followup attribute, as row columns."""
    settings = ctx.kind_settings("rating")
    if settings is None:
        return {}, {}

    def cols(attributes: tuple[Attribute, ...]) -> dict[str, dict[str, Any]]:
        return {
            a.name: {
                "scale_type": a.scale.type,
                "scale_min": float(a.scale.min),
                "scale_max": float(a.scale.max),
                "scale_step": float(a.scale.step),
                "scale_points": list(a.scale.points),
            }
            for a in attributes
        }

    followup = cols(settings.followup.attributes) if settings.followup else {}
    return cols(settings.attributes), followup


_NO_SCALE: dict[str, Any] = {
    "scale_type": None,
    "scale_min": None,
    "scale_max": None,
    "scale_step": None,
    "scale_points": [],
}


def rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    scales, followup_scales = _scales(ctx)
    order = list(scales)
    for batch in ctx.batches_by_task(KINDS):
        for j in batch.judgments:
            ratings = j.payload.get("ratings") or {}
            rationales = j.payload.get("rationales") or {}
            followup = j.payload.get("followup") or {}
            chosen = followup.get("chosen")
            chat = batch.chat(j.parent_id)
            common = {
                "prompt": ctx.text_layout.prompt(chat) if ctx.options.text else chat,
                "system": system_text(chat),
            }
            provenance = {
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
            candidates = [m for m in j.display_order if str(m) in ratings]
            for position, mid in enumerate(candidates):
                if batch.withdrawn(mid):
                    continue
                m = batch.messages[mid]
                scores: dict[str, Any] = ratings[str(mid)]
                response = {
                    "response": m.text,
                    "response_message_id": mid,
                    "model": ctx.model_name(m.model_id),
                }
                names = [n for n in order if n in scores] + sorted(set(scores) - set(order))
                for name in names:
                    yield {
                        **common,
                        **response,
                        "attribute": name,
                        "score": float(scores[name]),
                        **scales.get(name, _NO_SCALE),
                        "rationale": (rationales.get(str(mid)) or {}).get(name),
                        "followup": False,
                        "chosen": None if chosen is None else chosen == mid,
                        "position": position,
                        **provenance,
                    }
                if chosen == mid:
                    for name, score in sorted((followup.get("scores") or {}).items()):
                        yield {
                            **common,
                            **response,
                            "attribute": name,
                            "score": float(score),
                            **followup_scales.get(name, _NO_SCALE),
                            "rationale": None,
                            "followup": True,
                            "chosen": True,
                            "position": position,
                            **provenance,
                        }


COLUMNS: list[tuple[str, pa.DataType]] = [
    ("prompt", MESSAGES),
    ("system", pa.string()),
    ("response", pa.string()),
    ("response_message_id", pa.int64()),
    ("model", pa.string()),
    ("attribute", pa.string()),
    ("score", pa.float64()),
    ("scale_type", pa.string()),
    ("scale_min", pa.float64()),
    ("scale_max", pa.float64()),
    ("scale_step", pa.float64()),
    ("scale_points", pa.list_(pa.string())),
    ("rationale", pa.string()),
    ("followup", pa.bool_()),
    ("chosen", pa.bool_()),
    ("position", pa.int64()),
    *JUDGMENT_PROVENANCE,
]


schema = schema_with_text_variant(COLUMNS)


FORMAT = Format(
    name="ratings",
    version=SCHEMA_VERSION,
    kinds=KINDS,
    summary="Ratings in long form: one row per response, attribute and annotator, with scales.",
    tables={
        "default": Table(
            rows=rows,
            schema=schema,
            size=lambda ctx: ctx.judgments_count(KINDS),
            needs=KINDS,
        )
    },
    options=frozenset({"text", "chat_template"}),
    check=text_check,
    tags=("human-feedback", "ratings"),
    task_categories=("text-generation",),
)
