"""Shapes of the annotation API. Serializers validate and describe; they never save."""

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from annotation.models import JudgmentReview


class CampaignOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    task_kind = serializers.CharField()
    state = serializers.CharField()
    instructions = serializers.CharField(help_text="Markdown.")
    settings = serializers.DictField(help_text="Settings of the task kind.")


class CampaignStateIn(serializers.Serializer):
    state = serializers.ChoiceField(choices=["open", "paused", "closed"])


class AttachmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="image, audio or video")
    content_type = serializers.CharField()
    url = serializers.CharField(help_text="Served to those who may see the campaign's tasks.")


class MessageOut(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField()
    text = serializers.CharField()


class ContextMessageOut(MessageOut):
    attachments = AttachmentOut(many=True, help_text="Files the message carries (images...).")


class CandidateOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="Message id; judgments name candidates by this id.")
    label = serializers.CharField(help_text="A, B, ... in display order.")  # type: ignore[assignment]  # a field, not Field.label
    text = serializers.CharField()


class TaskOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    campaign = serializers.IntegerField(source="campaign_id")
    context = ContextMessageOut(  # type: ignore[assignment]  # a field, not Serializer.context
        many=True, help_text="The conversation from its root to the prompt."
    )
    reference = serializers.DictField(
        allow_null=True,
        help_text="Facts for the judgment the prompt came with: caption, answer, documents.",
    )
    candidates = CandidateOut(many=True, help_text="In the order to show them, first = left.")
    settings = serializers.DictField()


class AssignmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    leased_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class NextOut(serializers.Serializer):
    assignment = AssignmentOut()
    task = TaskOut()


class PairwisePayload(serializers.Serializer):
    """A pairwise judgment. It names messages, not screen positions."""

    outcome = serializers.ChoiceField(choices=["preferred", "tie", "both_bad"])
    preferred = serializers.IntegerField(
        required=False, help_text="The id of the better candidate, when outcome is preferred."
    )
    strength = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="1 = slightly better ... up to the campaign's strength_levels (2 or 3).",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class RankingPayload(serializers.Serializer):
    """Candidates best first; a list in place of an id holds tied candidates."""

    ranking = serializers.ListField(child=serializers.JSONField(), help_text="[812, [815, 813]]")
    reason = serializers.CharField(required=False)


class RatingFollowup(serializers.Serializer):
    chosen = serializers.IntegerField(help_text="The highest-scored candidate.")
    scores = serializers.DictField(child=serializers.FloatField(), required=False)
    feedback = serializers.CharField(required=False)


class RatingPayload(serializers.Serializer):
    """Scores per candidate (message id as the key) and attribute, on each attribute's scale."""

    ratings = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField()),
        help_text='{"812": {"helpfulness": 4, "correctness": 3}}',
    )
    rationales = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField()), required=False
    )
    followup = RatingFollowup(required=False)


class BinaryPayload(serializers.Serializer):
    label = serializers.BooleanField(help_text="true = good, false = bad.")  # type: ignore[assignment]  # a field, not Field.label
    reason = serializers.CharField(required=False)


class LabelPayload(serializers.Serializer):
    labels = serializers.DictField(
        child=serializers.JSONField(), help_text='{"spam": false, "quality": 4}'
    )


class Span(serializers.Serializer):
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    note = serializers.CharField(required=False)


class CritiquePayload(serializers.Serializer):
    text = serializers.CharField()
    spans = Span(many=True, required=False, help_text="Character offsets into the response.")


class TextPayload(serializers.Serializer):
    """rewrite (the edited response) and reply (the next message)."""

    text = serializers.CharField()
    reason = serializers.CharField(required=False)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="Payload",
        serializers=[
            PairwisePayload,
            RankingPayload,
            RatingPayload,
            BinaryPayload,
            LabelPayload,
            CritiquePayload,
            TextPayload,
        ],
        resource_type_field_name=None,
    )
)
class PayloadField(serializers.JSONField):
    """Kind-specific; checked against the campaign's settings by annotation.kinds."""


class JudgmentIn(serializers.Serializer):
    payload = PayloadField()
    idempotency_key = serializers.CharField(
        max_length=100, help_text="Any unique string per task; a repeat returns the same judgment."
    )
    seconds_spent = serializers.FloatField(required=False, allow_null=True, min_value=0)
    images = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="A reply written as the user (a prompt): images it carries, as base64 or data "
        "URLs (PNG, JPEG, GIF, WebP; each at most AGORA_ATTACHMENT_MAX_BYTES).",
    )


class JudgmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    assignment = serializers.IntegerField(source="assignment_id")
    task = serializers.IntegerField(source="task_id")
    kind = serializers.CharField()
    payload = PayloadField()
    seconds_spent = serializers.FloatField(allow_null=True)
    idempotency_key = serializers.CharField()
    created_at = serializers.DateTimeField()


class SkipIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class PromptImportIn(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="A .jsonl or .csv file.")
    format = serializers.ChoiceField(
        choices=["jsonl", "csv"], required=False, help_text="Guessed from the file name if absent."
    )
    prompts = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="Instead of a file: the JSONL lines as a JSON list.",
    )

    def validate(self, attrs):
        if bool(attrs.get("file")) == bool(attrs.get("prompts")):
            raise serializers.ValidationError("Send either a file or a prompts list.")
        return attrs


class ImportLineOut(serializers.Serializer):
    line = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "error"])
    message = serializers.CharField(required=False)
    conversation_id = serializers.IntegerField(required=False)
    responses = serializers.IntegerField(required=False)


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class ImportReportOut(serializers.Serializer):
    ok = serializers.BooleanField()
    conversations_created = serializers.IntegerField()
    tasks_created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]  # a field, not .errors
    lines = ImportLineOut(many=True)


class MembersIn(serializers.Serializer):
    people = serializers.ListField(
        child=serializers.CharField(max_length=200, allow_blank=True),
        min_length=1,
        max_length=2000,
        help_text="Usernames, one per item (a blank item is skipped).",
    )
    role = serializers.ChoiceField(
        choices=["annotator", "reviewer", "admin"], default="annotator", help_text="For all."
    )
    create = serializers.BooleanField(  # type: ignore[assignment]  # a field, not .create
        default=False,
        help_text="Make an account of each name that is none, with a personal invite link "
        "(invite_url: signed, valid 14 days, used once) to set its password; without it, "
        "such a name is reported as unknown and the others are added.",
    )


class MemberLineOut(serializers.Serializer):
    line = serializers.IntegerField(help_text="1 for the first item.")
    username = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["added", "already", "created", "unknown", "invalid", "duplicate"]
    )
    message = serializers.CharField()
    invite_url = serializers.CharField(
        allow_null=True,
        help_text="For an account that has yet to set its password: send it to that person.",
    )


class MembersReportOut(serializers.Serializer):
    added = serializers.IntegerField(help_text="People who are members now and were not.")
    summary = serializers.CharField()
    lines = MemberLineOut(many=True)


class GoldIn(serializers.Serializer):
    gold = serializers.JSONField(
        allow_null=True,
        help_text="The task's right answer in its message ids, as the kind's payload gives it: "
        'pairwise {"outcome": "preferred", "preferred": 12} or {"outcome": "tie"}, ranking '
        '{"ranking": [13, 12]}, binary {"label": true}; null clears it.',
    )


class GoldOut(serializers.Serializer):
    task = serializers.IntegerField()
    gold = serializers.JSONField(allow_null=True)


class TokenIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="What the token is for."
    )


class TokenOut(serializers.Serializer):
    token = serializers.CharField(help_text="The key: shown once, stored only as a hash.")
    id = serializers.IntegerField()
    prefix = serializers.CharField(help_text="The key's first 8 characters, to tell keys apart.")


# Every error answer of the API, for the schema (the handler is annotation.api.errors).
ERROR = OpenApiResponse(
    description='{"detail": "what went wrong", "code": "...", "field": "payload.outcome"}'
)


class ReviewCandidateOut(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    text = serializers.CharField()


class ReviewJudgmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    payload = serializers.DictField(help_text="The annotator's payload, names messages by id.")
    task = serializers.IntegerField()
    context = MessageOut(many=True)  # type: ignore[assignment]  # a field, not .context
    candidates = ReviewCandidateOut(many=True, help_text="In the order the annotator saw them.")
    pending = serializers.IntegerField(help_text="Judgments still waiting for review.")


class ReviewIn(serializers.Serializer):
    decision = serializers.ChoiceField(choices=JudgmentReview.Decision.values)
    correction = serializers.JSONField(
        required=False, help_text="The corrected payload (only with decision=corrected)."
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class ReviewOut(serializers.Serializer):
    id = serializers.IntegerField()
    judgment = serializers.IntegerField(source="judgment_id")
    decision = serializers.CharField()
    correction = serializers.JSONField(allow_null=True)
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
