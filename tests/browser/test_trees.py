"""In a real browser: a prompt's image on the task page, and the reviewer's keyboard page
(issue 9; the rest of its tests are in tests/trees/, here for the package's one browser)."""

import pytest
from playwright.sync_api import expect

from annotation.models import JudgmentReview, Membership
from annotation.services import membership_add, prompts_import
from tests.browser.conftest import axe_violations, log_in, screenshot, task_path
from tests.exports.conftest import judge_all
from tests.trees.media import image_prompt_line


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db(transaction=True)
def test_a_prompt_with_an_image_is_shown_with_it(make_campaign, alice, open_page):
    campaign = make_campaign(members=[alice], overlap=1)
    assert prompts_import(campaign=campaign, content=image_prompt_line()).ok
    for width in ("laptop", "phone"):
        page = open_page(width)
        log_in(page, alice, next_path=task_path(campaign))
        image = page.get_by_role("img", name="Image 1 of the message")
        expect(image).to_be_visible()
        # Loaded through the access-checked view, and decoded as the 40 by 30 PNG it is
        # (visible comes before loaded: wait for its load or error event first).
        size = image.evaluate(
            """i => i.complete ? [true, i.naturalWidth, i.naturalHeight] : new Promise(done => {
                const settle = () => done([i.complete, i.naturalWidth, i.naturalHeight]);
                i.addEventListener("load", settle); i.addEventListener("error", settle);
            })"""
        )
        assert size == [True, 40, 30]
        expect(page.get_by_test_id("reference")).to_contain_text("A teal square.")
        assert axe_violations(page) == []
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        screenshot(page, f"task-image-{width}")


@pytest.mark.django_db(transaction=True)
def test_a_reviewer_decides_with_the_keyboard(make_campaign, alice, bob, open_page):
    campaign = make_campaign(members=[alice], overlap=1, review_stage=True)
    membership_add(campaign=campaign, user=bob, role=Membership.Role.REVIEWER)
    assert prompts_import(campaign=campaign, content=image_prompt_line()).ok
    judge_all(campaign, alice, lambda a: {"outcome": "preferred", "preferred": a.display_order[0]})
    page = open_page()
    log_in(page, bob, next_path=f"/campaigns/{campaign.id}/review/")
    expect(page.get_by_test_id("payload")).to_contain_text('"outcome": "preferred"')
    expect(page.get_by_role("img", name="Image 1 of the message")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "review-laptop")
    page.keyboard.press("a")
    expect(page.get_by_test_id("empty")).to_be_visible()
    assert JudgmentReview.objects.get().decision == "accepted"
