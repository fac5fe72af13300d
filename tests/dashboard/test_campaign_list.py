"""Finding the dashboard: the top bar's link for whoever may see it, and the campaign list's
state, progress and ETA for every campaign in a fixed number of statements."""

import random
import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation.models import Judgment, Membership, Participant
from annotation.selectors.progress import campaign_progress_overview, campaigns_progress_summary
from annotation.services import prompts_import
from tests.conftest import pairwise_lines

from .helpers import bt_chooser, judge

DASHBOARD_LINK = f'<a href="{reverse("dashboard:campaigns")}">Dashboard</a>'


def test_the_top_bar_links_admins_and_staff_to_the_dashboard_and_nobody_else(
    client, campaign, carol, alice, mallory
):
    client.force_login(carol)
    assert DASHBOARD_LINK in client.get(reverse("home")).content.decode()
    client.force_login(alice)  # annotates, administers nothing
    assert DASHBOARD_LINK not in client.get(reverse("home")).content.decode()
    mallory.is_staff = True
    mallory.save()
    client.force_login(mallory)
    assert DASHBOARD_LINK in client.get(reverse("home")).content.decode()
    client.logout()
    assert DASHBOARD_LINK not in client.get(reverse("login")).content.decode()


def test_the_list_shows_state_progress_and_eta_of_each_campaign(
    client, campaign, make_campaign, carol, alice, bob
):
    judge(
        campaign, [alice, bob], bt_chooser({"model-a": 0, "model-b": 0}, random.Random(1)), limit=6
    )
    paused = make_campaign(members=[alice], state="paused")
    client.force_login(carol)
    page = client.get(reverse("dashboard:campaigns")).content.decode()
    row = re.search(rf'<tr data-campaign="{campaign.id}">(.*?)</tr>', page, re.S)[1]
    assert "Open" in row
    assert re.search(r"50% · \d of 6 tasks done", row)
    eta = re.search(r'data-testid="eta">(.*?)</td>', row, re.S)[1]
    assert "judgments/h" in eta  # six in the last minutes: a pace, so an estimate
    other = re.search(rf'<tr data-campaign="{paused.id}">(.*?)</tr>', page, re.S)[1]
    assert "Paused" in other and "no tasks yet" in other


def test_the_summary_agrees_with_the_overview_and_leaves_out_who_withdrew(
    campaign, make_campaign, alice, bob
):
    judge(
        campaign, [alice, bob], bt_chooser({"model-a": 0, "model-b": 0}, random.Random(2)), limit=5
    )
    member = Membership.objects.get(campaign=campaign, user=bob)
    Participant.objects.create(campaign=campaign, membership=member, withdrawn_at=timezone.now())
    now = timezone.now() + timedelta(minutes=30)
    summary = campaigns_progress_summary(campaign_ids=[campaign.id], now=now)[campaign.id]
    overview = campaign_progress_overview(campaign=campaign, now=now)
    assert summary.judgments == overview.judgments < 5
    assert summary.judgments_left == overview.judgments_left
    assert summary.tasks == overview.tasks and summary.done == overview.done
    assert summary.pace_per_hour == overview.pace_per_hour > 0
    assert summary.eta == overview.eta


def test_the_list_reads_every_campaign_in_a_fixed_number_of_statements(
    client, campaign, make_campaign, carol, alice, bob
):
    def statements() -> int:
        with CaptureQueriesContext(connection) as q:
            assert client.get(reverse("dashboard:campaigns")).status_code == 200
        return len(q)

    client.force_login(carol)
    judge(campaign, [alice, bob], bt_chooser({"model-a": 0, "model-b": 0}, random.Random(3)))
    few = statements()
    for i in range(4):
        c = make_campaign(members=[alice], overlap=1)
        prompts_import(campaign=c, content=pairwise_lines(2, start=10 * i))
        judge(c, [alice], bt_chooser({"model-a": 0, "model-b": 0}, random.Random(i)))
    assert Judgment.objects.count() > 12
    assert statements() == few
