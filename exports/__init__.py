"""Dataset exports: formats, containers, jobs.

`exports.load(campaign, "preference", **options)` returns the export as a `datasets.Dataset`.
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
