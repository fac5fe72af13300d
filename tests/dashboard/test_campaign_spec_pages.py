"""Campaigns as code on the dashboard: New from spec (pasted or uploaded), a campaign's spec
to download, and applying an edited spec; a refused spec is shown with its path and the text
as it was sent, and changes nothing."""

from __future__ import annotations

import json

import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.models import Campaign, Membership

SPEC = """name: Helpfulness
slug: helpfulness
task_kind: rating
settings:
  attributes:
    - name: helpfulness
    - name: honesty
    - name: harmlessness
      scale: {type: dial}
"""


def test_new_from_spec_refuses_naming_the_path_and_keeps_the_text(client, carol, make_campaign):
    make_campaign()  # carol administers a campaign: the dashboard is hers
    client.force_login(carol)

    refused = client.post(reverse("dashboard:campaign_new_from_spec"), {"spec": SPEC})

    assert refused.status_code == 422
    page = refused.content.decode()
    assert "settings.attributes[2].scale.type: type must be one of likert, slider." in page
    assert "scale: {type: dial}" in page  # the text as sent, to fix
    assert not Campaign.objects.filter(slug="helpfulness").exists()


def test_new_from_spec_by_upload_makes_the_draft_and_opens_it(client, carol, make_campaign):
    make_campaign()
    client.force_login(carol)
    good = SPEC.replace("      scale: {type: dial}\n", "")
    upload = SimpleUploadedFile("helpfulness.yaml", good.encode(), "application/yaml")

    made = client.post(reverse("dashboard:campaign_new_from_spec"), {"file": upload})

    campaign = Campaign.objects.get(slug="helpfulness")
    assert made.status_code == 302
    assert made["Location"] == reverse("dashboard:campaign", args=[campaign.id])
    assert campaign.state == "draft" and len(campaign.settings["attributes"]) == 3
    assert Membership.objects.get(campaign=campaign, user=carol).role == "admin"
    listing = client.get(reverse("dashboard:campaigns")).content.decode()
    assert reverse("dashboard:campaign_new_from_spec") in listing


def test_a_campaigns_spec_downloads_as_yaml_and_json(client, carol, make_campaign):
    campaign = make_campaign(task_kind="binary")
    client.force_login(carol)
    spec_page = client.get(reverse("dashboard:campaign_spec", args=[campaign.id]))
    assert spec_page.status_code == 200
    assert "Download spec (YAML)" in spec_page.content.decode()

    as_yaml = client.get(reverse("dashboard:campaign_spec_download", args=[campaign.id]))
    as_json = client.get(
        reverse("dashboard:campaign_spec_download", args=[campaign.id]), {"format": "json"}
    )

    assert as_yaml["Content-Disposition"] == f'attachment; filename="{campaign.slug}.yaml"'
    assert yaml.safe_load(as_yaml.content) == json.loads(as_json.content)
    assert json.loads(as_json.content)["task_kind"] == "binary"


def test_an_edited_spec_applies_all_or_nothing(client, carol, alice, make_campaign):
    campaign = make_campaign(task_kind="binary", members=[alice])
    client.force_login(carol)
    url = reverse("dashboard:campaign_spec", args=[campaign.id])
    text = client.get(url).context["text"]

    applied = client.post(url, {"spec": text.replace("overlap: 3", "overlap: 4")})
    assert applied.status_code == 200 and "Applied the spec." in applied.content.decode()
    campaign.refresh_from_db()
    assert campaign.overlap == 4

    bad = text.replace("overlap: 3", "overlap: 2").replace("lease_seconds: 900", "lease_seconds: 1")
    refused = client.post(url, {"spec": bad})
    assert refused.status_code == 422
    assert "lease_seconds: lease_seconds must be a whole number" in refused.content.decode()
    campaign.refresh_from_db()
    assert (campaign.overlap, campaign.lease_seconds) == (4, 900)
    client.force_login(alice)
    assert client.post(url, {"spec": text}).status_code == 403
