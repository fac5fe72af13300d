"""Creating campaigns and their members."""

from __future__ import annotations

from typing import Any

from ..errors import RuleError
from ..kinds import kind_for
from ..models import (
    Campaign,
    Membership,
    User,
)


def campaign_create(
    *,
    name: str,
    slug: str,
    created_by: User | None = None,
    task_kind: str = Campaign.Kind.PAIRWISE,
    settings: dict[str, Any] | None = None,
    **fields: Any,
) -> Campaign:
    """A campaign whose kind settings are checked and filled with their defaults."""
    clean = kind_for(task_kind).settings_dict(settings)
    if fields.get("overlap", 1) < 1:
        raise RuleError("overlap must be at least 1.", field="overlap")
    return Campaign.objects.create(
        name=name, slug=slug, created_by=created_by, task_kind=task_kind, settings=clean, **fields
    )


def membership_add(
    *, campaign: Campaign, user: User, role: str = Membership.Role.ANNOTATOR
) -> Membership:
    membership, created = Membership.objects.get_or_create(
        campaign=campaign, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership
