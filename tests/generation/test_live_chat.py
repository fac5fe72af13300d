"""Live chat (PRISM's live conversations): a participant's turns answered by the campaign's
models on a real worker, streamed, rated 1-100, carried on with the chosen reply, stored as a
tree and exported through `prism`."""

import pytest

from annotation.errors import Conflict, Forbidden, RuleError
from annotation.models import Conversation, Membership, Message, Task
from annotation.selectors.progress import campaign_progress_overview
from annotation.services import task_lease_next
from exports.services import export_rows
from generation.models import GenerationRequest, LanguageModel
from generation.services import (
    generation_requests_for_campaign,
    live_chat_say,
    live_chat_start,
    live_turn_retry,
)
from tests.generation.live_helpers import (
    live_campaign,
    rate,
    run_requests_here,
    smol_models,
    wait_for_turn,
)


@pytest.mark.django_db(transaction=True)
def test_a_two_turn_live_chat_through_a_real_worker_lands_in_the_prism_tables(
    make_campaign, alice, default_model, worker
):
    models = smol_models(2)
    campaign = live_campaign(make_campaign, [alice], models)
    conversation = live_chat_start(campaign=campaign, participant=alice, text="Name a fruit.")
    first = wait_for_turn(conversation, 1)

    root = Message.objects.get(conversation=conversation, parent=None)
    assert (root.role, root.author, conversation.origin) == ("user", alice, "live")
    replies = list(Message.objects.filter(parent=root))
    assert len(replies) == 4  # live_first_replies, two from each model
    assert {m.model_id for m in replies} == {m.id for m in models}
    for m in replies:
        assert m.text and m.backend == "transformers" and m.worker
        assert m.prompt_tokens > 0 and 0 < m.completion_tokens <= 6
    # What the worker streamed to the page is the stored text.
    streamed = {
        (r.id, j): text
        for r in GenerationRequest.objects.filter(parent=root)
        for j, text in enumerate(r.partial_texts)
    }
    assert sorted(streamed.values()) == sorted(m.text for m in replies)
    # The turn is a rating task of the participant's own, leased to her and to no one else.
    assert first.annotator == alice and first.task.state == "live"
    assert sorted(first.display_order) == sorted(m.id for m in replies)

    _, chosen = rate(first, alice, [10, 90, 40, 20], feedback="Short and right.")
    turn2 = live_chat_say(conversation=conversation, participant=alice, text="Why that one?")
    assert turn2.parent_id == chosen
    second = wait_for_turn(conversation, 2)
    later = list(Message.objects.filter(parent=turn2))
    chosen_model = Message.objects.get(id=chosen).model_id
    assert len(later) == 2 and {m.model_id for m in later} == {chosen_model}
    _, chosen2 = rate(second, alice, [35, 70])

    [row] = export_rows(campaign=campaign, fmt="prism", table="conversations")
    assert row["conversation_turns"] == 2
    assert row["opening_prompt"] == "Name a fruit."
    history = row["conversation_history"]
    assert [(h["turn"], h["role"]) for h in history] == [
        (0, "user"), (0, "model"), (0, "model"), (0, "model"), (0, "model"),
        (1, "user"), (1, "model"), (1, "model"),
    ]  # fmt: skip
    assert [h["score"] for h in history if h["role"] == "model"] == [10, 90, 40, 20, 35, 70]
    assert [h["if_chosen"] for h in history if h["role"] == "model"] == [
        False, True, False, False, False, True,
    ]  # fmt: skip
    assert history[5]["content"] == "Why that one?"
    assert row["open_feedback"] == "Short and right."
    utterances = list(export_rows(campaign=campaign, fmt="prism", table="utterances"))
    assert len(utterances) == 6
    assert {u["message_id"] for u in utterances if u["if_chosen"]} == {chosen, chosen2}
    assert {u["model_name"] for u in utterances} == {m.name for m in models}


@pytest.fixture
def chat(make_campaign, alice, bob):
    campaign = live_campaign(make_campaign, [alice, bob], smol_models(1))
    conversation = live_chat_start(campaign=campaign, participant=alice, text="Hello there")
    run_requests_here(conversation)
    return campaign, conversation


def test_a_live_turn_is_never_offered_to_another_annotator(chat, bob):
    campaign, conversation = chat
    assert Task.objects.get(conversation=conversation).state == "live"
    assert task_lease_next(annotator=bob, campaign=campaign) is None


def test_one_model_answers_the_first_turn_with_as_many_samples_as_asked(chat):
    _, conversation = chat
    [request] = GenerationRequest.objects.filter(parent__conversation=conversation)
    assert (request.n, request.state) == (4, "done")
    seeds = [m.sampling_params["seed"] for m in Message.objects.filter(parent=request.parent)]
    assert len(set(seeds)) == 4


def test_the_next_turn_waits_for_the_ratings(chat, alice):
    _, conversation = chat
    with pytest.raises(Conflict, match="Rate the replies"):
        live_chat_say(conversation=conversation, participant=alice, text="And then?")
    assert Message.objects.filter(conversation=conversation, role="user").count() == 1


def test_a_turn_sent_twice_is_stored_once_and_turns_stop_at_the_maximum(chat, alice):
    campaign, conversation = chat
    for turn in range(1, campaign.live_max_turns):
        rate(
            wait_for_turn(conversation, turn, seconds=1),
            alice,
            [5, 60, 30, 20][: 4 if turn == 1 else 2],
        )
        said = live_chat_say(conversation=conversation, participant=alice, text=f"Turn {turn}")
        again = live_chat_say(conversation=conversation, participant=alice, text=f"Turn {turn}")
        assert again.id == said.id
        run_requests_here(conversation)
    rate(wait_for_turn(conversation, campaign.live_max_turns, seconds=1), alice, [50, 40])
    with pytest.raises(Conflict, match="3 turns"):
        live_chat_say(conversation=conversation, participant=alice, text="One more")
    assert Message.objects.filter(conversation=conversation, role="user").count() == 3


def test_only_the_participant_carries_their_conversation_on(chat, alice, bob):
    _, conversation = chat
    rate(wait_for_turn(conversation, 1, seconds=1), alice, [1, 2, 3, 4])
    with pytest.raises(Forbidden):
        live_chat_say(conversation=conversation, participant=bob, text="Hijack")


def test_bad_turns_and_campaigns_are_refused_with_a_clear_error(make_campaign, alice):
    campaign = live_campaign(make_campaign, [alice], smol_models(1))
    with pytest.raises(RuleError, match="Write a message first"):
        live_chat_start(campaign=campaign, participant=alice, text="   ")
    with pytest.raises(RuleError, match="at most 5000"):
        live_chat_start(campaign=campaign, participant=alice, text="x" * 5001)
    no_live = live_campaign(make_campaign, [alice], [], live_first_replies=0)
    with pytest.raises(RuleError, match="no live chat"):
        live_chat_start(campaign=no_live, participant=alice, text="Hi")
    Membership.objects.filter(campaign=campaign, user=alice).update(is_blocked=True)
    with pytest.raises(Forbidden):
        live_chat_start(campaign=campaign, participant=alice, text="Hi")
    assert not Conversation.objects.filter(campaign__in=[campaign, no_live]).exists()


def test_a_failed_reply_can_be_sent_again_by_the_participant(make_campaign, alice, bob, settings):
    # An allow-listed endpoint that refuses connections stands in for a broken server.
    settings.AGORA_OPENAI_ALLOWED_BASE_URLS = ["http://127.0.0.1:9/v1"]
    down = LanguageModel.objects.create(
        name="down", backend="openai",
        settings={"base_url": "http://127.0.0.1:9/v1", "model": "x", "timeout_s": 1},
    )  # fmt: skip
    campaign = live_campaign(make_campaign, [alice], [down], live_first_replies=1)
    conversation = live_chat_start(campaign=campaign, participant=alice, text="Hi")
    run_requests_here(conversation)
    request = GenerationRequest.objects.get(parent__conversation=conversation)
    assert request.state == "failed" and "127.0.0.1:9" in request.error
    assert not Task.objects.filter(conversation=conversation).exists()
    with pytest.raises(Forbidden):
        live_turn_retry(
            conversation=conversation,
            participant=bob,
        )
    assert live_turn_retry(conversation=conversation, participant=alice) == 1
    request.refresh_from_db()
    assert (request.state, request.error) == ("queued", "")


def test_the_batch_generator_leaves_live_chats_alone(chat):
    campaign, _ = chat
    assert generation_requests_for_campaign(campaign=campaign, enqueue=False) == []


def test_the_progress_page_counts_an_unrated_turn_as_in_progress(chat, alice):
    campaign, conversation = chat
    before = campaign_progress_overview(campaign=campaign)
    assert (before.in_progress, before.waiting, before.judgments_left) == (1, 0, 1)
    rate(wait_for_turn(conversation, 1, seconds=1), alice, [5, 60, 30, 20])
    after = campaign_progress_overview(campaign=campaign)
    assert (after.done, after.in_progress, after.judgments_left) == (1, 0, 0)
