import json
from datetime import timedelta

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import ApiToken, Assignment, Campaign, Judgment
from tests.conftest import api_client_for, pairwise_lines


@pytest.fixture
def api(alice):
    return api_client_for(alice)


def next_task(client, campaign):
    return client.get(f"/api/v1/campaigns/{campaign.id}/next/")


def test_it_requires_a_token(client, campaign):
    response = client.get("/api/v1/campaigns/")
    assert response.status_code in (401, 403)


def test_campaigns_lists_only_those_open_to_me(campaign, api, mallory):
    response = api.get("/api/v1/campaigns/")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()] == [campaign.id]
    assert api_client_for(mallory).get("/api/v1/campaigns/").json() == []


def test_next_leases_a_task_with_candidates_in_display_order(campaign, api, alice):
    response = next_task(api, campaign)
    assert response.status_code == 200
    body = response.json()
    a = Assignment.objects.get(id=body["assignment"]["id"])
    assert a.annotator == alice
    assert [c["id"] for c in body["task"]["candidates"]] == a.display_order
    assert [c["label"] for c in body["task"]["candidates"]] == ["A", "B"]
    assert body["task"]["kind"] == "pairwise"
    assert body["task"]["context"][-1]["role"] == "user"
    assert "model" not in json.dumps(body["task"]["candidates"]).replace("model-", "")
    assert "expires_at" in body["assignment"]


def test_next_answers_204_when_nothing_is_left(make_campaign, alice):
    c = make_campaign(members=[alice])
    assert next_task(api_client_for(alice), c).status_code == 204


def test_next_is_404_for_a_campaign_i_cannot_see(campaign, mallory):
    assert next_task(api_client_for(mallory), campaign).status_code == 404


def test_submit_201_then_200_for_the_same_key(campaign, api):
    body = next_task(api, campaign).json()
    url = f"/api/v1/assignments/{body['assignment']['id']}/judgment/"
    preferred = body["task"]["candidates"][1]["id"]
    data = {
        "payload": {"outcome": "preferred", "preferred": preferred, "reason": "clearer"},
        "idempotency_key": "k1",
        "seconds_spent": 3.2,
    }
    first = api.post(url, data, format="json")
    second = api.post(url, data, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["payload"]["preferred"] == preferred
    assert Judgment.objects.count() == 1


def test_a_payload_that_does_not_fit_is_400_naming_the_field(campaign, api):
    body = next_task(api, campaign).json()
    url = f"/api/v1/assignments/{body['assignment']['id']}/judgment/"
    response = api.post(
        url,
        {"payload": {"outcome": "preferred", "preferred": 12345}, "idempotency_key": "k"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field"] == "payload.preferred"
    assert "not a candidate" in response.json()["detail"]
    missing = api.post(url, {"payload": {"outcome": "tie"}}, format="json")
    assert missing.status_code == 400 and missing.json()["field"] == "idempotency_key"


def test_an_expired_lease_is_409_and_a_foreign_one_404(campaign, api, bob):
    body = next_task(api, campaign).json()
    url = f"/api/v1/assignments/{body['assignment']['id']}/judgment/"
    data = {"payload": {"outcome": "tie"}, "idempotency_key": "k"}
    foreign = api_client_for(bob).post(url, data, format="json")
    missing = api_client_for(bob).post("/api/v1/assignments/999999/judgment/", data, format="json")
    # Someone else's lease answers as one that does not exist.
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    assert foreign.status_code == 404
    skip = f"/api/v1/assignments/{body['assignment']['id']}/skip/"
    assert api_client_for(bob).post(skip, {}, format="json").status_code == 404
    Assignment.objects.filter(id=body["assignment"]["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = api.post(url, data, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "lease_expired"
    assert not Judgment.objects.exists()


def test_skip(campaign, api):
    body = next_task(api, campaign).json()
    response = api.post(
        f"/api/v1/assignments/{body['assignment']['id']}/skip/",
        {"reason": "unsure"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["state"] == "skipped"
    assert next_task(api, campaign).json()["task"]["id"] != body["task"]["id"]


def test_import_prompts_from_a_file_with_a_per_line_report(make_campaign, carol):
    c = make_campaign()
    upload = SimpleUploadedFile("prompts.jsonl", pairwise_lines(3).encode())
    response = api_client_for(carol).post(
        f"/api/v1/campaigns/{c.id}/prompts/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["ok"], body["conversations_created"], body["tasks_created"]) == (True, 3, 3)
    assert [line["status"] for line in body["lines"]] == ["created"] * 3


def test_import_prompts_reports_bad_lines_with_400(make_campaign, carol):
    c = make_campaign()
    response = api_client_for(carol).post(
        f"/api/v1/campaigns/{c.id}/prompts/",
        {"prompts": [{"prompt": "fine"}, {"prompt": ""}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["lines"] == [
        {"line": 2, "status": "error", "message": "prompt must be non-empty text"}
    ]


def test_only_campaign_admins_import_or_export(campaign, api, mallory):
    url = f"/api/v1/campaigns/{campaign.id}/prompts/"
    assert api.post(url, {"prompts": [{"prompt": "x"}]}, format="json").status_code == 403
    export = f"/api/v1/campaigns/{campaign.id}/export/?format=preference"
    assert api.get(export).status_code == 403
    assert api_client_for(mallory).get(export).status_code == 404


def test_export_rejects_an_unknown_format(campaign, carol):
    response = api_client_for(carol).get(f"/api/v1/campaigns/{campaign.id}/export/?format=xml")
    assert response.status_code == 400 and response.json()["field"] == "format"


def test_a_token_can_be_obtained_with_a_password(alice, client):
    response = client.post("/api/v1/auth/token/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200 and len(response.json()["token"]) == 40


def test_the_schema_and_docs_are_served_without_a_cdn(alice, client):
    client.force_login(alice)
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    paths = yaml.safe_load(schema.content)["paths"]
    for path in [
        "/api/v1/campaigns/{campaign_id}/next/",
        "/api/v1/assignments/{assignment_id}/judgment/",
        "/api/v1/assignments/{assignment_id}/skip/",
        "/api/v1/campaigns/{campaign_id}/prompts/",
        "/api/v1/campaigns/{campaign_id}/export/",
    ]:
        assert path in paths
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_a_deleted_token_is_refused_once_its_cache_entry_lapses(campaign, alice, monkeypatch):
    from annotation.selectors import tokens as authentication

    client = api_client_for(alice)
    assert client.get("/api/v1/campaigns/").status_code == 200
    ApiToken.objects.filter(user=alice).delete()
    # Remembered for at most TOKEN_CACHE_SECONDS; after that the database decides again.
    monkeypatch.setattr(authentication, "TOKEN_CACHE_SECONDS", 0.0)
    authentication.token_cache_clear()
    assert client.get("/api/v1/campaigns/").status_code in (401, 403)


def _statements(queries) -> list[str]:
    """What a request asked the database, without transaction control."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
    return [q["sql"] for q in queries if not q["sql"].upper().startswith(control)]


def test_a_lease_held_when_the_campaign_closed_is_refused_with_409(campaign, api):
    body = next_task(api, campaign).json()
    # Closed without ending the lease (as for one handed out in the instant of the close):
    # the campaign's state alone refuses it.
    Campaign.objects.filter(id=campaign.id).update(state=Campaign.State.CLOSED)
    url = f"/api/v1/assignments/{body['assignment']['id']}/judgment/"
    response = api.post(url, {"payload": {"outcome": "tie"}, "idempotency_key": "k"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This campaign is closed; this answer was not stored.",
        "code": "closed",
        "field": None,
    }
    skip = api.post(f"/api/v1/assignments/{body['assignment']['id']}/skip/", {}, format="json")
    assert (skip.status_code, skip.json()["code"]) == (409, "closed")
    assert next_task(api, campaign).status_code == 409
    assert not Judgment.objects.exists()


def test_a_lease_held_when_the_campaign_paused_is_stored_until_it_runs_out(campaign, api):
    body = next_task(api, campaign).json()
    Campaign.objects.filter(id=campaign.id).update(state=Campaign.State.PAUSED)
    assert next_task(api, campaign).status_code == 409  # no new lease while paused
    url = f"/api/v1/assignments/{body['assignment']['id']}/judgment/"
    response = api.post(url, {"payload": {"outcome": "tie"}, "idempotency_key": "k"}, format="json")
    assert response.status_code == 201
    assert Judgment.objects.filter(assignment_id=body["assignment"]["id"]).exists()


def test_the_annotation_loop_takes_few_statements(campaign, api):
    api.get("/api/v1/campaigns/")  # the token is remembered from here on
    with CaptureQueriesContext(connection) as leasing:
        body = next_task(api, campaign).json()
    pick = body["task"]["candidates"][0]["id"]
    with CaptureQueriesContext(connection) as judging:
        response = api.post(
            f"/api/v1/assignments/{body['assignment']['id']}/judgment/",
            {"payload": {"outcome": "preferred", "preferred": pick}, "idempotency_key": "q1"},
            format="json",
        )

    assert response.status_code == 201
    # Next: my membership (locked), the pick, the lease's writes with the task's messages.
    # Submit: the lease (locked), the judgment's writes. On PostgreSQL each set of writes (and
    # the messages) is one statement; SQLite runs the INSERT, its two UPDATEs and the read of
    # the messages one by one.
    writes = 1 if connection.vendor == "postgresql" else 3
    lease = _statements(leasing.captured_queries)
    assert len(lease) == 2 + writes + (0 if connection.vendor == "postgresql" else 1)
    if connection.vendor == "postgresql":
        assert "INSERT INTO annotation_assignment" in lease[-1]
        assert "FROM annotation_message" in lease[-1]
    assert len(body["task"]["candidates"]) == 2 and all(
        c["text"] for c in body["task"]["candidates"]
    )
    assert len(_statements(judging.captured_queries)) == 1 + writes
