"""Hostile and broken input: NUL bytes, Unicode of every kind, sizes past the limits.

Every case is answered with a clear 4xx that names what is wrong, never a 500, and leaves
what was already stored as it was.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Conversation, Judgment
from tests.conftest import api_client_for, pairwise_lines

# Right-to-left Arabic and Hebrew, emoji with a ZWJ sequence and skin tone, combining marks
# (e + U+0301, a stack of Zalgo marks), a BOM, a zero-width joiner and an astral character.
UNICODE = (
    "مرحبا بالعالم שלום 👩\u200d👩\u200d👧\u200d👦 👍🏽 e\u0301 Z\u0351\u0352\u0353 "
    "\ufeff\u200d 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u202eevil\u202c"
)


def _lease(client, campaign) -> dict:
    response = client.get(f"/api/v1/campaigns/{campaign.id}/next/")
    assert response.status_code == 200
    return response.json()


def _submit(client, body: dict, payload: dict, key: str):
    return client.post(
        f"/api/v1/assignments/{body['assignment']['id']}/judgment/",
        {"payload": payload, "idempotency_key": key, "seconds_spent": 1.0},
        format="json",
    )


def test_a_nul_in_a_json_submit_is_400_and_stores_nothing(campaign, alice):
    client = api_client_for(alice)
    body = _lease(client, campaign)
    response = _submit(client, body, {"outcome": "tie", "reason": "bad\u0000byte"}, "k-nul")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert Judgment.objects.count() == 0
    # The lease is still there: the same task can be submitted cleanly.
    assert _submit(client, body, {"outcome": "tie"}, "k-ok").status_code == 201


def test_a_nul_in_an_idempotency_key_is_400(campaign, alice):
    client = api_client_for(alice)
    body = _lease(client, campaign)
    response = _submit(client, body, {"outcome": "tie"}, "key\u0000")
    assert response.status_code == 400 and Judgment.objects.count() == 0


def test_a_nul_in_a_page_form_is_400_and_stores_nothing(client, alice, campaign):
    client.force_login(alice)
    page = client.get(f"/campaigns/{campaign.id}/")
    assignment = page.context["assignment"]
    response = client.post(
        f"/assignments/{assignment.id}/submit/",
        {"choice": "tie", "reason": "a\x00b", "idempotency_key": "k1"},
    )
    assert response.status_code == 400
    assert b"NUL" in response.content
    assert Judgment.objects.count() == 0


def test_a_nul_in_a_query_string_is_400(client, alice, campaign):
    client.force_login(alice)
    response = client.get(f"/campaigns/{campaign.id}/?q=%00")
    assert response.status_code == 400


def test_a_nul_in_an_api_query_string_is_a_json_400(campaign, carol):
    response = api_client_for(carol).get(
        f"/api/v1/campaigns/{campaign.id}/export/?format=preference%00"
    )
    assert response.status_code == 400 and response.json()["code"] == "nul_character"


def test_a_prompt_file_with_a_nul_names_the_line_and_imports_nothing(make_campaign, carol):
    campaign = make_campaign()
    good = pairwise_lines(2)
    bad = json.dumps({"id": "x", "prompt": "has a \u0000 in it"})
    upload = SimpleUploadedFile(
        "prompts.jsonl", f"{good}\n{bad}\n".encode(), content_type="application/jsonl"
    )
    response = api_client_for(carol).post(
        f"/api/v1/campaigns/{campaign.id}/prompts/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400
    errors = [line for line in response.json()["lines"] if line["status"] == "error"]
    assert [(e["line"], "NUL" in e["message"]) for e in errors] == [(3, True)]
    assert Conversation.objects.filter(campaign=campaign).count() == 0


def test_a_csv_with_a_nul_byte_names_the_line(make_campaign, carol):
    campaign = make_campaign()
    content = b"id,prompt,response_a,response_b\n1,fine,x,y\n2,bro\x00ken,x,y\n"
    upload = SimpleUploadedFile("p.csv", content, content_type="text/csv")
    response = api_client_for(carol).post(
        f"/api/v1/campaigns/{campaign.id}/prompts/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert [e["line"] for e in response.json()["lines"] if e["status"] == "error"] == [3]
    assert Conversation.objects.filter(campaign=campaign).count() == 0


def test_a_prompt_file_over_the_size_limit_is_refused_whole(make_campaign, carol, settings):
    settings.AGORA_IMPORT_MAX_BYTES = 1_000_000
    campaign = make_campaign()
    content = pairwise_lines(8000).encode()
    assert len(content) > 1_000_000
    upload = SimpleUploadedFile("big.jsonl", content, content_type="application/jsonl")
    response = api_client_for(carol).post(
        f"/api/v1/campaigns/{campaign.id}/prompts/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert "larger than 1 MB" in json.dumps(response.json())
    assert Conversation.objects.filter(campaign=campaign).count() == 0


def test_too_many_candidates_on_one_line_are_refused_by_line(make_campaign, carol):
    campaign = make_campaign()
    line = {"id": "p", "prompt": "x", "responses": [{"text": f"r{i}"} for i in range(17)]}
    response = api_client_for(carol).post(
        f"/api/v1/campaigns/{campaign.id}/prompts/", {"prompts": [line]}, format="json"
    )
    assert response.status_code == 400
    [error] = [e for e in response.json()["lines"] if e["status"] == "error"]
    assert "more than 16 responses" in error["message"]


def test_a_request_body_over_the_limit_is_a_clear_4xx(campaign, alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = api_client_for(alice)
    body = _lease(client, campaign)
    response = _submit(client, body, {"outcome": "tie", "reason": "x" * 20_000}, "big")
    assert response.status_code in (400, 413)
    assert "detail" in response.json()
    assert Judgment.objects.count() == 0


def test_a_reason_over_the_text_limit_is_400_naming_the_field(campaign, alice):
    client = api_client_for(alice)
    body = _lease(client, campaign)
    response = _submit(client, body, {"outcome": "tie", "reason": "x" * 5001}, "long")
    assert response.status_code == 400
    assert response.json()["field"] == "payload.reason"


@pytest.mark.parametrize("fmt", ["judgments", "preference"])
def test_unicode_round_trips_through_submit_and_export(make_campaign, alice, carol, fmt):
    campaign = make_campaign(members=[alice], overlap=1)
    prompt_line = {
        "id": "u1",
        "prompt": "Prompt " + UNICODE,
        "responses": [
            {"text": "First " + UNICODE, "model": "m-a"},
            {"text": "Second " + UNICODE, "model": "m-b"},
        ],
    }
    carol_api = api_client_for(carol)
    imported = carol_api.post(
        f"/api/v1/campaigns/{campaign.id}/prompts/", {"prompts": [prompt_line]}, format="json"
    )
    assert imported.status_code == 201, imported.json()
    client = api_client_for(alice)
    body = _lease(client, campaign)
    assert body["task"]["context"][-1]["text"] == "Prompt " + UNICODE
    winner = body["task"]["candidates"][0]["id"]
    payload = {"outcome": "preferred", "preferred": winner, "reason": UNICODE}
    stored = _submit(client, body, payload, "key-" + UNICODE[:20])
    assert stored.status_code == 201, stored.json()
    assert stored.json()["payload"]["reason"] == UNICODE.strip()

    export = carol_api.get(f"/api/v1/campaigns/{campaign.id}/export/?format={fmt}")
    assert export.status_code == 200
    raw = b"".join(export.streaming_content)
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert len(rows) == 1
    # Every string of the row survives byte for byte: the prompt, the responses, the reason.
    text = json.dumps(rows[0], ensure_ascii=False)
    assert ("Prompt " + UNICODE) in text or json.dumps("Prompt " + UNICODE)[1:-1] in text
    assert ("First " + UNICODE) in text
    if fmt == "judgments":
        assert UNICODE.strip() in text


def test_an_id_past_64_bits_is_a_plain_404(campaign, alice):
    client = api_client_for(alice)
    response = client.get("/api/v1/campaigns/5864160590625894301696/next/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_id_past_64_bits_in_a_filter_matches_nothing(campaign, carol):
    """`?campaign=` on the export jobs list: found by the schema fuzzer (a 500 on SQLite)."""
    response = api_client_for(carol).get("/api/v1/exports/?campaign=18446744073709551615")
    assert response.status_code == 200
    assert response.json() == []
