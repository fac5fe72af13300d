"""Judging by keyboard after a reason: every submit and skip leaves the focus on the new task,
never in a text box, and the shortcuts panel lists every key that works, at laptop and phone
width (a phone with a keyboard attached judges the same way)."""

import pytest
from playwright.sync_api import Page, expect

from annotation.models import Assignment, Judgment
from tests.browser.conftest import assignment_id, axe_violations, log_in, task_path

SIZES = ["laptop", "phone"]


def focused(page: Page) -> str:
    return page.evaluate(
        "() => { const e = document.activeElement; return e.id || e.tagName.toLowerCase(); }"
    )


@pytest.fixture
def reasoned(kind_campaign):
    """A pairwise campaign that asks for an optional reason, three tasks."""
    return kind_campaign("pairwise", n=3, settings={"reason": "optional"})


@pytest.mark.parametrize("width", SIZES)
def test_after_a_reason_and_ctrl_enter_the_next_keys_judge_the_next_task(
    open_page, alice, reasoned, width
):
    page = open_page(width)
    log_in(page, alice, next_path=task_path(reasoned))
    expect(page.locator("#judge")).to_be_visible()
    first = assignment_id(page)

    page.keyboard.press("b")
    page.keyboard.press("r")
    page.keyboard.type("B names the light step.")
    page.keyboard.press("Control+Enter")  # sent from inside the Reason box

    expect(page.locator("#task .notice")).to_have_text("Saved.")
    second = assignment_id(page)
    assert second != first
    assert focused(page) == "task"  # the new card, not its Reason box
    page.keyboard.press("a")  # ...so "a" picks A instead of being typed as a reason
    expect(page.locator('input[data-key="a"]')).to_be_checked()
    expect(page.locator("#reason")).to_have_value("")
    page.keyboard.press("Enter")

    expect(page.get_by_test_id("progress")).to_contain_text("2 done")
    assert focused(page) == "task"
    page.keyboard.press("r")
    page.keyboard.type("skipping")
    page.keyboard.press("Escape")
    page.keyboard.press("s")  # Esc left the box: S skips
    expect(page.locator("#task .notice")).to_have_text("Skipped.")
    assert focused(page) == "task"

    payloads = [j.payload for j in Judgment.objects.filter(annotator=alice).order_by("id")]
    assert payloads[0]["reason"] == "B names the light step."
    assert "reason" not in payloads[1] or payloads[1]["reason"] == ""
    assert Assignment.objects.filter(annotator=alice, state="skipped").count() == 1


@pytest.mark.parametrize("width", SIZES)
def test_the_shortcuts_panel_lists_every_key_that_works(open_page, alice, reasoned, width):
    page = open_page(width)
    log_in(page, alice, next_path=task_path(reasoned))
    panel = page.locator("details.shortcuts")
    if width == "phone":
        # A touch screen has no keys to learn: the panel and the key hints are hidden there.
        expect(panel).to_be_hidden()
        expect(page.locator("#judge kbd").first).to_be_hidden()
        return
    panel.locator("summary").click()
    keys = panel.locator("kbd").all_inner_texts()
    for key in ("A or ←", "B or →", "R", "Enter", "Ctrl+Enter", "Esc", "S"):
        assert key in keys, keys
    expect(panel).to_contain_text("Enter there adds a line")
    assert axe_violations(page) == []
