"""Prompts that carry images: checked at import, shown on the task page, exported with the row."""

import json

import datasets
import pytest
from PIL import Image

from annotation.models import Attachment, Conversation
from annotation.services import prompts_import
from exports.services import export_rows, export_write
from tests.exports.conftest import judge_all

from .media import b64, image_prompt_line, png, wav


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def image_campaign(make_campaign, alice):
    campaign = make_campaign(members=[alice], overlap=1)
    report = prompts_import(campaign=campaign, content=image_prompt_line())
    assert report.ok, report.lines
    return campaign


def test_an_imported_image_is_checked_and_stored_with_its_prompt(image_campaign, settings):
    a = Attachment.objects.get()
    assert (a.kind, a.content_type, a.width, a.height) == ("image", "image/png", 40, 30)
    assert a.name == "sq.png" and a.message.role == "user" and a.message.parent_id is None
    # Stored by content in the media storage, never under the uploader's name.
    assert a.file.name.endswith(f"{a.sha256[:32]}.png")
    assert (settings.MEDIA_ROOT / a.file.name).read_bytes() == png()
    assert a.message.metadata["reference"]["answer"] == "Teal"


@pytest.mark.parametrize(
    ("images", "error"),
    [
        ([b64(b"GIF89a but not really an image at all")], "images[0] is not an image"),
        (["not base64!!"], "images[0] is not valid base64"),
        ([b64(png(400, 400, "red"))], "KB; the limit is 1.0"),
        ([{"data": b64(wav())}], "images[0] is not an image"),
    ],
)
def test_a_bad_or_too_large_upload_gets_a_clear_error_and_imports_nothing(
    make_campaign, settings, images, error
):
    settings.AGORA_ATTACHMENT_MAX_BYTES = 1024
    campaign = make_campaign()
    content = "\n".join(
        [
            json.dumps({"id": "fine", "prompt": "A prompt without pictures."}),
            json.dumps({"id": "bad", "prompt": "Look:", "images": images}),
        ]
    )
    report = prompts_import(campaign=campaign, content=content)
    assert not report.ok
    [bad] = [line for line in report.lines if line["status"] == "error"]
    assert bad["line"] == 2 and error in bad["message"], bad
    assert not Conversation.objects.filter(campaign=campaign).exists()
    assert not Attachment.objects.exists()


def test_a_large_image_names_the_limit(make_campaign, settings):
    settings.AGORA_ATTACHMENT_MAX_BYTES = 1024
    campaign = make_campaign()
    big = png(400, 400, "red")
    line = json.dumps({"prompt": "Look:", "images": [b64(big)]})
    [bad] = prompts_import(campaign=campaign, content=line).lines
    assert bad["message"].endswith("the limit is 1.0\xa0KB.")


def test_audio_only_where_the_campaign_accepts_it(make_campaign):
    line = json.dumps({"prompt": "Listen:", "audio": [b64(wav())]})
    plain = make_campaign()
    [refused] = prompts_import(campaign=plain, content=line).lines
    assert "this campaign does not accept audio files" in refused["message"]
    with_audio = make_campaign(media_kinds=["audio"])
    assert prompts_import(campaign=with_audio, content=line).ok
    assert Attachment.objects.get().content_type == "audio/wav"


def test_the_task_page_shows_the_image_and_the_reference_to_those_allowed(
    image_campaign, alice, mallory, client
):
    client.force_login(alice)
    page = client.get(f"/campaigns/{image_campaign.id}/").content.decode()
    a = Attachment.objects.get()
    assert f'<img src="/attachments/{a.id}/"' in page
    assert "A teal square." in page and "Teal is a blue-green." in page
    served = client.get(f"/attachments/{a.id}/")
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert "sandbox" in served["Content-Security-Policy"]
    assert b"".join(served.streaming_content) == png()
    client.force_login(mallory)  # not a member of this (private) campaign
    assert client.get(f"/attachments/{a.id}/").status_code == 404


def test_the_image_is_exported_with_the_row_and_loads_as_a_datasets_image(
    image_campaign, alice, tmp_path
):
    judge_all(
        image_campaign, alice, lambda a: {"outcome": "preferred", "preferred": a.display_order[0]}
    )
    a = Attachment.objects.get()
    [row] = export_rows(campaign=image_campaign, fmt="judgments")
    assert row["images"] == [{"bytes": None, "path": a.file.name}]
    [row] = export_rows(campaign=image_campaign, fmt="judgments", image_bytes=True)
    assert row["images"][0]["bytes"] == png()

    folder = tmp_path / "hf"
    export_write(
        campaign=image_campaign,
        fmt="judgments",
        container="hf",
        path=folder,
        options={"image_bytes": True},
    )
    ds = datasets.load_dataset(str(folder), split="train")
    images = ds.cast_column("images", datasets.Sequence(datasets.Image()))[0]["images"]
    assert isinstance(images[0], Image.Image) and images[0].size == (40, 30)

    jsonl = tmp_path / "j.jsonl"
    export_write(
        campaign=image_campaign,
        fmt="judgments",
        container="jsonl",
        path=jsonl,
        options={"image_bytes": True},
    )
    line = json.loads(jsonl.read_text())
    assert line["images"][0]["bytes"] == b64(png())  # base64 text in JSON Lines

    [tree] = export_rows(campaign=image_campaign, fmt="oasst")
    assert tree["prompt"]["images"] == [a.file.name]
    assert all("images" not in r for r in tree["prompt"]["replies"])


def test_the_api_gives_custom_front_ends_the_files_and_the_reference(image_campaign, alice):
    from tests.conftest import api_client_for

    task = api_client_for(alice).get(f"/api/v1/campaigns/{image_campaign.id}/next/").json()["task"]
    a = Attachment.objects.get()
    [prompt] = task["context"]
    assert prompt["attachments"] == [
        {"id": a.id, "kind": "image", "content_type": "image/png", "url": f"/attachments/{a.id}/"}
    ]
    assert task["reference"]["caption"] == "A teal square."
