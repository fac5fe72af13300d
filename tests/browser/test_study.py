"""A study participant in a real browser: the Prolific link, consent, the survey, the
practice questions, tasks with their conversation guidance, and the completion code."""

import json

from playwright.sync_api import expect

from annotation.models import Judgment, Membership, Participant, Profile
from annotation.services import prompts_import
from tests.browser.conftest import axe_violations, log_in, prompts, screenshot, tab_to
from tests.studies.conftest import CODE, study_setup


def test_a_participant_goes_from_the_study_link_to_the_completion_code(open_page, make_campaign):
    campaign = make_campaign(overlap=1)
    rows = [json.loads(line) for line in prompts(2, k=2).splitlines()]
    for row in rows:
        row["conversation_type"] = "values_guided"
    assert prompts_import(campaign=campaign, content="\n".join(map(json.dumps, rows))).ok
    study_setup(campaign, crowd_links_open=True)

    page = open_page("phone")
    page.goto(f"/study/{campaign.slug}/?PROLIFIC_PID=BROWSER1&STUDY_ID=s1&SESSION_ID=x1")
    expect(page.locator("h1")).to_have_text("Consent to take part")
    expect(page.locator("[data-testid=consent-text] strong")).to_have_text(
        "You may withdraw at any time."
    )
    screenshot(page, "study-consent")
    page.get_by_role("button", name="I agree").click()
    expect(page.locator(".error")).to_contain_text("Tick the box to agree")
    page.get_by_label("I have read the text above and agree to take part.").check()
    page.get_by_role("button", name="I agree").click()

    expect(page.locator("h1")).to_have_text("About you")
    assert axe_violations(page) == []
    page.get_by_label("How old are you?").select_option("25-34 years old")
    page.get_by_label("What is your gender?").select_option("Prefer not to say")
    page.get_by_label("In which country do you live?").select_option("New Zealand")
    page.get_by_label("Values").fill("90")
    page.get_by_label("Describe yourself in a few sentences.").fill("A gardener.")
    screenshot(page, "study-survey")
    page.get_by_role("button", name="Continue").click()

    expect(page.locator("h1")).to_contain_text("Practice")
    page.get_by_label("Rome").check()
    page.get_by_role("button", name="Check my answer").click()
    expect(page.get_by_test_id("feedback")).to_contain_text("the expected answer is “Paris”")
    screenshot(page, "study-practice-feedback")
    page.get_by_role("link", name="Next question").click()
    page.get_by_label("Blue").check()
    page.get_by_role("button", name="Check my answer").click()
    page.get_by_role("link", name="Continue").click()
    # One practice answer wrong under a pass mark of 1.0: the clear page, no task.
    expect(page.locator("h1")).to_have_text("Thank you for trying")
    participant = Participant.objects.get(campaign=campaign, external_id="BROWSER1")
    assert participant.membership.stage == Membership.Stage.FAILED

    # A second participant answers the practice right and does the tasks.
    page = open_page("laptop")
    page.goto(f"/study/{campaign.slug}/?PROLIFIC_PID=BROWSER2&STUDY_ID=s1&SESSION_ID=x2")
    page.get_by_label("I have read the text above and agree to take part.").check()
    page.get_by_role("button", name="I agree").click()
    page.get_by_label("How old are you?").select_option("18-24 years old")
    page.get_by_label("What is your gender?").select_option("Female")
    page.get_by_label("In which country do you live?").select_option("Kenya")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Paris").check()
    page.get_by_role("button", name="Check my answer").click()
    expect(page.get_by_test_id("feedback")).to_contain_text("Right.")
    page.get_by_role("link", name="Next question").click()
    page.get_by_label("Blue").check()
    page.get_by_role("button", name="Check my answer").click()
    page.get_by_role("link", name="Continue").click()

    for n in range(2):
        expect(page.get_by_test_id("guidance")).to_contain_text("represents your values")
        expect(page.locator("#judge")).to_be_visible()
        if n == 0:
            screenshot(page, "study-task-guidance")
        page.keyboard.press("b")
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("progress")).not_to_contain_text("0 done")
    screenshot(page, "study-tasks-done")
    page.get_by_test_id("finish").click()
    expect(page.get_by_test_id("completion-code")).to_have_text(CODE)
    screenshot(page, "study-complete")
    second = Participant.objects.get(campaign=campaign, external_id="BROWSER2")
    user = second.membership.user
    assert Judgment.objects.filter(annotator=user).count() == 2
    assert Profile.objects.get(user=user).answers["location"]["reside_countryISO"] == "KE"
    second.membership.refresh_from_db()
    assert second.membership.stage == Membership.Stage.COMPLETED


def test_the_admin_sees_who_took_part_against_the_quota(open_page, make_campaign, carol):
    from django.test import Client

    from tests.studies.conftest import SURVEY, through_to_tasks

    campaign = make_campaign(overlap=1)
    assert prompts_import(campaign=campaign, content=prompts(2, k=2)).ok
    study_setup(campaign, crowd_links_open=True)
    campaign.quotas = {
        "steer": True,
        "dimensions": [
            {
                "question": "age",
                "unit": "share",
                "targets": {"18-24 years old": 0.5, "25-34 years old": 0.5},
            }
        ],
    }
    campaign.save(update_fields=["quotas"])
    for n, age in enumerate(["18-24 years old", "25-34 years old", "25-34 years old"]):
        through_to_tasks(Client(), campaign, f"A{n}", survey={**SURVEY, "age": age})
    page = open_page("laptop")
    log_in(page, carol, next_path=f"/dashboard/{campaign.id}/participants/")
    section = page.get_by_test_id("breakdown-age")
    expect(section).to_contain_text("25-34 years old")
    expect(section.locator("svg")).to_be_visible()
    expect(page.get_by_test_id("stages")).to_contain_text("Taking tasks")
    screenshot(page, "study-admin-participants")


def test_a_signed_in_person_is_asked_before_a_study_link_switches_accounts(
    open_page, make_campaign, carol
):
    """On a phone, by keyboard: the page says who is signed in, staying is a link away, and
    going on is one button that posts the page's form."""
    campaign = make_campaign(overlap=1)
    assert prompts_import(campaign=campaign, content=prompts(2, k=2)).ok
    study_setup(campaign, crowd_links_open=True)
    page = open_page("phone")
    log_in(page, carol)

    page.goto(f"/study/{campaign.slug}/?PROLIFIC_PID=SWITCH1&STUDY_ID=s1&SESSION_ID=x1")

    expect(page.locator("h1")).to_have_text("Take part as this study's participant?")
    expect(page.get_by_test_id("study-switch")).to_contain_text("signed in as carol")
    expect(page.get_by_role("link", name="Stay signed in as carol")).to_be_visible()
    assert axe_violations(page) == []
    assert not Participant.objects.filter(campaign=campaign, external_id="SWITCH1").exists()
    tab_to(page, "button[name=confirm]")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Consent to take part")
    participant = Participant.objects.get(campaign=campaign, external_id="SWITCH1")
    expect(page.locator(".who")).to_have_text(participant.membership.user.username)
