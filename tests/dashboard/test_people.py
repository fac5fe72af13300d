"""People in bulk: a list (pasted, a CSV file, the API, the CLI) added line by line with a
report per line; new names made into accounts with personal, signed, expiring invite links."""

from __future__ import annotations

import io
import re
import time
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from annotation.errors import RuleError
from annotation.models import Membership, User
from annotation.services import invite_accept, invite_check, people_add
from annotation.services.people import INVITE_VALID, invite_token_make
from tests.conftest import api_client_for


def members(campaign) -> dict[str, str]:
    return dict(Membership.objects.filter(campaign=campaign).values_list("user__username", "role"))


def invite_path(page: str, username: str) -> str:
    row = re.search(
        rf"<td>{username}</td>.*?value=\"http://testserver(/invite/[^\"]+)\"", page, re.S
    )
    assert row, page
    return row[1]


# --- the service ------------------------------------------------------------------------------


def test_one_unknown_name_is_named_and_the_rest_are_added(campaign, carol, mallory):
    User.objects.create_user(username="dave", password="pw")
    report = people_add(campaign=campaign, people="mallory\nnobody\ndave,reviewer\nmallory\n")
    assert [(r.line, r.status) for r in report.lines] == [
        (1, "added"), (2, "unknown"), (3, "added"), (4, "duplicate")
    ]  # fmt: skip
    assert "nobody" in report.lines[1].message and "nobody" in report.summary()
    assert report.summary().startswith("Added 2 of 4 lines")
    assert members(campaign)["mallory"] == "annotator" and members(campaign)["dave"] == "reviewer"
    assert not User.objects.filter(username="nobody").exists()


def test_bad_lines_are_reported_one_by_one(campaign, alice):
    report = people_add(
        campaign=campaign,
        people="carl,overlord\nbad\x00name\nbob smith\nALICE\n\u0430lice\nzoe\n",
        create=True,
    )
    status = {r.line: (r.status, r.message) for r in report.lines}
    assert status[1][0] == "invalid" and "role must be one of" in status[1][1]
    assert status[2][0] == "invalid" and "NUL" in status[2][1]
    assert status[3][0] == "invalid" and "username" in status[3][1].lower()
    assert status[4][0] == "invalid" and "another case" in status[4][1]
    assert status[5][0] == "invalid" and "looks too much like" in status[5][1]
    assert status[6][0] == "created"
    assert set(User.objects.values_list("username", flat=True)) >= {"zoe"}
    assert not User.objects.filter(username__in=["bob smith", "ALICE", "\u0430lice"]).exists()


def test_a_list_that_is_not_text_or_empty_is_refused_whole(campaign):
    with pytest.raises(RuleError, match="UTF-8"):
        people_add(campaign=campaign, people=b"\xff\xfe\x00a")
    with pytest.raises(RuleError, match="at least one"):
        people_add(campaign=campaign, people="\n , \n")
    with pytest.raises(RuleError, match="role must be"):
        people_add(campaign=campaign, people="alice", role="owner")


def test_an_invite_link_sets_a_password_once_and_joins_the_campaign(client, campaign):
    report = people_add(campaign=campaign, people="newbie", create=True)
    user = User.objects.get(username="newbie")
    assert not user.has_usable_password() and members(campaign)["newbie"] == "annotator"
    link = reverse("invite", args=[report.lines[0].invite_token])

    page = client.get(link)
    assert page.status_code == 200 and "newbie" in page.content.decode()
    r = client.post(link, {"new_password1": "x", "new_password2": "y"})
    assert r.status_code == 422 and "fields didn" in r.content.decode()
    r = client.post(
        link, {"new_password1": "a long passphrase", "new_password2": "a long passphrase"}
    )
    assert r.status_code == 302 and r["Location"] == reverse("campaign_task", args=[campaign.id])
    assert client.get(r["Location"]).status_code == 200  # signed in, a member
    user.refresh_from_db()
    assert user.check_password("a long passphrase")

    client.logout()
    again = client.get(link)
    assert again.status_code == 410 and "has been used" in again.content.decode()


def test_a_forged_or_expired_invite_link_is_refused(client, campaign):
    people_add(campaign=campaign, people="newbie", create=True)
    user = User.objects.get(username="newbie")
    token = invite_token_make(user=user, campaign=campaign)
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    r = client.get(reverse("invite", args=[forged]))
    assert r.status_code == 404 and "not valid" in r.content.decode()

    # Five days old: still good (a link lasts longer than a password reset's three days).
    with mock.patch("time.time", return_value=time.time() - 5 * 86400):
        recent = invite_token_make(user=user, campaign=campaign)
    assert client.get(reverse("invite", args=[recent])).status_code == 200
    # Signed a minute longer ago than a link lasts.
    past = time.time() - INVITE_VALID.total_seconds() - 60
    with mock.patch("time.time", return_value=past):
        stale = invite_token_make(user=user, campaign=campaign)
    password = {"new_password1": "a long passphrase", "new_password2": "a long passphrase"}
    r = client.post(reverse("invite", args=[stale]), password)
    assert r.status_code == 410 and "expired" in r.content.decode()
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_adding_a_name_again_gives_a_fresh_link_until_the_password_is_set(campaign):
    first = people_add(campaign=campaign, people="newbie", create=True).lines[0]
    again = people_add(campaign=campaign, people="newbie").lines[0]
    assert first.status == "created" and again.status == "already" and again.invite_token
    assert invite_check(token=again.invite_token)[0].username == "newbie"
    assert User.objects.filter(username="newbie").count() == 1
    invite_accept(token=again.invite_token, password="a long passphrase")
    assert people_add(campaign=campaign, people="newbie").lines[0].invite_token == ""


# --- the page ---------------------------------------------------------------------------------


def test_the_people_page_reports_each_line_and_shows_invite_links(client, campaign, carol, alice):
    client.force_login(carol)
    url = reverse("dashboard:setup_people", args=[campaign.id])
    r = client.post(url, {"people": "alice\nghost\n", "role": "annotator"})
    page = r.content.decode()
    assert r.status_code == 200
    assert "Added 0 of 2 lines; 1 already a member; not added: ghost." in page
    assert 'data-status="unknown"' in page and "No account named &#x27;ghost&#x27;" in page

    upload = SimpleUploadedFile("people.csv", b"username,role\nnew1,annotator\nnew2,reviewer\n")
    r = client.post(url, {"file": upload, "role": "annotator", "create": "on"})
    page = r.content.decode()
    assert "2 new accounts with invite links" in page
    assert members(campaign)["new2"] == "reviewer"
    link = invite_path(page, "new1")
    assert client.get(link).status_code == 200


def test_an_empty_list_on_the_page_says_so(client, campaign, carol):
    client.force_login(carol)
    r = client.post(reverse("dashboard:setup_people", args=[campaign.id]), {"people": " "})
    assert r.status_code == 422 and "Give at least one username." in r.content.decode()


# --- the API and the CLI ----------------------------------------------------------------------


def test_the_api_adds_a_list_with_a_result_per_line(campaign, carol, alice):
    api = api_client_for(carol)
    r = api.post(
        f"/api/v1/campaigns/{campaign.id}/members/",
        {"people": ["alice", "ghost", "fresh"], "role": "reviewer", "create": False},
        format="json",
    )
    assert r.status_code == 200, r.json()
    body = r.json()
    assert [(x["line"], x["username"], x["status"]) for x in body["lines"]] == [
        (1, "alice", "already"), (2, "ghost", "unknown"), (3, "fresh", "unknown")
    ]  # fmt: skip
    assert body["added"] == 0 and members(campaign)["alice"] == "reviewer"

    r = api.post(
        f"/api/v1/campaigns/{campaign.id}/members/",
        {"people": ["fresh"], "create": True},
        format="json",
    )
    line = r.json()["lines"][0]
    assert line["status"] == "created" and line["invite_url"].startswith(
        "http://testserver/invite/"
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"people": "alice"},
        {"people": [["alice"]]},
        {"people": ["a\x00b"]},
        {"people": ["x"], "role": "king"},
    ],
)
def test_the_api_refuses_a_malformed_request_with_400(campaign, carol, body):
    r = api_client_for(carol).post(f"/api/v1/campaigns/{campaign.id}/members/", body, format="json")
    assert r.status_code == 400, r.content


def test_the_api_is_for_the_campaigns_admins(campaign, alice):
    r = api_client_for(alice).post(
        f"/api/v1/campaigns/{campaign.id}/members/", {"people": ["bob"]}, format="json"
    )
    assert r.status_code == 403


def test_the_cli_adds_people_from_a_file(campaign, tmp_path, alice):
    path = tmp_path / "people.csv"
    path.write_text("username\nalice\nnewcomer\n")
    out = io.StringIO()
    call_command(
        "add_people",
        campaign.slug,
        str(path),
        "--create",
        "--base-url",
        "https://agora.example",
        stdout=out,
    )
    text = out.getvalue()
    assert "line 2  alice  already" in text
    assert re.search(r"line 3  newcomer  created .* https://agora\.example/invite/\S+/", text)
    assert "newcomer" in members(campaign)
