"""Who may join a study, by every way in: its crowd link (PROLIFIC_PID=...), open sign-up, the
invitation link, a place the admins gave, a public campaign's lease. One rule decides
(annotation.services.studies.joining); a signed-in person is asked before a link changes
which account they are signed in with."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from annotation.errors import Forbidden
from annotation.models import Campaign, Membership, Participant, Study, User
from annotation.services import studies, task_lease_next

from .conftest import link, participant_of, through_to_tasks


def _close(campaign: Campaign, **fields) -> None:
    """Sign-up closed and crowd links refused, unless `fields` say otherwise."""
    Study.objects.filter(campaign=campaign).update(
        **{"signup_open": False, "crowd_links_open": False, **fields}
    )


def _session_user(client: Client) -> int | None:
    session_id = client.session.get("_auth_user_id")
    return int(session_id) if session_id else None


# --- the crowd link on a study that does not take it ---------------------------------------


def test_a_crowd_link_to_an_invitation_only_study_is_refused_and_makes_nobody(
    client, study_campaign
):
    _close(study_campaign)
    users = User.objects.count()

    for pid in ("anything", "anything-else"):
        page = client.get(link(study_campaign, pid))

        assert page.status_code == 403
        html = page.content.decode()
        assert "invitation only" in html and "study link" in html
    assert User.objects.count() == users
    assert not Participant.objects.filter(campaign=study_campaign).exists()
    assert _session_user(client) is None


def test_a_study_that_takes_crowd_links_lets_new_participants_in_with_sign_up_closed(
    client, study_campaign
):
    _close(study_campaign, crowd_links_open=True)

    arrived = client.get(link(study_campaign, "PID-new"))

    assert arrived.url == reverse("study_consent", args=[study_campaign.slug])
    assert participant_of(study_campaign, "PID-new").membership.stage == Membership.Stage.CONSENT


def test_open_sign_up_takes_crowd_links_too(client, study_campaign):
    _close(study_campaign, signup_open=True)

    arrived = client.get(link(study_campaign, "PID-open"))

    assert arrived.status_code == 302
    assert participant_of(study_campaign, "PID-open")


def test_a_participant_already_in_resumes_by_their_link_after_crowd_links_close(
    client, study_campaign
):
    """Closing the way in stops newcomers, not the people already on their way."""
    user = through_to_tasks(client, study_campaign, "PID-in")
    client.logout()
    _close(study_campaign)

    again = client.get(link(study_campaign, "PID-in"))

    assert again.url == reverse("campaign_task", args=[study_campaign.id])
    assert _session_user(client) == user.id
    refused = Client().get(link(study_campaign, "PID-stranger"))
    assert refused.status_code == 403


# --- login CSRF: a signed-in person is asked first -----------------------------------------


def test_a_signed_in_admin_following_a_crowd_link_is_asked_and_stays_signed_in(
    client, study_campaign, carol
):
    client.force_login(carol)

    asked = client.get(link(study_campaign, "PID-forged"))

    assert asked.status_code == 200
    html = asked.content.decode()
    assert "carol" in html
    # Its form posts back to the link itself, with the page's CSRF token.
    assert re.search(
        r'<form method="post" action="/study/[^"]*PROLIFIC_PID=PID-forged[^"]*">\s*'
        r'<input type="hidden" name="csrfmiddlewaretoken"',
        html,
    )
    assert _session_user(client) == carol.id
    assert not Participant.objects.filter(external_id="PID-forged").exists()


def test_the_switch_to_a_participant_needs_the_pages_csrf_token(study_campaign, carol):
    """A cross-site form cannot do what the link may not: sign the admin out and in as a
    participant of the forger's choosing."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(carol)

    forged = client.post(link(study_campaign, "PID-forged"), {"confirm": "yes"})

    assert forged.status_code == 403
    assert _session_user(client) == carol.id
    assert not Participant.objects.filter(external_id="PID-forged").exists()


def test_confirming_on_the_page_signs_in_as_the_participant(study_campaign, carol):
    client = Client(enforce_csrf_checks=True)
    client.force_login(carol)
    asked = client.get(link(study_campaign, "PID-yes"))
    html = asked.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]
    action = re.search(r'<form method="post" action="(/study/[^"]+)"', html)[1]

    confirmed = client.post(action.replace("&amp;", "&"), {"csrfmiddlewaretoken": token})

    assert confirmed.url == reverse("study_consent", args=[study_campaign.slug])
    participant = participant_of(study_campaign, "PID-yes")
    assert _session_user(client) == participant.membership.user_id != carol.id
    assert (participant.external_study, participant.external_session) == ("st1", "se-PID-yes")


def test_a_participant_following_their_own_link_is_not_asked(client, study_campaign):
    user = through_to_tasks(client, study_campaign, "PID-own")

    again = client.get(link(study_campaign, "PID-own"))

    assert again.url == reverse("campaign_task", args=[study_campaign.id])
    assert _session_user(client) == user.id


def test_a_signed_in_person_is_refused_a_closed_studys_crowd_link_without_being_asked(
    client, study_campaign, alice
):
    _close(study_campaign)
    client.force_login(alice)

    page = client.get(link(study_campaign, "PID-x"))

    assert page.status_code == 403
    assert _session_user(client) == alice.id


# --- one rule for every way in --------------------------------------------------------------


@pytest.mark.parametrize(
    ("signup_open", "crowd_links_open", "way", "allowed"),
    [
        (False, False, "stranger", False),
        (False, False, "crowd_link", False),
        (False, False, "invitation", True),
        (False, False, "wrong_invitation", False),
        (False, False, "member", True),
        (False, True, "crowd_link", True),
        (False, True, "stranger", False),
        (True, False, "stranger", True),
        (True, False, "crowd_link", True),
    ],
)
def test_one_rule_decides_every_way_in(
    study_campaign, alice, signup_open, crowd_links_open, way, allowed
):
    _close(study_campaign, signup_open=signup_open, crowd_links_open=crowd_links_open)
    token = studies.invitation_make(campaign=study_campaign)
    if way == "member":
        Membership.objects.create(campaign=study_campaign, user=alice)
    study = Study.objects.get(campaign=study_campaign)
    asked = {
        "stranger": {},
        "member": {},
        "crowd_link": {"crowd_link": True},
        "invitation": {"token": token},
        "wrong_invitation": {"token": token + "x"},
    }[way]

    assert studies.join_allowed(study=study, user=alice, **asked) is allowed
    # The service that makes the participant asks the same rule.
    if allowed:
        assert studies.participant_join(campaign=study_campaign, user=alice, **asked)
    else:
        with pytest.raises(Forbidden):
            studies.participant_join(campaign=study_campaign, user=alice, **asked)
        assert not Participant.objects.filter(campaign=study_campaign).exists()


def test_a_public_campaign_that_is_a_study_takes_its_lease_by_the_same_rule(study_campaign, alice):
    Campaign.objects.filter(id=study_campaign.id).update(is_public=True)
    _close(study_campaign, crowd_links_open=True)
    with pytest.raises(Forbidden, match="invitation only"):
        task_lease_next(annotator=alice, campaign=study_campaign)
    _close(study_campaign, signup_open=True)
    with pytest.raises(Forbidden, match="first steps"):
        task_lease_next(annotator=alice, campaign=study_campaign)


# --- the setting ----------------------------------------------------------------------------


def test_the_admin_turns_crowd_links_on_and_off_in_the_study_settings(client, carol, make_campaign):
    campaign = make_campaign()
    client.force_login(carol)
    url = reverse("dashboard:study_settings", args=[campaign.id])
    form = {
        "consent": "Please agree.",
        "participant_param": "PROLIFIC_PID",
        "study_param": "STUDY_ID",
        "session_param": "SESSION_ID",
        "tasks_per_participant": "0",
        "crowd_links_open": "on",
    }

    saved = client.post(url, form)

    assert "Saved the study." in saved.content.decode()
    assert Study.objects.get(campaign=campaign).crowd_links_open
    assert Client().get(link(campaign, "PID-on")).status_code == 302
    # Off (the box unticked): newcomers are refused, and the page says so beside the link.
    client.post(url, {k: v for k, v in form.items() if k != "crowd_links_open"})
    assert not Study.objects.get(campaign=campaign).crowd_links_open
    assert Client().get(link(campaign, "PID-off")).status_code == 403
    assert "takes no newcomers" in client.get(url).content.decode()


def test_the_migration_keeps_studies_that_took_crowd_participants_taking_them(
    client, study_campaign, make_campaign
):
    """A running Prolific study is not cut off by the upgrade; every other study starts with
    crowd links off."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("annotation.migrations.0011_study_crowd_links")
    client.get(link(study_campaign, "PID-before"))
    quiet = make_campaign()
    Study.objects.create(campaign=quiet)
    Study.objects.update(crowd_links_open=False)

    migration.keep_running_crowd_studies_open(apps, None)

    assert Study.objects.get(campaign=study_campaign).crowd_links_open
    assert not Study.objects.get(campaign=quiet).crowd_links_open


def test_the_pages_of_joining_are_in_spanish(client, study_campaign, alice):
    es = {"HTTP_ACCEPT_LANGUAGE": "es"}
    client.force_login(alice)
    asked = client.get(link(study_campaign, "PID-es"), **es).content.decode()
    assert "¿Participar como participante de este estudio?" in asked
    assert "Seguir con la sesión de alice" in asked
    _close(study_campaign)
    client.logout()
    refused = client.get(link(study_campaign, "PID-es2"), **es).content.decode()
    assert "su enlace del estudio no inscribe a participantes nuevos" in refused
