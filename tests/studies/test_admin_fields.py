"""A study's eligibility, quotas and qualification as form fields on the study settings page:
saved as the study service reads them, an error under the field it names (with what was typed
kept), and the JSON for experts still accepted."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from annotation.models import Study


@pytest.fixture
def page(client, carol, make_campaign):
    campaign = make_campaign()
    client.force_login(carol)
    return client, campaign, reverse("dashboard:study_settings", args=[campaign.id])


def _form(**fields) -> dict:
    base = {
        "study_fields": "1",
        "questions": ["age", "gender"],
        "participant_param": "PROLIFIC_PID",
        "study_param": "STUDY_ID",
        "session_param": "SESSION_ID",
        "tasks_per_participant": "0",
        "quotas-0-question": "",
        "quotas-0-unit": "count",
        "quotas-0-participants": "",
        "quotas-0-targets": "",
        "qualification-0-question": "",
        "qualification-0-options": "",
        "qualification-0-answer": "",
        "qualification-0-explanation": "",
    }
    return {**base, **fields}


def test_the_fields_save_eligibility_quotas_and_qualification(page):
    client, campaign, url = page
    saved = client.post(
        url,
        _form(
            **{
                "eligibility-gender": ["Female", "Male"],
                "quotas-steer": "on",
                "quotas-0-question": "age",
                "quotas-0-unit": "share",
                "quotas-0-participants": "100",
                "quotas-0-targets": "18-24 years old = 0.5\n25-34 years old = 0.5",
                "qualification-instructions": "Practice first.",
                "qualification-pass_mark": "50",
                "qualification-0-question": "Which is kinder?",
                "qualification-0-options": "A\nB",
                "qualification-0-answer": "2",
                "qualification-0-attention_check": "on",
            }
        ),
    )

    assert saved.status_code == 200 and "Saved the study." in saved.content.decode()
    study = Study.objects.get(campaign=campaign)
    campaign.refresh_from_db()
    assert study.eligibility == {"gender": ["Female", "Male"]}
    assert campaign.quotas["dimensions"] == [
        {"question": "age", "unit": "share", "participants": 100,
         "targets": {"18-24 years old": 0.5, "25-34 years old": 0.5}}
    ]  # fmt: skip
    assert study.qualification == {
        "instructions": "Practice first.",
        "pass_mark": 0.5,
        "items": [
            {"question": "Which is kinder?", "options": ["A", "B"], "answer": 1,
             "attention_check": True}
        ],
    }  # fmt: skip
    again = client.get(url).content.decode()
    assert 'name="qualification-0-answer" value="2"' in again
    assert "18-24 years old = 0.5" in again


def test_an_error_is_shown_under_the_field_it_names(page):
    client, campaign, url = page
    refused = client.post(
        url,
        _form(
            **{
                "qualification-0-question": "Which is kinder?",
                "qualification-0-options": "A\nB",
                "qualification-0-answer": "3",
            }
        ),
    )
    assert refused.status_code == 422
    html = refused.content.decode()
    assert 'id="error-qualification-0-answer"' in html
    assert "qualification.items[0].answer: Item 1: answer is the index" in html
    assert 'name="qualification-0-answer" value="3"' in html
    assert not Study.objects.filter(campaign=campaign).exists()

    quota = client.post(
        url, _form(**{"quotas-0-question": "age", "quotas-0-targets": "18-24 years old = lots"})
    )
    assert 'id="error-quotas-0-targets"' in quota.content.decode()
    unasked = client.post(
        url,
        _form(**{"quotas-0-question": "education", "quotas-0-targets": "Graduate = 3"}),
    )
    assert 'id="error-quotas-0-question"' in unasked.content.decode()


def test_the_json_for_experts_still_saves(page):
    client, campaign, url = page
    saved = client.post(
        url,
        _form(use_json="1", eligibility=json.dumps({"age": ["18-24 years old"]})),
    )
    assert saved.status_code == 200
    assert Study.objects.get(campaign=campaign).eligibility == {"age": ["18-24 years old"]}
