"""An export as a `datasets.Dataset`, for researchers working in Python next to Agora."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotation.errors import Conflict, RuleError
from annotation.models import Campaign
from webapp.untrusted import form_int

from .formats import FORMATS
from .formats.context import ExportContext
from .options import options_parse
from .services import export_options_for, export_write

if TYPE_CHECKING:
    import datasets


def campaign_get(campaign: Campaign | int | str) -> Campaign:
    if isinstance(campaign, Campaign):
        return campaign
    qs = Campaign.objects.all()
    campaign_id = campaign if isinstance(campaign, int) else form_int(str(campaign))
    found = (
        qs.filter(id=campaign_id) if campaign_id is not None else qs.filter(slug=str(campaign))
    ).first()
    if found is None:
        raise RuleError(f"No campaign {campaign!r}.", field="campaign")
    return found


def dataset_load(
    campaign: Campaign | int | str,
    fmt: str = "preference",
    *,
    cache_dir: str | Path | None = None,
    **options: Any,
) -> datasets.Dataset:
    """Export one table of a format through Parquet (so its columns keep their documented
    types) and load it as a memory-mapped `datasets.Dataset`."""
    import datasets

    campaign = campaign_get(campaign)
    with tempfile.TemporaryDirectory(prefix="agora-load-") as tmp:
        path = Path(tmp) / "export.parquet"
        try:
            export_write(
                campaign=campaign, fmt=fmt, container="parquet", path=path, options=options
            )
        except Conflict as e:
            if e.code != "empty":
                raise
            # No file for no rows (datasets loads none), but in Python an empty dataset
            # with the declared features is what a notebook wants.
            names = features(fmt, campaign=campaign, **options)
            return datasets.Dataset.from_dict({n: [] for n in names}, features=names)
        # The Arrow cache (not the temporary file) backs the dataset once loaded.
        ds = datasets.Dataset.from_parquet(
            str(path), cache_dir=str(cache_dir) if cache_dir else None, keep_in_memory=False
        )
    assert isinstance(ds, datasets.Dataset)
    return ds


def features(
    fmt: str = "preference",
    *,
    container: str = "parquet",
    campaign: Campaign | int | str | None = None,
    **options: Any,
) -> datasets.Features:
    """The declared features of one table of a format (the dataset card's `features`), for
    reading its JSON Lines with `datasets.load_dataset("json", ..., features=...)`: JSON
    holds no types, so a column that is null in every row would otherwise load as `null`.
    A table whose JSON Lines follow a published layout of their own (oasst's messages) has
    that layout's features for `container="jsonl"`, which may name the campaign's labels.
    With `campaign`, the features of that campaign's export (the preference and kto `images`
    column where its prompts carry images; or say `images=True`)."""
    import datasets

    opts = options_parse(options)
    try:
        spec = FORMATS[fmt]
    except KeyError:
        raise RuleError(f"Unknown export format {fmt!r}.", field="format") from None
    name = spec.table_for(container, opts.table)
    if name is None or name not in spec.tables:
        raise RuleError(f"Choose a table of {fmt}: {', '.join(spec.tables)}.", field="table")
    table = spec.tables[name]
    if campaign is not None:
        opts = export_options_for(campaign=campaign_get(campaign), format_=spec, options=opts)
    if container == "jsonl" and table.json_schema is not None:
        if campaign is None:
            raise RuleError(
                f"The {fmt} {name} table's JSON Lines layout depends on the campaign; name it.",
                field="campaign",
            )
        ctx = ExportContext(campaign_get(campaign), opts)
        return datasets.Features.from_arrow_schema(table.json_schema(ctx))
    if table.schema is None:
        raise RuleError(f"The {fmt} table {name} has no fixed schema.", field="table")
    return datasets.Features.from_arrow_schema(table.schema(opts))
