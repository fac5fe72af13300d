"""A withdrawal removes the person from every statistic, plan, page and future download:
the leaderboard and its JSON, the quality page and its JSON, progress, the routing plan, the
review queue, and export files written before it (superseded, answered 410 Gone)."""

import json
import random

import pytest
from django.urls import reverse

from annotation.models import Campaign, Judgment, Membership, Study
from annotation.selectors import quality
from annotation.selectors.judgments import judgments_counted, people_withdrawn
from annotation.selectors.leaderboard import campaign_leaderboard
from annotation.selectors.progress import campaign_progress_overview
from annotation.services import campaign_update, prompts_import, studies
from annotation.services import routing as routing_service
from exports.models import ExportJob
from exports.services import export_job_run, export_job_start, export_rows
from tests.conftest import api_client_for
from tests.dashboard.helpers import bt_chooser, judge, model_lines, people
from tests.exports.conftest import pid

TRUE = {"a": -1.0, "b": 0.0, "c": 1.0}


@pytest.fixture
def study(make_campaign):
    """Three models on 12 prompts (36 pairs, overlap 2), a consent form and three
    participants: two honest, one who always prefers the weakest model and then withdraws."""
    campaign = make_campaign(overlap=2)
    assert prompts_import(campaign=campaign, content=model_lines(12, list(TRUE))).ok
    studies.consent_text_set(campaign=campaign, text="You may withdraw at any time.")
    # Participants sign up on the study's own page (a closed study takes invitations only).
    Study.objects.filter(campaign=campaign).update(signup_open=True)
    cast = people(3, prefix="part")
    for user in cast:
        participant = studies.participant_join(campaign=campaign, user=user)
        studies.consent_give(participant=participant, version=1)
        assert Membership.objects.get(campaign=campaign, user=user).stage == "active"
    honest, other, contrarian = cast
    choose = {
        honest.id: bt_chooser(TRUE, random.Random(1)),
        other.id: bt_chooser(TRUE, random.Random(2)),
        contrarian.id: bt_chooser({k: -5 * v for k, v in TRUE.items()}, random.Random(3)),
    }
    judge(campaign, cast, choose)
    return campaign, cast


def withdraw(campaign, user):
    participant = Membership.objects.get(campaign=campaign, user=user).participant
    return studies.consent_withdraw(participant=participant)


def test_the_shared_rule_leaves_the_withdrawn_persons_judgments_out(study):
    campaign, (_honest, _other, gone) = study
    theirs = Judgment.objects.filter(campaign=campaign, annotator=gone).count()
    everyone = Judgment.objects.filter(campaign=campaign).count()
    assert theirs > 0
    assert judgments_counted(campaign=campaign).count() == everyone

    withdraw(campaign, gone)

    assert set(people_withdrawn(campaign=campaign).values_list("id", flat=True)) == {gone.id}
    assert judgments_counted(campaign=campaign).count() == everyone - theirs
    assert not judgments_counted(campaign=campaign).filter(annotator=gone).exists()


def test_the_leaderboard_and_its_json_no_longer_count_a_withdrawn_participant(study, client, carol):
    campaign, (_honest, _other, gone) = study
    theirs = Judgment.objects.filter(campaign=campaign, annotator=gone).count()
    before = campaign_leaderboard(campaign=campaign, bootstrap=0)

    withdraw(campaign, gone)
    after = campaign_leaderboard(campaign=campaign, bootstrap=0)
    client.force_login(carol)
    board = client.get(reverse("dashboard:leaderboard_json", args=[campaign.id])).json()
    page = client.get(reverse("dashboard:leaderboard", args=[campaign.id]))

    assert after.judgments == before.judgments - theirs
    assert board["judgments"] == after.judgments
    # Without the contrarian, the order is the true one.
    assert [s["model"] for s in board["standings"]] == ["c", "b", "a"]
    assert f"From {after.judgments} judgments" in page.content.decode()


def test_the_quality_page_and_json_no_longer_show_a_withdrawn_participant(study, client, carol):
    campaign, (honest, other, gone) = study

    withdraw(campaign, gone)
    q = quality.annotator_quality(campaign=campaign)
    client.force_login(carol)
    page = client.get(reverse("dashboard:quality", args=[campaign.id])).content.decode()
    data = client.get(reverse("dashboard:quality_json", args=[campaign.id])).json()

    assert {a.user_id for a in q.annotators} == {honest.id, other.id}
    assert gone.username not in page
    assert gone.pseudonym not in json.dumps(data)
    assert {a["annotator"] for a in data["annotators"]} == {honest.pseudonym, other.pseudonym}
    # The agreement of the others no longer measures against the withdrawn person.
    pairs = q.pairs.pairs
    assert pairs == quality.pair_agreement(campaign=campaign).pairs


def test_progress_no_longer_counts_a_withdrawn_participant(study):
    campaign, (_honest, _other, gone) = study
    theirs = Judgment.objects.filter(campaign=campaign, annotator=gone).count()
    before = campaign_progress_overview(campaign=campaign)

    withdraw(campaign, gone)
    after = campaign_progress_overview(campaign=campaign)

    assert after.judgments == before.judgments - theirs
    assert after.annotators == before.annotators - 1
    assert sum(n for _, n in after.series) == after.judgments


def test_the_routing_plan_no_longer_uses_a_withdrawn_participants_judgments(make_campaign):
    """The plan after the withdrawal is the plan of a campaign where the person never judged."""
    campaign = make_campaign(overlap=4)
    assert prompts_import(campaign=campaign, content=model_lines(10, list(TRUE))).ok
    studies.consent_text_set(campaign=campaign, text="You may withdraw at any time.")
    # Participants sign up on the study's own page (a closed study takes invitations only).
    Study.objects.filter(campaign=campaign).update(signup_open=True)
    cast = people(2, prefix="part")
    for user in cast:
        participant = studies.participant_join(campaign=campaign, user=user)
        studies.consent_give(participant=participant, version=1)
    honest, gone = cast
    campaign_update(campaign=campaign, routing=Campaign.Routing.ACTIVE)
    # The one who withdraws saw only a against b (and said a, every time): the fit that counts
    # them thinks that pair decided; without them it is the closest call left.
    judge(campaign, [honest], bt_chooser(TRUE, random.Random(4)), limit=12)
    judge(
        campaign,
        [gone],
        bt_chooser({"a": 9.0, "b": -9.0, "c": -9.0}, random.Random(5)),
        limit=6,
    )
    counted = routing_service.plan_for(campaign=campaign, plan_size=20)

    withdraw(campaign, gone)
    after = routing_service.plan_for(campaign=campaign, plan_size=20)
    Judgment.objects.filter(campaign=campaign, annotator=gone).delete()
    never = routing_service.plan_for(campaign=campaign, plan_size=20)

    assert after == never
    assert counted != never


def test_an_export_written_before_a_withdrawal_is_superseded_and_no_longer_served(
    study, carol, exports_dir
):
    campaign, (honest, _other, gone) = study
    client = api_client_for(carol)
    job = export_job_start(campaign=campaign, requested_by=carol, fmt="judgments")
    export_job_run(job_id=job.id)
    download = f"/api/v1/exports/{job.id}/download/"
    assert client.get(download).status_code == 200

    withdraw(campaign, gone)
    job.refresh_from_db()
    shown = client.get(f"/api/v1/exports/{job.id}/").json()
    refused = client.get(download)

    assert job.superseded_at is not None
    assert shown["superseded_at"] is not None and shown["download_url"] is None
    assert refused.status_code == 410
    assert refused.json()["code"] == "superseded"
    assert "withdrew" in refused.json()["detail"]
    # A file written after the withdrawal is served, and leaves the person out.
    fresh = export_job_start(campaign=campaign, requested_by=carol, fmt="judgments")
    export_job_run(job_id=fresh.id)
    served = client.get(f"/api/v1/exports/{fresh.id}/download/")
    assert served.status_code == 200
    body = b"".join(served.streaming_content).decode()
    assert pid(campaign, gone) not in body and pid(campaign, honest) in body
    assert ExportJob.objects.get(id=fresh.id).superseded_at is None


def test_a_job_running_when_someone_withdraws_is_superseded_too(study, carol, exports_dir):
    campaign, (honest, other, gone) = study
    job = export_job_start(campaign=campaign, requested_by=carol, fmt="judgments")
    ExportJob.objects.filter(id=job.id).update(state=ExportJob.State.RUNNING)

    withdraw(campaign, gone)

    assert ExportJob.objects.get(id=job.id).superseded_at is not None
    # A queued job has read nothing yet: it will leave the person out, and stays valid.
    queued = export_job_start(campaign=campaign, requested_by=carol, fmt="judgments")
    withdraw(campaign, other)
    assert ExportJob.objects.get(id=queued.id).superseded_at is None
    export_job_run(job_id=queued.id)
    rows = list(export_rows(campaign=campaign, fmt="judgments"))
    assert {r["annotator"] for r in rows} == {pid(campaign, honest)}


def test_the_review_queue_leaves_a_withdrawn_participants_judgments_out(make_campaign, carol):
    from annotation.selectors.review import reviews_pending

    campaign = make_campaign(overlap=2, review_stage=True)
    assert prompts_import(campaign=campaign, content=model_lines(4, list(TRUE))).ok
    studies.consent_text_set(campaign=campaign, text="You may withdraw at any time.")
    # Participants sign up on the study's own page (a closed study takes invitations only).
    Study.objects.filter(campaign=campaign).update(signup_open=True)
    cast = people(2, prefix="part")
    for user in cast:
        participant = studies.participant_join(campaign=campaign, user=user)
        studies.consent_give(participant=participant, version=1)
    judge(campaign, cast, bt_chooser(TRUE, random.Random(6)))
    _kept, gone = cast

    withdraw(campaign, gone)
    pending = reviews_pending(campaign=campaign, reviewer=carol)

    assert pending.exists()
    assert not pending.filter(annotator=gone).exists()
