"""`oasst`: message trees as OpenAssistant exports them (oasst-data's ExportMessageTree and
ExportMessageNode), in two tables:

- `trees`: one nested tree per line, as OpenAssistant's `*.trees.jsonl` files (null fields
  left out, `labels` as `{name: {value, count}}`). JSON Lines only: the nesting has no fixed
  depth, so no typed schema holds it.
- `messages`: one message per row, `message_tree_id` and `tree_state` filled in. In Parquet
  and dataset folders as OpenAssistant's Hugging Face files (oasst1, oasst2): `labels` and
  `emojis` as name/value lists; in JSON Lines as its `*.messages.jsonl` files, which
  `oasst_data.read_message_list` reads: `labels` as `{name: {value, count}}`, null fields left
  out.

`rank` comes from ranking judgments (and pairwise ones: trees compare two siblings so),
`labels` and `review_count` from label judgments. Only trees ready for export are written
unless `all_trees`; a tree campaign's services move each tree's state (docs/trees.md).
Documented in docs/exports.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ..options import ExportOptions
from .context import Batch, ExportContext
from .rows import C, M, iso
from .spec import Format, Table, arrow_schema

SCHEMA_VERSION = "agora.oasst/1"
KINDS = ("ranking", "pairwise", "label")
READY = "ready_for_export"
ROLES = {"user": "prompter", "assistant": "assistant", "system": "system"}


def tree_state(c: C) -> str:
    """The tree's state as its campaign's tree rules moved it (annotation.services.trees);
    a campaign without tree rules has every tree ready unless its metadata says otherwise."""
    return str(c.tree_state or c.metadata.get("tree_state") or READY)


def _label_scales(ctx: ExportContext) -> dict[str, tuple[float, float] | None]:
    """Per label: None for a flag (true = 1), or the (min, max) of its Likert scale."""
    settings = ctx.kind_settings("label")
    if settings is None:
        return {}
    return {
        s.name: None if s.scale is None else (s.scale.min, s.scale.max) for s in settings.labels
    }


def _ranks(batch: Batch) -> dict[int, int]:
    """Each ranked message's rank among its siblings, 0 = most preferred: by its mean place
    over every ranking of that parent (a Borda count), ties by message id. Counted among the
    siblings the export keeps: a message of someone who withdrew is gone, and so is its
    place."""
    places: dict[int | None, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for j in batch.judgments:
        if j.kind == "pairwise" and "outcome" in j.payload:
            # A tree compares two siblings pairwise: the preferred one places first; a tie or
            # "both bad" places both the same.
            p = j.payload
            if p["outcome"] == "preferred":
                places[j.parent_id][p["preferred"]].append(0)
                places[j.parent_id][p["rejected"]].append(1)
            else:
                for mid in j.display_order:
                    places[j.parent_id][mid].append(0)
            continue
        if j.kind != "ranking":
            continue
        for place, group in enumerate(j.payload["ranking"]):
            for mid in group if isinstance(group, list) else [group]:
                places[j.parent_id][mid].append(place)
    ranks: dict[int, int] = {}
    for siblings in places.values():
        kept = [mid for mid in siblings if not batch.withdrawn(mid)]
        ordered = sorted(kept, key=lambda mid: (sum(siblings[mid]) / len(siblings[mid]), mid))
        ranks.update({mid: rank for rank, mid in enumerate(ordered)})
    return ranks


def _labels(
    batch: Batch, scales: dict[str, tuple[float, float] | None]
) -> dict[int, dict[str, dict[str, Any]]]:
    """Each reviewed message's labels: the mean value in [0, 1] and how many gave it."""
    sums: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for j in batch.judgments:
        if j.kind != "label" or not j.display_order:
            continue
        # A review with no label still makes the message's entry.
        message = sums[j.display_order[0]]
        for name, value in (j.payload.get("labels") or {}).items():
            if name not in scales or value is None:
                continue
            scale = scales[name]
            if scale is None:
                message[name].append(1.0 if value else 0.0)
            elif scale[1] > scale[0]:
                message[name].append((value - scale[0]) / (scale[1] - scale[0]))
    return {
        mid: {n: {"value": sum(v) / len(v), "count": len(v)} for n, v in sorted(labels.items())}
        for mid, labels in sums.items()
    }


def _reviews(batch: Batch) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for j in batch.judgments:
        if j.kind == "label" and j.display_order:
            counts[j.display_order[0]] += 1
    return counts


def _images(batch: Batch) -> dict[int, list[str]]:
    return {mid: [a.file.name for a in files] for mid, files in batch.image_attachments().items()}


class _Nodes:
    """A batch's messages as ExportMessageNode dicts, replies nested and sorted by rank."""

    def __init__(
        self,
        ctx: ExportContext,
        children: dict[int | None, list[M]],
        ranks: dict[int, int],
        labels: dict[int, dict[str, dict[str, Any]]],
        reviews: dict[int, int],
        images: dict[int, list[str]],
    ):
        self.ctx, self.children, self.ranks = ctx, children, ranks
        self.labels, self.reviews, self.images = labels, reviews, images

    def node(self, m: M, lang: str | None) -> dict[str, Any] | None:
        ctx = self.ctx
        if m.author_id in ctx.withdrawn:
            return None  # with everything written under it
        count = self.reviews.get(m.id, 0)
        labels = self.labels.get(m.id)
        review_result = None
        if count:
            # OpenAssistant: passed review unless voted spam; a failure only counts after
            # more than two reviews.
            spam = (labels or {}).get("spam")
            passed = spam is None or spam["value"] < 0.5
            review_result = passed if passed or count > 2 else None
        unranked = len(self.ranks) + 1
        replies = [
            n
            for c in sorted(
                self.children[m.id], key=lambda c: (self.ranks.get(c.id, unranked), c.id)
            )
            if (n := self.node(c, lang)) is not None
        ]
        return {
            "message_id": str(m.id),
            "parent_id": None if m.parent_id is None else str(m.parent_id),
            "user_id": ctx.person(m.author_id),
            "created_date": iso(m.created_at),
            "text": m.text,
            "role": ROLES.get(m.role, m.role),
            "lang": lang,
            "review_count": count,
            "review_result": review_result,
            "deleted": False,
            "rank": self.ranks.get(m.id),
            "synthetic": m.model_id is not None,
            "model_name": ctx.model_name(m.model_id),
            "replies": replies,
            "labels": labels,
            # Agora's addition: the message's images, as paths in the media storage.
            "images": self.images.get(m.id, []),
        }


def _trees(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    """Every tree as {message_tree_id, tree_state, origin, prompt: node with replies, ...}."""
    scales = _label_scales(ctx)
    for batch in ctx.batches_by_conversation(KINDS, full=True):
        ranks, labels, reviews = _ranks(batch), _labels(batch, scales), _reviews(batch)
        images = _images(batch)
        children: dict[int | None, list[M]] = defaultdict(list)
        for m in batch.messages.values():
            children[m.parent_id].append(m)
        by_conversation: dict[int, list[M]] = defaultdict(list)
        for m in children[None]:
            by_conversation[m.conversation_id].append(m)

        node = _Nodes(ctx, children, ranks, labels, reviews, images).node

        for conversation_id in batch.conversation_ids:
            c = batch.conversations[conversation_id]
            state = tree_state(c)
            if state != READY and not ctx.options.all_trees:
                continue
            lang = c.metadata.get("lang")
            for root in sorted(by_conversation[conversation_id], key=lambda m: m.id):
                system = None
                prompts = [root]
                if root.role == "system":  # OpenAssistant trees have no system role
                    system = root.text
                    prompts = sorted(children[root.id], key=lambda m: m.id)
                for prompt in prompts:
                    if root.author_id in ctx.withdrawn:
                        continue
                    tree = node(prompt, lang)
                    if tree is None:
                        continue
                    tree["parent_id"] = None
                    yield {
                        "message_tree_id": tree["message_id"],
                        "tree_state": state,
                        "prompt": tree,
                        "origin": c.origin,
                        "system": system,
                        "conversation_id": c.id,
                        "conversation_external_id": c.external_id or None,
                        "campaign": ctx.campaign.slug,
                        "schema_version": SCHEMA_VERSION,
                    }


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def trees(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    for tree in _trees(ctx):
        out = _without_nulls(tree)
        out["prompt"] = _tree_node(out["prompt"])
        yield out


def _tree_node(node: dict[str, Any]) -> dict[str, Any]:
    # OpenAssistant leaves out empty reply lists and labels as it leaves out nulls.
    if not node.get("images"):
        node.pop("images", None)
    replies = node.pop("replies", [])
    if replies:
        node["replies"] = [_tree_node(r) for r in replies]
    if not node.get("labels"):
        node.pop("labels", None)
    return node


def messages(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    for tree in _trees(ctx):
        stack = [tree["prompt"]]
        while stack:
            n = stack.pop()
            stack.extend(reversed(n["replies"]))
            labels = n["labels"] or {}
            yield {
                "message_id": n["message_id"],
                "parent_id": n["parent_id"],
                "user_id": n["user_id"],
                "created_date": n["created_date"],
                "text": n["text"],
                "role": n["role"],
                "lang": n["lang"],
                "review_count": n["review_count"],
                "review_result": n["review_result"],
                "deleted": n["deleted"],
                "rank": n["rank"],
                "synthetic": n["synthetic"],
                "model_name": n["model_name"],
                "detoxify": None,
                "message_tree_id": tree["message_tree_id"],
                "tree_state": tree["tree_state"],
                # Null where there are none, as the Hub's files have them (Agora records no
                # emojis).
                "emojis": None,
                "labels": {
                    "name": list(labels),
                    "value": [v["value"] for v in labels.values()],
                    "count": [v["count"] for v in labels.values()],
                }
                if labels
                else None,
                "system": tree["system"],
                "conversation_id": tree["conversation_id"],
                "conversation_external_id": tree["conversation_external_id"],
                "campaign": tree["campaign"],
                "schema_version": SCHEMA_VERSION,
            }


DETOXIFY = pa.struct(
    [
        (name, pa.float64())
        for name in (
            "toxicity",
            "severe_toxicity",
            "obscene",
            "identity_attack",
            "insult",
            "threat",
            "sexual_explicit",
        )
    ]
)
MESSAGE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("message_id", pa.string()),
    ("parent_id", pa.string()),
    ("user_id", pa.string()),
    ("created_date", pa.string()),
    ("text", pa.string()),
    ("role", pa.string()),
    ("lang", pa.string()),
    ("review_count", pa.int32()),
    ("review_result", pa.bool_()),
    ("deleted", pa.bool_()),
    ("rank", pa.int32()),
    ("synthetic", pa.bool_()),
    ("model_name", pa.string()),
    ("detoxify", DETOXIFY),
    ("message_tree_id", pa.string()),
    ("tree_state", pa.string()),
    ("emojis", pa.struct([("name", pa.list_(pa.string())), ("count", pa.list_(pa.int32()))])),
    (
        "labels",
        pa.struct(
            [
                ("name", pa.list_(pa.string())),
                ("value", pa.list_(pa.float64())),
                ("count", pa.list_(pa.int32())),
            ]
        ),
    ),
    ("system", pa.string()),
    ("conversation_id", pa.int64()),
    ("conversation_external_id", pa.string()),
    ("campaign", pa.string()),
    ("schema_version", pa.string()),
]


def messages_schema(options: ExportOptions) -> pa.Schema:
    return arrow_schema(*MESSAGE_COLUMNS)


def message_json(row: dict[str, Any]) -> dict[str, Any]:
    """A `messages` row as a line of OpenAssistant's `*.messages.jsonl`: `labels` and
    `emojis` as dicts, empty ones and null fields left out (its exporter writes with
    `exclude_none=True`)."""
    out = {k: v for k, v in row.items() if v is not None}
    if labels := row["labels"]:
        out["labels"] = {
            name: {"value": value, "count": count}
            for name, value, count in zip(
                labels["name"], labels["value"], labels["count"], strict=True
            )
        }
    if emojis := row["emojis"]:
        out["emojis"] = dict(zip(emojis["name"], emojis["count"], strict=True))
    return out


def messages_json_schema(ctx: ExportContext) -> pa.Schema:
    """The JSON Lines layout's schema: `labels` a struct of the campaign's label names (each
    `{value, count}`), no `emojis` (Agora records none)."""
    settings = ctx.kind_settings("label")
    names = sorted(s.name for s in settings.labels) if settings else []
    label = pa.struct([("value", pa.float64()), ("count", pa.int32())])
    columns = []
    for name, kind in MESSAGE_COLUMNS:
        if name == "emojis" or (name == "labels" and not names):
            continue
        if name == "labels":
            kind = pa.struct([(n, label) for n in names])
        columns.append((name, kind))
    return arrow_schema(*columns)


def _size(ctx: ExportContext) -> int:
    return ctx.campaign.conversations.count()


FORMAT = Format(
    name="oasst",
    version=SCHEMA_VERSION,
    kinds=KINDS,
    summary="Message trees as OpenAssistant exports them, with ranks and labels.",
    tables={
        "trees": Table(rows=trees, schema=None, size=_size),
        "messages": Table(
            rows=messages,
            schema=messages_schema,
            size=_size,
            json_row=message_json,
            json_schema=messages_json_schema,
        ),
    },
    options=frozenset({"all_trees"}),
    published="OpenAssistant's exports (oasst1, oasst2; oasst-data's ExportMessageNode)",
    differences=(
        "`message_id`, `parent_id`, `message_tree_id`: Agora's message ids as text "
        "(OpenAssistant's are UUIDs).",
        "`rank`: the mean place over every ranking of the siblings (a Borda count, ties by "
        "message id); OpenAssistant ranked by ranked pairs.",
        "`emojis`, `detoxify`, `events`: not recorded by Agora, null or left out.",
        "`system`, `conversation_id`, `conversation_external_id`, `campaign`, "
        "`schema_version`, and `images` in the trees: Agora's own fields. OpenAssistant has "
        "no system role: a conversation under a system message gives a tree per prompt.",
    ),
    default_table={"jsonl": "trees", "parquet": "messages", "hf": "messages"},
    tags=("human-feedback", "oasst", "conversations"),
    task_categories=("text-generation",),
)
