"""A study campaign: consent, a PRISM survey, a qualification, quotas and a completion code."""

from typing import Any

import pytest
from django.urls import reverse

from annotation.models import Campaign, Membership, Participant, Study, User
from annotation.services import prompts_import, studies
from tests.conftest import pairwise_lines

CONSENT = "We record your answers for research. **You may withdraw at any time.**"
QUESTIONS = ["age", "gender", "reside_country", "stated_prefs", "self_description"]
QUALIFICATION = {
    "instructions": "Pick the better answer.",
    "pass_mark": 1.0,
    "items": [
        {
            "question": "Which is the capital of France?",
            "options": ["Paris", "Rome"],
            "answer": 0,
            "explanation": "Paris is the capital of France.",
        },
        {
            "question": "To show you read this, choose **Blue**.",
            "options": ["Red", "Blue"],
            "answer": 1,
            "attention_check": True,
        },
    ],
}
CODE = "C0MPL3TE"
# A survey a participant fills in (form field names), in the 25-34 band.
SURVEY = {
    "age": "25-34 years old",
    "gender": "Prefer not to say",
    "reside_country": "United Kingdom",
    "stated_prefs__values": "80",
    "stated_prefs__safety": "",
    "self_description": "I like <b>hiking</b>.",
}


def study_setup(campaign: Campaign, **fields: Any) -> Study:
    studies.consent_text_set(campaign=campaign, text=CONSENT)
    Study.objects.filter(campaign=campaign).update(
        completion_code=CODE, qualification=QUALIFICATION, **fields
    )
    campaign.survey = {"questions": QUESTIONS}
    campaign.save(update_fields=["survey"])
    return Study.objects.get(campaign=campaign)


@pytest.fixture
def study_campaign(make_campaign) -> Campaign:
    """Pairwise, 4 prompts, overlap 2; a study with quotas on age (one place for 18-24),
    taking crowd links, sign-up closed."""
    campaign = make_campaign(overlap=2)
    assert prompts_import(campaign=campaign, content=pairwise_lines(4)).ok
    campaign.quotas = studies.quotas_clean(
        {
            "dimensions": [
                {
                    "question": "age",
                    "unit": "count",
                    "targets": {"18-24 years old": 1, "25-34 years old": 10},
                }
            ]
        }
    )
    campaign.save(update_fields=["quotas"])
    # Recruited on a crowd platform: its study link takes newcomers with sign-up closed.
    study_setup(campaign, crowd_links_open=True)
    return campaign


def link(campaign: Campaign, pid: str) -> str:
    return reverse("study_entry", args=[campaign.slug]) + (
        f"?PROLIFIC_PID={pid}&STUDY_ID=st1&SESSION_ID=se-{pid}"
    )


def participant_of(campaign: Campaign, pid: str) -> Participant:
    return Participant.objects.select_related("membership__user").get(
        campaign=campaign, external_id=pid
    )


def through_to_tasks(client, campaign: Campaign, pid: str, survey: dict[str, str] = SURVEY) -> User:
    """A participant arrives by the study link, in a browser nobody is signed in to (else
    they are asked first), and passes consent, survey and qualification."""
    slug = campaign.slug
    client.logout()
    client.get(link(campaign, pid))
    version = Study.objects.get(campaign=campaign).consent_version
    client.post(reverse("study_consent", args=[slug]), {"agree": "on", "version": version})
    client.post(reverse("study_survey", args=[slug]), survey)
    for item, choice in [(0, 0), (1, 1)]:
        client.post(reverse("study_qualification", args=[slug]), {"item": item, "choice": choice})
    participant = participant_of(campaign, pid)
    assert participant.membership.stage == Membership.Stage.ACTIVE
    return participant.membership.user
