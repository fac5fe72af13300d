"""One declared schema per format (the dataset card's `features`), written the same in every
container: JSON Lines values of the declared JSON kind (a float column holds floats even when
a score is whole), and the same rows whether read from JSON Lines, Parquet or a dataset
folder."""

import json

import datasets
import pyarrow as pa
import pytest
import yaml

from exports import features
from exports.formats import FORMATS
from exports.formats.context import ExportContext
from exports.options import ExportOptions
from exports.services import export_write
from tests.exports.kinds import campaign_build

# Every table with a typed schema.
TABLES = [
    (name, table)
    for name, f in FORMATS.items()
    for table, t in f.tables.items()
    if t.schema is not None
]


def json_kinds_fit(value, kind: pa.DataType, where: str = "") -> list[str]:
    """Where a JSON value is not of the JSON kind its declared Arrow type reads as."""
    if value is None:
        return []
    if pa.types.is_struct(kind):
        # A field a value leaves out reads as null (PRISM's user turns have no model fields).
        if not isinstance(value, dict) or not set(value) <= {f.name for f in kind}:
            return [f"{where}: {value!r} is not a struct of {[f.name for f in kind]}"]
        return [
            e for f in kind for e in json_kinds_fit(value.get(f.name), f.type, f"{where}.{f.name}")
        ]
    if pa.types.is_list(kind):
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        inner = kind.value_type
        return [e for i, v in enumerate(value) for e in json_kinds_fit(v, inner, f"{where}[{i}]")]
    fits = {
        pa.types.is_floating: lambda v: isinstance(v, float),
        pa.types.is_integer: lambda v: isinstance(v, int) and not isinstance(v, bool),
        pa.types.is_boolean: lambda v: isinstance(v, bool),
        pa.types.is_string: lambda v: isinstance(v, str),
        pa.types.is_binary: lambda v: isinstance(v, str),  # base64
    }
    for test, fit in fits.items():
        if test(kind):
            return [] if fit(value) else [f"{where}: {value!r} is not {kind}"]
    return [f"{where}: no JSON kind for {kind}"]


@pytest.fixture(params=["study", "rating", "tree"])
def exported(request, db):
    return campaign_build(request.param)


def test_each_table_is_written_the_same_in_every_container(exported, tmp_path):
    for fmt, table in TABLES:
        spec = FORMATS[fmt]
        options = {"table": table} if len(spec.tables) > 1 else {}
        schema = spec.tables[table].schema(ExportOptions())
        declared = datasets.Features.from_arrow_schema(schema)
        assert features(fmt, **options) == declared
        paths = {c: tmp_path / f"{fmt}-{table}.{c}" for c in ("jsonl", "parquet", "hf")}
        try:
            for container, path in paths.items():
                export_write(campaign=exported, fmt=fmt, container=container, path=path,
                             options=options)  # fmt: skip
        except Exception as e:  # refused: a format that does not fit, or nothing to export
            assert getattr(e, "code", None) in ("format_does_not_fit", "empty"), e
            continue
        lines = [json.loads(x) for x in paths["jsonl"].read_text().splitlines()]
        json_row = spec.tables[table].json_row
        json_schema = schema
        if json_row is not None:  # a published JSON layout of its own (oasst's messages)
            json_schema = spec.tables[table].json_schema(ExportContext(exported, ExportOptions()))
            assert features(fmt, container="jsonl", campaign=exported, **options) == (
                datasets.Features.from_arrow_schema(json_schema)
            )
        for row in lines:
            if json_row is None:
                assert list(row) == schema.names, (fmt, table)
            fields = [f for f in json_schema if f.name in row]
            assert set(row) == {f.name for f in fields}, (fmt, table)
            wrong = [e for f in fields for e in json_kinds_fit(row[f.name], f.type, f.name)]
            assert wrong == [], (fmt, table, wrong[:3])

        # A cache of this test's own: datasets may take another run's files for these.
        cache = str(tmp_path / "cache")
        from_json = datasets.load_dataset(
            "json", data_files=str(paths["jsonl"]), split="train", cache_dir=cache,
            features=datasets.Features.from_arrow_schema(json_schema),
        )  # fmt: skip
        from_parquet = datasets.load_dataset(
            "parquet", data_files=str(paths["parquet"]), split="train", cache_dir=cache
        )
        config = "default" if len(spec.tables) == 1 else table
        from_folder = datasets.load_dataset(str(paths["hf"]), config, split="train",
                                            cache_dir=cache)  # fmt: skip
        card = yaml.safe_load((paths["hf"] / "README.md").read_text().split("---")[1])
        [info] = [i for i in card["dataset_info"] if i["config_name"] == config]
        assert datasets.Features._from_yaml_list(info["features"]) == declared
        for ds in (from_parquet, from_folder):
            assert ds.features == declared, (fmt, table)
        assert from_parquet.to_list() == from_folder.to_list()
        if json_row is None:
            assert from_json.features == declared
            assert from_json.to_list() == from_parquet.to_list()
        else:
            # The same rows, in the JSON layout.
            assert lines == [json_row(r) for r in from_parquet.to_list()]
