"""A kind's settings as form fields on the setup page: plain settings as fields, attributes
and labels as rows; the kind's errors under the field they name; the JSON kept for experts."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

RATING = {
    "attributes": [{"name": "helpfulness", "scale": {"type": "likert", "points": list("1234")}}]
}


@pytest.fixture
def setup(client, carol, make_campaign):
    campaign = make_campaign(task_kind="rating", settings=RATING, state="draft")
    client.force_login(carol)
    return client, campaign, reverse("dashboard:setup_task", args=[campaign.id])


def _post(page_context: dict, **fields: str) -> dict:
    """What the page's form sends: every field as shown, then the changes."""
    out = {
        "task_kind": page_context["kind"],
        "kind_fields": page_context["kind"],
        "settings": page_context["settings_json"],
        "overlap": "3",
        "lease_minutes": "15",
        "routing": "fewest_judgments",
        "repeat_percent": "0",
    }
    for f in page_context["kind_fields"]:
        if f.kind == "bool":
            if f.value:
                out[f.input_name] = "on"
        else:
            out[f.input_name] = str(f.value)
    for row in page_context["kind_rows"].rows if page_context["kind_rows"] else []:
        for cell in row:
            out[cell.input_name] = str(cell.value)
    out.update(fields)
    return {k: v for k, v in out.items() if v is not None}


def test_attributes_are_rows_and_a_new_row_adds_one(setup):
    client, campaign, url = setup
    page = client.get(url)
    assert 'name="attributes-0-points" value="1, 2, 3, 4"' in page.content.decode()

    saved = client.post(
        url,
        _post(
            page.context,
            **{
                "s-question": "How good is it?",
                "attributes-1-name": "honesty",
                "attributes-1-type": "slider",
                "attributes-1-min": "0",
                "attributes-1-max": "10",
                "attributes-1-step": "0.5",
                "attributes-1-rationale": "required",
            },
        ),
    )

    assert saved.status_code == 302, saved.context and saved.context["errors"]
    campaign.refresh_from_db()
    assert campaign.settings["question"] == "How good is it?"
    honesty = campaign.settings["attributes"][1]
    assert honesty["scale"] == {"type": "slider", "points": [], "min": 0, "max": 10, "step": 0.5}
    assert honesty["rationale"] == "required"
    assert campaign.settings["attributes"][0]["scale"]["points"] == ["1", "2", "3", "4"]


def test_a_refused_setting_is_shown_under_its_field(setup):
    client, campaign, url = setup
    page = client.get(url)

    refused = client.post(url, _post(page.context, **{"attributes-0-points": "only one"}))

    assert refused.status_code == 422
    html = refused.content.decode()
    assert 'id="error-attributes-0-points"' in html
    assert "at least two labelled points" in html
    assert 'name="attributes-0-points" value="only one"' in html  # as typed
    campaign.refresh_from_db()
    assert campaign.settings["attributes"][0]["scale"]["points"] == ["1", "2", "3", "4"]
    bad_number = client.post(url, _post(page.context, **{"s-max_candidates": "many"}))
    assert 'id="error-s-max_candidates"' in bad_number.content.decode()


def test_pairwise_ties_strength_and_reason_are_fields(client, carol, make_campaign):
    campaign = make_campaign(task_kind="pairwise", state="draft")
    client.force_login(carol)
    url = reverse("dashboard:setup_task", args=[campaign.id])
    page = client.get(url)

    client.post(
        url,
        _post(page.context, **{"s-allow_tie": None, "s-strength_levels": "3", "s-reason": "off"}),
    )

    campaign.refresh_from_db()
    assert campaign.settings["allow_tie"] is False
    assert (campaign.settings["strength_levels"], campaign.settings["reason"]) == (3, "off")


def test_label_rows_and_the_json_for_experts(client, carol, make_campaign):
    campaign = make_campaign(task_kind="label", state="draft")
    client.force_login(carol)
    url = reverse("dashboard:setup_task", args=[campaign.id])
    page = client.get(url)
    assert len(page.context["kind_rows"].rows) == 12  # OpenAssistant's 11 labels and a blank

    expert = json.dumps({"labels": [{"name": "spam"}]})
    saved = client.post(url, _post(page.context, settings=expert, use_json="1"))

    assert saved.status_code == 302
    campaign.refresh_from_db()
    assert [label["name"] for label in campaign.settings["labels"]] == ["spam"]
