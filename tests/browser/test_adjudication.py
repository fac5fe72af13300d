"""A reviewer adjudicates by keyboard alone: from home to the adjudication page, a decision
in the kind's own keys, an item marked ambiguous, until none is left; axe-clean at phone and
laptop width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotation.models import Adjudication
from tests.adjudication.conftest import judged_campaign, people  # noqa: F401  (a fixture)
from tests.browser.conftest import axe_violations, log_in, screenshot, tab_to

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def disputed(judged_campaign):  # noqa: F811
    annotators = people("ann", 2)
    (reviewer,) = people("rev", 1)
    c = judged_campaign(
        kind="pairwise",
        settings={"reason": "optional"},
        payload_for=lambda i, _t, ids: {
            "outcome": "preferred",
            "preferred": ids[i],
            "reason": f"Annotator reason {i}.",
        },
        annotators=annotators,
        reviewers=[reviewer],
        prompts=2,
    )
    return c, reviewer


def test_a_reviewer_adjudicates_by_keyboard_alone(open_page, disputed):
    campaign, reviewer = disputed
    page = open_page()
    page.goto("/accounts/login/")
    log_in(page, reviewer)
    tab_to(page, f'a.button[href="/campaigns/{campaign.id}/adjudicate/"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_test_id("opinions").locator("article")).to_have_count(2)
    expect(page.get_by_test_id("opinions")).to_contain_text("Annotator reason 1.")
    expect(page.get_by_test_id("progress")).to_contain_text("2 disputed items wait")
    assert axe_violations(page) == []
    screenshot(page, "adjudication-laptop")
    first = Adjudication.objects.get(adjudicator=reviewer)
    # A, B: the task's candidates in their order.
    ids = list(first.task.task_candidates.order_by("position").values_list("message_id", flat=True))

    page.keyboard.press("b")  # B is right
    page.keyboard.press("r")  # into the reason
    page.keyboard.type("B answers it.")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator("#task .notice")).to_have_text("Saved.")
    first.refresh_from_db()
    assert first.state == "decided"
    assert first.payload == {
        "outcome": "preferred",
        "preferred": ids[1],
        "rejected": ids[0],
        "reason": "B answers it.",
    }
    expect(page.get_by_test_id("progress")).to_contain_text("1 disputed item waits")

    page.keyboard.press("s")  # ambiguous
    expect(page.get_by_test_id("empty")).to_be_visible()
    states = sorted(Adjudication.objects.values_list("state", flat=True))
    assert states == ["ambiguous", "decided"]


def test_the_adjudication_page_on_a_phone_is_axe_clean(open_page, disputed):
    campaign, reviewer = disputed
    page = open_page("phone")
    page.goto("/accounts/login/")
    log_in(page, reviewer)
    page.goto(f"/campaigns/{campaign.id}/adjudicate/")
    expect(page.get_by_test_id("opinions")).to_be_visible()
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "adjudication-phone")
