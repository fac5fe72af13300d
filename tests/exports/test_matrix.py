"""Every format x every container x every campaign kind (issue #21's "Done when"): each cell
loads with `datasets` with its declared features (`exports.features`), or is refused before
anything is written with a stated reason, leaving no file behind. `preference` and `kto` cells
pass TRL's own checks, `oasst` cells OpenAssistant's own models (oasst_data's, copied into
test_oasst.py), `prism` cells PRISM's published layout (its columns, and the ids its three
tables join on).

The outcomes are docs/exports.md's matrix table ("Every format, every campaign"): the test
renders the table from what it saw and fails when the docs say otherwise. After a change that
moves a cell, `AGORA_MATRIX_WRITE=1 pytest tests/exports/test_matrix.py` rewrites the table.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import datasets
import pytest

from annotation.errors import Conflict, RuleError
from exports import features
from exports.formats import FORMATS
from exports.formats.prism import CONVERSATION_COLUMNS, SURVEY_COLUMNS, UTTERANCE_COLUMNS
from exports.services import export_write
from tests.exports.kinds import MATRIX_KINDS, campaign_build
from tests.exports.test_oasst import (
    ExportMessageNode,
    ExportMessageTree,
    read_oasst_dict_tree_hf_dataset,
    read_oasst_obj,
)

CONTAINERS = ("jsonl", "parquet", "hf")
EXTENSIONS = {"jsonl": ".jsonl", "parquet": ".parquet", "hf": ""}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "exports.md"
BEGIN, END = "<!-- matrix: begin -->", "<!-- matrix: end -->"
# How the table names each campaign kind.
KIND_NAMES = {
    "pairwise": "pairwise",
    "ranking": "ranking",
    "rating": "rating",
    "binary": "binary",
    "label": "label",
    "critique": "critique",
    "rewrite": "rewrite",
    "reply": "reply",
    "tree": "tree (OpenAssistant)",
    "study": "study (PRISM), imported conversations",
    "live": "study (PRISM), live chat",
}
REASONS = {"format_does_not_fit": "does not fit", "empty": "no rows"}
PRISM_COLUMNS = {
    "survey": [c for c, _ in SURVEY_COLUMNS],
    "conversations": [c for c, _ in CONVERSATION_COLUMNS],
    "utterances": [c for c, _ in UTTERANCE_COLUMNS],
}


@pytest.fixture
def built(request, db):
    kind = request.param
    if kind == "live":
        request.getfixturevalue("default_model")  # the real model answers the live chats
    return kind, campaign_build(kind)


def _load(kind: str, path: Path, *, config: str | None = None, **kwargs: Any) -> datasets.Dataset:
    cache = str(path.parent / "cache")
    if kind == "hf":
        ds = datasets.load_dataset(str(path), config, split="train", cache_dir=cache)
    else:
        ds = datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=cache,
                                   **kwargs)  # fmt: skip
    assert isinstance(ds, datasets.Dataset)
    return ds


def _refused(e: Exception, folder: Path) -> tuple[str, str]:
    """A refusal: a known code, a reason given, and nothing written."""
    assert isinstance(e, RuleError | Conflict), e
    code = getattr(e, "code", None)
    assert code in REASONS, (code, e)
    assert len(e.message) > 40, e.message
    assert list(folder.iterdir()) == [], list(folder.iterdir())
    return ("refused", REASONS[code])


def _read_back(fmt: str, table: str, ds: datasets.Dataset, campaign: Any, trl: Any) -> None:
    """The checks of each format's published reader."""
    rows = ds.to_list()
    if fmt == "preference":
        for row in rows:
            assert trl.is_conversational(row)
            assert trl.maybe_extract_prompt(row) == row
        pairs = ds.select_columns(["prompt", "chosen", "rejected"])
        unpaired = trl.unpair_preference_dataset(pairs)
        assert unpaired.num_rows == 2 * ds.num_rows
        assert sum(unpaired["label"]) == ds.num_rows
    elif fmt == "kto":
        for row in rows:
            assert trl.is_conversational(row)
            assert trl.maybe_extract_prompt(row) == row
            assert isinstance(row["label"], bool)
        # Already unpaired: TRL leaves it as it is.
        assert trl.maybe_unpair_preference_dataset(ds).to_list() == rows
    elif fmt == "oasst":  # the typed layout: the Hub's files
        trees = read_oasst_dict_tree_hf_dataset(rows)
        assert all(isinstance(t, ExportMessageTree) for t in trees)
        assert sum(1 for t in trees for _ in _flat(t.prompt)) == len(rows)
    elif fmt == "prism":
        assert ds.column_names == PRISM_COLUMNS[table]


def _flat(node: ExportMessageNode):
    yield node
    for reply in node.replies or []:
        yield from _flat(reply)


def _prism_joins(tables: dict[str, list[dict[str, Any]]]) -> None:
    """PRISM's tables join on user_id and conversation_id, as the published ones do."""
    users = {r["user_id"] for r in tables.get("survey", [])}
    conversations = {r["conversation_id"]: r for r in tables.get("conversations", [])}
    for c in conversations.values():
        assert c["user_id"] in users
    for u in tables.get("utterances", []):
        assert u["user_id"] in users
        assert conversations[u["conversation_id"]]["user_id"] == u["user_id"]


def cell(campaign: Any, fmt: str, tmp: Path, trl: Any) -> dict[str, dict[str, Any]]:
    """One format on one campaign in every container: {container: {table: outcome}}, where
    an outcome is ("loads", rows) or ("refused", reason); a folder refused as a whole is
    {"*": ("refused", reason)}."""
    spec = FORMATS[fmt]
    single = len(spec.tables) == 1
    out: dict[str, dict[str, Any]] = {}
    for container in CONTAINERS:
        out[container] = {}
        if container == "hf":
            tables: list[str | None] = [None]
        else:
            tables = [t for t, s in spec.tables.items() if container == "jsonl" or s.schema]
        loaded: dict[str, list[dict[str, Any]]] = {}
        for table in tables:
            folder = tmp / f"{fmt}-{container}-{table or 'all'}"
            folder.mkdir()
            path = folder / f"export{EXTENSIONS[container]}"
            options = {} if single or table is None else {"table": table}
            try:
                result = export_write(campaign=campaign, fmt=fmt, container=container,
                                      path=path, options=options)  # fmt: skip
            except (RuleError, Conflict) as e:
                out[container][table or "*"] = _refused(e, folder)
                continue
            assert [p.name for p in folder.iterdir()] == [path.name]  # no .part left
            if container == "hf":
                card = (path / "README.md").read_text()
                for config in spec.tables if not single else ["default"]:
                    if spec.tables[config if not single else "default"].schema is None:
                        continue
                    name = "default" if single else config
                    if name not in result.tables:
                        assert f"`{name}`: 0 (left out: no rows)" in card, card
                        out[container][name] = ("refused", REASONS["empty"])
                        continue
                    ds = _load("hf", path, config=name)
                    declared = features(fmt, **({} if single else {"table": name}))
                    assert ds.features == declared, (fmt, name)
                    assert ds.num_rows == result.tables[name]
                    _read_back(fmt, name, ds, campaign, trl)
                    out[container][name] = ("loads", ds.num_rows)
                continue
            name = table if table is not None else "default"
            if spec.tables[name].schema is None:
                # OpenAssistant's trees nest without a fixed depth: oasst_data's models read
                # them, as they read OpenAssistant's own *.trees.jsonl.
                lines = [json.loads(x) for x in path.read_text().splitlines()]
                assert all(isinstance(read_oasst_obj(x), ExportMessageTree) for x in lines)
                out[container][name] = ("loads", len(lines))
                continue
            declared = features(fmt, container=container, campaign=campaign,
                                **({} if single else {"table": name}))  # fmt: skip
            if container == "jsonl":
                ds = _load("json", path, features=declared)
                if spec.tables[name].json_row is not None:  # OpenAssistant's messages.jsonl
                    for line in path.read_text().splitlines():
                        assert isinstance(read_oasst_obj(json.loads(line)), ExportMessageNode)
                else:
                    _read_back(fmt, name, ds, campaign, trl)
            else:
                ds = _load("parquet", path)
                _read_back(fmt, name, ds, campaign, trl)
            assert ds.features == declared, (fmt, container, name)
            assert ds.num_rows == result.rows
            loaded[name] = ds.to_list()
            out[container][name] = ("loads", ds.num_rows)
        if fmt == "prism" and container == "parquet":
            _prism_joins(loaded)
    return out


def summary(fmt: str, outcomes: dict[str, dict[str, Any]]) -> str:
    """A cell of the docs' table: what loads and what is refused, and why."""
    spec = FORMATS[fmt]
    by_table: dict[str, Any] = {}
    for table in spec.tables:
        seen = {outcomes[c][table] for c in ("jsonl", "parquet") if table in outcomes[c]}
        # JSON Lines and Parquet agree, table by table (the same rows, or the same refusal).
        assert len(seen) == 1, (fmt, table, seen)
        [outcome] = seen
        by_table[table] = ("loads",) if outcome[0] == "loads" else outcome
    folder = outcomes["hf"]
    for table, outcome in by_table.items():
        if spec.tables[table].schema is None or "*" in folder:
            continue
        # The folder holds the tables that load alone, and leaves out those without rows.
        assert folder[table][0] == outcome[0], (fmt, table, folder, outcome)
    groups: dict[tuple[Any, ...], list[str]] = {}
    for table, outcome in by_table.items():
        groups.setdefault(outcome, []).append(table)
    words = {("loads",): "loads"} | {("refused", r): f"refused: {r}" for r in REASONS.values()}
    if len(groups) == 1:
        text = words[next(iter(groups))]
    else:
        text = "; ".join(f"{', '.join(tables)} {words[o]}" for o, tables in groups.items())
    untyped = [t for t, o in by_table.items() if o[0] == "loads" and spec.tables[t].schema is None]
    if untyped:
        text += f" ({', '.join(untyped)}: JSON Lines only)"
    if "*" in folder and any(o[0] == "loads" for o in by_table.values()):
        text += f"; dataset folder refused: {folder['*'][1]}"
    return text


def docs_table() -> dict[tuple[str, str], str]:
    """The docs' matrix: (kind, format) -> cell."""
    text = DOCS.read_text()
    block = text.split(BEGIN)[1].split(END)[0]
    rows = [line for line in block.strip().splitlines() if line.startswith("|")]
    header = [c.strip(" `") for c in rows[0].strip("|").split("|")]
    table = {}
    names = {v: k for k, v in KIND_NAMES.items()}
    for line in rows[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        kind = names[cells[0]]
        for fmt, value in zip(header[1:], cells[1:], strict=True):
            table[(kind, fmt)] = value
    return table


def docs_render(cells: dict[tuple[str, str], str]) -> str:
    formats = list(FORMATS)
    lines = [
        "| campaign | " + " | ".join(f"`{f}`" for f in formats) + " |",
        "| --- |" + " --- |" * len(formats),
    ]
    for kind in MATRIX_KINDS:
        lines.append(
            f"| {KIND_NAMES[kind]} | " + " | ".join(cells[(kind, f)] for f in formats) + " |"
        )
    return "\n".join(lines)


@pytest.mark.parametrize("built", MATRIX_KINDS, indirect=True)
def test_every_format_in_every_container(built, tmp_path):
    trl = pytest.importorskip("trl.data_utils")
    kind, campaign = built
    cells = {}
    for fmt in FORMATS:
        outcomes = cell(campaign, fmt, tmp_path, trl)
        cells[(kind, fmt)] = summary(fmt, outcomes)
    _record(cells)
    documented = docs_table()
    assert {k: v for k, v in documented.items() if k[0] == kind} == cells, (
        "docs/exports.md's matrix differs from what the exports do "
        "(AGORA_MATRIX_WRITE=1 rewrites it):\n" + json.dumps({f: c for (_, f), c in cells.items()},
                                                              indent=1)
    )  # fmt: skip


def _record(cells: dict[tuple[str, str], str]) -> None:
    """With AGORA_MATRIX_WRITE=1: write the cells seen into the docs' table."""
    if not os.environ.get("AGORA_MATRIX_WRITE"):
        return
    text = DOCS.read_text()
    try:
        current = docs_table()
    except (IndexError, KeyError, ValueError):
        current = {}
    current.update(cells)
    for kind in MATRIX_KINDS:
        for fmt in FORMATS:
            current.setdefault((kind, fmt), "?")
    block = f"{BEGIN}\n{docs_render(current)}\n{END}"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text,
                      flags=re.S)  # fmt: skip
    else:
        text += "\n" + block + "\n"
    DOCS.write_text(text)
