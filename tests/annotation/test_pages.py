"""The annotator's pages, through Django's test client: login, home, the task page, htmx submits."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation.models import Assignment, Campaign, Judgment, Task
from annotation.services import prompts_import, task_lease_next
from tests.conftest import pairwise_lines

# Pages render {% static %}; tests/conftest.py's _static_without_manifest lets them do so
# without a collectstatic.

HTMX = {"HTTP_HX_REQUEST": "true"}


# --- helpers --------------------------------------------------------------------------------


def task_url(campaign) -> str:
    return reverse("campaign_task", args=[campaign.id])


def submit_url(assignment) -> str:
    return reverse("assignment_submit", args=[assignment.id])


def skip_url(assignment) -> str:
    return reverse("assignment_skip", args=[assignment.id])


def active_assignment(user, campaign) -> Assignment:
    return Assignment.objects.get(campaign=campaign, annotator=user, state=Assignment.State.ACTIVE)


def form_assignment_id(html: str) -> int:
    match = re.search(r'action="/assignments/(\d+)/submit/"', html)
    assert match, "no judging form on the page"
    return int(match.group(1))


def open_task(client, user, campaign) -> Assignment:
    """Log `user` in, open the campaign's task page and return the lease it shows."""
    client.force_login(user)
    response = client.get(task_url(campaign))
    assert response.status_code == 200
    assignment = active_assignment(user, campaign)
    assert form_assignment_id(response.content.decode()) == assignment.id
    return assignment


def judge_form(assignment, *, key: str = "key-1", **extra) -> dict[str, str]:
    return {
        "choice": str(assignment.display_order[0]),
        "idempotency_key": key,
        "seconds_spent": "12.5",
        **extra,
    }


def jsonl(*rows: dict) -> str:
    return "\n".join(json.dumps(r) for r in rows)


# --- login ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_redirects_anonymous_visitors_of_home_to_the_login_page(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=/"


def test_it_redirects_anonymous_visitors_of_a_campaign_to_the_login_page(client, campaign):
    response = client.get(task_url(campaign))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert task_url(campaign) in response["Location"]


@pytest.mark.django_db
def test_the_login_page_renders_a_username_and_password_form(client):
    response = client.get(reverse("login"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert "Log in" in html


def test_logging_in_with_username_and_password_opens_home(client, alice, campaign):
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-alice"})

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert campaign.name in home.content.decode()


def test_logging_in_with_a_wrong_password_is_refused(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logging_in_returns_to_the_page_asked_for(client, alice, campaign):
    response = client.post(
        reverse("login"),
        {"username": "alice", "password": "pw-alice", "next": task_url(campaign)},
    )

    assert response.status_code == 302
    assert response["Location"] == task_url(campaign)


# --- home and access ------------------------------------------------------------------------


def test_home_lists_my_campaign_with_done_and_available_counts(client, alice, campaign):
    client.force_login(alice)

    response = client.get(reverse("home"))

    html = response.content.decode()
    assert response.status_code == 200
    assert campaign.name in html
    assert task_url(campaign) in html
    assert "0 done · 6 available" in html


def test_home_counts_update_after_a_judgment(client, alice, campaign):
    assignment = open_task(client, alice, campaign)
    client.post(submit_url(assignment), judge_form(assignment))

    html = client.get(reverse("home")).content.decode()

    # The judged task is never offered to alice again: 5 of the 6 are left for her.
    assert "1 done · 5 available" in html
    assert "Continue" in html


def test_home_offers_to_continue_a_task_leased_to_me(client, alice, make_campaign):
    c = make_campaign(members=[alice], overlap=1)
    prompts_import(campaign=c, content=pairwise_lines(1))
    open_task(client, alice, c)

    html = client.get(reverse("home")).content.decode()

    assert re.search(r'class="button primary" href="[^"]+">(Start|Continue)</a>', html)


def test_it_lists_no_campaign_for_someone_without_access(client, mallory, campaign):
    client.force_login(mallory)

    response = client.get(reverse("home"))

    html = response.content.decode()
    assert response.status_code == 200
    assert campaign.name not in html
    assert "No campaign is open to you" in html


def test_someone_without_access_gets_404_on_the_campaign_page(client, mallory, campaign):
    client.force_login(mallory)

    response = client.get(task_url(campaign))

    assert response.status_code == 404
    assert not Assignment.objects.filter(annotator=mallory).exists()


def test_it_lists_only_campaigns_open_to_me(client, alice, bob, campaign, make_campaign):
    other = make_campaign(members=[bob], overlap=1)
    prompts_import(campaign=other, content=pairwise_lines(2))
    client.force_login(alice)

    html = client.get(reverse("home")).content.decode()

    assert campaign.name in html
    assert other.name not in html
    assert task_url(other) not in html


def test_a_campaign_i_am_not_a_member_of_is_404_for_me(client, alice, bob, make_campaign):
    other = make_campaign(members=[bob], overlap=1)
    prompts_import(campaign=other, content=pairwise_lines(2))
    client.force_login(alice)

    response = client.get(task_url(other))

    assert response.status_code == 404
    assert "Prompt number" not in response.content.decode()
    assert not Assignment.objects.filter(annotator=alice).exists()


# --- the task page --------------------------------------------------------------------------


@pytest.fixture
def blind_campaign(make_campaign, alice):
    """A campaign whose response texts do not contain the names of the models that wrote them
    (pairwise_lines writes the model's name into each answer)."""
    c = make_campaign(members=[alice], overlap=1)
    report = prompts_import(
        campaign=c,
        content=jsonl(
            {
                "id": "q1",
                "prompt": "What is the boiling point of water?",
                "responses": [
                    {"text": "It boils at 100 degrees Celsius.", "model": "model-a"},
                    {"text": "Water boils at 212 degrees Fahrenheit.", "model": "model-b"},
                ],
            }
        ),
    )
    assert report.ok, report.lines
    return c


def test_the_task_page_shows_the_prompt_and_both_responses(client, alice, blind_campaign):
    client.force_login(alice)

    response = client.get(task_url(blind_campaign))

    html = response.content.decode()
    assert response.status_code == 200
    assert "What is the boiling point of water?" in html
    assert "It boils at 100 degrees Celsius." in html
    assert "Water boils at 212 degrees Fahrenheit." in html
    assert "Response A" in html
    assert "Response B" in html


def test_the_task_page_never_shows_the_model_names(client, alice, blind_campaign):
    client.force_login(alice)

    html = client.get(task_url(blind_campaign)).content.decode()

    assert "It boils at 100 degrees Celsius." in html  # the page did render the task
    assert "model-a" not in html
    assert "model-b" not in html


def test_the_task_page_offers_every_choice_with_its_candidate_ids(client, alice, campaign):
    assignment = open_task(client, alice, campaign)

    html = client.get(task_url(campaign)).content.decode()

    values = re.findall(r'name="choice" value="([^"]+)"', html)
    assert values == [str(i) for i in assignment.display_order] + ["tie", "both_bad"]


def test_the_task_page_shows_the_keyboard_shortcuts(client, alice, campaign):
    client.force_login(alice)

    html = client.get(task_url(campaign)).content.decode()

    for key in ("A", "B", "T", "X", "Enter", "S"):
        assert f"<kbd>{key}</kbd>" in html, key
    assert "Keyboard shortcuts" in html
    assert "<kbd>A or ←</kbd>" in html


def test_the_task_page_shows_my_progress(client, alice, campaign):
    client.force_login(alice)

    html = client.get(task_url(campaign)).content.decode()

    assert "<strong>0</strong> done" in html
    # The task on screen is leased to alice and counts among the 6 available to her.
    assert "<strong>6</strong> available" in html


def test_it_requires_login_to_submit(client, alice, campaign):
    assignment = task_lease_next(annotator=alice, campaign=campaign)

    response = client.post(submit_url(assignment), judge_form(assignment))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Judgment.objects.exists()


# --- escaping of model output ---------------------------------------------------------------


def test_a_script_in_a_model_output_is_shown_escaped(client, alice, make_campaign):
    c = make_campaign(members=[alice], overlap=1)
    report = prompts_import(
        campaign=c,
        content=jsonl(
            {
                "id": "xss",
                "prompt": "Say hello <b>loudly</b>",
                "responses": [
                    {"text": "Hello <script>alert(1)</script> there", "model": "m1"},
                    {"text": "<img src=x onerror=alert(1)>", "model": "m2"},
                ],
            }
        ),
    )
    assert report.ok, report.lines
    client.force_login(alice)

    response = client.get(task_url(c))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html
    assert "<b>loudly</b>" not in html
    assert "&lt;b&gt;loudly&lt;/b&gt;" in html


# --- submitting -----------------------------------------------------------------------------


def test_an_htmx_submit_returns_the_card_with_the_next_task(client, alice, campaign):
    assignment = open_task(client, alice, campaign)
    chosen = assignment.display_order[1]

    response = client.post(
        submit_url(assignment), judge_form(assignment, choice=str(chosen)), **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="task"')
    assert "Saved." in html
    assert "<strong>1</strong> done" in html
    next_id = form_assignment_id(html)
    assert next_id != assignment.id
    assert active_assignment(alice, campaign).id == next_id

    judgment = Judgment.objects.get()
    assert judgment.assignment_id == assignment.id
    assert judgment.annotator == alice
    assert judgment.payload["outcome"] == "preferred"
    assert judgment.payload["preferred"] == chosen
    assert judgment.payload["rejected"] == assignment.display_order[0]
    assert judgment.seconds_spent == 12.5
    assignment.refresh_from_db()
    assert assignment.state == Assignment.State.SUBMITTED


def test_an_htmx_submit_stores_the_strength_on_a_campaign_with_a_scale(
    client, alice, make_campaign
):
    c = make_campaign(members=[alice], overlap=1, settings={"strength_levels": 3})
    prompts_import(campaign=c, content=pairwise_lines(3))
    assignment = open_task(client, alice, c)
    page = client.get(task_url(c)).content.decode()
    assert 'name="strength" value="3"' in page

    response = client.post(
        submit_url(assignment), judge_form(assignment, strength="3", reason="clearer"), **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert form_assignment_id(html) != assignment.id
    assert "<strong>1</strong> done" in html
    judgment = Judgment.objects.get()
    assert judgment.payload == {
        "outcome": "preferred",
        "preferred": assignment.display_order[0],
        "rejected": assignment.display_order[1],
        "strength": 3,
        "reason": "clearer",
    }


def test_a_tie_can_be_submitted_from_the_page(client, alice, campaign):
    assignment = open_task(client, alice, campaign)

    response = client.post(submit_url(assignment), judge_form(assignment, choice="tie"), **HTMX)

    assert response.status_code == 200
    assert Judgment.objects.get().payload == {"outcome": "tie"}


def test_a_submit_without_htmx_redirects_to_the_campaign_page(client, alice, campaign):
    assignment = open_task(client, alice, campaign)

    response = client.post(submit_url(assignment), judge_form(assignment))

    assert response.status_code == 302
    assert response["Location"] == task_url(campaign)
    assert Judgment.objects.filter(assignment=assignment).count() == 1
    follow = client.get(response["Location"]).content.decode()
    assert "<html" in follow
    assert form_assignment_id(follow) != assignment.id
    assert "<strong>1</strong> done" in follow


def test_a_form_without_a_choice_is_refused_with_422_and_keeps_my_reason(client, alice, campaign):
    assignment = open_task(client, alice, campaign)
    form = judge_form(assignment, reason="B rambles & repeats <itself>")
    del form["choice"]

    response = client.post(submit_url(assignment), form, **HTMX)

    html = response.content.decode()
    assert response.status_code == 422
    assert 'role="alert"' in html
    assert "Pick the better response" in html
    assert ">B rambles &amp; repeats &lt;itself&gt;</textarea>" in html
    # The same task stays on screen, with nothing stored.
    assert form_assignment_id(html) == assignment.id
    assert not Judgment.objects.exists()
    assignment.refresh_from_db()
    assert assignment.state == Assignment.State.ACTIVE


def test_a_refused_form_keeps_the_chosen_strength_checked(client, alice, make_campaign):
    c = make_campaign(members=[alice], overlap=1, settings={"strength_levels": 2})
    prompts_import(campaign=c, content=pairwise_lines(1))
    assignment = open_task(client, alice, c)
    form = judge_form(assignment, strength="2")
    del form["choice"]

    response = client.post(submit_url(assignment), form)

    html = response.content.decode()
    assert response.status_code == 422
    assert re.search(r'name="strength" value="2" data-key="2" checked', html)
    assert not re.search(r'name="strength" value="1" data-key="1" checked', html)
    assert not Judgment.objects.exists()


def test_a_refused_form_keeps_the_chosen_response_checked(client, alice, make_campaign):
    # No reason on a campaign that requires one: refused, but the choice stays selected.
    c = make_campaign(members=[alice], overlap=1, settings={"reason": "required"})
    prompts_import(campaign=c, content=pairwise_lines(1))
    assignment = open_task(client, alice, c)
    chosen = assignment.display_order[1]

    response = client.post(submit_url(assignment), judge_form(assignment, choice=str(chosen)))

    html = response.content.decode()
    assert response.status_code == 422
    assert "Please give a reason." in html
    assert re.search(rf'name="choice" value="{chosen}" data-key="b" checked', html)
    assert not Judgment.objects.exists()


def test_posting_the_same_form_twice_stores_one_judgment(client, alice, campaign):
    assignment = open_task(client, alice, campaign)
    form = judge_form(assignment, key="same-key")

    first = client.post(submit_url(assignment), form, **HTMX)
    second = client.post(submit_url(assignment), form, **HTMX)

    assert first.status_code == 200
    assert second.status_code == 200
    assert Judgment.objects.filter(annotator=alice).count() == 1
    assert Judgment.objects.get().assignment_id == assignment.id
    # The repeat does not move alice on a second time.
    assert form_assignment_id(second.content.decode()) == form_assignment_id(first.content.decode())
    assert "<strong>1</strong> done" in second.content.decode()


# --- skipping -------------------------------------------------------------------------------


def test_skipping_marks_the_task_skipped_and_shows_another(client, alice, campaign):
    assignment = open_task(client, alice, campaign)

    response = client.post(skip_url(assignment), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "Skipped." in html
    assert "<strong>0</strong> done" in html
    assert form_assignment_id(html) != assignment.id
    assignment.refresh_from_db()
    assert assignment.state == Assignment.State.SKIPPED
    assert assignment.finished_at is not None
    assert not Judgment.objects.exists()
    task = Task.objects.get(id=assignment.task_id)
    assert task.leased_count == 0


def test_skipping_without_htmx_redirects_to_the_campaign_page(client, alice, campaign):
    assignment = open_task(client, alice, campaign)

    response = client.post(skip_url(assignment))

    assert response.status_code == 302
    assert response["Location"] == task_url(campaign)
    assignment.refresh_from_db()
    assert assignment.state == Assignment.State.SKIPPED
    follow = client.get(task_url(campaign)).content.decode()
    assert form_assignment_id(follow) != assignment.id


def test_a_skipped_task_is_never_offered_to_me_again(client, alice, make_campaign):
    c = make_campaign(members=[alice], overlap=1)
    prompts_import(campaign=c, content=pairwise_lines(1))
    assignment = open_task(client, alice, c)

    response = client.post(skip_url(assignment), **HTMX)

    assert response.status_code == 200
    assert "Nothing left for you here" in response.content.decode()


# --- other people's tasks -------------------------------------------------------------------


def test_i_cannot_submit_someone_elses_assignment(client, alice, bob, campaign):
    bobs = task_lease_next(annotator=bob, campaign=campaign)
    client.force_login(alice)

    response = client.post(submit_url(bobs), judge_form(bobs), **HTMX)

    assert response.status_code == 404
    assert not Judgment.objects.exists()
    bobs.refresh_from_db()
    assert bobs.state == Assignment.State.ACTIVE


def test_i_cannot_skip_someone_elses_assignment(client, alice, bob, campaign):
    bobs = task_lease_next(annotator=bob, campaign=campaign)
    client.force_login(alice)

    response = client.post(skip_url(bobs), **HTMX)

    assert response.status_code == 404
    bobs.refresh_from_db()
    assert bobs.state == Assignment.State.ACTIVE
    assert bobs.finished_at is None


def test_it_only_accepts_post_for_submit_and_skip(client, alice, campaign):
    assignment = open_task(client, alice, campaign)

    assert client.get(submit_url(assignment)).status_code == 405
    assert client.get(skip_url(assignment)).status_code == 405
    assignment.refresh_from_db()
    assert assignment.state == Assignment.State.ACTIVE


# --- nothing left, late submits -------------------------------------------------------------


def test_it_shows_the_empty_state_when_every_task_is_done_or_leased(
    client, alice, bob, make_campaign
):
    c = make_campaign(members=[alice, bob], overlap=1)
    prompts_import(campaign=c, content=pairwise_lines(2))
    bobs = task_lease_next(annotator=bob, campaign=c)  # one task leased to bob
    alices = open_task(client, alice, c)  # the other one for alice
    assert alices.task_id != bobs.task_id

    response = client.post(submit_url(alices), judge_form(alices), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing left for you here" in html
    assert 'data-testid="empty"' in html
    assert 'name="choice"' not in html
    assert "<strong>1</strong> done · <strong>0</strong> available" in html
    page = client.get(task_url(c)).content.decode()
    assert "Nothing left for you here" in page


def test_the_empty_state_shows_on_a_campaign_with_no_tasks(client, alice, make_campaign):
    c = make_campaign(members=[alice], overlap=1)
    client.force_login(alice)

    response = client.get(task_url(c))

    assert response.status_code == 200
    assert "Nothing left for you here" in response.content.decode()


def test_a_late_submit_shows_the_expiry_message_and_stores_nothing(client, alice, campaign):
    assignment = open_task(client, alice, campaign)
    Assignment.objects.filter(id=assignment.id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = client.post(submit_url(assignment), judge_form(assignment), **HTMX)

    html = response.content.decode()
    assert response.status_code == 409
    assert "Your time on this task ran out" in html
    assert "not saved" in html
    assert not Judgment.objects.exists()
    # Nobody took the slot meanwhile, so the same task comes back with the answer kept.
    assert form_assignment_id(html) == assignment.id
    choice = judge_form(assignment)["choice"]
    assert re.search(rf'value="{choice}"[^>]*checked', html)
    assert "<strong>0</strong> done" in html


def test_a_late_submit_after_someone_took_the_slot_loses_the_task(
    client, alice, bob, make_campaign
):
    c = make_campaign(members=[alice, bob], overlap=1)
    prompts_import(campaign=c, content=pairwise_lines(1))
    assignment = open_task(client, alice, c)
    Assignment.objects.filter(id=assignment.id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert task_lease_next(annotator=bob, campaign=c).task_id == assignment.task_id

    response = client.post(submit_url(assignment), judge_form(assignment), **HTMX)

    html = response.content.decode()
    assert response.status_code == 409
    assert "this answer was not stored" in html
    assert not Judgment.objects.exists()
    assignment.refresh_from_db()
    assert assignment.state == Assignment.State.EXPIRED
    assert "Nothing left for you here" in html


def test_a_submit_after_the_campaign_closed_stores_nothing_and_keeps_my_text(
    client, alice, campaign
):
    assignment = open_task(client, alice, campaign)
    Campaign.objects.filter(id=campaign.id).update(state=Campaign.State.CLOSED)

    form = judge_form(assignment, reason="A is kinder to the reader.")
    response = client.post(submit_url(assignment), form, **HTMX)

    html = response.content.decode()
    assert response.status_code == 409
    assert "This campaign is closed; this answer was not stored." in html
    assert 'data-testid="kept"' in html and "A is kinder to the reader." in html
    assert not Judgment.objects.exists()
    skipped = client.post(skip_url(assignment), **HTMX)
    assert skipped.status_code == 409 and "This campaign is closed." in skipped.content.decode()
    assignment.refresh_from_db()
    assert assignment.state == Assignment.State.ACTIVE  # not skipped; swept when it runs out


def test_a_draft_campaign_is_hidden_from_annotators(client, alice, make_campaign):
    draft = make_campaign(members=[alice], state="draft")
    client.force_login(alice)
    assert client.get(task_url(draft)).status_code == 404
    assert draft.name not in client.get(reverse("home")).content.decode()


def test_a_large_campaign_shows_a_capped_available_count(client, alice, campaign, monkeypatch):
    from annotation.selectors import campaigns as selectors

    monkeypatch.setattr(selectors, "AVAILABLE_COUNT_CAP", 3)
    client.force_login(alice)
    html = client.get(task_url(campaign)).content.decode()
    assert "<strong>3+</strong> available" in html


def test_the_shortcuts_and_roles_follow_the_annotators_language(client, alice, campaign):
    client.force_login(alice)
    html = client.get(task_url(campaign), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Saltar esta tarea" in html and "La respuesta A es mejor" in html
    assert "Usuario" in html  # the role of the prompt's message
    english = client.get(task_url(campaign), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Skip this task" in english and "Saltar" not in english


def test_a_refused_form_explains_itself_in_the_annotators_language(client, alice, campaign):
    assignment = open_task(client, alice, campaign)
    response = client.post(
        submit_url(assignment), {"idempotency_key": "k"}, HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="es",
    )  # fmt: skip
    assert response.status_code == 422
    assert "Elige la mejor respuesta" in response.content.decode()
