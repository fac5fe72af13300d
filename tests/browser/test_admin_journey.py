"""The campaign admin's own pages in a real browser: the top bar's Dashboard link and the
campaign list, people added in bulk with an invite link that a newcomer opens on a phone to
set a password and start judging, and the Export tab starting a Parquet job on a real worker,
following it to the end without a reload, and downloading the file. Every page passes axe,
is reached by keyboard, and fits a 390 px screen."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_violations, log_in, screenshot, tab_to
from tests.conftest import embedded_worker
from tests.exports.conftest import judge_all, prefer_model_b

JOB_MS = 30_000


@pytest.fixture
def export_worker(monkeypatch):
    # The live server's and the browser's threads come and go while it runs: no thread check.
    with embedded_worker(monkeypatch, ["exports"], check_threads=False) as w:
        yield w


def fits(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    # What sticks out (outside the scrolling tables and tabs), to say where to look.
    wide = page.evaluate(
        """() => [...document.querySelectorAll("body *")]
            .filter(e => !e.closest(".tabs, .scroll-x")
                && e.getBoundingClientRect().right > document.documentElement.clientWidth)
            .slice(0, 5).map(e => e.tagName + " " + e.textContent.slice(0, 20))"""
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the screen: {wide}"


@pytest.mark.django_db(transaction=True)
def test_the_admin_invites_people_in_bulk_and_a_newcomer_joins_from_a_phone(
    open_page, campaign, carol, alice
):
    page = open_page("phone")
    log_in(page, carol)
    # The top bar leads to the dashboard, and the list shows how far each campaign is.
    tab_to(page, "header a[href='/dashboard/']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    row = page.locator(f"tr[data-campaign='{campaign.id}']")
    expect(row.get_by_test_id("progress")).to_contain_text("0 of 6 tasks done")
    fits(page)
    assert axe_violations(page) == []

    page.goto(f"/dashboard/{campaign.id}/setup/people/")
    tab_to(page, "#id_people")
    page.keyboard.type("alice\nnewbie\nbad name\n")
    tab_to(page, "input[name=create]")
    page.keyboard.press("Space")
    tab_to(page, "[data-testid=people-form] button.primary")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Added 1 of 3 lines")
    expect(page.get_by_role("status")).to_contain_text("not added: bad name")
    report = page.get_by_test_id("people-report")
    expect(report.locator("tr[data-status=created]")).to_contain_text("newbie")
    expect(report.locator("tr[data-status=already]")).to_contain_text("alice")
    expect(report.locator("tr[data-status=invalid]")).to_contain_text("bad name")
    link = page.get_by_label("Invite link for newbie").input_value()
    screenshot(page, "people-bulk-phone")
    fits(page)
    assert axe_violations(page) == []

    newcomer = open_page("phone")
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading")).to_contain_text(f"Join {campaign.name}")
    assert axe_violations(newcomer) == []
    expect(newcomer.locator("#id_new_password1")).to_be_focused()
    newcomer.keyboard.type("a long passphrase")
    newcomer.keyboard.press("Tab")
    newcomer.keyboard.type("a long passphrase")
    with newcomer.expect_navigation():
        newcomer.keyboard.press("Enter")
    assert newcomer.url.endswith(f"/campaigns/{campaign.id}/")
    expect(newcomer.locator("#judge")).to_be_visible()
    newcomer.goto(link)  # used once
    expect(newcomer.get_by_role("alert")).to_contain_text("has been used")


@pytest.mark.django_db(transaction=True)
def test_the_export_tab_runs_a_parquet_job_and_downloads_it(
    open_page, campaign, carol, alice, export_worker, exports_dir, tmp_path
):
    judge_all(campaign, alice, prefer_model_b)
    page = open_page("phone")
    log_in(page, carol, next_path=f"/dashboard/{campaign.id}/")
    tab_to(page, "nav.tabs a[href$='/exports/']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_text("No export yet.")).to_be_visible()
    fits(page)
    assert axe_violations(page) == []

    # A format the campaign cannot fill: refused with its reason, nothing started.
    page.get_by_label("Format", exact=True).select_option("ratings")
    with page.expect_navigation():
        page.get_by_role("button", name="Start export").click()
    expect(page.get_by_role("alert")).to_contain_text("reads rating judgments")
    assert axe_violations(page) == []

    page.get_by_label("Format", exact=True).select_option("preference")
    page.get_by_label("Container").select_option("parquet")
    tab_to(page, "[data-testid=export-form] button.primary")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("started: preference as parquet")
    page.evaluate("() => { window.notReloaded = true; }")
    job = page.get_by_test_id("export-jobs").locator("tbody tr").first
    expect(job.get_by_test_id("job-state")).to_have_text("done", timeout=JOB_MS)
    assert page.evaluate("() => window.notReloaded === true")  # htmx polling, not a reload
    expect(job).to_contain_text("6")  # rows
    screenshot(page, "export-tab-phone")
    fits(page)
    assert axe_violations(page) == []

    with page.expect_download() as download:
        job.get_by_role("link", name="Download").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == f"{campaign.slug}-preference.parquet"
    assert pq.read_table(path).num_rows == 6


@pytest.mark.django_db(transaction=True)
def test_the_gold_tab_sets_a_tasks_gold_by_keyboard_on_a_phone(open_page, campaign, carol):
    from annotation.models import Task

    task = Task.objects.filter(campaign=campaign).order_by("id").first()
    page = open_page("phone")
    log_in(page, carol, next_path=f"/dashboard/{campaign.id}/gold/")
    form = page.locator(f"section[data-task='{task.id}'] form")
    tab_to(page, f"section[data-task='{task.id}'] input[value=none]")
    page.keyboard.press("ArrowDown")  # the radio group: the first response is the better one
    tab_to(page, f"section[data-task='{task.id}'] button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"Gold set on task {task.id}.")
    expect(page.get_by_test_id("gold-count")).to_contain_text("1 task with gold")
    task.refresh_from_db()
    assert task.gold["outcome"] == "preferred"
    expect(form.locator("input:checked")).to_have_value(f"preferred:{task.gold['preferred']}")
    screenshot(page, "gold-phone")
    fits(page)
    assert axe_violations(page) == []
