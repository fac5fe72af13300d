"""An export with no rows: `datasets` cannot load a split without rows from any file (JSON
Lines: StopIteration; Parquet: 'corresponds to no data'), so a file export with no rows is
refused, clearly and before anything is written; the Python helper gives an empty dataset with
the declared features; a dataset folder leaves out an empty table and says so."""

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from django.core.management import CommandError, call_command

from annotation.errors import Conflict
from exports import load
from exports.formats import FORMATS
from exports.models import ExportJob
from exports.options import ExportOptions
from exports.services import export_job_run, export_job_start, export_write
from exports.writers import write_parquet
from tests.conftest import api_client_for


@pytest.mark.parametrize("container", ["jsonl", "parquet", "hf"])
def test_an_export_with_no_rows_is_refused_and_writes_nothing(campaign, carol, tmp_path, container):
    with pytest.raises(Conflict) as e:
        export_write(campaign=campaign, fmt="preference", container=container,
                     path=tmp_path / "out")  # fmt: skip
    assert e.value.code == "empty"
    assert e.value.message.startswith("Nothing to export: the preference format has no rows")
    assert "0 of its pairwise, ranking or rating judgments" in e.value.message
    with pytest.raises(CommandError, match="Nothing to export"):
        call_command("export", campaign.slug, "--format", "preference", "--as", container,
                     "--to", str(tmp_path / "cli"), "--no-progress")  # fmt: skip
    job = export_job_start(campaign=campaign, requested_by=carol, fmt="preference",
                           container=container)  # fmt: skip
    export_job_run(job_id=job.id)
    job.refresh_from_db()
    assert job.state == ExportJob.State.FAILED and job.error == e.value.message
    assert [p for p in tmp_path.rglob("*") if not p.is_dir()] == []


def test_the_stream_refuses_an_export_with_no_rows_before_the_first_byte(campaign, carol):
    response = api_client_for(carol).get(f"/api/v1/campaigns/{campaign.id}/export/")
    assert response.status_code == 409 and not response.streaming
    assert response.json()["code"] == "empty"
    assert response.json()["detail"].startswith("Nothing to export")


def test_the_python_helper_gives_an_empty_dataset_with_the_declared_features(campaign, tmp_path):
    ds = load(campaign, "preference", cache_dir=tmp_path)
    assert isinstance(ds, datasets.Dataset) and ds.num_rows == 0
    schema = FORMATS["preference"].tables["default"].schema(ExportOptions())
    assert ds.features == datasets.Features.from_arrow_schema(schema)


def test_a_dataset_folder_leaves_out_an_empty_table_and_says_so(rating_campaign, tmp_path):
    """Members who have not rated yet: a survey, no conversations."""
    folder = tmp_path / "prism"
    result = export_write(campaign=rating_campaign, fmt="prism", container="hf", path=folder)
    assert result.tables == {"survey": 2}
    card = (folder / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert [c["config_name"] for c in front["configs"]] == ["survey"]
    assert "| `conversations` | 0 (left out: no rows) |" in card
    assert datasets.load_dataset(str(folder), "survey", split="train").num_rows == 2


def test_a_parquet_file_without_rows_has_the_schema_and_no_empty_row_group(tmp_path):
    """An empty row group is what made `datasets` fail with 'BatchSize must be greater than
    0'; a file of no row groups is what every Parquet reader takes for an empty table."""
    schema = FORMATS["kto"].tables["default"].schema(ExportOptions())
    path = tmp_path / "empty.parquet"
    assert write_parquet(iter(()), path, schema).rows == 0
    assert pq.ParquetFile(path).num_row_groups == 0
    table = pq.read_table(path)
    assert table.num_rows == 0 and table.schema == schema
