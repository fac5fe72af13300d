"""Every format, as JSON Lines, Parquet and a Hugging Face dataset folder, loads with `datasets`
in its documented columns; and each format says what the reference layouts say."""

import gc
import json

import datasets
import pytest
import yaml

from annotation.models import Conversation, Membership, Message, Profile
from annotation.services import prompts_import
from exports import load
from exports.formats import FORMATS
from exports.formats.pages import EXPORT_GC_THRESHOLD
from exports.formats.spec import Shared, SplitRow, plain
from exports.options import ExportOptions
from exports.services import export_rows, export_write
from exports.writers import encode_row
from tests.exports.conftest import judge_all, lines, pid, rank_by_model, rate_by_model

# (format, table) for every table that has a typed schema.
TABLES = [
    (name, table)
    for name, f in FORMATS.items()
    for table, t in f.tables.items()
    if t.schema is not None
]


@pytest.fixture
def judged(rating_campaign, alice, bob):
    """A rating campaign both annotators finished (rating feeds every format but oasst's
    ranks)."""
    judge_all(rating_campaign, alice, rate_by_model)
    judge_all(rating_campaign, bob, rate_by_model)
    return rating_campaign


def options_for(fmt, table):
    return {"table": table} if len(FORMATS[fmt].tables) > 1 else {}


@pytest.mark.parametrize(("fmt", "table"), TABLES)
def test_each_table_loads_from_json_lines_and_parquet_with_its_schema(judged, tmp_path, fmt, table):
    schema = FORMATS[fmt].tables[table].schema
    options = options_for(fmt, table)
    rows = list(export_rows(campaign=judged, fmt=fmt, **options))
    assert rows, "the fixture should give every table rows"
    assert list(rows[0]) == schema(ExportOptions()).names
    for container in ("jsonl", "parquet"):
        path = tmp_path / f"out.{container}"
        result = export_write(campaign=judged, fmt=fmt, container=container, path=path,
                              options=options)  # fmt: skip
        assert result.rows == len(rows)
        loader = "json" if container == "jsonl" else "parquet"
        ds = datasets.load_dataset(loader, data_files=str(path), split="train")
        assert ds.num_rows == len(rows)
        if container == "jsonl" and FORMATS[fmt].tables[table].json_row is not None:
            continue  # a published JSON layout of its own (oasst's messages): test_oasst.py
        assert set(ds.column_names) == set(rows[0])
        if container == "parquet":
            assert ds.features == datasets.Features.from_arrow_schema(schema(ExportOptions()))
            assert ds.to_list() == [json.loads(json.dumps(r)) for r in _as_arrow(rows, ds)]


def _as_arrow(rows, ds):
    """Rows as Parquet gives them back: integers in float columns become floats, struct fields
    that a JSON row leaves out come back null."""
    out = []
    for row, back in zip(rows, ds.to_list(), strict=True):
        out.append(_like(row, back))
    return out


def _like(value, back):
    if isinstance(value, dict):
        return {k: _like(value.get(k), back[k]) for k in back}
    if isinstance(value, list):
        return [_like(v, b) for v, b in zip(value, back, strict=True)]
    if isinstance(value, int) and isinstance(back, float):
        return float(value)
    return value


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_makes_a_dataset_folder_with_a_card(judged, tmp_path, fmt):
    folder = tmp_path / fmt
    result = export_write(campaign=judged, fmt=fmt, container="hf", path=folder,
                          options={"license": "cc-by-4.0"})  # fmt: skip
    card = (folder / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["license"] == "cc-by-4.0"
    assert front["schema_version"] == FORMATS[fmt].version
    assert front["size_categories"] == ["n<1K"]
    names = [c["config_name"] for c in front["configs"]]
    assert names == list(result.tables)
    for config, info in zip(front["configs"], front["dataset_info"], strict=True):
        name = config["config_name"]
        assert config["data_files"] == [{"split": "train", "path": f"data/{name}/train-*"}]
        assert info["splits"][0]["num_examples"] == result.tables[name]
        ds = datasets.load_dataset(str(folder), name, split="train")
        assert ds.num_rows == result.tables[name]
        # The card's features are datasets' own reading of the files.
        assert datasets.Features._from_yaml_list(info["features"]) == ds.features
    # Counted from the rows (issue 21): oasst's rows are messages, not judgments.
    assert ("messages in" if fmt == "oasst" else "judgments of") in card and "annotators" in card
    assert "alice" not in card and "bob" not in card
    assert list((folder / "data").rglob("*.parquet"))
    assert not (tmp_path / f"{fmt}.part").exists()


def test_kto_rows_from_ratings_binary_and_pairwise(judged, make_campaign, campaign, alice):
    rows = list(export_rows(campaign=judged, fmt="kto"))
    # Scores 20 / 50 / 80 on a 1-100 slider: above the middle (50.5) is desirable.
    assert sorted((r["score"], r["label"]) for r in rows)[:1] == [(20, False)]
    assert {r["score"]: r["label"] for r in rows} == {20: False, 50: False, 80: True}
    assert all(r["threshold"] == 50.5 and r["completion"][0]["role"] == "assistant" for r in rows)
    strict = list(export_rows(campaign=judged, fmt="kto", threshold=50))
    assert {r["score"]: r["label"] for r in strict} == {20: False, 50: True, 80: True}

    binary = make_campaign(members=[alice], task_kind="binary", overlap=1)
    prompts_import(campaign=binary, content=lines(2, n_prompts=1))
    judge_all(binary, alice, lambda a: {"label": "m1" in Message.objects.get(
        id=a.display_order[0]).model.name})  # fmt: skip
    assert {(r["model"], r["label"]) for r in export_rows(campaign=binary, fmt="kto")} == {
        ("m0", False),
        ("m1", True),
    }

    from tests.exports.conftest import prefer_model_b

    judge_all(campaign, alice, prefer_model_b)
    pairwise = list(export_rows(campaign=campaign, fmt="kto"))
    assert len(pairwise) == 12
    assert {(r["model"], r["label"]) for r in pairwise} == {("model-b", True), ("model-a", False)}
    if data_utils := _trl():
        assert all(data_utils.is_conversational(r) for r in pairwise)


def _trl():
    try:
        from trl import data_utils
    except ImportError:
        return None
    return data_utils


def test_ratings_long_form_with_scales(judged, alice, bob):
    rows = list(export_rows(campaign=judged, fmt="ratings"))
    scores = [r for r in rows if not r["followup"]]
    followups = [r for r in rows if r["followup"]]
    assert len(scores) == 2 * 3 * 3  # annotators x prompts x responses (one attribute)
    assert len(followups) == 2 * 3 * 2  # on the chosen response: two followup attributes
    r = scores[0]
    assert (r["attribute"], r["scale_type"], r["scale_min"], r["scale_max"]) == (
        "score", "slider", 1, 100
    )  # fmt: skip
    assert {f["attribute"] for f in followups} == {"factuality", "choice_factuality"}
    assert all(f["chosen"] and f["model"] == "m2" for f in followups)
    assert {r["annotator"] for r in rows} == {pid(judged, alice), pid(judged, bob)}


def test_judgments_keep_payload_order_candidates_and_provenance(judged, alice):
    Message.objects.filter(model__name="m1").update(
        sampling_params={"temperature": 0.7, "seed": 3}, completion_tokens=42, backend="vllm"
    )
    Profile.objects.create(user=alice, version=1, answers={})
    rows = list(export_rows(campaign=judged, fmt="judgments"))
    assert len(rows) == 6
    r = rows[0]
    payload = json.loads(r["payload"])
    assert set(payload) == {"ratings", "followup"}
    # Candidate order is the task's (the file's: m0, m1, m2); ids are stored in a random order
    # per prompt, so that they tell annotators nothing about the models.
    assert [c["model"] for c in r["candidates"]] == ["m0", "m1", "m2"]
    assert sorted(c["message_id"] for c in r["candidates"]) == sorted(r["display_order"])
    m1 = next(c for c in r["candidates"] if c["model"] == "m1")
    assert json.loads(m1["sampling_params"]) == {"temperature": 0.7, "seed": 3}
    assert (m1["completion_tokens"], m1["backend"]) == (42, "vllm")
    assert r["system"] == "Be kind." and r["prompt"][0]["role"] == "system"
    assert r["created_at"] >= r["leased_at"] and r["kind"] == "rating"


def test_oasst_trees_with_ranks_labels_and_reviews(ranking_campaign, make_campaign, alice, bob):
    judge_all(ranking_campaign, alice, rank_by_model)
    judge_all(ranking_campaign, bob, rank_by_model)
    trees = list(export_rows(campaign=ranking_campaign, fmt="oasst"))
    assert len(trees) == 3
    tree = trees[0]
    assert tree["message_tree_id"] == tree["prompt"]["message_id"]
    assert tree["tree_state"] == "ready_for_export" and "parent_id" not in tree["prompt"]
    replies = tree["prompt"]["replies"]
    assert [r["rank"] for r in replies] == [0, 1, 2, 3]
    assert [r["model_name"] for r in replies] == ["m3", "m2", "m1", "m0"]
    assert all(r["role"] == "assistant" and r["synthetic"] for r in replies)
    assert tree["prompt"]["role"] == "prompter" and "model_name" not in tree["prompt"]

    # A tree that is not ready is left out unless asked for.
    Conversation.objects.filter(id=tree["conversation_id"]).update(
        metadata={"tree_state": "growing"}
    )
    assert len(list(export_rows(campaign=ranking_campaign, fmt="oasst"))) == 2
    assert len(list(export_rows(campaign=ranking_campaign, fmt="oasst", all_trees=True))) == 3

    labels = make_campaign(members=[alice, bob, ranking_campaign.created_by], task_kind="label",
                           overlap=3)  # fmt: skip
    prompts_import(campaign=labels, content=lines(1, n_prompts=1))
    for user, spam in ((alice, True), (bob, False), (labels.created_by, True)):
        judge_all(labels, user, lambda a, spam=spam: {"labels": {"spam": spam, "quality": 5}})
    reply = next(export_rows(campaign=labels, fmt="oasst"))["prompt"]["replies"][0]
    assert reply["review_count"] == 3 and reply["review_result"] is False
    assert reply["labels"]["spam"] == {"value": pytest.approx(2 / 3), "count": 3}
    assert reply["labels"]["quality"] == {"value": 1.0, "count": 3}
    flat = list(export_rows(campaign=labels, fmt="oasst", table="messages"))
    assert [m["role"] for m in flat] == ["prompter", "assistant"]
    names = flat[1]["labels"]["name"]
    assert names == sorted(names) and "spam" in names
    assert flat[1]["labels"]["value"][names.index("spam")] == pytest.approx(2 / 3)
    assert flat[1]["message_tree_id"] == flat[0]["message_id"]


def test_oasst_trees_load_from_json_lines(ranking_campaign, alice, tmp_path):
    judge_all(ranking_campaign, alice, rank_by_model)
    path = tmp_path / "trees.jsonl"
    export_write(campaign=ranking_campaign, fmt="oasst", container="jsonl", path=path)
    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    assert ds.num_rows == 3 and len(ds[0]["prompt"]["replies"]) == 4


def test_prism_tables_have_its_columns_and_join_on_their_ids(rating_campaign, alice, bob):
    # The profile alice's judgments are made under (the survey shows the one in force here).
    Profile.objects.create(
        user=alice,
        version=1,
        answers={
            "age": "25-34 years old",
            "religion": "Buddhist",
            "location": {"birth_country": "Kenya", "reside_countryISO": "GBR"},
            "stated_prefs": {"values": 80, "safety": 90, "other_text": "brevity"},
        },
    )
    judge_all(rating_campaign, alice, rate_by_model)
    judge_all(rating_campaign, bob, rate_by_model)
    judged = rating_campaign
    Conversation.objects.filter(campaign=judged).update(prism_type="values_guided")
    survey = list(export_rows(campaign=judged, fmt="prism", table="survey"))
    conversations = list(export_rows(campaign=judged, fmt="prism", table="conversations"))
    utterances = list(export_rows(campaign=judged, fmt="prism", table="utterances"))
    assert [k for k in survey[0]][:4] == ["user_id", "survey_only", "num_completed_conversations",
                                          "consent"]  # fmt: skip
    me = next(s for s in survey if s["user_id"] == pid(judged, alice))
    assert me["age"] == "25-34 years old" and me["num_completed_conversations"] == 3
    assert me["religion"] == {"self_described": "Buddhist", "categorised": None,
                              "simplified": None}  # fmt: skip
    assert me["stated_prefs"]["safety"] == 90 and me["stated_prefs"]["other_text"] == "brevity"
    assert me["location"]["birth_country"] == "Kenya" and me["included_in_US_REP"] is None
    assert len(conversations) == 6 and len(utterances) == 18
    c = conversations[0]
    assert c["conversation_type"] == "values guided" and c["conversation_turns"] == 1
    history = c["conversation_history"]
    assert history[0] == {"turn": 0, "role": "user", "content": c["opening_prompt"]}
    models = [h for h in history if h["role"] == "model"]
    assert [h["within_turn_id"] for h in models] == [0, 1, 2]
    assert [h["if_chosen"] for h in models].count(True) == 1
    assert c["performance_attributes"]["factuality"] == 70
    assert c["choice_attributes"]["factuality"] == 90
    assert c["open_feedback"] == "The best one was clear."
    users = {s["user_id"] for s in survey}
    ids = {c["conversation_id"] for c in conversations}
    for u in utterances:
        assert u["user_id"] in users and u["conversation_id"] in ids
    chosen = [u for u in utterances if u["if_chosen"]]
    assert len(chosen) == 6 and {u["score"] for u in chosen} == {80}
    assert {u["model_provider"] for u in utterances} == {"external"}


def test_a_format_of_several_tables_asks_which(judged):
    from annotation.errors import RuleError

    with pytest.raises(RuleError) as e:
        export_rows(campaign=judged, fmt="prism")
    assert e.value.field == "table"


def test_the_python_helper_gives_a_dataset(judged, tmp_path):
    ds = load(judged.slug, "preference", cache_dir=tmp_path)
    assert isinstance(ds, datasets.Dataset)
    assert ds.num_rows == len(list(export_rows(campaign=judged, fmt="preference")))
    assert ds.features["prompt"] == datasets.List(
        {"role": datasets.Value("string"), "content": datasets.Value("string")}
    )
    assert load(judged.id, "prism", table="survey", cache_dir=tmp_path).num_rows == 2


def test_flagged_annotators_are_held_out_unless_asked(judged, bob):
    Membership.objects.filter(campaign=judged, user=bob).update(is_flagged=True)
    for fmt, table in TABLES:
        options = options_for(fmt, table)
        rows = list(export_rows(campaign=judged, fmt=fmt, **options))
        assert pid(judged, bob) not in json.dumps(rows), (fmt, table)
        everyone = list(export_rows(campaign=judged, fmt=fmt, include_flagged=True, **options))
        if fmt not in ("oasst",):
            assert pid(judged, bob) in json.dumps(everyone), (fmt, table)


def test_withdrawn_consent_is_absent_from_every_export(judged, alice, monkeypatch, tmp_path):
    """Whoever the hook names is gone from every format and table, whatever the options."""
    from annotation.models import User
    from exports.formats import context as base

    monkeypatch.setattr(base, "consent_withdrawn_users",
                        lambda **kw: User.objects.filter(id=alice.id))  # fmt: skip
    Profile.objects.create(user=alice, version=1, answers={"age": "18-24 years old"})
    gone = pid(judged, alice)
    for fmt, table in [*TABLES, ("oasst", "trees")]:
        options = {**options_for(fmt, table), "include_flagged": True, "include_gold": True}
        text = json.dumps(list(export_rows(campaign=judged, fmt=fmt, **options)))
        assert gone not in text and "18-24" not in text, (fmt, table)


def test_gold_judgments_are_held_out_by_default(campaign, alice):
    from annotation.models import Task
    from tests.exports.conftest import prefer_model_b

    first = Task.objects.filter(campaign=campaign).order_by("id").first()
    Task.objects.filter(id=first.id).update(gold={"outcome": "tie"})
    judge_all(campaign, alice, prefer_model_b)
    assert len(list(export_rows(campaign=campaign, fmt="preference"))) == 5
    assert len(list(export_rows(campaign=campaign, fmt="preference", include_gold=True))) == 6


def test_rows_are_plain_dicts(judged):
    for fmt, table in TABLES:
        for row in plain(iter(export_rows(campaign=judged, fmt=fmt, **options_for(fmt, table)))):
            assert type(row) is dict
            break


def test_a_json_line_is_the_json_of_its_row_with_bytes_as_base64():
    row = {"id": 7, "text": 'naïve\n"quoted"', "scores": {1: 0.5}, "image": b"\x89PNG"}
    line = encode_row(SplitRow(Shared({"prompt": [{"role": "user", "content": "hé"}]}), row))

    assert json.loads(line) == {
        "prompt": [{"role": "user", "content": "hé"}],
        "id": 7,
        "text": 'naïve\n"quoted"',
        "scores": {"1": 0.5},
        "image": "iVBORw==",
    }
    assert b"\n" not in line


def test_an_export_relaxes_the_garbage_collector_only_while_it_runs(judged):
    before = gc.get_threshold()
    rows = export_rows(campaign=judged, fmt="preference")
    next(rows)
    assert gc.get_threshold()[0] == EXPORT_GC_THRESHOLD
    list(rows)
    assert gc.get_threshold() == before
    abandoned = export_rows(campaign=judged, fmt="ratings")
    next(abandoned)
    abandoned.close()  # a client that goes away mid-stream
    assert gc.get_threshold() == before
