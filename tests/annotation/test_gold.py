"""Gold answers: imported with their prompts (responses by place), set and cleared per task
(the dashboard, the API, the CLI), checked by the task's kind, and scoring the annotators on
the quality tab and in quality.json."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotation.errors import RuleError
from annotation.models import Judgment, Task
from annotation.services import judgment_submit, prompts_import, task_lease_next
from annotation.services.gold import task_gold_set
from tests.conftest import api_client_for


def line(i: int, gold=None, n: int = 2) -> str:
    obj = {
        "id": f"g{i}",
        "prompt": f"Question {i}?",
        "responses": [{"text": f"Answer {i}.{r}", "model": f"m{r}"} for r in range(n)],
    }
    if gold is not None:
        obj["gold"] = gold
    return json.dumps(obj)


@pytest.fixture
def empty(make_campaign, alice, bob):
    return make_campaign(members=[alice, bob], overlap=2)


def test_gold_imported_with_a_prompt_lands_on_its_tasks_in_message_ids(empty):
    content = "\n".join(
        [
            line(0, {"outcome": "preferred", "preferred": 1}),
            line(1, {"outcome": "tie"}),
            line(2),
            line(3, {"outcome": "preferred", "preferred": 2}, n=3),
        ]
    )
    report = prompts_import(campaign=empty, content=content)
    assert report.ok, report.lines
    by_prompt = {
        t.conversation.external_id: [] for t in Task.objects.select_related("conversation")
    }
    for t in Task.objects.select_related("conversation"):
        by_prompt[t.conversation.external_id].append(t)
    (t0,) = by_prompt["g0"]
    second = t0.task_candidates.get(position=1).message_id
    assert t0.gold == {"outcome": "preferred", "preferred": second}
    assert by_prompt["g1"][0].gold == {"outcome": "tie"}
    assert by_prompt["g2"][0].gold is None
    # Three responses make three pairs; the two with response 2 get gold, the other none.
    golds = sorted((t.gold is not None) for t in by_prompt["g3"])
    assert golds == [False, True, True]


@pytest.mark.parametrize(
    ("gold", "message"),
    [
        (
            {"outcome": "preferred", "preferred": 5},
            "gold.preferred must be the place of a response",
        ),
        ({"outcome": "maybe"}, "outcome must be one of"),
        ({"outcome": "preferred", "preferred": 0, "strength": 2}, "gold"),
        ([1], "gold must be an object"),
        ({"ranking": [0, 1]}, "gold"),
    ],
)
def test_a_bad_gold_names_its_line_and_imports_nothing(empty, gold, message):
    report = prompts_import(campaign=empty, content=line(0) + "\n" + line(1, gold))
    assert not report.ok
    (bad,) = [r for r in report.lines if r["status"] == "error"]
    assert bad["line"] == 2 and message in bad["message"], bad
    assert not Task.objects.filter(campaign=empty).exists()


def test_gold_in_a_csv_column(empty):
    csv = (
        "prompt,response_a,model_a,response_b,model_b,gold\n"
        'Hi?,Yo,m0,Hello,m1,"{""outcome"": ""preferred"", ""preferred"": 0}"\n'
    )
    report = prompts_import(campaign=empty, content=csv, fmt="csv")
    assert report.ok, report.lines
    task = Task.objects.get(campaign=empty)
    assert task.gold["preferred"] == task.task_candidates.get(position=0).message_id


def test_setting_gold_scores_the_judgments_made_and_clearing_unscores_them(empty, alice):
    prompts_import(campaign=empty, content=line(0))
    task = Task.objects.get(campaign=empty)
    a = task_lease_next(annotator=alice, campaign=empty)
    first = a.display_order[0]
    judgment_submit(
        assignment=a,
        annotator=alice,
        payload={"outcome": "preferred", "preferred": first},
        idempotency_key="k",
    )
    task_gold_set(
        campaign=empty, task_id=task.id, gold={"outcome": "preferred", "preferred": first}
    )
    assert Judgment.objects.get().gold_score == 1.0
    other = a.display_order[1]
    task_gold_set(
        campaign=empty, task_id=task.id, gold={"outcome": "preferred", "preferred": other}
    )
    assert Judgment.objects.get().gold_score == 0.0
    task_gold_set(campaign=empty, task_id=task.id, gold=None)
    task.refresh_from_db()
    assert task.gold is None and Judgment.objects.get().gold_score is None
    with pytest.raises(RuleError, match="not a candidate"):
        task_gold_set(
            campaign=empty, task_id=task.id, gold={"outcome": "preferred", "preferred": 999}
        )


def test_gold_accuracy_shows_on_the_quality_tab_and_in_quality_json(
    client, empty, alice, bob, carol
):
    prompts_import(
        campaign=empty,
        content="\n".join(line(i, {"outcome": "preferred", "preferred": 0}) for i in range(3)),
    )
    for user in (alice, bob):
        while (a := task_lease_next(annotator=user, campaign=empty)) is not None:
            right = Task.objects.get(id=a.task_id).gold["preferred"]
            pick = right if user == alice else next(m for m in a.display_order if m != right)
            judgment_submit(
                assignment=a,
                annotator=user,
                payload={"outcome": "preferred", "preferred": pick},
                idempotency_key=f"k{a.id}",
            )
    client.force_login(carol)
    q = client.get(reverse("dashboard:quality_json", args=[empty.id])).json()
    assert sorted(a["gold_accuracy"] for a in q["annotators"]) == [0.0, 1.0]
    page = client.get(reverse("dashboard:quality", args=[empty.id])).content.decode()
    assert "100% of 3" in page and "0% of 3" in page


# --- the page, the API and the CLI -------------------------------------------------------------


def test_the_gold_page_sets_and_clears_a_tasks_gold(client, empty, carol):
    prompts_import(campaign=empty, content=line(0))
    task = Task.objects.get(campaign=empty)
    _a, b = (int(k[0]) for k in task.candidate_keys)
    client.force_login(carol)
    url = reverse("dashboard:gold", args=[empty.id])
    page = client.get(url).content.decode()
    assert "Answer 0.0" in page and "Answer 0.1" in page
    r = client.post(url, {"task": task.id, "gold": f"preferred:{b}"})
    assert r.status_code == 302
    task.refresh_from_db()
    assert task.gold == {"outcome": "preferred", "preferred": b}
    assert "Gold set on task" in client.get(url).content.decode()
    client.post(url, {"task": task.id, "gold": "none"})
    task.refresh_from_db()
    assert task.gold is None
    r = client.post(url, {"task": task.id, "gold": "preferred:12345"})
    assert r.status_code == 422 and "preferred" in r.content.decode()
    r = client.post(url, {"task": "x", "gold": "tie"})
    assert r.status_code == 404


def test_the_api_sets_and_clears_gold(empty, carol, alice):
    prompts_import(campaign=empty, content=line(0))
    task = Task.objects.get(campaign=empty)
    url = f"/api/v1/campaigns/{empty.id}/tasks/{task.id}/gold/"
    r = api_client_for(carol).put(url, {"gold": {"outcome": "tie"}}, format="json")
    assert r.status_code == 200 and r.json()["gold"] == {"outcome": "tie"}
    r = api_client_for(carol).put(url, {"gold": {"outcome": "nope"}}, format="json")
    assert r.status_code == 400 and r.json()["field"] == "gold.outcome"
    r = api_client_for(carol).put(url, {"gold": None}, format="json")
    assert r.status_code == 200 and r.json()["gold"] is None
    assert api_client_for(alice).put(url, {"gold": None}, format="json").status_code == 403


def test_the_cli_sets_and_clears_gold(empty):
    prompts_import(campaign=empty, content=line(0))
    task = Task.objects.get(campaign=empty)
    out = io.StringIO()
    call_command("task_gold", empty.slug, str(task.id), '{"outcome": "both_bad"}', stdout=out)
    task.refresh_from_db()
    assert task.gold == {"outcome": "both_bad"} and "both_bad" in out.getvalue()
    call_command("task_gold", empty.slug, str(task.id), "--clear", stdout=out)
    task.refresh_from_db()
    assert task.gold is None
