"""What a study puts in the exports: profile versions, withdrawal, PRISM's three tables."""

import json
from pathlib import Path

import pytest
from django.urls import reverse

from annotation import survey as survey_vocabulary
from annotation.forms import SurveyForm
from annotation.models import Study
from annotation.services import judgment_submit, prompts_import, studies, task_lease_next
from exports.formats import FORMATS, prism
from exports.formats.prism import CONVERSATION_COLUMNS, SURVEY_COLUMNS, UTTERANCE_COLUMNS
from exports.services import export_rows, export_write
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
    # PRISM's codebook values (issue 21 changed them from "Yes" and "GB").
    assert alice_row["consent"] == "Yes, I consent to take part"
    assert alice_row["location"]["reside_countryISO"] == "GBR"
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


# PRISM's codebook values of the survey's closed questions (HannahKirk/prism-alignment @
# a9ec821, notebooks/pre-release processing/04_codebooks.ipynb, as
# /work/shared/reference/export_schemas.md section 1.1 quotes them).
CODEBOOK = {
    "consent": {"Yes, I consent to take part"},
    "consent_age": {"I certify that I am 18 years of age or over"},
    "lm_familiarity": {"Not familiar at all", "Somewhat familiar", "Very familiar"},
    "lm_frequency_use": {"Every day", "Every week", "More than once a month", "Once per month",
                         "Less than one a year"},
    "age": {"18-24 years old", "25-34 years old", "35-44 years old", "45-54 years old",
            "55-64 years old", "65+ years old", "Prefer not to say"},
    "gender": {"Male", "Female", "Non-binary / third gender", "Prefer not to say"},
    "employment_status": {"Working full-time", "Working part-time", "Student",
                          "Unemployed, seeking work", "Retired",
                          "Homemaker / Stay-at-home parent", "Unemployed, not seeking work",
                          "Prefer not to say"},
    "education": {"University Bachelors Degree", "Graduate / Professional degree",
                  "Some University but no degree", "Completed Secondary School", "Vocational",
                  "Some Secondary", "Completed Primary School", "Some Primary",
                  "Prefer not to say"},
    "marital_status": {"Never been married", "Married", "Divorced / Separated", "Widowed",
                       "Prefer not to say"},
    "english_proficiency": {"Native speaker", "Fluent", "Advanced", "Intermediate", "Basic"},
}  # fmt: skip
MORE_QUESTIONS = [*QUESTIONS, "employment_status", "lm_frequency_use", "birth_country"]


def test_the_survey_has_prisms_codebook_values_or_its_card_names_the_difference(
    prism_study, alice, bob, tmp_path
):
    prism_study.survey = {"questions": MORE_QUESTIONS}
    prism_study.save(update_fields=["survey"])
    participant = studies.participant_join(campaign=prism_study, user=alice)
    form = SurveyForm(
        {**SURVEY, "employment_status": "Homemaker / Full-time parent",
         "lm_frequency_use": "Every week", "birth_country": "Kenya"},
        questions=MORE_QUESTIONS, initial_answers={},
    )  # fmt: skip
    assert form.is_valid(), form.errors
    studies.survey_submit(participant=participant, answers=form.answers({}))

    rows = {r["user_id"]: r for r in export_rows(campaign=prism_study, fmt="prism",
                                                 table="survey")}  # fmt: skip
    me = rows[pid(prism_study, alice)]
    assert me["consent"] == "Yes, I consent to take part"
    assert me["employment_status"] == "Homemaker / Stay-at-home parent"
    assert me["lm_frequency_use"] == "Every week"
    assert (me["location"]["reside_countryISO"], me["location"]["birth_countryISO"]) == (
        "GBR", "KEN"
    )  # fmt: skip
    assert isinstance(me["timing_duration_s"], float) and me["timing_duration_s"] >= 0
    assert me["timing_duration_mins"] == round(me["timing_duration_s"] / 60, 2)

    export_write(campaign=prism_study, fmt="prism", container="hf", path=tmp_path / "hf")
    card = (tmp_path / "hf" / "README.md").read_text()
    differences = card.split("## Differences from the published dataset")[1].split("\n## ")[0]
    # Every answer the survey can give is PRISM's, or its column is named as differing.
    for column, values in CODEBOOK.items():
        question = survey_vocabulary.QUESTIONS.get(column)
        for value in question.choices if question else ("Yes",) * (column == "consent"):
            published = prism.answer_as_published(column, value)
            assert published in values or f"`{column}`" in differences, (column, value)
    for column in ("consent_age", "lm_indirect_use", "lm_direct_use", "study_locale",
                   "included_in_US_REP", "score"):  # fmt: skip
        assert f"`{column}`" in differences
