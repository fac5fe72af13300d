"""Containers for rows: JSON Lines, streamed a line at a time."""

import json
from collections.abc import Iterable, Iterator
from typing import Any


def jsonl_lines(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield (json.dumps(row, ensure_ascii=False) + "\n").encode()
