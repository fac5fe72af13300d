"""A participant's way through a study, on the real pages (Django's test client)."""

import re

from django.urls import reverse

from annotation.models import Assignment, Judgment, Membership, Profile, Study, User
from annotation.services import studies

from .conftest import CODE, SURVEY, link, participant_of, through_to_tasks


def task_url(campaign) -> str:
    return reverse("campaign_task", args=[campaign.id])


def submit_first_choice(client, campaign) -> None:
    page = client.get(task_url(campaign))
    assert page.status_code == 200
    html = page.content.decode()
    assignment_id = int(re.search(r"/assignments/(\d+)/submit/", html).group(1))
    key = re.search(r'name="idempotency_key" value="(\w+)"', html).group(1)
    a = Assignment.objects.get(id=assignment_id)
    answer = client.post(
        reverse("assignment_submit", args=[assignment_id]),
        {"choice": str(a.display_order[0]), "idempotency_key": key},
    )
    assert answer.status_code == 302


def test_a_participant_from_a_study_link_consents_surveys_works_and_gets_the_code(
    client, study_campaign
):
    slug = study_campaign.slug
    arrived = client.get(link(study_campaign, "PID-1"))
    assert arrived.status_code == 302
    assert arrived.url == reverse("study_consent", args=[slug])
    participant = participant_of(study_campaign, "PID-1")
    assert (participant.external_study, participant.external_session) == ("st1", "se-PID-1")
    user = participant.membership.user
    assert not user.has_usable_password()

    # Nothing but the consent page before consent: tasks and survey send back to it.
    for url in (task_url(study_campaign), reverse("study_survey", args=[slug])):
        page = client.get(url, follow=True)
        assert page.redirect_chain[-1][0] == reverse("study_consent", args=[slug])
        assert "You may withdraw at any time" in page.content.decode()
        assert "Prompt number" not in page.content.decode()
    assert not Assignment.objects.filter(annotator=user).exists()

    refused = client.post(reverse("study_consent", args=[slug]), {"version": 1})
    assert refused.status_code == 422
    assert "Tick the box to agree" in refused.content.decode()
    consented = client.post(reverse("study_consent", args=[slug]), {"agree": "on", "version": 1})
    assert consented.url == reverse("study_survey", args=[slug])
    participant.refresh_from_db()
    assert participant.consent_version == 1 and participant.consented_at is not None

    bad = client.post(reverse("study_survey", args=[slug]), {**SURVEY, "age": "200"})
    assert bad.status_code == 422
    assert "Select a valid choice" in bad.content.decode()
    assert not Profile.objects.filter(user=user).exists()
    surveyed = client.post(reverse("study_survey", args=[slug]), SURVEY)
    assert surveyed.url == reverse("study_qualification", args=[slug])
    profile = Profile.objects.get(user=user)
    assert profile.version == 1
    assert profile.answers["age"] == "25-34 years old"
    assert profile.answers["gender"] == "Prefer not to say"
    assert profile.answers["location"]["reside_country"] == "United Kingdom"
    assert profile.answers["location"]["reside_countryISO"] == "GB"
    assert profile.answers["stated_prefs"]["values"] == 80
    assert profile.answers["stated_prefs"]["safety"] is None
    assert profile.consent_version == "1"

    # Real tasks wait for the qualification.
    assert client.get(task_url(study_campaign)).url == reverse("study_next", args=[slug])
    wrong = client.post(reverse("study_qualification", args=[slug]), {"item": 0, "choice": 1})
    assert "the expected answer is “Paris”" in wrong.content.decode()
    assert "Paris is the capital of France." in wrong.content.decode()
    # One training item wrong under a pass mark of 1.0: failed, clear page, no task.
    client.post(reverse("study_qualification", args=[slug]), {"item": 1, "choice": 1})
    membership = Membership.objects.get(user=user, campaign=study_campaign)
    assert membership.stage == Membership.Stage.FAILED
    end = client.get(task_url(study_campaign), follow=True)
    assert "did not reach the mark" in end.content.decode()
    assert not Assignment.objects.filter(annotator=user).exists()


def test_a_participant_who_passes_does_tasks_and_gets_the_completion_code(client, study_campaign):
    user = through_to_tasks(client, study_campaign, "PID-2")
    for _ in range(4):
        submit_first_choice(client, study_campaign)
    assert Judgment.objects.filter(annotator=user).count() == 4
    done = client.get(task_url(study_campaign))
    assert 'data-testid="finish"' in done.content.decode()
    url = reverse("study_complete", args=[study_campaign.slug])
    asked = client.get(url)
    assert "Finish the study?" in asked.content.decode() and CODE not in asked.content.decode()
    finished = client.post(url, follow=True)
    assert finished.redirect_chain == [(url, 302)]
    assert CODE in finished.content.decode()
    membership = Membership.objects.get(user=user, campaign=study_campaign)
    assert membership.stage == Membership.Stage.COMPLETED
    assert participant_of(study_campaign, "PID-2").completed_at is not None


def test_completion_is_refused_while_tasks_are_left(client, study_campaign):
    through_to_tasks(client, study_campaign, "PID-3")
    early = client.post(reverse("study_complete", args=[study_campaign.slug]))
    assert early.status_code == 302
    assert early.url == task_url(study_campaign)
    assert participant_of(study_campaign, "PID-3").completed_at is None


def test_a_task_limit_ends_the_tasks_and_a_completion_url_takes_the_participant_back(
    client, study_campaign
):
    Study.objects.filter(campaign=study_campaign).update(
        tasks_per_participant=2, completion_url="https://app.prolific.com/submissions/complete?cc=X"
    )
    through_to_tasks(client, study_campaign, "PID-4")
    submit_first_choice(client, study_campaign)
    submit_first_choice(client, study_campaign)
    assert 'data-testid="finish"' in client.get(task_url(study_campaign)).content.decode()
    back = client.post(reverse("study_complete", args=[study_campaign.slug]), follow=True)
    # A link, not a redirect: the pages' CSP lets forms post to Agora only.
    assert 'href="https://app.prolific.com/submissions/complete?cc=X"' in back.content.decode()


def test_a_second_visit_with_the_same_id_resumes_the_same_participant(client, study_campaign):
    user = through_to_tasks(client, study_campaign, "PID-5")
    submit_first_choice(client, study_campaign)
    client.logout()
    again = client.get(link(study_campaign, "PID-5"))
    assert again.url == task_url(study_campaign)
    assert User.objects.filter(memberships__campaign=study_campaign).count() == 2  # carol + PID-5
    page = client.get(task_url(study_campaign))
    assert "<strong>1</strong> done" in page.content.decode()
    assert page.context["user"] == user


def test_a_participant_outside_the_quota_gets_the_clear_page_and_no_task(client, study_campaign):
    slug = study_campaign.slug
    client.get(link(study_campaign, "PID-6"))
    client.post(reverse("study_consent", args=[slug]), {"agree": "on", "version": 1})
    outside = client.post(
        reverse("study_survey", args=[slug]), {**SURVEY, "age": "65+ years old"}, follow=True
    )
    assert "not in the group of people this study needs" in outside.content.decode()
    user = participant_of(study_campaign, "PID-6").membership.user
    assert client.get(task_url(study_campaign)).url == reverse("study_next", args=[slug])
    assert not Assignment.objects.filter(annotator=user).exists()


def test_a_participant_after_a_full_quota_cell_gets_the_clear_page(client, study_campaign):
    young = {**SURVEY, "age": "18-24 years old"}
    through_to_tasks(client, study_campaign, "PID-7", survey=young)
    client.logout()
    slug = study_campaign.slug
    client.get(link(study_campaign, "PID-8"))
    client.post(reverse("study_consent", args=[slug]), {"agree": "on", "version": 1})
    full = client.post(reverse("study_survey", args=[slug]), young, follow=True)
    assert "already has enough participants like you" in full.content.decode()
    membership = participant_of(study_campaign, "PID-8").membership
    assert membership.stage == Membership.Stage.QUOTA_FULL
    assert not Assignment.objects.filter(annotator=membership.user).exists()


def test_a_link_without_the_participant_id_is_refused_clearly(client, study_campaign):
    page = client.get(reverse("study_entry", args=[study_campaign.slug]) + "?PROLIFIC_PID=")
    assert page.status_code == 400
    assert "no participant id (PROLIFIC_PID)" in page.content.decode()


def test_the_participant_parameter_is_a_campaign_setting(client, study_campaign):
    Study.objects.filter(campaign=study_campaign).update(participant_param="workerId")
    client.get(reverse("study_entry", args=[study_campaign.slug]) + "?workerId=W9")
    assert participant_of(study_campaign, "W9").membership.stage == Membership.Stage.CONSENT


def test_a_new_consent_text_is_agreed_to_before_the_next_task(client, study_campaign):
    user = through_to_tasks(client, study_campaign, "PID-9")
    submit_first_choice(client, study_campaign)
    studies.consent_text_set(campaign=study_campaign, text="New terms: we keep data 5 years.")
    page = client.get(task_url(study_campaign), follow=True)
    assert "New terms: we keep data 5 years." in page.content.decode()
    client.post(reverse("study_consent", args=[study_campaign.slug]), {"agree": "on", "version": 2})
    participant = participant_of(study_campaign, "PID-9")
    assert participant.consent_version == 2
    assert participant.membership.stage == Membership.Stage.ACTIVE
    # Survey and practice are not asked again.
    assert Profile.objects.filter(user=user).count() == 1
    assert client.get(task_url(study_campaign)).status_code == 200


def test_a_stale_consent_form_is_refused_and_shows_the_new_text(client, study_campaign):
    client.get(link(study_campaign, "PID-10"))
    studies.consent_text_set(campaign=study_campaign, text="Changed meanwhile.")
    stale = client.post(
        reverse("study_consent", args=[study_campaign.slug]), {"agree": "on", "version": 1}
    )
    assert stale.status_code == 422
    assert "The consent text changed" in stale.content.decode()
    assert "Changed meanwhile." in stale.content.decode()
    assert participant_of(study_campaign, "PID-10").consented_at is None


def test_htmx_and_the_api_send_a_participant_before_consent_back_to_the_study(
    client, study_campaign
):
    from tests.conftest import api_client_for

    client.get(link(study_campaign, "PID-11"))
    htmx = client.get(task_url(study_campaign), HTTP_HX_REQUEST="true")
    assert htmx.headers["HX-Redirect"] == reverse("study_next", args=[study_campaign.slug])
    user = participant_of(study_campaign, "PID-11").membership.user
    api = api_client_for(user).get(f"/api/v1/campaigns/{study_campaign.id}/next/")
    assert api.status_code == 403
    assert "first steps" in api.json()["detail"]


def test_the_studys_admin_following_its_link_stays_its_admin(client, study_campaign, carol):
    Membership.objects.update_or_create(
        campaign=study_campaign, user=carol, defaults={"role": Membership.Role.ADMIN}
    )
    client.force_login(carol)

    r = client.get(reverse("study_next", args=[study_campaign.slug]))

    assert r.status_code == 400 and "You run this study" in r.content.decode()
    member = Membership.objects.get(campaign=study_campaign, user=carol)
    assert member.role == Membership.Role.ADMIN and member.stage == Membership.Stage.READY
    assert not hasattr(member, "participant")
