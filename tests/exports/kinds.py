"""A small, realistic campaign of every kind, judged through the real services: what the export
matrix (test_matrix.py) and the two-database test (test_timestamps.py) export. Plain functions,
no fixtures, so that a separate process can build them too (tests/exports/cross_db.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from annotation.models import Assignment, Campaign, Membership, Study, User
from annotation.services import (
    campaign_create,
    judgment_submit,
    membership_add,
    prompts_import,
    studies,
)
from tests.exports.conftest import (
    LIKERT_SETTINGS,
    PRISM_SETTINGS,
    TREE_RULES,
    judge_all,
    lines,
    model_of,
    tree_payload,
    work_until_done,
)

# Every kind of campaign the matrix covers (the arena does not exist yet).
KINDS = (
    "pairwise",
    "ranking",
    "rating",
    "binary",
    "label",
    "critique",
    "rewrite",
    "reply",
    "tree",
    "study",
)


def person(name: str) -> User:
    user, _ = User.objects.get_or_create(username=name)
    return user


def cast() -> dict[str, User]:
    """alice and bob annotate; dave and erin join trees and studies; carol administers."""
    return {n: person(n) for n in ("alice", "bob", "carol", "dave", "erin")}


def campaign_new(kind: str, *, admin: User, members: list[User], **fields: Any) -> Campaign:
    fields.setdefault("state", Campaign.State.OPEN)
    campaign = campaign_create(
        name=f"The {kind} campaign", slug=f"{kind}-campaign", created_by=admin, **fields
    )
    membership_add(campaign=campaign, user=admin, role=Membership.Role.ADMIN)
    for user in members:
        membership_add(campaign=campaign, user=user)
    return campaign


def _by_model(a: Assignment, *, reverse: bool = True) -> list[int]:
    return sorted(a.display_order, key=model_of, reverse=reverse)


def _pairwise(people: dict[str, User]) -> Campaign:
    """Two models, a 7-point strength, reasons; alice calls one a tie and one both bad."""
    c = campaign_new(
        "pairwise",
        admin=people["carol"],
        members=[people["alice"], people["bob"]],
        task_kind="pairwise",
        settings={"strength_levels": 3},
        overlap=2,
    )
    assert prompts_import(campaign=c, content=lines(2, n_prompts=4)).ok
    outcomes = iter(["tie", "both_bad", None, None])

    def alice(a: Assignment) -> dict[str, Any]:
        if outcome := next(outcomes):
            return {"outcome": outcome}
        best = _by_model(a)[0]
        return {"outcome": "preferred", "preferred": best, "strength": 2, "reason": "clearer"}

    judge_all(c, people["alice"], alice)
    judge_all(c, people["bob"], lambda a: {"outcome": "preferred", "preferred": _by_model(a)[0],
                                           "strength": 3})  # fmt: skip
    return c


def _ranking(people: dict[str, User]) -> Campaign:
    """Four responses, ties allowed; bob ties the middle two."""
    c = campaign_new(
        "ranking",
        admin=people["carol"],
        members=[people["alice"], people["bob"]],
        task_kind="ranking",
        settings={"allow_ties": True},
        overlap=2,
    )
    assert prompts_import(campaign=c, content=lines(4, n_prompts=3)).ok
    judge_all(c, people["alice"], lambda a: {"ranking": _by_model(a)})

    def tied(a: Assignment) -> dict[str, Any]:
        best, second, third, last = _by_model(a)
        return {"ranking": [best, [second, third], last]}

    judge_all(c, people["bob"], tied)
    return c


def _rating(people: dict[str, User]) -> Campaign:
    """Two Likert attributes on three responses."""
    c = campaign_new(
        "rating",
        admin=people["carol"],
        members=[people["alice"], people["bob"]],
        task_kind="rating",
        settings=LIKERT_SETTINGS,
        overlap=2,
    )
    assert prompts_import(campaign=c, content=lines(3, n_prompts=3, system="Be brief.")).ok

    def rate(a: Assignment) -> dict[str, Any]:
        return {
            "ratings": {
                str(m): {"helpfulness": 1 + int(model_of(m)[1:]) * 2, "honesty": 5 - i}
                for i, m in enumerate(a.display_order)
            }
        }

    judge_all(c, people["alice"], rate)
    judge_all(c, people["bob"], rate)
    return c


def _single(kind: str, pick: Callable[[Assignment], dict[str, Any]]) -> Callable[..., Campaign]:
    def build(people: dict[str, User]) -> Campaign:
        c = campaign_new(
            kind,
            admin=people["carol"],
            members=[people["alice"], people["bob"]],
            task_kind=kind,
            overlap=2,
        )
        assert prompts_import(campaign=c, content=lines(2, n_prompts=2)).ok
        judge_all(c, people["alice"], pick)
        judge_all(c, people["bob"], pick)
        return c

    return build


def _thumbs(a: Assignment) -> dict[str, Any]:
    return {"label": model_of(a.display_order[0]) == "m1"}


def _labels(a: Assignment) -> dict[str, Any]:
    return {"labels": {"spam": model_of(a.display_order[0]) == "m0", "quality": 4}}


def _critique(a: Assignment) -> dict[str, Any]:
    return {"text": f"The answer of {model_of(a.display_order[0])} repeats itself."}


def _rewrite(a: Assignment) -> dict[str, Any]:
    return {"text": "A shorter, better answer.", "reason": "too long"}


def _reply(people: dict[str, User]) -> Campaign:
    """Replies written to imported prompts (no tree rules)."""
    c = campaign_new(
        "reply",
        admin=people["carol"],
        members=[people["alice"], people["bob"]],
        task_kind="reply",
        overlap=2,
    )
    assert prompts_import(campaign=c, content=lines(0, n_prompts=2)).ok
    for name in ("alice", "bob"):
        judge_all(c, people[name], lambda a, n=name: {"text": f"A reply by {n}."})
    return c


def _tree(people: dict[str, User]) -> Campaign:
    crew = [people[n] for n in ("alice", "bob", "dave", "erin")]
    c = campaign_new("tree", admin=people["carol"], members=crew, task_kind="reply", overlap=1,
                     tree=TREE_RULES)  # fmt: skip
    prompts = [{"id": f"t{i}", "prompt": f"Tree prompt {i}: tell me about thing {i}."}
               for i in range(2)]  # fmt: skip
    assert prompts_import(campaign=c, content="\n".join(json.dumps(p) for p in prompts)).ok
    work_until_done(c, crew, tree_payload)
    return c


SURVEY_ANSWERS = {
    "alice": {"age": "25-34 years old", "gender": "Female", "reside_country": "United Kingdom",
              "stated_prefs__values": "80", "self_description": "I value honesty."},
    "bob": {"age": "45-54 years old", "gender": "Male", "reside_country": "Kenya",
            "stated_prefs__values": "40", "self_description": "I like short answers."},
    "dave": {"age": "18-24 years old", "gender": "Prefer not to say",
             "reside_country": "Brazil", "stated_prefs__values": "60",
             "self_description": "Curious."},
}  # fmt: skip
SURVEY_QUESTIONS = ["age", "gender", "reside_country", "stated_prefs", "self_description"]


def study_join(campaign: Campaign, user: User, answers: dict[str, str]) -> None:
    """A participant consents and answers the survey, as the study's pages would have them."""
    from annotation.forms import SurveyForm

    participant = studies.participant_join(campaign=campaign, user=user)
    version = Study.objects.get(campaign=campaign).consent_version
    studies.consent_give(participant=participant, version=version)
    form = SurveyForm(answers, questions=SURVEY_QUESTIONS, initial_answers={})
    assert form.is_valid(), form.errors
    studies.survey_submit(participant=participant, answers=form.answers({}))


def study_campaign_new(people: dict[str, User], **fields: Any) -> Campaign:
    """A PRISM-style rating study alice, bob and dave joined; dave withdraws in the end."""
    c = campaign_new(
        "study",
        admin=people["carol"],
        members=[],
        task_kind="rating",
        settings=PRISM_SETTINGS,
        **{"overlap": 3, **fields},
    )
    studies.consent_text_set(campaign=c, text="We publish your ratings under a pseudonym.")
    # Participants sign up on the study's own page (a closed study takes invitations only).
    Study.objects.filter(campaign=c).update(signup_open=True)
    c.survey = {"questions": SURVEY_QUESTIONS}
    c.save(update_fields=["survey"])
    for name in ("alice", "bob", "dave"):
        study_join(c, people[name], SURVEY_ANSWERS[name])
    return c


def study_withdraw(campaign: Campaign, user: User) -> None:
    participant = studies.participant_join(campaign=campaign, user=user)
    studies.consent_withdraw(participant=participant)


def _study_imported(people: dict[str, User]) -> Campaign:
    """The study, its conversations imported rather than chatted live (no model needed)."""
    from tests.exports.conftest import rate_by_model

    c = study_campaign_new(people)
    assert prompts_import(campaign=c, content=lines(3, n_prompts=2, system="Be kind.")).ok
    for name in ("alice", "bob", "dave"):
        judge_all(c, people[name], rate_by_model)
    study_withdraw(c, people["dave"])
    return c


def _study_live(people: dict[str, User]) -> Campaign:
    """The study with live chats (PRISM's conversations) answered by the real default model,
    a few tokens a reply, run in this process as a worker would: alice chats two turns, bob
    one, dave one and then withdraws."""
    from generation.models import GenerationRequest, LanguageModel
    from generation.services import generation_run, live_chat_say, live_chat_start

    c = study_campaign_new(people, overlap=1, live_first_replies=2, live_later_replies=1,
                           live_max_turns=2)  # fmt: skip
    c.language_models.set(
        [
            LanguageModel.objects.create(
                name=f"smol-live-{i}",
                backend="transformers",
                settings={"threads": 1},  # the settings of the tests' loaded default model
                sampling_params={"max_new_tokens": 4, "temperature": 0.7, "seed": 7 + i},
            )
            for i in range(2)
        ]
    )

    def rate(name: str, conversation_id: int, turn: int) -> None:
        for request in GenerationRequest.objects.filter(
            parent__conversation_id=conversation_id, state="queued"
        ):
            generation_run(request_id=request.id)
        [a] = Assignment.objects.filter(
            task__conversation_id=conversation_id, annotator=people[name]
        ).order_by("id")[turn:]
        scores = {m: 90 - 30 * i for i, m in enumerate(a.display_order)}
        judgment_submit(
            assignment=a,
            annotator=people[name],
            payload={
                "ratings": {str(m): {"score": s} for m, s in scores.items()},
                "followup": {
                    "chosen": a.display_order[0],
                    "scores": {"factuality": 60, "choice_factuality": 70},
                    "feedback": f"{name} liked the first.",
                },
            },
            idempotency_key=f"live-{a.id}",
        )

    for name, turns in (("alice", 2), ("bob", 1), ("dave", 1)):
        conversation = live_chat_start(
            campaign=c, participant=people[name], text=f"{name}: name a fruit.",
            prism_type="unguided",
        )  # fmt: skip
        rate(name, conversation.id, 0)
        for turn in range(1, turns):
            live_chat_say(conversation=conversation, participant=people[name], text="Why?")
            rate(name, conversation.id, turn)
    study_withdraw(c, people["dave"])
    return c


BUILDERS: dict[str, Callable[[dict[str, User]], Campaign]] = {
    "pairwise": _pairwise,
    "ranking": _ranking,
    "rating": _rating,
    "binary": _single("binary", _thumbs),
    "label": _single("label", _labels),
    "critique": _single("critique", _critique),
    "rewrite": _single("rewrite", _rewrite),
    "reply": _reply,
    "tree": _tree,
    "study": _study_imported,
    "live": _study_live,
}
# The matrix's kinds: every kind, and the study with live chats (the real model answers them,
# so the two-database test, which builds in a process of its own, leaves it out).
MATRIX_KINDS = (*KINDS, "live")


def campaign_build(kind: str, people: dict[str, User] | None = None) -> Campaign:
    return BUILDERS[kind](people or cast())
