"""reply (OpenAssistant): write the next message of the conversation, as the prompter (user)
or as the assistant. The reply becomes a child of the task's last message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from annotation.kinds.base import Kind, bad, choice, integer, no_unknown, obj, settings_object, text
from webapp.untrusted import visible_len


@dataclass(frozen=True)
class ReplySettings:
    question: str = "Write the next message."
    role: str = "assistant"  # the role the annotator writes as: "assistant" or "user"
    min_chars: int = 1


class Reply(Kind[ReplySettings]):
    name = "reply"
    label = "Reply"
    Settings = ReplySettings
    candidates = (0, 0)
    template = "annotation/kinds/_reply.html"

    def settings(self, raw: Mapping[str, Any] | None) -> ReplySettings:
        raw = settings_object(raw, set(ReplySettings.__dataclass_fields__))
        s = ReplySettings(**raw)
        choice(s.role, ("assistant", "user"), "settings.role")
        integer(s.min_chars, "settings.min_chars", lo=1, hi=5000)
        return s

    def validate(
        self, payload: Any, *, settings: ReplySettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        payload = obj(payload, "payload")
        no_unknown(payload, {"text"}, "payload")
        reply = text(payload.get("text"), "payload.text", required=True)
        if visible_len(reply) < settings.min_chars:
            raise bad(
                gettext("Please write at least %(n)d characters.") % {"n": settings.min_chars},
                "payload.text",
            )
        return {"text": reply, "role": settings.role}

    def payload_from_form(
        self, data: Any, *, settings: ReplySettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        return {"text": data.get("text", "")}

    def shortcuts(self, settings: ReplySettings) -> list[tuple[str, str]]:
        return [
            ("W", _("Write the reply")),
            *super().shortcuts(settings),
        ]

    def task_groups(self, candidates: Sequence[Any]) -> list[list[Any]]:
        return [[]]
