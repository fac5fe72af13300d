"""What a save of the study's settings does to the people already at work: they keep working
or go through consent, as the admin chose; the page refuses a save that would send them back
without a choice."""

from django.urls import reverse

from annotation.models import Membership, Study
from annotation.selectors.studies import members_at_work
from annotation.services.studies import consent_text_set, study_configure
from tests.studies.conftest import through_to_tasks


def configure(campaign, **kw):
    return study_configure(campaign=campaign, consent_text="Agree?", questions=[], quotas={}, **kw)


def test_kept_annotators_stay_at_work_when_the_campaign_becomes_a_study(campaign, alice):
    assert members_at_work(campaign=campaign) == 2  # alice and bob
    configure(campaign, existing="keep")
    assert Membership.objects.get(campaign=campaign, user=alice).stage == Membership.Stage.READY


def test_by_default_they_go_through_consent(campaign, alice):
    configure(campaign)
    assert Membership.objects.get(campaign=campaign, user=alice).stage == Membership.Stage.CONSENT


def test_a_changed_consent_text_keeps_participants_at_work_when_asked(client, study_campaign):
    user = through_to_tasks(client, study_campaign, "KEEP1")
    assert members_at_work(campaign=study_campaign) == 1
    consent_text_set(campaign=study_campaign, text="A new text.", existing="keep")
    membership = Membership.objects.get(campaign=study_campaign, user=user)
    assert membership.stage == Membership.Stage.ACTIVE
    consent_text_set(campaign=study_campaign, text="A third text.")
    membership.refresh_from_db()
    assert membership.stage == Membership.Stage.CONSENT


def test_the_page_asks_before_sending_anyone_back(client, campaign, carol, alice):
    client.force_login(carol)
    url = reverse("dashboard:study_settings", args=[campaign.id])
    assert "2 annotators are already working" in client.get(url).content.decode()
    form = {"consent": "Agree?", "quotas": "", "eligibility": "", "qualification": ""}
    form |= {"guidance": "", "tasks_per_participant": "0", "participant_param": "PROLIFIC_PID"}
    form |= {"study_param": "STUDY_ID", "session_param": "SESSION_ID"}

    refused = client.post(url, form)
    assert refused.status_code == 422
    assert "choose whether they keep working" in refused.content.decode()
    assert not Study.objects.filter(campaign=campaign).exists()

    saved = client.post(url, form | {"existing": "keep"})
    assert saved.status_code == 200, saved.content.decode()[:2000]
    assert Membership.objects.get(campaign=campaign, user=alice).stage == Membership.Stage.READY
