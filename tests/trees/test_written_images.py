"""A prompt an annotator writes may carry images they upload on the task page (or send by API)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Assignment, Attachment, Message
from annotation.services import task_lease_next
from tests.conftest import api_client_for

from .media import b64, png


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _submit(client, a, **files):
    return client.post(
        f"/assignments/{a.id}/submit/",
        {"text": "What is in this picture?", "idempotency_key": f"k{a.id}", **files},
    )


def test_a_written_prompt_carries_its_uploaded_image_into_its_review(
    tree_campaign, alice, bob, client
):
    a = task_lease_next(annotator=alice, campaign=tree_campaign)
    client.force_login(alice)
    page = client.get(f"/campaigns/{tree_campaign.id}/").content.decode()
    assert 'type="file" name="images"' in page and 'enctype="multipart/form-data"' in page
    done = _submit(client, a, images=SimpleUploadedFile("cat.png", png(), "image/png"))
    assert done.status_code == 302
    written = Message.objects.get(author=alice)
    stored = Attachment.objects.get(message=written)
    assert (stored.name, stored.width) == ("cat.png", 40)
    assert written.metadata["attachments"] == 1
    # Bob reviews it, image included.
    client.force_login(bob)
    review = client.get(f"/campaigns/{tree_campaign.id}/").content.decode()
    assert "kind-label" in review and f'<img src="/attachments/{stored.id}/"' in review


@pytest.mark.parametrize(
    ("upload", "error"),
    [
        (SimpleUploadedFile("notes.txt", b"just text", "image/png"), "notes.txt is not an image"),
        (
            SimpleUploadedFile("big.png", png(600, 600, "red") + b"\0" * 4096, "image/png"),
            "KB; the limit is 4.0",
        ),
    ],
)
def test_a_bad_upload_gets_a_clear_error_and_loses_nothing(
    tree_campaign, alice, client, settings, upload, error
):
    settings.AGORA_ATTACHMENT_MAX_BYTES = 4096
    a = task_lease_next(annotator=alice, campaign=tree_campaign)
    client.force_login(alice)
    refused = _submit(client, a, images=upload)
    body = refused.content.decode()
    assert refused.status_code == 422 and error in body
    assert f"{upload.name} is " in body  # the message names the file
    assert "What is in this picture?" in body  # the text comes back
    assert not Message.objects.exists() and not Attachment.objects.exists()
    assert Assignment.objects.get(id=a.id).state == "active"


def test_the_api_takes_images_with_a_prompt_and_refuses_them_elsewhere(tree_campaign, alice, bob):
    client = api_client_for(alice)
    nxt = client.get(f"/api/v1/campaigns/{tree_campaign.id}/next/").json()
    made = client.post(
        f"/api/v1/assignments/{nxt['assignment']['id']}/judgment/",
        {"payload": {"text": "Look at this."}, "idempotency_key": "1", "images": [b64(png())]},
        format="json",
    )
    assert made.status_code == 201
    assert Attachment.objects.get().message_id == made.json()["payload"]["message_id"]
    review = api_client_for(bob).get(f"/api/v1/campaigns/{tree_campaign.id}/next/").json()
    assert review["task"]["kind"] == "label"
    refused = api_client_for(bob).post(
        f"/api/v1/assignments/{review['assignment']['id']}/judgment/",
        {"payload": {"labels": {"spam": False}}, "idempotency_key": "2", "images": [b64(png())]},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["field"] == "images"
    assert Attachment.objects.count() == 1
