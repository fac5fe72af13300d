"""HTML and JavaScript in every untrusted text stay inert on every page.

Payloads go into everything a person or a model can write: prompts, model outputs and
model names, campaign texts, annotators' reasons and their profile answers, live chat turns
and replies, a judgment under review, a failed generation's error, a study's consent text
and its participant's survey answers. Then every
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

from annotation.models import Campaign, Judgment, Message, Profile, Study
from annotation.services import judgment_submit, prompts_import, studies, task_lease_next
from generation.models import GenerationRequest, LanguageModel
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
            user=user,
            answers={"country": PAYLOADS[1], "languages": [PAYLOADS[0]]},
            version=Profile.objects.filter(user=user).count() + 1,  # alice took S's survey
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
    _hostile_features(world)
    return world


def _hostile_features(world: World) -> None:
    """The payloads in what the newer features show: live chat, review, generation, study."""
    # Alice's live turn and the replies a model streamed to it.
    Message.objects.filter(conversation=world.conversation).update(text=PAYLOAD)
    # The judgment awaiting review: its reason, its prompt and candidates.
    j = world.judgment
    Judgment.objects.filter(pk=j.pk).update(payload={**j.payload, "reason": PAYLOAD})
    shown = [j.task.parent_id, *j.assignment.display_order]
    Message.objects.filter(id__in=shown).update(text=PAYLOAD)
    # What generation shows its admins: a failure's error, a generated text, a model's name.
    GenerationRequest.objects.filter(pk=world.failed.pk).update(error=PAYLOAD)
    Message.objects.filter(pk=world.generated.pk).update(text=PAYLOAD)
    LanguageModel.objects.filter(pk=world.failed.language_model_id).update(name=PAYLOADS[2])
    # The study: its consent text (the admin's Markdown), and alice's survey answers, free
    # text and a grouping answer (as an older survey might have stored it) alike.
    Study.objects.filter(campaign=world.study).update(
        consent_text="# Consent\n\n" + PAYLOAD + "\n\n[link](javascript:alert(1))"
    )
    for profile in Profile.objects.filter(user=world.users["annotator"]):
        answers = {"self_description": PAYLOAD, "system_string": PAYLOAD, "age": PAYLOADS[1]}
        profile.answers = {**profile.answers, **answers}
        profile.save(update_fields=["answers"])


PAGES = [r for r in TABLE if r.method == "GET" and not r.api]


@pytest.mark.parametrize("role", ["annotator", "admin", "superuser"])
def test_no_page_runs_a_payload_or_has_inline_script(hostile, role):
    client = Client()
    client.force_login(hostile.users[role])
    seen: set[str] = set()
    for row in PAGES:
        url = reverse(row.name, kwargs=row.kwargs(hostile))
        extra = ["?field=country", "?field=languages"] if row.name == "dashboard:quality" else []
        for query in ["", *extra]:
            response = client.get(url + query)
            if response.status_code != 200:
                continue
            seen.add(row.name)
            kind = response["Content-Type"]
            if kind.startswith("application/json"):
                json.loads(response.content)  # JSON is data, not markup: it need only parse
                continue
            if not kind.startswith("text/html"):
                # A file (an attachment): shown as its type only, sandboxed, never sniffed.
                assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
                assert response["X-Content-Type-Options"] == "nosniff"
                continue
            body = response.content.decode()
            assert _scan(body) == [], (url + query, _scan(body))
            assert response["Content-Security-Policy"].startswith("default-src 'self'")
    # Every page the access table serves to this role was crawled, payloads and all (and
    # a few more: following a study's link made them its participant, at its consent).
    assert seen >= {row.name for row in PAGES if row.expect[role] == 200}


def test_the_consent_page_keeps_the_admins_markdown_inert(hostile):
    """Someone following the study's invitation reads its consent text: Markdown, sanitised."""
    client = Client()
    client.force_login(hostile.users["other_annotator"])
    token = studies.invitation_make(campaign=hostile.study)
    invitation = reverse("study_invitation", args=[hostile.study.slug, token])
    response = client.get(invitation, follow=True)
    assert response.redirect_chain[-1][0] == reverse("study_consent", args=[hostile.study.slug])
    body = response.content.decode()
    assert "<h1>Consent</h1>" in body or ">Consent</h" in body
    assert _scan(body) == []


def test_the_newer_pages_show_the_payloads_as_text(hostile):
    """Escaped where shown as text: the live chat's reply, the reviewed judgment's reason,
    the generation error, the participant's own survey answer."""
    escaped = "&lt;script&gt;window.pwn3d=1&lt;/script&gt;"
    alice, carol = Client(), Client()
    alice.force_login(hostile.users["annotator"])
    carol.force_login(hostile.users["admin"])
    chat = {"campaign_id": hostile.live.id, "conversation_id": hostile.conversation.id}
    c = {"campaign_id": hostile.campaign.id}
    for client, url, times in [
        (alice, reverse("live_chat", kwargs=chat), 3),  # her turn, the two replies
        (alice, reverse("study_survey", args=[hostile.study.slug]), 2),
        (carol, reverse("review_page", kwargs=c), 3),
        (carol, reverse("dashboard:generation", kwargs=c), 1),
    ]:
        body = client.get(url).content.decode()
        assert body.count(escaped) >= times, (url, body.count(escaped))
        assert "<script>window.pwn3d" not in body, url
    # The participants page groups alice by her (hostile) age answer, in its table and chart.
    url = reverse("dashboard:study_participants", kwargs={"campaign_id": hostile.study.id})
    body = carol.get(url).content.decode()
    assert "&lt;img src=x onerror=" in body
    assert _scan(body) == []


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
