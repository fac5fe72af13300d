"""The review stage: reviewers accept, reject or correct judgments; exports follow them."""

import json

import pytest

from annotation.models import JudgmentReview, Membership, Message
from annotation.selectors.review import review_next
from annotation.services import membership_add, prompts_import
from annotation.services.review import judgment_review
from exports.services import export_rows
from tests.conftest import api_client_for, pairwise_lines
from tests.exports.conftest import judge_all


@pytest.fixture
def reviewed_campaign(make_campaign, alice, dave):
    """Alice judged three pairs (always the first one shown); dave reviews."""
    campaign = make_campaign(members=[alice], overlap=1, review_stage=True)
    membership_add(campaign=campaign, user=dave, role=Membership.Role.REVIEWER)
    assert prompts_import(campaign=campaign, content=pairwise_lines(3)).ok
    picks = judge_all(
        campaign, alice, lambda a: {"outcome": "preferred", "preferred": a.display_order[0]}
    )
    assert len(picks) == 3
    return campaign


def _by_id(rows):
    return {r["judgment_id"]: r for r in rows}


def test_only_accepted_and_corrected_judgments_are_exported(reviewed_campaign, dave):
    ids = sorted(reviewed_campaign.judgments.values_list("id", flat=True))
    assert list(export_rows(campaign=reviewed_campaign, fmt="judgments")) == []  # none reviewed

    first = review_next(campaign=reviewed_campaign, reviewer=dave)
    assert first.judgment.id == ids[0] and first.pending == 3
    judgment_review(judgment_id=ids[0], reviewer=dave, decision="accepted")
    judgment_review(judgment_id=ids[1], reviewer=dave, decision="rejected", note="careless")
    original = reviewed_campaign.judgments.get(id=ids[2]).payload
    fixed = {"outcome": "preferred", "preferred": original["rejected"]}
    judgment_review(judgment_id=ids[2], reviewer=dave, decision="corrected", correction=fixed)
    assert review_next(campaign=reviewed_campaign, reviewer=dave) is None

    rows = _by_id(export_rows(campaign=reviewed_campaign, fmt="judgments"))
    assert sorted(rows) == [ids[0], ids[2]]  # the rejected one is absent
    assert rows[ids[0]]["review_decision"] == "accepted"
    assert rows[ids[0]]["original_payload"] is None
    corrected = rows[ids[2]]
    assert corrected["review_decision"] == "corrected"
    assert json.loads(corrected["original_payload"]) == original
    assert json.loads(corrected["payload"]) == {
        "outcome": "preferred",
        "preferred": original["rejected"],
        "rejected": original["preferred"],
    }
    assert corrected["reviewer"] and corrected["reviewer"] != corrected["annotator"]
    # The stored judgment is untouched: the correction lives beside it.
    assert reviewed_campaign.judgments.get(id=ids[2]).payload == original

    # Format rows follow the correction too.
    pairs = _by_id(export_rows(campaign=reviewed_campaign, fmt="preference"))
    assert sorted(pairs) == [ids[0], ids[2]]
    assert pairs[ids[0]]["review_decision"] == "accepted"
    assert pairs[ids[2]]["review_decision"] == "corrected"
    assert json.loads(pairs[ids[2]]["original_payload"]) == original
    chosen = pairs[ids[2]]["chosen"][0]["content"]

    assert chosen == Message.objects.get(id=original["rejected"]).text


def test_a_correction_is_checked_and_a_judgment_is_reviewed_once(reviewed_campaign, dave, alice):
    j = reviewed_campaign.judgments.order_by("id").first()
    client = api_client_for(dave)
    bad = client.post(
        f"/api/v1/judgments/{j.id}/review/",
        {"decision": "corrected", "correction": {"outcome": "maybe"}},
        format="json",
    )
    assert bad.status_code == 400
    assert "outcome" in json.dumps(bad.json())
    same = client.post(
        f"/api/v1/judgments/{j.id}/review/",
        {"decision": "corrected", "correction": j.payload},
        format="json",
    )
    assert same.status_code == 400 and "accept it instead" in json.dumps(same.json())
    ok = client.post(f"/api/v1/judgments/{j.id}/review/", {"decision": "accepted"}, format="json")
    assert ok.status_code == 201 and ok.json()["decision"] == "accepted"
    again = client.post(
        f"/api/v1/judgments/{j.id}/review/", {"decision": "rejected"}, format="json"
    )
    assert again.status_code == 409
    assert JudgmentReview.objects.get(judgment=j).decision == "accepted"
    # An annotator is no reviewer, and nobody reviews their own judgments.
    assert (
        api_client_for(alice)
        .get(f"/api/v1/campaigns/{reviewed_campaign.id}/reviews/next/")
        .status_code
        == 403
    )
    nxt = client.get(f"/api/v1/campaigns/{reviewed_campaign.id}/reviews/next/")
    assert nxt.status_code == 200 and nxt.json()["id"] != j.id
    assert [c["label"] for c in nxt.json()["candidates"]] == ["A", "B"]


def test_the_review_page_shows_the_judgment_and_records_the_decision(
    reviewed_campaign, dave, client
):
    client.force_login(dave)
    page = client.get(f"/campaigns/{reviewed_campaign.id}/review/")
    assert page.status_code == 200
    first = reviewed_campaign.judgments.order_by("id").first()
    body = page.content.decode()
    assert f"/review/{first.id}/" in body and "3</strong> judgments wait for review" in body
    assert "alice" not in body  # who judged stays out of sight
    bad = client.post(
        f"/campaigns/{reviewed_campaign.id}/review/{first.id}/",
        {"decision": "corrected", "correction": "{not json"},
    )
    assert bad.status_code == 422 and "must be the payload as JSON" in bad.content.decode()
    assert "{not json" in bad.content.decode()  # what the reviewer typed comes back
    done = client.post(
        f"/campaigns/{reviewed_campaign.id}/review/{first.id}/", {"decision": "rejected"}
    )
    assert done.status_code == 302
    assert JudgmentReview.objects.get(judgment=first).decision == "rejected"


def test_reviewers_find_the_review_page_from_home(reviewed_campaign, dave, alice, client):
    client.force_login(dave)
    assert f"/campaigns/{reviewed_campaign.id}/review/" in client.get("/").content.decode()
    client.force_login(alice)
    assert "/review/" not in client.get("/").content.decode()
    assert client.get(f"/campaigns/{reviewed_campaign.id}/review/").status_code == 403
