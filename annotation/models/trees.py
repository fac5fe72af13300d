"""Message trees (conversations of messages, with their attachments) and the tasks that judge
a set of sibling messages."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from annotation.models.campaigns import Campaign

USER_MODEL = settings.AUTH_USER_MODEL


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
            # "Fewest judgments first" counts the leases out (db.task_pick), in the order of
            # its ORDER BY, so a pick reads the head of this index without a sort.
            models.Index(
                "campaign",
                F("judgments_count") + F("leased_count"),
                "id",
                condition=Q(state="open"),
                name="task_open_by_load",
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
