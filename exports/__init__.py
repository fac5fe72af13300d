"""Dataset exports: formats, containers, jobs.

`exports.load(campaign, "preference", **options)` returns the export as a `datasets.Dataset`;
`exports.features("preference", **options)` its declared features.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datasets

    from annotation.models import Campaign


def load(
    campaign: "Campaign | int | str", format: str = "preference", **options: Any
) -> "datasets.Dataset":
    """One table of an export (a campaign, its id or slug) as a `datasets.Dataset`."""
    # Imported here: this package is a Django app, loaded before the models are ready.
    from .loading import dataset_load

    return dataset_load(campaign, format, **options)


def features(
    format: str = "preference",
    *,
    container: str = "parquet",
    campaign: "Campaign | int | str | None" = None,
    **options: Any,
) -> "datasets.Features":
    """The declared features of one table of a format (`table=...`, `text=True`), e.g. to read
    its JSON Lines: `datasets.load_dataset("json", data_files=..., features=features(...))`
    (oasst's messages: `container="jsonl"` and the campaign, for its labels)."""
    from .loading import features as features_of

    return features_of(format, container=container, campaign=campaign, **options)
