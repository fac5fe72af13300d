"""Reads: annotator quality as last computed in the background, and whether it is current.

Most of the quality page cannot be counted by the database: agreement pairs every two answers
of a unit, the flags' tests fit Bradley-Terry without each annotator in turn. A small campaign
computes it as the page is served; a large one (past AGORA_STATISTICS_LIVE_JUDGMENTS judgments)
reads the last result a periodic Celery task kept (services.statistics), with its age. What
the snapshot holds is what `annotator_quality` and `agreement_by_profile` return, as JSON.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max

from annotation.models import Campaign, Judgment, Membership, StatisticSnapshot
from annotation.selectors.judgments import withdrawn_last
from annotation.selectors.quality.agreement import Alpha, GroupAgreement, PairAgreement
from annotation.selectors.quality.annotators import AnnotatorQuality, CampaignQuality
from annotation.selectors.quality.flags import Flag
from annotation.selectors.quality.length import LengthBias
from annotation.selectors.quality.rows import Share

QUALITY = "quality"


def quality_version(*, campaign: Campaign) -> str:
    """Which judgments a quality snapshot of now would be made of: the campaign's last
    judgment, its last withdrawal and who is flagged (three indexed reads)."""
    last = Judgment.objects.filter(campaign=campaign).aggregate(m=Max("id"))["m"] or 0
    gone = withdrawn_last(campaign=campaign)
    flagged = Membership.objects.filter(campaign=campaign, is_flagged=True).order_by("user_id")
    digest = hashlib.sha256(
        ",".join(str(u) for u in flagged.values_list("user_id", flat=True)).encode()
    ).hexdigest()[:12]
    return f"{last}|{gone.isoformat() if gone else ''}|{digest}"


def _share(d: dict[str, Any]) -> Share:
    return Share(d["value"], d["n"])


def quality_to_json(q: CampaignQuality, by_profile: dict[str, list[GroupAgreement]]) -> Any:
    return {
        "quality": asdict(q),
        "by_profile": {f: [asdict(g) for g in gs] for f, gs in by_profile.items()},
    }


def _annotator(d: dict[str, Any]) -> AnnotatorQuality:
    shares = {
        k: _share(v) for k, v in d.items() if isinstance(v, dict) and set(v) == {"value", "n"}
    }
    flags = [Flag(**f) for f in d["flags"]]
    return AnnotatorQuality(**{**d, **shares, "flags": flags})


def quality_from_json(data: Any) -> tuple[CampaignQuality, dict[str, list[GroupAgreement]]]:
    q = data["quality"]
    length = q["length_bias"]
    quality = CampaignQuality(
        annotators=[_annotator(a) for a in q["annotators"]],
        alphas=[Alpha(**a) for a in q["alphas"]],
        pairs=PairAgreement(**q["pairs"]),
        position_bias=_share(q["position_bias"]),
        length_bias=LengthBias(
            _share(length["longer"]), [(label, _share(s)) for label, s in length["bins"]]
        ),
        profile_fields=q["profile_fields"],
        tests=q["tests"],
        alpha=q["alpha"],
    )
    by_profile = {
        field: [
            GroupAgreement(
                value=g["value"],
                annotators=g["annotators"],
                judgments=g["judgments"],
                within=_share(g["within"]),
                across=_share(g["across"]),
                with_majority=_share(g["with_majority"]),
            )
            for g in groups
        ]
        for field, groups in data["by_profile"].items()
    }
    return quality, by_profile


@dataclass(frozen=True)
class QualityShown:
    """What the quality page shows: the statistics, when they were computed, and whether
    judgments came in (or people left, or were flagged) since."""

    quality: CampaignQuality | None  # None: never computed yet
    by_profile: dict[str, list[GroupAgreement]]
    computed_at: datetime | None
    seconds: float
    stale: bool


def quality_snapshot(*, campaign: Campaign, version: str | None = None) -> QualityShown:
    """The last quality snapshot, with the members' flag and block state as they are now
    (the buttons act on today's state)."""
    snap = StatisticSnapshot.objects.filter(campaign=campaign, name=QUALITY).first()
    if snap is None:
        return QualityShown(None, {}, None, 0.0, True)
    quality, by_profile = quality_from_json(snap.data)
    state = {
        m: (flagged, blocked)
        for m, flagged, blocked in Membership.objects.filter(campaign=campaign).values_list(
            "id", "is_flagged", "is_blocked"
        )
    }
    for a in quality.annotators:
        if a.membership_id in state:
            a.is_flagged, a.is_blocked = state[a.membership_id]
    current = version if version is not None else quality_version(campaign=campaign)
    return QualityShown(
        quality, by_profile, snap.computed_at, snap.seconds, snap.version != current
    )


# --- the leaderboard, kept --------------------------------------------------------------------


def leaderboard_key(attribute: str | None, field: str | None) -> str:
    return f"leaderboard|{attribute or ''}|{field or ''}"


def leaderboard_to_json(
    board: Any, groups: list[Any], ratings: list[Any], fields: list[str]
) -> Any:
    return {
        "fields": fields,
        "board": asdict(board),
        "groups": [asdict(g) for g in groups],
        "ratings": [asdict(r) for r in ratings],
    }


def _board(d: dict[str, Any]) -> Any:
    from annotation.selectors.leaderboard import Leaderboard, Standing, WinCell

    return Leaderboard(
        standings=[Standing(**s) for s in d["standings"]],
        win_rates=[[WinCell(**c) if c else None for c in row] for row in d["win_rates"]],
        judgments=d["judgments"],
        comparisons=d["comparisons"],
        attribute=d["attribute"],
    )


@dataclass(frozen=True)
class LeaderboardShown:
    board: Any  # selectors.leaderboard.Leaderboard
    groups: list[Any]  # GroupBoard per answer to the profile field asked for
    ratings: list[Any]  # AttributeMean
    fields: list[str]  # the profile fields a board may be broken down by
    computed_at: datetime | None
    seconds: float
    stale: bool


def leaderboard_snapshot(
    *, campaign: Campaign, attribute: str | None, field: str | None, version: str
) -> LeaderboardShown | None:
    from annotation.selectors.leaderboard import AttributeMean, GroupBoard

    snap = StatisticSnapshot.objects.filter(
        campaign=campaign, name=leaderboard_key(attribute, field)
    ).first()
    if snap is None:
        return None
    d = snap.data
    return LeaderboardShown(
        board=_board(d["board"]),
        groups=[GroupBoard(g["value"], g["annotators"], _board(g["board"])) for g in d["groups"]],
        ratings=[AttributeMean(**r) for r in d["ratings"]],
        fields=d.get("fields", []),
        computed_at=snap.computed_at,
        seconds=snap.seconds,
        stale=snap.version != version,
    )
