"""Campaigns as code: a spec made from a campaign makes the same campaign again, in a database
that has none of its rows; bad specs are refused naming the path, and change nothing."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from annotation.campaign_spec import spec_parse, spec_yaml
from annotation.errors import Conflict, Forbidden, RuleError
from annotation.models import Campaign, Membership, Study, User
from annotation.selectors.campaign_spec import campaign_spec_of
from annotation.services import studies
from annotation.services.campaign_spec import campaign_spec_apply
from generation.models import GenerationRequest, LanguageModel
from tests.exports.kinds import KINDS, campaign_build, cast

STUDY_SETTINGS: dict[str, Any] = {
    "consent_text": "We publish your ratings under a pseudonym.\n\nYou may withdraw.",
    "questions": ["gender", "age", "reside_country"],
    "quotas": {
        "steer": True,
        "dimensions": [
            {
                "question": "age",
                "unit": "share",
                "participants": 10,
                "targets": {"18-24 years old": 0.5, "25-34 years old": 0.5},
            }
        ],
    },
    "eligibility": {"gender": ["Female", "Male"]},
    "qualification": {
        "instructions": "Two practice items.",
        "pass_mark": 0.5,
        "items": [
            {"question": "Which is kinder?", "options": ["A", "B"], "answer": 1},
            {"question": "Which is true?", "options": ["A", "B", "C"], "answer": 0},
        ],
    },
    "guidance": {},
    "signup_open": True,
    "tasks_per_participant": 4,
    "completion_code": "C0DE",
    "completion_url": "https://app.prolific.com/submissions/complete?cc=C0DE",
}


def _fresh_install() -> None:
    """What a new install has of campaigns and models: nothing (people stay: carol applies)."""
    GenerationRequest.objects.all().delete()
    Campaign.objects.all().delete()
    LanguageModel.objects.all().delete()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_a_downloaded_spec_applied_to_a_fresh_install_makes_the_same_campaign(kind):
    people = cast()
    campaign = campaign_build(kind, people)
    if kind == "study":
        studies.study_configure(campaign=campaign, **STUDY_SETTINGS)
    if kind == "pairwise":
        model = LanguageModel.objects.create(
            name="HuggingFaceTB/SmolLM2-135M-Instruct",
            backend="transformers",
            settings={"threads": 2},
            sampling_params={"temperature": 0.5, "max_new_tokens": 16},
        )
        campaign.language_models.add(model)
        campaign.instructions = "Pick the better one.\n\n- be fair\n- be quick"
        campaign.generation_buffer = 5
        campaign.save()
    first = campaign_spec_of(campaign=campaign)
    text = spec_yaml(first)
    _fresh_install()

    applied = campaign_spec_apply(spec=text, user=people["carol"])

    assert applied.created
    again = campaign_spec_of(campaign=applied.campaign)
    assert again == first
    assert spec_yaml(again) == text
    assert applied.campaign.state == Campaign.State.DRAFT
    assert Membership.objects.get(campaign=applied.campaign, user=people["carol"]).role == "admin"
    if kind == "study":
        assert again["study"]["quotas"] == STUDY_SETTINGS["quotas"]
        assert again["study"]["survey"] == ["age", "gender", "reside_country"]
    if kind == "tree":
        assert again["tree"] and again["task_kind"] == "reply"
    if kind == "pairwise":
        assert again["models"][0]["sampling"] == {"temperature": 0.5, "max_new_tokens": 16}


@pytest.mark.django_db
def test_a_spec_in_json_applies_like_its_yaml(carol):
    spec = {"name": "Thumbs", "slug": "thumbs", "task_kind": "binary", "overlap": 2}
    by_json = campaign_spec_apply(spec=json.dumps(spec), user=carol).campaign
    made = campaign_spec_of(campaign=by_json)
    assert made["settings"] == {
        "question": "Is this response good?",
        "allow_positive": True,
        "reason": "optional",
    }
    assert spec_parse(spec_yaml(made)).model_dump() == spec_parse(json.dumps(made)).model_dump()


@pytest.mark.django_db
def test_applying_again_updates_the_campaign_with_the_slug(carol):
    spec = {
        "name": "Rate it",
        "slug": "rate-it",
        "task_kind": "rating",
        "settings": {"attributes": [{"name": "helpfulness"}]},
    }
    first = campaign_spec_apply(spec=spec, user=carol)
    changed = {**spec, "overlap": 5, "instructions": "Read twice."}

    second = campaign_spec_apply(spec=changed, user=carol)

    assert not second.created and second.campaign.id == first.campaign.id
    assert second.campaign.overlap == 5
    assert second.campaign.instructions_version == 2
    assert Campaign.objects.count() == 1
    # Absent keys take their defaults again.
    third = campaign_spec_apply(spec=spec, user=carol).campaign
    assert third.overlap == Campaign._meta.get_field("overlap").get_default()


BAD: list[tuple[dict[str, Any], str, str]] = [
    (
        {"settings": {"attributes": [{"name": "a"}, {"name": "b"}, {"name": "c", "scale": 3}]}},
        "settings.attributes[2].scale",
        "settings.attributes[2].scale: scale must be an object.",
    ),
    (
        {"settings": {"attributes": [{"name": "a", "scale": {"type": "likert", "points": ["1"]}}]}},
        "settings.attributes[0].scale.points",
        "at least two labelled points",
    ),
    ({"overlap": 0}, "overlap", "overlap: overlap must be a whole number from 1 to 50."),
    ({"overlap": "3"}, "overlap", "overlap: input should be a valid integer."),
    ({"overlap": 2.0}, "overlap", "valid integer"),
    ({"colour": "red"}, "colour", "colour: unknown key."),
    ({"task_kind": "arena"}, "task_kind", "There is no task kind 'arena'."),
    ({"routing": "random"}, "routing", "routing must be one of"),
    ({"lease_seconds": 5}, "lease_seconds", "from 30 to 86400"),
    ({"repeat_share": 0.9}, "repeat_share", "repeat_share"),
    ({"generation_buffer": -1}, "generation_buffer", "from 0 to 10000"),
    (
        {"task_kind": "binary", "settings": {}, "live_first_replies": 2},
        "live_first_replies",
        "Live chat replies are rated",
    ),
    ({"media_kinds": ["smell"]}, "media_kinds", "no media kind 'smell'"),
    ({"tree": {"max_depth": 0}}, "task_kind", "a tree campaign's task kind is reply"),
    (
        {"task_kind": "reply", "settings": {}, "tree": {"max_depth": 0}},
        "tree.max_depth",
        "from 1 to 50",
    ),
    ({"slug": "Not A Slug"}, "slug", "lowercase letters"),
    ({"slug": "a" * 71}, "slug", "at most 70 characters"),
    ({"models": [{"name": "m", "backend": "magic"}]}, "models[0].backend", "backend must be"),
    (
        {"models": [{"name": "m", "settings": {"api_key": "sk-1"}}]},
        "models[0].settings.api_key",
        "environment variable",
    ),
    (
        {"models": [{"name": "m", "sampling": {"temperature": -1}}]},
        "models[0].sampling",
        "temperature must be >= 0",
    ),
    (
        {"models": [{"name": "m", "sampling": {"heat": 1}}]},
        "models[0].sampling",
        "unknown sampling parameters: heat.",
    ),
    ({"models": [{"name": "m"}, {"name": "m"}]}, "models[1].name", "appears twice"),
    ({"models": [{"name": ""}]}, "models[0].name", "at least 1 character"),
    ({"study": {"survey": ["age", "shoe_size"]}}, "study.survey", "shoe_size"),
    ({"study": {"survey": ["age", 3]}}, "study.survey[1]", "valid string"),
    (
        {"study": {"quotas": {"dimensions": [{"question": "age", "unit": "percent"}]}}},
        "study.quotas",
        "unit is",
    ),
    (
        {"study": {"quotas": {"dimensions": [{"question": "age", "targets": {"x": 1}}]}}},
        "study.quotas",
        "needs that question in the survey",
    ),
    (
        {"study": {"eligibility": {"nickname": ["x"]}}},
        "study.eligibility.nickname",
        "not a question with fixed answers",
    ),
    (
        {
            "study": {
                "qualification": {"items": [{"question": "Q", "options": ["a", "b"], "answer": 2}]}
            }
        },
        "study.qualification.items[0].answer",
        "index of the right option",
    ),
    ({"study": {"qualification": {"pass_mark": 2}}}, "study.qualification.pass_mark", "share"),
    ({"study": {"completion_url": "javascript:alert(1)"}}, "study.completion_url", "web address"),
    ({"study": {"participant_param": "P" * 41}}, "study.participant_param", "longer than 40"),
    ({"study": {"guidance": {"chit_chat": "x"}}}, "study.guidance.chit_chat", "conversation type"),
    ({"study": {"referrer": "x"}}, "study.referrer", "study.referrer: unknown key."),
    ({"version": 2}, "version", "version: input should be 1."),
    ({"name": " "}, "name", "name: Please give the campaign a name."),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "path", "message"), BAD)
def test_a_bad_spec_is_refused_naming_its_path_and_nothing_is_made(carol, change, path, message):
    spec = {
        "name": "Rate it",
        "slug": "rate-it",
        "task_kind": "rating",
        "settings": {"attributes": [{"name": "helpfulness"}]},
        **change,
    }

    with pytest.raises(RuleError) as refused:
        campaign_spec_apply(spec=spec, user=carol)

    assert refused.value.field == path
    assert message in refused.value.message
    assert refused.value.message.startswith(f"{path}:") or path in ("task_kind", "name")
    assert not Campaign.objects.exists()
    assert not LanguageModel.objects.exists()


@pytest.mark.django_db
def test_a_refused_update_changes_nothing(carol):
    """The study part fails after the campaign's fields were written: all of it rolls back."""
    spec = {
        "name": "Study",
        "slug": "study",
        "task_kind": "binary",
        "overlap": 2,
        "models": [{"name": "new-model"}],
        "study": {"survey": ["age"]},
    }
    campaign = campaign_spec_apply(spec=spec, user=carol).campaign
    before = campaign_spec_of(campaign=campaign)
    bad = copy.deepcopy(spec)
    bad.update(overlap=4, instructions="New", models=[{"name": "other-model"}])
    bad["study"]["quotas"] = {"dimensions": [{"question": "gender", "targets": {"Male": 1}}]}

    with pytest.raises(RuleError, match=r"study\.quotas"):
        campaign_spec_apply(spec=bad, user=carol)

    campaign.refresh_from_db()
    assert campaign_spec_of(campaign=campaign) == before
    assert campaign.instructions_version == 1
    assert not LanguageModel.objects.filter(name="other-model").exists()


@pytest.mark.django_db
def test_only_the_campaigns_admins_may_apply_a_spec_to_it(carol, mallory):
    campaign_spec_apply(spec={"name": "Mine", "slug": "mine"}, user=carol)
    with pytest.raises(Forbidden):
        campaign_spec_apply(spec={"name": "Yours now", "slug": "mine"}, user=mallory)
    assert Campaign.objects.get(slug="mine").name == "Mine"


@pytest.mark.django_db
def test_a_spec_cannot_take_a_study_away_or_rename_a_slug(carol):
    spec = {"name": "S", "slug": "s", "study": {"consent_text": "Agree?"}}
    campaign = campaign_spec_apply(spec=spec, user=carol).campaign
    with pytest.raises(Conflict, match="study"):
        campaign_spec_apply(spec={"name": "S", "slug": "s"}, user=carol)
    with pytest.raises(Conflict, match="slug"):
        campaign_spec_apply(spec={"name": "S", "slug": "t"}, user=carol, campaign=campaign)
    assert Study.objects.filter(campaign=campaign).exists()


@pytest.mark.django_db
def test_a_model_other_campaigns_use_is_not_changed_by_a_spec(carol, make_campaign):
    model = LanguageModel.objects.create(name="shared", backend="transformers")
    make_campaign().language_models.add(model)
    spec = {"name": "A", "slug": "a", "models": [{"name": "shared", "sampling": {"top_p": 0.5}}]}
    with pytest.raises(Conflict, match="other campaigns use it"):
        campaign_spec_apply(spec=spec, user=carol)
    model.refresh_from_db()
    assert model.sampling_params == {}
    # The same model as registered is simply chosen.
    spec["models"] = [{"name": "shared"}]
    made = campaign_spec_apply(spec=spec, user=carol).campaign
    assert list(made.language_models.all()) == [model]


@pytest.mark.django_db
def test_the_kind_cannot_change_once_prompts_are_in(carol):
    campaign = campaign_build("binary", cast())
    spec = campaign_spec_of(campaign=campaign)
    with pytest.raises(Conflict) as refused:
        campaign_spec_apply(spec={**spec, "task_kind": "label", "settings": {}}, user=None)
    assert refused.value.field == "task_kind"
    assert refused.value.message.startswith("task_kind: ")


YAML_BAD = [
    ("name: a\nslug: &x b\ndescription: *x\n", "aliases"),
    ("name: [unclosed\n", "Not valid YAML"),
    ("name: a\n1: x\n", "must be text"),
    ("name: a\ndescription: [2024-01-01]\n", "description: input should be a valid string"),
    ("name: a\ndescription: !!binary aGk=\n", "bytes is not a value"),
    ("name: a\nsettings: !!set {x}\n", "set is not a value"),
    ("name: a\noverlap: .inf\n", "finite"),
    ("name: a\noverlap: " + "9" * 5000 + "\n", "more than 20 digits"),
    ("name: a\noverlap: 0x" + "f" * 5000 + "\n", "more than 20 digits"),
    ('name: a\ndescription: "\\0"\n', "NUL"),
    ("- just\n- a list\n", "mapping of keys"),
    ("name: !!python/object:os.system x\n", "Not valid YAML"),
    ('{"name": "a", "overlap": 1e999}', "too large"),
    ("x: " + "[" * 5000 + "]" * 5000, "nested"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "message"), YAML_BAD)
def test_a_spec_text_that_cannot_be_trusted_is_refused_clearly(carol, text, message):
    with pytest.raises(RuleError, match=message):
        campaign_spec_apply(spec=text, user=carol)
    assert not Campaign.objects.exists()


def test_a_date_in_yaml_stays_the_text_it_was_written_as():
    assert spec_parse("name: 2024-01-01\n").name == "2024-01-01"


def test_a_spec_document_is_readable_yaml():
    spec = {"name": "A", "instructions": "Line one.\nLine two.\n", "settings": {}}
    text = spec_yaml(spec)
    assert "instructions: |\n  Line one.\n  Line two.\n" in text
    assert yaml.safe_load(text) == spec


@pytest.mark.django_db
def test_a_new_campaign_needs_its_admin(db):
    with pytest.raises(RuleError, match="--user"):
        campaign_spec_apply(spec={"name": "Nobody's"}, user=None)
    assert not User.objects.exists()


def _doc_blocks() -> list[str]:
    text = (Path(__file__).parents[2] / "docs" / "campaign-spec.md").read_text()
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


@pytest.mark.django_db
def test_the_documented_full_example_makes_a_campaign_that_writes_it_back(carol):
    full, smallest = _doc_blocks()

    made = campaign_spec_apply(spec=full, user=carol).campaign

    assert spec_yaml(campaign_spec_of(campaign=made)) == full
    assert campaign_spec_apply(spec=smallest, user=carol).campaign.task_kind == "pairwise"
