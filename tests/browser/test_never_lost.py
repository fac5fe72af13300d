"""Work is never lost: what an annotator writes survives a reload, a closed tab and a login
that ran out mid-task; a submit lost to the network offers a retry that stores one judgment."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import Page, Route, expect

from annotation.models import Judgment, Message
from tests.browser.conftest import assignment_id, axe_violations, log_in, task_path

# The key that focuses each writing kind's text box, and where the text goes.
WRITERS = {"critique": "c", "rewrite": "e", "reply": "w"}
TEXT = "Photosynthesis needs light, water and carbon dioxide; the answer forgot the water."


def draft_of(page: Page, assignment: int) -> dict | None:
    kept = page.evaluate("(k) => localStorage.getItem(k)", f"agora:draft:{assignment}")
    return json.loads(kept) if kept else None


def write(page: Page, task_kind: str) -> str:
    """Type TEXT into the kind's text box; returns what the box then holds."""
    page.keyboard.press(WRITERS[task_kind])
    page.keyboard.press("Control+End")  # a rewrite starts from the original's text
    page.keyboard.type(TEXT)
    return page.locator("#judge textarea[name=text]").input_value()


def stored_text(judgment: Judgment) -> str:
    if "message_id" in judgment.payload:  # rewrites and replies become messages
        return Message.objects.get(id=judgment.payload["message_id"]).text
    return judgment.payload["text"]


@pytest.mark.parametrize("task_kind", list(WRITERS))
def test_text_survives_a_reload_and_a_closed_tab_until_it_is_submitted(
    open_page, alice, kind_campaign, task_kind
):
    campaign = kind_campaign(task_kind, n=2)
    page = open_page()
    log_in(page, alice, next_path=task_path(campaign))
    assignment = assignment_id(page)
    written = write(page, task_kind)
    assert draft_of(page, assignment)["fields"]["text"] == [written]

    page.reload()
    box = page.locator("#judge textarea[name=text]")
    expect(box).to_have_value(written)

    # A new tab has no form state of its own to restore: only the kept draft can bring it.
    page.close()
    page = open_page(context=page.context)
    page.goto(task_path(campaign))
    box = page.locator("#judge textarea[name=text]")
    expect(box).to_have_value(written)
    assert assignment_id(page) == assignment

    box.focus()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#task .notice")).to_have_text("Saved.")
    assert draft_of(page, assignment) is None  # stored, so the draft is gone
    assert stored_text(Judgment.objects.get(assignment_id=assignment)) == written.strip()
    # The next task starts blank (a rewrite: from its own original), not from the old draft.
    assert TEXT not in page.locator("#judge textarea[name=text]").input_value()


def test_text_survives_a_login_that_expired_mid_task(open_page, alice, kind_campaign):
    campaign = kind_campaign("critique", n=2)
    page = open_page()
    log_in(page, alice, next_path=task_path(campaign))
    assignment = assignment_id(page)
    written = write(page, "critique")

    Session.objects.all().delete()  # the login runs out while alice writes
    page.keyboard.press("Control+Enter")

    # The submit met the login page: the browser goes there (not into the card) and back.
    page.wait_for_url("**/accounts/login/?**")
    assert parse_qs(urlsplit(page.url).query)["next"] == [task_path(campaign)]
    assert not Judgment.objects.exists()
    log_in(page, alice)
    page.wait_for_url(f"**{task_path(campaign)}")
    box = page.locator("#judge textarea[name=text]")
    expect(box).to_have_value(written)
    assert assignment_id(page) == assignment  # the task stayed leased to her

    box.focus()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#task .notice")).to_have_text("Saved.")
    judgment = Judgment.objects.get()
    assert (judgment.assignment_id, judgment.payload["text"]) == (assignment, written)


@pytest.mark.parametrize("lost", ["before the server", "after the server stored it"])
def test_a_submit_lost_to_the_network_offers_a_retry_that_stores_one_judgment(
    open_page, alice, kind_campaign, lost
):
    campaign = kind_campaign("pairwise", n=2)
    page = open_page()
    log_in(page, alice, next_path=task_path(campaign))
    page.evaluate("window.__agoraMarker = 1")
    assignment = assignment_id(page)
    posts: list[str] = []

    def flaky(route: Route) -> None:
        posts.append(route.request.post_data or "")
        if len(posts) > 1:
            route.continue_()
            return
        if lost == "after the server stored it":
            route.fetch()  # the server stores the judgment; its answer never arrives
        route.abort("connectionreset")

    page.route("**/assignments/*/submit/", flaky)
    page.keyboard.press("a")
    page.keyboard.press("Enter")

    banner = page.locator("#net-error")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("your answer is still here")
    retry = page.locator("#net-retry")
    expect(retry).to_be_focused()  # Enter retries; no mouse needed
    expect(page.locator("#judge input[name=choice]:checked")).to_have_count(1)
    assert Judgment.objects.count() == (1 if lost == "after the server stored it" else 0)
    assert axe_violations(page) == []

    page.keyboard.press("Enter")

    expect(page.locator("#task .notice")).to_have_text("Saved.")
    expect(banner).to_be_hidden()
    assert page.evaluate("window.__agoraMarker") == 1
    assert len(posts) == 2
    keys = [p for post in posts for p in post.split("&") if p.startswith("idempotency_key=")]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert Judgment.objects.filter(assignment_id=assignment).count() == 1
    assert Judgment.objects.count() == 1


def test_the_enter_that_sent_a_failed_submit_does_not_also_retry_it(
    open_page, alice, kind_campaign
):
    """The retry button takes focus when the connection fails; the Enter that sent the answer
    (still held, or repeating) must not press it: only a new press retries."""
    campaign = kind_campaign("pairwise", n=2)
    page = open_page()
    log_in(page, alice, next_path=task_path(campaign))
    posts: list[str] = []

    def refuse_first(route: Route) -> None:
        posts.append(route.request.post_data or "")
        if len(posts) > 1:
            route.continue_()
        else:
            route.abort("connectionrefused")

    page.route("**/assignments/*/submit/", refuse_first)
    page.keyboard.press("a")
    page.keyboard.down("Enter")
    banner = page.locator("#net-error")
    expect(banner).to_be_visible()
    expect(page.locator("#net-retry")).to_be_focused()
    page.keyboard.down("Enter")  # the key repeats while held: no retry
    page.keyboard.down("Enter")
    page.wait_for_timeout(300)
    assert len(posts) == 1
    expect(banner).to_be_visible()
    page.keyboard.up("Enter")

    page.keyboard.press("Enter")  # a new press does retry
    expect(page.locator("#task .notice")).to_have_text("Saved.")
    assert len(posts) == 2
    assert Judgment.objects.count() == 1
