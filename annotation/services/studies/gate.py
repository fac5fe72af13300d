"""The study's hook in the lease: the only study code on the hot path.

task_lease_next reads the member's `stage` and `quota_cells` in the query it already makes.
A member outside any study (stage READY) costs nothing more. A participant who has not
finished consent, survey and qualification, or who withdrew, is refused with a
Forbidden(code="study") that the pages turn into a redirect to their next study step. A
participant taking tasks (ACTIVE) pays two small reads: their task limit and, with quotas,
the steering rule of quotas.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from annotation import db
from annotation.errors import Forbidden
from annotation.models import Campaign, Membership, Study
from annotation.services.studies.joining import join_check
from annotation.services.studies.quotas import lease_count, steering_allows_lease

STUDY_CODE = "study"


def stage_refusal(stage: str) -> Forbidden | None:
    """Why a member at this stage may not take a task (None: they may)."""
    if stage in (Membership.Stage.READY, Membership.Stage.ACTIVE):
        return None
    if stage == Membership.Stage.COMPLETED:
        message = _("You have finished this study. Thank you!")
    elif stage == Membership.Stage.WITHDRAWN:
        message = _("You withdrew your consent; this study shows you no more tasks.")
    elif stage in (Membership.Stage.INELIGIBLE, Membership.Stage.QUOTA_FULL):
        message = _("This study has no tasks for you.")
    elif stage == Membership.Stage.FAILED:
        message = _("You did not pass this study's qualification.")
    else:
        message = _("Finish the study's first steps before its tasks.")
    return Forbidden(message, code=STUDY_CODE)


def stage_on_join(campaign: Campaign) -> str:
    """The stage of someone joining a campaign on their own (public campaigns): the study's
    first step where the campaign is a study, else READY. Whether the person may join at
    all is joining.py's rule (a study with sign-up closed refuses them: Forbidden)."""
    study = Study.objects.filter(campaign=campaign).first()
    if study is None:
        return Membership.Stage.READY
    try:
        join_check(study=study)
    except Forbidden as refused:
        # As a study's refusal, so that the task page sends the person to the study's pages.
        raise Forbidden(refused.message, code=STUDY_CODE) from None
    return Membership.Stage.CONSENT


def lease_allowed(
    *,
    campaign_id: int,
    annotator_id: int,
    quotas: dict[str, Any],
    cells: list[str],
    now: datetime,
) -> bool:
    """Whether an ACTIVE participant gets a new task: under their task limit, and let through
    by quota steering. False reads as "nothing left for you" (then the completion page).

    Live leases count toward the limit as well as submitted ones, so that no lease is handed
    out that could become a judgment past it; the lease's lock on the member's row
    (db.member_for_lease) keeps one person's requests from counting at the same time."""
    limit = db.study_limit(campaign_id=campaign_id, annotator_id=annotator_id, now=now)
    if limit is not None and 0 < limit.tasks_per_participant <= limit.taken:
        return False
    return steering_allows_lease(campaign_id=campaign_id, quotas=quotas, cells=cells)


def lease_counted(*, campaign_id: int, cells: list[str]) -> None:
    lease_count(campaign_id=campaign_id, cells=cells)
