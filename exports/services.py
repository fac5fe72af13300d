from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotation.errors import RuleError
from annotation.models import Campaign

from .formats import FORMATS
from .writers import jsonl_lines


def export_rows(*, campaign: Campaign, fmt: str, **options: Any) -> Iterator[dict[str, Any]]:
    try:
        rows = FORMATS[fmt]
    except KeyError:
        raise RuleError(
            f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.", field="format"
        ) from None
    return rows(campaign, **options)


def export_jsonl_stream(*, campaign: Campaign, fmt: str, **options: Any) -> Iterator[bytes]:
    return jsonl_lines(export_rows(campaign=campaign, fmt=fmt, **options))


def export_to_file(*, campaign: Campaign, fmt: str, path: Path, **options: Any) -> int:
    """Write a JSONL export; returns the number of rows."""
    count = 0
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as f:
        for line in export_jsonl_stream(campaign=campaign, fmt=fmt, **options):
            f.write(line)
            count += 1
    tmp.replace(path)
    return count
