"""Build every kind of campaign on SQLite and export it, in a process of its own, for the test
that the same data exports to the same bytes on PostgreSQL (test_timestamps.py):

    DATABASE_URL=sqlite:///out/agora.sqlite3 python -m tests.exports.cross_db out/

writes out/sqlite/ (every format, table and container of every campaign) and out/data.xml
(the data, for `loaddata` into the other database). Built on SQLite because SQLite keeps a JSON
object's keys in the order they were written, where PostgreSQL's jsonb sorts them: an export
that follows the stored key order shows up as a difference.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

EXTENSIONS = {"jsonl": ".jsonl", "parquet": ".parquet", "hf": ""}


def exports_all(campaigns: Any, out: Path) -> dict[str, str]:
    """Every format, table and container of every campaign under `out`; returns what was
    refused, by file name, with the reason."""
    from annotation.errors import RuleError
    from exports.formats import FORMATS
    from exports.services import export_write

    out.mkdir(parents=True, exist_ok=True)
    refused: dict[str, str] = {}
    for campaign in campaigns:
        for fmt, spec in FORMATS.items():
            for container in EXTENSIONS:
                tables: list[str | None] = (
                    [None] if container == "hf" or len(spec.tables) == 1 else list(spec.tables)
                )
                for table in tables:
                    if container != "jsonl" and table and spec.tables[table].schema is None:
                        continue
                    name = f"{campaign.slug}-{fmt}{'-' + table if table else ''}"
                    name += EXTENSIONS[container] or "-hf"
                    options = {"table": table} if table else {}
                    try:
                        export_write(campaign=campaign, fmt=fmt, container=container,
                                     path=out / name, options=options)  # fmt: skip
                    except RuleError as e:
                        refused[name] = e.message
    return refused


EXPORTED_ON = re.compile(rb" on \d{4}-\d\d-\d\d \d\d:\d\d UTC")


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under folder by relative path; a card's export time left out (it is the
    time of the export, not of the data)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "README.md":
                data = EXPORTED_ON.sub(b" on <time> UTC", data)
            out[str(path.relative_to(folder))] = data
    return out


def main(out: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from tests.exports.kinds import KINDS, campaign_build, cast

    call_command("migrate", verbosity=0)
    with transaction.atomic():
        people = cast()
        campaigns = [campaign_build(kind, people) for kind in KINDS]
    refused = exports_all(campaigns, out / "sqlite")
    (out / "refused.json").write_text(json.dumps(refused, indent=1, sort_keys=True))
    # XML keeps microseconds (the JSON serializer cuts them to milliseconds).
    call_command("dumpdata", "annotation", "generation", format="xml", output=str(out / "data.xml"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
