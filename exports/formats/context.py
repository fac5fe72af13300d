"""One export as the formats see it: the campaign, the options, and the filters that every
format reads through (people who withdrew consent, flagged annotators, gold and repeated tasks,
rounds, the review stage), the campaign-scoped pseudonyms and the models; and `Batch`, a page of
judgments with the messages they judge.

The filters live here once for every format, so that no format can leave one out.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import QuerySet
from django.utils.crypto import salted_hmac

from annotation.kinds import kind_for
from annotation.kinds.trees import KIND_NAMES as TREE_KINDS
from annotation.models import (
    Attachment,
    Campaign,
    Conversation,
    Judgment,
    JudgmentReview,
    Membership,
    Profile,
    Task,
    User,
)
from annotation.selectors import judgments as judgment_selectors
from generation.models import LanguageModel

from ..options import ExportOptions
from .pages import _fetch, _in_ids, _judgments, _Page, _pages, _tasks
from .rows import _J_OWN, _J_OWN_FULL, _T_FIELDS, _T_FULL, J, M
from .text import TextLayout, text_layout


def consent_withdrawn_users(*, campaign: Campaign) -> QuerySet[User]:
    """People who withdrew consent from the campaign: absent from every export, whatever the
    options say.

    Every format reads judgments, profiles and authored messages through ExportContext, which
    asks this function: the rule every statistic and page of Agora follows too
    (annotation.selectors.judgments).
    """
    return judgment_selectors.people_withdrawn(campaign=campaign)


def annotator_pseudonym(*, campaign_id: int, user_pseudonym: str) -> str:
    """A person's id in one campaign's exports: stable across exports of that campaign, different
    in every other campaign, and not reversible without SECRET_KEY (so not a database id or a
    login, and two campaigns' exports cannot be joined on it)."""
    digest = salted_hmac(
        "agora.exports.annotator", f"{campaign_id}:{user_pseudonym}", algorithm="sha256"
    )
    return "u" + digest.hexdigest()[:16]


def prompts_have_images(*, campaign: Campaign) -> bool:
    """Whether any message of the campaign carries an image (an imported prompt's, or one an
    annotator wrote with a picture): the preference and kto exports then have `images`."""
    return Attachment.objects.filter(
        message__conversation__campaign=campaign, kind=Attachment.Kind.IMAGE
    ).exists()


REVIEW_EXPORTED = (JudgmentReview.Decision.ACCEPTED, JudgmentReview.Decision.CORRECTED)


class ModelInfo(NamedTuple):
    name: str
    provider: str  # the model's `settings.provider` if given, else its backend


class ExportContext:
    """One export: the campaign, the options, and what is worth loading once."""

    def __init__(
        self,
        campaign: Campaign,
        options: ExportOptions,
        *,
        progress: Callable[[int], None] | None = None,
    ):
        self.campaign = campaign
        self.options = options
        self.batch_size: int = settings.AGORA_EXPORT_BATCH_SIZE
        self.withdrawn: frozenset[int] = frozenset(
            consent_withdrawn_users(campaign=campaign).values_list("id", flat=True)
        )
        self._progress = progress
        # The container the rows are written to (set by Table.rows_for): JSON Lines holds
        # an image as a data URL, the others as bytes.
        self.container: str | None = None
        self._pseudonyms: dict[int, str] = {}
        self._profile_versions: dict[int | None, int | None] = {None: None}
        self._models: dict[int, ModelInfo] | None = None
        self._text_layout: TextLayout | None = None

    @property
    def text_layout(self) -> TextLayout:
        """How the `text` variant writes conversations (exports/formats/text.py): the named
        model's chat template, or the plain layout. Only for exports with `text`."""
        if self._text_layout is None:
            layout = text_layout(self.options)
            if layout is None:
                raise ValueError("text_layout is for exports with the text option")
            self._text_layout = layout
        return self._text_layout

    # --- people -------------------------------------------------------------------------

    def pseudonyms_load(self, user_ids: Iterable[int]) -> None:
        missing = {u for u in user_ids if u not in self._pseudonyms}
        if missing:
            for uid, pseudonym in User.objects.filter(id__in=missing).values_list(
                "id", "pseudonym"
            ):
                self._pseudonyms[uid] = annotator_pseudonym(
                    campaign_id=self.campaign.id, user_pseudonym=pseudonym
                )

    def profile_versions(self, rows: list[tuple[Any, ...]]) -> dict[int | None, int | None]:
        """Profile id -> version, for the raw judgment rows of a page (profiles are few:
        a dict reads faster than a join per row)."""
        versions = self._profile_versions
        missing = {r[5] for r in rows} - versions.keys()
        if missing:
            versions.update(Profile.objects.filter(id__in=missing).values_list("id", "version"))
        return versions

    @property
    def pseudonyms(self) -> Mapping[int, str]:
        """User id -> campaign-scoped pseudonym, for the ids loaded (see person)."""
        return self._pseudonyms

    def person(self, user_id: int | None) -> str | None:
        """The campaign-scoped pseudonym of a user id (call pseudonyms_load first)."""
        if user_id is None:
            return None
        return self._pseudonyms[user_id]

    # --- models -------------------------------------------------------------------------

    @property
    def models(self) -> dict[int, ModelInfo]:
        if self._models is None:
            self._models = {
                mid: ModelInfo(name, str((cfg or {}).get("provider") or backend))
                for mid, name, backend, cfg in LanguageModel.objects.values_list(
                    "id", "name", "backend", "settings"
                )
            }
        return self._models

    def model_name(self, model_id: int | None) -> str | None:
        return None if model_id is None else self.models[model_id].name

    # --- the campaign's kind settings ----------------------------------------------------

    def kind_settings(self, kind: str) -> Any:
        """The campaign's checked settings of this kind (None for a campaign of another kind;
        a tree campaign has the settings of every kind its trees make, and no others)."""
        raw = self.campaign.settings
        if self.campaign.task_kind != kind:
            if not self.campaign.tree or kind not in TREE_KINDS:
                return None
            raw = dict(self.campaign.tree.get("kinds") or {}).get(kind, {})
        # Through JSON: a campaign just created holds tuples where the database gives lists.
        raw = json.loads(json.dumps(raw))
        return kind_for(kind).settings(raw)

    def makes_any(self, kinds: Iterable[str]) -> bool:
        """Whether the campaign has, or will have, tasks of any of these kinds: its own kind,
        the kinds its trees make, or (a campaign whose trees were turned on or off since) the
        kinds of the tasks it already has."""
        kinds = set(kinds)
        made = {self.campaign.task_kind, *(TREE_KINDS if self.campaign.tree else ())}
        if made & kinds:
            return True
        return Task.objects.filter(campaign=self.campaign, kind__in=sorted(kinds)).exists()

    def kinds_made(self) -> list[str]:
        """The kinds of task the campaign makes, for messages."""
        made = {self.campaign.task_kind, *(TREE_KINDS if self.campaign.tree else ())}
        made |= set(
            Task.objects.filter(campaign=self.campaign)
            .order_by()
            .values_list("kind", flat=True)
            .distinct()
        )
        return [k for k in Campaign.Kind.values if k in made]

    # --- progress -----------------------------------------------------------------------

    def advance(self, n: int) -> None:
        if self._progress is not None and n:
            self._progress(n)

    # --- judgments ----------------------------------------------------------------------

    def _wanted(self, kinds: Sequence[str]) -> list[str]:
        return [k for k in kinds if not self.options.kinds or k in self.options.kinds]

    def tasks(self, kinds: Sequence[str]) -> QuerySet[Task]:
        """The campaign's tasks this export may read judgments of."""
        o = self.options
        qs = Task.objects.filter(campaign=self.campaign, kind__in=self._wanted(kinds))
        if not o.include_gold:
            qs = qs.filter(gold__isnull=True)
        if not o.include_repeats:
            qs = qs.filter(repeat_of__isnull=True)
        if o.round is not None:
            qs = qs.filter(round=o.round)
        return qs

    def _own_judgments(self, kinds: Sequence[str]) -> QuerySet[Judgment]:
        """The filters on judgments themselves (tasks are filtered by `tasks`)."""
        o = self.options
        qs = judgment_selectors.judgments_counted(
            campaign=self.campaign, withdrawn=self.withdrawn
        ).filter(kind__in=self._wanted(kinds))
        if not o.include_gold:
            qs = qs.filter(gold_score__isnull=True)
        if o.since:
            qs = qs.filter(created_at__gte=o.since)
        if o.until:
            qs = qs.filter(created_at__lt=o.until)
        if not o.include_flagged:
            # The people held out are few: a list reads faster than a subquery per row.
            flagged = Membership.objects.filter(campaign=self.campaign, is_flagged=True)
            held_out = sorted(flagged.values_list("user_id", flat=True))
            if held_out:
                qs = qs.exclude(annotator_id__in=held_out)
        if self.campaign.review_stage:
            # Only what a reviewer accepted or corrected leaves a campaign with a review stage.
            qs = qs.filter(review__decision__in=REVIEW_EXPORTED)
        return qs

    def reviewed(self, judgments: list[J]) -> list[J]:
        """With a review stage: each judgment with its review, the correction as payload."""
        if not self.campaign.review_stage or not judgments:
            return judgments
        reviews = {
            jid: (decision, correction, reviewer_id)
            for jid, decision, correction, reviewer_id in JudgmentReview.objects.filter(
                judgment_id__in=[j.id for j in judgments]
            ).values_list("judgment_id", "decision", "correction", "reviewer_id")
        }
        self.pseudonyms_load({r[2] for r in reviews.values()})
        out = []
        for j in judgments:
            decision, correction, reviewer_id = reviews[j.id]
            review = {
                "decision": decision,
                "reviewer": self.person(reviewer_id),
                "original_payload": j.payload if correction is not None else None,
            }
            payload = j.payload if correction is None else correction
            out.append(j._replace(payload=payload, review=review))
        return out

    def judgments(self, kinds: Sequence[str]) -> QuerySet[Judgment]:
        """The campaign's judgments that this export may read, of the kinds the format reads."""
        return self._own_judgments(kinds).filter(task__in=self.tasks(kinds))

    def judgments_count(self, kinds: Sequence[str]) -> int:
        return self.judgments(kinds).count()

    def batches_by_task(self, kinds: Sequence[str], *, full: bool = False) -> Iterator[Batch]:
        """Every judgment of whole tasks at a time, by task then judgment id."""
        own = self._own_judgments(kinds)
        tasks = self.tasks(kinds).order_by("id")
        t_fields, j_fields = (_T_FULL, _J_OWN_FULL) if full else (_T_FIELDS, _J_OWN)
        batch_size = self.batch_size

        def pages() -> Iterator[_Page]:
            last = 0
            while page := _fetch(tasks.filter(id__gt=last)[:batch_size], t_fields):
                first, last = last, page[-1][0]
                rows = own.filter(task_id__gt=first, task_id__lte=last).order_by("task_id", "id")
                raw = _fetch(rows, j_fields)
                versions = self.profile_versions(raw)
                judgments = self.reviewed(_judgments(raw, _tasks(page, full), versions, full))
                yield _Page.load(judgments, {j.conversation_id for j in judgments}, full)

        for page in _pages(pages()):
            if page.judgments:
                yield Batch(self, page)
            self.advance(len(page.judgments))

    def batches_by_conversation(
        self, kinds: Sequence[str], *, full: bool = False
    ) -> Iterator[Batch]:
        """Every conversation of the campaign, a page at a time, with every judgment of its
        tasks (by conversation, task, judgment); progress counts conversations."""
        own = self._own_judgments(kinds)
        tasks = self.tasks(kinds)
        conversations = Conversation.objects.filter(campaign=self.campaign).order_by("id")
        t_fields, j_fields = (_T_FULL, _J_OWN_FULL) if full else (_T_FIELDS, _J_OWN)
        batch_size = self.batch_size

        def pages() -> Iterator[_Page]:
            last = 0
            while ids := list(
                conversations.filter(id__gt=last).values_list("id", flat=True)[:batch_size]
            ):
                first, last = last, ids[-1]
                task_rows = _fetch(
                    tasks.filter(conversation_id__gt=first, conversation_id__lte=last), t_fields
                )
                judgments: list[J] = []
                if task_rows:
                    rows, _ = _in_ids(own, "task_id", sorted(r[0] for r in task_rows))
                    raw = _fetch(rows, j_fields)
                    versions = self.profile_versions(raw)
                    judgments = self.reviewed(
                        _judgments(raw, _tasks(task_rows, full), versions, full)
                    )
                    judgments.sort(key=lambda j: (j.conversation_id, j.task_id, j.id))
                yield _Page.load(judgments, ids, full)

        for page in _pages(pages()):
            yield Batch(self, page)
            self.advance(len(page.conversation_ids))


class Batch:
    """A batch of judgments and every message of their conversations."""

    def __init__(self, ctx: ExportContext, page: _Page):
        self.ctx = ctx
        self.judgments = page.judgments
        self.conversation_ids = page.conversation_ids
        self.messages = page.messages
        self.conversations = page.conversations
        ctx.pseudonyms_load({j.annotator_id for j in self.judgments})
        ctx.pseudonyms_load({m.author_id for m in self.messages.values() if m.author_id})
        self._paths: dict[int | None, list[M]] = {None: []}
        self._chats: dict[int | None, list[dict[str, str]]] = {}
        self._replies: dict[int, list[dict[str, str]]] = {}
        self._attachments: dict[int, list[Attachment]] | None = None
        self._images: dict[int | None, list[dict[str, Any]]] = {None: []}

    def path(self, message_id: int | None) -> list[M]:
        """The messages from the root to this one (cached: a batch's tasks share parents)."""
        path = self._paths.get(message_id)
        if path is None:
            assert message_id is not None
            m = self.messages[message_id]
            path = [*self.path(m.parent_id), m]
            self._paths[message_id] = path
        return path

    def chat(self, message_id: int | None) -> list[dict[str, str]]:
        """The path as TRL's conversational messages; one shared list per message."""
        chat = self._chats.get(message_id)
        if chat is None:
            chat = [{"role": m.role, "content": m.text} for m in self.path(message_id)]
            self._chats[message_id] = chat
        return chat

    def image_attachments(self) -> dict[int, list[Attachment]]:
        """Message id -> its images, in order: one query for the whole batch, on first use."""
        if self._attachments is None:
            self._attachments = {}
            files = Attachment.objects.filter(
                message__conversation_id__in=self.conversation_ids, kind=Attachment.Kind.IMAGE
            ).order_by("message_id", "position", "id")
            for a in files:
                self._attachments.setdefault(a.message_id, []).append(a)
        return self._attachments

    def images(self, message_id: int | None) -> list[dict[str, Any]]:
        """The images of the path to this message (a prompt's, in the order of its messages)
        as `datasets.Image` values: `{bytes, path}` with the file's name, or in JSON Lines,
        which hold no bytes, `{bytes: null, path: "data:<type>;base64,..."}`, a data URL that
        `datasets` opens through fsspec. One shared list per message."""
        images = self._images.get(message_id)
        if images is None:
            assert message_id is not None
            m = self.messages[message_id]
            own = [self._image(a) for a in self.image_attachments().get(m.id, [])]
            images = [*self.images(m.parent_id), *own]
            self._images[message_id] = images
        return images

    def _image(self, a: Attachment) -> dict[str, Any]:
        with a.file.open("rb") as f:
            data = f.read()
        if self.ctx.container == "jsonl":
            url = f"data:{a.content_type};base64,{base64.b64encode(data).decode()}"
            return {"bytes": None, "path": url}
        return {"bytes": data, "path": a.file.name.rsplit("/", 1)[-1]}

    def external_id(self, conversation_id: int) -> str | None:
        return self.conversations[conversation_id].external_id or None

    def reply(self, message_id: int) -> list[dict[str, str]]:
        """One message as a one-message conversation (TRL's chosen / rejected / completion);
        one shared list per message."""
        reply = self._replies.get(message_id)
        if reply is None:
            m = self.messages[message_id]
            reply = [{"role": m.role, "content": m.text}]
            self._replies[message_id] = reply
        return reply

    def withdrawn(self, *message_ids: int | None) -> bool:
        """Whether any of these messages, or their context, was written by someone who
        withdrew consent."""
        if not self.ctx.withdrawn:
            return False
        return any(m.author_id in self.ctx.withdrawn for mid in message_ids for m in self.path(mid))
