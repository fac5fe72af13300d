"""Campaigns whose items get judgments from several simulated annotators, through the real
lease and submit services."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from annotation.models import Campaign, Membership, User
from annotation.services import judgment_submit, membership_add, prompts_import, task_lease_next


def prompt_lines(n_prompts: int, n_responses: int) -> str:
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


def people(prefix: str, n: int) -> list[User]:
    return [
        User.objects.create_user(username=f"{prefix}{i}", password=f"pw-{prefix}{i}")
        for i in range(n)
    ]


# payload_for(annotator index, task id, candidate ids sorted) -> the payload to submit
PayloadFor = Callable[[int, int, list[int]], Any]


@pytest.fixture
def judged_campaign(make_campaign) -> Callable[..., Campaign]:
    """A campaign of `prompts` prompts, every item judged by each of `annotators` (their
    payloads from `payload_for`), adjudication on with `rule`."""

    def make(
        *,
        kind: str,
        payload_for: PayloadFor,
        annotators: Sequence[User],
        settings: dict[str, Any] | None = None,
        rule: dict[str, Any] | None = None,
        prompts: int = 1,
        responses: int = 2,
        reviewers: Sequence[User] = (),
    ) -> Campaign:
        campaign = make_campaign(
            members=annotators,
            task_kind=kind,
            settings=settings or {},
            overlap=len(annotators),
            adjudication={"enabled": True, **(rule or {})},
        )
        for r in reviewers:
            membership_add(campaign=campaign, user=r, role=Membership.Role.REVIEWER)
        report = prompts_import(campaign=campaign, content=prompt_lines(prompts, responses))
        assert report.ok, report.lines
        for i, annotator in enumerate(annotators):
            while (a := task_lease_next(annotator=annotator, campaign=campaign)) is not None:
                judgment_submit(
                    assignment=a,
                    annotator=annotator,
                    payload=payload_for(i, a.task_id, sorted(a.display_order)),
                    idempotency_key=uuid.uuid4().hex,
                )
        return campaign

    return make
