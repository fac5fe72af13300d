"""Every write and rule of annotation. The pages, the API, the CLI and the tests call these."""

from .campaigns import campaign_create, membership_add
from .judging import judgment_submit
from .leasing import assignment_skip, leases_expire, task_lease_next
from .prompts import ImportReport, prompts_import, tasks_create_for_candidates

__all__ = [
    "ImportReport",
    "assignment_skip",
    "campaign_create",
    "judgment_submit",
    "leases_expire",
    "membership_add",
    "prompts_import",
    "task_lease_next",
    "tasks_create_for_candidates",
]
