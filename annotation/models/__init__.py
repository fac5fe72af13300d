"""Agora's domain: campaigns of message trees, tasks over sibling messages, leases, judgments.

One module per feature, every model re-exported here (`from annotation.models import Task`);
the app label, the tables and the migrations are those of the single module this once was.
Data rules live in the models as constraints (one lease per task and annotator, one judgment
per idempotency key, never more leases plus judgments than a task's overlap); the rules that
move state live in `annotation.services`.
"""

from annotation.models.accounts import ApiToken, Profile, User, _pseudonym
from annotation.models.adjudication import Adjudication
from annotation.models.assignments import Assignment, Judgment
from annotation.models.campaigns import Campaign, Membership
from annotation.models.review import JudgmentReview
from annotation.models.statistics import StatisticSnapshot
from annotation.models.studies import ConsentText, Participant, QuotaCell, Study
from annotation.models.trees import Attachment, Conversation, Message, Task, TaskCandidate

__all__ = [
    "Adjudication",
    "ApiToken",
    "Assignment",
    "Attachment",
    "Campaign",
    "ConsentText",
    "Conversation",
    "Judgment",
    "JudgmentReview",
    "Membership",
    "Message",
    "Participant",
    "Profile",
    "QuotaCell",
    "StatisticSnapshot",
    "Study",
    "Task",
    "TaskCandidate",
    "User",
    "_pseudonym",
]
