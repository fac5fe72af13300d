"""What the management commands of every app parse alike (`import_prompts`, `generate`,
`export`)."""

from django.core.management.base import CommandError

from annotation import selectors
from annotation.models import Campaign


def campaign_from_arg(value: str) -> Campaign:
    """The campaign a command names by id or slug, or a CommandError naming what was given."""
    campaign = selectors.campaign_by_ref(ref=value)
    if campaign is None:
        raise CommandError(f"No campaign {value!r}.")
    return campaign
