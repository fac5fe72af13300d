"""The dataset card says what the rows it describes say: computed from the files it sits
beside, never from the campaign's settings."""

import re

import pyarrow.parquet as pq
import pytest
import yaml

from annotation.services import campaign_admin, prompts_import
from exports.services import export_write
from generation.models import LanguageModel
from tests.exports.conftest import judge_all, lines, rate_by_model


def _card(folder):
    text = (folder / "README.md").read_text()
    return yaml.safe_load(text.split("---")[1]), text


def _rows(folder, config="default"):
    return pq.read_table(folder / "data" / config).to_pylist()


@pytest.fixture
def two_instructions(rating_campaign, alice, bob):
    """Ratings of imported responses (models m0-m2, none registered with the campaign, which
    names another), judged under two versions of the instructions."""
    registered = LanguageModel.objects.create(name="registered-but-silent", backend="external")
    rating_campaign.language_models.set([registered])
    judge_all(rating_campaign, alice, rate_by_model)
    campaign_admin.campaign_update(campaign=rating_campaign, instructions="Rate with care.")
    assert prompts_import(campaign=rating_campaign, content=lines(3, n_prompts=5)).ok  # 2 more
    judge_all(rating_campaign, bob, rate_by_model)
    return rating_campaign


@pytest.mark.parametrize("fmt", ["ratings", "preference", "judgments"])
def test_the_card_names_every_model_and_instructions_version_in_its_rows(
    two_instructions, tmp_path, fmt
):
    folder = tmp_path / fmt
    export_write(campaign=two_instructions, fmt=fmt, container="hf", path=folder)
    front, text = _card(folder)
    rows = _rows(folder)
    assert {r["instructions_version"] for r in rows} == {1, 2}
    assert "under versions 1 and 2 of the instructions" in text
    assert "Responses from: `m0`, `m1`, `m2`." in text
    assert "registered-but-silent" not in text
    judgments = {r["judgment_id"] for r in rows}
    annotators = {r["annotator"] for r in rows}
    tasks = {r["task_id"] for r in rows}
    assert (
        f"- {len(judgments)} judgments of {len(tasks)} tasks by {len(annotators)} annotators"
        in text
    )
    first, last = min(r["created_at"] for r in rows), max(r["created_at"] for r in rows)
    assert f"made between {first[:10]} and {last[:10]}" in text
    assert front["dataset_info"][0]["splits"][0]["num_examples"] == len(rows)


def test_a_prism_card_names_the_models_that_answered_in_its_conversations(
    two_instructions, tmp_path
):
    folder = tmp_path / "prism"
    export_write(campaign=two_instructions, fmt="prism", container="hf", path=folder)
    _, text = _card(folder)
    answered = {r["model_name"] for r in _rows(folder, "utterances")}
    assert answered == {"m0", "m1", "m2"}
    named = re.search(r"Responses from: (.*)\.", text).group(1)
    assert named == "`m0`, `m1`, `m2`"
