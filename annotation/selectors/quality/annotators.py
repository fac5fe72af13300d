"""Reads: per annotator - judgments, time, agreement, gold, position bias, ties and skips,
intransitive cycles, self-consistency on repeated pairs, length bias - and the flags of the
tests with a stated error rate (quality.flags) that say whom to look at."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count

from annotation.models import Assignment, Campaign, Membership
from annotation.selectors.judgments import people_withdrawn
from annotation.selectors.quality.agreement import (
    Alpha,
    PairAgreement,
    campaign_alphas,
    pair_agreement,
)
from annotation.selectors.quality.answers import (
    pair_choices,
    pair_code,
    scale_spans,
    similarity,
    units_of,
)
from annotation.selectors.quality.flags import (
    ALPHA,
    Flag,
    annotator_findings,
    cycles_counts,
    holm,
    position_counts,
)
from annotation.selectors.quality.length import (
    LengthBias,
    length_bias_from,
    length_choices,
    message_lengths,
)
from annotation.selectors.quality.rows import (
    NO_SHARE,
    JudgmentRow,
    Share,
    judgment_rows,
    profile_fields,
)


@dataclass
class AnnotatorQuality:
    user_id: int
    username: str
    pseudonym: str
    membership_id: int | None
    role: str
    is_flagged: bool
    is_blocked: bool
    judgments: int = 0
    median_seconds: float | None = None
    agreement: Share = NO_SHARE  # mean agreement with the others, over shared units
    gold: Share = NO_SHARE
    position_bias: Share = NO_SHARE  # choices of the first shown response
    ties: Share = NO_SHARE
    both_bad: Share = NO_SHARE
    skips: Share = NO_SHARE
    cycles: int = 0  # intransitive triads (a > b > c > a) among their choices on one prompt
    triads: int = 0  # triads of responses to one prompt they compared all three pairs of
    self_consistency: Share = NO_SHARE  # the same outcome on a pair served again
    length_bias: Share = NO_SHARE
    flags: list[Flag] = field(default_factory=list)  # tests failed, with how sure each is

    @property
    def warnings(self) -> list[str]:
        return [f.message for f in self.flags]


@dataclass(frozen=True)
class CampaignQuality:
    annotators: list[AnnotatorQuality]
    alphas: list[Alpha]
    pairs: PairAgreement
    position_bias: Share
    length_bias: LengthBias
    profile_fields: list[str]
    tests: int = 0  # hypotheses tested over all annotators (Holm's family)
    alpha: float = ALPHA  # the family-wise error rate of the flags


def _self_consistency(rows: Sequence[JudgmentRow], repeats: Sequence[JudgmentRow]) -> Share:
    """How often a pair served again (sides swapped) got the same outcome as the first time."""
    first = {(r.annotator_id, r.task_id): r for r in rows}
    same = n = 0
    for again in repeats:
        original = first.get((again.annotator_id, again.repeat_of or 0))
        if original is None:
            continue
        ids = [int(m) for m, _ in original.candidate_keys]
        before = dict(pair_choices(original))
        for name, choice in pair_choices(again):
            if name in before:
                same += pair_code(choice, ids) == pair_code(before[name], ids)
                n += 1
    return Share.of(same, n)


def annotator_quality(*, campaign: Campaign) -> CampaignQuality:
    everything = judgment_rows(campaign=campaign, include_repeats=True)
    rows = [r for r in everything if r.repeat_of is None]
    repeats = [r for r in everything if r.repeat_of is not None]
    # People who withdrew consent are gone from the page as from every statistic.
    gone = people_withdrawn(campaign=campaign)
    members = {
        m.user_id: m
        for m in Membership.objects.filter(campaign=campaign)
        .exclude(user__in=gone)
        .select_related("user")
    }
    flagged = {uid for uid, m in members.items() if m.is_flagged}
    kept = [r for r in rows if r.annotator_id not in flagged]
    spans = scale_spans(campaign)
    lengths = message_lengths(campaign=campaign)

    # Agreement of each annotator with the others (flagged ones are no reference).
    agree: dict[int, list[float]] = defaultdict(list)
    for answers in units_of(rows, spans).values():
        for (x, a), (y, b) in itertools.permutations(answers, 2):
            if x != y and y not in flagged:
                agree[x].append(similarity(a, b))

    by_annotator: dict[int, list[JudgmentRow]] = defaultdict(list)
    for r in rows:
        by_annotator[r.annotator_id].append(r)
    finished = (
        Assignment.objects.filter(
            campaign=campaign, state__in=[Assignment.State.SUBMITTED, Assignment.State.SKIPPED]
        )
        .exclude(annotator__in=gone)
        .values_list("annotator_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    skipped: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for annotator_id, state, n in finished:
        skipped[annotator_id][0 if state == Assignment.State.SKIPPED else 1] += n

    out = []
    for user_id in sorted(set(members) | set(by_annotator) | set(skipped)):
        m = members.get(user_id)
        mine = by_annotator.get(user_id, [])
        q = AnnotatorQuality(
            user_id=user_id,
            username=m.user.username if m else str(user_id),
            pseudonym=m.user.pseudonym if m else "",
            membership_id=m.id if m else None,
            role=m.role if m else "",
            is_flagged=bool(m and m.is_flagged),
            is_blocked=bool(m and m.is_blocked),
            judgments=len(mine),
        )
        if m and m.role == Membership.Role.ADMIN and not mine:
            continue  # an admin who does not annotate
        seconds = [r.seconds for r in mine if r.seconds is not None]
        q.median_seconds = statistics.median(seconds) if seconds else None
        scores = agree.get(user_id, [])
        q.agreement = Share(float(np.mean(scores)) if scores else None, len(scores))
        golds = [r.gold_score for r in mine if r.gold_score is not None]
        q.gold = Share(float(np.mean(golds)) if golds else None, len(golds))
        hits, chances = position_counts(mine)
        q.position_bias = Share.of(hits, len(chances))
        outcomes = [c.get("outcome") for r in mine for _, c in pair_choices(r)]
        q.ties = Share.of(outcomes.count("tie"), len(outcomes))
        q.both_bad = Share.of(outcomes.count("both_bad"), len(outcomes))
        skips, submitted = skipped[user_id]
        q.skips = Share.of(skips, skips + submitted)
        triads = cycles_counts(mine)
        q.cycles, q.triads = sum(cycle for cycle, _ in triads), len(triads)
        q.self_consistency = _self_consistency(
            mine, [r for r in repeats if r.annotator_id == user_id]
        )
        longer = list(length_choices(mine, lengths))
        q.length_bias = Share.of(sum(c[1] for c in longer), len(longer))
        out.append(q)

    reference = {r.annotator_id for r in kept}
    findings = annotator_findings(rows, reference=reference, annotators=[q.user_id for q in out])
    flags = holm(findings, ALPHA)
    for q in out:
        q.flags = sorted(flags.get(q.user_id, []), key=lambda f: f.p_value)
    hits, chances = position_counts(kept)
    return CampaignQuality(
        annotators=out,
        alphas=campaign_alphas(campaign=campaign, rows=kept),
        pairs=pair_agreement(campaign=campaign, rows=kept),
        position_bias=Share.of(hits, len(chances)),
        length_bias=length_bias_from(list(length_choices(kept, lengths))),
        profile_fields=profile_fields(rows),
        tests=len(findings),
    )
