"""Judging on a phone (390x844, touch) without scrolling forever: a sticky action bar with the
choice, Submit and Skip; long responses folded so both are seen at a glance; ranking by tapping
a place, with no drag and no card jumping. The laptop (1440x900) keeps its own layout."""

import pytest
from playwright.sync_api import Page, expect

from annotation.models import Assignment, Judgment
from tests.browser.conftest import (
    PHONE,
    SCREENSHOTS,
    assignment_id,
    axe_violations,
    log_in,
    prompts,
    screenshot,
    task_path,
)

LONG = " ".join(
    f"Paragraph {i}: plants take in light, water and carbon dioxide and make sugar and oxygen."
    for i in range(40)
)


def in_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


@pytest.fixture
def long_pairwise(kind_campaign):
    return kind_campaign(
        "pairwise",
        n=2,
        settings={"reason": "optional", "allow_tie": True},
        content=prompts(2, k=2, texts={0: LONG, 1: LONG}),
    )


def test_on_a_phone_the_action_bar_stays_on_screen_and_judges(open_page, alice, long_pairwise):
    page = open_page("phone")
    log_in(page, alice, next_path=task_path(long_pairwise))
    bar = page.locator("#judge .actions")
    expect(bar).to_be_visible()
    first = assignment_id(page)
    assert in_view(page, "#judge .actions button.primary")  # Submit, without scrolling
    page.mouse.wheel(0, 600)
    page.wait_for_timeout(100)

    assert in_view(page, "#judge .actions button.primary")  # ...and still there scrolled
    # The screen as the annotator sees it, mid-task: the bar at its foot.
    page.screenshot(path=str(SCREENSHOTS / "task-pairwise-phone-bar.png"))

    choices = bar.locator(".bar-choice")
    expect(choices).to_have_text(["A is better", "B is better", "About the same", "Both are bad"])
    choices.nth(1).tap()
    expect(choices.nth(1)).to_have_attribute("aria-pressed", "true")
    expect(page.locator('#judge input[data-key="b"]')).to_be_checked()
    assert axe_violations(page) == []
    bar.get_by_role("button", name="Submit").tap()

    expect(page.locator("#task .notice")).to_have_text("Saved.")
    a = Assignment.objects.get(id=first)
    assert Judgment.objects.get(assignment=a).payload["preferred"] == a.display_order[1]
    page.locator("#judge .actions").get_by_role("button", name="Skip").tap()
    expect(page.locator("#task .notice")).to_have_text("Skipped.")


def test_on_a_laptop_the_actions_stay_in_the_page(open_page, alice, long_pairwise):
    page = open_page("laptop")
    log_in(page, alice, next_path=task_path(long_pairwise))
    actions = page.locator("#judge .actions")
    expect(actions).to_be_visible()
    assert actions.evaluate("e => getComputedStyle(e).position") == "static"
    expect(actions.locator(".bar-choices")).to_be_hidden()  # the choices are in the page
    expect(page.locator("[data-fold]")).to_have_count(0)  # nothing folded side by side
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    expect(page.locator("#task .notice")).to_have_text("Saved.")


def test_on_a_phone_both_long_responses_are_seen_at_a_glance(open_page, alice, long_pairwise):
    page = open_page("phone")
    log_in(page, alice, next_path=task_path(long_pairwise))
    page.locator("#cand-A").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(100)
    assert in_view(page, "#cand-A")
    assert in_view(page, "#cand-B")  # B's heading is on the same screen as A's

    unfold = page.locator("[data-fold]").first
    expect(unfold).to_have_text("Show the whole response")
    expect(unfold).to_have_attribute("aria-expanded", "false")
    folded = page.locator(".candidate .md.scroll").first.bounding_box()
    unfold.tap()
    expect(unfold).to_have_attribute("aria-expanded", "true")
    expect(unfold).to_have_text("Show less")
    unfolded = page.locator(".candidate .md.scroll").first.bounding_box()
    assert folded and unfolded and unfolded["height"] > 2 * folded["height"]
    assert axe_violations(page) == []


@pytest.mark.parametrize("width", ["phone", "laptop"])
def test_ranking_by_tapping_a_place_keeps_every_card_where_it_is(
    open_page, alice, kind_campaign, width
):
    campaign = kind_campaign("ranking", n=1)
    page = open_page(width)
    log_in(page, alice, next_path=task_path(campaign))
    a = Assignment.objects.get(id=assignment_id(page))
    cards = page.locator("[data-rank-item]")
    if width == "laptop":
        # A mouse and keys: drag handles and typed places, the tap buttons out of the way.
        expect(cards.first.locator("[data-grip]")).to_be_visible()
        expect(cards.first.locator(".place-input")).to_be_visible()
        expect(cards.first.locator("[data-place]").first).to_be_hidden()
        return
    expect(cards.first.locator("[data-grip]")).to_be_hidden()  # no HTML5 drag on touch
    where = (
        "els => els.map(e => "
        "[e.getAttribute('aria-labelledby'), e.getBoundingClientRect().top + window.scrollY])"
    )
    before = cards.evaluate_all(where)

    def tap(card: int, place: int) -> None:
        cards.nth(card).locator(f'[data-place="{place}"]').tap()

    tap(0, 1)  # A first...
    tap(1, 1)  # ...then B takes first: A gets B's old place (none yet)
    tap(2, 2)
    tap(0, 3)
    assert cards.evaluate_all(where) == before  # no card moved, in the page or in the list
    pressed = [cards.nth(i).locator('[aria-pressed="true"]').inner_text().strip() for i in range(3)]
    assert pressed == ["3", "1", "2"]
    screenshot(page, "task-ranking-phone-tap")
    assert axe_violations(page) == []
    page.locator("#judge .actions").get_by_role("button", name="Submit").tap()

    expect(page.locator("#task .notice, [data-testid=empty]").first).to_be_visible()
    first, second, third = a.display_order
    assert Judgment.objects.get(assignment=a).payload == {"ranking": [[second], [third], [first]]}
