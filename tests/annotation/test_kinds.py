"""Every judgment kind through the services and the API: stored when it fits, a 400 naming
the field when it does not, and campaign settings checked when the campaign is saved."""

import json

import pytest

from annotation.errors import RuleError
from annotation.models import Campaign, Judgment, Message, Task
from annotation.services import prompts_import, task_lease_next
from tests.conftest import api_client_for

HELPSTEER = {
    "attributes": [
        {"name": n, "scale": {"points": ["0", "1", "2", "3", "4"], "min": 0}}
        for n in ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
    ]
}
PRISM = {
    "attributes": [{"name": "score", "scale": {"type": "slider", "min": 1, "max": 100}}],
    "followup": {
        "attributes": [
            {"name": "factuality", "scale": {"type": "slider", "min": 1, "max": 100}},
            {"name": "fluency", "scale": {"type": "slider", "min": 1, "max": 100}},
        ],
        "feedback": "optional",
    },
}


def lines(n_responses: int, n_prompts: int = 2) -> str:
    return "\n".join(
        json.dumps(
            {
                "id": f"q{i}",
                "prompt": f"Question {i}?",
                "responses": [
                    {"text": f"Answer {i}.{r} with some words.", "model": f"m{r}"}
                    for r in range(n_responses)
                ],
            }
        )
        for i in range(n_prompts)
    )


def setup(make_campaign, alice, kind, settings=None, responses=2):
    c = make_campaign(members=[alice], task_kind=kind, settings=settings or {}, overlap=1)
    report = prompts_import(campaign=c, content=lines(responses))
    assert report.ok
    return c, task_lease_next(annotator=alice, campaign=c)


def post(user, assignment, payload, key="k"):
    return api_client_for(user).post(
        f"/api/v1/assignments/{assignment.id}/judgment/",
        {"payload": payload, "idempotency_key": key},
        format="json",
    )


def test_ranking_stores_groups_best_first_by_message(make_campaign, alice):
    c, a = setup(make_campaign, alice, "ranking", {"allow_ties": True}, responses=4)
    assert Task.objects.filter(campaign=c).count() == 2  # one task over all 4 per prompt
    assert len(a.display_order) == 4
    best, *rest = a.display_order[::-1]  # whatever the screen showed last is ranked first
    response = post(alice, a, {"ranking": [best, [rest[0], rest[1]], rest[2]]})
    assert response.status_code == 201, response.json()
    assert response.json()["payload"]["ranking"] == [[best], [rest[0], rest[1]], [rest[2]]]


@pytest.mark.parametrize(
    ("ranking", "message"),
    [
        ("FIRST_TWO", "rank every candidate"),
        ("DUPLICATE", "ranked twice"),
        ("TIE", "does not allow ties"),
        ("OTHER", "not a candidate"),
    ],
)
def test_a_bad_ranking_is_400_naming_the_field(make_campaign, alice, ranking, message):
    _c, a = setup(make_campaign, alice, "ranking", responses=3)
    ids = a.display_order
    payload = {
        "FIRST_TWO": [ids[0], ids[1]],
        "DUPLICATE": [ids[0], ids[0], ids[1], ids[2]],
        "TIE": [[ids[0], ids[1]], ids[2]],
        "OTHER": [ids[0], ids[1], 99999],
    }[ranking]
    response = post(alice, a, {"ranking": payload})
    assert response.status_code == 400
    assert response.json()["field"].startswith("payload.ranking")
    assert message in response.json()["detail"]


def test_the_screen_order_of_k_candidates_is_random_per_annotator_and_recorded(
    make_campaign, alice, bob
):
    c = make_campaign(members=[alice, bob], task_kind="ranking", overlap=2)
    prompts_import(campaign=c, content=lines(5, n_prompts=6))
    orders = set()
    for user in (alice, bob):
        while (a := task_lease_next(annotator=user, campaign=c)) is not None:
            positions = {mid: i for i, mid in enumerate(a.display_order)}
            orders.add(tuple(sorted(positions, key=positions.get)))
            post(user, a, {"ranking": a.display_order}, key=f"{user.id}-{a.id}")
    # 12 leases of 5 candidates: the orders differ, and each judgment names messages.
    assert len(orders) > 6
    for j in Judgment.objects.filter(campaign=c):
        assert [g[0] for g in j.payload["ranking"]] == j.assignment.display_order


def test_helpsteer_rating_stores_scores_per_message_and_attribute(make_campaign, alice):
    _c, a = setup(make_campaign, alice, "rating", HELPSTEER, responses=2)
    ratings = {
        str(m): {
            "helpfulness": 4,
            "correctness": 3,
            "coherence": 4,
            "complexity": 1,
            "verbosity": 2,
        }
        for m in a.display_order
    }
    response = post(alice, a, {"ratings": ratings})
    assert response.status_code == 201, response.json()
    assert response.json()["payload"]["ratings"] == ratings


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda r, m: r[m].pop("coherence"), "payload.ratings.{m}.coherence", "Please rate"),
        (lambda r, m: r[m].update(coherence=5), "payload.ratings.{m}.coherence", "0 to 4"),
        (lambda r, m: r[m].update(coherence=2.5), "payload.ratings.{m}.coherence", "whole"),
        (lambda r, m: r[m].update(style=1), "payload.ratings.{m}.style", "Unknown"),
        (lambda r, m: r.pop(m), "payload.ratings.{m}", "Please rate response"),
    ],
)
def test_a_bad_rating_is_400_naming_the_field(make_campaign, alice, mutate, field, message):
    _c, a = setup(make_campaign, alice, "rating", HELPSTEER, responses=2)
    ratings = {
        str(m): dict.fromkeys(
            ("helpfulness", "correctness", "coherence", "complexity", "verbosity"), 2
        )
        for m in a.display_order
    }
    m = str(a.display_order[0])
    mutate(ratings, m)
    response = post(alice, a, {"ratings": ratings})
    assert response.status_code == 400
    assert response.json()["field"] == field.format(m=m)
    assert message in response.json()["detail"]


def test_prism_rating_with_followup_on_the_chosen_response(make_campaign, alice):
    _c, a = setup(make_campaign, alice, "rating", PRISM, responses=4)
    scores = dict(zip(map(str, a.display_order), (40, 85, 85, 10), strict=True))
    ratings = {m: {"score": s} for m, s in scores.items()}
    chosen = a.display_order[1]
    followup = {
        "chosen": chosen,
        "scores": {"factuality": 70, "fluency": 90},
        "feedback": "Clear and kind.",
    }
    low = post(
        alice, a, {"ratings": ratings, "followup": {**followup, "chosen": a.display_order[0]}}
    )
    assert low.status_code == 400 and low.json()["field"] == "payload.followup.chosen"
    response = post(alice, a, {"ratings": ratings, "followup": followup}, key="k2")
    assert response.status_code == 201, response.json()
    assert response.json()["payload"]["followup"] == followup


def test_binary_on_one_response_and_negative_only_campaigns(make_campaign, alice):
    c, a = setup(make_campaign, alice, "binary", {"allow_positive": False}, responses=2)
    assert Task.objects.filter(campaign=c).count() == 4  # one task per response
    assert len(a.display_order) == 1
    up = post(alice, a, {"label": True})
    assert up.status_code == 400 and up.json()["field"] == "payload.label"
    down = post(alice, a, {"label": False, "reason": "Wrong answer."}, key="k2")
    assert down.status_code == 201
    assert down.json()["payload"] == {"label": False, "reason": "Wrong answer."}


def test_oasst_labels_flags_and_likert(make_campaign, alice):
    c, a = setup(make_campaign, alice, "label", responses=1)
    response = post(alice, a, {"labels": {"spam": False, "pii": True, "quality": 4}})
    assert response.status_code == 201, response.json()
    labels = response.json()["payload"]["labels"]
    assert labels["pii"] is True and labels["quality"] == 4 and labels["hate_speech"] is False
    second = task_lease_next(annotator=alice, campaign=c)
    bad = post(alice, second, {"labels": {"humor": 9}}, key="k2")
    assert bad.status_code == 400
    assert bad.json()["field"] == "payload.labels.humor"


def test_critique_with_spans(make_campaign, alice):
    _c, a = setup(make_campaign, alice, "critique", {"min_chars": 10}, responses=1)
    short = post(alice, a, {"text": "bad"})
    assert short.status_code == 400 and short.json()["field"] == "payload.text"
    span = post(
        alice,
        a,
        {"text": "The second sentence is wrong.", "spans": [{"start": 5, "end": 2}]},
        key="k1",
    )
    assert span.status_code == 400 and span.json()["field"] == "payload.spans[0].end"
    ok = post(
        alice,
        a,
        {
            "text": "The second sentence is wrong.",
            "spans": [{"start": 0, "end": 6, "note": "not an answer"}],
        },
        key="k2",
    )
    assert ok.status_code == 201
    assert ok.json()["payload"]["spans"] == [{"start": 0, "end": 6, "note": "not an answer"}]


def test_a_rewrite_becomes_a_sibling_message_by_the_annotator(make_campaign, alice):
    _c, a = setup(make_campaign, alice, "rewrite", responses=1)
    original = Message.objects.get(id=a.display_order[0])
    response = post(alice, a, {"text": original.text.replace("some", "a few")})
    assert response.status_code == 201, response.json()
    payload = response.json()["payload"]
    written = Message.objects.get(id=payload["message_id"])
    assert (written.parent_id, written.role, written.author) == (
        original.parent_id,
        original.role,
        alice,
    )
    assert written.model is None and payload["rewrite_of"] == original.id
    assert payload["edit_distance"] == 4  # "some" -> "a few": three substitutions, one insert
    assert "-Answer" in payload["diff"] and "+Answer" in payload["diff"]


def test_a_reply_becomes_a_child_of_the_last_message(make_campaign, alice):
    c = make_campaign(members=[alice], task_kind="reply", settings={"role": "assistant"})
    prompts_import(campaign=c, content=json.dumps({"prompt": "Tell me a joke."}))
    a = task_lease_next(annotator=alice, campaign=c)
    assert a.display_order == []
    response = post(alice, a, {"text": "Why did the chicken..."})
    assert response.status_code == 201, response.json()
    written = Message.objects.get(id=response.json()["payload"]["message_id"])
    assert written.parent_id == a.task.parent_id and written.role == "assistant"
    assert written.author == alice


def test_gold_tasks_are_scored(make_campaign, alice):
    _c, a = setup(make_campaign, alice, "pairwise", responses=2)
    Task.objects.filter(id=a.task_id).update(
        gold={"outcome": "preferred", "preferred": a.display_order[0]}
    )
    post(alice, a, {"outcome": "preferred", "preferred": a.display_order[1]})
    assert Judgment.objects.get(assignment=a).gold_score == 0.0


@pytest.mark.parametrize(
    ("kind", "kind_settings", "field"),
    [
        (
            "rating",
            {"attributes": [{"name": "x", "scale": {"points": []}}]},
            "settings.attributes[0].scale.points",
        ),
        ("rating", {"attributes": []}, "settings.attributes"),
        ("rating", {"attributes": [{"name": "a"}, {"name": "a"}]}, "settings.attributes[1].name"),
        (
            "rating",
            {"attributes": [{"name": "s", "scale": {"type": "slider", "min": 5, "max": 1}}]},
            "settings.attributes[0].scale.max",
        ),
        ("label", {"labels": [{"name": "spam"}, {"name": "spam"}]}, "settings.labels[1].name"),
        (
            "label",
            {"labels": [{"name": "ok", "type": "flag", "scale": {"points": ["a", "b"]}}]},
            "settings.labels[0].scale",
        ),
        ("binary", {"allow_tie": True}, "settings.allow_tie"),
        ("pairwise", {"strength_levels": 4}, "settings.strength_levels"),
        ("pairwise", {"allow_tie": "yes"}, "settings.allow_tie"),
        ("ranking", {"max_candidates": 1}, "settings.max_candidates"),
        ("reply", {"role": "system"}, "settings.role"),
        ("nonsense", {}, "task_kind"),
    ],
)
def test_inconsistent_campaign_settings_are_refused_when_saved(
    make_campaign, kind, kind_settings, field
):
    with pytest.raises(RuleError) as e:
        make_campaign(task_kind=kind, settings=kind_settings)
    assert e.value.field == field


def test_stored_settings_read_back_the_same_without_a_reload(make_campaign):
    c = make_campaign(task_kind="rating", settings=PRISM)
    from annotation.kinds import kind_for

    kind = kind_for("rating")
    assert kind.settings_dict(c.settings) == c.settings  # no tuples, nothing lost


def test_a_crafted_form_with_unicode_digits_is_a_clear_error_not_a_crash(
    client, make_campaign, alice
):
    _, a = setup(make_campaign, alice, "ranking", responses=3)
    client.force_login(alice)
    form = {f"rank-{m}": "²" for m in a.display_order}
    response = client.post(
        f"/assignments/{a.id}/submit/", {**form, "idempotency_key": "k"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert not Judgment.objects.exists()


def test_the_django_admin_refuses_inconsistent_settings_with_the_reason(client, carol):
    carol.is_staff = carol.is_superuser = True
    carol.save()
    client.force_login(carol)
    response = client.post(
        "/admin/annotation/campaign/add/",
        {
            "name": "Bad",
            "slug": "bad",
            "task_kind": "rating",
            "settings": json.dumps({"attributes": [{"name": "x", "scale": {"points": ["1"]}}]}),
            "overlap": 3,
            "lease_seconds": 600,
            "responses_per_prompt": 2,
            "routing": "fewest_judgments",
            "state": "draft",
            "instructions_version": 1,
            "current_round": 1,
            "generation_buffer": 0,
            "survey": "{}",
            "quotas": "{}",
        },
    )
    assert response.status_code == 200  # the form again, not a redirect
    assert "settings.attributes[0].scale.points" in response.content.decode()
    assert not Campaign.objects.filter(slug="bad").exists()


def test_a_reply_as_the_prompter_answers_the_assistant(make_campaign, alice):
    c = make_campaign(members=[alice], task_kind="reply", settings={"role": "user"})
    chat = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ]
    refused = prompts_import(campaign=c, content=json.dumps({"prompt": "Only a user turn"}))
    assert not refused.ok and "role assistant" in refused.lines[0]["message"]
    assert prompts_import(campaign=c, content=json.dumps({"prompt": chat})).ok
    a = task_lease_next(annotator=alice, campaign=c)
    response = post(alice, a, {"text": "Tell me about tides."})
    assert response.status_code == 201, response.json()
    written = Message.objects.get(id=response.json()["payload"]["message_id"])
    assert (written.role, written.parent.role) == ("user", "assistant")


@pytest.mark.parametrize(
    ("kind", "kind_settings", "responses", "payload"),
    [
        ("pairwise", {}, 2, lambda a: {"outcome": "preferred", "preferred": a.display_order[1]}),
        ("ranking", {}, 3, lambda a: {"ranking": a.display_order[::-1]}),
        (
            "rating",
            HELPSTEER,
            2,
            lambda a: {
                "ratings": {
                    str(m): dict.fromkeys(
                        ("helpfulness", "correctness", "coherence", "complexity", "verbosity"), 3
                    )
                    for m in a.display_order
                }
            },
        ),
        ("binary", {}, 1, lambda a: {"label": True}),
        ("label", {}, 1, lambda a: {"labels": {"spam": True}}),
        ("critique", {}, 1, lambda a: {"text": "It answers a different question."}),
        ("rewrite", {}, 1, lambda a: {"text": "A better answer."}),
        ("reply", {}, 0, lambda a: {"text": "Here is my reply."}),
    ],
)
def test_every_kind_is_stored_and_exported_raw(
    make_campaign, alice, kind, kind_settings, responses, payload
):
    from exports.services import export_rows

    c, a = setup(make_campaign, alice, kind, kind_settings, responses=responses)
    stored = post(alice, a, payload(a))
    assert stored.status_code == 201, stored.json()
    [row] = list(export_rows(campaign=c, fmt="judgments"))
    assert row["kind"] == kind
    assert json.loads(row["payload"]) == stored.json()["payload"]
    assert row["display_order"] == a.display_order
