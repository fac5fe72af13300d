"""Routing beyond "fewest judgments first": active pair selection and repeated pairs.

Active selection. Leasing stays one indexed query: it reads a pre-computed `Task.priority`
(highest first; see leasing._task_pick), and this module refreshes those priorities from the
current Bradley-Terry fit, once a minute from Celery and whenever an admin asks. A refresh
plans the next `plan_size` judgments greedily. Each step takes the pair of models whose next
outcome is worth most to the leaderboard: the outcome's uncertainty under the fit, p(1 - p),
times how uncertain the pair's difference still is, which together are the drop in the
leaderboard's total variance that one more judgment of the pair buys (A-optimal design; with
Sherman-Morrison the covariance is updated as if the outcome were in, so the plan spreads
over pairs instead of serving the single closest pair forever, which p(1 - p) alone would
do). Each planned judgment goes to an open task of that pair with room left; its priority is
the step's rank. Tasks outside the plan keep priority 0 and come after, fewest judgments
first, so an annotator never runs dry between refreshes.

Message trees. A tree campaign leases by its rules' priorities (reviews, replies, new
prompts, comparisons; services.trees). Active routing composes with them: the plan orders the
tree's comparisons inside their own tier, and every other task keeps the priority its rules
give it, through every re-plan and a switch back to the default routing.

Repeated pairs. On a campaign with `repeat_share` > 0, that share of an annotator's leases
serves a pair they judged at least REPEAT_AFTER judgments ago again, sides swapped, as a
task of its own (state REPEAT, overlap 1) that nobody else is ever given.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Case, F, FloatField, Q, Value, When

from annotation.kinds.trees import KIND_NAMES, RANKING_KINDS, tree_settings
from annotation.models import Campaign, Judgment, Task, TaskCandidate

if TYPE_CHECKING:
    import numpy as np

# Leasing imports this module for repeats; the planner's numerical imports (numpy, and
# choix with scipy through the leaderboard) wait until a plan is made.

PLAN_SIZE = 200
REPEAT_AFTER = 5


@dataclass(frozen=True)
class _Unit:
    """The open tasks over one set of model pairs (one pair for a pairwise task)."""

    pairs: tuple[tuple[int, int], ...]
    tasks: list[tuple[int, int]]  # (task id, room left), fewest judgments first


def active_plan(
    *,
    theta: np.ndarray,
    counts: np.ndarray,
    units: list[_Unit],
    size: int,
) -> dict[int, float]:
    """task id -> priority for the next `size` judgments (see the module's docstring)."""
    import numpy as np

    from annotation.selectors.leaderboard import bt_covariance

    cov = bt_covariance(theta, counts)
    room = {tid: left for unit in units for tid, left in unit.tasks}
    plan: dict[int, float] = {}
    n = len(theta)
    for step in range(size):
        best, best_gain = None, 0.0
        for unit in units:
            if not any(room[t] for t, _ in unit.tasks):
                continue
            gain = 0.0
            for a, b in unit.pairs:
                x = np.zeros(n)
                x[a], x[b] = 1.0, -1.0
                p = 1 / (1 + np.exp(theta[b] - theta[a]))
                w = p * (1 - p)
                cx = cov @ x
                gain += w * float(cx @ cx) / (1 + w * float(x @ cx))
            if gain > best_gain:
                best, best_gain = unit, gain
        if best is None:
            break
        for a, b in best.pairs:
            x = np.zeros(n)
            x[a], x[b] = 1.0, -1.0
            p = 1 / (1 + np.exp(theta[b] - theta[a]))
            w = p * (1 - p)
            cx = cov @ x
            cov = cov - w * np.outer(cx, cx) / (1 + w * float(x @ cx))
        task_id = next(t for t, _ in best.tasks if room[t])
        room[task_id] -= 1
        plan.setdefault(task_id, float(size - step))
    return plan


def task_priorities_refresh(*, campaign: Campaign, plan_size: int = PLAN_SIZE) -> int:
    """Re-plan an active campaign's next judgments; returns how many tasks are in the plan.
    On another routing it clears any plan left over. A tree campaign's tasks keep the
    priorities of its rules, the plan ordering its comparisons among them
    (`_tree_priorities_set`)."""
    planned: dict[int, float] = {}
    if campaign.routing == Campaign.Routing.ACTIVE:
        planned = plan_for(campaign=campaign, plan_size=plan_size)
    if campaign.tree:
        _tree_priorities_set(campaign, planned, plan_size)
        return len(planned)
    whens = [When(id=tid, then=Value(priority)) for tid, priority in planned.items()]
    # One statement: the tasks of the old plan drop to 0 as the new plan's rise, so leases
    # never see half of each.
    Task.objects.filter(Q(priority__gt=0) | Q(id__in=list(planned)), campaign=campaign).update(
        priority=Case(*whens, default=Value(0.0), output_field=FloatField())
        if whens
        else Value(0.0)
    )
    return len(planned)


def _tree_priorities_set(campaign: Campaign, planned: dict[int, float], plan_size: int) -> None:
    """A tree campaign leases by priority alone (leasing's TREE pick): each task has the
    priority its rules give its need (tree.priorities: reviews, replies, new prompts,
    comparisons). The plan orders the comparisons inside their own tier: a planned one rises
    above the unplanned ones of its kind by up to half the gap to the next tier up, in the
    plan's order, so it never passes a need the rules put first. Only the open tasks whose
    priority differs from this are written, so a re-plan also repairs a tree whose
    priorities were lost."""
    tiers = tree_settings(campaign.tree).priorities
    kinds = dict(Task.objects.filter(id__in=list(planned)).values_list("id", "kind"))
    whens = []
    for task_id, rank in planned.items():
        tier = tiers[kinds[task_id]]
        above = [p for p in tiers.values() if p > tier]
        room = min(1.0, (min(above) - tier) / 2) if above else 1.0
        whens.append(When(id=task_id, then=Value(tier + room * rank / (plan_size + 1))))
    target = Case(
        *whens,
        When(kind="reply", parent__isnull=True, then=Value(tiers["prompt"])),
        *[When(kind=kind, then=Value(tiers[kind])) for kind in KIND_NAMES],
        default=F("priority"),
        output_field=FloatField(),
    )
    Task.objects.filter(campaign=campaign, state=Task.State.OPEN).alias(target=target).exclude(
        priority=F("target")
    ).update(priority=target)


def plan_for(*, campaign: Campaign, plan_size: int = PLAN_SIZE) -> dict[int, float]:
    """task id -> priority of the next `plan_size` judgments, from the fit as it is now."""
    import numpy as np

    from annotation.selectors.leaderboard import (
        bt_fit,
        comparisons_counted,
        comparisons_from,
        counts_serve,
        leaderboard_rows,
    )

    if counts_serve(campaign=campaign):
        # A pairwise campaign's comparisons, counted by the database (not read one by one).
        counted = comparisons_counted(campaign=campaign)
        data = counted[""] if counted else comparisons_from([])
    else:
        data = comparisons_from(leaderboard_rows(campaign=campaign))
    index = {m: k for k, m in enumerate(data.models)}
    open_tasks = Task.objects.filter(
        campaign=campaign,
        state=Task.State.OPEN,
        judgments_count__lt=F("overlap") - F("leased_count"),
    )
    if campaign.tree:
        # A tree's comparisons; its replies and reviews follow the tree's rules.
        open_tasks = open_tasks.filter(kind__in=RANKING_KINDS)
    rows = open_tasks.order_by("judgments_count", "id").values_list(
        "id", "candidate_keys", "overlap", "judgments_count", "leased_count"
    )
    by_pairs: dict[tuple[tuple[int, int], ...], list[tuple[int, int]]] = defaultdict(list)
    for task_id, keys, overlap, judged, leased in rows:
        models = _models_of(keys)
        if len(models) < len(keys) or len(set(models.values())) < 2:
            continue  # responses without a model tell the leaderboard nothing
        at = [index.setdefault(m, len(index)) for m in models.values()]
        pairs = {(min(a, b), max(a, b)) for a, b in itertools.combinations(at, 2) if a != b}
        by_pairs[tuple(sorted(pairs))].append((task_id, overlap - judged - leased))
    if not by_pairs:
        return {}
    n = len(index)
    wins = np.zeros((n, n))
    if len(data.i):
        wins[: data.n, : data.n] = data.matrix()
    theta = bt_fit(wins) if len(data.i) else np.zeros(n)
    units = [_Unit(pairs, tasks) for pairs, tasks in by_pairs.items()]
    return active_plan(theta=theta, counts=wins + wins.T, units=units, size=plan_size)


def _models_of(keys: list[list[object]]) -> dict[int, int]:
    """message id -> LanguageModel id, from a task's counterbalancing keys ("m<id>")."""
    out = {}
    for message_id, key in keys:
        if isinstance(key, str) and key.startswith("m") and key[1:].isdigit():
            out[int(str(message_id))] = int(key[1:])
    return out


def campaigns_priorities_refresh() -> int:
    """Refresh every open campaign with active routing (the periodic Celery task)."""
    refreshed = 0
    for campaign in Campaign.objects.filter(
        state=Campaign.State.OPEN, routing=Campaign.Routing.ACTIVE
    ):
        task_priorities_refresh(campaign=campaign)
        refreshed += 1
    return refreshed


# --- repeated pairs -------------------------------------------------------------------------


def repeat_maybe(*, campaign_id: int, annotator_id: int, share: float) -> Task | None:
    """With probability `share`, a pair this annotator judged earlier, as a new task of its
    own with the sides swapped; None otherwise or when nothing is due. Runs inside the lease's
    transaction (the member's row is locked), so one person never gets two repeats of a pair.
    """
    if share <= 0 or random.random() >= share:
        return None
    recent = list(
        Judgment.objects.filter(campaign_id=campaign_id, annotator_id=annotator_id)
        .order_by("-id")
        .values_list("id", flat=True)[:REPEAT_AFTER]
    )
    if len(recent) < REPEAT_AFTER:
        return None
    original = (
        Judgment.objects.filter(
            campaign_id=campaign_id,
            annotator_id=annotator_id,
            kind=Campaign.Kind.PAIRWISE,
            id__lt=recent[-1],
            task__repeat_of__isnull=True,
            task__gold__isnull=True,
        )
        .exclude(task__repeats__assignments__annotator_id=annotator_id)
        .select_related("task", "assignment")
        .order_by("id")
        .first()
    )
    if original is None:
        return None
    task = original.task
    keys = {int(m): key for m, key in task.candidate_keys}
    swapped = list(reversed(original.assignment.display_order))
    repeat = Task.objects.create(
        campaign_id=campaign_id,
        conversation_id=task.conversation_id,
        parent_id=task.parent_id,
        kind=task.kind,
        overlap=1,
        state=Task.State.REPEAT,
        repeat_of=task,
        # Leasing shows a repeat's candidates in this order: the first time's, swapped.
        candidate_keys=[[m, keys[m]] for m in swapped],
    )
    TaskCandidate.objects.bulk_create(
        [TaskCandidate(task=repeat, message_id=m, position=pos) for pos, m in enumerate(swapped)]
    )
    return repeat
