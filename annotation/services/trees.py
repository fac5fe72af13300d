"""Message trees that grow by rules (OpenAssistant).

A campaign with tree rules (`Campaign.tree`, checked by `tree_settings`) grows each of its
conversations as annotators work:

- a human-written message waits for review: a `label` task over it, `review_votes` judgments;
- when its review completes it is accepted, or voted spam (more than `spam_share` of the
  votes flag it): spam stops its branch, and a spam root aborts the whole tree;
- an accepted message shallower than `max_depth` gets a `reply` task for `max_children`
  replies (each by a different annotator), the prompter answering the assistant and back;
- when every reply under a parent is written and reviewed, its accepted replies are
  compared: a `pairwise` task for two, a `ranking` task for more;
- the tree state follows: `growing` while replies or reviews are open, `ranking` while only
  comparisons are, `ready_for_export` when nothing is left, `aborted_low_grade` after a
  spam root.

Everything here runs inside the judgment's transaction (`tree_judgment_grow`, called by
judging for tree campaigns only) and enqueues nothing. Leasing serves the tasks in the order
of `priorities`, and never a review or comparison over a message the annotator wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count

from annotation.kinds.trees import (
    GROWING_KINDS,
    RANKING_KINDS,
    TreeSettings,
    kind_settings_raw,
    tree_settings,
)
from annotation.models import Campaign, Conversation, Judgment, Message, Task, TaskCandidate


def tree_lock(*, task_id: int) -> None:
    """Take the task's tree for this transaction (before it writes anything): a tree moves on
    one judgment at a time, so two reviews finishing at once under one parent both see the
    other's outcome (the second waits for the first), and the lock order is always tree, then
    task rows."""
    Conversation.objects.select_for_update().filter(
        id__in=Task.objects.filter(id=task_id).values("conversation_id")
    ).values_list("id").first()


def task_settings_raw(
    *, task_id: int, tree: Mapping[str, Any], settings: Mapping[str, Any]
) -> Mapping[str, Any]:
    """kind_settings_raw for a task by id, for the submit of a tree campaign (one query)."""
    kind, campaign_kind, parent_role = Task.objects.values_list(
        "kind", "campaign__task_kind", "parent__role"
    ).get(id=task_id)
    campaign = Campaign(task_kind=campaign_kind, settings=settings, tree=tree)
    return kind_settings_raw(campaign=campaign, task_kind=kind, parent_role=parent_role)


# --- growing -------------------------------------------------------------------------------


def _task_create(
    *,
    campaign_id: int,
    conversation_id: int,
    parent_id: int | None,
    kind: str,
    overlap: int,
    candidates: Sequence[Message],
    rules: TreeSettings,
    round_: int = 1,
) -> Task:
    need = "prompt" if kind == "reply" and parent_id is None else kind
    task = Task.objects.create(
        campaign_id=campaign_id,
        conversation_id=conversation_id,
        parent_id=parent_id,
        kind=kind,
        overlap=overlap,
        priority=rules.priorities[need],
        round=round_,
        candidate_keys=[
            [m.id, f"m{m.model_id}" if m.model_id else f"p{i}"] for i, m in enumerate(candidates)
        ],
    )
    TaskCandidate.objects.bulk_create(
        [TaskCandidate(task=task, message=m, position=i) for i, m in enumerate(candidates)]
    )
    return task


def tree_tasks_for_imported(
    *, campaign: Campaign, parent: Message, candidates: Sequence[Message]
) -> list[Task]:
    """An imported prompt starts a tree: trusted, so accepted without review, and its
    replies are asked for (or, with ready-made responses, those are reviewed first)."""
    rules = tree_settings(campaign.tree)
    Conversation.objects.filter(id=parent.conversation_id).update(
        tree_state=Conversation.TreeState.GROWING
    )
    Message.objects.filter(conversation_id=parent.conversation_id).update(
        review_state=Message.Review.ACCEPTED
    )
    if candidates:
        # Model responses are not reviewed for spam; they are compared like written ones.
        Message.objects.filter(id__in=[m.id for m in candidates]).update(
            review_state=Message.Review.ACCEPTED
        )
        if len(candidates) < 2:
            return []
        return [
            _task_create(
                campaign_id=campaign.id,
                conversation_id=parent.conversation_id,
                parent_id=parent.id,
                kind="pairwise" if len(candidates) == 2 else "ranking",
                overlap=rules.ranking_overlap,
                candidates=candidates,
                rules=rules,
                round_=campaign.current_round,
            )
        ]
    return [
        _task_create(
            campaign_id=campaign.id,
            conversation_id=parent.conversation_id,
            parent_id=parent.id,
            kind="reply",
            overlap=rules.max_children,
            candidates=[],
            rules=rules,
            round_=campaign.current_round,
        )
    ]


@transaction.atomic
def tree_prompt_tasks_top_up(*, campaign: Campaign) -> int:
    """Keep `prompt_tasks` "write a prompt" tasks open: each is an empty written tree whose
    reply task (no parent) becomes its root. Returns how many were created."""
    rules = tree_settings(campaign.tree)
    open_now = Task.objects.filter(
        campaign=campaign, kind="reply", parent__isnull=True, state=Task.State.OPEN
    ).count()
    missing = max(0, rules.prompt_tasks - open_now)
    for _ in range(missing):
        conversation = Conversation.objects.create(
            campaign=campaign,
            origin=Conversation.Origin.WRITTEN,
            tree_state=Conversation.TreeState.GROWING,
        )
        _task_create(
            campaign_id=campaign.id,
            conversation_id=conversation.id,
            parent_id=None,
            kind="reply",
            overlap=1,
            candidates=[],
            rules=rules,
            round_=campaign.current_round,
        )
    return missing


def tree_judgment_grow(
    *,
    campaign_id: int,
    tree: Mapping[str, Any],
    task_id: int,
    kind: str,
    payload: Mapping[str, Any],
) -> None:
    """Move a tree on after a judgment of one of its tasks (inside the judgment's transaction,
    after the task's counters moved)."""
    rules = tree_settings(tree)
    task = Task.objects.only(
        "id", "conversation_id", "parent_id", "state", "round", "campaign_id"
    ).get(id=task_id)
    if kind == "reply":
        written = Message.objects.get(id=payload["message_id"])
        written.review_state = Message.Review.PENDING
        written.save(update_fields=["review_state"])
        if written.parent_id is None:
            Conversation.objects.filter(id=task.conversation_id).update(
                created_by_id=written.author_id
            )
            tree_prompt_tasks_top_up(campaign=Campaign.objects.get(id=campaign_id))
        _task_create(
            campaign_id=campaign_id,
            conversation_id=task.conversation_id,
            parent_id=written.parent_id,
            kind="label",
            overlap=rules.review_votes,
            candidates=[written],
            rules=rules,
            round_=task.round,
        )
    elif kind == "label" and task.state == Task.State.COMPLETE:
        _review_close(task=task, rules=rules, campaign_id=campaign_id)
    tree_state_refresh(conversation_id=task.conversation_id)


def _review_close(*, task: Task, rules: TreeSettings, campaign_id: int) -> None:
    """A message's review is complete: accept it, or stop its branch as spam."""
    message = Message.objects.get(id=task.candidate_keys[0][0])
    votes = list(Judgment.objects.filter(task_id=task.id).values_list("payload", flat=True))
    spam = sum(1 for p in votes if (p.get("labels") or {}).get("spam") is True)
    if spam > rules.spam_share * len(votes):
        message.review_state = Message.Review.SPAM
        message.save(update_fields=["review_state"])
        if message.parent_id is None:
            tree_abort(conversation_id=message.conversation_id)
            return
    else:
        message.review_state = Message.Review.ACCEPTED
        message.save(update_fields=["review_state"])
        if _depth(message) < rules.max_depth:
            _task_create(
                campaign_id=campaign_id,
                conversation_id=message.conversation_id,
                parent_id=message.id,
                kind="reply",
                overlap=rules.max_children,
                candidates=[],
                rules=rules,
                round_=task.round,
            )
    if message.parent_id is not None:
        _siblings_compare_maybe(
            parent_id=message.parent_id, task=task, rules=rules, campaign_id=campaign_id
        )


def _depth(message: Message) -> int:
    parents = dict(
        Message.objects.filter(conversation_id=message.conversation_id).values_list(
            "id", "parent_id"
        )
    )
    depth, at = 0, parents[message.id]
    while at is not None:
        depth, at = depth + 1, parents[at]
    return depth


def _siblings_compare_maybe(
    *, parent_id: int, task: Task, rules: TreeSettings, campaign_id: int
) -> None:
    """When every reply under the parent is written and reviewed, compare the accepted ones
    (pairwise for two, a ranking for more); once per parent."""
    tasks_here = Task.objects.filter(parent_id=parent_id).exclude(state=Task.State.CANCELLED)
    if tasks_here.filter(kind="reply", state=Task.State.OPEN).exists():
        return
    if tasks_here.filter(kind__in=RANKING_KINDS).exists():
        return
    children = list(Message.objects.filter(parent_id=parent_id).order_by("id"))
    if any(c.review_state == Message.Review.PENDING for c in children):
        return
    accepted = [c for c in children if c.review_state == Message.Review.ACCEPTED]
    if len(accepted) < 2:
        return
    _task_create(
        campaign_id=campaign_id,
        conversation_id=task.conversation_id,
        parent_id=parent_id,
        kind="pairwise" if len(accepted) == 2 else "ranking",
        overlap=rules.ranking_overlap,
        candidates=accepted,
        rules=rules,
        round_=task.round,
    )


def tree_abort(*, conversation_id: int) -> None:
    """A tree of low quality (its root voted spam): no more work on it."""
    Conversation.objects.filter(id=conversation_id).update(
        tree_state=Conversation.TreeState.ABORTED
    )
    Task.objects.filter(conversation_id=conversation_id, state=Task.State.OPEN).update(
        state=Task.State.CANCELLED
    )


def tree_state_refresh(*, conversation_id: int) -> str:
    """growing while replies or reviews are open, ranking while only comparisons are, ready
    for export when nothing is left; an aborted tree stays aborted."""
    conversation = Conversation.objects.only("tree_state").get(id=conversation_id)
    if conversation.tree_state == Conversation.TreeState.ABORTED:
        return conversation.tree_state
    open_kinds = dict(
        Task.objects.filter(conversation_id=conversation_id, state=Task.State.OPEN)
        .values_list("kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    if any(k in open_kinds for k in GROWING_KINDS):
        state = Conversation.TreeState.GROWING
    elif open_kinds:
        state = Conversation.TreeState.RANKING
    else:
        state = Conversation.TreeState.READY
    if state != conversation.tree_state:
        conversation.tree_state = state
        conversation.save(update_fields=["tree_state"])
    return state
