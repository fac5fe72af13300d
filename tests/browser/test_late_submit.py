"""A submit that arrives after the lease ran out: a clear 409, and the annotator's text kept,
in the form when the task comes back to them, to copy when it went to someone else."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from annotation.models import Assignment, Judgment
from annotation.services import membership_add, task_lease_next
from tests.browser.conftest import assignment_id, log_in, screenshot, task_path

TEXT = "The second answer forgets that the moon has no light of its own. سلام 👋"


def _expire(assignment: int) -> None:
    Assignment.objects.filter(id=assignment).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def _write_and_submit(page) -> None:
    page.keyboard.press("c")  # the critique box
    page.keyboard.type(TEXT)


def test_a_late_submit_keeps_the_text_in_the_form_when_the_task_comes_back(
    open_page, alice, kind_campaign
):
    campaign = kind_campaign("critique", n=2)
    page = open_page()
    log_in(page, alice, next_path=task_path(campaign))
    assignment = assignment_id(page)
    _write_and_submit(page)
    _expire(assignment)
    with page.expect_response(lambda r: "/submit/" in r.url) as answer:
        page.keyboard.press("Control+Enter")
    assert answer.value.status == 409
    expect(page.locator("#task > .error")).to_contain_text("Your time on this task ran out")
    expect(page.locator("#judge textarea[name=text]")).to_have_value(TEXT)
    assert assignment_id(page) == assignment  # nobody took it: still alice's
    assert not Judgment.objects.exists()


def test_a_late_submit_offers_the_text_to_copy_when_someone_else_took_the_task(
    open_page, alice, bob, kind_campaign
):
    campaign = kind_campaign("critique", n=1)
    membership_add(campaign=campaign, user=bob)
    page = open_page()
    log_in(page, alice, next_path=task_path(campaign))
    assignment = assignment_id(page)
    _write_and_submit(page)
    _expire(assignment)
    taken = task_lease_next(annotator=bob, campaign=campaign)
    assert taken is not None and taken.id != assignment

    with page.expect_response(lambda r: "/submit/" in r.url) as answer:
        page.keyboard.press("Control+Enter")
    assert answer.value.status == 409
    expect(page.locator("#task > .error")).to_contain_text("not stored")
    kept = page.get_by_test_id("kept")
    expect(kept.locator("textarea")).to_have_value(TEXT)
    kept.get_by_role("button", name="Copy what I wrote").click()
    expect(kept.locator("textarea")).to_be_focused()
    assert page.evaluate("() => window.getSelection().toString() || "
                         "document.activeElement.value.substring("
                         "document.activeElement.selectionStart,"
                         "document.activeElement.selectionEnd)") == TEXT  # fmt: skip
    screenshot(page, "late-submit-kept-text")
    assert not Judgment.objects.exists()
