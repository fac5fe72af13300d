"""The small things that add up, at laptop and phone width: a lease's end in the reader's own
time zone, Likert scales that name their ends, the page's own message for a missing answer
(never the browser's bubble), and an admin who cannot flag or block themselves."""

from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from annotation.models import Assignment, Judgment
from tests.browser.conftest import assignment_id, axe_violations, log_in, task_path

SIZES = ["laptop", "phone"]


@pytest.mark.parametrize("width", SIZES)
def test_the_lease_ends_at_a_time_in_the_readers_own_zone(open_page, alice, kind_campaign, width):
    campaign = kind_campaign("pairwise")
    page = open_page(width, timezone="America/Sao_Paulo")  # UTC-3 all year
    log_in(page, alice, next_path=task_path(campaign))
    lease = page.locator("p.lease")
    expect(lease).to_contain_text("Reserved for you until")
    ends = Assignment.objects.get(id=assignment_id(page)).expires_at
    local = ends.astimezone(ZoneInfo("America/Sao_Paulo")).strftime("%I:%M %p")

    expect(lease).to_contain_text(local)
    expect(lease).to_contain_text("GMT-3")
    expect(lease).not_to_contain_text("UTC")


@pytest.mark.parametrize("width", SIZES)
def test_a_likert_scale_of_numbers_names_its_ends(open_page, alice, kind_campaign, width):
    campaign = kind_campaign("rating", n=1)  # helpfulness on the default 1-5 scale
    page = open_page(width)
    log_in(page, alice, next_path=task_path(campaign))
    first_scale = page.locator("fieldset.scale").first
    points = first_scale.locator("label.point")

    expect(points.first).to_have_text("1 lowest")
    expect(points.last).to_have_text("5 highest")
    expect(points.nth(2)).to_have_text("3")
    expect(page.get_by_role("radio", name="5 highest").first).to_be_visible()
    assert axe_violations(page) == []


@pytest.mark.parametrize("width", SIZES)
def test_a_missing_answer_is_said_by_the_page_not_the_browser(
    open_page, alice, kind_campaign, width
):
    campaign = kind_campaign("pairwise")
    page = open_page(width)
    log_in(page, alice, next_path=task_path(campaign))
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    # The browser's own check would stop the form with its bubble and no event; the form is
    # novalidate, so the page's check runs instead.
    assert page.evaluate("document.getElementById('judge').noValidate") is True

    if width == "phone":
        page.get_by_role("button", name="Submit").tap()
    else:
        page.keyboard.press("Enter")

    message = page.locator("#judge-invalid")
    expect(message).to_be_visible()
    expect(message).to_have_text("Not sent yet: answer “Which response is better?” first.")
    expect(page.locator('input[name="choice"]').first).to_be_focused()
    assert sent == []  # nothing went to the server
    assert axe_violations(page) == []

    page.locator('input[data-key="a"]').check()
    expect(message).to_be_hidden()
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#task .notice")).to_have_text("Saved.")
    assert Judgment.objects.filter(annotator=alice).count() == 1


@pytest.mark.parametrize("width", SIZES)
def test_an_admin_cannot_flag_or_block_themself(open_page, alice, carol, kind_campaign, width):
    campaign = kind_campaign("pairwise")  # carol administers it, alice annotates
    page = open_page(width)
    log_in(page, carol, next_path=f"/dashboard/{campaign.id}/setup/people/")
    rows = page.locator("table.data tbody tr")
    mine = rows.filter(has_text="carol")
    theirs = rows.filter(has_text="alice")

    expect(mine.locator(".member-buttons")).to_contain_text("you")
    expect(mine.get_by_role("button", name="Flag")).to_have_count(0)
    expect(mine.get_by_role("button", name="Block")).to_have_count(0)
    expect(theirs.get_by_role("button", name="Flag")).to_be_visible()
    expect(theirs.get_by_role("button", name="Block")).to_be_visible()
    assert axe_violations(page) == []
