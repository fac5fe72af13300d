"""The preference format: TRL's prompt / chosen / rejected, from pairwise judgments, rankings and
ratings, per judgment or by majority, with the filters a researcher asks for."""

import json

import datasets
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from annotation.errors import RuleError
from annotation.models import Message
from annotation.services import prompts_import
from exports.formats import FORMATS
from exports.formats.context import ExportContext
from exports.options import options_parse
from exports.services import export_rows, export_to_file
from exports.writers import write_parquet
from tests.conftest import api_client_for, pairwise_lines
from tests.exports.conftest import (
    judge_all,
    lines,
    model_of,
    pid,
    prefer_model_b,
    rank_by_model,
    rate_by_model,
)


def test_exported_chosen_and_rejected_follow_the_pick_whatever_the_screen_order(
    campaign, alice, bob
):
    judge_all(campaign, alice, prefer_model_b)
    judge_all(campaign, bob, prefer_model_b)
    rows = list(export_rows(campaign=campaign, fmt="preference"))
    assert len(rows) == 12
    # Counterbalancing put model-b on both sides; the export must not care.
    assert {r["chosen_position"] for r in rows} == {0, 1}
    for r in rows:
        assert r["chosen_model"] == "model-b" and r["rejected_model"] == "model-a"
        assert r["chosen"] == [{"role": "assistant", "content": r["chosen"][0]["content"]}]
        assert r["chosen"][0]["content"].endswith("from model-b.")
        assert r["rejected"][0]["content"].endswith("from model-a.")
        assert r["prompt"] == [{"role": "user", "content": r["prompt"][0]["content"]}]
        assert r["reason"] == "b is better" and r["outcome"] == "preferred"
        assert r["source_kind"] == "pairwise" and r["judgment_ids"] == [r["judgment_id"]]
        assert (r["votes"], r["agreement"]) == (2, 1.0)
    assert {r["annotator"] for r in rows} == {pid(campaign, alice), pid(campaign, bob)}


def test_annotator_ids_are_stable_per_campaign_and_reveal_nobody(
    campaign, make_campaign, alice, bob
):
    judge_all(campaign, alice, prefer_model_b)
    other = make_campaign(members=[alice])
    prompts_import(campaign=other, content=pairwise_lines(1))
    judge_all(other, alice, prefer_model_b)
    here = {r["annotator"] for r in export_rows(campaign=campaign, fmt="preference")}
    again = {r["annotator"] for r in export_rows(campaign=campaign, fmt="preference")}
    there = {r["annotator"] for r in export_rows(campaign=other, fmt="preference")}
    assert here == again and len(here) == 1 and here.isdisjoint(there)
    text = json.dumps(list(export_rows(campaign=campaign, fmt="preference")))
    assert "alice" not in text and alice.pseudonym not in text
    assert f'"annotator": "{alice.id}"' not in text


def test_ties_and_both_bad_are_dropped_by_default_and_kept_on_request(campaign, alice):
    outcomes = iter(["tie", "both_bad", "tie", "both_bad", "tie", "both_bad"])
    judge_all(campaign, alice, lambda a: {"outcome": next(outcomes)})
    assert list(export_rows(campaign=campaign, fmt="preference")) == []
    kept = list(export_rows(campaign=campaign, fmt="preference", keep_ties=True))
    assert sorted(r["outcome"] for r in kept) == ["both_bad"] * 3 + ["tie"] * 3


def test_a_ranking_of_four_is_the_six_pairs_best_first(ranking_campaign, alice):
    judge_all(ranking_campaign, alice, rank_by_model)
    everything = list(export_rows(campaign=ranking_campaign, fmt="preference"))
    rows = [r for r in everything if r["task_id"] == everything[0]["task_id"]]
    pairs = [(r["chosen_model"], r["rejected_model"]) for r in rows]
    assert pairs == [
        ("m3", "m2"), ("m3", "m1"), ("m3", "m0"), ("m2", "m1"), ("m2", "m0"), ("m1", "m0")
    ]  # fmt: skip
    assert [(r["chosen_rank"], r["rejected_rank"]) for r in rows] == [
        (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)
    ]  # fmt: skip
    for r in rows:
        assert r["chosen"][0]["content"].split(":")[0].endswith(r["chosen_model"])


def test_best_vs_worst_keeps_one_pair_per_ranking(ranking_campaign, alice):
    judge_all(ranking_campaign, alice, rank_by_model)
    rows = list(export_rows(campaign=ranking_campaign, fmt="preference", pairs="best_vs_worst"))
    assert len(rows) == 3
    assert {(r["chosen_model"], r["rejected_model"]) for r in rows} == {("m3", "m0")}


def test_tied_places_in_a_ranking_are_ties(make_campaign, alice):
    c = make_campaign(
        members=[alice], task_kind="ranking", settings={"allow_ties": True}, overlap=1
    )
    prompts_import(campaign=c, content=lines(3, n_prompts=1))

    def with_a_tie(a):
        best, *rest = sorted(a.display_order, key=model_of, reverse=True)
        return {"ranking": [best, rest]}

    judge_all(c, alice, with_a_tie)
    assert len(list(export_rows(campaign=c, fmt="preference"))) == 2
    kept = list(export_rows(campaign=c, fmt="preference", keep_ties=True))
    assert sorted(r["outcome"] for r in kept) == ["preferred", "preferred", "tie"]


def test_ratings_give_pairs_by_an_attribute_and_keep_the_system_message(rating_campaign, alice):
    judge_all(rating_campaign, alice, rate_by_model)
    rows = list(export_rows(campaign=rating_campaign, fmt="preference"))
    assert len(rows) == 9  # 3 prompts x 3 pairs of 3 rated responses
    for r in rows:
        assert r["chosen_score"] > r["rejected_score"] and r["source_kind"] == "rating"
        assert r["prompt"][0] == {"role": "system", "content": "Be kind."}
        assert r["system"] == "Be kind."
    with pytest.raises(RuleError) as e:
        export_rows(campaign=rating_campaign, fmt="preference", rating_attribute="nope")
    assert e.value.field == "rating_attribute"


def test_per_attribute_choices_give_one_row_per_attribute(make_campaign, alice):
    settings = {"attributes": [{"name": "helpful"}, {"name": "harmless"}]}
    c = make_campaign(members=[alice], settings=settings, overlap=1)
    prompts_import(campaign=c, content=pairwise_lines(2))

    def split(a):
        b = Message.objects.get(id__in=a.display_order, model__name="model-b").id
        other = next(m for m in a.display_order if m != b)
        return {
            "attributes": {
                "helpful": {"outcome": "preferred", "preferred": b},
                "harmless": {"outcome": "preferred", "preferred": other},
            }
        }

    judge_all(c, alice, split)
    rows = list(export_rows(campaign=c, fmt="preference"))
    assert sorted((r["attribute"], r["chosen_model"]) for r in rows) == [
        ("harmless", "model-a"), ("harmless", "model-a"),
        ("helpful", "model-b"), ("helpful", "model-b"),
    ]  # fmt: skip


def test_majority_rows_carry_the_agreement(make_campaign, alice, bob, carol):
    c = make_campaign(members=[alice, bob, carol], overlap=3)
    prompts_import(campaign=c, content=pairwise_lines(2))
    judge_all(c, alice, prefer_model_b)
    judge_all(c, bob, prefer_model_b)

    def prefer_a(a):
        return {
            "outcome": "preferred",
            "preferred": Message.objects.get(id__in=a.display_order, model__name="model-a").id,
        }

    judge_all(c, carol, prefer_a)
    per_judgment = list(export_rows(campaign=c, fmt="preference"))
    assert len(per_judgment) == 6
    assert sorted(round(r["agreement"], 2) for r in per_judgment) == [0.33] * 2 + [0.67] * 4
    rows = list(export_rows(campaign=c, fmt="preference", aggregate="majority"))
    assert len(rows) == 2
    for r in rows:
        assert r["chosen_model"] == "model-b" and r["votes"] == 3
        assert r["agreement"] == pytest.approx(2 / 3) and len(r["judgment_ids"]) == 2
        assert r["annotator"] is None and r["judgment_id"] is None
    assert list(export_rows(campaign=c, fmt="preference", min_agreement=0.7)) == []
    assert len(list(export_rows(campaign=c, fmt="preference", min_agreement=0.6))) == 4


def test_near_identical_pairs_are_dropped_at_the_researchers_threshold(make_campaign, alice):
    c = make_campaign(members=[alice], overlap=1)
    same = {"id": "s", "prompt": "Hi?", "responses": [
        {"text": "Hello there, how can I help you today?", "model": "a"},
        {"text": "Hello there, how can I help you today!", "model": "b"},
    ]}  # fmt: skip
    other = {"id": "o", "prompt": "Sum?", "responses": [
        {"text": "It is four.", "model": "a"},
        {"text": "The sum of two and two equals 4, as addition says.", "model": "b"},
    ]}  # fmt: skip
    prompts_import(campaign=c, content=json.dumps(same) + "\n" + json.dumps(other))
    judge_all(c, alice, lambda a: {"outcome": "preferred", "preferred": a.display_order[0]})
    assert len(list(export_rows(campaign=c, fmt="preference"))) == 2
    for how in ("jaccard", "difflib"):
        rows = list(export_rows(campaign=c, fmt="preference", max_similarity=0.9, similarity=how))
        assert [r["conversation_external_id"] for r in rows] == ["o"]


def test_the_plain_text_variant(rating_campaign, alice):
    judge_all(rating_campaign, alice, rate_by_model)
    row = next(export_rows(campaign=rating_campaign, fmt="preference", text=True))
    same = next(export_rows(campaign=rating_campaign, fmt="preference"))
    assert row["prompt"] == (
        "System: Be kind.\n\nUser: Question 0: how do I do thing 0?\n\nAssistant:"
    )
    assert row["chosen"] == " " + same["chosen"][0]["content"]
    assert row["rejected"] == " " + same["rejected"][0]["content"]


def test_dates_kinds_and_rounds_filter(campaign, alice):
    judge_all(campaign, alice, prefer_model_b)
    assert len(list(export_rows(campaign=campaign, fmt="preference", since="2000-01-01"))) == 6
    assert list(export_rows(campaign=campaign, fmt="preference", until="2000-01-01")) == []
    assert list(export_rows(campaign=campaign, fmt="preference", kinds="ranking")) == []
    assert len(list(export_rows(campaign=campaign, fmt="preference", round=1))) == 6
    assert list(export_rows(campaign=campaign, fmt="preference", round=2)) == []
    with pytest.raises(RuleError) as e:
        export_rows(campaign=campaign, fmt="preference", since="yesterday")
    assert e.value.field == "since"
    with pytest.raises(RuleError) as e:
        export_rows(campaign=campaign, fmt="preference", threshold=3)
    assert e.value.field == "threshold" and "does not apply" in e.value.message


def test_rows_pass_trls_own_checks(campaign, alice, tmp_path):
    data_utils = pytest.importorskip("trl.data_utils")
    judge_all(campaign, alice, prefer_model_b)
    path = tmp_path / "preference.jsonl"
    assert export_to_file(campaign=campaign, fmt="preference", path=path) == 6
    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    assert ds.num_rows == 6
    for row in ds:
        assert data_utils.is_conversational(row)
        # The prompt is explicit, so TRL leaves the example as it is.
        assert data_utils.maybe_extract_prompt(row) == row
    unpaired = data_utils.unpair_preference_dataset(
        ds.select_columns(["prompt", "chosen", "rejected"])
    )
    assert unpaired.num_rows == 12 and sorted(set(unpaired["label"])) == [False, True]


def test_the_api_streams_the_same_rows(campaign, alice, carol):
    judge_all(campaign, alice, prefer_model_b)
    response = api_client_for(carol).get(
        f"/api/v1/campaigns/{campaign.id}/export/?format=preference&keep_ties=1"
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/jsonl"
    lines_ = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line) for line in lines_] == list(
        export_rows(campaign=campaign, fmt="preference", keep_ties=True)
    )


def test_the_api_names_a_bad_option_before_streaming(campaign, carol):
    response = api_client_for(carol).get(
        f"/api/v1/campaigns/{campaign.id}/export/?format=preference&min_agreement=2"
    )
    assert response.status_code == 400 and response.json()["field"] == "min_agreement"


def test_only_admins_may_export(campaign, alice, mallory):
    assert api_client_for(alice).get(f"/api/v1/campaigns/{campaign.id}/export/").status_code == 403
    assert (
        api_client_for(mallory).get(f"/api/v1/campaigns/{campaign.id}/export/").status_code == 404
    )


def test_the_cli_writes_the_export(campaign, alice, tmp_path):
    judge_all(campaign, alice, prefer_model_b)
    out = tmp_path / "out.jsonl"
    call_command("export", campaign.slug, "--format", "preference", "--output", str(out),
                 "--no-progress")  # fmt: skip
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and rows[0]["schema_version"] == "agora.preference/2"


@pytest.mark.parametrize("batch_size", [1, 4])
def test_batches_do_not_change_the_rows(ranking_campaign, alice, bob, settings, batch_size):
    judge_all(ranking_campaign, alice, rank_by_model)
    judge_all(ranking_campaign, bob, rank_by_model)
    for aggregate in ("none", "majority"):
        whole = list(export_rows(campaign=ranking_campaign, fmt="preference", aggregate=aggregate))
        settings.AGORA_EXPORT_BATCH_SIZE = batch_size
        again = list(export_rows(campaign=ranking_campaign, fmt="preference", aggregate=aggregate))
        settings.AGORA_EXPORT_BATCH_SIZE = 1000
        assert again == whole and whole


def _tied_rankings(request, alice, bob):
    """Rankings with a tie in second place, from two annotators who disagree on the best."""
    c = request.getfixturevalue("make_campaign")(
        members=[alice, bob], task_kind="ranking", settings={"allow_ties": True}, overlap=2
    )
    assert prompts_import(campaign=c, content=lines(4)).ok

    def tie_second(a, flip):
        ranked = sorted(a.display_order, key=model_of, reverse=not flip)
        return {"ranking": [ranked[0], ranked[1:3], ranked[3]]}

    judge_all(c, alice, lambda a: tie_second(a, False))
    judge_all(c, bob, lambda a: tie_second(a, True))
    return c


def _ratings(request, alice, bob):
    """Ratings, each prompt with a system message."""
    c = request.getfixturevalue("rating_campaign")
    judge_all(c, alice, rate_by_model)
    judge_all(c, bob, rate_by_model)
    return c


def _pairwise_with_ties(request, alice, bob):
    """Pairwise judgments, alice's a tie or both bad on half the tasks."""
    c = request.getfixturevalue("campaign")
    outcomes = iter(["tie", "both_bad", "tie", None, None, None])
    judge_all(c, alice, lambda a: {"outcome": o} if (o := next(outcomes)) else prefer_model_b(a))
    judge_all(c, bob, prefer_model_b)
    return c


@pytest.mark.parametrize("judged", [_tied_rankings, _ratings, _pairwise_with_ties])
@pytest.mark.parametrize(
    "options",
    [{}, {"keep_ties": True}, {"aggregate": "majority", "keep_ties": True}, {"text": True}],
)
def test_parquet_row_groups_hold_exactly_the_rows(request, judged, options, alice, bob, tmp_path):
    """Parquet columns are built a row group at a time from the rows' shared and own parts
    (a pair's shared columns converted once, then repeated): the table read back is the rows,
    whichever row group a pair's rows fall in."""
    campaign = judged(request, alice, bob)
    rows = list(export_rows(campaign=campaign, fmt="preference", **options))
    assert rows
    opts = options_parse(options)
    table = FORMATS["preference"].tables["default"]
    assert table.schema is not None
    path = tmp_path / "out.parquet"
    ctx = ExportContext(campaign, opts)
    stats = write_parquet(table.rows(ctx), path, table.schema(opts), row_group_rows=5)
    assert stats.rows == len(rows)
    back = pq.ParquetFile(path)
    assert back.num_row_groups == -(-len(rows) // 5)
    assert back.schema_arrow == table.schema(opts)
    assert back.read().to_pylist() == rows
