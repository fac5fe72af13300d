"""Agora's domain: campaigns of message trees, tasks over sibling messages, leases, judgments.

Data rules live here as constraints (one lease per task and annotator, one judgment per
idempotency key, never more leases plus judgments than a task's overlap); the rules that
move state live in services.py.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# Named once: a Campaign field is called `settings`, which would shadow django.conf.settings.
USER_MODEL = settings.AUTH_USER_MODEL


def _pseudonym() -> str:
    return "a_" + secrets.token_hex(6)


class User(AbstractUser):
    # The only identifier of a person that leaves Agora in exports.
    pseudonym = models.CharField(max_length=32, unique=True, default=_pseudonym, editable=False)


class Campaign(models.Model):
    class Kind(models.TextChoices):
        PAIRWISE = "pairwise", "Pairwise comparison"
        RANKING = "ranking", "Ranking"
        RATING = "rating", "Rating"
        BINARY = "binary", "Thumbs up or down"
        LABEL = "label", "Labels"
        CRITIQUE = "critique", "Critique"
        REWRITE = "rewrite", "Rewrite"
        REPLY = "reply", "Reply"

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    class Routing(models.TextChoices):
        FEWEST_JUDGMENTS = "fewest_judgments", "Fewest judgments first"
        # The comparisons whose outcome tells the leaderboard most, under the current
        # Bradley-Terry fit (Task.priority, refreshed by services.routing).
        ACTIVE = "active", "Most informative comparisons first (active)"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=500, blank=True)
    instructions = models.TextField(blank=True, help_text="Markdown, shown on every task.")
    instructions_version = models.PositiveIntegerField(default=1)
    task_kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PAIRWISE)
    settings = models.JSONField(
        default=dict, blank=True, help_text="Settings of the task kind (scale, outcomes, ...)."
    )
    overlap = models.PositiveSmallIntegerField(default=3)
    lease_seconds = models.PositiveIntegerField(default=15 * 60)
    responses_per_prompt = models.PositiveSmallIntegerField(default=2)
    language_models = models.ManyToManyField(
        "generation.LanguageModel", blank=True, related_name="campaigns"
    )
    routing = models.CharField(
        max_length=30, choices=Routing.choices, default=Routing.FEWEST_JUDGMENTS
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    # Self-consistency: the share of an annotator's leases that serve a pair they judged
    # earlier again, sides swapped (pairwise campaigns; 0 = off).
    repeat_share = models.FloatField(default=0.0)
    is_public = models.BooleanField(
        default=False, help_text="Any signed-in user may join; otherwise members only."
    )
    # On-policy collection: candidates and tasks are generated in rounds; a new checkpoint
    # starts a new round over the same prompts.
    current_round = models.PositiveSmallIntegerField(default=1)
    # Generated tasks to keep ahead of the annotators, so nobody waits for a GPU (0 = off).
    generation_buffer = models.PositiveIntegerField(default=0)
    # Live chat (PRISM): an annotator writes a turn, this many of the campaign's models answer
    # it (0 = no live chat), then the chosen model this many times at each later turn.
    live_first_replies = models.PositiveSmallIntegerField(default=0)
    live_later_replies = models.PositiveSmallIntegerField(default=2)
    live_max_turns = models.PositiveSmallIntegerField(default=6)
    survey = models.JSONField(default=dict, blank=True)
    quotas = models.JSONField(default=dict, blank=True)
    # OpenAssistant trees that grow by rules (max depth, children per node, review votes...;
    # services.trees); empty = a campaign whose tasks come from imports and generation only.
    tree = models.JSONField(
        default=dict, blank=True, help_text="Rules of growing message trees (docs/trees.md)."
    )
    # A review stage: chosen reviewers accept, reject or correct each judgment, and only
    # accepted (or corrected) judgments are exported (services.review).
    review_stage = models.BooleanField(default=False)
    # What a message may carry besides text: "image", and "audio" / "video" where wanted.
    media_kinds = models.JSONField(default=list, blank=True)
    members: models.ManyToManyField[User, Membership] = models.ManyToManyField(
        USER_MODEL, through="Membership", related_name="campaigns"
    )
    created_by = models.ForeignKey(
        USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="campaign_overlap_positive"),
            models.CheckConstraint(
                condition=Q(lease_seconds__gte=10), name="campaign_lease_at_least_10s"
            ),
            models.CheckConstraint(
                condition=Q(repeat_share__gte=0, repeat_share__lte=0.5),
                name="campaign_repeat_share_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def lease_length(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)


class Membership(models.Model):
    """A person's place in a campaign: their role, standing and counterbalancing counts."""

    class Role(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        # Annotates too, and reviews others' judgments where the campaign has a review stage.
        REVIEWER = "reviewer", "Reviewer"
        ADMIN = "admin", "Admin"

    class Stage(models.TextChoices):
        READY = "ready", "Ready (no study)"
        CONSENT = "consent", "Awaiting consent"
        SURVEY = "survey", "Awaiting survey"
        QUALIFY = "qualify", "In qualification"
        ACTIVE = "active", "Taking tasks"
        INELIGIBLE = "ineligible", "Does not qualify"
        QUOTA_FULL = "quota_full", "Quota full"
        FAILED = "failed", "Failed qualification"
        WITHDRAWN = "withdrawn", "Withdrew consent"
        COMPLETED = "completed", "Completed"

    # No index of its own on `campaign`: `membership_unique` (campaign, user) serves it.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.ANNOTATOR)
    is_blocked = models.BooleanField(default=False)
    is_flagged = models.BooleanField(default=False)
    # {candidate key: [times shown first, times shown second, ...]} for this person.
    placements = models.JSONField(default=dict, blank=True)
    # The lease this person holds in the campaign, read with the membership in one query.
    # Unindexed on purpose: every lease rewrites it, and with no index on the columns a lease
    # changes, PostgreSQL updates the row in place (HOT) instead of adding index entries.
    current_assignment = models.ForeignKey(
        "Assignment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Where a study participant stands (annotation.studies): read with the membership in the
    # lease's own query, so the gate costs no statement. READY for anyone outside a study.
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.READY)
    # The quota cells ("age=18-24 years old", ...) a study participant counts towards.
    quota_cells = models.JSONField(default=list, blank=True)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="membership_unique")
        ]


class Conversation(models.Model):
    """One message tree."""

    class Origin(models.TextChoices):
        IMPORTED = "imported", "Imported"
        WRITTEN = "written", "Written by an annotator"
        LIVE = "live", "Live chat"

    class PrismType(models.TextChoices):
        UNGUIDED = "unguided", "Unguided"
        VALUES_GUIDED = "values_guided", "Values guided"
        CONTROVERSY_GUIDED = "controversy_guided", "Controversy guided"

    class TreeState(models.TextChoices):
        # OpenAssistant's states; blank for a conversation of a campaign without tree rules.
        GROWING = "growing", "Growing"
        RANKING = "ranking", "Ranking"
        READY = "ready_for_export", "Ready for export"
        ABORTED = "aborted_low_grade", "Aborted for low quality"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="conversations")
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.IMPORTED)
    prism_type = models.CharField(max_length=20, choices=PrismType.choices, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    tree_state = models.CharField(max_length=20, choices=TreeState.choices, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"],
                condition=~Q(external_id=""),
                name="conversation_external_id_unique",
            )
        ]


class Message(models.Model):
    """A node of a tree, written by a person or by a model (never both)."""

    class Role(models.TextChoices):
        SYSTEM = "system", _("System")
        USER = "user", _("User")
        ASSISTANT = "assistant", _("Assistant")

    class Review(models.TextChoices):
        # A human-written message of a growing tree; blank where no review applies.
        PENDING = "pending", "Waiting for review"
        ACCEPTED = "accepted", "Accepted"
        SPAM = "spam", "Voted spam"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField()
    author = models.ForeignKey(USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    model = models.ForeignKey(
        "generation.LanguageModel", null=True, blank=True, on_delete=models.PROTECT
    )
    # How a model made it: the exact sampling parameters, token counts, latency, finish reason.
    sampling_params = models.JSONField(default=dict, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    finish_reason = models.CharField(max_length=20, blank=True)
    backend = models.CharField(max_length=20, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="The host that generated it.")
    # The collection round it was generated in (on-policy rounds of a campaign).
    round = models.PositiveSmallIntegerField(default=1)
    review_state = models.CharField(max_length=10, choices=Review.choices, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(author__isnull=True) | Q(model__isnull=True),
                name="message_one_author",
            )
        ]


class Task(models.Model):
    """One unit of judgment over sibling messages (the candidates) under one parent."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"
        CANCELLED = "cancelled", "Cancelled"
        # A pair served again to the one annotator who judged it; never picked for others.
        REPEAT = "repeat", "Repeat for one annotator"
        # A live chat turn, rated by the participant who wrote it; never picked for others.
        LIVE = "live", "Live chat turn for its participant"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tasks")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="tasks")
    parent = models.ForeignKey(
        Message, null=True, on_delete=models.CASCADE, related_name="tasks_as_parent"
    )
    kind = models.CharField(max_length=20, choices=Campaign.Kind.choices)
    candidates: models.ManyToManyField[Message, TaskCandidate] = models.ManyToManyField(
        Message, through="TaskCandidate", related_name="tasks"
    )
    overlap = models.PositiveSmallIntegerField()
    judgments_count = models.PositiveSmallIntegerField(default=0)
    # Active, unexpired leases; moved in the same transaction as the Assignment rows.
    leased_count = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    gold = models.JSONField(null=True, blank=True)
    # Active routing: higher first; 0 = not in the current plan (services.routing).
    priority = models.FloatField(default=0.0)
    repeat_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="repeats"
    )
    round = models.PositiveSmallIntegerField(default=1)
    # [[message id, counterbalancing key], ...] in candidate order, so that leasing needs no
    # join: the key is the candidate's model, or its position for responses without one.
    candidate_keys = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["campaign", "judgments_count", "id"],
                condition=Q(state="open"),
                name="task_open_by_judgments",
            ),
            # Only planned tasks are in it, so campaigns without active routing never pay
            # for its upkeep when their judgment counts move.
            models.Index(
                "campaign",
                F("priority").desc(),
                "id",
                condition=Q(state="open", priority__gt=0),
                name="task_open_by_priority",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(judgments_count__lte=F("overlap") - F("leased_count")),
                name="task_never_over_leased",
            )
        ]


class TaskCandidate(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="task_candidates")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["task", "message"], name="task_candidate_unique"),
            models.UniqueConstraint(fields=["task", "position"], name="task_candidate_position"),
        ]


class Assignment(models.Model):
    """A lease of a task to one annotator."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        EXPIRED = "expired", "Expired"
        SKIPPED = "skipped", "Skipped"

    # `assignment_once_per_task` (task, annotator) and `assignment_mine` (campaign, ...) serve
    # these two: no index of their own to write on every lease.
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    annotator = models.ForeignKey(USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Candidate message ids in the order this annotator saw them, first = left/top.
    display_order = models.JSONField(default=list)
    skip_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="assignment_once_per_task")
        ]
        indexes = [
            models.Index(fields=["campaign", "annotator", "state"], name="assignment_mine"),
            models.Index(
                fields=["expires_at"], condition=Q(state="active"), name="assignment_active_expiry"
            ),
        ]


class Profile(models.Model):
    """A version of an annotator's survey answers; judgments point at the version in force."""

    user = models.ForeignKey(USER_MODEL, on_delete=models.CASCADE, related_name="profiles")
    version = models.PositiveIntegerField(default=1)
    answers = models.JSONField(default=dict, blank=True)
    consent_version = models.CharField(max_length=50, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="profile_version_unique")
        ]


class Judgment(models.Model):
    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="judgment")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="judgments")
    # `judgment_by_campaign` (campaign, id) and `judgment_idempotency_key_unique` (annotator,
    # key) serve these two: no index of their own to write on every submit.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="judgments", db_index=False
    )
    annotator = models.ForeignKey(
        USER_MODEL, on_delete=models.PROTECT, related_name="judgments", db_index=False
    )
    profile = models.ForeignKey(Profile, null=True, blank=True, on_delete=models.PROTECT)
    kind = models.CharField(max_length=20, choices=Campaign.Kind.choices)
    payload = models.JSONField()
    seconds_spent = models.FloatField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=100)
    instructions_version = models.PositiveIntegerField()
    # On a task with a known answer: 1.0 agrees, 0.0 does not. Such judgments score the
    # annotator and stay out of exports unless asked for.
    gold_score = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "idempotency_key"], name="judgment_idempotency_key_unique"
            )
        ]
        indexes = [models.Index(fields=["campaign", "id"], name="judgment_by_campaign")]


class ApiToken(models.Model):
    """A key for `Authorization: Token <key>`. Only its SHA-256 is stored: the key is shown
    once, when it is made, and a leaked database holds nothing that authenticates.

    Keys are 40 random hex characters, so one unsalted hash is enough (no dictionary to try);
    `prefix` lets a person tell their keys apart in lists without revealing them.
    """

    user = models.ForeignKey(USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Attachment(models.Model):
    """A file a message carries (an image, or audio / video where the campaign allows),
    kept in the default storage (var/media, or a bucket)."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        AUDIO = "audio", "Audio"
        VIDEO = "video", "Video"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file = models.FileField(upload_to="attachments/%Y/%m/", max_length=300)
    name = models.CharField(max_length=200, blank=True, help_text="The name it was uploaded as.")
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["message", "position", "id"]


class JudgmentReview(models.Model):
    """A reviewer's decision on a judgment (the review stage): accepted, rejected, or
    corrected, keeping the annotator's original payload untouched on the judgment."""

    class Decision(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        CORRECTED = "corrected", "Corrected"

    judgment = models.OneToOneField(Judgment, on_delete=models.CASCADE, related_name="review")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    reviewer = models.ForeignKey(USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    # The reviewer's payload, checked like the annotator's; only for `corrected`.
    correction = models.JSONField(null=True, blank=True)
    note = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(decision="corrected", correction__isnull=False)
                | (~Q(decision="corrected") & Q(correction__isnull=True)),
                name="review_correction_iff_corrected",
            )
        ]
        indexes = [models.Index(fields=["campaign", "decision"], name="review_by_decision")]


class Study(models.Model):
    """How people join a campaign run as a study: consent, survey, screening, qualification,
    completion. A campaign without one is joined as before (members, or public)."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="study")
    signup_open = models.BooleanField(
        default=False, help_text="Anyone may create an account on the study's sign-up page."
    )
    # The invitation link's secret; empty = no invitation link (revoked or never made).
    invitation_token = models.CharField(max_length=64, blank=True, db_index=True)
    # The query parameters of the study link (Prolific's by default).
    participant_param = models.CharField(max_length=40, default="PROLIFIC_PID")
    study_param = models.CharField(max_length=40, default="STUDY_ID")
    session_param = models.CharField(max_length=40, default="SESSION_ID")
    consent_text = models.TextField(blank=True, help_text="Markdown; empty = no consent step.")
    consent_version = models.PositiveIntegerField(default=0)
    # {"field": [allowed answers]}: survey answers a participant must give to take part.
    eligibility = models.JSONField(default=dict, blank=True)
    # {"instructions": markdown, "pass_mark": 0.8, "items": [{question, options, answer,
    #  explanation, attention_check}]}; no items = no qualification step.
    qualification = models.JSONField(default=dict, blank=True)
    # Real tasks per participant before the completion code (0 = until none is left).
    tasks_per_participant = models.PositiveIntegerField(default=0)
    completion_code = models.CharField(max_length=100, blank=True)
    completion_url = models.URLField(max_length=500, blank=True)
    # PRISM's guidance per conversation type, shown above tasks of that type (empty = the
    # default text of annotation.studies.guidance).
    guidance = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "studies"


class ConsentText(models.Model):
    """Every version of a campaign's consent text: a consent names the version it agreed to."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="consent_texts")
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "version"], name="consent_text_version")
        ]


class Participant(models.Model):
    """A person in a study: how they arrived, their consent, qualification and completion."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="participants")
    membership = models.OneToOneField(
        Membership, on_delete=models.CASCADE, related_name="participant"
    )
    # The crowd platform's id (PROLIFIC_PID); empty for sign-up and invitation arrivals.
    external_id = models.CharField(max_length=200, blank=True)
    external_study = models.CharField(max_length=200, blank=True)
    external_session = models.CharField(max_length=200, blank=True)
    consent_version = models.PositiveIntegerField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Eligibility and quotas were checked (once, after the survey).
    screened_at = models.DateTimeField(null=True, blank=True)
    # {"answers": {item index: choice}, "score": 0.9, "passed": true}
    qualification = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"],
                condition=~Q(external_id=""),
                name="participant_external_id_unique",
            )
        ]


class QuotaCell(models.Model):
    """A quota cell's running counts, moved by annotation.services.studies."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="quota_cells")
    key = models.CharField(max_length=300)  # "question=answer"
    # Participants admitted to the cell (quota admission) and tasks leased to them (steering).
    participants = models.PositiveIntegerField(default=0)
    leased = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "key"], name="quota_cell_unique")
        ]
