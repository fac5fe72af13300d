"""Campaigns as code over the API and the CLI: create from a spec, read a campaign's spec,
apply one, move its state, set its study; refusals name the path and change nothing."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotation.models import Campaign, Membership, Study
from tests.conftest import api_client_for, pairwise_lines

RATING = {
    "name": "Helpfulness",
    "slug": "helpfulness",
    "task_kind": "rating",
    "settings": {"attributes": [{"name": "helpfulness"}]},
    "overlap": 2,
}


@pytest.fixture
def staff_carol(carol):
    carol.is_staff = True
    carol.save(update_fields=["is_staff"])
    return carol


def test_a_researcher_creates_a_campaign_from_a_spec_and_reads_it_back(staff_carol):
    api = api_client_for(staff_carol)

    made = api.post(reverse("api_campaigns"), RATING, format="json")

    assert made.status_code == 201, made.content
    campaign = Campaign.objects.get(id=made.json()["id"])
    assert (campaign.state, campaign.overlap, made.json()["slug"]) == ("draft", 2, "helpfulness")
    assert Membership.objects.get(campaign=campaign, user=staff_carol).role == "admin"
    spec = api.get(reverse("api_campaign_spec", args=[campaign.id])).json()
    assert spec["settings"]["attributes"][0]["scale"]["points"] == ["1", "2", "3", "4", "5"]
    as_yaml = api.get(reverse("api_campaign_spec", args=[campaign.id]), {"format": "yaml"})
    assert as_yaml["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.content) == spec


def test_a_spec_may_be_sent_as_yaml(staff_carol):
    api = api_client_for(staff_carol)
    text = "name: Thumbs\nslug: thumbs\ntask_kind: binary\nsettings:\n  allow_positive: false\n"
    made = api.post(reverse("api_campaigns"), text, content_type="application/yaml")
    assert made.status_code == 201, made.content
    assert Campaign.objects.get(slug="thumbs").settings["allow_positive"] is False


def test_a_bad_spec_answers_400_naming_the_path_and_makes_nothing(staff_carol):
    api = api_client_for(staff_carol)
    bad = {
        **RATING,
        "settings": {
            "attributes": [{"name": "a"}, {"name": "b"}, {"name": "c", "scale": {"type": "dial"}}]
        },
    }
    refused = api.post(reverse("api_campaigns"), bad, format="json")
    assert refused.status_code == 400
    assert refused.json()["field"] == "settings.attributes[2].scale.type"
    assert refused.json()["detail"].startswith("settings.attributes[2].scale.type: ")
    yaml_refused = api.post(
        reverse("api_campaigns"), "name: [oops", content_type="application/yaml"
    )
    assert yaml_refused.status_code == 400
    assert "Not valid YAML" in yaml_refused.json()["detail"]
    assert not Campaign.objects.exists()


def test_a_taken_slug_is_a_conflict_on_create(staff_carol):
    api = api_client_for(staff_carol)
    assert api.post(reverse("api_campaigns"), RATING, format="json").status_code == 201
    again = api.post(reverse("api_campaigns"), {**RATING, "overlap": 5}, format="json")
    assert again.status_code == 409
    assert again.json()["field"] == "slug"
    assert Campaign.objects.get().overlap == 2


def test_only_staff_and_campaign_admins_create_campaigns(mallory):
    refused = api_client_for(mallory).post(reverse("api_campaigns"), RATING, format="json")
    assert refused.status_code == 403
    assert not Campaign.objects.exists()


def test_put_applies_a_spec_to_the_campaign_all_or_nothing(carol, alice, mallory, make_campaign):
    campaign = make_campaign(
        members=[alice], task_kind="rating", settings={"attributes": [{"name": "helpfulness"}]}
    )
    api = api_client_for(carol)
    url = reverse("api_campaign", args=[campaign.id])
    spec = api.get(reverse("api_campaign_spec", args=[campaign.id])).json()

    changed = api.put(url, {**spec, "overlap": 4, "instructions": "Be fair."}, format="json")

    assert changed.status_code == 200, changed.content
    campaign.refresh_from_db()
    assert (campaign.overlap, campaign.instructions) == (4, "Be fair.")
    refused = api.put(url, {**spec, "overlap": 4, "lease_seconds": 1}, format="json")
    assert refused.status_code == 400 and refused.json()["field"] == "lease_seconds"
    renamed = api.put(url, {**spec, "slug": "another"}, format="json")
    assert renamed.status_code == 409 and renamed.json()["field"] == "slug"
    campaign.refresh_from_db()
    assert campaign.lease_seconds == spec["lease_seconds"]
    assert api_client_for(alice).put(url, spec, format="json").status_code == 403
    assert api_client_for(mallory).put(url, spec, format="json").status_code == 404
    assert (
        api_client_for(alice).get(reverse("api_campaign_spec", args=[campaign.id])).status_code
        == 403
    )


def test_a_campaign_is_opened_paused_and_closed_over_the_api(carol, make_campaign):
    campaign = make_campaign(state=Campaign.State.DRAFT)
    api = api_client_for(carol)
    url = reverse("api_campaign_state", args=[campaign.id])

    empty = api.post(url, {"state": "open"}, format="json")
    assert empty.status_code == 400 and "Import prompts" in empty.json()["detail"]
    assert (
        api.post(
            reverse("api_campaign_prompts", args=[campaign.id]),
            {"prompts": [json.loads(line) for line in pairwise_lines(1).splitlines()]},
            format="json",
        ).status_code
        == 201
    )
    for state in ("open", "paused", "open", "closed"):
        moved = api.post(url, {"state": state}, format="json")
        assert moved.status_code == 200 and moved.json()["state"] == state
    final = api.post(url, {"state": "open"}, format="json")
    assert final.status_code == 409
    assert api.post(url, {"state": "gone"}, format="json").status_code == 400
    campaign.refresh_from_db()
    assert campaign.state == "closed"


def test_a_campaign_becomes_a_study_over_the_api(carol, make_campaign):
    campaign = make_campaign()
    api = api_client_for(carol)
    url = reverse("api_campaign_study", args=[campaign.id])
    assert api.get(url).status_code == 404

    study = {
        "consent_text": "Do you agree?",
        "survey": ["age"],
        "quotas": {"dimensions": [{"question": "age", "targets": {"18-24 years old": 5}}]},
        "tasks_per_participant": 3,
    }
    made = api.put(url, study, format="json")

    assert made.status_code == 200, made.content
    assert made.json()["quotas"]["dimensions"][0]["unit"] == "count"
    assert api.get(url).json() == made.json()
    assert Study.objects.get(campaign=campaign).consent_version == 1
    bad = api.put(url, {**study, "survey": []}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "study.quotas"
    assert Study.objects.get(campaign=campaign).tasks_per_participant == 3


def test_the_cli_applies_writes_and_moves_a_campaign(tmp_path, carol):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(RATING))
    out = io.StringIO()

    call_command("campaign", "apply", str(path), "--user", "carol", stdout=out)

    campaign = Campaign.objects.get(slug="helpfulness")
    assert out.getvalue().startswith(f"Created campaign {campaign.id} (helpfulness)")
    written = io.StringIO()
    call_command("campaign", "spec", "helpfulness", stdout=written)
    assert yaml.safe_load(written.getvalue())["overlap"] == 2
    path.write_text(written.getvalue().replace("overlap: 2", "overlap: 3"))
    again = io.StringIO()
    call_command("campaign", "apply", str(path), stdout=again)
    assert again.getvalue().startswith("Updated campaign")
    campaign.refresh_from_db()
    assert campaign.overlap == 3
    as_json = io.StringIO()
    call_command("campaign", "spec", str(campaign.id), "--format", "json", stdout=as_json)
    assert json.loads(as_json.getvalue())["overlap"] == 3

    path.write_text(written.getvalue().replace("overlap: 2", "overlap: 99"))
    with pytest.raises(CommandError, match=r"^overlap: overlap must be a whole number"):
        call_command("campaign", "apply", str(path))
    with pytest.raises(CommandError, match="Import prompts"):
        call_command("campaign", "state", "helpfulness", "open")
    campaign.refresh_from_db()
    assert (campaign.overlap, campaign.state) == (3, "draft")
