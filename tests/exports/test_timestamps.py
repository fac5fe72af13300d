"""Timestamps carry their offset (UTC) on every database, and the same data exports to the same
bytes on SQLite and PostgreSQL."""

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from annotation.models import Campaign, Judgment
from exports.formats import FORMATS
from exports.services import export_rows
from tests.exports.cross_db import exports_all, files_of
from tests.exports.kinds import campaign_build

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")


def _stamps(value, key=""):
    """Every (key, value) of a timestamp in a row, however deep."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _stamps(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _stamps(v, key)
    elif isinstance(value, str) and (key.endswith("_at") or key == "created_date"):
        yield key, value


@pytest.mark.parametrize("kind", ["study", "tree"])
def test_every_timestamp_of_every_format_carries_the_utc_offset(db, kind):
    campaign = campaign_build(kind)
    seen = set()
    for fmt, spec in FORMATS.items():
        for table in spec.tables:
            options = {"table": table} if len(spec.tables) > 1 else {}
            try:
                rows = list(export_rows(campaign=campaign, fmt=fmt, **options))
            except Exception as e:  # a format that does not fit the campaign
                assert getattr(e, "field", None) == "format", e
                continue
            for row in rows:
                for key, value in _stamps(row):
                    assert ISO_UTC.match(value), (fmt, table, key, value)
                    seen.add((fmt, key))
                if row.get("generated_datetime"):
                    # PRISM's own layout, without an offset: the time in UTC.
                    assert datetime.strptime(row["generated_datetime"], "%Y-%m-%d %H:%M:%S")
    expected = {
        ("judgments", "leased_at"),
        ("judgments", "created_at"),
        ("oasst", "created_date"),
        ("preference", "created_at") if kind == "study" else ("kto", "created_at"),
    }
    assert expected <= seen, seen  # fmt: skip
    if kind == "study":
        first = Judgment.objects.filter(campaign=campaign).order_by("id").first()
        row = next(
            r for r in export_rows(campaign=campaign, fmt="judgments")
            if r["judgment_id"] == first.id
        )  # fmt: skip
        assert datetime.fromisoformat(row["created_at"]) == first.created_at.astimezone(UTC)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_data_exports_to_the_same_bytes_on_sqlite_and_postgresql(tmp_path):
    """Every kind of campaign is built and exported on SQLite in a process of its own, its
    data loaded here on PostgreSQL and exported again: every file, byte for byte."""
    if connection.vendor != "postgresql":
        pytest.skip("compares with PostgreSQL; set DATABASE_URL=postgres://...")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'agora.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
    }
    subprocess.run(
        [sys.executable, "-m", "tests.exports.cross_db", str(tmp_path)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
        timeout=600,
    )
    call_command("loaddata", str(tmp_path / "data.xml"), verbosity=0)
    refused = exports_all(Campaign.objects.order_by("id"), tmp_path / "postgresql")
    assert refused == json.loads((tmp_path / "refused.json").read_text())
    sqlite, postgresql = files_of(tmp_path / "sqlite"), files_of(tmp_path / "postgresql")
    assert sorted(postgresql) == sorted(sqlite)
    assert len(sqlite) > 100
    differ = [name for name in sqlite if sqlite[name] != postgresql[name]]
    assert differ == []
