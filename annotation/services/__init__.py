"""Every write and rule of annotation. The pages, the API, the CLI and the tests call these."""

from annotation.services.campaign_admin import (
    campaign_setup_start,
    campaign_state_set,
    campaign_update,
    membership_block,
    membership_flag,
)
from annotation.services.campaigns import campaign_create, membership_add
from annotation.services.judging import judgment_submit
from annotation.services.leasing import assignment_skip, leases_expire, task_lease_next
from annotation.services.people import PeopleReport, invite_accept, invite_check, people_add
from annotation.services.prompts import ImportReport, prompts_import, tasks_create_for_candidates
from annotation.services.routing import campaigns_priorities_refresh, task_priorities_refresh
from annotation.services.statistics import (
    leaderboard_refresh,
    leaderboard_shown,
    quality_refresh,
    quality_refresh_due,
    quality_shown,
)
from annotation.services.tokens import api_token_create, api_token_revoke, api_tokens_revoke_all

__all__ = [
    "ImportReport",
    "PeopleReport",
    "api_token_create",
    "api_token_revoke",
    "api_tokens_revoke_all",
    "assignment_skip",
    "campaign_create",
    "campaign_setup_start",
    "campaign_state_set",
    "campaign_update",
    "campaigns_priorities_refresh",
    "invite_accept",
    "invite_check",
    "judgment_submit",
    "leaderboard_refresh",
    "leaderboard_shown",
    "leases_expire",
    "membership_add",
    "membership_block",
    "membership_flag",
    "people_add",
    "prompts_import",
    "quality_refresh",
    "quality_refresh_due",
    "quality_shown",
    "task_lease_next",
    "task_priorities_refresh",
    "tasks_create_for_candidates",
]
