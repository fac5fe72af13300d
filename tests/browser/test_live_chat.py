"""Live chat in a real browser with a real worker and the default model: the replies' text
appears in the page while the worker streams it, then the participant rates them and the
ratings are stored; the admin's generation page shows what was spent."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

from annotation.models import Judgment, Message
from tests.browser.conftest import axe_violations, log_in, screenshot
from tests.conftest import embedded_worker
from tests.generation.live_helpers import live_campaign, smol_models

# The worker loads the model on its first request: minutes on a loaded CI machine at worst.
GENERATION_MS = 120_000
SEEN = """() => [...document.querySelectorAll('[data-testid=streaming] .streaming')]
    .map(e => e.innerText.replace('▍', '').trim()).filter(t => t.length > 0)"""
STREAMED_TEXT = f"() => ({SEEN})().length > 0"


@pytest.fixture
def browser_worker(monkeypatch):
    # The live server's and the browser's threads come and go while it runs: no thread check.
    queues = [settings.CELERY_TASK_DEFAULT_QUEUE]
    with embedded_worker(monkeypatch, queues, check_threads=False) as w:
        yield w


@pytest.mark.django_db(transaction=True)
def test_replies_stream_into_the_page_and_the_ratings_are_saved(
    open_page, make_campaign, alice, carol, default_model, browser_worker
):
    # Long enough replies that the page polls while they are being written.
    models = smol_models(2, max_new_tokens=48)
    campaign = live_campaign(make_campaign, [alice], models, live_first_replies=2)
    page = open_page()
    log_in(page, alice, next_path=f"/campaigns/{campaign.id}/chat/")
    page.locator("#text").fill("Tell me a long story about the sea.")
    with page.expect_navigation():
        page.get_by_role("button", name="Send").click()

    page.wait_for_function(STREAMED_TEXT, timeout=GENERATION_MS)
    seen = page.evaluate(SEEN)
    screenshot(page, "live-chat-streaming-laptop")
    expect(page.locator("#judge")).to_be_visible(timeout=GENERATION_MS)
    screenshot(page, "live-chat-rating-laptop")
    assert [v["id"] for v in axe_violations(page)] == []
    # What the page showed mid-stream is the start of a reply as stored.
    stored = [" ".join(m.text.split()) for m in Message.objects.filter(role="assistant")]
    assert len(stored) == 2 and seen
    for text in seen:
        assert any(reply.startswith(" ".join(text.split())) for reply in stored), (text, stored)

    sliders = page.locator("input[type=range]")
    expect(sliders).to_have_count(2)
    names = [sliders.nth(i).get_attribute("name") for i in range(2)]
    ids = [int(n.split("-")[1]) for n in names]
    sliders.nth(0).fill("25")
    sliders.nth(1).fill("90")
    page.locator(f"input[name=chosen][value='{ids[1]}']").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save my ratings").click()

    expect(page.locator("[data-state=rated]")).to_be_visible()
    expect(page.locator("article.chosen")).to_contain_text("your choice")
    judgment = Judgment.objects.get(annotator=alice)
    assert judgment.payload["ratings"] == {str(ids[0]): {"score": 25}, str(ids[1]): {"score": 90}}
    assert judgment.payload["followup"]["chosen"] == ids[1]
    screenshot(page, "live-chat-rated-laptop")

    admin = open_page()
    log_in(admin, carol, next_path=f"/dashboard/{campaign.id}/generation/")
    expect(admin.locator("[data-testid=generation-counts]")).to_contain_text("2 done")
    expect(admin.locator("[data-testid=generation-spend]")).to_contain_text("smol-0")
    screenshot(admin, "dashboard-generation-laptop")
