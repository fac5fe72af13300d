"""An export as a `datasets.Dataset`, for researchers working in Python next to Agora."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotation.errors import RuleError
from annotation.models import Campaign
from webapp.untrusted import form_int

from .services import export_write

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
        export_write(campaign=campaign, fmt=fmt, container="parquet", path=path, options=options)
        # The Arrow cache (not the temporary file) backs the dataset once loaded.
        ds = datasets.Dataset.from_parquet(
            str(path), cache_dir=str(cache_dir) if cache_dir else None, keep_in_memory=False
        )
    assert isinstance(ds, datasets.Dataset)
    return ds
