"""Hostile values into every API operation and every form the URL table reaches, as every
role: never a 5xx, the API's one error shape, and nothing written by a refused request.

The API operations come from the OpenAPI schema (each body field and key, each query
parameter, the file of an upload); the forms from the pages of tests/security/test_access.py's
table, fetched and read as a browser reads them (every <form>, every field), plus a campaign of
every judgment kind so that every kind's task form is reached. Each request runs in a
savepoint that is rolled back, so every example meets the same world.

Every target first gets the same sweep (the values the issue names, in every field or leaf at
once, as the role that gets past the access checks), then hypothesis explores: the field, the
value, the role, htmx or not. AGORA_FUZZ_EXAMPLES sets the explored examples per target (8).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote_plus, urlsplit

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.urls import Resolver404, resolve, reverse
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from annotation.models import Campaign, Membership, User
from annotation.services import api_token_create, campaign_create, membership_add, prompts_import
from tests.security.conftest import ROLES, World
from tests.security.test_access import TABLE, Row

EXAMPLES = int(os.environ.get("AGORA_FUZZ_EXAMPLES", "8"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# --- hostile values -------------------------------------------------------------------------


def _deep(depth: int, bracket: str) -> str:
    if bracket == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "0" + "}" * depth


DEPTHS = st.sampled_from([600, 900, 5_000, 100_000])
# Raw JSON text: what a client may put where a value (or a whole body) goes; one branch per
# kind of trouble, so that each is drawn as often as the others.
JSON_FRAGMENTS = st.one_of(
    st.sampled_from(['"\\ud800"', '"ok \\udfff"', '"\\udc00\\ud800"', '{"\\ud800": 1}']),
    st.sampled_from(['"\\u0000"', '{"\\u0000": "x"}', '"a\\u0000b"']),
    st.sampled_from(["9" * 5_000, "-" + "9" * 5_000, "1" * 25, "18446744073709551616"]),
    st.sampled_from(["1e999", "-1e999", "NaN", "Infinity", "-Infinity"]),
    st.sampled_from(['"²"', '"٣"', '"¹²³"', '"9' + "9" * 5_000 + '"']),
    st.sampled_from(['"\\u200b\\u200c\\u200d\\u2060\\ufeff"', '"\\u202eevil\\u202c"', '"\\u3164"']),
    st.builds(_deep, DEPTHS, st.sampled_from("[{")),
    st.builds(lambda n: json.dumps("x" * n), st.sampled_from([5_001, 100_001, 300_000])),
    st.sampled_from(["null", "true", "[]", "{}", "0", "-1", "1.5", '""', '[["x"]]', '{"": {}}']),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=20).map(json.dumps),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
HOSTILE_KEYS = st.sampled_from(['"\\ud800"', '"\\u0000"', '""', json.dumps("k" * 5000)])


def _prompt_line(fragment: str, where: str) -> str:
    line = {
        "prompt": '{"id": "h", "prompt": @, "responses": ["a", "b"]}',
        "metadata": '{"id": "h", "prompt": "p", "metadata": {"m": @}, "responses": ["a", "b"]}',
        "model": '{"id": "h", "prompt": "p", "responses": [{"text": "a", "model": @}, "b"]}',
    }[where]
    return line.replace("@", fragment)


def _csv(prompt: str, model: str = "m") -> str:
    return f"id,prompt,response_a,model_a,response_b\n1,{prompt},a,{model},b\n"


PROMPT_FILES = st.one_of(
    st.builds(_prompt_line, JSON_FRAGMENTS, st.sampled_from(["prompt", "metadata", "model"])),
    st.builds(_csv, st.just("x" * 140_000)),
    st.builds(_csv, st.just("p"), st.sampled_from(["m" * 201, "m" * 5_000])),
    st.just(_prompt_line(json.dumps("m" * 300), "model")),
)
# Text for a form field or a query string (a browser cannot send a lone surrogate there, but
# it can send JSON text that holds one, and bytes that are not UTF-8).
TEXT_VALUES = st.one_of(
    st.sampled_from(["²", "٣", "¹²³", "9" * 5_000, "-" + "9" * 5_000, "1" * 25, "-1", "0"]),
    st.sampled_from(["1e999", "nan", "inf", "-inf", "0x10", " 1 ", "1_000", "1.5"]),
    st.sampled_from(["\u200b", "\u200b\u200c\u200d\u2060\ufeff", "\u202eevil\u202c", "\u3164"]),
    st.sampled_from([b"\xed\xa0\x80", b"\xff\xfe", b"\xc0\x80", b"ok\xe2\x80", "a\x00b"]),
    st.sampled_from(["", " ", "on", "x" * 5_001, "x" * 300_000]),
    JSON_FRAGMENTS,
    PROMPT_FILES,
    st.text(max_size=30),
)


def _form_body(fields: dict[str, str | bytes]) -> str:
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in fields.items())


# --- what a refused request must leave as it was --------------------------------------------

COUNTED = [
    m
    for m in apps.get_models()
    if m._meta.app_label in ("annotation", "exports", "generation") or m is User
]


def _counts() -> list[int]:
    """The row count of every table of Agora's apps, in one query."""
    counts = ", ".join(
        f"(SELECT COUNT(*) FROM {connection.ops.quote_name(m._meta.db_table)})" for m in COUNTED
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return list(cursor.fetchone())


ERROR_KEYS = {"detail", "code", "field"}


def _check(response: Any, *, api: bool, before: list[int], what: str) -> None:
    status = response.status_code
    assert status < 500, f"{what}: {status}"
    if status < 400:
        return
    if api:
        body = json.loads(response.content)
        if "lines" in body:  # a prompt import's report names each bad line
            assert body["ok"] is False and body["lines"], what
        else:
            assert set(body) >= ERROR_KEYS, (what, body)
            assert isinstance(body["detail"], str) and isinstance(body["code"], str), what
            assert body["field"] is None or isinstance(body["field"], str), what
    assert _counts() == before, f"{what}: a refused request ({status}) wrote rows"


def _sent(send: Any, *, api: bool, what: str) -> None:
    """One request in a savepoint, checked, then rolled back: every example meets one world."""
    with transaction.atomic():
        before = _counts()
        _check(send(), api=api, before=before, what=what)
        transaction.set_rollback(True)


# --- the world: the security tests' one, a campaign of every kind, a session and a token each

KIND_SETTINGS: dict[str, dict[str, Any]] = {
    "pairwise": {"strength_levels": 3, "attributes": [{"name": "helpful"}, {"name": "safe"}]},
    "ranking": {"allow_ties": True},
    "rating": {
        "attributes": [{"name": "helpful", "rationale": "optional"}],
        "followup": {"attributes": [{"name": "overall"}], "feedback": "optional"},
    },
    "binary": {},
    "label": {},
    "critique": {},
    "rewrite": {},
    "reply": {},
}
THREE_REPLIES = "\n".join(
    json.dumps({"id": f"k{i}", "prompt": f"Kind prompt {i}?", "responses": ["One.", "Two.", "3."]})
    for i in range(2)
)


@dataclass
class Hostile:
    world: World
    kinds: dict[str, Campaign]
    sessions: dict[str, str | None] = field(default_factory=dict)
    tokens: dict[str, str | None] = field(default_factory=dict)
    forms: dict[str, list[Form]] = field(default_factory=dict)  # by target, read once

    def client(self, role: str, *, htmx: bool = False) -> Client:
        headers = {"HX-Request": "true"} if htmx else {}
        client = Client(headers=headers)
        if key := self.sessions[role]:
            client.cookies[django_settings.SESSION_COOKIE_NAME] = key
        return client

    def api_client(self, role: str) -> Client:
        token = self.tokens[role]
        return Client(headers={"Authorization": f"Token {token}"} if token else {})


@pytest.fixture
def hostile(world: World) -> Hostile:
    alice, carol = world.users["annotator"], world.users["admin"]
    assert isinstance(alice, User) and isinstance(carol, User)
    kinds = {}
    for kind, kind_settings in KIND_SETTINGS.items():
        c = campaign_create(
            name=f"K {kind}", slug=f"k-{kind}", created_by=carol, task_kind=kind,
            settings=kind_settings, state=Campaign.State.OPEN,
        )  # fmt: skip
        membership_add(campaign=c, user=carol, role=Membership.Role.ADMIN)
        membership_add(campaign=c, user=alice)
        assert prompts_import(campaign=c, content=THREE_REPLIES).ok
        kinds[kind] = c
    h = Hostile(world=world, kinds=kinds)
    for role in ROLES:
        user = world.users[role]
        if user is None:
            h.sessions[role] = h.tokens[role] = None
            continue
        client = Client()
        client.force_login(user)
        h.sessions[role] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        h.tokens[role] = api_token_create(user=user)[1]
    return h


# --- the API: every operation of the schema -------------------------------------------------

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = [
    (method.upper(), path, op)
    for path, ops in SCHEMA["paths"].items()
    for method, op in ops.items()
]
SENTINEL = "@@hostile@@"


def _api_path(h: Hostile, template: str) -> str:
    ids = {
        "campaign_id": h.world.campaign.id,
        "assignment_id": h.world.assignment.id,
        "job_id": h.world.job.id,
        "judgment_id": h.world.judgment.id,
        "task_id": h.world.assignment.task_id,
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), template)


def _row_for(path: str, method: str) -> Row | None:
    name = resolve(path).url_name
    return next((r for r in TABLE if r.name == name and r.method == method), None)


def _schema_ref(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _baselines(h: Hostile, method: str, path: str, op: dict[str, Any]) -> list[Any]:
    """Bodies that fit: the operation's examples, the access table's, its properties."""
    content = op.get("requestBody", {}).get("content", {})
    out: list[Any] = []
    for media in content.values():
        out += [e["value"] for e in media.get("examples", {}).values() if "value" in e]
        props = _schema_ref(media.get("schema", {})).get("properties", {})
        if props:
            out.append({name: "x" for name in props})
    row = _row_for(path, method)
    if row is not None and row.data is not None:
        out.append(row.data(h.world))
    return out or [{}]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _placed(body: Any, path: tuple[Any, ...], fragment: str, *, as_key: bool) -> str:
    """The body as JSON text with `fragment` (raw JSON) at `path`, as its value or its key."""
    if not path:
        return fragment
    body = json.loads(json.dumps(body))
    container = body
    for step in path[:-1]:
        container = container[step]
    last = path[-1]
    if as_key and isinstance(container, dict):
        container[SENTINEL] = container.pop(last)
    else:
        container[last] = SENTINEL
    return json.dumps(body).replace(json.dumps(SENTINEL), fragment)


def _leaves(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict | list) and value:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            yield from _leaves(v, (*prefix, k))
    else:
        yield prefix


def _everywhere(body: Any, fragment: str) -> str:
    """The body as JSON text with `fragment` (raw JSON) in place of every leaf."""
    body = json.loads(json.dumps(body))
    leaves = list(_leaves(body))
    if leaves == [()]:
        return fragment
    for path in leaves:
        container = body
        for step in path[:-1]:
            container = container[step]
        container[path[-1]] = SENTINEL
    return json.dumps(body).replace(json.dumps(SENTINEL), fragment)


SEER = "seer"  # the role that gets past the target's access checks to its input
ROLE_CHOICES = st.one_of(st.just(SEER), st.sampled_from(ROLES))
INDEX = st.integers(min_value=0, max_value=999)
# The sweep every API operation gets: each value in every leaf of each body (and the whole
# body), in every query parameter, as a file.
API_SWEEP_JSON = ['"\\ud800"', '"\\u0000"', "9" * 5_000, "NaN", "1e999", _deep(600, "[")]
API_SWEEP_TEXT = ["²", "9" * 5_000, "nan", "1e999", _csv("x" * 140_000)]


def _api_sweep(test: Any) -> Any:
    for fragment in API_SWEEP_JSON:
        test = example(role=SEER, way="json", base=0, path=0, every=True, as_key=False,
                       fragment=fragment, text="")(test)  # fmt: skip
    test = example(role=SEER, way="json", base=0, path=0, every=False, as_key=False,
                   fragment=_deep(100_000, "["), text="")(test)  # fmt: skip
    test = example(role=SEER, way="json", base=0, path=1, every=False, as_key=True,
                   fragment='"\\ud800"', text="")(test)  # fmt: skip
    for text in API_SWEEP_TEXT:
        for way in ("query", "form", "file"):
            test = example(role=SEER, way=way, base=0, path=0, every=True, as_key=False,
                           fragment="", text=text)(test)  # fmt: skip
    return test


@pytest.mark.parametrize(
    ("method", "template", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
@FUZZ
@given(
    role=ROLE_CHOICES,
    way=st.sampled_from(["query", "json", "form", "file"]),
    base=INDEX,
    path=INDEX,
    every=st.booleans(),
    as_key=st.booleans(),
    fragment=JSON_FRAGMENTS,
    text=TEXT_VALUES,
)
@_api_sweep
def test_every_api_operation_refuses_hostile_values_cleanly(
    hostile, method, template, op, role, way, base, path, every, as_key, fragment, text
):
    h = hostile
    url = _api_path(h, template)
    row = _row_for(url, method)
    if role == SEER:
        role = _seer(row, (200, 201, 400))
    client = h.api_client(role)
    content = op.get("requestBody", {}).get("content", {})
    if method == "GET" or not content:
        way = "query"
    what = f"{method} {template} as {role} by {way}"
    if way == "query":
        params = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
        names = [*params, "format", "extra"]
        chosen = names if every else [names[path % len(names)]]
        own = row.query.lstrip("?") if row else ""
        query = "&".join(x for x in (own, _form_body(dict.fromkeys(chosen, text))) if x)
        _sent(lambda: client.generic(method, f"{url}?{query}"), api=True, what=what)
        return
    bodies = _baselines(h, method, url, op)
    body = bodies[base % len(bodies)]
    if way == "json":
        paths = list(_paths(body))
        where = paths[path % len(paths)]
        if every:
            raw = _everywhere(body, fragment)
        elif as_key and where and isinstance(body, dict):
            raw = _placed(body, where, _key_fragment(fragment), as_key=True)
        else:
            raw = _placed(body, where, fragment, as_key=False)
        send = lambda: client.generic(method, url, raw, content_type="application/json")  # noqa: E731
    elif way == "form":
        fields: dict[str, str | bytes] = {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()
        }
        names = [*fields, "extra"]
        for name in names if every else [names[path % len(names)]]:
            fields[name] = text
        form = _form_body(fields)
        send = lambda: client.generic(  # noqa: E731
            method, url, form, content_type="application/x-www-form-urlencoded"
        )
    else:
        raw_bytes = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        upload = SimpleUploadedFile("p.csv" if path % 2 else "p.jsonl", raw_bytes)
        send = lambda: client.post(url, {"file": upload})  # noqa: E731
    _sent(send, api=True, what=what)


def _key_fragment(fragment: str) -> str:
    """A JSON key: the fragment if it is a JSON string, else a lone surrogate."""
    return fragment if fragment.startswith('"') else '"\\ud800"'


def test_the_fuzz_reaches_every_api_operation():
    names = {resolve(_api_template_path(p)).url_name for _, p, _ in OPERATIONS}
    api_rows = {r.name for r in TABLE if r.api} - {"api_schema", "api_docs"}
    assert api_rows <= names, api_rows - names
    assert len(OPERATIONS) >= 14


def _api_template_path(template: str) -> str:
    return re.sub(r"\{\w+\}", "1", template)


# --- the pages: every form the URL table reaches --------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    multipart: bool = False
    fields: dict[str, str] = field(default_factory=dict)  # what a browser sends untouched
    names: list[str] = field(default_factory=list)  # every field it has, sent or not
    files: list[str] = field(default_factory=list)


class _FormReader(HTMLParser):
    def __init__(self, page: str):
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: str | None = None
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.form = Form(
                action=urlsplit(a.get("action") or self.page).path,
                method=(a.get("method") or "get").upper(),
                multipart="multipart" in a.get("enctype", ""),
            )
            return
        form, name = self.form, a.get("name")
        if form is None:
            return
        if tag == "option" and self.select:
            if self.select not in form.fields or "selected" in a:
                form.fields[self.select] = a.get("value", "")
            return
        if not name or "disabled" in a:
            return
        if name not in form.names:
            form.names.append(name)
        kind = a.get("type", "").lower()
        if tag == "input" and kind == "file":
            form.files.append(name)
        elif tag == "input" and kind in ("checkbox", "radio"):
            if "checked" in a or (kind == "radio" and name not in form.fields):
                form.fields[name] = a.get("value", "on")
        elif tag in ("input", "button"):
            if tag == "input" or name not in form.fields:
                form.fields.setdefault(name, a.get("value", ""))
        elif tag == "select":
            self.select = name
        elif tag == "textarea":
            self.textarea, self.text = name, ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.form is not None:
            self.forms.append(self.form)
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.form is not None and self.textarea:
            self.form.fields[self.textarea] = self.text
            self.textarea = None


# Pages that show a form only at a step the world's people are not at (a study's consent,
# qualification and sign-up): the fields of the form class the view reads.
STEP_FORMS: dict[str, dict[str, str]] = {
    "study_consent": {"agree": "on", "version": "1"},
    "study_qualification": {"item": "0", "choice": "0"},
    "study_signup": {"username": "newcomer", "password1": "pw-Long-1", "password2": "pw-Long-1"},
}
PAGE_ROWS = [r for r in TABLE if not r.api]
# By URL name: a page's own GET and whatever its forms send to it (GET or POST).
TARGETS = sorted({r.name for r in PAGE_ROWS})
SEER_ORDER = ("admin", "annotator", "superuser", "other_admin", "other_annotator", "anonymous")


def _seer(row: Row | None, served: tuple[int, ...] = (200,)) -> str:
    """The first role (admins first) the table says gets an answer in `served`."""
    return next((r for r in SEER_ORDER if row is not None and row.expect[r] in served), "admin")


def _sources(h: Hostile) -> list[tuple[str, str, str]]:
    """Every page a person reaches with GET: (its path, the role that sees it, its url name)."""
    out = []
    for row in PAGE_ROWS:
        if row.method == "GET":
            out.append((reverse(row.name, kwargs=row.kwargs(h.world)), _seer(row), row.name))
    for kind, c in h.kinds.items():
        out.append((reverse("campaign_task", args=[c.id]), "annotator", f"task:{kind}"))
    return out


def _forms_on(h: Hostile, path: str, role: str) -> list[Form]:
    response = h.client(role).get(path)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return []
    reader = _FormReader(path)
    reader.feed(response.content.decode())
    return reader.forms


def _target_of(form: Form) -> str | None:
    try:
        return resolve(form.action).view_name
    except Resolver404:
        return None


# Which pages carry a form for each target (found once: the pages' ids change per world).
_FORM_SOURCES: dict[str, set[str]] = {}


def _form_sources(h: Hostile) -> dict[str, set[str]]:
    if not _FORM_SOURCES:
        with transaction.atomic():
            for path, role, source in _sources(h):
                for form in _forms_on(h, path, role):
                    if (target := _target_of(form)) is not None:
                        _FORM_SOURCES.setdefault(target, set()).add(source)
            transaction.set_rollback(True)
    return _FORM_SOURCES


def _forms_for(h: Hostile, target: str) -> list[Form]:
    """This world's forms for the target, read from the pages that carry one, and the
    target's own fields (the table's data, a step's form, a page's query string)."""
    # A form on every page (logging out) is read from a few of them.
    sources = sorted(_form_sources(h).get(target, set()))[:12]
    forms = []
    with transaction.atomic():
        for path, role, source in _sources(h):
            if source in sources:
                forms += [f for f in _forms_on(h, path, role) if _target_of(f) == target]
        for row in PAGE_ROWS:
            if row.name != target:
                continue
            path = reverse(row.name, kwargs=row.kwargs(h.world))
            own = {**STEP_FORMS.get(row.name, {}), **(row.data(h.world) if row.data else {})}
            if row.method == "GET":
                # The page's query string: every field of every form on it.
                own |= {n: "" for f in _forms_on(h, path, _seer(row)) for n in f.names}
            forms.append(Form(action=path, method=row.method, fields=own, names=list(own)))
        transaction.set_rollback(True)
    # The same form on several pages (a campaign's state buttons) is fuzzed once.
    unique = {(f.action, f.method, tuple(f.names), tuple(f.files)): f for f in forms}
    return list(unique.values())


def test_every_form_posts_to_a_fuzzed_target(hostile):
    found = set(_form_sources(hostile))
    assert found - set(TARGETS) == set()
    # The pages hold the forms this test is for (a page that lost its forms would fuzz less).
    assert len(found) >= 20, found


# The sweep every form gets: each value in every field at once, by the role that reaches it.
FORM_SWEEP: list[str | bytes] = [
    "²",
    "9" * 5_000,
    "nan",
    "1e999",
    "\u200b\u200c\u2060",
    '{"a": "\\ud800"}',
    _deep(900, "{"),
    _prompt_line('"\\ud800"', "prompt"),
    _csv("x" * 140_000),
    b"\xed\xa0\x80",
]


def _form_sweep(test: Any) -> Any:
    for value in FORM_SWEEP:
        test = example(form=-1, role=SEER, htmx=False, every=True, fields=[0],
                       values=[value])(test)  # fmt: skip
    return test


@pytest.mark.parametrize("target", TARGETS)
@FUZZ
@given(
    form=INDEX,
    role=ROLE_CHOICES,
    htmx=st.booleans(),
    every=st.booleans(),
    fields=st.lists(INDEX, min_size=1, max_size=3),
    values=st.lists(TEXT_VALUES, min_size=1, max_size=3),
)
@_form_sweep
def test_every_form_refuses_hostile_values_cleanly(
    hostile, target, form, role, htmx, every, fields, values
):
    """form=-1: every form of the target, one after the other."""
    h = hostile
    if target not in h.forms:
        h.forms[target] = _forms_for(h, target)
    forms = h.forms[target]
    row = next((r for r in PAGE_ROWS if r.name == target), None)
    if role == SEER:
        role = _seer(row, (200, 302, 400, 409, 422))
    for chosen in forms if form < 0 else [forms[form % len(forms)]]:
        names = [*chosen.names, *chosen.files, "extra"]
        if every:
            hostile_values = dict.fromkeys(names, values[0])
        else:
            hostile_values = {
                names[i % len(names)]: v for i, v in zip(fields, values, strict=False)
            }
        _send_form(h, chosen, role, htmx, hostile_values, what=f"{target} as {role}")


def _send_form(
    h: Hostile, form: Form, role: str, htmx: bool, values: dict[str, str | bytes], *, what: str
) -> None:
    client = h.client(role, htmx=htmx)
    what = f"{form.method} {what}: {', '.join(values)}"
    fields: dict[str, str | bytes] = {**form.fields, **values}
    if form.method == "GET":
        query = _form_body(fields)
        _sent(lambda: client.get(f"{form.action}?{query}"), api=False, what=what)
    elif form.multipart:
        sent: dict[str, Any] = {}
        for name, value in fields.items():
            raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
            if name in form.files:
                sent[name] = SimpleUploadedFile("p.csv" if b"," in raw[:50] else "p.jsonl", raw)
            else:
                sent[name] = raw.decode("utf-8", "replace")
        _sent(lambda: client.post(form.action, sent), api=False, what=what)
    else:
        body = _form_body(fields)
        _sent(
            lambda: client.post(
                form.action, body, content_type="application/x-www-form-urlencoded"
            ),
            api=False,
            what=what,
        )
