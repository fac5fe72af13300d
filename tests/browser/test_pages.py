"""Every annotator page at phone and laptop width: axe-core finds no serious or critical
violation, the page is no wider than the screen, the keyboard focus is always visible, and a
screenshot lands in var/screenshots/ (docs/screenshots/ keeps a few for the README)."""

import json

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from tests.browser.conftest import KINDS, Watch, axe_violations, screenshot, task_path

PROMPT = "How do plants make their food?"
RESPONSES = [
    "Plants make food by **photosynthesis**:\n\n"
    "1. Chlorophyll in the leaves absorbs sunlight.\n"
    "2. Roots take up water; leaves take in carbon dioxide.\n"
    "3. Light energy turns them into glucose, and oxygen is released.\n\n"
    "```\n6 CO2 + 6 H2O + light -> C6H12O6 + 6 O2\n```",
    "They use sunlight. The green parts of the plant catch light and make sugar from air "
    "and water, giving off oxygen.",
    "Plants absorb nutrients from the soil through their roots, which is how they eat.",
]
SHOWCASE = "\n".join(
    json.dumps(
        {
            "id": f"plants-{i}",
            "prompt": PROMPT,
            "responses": [{"text": t, "model": f"model-{j}"} for j, t in enumerate(RESPONSES)],
        }
    )
    for i in range(2)
)
TITLES = {
    "pairwise": "Plants: which answer is better?",
    "ranking": "Plants: order the answers",
    "rating": "Plants: how helpful is each answer?",
    "binary": "Plants: would you ship this answer?",
    "label": "Plants: label the answer",
    "critique": "Plants: critique the answer",
    "rewrite": "Plants: rewrite the answer",
    "reply": "Plants: answer the question yourself",
}
PAGES = ["login", "home", *(f"task-{kind}" for kind in KINDS), "empty"]


def enter_as(page: Page, user, live_server) -> None:
    """A logged-in browser without the login form (tests/browser/test_annotating.py types it)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def visit(page: Page, name: str, campaign) -> None:
    if name == "login":
        page.goto("/accounts/login/")
    elif name == "home":
        page.goto("/")
    else:
        page.goto(task_path(campaign))
    page.locator("body").wait_for()
    # axe judges the page as the annotator meets it; focus rings come up in their own test.
    page.evaluate("document.activeElement && document.activeElement.blur()")


@pytest.mark.parametrize("width", ["phone", "laptop"])
@pytest.mark.parametrize("name", PAGES)
def test_every_page_passes_axe_fits_the_screen_and_is_photographed(
    open_page, live_server, alice, make_campaign, kind_campaign, name, width
):
    campaign = None
    if name == "empty":
        campaign = make_campaign(members=[alice])  # nothing imported: nothing to judge
    elif name.startswith("task-"):
        kind = name.removeprefix("task-")
        campaign = kind_campaign(kind, content=SHOWCASE if KINDS[kind][1] else None)
        campaign.name = TITLES[kind]
        campaign.save(update_fields=["name"])
    elif name == "home":
        for kind in ("pairwise", "critique"):
            c = kind_campaign(kind, content=SHOWCASE)
            c.name, c.description = TITLES[kind], "How plants make their food, asked twice."
            c.save(update_fields=["name", "description"])
    page = open_page(width)
    if name != "login":
        enter_as(page, alice, live_server)

    visit(page, name, campaign)
    if name == "empty":
        expect(page.get_by_test_id("empty")).to_be_visible()
    elif campaign is not None:
        expect(page.locator("#judge")).to_be_visible()

    screenshot(page, f"{name}-{width}")
    assert axe_violations(page) == []
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_keyboard_focus_is_always_visible(open_page, live_server, alice, kind_campaign, kind):
    campaign = kind_campaign(kind, content=SHOWCASE if KINDS[kind][1] else None)
    page = open_page()
    enter_as(page, alice, live_server)
    page.goto(task_path(campaign))
    expect(page.locator("#judge")).to_be_visible()

    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focus = page.evaluate(
            """() => {
                const el = document.activeElement;
                const own = getComputedStyle(el);
                const label = el.closest("label");
                const ring = (s) => s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2;
                return {
                    what: el.tagName + (el.name ? "[" + el.name + "]" : el.id ? "#" + el.id : ""),
                    visible: ring(own) || (!!label && ring(getComputedStyle(label))),
                    body: el === document.body,
                };
            }"""
        )
        if focus["body"]:
            break
        seen.append(focus)
    assert len(seen) >= 5
    assert [f["what"] for f in seen if not f["visible"]] == []


def test_the_saved_notice_and_a_refused_form_pass_axe(open_page, live_server, alice, kind_campaign):
    campaign = kind_campaign("rating", content=SHOWCASE)
    page = open_page()
    enter_as(page, alice, live_server)
    page.goto(task_path(campaign))
    # Sent without the browser's own checks, the form comes back refused, with its message.
    page.evaluate("document.getElementById('judge').noValidate = true")
    page.locator("#judge button.primary").click()
    expect(page.locator("#task .error")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "task-rating-refused-laptop")

    page.locator("#judge input[data-point]").first.focus()
    for _ in range(3):
        page.keyboard.press("3")
        page.keyboard.press("Tab")
    page.locator("#judge button.primary").click()
    expect(page.locator("#task .notice")).to_be_visible()
    assert axe_violations(page) == []


def test_the_watch_catches_a_page_reaching_off_the_machine(browser):
    # Every test's pages are watched (conftest.open_page); this shows the watch does see one.
    context = browser.new_context()
    watch = Watch()
    context.on("request", watch.request)
    # Answered in the browser, so this test itself sends nothing anywhere.
    context.route("https://cdn.example.com/**", lambda route: route.fulfill(status=204))
    page = context.new_page()
    with page.expect_request("https://cdn.example.com/**"):
        page.set_content('<img src="https://cdn.example.com/pixel.png" alt="">')
    context.close()
    assert watch.foreign == ["https://cdn.example.com/pixel.png"]
