"""Turning a running campaign into a study no longer locks its annotators out unwarned: the
admin sees who is at work before saving and chooses whether they keep working or go through
consent. A participant with a task limit sees "Task 2 of 3", not how many the campaign holds.
At laptop and phone width."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from annotation.models import Membership, Study
from annotation.services import prompts_import
from tests.browser.conftest import axe_violations, log_in, prompts, screenshot, task_path
from tests.studies.conftest import study_setup, through_to_tasks

SIZES = ["laptop", "phone"]


def save_study(page: Page) -> None:
    page.get_by_label("Consent text (Markdown)").fill("You may withdraw at any time.")
    page.get_by_role("button", name="Save the study").click()


@pytest.mark.parametrize("width", SIZES)
@pytest.mark.parametrize("choice", ["keep", "consent"])
def test_the_admin_is_warned_and_chooses_what_becomes_of_the_annotators_at_work(
    open_page, alice, carol, kind_campaign, width, choice
):
    campaign = kind_campaign("pairwise", n=3)  # open, alice annotating
    admin = open_page(width)
    log_in(admin, carol, next_path=f"/dashboard/{campaign.id}/study/")
    warning = admin.get_by_test_id("existing-warning")
    expect(warning).to_contain_text("1 annotator is already working on this campaign")
    if width == "laptop" and choice == "keep":
        screenshot(admin, "study-existing-warning-laptop")
    assert axe_violations(admin) == []

    save_study(admin)  # no choice made: nothing saved, the question asked again
    expect(warning.locator(".error")).to_contain_text("choose whether they keep working")
    assert not Study.objects.filter(campaign=campaign).exists()

    label = "Keep working as they are" if choice == "keep" else "Go through consent"
    admin.get_by_label(label).check()
    save_study(admin)
    expect(admin.locator(".notice, [role=status]").first).to_contain_text("Saved the study")
    assert Study.objects.filter(campaign=campaign).exists()

    member = Membership.objects.get(campaign=campaign, user=alice)
    annotator = open_page(width)
    log_in(annotator, alice, next_path=task_path(campaign))
    if choice == "keep":
        assert member.stage == Membership.Stage.READY
        expect(annotator.locator("#judge")).to_be_visible()  # still at work, no consent page
    else:
        assert member.stage == Membership.Stage.CONSENT
        expect(annotator.locator("h1")).to_have_text("Consent to take part")


@pytest.mark.parametrize("width", SIZES)
def test_a_participant_sees_their_place_among_their_own_tasks(
    open_page, live_server, make_campaign, width
):
    campaign = make_campaign(overlap=1)
    assert prompts_import(campaign=campaign, content=prompts(21, k=2)).ok
    study_setup(campaign, crowd_links_open=True, tasks_per_participant=3)
    client = Client()
    through_to_tasks(client, campaign, "CAP1")
    page = open_page(width)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.goto(task_path(campaign))
    progress = page.get_by_test_id("progress")

    expect(progress).to_have_text("Task 1 of 3")
    page.locator('input[data-key="a"]').check()
    page.get_by_role("button", name="Submit").click()
    expect(progress).to_have_text("Task 2 of 3")
    assert "available" not in progress.inner_text()
    if width == "phone":
        screenshot(page, "study-task-of-cap-phone")
    assert axe_violations(page) == []
