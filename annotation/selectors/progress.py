"""Reads: how far a campaign has come, how fast it moves, and when it will be done."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from annotation.models import (
    Assignment,
    Campaign,
    Conversation,
    Judgment,
    Membership,
    Message,
    Task,
)
from annotation.selectors.judgments import (
    judgments_counted,
    judgments_counted_in,
    people_withdrawn,
)

# The pace behind the estimate: judgments over the last day (or since the first, if later).
PACE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class CampaignProgress:
    prompts: int
    tasks: int
    done: int  # tasks with all their judgments
    in_progress: int  # tasks short of judgments, leased to someone now
    waiting: int  # tasks short of judgments, nobody on them now
    cancelled: int
    judgments: int
    judgments_left: int  # judgments still needed to complete every open task
    annotators: int
    active_annotators: int  # judged in the last hour
    series: list[tuple[datetime, int]]  # judgments per bucket
    bucket: str  # "hour" or "day"
    pace_per_hour: float
    eta: datetime | None  # at the current pace; None when nothing moves or nothing is left

    @property
    def share_done(self) -> float:
        total = self.judgments + self.judgments_left
        return self.judgments / total if total else 0.0


def campaign_progress_overview(
    *, campaign: Campaign, now: datetime | None = None
) -> CampaignProgress:
    now = now or timezone.now()
    # Repeats (self-consistency checks) are extra work of one annotator, not campaign tasks.
    tasks = Task.objects.filter(campaign=campaign, repeat_of__isnull=True)
    counts = tasks.aggregate(
        tasks=Count("id"),
        done=Count("id", filter=Q(state=Task.State.COMPLETE)),
        cancelled=Count("id", filter=Q(state=Task.State.CANCELLED)),
        # A live chat turn is its participant's from the start: in progress until rated.
        in_progress=Count(
            "id", filter=Q(state=Task.State.OPEN, leased_count__gt=0) | Q(state=Task.State.LIVE)
        ),
        left=Sum(
            F("overlap") - F("judgments_count"),
            filter=Q(state__in=[Task.State.OPEN, Task.State.LIVE]),
        ),
    )
    gone = people_withdrawn(campaign=campaign)
    hours = _hourly(judgments_counted(campaign=campaign), now)
    total = sum(h.n for h in hours)
    first = min((h.first for h in hours), default=None)
    series, bucket = _series(hours, first, now)
    since = max(now - PACE_WINDOW, first) if first else now
    # Judgments since `since`: all of them when the first came within the window.
    recent = total if first and first >= now - PACE_WINDOW else sum(h.recent for h in hours)
    left = counts["left"] or 0
    pace, eta = _pace_and_eta(recent=recent, since=since, left=left, now=now)
    return CampaignProgress(
        prompts=Conversation.objects.filter(campaign=campaign).count(),
        tasks=counts["tasks"],
        done=counts["done"],
        in_progress=counts["in_progress"],
        waiting=counts["tasks"] - counts["done"] - counts["cancelled"] - counts["in_progress"],
        cancelled=counts["cancelled"],
        judgments=total,
        judgments_left=left,
        annotators=Membership.objects.filter(campaign=campaign, role=Membership.Role.ANNOTATOR)
        .exclude(user__in=gone)
        .count(),
        active_annotators=Assignment.objects.filter(
            campaign=campaign, finished_at__gte=now - timedelta(hours=1)
        )
        .exclude(annotator__in=gone)
        .values("annotator_id")
        .distinct()
        .count(),
        series=series,
        bucket=bucket,
        pace_per_hour=pace,
        eta=eta,
    )


def _pace_and_eta(
    *, recent: int, since: datetime, left: int, now: datetime
) -> tuple[float, datetime | None]:
    """Judgments per hour since `since` (the pace window's start, or the first judgment if
    later), and when `left` judgments will be in at that pace (None: nothing moves or nothing
    is left)."""
    hours = max((now - since).total_seconds() / 3600, 1 / 60)
    pace = recent / hours if recent else 0.0
    eta = now + timedelta(hours=left / pace) if pace and left else None
    return pace, eta


@dataclass(frozen=True)
class CampaignSummary:
    """One campaign's line in the dashboard's list: how far it has come and when it ends."""

    tasks: int
    done: int
    judgments: int
    judgments_left: int
    pace_per_hour: float
    eta: datetime | None

    @property
    def share_done(self) -> float:
        total = self.judgments + self.judgments_left
        return self.judgments / total if total else 0.0


def campaigns_progress_summary(
    *, campaign_ids: list[int], now: datetime | None = None
) -> dict[int, CampaignSummary]:
    """The list's progress and ETA for many campaigns in two statements (tasks, judgments),
    by the same rules as `campaign_progress_overview`: repeats are not tasks, the judgments of
    people who withdrew do not count, and the pace is that of the last day (or since the
    first judgment, if later)."""
    now = now or timezone.now()
    tasks = (
        Task.objects.filter(campaign_id__in=campaign_ids, repeat_of__isnull=True)
        .values("campaign_id")
        .annotate(
            tasks=Count("id"),
            done=Count("id", filter=Q(state=Task.State.COMPLETE)),
            left=Sum(
                F("overlap") - F("judgments_count"),
                filter=Q(state__in=[Task.State.OPEN, Task.State.LIVE]),
            ),
        )
        .order_by()
    )
    by_campaign = {r["campaign_id"]: r for r in tasks}
    window = now - PACE_WINDOW
    judged = (
        judgments_counted_in(campaign_ids=campaign_ids)
        .values("campaign_id")
        .annotate(
            n=Count("id"),
            recent=Count("id", filter=Q(created_at__gte=window)),
            first=Min("created_at"),
        )
        .order_by()
    )
    judgments = {r["campaign_id"]: r for r in judged}
    out = {}
    for cid in campaign_ids:
        t = by_campaign.get(cid, {})
        j = judgments.get(cid, {})
        left = t.get("left") or 0
        first = j.get("first")
        since = max(window, first) if first else now
        pace, eta = _pace_and_eta(recent=j.get("recent", 0), since=since, left=left, now=now)
        out[cid] = CampaignSummary(
            tasks=t.get("tasks", 0),
            done=t.get("done", 0),
            judgments=j.get("n", 0),
            judgments_left=left,
            pace_per_hour=pace,
            eta=eta,
        )
    return out


@dataclass(frozen=True)
class _Hour:
    at: datetime  # the hour, local time
    n: int
    first: datetime  # the hour's first judgment
    recent: int  # of them, within PACE_WINDOW of now


def _hourly(judgments: QuerySet[Judgment], now: datetime) -> list[_Hour]:
    """The judgments per hour, with each hour's first and how many are recent: one pass over
    the campaign's judgments, from which the total, the first, the pace and the series all
    come (a pass each was four reads of a million rows)."""
    rows = (
        judgments.annotate(at=TruncHour("created_at"))
        .values("at")
        .annotate(
            n=Count("id"),
            first=Min("created_at"),
            recent=Count("id", filter=Q(created_at__gte=now - PACE_WINDOW)),
        )
        .order_by("at")
    )
    return [_Hour(r["at"], r["n"], r["first"], r["recent"]) for r in rows]


def _series(
    hours: list[_Hour], first: datetime | None, now: datetime
) -> tuple[list[tuple[datetime, int]], str]:
    """Judgments per hour over the last two days, or per day for longer campaigns; empty
    buckets included so that a chart shows the lulls."""
    if first is None:
        return [], "hour"
    span = now - first
    if span <= timedelta(hours=48):
        step, bucket = timedelta(hours=1), "hour"
        start = max(first, now - timedelta(hours=48))
        start = timezone.localtime(start).replace(minute=0, second=0, microsecond=0)
        found = {h.at: h.n for h in hours}
    else:
        step, bucket = timedelta(days=1), "day"
        start = max(first, now - timedelta(days=90))
        start = timezone.localtime(start).replace(hour=0, minute=0, second=0, microsecond=0)
        found = defaultdict(int)
        for h in hours:
            day = timezone.localtime(h.at).replace(hour=0, minute=0, second=0, microsecond=0)
            found[day] += h.n
    out = []
    at = start
    while at <= now:
        out.append((at, found.get(at, 0)))
        at += step
    return out, bucket


def models_seen(*, campaign: Campaign) -> list[tuple[str, int]]:
    """The models with responses in the campaign, and how many each."""
    rows = (
        Message.objects.filter(conversation__campaign=campaign, model__isnull=False)
        .values_list("model__name")
        .annotate(n=Count("id"))
        .order_by("model__name")
    )
    return [(name, n) for name, n in rows]
