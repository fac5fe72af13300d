"""Export jobs: started over the API, run by a real Celery worker on the `exports` queue through
the configured broker, watched and downloaded; and the CLI's files and folders."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import timedelta

import datasets
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.utils import timezone

from exports.models import ExportJob
from exports.services import export_job_run, export_job_start, export_jobs_resend, export_rows
from tests.conftest import api_client_for
from tests.exports.conftest import judge_all, prefer_model_b, rate_by_model

WAIT_SECONDS = 20


def wait_for(client, url: str) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        job = client.get(url).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"the job did not finish in {WAIT_SECONDS}s: {job}")


# transaction=True: the worker runs in its own thread with its own database connection and only
# sees committed rows; the job is enqueued on commit.
@pytest.mark.django_db(transaction=True)
def test_a_job_runs_on_the_worker_and_its_file_matches_the_stream(
    campaign, alice, carol, exports_worker, exports_dir
):
    judge_all(campaign, alice, prefer_model_b)
    client = api_client_for(carol)
    started = client.post(
        "/api/v1/exports/",
        {"campaign": campaign.id, "format": "preference", "container": "jsonl",
         "options": {"keep_ties": True}},
        format="json",
    )  # fmt: skip
    assert started.status_code == 202, started.json()
    assert started.json()["state"] == "queued" and started.json()["download_url"] is None
    job = wait_for(client, started.json()["url"])
    assert job["state"] == "done", job
    assert job["progress"] == 1.0 and job["row_count"] == 6
    download = client.get(job["download_url"])
    assert download.status_code == 200
    assert f"{campaign.slug}-preference.jsonl" in download["Content-Disposition"]
    body = b"".join(download.streaming_content).decode()
    streamed = client.get(f"/api/v1/campaigns/{campaign.id}/export/?format=preference&keep_ties=1")
    assert body == b"".join(streamed.streaming_content).decode()
    assert [json.loads(x) for x in body.splitlines()] == list(
        export_rows(campaign=campaign, fmt="preference", keep_ties=True)
    )
    listed = client.get("/api/v1/exports/").json()
    assert [j["id"] for j in listed] == [job["id"]]


@pytest.mark.django_db(transaction=True)
def test_a_dataset_folder_job_downloads_as_a_zip(
    rating_campaign, alice, carol, exports_worker, exports_dir, tmp_path
):
    judge_all(rating_campaign, alice, rate_by_model)
    client = api_client_for(carol)
    started = client.post("/api/v1/exports/", {"campaign": rating_campaign.id, "format": "prism",
                                               "container": "hf"}, format="json")  # fmt: skip
    job = wait_for(client, started.json()["url"])
    assert job["state"] == "done", job
    data = b"".join(client.get(job["download_url"]).streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(tmp_path / "unzipped")
    folder = next((tmp_path / "unzipped").iterdir())
    for config, rows in (("survey", 2), ("conversations", 3), ("utterances", 9)):
        assert datasets.load_dataset(str(folder), config, split="train").num_rows == rows


@pytest.mark.django_db
def test_a_second_delivery_does_nothing(
    campaign, alice, carol, exports_dir, django_capture_on_commit_callbacks
):
    judge_all(campaign, alice, prefer_model_b)
    with django_capture_on_commit_callbacks() as callbacks:
        job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference",
                               container="parquet")  # fmt: skip
    assert len(callbacks) == 1  # enqueued once the job is committed
    export_job_run(job_id=job.id)
    job.refresh_from_db()
    assert job.state == ExportJob.State.DONE and job.row_count == 6
    finished, file = job.finished_at, job.file
    export_job_run(job_id=job.id)  # the broker delivers it again
    job.refresh_from_db()
    assert (job.finished_at, job.file) == (finished, file)
    assert pq.read_table(exports_dir / file).num_rows == 6
    assert len(list(exports_dir.rglob("*.parquet"))) == 1


@pytest.mark.django_db
def test_a_job_that_breaks_says_why(campaign, carol, exports_dir, monkeypatch):
    job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference")
    from exports import services

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(services, "export_write", broken)
    export_job_run(job_id=job.id)
    job.refresh_from_db()
    assert job.state == ExportJob.State.FAILED and "disk full" in job.error
    response = api_client_for(carol).get(f"/api/v1/exports/{job.id}/download/")
    assert response.status_code == 409 and response.json()["code"] == "not_done"


def _as_a_worker_left_it(job: ExportJob, *, beat_ago: timedelta, attempts: int = 1) -> None:
    """Claimed by a worker `attempts` times, the last one four hours ago, its last heartbeat
    `beat_ago`."""
    now = timezone.now()
    ExportJob.objects.filter(id=job.id).update(
        state=ExportJob.State.RUNNING, attempts=attempts, started_at=now - timedelta(hours=4),
        heartbeat_at=now - beat_ago,
    )  # fmt: skip


@pytest.mark.django_db
def test_a_second_delivery_while_the_job_runs_does_nothing(
    campaign, carol, exports_dir, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference")
    # A long export whose worker still beats is not taken, however long ago it started.
    _as_a_worker_left_it(job, beat_ago=timedelta(seconds=1))
    export_job_run(job_id=job.id)
    with django_capture_on_commit_callbacks() as sent:
        assert export_jobs_resend() == 0
    job.refresh_from_db()
    assert (job.state, job.attempts, sent) == (ExportJob.State.RUNNING, 1, [])
    assert not exports_dir.exists()


@pytest.mark.django_db
def test_a_job_whose_worker_died_runs_again_on_its_next_delivery(
    campaign, alice, carol, exports_dir, settings, django_capture_on_commit_callbacks
):
    judge_all(campaign, alice, prefer_model_b)
    with django_capture_on_commit_callbacks():
        job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference")
    _as_a_worker_left_it(job, beat_ago=timedelta(seconds=settings.AGORA_WORKER_LOST_AFTER + 1))
    export_job_run(job_id=job.id)  # redelivered (the unacknowledged message came back)
    job.refresh_from_db()
    assert (job.state, job.attempts, job.row_count) == (ExportJob.State.DONE, 2, 6)


@pytest.mark.django_db
def test_a_job_whose_worker_died_is_sent_again_by_the_sweeper(
    campaign, carol, exports_dir, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference")
    _as_a_worker_left_it(job, beat_ago=timedelta(seconds=settings.AGORA_WORKER_LOST_AFTER + 1))
    with django_capture_on_commit_callbacks() as sent:
        export_jobs_resend()
    assert len(sent) == 1  # sent once the requeue is committed
    job.refresh_from_db()
    assert (job.state, job.attempts, job.heartbeat_at) == (ExportJob.State.QUEUED, 1, None)
    shown = api_client_for(carol).get(f"/api/v1/exports/{job.id}/").json()
    assert (shown["state"], shown["attempts"]) == ("queued", 1)


@pytest.mark.django_db
def test_a_job_whose_worker_died_on_every_attempt_fails_with_the_reason(
    campaign, carol, exports_dir, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference")
    spent = settings.AGORA_JOB_MAX_ATTEMPTS
    _as_a_worker_left_it(
        job, beat_ago=timedelta(seconds=settings.AGORA_WORKER_LOST_AFTER + 1), attempts=spent
    )
    export_job_run(job_id=job.id)  # a redelivery does not take it either
    job.refresh_from_db()
    assert (job.state, job.attempts) == (ExportJob.State.RUNNING, spent)
    with django_capture_on_commit_callbacks() as sent:
        export_jobs_resend()
    assert sent == []
    shown = api_client_for(carol).get(f"/api/v1/exports/{job.id}/").json()
    assert (shown["state"], shown["attempts"]) == ("failed", spent)
    assert "worker stopped without finishing" in shown["error"]
    assert f"{spent} attempts" in shown["error"] and shown["finished_at"] is not None


@pytest.mark.django_db
def test_jobs_are_checked_when_started_and_only_for_admins(campaign, alice, carol, mallory):
    admin = api_client_for(carol)
    bad = admin.post("/api/v1/exports/", {"campaign": campaign.id, "format": "prism",
                                          "container": "parquet"}, format="json")  # fmt: skip
    assert bad.status_code == 400 and bad.json()["field"] == "table"
    mean = {"campaign": campaign.id, "format": "preference", "options": {"aggregate": "mean"}}
    bad = admin.post("/api/v1/exports/", mean, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "aggregate"
    started = {"campaign": campaign.id, "format": "preference"}
    assert api_client_for(alice).post("/api/v1/exports/", started, format="json").status_code == 403
    assert (
        api_client_for(mallory).post("/api/v1/exports/", started, format="json").status_code == 404
    )
    job = admin.post("/api/v1/exports/", started, format="json").json()
    assert api_client_for(alice).get(job["url"]).status_code == 403
    assert api_client_for(mallory).get(job["url"]).status_code == 404
    assert api_client_for(mallory).get("/api/v1/exports/").json() == []


@pytest.mark.django_db
def test_the_cli_writes_files_and_folders(rating_campaign, alice, tmp_path, capsys):
    judge_all(rating_campaign, alice, rate_by_model)
    out = tmp_path / "out"
    call_command("export", rating_campaign.slug, "--format", "preference", "--to", str(out),
                 "--as", "parquet")  # fmt: skip
    assert pq.read_table(out / f"{rating_campaign.slug}-preference.parquet").num_rows == 9
    call_command("export", rating_campaign.slug, "--format", "prism", "--to", str(out),
                 "--no-progress")  # fmt: skip
    for table in ("survey", "conversations", "utterances"):
        assert (out / f"{rating_campaign.slug}-prism-{table}.jsonl").exists()
    call_command("export", str(rating_campaign.id), "--format", "ratings", "--to", str(out),
                 "--as", "hf", "--no-progress", "--license", "mit")  # fmt: skip
    folder = out / f"{rating_campaign.slug}-ratings"
    assert "license: mit" in (folder / "README.md").read_text()
    assert datasets.load_dataset(str(folder), split="train").num_rows == 15
    err = capsys.readouterr().err
    assert "Wrote 9 rows" in err and "Wrote 15 rows" in err
