"""The "Trees and review" setup step and the people page's roles, in a real browser: an admin
turns trees on, a bad rule is named under its field with what was typed kept, and a member is
made reviewer; each page passes axe and is photographed."""

import pytest
from playwright.sync_api import Page, expect

from annotation.models import Campaign, Membership

from .conftest import axe_violations, log_in, screenshot


@pytest.mark.parametrize("width", ["laptop", "phone"])
def test_an_admin_sets_trees_review_and_a_reviewer_in_the_browser(
    open_page, make_campaign, carol, alice, bob, width
):
    campaign = make_campaign(members=[alice, bob], state=Campaign.State.DRAFT)
    page: Page = open_page(width)
    log_in(page, carol, next_path=f"/dashboard/{campaign.id}/setup/trees/")
    expect(page.get_by_role("link", name="3. Trees and review")).to_have_attribute(
        "aria-current", "step"
    )
    page.get_by_label("Grow conversation trees by rules").check()
    page.get_by_label("Deepest message").fill("0")
    page.get_by_label("“Write a prompt” tasks kept open").fill("2")
    page.get_by_label("Reviewers accept, reject or correct each judgment").check()
    page.get_by_label("Audio").check()
    page.get_by_role("button", name="Save and continue").click()

    expect(page.locator("#error-max_depth")).to_have_text(
        "max_depth must be a whole number from 1 to 50."
    )
    expect(page.get_by_label("“Write a prompt” tasks kept open")).to_have_value("2")
    expect(page.get_by_label("Audio")).to_be_checked()
    assert axe_violations(page) == []
    screenshot(page, f"dashboard-setup-trees-error-{width}")
    campaign.refresh_from_db()
    assert (campaign.tree, campaign.review_stage) == ({}, False)

    page.get_by_label("Deepest message").fill("3")
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(
        f"{page.url.split('/dashboard/')[0]}/dashboard/{campaign.id}/setup/prompts/"
    )
    campaign.refresh_from_db()
    assert (campaign.tree["max_depth"], campaign.review_stage, campaign.media_kinds) == (
        3, True, ["audio"],
    )  # fmt: skip
    assert campaign.tasks.count() == 2

    page.goto(f"/dashboard/{campaign.id}/setup/people/")
    bob_member = Membership.objects.get(campaign=campaign, user=bob)
    page.get_by_label("Role of bob").select_option("reviewer")
    page.locator(f"#role-{bob_member.id} ~ button").click()
    expect(page.get_by_role("status")).to_have_text("bob is now reviewer.")
    expect(page.get_by_label("Role of bob")).to_have_value("reviewer")
    assert axe_violations(page) == []
    screenshot(page, f"dashboard-setup-people-{width}")
    bob_member.refresh_from_db()
    assert bob_member.role == Membership.Role.REVIEWER
