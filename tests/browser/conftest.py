"""A real browser on the annotator's pages: Debian's Chromium driven by Playwright against
pytest-django's live server.

Playwright's own browser download is never used: the tests launch /usr/bin/chromium (`make
test` installs it where apt can) and skip, saying so, where it is missing. Every page a test
opens is watched: a request for anything but the live server (a CDN, a font, telemetry) or an
uncaught script error fails the test.
"""

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from annotation.models import Campaign, User
from annotation.services import prompts_import

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1440, "height": 900}
WIDTHS = {"phone": PHONE, "laptop": LAPTOP}
SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
# How long Playwright waits for something to appear: generous for a loaded CI machine, while a
# healthy page answers in milliseconds.
TIMEOUT_MS = 10_000


# Package scope: one browser for the browser tests, gone before the rest of the suite runs.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's Chromium at {CHROMIUM} "
            "(apt-get install chromium; `make test` does it where apt is available)"
        )
    # Playwright's sync API keeps an event loop running in this thread, which Django takes for
    # an async context and refuses ORM calls in; the tests' ORM calls are plain sync code.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            yield p
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    expect.set_options(timeout=TIMEOUT_MS)
    yield browser
    browser.close()


@dataclass
class Watch:
    """What the pages of one browser context asked for that they should not have."""

    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def request(self, request) -> None:
        url = urlsplit(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if url.hostname not in LOCAL_HOSTS:
            self.foreign.append(request.url)


@pytest.fixture
def open_page(browser: Browser, live_server) -> Iterator[Callable[..., Page]]:
    """open_page(width="laptop", locale="en-US", timezone="UTC") -> a fresh page in a fresh
    context (its own cookies and localStorage); the test fails if any of its pages reached off
    the machine."""
    contexts: list[tuple[BrowserContext, Watch]] = []

    def open_(
        width: str = "laptop", *, locale: str = "en-US", timezone: str = "UTC", context=None
    ) -> Page:
        if context is None:
            context = browser.new_context(
                viewport=WIDTHS[width],
                locale=locale,
                timezone_id=timezone,
                base_url=live_server.url,
                # Phones: touch and a narrow layout, as a 390 px device reports it.
                has_touch=width == "phone",
                reduced_motion="reduce",
            )
            context.set_default_timeout(TIMEOUT_MS)
            watch = Watch()
            context.on("request", watch.request)
            contexts.append((context, watch))
        else:
            watch = next(w for c, w in contexts if c is context)
        page = context.new_page()
        page.on("pageerror", lambda e: watch.errors.append(str(e)))
        # Anything the Content-Security-Policy blocked (an inline script, a handler, eval).
        page.on(
            "console",
            lambda m: (
                watch.errors.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )
        return page

    yield open_
    for context, watch in contexts:
        context.close()
        assert watch.foreign == [], f"pages requested non-local URLs: {watch.foreign}"
        assert watch.errors == [], f"script errors on the page: {watch.errors}"


# --- the cast and their campaigns -------------------------------------------------------------


def password_of(user: User) -> str:
    return "pw-" + user.get_username()  # as tests/conftest.py creates them


def log_in(page: Page, user: User, *, next_path: str = "/") -> None:
    """Log in with the keyboard alone: the username field has focus; Tab, Enter."""
    if not page.url.split("?")[0].endswith("/accounts/login/"):
        page.goto(f"/accounts/login/?next={next_path}")
    # Typing starts once the page has given the field its focus: a redirect to the login
    # page can match its URL before the page has loaded (keys typed then were lost).
    expect(page.locator("input[name=username]")).to_be_focused()
    page.keyboard.type(user.get_username())
    page.keyboard.press("Tab")
    page.keyboard.type(password_of(user))
    with page.expect_navigation():
        page.keyboard.press("Enter")


def tab_to(page: Page, selector: str, *, limit: int = 40) -> None:
    """Press Tab until the focused element matches `selector`, as a keyboard user would."""
    for _ in range(limit):
        if page.evaluate("(s) => !!document.activeElement?.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def jsonl(*rows: dict) -> str:
    return "\n".join(json.dumps(r) for r in rows)


def prompts(n: int, *, k: int, texts: dict[int, str] | None = None) -> str:
    """n prompts with k responses each (k=0: prompts alone, for replies)."""
    return jsonl(
        *(
            {
                "id": f"p{i}",
                "prompt": f"Question {i}: how do plants make food?",
                "responses": [
                    {
                        "text": (texts or {}).get(
                            j, f"Answer {i}.{j}: by photosynthesis, in light."
                        ),
                        "model": f"model-{j}",
                    }
                    for j in range(k)
                ],
            }
            for i in range(n)
        )
    )


# Each kind as the browser tests judge it: its campaign settings and responses per prompt.
KINDS: dict[str, tuple[dict | None, int]] = {
    "pairwise": (None, 2),
    "ranking": (None, 3),
    "rating": ({"attributes": [{"name": "helpfulness"}]}, 3),
    "binary": (None, 1),
    "label": (None, 1),
    "critique": (None, 1),
    "rewrite": (None, 1),
    "reply": (None, 0),
}


@pytest.fixture
def kind_campaign(make_campaign, alice) -> Callable[..., Campaign]:
    """kind_campaign("critique", n=2) -> an open campaign of that kind, alice its annotator."""

    def make(task_kind: str, *, n: int = 2, settings=None, content: str | None = None):
        default_settings, k = KINDS[task_kind]
        c = make_campaign(
            members=[alice],
            overlap=1,
            task_kind=task_kind,
            settings=settings if settings is not None else default_settings,
            instructions=(
                "Read the question and every response before you judge. "
                "**Accuracy first**, then clarity."
            ),
        )
        report = prompts_import(campaign=c, content=content or prompts(n, k=k))
        assert report.ok, report.lines
        return c

    return make


def task_path(campaign: Campaign) -> str:
    return f"/campaigns/{campaign.id}/"


def assignment_id(page: Page) -> int:
    action = page.locator("#judge").get_attribute("action") or ""
    match = re.search(r"/assignments/(\d+)/submit/", action)
    assert match, action
    return int(match.group(1))


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if page.evaluate("matchMedia('(pointer: coarse)').matches"):
        # Chromium's full-page capture drops the touch emulation for its shot (key hints meant
        # for keyboards would show on a phone's picture): a viewport as tall as the page keeps it.
        size = page.viewport_size
        assert size is not None
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
        page.screenshot(path=str(path))
        page.set_viewport_size(size)
    else:
        page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    # Through the DevTools protocol, which the page's Content-Security-Policy (no inline
    # scripts) does not apply to; a <script> tag would be refused, as it should be.
    page.evaluate(AXE.read_text() + "\n;undefined")
    results = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary),
            }));
        }"""
    )
    return [v for v in results if v["impact"] in ("serious", "critical")]
