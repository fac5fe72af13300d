"""Kinds that judge one message at a time.

- binary (KTO / BCO-style unpaired feedback): thumbs up or down, optionally with a reason;
  a campaign may collect only negatives.
- label (OpenAssistant review): categorical flags (spam, PII, ...) and Likert labels (quality,
  humour, toxicity, ...) on one message.
- critique: a written critique, optionally pinpointing spans of the response.
- rewrite: the response edited into a better one; the edit becomes a sibling message authored
  by the annotator, with the diff and the edit distance kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from annotation.kinds.base import (
    RATIONALE,
    Agreement,
    DisputeRule,
    Kind,
    Scale,
    bad,
    choice,
    integer,
    names_unique,
    no_unknown,
    obj,
    rationale,
    settings_object,
    text,
    top_share,
)
from webapp.untrusted import form_int, visible_len

OASST_LABELS: list[dict[str, Any]] = [
    {"name": "spam", "type": "flag", "description": "Spam or not a real attempt"},
    {
        "name": "not_appropriate",
        "type": "flag",
        "description": "Not appropriate for a customer assistant",
    },
    {"name": "pii", "type": "flag", "description": "Contains personal identifiable information"},
    {"name": "hate_speech", "type": "flag", "description": "Hate speech"},
    {"name": "sexual_content", "type": "flag", "description": "Sexual content"},
    {"name": "quality", "type": "likert", "description": "Low quality ... high quality"},
    {"name": "creativity", "type": "likert", "description": "Ordinary ... creative"},
    {"name": "humor", "type": "likert", "description": "Serious ... funny"},
    {"name": "toxicity", "type": "likert", "description": "Polite ... rude"},
    {"name": "violence", "type": "likert", "description": "Harmless ... violent"},
    {"name": "helpfulness", "type": "likert", "description": "Unhelpful ... helpful"},
]
LIKERT_5 = ["1", "2", "3", "4", "5"]


def majority(answers: Sequence[Sequence[Any]], judgments: int) -> Agreement:
    """Agreement of labels: the lowest top share over the labels (a label answered fewer
    than twice counts as agreed); any label without a strict majority is disputed."""
    shares = [top_share(values) for values in answers if len(values) >= 2] or [1.0]
    worst = round(min(shares), 4)
    split = worst <= 0.5
    return Agreement(judgments, "top_share", worst, split, "no_majority" if split else "")


class _Single(Kind[Any]):
    candidates = (1, 1)

    def _one(self, candidate_ids: Sequence[int]) -> int:
        if len(candidate_ids) != 1:
            raise bad("This task judges exactly one message.", "payload")
        return candidate_ids[0]


# --- binary ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinarySettings:
    question: str = "Is this response good?"
    allow_positive: bool = True  # False: a negative-only campaign (flag the bad ones)
    reason: str = "optional"


class Binary(_Single):
    name = "binary"
    label = "Thumbs up or down"
    Settings = BinarySettings
    template = "annotation/kinds/_binary.html"

    def settings(self, raw: Mapping[str, Any] | None) -> BinarySettings:
        raw = settings_object(raw, set(BinarySettings.__dataclass_fields__))
        s = BinarySettings(**raw)
        if not isinstance(s.allow_positive, bool):
            raise bad("allow_positive must be true or false.", "settings.allow_positive")
        choice(s.reason, RATIONALE, "settings.reason")
        text(s.question, "settings.question", required=True, max_chars=300)
        return s

    def validate(
        self, payload: Any, *, settings: BinarySettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        self._one(candidate_ids)
        payload = obj(payload, "payload")
        no_unknown(payload, {"label", "reason"}, "payload")
        label = payload.get("label")
        if not isinstance(label, bool):
            raise bad("label must be true (good) or false (bad).", "payload.label")
        if label and not settings.allow_positive:
            raise bad("This campaign only collects negative feedback.", "payload.label")
        out: dict[str, Any] = {"label": label}
        if reason := rationale(payload.get("reason"), settings.reason, "payload.reason"):
            out["reason"] = reason
        return out

    def payload_from_form(
        self, data: Any, *, settings: BinarySettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        verdict = data.get("label", "")
        if verdict not in ("up", "down"):
            raise bad(gettext("Choose thumbs up or thumbs down."), "payload.label")
        payload: dict[str, Any] = {"label": verdict == "up"}
        if data.get("reason"):
            payload["reason"] = data["reason"]
        return payload

    def shortcuts(self, settings: BinarySettings) -> list[tuple[str, str]]:
        keys = [("D", _("Thumbs down"))]
        if settings.allow_positive:
            keys.insert(0, ("U", _("Thumbs up")))
        if settings.reason != "off":
            keys.append(("R", _("Write a reason")))
        return [*keys, *super().shortcuts(settings)]

    gold_keys = ("label",)

    def gold_score(self, payload: dict[str, Any], gold: Any) -> float | None:
        if not isinstance(gold, Mapping) or "label" not in gold:
            return None
        return 1.0 if payload["label"] == gold["label"] else 0.0

    def agreement(
        self,
        payloads: Sequence[Mapping[str, Any]],
        *,
        settings: BinarySettings,
        rule: DisputeRule,
    ) -> Agreement:
        """The share of the more common verdict; no strict majority is disputed."""
        return majority([[p.get("label") for p in payloads]], len(payloads))


# --- label ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSpec:
    name: str
    type: str = "flag"  # "flag" (yes/no) or "likert"
    description: str = ""
    scale: Scale | None = None


@dataclass(frozen=True)
class LabelSettings:
    question: str = "Label this message."
    labels: tuple[LabelSpec, ...] = ()


class Label(_Single):
    name = "label"
    label = "Labels"
    Settings = LabelSettings
    template = "annotation/kinds/_label.html"

    def settings(self, raw: Mapping[str, Any] | None) -> LabelSettings:
        raw = settings_object(raw, {"question", "labels"})
        labels = raw.get("labels", OASST_LABELS)
        if not isinstance(labels, list) or not labels:
            raise bad("labels must be a non-empty list.", "settings.labels")
        specs = []
        for i, item in enumerate(labels):
            f = f"settings.labels[{i}]"
            item = obj(item, f)
            no_unknown(item, {"name", "type", "description", "scale"}, f)
            kind = choice(item.get("type", "flag"), ("flag", "likert"), f"{f}.type")
            scale = None
            if kind == "likert":
                scale = Scale.parse(item.get("scale", {"points": LIKERT_5}), f"{f}.scale")
                if scale.type != "likert":
                    raise bad("A Likert label needs a Likert scale.", f"{f}.scale")
            elif item.get("scale") is not None:
                raise bad("A flag has no scale.", f"{f}.scale")
            specs.append(
                LabelSpec(
                    name=text(item.get("name"), f"{f}.name", required=True, max_chars=100),
                    type=kind,
                    description=text(item.get("description"), f"{f}.description"),
                    scale=scale,
                )
            )
        names_unique([s.name for s in specs], "settings.labels")
        question = text(
            raw.get("question", LabelSettings.question),
            "settings.question",
            required=True,
            max_chars=300,
        )
        return LabelSettings(question=question, labels=tuple(specs))

    def validate(
        self, payload: Any, *, settings: LabelSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        self._one(candidate_ids)
        payload = obj(payload, "payload")
        no_unknown(payload, {"labels"}, "payload")
        given = obj(payload.get("labels"), "payload.labels")
        no_unknown(given, {s.name for s in settings.labels}, "payload.labels")
        out: dict[str, Any] = {}
        for spec in settings.labels:
            f = f"payload.labels.{spec.name}"
            value = given.get(spec.name)
            if spec.type == "flag":
                value = False if value is None else value
                if not isinstance(value, bool):
                    raise bad(f"{spec.name} must be true or false.", f)
                out[spec.name] = value
            elif value is not None:  # a Likert label may be left unanswered
                assert spec.scale is not None
                out[spec.name] = spec.scale.value(value, f)
        return {"labels": out}

    def payload_from_form(
        self, data: Any, *, settings: LabelSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        labels: dict[str, Any] = {}
        for i, spec in enumerate(settings.labels):
            raw = data.get(f"label-{i}", "")
            if spec.type == "flag":
                labels[spec.name] = raw == "on"
            elif raw:
                # Not a whole number: the text itself, which validate() refuses by name.
                value = form_int(raw, signed=True)
                labels[spec.name] = raw if value is None else value
        return {"labels": labels}

    def shortcuts(self, settings: LabelSettings) -> list[tuple[str, str]]:
        keys = [("Tab", _("Next label")), ("Space", _("Toggle a flag"))]
        if any(spec.scale is not None for spec in settings.labels):
            keys.append(("← / →", _("Move along a scale")))
            keys.append(("1 – 9", _("Pick a point on the focused scale")))
        return [*keys, *super().shortcuts(settings)]

    def agreement(
        self,
        payloads: Sequence[Mapping[str, Any]],
        *,
        settings: LabelSettings,
        rule: DisputeRule,
    ) -> Agreement:
        """Per label, the share of its most common answer among those who answered it (a
        Likert label may be left unanswered); a label without a strict majority is disputed."""
        return majority(
            [
                [
                    v
                    for p in payloads
                    if (v := dict(p.get("labels") or {}).get(spec.name)) is not None
                ]
                for spec in settings.labels
            ],
            len(payloads),
        )


# --- critique -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CritiqueSettings:
    question: str = "What is wrong with this response, and what is right?"
    min_chars: int = 20
    spans: bool = True  # may the annotator pinpoint spans of the response?


class Critique(_Single):
    name = "critique"
    label = "Critique"
    Settings = CritiqueSettings
    template = "annotation/kinds/_critique.html"

    def settings(self, raw: Mapping[str, Any] | None) -> CritiqueSettings:
        raw = settings_object(raw, set(CritiqueSettings.__dataclass_fields__))
        s = CritiqueSettings(**raw)
        integer(s.min_chars, "settings.min_chars", lo=0, hi=5000)
        if not isinstance(s.spans, bool):
            raise bad("spans must be true or false.", "settings.spans")
        return s

    def validate(
        self, payload: Any, *, settings: CritiqueSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        self._one(candidate_ids)
        payload = obj(payload, "payload")
        no_unknown(payload, {"text", "spans"}, "payload")
        critique = text(payload.get("text"), "payload.text", required=True)
        if visible_len(critique) < settings.min_chars:
            raise bad(
                gettext("Please write at least %(n)d characters.") % {"n": settings.min_chars},
                "payload.text",
            )
        out: dict[str, Any] = {"text": critique}
        spans = payload.get("spans") or []
        if spans and not settings.spans:
            raise bad("This campaign does not mark spans.", "payload.spans")
        if not isinstance(spans, list):
            raise bad("spans must be a list.", "payload.spans")
        clean = []
        for i, span in enumerate(spans):
            f = f"payload.spans[{i}]"
            span = obj(span, f)
            no_unknown(span, {"start", "end", "note"}, f)
            start = integer(span.get("start"), f"{f}.start", lo=0, hi=10**7)
            end = integer(span.get("end"), f"{f}.end", lo=start + 1, hi=10**7)
            clean.append(
                {
                    "start": start,
                    "end": end,
                    "note": text(span.get("note"), f"{f}.note", max_chars=2000),
                }
            )
        if clean:
            out["spans"] = clean
        return out

    def payload_from_form(
        self, data: Any, *, settings: CritiqueSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": data.get("text", "")}
        spans = []
        for start, end, note in zip(
            data.getlist("span_start"),
            data.getlist("span_end"),
            data.getlist("span_note"),
            strict=False,
        ):
            if not start and not end:
                continue
            # Not a whole number: the text itself, which validate() refuses naming the span.
            first, last = form_int(start), form_int(end)
            spans.append(
                {
                    "start": start if first is None else first,
                    "end": end if last is None else last,
                    "note": note,
                }
            )
        if spans:
            payload["spans"] = spans
        return payload

    def shortcuts(self, settings: CritiqueSettings) -> list[tuple[str, str]]:
        keys = [("C", _("Write the critique"))]
        if settings.spans:
            keys.append(("M", _("Mark the selected text")))
        return [*keys, *super().shortcuts(settings)]


# --- rewrite --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewriteSettings:
    question: str = "Edit the response into a better one."
    reason: str = "optional"


class Rewrite(_Single):
    name = "rewrite"
    label = "Rewrite"
    Settings = RewriteSettings
    template = "annotation/kinds/_rewrite.html"

    def settings(self, raw: Mapping[str, Any] | None) -> RewriteSettings:
        raw = settings_object(raw, set(RewriteSettings.__dataclass_fields__))
        s = RewriteSettings(**raw)
        choice(s.reason, RATIONALE, "settings.reason")
        return s

    def validate(
        self, payload: Any, *, settings: RewriteSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        self._one(candidate_ids)
        payload = obj(payload, "payload")
        no_unknown(payload, {"text", "reason"}, "payload")
        out: dict[str, Any] = {"text": text(payload.get("text"), "payload.text", required=True)}
        if reason := rationale(payload.get("reason"), settings.reason, "payload.reason"):
            out["reason"] = reason
        return out

    def payload_from_form(
        self, data: Any, *, settings: RewriteSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": data.get("text", "")}
        if data.get("reason"):
            payload["reason"] = data["reason"]
        return payload

    def shortcuts(self, settings: RewriteSettings) -> list[tuple[str, str]]:
        return [
            ("E", _("Edit the response")),
            *super().shortcuts(settings),
        ]
