"""Who may do what: every URL of the project against every role, with the answer explicit.

The table has one row per URL pattern (and method); `test_every_url_has_a_row` enumerates
the resolver, so a URL added without a row here fails. The Django admin's own URLs are
generated per model and checked by one rule below (staff only, and a superuser here).

Roles: anonymous; `annotator` (alice, in campaign C); `other_annotator` (dave, only in D);
`admin` (carol, admin of C); `other_admin` (erin, admin of D only); `superuser` (root).
Objects named in URLs belong to campaign C: alice's assignment, alice's membership, an
export job of C, alice's judgment awaiting review (C has a review stage), an attachment on a
prompt of C, a failed generation request of C and a generated candidate. The live chat rows
use campaign L (alice's conversation there) and the study rows campaign S (alice has gone
through its consent and survey); both are carol's. Codes: 200/201/202/204 served, 302 sent
to log in (or onwards), 400 or 422 served but the (empty) input refused, 401 no credentials,
403 known but not allowed, 404 hidden, 409 not now (the state forbids it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from annotation.models import Campaign, JudgmentReview, Message
from annotation.services import api_token_create
from generation.models import GenerationRequest
from tests.security.conftest import ROLES, SECRET_MODELS, World


def _c(w: World) -> dict[str, Any]:
    return {"campaign_id": w.campaign.id}


def _a(w: World) -> dict[str, Any]:
    return {"assignment_id": w.assignment.id}


def _j(w: World) -> dict[str, Any]:
    return {"job_id": w.job.id}


def _none(w: World) -> dict[str, Any]:
    return {}


def _chat(w: World) -> dict[str, Any]:
    return {"campaign_id": w.live.id, "conversation_id": w.conversation.id}


def _study(w: World) -> dict[str, Any]:
    return {"slug": w.study.slug}


def _s(w: World) -> dict[str, Any]:
    return {"campaign_id": w.study.id}


@dataclass
class Row:
    name: str
    method: str
    expect: dict[str, int]  # role -> status
    kwargs: Callable[[World], dict[str, Any]] = _none
    data: Callable[[World], dict[str, Any]] | None = None
    query: str = ""
    api: bool = False  # authenticated with a token rather than a session


def _codes(anon: int, ann: int, other_ann: int, adm: int, other_adm: int, su: int) -> dict:
    return dict(zip(ROLES, (anon, ann, other_ann, adm, other_adm, su), strict=True))


# Pages behind login send the anonymous to the login page (302). Dashboard pages of a
# campaign: its admin and superusers get in; an annotator of it 403; everyone else 404.
ADMIN_PAGE = _codes(302, 403, 404, 200, 404, 200)
ADMIN_POST = _codes(302, 403, 404, 302, 404, 302)
ADMIN_JSON = _codes(302, 403, 404, 200, 404, 200)

TABLE: list[Row] = [
    Row("healthz", "GET", _codes(200, 200, 200, 200, 200, 200)),
    Row("readyz", "GET", _codes(200, 200, 200, 200, 200, 200)),
    Row("home", "GET", _codes(302, 200, 200, 200, 200, 200)),
    Row("campaign_task", "GET", _codes(302, 200, 404, 200, 404, 404), _c),
    # Someone else's assignment does not exist for them.
    Row(
        "assignment_submit",
        "POST",
        _codes(302, 302, 404, 404, 404, 404),
        _a,
        lambda w: {"choice": "tie", "idempotency_key": "k"},
    ),
    Row("assignment_skip", "POST", _codes(302, 302, 404, 404, 404, 404), _a),
    Row("dashboard:campaigns", "GET", _codes(302, 403, 403, 200, 200, 200)),
    Row("dashboard:campaign_new", "GET", _codes(302, 403, 403, 200, 200, 200)),
    Row(
        "dashboard:markdown_preview",
        "POST",
        _codes(302, 403, 403, 200, 200, 200),
        data=lambda w: {"text": "*hi*"},
    ),
    Row("dashboard:campaign_new_from_spec", "GET", _codes(302, 403, 403, 200, 200, 200)),
    Row("dashboard:campaign_spec", "GET", ADMIN_PAGE, _c),
    Row("dashboard:campaign_spec_download", "GET", ADMIN_PAGE, _c),
    Row("dashboard:campaign", "GET", ADMIN_PAGE, _c),
    Row("dashboard:campaign_state", "POST", ADMIN_POST, _c, lambda w: {"state": "paused"}),
    Row("dashboard:setup_basics", "GET", ADMIN_PAGE, _c),
    Row("dashboard:setup_task", "GET", ADMIN_PAGE, _c),
    Row("dashboard:setup_preview", "GET", ADMIN_PAGE, _c),
    Row("dashboard:setup_prompts", "GET", ADMIN_PAGE, _c),
    Row("dashboard:setup_models", "GET", ADMIN_PAGE, _c),
    Row("dashboard:setup_people", "GET", ADMIN_PAGE, _c),
    Row("dashboard:setup_trees", "GET", ADMIN_PAGE, _c),
    Row("dashboard:quality", "GET", ADMIN_PAGE, _c),
    Row(
        "dashboard:member_action",
        "POST",
        ADMIN_POST,
        lambda w: {**_c(w), "membership_id": w.membership.id, "action": "flag"},
    ),
    Row("dashboard:leaderboard", "GET", ADMIN_PAGE, _c),
    Row("dashboard:routing_refresh", "POST", ADMIN_POST, _c),
    Row("dashboard:leaderboard_json", "GET", ADMIN_JSON, _c),
    Row("dashboard:quality_json", "GET", ADMIN_JSON, _c),
    # Generation, for the campaign's admins only (its errors and the models' names included).
    Row("dashboard:generation", "GET", ADMIN_PAGE, _c),
    Row("dashboard:generation_start", "POST", ADMIN_POST, _c),
    Row(
        "dashboard:generation_retry",
        "POST",
        ADMIN_POST,
        lambda w: {**_c(w), "request_id": w.failed.id},
    ),
    Row(
        "dashboard:generation_regenerate",
        "POST",
        ADMIN_POST,
        lambda w: {**_c(w), "message_id": w.generated.id},
    ),
    # The Export tab: the campaign's files, for its admins only. The job is queued: its admin
    # hears 409 (not done), nobody else learns anything more.
    Row("dashboard:exports", "GET", ADMIN_PAGE, _c),
    Row(
        "dashboard:exports",
        "POST",
        ADMIN_POST,
        _c,
        lambda w: {"format": "judgments", "container": "jsonl"},
    ),
    Row(
        "dashboard:export_download",
        "GET",
        _codes(302, 403, 404, 409, 404, 409),
        lambda w: {**_c(w), **_j(w)},
    ),
    # The Gold page: the campaign's tasks and their right answers, for its admins only.
    Row("dashboard:gold", "GET", ADMIN_PAGE, _c),
    Row(
        "dashboard:gold",
        "POST",
        ADMIN_POST,
        _c,
        lambda w: {"task": str(w.assignment.task_id), "gold": "tie"},
    ),
    # A study's settings and who took part (their survey answers): its admins only.
    Row("dashboard:study_settings", "GET", ADMIN_PAGE, _s),
    Row("dashboard:study_invitation", "POST", ADMIN_POST, _s),
    Row("dashboard:study_participants", "GET", ADMIN_PAGE, _s),
    # The live chat (campaign L): the list and a new conversation are for its members; a
    # conversation is its participant's alone (not even the campaign's admin chats in it).
    Row(
        "live_chats",
        "GET",
        _codes(302, 200, 404, 200, 404, 404),
        lambda w: {"campaign_id": w.live.id},
    ),
    Row("live_chat", "GET", _codes(302, 200, 404, 404, 404, 404), _chat),
    Row("live_chat_turn", "GET", _codes(302, 200, 404, 404, 404, 404), _chat),
    # alice has not rated the replies to her first turn yet: her next one waits (409).
    Row(
        "live_chat_say",
        "POST",
        _codes(302, 409, 404, 404, 404, 404),
        _chat,
        lambda w: {"text": "And then?"},
    ),
    Row("live_chat_retry", "POST", _codes(302, 302, 404, 404, 404, 404), _chat),
    # An empty rating form: served to alice, its input refused (422).
    Row(
        "live_chat_rate",
        "POST",
        _codes(302, 422, 404, 404, 404, 404),
        lambda w: {**_chat(w), "assignment_id": w.live_assignment.id},
    ),
    # The review stage: the campaign's reviewers (its admins here) and staff; its annotators
    # may not (403), nobody else learns the campaign exists.
    Row("review_page", "GET", _codes(302, 403, 404, 200, 404, 200), _c),
    Row(
        "review_submit",
        "POST",
        _codes(302, 403, 404, 302, 404, 302),
        lambda w: {**_c(w), "judgment_id": w.judgment.id},
        lambda w: {"decision": "accepted"},
    ),
    # The adjudication queue: the campaign's reviewers (its admins here) and staff; its
    # annotators may not (403), nobody else learns the campaign exists. No item is disputed
    # here, so a decision names nothing there is (404 to whoever may adjudicate).
    Row("adjudication_page", "GET", _codes(302, 403, 404, 200, 404, 200), _c),
    Row(
        "adjudication_submit",
        "POST",
        _codes(302, 403, 404, 404, 404, 404),
        lambda w: {**_c(w), "adjudication_id": 2**31 - 1},
        lambda w: {"decision": "ambiguous"},
    ),
    # A prompt's file: whoever may see the campaign's tasks.
    Row(
        "attachment_file",
        "GET",
        _codes(302, 200, 404, 200, 404, 200),
        lambda w: {"attachment_id": w.attachment.id},
    ),
    # A study's pages (campaign S, invitation only). Each sends a person to the step that is
    # theirs: alice is past consent, with her tasks open; a member the admins added starts at
    # consent; anyone else signed in is refused (403) without the invitation, which the
    # invitation link carries along; the anonymous signs in first.
    Row("study_entry", "GET", _codes(302, 302, 302, 302, 302, 302), _study),
    # Its crowd link (S takes no crowd links and has sign-up closed) makes nobody, by GET or
    # by the confirmation's POST; a signed-in person is never switched to a participant.
    Row("study_entry", "GET", _codes(*[403] * 6), _study, query="?PROLIFIC_PID=stranger"),
    Row("study_entry", "POST", _codes(*[403] * 6), _study, query="?PROLIFIC_PID=stranger"),
    # The study's own admin is refused (400, a page saying why) rather than made a participant.
    Row("study_next", "GET", _codes(302, 302, 403, 400, 403, 403), _study),
    Row("study_signup", "GET", _codes(403, 403, 403, 403, 403, 403), _study),
    Row(
        "study_invitation",
        "GET",
        _codes(302, 302, 302, 302, 302, 302),
        lambda w: {**_study(w), "token": w.invitation},
    ),
    Row("study_consent", "GET", _codes(302, 302, 302, 302, 302, 302), _study),
    Row("study_survey", "GET", _codes(302, 200, 302, 302, 302, 302), _study),
    Row("study_qualification", "GET", _codes(302, 302, 302, 302, 302, 302), _study),
    Row("study_withdraw", "GET", _codes(302, 200, 404, 404, 404, 404), _study),
    Row("study_complete", "GET", _codes(302, 200, 302, 302, 302, 302), _study),
    Row("study_end", "GET", _codes(302, 302, 302, 302, 302, 302), _study),
    Row("login", "GET", _codes(200, 200, 200, 200, 200, 200)),
    # An invite link is its token: a made-up one is not found, whoever opens it.
    Row("invite", "GET", _codes(404, 404, 404, 404, 404, 404), lambda w: {"token": "x:y:z"}),
    Row("logout", "POST", _codes(302, 302, 302, 302, 302, 302)),
    Row("password_change", "GET", _codes(302, 200, 200, 200, 200, 200)),
    Row("password_change_done", "GET", _codes(302, 200, 200, 200, 200, 200)),
    Row("password_reset", "GET", _codes(200, 200, 200, 200, 200, 200)),
    Row("password_reset_done", "GET", _codes(200, 200, 200, 200, 200, 200)),
    # A made-up uid and token: the page says the link is invalid.
    Row(
        "password_reset_confirm",
        "GET",
        _codes(200, 200, 200, 200, 200, 200),
        lambda w: {"uidb64": "MQ", "token": "bad-token"},
    ),
    Row("password_reset_complete", "GET", _codes(200, 200, 200, 200, 200, 200)),
    # The API: no token is 401 everywhere but the token endpoint and the schema.
    Row(
        "api_token",
        "POST",
        _codes(400, 400, 400, 400, 400, 400),
        data=lambda w: {"username": "alice", "password": "wrong"},
        api=True,
    ),
    Row("api_campaigns", "GET", _codes(401, 200, 200, 200, 200, 200), api=True),
    Row("api_campaign_next", "GET", _codes(401, 200, 404, 200, 404, 404), _c, api=True),
    Row(
        "api_campaign_prompts",
        "POST",
        _codes(401, 403, 404, 400, 404, 400),
        _c,
        lambda w: {"prompts": []},
        api=True,
    ),
    # A task's gold answer: the campaign's admins only; another campaign's task is not found.
    Row(
        "api_task_gold",
        "PUT",
        _codes(401, 403, 404, 200, 404, 200),
        lambda w: {**_c(w), "task_id": w.assignment.task_id},
        lambda w: {"gold": None},
        api=True,
    ),
    # People in bulk: the campaign's admins only; an unknown name is reported, not added.
    Row(
        "api_campaign_members",
        "POST",
        _codes(401, 403, 404, 200, 404, 200),
        _c,
        lambda w: {"people": ["nobody-here"]},
        api=True,
    ),
    # C's only judgment awaits review, so there is nothing to export yet: its admins hear 409
    # (an export without rows is refused), nobody else learns that much.
    Row(
        "api_campaign_export",
        "GET",
        _codes(401, 403, 404, 409, 404, 409),
        _c,
        query="?format=preference",
        api=True,
    ),
    # Campaigns as code: staff and the admins of some campaign make campaigns (an empty spec:
    # 400); a campaign's spec, state and study are its admins' (bad input: 400).
    Row("api_campaigns", "POST", _codes(401, 403, 403, 400, 400, 400), data=_none, api=True),
    Row("api_campaign", "GET", _codes(401, 403, 404, 200, 404, 200), _c, api=True),
    Row(
        "api_campaign",
        "PUT",
        _codes(401, 403, 404, 400, 404, 400),
        _c,
        lambda w: {"name": "C", "overlap": 0},
        api=True,
    ),
    Row("api_campaign_spec", "GET", _codes(401, 403, 404, 200, 404, 200), _c, api=True),
    Row(
        "api_campaign_state",
        "POST",
        _codes(401, 403, 404, 400, 404, 400),
        _c,
        lambda w: {"state": "gone"},
        api=True,
    ),
    Row("api_campaign_study", "GET", _codes(401, 403, 404, 200, 404, 200), _s, api=True),
    Row(
        "api_campaign_study",
        "PUT",
        _codes(401, 403, 404, 400, 404, 400),
        _s,
        lambda w: {"survey": 3},
        api=True,
    ),
    Row("api_export_jobs", "GET", _codes(401, 200, 200, 200, 200, 200), api=True),
    Row("api_export_job", "GET", _codes(401, 403, 404, 200, 404, 200), _j, api=True),
    # The job is queued: its admin hears 409 (not done), nobody else learns anything more.
    Row("api_export_job_download", "GET", _codes(401, 403, 404, 409, 404, 409), _j, api=True),
    # Someone else's assignment does not exist for them, as on the pages.
    Row(
        "api_judgment_submit",
        "POST",
        _codes(401, 201, 404, 404, 404, 404),
        _a,
        lambda w: {"payload": {"outcome": "tie"}, "idempotency_key": "k1"},
        api=True,
    ),
    Row("api_assignment_skip", "POST", _codes(401, 200, 404, 404, 404, 404), _a, api=True),
    Row("api_review_next", "GET", _codes(401, 403, 404, 200, 404, 200), _c, api=True),
    # As the review page: the campaign's annotators may not review (403); for anyone who may
    # not see the campaign, its judgments do not exist (404).
    Row(
        "api_judgment_review",
        "POST",
        _codes(401, 403, 404, 201, 404, 201),
        lambda w: {"judgment_id": w.judgment.id},
        lambda w: {"decision": "accepted"},
        api=True,
    ),
    # The API's documentation is public: it describes shapes, never data.
    Row("api_schema", "GET", _codes(200, 200, 200, 200, 200, 200), api=True),
    Row("api_docs", "GET", _codes(200, 200, 200, 200, 200, 200), api=True),
]


def _walk(patterns: list[Any], ns: str = "", prefix: str = "") -> Iterator[tuple[str, str]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            sub = f"{ns}:{p.namespace}" if ns and p.namespace else (p.namespace or ns)
            yield from _walk(p.url_patterns, sub, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield (f"{ns}:{p.name}" if ns else str(p.name)), prefix + str(p.pattern)


def all_urls() -> list[tuple[str, str]]:
    return list(_walk(get_resolver().url_patterns))


def test_every_url_has_a_row():
    covered = {row.name for row in TABLE}
    missing = [
        (name, route)
        for name, route in all_urls()
        if not route.startswith("admin/") and name not in covered
    ]
    assert missing == [], f"URLs without a row in the access table: {missing}"
    unnamed = [route for name, route in all_urls() if name in ("", "None")]
    assert unnamed == []


def _client_for(w: World, role: str, row: Row) -> Any:
    user = w.users[role]
    if row.api:
        client = APIClient()
        if user is not None:
            _token, key = api_token_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _call(w: World, role: str, row: Row) -> int:
    client = _client_for(w, role, row)
    url = reverse(row.name, kwargs=row.kwargs(w)) + row.query
    data = row.data(w) if row.data else {}
    if row.method == "GET":
        return client.get(url).status_code
    if row.method == "PUT":
        return client.put(url, data, format="json").status_code
    if row.api:
        send = client.put if row.method == "PUT" else client.post
        return send(url, data, format="json").status_code
    return client.post(url, data).status_code


@pytest.mark.parametrize("row", TABLE, ids=[f"{r.method} {r.name}{r.query}" for r in TABLE])
@pytest.mark.parametrize("role", ROLES)
def test_access(world, row, role):
    assert _call(world, role, row) == row.expect[role]


def test_the_admin_site_is_for_staff_only(world):
    """Every URL of the Django admin: the anonymous and non-staff are sent to its login."""
    names = [(name, route) for name, route in all_urls() if route.startswith("admin/")]
    assert len(names) > 20
    for role in ("anonymous", "annotator", "admin"):
        client = _client_for(world, role, Row("", "GET", {}))
        for name, route in names:
            if name in ("admin:login", "admin:logout"):
                continue
            url = "/" + route
            for part in ("<path:object_id>", "<int:user_id>", "<id>", "<path:url>"):
                url = url.replace(part, "1")
            if "<" in url or "(?P" in url or "^" in url:
                continue  # the catch-all and per-app patterns: covered by the index below
            response = client.get(url)
            assert response.status_code == 302, (role, url, response.status_code)
            assert "/admin/login/" in response["Location"], (role, url)
    index = _client_for(world, "superuser", Row("", "GET", {})).get("/admin/")
    assert index.status_code == 200
    tokens = _client_for(world, "superuser", Row("", "GET", {})).get(
        reverse("admin:annotation_apitoken_changelist")
    )
    assert tokens.status_code == 200


SESSION_POSTS = [r for r in TABLE if r.method == "POST" and not r.api and r.name != "logout"]


@pytest.mark.parametrize("row", SESSION_POSTS, ids=[r.name for r in SESSION_POSTS])
def test_every_form_post_needs_the_csrf_token(world, row):
    """A signed-in person's browser posting without the page's token (a forged cross-site
    form) is refused, for every page that takes a POST."""
    role = "annotator" if row.name.startswith(("assignment_", "live_chat")) else "admin"
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users[role])
    url = reverse(row.name, kwargs=row.kwargs(world))
    response = client.post(url, row.data(world) if row.data else {})
    assert response.status_code == 403


def test_the_api_with_a_session_needs_the_csrf_token_too(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.users["annotator"])
    url = reverse("api_judgment_submit", kwargs=_a(world))
    body = {"payload": {"outcome": "tie"}, "idempotency_key": "k"}
    response = client.post(url, body, format="json")
    assert response.status_code == 403
    world.assignment.refresh_from_db()
    assert world.assignment.state != "submitted"


def test_annotators_never_see_model_names_or_others_judgments(world):
    alice = world.users["annotator"]
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("campaign_task", kwargs=_c(world))).content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=alice)[1]}")
    leased = api.get(reverse("api_campaign_next", kwargs=_c(world))).content.decode()
    for text in (page, leased):
        assert "Reply 0" in text or "Reply 1" in text or "Reply 2" in text
        assert all(model not in text for model in SECRET_MODELS)
    # Neither the exports (which hold every judgment and profile) nor the dashboard.
    export = reverse("api_campaign_export", kwargs=_c(world)) + "?format=judgments"
    assert api.get(export).status_code == 403
    assert client.get(reverse("dashboard:quality", kwargs=_c(world))).status_code == 403
    assert api.get(reverse("api_export_jobs")).json() in ([], {"count": 0, "results": []})


def test_a_live_chat_never_names_the_models_that_reply(world):
    """alice's live conversation: the replies by their place, never by the model's name."""
    client = Client()
    client.force_login(world.users["annotator"])
    model = world.failed.language_model.name
    for name in ("live_chat", "live_chat_turn"):
        page = client.get(reverse(name, kwargs=_chat(world))).content.decode()
        assert "Reply 0." in page and "Reply 1." in page
        assert model not in page
    listing = client.get(reverse("live_chats", kwargs={"campaign_id": world.live.id}))
    assert model not in listing.content.decode()


def test_a_review_posted_under_another_campaign_is_not_found(world):
    """The review page of campaign D does not decide on a judgment of C, even for staff who
    review both."""
    Campaign.objects.filter(pk=world.other.pk).update(review_stage=True)
    client = _client_for(world, "superuser", Row("", "POST", {}))
    url = reverse(
        "review_submit", kwargs={"campaign_id": world.other.id, "judgment_id": world.judgment.id}
    )
    response = client.post(url, {"decision": "accepted"})
    assert response.status_code == 404
    assert not JudgmentReview.objects.filter(judgment=world.judgment).exists()


def test_generation_actions_name_only_their_own_campaigns_objects(world):
    """C's admin, on C's generation page, naming a request or a candidate of D: not found,
    and D's request stays failed."""
    d_prompt = Message.objects.filter(conversation__campaign=world.other, parent=None).first()
    assert d_prompt is not None
    foreign = GenerationRequest.objects.create(
        campaign=world.other,
        parent=d_prompt,
        language_model=world.failed.language_model,
        state="failed",
        error="boom",
    )
    candidate = Message.objects.create(
        conversation=d_prompt.conversation,
        parent=d_prompt,
        role=Message.Role.ASSISTANT,
        text="D's reply.",
        model=world.failed.language_model,
    )
    client = _client_for(world, "admin", Row("", "POST", {}))
    retry = reverse("dashboard:generation_retry", kwargs={**_c(world), "request_id": foreign.id})
    regenerate = reverse(
        "dashboard:generation_regenerate", kwargs={**_c(world), "message_id": candidate.id}
    )
    assert client.post(retry).status_code == 404
    assert client.post(regenerate).status_code == 404
    foreign.refresh_from_db()
    assert foreign.state == "failed"
    assert not GenerationRequest.objects.filter(replaces=candidate).exists()
