"""Campaigns and who belongs to them (memberships, with the lease a member holds)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models.accounts import User

# Named once: a Campaign field is called `settings`, which would shadow django.conf.settings.
USER_MODEL = settings.AUTH_USER_MODEL


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
    # Adjudication driven by disagreement: when an item is disputed and goes to the
    # reviewers' adjudication queue (kinds.base.DisputeRule; services.adjudication).
    adjudication = models.JSONField(default=dict, blank=True)
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
