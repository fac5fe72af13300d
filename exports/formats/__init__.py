"""Dataset formats: each module turns a campaign's judgments into rows of documented, versioned
tables (docs/exports.md). A format is a `Format`: its tables, each with a `rows(ctx)` generator
and a typed schema, and the options it reads."""

from . import judgments, kto, oasst, preference, prism, ratings
from .spec import Format, Table

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        preference.FORMAT,
        kto.FORMAT,
        ratings.FORMAT,
        judgments.FORMAT,
        oasst.FORMAT,
        prism.FORMAT,
    )
}
SCHEMA_VERSIONS = {name: f.version for name, f in FORMATS.items()}

__all__ = ["FORMATS", "SCHEMA_VERSIONS", "Format", "Table"]
