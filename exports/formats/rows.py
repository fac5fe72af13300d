"""The rows every format reads: a judgment (`J`), a message (`M`) and a conversation (`C`) as
NamedTuples, the database columns each is read from, and the column helpers the formats share.

NamedTuples over `values_list` tuples, never model instances: an export of a million judgments
spends its time on the rows themselves. This module reads nothing from the database (pages.py
fills the rows), so every other module of the package may import it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple


class J(NamedTuple):
    """One judgment as the formats read it."""

    id: int
    task_id: int
    kind: str
    payload: Any
    annotator_id: int
    profile_version: int | None
    seconds_spent: float | None
    instructions_version: int
    gold_score: float | None
    created_at: datetime
    display_order: list[int]
    parent_id: int | None
    conversation_id: int
    round: int
    # Only for formats that ask for everything (`full=True`), else None.
    leased_at: datetime | None = None
    task_gold: Any = None
    candidate_keys: list[list[Any]] | None = None
    repeat_of: int | None = None
    # Campaigns with a review stage: {"decision", "reviewer", "original_payload"}; `payload`
    # is then the reviewer's correction where there is one.
    review: dict[str, Any] | None = None


# A judgment's own columns, read without joining its task (whose columns come from the page
# of tasks the batch reads first: joining a million-task table per batch costs more).
_J_OWN = (
    "id",
    "task_id",
    "kind",
    "payload",
    "annotator_id",
    "profile_id",
    "seconds_spent",
    "instructions_version",
    "gold_score",
    "created_at",
    "assignment__display_order",
)
_J_OWN_FULL = (*_J_OWN, "assignment__leased_at")
_T_FIELDS = ("id", "parent_id", "conversation_id", "round")
_T_FULL = (*_T_FIELDS, "gold", "candidate_keys", "repeat_of_id")
_new = tuple.__new__  # as Django's named values_list: no Python __new__ per row
# J's columns past the task's, None unless the format reads everything (`full`).
_J_PAD = (None,) * (len(J._fields) - J._fields.index("leased_at"))


class M(NamedTuple):
    """One message as the formats read it."""

    id: int
    parent_id: int | None
    role: str
    text: str
    model_id: int | None
    author_id: int | None
    conversation_id: int
    # Only with `full=True`.
    created_at: datetime | None = None
    sampling_params: dict[str, Any] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int | None = None
    finish_reason: str | None = None
    backend: str | None = None
    worker: str | None = None
    round: int | None = None


_M_FIELDS = (
    "id",
    "parent_id",
    "role",
    "text",
    "model_id",
    "author_id",
    "conversation_id",
)
_M_FULL = (
    *_M_FIELDS,
    "created_at",
    "sampling_params",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms",
    "finish_reason",
    "backend",
    "worker",
    "round",
)
_M_PAD = (None,) * (len(_M_FULL) - len(_M_FIELDS))


class C(NamedTuple):
    """One conversation (tree) as the formats read it."""

    id: int
    external_id: str
    origin: str
    prism_type: str
    metadata: dict[str, Any]
    created_by_id: int | None
    created_at: datetime
    tree_state: str  # blank for a campaign without tree rules


_C_FIELDS = (
    "id",
    "external_id",
    "origin",
    "prism_type",
    "metadata",
    "created_by_id",
    "created_at",
    "tree_state",
)


def review_columns(j: J) -> dict[str, Any]:
    """A reviewed judgment's decision and, where a reviewer corrected it, the annotator's own
    payload as JSON text (the row itself follows the correction); null without a review stage."""
    if j.review is None:
        return {"review_decision": None, "original_payload": None}
    original = j.review["original_payload"]
    return {
        "review_decision": j.review["decision"],
        "original_payload": None
        if original is None
        else json.dumps(original, ensure_ascii=False, sort_keys=True),
    }


def system_text(chat: list[dict[str, str]]) -> str | None:
    """The system message the models saw, if the conversation has one (it is also the first
    message of the prompt)."""
    return chat[0]["content"] if chat and chat[0]["role"] == "system" else None


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
