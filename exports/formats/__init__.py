"""Dataset formats: each module turns a campaign's judgments into rows of documented, versioned
tables (docs/exports.md). A format is a `Format`: its tables, each with a `rows(ctx)` generator
and a typed schema, and the options it reads."""

from collections.abc import Sequence

from annotation.errors import RuleError

from . import judgments, kto, oasst, preference, prism, ratings
from .context import ExportContext
from .spec import Format, Table, either

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


def kinds_check(ctx: ExportContext, fmt: Format, tables: Sequence[str]) -> None:
    """Refuse a table whose rows come from judgment kinds the campaign never makes (a tree
    campaign has no ratings, a rating campaign no rankings): before any row is written, with
    the formats that do export the campaign."""
    for name in tables:
        needs = fmt.tables[name].needs
        if not needs or ctx.makes_any(needs):
            continue
        fits = [
            f.name
            for f in FORMATS.values()
            if all(not t.needs or ctx.makes_any(t.needs) for t in f.tables.values())
        ]
        partly = [
            f"the {f.name} {t} table alone (table={t})"
            for f in FORMATS.values()
            if f.name not in fits
            for t, spec in f.tables.items()
            if not spec.needs
        ]
        what = "" if len(fmt.tables) == 1 else f" {name} table"
        raise RuleError(
            f"The {fmt.name}{what} reads {either(needs)} judgments, and this campaign makes "
            f"{either(ctx.kinds_made(), 'and')} tasks: there is nothing for it. Export the "
            f"campaign as {either([*fits, *partly])}.",
            field="format",
            code="format_does_not_fit",
        )


__all__ = ["FORMATS", "SCHEMA_VERSIONS", "Format", "Table", "kinds_check"]
