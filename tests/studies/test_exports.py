"""What a study puts in the exports: profile versions, withdrawal, PRISM's three tables."""

import json
from pathlib import Path

import pytest
from django.urls import reverse

from annotation.forms import SurveyForm
from annotation.models import Study
from annotation.services import judgment_submit, prompts_import, studies, task_lease_next
from exports.formats import FORMATS
from exports.formats.prism import CONVERSATION_COLUMNS, SURVEY_COLUMNS, UTTERANCE_COLUMNS
from exports.services import export_rows
from tests.exports.conftest import PRISM_SETTINGS, lines, pid, rate_by_model

from .conftest import QUESTIONS, SURVEY

TYPES = ["unguided", "values_guided", "controversy_guided"]


def prism_lines() -> str:
    rows = [json.loads(line) for line in lines(3, n_prompts=3, system="Be kind.").splitlines()]
    for row, kind in zip(rows, TYPES, strict=True):
        row["conversation_type"] = kind
    return "\n".join(json.dumps(r) for r in rows)


@pytest.fixture
def prism_study(make_campaign, alice, bob):
    """A PRISM-style rating study (3 conversations of the three types) alice and bob joined,
    consented to and answered the survey of."""
    campaign = make_campaign(
        members=[alice, bob], task_kind="rating", settings=PRISM_SETTINGS, overlap=2
    )
    assert prompts_import(campaign=campaign, content=prism_lines()).ok
    studies.consent_text_set(campaign=campaign, text="Consent, please.")
    Study.objects.filter(campaign=campaign).update(
        guidance={"controversy_guided": "Talk about something people disagree on."}
    )
    campaign.survey = {"questions": QUESTIONS}
    campaign.save(update_fields=["survey"])
    for user, age in [(alice, "25-34 years old"), (bob, "45-54 years old")]:
        participant = studies.participant_join(campaign=campaign, user=user)
        studies.consent_give(participant=participant, version=1)
        survey(participant, {**SURVEY, "age": age})
    return campaign


def survey(participant, data):
    form = SurveyForm(data, questions=QUESTIONS, initial_answers={})
    assert form.is_valid(), form.errors
    latest = studies.profile_latest(participant.membership.user)
    return studies.survey_submit(
        participant=participant, answers=form.answers(latest.answers if latest else {})
    )


def judge_one(campaign, user):
    a = task_lease_next(annotator=user, campaign=campaign)
    judgment, _ = judgment_submit(
        assignment=a, annotator=user, payload=rate_by_model(a), idempotency_key=f"k{a.id}"
    )
    return judgment


def test_editing_the_profile_between_judgments_versions_them_in_the_export(prism_study, alice):
    first, second = judge_one(prism_study, alice), judge_one(prism_study, alice)
    participant = studies.participant_join(campaign=prism_study, user=alice)
    survey(participant, {**SURVEY, "age": "35-44 years old"})
    third = judge_one(prism_study, alice)
    rows = {r["judgment_id"]: r for r in export_rows(campaign=prism_study, fmt="judgments")}
    assert [rows[j.id]["profile_version"] for j in (first, second, third)] == [1, 1, 2]
    # The survey shows the version in force now.
    me = pid(prism_study, alice)
    people = {
        r["user_id"]: r for r in export_rows(campaign=prism_study, fmt="prism", table="survey")
    }
    assert (people[me]["profile_version"], people[me]["age"]) == (2, "35-44 years old")


def test_withdrawn_consent_removes_the_participant_from_every_export(
    client, prism_study, alice, bob
):
    for _ in range(3):
        judge_one(prism_study, alice)
        judge_one(prism_study, bob)
    gone, kept = pid(prism_study, alice), pid(prism_study, bob)
    client.force_login(alice)
    asked = client.get(reverse("study_withdraw", args=[prism_study.slug]))
    assert "This cannot be undone" in asked.content.decode()
    done = client.post(reverse("study_withdraw", args=[prism_study.slug]), {"confirm": "yes"})
    assert done.url == reverse("study_end", args=[prism_study.slug])
    assert client.get(done.url).context["title"] == "You have withdrawn"

    seen = 0
    for fmt, spec in FORMATS.items():
        for table in spec.tables:
            options = {"table": table} if len(spec.tables) > 1 else {}
            text = json.dumps(
                list(
                    export_rows(
                        campaign=prism_study,
                        fmt=fmt,
                        include_flagged=True,
                        include_gold=True,
                        **options,
                    )
                )
            )
            assert gone not in text, (fmt, table)
            seen += kept in text
    assert seen >= 5  # the other participant is still there in the formats that show people
    # And no more tasks for them.
    assert client.get(reverse("campaign_task", args=[prism_study.id])).status_code == 302


def test_the_prism_tables_have_the_documented_columns_and_join_on_their_ids(
    prism_study, alice, bob
):
    for _ in range(3):
        judge_one(prism_study, alice)
        judge_one(prism_study, bob)
    tables = {
        t: list(export_rows(campaign=prism_study, fmt="prism", table=t))
        for t in ("survey", "conversations", "utterances")
    }
    for table, columns in [
        ("survey", SURVEY_COLUMNS),
        ("conversations", CONVERSATION_COLUMNS),
        ("utterances", UTTERANCE_COLUMNS),
    ]:
        assert tables[table], table
        assert all(list(r) == [c for c, _ in columns] for r in tables[table]), table
    docs = Path("docs/exports.md").read_text()
    for column in ("user_id", "conversation_id", "utterance_id", "guidance", "profile_version"):
        assert f"`{column}`" in docs

    users = {r["user_id"] for r in tables["survey"]}
    assert users == {pid(prism_study, alice), pid(prism_study, bob)}
    by_conversation = {r["conversation_id"]: r for r in tables["conversations"]}
    assert len(by_conversation) == 6  # 3 conversations x 2 participants
    for c in tables["conversations"]:
        assert c["user_id"] in users
    for u in tables["utterances"]:
        c = by_conversation[u["conversation_id"]]
        assert u["user_id"] == c["user_id"]
        assert u["conversation_type"] == c["conversation_type"]
        assert u["judgment_id"] in c["judgment_ids"]
    for cid, c in by_conversation.items():
        models = [h for h in c["conversation_history"] if h["role"] == "model"]
        utterances = [u for u in tables["utterances"] if u["conversation_id"] == cid]
        assert sorted(m["content"] for m in models) == sorted(
            u["model_response"] for u in utterances
        )
        assert sum(u["if_chosen"] for u in utterances) == 1

    # The survey is filled from the PRISM survey's answers, under PRISM's names.
    alice_row = next(r for r in tables["survey"] if r["user_id"] == pid(prism_study, alice))
    assert alice_row["age"] == "25-34 years old"
    assert alice_row["consent"] == "Yes"
    assert alice_row["location"]["reside_countryISO"] == "GB"
    assert alice_row["stated_prefs"]["values"] == 80
    assert alice_row["self_description"] == "I like <b>hiking</b>."
    assert alice_row["consent_version"] == "1"
    # Conversation types and the guidance shown with them.
    kinds = {(c["conversation_type"], c["guidance"]) for c in tables["conversations"]}
    assert ("controversy guided", "Talk about something people disagree on.") in kinds
    assert any(k == "values guided" and "your values" in g for k, g in kinds)


def _second_study(make_campaign, people):
    """Another PRISM-style study the same people join, consent to and answer afterwards."""
    campaign = make_campaign(members=people, task_kind="rating", settings=PRISM_SETTINGS, overlap=1)
    assert prompts_import(campaign=campaign, content=prism_lines()).ok
    studies.consent_text_set(campaign=campaign, text="Another consent.")
    studies.consent_text_set(campaign=campaign, text="Another consent, version 2.")
    campaign.survey = {"questions": QUESTIONS}
    campaign.save(update_fields=["survey"])
    return campaign


def test_the_survey_row_is_the_profile_in_force_for_this_study_never_a_later_studys(
    prism_study, make_campaign, alice, bob
):
    """alice rated here, bob only answered the survey; both then answer a second study, with
    other answers: this study's export does not change."""
    judge_one(prism_study, alice)
    before = {r["user_id"]: r for r in export_rows(campaign=prism_study, fmt="prism",
                                                   table="survey")}  # fmt: skip
    second = _second_study(make_campaign, [alice, bob])
    for user in (alice, bob):
        participant = studies.participant_join(campaign=second, user=user)
        studies.consent_give(participant=participant, version=2)
        survey(participant, {**SURVEY, "age": "65+ years old", "self_description": "Changed."})
    judge_one(second, alice)

    after = {r["user_id"]: r for r in export_rows(campaign=prism_study, fmt="prism",
                                                  table="survey")}  # fmt: skip
    assert after == before
    for user in (alice, bob):
        row = after[pid(prism_study, user)]
        assert row["age"] != "65+ years old" and row["self_description"] != "Changed."
        assert (row["profile_version"], row["consent_version"]) == (1, "1")
    there = {r["user_id"]: r for r in export_rows(campaign=second, fmt="prism", table="survey")}
    for user in (alice, bob):
        row = there[pid(second, user)]
        assert (row["age"], row["self_description"]) == ("65+ years old", "Changed.")
        assert (row["profile_version"], row["consent_version"]) == (2, "2")
