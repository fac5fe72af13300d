"""Each statistic the dashboard computes at scale (counted by the database, or kept from the
background) equals the straightforward computation over every judgment row, on a small
campaign with everything that changes a count: ties and "both bad", a flagged annotator, a
person who withdrew, profile answers (one a list), gold-free pairs of four models."""

import random
from datetime import UTC, datetime

import numpy as np
import pytest

from annotation.models import Membership, Participant, Profile
from annotation.selectors import quality
from annotation.selectors.leaderboard import (
    campaign_leaderboard,
    comparisons_counted,
    comparisons_from,
    leaderboard_by_profile,
    leaderboard_from,
    leaderboard_rows,
    model_names,
)
from annotation.services import membership_flag, prompts_import

from .helpers import bt_chooser, judge, model_lines, people

TRUE = {"tiny": -1.0, "small": -0.3, "medium": 0.4, "large": 0.9}
COUNTRIES = ["NZ", "FR", "NZ", ["FR", "NZ"], "FR", None]


def noisy(rng: random.Random):
    """A Bradley-Terry chooser that sometimes says tie or both bad."""
    prefer = bt_chooser(TRUE, rng)

    def choose(user, assignment, models):
        x = rng.random()
        if x < 0.1:
            return {"outcome": "tie"}
        if x < 0.15:
            return {"outcome": "both_bad"}
        return prefer(user, assignment, models)

    return choose


@pytest.fixture
def arena(make_campaign):
    cast = people(6)
    campaign = make_campaign(members=cast, overlap=3)
    for user, country in zip(cast, COUNTRIES, strict=True):
        Profile.objects.create(user=user, answers={"country": country, "age": "25-34"})
    assert prompts_import(campaign=campaign, content=model_lines(30, list(TRUE))).ok
    judge(campaign, cast, {u.id: noisy(random.Random(u.id)) for u in cast})
    flagged = Membership.objects.get(campaign=campaign, user=cast[0])
    membership_flag(campaign=campaign, membership_id=flagged.id, flagged=True)
    gone = Membership.objects.get(campaign=campaign, user=cast[1])
    Participant.objects.create(
        campaign=campaign, membership=gone, withdrawn_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    return campaign


def by_model(data) -> dict[tuple[int, int], float]:
    wins = data.matrix()
    return {
        (a, b): float(wins[x, y])
        for x, a in enumerate(data.models)
        for y, b in enumerate(data.models)
        if wins[x, y]
    }


def test_the_database_counts_the_same_comparisons_as_the_rows(arena):
    reference = comparisons_from(leaderboard_rows(campaign=arena))

    counted = comparisons_counted(campaign=arena)[""]

    assert reference.judgments > 200
    assert counted.judgments == reference.judgments
    assert by_model(counted) == pytest.approx(by_model(reference))
    assert sorted(counted.models) == sorted(reference.models)
    assert len(counted.i) < reference.judgments  # groups, not judgments


def test_the_leaderboard_from_counts_equals_the_one_from_rows(arena):
    rows = leaderboard_rows(campaign=arena)
    data = comparisons_from(rows)
    reference = leaderboard_from(data, names=model_names(data.models), bootstrap=400, seed=1)

    board = campaign_leaderboard(campaign=arena, bootstrap=400, seed=2)

    assert board.judgments == reference.judgments
    assert board.comparisons < reference.comparisons  # comparisons groups, by design
    assert [s.name for s in board.standings] == [s.name for s in reference.standings]
    for mine, theirs in zip(board.standings, reference.standings, strict=True):
        assert mine.strength == pytest.approx(theirs.strength, abs=1e-6)
        assert mine.comparisons == theirs.comparisons
        assert mine.win_rate == pytest.approx(theirs.win_rate)
        # Two bootstraps of the same resampling scheme, from different seeds.
        assert mine.low == pytest.approx(theirs.low, abs=0.12)
        assert mine.high == pytest.approx(theirs.high, abs=0.12)
    for row_mine, row_theirs in zip(board.win_rates, reference.win_rates, strict=True):
        for a, b in zip(row_mine, row_theirs, strict=True):
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert (a.rate, a.n) == (pytest.approx(b.rate), b.n)


def test_resampling_groups_is_resampling_judgments():
    """The bootstrap draws counts of each group multinomially: with one judgment per group it
    is the plain bootstrap of judgments, and its spread does not depend on the grouping."""
    rng = np.random.default_rng(0)
    n = 3000
    i = rng.integers(0, 3, n)
    j = (i + 1 + rng.integers(0, 2, n)) % 3
    w = (rng.random(n) < 1 / (1 + np.exp(j - i))).astype(float)
    plain = comparisons_from([])
    plain = type(plain)([0, 1, 2], np.arange(n), i, j, w, n)
    cells: dict[tuple[int, int, float], int] = {}
    for x, y, c in zip(i, j, w, strict=True):
        cells[(int(x), int(y), float(c))] = cells.get((int(x), int(y), float(c)), 0) + 1
    keys = sorted(cells)
    grouped = type(plain)(
        [0, 1, 2],
        np.arange(len(keys)),
        np.array([k[0] for k in keys]),
        np.array([k[1] for k in keys]),
        np.array([k[2] for k in keys]),
        n,
        np.array([cells[k] for k in keys], dtype=float),
    )
    names = {0: "a", 1: "b", 2: "c"}
    a = leaderboard_from(plain, names=names, bootstrap=300, seed=3)
    b = leaderboard_from(grouped, names=names, bootstrap=300, seed=4)
    for x, y in zip(a.standings, b.standings, strict=True):
        assert x.strength == pytest.approx(y.strength, abs=1e-6)
        assert x.width == pytest.approx(y.width, rel=0.2)


def test_the_boards_by_profile_answer_equal_the_ones_from_rows(arena):
    rows = leaderboard_rows(campaign=arena)
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(quality.profile_value(row.profile, "country"), []).append(row)

    boards = leaderboard_by_profile(campaign=arena, field="country", bootstrap=0)

    assert {g.value for g in boards} == set(groups) == {"FR", "NZ", "FR, NZ", "(no answer)"}
    for g in boards:
        mine = groups[g.value]
        reference = comparisons_from(mine)
        assert g.board.judgments == reference.judgments
        assert g.annotators == len({r.annotator_id for r in mine})
        theirs = leaderboard_from(reference, names=model_names(reference.models), bootstrap=0)
        assert [s.name for s in g.board.standings] == [s.name for s in theirs.standings]
        for x, y in zip(g.board.standings, theirs.standings, strict=True):
            assert x.strength == pytest.approx(y.strength, abs=1e-6)


def test_the_profile_fields_read_from_profiles_are_those_of_the_rows(arena):
    rows = quality.judgment_rows(campaign=arena)

    assert quality.profile_fields_counted(campaign=arena) == quality.profile_fields(rows)
    assert quality.profile_fields_counted(campaign=arena) == ["age", "country"]


def test_per_attribute_counts_equal_the_rows(make_campaign):
    cast = people(3)
    settings = {"attributes": [{"name": "helpful"}, {"name": "honest"}]}
    campaign = make_campaign(members=cast, overlap=2, settings=settings)
    assert prompts_import(campaign=campaign, content=model_lines(12, ["tiny", "large"])).ok
    rng = random.Random(4)

    def choose(user, assignment, models):
        a, b = assignment.display_order
        pick = {"outcome": "preferred", "preferred": a if rng.random() < 0.7 else b}
        return {"attributes": {"helpful": pick, "honest": {"outcome": "tie"}}}

    judge(campaign, cast, choose)
    rows = leaderboard_rows(campaign=campaign)
    for attribute in ("helpful", "honest"):
        counted = comparisons_counted(campaign=campaign, attribute=attribute)[""]
        assert by_model(counted) == pytest.approx(by_model(comparisons_from(rows, attribute)))


# --- annotator quality, kept from the background ---------------------------------------------


def test_the_kept_quality_is_the_computed_quality(arena):
    from annotation.selectors.quality.snapshots import quality_from_json, quality_to_json

    q = quality.annotator_quality(campaign=arena)
    by_profile = {"country": quality.agreement_by_profile(campaign=arena, field="country")}

    back, back_profile = quality_from_json(quality_to_json(q, by_profile))

    assert back == q
    assert back_profile == by_profile
    assert any(a.flags or a.agreement.n for a in back.annotators)


def test_a_large_campaign_shows_the_last_background_result_with_its_age(
    arena, carol, client, settings
):
    from django.urls import reverse

    from annotation.services import quality_refresh_due

    settings.AGORA_STATISTICS_LIVE_JUDGMENTS = 10
    client.force_login(carol)
    url = reverse("dashboard:quality", args=[arena.id])

    pending = client.get(url)
    assert pending.status_code == 200
    assert b'data-testid="quality-pending"' in pending.content
    assert client.get(reverse("dashboard:quality_json", args=[arena.id])).status_code == 202

    assert quality_refresh_due() == 1
    assert quality_refresh_due() == 0  # nothing changed since
    shown = client.get(url)
    assert b'data-testid="computed-at"' in shown.content
    assert b"judgments came in since" not in shown.content
    body = client.get(reverse("dashboard:quality_json", args=[arena.id])).json()
    live = quality.annotator_quality(campaign=arena)
    assert [a["judgments"] for a in body["annotators"]] == [a.judgments for a in live.annotators]
    assert body["stale"] is False

    # A new flag changes what counts: the page says its numbers are from before.
    other = Membership.objects.filter(campaign=arena, is_flagged=False, role="annotator").first()
    membership_flag(campaign=arena, membership_id=other.id, flagged=True)
    assert b"judgments came in since" in client.get(url).content
    assert quality_refresh_due() == 1


def test_the_annotator_table_is_paged_and_sorted_on_the_server(arena, carol, client, settings):
    from django.urls import reverse

    from annotation.dashboard import base

    client.force_login(carol)
    url = reverse("dashboard:quality", args=[arena.id])
    settings.AGORA_STATISTICS_LIVE_JUDGMENTS = 10_000
    base.PER_PAGE, saved = 2, base.PER_PAGE
    try:
        first = client.get(url, {"sort": "judgments"})
        last = client.get(url, {"sort": "judgments", "page": "999"})
        junk = client.get(url, {"sort": "nonsense", "page": "x"})
    finally:
        base.PER_PAGE = saved
    assert first.content.count(b"data-annotator=") == 2
    assert b'data-testid="pager"' in first.content
    assert b"sort=judgments&amp;page=2" in first.content
    assert last.status_code == 200 and last.content.count(b"data-annotator=") >= 1
    assert junk.status_code == 200


def test_the_people_table_is_paged_on_the_server(make_campaign, carol, client):
    from django.urls import reverse

    from annotation.dashboard import base

    campaign = make_campaign(members=people(5, prefix="member"))
    client.force_login(carol)
    url = reverse("dashboard:setup_people", args=[campaign.id])
    base.PER_PAGE, saved = 2, base.PER_PAGE
    try:
        pages = [client.get(url, {"page": n}).content.decode() for n in (1, 2, 3)]
        newest = client.get(url, {"sort": "joined"}).content.decode()
    finally:
        base.PER_PAGE = saved
    shown = [f"Role of {name}" for name in [f"member{i}" for i in range(5)] + ["carol"]]
    assert all(sum(name in page for name in shown) == 2 for page in pages)
    assert all(any(name in page for page in pages) for name in shown)
    assert "Page 1 of 3 (6 in all)" in pages[0]
    assert newest.index("Role of member4") < newest.index("Role of member3")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_time_test_against_everyone_at_once_equals_scipys_per_annotator(seed):
    from annotation.selectors.quality.flags import TimeReference, time_finding

    rng = np.random.default_rng(seed)
    # Rounded to a tenth of a second: many ties, as real timings have.
    seconds = {u: list(np.round(rng.gamma(4, 3 + u % 3, 30 + 5 * u), 1)) for u in range(8)}
    seconds[8] = list(np.round(rng.gamma(4, 1, 40), 1))  # fast, and not in the reference
    reference = set(range(8))
    times = TimeReference(seconds, reference)
    for user in seconds:
        others = [s for u in reference if u != user for s in seconds[u]]
        mine, theirs = times.finding(user, seconds[user]), time_finding(user, seconds[user], others)
        assert mine is not None and theirs is not None
        assert mine.p_value == pytest.approx(theirs.p_value, rel=1e-9, abs=1e-15)
        assert (mine.n, mine.observed, mine.expected) == (
            theirs.n,
            theirs.observed,
            theirs.expected,
        )
    assert times.finding(8, seconds[8]).p_value < 1e-6


# --- participants by survey answer -------------------------------------------------------------


def demographics_from_rows(campaign, name):
    """The straightforward count: every participant's latest profile read into Python."""
    from collections import Counter

    from annotation.selectors.studies import TOOK_PART
    from annotation.survey import PREFER_NOT, answer_of

    user_ids = list(
        Membership.objects.filter(
            campaign=campaign, participant__isnull=False, stage__in=TOOK_PART
        ).values_list("user_id", flat=True)
    )
    latest = {}
    for user_id, answers in (
        Profile.objects.filter(user_id__in=user_ids)
        .order_by("user_id", "-version")
        .values_list("user_id", "answers")
    ):
        latest.setdefault(user_id, answers if isinstance(answers, dict) else {})
    return Counter(answer_of(latest.get(u, {}), name) or PREFER_NOT for u in user_ids)


def test_participants_by_answer_are_counted_as_the_rows_count_them(make_campaign):
    from annotation.selectors.studies import demographics

    campaign = make_campaign(survey={"questions": ["age", "gender", "religion"]})
    cast = people(9, prefix="part")
    stages = [
        "active",
        "active",
        "completed",
        "qualify",
        "failed",
        "active",
        "consent",
        "active",
        "active",
    ]
    for user, stage in zip(cast, stages, strict=True):
        m = Membership.objects.create(campaign=campaign, user=user, stage=stage)
        Participant.objects.create(campaign=campaign, membership=m)
    answers = [
        {"age": "18-24 years old", "gender": "Female", "religion": {"categorised": "Buddhist"}},
        {"age": "25-34 years old", "gender": ""},
        {"age": "25-34 years old", "gender": 3, "religion": {"categorised": "No Affiliation"}},
        {"age": "18-24 years old"},
        {"age": ["a list"], "religion": "not an object"},
        {},
        {"age": "55-64 years old"},
    ]
    for user, a in zip(cast, answers, strict=False):
        Profile.objects.create(user=user, version=1, answers={"age": "old answer"})
        Profile.objects.create(user=user, version=2, answers=a)
    # cast[7] and cast[8] have no profile at all.

    found = {b.question: b for b in demographics(campaign=campaign)}

    assert set(found) == {"age", "gender", "religion"}
    for name, breakdown in found.items():
        reference = demographics_from_rows(campaign, name)
        assert {r.answer: r.participants for r in breakdown.rows} == dict(reference), name
        assert breakdown.total == sum(reference.values()) == 8  # "consent" did not take part


# --- progress and ETA ---------------------------------------------------------------------------


def progress_from_rows(campaign, now):
    """The straightforward reads: a count, the first, the recent count, a series query."""
    from datetime import timedelta

    from django.db.models import Count
    from django.db.models.functions import TruncDay, TruncHour
    from django.utils import timezone

    from annotation.selectors.judgments import judgments_counted

    judgments = judgments_counted(campaign=campaign)
    first = judgments.order_by("created_at").values_list("created_at", flat=True).first()
    since = max(now - timedelta(hours=24), first)
    recent = judgments.filter(created_at__gte=since).count()
    if now - first <= timedelta(hours=48):
        trunc, step = TruncHour("created_at"), timedelta(hours=1)
        start = max(first, now - timedelta(hours=48))
        start = timezone.localtime(start).replace(minute=0, second=0, microsecond=0)
    else:
        trunc, step = TruncDay("created_at"), timedelta(days=1)
        start = max(first, now - timedelta(days=90))
        start = timezone.localtime(start).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = judgments.filter(created_at__gte=start).annotate(at=trunc).values("at")
    found = {r["at"]: r["n"] for r in rows.annotate(n=Count("id")).order_by("at")}
    series, at = [], start
    while at <= now:
        series.append((at, found.get(at, 0)))
        at += step
    hours = max((now - since).total_seconds() / 3600, 1 / 60)
    return judgments.count(), recent / hours, series


@pytest.mark.parametrize("spread_hours", [30, 24 * 20])
def test_progress_from_one_pass_equals_the_separate_reads(arena, spread_hours):
    from datetime import timedelta

    from django.utils import timezone

    from annotation.models import Judgment
    from annotation.selectors.progress import campaign_progress_overview

    now = timezone.now()
    for k, j in enumerate(Judgment.objects.filter(campaign=arena).order_by("id")):
        j.created_at = now - timedelta(hours=spread_hours * ((k * 37) % 101) / 100)
        j.save(update_fields=["created_at"])

    p = campaign_progress_overview(campaign=arena, now=now)
    total, pace, series = progress_from_rows(arena, now)

    assert p.judgments == total > 0
    assert p.pace_per_hour == pytest.approx(pace)
    assert p.series == series
    assert p.bucket == ("hour" if spread_hours <= 48 else "day")


def test_a_large_campaigns_leaderboard_is_the_kept_fit_until_the_periodic_refit(
    arena, carol, client, settings
):
    from django.urls import reverse

    from annotation.models import StatisticSnapshot
    from annotation.services import quality_refresh_due

    settings.AGORA_STATISTICS_LIVE_JUDGMENTS = 10
    client.force_login(carol)
    url = reverse("dashboard:leaderboard", args=[arena.id])

    first = client.get(url, {"field": "country"})  # nothing kept yet: fitted now, and kept
    assert first.status_code == 200 and b'data-testid="computed-at"' in first.content
    kept = set(StatisticSnapshot.objects.filter(campaign=arena).values_list("name", flat=True))
    assert kept == {"leaderboard||", "leaderboard||country"}
    before = client.get(reverse("dashboard:leaderboard_json", args=[arena.id])).json()

    other = Membership.objects.filter(
        campaign=arena, is_flagged=False, role="annotator", participant__isnull=True
    ).first()
    membership_flag(campaign=arena, membership_id=other.id, flagged=True)
    stale = client.get(reverse("dashboard:leaderboard_json", args=[arena.id])).json()
    assert stale["stale"] is True and stale["judgments"] == before["judgments"]

    assert quality_refresh_due() == 3  # quality and the two boards
    fresh = client.get(reverse("dashboard:leaderboard_json", args=[arena.id])).json()
    assert fresh["stale"] is False and fresh["judgments"] < before["judgments"]
