"""Creating campaigns and their members."""

from __future__ import annotations

from typing import Any

from annotation.errors import RuleError
from annotation.kinds import kind_for
from annotation.kinds.trees import tree_settings
from annotation.models import Attachment, Campaign, Membership, User
from annotation.services import trees
from annotation.services.adjudication import adjudication_settings


def campaign_create(
    *,
    name: str,
    slug: str,
    created_by: User | None = None,
    task_kind: str = Campaign.Kind.PAIRWISE,
    settings: dict[str, Any] | None = None,
    **fields: Any,
) -> Campaign:
    """A campaign whose kind settings are checked and filled with their defaults; a tree
    campaign's rules are checked too, and its first "write a prompt" tasks made."""
    clean = kind_for(task_kind).settings_dict(settings)
    if fields.get("overlap", 1) < 1:
        raise RuleError("overlap must be at least 1.", field="overlap")
    if fields.get("tree"):
        tree_settings(fields["tree"])
    if "adjudication" in fields:
        fields["adjudication"] = adjudication_settings(fields["adjudication"])
    media = fields.get("media_kinds") or []
    if not isinstance(media, list) or not set(media) <= set(Attachment.Kind.values):
        raise RuleError("media_kinds must be a list of image, audio, video.", field="media_kinds")
    campaign = Campaign.objects.create(
        name=name, slug=slug, created_by=created_by, task_kind=task_kind, settings=clean, **fields
    )
    if campaign.tree:
        trees.tree_prompt_tasks_top_up(campaign=campaign)
    return campaign


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
