"""The oasst format as OpenAssistant's own readers read it."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import datasets
from pydantic.v1 import BaseModel, parse_obj_as

from annotation.models import Message
from annotation.services import studies
from exports import features
from exports.services import export_rows, export_write


def _sibling_ranks(messages):
    """Parent -> the ranks of its replies (None for an unranked one)."""
    ranks = defaultdict(list)
    for m in messages:
        if m["parent_id"] is not None:
            ranks[m["parent_id"]].append(m["rank"])
    return ranks


def _nodes(node):
    yield node
    for reply in node.get("replies", []):
        yield from _nodes(reply)


def test_ranks_are_counted_after_a_withdrawal_without_gaps(tree_campaign):
    [tree, *_] = export_rows(campaign=tree_campaign, fmt="oasst")
    best = next(r for r in tree["prompt"]["replies"] if r["rank"] == 0)
    author = Message.objects.get(id=int(best["message_id"])).author
    studies.consent_text_set(campaign=tree_campaign, text="We publish the trees you write.")
    participant = studies.participant_join(campaign=tree_campaign, user=author)
    studies.consent_withdraw(participant=participant)

    messages = list(export_rows(campaign=tree_campaign, fmt="oasst", table="messages"))
    trees = list(export_rows(campaign=tree_campaign, fmt="oasst"))
    nested = [
        {**n, "parent_id": p["message_id"]}
        for t in trees
        for p in _nodes(t["prompt"])
        for n in p.get("replies", [])
    ]
    assert best["message_id"] not in {m["message_id"] for m in messages}
    for table in (messages, nested):
        groups = _sibling_ranks(table)
        assert any(len(r) == 2 for r in groups.values())  # a group the withdrawal shrank
        for parent, ranks in groups.items():
            given = sorted(r for r in ranks if r is not None)
            assert given == list(range(len(given))), (parent, ranks)


# --- OpenAssistant's own models ----------------------------------------------------------------
# Copied from oasst-data/oasst_data/schemas.py (LAION-AI/Open-Assistant @ f1e6ed9, the fields as
# /work/shared/reference/export_schemas.md section 2.1 lists them; the event subtypes this
# export never writes are left out). OpenAssistant wrote them for pydantic 1, whose rules
# (an Optional field may be absent) pydantic.v1 keeps; its reader
# (oasst_data/reader.py, read_oasst_obj) parses a line with a `message_id` as a node and one
# with a `message_tree_id` as a tree.


class LabelAvgValue(BaseModel):
    value: float | None
    count: int


LabelValues = dict[str, LabelAvgValue]


class ExportMessageEvent(BaseModel):
    type: str
    user_id: str | None


class DetoxifyRating(BaseModel):
    toxicity: float
    severe_toxicity: float
    obscene: float
    identity_attack: float
    insult: float
    threat: float
    sexual_explicit: float


class ExportMessageNode(BaseModel):
    message_id: str
    parent_id: str | None
    user_id: str | None
    created_date: datetime | None
    text: str
    role: str
    lang: str | None
    review_count: int | None
    review_result: bool | None
    deleted: bool | None
    rank: int | None
    synthetic: bool | None
    model_name: str | None
    emojis: dict[str, int] | None
    replies: list[ExportMessageNode] | None
    labels: LabelValues | None
    events: dict[str, list[ExportMessageEvent]] | None
    detoxify: DetoxifyRating | None
    # the following fields are always None in message tree exports (see outer tree there)
    message_tree_id: str | None
    tree_state: str | None


class ExportMessageTree(BaseModel):
    message_tree_id: str
    tree_state: str | None
    prompt: ExportMessageNode | None
    origin: str | None


ExportMessageNode.update_forward_refs()


def read_oasst_obj(obj_dict: dict) -> ExportMessageTree | ExportMessageNode:
    """oasst_data.reader.read_oasst_obj."""
    if "message_id" in obj_dict:
        return parse_obj_as(ExportMessageNode, obj_dict)
    elif "message_tree_id" in obj_dict:
        return parse_obj_as(ExportMessageTree, obj_dict)
    raise RuntimeError("Unknown object in jsonl file")


def read_oasst_dict_tree_hf_dataset(rows: list[dict]) -> list[ExportMessageTree]:
    """oasst_data.reader.read_oasst_dict_tree_hf_dataset: the Hub's Parquet rows back into
    trees (its list layout of emojis and labels turned into dicts)."""
    rows_by_id: dict[str, dict] = {}
    for row in rows:
        emojis = row.get("emojis")
        if emojis:
            row["emojis"] = dict(zip(emojis["name"], emojis["count"], strict=True))
        labels = row.get("labels")
        if labels:
            parsed = {}
            for name, value, count in zip(labels["name"], labels["value"], labels["count"],
                                          strict=True):  # fmt: skip
                parsed[name] = {"value": value, "count": count}
            row["labels"] = parsed
        rows_by_id[row["message_id"]] = row
    raw_trees = []
    for row in rows_by_id.values():
        if row["parent_id"] is None:
            raw_trees.append(
                {"message_tree_id": row["message_id"], "tree_state": row["tree_state"],
                 "prompt": row}
            )  # fmt: skip
        else:
            rows_by_id[row["parent_id"]].setdefault("replies", []).append(row)
        row.pop("message_tree_id", None)
        row.pop("tree_state", None)
    return [read_oasst_obj(t) for t in raw_trees]


def _flat(node: ExportMessageNode):
    yield node
    for reply in node.replies or []:
        yield from _flat(reply)


def test_each_container_reads_with_openassistants_own_models(tree_campaign, tmp_path):
    """JSON Lines as OpenAssistant's `*.messages.jsonl` and `*.trees.jsonl` (labels and emojis
    as dicts), Parquet and the dataset folder as its Hub files (name/value lists)."""
    paths = {
        "messages": tmp_path / "messages.jsonl",
        "trees": tmp_path / "trees.jsonl",
        "parquet": tmp_path / "messages.parquet",
        "hf": tmp_path / "hf",
    }
    for table in ("messages", "trees"):
        export_write(campaign=tree_campaign, fmt="oasst", container="jsonl",
                     path=paths[table], options={"table": table})  # fmt: skip
    export_write(campaign=tree_campaign, fmt="oasst", container="parquet", path=paths["parquet"])
    export_write(campaign=tree_campaign, fmt="oasst", container="hf", path=paths["hf"])

    lines = [json.loads(x) for x in paths["messages"].read_text().splitlines()]
    messages = [read_oasst_obj(x) for x in lines]
    assert all(isinstance(m, ExportMessageNode) for m in messages)
    assert len(messages) == 26  # two trees of 1 + 3 + 9
    replies = [m for m in messages if m.parent_id is not None]
    assert all(m.labels["spam"].value == 0.0 and m.labels["spam"].count == 1 for m in replies)
    assert all(m.labels["quality"].value == 0.75 for m in replies)
    assert all(m.message_tree_id and m.tree_state == "ready_for_export" for m in messages)
    assert all(m.created_date.utcoffset().total_seconds() == 0 for m in messages)
    # OpenAssistant leaves null fields out (jsonable_encoder(exclude_none=True)).
    assert all(None not in line.values() for line in lines)

    trees = [read_oasst_obj(json.loads(x)) for x in paths["trees"].read_text().splitlines()]
    assert all(isinstance(t, ExportMessageTree) for t in trees)
    from_trees = [n for t in trees for n in _flat(t.prompt)]
    assert sorted(n.message_id for n in from_trees) == sorted(m.message_id for m in messages)

    typed = datasets.load_dataset("parquet", data_files=str(paths["parquet"]), split="train",
                                  cache_dir=str(tmp_path / "cache"))  # fmt: skip
    folder = datasets.load_dataset(str(paths["hf"]), split="train",
                                   cache_dir=str(tmp_path / "cache"))  # fmt: skip
    for ds in (typed, folder):
        assert ds.features["labels"] == datasets.Features(
            {"labels": {"name": datasets.List(datasets.Value("string")),
                        "value": datasets.List(datasets.Value("float64")),
                        "count": datasets.List(datasets.Value("int32"))}}
        )["labels"]  # fmt: skip
        hub_trees = read_oasst_dict_tree_hf_dataset(ds.to_list())
        nodes = {n.message_id: n for t in hub_trees for n in _flat(t.prompt)}
        for m in messages:
            assert nodes[m.message_id].labels == m.labels
            assert nodes[m.message_id].rank == m.rank

    declared = features("oasst", table="messages", container="jsonl", campaign=tree_campaign)
    loaded = datasets.load_dataset(
        "json", data_files=str(paths["messages"]), split="train", features=declared,
        cache_dir=str(tmp_path / "cache"),
    )  # fmt: skip
    assert loaded.num_rows == 26
    assert loaded[1]["labels"]["spam"] == {"value": 0.0, "count": 1}
