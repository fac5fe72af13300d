"""Settings as forms and campaigns as code in a real browser: an admin sets a rating's
attributes as rows (an error under the cell it names, what was typed kept), previews the task
as an annotator (the real task page, nothing saved), and makes a campaign from a
pasted spec. Each page passes axe and is photographed, on a laptop and a phone."""

import pytest
from playwright.sync_api import Page, expect

from annotation.models import Campaign, Judgment, Study

from .conftest import axe_violations, log_in, screenshot

RATING = {
    "attributes": [{"name": "helpfulness", "scale": {"type": "likert", "points": list("1234")}}]
}


@pytest.mark.parametrize("width", ["laptop", "phone"])
def test_an_admin_sets_a_rating_up_with_fields_and_previews_it(
    open_page, make_campaign, carol, width
):
    campaign = make_campaign(task_kind="rating", settings=RATING, state=Campaign.State.DRAFT)
    page: Page = open_page(width)
    log_in(page, carol, next_path=f"/dashboard/{campaign.id}/setup/task/")
    page.get_by_label("Question shown above the task").fill("How good is the reply?")
    page.get_by_label("attributes 2: name").fill("honesty")
    page.get_by_label("attributes 2: points").fill("only one")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.locator("#error-attributes-1-points")).to_contain_text(
        "at least two labelled points"
    )
    expect(page.get_by_label("attributes 2: points")).to_have_value("only one")
    expect(page.get_by_label("Question shown above the task")).to_have_value(
        "How good is the reply?"
    )
    assert axe_violations(page) == []
    screenshot(page, f"dashboard-setup-fields-error-{width}")

    page.get_by_label("attributes 2: points").fill("no, yes")
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="Preview as an annotator").click()
    preview = opened.value
    expect(preview.get_by_test_id("preview-banner")).to_be_visible()
    expect(preview.get_by_text("How good is the reply?")).to_be_visible()
    expect(preview.locator("legend", has_text="honesty").first).to_be_visible()
    assert axe_violations(preview) == []
    screenshot(preview, f"dashboard-setup-preview-{width}")
    assert not Judgment.objects.exists()
    campaign.refresh_from_db()
    assert campaign.settings["question"] != "How good is the reply?"  # a preview saves nothing

    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(
        f"{page.url.split('/dashboard/')[0]}/dashboard/{campaign.id}/setup/trees/"
    )
    campaign.refresh_from_db()
    assert [a["name"] for a in campaign.settings["attributes"]] == ["helpfulness", "honesty"]


def test_an_admin_makes_a_campaign_from_a_pasted_spec(open_page, make_campaign, carol):
    make_campaign()
    page: Page = open_page("phone")
    log_in(page, carol, next_path="/dashboard/")
    page.get_by_role("link", name="New from spec").click()
    page.get_by_label("Spec").fill("name: From a spec\nslug: from-spec\ntask_kind: rating\n")
    page.get_by_role("button", name="Create the campaign").click()
    expect(page.locator("#error-spec")).to_contain_text("settings.attributes")
    page.get_by_label("Spec").fill(
        "name: From a spec\nslug: from-spec\ntask_kind: rating\n"
        "settings:\n  attributes:\n    - name: helpfulness\n"
    )
    page.get_by_role("button", name="Create the campaign").click()
    expect(page.get_by_test_id("state")).to_have_text("Draft")
    campaign = Campaign.objects.get(slug="from-spec")
    page.get_by_role("link", name="Spec", exact=True).click()
    expect(page.get_by_test_id("download-yaml")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "dashboard-campaign-spec-phone")
    assert campaign.settings["attributes"][0]["name"] == "helpfulness"


@pytest.mark.parametrize("width", ["laptop", "phone"])
def test_an_admin_sets_a_studys_practice_item_with_fields(open_page, make_campaign, carol, width):
    campaign = make_campaign()
    page: Page = open_page(width)
    log_in(page, carol, next_path=f"/dashboard/{campaign.id}/study/")
    page.get_by_label("Item 1: question").fill("Which reply is kinder?")
    page.get_by_label("Item 1: options").fill("The first\nThe second")
    page.get_by_label("Item 1: right option").fill("3")
    page.get_by_role("button", name="Save the study").click()

    expect(page.locator("#error-qualification-0-answer")).to_contain_text("index of the right")
    expect(page.get_by_label("Item 1: right option")).to_have_value("3")
    assert axe_violations(page) == []
    screenshot(page, f"dashboard-study-fields-error-{width}")

    page.get_by_label("Item 1: right option").fill("2")
    page.get_by_role("button", name="Save the study").click()
    expect(page.get_by_role("status")).to_have_text("Saved the study.")
    study = Study.objects.get(campaign=campaign)
    assert study.qualification["items"][0]["answer"] == 1
