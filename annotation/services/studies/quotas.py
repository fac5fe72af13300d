"""Quotas: who is admitted to a study, and which participants get the next task (steering).

A campaign's quotas (Campaign.quotas) name dimensions of the survey, each with its targets:

    {"steer": true,
     "dimensions": [{"question": "age", "unit": "share", "participants": 200,
                     "targets": {"18-24 years old": 0.3, "25-34 years old": 0.3, ...}},
                    {"question": "reside_country", "unit": "count",
                     "targets": {"United Kingdom": 100, "United States": 100}}]}

A cell is one answer of one dimension ("age=18-24 years old"). A participant belongs to one
cell per dimension; an answer with no target (or "Prefer not to say") is outside the quota.

Admission: a cell is full when the participants admitted to it reach its target: the count
itself (unit "count"), or share * participants (unit "share"; without "participants", share
cells never fill and only steering applies). Someone who would land in a full cell is not
admitted and sees a clear page instead of a task.

Steering, while collection runs (the rule `steering_allows_lease` applies at every lease of
a participant in a quota campaign). Tasks are pulled, not pushed, so "the next task goes to the
cells furthest behind" becomes a reservation: the work still open (R slots) is first kept
for the cells behind their target. With L_c the tasks leased to cell c so far, T their sum
over the dimension and s_c the cell's target share, the collection ends with F = T + R
leases, and cell c is short of its target by deficit_c = max(0, s_c*F - L_c). A participant
of cell c gets a task when c is itself behind (deficit_c > 0) or when the open work exceeds
what every other cell still lacks (R > Σ_{c'≠c} deficit_c'); otherwise they are told nothing
is left for them now. So cells ahead of target work freely while work is plentiful and stop
where continuing would eat into the share of the cells behind: the furthest behind are never
refused. It costs one small read per lease (the cells' counters) and, only when a
participant's cell is held back at all, a scan of the open tasks that stops as soon as it has
found enough open slots (steering_threshold turns the rule into that count); paid only by
participants of campaigns with quotas. A campaign without quotas pays nothing, and one with
"steer": false only the admission check when people join.
Leases count, not judgments: an expired lease still counts for its cell (steering a little
conservatively), which keeps the counter to one UPDATE in the lease's transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db.models import F

from annotation import db
from annotation.errors import RuleError
from annotation.models import Campaign, QuotaCell
from annotation.survey import PREFER_NOT, QUESTIONS, answer_of


@dataclass(frozen=True)
class Dimension:
    question: str
    unit: str  # "count" | "share"
    targets: dict[str, float]
    participants: int | None  # planned participants (share unit)

    def key(self, answer: str) -> str:
        return f"{self.question}={answer}"

    def shares(self) -> dict[str, float]:
        """The target share of each cell's key (counts normalised)."""
        total = sum(self.targets.values())
        if self.unit == "share" or total <= 0:
            return {self.key(a): v for a, v in self.targets.items()}
        return {self.key(a): v / total for a, v in self.targets.items()}

    def capacity(self, answer: str) -> int | None:
        """How many participants the cell admits (None = no limit)."""
        target = self.targets[answer]
        if self.unit == "count":
            return int(target)
        return None if self.participants is None else math.ceil(target * self.participants)


def quotas_clean(raw: Any) -> dict[str, Any]:
    """A campaign's quotas, checked; RuleError naming what is wrong."""
    if not raw:
        return {}
    if not isinstance(raw, dict) or not isinstance(raw.get("dimensions"), list):
        raise RuleError('Quotas need a "dimensions" list.', field="quotas")
    dims = []
    for n, d in enumerate(raw["dimensions"], start=1):
        if not isinstance(d, dict):
            raise RuleError(f"Quota dimension {n} must be an object.", field="quotas")
        question = d.get("question")
        if question not in QUESTIONS or not QUESTIONS[question].groups:
            raise RuleError(
                f"Quota dimension {n}: {question!r} is not a survey question with fixed answers.",
                field="quotas",
            )
        unit = d.get("unit", "count")
        if unit not in ("count", "share"):
            raise RuleError(f'Quota dimension {n}: unit is "count" or "share".', field="quotas")
        targets = d.get("targets")
        if not isinstance(targets, dict) or not targets:
            raise RuleError(f"Quota dimension {n} needs targets.", field="quotas")
        for answer, value in targets.items():
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            if not ok or (unit == "share" and value > 1):
                raise RuleError(
                    f"Quota dimension {n}: the target of {answer!r} must be "
                    + ("a share between 0 and 1." if unit == "share" else "a count."),
                    field="quotas",
                )
        if unit == "share" and sum(targets.values()) > 1.0001:
            raise RuleError(
                f"Quota dimension {n}: the shares add up to more than 1.", field="quotas"
            )
        participants = d.get("participants")
        if participants is not None and (not isinstance(participants, int) or participants < 1):
            raise RuleError(f"Quota dimension {n}: participants must be a count.", field="quotas")
        dims.append(
            {"question": question, "unit": unit, "targets": targets}
            | ({"participants": participants} if participants else {})
        )
    return {"steer": bool(raw.get("steer", True)), "dimensions": dims}


def dimensions_of(campaign: Campaign) -> list[Dimension]:
    return [
        Dimension(
            question=d["question"],
            unit=d.get("unit", "count"),
            targets={str(k): float(v) for k, v in d["targets"].items()},
            participants=d.get("participants"),
        )
        for d in (campaign.quotas or {}).get("dimensions", [])
    ]


@dataclass(frozen=True)
class Admission:
    cells: list[str]
    refused: str = ""  # "" | "outside" | "full"


def quota_admit(*, campaign: Campaign, answers: dict[str, Any]) -> Admission:
    """Admit a participant to their cells, counting them in; or say why not. Call inside the
    transaction that moves their stage: the cell rows are locked so that two participants
    never take the last place of a cell together."""
    dims = dimensions_of(campaign)
    if not dims:
        return Admission(cells=[])
    keys: list[str] = []
    for d in dims:
        answer = answer_of(answers, d.question)
        if answer is None or answer == PREFER_NOT or answer not in d.targets:
            return Admission(cells=[], refused="outside")
        keys.append(d.key(answer))
    for key in keys:
        QuotaCell.objects.get_or_create(campaign=campaign, key=key)
    cells = {
        c.key: c
        for c in QuotaCell.objects.select_for_update().filter(campaign=campaign, key__in=keys)
    }
    for d, key in zip(dims, keys, strict=True):
        capacity = d.capacity(key.split("=", 1)[1])
        if capacity is not None and cells[key].participants >= capacity:
            return Admission(cells=[], refused="full")
    QuotaCell.objects.filter(campaign=campaign, key__in=keys).update(
        participants=F("participants") + 1
    )
    return Admission(cells=keys)


def quota_release(*, campaign: Campaign, cells: list[str]) -> None:
    """A participant who withdrew no longer holds their place."""
    if cells:
        QuotaCell.objects.filter(campaign=campaign, key__in=cells, participants__gt=0).update(
            participants=F("participants") - 1
        )


def steering_threshold(*, cell: str, shares: dict[str, float], leased: dict[str, int]) -> float:
    """The open work above which a participant of `cell` gets a task: the rule of the module
    docstring solved for R, so that the lease only has to ask whether more than this many
    slots are open (a scan that stops there) instead of counting them all.

    c behind: deficit_c > 0 <=> R > L_c/s_c - T. Otherwise R must exceed what the other cells
    lack, D(R) = sum over c' != c of max(0, s_c'(T + R) - L_c'): D grows with R at a slope
    below 1, so R > D(R) <=> R > R*, the root of R - D(R), found interval by interval between
    the points where another cell falls behind.
    """
    total = sum(leased.get(k, 0) for k in shares)
    share = shares[cell]
    own = leased.get(cell, 0) / share - total if share > 0 else math.inf
    others = sorted(
        (leased.get(k, 0) / s - total, s, leased.get(k, 0))
        for k, s in shares.items()
        if k != cell and s > 0
    )
    active = [(s, n) for point, s, n in others if point < 0]
    later = [(point, s, n) for point, s, n in others if point >= 0]
    root = math.inf
    for point, s, n in [*later, (math.inf, 0.0, 0)]:
        slope = sum(a for a, _ in active)
        if slope >= 1:
            break
        r = sum(a * total - m for a, m in active) / (1 - slope)
        if r < point:
            root = r
            break
        active.append((s, n))
    return min(own, root)


def steering_allows(
    *, cell: str, shares: dict[str, float], leased: dict[str, int], open_slots: int
) -> bool:
    """The steering rule (module docstring) for one dimension: may a participant of `cell`
    take one more task, with `leased` tasks per cell so far and `open_slots` still open?"""
    return open_slots > steering_threshold(cell=cell, shares=shares, leased=leased)


def steering_allows_lease(*, campaign_id: int, quotas: dict[str, Any], cells: list[str]) -> bool:
    """Whether quota steering lets this participant (in `cells`) take a task now: one read of
    the cells' counters, then, only when some dimension holds them back, a scan of the open
    tasks that stops once enough slots are found."""
    if not cells or not quotas.get("steer", True):
        return True
    dims = [d for d in quotas.get("dimensions", []) if d.get("targets")]
    if not dims:
        return True
    leased = db.quota_leased(campaign_id=campaign_id)
    threshold = -math.inf
    for raw in dims:
        targets = {str(k): float(v) for k, v in raw["targets"].items()}
        d = Dimension(raw["question"], raw.get("unit", "count"), targets, raw.get("participants"))
        shares = d.shares()
        cell = next((c for c in cells if c in shares), None)
        if cell is not None:
            threshold = max(threshold, steering_threshold(cell=cell, shares=shares, leased=leased))
    if threshold < 0:
        return True
    if math.isinf(threshold):
        return False
    # Each task read has a free slot, so `threshold + 1` of them settle the question.
    open_slots = db.tasks_open_slots(campaign_id=campaign_id, up_to=int(threshold) + 1)
    return open_slots > threshold


def lease_count(*, campaign_id: int, cells: list[str]) -> None:
    """One more task leased to a participant of these cells (inside the lease's transaction)."""
    if cells:
        db.quota_leased_add(campaign_id=campaign_id, cells=cells)
