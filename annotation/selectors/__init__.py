"""Every read of the annotation app, one module per feature; the campaign and task lookups of
`campaigns` are re-exported here (`selectors.task_view(...)`)."""

from annotation.selectors.campaigns import (
    AVAILABLE_COUNT_CAP,
    Progress,
    TaskView,
    assignment_for_annotator,
    campaign_by_ref,
    campaign_is_admin,
    campaign_progress,
    campaign_tasks_visible,
    campaigns_administered_by,
    campaigns_open_to,
    campaigns_reviewed_by,
    campaigns_visible_to,
    conversation_path,
    messages_with_files,
    task_view,
)

__all__ = [
    "AVAILABLE_COUNT_CAP",
    "Progress",
    "TaskView",
    "assignment_for_annotator",
    "campaign_by_ref",
    "campaign_is_admin",
    "campaign_progress",
    "campaign_tasks_visible",
    "campaigns_administered_by",
    "campaigns_open_to",
    "campaigns_reviewed_by",
    "campaigns_visible_to",
    "conversation_path",
    "messages_with_files",
    "task_view",
]
