"""Phone (390 px) and laptop (1440 px): responses side by side on a wide screen and stacked on
a narrow one, a long response scrolling inside its own panel, code keeping its formatting, and
no page wider than the screen."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import WIDTHS, jsonl, log_in, task_path

CODE = "def grow(plant):\n    if plant.has_light():\n        return plant.make_sugar()\n"
LONG_LINE = "x = " + " + ".join(f"term_{i}" for i in range(40))
LONG = "\n\n".join(
    [
        "Here is how a plant makes food, step by step.",
        f"```python\n{CODE}{LONG_LINE}\n```",
        *(f"Paragraph {i}: chlorophyll absorbs light and splits water." for i in range(60)),
    ]
)


@pytest.fixture
def long_campaign(kind_campaign):
    content = jsonl(
        {
            "id": "long",
            "prompt": "How do plants make food? Show code.",
            "responses": [
                {"text": LONG, "model": "model-a"},
                {"text": "Short answer: photosynthesis.", "model": "model-b"},
            ],
        }
    )
    return kind_campaign("pairwise", content=content)


def box(page: Page, selector: str) -> dict:
    b = page.locator(selector).bounding_box()
    assert b is not None, selector
    return b


def page_is_no_wider_than_the_screen(page: Page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


@pytest.mark.parametrize("width", ["phone", "laptop"])
def test_responses_sit_side_by_side_on_a_laptop_and_stack_on_a_phone(
    open_page, alice, long_campaign, width
):
    page = open_page(width)
    log_in(page, alice, next_path=task_path(long_campaign))
    a, b = box(page, "#cand-A >> xpath=.."), box(page, "#cand-B >> xpath=..")

    if width == "laptop":
        assert abs(a["y"] - b["y"]) < 1  # one row
        assert a["x"] + a["width"] <= b["x"]  # A left of B
        assert a["width"] > 500 and b["width"] > 500
    else:
        assert b["y"] >= a["y"] + a["height"]  # B below A
        assert abs(a["x"] - b["x"]) < 1
        assert a["width"] <= WIDTHS["phone"]["width"]
    assert page_is_no_wider_than_the_screen(page)
    # Every control is wide and tall enough to hit with a thumb.
    for label in page.locator("#judge label.choice").all():
        assert label.bounding_box()["height"] >= 44


@pytest.mark.parametrize("width", ["phone", "laptop"])
def test_a_long_response_scrolls_inside_its_panel(open_page, alice, long_campaign, width):
    page = open_page(width)
    log_in(page, alice, next_path=task_path(long_campaign))
    panels = page.locator(".candidate .scroll")
    long_panel = panels.filter(has_text="Paragraph 59")
    expect(long_panel).to_have_count(1)
    if width == "phone":
        # Folded to a glance on a phone (tests/browser/test_phone.py); unfolded, it scrolls.
        assert long_panel.evaluate("el => getComputedStyle(el).overflowY") == "hidden"
        page.get_by_role("button", name="Show the whole response").last.click()
        expect(long_panel).not_to_have_class("folded")

    sizes = long_panel.evaluate(
        "el => ({scroll: el.scrollHeight, client: el.clientHeight,"
        " overflow: getComputedStyle(el).overflowY})"
    )
    assert sizes["overflow"] == "auto"
    assert sizes["scroll"] > sizes["client"] * 2  # most of it is inside the panel
    assert sizes["client"] <= WIDTHS[width]["height"] * 0.6 + 1
    # The choices stay near: the panel does not push them a dozen screens down.
    assert box(page, "#judge fieldset.choices")["y"] < WIDTHS[width]["height"] * 2.5

    # Scrolled to its end, the panel shows its last paragraph inside its own box.
    long_panel.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    last = long_panel.get_by_text("Paragraph 59").bounding_box()
    frame = long_panel.bounding_box()
    assert frame["y"] <= last["y"]
    assert last["y"] + last["height"] <= frame["y"] + frame["height"] + 1


@pytest.mark.parametrize("width", ["phone", "laptop"])
def test_code_blocks_keep_their_formatting(open_page, alice, long_campaign, width):
    page = open_page(width)
    log_in(page, alice, next_path=task_path(long_campaign))
    pre = page.locator(".candidate pre").first

    assert pre.evaluate("el => getComputedStyle(el).whiteSpace") == "pre"
    code = pre.inner_text()
    assert "    if plant.has_light():\n        return plant.make_sugar()" in code
    assert LONG_LINE in code  # one line, not wrapped
    font = pre.locator("code").evaluate("el => getComputedStyle(el).fontFamily")
    assert "monospace" in font
    # A line wider than the panel scrolls sideways inside the block, not the page.
    overflow = pre.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert overflow[0] > overflow[1]
    assert page_is_no_wider_than_the_screen(page)
