"""Quotas: admission, the steering rule, and a simulated collection that ends closer to the
target mix with steering than without."""

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.errors import RuleError
from annotation.models import Campaign, Judgment, Membership, Profile, QuotaCell, Study, User
from annotation.services import judgment_submit, prompts_import, studies, task_lease_next
from annotation.services.studies import steering_allows
from tests.conftest import pairwise_lines

AGES = ["18-24 years old", "25-34 years old", "65+ years old"]


def test_quotas_are_checked_with_a_clear_message():
    with pytest.raises(RuleError, match="not a survey question with fixed answers"):
        studies.quotas_clean(
            {"dimensions": [{"question": "self_description", "targets": {"a": 1}}]}
        )
    with pytest.raises(RuleError, match="add up to more than 1"):
        studies.quotas_clean(
            {"dimensions": [{"question": "age", "unit": "share", "targets": {"a": 0.7, "b": 0.6}}]}
        )
    with pytest.raises(RuleError, match="must be a count"):
        studies.quotas_clean({"dimensions": [{"question": "age", "targets": {"a": -1}}]})
    clean = studies.quotas_clean({"dimensions": [{"question": "age", "targets": {"a": 3}}]})
    assert clean == {
        "steer": True,
        "dimensions": [{"question": "age", "unit": "count", "targets": {"a": 3}}],
    }


def test_the_cell_furthest_behind_is_never_refused_and_a_cell_ahead_waits_near_the_end():
    shares = {"age=a": 0.5, "age=b": 0.5}
    # b is far behind; little work is left: a waits, b goes on.
    leased = {"age=a": 40, "age=b": 10}
    assert steering_allows(cell="age=b", shares=shares, leased=leased, open_slots=5)
    assert not steering_allows(cell="age=a", shares=shares, leased=leased, open_slots=5)
    # Plenty of work left beyond what b still lacks: a may go on too.
    assert steering_allows(cell="age=a", shares=shares, leased=leased, open_slots=100)


def _study_campaign(make_campaign, *, steer: bool, prompts: int) -> Campaign:
    campaign = make_campaign(overlap=3)
    assert prompts_import(campaign=campaign, content=pairwise_lines(prompts)).ok
    campaign.survey = {"questions": ["age"]}
    campaign.quotas = studies.quotas_clean(
        {
            "steer": steer,
            "dimensions": [
                {"question": "age", "unit": "share", "targets": dict.fromkeys(AGES, 1 / 3)}
            ],
        }
    )
    campaign.save(update_fields=["survey", "quotas"])
    Study.objects.create(campaign=campaign, signup_open=True)  # anyone may join
    return campaign


def _collect(campaign: Campaign, *, seed: int, arrivals: int, per_person: int) -> dict[str, int]:
    """Participants arrive 70/20/10 from the three age cells (the crowd's mix, not the
    target's), each does up to `per_person` tasks; returns the judgments per cell."""
    rng = random.Random(seed)
    for n in range(arrivals):
        age = rng.choices(AGES, weights=[0.7, 0.2, 0.1])[0]
        user = User.objects.create(username=f"sim-{campaign.id}-{n}")
        Profile.objects.create(user=user, answers={"age": age})
        participant = studies.participant_join(campaign=campaign, user=user)
        assert participant.membership.stage == Membership.Stage.ACTIVE
        for k in range(per_person):
            a = task_lease_next(annotator=user, campaign=campaign)
            if a is None:
                break
            judgment_submit(
                assignment=a,
                annotator=user,
                payload={"outcome": "tie"},
                idempotency_key=f"{n}-{k}",
            )
    counts = dict.fromkeys(AGES, 0)
    for answers in Judgment.objects.filter(campaign=campaign).values_list(
        "profile__answers", flat=True
    ):
        counts[answers["age"]] += 1
    return counts


def _distance(counts: dict[str, int]) -> float:
    """Total variation distance between the collected mix and the target (a third each)."""
    total = sum(counts.values())
    return sum(abs(n / total - 1 / 3) for n in counts.values()) / 2


def test_steering_brings_the_collected_mix_closer_to_the_target(make_campaign):
    steered = _study_campaign(make_campaign, steer=True, prompts=20)
    plain = _study_campaign(make_campaign, steer=False, prompts=20)
    # 60 judgments to collect; 60 arrivals could give 300.
    with_steering = _collect(steered, seed=7, arrivals=60, per_person=5)
    without = _collect(plain, seed=7, arrivals=60, per_person=5)
    assert sum(without.values()) == 60
    # Steering keeps work back for the cells behind; what their people never came for stays
    # open (an admin turns steering off to finish with whoever is there).
    assert 50 <= sum(with_steering.values()) <= 60
    assert _distance(without) > 0.25  # the crowd's mix: mostly the first cell
    assert _distance(with_steering) < _distance(without) / 2, (with_steering, without)
    assert (
        QuotaCell.objects.get(campaign=steered, key=f"age={AGES[2]}").leased
        == with_steering[AGES[2]]
    )


def test_a_campaign_without_a_study_pays_no_statement_for_studies(campaign, alice):
    with CaptureQueriesContext(connection) as queries:
        a = task_lease_next(annotator=alice, campaign=campaign)
        judgment_submit(
            assignment=a, annotator=alice, payload={"outcome": "tie"}, idempotency_key="x"
        )
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    for table in ("annotation_study", "annotation_quotacell", "annotation_participant"):
        assert table not in sql


def test_a_share_quota_with_a_planned_size_fills(make_campaign):
    campaign = _study_campaign(make_campaign, steer=True, prompts=2)
    campaign.quotas["dimensions"][0]["participants"] = 3  # one place per cell
    campaign.save(update_fields=["quotas"])
    stages = []
    for n in range(2):
        user = User.objects.create(username=f"fill-{n}")
        Profile.objects.create(user=user, answers={"age": AGES[0]})
        stages.append(studies.participant_join(campaign=campaign, user=user).membership.stage)
    assert stages == [Membership.Stage.ACTIVE, Membership.Stage.QUOTA_FULL]


def test_withdrawing_gives_the_quota_place_back(make_campaign):
    campaign = _study_campaign(make_campaign, steer=True, prompts=2)
    user = User.objects.create(username="leaver")
    Profile.objects.create(user=user, answers={"age": AGES[1]})
    participant = studies.participant_join(campaign=campaign, user=user)
    cell = QuotaCell.objects.get(campaign=campaign, key=f"age={AGES[1]}")
    assert cell.participants == 1
    studies.consent_withdraw(participant=participant)
    cell.refresh_from_db()
    assert cell.participants == 0
    with pytest.raises(RuleError, match="withdrew"):
        task_lease_next(annotator=user, campaign=campaign)


def _statements(user, campaign) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as lease:
        a = task_lease_next(annotator=user, campaign=campaign)
    with CaptureQueriesContext(connection) as submit:
        judgment_submit(
            assignment=a, annotator=user, payload={"outcome": "tie"}, idempotency_key=f"s{a.id}"
        )
    return len(lease.captured_queries), len(submit.captured_queries)


def test_what_a_lease_costs_a_participant_and_a_quota_participant(campaign, alice, make_campaign):
    plain_lease, plain_submit = _statements(alice, campaign)
    study = make_campaign()
    assert prompts_import(campaign=study, content=pairwise_lines(2)).ok
    Study.objects.create(campaign=study, signup_open=True)  # anyone may join
    participant = User.objects.create(username="participant")
    studies.participant_join(campaign=study, user=participant)
    quota = _study_campaign(make_campaign, steer=True, prompts=2)
    counted = User.objects.create(username="counted")
    Profile.objects.create(user=counted, answers={"age": AGES[0]})
    studies.participant_join(campaign=quota, user=counted)
    # A participant: one more statement (their task limit); with quotas, three more (the
    # cells' counters, the open work, the counter's update). Submit never pays anything.
    assert _statements(participant, study) == (plain_lease + 1, plain_submit)
    assert _statements(counted, quota) == (plain_lease + 4, plain_submit)


def test_the_threshold_form_of_the_rule_agrees_with_the_rule_itself():
    """steering_allows asks `open > threshold`; the rule as the docstring states it (a cell
    behind goes on; one ahead only while the open work exceeds what the others lack) must
    give the same answer for any counters."""

    def by_the_words(cell, shares, leased, open_slots):
        final = sum(leased.values()) + open_slots

        def deficit(k):
            return max(0.0, shares[k] * final - leased[k])

        return deficit(cell) > 0 or open_slots > sum(deficit(k) for k in shares if k != cell)

    rng = random.Random(3)
    for _ in range(2000):
        n = rng.randint(2, 4)
        raw = [rng.random() + 0.05 for _ in range(n)]
        scale = rng.choice([1.0, 0.8])
        shares = {f"c{i}": scale * r / sum(raw) for i, r in enumerate(raw)}
        leased = {k: rng.randint(0, 60) for k in shares}
        cell = rng.choice(list(shares))
        open_slots = rng.randint(0, 120)
        assert steering_allows(
            cell=cell, shares=shares, leased=leased, open_slots=open_slots
        ) == by_the_words(cell, shares, leased, open_slots), (cell, shares, leased, open_slots)
