import json

import pytest

from annotation.models import Conversation, Message, Task
from annotation.services import prompts_import
from tests.conftest import pairwise_lines


@pytest.fixture
def empty_campaign(make_campaign, alice):
    return make_campaign(members=[alice])


def test_a_prompt_with_two_responses_makes_a_pairwise_task(empty_campaign):
    report = prompts_import(campaign=empty_campaign, content=pairwise_lines(3))
    assert report.ok
    assert (report.conversations_created, report.tasks_created) == (3, 3)
    task = Task.objects.filter(campaign=empty_campaign).first()
    assert task.overlap == empty_campaign.overlap
    assert task.parent.role == "user" and task.parent.text.startswith("Prompt number")
    texts = sorted(task.candidates.values_list("text", flat=True))
    assert texts[0].startswith("Answer") and len(texts) == 2
    assert {m.model.name for m in task.candidates.all()} == {"model-a", "model-b"}


def test_three_responses_make_one_task_per_pair_and_one_response_none(empty_campaign):
    lines = [
        {"prompt": "three", "responses": ["r1", "r2", "r3"]},
        {"prompt": "one", "responses": ["only"]},
        {"prompt": "none"},
    ]
    report = prompts_import(
        campaign=empty_campaign, content="\n".join(json.dumps(line) for line in lines)
    )
    assert report.ok
    assert report.tasks_created == 3
    assert Conversation.objects.filter(campaign=empty_campaign).count() == 3


def test_a_multi_turn_prompt_becomes_a_chain_with_responses_under_its_last_turn(empty_campaign):
    prompt = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Tell me a joke."},
    ]
    content = json.dumps({"id": "x", "prompt": prompt, "responses": ["a", "b"]})
    assert prompts_import(campaign=empty_campaign, content=content).ok
    task = Task.objects.get(campaign=empty_campaign)
    chain, node = [], task.parent
    while node:
        chain.append((node.role, node.text))
        node = node.parent
    assert chain[::-1] == [(m["role"], m["content"]) for m in prompt]


def test_csv_with_response_and_model_columns(empty_campaign):
    content = (
        "id,prompt,response_a,model_a,response_b,model_b,topic\n"
        'c1,"What is 2+2?",4,m1,"Four, I think",m2,maths\n'
    )
    report = prompts_import(campaign=empty_campaign, content=content, fmt="csv")
    assert report.ok, report.lines
    conv = Conversation.objects.get(campaign=empty_campaign, external_id="c1")
    assert conv.metadata == {"topic": "maths"}
    assert set(
        Message.objects.filter(conversation=conv, role="assistant").values_list(
            "model__name", flat=True
        )
    ) == {"m1", "m2"}


def test_a_bad_line_imports_nothing_and_names_every_bad_line(empty_campaign):
    content = "\n".join(
        [
            json.dumps({"id": "ok", "prompt": "fine", "responses": ["a", "b"]}),
            "{not json",
            json.dumps({"id": "no-prompt"}),
            json.dumps({"prompt": [{"role": "robot", "content": "x"}]}),
            json.dumps({"id": "ok", "prompt": "same id again"}),
        ]
    )
    report = prompts_import(campaign=empty_campaign, content=content)
    assert not report.ok
    errors = {line["line"]: line["message"] for line in report.lines if line["status"] == "error"}
    assert set(errors) == {2, 3, 4, 5}
    assert "not valid JSON" in errors[2]
    assert "missing prompt" in errors[3]
    assert "role" in errors[4]
    assert "repeats line 1" in errors[5]
    assert not Conversation.objects.filter(campaign=empty_campaign).exists()


def test_importing_the_same_file_again_skips_what_is_there(empty_campaign):
    prompts_import(campaign=empty_campaign, content=pairwise_lines(4))
    report = prompts_import(campaign=empty_campaign, content=pairwise_lines(6))
    assert (report.conversations_created, report.duplicates) == (2, 4)
    assert Task.objects.filter(campaign=empty_campaign).count() == 6


def test_a_csv_without_a_prompt_column_is_refused(empty_campaign):
    report = prompts_import(campaign=empty_campaign, content="question\nhi\n", fmt="csv")
    assert not report.ok
    assert "prompt column" in report.lines[0]["message"]


def test_an_empty_file_is_refused(empty_campaign):
    report = prompts_import(campaign=empty_campaign, content="\n\n")
    assert not report.ok and "no prompts" in report.lines[0]["message"]
