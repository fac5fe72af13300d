"""Prompts with images in the preference and kto exports: TRL's vision layout, an `images`
column of `datasets.Image` declared in the format's features, the same in every container."""

import io
import json

import datasets
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from PIL import Image

import exports
from annotation.models import Attachment
from annotation.services import prompts_import
from exports.services import export_rows, export_write
from tests.conftest import api_client_for, pairwise_lines
from tests.exports.conftest import judge_all, prefer_model_b
from tests.trees.media import image_prompt_line

# Two pixels of different colours, so a decoded image is checked pixel by pixel.
PICTURE = Image.new("RGB", (3, 2), "teal")
PICTURE.putpixel((2, 1), (250, 10, 20))


def _png() -> bytes:
    out = io.BytesIO()
    PICTURE.save(out, format="PNG")
    return out.getvalue()


def _same_pixels(image: Image.Image) -> bool:
    return image.size == PICTURE.size and image.convert("RGB").tobytes() == PICTURE.tobytes()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def image_campaign(make_campaign, alice):
    """One prompt with a picture, one without (a campaign may mix them)."""
    campaign = make_campaign(members=[alice], overlap=1)
    content = image_prompt_line(_png()) + "\n" + pairwise_lines(1, start=7)
    report = prompts_import(campaign=campaign, content=content)
    assert report.ok, report.lines
    judge_all(campaign, alice, prefer_model_b)
    return campaign


def _by_prompt(rows):
    return {r["prompt"][-1]["content"]: r for r in rows}


def test_preference_and_kto_rows_carry_the_prompts_images(image_campaign):
    stored = Attachment.objects.get()
    name = stored.file.name.rsplit("/", 1)[-1]
    rows = _by_prompt(export_rows(campaign=image_campaign, fmt="preference"))
    pictured = rows["What colour is the square in this picture?"]
    assert pictured["images"] == [{"bytes": _png(), "path": name}]
    assert rows["Prompt number 7: how do I do thing 7?"]["images"] == []
    # TRL's columns first, the images right after them.
    assert list(pictured)[:4] == ["prompt", "chosen", "rejected", "images"]

    kto = list(export_rows(campaign=image_campaign, fmt="kto"))
    assert len(kto) == 4
    for row in kto:
        assert list(row)[:4] == ["prompt", "completion", "label", "images"]
        pictured_prompt = row["prompt"][-1]["content"].startswith("What colour")
        assert row["images"] == ([{"bytes": _png(), "path": name}] if pictured_prompt else [])


def test_a_text_campaign_exports_exactly_as_before(campaign, alice, tmp_path):
    judge_all(campaign, alice, prefer_model_b)
    for fmt in ("preference", "kto"):
        assert all("images" not in r for r in export_rows(campaign=campaign, fmt=fmt))
        path = tmp_path / f"{fmt}.parquet"
        export_write(campaign=campaign, fmt=fmt, container="parquet", path=path)
        schema = pq.read_schema(path)
        assert "images" not in schema.names and b"huggingface" not in (schema.metadata or {})
        assert "images" not in exports.features(fmt, campaign=campaign)
    # Asked for, a text campaign gets the column, every list empty.
    rows = list(export_rows(campaign=campaign, fmt="preference", images=True))
    assert rows and all(r["images"] == [] for r in rows)


def test_images_false_leaves_the_column_out(image_campaign, carol):
    assert all(
        "images" not in r for r in export_rows(campaign=image_campaign, fmt="kto", images=False)
    )
    response = api_client_for(carol).get(
        f"/api/v1/campaigns/{image_campaign.id}/export/?format=preference&images=false"
    )
    assert response.status_code == 200
    lines_ = b"".join(response.streaming_content).decode().splitlines()
    assert lines_ and all("images" not in json.loads(line) for line in lines_)


@pytest.mark.parametrize("fmt", ["preference", "kto"])
@pytest.mark.parametrize("container", ["jsonl", "parquet", "hf"])
def test_every_container_loads_with_datasets_to_the_stored_pixels(
    image_campaign, tmp_path, fmt, container
):
    declared = exports.features(fmt, container=container, campaign=image_campaign)
    assert declared["images"] == datasets.List(datasets.Image())
    path = tmp_path / f"out-{container}"
    export_write(campaign=image_campaign, fmt=fmt, container=container, path=path)
    if container == "jsonl":
        # JSON holds no bytes: an image is a data URL, which datasets opens through fsspec.
        first = json.loads(path.read_text().splitlines()[0])
        assert all(i["path"].startswith("data:image/png;base64,") for i in first["images"])
        ds = datasets.load_dataset("json", data_files=str(path), features=declared, split="train")
    elif container == "parquet":
        ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
    else:
        card = (path / "README.md").read_text()
        assert "- name: images\n    list: image\n" in card
        ds = datasets.load_dataset(str(path), split="train")
    assert ds.features == declared
    pictures = [images for images in ds["images"] if images]
    assert pictures and len(pictures) < ds.num_rows  # the prompt without one has []
    assert all(len(images) == 1 and _same_pixels(images[0]) for images in pictures)


def test_rows_pass_trls_own_vision_checks(image_campaign, tmp_path):
    data_utils = pytest.importorskip("trl.data_utils")
    path = tmp_path / "preference.parquet"
    export_write(campaign=image_campaign, fmt="preference", container="parquet", path=path)
    ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
    for row in ds:
        assert data_utils.is_conversational(row)
        assert data_utils.maybe_extract_prompt(row) == row
        # What TRL's vision collators do with a row: one image placeholder per image, in the
        # first user turn, filled with the row's images (it raises when the counts differ).
        prompt = data_utils.prepare_multimodal_messages(row["prompt"], images=row["images"])
        parts = [p for m in prompt for p in m["content"]]
        placed = [p["image"] for p in parts if p["type"] == "image"]
        assert len(placed) == len(row["images"])
        assert all(_same_pixels(image) for image in placed)
    unpaired = data_utils.unpair_preference_dataset(
        ds.select_columns(["prompt", "chosen", "rejected", "images"])
    )
    assert unpaired.num_rows == 2 * ds.num_rows
    assert unpaired.features["images"] == datasets.List(datasets.Image())

    kto = tmp_path / "kto.parquet"
    export_write(campaign=image_campaign, fmt="kto", container="parquet", path=kto)
    for row in datasets.load_dataset("parquet", data_files=str(kto), split="train"):
        assert data_utils.is_conversational(row) and isinstance(row["label"], bool)
        prompt = data_utils.prepare_multimodal_messages(row["prompt"], images=row["images"])
        assert sum(p["type"] == "image" for m in prompt for p in m["content"]) == len(row["images"])


def test_the_cli_takes_images_or_no_images(image_campaign, tmp_path):
    out = tmp_path / "kto.jsonl"
    call_command("export", image_campaign.slug, "--format", "kto", "-o", str(out), "--no-progress")
    assert all("images" in json.loads(line) for line in out.read_text().splitlines())
    call_command(
        "export", image_campaign.slug, "--format", "kto", "-o", str(out), "--no-progress",
        "--no-images",
    )  # fmt: skip
    assert all("images" not in json.loads(line) for line in out.read_text().splitlines())


def test_exports_load_gives_decoded_images(image_campaign):
    ds = exports.load(image_campaign.slug, "preference")
    assert ds.features["images"] == datasets.List(datasets.Image())
    assert any(images and _same_pixels(images[0]) for images in ds["images"])
