"""Dataset formats: each module turns a campaign's judgments into rows of one documented schema.

A format is a function `rows(campaign, **options) -> Iterator[dict]` plus a SCHEMA_VERSION.
"""

from collections.abc import Callable, Iterator
from typing import Any

from . import preference

FORMATS: dict[str, Callable[..., Iterator[dict[str, Any]]]] = {
    "preference": preference.rows,
}
SCHEMA_VERSIONS = {"preference": preference.SCHEMA_VERSION}
