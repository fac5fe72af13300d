"""HTML and JavaScript in every untrusted text stay inert on every page.

Payloads go into everything a person or a model can write: prompts, model outputs and
model names, campaign texts, annotators' reasons and their profile answers. Then every
page of the access table is fetched as each role that may see it, and parsed: no element
or attribute the payloads carry may appear, and no page has inline script at all (the
Content-Security-Policy forbids it, so a page that relied on one would break).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Campaign, Profile
from annotation.services import judgment_submit, prompts_import, task_lease_next
from tests.security.conftest import World
from tests.security.test_access import TABLE

MARK = "pwn3d"
PAYLOADS = [
    f"<script>window.{MARK}=1</script>",
    f'<img src=x onerror="window.{MARK}=2">',
    f'"><svg onload=window.{MARK}=3>',
    f'<a href="javascript:window.{MARK}=4">click</a>',
    f"</textarea><iframe srcdoc='<script>{MARK}</script>'></iframe>",
]
PAYLOAD = " ".join(PAYLOADS)


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        values = " ".join(value or "" for _, value in attrs)
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag in ("iframe", "svg") and MARK in values + tag:
            self.problems.append(f"injected <{tag}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.problems.append("injected <img>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"inline handler {name}= on <{tag}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in {name}= on <{tag}>")
            if value and MARK in value and name not in ("value", "data-draft", "content"):
                self.problems.append(f"payload inside {name}= on <{tag}>")

    def handle_data(self, data: str) -> None:
        return None


def _scan(html: str) -> list[str]:
    scan = _Scan()
    scan.feed(html)
    return scan.problems


@pytest.fixture
def hostile(world: World) -> World:
    c = world.campaign
    Campaign.objects.filter(pk=c.pk).update(
        name="C " + PAYLOADS[0],
        description=PAYLOADS[1],
        instructions="# Read me\n\n" + PAYLOAD + "\n\n[link](javascript:alert(1))",
    )
    c.refresh_from_db()
    lines = [
        {
            "id": f"h{i}",
            "prompt": f"Prompt {i} {PAYLOAD}",
            "responses": [
                {"text": f"Left {i} {PAYLOAD}", "model": "m<script>x</script>"},
                {"text": f"Right {i} {PAYLOADS[1]}", "model": f'm"><img src=x onerror={MARK}>'},
            ],
        }
        for i in range(3)
    ]
    assert prompts_import(campaign=c, content="\n".join(json.dumps(x) for x in lines)).ok
    for role in ("annotator", "admin"):
        user = world.users[role]
        Profile.objects.create(
            user=user, answers={"country": PAYLOADS[1], "languages": [PAYLOADS[0]]}
        )
        for n in range(4):
            a = task_lease_next(annotator=user, campaign=c)
            if a is None:
                break
            judgment_submit(
                assignment=a,
                annotator=user,
                payload={"outcome": "preferred", "preferred": a.display_order[n % 2],
                         "reason": PAYLOAD},
                idempotency_key=f"{role}-{n}-{PAYLOADS[2]}",
            )  # fmt: skip
    return world


PAGES = [r for r in TABLE if r.method == "GET" and not r.api]


@pytest.mark.parametrize("role", ["annotator", "admin", "superuser"])
def test_no_page_runs_a_payload_or_has_inline_script(hostile, role):
    client = Client()
    client.force_login(hostile.users[role])
    seen = 0
    for row in PAGES:
        url = reverse(row.name, kwargs=row.kwargs(hostile))
        extra = ["?field=country", "?field=languages"] if row.name == "dashboard:quality" else []
        for query in ["", *extra]:
            response = client.get(url + query)
            if response.status_code != 200:
                continue
            body = response.content.decode()
            if response["Content-Type"].startswith("application/json"):
                json.loads(body)  # JSON is data, not markup: it need only parse
                continue
            seen += 1
            assert _scan(body) == [], (url + query, _scan(body))
            assert response["Content-Security-Policy"].startswith("default-src 'self'")
    assert seen >= (3 if role == "annotator" else 12)


def test_the_payloads_are_shown_as_text(hostile):
    """Inert, not dropped: the annotator reads the prompt's text, escaped."""
    client = Client()
    client.force_login(hostile.users["annotator"])
    html = client.get(reverse("campaign_task", kwargs={"campaign_id": hostile.campaign.id}))
    body = html.content.decode()
    assert "&lt;script&gt;window.pwn3d=1&lt;/script&gt;" in body
    assert "<script>window.pwn3d" not in body


def test_the_scanner_finds_what_it_looks_for():
    problems = _scan(
        f'<p onclick="x">a</p><script>1</script><img src=x><a href="javascript:1">'
        f"<iframe srcdoc='{MARK}'></iframe>"
    )
    assert problems == [
        "inline handler onclick= on <p>",
        "inline <script>",
        "injected <img>",
        "javascript: URL in href= on <a>",
        "injected <iframe>",
        "payload inside srcdoc= on <iframe>",
    ]
