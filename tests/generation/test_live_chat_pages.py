"""The live chat pages: start a conversation, watch the replies stream (the polled turn shows
what the worker has written so far), rate them in a form, carry on with the chosen one."""

import re

import pytest
from django.urls import reverse

from annotation.models import Conversation, Judgment, Message
from generation.models import GenerationRequest
from generation.services import live_chat_start
from tests.generation.live_helpers import live_campaign, run_requests_here, smol_models


@pytest.fixture
def live(make_campaign, alice, bob):
    return live_campaign(make_campaign, [alice, bob], smol_models(1), live_first_replies=2)


def chat_url(name, campaign, conversation, *extra):
    return reverse(name, args=[campaign.id, conversation.id, *extra])


def test_the_home_page_offers_the_live_chat(client, alice, live):
    client.force_login(alice)
    html = client.get(reverse("home")).content.decode()
    assert reverse("live_chats", args=[live.id]) in html


def test_writing_a_first_turn_starts_a_conversation_and_queues_its_replies(
    client, alice, live, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks() as queued:
        r = client.post(reverse("live_chats", args=[live.id]), {"text": "What is rain?"})
    conversation = Conversation.objects.get(campaign=live)
    assert r.status_code == 302
    assert r["Location"] == chat_url("live_chat", live, conversation)
    assert len(queued) == 1  # one request (one model, n=2), sent once committed
    assert GenerationRequest.objects.get(parent__conversation=conversation).n == 2
    page = client.get(r["Location"]).content.decode()
    assert "What is rain?" in page and 'data-state="generating"' in page
    assert 'hx-trigger="every 500ms"' in page
    listing = client.get(reverse("live_chats", args=[live.id])).content.decode()
    assert chat_url("live_chat", live, conversation) in listing and "· 1 turn<" in listing


def test_an_empty_turn_is_refused_and_the_page_says_why(client, alice, live):
    client.force_login(alice)
    r = client.post(reverse("live_chats", args=[live.id]), {"text": "  "})
    assert r.status_code == 422 and "Write a message first." in r.content.decode()
    assert not Conversation.objects.exists()


def test_the_polled_turn_shows_the_text_the_worker_has_written_so_far(client, alice, live):
    conversation = live_chat_start(campaign=live, participant=alice, text="Hi")
    # What generation_run writes while a reply streams (the worker test checks it does).
    GenerationRequest.objects.filter(parent__conversation=conversation).update(
        state="running", partial_texts=["<b>Hel</b>", ""]
    )
    client.force_login(alice)
    turn = client.get(chat_url("live_chat_turn", live, conversation)).content.decode()
    assert "&lt;b&gt;Hel&lt;/b&gt;" in turn and "<b>Hel" not in turn  # model text is escaped
    assert "Response A" in turn and "Response B" in turn
    assert "smol-0" not in turn  # never the model's name
    assert 'hx-trigger="every 500ms"' in turn


def test_rating_in_the_page_saves_the_scores_and_offers_the_next_turn(client, alice, live):
    conversation = live_chat_start(campaign=live, participant=alice, text="Hi")
    run_requests_here(conversation)
    client.force_login(alice)
    page = client.get(chat_url("live_chat", live, conversation)).content.decode()
    assert 'data-state="rating"' in page and "hx-trigger" not in page
    action = re.search(r'<form id="judge"[^>]*action="([^"]+)"', page).group(1)
    ids = [int(i) for i in re.findall(r'name="rate-(\d+)-0"', page)]
    assert len(ids) == 2
    r = client.post(
        action,
        {
            f"rate-{ids[0]}-0": "20", f"rate-{ids[1]}-0": "80", "chosen": str(ids[1]),
            "idempotency_key": "page-1", "seconds_spent": "4.5",
        },
    )  # fmt: skip
    assert r.status_code == 302
    judgment = Judgment.objects.get()
    assert judgment.payload["ratings"] == {str(ids[0]): {"score": 20}, str(ids[1]): {"score": 80}}
    assert judgment.payload["followup"]["chosen"] == ids[1]
    page = client.get(r["Location"]).content.decode()
    assert 'data-state="rated"' in page and "your choice" in page
    r = client.post(chat_url("live_chat_say", live, conversation), {"text": "Tell me more"})
    assert r.status_code == 302
    turn = Message.objects.get(text="Tell me more")
    assert turn.parent_id == ids[1] and turn.author == alice


def test_a_choice_that_is_not_the_highest_score_is_refused_keeping_the_scores(client, alice, live):
    conversation = live_chat_start(campaign=live, participant=alice, text="Hi")
    run_requests_here(conversation)
    client.force_login(alice)
    page = client.get(chat_url("live_chat", live, conversation)).content.decode()
    action = re.search(r'<form id="judge"[^>]*action="([^"]+)"', page).group(1)
    a, b = (int(i) for i in re.findall(r'name="rate-(\d+)-0"', page))
    r = client.post(
        action, {f"rate-{a}-0": "20", f"rate-{b}-0": "80", "chosen": str(a),
                 "idempotency_key": "page-2"},
    )  # fmt: skip
    assert r.status_code == 422
    html = r.content.decode()
    assert "The chosen response must have the highest score." in html
    assert f'"rate-{a}-0": ["20"]' in html  # the draft comes back for the page to restore
    assert not Judgment.objects.exists()


def test_nobody_else_sees_or_rates_a_participants_conversation(client, alice, bob, live):
    conversation = live_chat_start(campaign=live, participant=alice, text="Private")
    run_requests_here(conversation)
    client.force_login(bob)
    for name in ("live_chat", "live_chat_turn"):
        assert client.get(chat_url(name, live, conversation)).status_code == 404
    assert (
        client.post(chat_url("live_chat_say", live, conversation), {"text": "x"}).status_code == 404
    )
    assignment_id = conversation.tasks.get().assignments.get().id
    rate = chat_url("live_chat_rate", live, conversation, assignment_id)
    assert client.post(rate, {}).status_code == 404
    assert "Private" not in client.get(reverse("live_chats", args=[live.id])).content.decode()


def test_a_campaign_without_live_chat_has_no_chat_page(client, alice, campaign):
    client.force_login(alice)
    assert client.get(reverse("live_chats", args=[campaign.id])).status_code == 404


def _as_study(campaign, alice, stage):
    from annotation.models import Membership, Study

    Study.objects.create(campaign=campaign, guidance={"values_guided": "Talk about <b>values</b>."})
    Membership.objects.filter(campaign=campaign, user=alice).update(stage=stage)


def test_a_study_participant_chats_only_after_the_first_steps(client, alice, live):
    _as_study(live, alice, "consent")
    client.force_login(alice)
    r = client.post(reverse("live_chats", args=[live.id]), {"text": "Hello"})
    assert r.status_code == 302
    assert r["Location"] == reverse("study_next", args=[live.slug])
    assert not Conversation.objects.exists()


def test_a_study_participant_picks_a_conversation_type_and_reads_its_guidance(client, alice, live):
    _as_study(live, alice, "active")
    client.force_login(alice)
    listing = client.get(reverse("live_chats", args=[live.id])).content.decode()
    # The study's own guidance for one type (escaped), PRISM's default for the others.
    assert 'value="values_guided"' in listing and "Talk about &lt;b&gt;values&lt;/b&gt;." in listing
    assert "something controversial" in listing

    bad = client.post(
        reverse("live_chats", args=[live.id]), {"text": "Hi", "conversation_type": "gossip"}
    )
    assert bad.status_code == 422 and "Choose one of the kinds" in bad.content.decode()
    assert not Conversation.objects.exists()

    r = client.post(
        reverse("live_chats", args=[live.id]),
        {"text": "What matters most?", "conversation_type": "values_guided"},
    )
    conversation = Conversation.objects.get(campaign=live)
    assert conversation.prism_type == "values_guided"
    page = client.get(r["Location"]).content.decode()
    assert 'data-testid="guidance"' in page and "Talk about &lt;b&gt;values&lt;/b&gt;." in page


def test_outside_a_study_no_conversation_type_is_asked(client, alice, live):
    client.force_login(alice)
    listing = client.get(reverse("live_chats", args=[live.id])).content.decode()
    assert "conversation_type" not in listing
    client.post(reverse("live_chats", args=[live.id]), {"text": "Hi"})
    assert Conversation.objects.get(campaign=live).prism_type == ""
