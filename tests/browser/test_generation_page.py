"""The admin's generation page in a real browser with a real worker: the "Generate now" button
queues the campaign's requests and the page follows them to the end without a reload; a
failure shows its error, and its Retry sends it to the worker again."""

import json
import time

import pytest
from django.conf import settings
from playwright.sync_api import expect

from annotation.services import prompts_import
from generation.models import GenerationRequest, LanguageModel
from tests.browser.conftest import log_in, screenshot
from tests.conftest import embedded_worker

GENERATION_MS = 120_000


@pytest.fixture
def browser_worker(monkeypatch):
    # The live server's and the browser's threads come and go while it runs: no thread check.
    queues = [settings.CELERY_TASK_DEFAULT_QUEUE]
    with embedded_worker(monkeypatch, queues, check_threads=False) as w:
        yield w


@pytest.mark.django_db(transaction=True)
def test_the_admin_starts_generation_and_watches_it_finish_and_retries_a_failure(
    open_page, make_campaign, carol, browser_worker
):
    smol = LanguageModel.objects.create(
        name="smol-135m", backend="transformers", settings={"threads": 1},
        # Replies long enough that the page is still following them when it loads.
        sampling_params={"max_new_tokens": 40, "seed": 1},
    )  # fmt: skip
    # A model whose files are not on disk: a permanent error, failed at once.
    missing = LanguageModel.objects.create(
        name="missing-model", backend="transformers", settings={"model": "/nonexistent/model"}
    )
    campaign = make_campaign(responses_per_prompt=2, overlap=1)
    campaign.language_models.set([smol, missing])
    prompts_import(
        campaign=campaign,
        content="\n".join(json.dumps({"id": f"p{i}", "prompt": f"Count to {i}."}) for i in (2, 3)),
    )

    page = open_page()
    log_in(page, carol, next_path=f"/dashboard/{campaign.id}/generation/")
    with page.expect_navigation():
        page.get_by_role("button", name="Generate now").click()
    expect(page.get_by_role("status")).to_contain_text("Queued 4 generation requests.")
    page.evaluate("() => { window.notReloaded = true; }")
    counts = page.locator("[data-testid=generation-counts]")
    expect(counts).to_contain_text(
        "0 queued · 0 running · 2 done · 2 failed", timeout=GENERATION_MS
    )
    assert page.evaluate("() => window.notReloaded === true")  # htmx polling, not a reload

    failures = page.locator("[data-testid=generation-failures] tbody tr")
    expect(failures).to_have_count(2)
    expect(failures.first).to_contain_text("missing-model")
    expect(failures.first).to_contain_text("/nonexistent/model")
    expect(page.locator("[data-testid=generation-spend]")).to_contain_text("smol-135m")
    page.reload()  # the candidates table is not polled
    expect(page.locator("[data-testid=candidates] tbody tr")).to_have_count(2)
    screenshot(page, "dashboard-generation-failures-laptop")

    retried = int(failures.first.locator("td").first.inner_text().strip("#").split()[0])
    failures.first.get_by_role("button", name="Retry").click()
    deadline = time.monotonic() + GENERATION_MS / 1000
    request = GenerationRequest.objects.get(id=retried)
    while request.attempts < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        request.refresh_from_db()
    assert request.attempts == 2  # the worker ran it again
    expect(counts).to_contain_text("2 done · 2 failed", timeout=GENERATION_MS)
