"""The admin's study pages: settings, invitation links, and who took part against quotas."""

import json

from django.urls import reverse

from annotation.models import Campaign, Membership, Participant, Study
from annotation.services import studies

from .conftest import SURVEY, link, through_to_tasks


def settings_url(campaign):
    return reverse("dashboard:study_settings", args=[campaign.id])


def test_an_admin_makes_a_campaign_a_study_with_a_versioned_consent_text(
    client, carol, make_campaign
):
    campaign = make_campaign()
    client.force_login(carol)
    form = {
        "consent": "Version one.",
        "questions": ["age", "reside_country"],
        "quotas": json.dumps(
            {"dimensions": [{"question": "age", "targets": {"18-24 years old": 5}}]}
        ),
        "eligibility": json.dumps({"reside_country": ["United Kingdom"]}),
        "qualification": "",
        "guidance": "",
        "participant_param": "PROLIFIC_PID",
        "study_param": "STUDY_ID",
        "session_param": "SESSION_ID",
        "tasks_per_participant": "10",
        "completion_code": "ABC",
        "completion_url": "",
    }
    saved = client.post(settings_url(campaign), form)
    assert saved.status_code == 200, saved.content.decode()[:2000]
    assert "Saved the study." in saved.content.decode()
    study = Study.objects.get(campaign=campaign)
    assert (study.consent_version, study.tasks_per_participant) == (1, 10)
    campaign.refresh_from_db()
    assert campaign.survey["questions"] == ["age", "reside_country"]
    assert campaign.quotas["dimensions"][0]["targets"] == {"18-24 years old": 5}
    client.post(settings_url(campaign), {**form, "consent": "Version two."})
    study.refresh_from_db()
    assert study.consent_version == 2
    assert list(campaign.consent_texts.values_list("version", "text")) == [
        (1, "Version one."),
        (2, "Version two."),
    ]
    page = client.get(settings_url(campaign)).content.decode()
    assert "PROLIFIC_PID={{%PROLIFIC_PID%}}" in page


def test_bad_study_settings_are_refused_naming_the_problem(client, carol, make_campaign):
    campaign = make_campaign()
    client.force_login(carol)
    base = {"participant_param": "PID", "study_param": "S", "session_param": "X",
            "tasks_per_participant": "0"}  # fmt: skip
    bad_json = client.post(settings_url(campaign), {**base, "quotas": "{nope"})
    assert bad_json.status_code == 422
    assert "Not valid JSON" in bad_json.content.decode()
    unasked = client.post(
        settings_url(campaign),
        {**base, "questions": ["gender"],
         "quotas": json.dumps({"dimensions": [{"question": "age", "targets": {"a": 1}}]})},
    )  # fmt: skip
    assert unasked.status_code == 422
    assert "needs that question in the survey" in unasked.content.decode()
    assert not Study.objects.filter(campaign=campaign).exists()


def test_the_invitation_link_signs_people_up_until_it_is_revoked(client, carol, study_campaign):
    client.force_login(carol)
    client.post(reverse("dashboard:study_invitation", args=[study_campaign.id]))
    token = Study.objects.get(campaign=study_campaign).invitation_token
    assert token
    client.logout()
    invite = reverse("study_invitation", args=[study_campaign.slug, token])
    to_signup = client.get(invite)
    assert to_signup.url.endswith(f"?invite={token}")
    joined = client.post(
        reverse("study_signup", args=[study_campaign.slug]),
        {"invite": token, "username": "newbie", "password1": "a-Long-pass-93",
         "password2": "a-Long-pass-93"},
        follow=True,
    )  # fmt: skip
    assert "Consent to take part" in joined.content.decode()
    assert Membership.objects.get(user__username="newbie").stage == Membership.Stage.CONSENT

    client.logout()
    client.force_login(carol)
    client.post(
        reverse("dashboard:study_invitation", args=[study_campaign.id]), {"action": "revoke"}
    )
    client.logout()
    closed = client.get(invite)
    assert closed.status_code == 403
    assert "no longer valid" in closed.content.decode()
    # Without an invitation, a study with closed sign-up refuses new accounts.
    refused = client.get(reverse("study_signup", args=[study_campaign.slug]))
    assert refused.status_code == 403


def test_open_sign_up_lets_anyone_join(client, study_campaign):
    Study.objects.filter(campaign=study_campaign).update(signup_open=True)
    entry = client.get(reverse("study_entry", args=[study_campaign.slug]))
    assert entry.url == reverse("study_signup", args=[study_campaign.slug])
    client.post(
        entry.url,
        {"username": "walkin", "password1": "a-Long-pass-93", "password2": "a-Long-pass-93"},
    )
    assert Membership.objects.get(user__username="walkin").stage == Membership.Stage.CONSENT


def test_the_participants_page_shows_answers_against_the_quota(client, carol, study_campaign):
    through_to_tasks(client, study_campaign, "P1")
    through_to_tasks(client, study_campaign, "P2")
    through_to_tasks(client, study_campaign, "P3", survey={**SURVEY, "age": "18-24 years old"})
    client.logout()
    client.get(link(study_campaign, "P4"))  # arrived, not consented yet
    client.force_login(carol)
    page = client.get(reverse("dashboard:study_participants", args=[study_campaign.id]))
    assert page.status_code == 200
    ages = {b.question: b for b, _ in page.context["breakdowns"]}["age"]
    rows = {r.answer: r for r in ages.rows}
    assert rows["25-34 years old"].participants == 2
    assert rows["18-24 years old"].participants == 1
    assert rows["18-24 years old"].target == 1
    assert abs(rows["25-34 years old"].target_share - 10 / 11) < 1e-9
    assert dict(page.context["stages"])["Taking tasks"] == 3
    assert dict(page.context["stages"])["Awaiting consent"] == 1
    html = page.content.decode()
    assert "<svg" in html and "target 91%" in html


def test_study_pages_are_for_the_campaigns_admins_only(client, alice, study_campaign):
    client.force_login(alice)
    for name in ("dashboard:study_settings", "dashboard:study_participants"):
        assert client.get(reverse(name, args=[study_campaign.id])).status_code == 404


def test_annotators_already_in_a_campaign_that_becomes_a_study_consent_first(
    client, alice, carol, make_campaign
):
    campaign = make_campaign(members=[alice])
    from annotation.services import studies

    studies.study_configure(
        campaign=campaign, consent_text="Please agree.", questions=[], quotas={}
    )
    client.force_login(alice)
    page = client.get(reverse("campaign_task", args=[campaign.id]), follow=True)
    assert "Please agree." in page.content.decode()
    assert Membership.objects.get(campaign=campaign, user=carol).stage == Membership.Stage.READY


def test_an_invitation_only_study_refuses_a_signed_in_stranger_everywhere(
    client, alice, study_campaign
):
    """Without an invitation or a place given by the admins, a signed-in person cannot join
    an invitation-only study: not through its pages, nor by asking the API for a task."""
    Campaign.objects.filter(id=study_campaign.id).update(is_public=True)
    client.force_login(alice)

    refused = client.get(reverse("study_next", args=[study_campaign.slug]))
    assert refused.status_code == 403
    assert "invitation only" in refused.content.decode()
    api = client.get(reverse("api_campaign_next", args=[study_campaign.id]))
    assert api.status_code == 403
    assert not Membership.objects.filter(campaign=study_campaign, user=alice).exists()

    # The invitation link lets the same person in, signed in as they are.
    token = studies.invitation_make(campaign=study_campaign)
    invited = client.get(reverse("study_invitation", args=[study_campaign.slug, token]))
    joined = client.get(invited.url)
    assert joined.status_code == 302
    assert Participant.objects.filter(campaign=study_campaign, membership__user=alice).exists()


def test_a_member_the_admins_added_joins_an_invitation_only_study(client, bob, study_campaign):
    Membership.objects.create(campaign=study_campaign, user=bob)
    client.force_login(bob)
    response = client.get(reverse("study_next", args=[study_campaign.slug]))
    assert response.status_code == 302
    assert Participant.objects.filter(campaign=study_campaign, membership__user=bob).exists()
