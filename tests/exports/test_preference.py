"""The whole pairwise flow ends in a TRL preference dataset that `datasets` loads."""

import json

import datasets
import pytest
from django.core.management import call_command

from annotation.models import Membership, Message
from annotation.services import judgment_submit, task_lease_next
from exports.services import export_rows, export_to_file
from tests.conftest import api_client_for


def judge_all(campaign, annotator, pick):
    """Lease and judge until nothing is left; `pick(assignment)` returns the payload."""
    picks = {}
    while (a := task_lease_next(annotator=annotator, campaign=campaign)) is not None:
        payload = pick(a)
        judgment, _ = judgment_submit(
            assignment=a, annotator=annotator, payload=payload, idempotency_key=f"k{a.id}"
        )
        picks[judgment.id] = (a, payload)
    return picks


def prefer_model_b(a):
    """Always prefer model-b's answer, wherever it was on screen."""
    b = Message.objects.get(id__in=a.display_order, model__name="model-b")
    return {"outcome": "preferred", "preferred": b.id, "reason": "b is better"}


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
        assert r["chosen"][0]["content"].endswith("from model-b.")
        assert r["rejected"][0]["content"].endswith("from model-a.")
        assert r["prompt"] == [{"role": "user", "content": r["prompt"][0]["content"]}]
        assert r["reason"] == "b is better"
    assert {r["annotator"] for r in rows} == {alice.pseudonym, bob.pseudonym}
    assert "alice" not in json.dumps(rows)


def test_ties_and_both_bad_carry_no_preference_and_are_left_out(campaign, alice):
    outcomes = iter(["tie", "both_bad"] * 3)
    judge_all(campaign, alice, lambda a: {"outcome": next(outcomes)})
    assert list(export_rows(campaign=campaign, fmt="preference")) == []


def test_flagged_annotators_are_held_out(campaign, alice, bob):
    judge_all(campaign, alice, prefer_model_b)
    judge_all(campaign, bob, prefer_model_b)
    Membership.objects.filter(campaign=campaign, user=bob).update(is_flagged=True)
    rows = list(export_rows(campaign=campaign, fmt="preference"))
    assert {r["annotator"] for r in rows} == {alice.pseudonym}


def test_the_export_loads_in_datasets_as_a_conversational_preference_dataset(
    campaign, alice, tmp_path
):
    judge_all(campaign, alice, prefer_model_b)
    path = tmp_path / "preference.jsonl"
    assert export_to_file(campaign=campaign, fmt="preference", path=path) == 6
    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    assert ds.num_rows == 6
    assert {"prompt", "chosen", "rejected"} <= set(ds.column_names)
    row = ds[0]
    # TRL's is_conversational: a list whose first element is a dict with "role".
    assert row["prompt"][0]["role"] == "user"
    assert row["chosen"][0]["role"] == "assistant" and row["rejected"][0]["role"] == "assistant"
    assert row["chosen_model"] == "model-b"


def test_the_api_streams_the_same_rows(campaign, alice, carol):
    judge_all(campaign, alice, prefer_model_b)
    response = api_client_for(carol).get(
        f"/api/v1/campaigns/{campaign.id}/export/?format=preference"
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/jsonl"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line) for line in lines] == list(
        export_rows(campaign=campaign, fmt="preference")
    )


def test_the_cli_writes_the_export(campaign, alice, tmp_path):
    judge_all(campaign, alice, prefer_model_b)
    out = tmp_path / "out.jsonl"
    call_command("export", campaign.slug, "--format", "preference", "--output", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and rows[0]["schema_version"] == "agora.preference/1"


@pytest.mark.parametrize("batch_size", [1, 4])
def test_batches_do_not_change_the_rows(campaign, alice, settings, batch_size):
    judge_all(campaign, alice, prefer_model_b)
    whole = list(export_rows(campaign=campaign, fmt="preference"))
    settings.AGORA_EXPORT_BATCH_SIZE = batch_size
    assert list(export_rows(campaign=campaign, fmt="preference")) == whole
