"""The world of the security tests: two campaigns, six roles, objects named in URLs.

Features that change what a campaign is get a campaign of their own beside C, so that C's
rows stay as they are: L (a live chat, rating kind) and S (a study). Both are carol's, with
alice in them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from annotation.attachments import attachment_check
from annotation.models import (
    Assignment,
    Attachment,
    Campaign,
    Conversation,
    Judgment,
    Membership,
    Message,
    User,
)
from annotation.selectors import studies as study_selectors
from annotation.services import (
    campaign_create,
    judgment_submit,
    membership_add,
    prompts_import,
    studies,
    task_lease_next,
)
from annotation.services.attachments import attachments_store
from annotation.services.live import live_task_create
from exports.models import ExportJob
from generation.models import GenerationRequest, LanguageModel
from generation.services import live_chat_start
from tests.trees.media import png

ROLES = ("anonymous", "annotator", "other_annotator", "admin", "other_admin", "superuser")

SECRET_MODELS = ("gpt-secret-x", "claude-secret-y")


def _lines(n: int) -> str:
    """Prompts whose responses' texts do not name their models."""
    return "\n".join(
        json.dumps(
            {
                "id": f"p{i}",
                "prompt": f"Question {i}?",
                "responses": [
                    {"text": f"Reply {i}{s}.", "model": m}
                    for s, m in zip("xy", SECRET_MODELS, strict=True)
                ],
            }
        )
        for i in range(n)
    )


@dataclass
class World:
    campaign: Campaign
    other: Campaign
    assignment: Assignment
    membership: Membership
    job: ExportJob
    judgment: Judgment  # alice's, in C (which has a review stage), awaiting review
    attachment: Attachment  # on a prompt of C
    failed: GenerationRequest  # of C, with its error
    generated: Message  # a candidate of C that a model of the registry wrote
    live: Campaign  # L: a live chat campaign
    conversation: Conversation  # alice's, in L, its first replies waiting for her rating
    live_assignment: Assignment
    study: Campaign  # S: a study, alice its participant with her tasks open to her
    invitation: str  # S's invitation token
    users: dict[str, User | None] = field(default_factory=dict)


@pytest.fixture
def world(db, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"

    def user(name: str, **extra: Any) -> User:
        return User.objects.create_user(username=name, password="pw-" + name, **extra)

    alice, dave, carol, erin = user("alice"), user("dave"), user("carol"), user("erin")
    root = User.objects.create_superuser("root", "root@example.org", "pw-root")
    c = campaign_create(name="C", slug="c", created_by=carol, state=Campaign.State.OPEN)
    d = campaign_create(name="D", slug="d", created_by=erin, state=Campaign.State.OPEN)
    for campaign, admin, annotator in ((c, carol, alice), (d, erin, dave)):
        membership_add(campaign=campaign, user=admin, role=Membership.Role.ADMIN)
        membership_add(campaign=campaign, user=annotator)
        assert prompts_import(campaign=campaign, content=_lines(3)).ok
    judgment = _review_stage(c, alice)
    assignment = task_lease_next(annotator=alice, campaign=c)
    assert assignment is not None
    job = ExportJob.objects.create(
        campaign=c, format="preference", container="jsonl", schema_version="1", requested_by=carol
    )
    prompt = Message.objects.filter(conversation__campaign=c, parent=None).order_by("id").first()
    assert prompt is not None
    smol = LanguageModel.objects.create(
        name="smol-secret", backend="transformers", sampling_params={"max_new_tokens": 4}
    )
    c.language_models.set([smol])
    (attachment,) = attachments_store(
        message=prompt, files=[attachment_check(png(), kind="image", name="a.png", field="image")]
    )
    failed = GenerationRequest.objects.create(
        campaign=c, parent=prompt, language_model=smol, state="failed", error="CUDA out of memory"
    )
    generated = Message.objects.create(
        conversation=prompt.conversation,
        parent=prompt,
        role=Message.Role.ASSISTANT,
        text="A generated reply.",
        model=smol,
    )
    live, conversation, live_assignment = _live_chat(carol, alice, smol)
    study, invitation = _study(carol, alice)
    return World(
        campaign=c,
        other=d,
        assignment=assignment,
        membership=Membership.objects.get(campaign=c, user=alice),
        job=job,
        judgment=judgment,
        attachment=attachment,
        failed=failed,
        generated=generated,
        live=live,
        conversation=conversation,
        live_assignment=live_assignment,
        study=study,
        invitation=invitation,
        users={
            "anonymous": None,
            "annotator": alice,
            "other_annotator": dave,
            "admin": carol,
            "other_admin": erin,
            "superuser": root,
        },
    )


def _review_stage(c: Campaign, alice: User) -> Judgment:
    """C gets a review stage and adjudication (carol reviews and adjudicates as its admin) and
    a judgment of alice's to review."""
    Campaign.objects.filter(pk=c.pk).update(review_stage=True, adjudication={"enabled": True})
    c.refresh_from_db()
    a = task_lease_next(annotator=alice, campaign=c)
    assert a is not None
    judgment, _ = judgment_submit(
        assignment=a, annotator=alice, payload={"outcome": "tie"}, idempotency_key="to-review"
    )
    return judgment


LIVE_SETTINGS = {
    "attributes": [{"name": "score", "scale": {"type": "slider", "min": 1, "max": 100}}]
}


def _live_chat(
    carol: User, alice: User, model: LanguageModel
) -> tuple[Campaign, Conversation, Assignment]:
    """L, and alice's conversation in it: her first turn, two replies as a worker writes them
    (without running the model), and the rating task they make."""
    live = campaign_create(
        name="L", slug="l", created_by=carol, state=Campaign.State.OPEN, task_kind="rating",
        settings=LIVE_SETTINGS, live_first_replies=2, live_later_replies=1, live_max_turns=3,
    )  # fmt: skip
    membership_add(campaign=live, user=carol, role=Membership.Role.ADMIN)
    membership_add(campaign=live, user=alice)
    live.language_models.set([model])
    conversation = live_chat_start(campaign=live, participant=alice, text="Hello?")
    turn = Message.objects.get(conversation=conversation)
    request = GenerationRequest.objects.get(parent=turn)  # one model, n=2
    GenerationRequest.objects.filter(pk=request.pk).update(state="done")
    replies = [
        Message.objects.create(
            conversation=conversation,
            parent=turn,
            role=Message.Role.ASSISTANT,
            text=f"Reply {k}.",
            model=model,
            metadata={"generation_request": request.id, "sample": k},
        )
        for k in range(2)
    ]
    assignment = live_task_create(campaign=live, parent=turn, replies=replies, participant=alice)
    return live, conversation, assignment


def _study(carol: User, alice: User) -> tuple[Campaign, str]:
    """S: a study with consent and a survey; alice took part through both."""
    s = campaign_create(name="S", slug="s", created_by=carol, state=Campaign.State.OPEN)
    membership_add(campaign=s, user=carol, role=Membership.Role.ADMIN)
    assert prompts_import(campaign=s, content=_lines(2)).ok
    studies.study_configure(
        campaign=s,
        consent_text="We keep your answers. **You may withdraw.**",
        questions=["age", "self_description", "system_string"],
        quotas={},
    )
    token = studies.invitation_make(campaign=s)
    participant = studies.participant_join(campaign=s, user=alice, token=token)
    version = study_selectors.study_for(s).consent_version
    studies.consent_give(participant=participant, version=version)
    studies.survey_submit(
        participant=participant,
        answers={
            "age": "25-34 years old",
            "self_description": "I like hiking.",
            "system_string": "Be brief.",
        },
    )
    participant.membership.refresh_from_db()
    assert participant.membership.stage == Membership.Stage.ACTIVE
    return s, token
