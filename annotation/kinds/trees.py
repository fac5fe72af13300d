"""The kind settings of message-tree campaigns (OpenAssistant): the rules a tree grows by
(`Campaign.tree`, checked by `tree_settings`) and the settings of each kind a tree makes. The
rules that grow a tree are services.trees."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from annotation.errors import RuleError
from annotation.kinds import kind_for
from annotation.kinds.base import integer, no_unknown, number, obj
from annotation.models import Campaign

# The kinds a tree makes, and which ones keep a tree growing (others only rank it).
GROWING_KINDS = ("reply", "label")
RANKING_KINDS = ("pairwise", "ranking")
# "prompt": writing the root of a new tree, last by default so that trees get finished.
DEFAULT_PRIORITIES = {"ranking": 3.0, "pairwise": 3.0, "label": 2.0, "reply": 1.0, "prompt": 0.5}
KIND_NAMES = ("ranking", "pairwise", "label", "reply")
PROMPT_QUESTION = "Write a prompt: the first message of a new conversation with the assistant."


@dataclass(frozen=True)
class TreeSettings:
    max_depth: int = 3  # the root prompt is depth 0
    max_children: int = 2  # replies written under each accepted message
    review_votes: int = 2  # label judgments that decide a new message
    spam_share: float = 0.5  # more than this share of spam votes rejects a message
    ranking_overlap: int = 2  # judgments per comparison of siblings
    prompt_tasks: int = 0  # "write a prompt" tasks kept open (0 = trees come from imports)
    # Which needs go first when an annotator asks for a task: higher first, then the oldest.
    # Finishing trees (rankings, reviews, replies) before starting new ones by default.
    priorities: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    # Settings of the kinds other than the campaign's own, e.g. {"label": {"labels": [...]}}.
    kinds: Mapping[str, Any] = field(default_factory=dict)


def tree_settings(raw: Mapping[str, Any] | None) -> TreeSettings:
    """The checked tree rules of a campaign (errors name the field, `tree.max_depth`)."""
    raw = dict(obj(raw or {}, "tree"))
    no_unknown(raw, set(TreeSettings.__dataclass_fields__), "tree")
    d = TreeSettings()
    priorities = {**DEFAULT_PRIORITIES, **obj(raw.get("priorities", {}), "tree.priorities")}
    for name, value in priorities.items():
        if name not in DEFAULT_PRIORITIES:
            raise RuleError(
                f"There is no tree task kind {name!r}.", field=f"tree.priorities.{name}"
            )
        number(value, f"tree.priorities.{name}", lo=0.001, hi=1000)
    kinds = dict(obj(raw.get("kinds", {}), "tree.kinds"))
    for name, kind_raw in kinds.items():
        if name not in KIND_NAMES:
            raise RuleError(f"There is no tree task kind {name!r}.", field=f"tree.kinds.{name}")
        try:
            kind_for(name).settings(kind_raw)
        except RuleError as e:
            where = (e.field or "settings").removeprefix("settings")
            raise RuleError(e.message, field=f"tree.kinds.{name}{where}") from None
    return TreeSettings(
        max_depth=integer(raw.get("max_depth", d.max_depth), "tree.max_depth", lo=1, hi=50),
        max_children=integer(
            raw.get("max_children", d.max_children), "tree.max_children", lo=1, hi=20
        ),
        review_votes=integer(
            raw.get("review_votes", d.review_votes), "tree.review_votes", lo=1, hi=20
        ),
        spam_share=number(raw.get("spam_share", d.spam_share), "tree.spam_share", lo=0, hi=1),
        ranking_overlap=integer(
            raw.get("ranking_overlap", d.ranking_overlap), "tree.ranking_overlap", lo=1, hi=20
        ),
        prompt_tasks=integer(
            raw.get("prompt_tasks", d.prompt_tasks), "tree.prompt_tasks", lo=0, hi=10_000
        ),
        priorities=priorities,
        kinds=kinds,
    )


def kind_settings_raw(
    *, campaign: Campaign, task_kind: str, parent_role: str | None = None
) -> Mapping[str, Any]:
    """The raw settings of a task's kind. A campaign without tree rules has one kind and its
    `settings`; a tree campaign keeps the other kinds' settings in `tree.kinds`, and a reply
    takes the role that answers its parent (a prompt, or the other side's last turn)."""
    if not campaign.tree:
        return campaign.settings
    raw = (
        campaign.settings
        if task_kind == campaign.task_kind
        else dict(campaign.tree.get("kinds", {})).get(task_kind, {})
    )
    if task_kind == "reply":
        raw = {**raw, "role": "assistant" if parent_role == "user" else "user"}
        if parent_role is None:  # the root of a new tree
            raw["question"] = PROMPT_QUESTION
    return raw
