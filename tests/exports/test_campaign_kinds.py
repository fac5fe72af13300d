"""Every format either exports a campaign, whatever its kind, or refuses it before the first byte
with the reason; and a failed export leaves no file behind, from the API, the CLI or a job."""

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from annotation.errors import RuleError
from annotation.models import Message
from exports.formats import FORMATS
from exports.models import ExportJob
from exports.services import (
    export_job_run,
    export_job_start,
    export_plan,
    export_rows,
    export_write,
)
from tests.conftest import api_client_for
from tests.exports.conftest import judge_all, rate_by_model


def _messages(ids):
    return {m.id: m for m in Message.objects.filter(id__in=ids)}


def test_a_tree_campaigns_sibling_rankings_become_preference_and_kto_rows(tree_campaign):
    rows = list(export_rows(campaign=tree_campaign, fmt="preference"))
    # Two trees, each with one ranking of the three assistant replies under its prompt: three
    # pairs each. The rankings of the prompter's answers below are no assistant's preference.
    assert len(rows) == 2 * 3
    messages = _messages({r["chosen_message_id"] for r in rows} | {r["rejected_message_id"]
                                                                   for r in rows})  # fmt: skip
    for r in rows:
        assert r["source_kind"] == "ranking" and r["outcome"] == "preferred"
        assert r["chosen"][0]["role"] == r["rejected"][0]["role"] == "assistant"
        assert r["prompt"][-1]["role"] == "user"
        # The tree's volunteers ranked the lower id first.
        assert r["chosen_message_id"] < r["rejected_message_id"]
        assert messages[r["chosen_message_id"]].author_id is not None  # written, not generated
    kto = list(export_rows(campaign=tree_campaign, fmt="kto"))
    # A ranking's first place is desirable and its last not; the middle says neither.
    assert sorted((r["source_kind"], r["label"]) for r in kto) == [
        ("ranking", False), ("ranking", False), ("ranking", True), ("ranking", True)
    ]  # fmt: skip
    assert all(r["completion"][0]["role"] == "assistant" for r in kto)


@pytest.mark.parametrize(("fmt", "options"), [("ratings", {}), ("prism", {"table": "utterances"})])
def test_a_format_that_reads_nothing_of_a_campaign_refuses_it_before_the_first_byte(
    tree_campaign, carol, tmp_path, fmt, options
):
    with pytest.raises(RuleError) as e:
        export_plan(campaign=tree_campaign, fmt=fmt, options=options)
    assert e.value.field == "format"
    assert "rating judgments" in e.value.message and "judgments, oasst" in e.value.message

    admin = api_client_for(carol)
    query = "".join(f"&{k}={v}" for k, v in options.items())
    streamed = admin.get(f"/api/v1/campaigns/{tree_campaign.id}/export/?format={fmt}{query}")
    assert streamed.status_code == 400, streamed.status_code
    assert streamed.json()["detail"] == e.value.message
    job = admin.post("/api/v1/exports/", {"campaign": tree_campaign.id, "format": fmt,
                                          "container": "hf"}, format="json")  # fmt: skip
    assert job.status_code == 400 and not ExportJob.objects.exists()

    for container in ("jsonl", "parquet", "hf"):
        with pytest.raises(CommandError, match="rating judgments"):
            call_command("export", tree_campaign.slug, "--format", fmt, "--as", container,
                         "--to", str(tmp_path / "out"), "--no-progress")  # fmt: skip
    assert list(tmp_path.rglob("*")) == []


def test_prism_exports_a_campaign_without_ratings_only_as_its_survey(tree_campaign):
    assert export_plan(campaign=tree_campaign, fmt="prism", options={"table": "survey"})
    with pytest.raises(RuleError) as e:
        export_plan(campaign=tree_campaign, fmt="prism", container="hf")
    assert "table=survey" in e.value.message


def _broken(fmt: str, table: str, after: int):
    """The format with `table` failing after `after` rows, as a database that goes away
    mid-export would make it."""
    spec = FORMATS[fmt]
    rows = spec.tables[table].rows

    def failing(ctx: Any) -> Iterator[Any]:
        for i, row in enumerate(rows(ctx)):
            if i == after:
                raise OSError("the database went away")
            yield row

    tables = {**spec.tables, table: dataclasses.replace(spec.tables[table], rows=failing)}
    return dataclasses.replace(spec, tables=tables)


@pytest.fixture
def rated(rating_campaign, alice, bob):
    judge_all(rating_campaign, alice, rate_by_model)
    judge_all(rating_campaign, bob, rate_by_model)
    return rating_campaign


@pytest.mark.parametrize("container", ["jsonl", "parquet", "hf"])
def test_a_failed_export_leaves_no_partial_file(rated, monkeypatch, tmp_path, container):
    monkeypatch.setitem(FORMATS, "ratings", _broken("ratings", "default", after=5))
    with pytest.raises(OSError, match="went away"):
        export_write(campaign=rated, fmt="ratings", container=container, path=tmp_path / "out")
    with pytest.raises(OSError, match="went away"):
        call_command("export", rated.slug, "--format", "ratings", "--as", container,
                     "--to", str(tmp_path / "cli"), "--no-progress")  # fmt: skip
    assert [p for p in tmp_path.rglob("*") if not p.is_dir()] == []
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.part").exists()


def test_a_cli_export_of_several_tables_that_fails_takes_back_the_tables_it_wrote(
    rated, monkeypatch, tmp_path
):
    monkeypatch.setitem(FORMATS, "prism", _broken("prism", "utterances", after=2))
    out = tmp_path / "out"
    with pytest.raises(OSError, match="went away"):
        call_command("export", rated.slug, "--format", "prism", "--to", str(out),
                     "--no-progress")  # fmt: skip
    assert [p.name for p in out.iterdir()] == []


def test_a_failed_job_leaves_no_file_in_the_exports_storage(
    rated, carol, monkeypatch, settings, tmp_path
):
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "exports"},
        },
    }
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setitem(FORMATS, "ratings", _broken("ratings", "default", after=5))
    for container in ("jsonl", "parquet", "hf"):
        job = export_job_start(campaign=rated, requested_by=carol, fmt="ratings",
                               container=container)  # fmt: skip
        export_job_run(job_id=job.id)
        job.refresh_from_db()
        assert job.state == ExportJob.State.FAILED and "went away" in job.error
    assert [p for p in tmp_path.rglob("*") if not p.is_dir()] == []
