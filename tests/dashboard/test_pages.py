"""The dashboard through Django's test client: setup in steps, uploads, quality, leaderboard,
and 403 for everyone who is not staff of the campaign."""

import html
import json
import random
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, reverse

from annotation.dashboard import urls as dashboard_urls
from annotation.models import Assignment, Campaign, Conversation, Judgment, Membership, Profile
from annotation.services import prompts_import

from .helpers import bt_chooser, judge, model_lines

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, *args) -> str:
    return reverse(f"dashboard:{name}", args=args)


@pytest.fixture
def judged(campaign, alice, bob):
    """The cast's campaign with every task judged by alice and bob."""
    strengths = {"model-a": 0.5, "model-b": -0.5}
    judge(campaign, [alice, bob], bt_chooser(strengths, random.Random(1)))
    return campaign


# --- setup ----------------------------------------------------------------------------------


def test_setup_through_the_pages_makes_a_campaign_an_annotator_can_judge_right_away(
    client, campaign, carol, alice
):
    client.force_login(carol)

    r = client.post(
        url("campaign_new"),
        {"name": "Tone study", "instructions": "Pick the **kinder** answer."},
    )
    new = Campaign.objects.get(name="Tone study")
    assert r.status_code == 302 and r["Location"] == url("setup_task", new.id)
    assert new.state == Campaign.State.DRAFT

    r = client.get(url("setup_task", new.id))
    assert r.status_code == 200
    assert "Which response is better?" in r.content.decode()  # the kind's defaults
    r = client.post(
        url("setup_task", new.id),
        {
            "task_kind": "pairwise",
            "settings": json.dumps({"strength_levels": 2, "reason": "off"}),
            "overlap": "2",
            "lease_minutes": "10",
            "routing": "fewest_judgments",
            "repeat_percent": "0",
        },
    )
    assert r.status_code == 302 and r["Location"] == url("setup_trees", new.id)
    r = client.post(url("setup_trees", new.id), {"max_depth": "3"})  # no tree, no review
    assert r.status_code == 302 and r["Location"] == url("setup_prompts", new.id)

    upload = SimpleUploadedFile("prompts.jsonl", model_lines(3, ["kind", "curt"]).encode())
    r = client.post(url("setup_prompts", new.id), {"file": upload, "action": "preview"})
    page = r.content.decode()
    assert r.status_code == 200
    assert "Ready: 3 prompts, 3 tasks" in page
    assert "Prompt number 2" in page  # the preview shows the rows
    assert Conversation.objects.filter(campaign=new).count() == 0  # a preview keeps nothing
    content = re.search(r'<textarea name="content" hidden>(.*?)</textarea>', page, re.S)[1]
    r = client.post(
        url("setup_prompts", new.id),
        {"content": html.unescape(content), "format": "jsonl", "action": "import"},
    )
    assert r.status_code == 200
    assert "Imported 3 prompts, 3 tasks" in r.content.decode()

    r = client.post(url("setup_models", new.id), {"responses_per_prompt": "2"})
    assert r.status_code == 302 and r["Location"] == url("setup_people", new.id)
    r = client.post(url("setup_people", new.id), {"people": "alice", "role": "annotator"})
    assert "Added 1 of 1 line." in r.content.decode()
    r = client.post(url("campaign_state", new.id), {"state": "open"})
    assert r.status_code == 302
    new.refresh_from_db()
    assert (new.state, new.overlap, new.lease_seconds) == ("open", 2, 600)

    client.force_login(alice)
    page = client.get(reverse("campaign_task", args=[new.id])).content.decode()
    assert "kinder" in page  # the instructions
    lease = Assignment.objects.get(campaign=new, annotator=alice)
    r = client.post(
        reverse("assignment_submit", args=[lease.id]),
        {
            "choice": str(lease.display_order[0]),
            "strength": "2",
            "idempotency_key": "first",
            "seconds_spent": "4",
        },
    )
    assert r.status_code == 302
    judgment = Judgment.objects.get(annotator=alice, campaign=new)
    assert judgment.payload["strength"] == 2
    assert judgment.instructions_version == 1


def test_a_bad_upload_reports_each_bad_row_and_imports_none(client, campaign, carol):
    client.force_login(carol)
    lines = "\n".join(
        [
            json.dumps({"id": "ok", "prompt": "Fine", "responses": ["a", "b"]}),
            json.dumps({"id": "no-prompt", "responses": ["a", "b"]}),
            "{not json",
            json.dumps({"id": "ok", "prompt": "Again", "responses": ["a", "b"]}),
        ]
    )
    before = Conversation.objects.filter(campaign=campaign).count()

    for action in ("preview", "import"):
        r = client.post(
            url("setup_prompts", campaign.id),
            {"content": lines, "format": "jsonl", "action": action},
        )
        page = r.content.decode()
        assert r.status_code == 422
        assert "3 bad lines: nothing was imported" in page
        assert "missing prompt" in page
        assert "not valid JSON" in page
        assert "repeats line 1" in page
    assert Conversation.objects.filter(campaign=campaign).count() == before


def test_settings_errors_are_shown_by_their_field(client, campaign, carol):
    client.force_login(carol)
    form = {
        "task_kind": "pairwise",
        "settings": json.dumps({"strength_levels": 5}),
        "overlap": "0",
        "lease_minutes": "10",
        "routing": "fewest_judgments",
        "repeat_percent": "0",
    }

    page = client.post(url("setup_task", campaign.id), form).content.decode()
    assert 'id="error-settings"' in page
    assert "settings.strength_levels: strength_levels must be 0 (none)" in page

    page = client.post(
        url("setup_task", campaign.id), {**form, "settings": "{oops"}
    ).content.decode()
    assert "Not valid JSON" in page
    r = client.post(url("setup_task", campaign.id), {**form, "settings": "{}"})
    assert r.status_code == 422
    assert 'id="error-overlap"' in r.content.decode()


def test_choosing_another_kind_fills_in_its_settings(client, carol, campaign):
    client.force_login(carol)
    draft = client.post(url("campaign_new"), {"name": "Ratings"})
    new = Campaign.objects.get(name="Ratings")
    assert draft.status_code == 302

    page = client.get(url("setup_task", new.id), {"task_kind": "rating"}, **HTMX)
    assert "&quot;helpfulness&quot;" in page.content.decode()


def test_markdown_preview_is_sanitised(client, campaign, carol):
    client.force_login(carol)
    r = client.post(url("markdown_preview"), {"instructions": "**Be kind** <script>x()</script>"})
    page = r.content.decode()
    assert "<strong>Be kind</strong>" in page
    assert "<script>" not in page


def test_new_instructions_on_the_basics_page_start_a_new_version(client, campaign, carol):
    client.force_login(carol)
    r = client.post(
        url("setup_basics", campaign.id),
        {"name": campaign.name, "description": "", "instructions": "New rules."},
    )
    assert r.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.instructions, campaign.instructions_version) == ("New rules.", 2)


def test_an_illegal_state_change_is_answered_with_its_reason(client, campaign, carol):
    client.force_login(carol)
    r = client.post(url("campaign_state", campaign.id), {"state": "draft"})
    assert r.status_code == 409
    assert "cannot be made a draft" in r.content.decode()


# --- watching -------------------------------------------------------------------------------


def test_progress_shows_counts_chart_and_an_estimate(client, judged, carol):
    client.force_login(carol)
    page = client.get(url("campaign", judged.id)).content.decode()
    assert "12</span> judgments" in page
    assert "6</span> tasks done" in page
    assert "<svg" in page
    assert 'data-testid="eta"' in page


def test_the_leaderboard_shows_model_names_intervals_and_win_rates(client, judged, carol):
    client.force_login(carol)
    page = client.get(url("leaderboard", judged.id)).content.decode()
    assert "model-a" in page and "model-b" in page
    assert "95% interval" in page
    assert "beat" in page  # the win-rate matrix's cells


def test_the_leaderboard_breaks_down_by_a_profile_field(client, campaign, alice, bob, carol):
    Profile.objects.create(user=alice, answers={"country": "NZ"})
    Profile.objects.create(user=bob, answers={"country": "FR"})
    judge(campaign, [alice, bob], bt_chooser({"model-a": 1, "model-b": 0}, random.Random(2)))
    client.force_login(carol)

    page = client.get(url("leaderboard", campaign.id), {"field": "country"}).content.decode()

    assert 'data-testid="by-group"' in page
    assert "NZ" in page and "FR" in page


def test_the_quality_page_lists_annotators_with_their_measures(client, judged, carol, alice):
    Profile.objects.create(user=alice, answers={"age": "25-34"})
    client.force_login(carol)
    page = client.get(url("quality", judged.id)).content.decode()
    assert 'data-annotator="alice"' in page and 'data-annotator="bob"' in page
    assert "Krippendorff" in page
    assert "Length bias" in page


def test_flag_and_block_buttons_work_with_htmx(client, judged, carol, alice):
    member = Membership.objects.get(campaign=judged, user=alice)
    client.force_login(carol)

    r = client.post(url("member_action", judged.id, member.id, "flag"), **HTMX)
    assert r.status_code == 200
    assert "Unflag" in r.content.decode()
    r = client.post(url("member_action", judged.id, member.id, "block"))
    assert r.status_code == 302
    member.refresh_from_db()
    assert member.is_flagged and member.is_blocked
    # Held out of the leaderboard: only bob's judgments count now.
    data = client.get(url("leaderboard_json", judged.id)).json()
    assert data["judgments"] == 6


def test_the_json_views_answer_admins(client, judged, carol):
    client.force_login(carol)
    board = client.get(url("leaderboard_json", judged.id)).json()
    q = client.get(url("quality_json", judged.id)).json()
    assert {s["model"] for s in board["standings"]} == {"model-a", "model-b"}
    assert {a["judgments"] for a in q["annotators"]} == {6}
    assert "alice" not in json.dumps(q)  # pseudonyms only


# --- access ---------------------------------------------------------------------------------


def every_dashboard_url(campaign, membership) -> list[str]:
    kwargs = {
        "campaign_id": campaign.id,
        "membership_id": membership.id,
        "action": "flag",
        "request_id": 1,
        "message_id": 1,
        "job_id": 1,
    }
    out = []
    for pattern in dashboard_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        wanted = {k: kwargs[k] for k in pattern.pattern.converters}
        out.append(reverse(f"dashboard:{pattern.name}", kwargs=wanted))
    return out


def test_an_annotator_gets_403_on_every_dashboard_page(client, judged, alice):
    member = Membership.objects.get(campaign=judged, user=alice)
    client.force_login(alice)
    urls = every_dashboard_url(judged, member)
    assert len(urls) == len(dashboard_urls.urlpatterns) >= 16
    for u in urls:
        assert client.get(u).status_code == 403, u
        assert client.post(u, {"state": "closed", "name": "x"}).status_code == 403, u
    member.refresh_from_db()
    judged.refresh_from_db()
    assert not member.is_flagged and judged.state == "open"


def test_someone_outside_the_campaign_does_not_learn_it_exists(client, judged, mallory, alice):
    member = Membership.objects.get(campaign=judged, user=alice)
    client.force_login(mallory)
    for u in every_dashboard_url(judged, member):
        expected = 404 if f"/{judged.id}/" in u else 403
        assert client.get(u).status_code == expected, u


def test_anonymous_visitors_are_sent_to_log_in(client, judged):
    r = client.get(url("campaign", judged.id))
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))


def test_staff_see_every_campaign(client, judged, mallory):
    mallory.is_staff = True
    mallory.save()
    client.force_login(mallory)
    assert client.get(url("campaign", judged.id)).status_code == 200
    assert judged.name in client.get(url("campaigns")).content.decode()


def test_a_prompt_file_in_csv_is_read_as_csv(client, campaign, carol):
    client.force_login(carol)
    csv = "id,prompt,response_a,model_a,response_b,model_b\nc1,Hello?,Hi,x,Hey,y\n"
    r = client.post(
        url("setup_prompts", campaign.id),
        {"file": SimpleUploadedFile("p.csv", csv.encode(), "text/csv"), "action": "import"},
    )
    assert "Imported 1 prompt, 1 task" in r.content.decode()
    assert prompts_import  # the page calls the same service


def test_a_member_of_another_campaign_is_not_found(client, judged, carol, make_campaign, bob):
    other = make_campaign(members=[bob])
    stranger = Membership.objects.get(campaign=other, user=bob)
    client.force_login(carol)
    r = client.post(url("member_action", judged.id, stranger.id, "block"))
    assert r.status_code == 404
    stranger.refresh_from_db()
    assert not stranger.is_blocked
