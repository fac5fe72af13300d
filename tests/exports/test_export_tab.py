"""The dashboard's Export tab: a job started from the page runs on a real Celery worker (the
service the API calls), its progress and history show, its file downloads; refusals are
shown with their reason and start nothing."""

from __future__ import annotations

import io
import re
import time
import zipfile

import pyarrow.parquet as pq
import pytest
from django.urls import reverse
from django.utils import timezone

from exports.models import ExportJob
from exports.services import export_job_run, export_job_start
from tests.exports.conftest import judge_all, prefer_model_b
from tests.exports.test_jobs import WAIT_SECONDS

HTMX = {"HTTP_HX_REQUEST": "true"}


def tab(campaign) -> str:
    return reverse("dashboard:exports", args=[campaign.id])


def wait_done(client, campaign) -> ExportJob:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        fragment = client.get(tab(campaign), **HTMX).content.decode()
        if "hx-trigger" not in fragment:  # nothing queued or running: the polling stops
            return ExportJob.objects.get(campaign=campaign)
        time.sleep(0.2)
    raise AssertionError("the export did not finish")


@pytest.mark.django_db(transaction=True)
def test_a_parquet_export_started_on_the_tab_runs_shows_and_downloads(
    client, campaign, alice, carol, exports_worker, exports_dir
):
    judge_all(campaign, alice, prefer_model_b)
    client.force_login(carol)
    page = client.get(tab(campaign)).content.decode()
    assert 'aria-current="page">Export</a>' in page and "No export yet." in page

    r = client.post(tab(campaign), {"format": "preference", "container": "parquet"})
    assert r.status_code == 302 and r["Location"] == tab(campaign)
    job = wait_done(client, campaign)
    assert job.state == "done" and job.row_count == 6 and job.requested_by == carol
    assert job.size == (exports_dir / job.file).stat().st_size > 0

    page = client.get(tab(campaign)).content.decode()
    assert f"Export #{job.id} started: preference as parquet." in page
    row = re.search(rf'<tr data-job="{job.id}">(.*?)</tr>', page, re.S)[1]
    assert "done" in row and ">6<" in row and ("KB" in row or "bytes" in row)
    download = reverse("dashboard:export_download", args=[campaign.id, job.id])
    assert download in row
    r = client.get(download)
    assert r.status_code == 200
    assert f"{campaign.slug}-preference.parquet" in r["Content-Disposition"]
    table = pq.read_table(io.BytesIO(b"".join(r.streaming_content)))
    assert table.num_rows == 6 and "chosen" in table.column_names


@pytest.mark.django_db(transaction=True)
def test_a_dataset_folder_of_several_tables_downloads_as_a_zip(
    client, campaign, alice, carol, exports_worker, exports_dir
):
    judge_all(campaign, alice, prefer_model_b)
    client.force_login(carol)
    client.post(tab(campaign), {"format": "judgments", "container": "hf", "include_gold": "on"})
    job = wait_done(client, campaign)
    assert job.state == "done" and job.options == {"include_gold": True}
    r = client.get(reverse("dashboard:export_download", args=[campaign.id, job.id]))
    with zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content))) as z:
        assert any(n.endswith("README.md") for n in z.namelist())


@pytest.mark.django_db
def test_a_running_job_shows_its_progress_and_the_history_polls(client, campaign, carol):
    client.force_login(carol)
    job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference")
    ExportJob.objects.filter(id=job.id).update(state="running", progress=0.42)
    fragment = client.get(tab(campaign), **HTMX).content.decode()
    assert fragment.startswith('<section id="export-jobs"')  # the partial alone
    assert 'hx-trigger="every 1s"' in fragment
    assert 'aria-valuenow="42"' in fragment and "running" in fragment


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"format": "ratings", "container": "jsonl"}, "reads rating judgments"),
        ({"format": "prism", "container": "parquet"}, "Not started"),
        ({"format": "oasst", "container": "parquet", "table": "trees"},
         "written as JSON Lines only"),
        ({"format": "nope", "container": "jsonl"}, "Unknown export format"),
        ({"format": "preference", "container": "tar"}, "Not started"),
        ({"format": "preference", "container": "jsonl", "options": "{nope"}, "not valid JSON"),
        ({"format": "preference", "container": "jsonl", "options": "[1]"}, "JSON object"),
        ({"format": "preference", "container": "jsonl", "options": '{"threshold": 3}'},
         "does not apply to the preference format"),
        ({"format": "preference", "container": "jsonl", "options": '{"since": "\\u0000"}'},
         "Not started"),
    ],
)  # fmt: skip
@pytest.mark.django_db
def test_a_refused_export_says_why_and_starts_nothing(client, campaign, carol, form, message):
    client.force_login(carol)
    r = client.post(tab(campaign), form)
    page = r.content.decode()
    assert r.status_code == 422, page
    assert message in page.replace("&#x27;", "'")
    assert 'role="alert"' in page
    assert not ExportJob.objects.exists()
    assert f'value="{form["format"]}" selected' in page or form["format"] == "nope"


@pytest.mark.django_db
def test_a_superseded_file_is_marked_and_not_given_out(
    client, campaign, alice, carol, exports_dir, django_capture_on_commit_callbacks
):
    judge_all(campaign, alice, prefer_model_b)
    with django_capture_on_commit_callbacks():
        job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference")
    export_job_run(job_id=job.id)
    ExportJob.objects.filter(id=job.id).update(superseded_at=timezone.now())
    client.force_login(carol)
    row = re.search(
        rf'<tr data-job="{job.id}">(.*?)</tr>', client.get(tab(campaign)).content.decode(), re.S
    )[1]
    assert "superseded" in row and "Download" not in row
    r = client.get(reverse("dashboard:export_download", args=[campaign.id, job.id]))
    assert r.status_code == 410 and "no longer given out" in r.content.decode()


@pytest.mark.django_db
def test_another_campaigns_job_is_not_found_through_this_one(
    client, campaign, make_campaign, carol
):
    other = make_campaign()
    job = export_job_start(campaign=other, requested_by=carol, fmt="preference")
    client.force_login(carol)
    r = client.get(reverse("dashboard:export_download", args=[campaign.id, job.id]))
    assert r.status_code == 404
