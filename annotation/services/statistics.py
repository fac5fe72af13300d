"""Statistics kept from the background: annotator quality, computed by a periodic Celery task
for the campaigns whose judgments changed, and as the page is served for small campaigns.

A large campaign's quality page never reads its judgments while a person waits: it shows the
last snapshot and its age (selectors.quality.snapshots). Nothing here runs on the submit path.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone

from annotation.models import Campaign, StatisticSnapshot
from annotation.selectors import quality
from annotation.selectors.judgments import judgments_counted
from annotation.selectors.leaderboard import (
    campaign_leaderboard,
    leaderboard_by_profile,
    rating_means,
)
from annotation.selectors.quality.snapshots import (
    QUALITY,
    LeaderboardShown,
    QualityShown,
    leaderboard_key,
    leaderboard_snapshot,
    leaderboard_to_json,
    quality_snapshot,
    quality_to_json,
    quality_version,
)


def quality_refresh(*, campaign: Campaign, version: str | None = None) -> StatisticSnapshot:
    """Compute annotator quality and agreement by every profile field, and keep it. Writes
    only the campaign's one quality snapshot row (upsert)."""
    version = version if version is not None else quality_version(campaign=campaign)
    started = time.perf_counter()
    q = quality.annotator_quality(campaign=campaign)
    rows = (
        quality.judgment_rows(campaign=campaign, include_flagged=False) if q.profile_fields else []
    )
    by_profile = {
        field: quality.agreement_by_profile(campaign=campaign, field=field, rows=rows)
        for field in q.profile_fields
    }
    del rows
    snap, _ = StatisticSnapshot.objects.update_or_create(
        campaign=campaign,
        name=QUALITY,
        defaults={
            "version": version,
            "judgments": sum(a.judgments for a in q.annotators),
            "data": quality_to_json(q, by_profile),
            "computed_at": timezone.now(),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return snap


def _small(campaign: Campaign) -> bool:
    """Whether the campaign's statistics are cheap enough to compute as a page is served
    (AGORA_STATISTICS_LIVE_JUDGMENTS); counted up to the limit only."""
    limit = settings.AGORA_STATISTICS_LIVE_JUDGMENTS
    return judgments_counted(campaign=campaign)[: limit + 1].count() <= limit


def quality_shown(*, campaign: Campaign) -> QualityShown:
    """What the quality page shows. Computed now when the snapshot is stale and the campaign
    small enough (AGORA_STATISTICS_LIVE_JUDGMENTS); otherwise the last snapshot as it is."""
    version = quality_version(campaign=campaign)
    shown = quality_snapshot(campaign=campaign, version=version)
    if not shown.stale:
        return shown
    if _small(campaign):
        quality_refresh(campaign=campaign, version=version)
        return quality_snapshot(campaign=campaign, version=version)
    return shown


def leaderboard_refresh(
    *, campaign: Campaign, attribute: str | None, field: str | None, version: str | None = None
) -> StatisticSnapshot:
    """Fit the leaderboard (and one board per answer to `field`, and the rating means) and
    keep it. Writes only that one snapshot row (upsert)."""
    version = version if version is not None else quality_version(campaign=campaign)
    started = time.perf_counter()
    board = campaign_leaderboard(campaign=campaign, attribute=attribute)
    groups = (
        leaderboard_by_profile(campaign=campaign, field=field, attribute=attribute) if field else []
    )
    fields = quality.profile_fields_counted(campaign=campaign, include_flagged=False)
    data = leaderboard_to_json(board, groups, rating_means(campaign=campaign), fields)
    snap, _ = StatisticSnapshot.objects.update_or_create(
        campaign=campaign,
        name=leaderboard_key(attribute, field),
        defaults={
            "version": version,
            "judgments": board.judgments,
            "data": data,
            "computed_at": timezone.now(),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return snap


def leaderboard_shown(
    *, campaign: Campaign, attribute: str | None, field: str | None
) -> LeaderboardShown:
    """What the leaderboard page shows. Fitted now when nothing is kept yet, or when the kept
    fit is stale and the campaign small; a large campaign's stale fit is shown with its age
    until the periodic task refits it (the fit counts in SQL: seconds, not minutes)."""
    version = quality_version(campaign=campaign)
    shown = leaderboard_snapshot(
        campaign=campaign, attribute=attribute, field=field, version=version
    )
    if shown is None or (shown.stale and _small(campaign)):
        leaderboard_refresh(campaign=campaign, attribute=attribute, field=field, version=version)
        shown = leaderboard_snapshot(
            campaign=campaign, attribute=attribute, field=field, version=version
        )
    assert shown is not None  # kept just now
    return shown


def quality_refresh_due() -> int:
    """Refresh every kept statistic (quality, each leaderboard asked for) of every campaign
    whose judgments changed since (the periodic Celery task). Returns how many were
    refreshed."""
    refreshed = 0
    for campaign in Campaign.objects.exclude(state=Campaign.State.DRAFT).order_by("id"):
        version = quality_version(campaign=campaign)
        if version.startswith("0|"):
            continue  # nothing judged
        kept = dict(
            StatisticSnapshot.objects.filter(campaign=campaign).values_list("name", "version")
        )
        if kept.get(QUALITY) != version:
            quality_refresh(campaign=campaign, version=version)
            refreshed += 1
        for name, at in kept.items():
            if name.startswith("leaderboard|") and at != version:
                _, attribute, field = name.split("|", 2)
                leaderboard_refresh(
                    campaign=campaign,
                    attribute=attribute or None,
                    field=field or None,
                    version=version,
                )
                refreshed += 1
    return refreshed
