"""What a campaign's admins do from the dashboard: set a campaign up, move it through its
states, change its settings, and keep an eye on its annotators (flag, block, add)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils.text import slugify

from annotation.errors import Conflict, NotFound, RuleError
from annotation.kinds import kind_for
from annotation.models import Assignment, Campaign, Membership, Task, User
from annotation.services.campaigns import campaign_create, membership_add
from annotation.services.leasing import leases_end
from annotation.services.prompts import ImportReport, prompts_import
from annotation.services.routing import task_priorities_refresh
from generation.selectors import language_models_for

# Where each state may go. Closed is final: its data is what gets exported.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Campaign.State.DRAFT: (Campaign.State.OPEN, Campaign.State.CLOSED),
    Campaign.State.OPEN: (Campaign.State.PAUSED, Campaign.State.CLOSED),
    Campaign.State.PAUSED: (Campaign.State.OPEN, Campaign.State.CLOSED),
    Campaign.State.CLOSED: (),
}
LEASE_SECONDS = (30, 24 * 3600)
OVERLAP_MAX = 50
REPEAT_SHARE_MAX = 0.5
# A slug's length: room under the column's 80 for the "-2" of a name made twice.
SLUG_MAX = 70
# Generated tasks kept ready ahead of the annotators.
GENERATION_BUFFER_MAX = 10_000


def campaign_setup_start(
    *,
    name: str,
    created_by: User,
    slug: str = "",
    description: str = "",
    instructions: str = "",
) -> Campaign:
    """A new draft campaign with its creator as admin; the rest is set up step by step."""
    name = _text(name, "name", max_chars=200, required=True)
    description = _text(description, "description", max_chars=500)
    slug = slugify(slug or name)[:SLUG_MAX] or "campaign"
    if Campaign.objects.filter(slug=slug).exists():
        base, n = slug, 2
        while Campaign.objects.filter(slug=f"{base}-{n}").exists():
            n += 1
        slug = f"{base}-{n}"
    with transaction.atomic():
        campaign = campaign_create(
            name=name,
            slug=slug,
            created_by=created_by,
            description=description,
            instructions=instructions or "",
            state=Campaign.State.DRAFT,
        )
        membership_add(campaign=campaign, user=created_by, role=Membership.Role.ADMIN)
    return campaign


def campaign_state_set(*, campaign: Campaign, state: str) -> Campaign:
    """Move a campaign: draft -> open <-> paused -> closed. Opening needs tasks."""
    if state not in Campaign.State.values:
        raise RuleError(f"There is no state {state!r}.", field="state")
    current = Campaign.State(campaign.state)
    if state == current:
        return campaign
    if state not in TRANSITIONS[current]:
        target = Campaign.State(state).label.lower()
        raise Conflict(
            f"A {current.label.lower()} campaign cannot be {_verb(target)}."
            + (" A closed campaign is final." if current == Campaign.State.CLOSED else ""),
            field="state",
            code="illegal_transition",
        )
    if state == Campaign.State.OPEN and not campaign.tasks.exists():
        raise RuleError("Import prompts with responses before opening.", field="state")
    with transaction.atomic():
        # Conditional: of two admins pressing buttons at once, the second sees a clear error.
        moved = Campaign.objects.filter(id=campaign.id, state=current).update(state=state)
        if not moved:
            raise Conflict("Someone changed this campaign's state meanwhile.", field="state")
        if state == Campaign.State.CLOSED:
            # Closed is final: no lease stays open. Waits for the submits under way, which
            # are stored before the close; later ones are refused (services.judging).
            leases_end(assignments=Assignment.objects.filter(campaign_id=campaign.id))
    campaign.state = state
    if state == Campaign.State.OPEN and campaign.routing == Campaign.Routing.ACTIVE:
        transaction.on_commit(lambda: task_priorities_refresh(campaign=campaign))
    return campaign


def _verb(state_label: str) -> str:
    return {"open": "opened", "paused": "paused", "closed": "closed", "draft": "made a draft"}[
        state_label
    ]


def campaign_update(*, campaign: Campaign, **changes: Any) -> Campaign:
    """Change a campaign's fields. Every value is checked (an error names the field); new
    instructions get a new instructions_version, so each judgment records what its annotator
    was told; the kind's settings are checked by the kind."""
    allowed = {
        "name",
        "description",
        "instructions",
        "task_kind",
        "settings",
        "overlap",
        "lease_seconds",
        "responses_per_prompt",
        "routing",
        "repeat_share",
        "is_public",
        "live_first_replies",
        "live_later_replies",
        "live_max_turns",
        "generation_buffer",
    }
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise RuleError(f"Unknown field {unknown[0]}.", field=unknown[0])
    clean = _clean(campaign, changes)
    fields = [f for f, v in clean.items() if getattr(campaign, f) != v]
    if "instructions" in fields:
        clean["instructions_version"] = campaign.instructions_version + 1
        fields.append("instructions_version")
    if not fields:
        return campaign
    with transaction.atomic():
        for f in fields:
            setattr(campaign, f, clean[f])
        campaign.save(update_fields=fields)
        if "overlap" in fields:
            _tasks_overlap_set(campaign, clean["overlap"])
    if "routing" in fields:
        transaction.on_commit(lambda: task_priorities_refresh(campaign=campaign))
    return campaign


# Live chat: replies at the first turn (0 = off), at each later turn, and turns at most.
LIVE_LIMITS = [
    ("live_first_replies", 0, 8),
    ("live_later_replies", 1, 8),
    ("live_max_turns", 1, 50),
]


def _clean(campaign: Campaign, changes: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if "name" in changes:
        clean["name"] = _text(changes["name"], "name", max_chars=200, required=True)
    if "description" in changes:
        clean["description"] = _text(changes["description"], "description", max_chars=500)
    if "instructions" in changes:
        clean["instructions"] = _text(changes["instructions"], "instructions", max_chars=50_000)
    kind = changes.get("task_kind", campaign.task_kind)
    if kind != campaign.task_kind:
        kind_for(kind)  # an unknown kind names the field task_kind
        if campaign.tasks.exists():
            raise Conflict(
                "The task kind cannot change once prompts are imported.", field="task_kind"
            )
        clean["task_kind"] = kind
    if "settings" in changes or "task_kind" in clean:
        raw = changes.get("settings", campaign.settings if "task_kind" not in clean else None)
        if raw is not None and not isinstance(raw, dict):
            raise RuleError("settings must be an object.", field="settings")
        clean["settings"] = kind_for(kind).settings_dict(raw)
    if "overlap" in changes:
        clean["overlap"] = _whole(changes["overlap"], "overlap", 1, OVERLAP_MAX)
    if "lease_seconds" in changes:
        clean["lease_seconds"] = _whole(changes["lease_seconds"], "lease_seconds", *LEASE_SECONDS)
    if "responses_per_prompt" in changes:
        clean["responses_per_prompt"] = _whole(
            changes["responses_per_prompt"], "responses_per_prompt", 1, 16
        )
    if "routing" in changes:
        if changes["routing"] not in Campaign.Routing.values:
            raise RuleError(
                f"routing must be one of {', '.join(Campaign.Routing.values)}.", field="routing"
            )
        clean["routing"] = changes["routing"]
    if "repeat_share" in changes:
        share = changes["repeat_share"]
        if (
            isinstance(share, bool)
            or not isinstance(share, int | float)
            or not math.isfinite(share)
            or not 0 <= share <= REPEAT_SHARE_MAX
        ):
            raise RuleError(
                f"repeat_share must be a share from 0 to {REPEAT_SHARE_MAX}.", field="repeat_share"
            )
        if share and kind != Campaign.Kind.PAIRWISE:
            raise RuleError("Repeated pairs are for pairwise campaigns.", field="repeat_share")
        clean["repeat_share"] = float(share)
    if "generation_buffer" in changes:
        clean["generation_buffer"] = _whole(
            changes["generation_buffer"], "generation_buffer", 0, GENERATION_BUFFER_MAX
        )
    for field, lo, hi in LIVE_LIMITS:
        if field in changes:
            clean[field] = _whole(changes[field], field, lo, hi)
    if clean.get("live_first_replies", campaign.live_first_replies) and kind != "rating":
        raise RuleError(
            "Live chat replies are rated: the campaign's task must be rating.",
            field="live_first_replies",
        )
    if "is_public" in changes:
        if not isinstance(changes["is_public"], bool):
            raise RuleError("is_public must be true or false.", field="is_public")
        clean["is_public"] = changes["is_public"]
    return clean


def _text(value: Any, field: str, *, max_chars: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RuleError(f"{field} must be text.", field=field)
    value = value.strip()
    if required and not value:
        raise RuleError(f"Please give the campaign a {field}.", field=field)
    if len(value) > max_chars:
        raise RuleError(f"{field} is longer than {max_chars} characters.", field=field)
    return value


def _whole(value: Any, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RuleError(f"{field} must be a whole number from {lo} to {hi}.", field=field)
    return value


def _tasks_overlap_set(campaign: Campaign, overlap: int) -> None:
    """Existing tasks follow a new overlap where their counts allow: more judgments reopen
    complete tasks; fewer close the tasks that already have enough. A task with more
    judgments and leases than the new overlap keeps its own."""
    tasks = Task.objects.filter(campaign=campaign, state__in=[Task.State.OPEN, Task.State.COMPLETE])
    tasks.filter(judgments_count__lte=overlap - F("leased_count")).update(
        overlap=overlap,
        state=Case(
            When(judgments_count__gte=overlap, then=Value(Task.State.COMPLETE)),
            default=Value(Task.State.OPEN),
        ),
    )


# --- annotators -----------------------------------------------------------------------------


def _membership(campaign: Campaign, membership_id: int) -> Membership:
    membership = (
        Membership.objects.select_related("user")
        .filter(campaign=campaign, id=membership_id)
        .first()
    )
    if membership is None:
        raise NotFound("No such member of this campaign.", field="membership")
    return membership


def membership_flag(
    *, campaign: Campaign, membership_id: int, flagged: bool, by: User | None = None
) -> Membership:
    """Flag an annotator: their judgments are held out of exports and of the leaderboard
    (they may go on annotating). Unflagging lets their work back in. An admin (`by`) cannot
    flag themselves."""
    membership = _membership(campaign, membership_id)
    if flagged and by is not None and membership.user_id == by.id:
        raise RuleError("You cannot flag yourself.", field="membership")
    if membership.is_flagged != flagged:
        membership.is_flagged = flagged
        membership.save(update_fields=["is_flagged"])
    return membership


def membership_block(
    *, campaign: Campaign, membership_id: int, blocked: bool, by: User | None = None
) -> Membership:
    """Block an annotator: no more tasks, and the task they hold goes back to the pool.
    Their earlier judgments stay (flag them to hold those out)."""
    membership = _membership(campaign, membership_id)
    if blocked and by is not None and membership.user_id == by.id:
        raise RuleError("You cannot block yourself.", field="membership")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(id=membership.id)
        if membership.is_blocked == blocked:
            return membership
        membership.is_blocked = blocked
        membership.save(update_fields=["is_blocked"])
        if blocked:
            leases_end(
                assignments=Assignment.objects.filter(
                    campaign=campaign, annotator_id=membership.user_id
                )
            )
    return membership


def campaign_models_set(*, campaign: Campaign, model_ids: Sequence[int]) -> None:
    """Which registered models answer this campaign's prompts: among those the campaign's
    admins may see (a model another campaign imported is "no such model" here)."""
    models = list(language_models_for(campaign=campaign).filter(id__in=list(model_ids)))
    if len(models) != len(set(model_ids)):
        raise RuleError("No such model.", field="language_models")
    campaign.language_models.set(models)


class _DryRun(Exception):
    def __init__(self, report: ImportReport):
        self.report = report


def prompts_preview(
    *, campaign: Campaign, content: str | bytes, fmt: str, created_by: User | None = None
) -> ImportReport:
    """What importing this file would do, line by line, without keeping anything: the import
    runs for real inside a transaction that is then rolled back."""
    try:
        with transaction.atomic():
            report = prompts_import(
                campaign=campaign, content=content, fmt=fmt, created_by=created_by
            )
            raise _DryRun(report)
    except _DryRun as dry:
        return dry.report
