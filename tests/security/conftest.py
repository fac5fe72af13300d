"""The world of the security tests: two campaigns, six roles, objects named in URLs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from annotation.models import Assignment, Campaign, Membership, User
from annotation.services import campaign_create, membership_add, prompts_import, task_lease_next
from exports.models import ExportJob

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
    users: dict[str, User | None] = field(default_factory=dict)


@pytest.fixture
def world(db) -> World:
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
    assignment = task_lease_next(annotator=alice, campaign=c)
    assert assignment is not None
    job = ExportJob.objects.create(
        campaign=c, format="preference", container="jsonl", schema_version="1", requested_by=carol
    )
    return World(
        campaign=c,
        other=d,
        assignment=assignment,
        membership=Membership.objects.get(campaign=c, user=alice),
        job=job,
        users={
            "anonymous": None,
            "annotator": alice,
            "other_annotator": dave,
            "admin": carol,
            "other_admin": erin,
            "superuser": root,
        },
    )
