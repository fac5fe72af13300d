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
from annotation.selectors.quality.snapshots import (
    QUALITY,
    QualityShown,
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


def quality_shown(*, campaign: Campaign) -> QualityShown:
    """What the quality page shows. Computed now when the snapshot is stale and the campaign
    small enough (AGORA_QUALITY_LIVE_JUDGMENTS); otherwise the last snapshot as it is."""
    version = quality_version(campaign=campaign)
    shown = quality_snapshot(campaign=campaign, version=version)
    if not shown.stale:
        return shown
    limit = settings.AGORA_QUALITY_LIVE_JUDGMENTS
    # Counted up to the limit only: a large campaign is not counted through.
    if judgments_counted(campaign=campaign)[: limit + 1].count() <= limit:
        quality_refresh(campaign=campaign, version=version)
        return quality_snapshot(campaign=campaign, version=version)
    return shown


def quality_refresh_due() -> int:
    """Refresh the quality snapshot of every campaign whose judgments changed since (the
    periodic Celery task). Returns how many were refreshed."""
    refreshed = 0
    for campaign in Campaign.objects.exclude(state=Campaign.State.DRAFT).order_by("id"):
        version = quality_version(campaign=campaign)
        if version.startswith("0|"):
            continue  # nothing judged
        current = StatisticSnapshot.objects.filter(
            campaign=campaign, name=QUALITY, version=version
        ).exists()
        if not current:
            quality_refresh(campaign=campaign, version=version)
            refreshed += 1
    return refreshed
