"""`preference`: TRL's conversational preference format with provenance columns.

One row per pairwise judgment that preferred one response (ties and "both bad" carry no
preference and are left out). `prompt` is the conversation from its root to the judged turn;
`chosen` and `rejected` are one-message assistant lists, as DPOTrainer and RewardTrainer read
them. Documented in docs/exports.md.
"""

from collections.abc import Iterator
from typing import Any

from annotation.models import Campaign

from .base import MessageIndex, as_chat, judgments_in_batches

SCHEMA_VERSION = "agora.preference/1"


def rows(campaign: Campaign, **_: Any) -> Iterator[dict[str, Any]]:
    strength_levels = campaign.settings.get("strength_levels", 0)
    for batch in judgments_in_batches(campaign, kind="pairwise"):
        index = MessageIndex({j.task.conversation_id for j in batch})
        for j in batch:
            payload = j.payload
            if payload.get("outcome") != "preferred":
                continue
            chosen, rejected = index[payload["preferred"]], index[payload["rejected"]]
            yield {
                "prompt": as_chat(index.path(j.task.parent_id)),
                "chosen": as_chat([chosen]),
                "rejected": as_chat([rejected]),
                "chosen_model": chosen.model.name if chosen.model else None,
                "rejected_model": rejected.model.name if rejected.model else None,
                "strength": payload.get("strength"),
                "strength_levels": strength_levels,
                "reason": payload.get("reason"),
                "chosen_position": j.assignment.display_order.index(chosen.id),
                "chosen_message_id": chosen.id,
                "rejected_message_id": rejected.id,
                "judgment_id": j.id,
                "task_id": j.task_id,
                "conversation_id": j.task.conversation_id,
                "conversation_external_id": j.task.conversation.external_id or None,
                "campaign": campaign.slug,
                "annotator": j.annotator.pseudonym,
                "profile_version": j.profile.version if j.profile else None,
                "instructions_version": j.instructions_version,
                "seconds_spent": j.seconds_spent,
                "created_at": j.created_at.isoformat(),
                "schema_version": SCHEMA_VERSION,
            }
