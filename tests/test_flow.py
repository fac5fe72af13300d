"""A campaign from prompt import to TRL export, entirely over the HTTP API and the CLI."""

import json

import datasets
from django.core.management import call_command

from annotation.models import Campaign, Judgment, Task
from exports.formats.context import annotator_pseudonym
from tests.conftest import api_client_for, pairwise_lines


def test_import_lease_judge_export_and_load(make_campaign, alice, bob, carol, tmp_path):
    campaign = make_campaign(members=[alice, bob], overlap=2)
    admin = api_client_for(carol)
    imported = admin.post(
        f"/api/v1/campaigns/{campaign.id}/prompts/",
        {"prompts": [json.loads(line) for line in pairwise_lines(5).splitlines()]},
        format="json",
    )
    assert imported.status_code == 201

    picked = {}  # (annotator, task) -> text of the picked response
    for user in (alice, bob):
        client = api_client_for(user)
        while (r := client.get(f"/api/v1/campaigns/{campaign.id}/next/")).status_code == 200:
            body = r.json()
            # Always pick whatever is on the right of the screen.
            right = body["task"]["candidates"][1]
            submitted = client.post(
                f"/api/v1/assignments/{body['assignment']['id']}/judgment/",
                {
                    "payload": {"outcome": "preferred", "preferred": right["id"]},
                    "idempotency_key": f"{user.username}-{body['task']['id']}",
                    "seconds_spent": 2.5,
                },
                format="json",
            )
            assert submitted.status_code == 201
            exported_as = annotator_pseudonym(
                campaign_id=campaign.id, user_pseudonym=user.pseudonym
            )
            picked[(exported_as, body["task"]["id"])] = right["text"]
        assert r.status_code == 204
    assert Judgment.objects.count() == 10
    assert set(Task.objects.values_list("state", flat=True)) == {"complete"}

    export = admin.get(f"/api/v1/campaigns/{campaign.id}/export/?format=preference")
    path = tmp_path / "prefs.jsonl"
    path.write_bytes(b"".join(export.streaming_content))
    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    assert ds.num_rows == 10
    for row in ds:
        assert row["chosen"][0]["content"] == picked[(row["annotator"], row["task_id"])]
        assert row["chosen_position"] == 1


def test_the_cli_imports_prompts_and_seeds_the_demo(make_campaign, tmp_path, capsys):
    campaign = make_campaign()
    path = tmp_path / "p.jsonl"
    path.write_text(pairwise_lines(2))
    call_command("import_prompts", campaign.slug, str(path))
    assert "Imported 2 prompts, created 2 tasks" in capsys.readouterr().out
    assert Task.objects.filter(campaign=campaign).count() == 2

    call_command("seed_demo")
    call_command("seed_demo")  # a second run adds nothing
    demo = Campaign.objects.get(slug="demo-pairwise")
    assert demo.state == "open" and demo.settings["strength_levels"] == 3
    assert demo.tasks.count() == 24
    assert set(demo.memberships.values_list("user__username", "role")) == {
        ("alice", "annotator"),
        ("bob", "annotator"),
        ("carol", "admin"),
    }
