"""The adjudication page: found from home by reviewers, the judgments side by side and
anonymised with their reasons, a decision in the kind's own form, a refused form a 4xx that
keeps what was chosen, and ambiguous."""

from __future__ import annotations

from html import unescape

import pytest

from annotation.models import Adjudication, Judgment
from tests.adjudication.conftest import people

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(judged_campaign):
    annotators = people("ann", 2)
    (reviewer,) = people("rev", 1)
    c = judged_campaign(
        kind="pairwise",
        settings={"reason": "optional"},
        payload_for=lambda i, _t, ids: {
            "outcome": "preferred",
            "preferred": ids[i],
            "reason": f"Because of reason number {i}.",
        },
        annotators=annotators,
        reviewers=[reviewer],
        prompts=2,
    )
    return c, annotators, reviewer


def test_reviewers_find_the_page_from_home_and_annotators_do_not(disputed, client):
    c, annotators, reviewer = disputed
    client.force_login(reviewer)
    assert f"/campaigns/{c.id}/adjudicate/" in client.get("/").content.decode()
    client.force_login(annotators[0])
    assert f"/campaigns/{c.id}/adjudicate/" not in client.get("/").content.decode()
    page = client.get(f"/campaigns/{c.id}/adjudicate/")
    assert page.status_code == 403


def test_the_page_shows_every_judgment_anonymised_and_records_a_decision(disputed, client):
    c, annotators, reviewer = disputed
    client.force_login(reviewer)
    page = client.get(f"/campaigns/{c.id}/adjudicate/")
    html = unescape(page.content.decode())
    assert page.status_code == 200
    assert "Annotator 1" in html and "Annotator 2" in html
    assert "Because of reason number 0." in html and "Because of reason number 1." in html
    for a in annotators:
        assert a.username not in html
    assert '"preferred": "A"' in html and '"preferred": "B"' in html
    item = Adjudication.objects.get(adjudicator=reviewer)
    url = f"/campaigns/{c.id}/adjudicate/{item.id}/"
    refused = client.post(url, {"choice": "", "note": "kept note"})
    assert refused.status_code == 422 and "kept note" in refused.content.decode()
    ids = sorted(item.task.task_candidates.values_list("message_id", flat=True))
    done = client.post(url, {"choice": str(ids[1]), "reason": "B is right."})
    assert done.status_code == 302
    item.refresh_from_db()
    assert item.state == "decided"
    assert item.payload == {
        "outcome": "preferred",
        "preferred": ids[1],
        "rejected": ids[0],
        "reason": "B is right.",
    }
    assert Judgment.objects.filter(task=item.task).count() == 2
    nxt = client.get(f"/campaigns/{c.id}/adjudicate/")
    other = Adjudication.objects.get(adjudicator=reviewer, state="leased")
    assert other.task_id != item.task_id
    assert (
        client.post(
            f"/campaigns/{c.id}/adjudicate/{other.id}/", {"decision": "ambiguous"}
        ).status_code
        == 302
    )
    assert "Nothing to adjudicate" in client.get(f"/campaigns/{c.id}/adjudicate/").content.decode()
    assert nxt.status_code == 200


def test_another_reviewers_item_is_refused_not_a_crash(disputed, client):
    c, _annotators, reviewer = disputed
    (other,) = people("oth", 1)
    from annotation.services import membership_add

    membership_add(campaign=c, user=other, role="reviewer")
    client.force_login(reviewer)
    client.get(f"/campaigns/{c.id}/adjudicate/")
    item = Adjudication.objects.get(adjudicator=reviewer)
    client.force_login(other)
    response = client.post(f"/campaigns/{c.id}/adjudicate/{item.id}/", {"decision": "ambiguous"})
    assert response.status_code == 409
    item.refresh_from_db()
    assert item.state == "leased"


def test_an_admin_turns_adjudication_on_from_the_dashboard(make_campaign, carol, client):
    from django.urls import reverse

    c = make_campaign()
    url = reverse("dashboard:setup_trees", args=[c.id])
    client.force_login(carol)
    page = client.get(url).content.decode()
    assert 'name="adj_on"' in page and 'name="adj_share"' in page and 'value="0.75"' in page
    fields = {
        "max_depth": "3",
        "adj_min_judgments": "3",
        "adj_share": "0.2",
        "adj_width": "1.5",
        "adj_distance": "0.4",
        "adj_gold_wrong": "0.5",
        "adj_on": "on",
    }
    refused = client.post(url, fields)
    assert refused.status_code == 422
    assert 'aria-describedby="error-adj_share"' in refused.content.decode()
    c.refresh_from_db()
    assert c.adjudication == {}  # nothing saved
    assert client.post(url, {**fields, "adj_share": "0.8"}).status_code == 302
    c.refresh_from_db()
    assert c.adjudication == {
        "enabled": True,
        "min_judgments": 3,
        "share": 0.8,
        "width": 1.5,
        "distance": 0.4,
        "gold_wrong": 0.5,
    }


def test_the_quality_page_shows_the_queue_and_disputes_per_annotator(judged_campaign, client):
    from annotation.services.adjudication import adjudication_decide, adjudication_next

    annotators = people("qa", 3)
    (reviewer,) = people("qr", 1)
    # Annotator 2 is alone against the others on every item; 2 to 1 is a split at 0.75.
    c = judged_campaign(
        kind="pairwise",
        payload_for=lambda i, _t, ids: {"outcome": "preferred", "preferred": ids[i == 2]},
        annotators=annotators,
        reviewers=[reviewer],
        prompts=3,
    )
    item = adjudication_next(campaign=c, reviewer=reviewer)
    adjudication_decide(
        adjudication_id=item.adjudication.id, reviewer=reviewer, campaign=c, ambiguous=True
    )
    adjudication_next(campaign=c, reviewer=reviewer)
    client.force_login(c.created_by)
    html = client.get(f"/dashboard/{c.id}/quality/").content.decode()
    assert (
        "<strong>3</strong> disputed items: <strong>1</strong> waiting, 1 with a reviewer now, "
        "0 decided, 1 ambiguous."
    ) in html
    assert "<strong>1</strong> in the last 24 hours" in html
    for a in annotators:
        assert f"<tr><td>{a.username}</td><td>3</td><td>3</td><td>100%</td></tr>" in html
