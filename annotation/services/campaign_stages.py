"""What an admin switches on for a campaign beyond its task (docs/trees.md): message trees that
grow by rules, a review stage, and the media prompts may carry; and who reviews.

Tree rules are fixed once judgments are in: a tree grows by the rules its judgments were made
under, so changing them (or turning trees on or off) is refused then, with the field named.
The review stage and the media kinds may change at any time (a review stage turned on later
reviews the judgments already in; media kinds only decide what later imports accept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from annotation.errors import Conflict, RuleError
from annotation.kinds import kind_for
from annotation.kinds.trees import tree_settings
from annotation.models import (
    Assignment,
    Attachment,
    Campaign,
    Conversation,
    Judgment,
    Membership,
    Task,
)
from annotation.services.campaign_admin import _membership
from annotation.services.trees import tree_prompt_tasks_top_up

# Images are always accepted; these are what a campaign may add.
OPTIONAL_MEDIA = (Attachment.Kind.AUDIO, Attachment.Kind.VIDEO)
TREE_TASK_KIND = "reply"


def campaign_stages_set(
    *,
    campaign: Campaign,
    tree: Mapping[str, Any] | None,
    review_stage: bool,
    media_kinds: Sequence[str],
) -> Campaign:
    """Set a campaign's tree rules (None or {} = not a tree campaign), review stage and media
    kinds, all or nothing. Errors name the field (`tree.max_depth`, `media_kinds`)."""
    media = list(dict.fromkeys(media_kinds))
    unknown = [m for m in media if m not in OPTIONAL_MEDIA]
    if unknown:
        raise RuleError(
            f"There is no media kind {unknown[0]!r} to add (images are always on; audio, video).",
            field="media_kinds",
        )
    if not isinstance(review_stage, bool):
        raise RuleError("review_stage must be true or false.", field="review_stage")
    new_tree = dict(tree or {})
    if new_tree:
        tree_settings(new_tree)  # errors name the rule: tree.max_depth
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(id=campaign.id)
        fields = ["review_stage", "media_kinds"]
        if new_tree != campaign.tree:
            fields += _tree_change(campaign, new_tree)
        campaign.review_stage = review_stage
        campaign.media_kinds = [m for m in OPTIONAL_MEDIA if m in media]
        campaign.save(update_fields=fields)
        if campaign.tree:
            _prompt_tasks_trim(campaign, tree_settings(campaign.tree).prompt_tasks)
            tree_prompt_tasks_top_up(campaign=campaign)
        else:
            _prompt_tasks_trim(campaign, 0)
    return campaign


def _tree_change(campaign: Campaign, new_tree: dict[str, Any]) -> list[str]:
    """Checks that the tree rules may change now and sets them (not saved); a campaign that
    becomes a tree campaign becomes a reply campaign too. Returns the fields changed."""
    if Judgment.objects.filter(campaign=campaign).exists():
        raise Conflict(
            "Tree rules cannot change once judgments are in: the trees grew by the rules "
            "they have. Start a new campaign for new rules.",
            field="tree",
            code="tree_rules_fixed",
        )
    fields = ["tree"]
    if bool(new_tree) != bool(campaign.tree) and _imported_tasks(campaign).exists():
        # Tasks made from imported prompts were made for one or the other.
        raise Conflict(
            "Trees are turned on or off before prompts are imported: this campaign already "
            "has tasks from its prompts. Start a new campaign for that.",
            field="tree",
            code="tree_after_import",
        )
    if new_tree and campaign.task_kind != TREE_TASK_KIND:
        campaign.task_kind = TREE_TASK_KIND
        campaign.settings = kind_for(TREE_TASK_KIND).settings_dict(None)
        fields += ["task_kind", "settings"]
    campaign.tree = new_tree
    return fields


def _imported_tasks(campaign: Campaign) -> Any:
    """The campaign's tasks other than its "write a prompt" ones."""
    return Task.objects.filter(campaign=campaign).exclude(kind="reply", parent__isnull=True)


def _prompt_tasks_trim(campaign: Campaign, keep: int) -> None:
    """Fewer open "write a prompt" tasks (none when trees are off): those nobody holds or
    wrote go, with their empty conversations."""
    spare = (
        Task.objects.filter(
            campaign=campaign,
            kind="reply",
            parent__isnull=True,
            state=Task.State.OPEN,
            judgments_count=0,
        )
        .exclude(id__in=Assignment.objects.filter(campaign=campaign).values("task_id"))
        .order_by("-id")
    )
    open_now = Task.objects.filter(
        campaign=campaign, kind="reply", parent__isnull=True, state=Task.State.OPEN
    ).count()
    excess = max(0, open_now - keep)
    if not excess:
        return
    doomed = list(spare.values_list("id", "conversation_id")[:excess])
    Task.objects.filter(id__in=[t for t, _ in doomed]).delete()
    Conversation.objects.filter(
        id__in=[c for _, c in doomed], messages__isnull=True, tasks__isnull=True
    ).delete()


def member_role_set(*, campaign: Campaign, membership_id: int, role: str) -> Membership:
    """Give a member another role (annotator, reviewer, admin). The last admin stays one."""
    if role not in Membership.Role.values:
        raise RuleError(f"role must be one of {', '.join(Membership.Role.values)}.", field="role")
    membership = _membership(campaign, membership_id)
    if membership.role == role:
        return membership
    with transaction.atomic():
        if (
            membership.role == Membership.Role.ADMIN
            and not Membership.objects.select_for_update()
            .filter(campaign=campaign, role=Membership.Role.ADMIN)
            .exclude(id=membership.id)
            .exists()
        ):
            raise RuleError("A campaign keeps at least one admin.", field="role")
        membership.role = role
        membership.save(update_fields=["role"])
    return membership
