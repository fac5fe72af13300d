"""Values no request may turn into a 500: lone surrogates, deep nesting, huge and non-ASCII
numbers, oversized CSV fields and model names; and text that only looks written (zero-width
characters) or a username that only looks new (a confusable of another).

Each is refused where it comes in, by the one boundary (webapp/untrusted.py): the API answers
400 in its error shape naming the field, a page 422 naming it, a prompt file names the line,
the CLI says what is wrong; nothing is stored.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import (
    Campaign,
    Conversation,
    Judgment,
    JudgmentReview,
    Study,
    User,
)
from annotation.services import prompts_import
from exports.models import ExportJob
from generation.models import LanguageModel
from tests.conftest import api_client_for
from webapp import untrusted

SURROGATE = "\ud800"


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _at(template: str, fragment: str) -> str:
    """JSON text with a raw fragment where the template has @."""
    return template.replace("@", fragment)


def _lease(client, campaign) -> dict:
    response = client.get(f"/api/v1/campaigns/{campaign.id}/next/")
    assert response.status_code == 200
    return response.json()


def _submit_raw(client, body: dict, raw: str):
    return client.generic(
        "POST",
        f"/api/v1/assignments/{body['assignment']['id']}/judgment/",
        raw,
        content_type="application/json",
    )


def _assert_error_shape(response, *, status: int = 400, field: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert {"detail", "code", "field"} <= set(body)
    if field is not None:
        assert body["field"] == field, body
    return body


# --- the boundary itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "code"),
    [
        ('{"reason": "\\ud800"}', "reason", "invalid_text"),
        ('{"a": ["x", "\\udfff"]}', "a[1]", "invalid_text"),
        ('{"\\ud800": 1}', None, "invalid_text"),
        ('{"a": "\\u0000"}', "a", "nul_character"),
        ('{"n": ' + "9" * 5000 + "}", "n", "too_big"),
        ('{"n": 1e999}', "n", "too_big"),
        ('{"n": NaN}', "n", "too_big"),
        (_deep(600), None, "too_deep"),
        (_deep(100_000), None, "too_deep"),
        ('{"a": ' * 900 + "1" + "}" * 900, "a.a.a", "too_deep"),
        ("{", None, "parse_error"),
    ],
)
def test_json_parse_refuses_what_cannot_be_stored_naming_the_place(text, field, code):
    with pytest.raises(untrusted.Untrusted) as refused:
        untrusted.json_parse(text)
    assert refused.value.code == code
    if field is not None:
        assert (refused.value.field or "").startswith(field)


def test_json_parse_keeps_every_ordinary_value():
    text = '{"a": [1, -2, 3.5, "👩\u200d👩\u200d👧", null, true], "b": {"c": "\\ud83d\\ude00"}}'
    assert untrusted.json_parse(text) == json.loads(text)
    assert untrusted.json_parse(str(2**63)) == 2**63


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", 12), (" 7 ", 7), ("²", None), ("٣", None), ("9" * 5000, None), ("-1", None),
     ("1.0", None), ("", None), (None, None), ("0x10", None)],
)  # fmt: skip
def test_form_int_reads_ascii_digits_only(raw, expected):
    assert untrusted.form_int(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2.5", 2.5), ("1e3", 1000.0), ("nan", None), ("inf", None), ("1e999", None),
     ("²", None), ("1" * 40, None)],
)  # fmt: skip
def test_form_number_reads_finite_ascii_numbers_only(raw, expected):
    assert untrusted.form_number(raw) == expected


# --- the API: lone surrogates, deep nesting, huge numbers -----------------------------------


def test_a_lone_surrogate_in_a_reason_is_400_naming_the_field(campaign, alice):
    client = api_client_for(alice)
    body = _lease(client, campaign)
    raw = '{"payload": {"outcome": "tie", "reason": "\\ud800"}, "idempotency_key": "k"}'
    _assert_error_shape(_submit_raw(client, body, raw), field="payload.reason")
    assert Judgment.objects.count() == 0


def test_a_lone_surrogate_in_an_idempotency_key_or_a_payload_key_is_400(campaign, alice):
    client = api_client_for(alice)
    body = _lease(client, campaign)
    raw = '{"payload": {"outcome": "tie"}, "idempotency_key": "k\\udc00"}'
    _assert_error_shape(_submit_raw(client, body, raw), field="idempotency_key")
    raw = '{"payload": {"outcome": "tie", "\\ud800": 1}, "idempotency_key": "k"}'
    _assert_error_shape(_submit_raw(client, body, raw), field="payload")
    assert Judgment.objects.count() == 0
    assert _submit_raw(client, body, '{"payload": {"outcome": "tie"}, "idempotency_key": "k"}')


def test_a_payload_nested_600_deep_is_400(campaign, alice):
    client = api_client_for(alice)
    body = _lease(client, campaign)
    raw = _at('{"payload": {"outcome": "tie", "reason": @}, "idempotency_key": "k"}', _deep(600))
    response = _submit_raw(client, body, raw)
    assert _assert_error_shape(response)["code"] == "too_deep"
    assert Judgment.objects.count() == 0


def test_the_token_endpoint_refuses_100000_brackets_without_credentials(db):
    response = APIClient().generic(
        "POST", "/api/v1/auth/token/", "[" * 100_000, content_type="application/json"
    )
    assert _assert_error_shape(response)["code"] == "too_deep"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e999", "9" * 5000])
def test_numbers_json_cannot_store_are_400(campaign, alice, value):
    client = api_client_for(alice)
    body = _lease(client, campaign)
    raw = _at('{"payload": {"outcome": "tie"}, "idempotency_key": "k", "seconds_spent": @}', value)
    _assert_error_shape(_submit_raw(client, body, raw), field="seconds_spent")
    assert Judgment.objects.count() == 0


def test_export_job_options_with_a_lone_surrogate_are_400(campaign, carol):
    raw = json.dumps({"campaign": campaign.id, "format": "preference"})[:-1]
    raw += ', "options": {"table": "\\ud800", "license": "x"}}'
    response = api_client_for(carol).generic(
        "POST", "/api/v1/exports/", raw, content_type="application/json"
    )
    _assert_error_shape(response, field="options.table")
    assert ExportJob.objects.count() == 0


def test_export_options_from_python_are_checked_the_same(campaign):
    from exports.options import options_parse

    with pytest.raises(untrusted.Untrusted) as refused:
        options_parse({"license": "a\ud800"})
    assert refused.value.field == "license"


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000])
def test_an_export_jobs_campaign_filter_of_other_digits_matches_nothing(campaign, carol, value):
    ExportJob.objects.create(
        campaign=campaign, format="preference", container="jsonl", schema_version="1",
        requested_by=carol,
    )  # fmt: skip
    response = api_client_for(carol).get("/api/v1/exports/", {"campaign": value})
    assert response.status_code == 200
    assert response.json() == []


def test_a_review_correction_nested_900_deep_is_400(campaign, alice, carol):
    judgment = _reviewable(campaign, alice)
    raw = _at('{"decision": "corrected", "correction": {"outcome": @}}', _deep(900))
    response = api_client_for(carol).generic(
        "POST", f"/api/v1/judgments/{judgment.id}/review/", raw, content_type="application/json"
    )
    _assert_error_shape(response)
    assert not JudgmentReview.objects.exists()


def _reviewable(campaign: Campaign, alice: User) -> Judgment:
    from annotation.services import judgment_submit, task_lease_next

    Campaign.objects.filter(pk=campaign.pk).update(review_stage=True)
    campaign.refresh_from_db()
    assignment = task_lease_next(annotator=alice, campaign=campaign)
    assert assignment is not None
    judgment, _ = judgment_submit(
        assignment=assignment, annotator=alice, payload={"outcome": "tie"}, idempotency_key="r"
    )
    return judgment


# --- prompt files ---------------------------------------------------------------------------


def _import(carol, campaign, content: str | bytes, name: str = "p.jsonl"):
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    upload = SimpleUploadedFile(name, raw)
    return api_client_for(carol).post(
        f"/api/v1/campaigns/{campaign.id}/prompts/", {"file": upload}, format="multipart"
    )


def _bad_lines(response) -> list[tuple[int, str]]:
    assert response.status_code == 400, response.content[:500]
    return [(e["line"], e["message"]) for e in response.json()["lines"] if e["status"] == "error"]


GOOD = json.dumps({"id": "ok", "prompt": "Fine?", "responses": ["a", "b"]})


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"id": "x", "prompt": "\\ud800", "responses": ["a", "b"]}', "surrogate"),
        ('{"id": "x", "prompt": "p", "metadata": {"\\ud800": 1}}', "surrogate"),
        ('{"id": "x", "prompt": "p", "responses": [{"text": "a", "model": "\\udfff"}]}', "surrog"),
        (_at('{"id": "x", "prompt": "p", "metadata": {"m": @}}', _deep(900)), "levels deep"),
        (_at('{"id": "x", "prompt": "p", "metadata": {"n": @}}', ("9" * 5000)), "digits"),
        ('{"id": "x", "prompt": "p", "metadata": {"n": NaN}}', "NaN"),
    ],
)
def test_a_prompt_line_that_cannot_be_stored_is_named_and_nothing_imported(
    make_campaign, carol, line, says
):
    campaign = make_campaign()
    [(number, message)] = _bad_lines(_import(carol, campaign, f"{GOOD}\n{line}\n"))
    assert number == 2 and says in message
    assert Conversation.objects.filter(campaign=campaign).count() == 0


def test_a_csv_field_past_the_csv_limit_names_its_line(make_campaign, carol):
    campaign = make_campaign()
    content = "id,prompt,response_a,response_b\n1,fine,a,b\n2," + "x" * 140_000 + ",a,b\n"
    [(number, message)] = _bad_lines(_import(carol, campaign, content, "p.csv"))
    assert number == 3 and "longer than" in message
    assert Conversation.objects.filter(campaign=campaign).count() == 0


def test_a_csv_header_past_the_csv_limit_is_an_error_on_line_1(make_campaign, carol):
    campaign = make_campaign()
    content = "prompt," + "x" * 140_000 + "\n1,a\n"
    [(number, message)] = _bad_lines(_import(carol, campaign, content, "p.csv"))
    assert number == 1 and "longer than" in message


def test_a_model_name_longer_than_its_column_is_a_line_error(make_campaign, carol):
    campaign = make_campaign()
    line = json.dumps({"id": "x", "prompt": "p", "responses": [{"text": "a", "model": "m" * 201}]})
    [(number, message)] = _bad_lines(_import(carol, campaign, f"{GOOD}\n{line}\n"))
    assert number == 2 and "200 characters" in message
    assert not LanguageModel.objects.filter(name__startswith="mmm").exists()


def test_the_cli_names_bad_lines_and_unknown_campaigns(make_campaign, tmp_path):
    campaign = make_campaign()
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "x", "prompt": "\\ud800"}\n')
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_prompts", campaign.slug, str(path), stderr=err)
    assert "line 1" in err.getvalue() and "surrogate" in err.getvalue()
    for command in ("import_prompts", "export"):
        args = [str(path)] if command == "import_prompts" else []
        with pytest.raises(CommandError, match="No campaign"):
            call_command(command, "²", *args)


# --- pages: form fields, JSON typed in a form -----------------------------------------------


def _task_page(client, user, campaign):
    client.force_login(user)
    page = client.get(f"/campaigns/{campaign.id}/")
    assert page.status_code == 200
    return page.context["assignment"]


@pytest.mark.parametrize("choice", ["9" * 5000, "²"])
def test_a_pairwise_choice_of_5000_digits_is_422(client, alice, campaign, choice):
    assignment = _task_page(client, alice, campaign)
    response = client.post(
        f"/assignments/{assignment.id}/submit/", {"choice": choice, "idempotency_key": "k"}
    )
    assert response.status_code == 422
    assert Judgment.objects.count() == 0


def test_a_rank_of_5000_digits_is_422(client, alice, make_campaign):
    c = make_campaign(members=[alice], task_kind="ranking")
    line = {"id": "r", "prompt": "p", "responses": ["a", "b", "c"]}
    assert prompts_import(campaign=c, content=json.dumps(line)).ok
    assignment = _task_page(client, alice, c)
    form = {f"rank-{m}": "9" * 5000 for m in assignment.display_order}
    response = client.post(
        f"/assignments/{assignment.id}/submit/", {**form, "idempotency_key": "k"}
    )
    assert response.status_code == 422
    assert Judgment.objects.count() == 0


def test_a_span_start_of_5000_digits_is_422(client, alice, make_campaign):
    c = make_campaign(members=[alice], task_kind="critique")
    assert prompts_import(campaign=c, content=json.dumps({"prompt": "p", "responses": ["a"]})).ok
    assignment = _task_page(client, alice, c)
    response = client.post(
        f"/assignments/{assignment.id}/submit/",
        {
            "text": "A critique long enough to pass.",
            "span_start": "9" * 5000,
            "span_end": "9" * 5001,
            "span_note": "n",
            "idempotency_key": "k",
        },
    )
    assert response.status_code == 422
    assert Judgment.objects.count() == 0


def test_a_review_correction_with_a_surrogate_or_900_deep_is_422(client, campaign, alice, carol):
    judgment = _reviewable(campaign, alice)
    client.force_login(carol)
    url = reverse("review_submit", args=[campaign.id, judgment.id])
    for correction in ('{"outcome": "\\ud800"}', _at('{"outcome": @}', _deep(900))):
        response = client.post(url, {"decision": "corrected", "correction": correction})
        assert response.status_code == 422
        assert "correction" in response.content.decode()
    assert not JudgmentReview.objects.exists()


STUDY_FORM = {"participant_param": "PID", "study_param": "S", "session_param": "X",
              "tasks_per_participant": "10", "completion_code": "", "completion_url": "",
              "consent": "", "quotas": "", "eligibility": "", "qualification": "",
              "guidance": ""}  # fmt: skip


@pytest.mark.parametrize("field", ["quotas", "eligibility", "qualification", "guidance"])
@pytest.mark.parametrize("value", [_at('{"items": @}', _deep(900)), '{"\\ud800": ["x"]}'])
def test_study_settings_json_that_cannot_be_stored_is_422_naming_the_field(
    client, carol, make_campaign, field, value
):
    campaign = make_campaign()
    client.force_login(carol)
    response = client.post(
        reverse("dashboard:study_settings", args=[campaign.id]), {**STUDY_FORM, field: value}
    )
    assert response.status_code == 422
    assert response.context["form"].errors.get(field)
    assert not Study.objects.filter(campaign=campaign).exists()


@pytest.mark.parametrize(
    "value", ['{"question": "\\ud800"}', _at('{"question": @}', _deep(900)), _deep(900)]
)
def test_task_settings_json_that_cannot_be_stored_is_422(client, carol, make_campaign, value):
    campaign = make_campaign()
    client.force_login(carol)
    response = client.post(
        reverse("dashboard:setup_task", args=[campaign.id]),
        {"task_kind": "pairwise", "settings": value, "overlap": "1", "lease_minutes": "10",
         "routing": "fewest_judgments", "repeat_percent": "0"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "settings" in response.context["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lease_minutes", "1e999"),
        ("lease_minutes", "nan"),
        ("overlap", "²"),
        ("overlap", "9" * 5000),
    ],
)
def test_setup_numbers_that_are_not_numbers_are_422_naming_the_field(
    client, carol, make_campaign, field, value
):
    campaign = make_campaign()
    client.force_login(carol)
    form = {"task_kind": "pairwise", "settings": "{}", "overlap": "1", "lease_minutes": "10",
            "routing": "fewest_judgments", "repeat_percent": "0", field: value}  # fmt: skip
    response = client.post(reverse("dashboard:setup_task", args=[campaign.id]), form)
    assert response.status_code == 422
    assert field in response.context["errors"]


def test_setup_ids_of_other_digits_are_refused_not_crashed_on(client, carol, make_campaign):
    campaign = make_campaign()
    client.force_login(carol)
    models = client.post(
        reverse("dashboard:setup_models", args=[campaign.id]),
        {"responses_per_prompt": "2", "language_models": ["²"]},
    )
    assert models.status_code in (302, 422)
    people = client.post(
        reverse("dashboard:setup_people", args=[campaign.id]),
        {"membership": "²", "role": "admin"},
    )
    assert people.status_code in (404, 422)
    assert campaign.language_models.count() == 0


def test_a_qualification_item_of_other_digits_is_no_item(client, world):
    """alice takes part in the security world's study S (her tasks open, so its qualification
    page takes her answers)."""
    client.force_login(world.users["annotator"])
    for item in ("²", "9" * 5000):
        response = client.post(
            reverse("study_qualification", args=[world.study.slug]), {"item": item, "choice": "0"}
        )
        assert response.status_code in (200, 302)


def test_a_login_with_a_5000_character_username_is_refused_not_crashed_on(client, alice):
    """Django's login form does not hold a username to its max_length before authenticating;
    django-axes then records the failure in a 255-character column (a 500 on PostgreSQL)."""
    from axes.models import AccessAttempt

    response = client.post(reverse("login"), {"username": "9" * 5000, "password": "x"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert all(len(a.username or "") <= 255 for a in AccessAttempt.objects.all())
    # The lockout still counts by the (shortened) name: the same name again is one more.
    client.post(reverse("login"), {"username": "9" * 5000, "password": "x"})
    assert AccessAttempt.objects.get().failures_since_start == 2


# --- input hygiene --------------------------------------------------------------------------

INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"


@pytest.mark.parametrize("kind", ["reply", "rewrite", "critique"])
def test_a_text_of_only_zero_width_characters_is_empty(kind):
    from annotation.errors import RuleError
    from annotation.kinds import kind_for

    k = kind_for(kind)
    settings = k.settings({"min_chars": 1} if kind in ("reply", "critique") else {})
    ids = [] if kind == "reply" else [1]
    with pytest.raises(RuleError) as refused:
        k.validate({"text": INVISIBLE * 10}, settings=settings, candidate_ids=ids)
    assert refused.value.field == "payload.text"
    # Real text with a zero-width joiner in it (an emoji family) is kept as written.
    kept = k.validate({"text": "👩\u200d👩\u200d👧 ok"}, settings=settings, candidate_ids=ids)
    assert kept["text"] == "👩\u200d👩\u200d👧 ok"


def test_a_reply_of_zero_width_characters_is_refused_by_the_api(make_campaign, alice, carol):
    c = make_campaign(members=[alice], task_kind="reply")
    assert prompts_import(campaign=c, content=json.dumps({"prompt": "Hi?"})).ok
    client = api_client_for(alice)
    body = _lease(client, c)
    response = client.post(
        f"/api/v1/assignments/{body['assignment']['id']}/judgment/",
        {"payload": {"text": INVISIBLE}, "idempotency_key": "k"},
        format="json",
    )
    _assert_error_shape(response, field="payload.text")
    assert Judgment.objects.count() == 0


@pytest.mark.parametrize(
    "lookalike",
    ["\u0430lice", "ALICE", "\u0391lice", "al\u0456ce", "\uff41lice", "alic\u0435", "a1ice"],
)
def test_a_signup_username_that_looks_like_another_is_refused(db, lookalike):
    from annotation.forms import SignupForm

    User.objects.create_user(username="alice", password="pw")
    form = SignupForm(
        data={"username": lookalike, "password1": "pw-Long-123", "password2": "pw-Long-123"}
    )
    assert not form.is_valid()
    assert "username" in form.errors
    assert User.objects.count() == 1


def test_a_signup_username_unlike_any_other_is_taken(db):
    from annotation.forms import SignupForm

    User.objects.create_user(username="alice", password="pw")
    form = SignupForm(
        data={"username": "alicia", "password1": "pw-Long-123", "password2": "pw-Long-123"}
    )
    assert form.is_valid(), form.errors


def test_a_form_body_past_the_limit_is_a_json_413_on_the_api(client, settings):
    """A url-encoded body past DATA_UPLOAD_MAX_MEMORY_SIZE is read by the request guard
    before any view: the API still answers in its own JSON shape (413), not Django's page."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post(
        "/api/v1/campaigns/",
        data="name=" + "x" * 4096,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
