"""Reads: which judgments count.

One rule for every statistic, plan, page and export: a person who withdrew consent from a
campaign is gone from all of them, their earlier judgments included. Everything that reads a
campaign's judgments for those starts from `judgments_counted` (the quality measures'
`judgment_rows`, and through them the leaderboard and the routing plan; progress; the review
queue; the exports' context), so that no feature can leave the rule out or apply a second one.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.db.models import Exists, Max, OuterRef, QuerySet

from annotation.models import Campaign, Judgment, Participant, User


def _withdrawals(campaign: Campaign | int | OuterRef) -> QuerySet[Participant]:
    # campaign_id takes a campaign's id or a reference to the outer query's (many campaigns).
    pk: Any = campaign.pk if isinstance(campaign, Campaign) else campaign
    return Participant.objects.filter(campaign_id=pk, withdrawn_at__isnull=False)


def people_withdrawn(*, campaign: Campaign | int) -> QuerySet[User]:
    """People who withdrew their consent from the campaign."""
    return User.objects.filter(id__in=_withdrawals(campaign).values("membership__user_id"))


def withdrawn_last(*, campaign: Campaign | int) -> datetime | None:
    """When the campaign's latest withdrawal happened (None: nobody withdrew)."""
    return _withdrawals(campaign).aggregate(at=Max("withdrawn_at"))["at"]


def judgments_counted(
    *, campaign: Campaign | int, withdrawn: Collection[int] | None = None
) -> QuerySet[Judgment]:
    """The campaign's judgments that may be counted, shown or exported: all but those of
    people who withdrew consent. `withdrawn`: their user ids, when the caller holds them
    already (the exports read them once and keep them as a set); otherwise a subquery of the
    same statement reads them."""
    qs = Judgment.objects.filter(campaign=campaign)
    if withdrawn is None:
        return qs.exclude(annotator_id__in=_withdrawals(campaign).values("membership__user_id"))
    # The people who withdrew are few: a list reads faster than a subquery per row.
    return qs.exclude(annotator_id__in=sorted(withdrawn)) if withdrawn else qs


def judgments_counted_in(*, campaign_ids: Collection[int]) -> QuerySet[Judgment]:
    """`judgments_counted` for many campaigns in one statement (the dashboard's list): each
    judgment is left out when its author withdrew from that judgment's own campaign."""
    withdrew = _withdrawals(OuterRef("campaign_id")).filter(
        membership__user_id=OuterRef("annotator_id")
    )
    return Judgment.objects.filter(campaign_id__in=campaign_ids).exclude(Exists(withdrew))
