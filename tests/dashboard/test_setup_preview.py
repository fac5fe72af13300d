"""*Preview as an annotator*: the real task page with the settings as typed on the setup page
and sample messages; its form is read and checked by the kind, and nothing is saved."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from annotation.models import Assignment, Judgment, Task

RATING = {
    "attributes": [
        {"name": "helpfulness", "scale": {"type": "likert", "points": ["1", "2", "3", "4"]}},
        {"name": "overall", "scale": {"type": "slider", "min": 0, "max": 10, "step": 1}},
    ]
}


@pytest.fixture
def admin(client, carol, make_campaign):
    campaign = make_campaign(task_kind="pairwise")
    client.force_login(carol)
    return client, campaign


def test_the_preview_shows_the_kind_as_typed_not_yet_saved(admin):
    client, campaign = admin
    url = reverse("dashboard:setup_preview", args=[campaign.id])

    page = client.post(url, {"task_kind": "rating", "settings": json.dumps(RATING)})

    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="preview-banner"' in html
    assert "Explain recursion to a child" in html
    assert 'name="rate-2-0"' in html and 'name="rate-3-1"' in html  # two replies, two scales
    assert "helpfulness" in html and "overall" in html
    assert reverse("dashboard:setup_preview", args=[campaign.id]) in html  # the form posts here
    campaign.refresh_from_db()
    assert campaign.task_kind == "pairwise"  # nothing saved


def test_the_previewed_form_is_checked_by_the_kind(admin):
    client, campaign = admin
    url = reverse("dashboard:setup_preview", args=[campaign.id])
    settings = json.dumps({"allow_tie": False, "reason": "required"})
    base = {"task_kind": "pairwise", "settings": settings, "idempotency_key": "preview"}

    refused = client.post(url, {**base, "choice": "2"})
    answered = client.post(url, {**base, "choice": "2", "reason": "Clearer."})

    assert "Please give a reason." in refused.content.decode()
    saved_as = answered.content.decode()
    assert "this answer would be saved as" in saved_as
    assert "&quot;preferred&quot;: 2" in saved_as and "&quot;rejected&quot;: 3" in saved_as
    assert 'name="choice" value="tie"' not in saved_as  # no tie in these settings
    assert not (Task.objects.exists() or Assignment.objects.exists() or Judgment.objects.exists())


def test_refused_settings_are_named_on_the_preview(admin):
    client, campaign = admin
    bad = {"attributes": [{"name": "a", "scale": {"type": "dial"}}]}
    page = client.post(
        reverse("dashboard:setup_preview", args=[campaign.id]),
        {"task_kind": "rating", "settings": json.dumps(bad)},
    )
    assert page.status_code == 422
    assert "settings.attributes[0].scale.type" in page.content.decode()


def test_the_setup_page_offers_the_preview(admin):
    client, campaign = admin
    page = client.get(reverse("dashboard:setup_task", args=[campaign.id])).content.decode()
    assert "Preview as an annotator" in page
    saved = client.get(reverse("dashboard:setup_preview", args=[campaign.id]))
    assert saved.status_code == 200 and 'name="choice"' in saved.content.decode()
