"""An annotator's session in a real browser: log in and judge every kind with the keyboard
alone; the next task arrives without a page load and the progress count moves."""

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from annotation.models import Assignment, Judgment, Message
from tests.browser.conftest import KINDS, assignment_id, log_in, tab_to

# Set on the page once it has loaded; a full page load would wipe it.
MARKER = "window.__agoraMarker = 'no page load since'"
MARKER_READ = "window.__agoraMarker"


def open_campaign_by_keyboard(page: Page, user, campaign) -> None:
    """Log in, then Tab to the campaign's Start button on home and press Enter."""
    page.goto("/accounts/login/")
    log_in(page, user)
    expect(page.locator("h1")).to_have_text("Your campaigns")
    tab_to(page, f'a.button[href="/campaigns/{campaign.id}/"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#judge")).to_be_visible()
    page.evaluate(MARKER)


# Each kind judged with keys only; returns what the stored payload must hold, given the
# assignment (the order its candidates were shown in).


def judge_pairwise(page: Page, a: Assignment) -> Callable[[dict], None]:
    page.keyboard.press("b")  # B is better
    page.keyboard.press("r")  # into the reason
    page.keyboard.type("B names the light step.")
    page.keyboard.press("Escape")  # out of the text box, so Enter submits
    page.keyboard.press("Enter")
    return lambda p: (
        p
        == {
            "outcome": "preferred",
            "preferred": a.display_order[1],
            "rejected": a.display_order[0],
            "reason": "B names the light step.",
        }
    )


def judge_ranking(page: Page, a: Assignment) -> Callable[[dict], None]:
    tab_to(page, "[data-rank-item]")  # the first response shown
    page.keyboard.press("3")  # ...goes to the last place; the others move up
    page.keyboard.press("Enter")
    first, second, third = a.display_order
    return lambda p: p == {"ranking": [[second], [third], [first]]}


def judge_rating(page: Page, a: Assignment) -> Callable[[dict], None]:
    tab_to(page, 'input[name^="rate-"]')  # the first response's scale
    for point in ("4", "2", "5"):
        page.keyboard.press(point)
        page.keyboard.press("Tab")  # the next response's scale
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    a_, b_, c_ = (str(i) for i in a.display_order)
    return lambda p: (
        p["ratings"]
        == {
            a_: {"helpfulness": 4},
            b_: {"helpfulness": 2},
            c_: {"helpfulness": 5},
        }
    )


def judge_binary(page: Page, a: Assignment) -> Callable[[dict], None]:
    page.keyboard.press("d")  # thumbs down
    page.keyboard.press("Enter")
    return lambda p: p == {"label": False}


def judge_label(page: Page, a: Assignment) -> Callable[[dict], None]:
    tab_to(page, 'input[name="label-0"]')  # the first flag (spam)
    page.keyboard.press("Space")
    tab_to(page, 'input[name="label-5"]')  # the quality scale
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    return lambda p: p["labels"]["spam"] is True and p["labels"]["quality"] == 4


def judge_critique(page: Page, a: Assignment) -> Callable[[dict], None]:
    page.keyboard.press("c")
    page.keyboard.type("Right about light, wrong to leave out water and CO2.")
    page.keyboard.press("Control+Enter")
    return lambda p: p["text"] == "Right about light, wrong to leave out water and CO2."


def judge_rewrite(page: Page, a: Assignment) -> Callable[[dict], None]:
    # Read before the submit: the live server shares this thread's (in-memory) database
    # connection, so the test touches the database only while no request is in flight.
    original = Message.objects.get(id=a.display_order[0]).text
    page.keyboard.press("e")
    page.keyboard.press("Control+End")
    page.keyboard.type(" Water and CO2 go in; sugar and oxygen come out.")
    page.keyboard.press("Control+Enter")

    def check(p: dict) -> bool:
        written = Message.objects.get(id=p["message_id"]).text
        return written == original + " Water and CO2 go in; sugar and oxygen come out."

    return check


def judge_reply(page: Page, a: Assignment) -> Callable[[dict], None]:
    page.keyboard.press("w")
    page.keyboard.type("Leaves turn light, water and CO2 into sugar.")
    page.keyboard.press("Control+Enter")
    return lambda p: p["text"] == "Leaves turn light, water and CO2 into sugar."


JUDGE = {
    "pairwise": judge_pairwise,
    "ranking": judge_ranking,
    "rating": judge_rating,
    "binary": judge_binary,
    "label": judge_label,
    "critique": judge_critique,
    "rewrite": judge_rewrite,
    "reply": judge_reply,
}


@pytest.mark.parametrize("task_kind", list(KINDS))
def test_an_annotator_judges_every_kind_with_the_keyboard_alone(
    open_page, alice, kind_campaign, task_kind
):
    campaign = kind_campaign(task_kind, n=2)
    page = open_page()
    open_campaign_by_keyboard(page, alice, campaign)
    progress = page.get_by_test_id("progress")
    expect(progress).to_have_text("0 done · 2 available")
    first = Assignment.objects.get(id=assignment_id(page))
    # A moment on the task: the time sent is in tenths of a second, and a one-key judgment
    # made faster than 50 ms would send 0.0.
    page.wait_for_timeout(200)

    matches = JUDGE[task_kind](page, first)

    expect(page.locator("#task .notice")).to_have_text("Saved.")
    expect(progress).to_have_text("1 done · 1 available")
    assert page.evaluate(MARKER_READ) == "no page load since"  # the card came by htmx
    assert assignment_id(page) != first.id  # ...with the next task
    judgment = Judgment.objects.get(assignment=first)
    assert matches(judgment.payload), judgment.payload
    assert judgment.seconds_spent is not None and judgment.seconds_spent > 0


def test_the_next_tasks_come_without_a_page_load_until_none_is_left(
    open_page, alice, kind_campaign
):
    campaign = kind_campaign("pairwise", n=3)
    page = open_page()
    open_campaign_by_keyboard(page, alice, campaign)
    progress = page.get_by_test_id("progress")

    page.keyboard.press("a")
    page.keyboard.press("Enter")
    expect(progress).to_have_text("1 done · 2 available")
    page.keyboard.press("s")  # skip the second
    expect(page.locator("#task .notice")).to_have_text("Skipped.")
    page.keyboard.press("ArrowRight")  # B, on the third
    page.keyboard.press("Enter")

    expect(page.get_by_test_id("empty")).to_contain_text("Nothing left for you here")
    expect(progress).to_have_text("2 done · 0 available")
    assert page.evaluate(MARKER_READ) == "no page load since"
    assert Judgment.objects.filter(annotator=alice).count() == 2
    assert Assignment.objects.filter(annotator=alice, state=Assignment.State.SKIPPED).count() == 1
