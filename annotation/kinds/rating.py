"""rating (HelpSteer 0-4 per attribute, UltraFeedback 1-5 with a rationale, PRISM 1-100): each
candidate scored on one or more attributes, each on its own scale. PRISM's combined screen:
after scoring every candidate, fine-grained attributes and open feedback on the chosen one
(`followup`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from annotation.kinds.base import (
    Agreement,
    Attribute,
    DisputeRule,
    Kind,
    bad,
    integer,
    obj,
    rationale,
    settings_object,
    text,
)
from webapp.untrusted import form_int, form_number


@dataclass(frozen=True)
class Followup:
    """What the chosen (highest-scored) candidate is asked about after the scores."""

    attributes: tuple[Attribute, ...] = ()
    feedback: str = "off"  # open feedback: "off", "optional" or "required"


@dataclass(frozen=True)
class RatingSettings:
    question: str = "Rate each response."
    attributes: tuple[Attribute, ...] = ()
    followup: Followup | None = None
    max_candidates: int = 9


class Rating(Kind[RatingSettings]):
    name = "rating"
    label = "Rating"
    Settings = RatingSettings
    candidates = (1, None)
    template = "annotation/kinds/_rating.html"

    def settings(self, raw: Mapping[str, Any] | None) -> RatingSettings:
        raw = settings_object(raw, set(RatingSettings.__dataclass_fields__))
        attributes = Attribute.parse_list(
            raw.get("attributes"), "settings.attributes", required=True
        )
        followup = None
        if raw.get("followup"):
            f = obj(raw["followup"], "settings.followup")
            unknown = sorted(set(f) - {"attributes", "feedback"})
            if unknown:
                raise bad(f"Unknown field {unknown[0]}.", f"settings.followup.{unknown[0]}")
            followup = Followup(
                attributes=Attribute.parse_list(
                    f.get("attributes"), "settings.followup.attributes", required=False
                ),
                feedback=f.get("feedback", "off"),
            )
            if followup.feedback not in ("off", "optional", "required"):
                raise bad(
                    "feedback must be off, optional or required.", "settings.followup.feedback"
                )
            if not followup.attributes and followup.feedback == "off":
                raise bad("A followup asks for attributes or feedback.", "settings.followup")
        return RatingSettings(
            question=text(
                raw.get("question", RatingSettings.question),
                "settings.question",
                required=True,
                max_chars=300,
            ),
            attributes=attributes,
            followup=followup,
            max_candidates=integer(
                raw.get("max_candidates", RatingSettings.max_candidates),
                "settings.max_candidates",
                lo=1,
                hi=26,
            ),
        )

    @staticmethod
    def _scores(given: Any, attributes: Sequence[Attribute], field: str) -> dict[str, Any]:
        given = obj(given, field)
        unknown = sorted(set(given) - {a.name for a in attributes})
        if unknown:
            raise bad(f"Unknown attribute {unknown[0]}.", f"{field}.{unknown[0]}")
        scores: dict[str, Any] = {}
        for a in attributes:
            if a.name not in given:
                raise bad(gettext("Please rate %(name)s.") % {"name": a.name}, f"{field}.{a.name}")
            scores[a.name] = a.scale.value(given[a.name], f"{field}.{a.name}")
        return scores

    def validate(
        self, payload: Any, *, settings: RatingSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        payload = obj(payload, "payload")
        unknown = sorted(set(payload) - {"ratings", "rationales", "followup"})
        if unknown:
            raise bad(f"Unknown field {unknown[0]}.", f"payload.{unknown[0]}")
        ratings = obj(payload.get("ratings"), "payload.ratings")
        rationales = obj(payload.get("rationales") or {}, "payload.rationales")
        out: dict[str, Any] = {"ratings": {}, "rationales": {}}
        expected = {str(c) for c in candidate_ids}
        for key in sorted(set(ratings) | set(rationales)):
            if key not in expected:
                raise bad(
                    f"Message {key} is not a candidate of this task.", f"payload.ratings.{key}"
                )
        for c in candidate_ids:
            key = str(c)
            if key not in ratings:
                raise bad(
                    gettext("Please rate response %(key)s.") % {"key": key},
                    f"payload.ratings.{key}",
                )
            out["ratings"][key] = self._scores(
                ratings[key], settings.attributes, f"payload.ratings.{key}"
            )
            given = obj(rationales.get(key) or {}, f"payload.rationales.{key}")
            notes = {}
            for a in settings.attributes:
                note = rationale(
                    given.get(a.name), a.rationale, f"payload.rationales.{key}.{a.name}"
                )
                if note:
                    notes[a.name] = note
            if notes:
                out["rationales"][key] = notes
        if not out["rationales"]:
            del out["rationales"]
        if settings.followup:
            out["followup"] = self._followup(
                payload.get("followup"), settings.followup, out["ratings"], settings, candidate_ids
            )
        elif payload.get("followup") is not None:
            raise bad("This campaign asks no followup.", "payload.followup")
        return out

    def _followup(
        self,
        given: Any,
        followup: Followup,
        ratings: dict[str, dict[str, Any]],
        settings: RatingSettings,
        candidate_ids: Sequence[int],
    ) -> dict[str, Any]:
        given = obj(given, "payload.followup")
        unknown = sorted(set(given) - {"chosen", "scores", "feedback"})
        if unknown:
            raise bad(f"Unknown field {unknown[0]}.", f"payload.followup.{unknown[0]}")
        first = settings.attributes[0].name
        best = max(ratings[str(c)][first] for c in candidate_ids)
        chosen = given.get("chosen")
        if chosen not in candidate_ids:
            raise bad("chosen must be the id of a candidate.", "payload.followup.chosen")
        if ratings[str(chosen)][first] != best:
            raise bad(
                gettext("The chosen response must have the highest %(name)s.") % {"name": first},
                "payload.followup.chosen",
            )
        out: dict[str, Any] = {"chosen": chosen}
        if followup.attributes:
            out["scores"] = self._scores(
                given.get("scores"), followup.attributes, "payload.followup.scores"
            )
        if feedback := rationale(
            given.get("feedback"), followup.feedback, "payload.followup.feedback"
        ):
            out["feedback"] = feedback
        return out

    def payload_from_form(
        self, data: Any, *, settings: RatingSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        """Fields `rate-<id>-<attr index>` and `why-<id>-<attr index>`; followup fields
        `chosen`, `followup-<attr index>`, `feedback`."""

        def num(raw: str) -> Any:
            # Not a finite number: the text itself, which validate() refuses by name.
            value = form_number(raw)
            if value is None:
                return raw
            return int(value) if value.is_integer() else value

        ratings: dict[str, dict[str, Any]] = {}
        rationales: dict[str, dict[str, str]] = {}
        for c in candidate_ids:
            for i, a in enumerate(settings.attributes):
                raw = data.get(f"rate-{c}-{i}", "")
                if raw != "":
                    ratings.setdefault(str(c), {})[a.name] = num(raw)
                if note := data.get(f"why-{c}-{i}", ""):
                    rationales.setdefault(str(c), {})[a.name] = note
        payload: dict[str, Any] = {"ratings": ratings}
        if rationales:
            payload["rationales"] = rationales
        if settings.followup:
            chosen = data.get("chosen", "")
            followup: dict[str, Any] = {"chosen": form_int(chosen)}
            scores = {
                a.name: num(data[f"followup-{i}"])
                for i, a in enumerate(settings.followup.attributes)
                if data.get(f"followup-{i}", "") != ""
            }
            if settings.followup.attributes:
                followup["scores"] = scores
            if data.get("feedback"):
                followup["feedback"] = data["feedback"]
            payload["followup"] = followup
        return payload

    def shortcuts(self, settings: RatingSettings) -> list[tuple[str, str]]:
        keys = [("Tab", _("Next scale")), ("← / →", _("Move along a scale"))]
        if any(a.scale.type == "likert" and len(a.scale.points) <= 9 for a in settings.attributes):
            keys.append(("1 – 9", _("Pick a point on the focused scale")))
        return [*keys, *super().shortcuts(settings)]

    def agreement(
        self,
        payloads: Sequence[Mapping[str, Any]],
        *,
        settings: RatingSettings,
        rule: DisputeRule,
    ) -> Agreement:
        """The widest spread (highest - lowest) of one score of one response across the
        judgments; agreement is 1 - that spread over the scale's range. A spread over
        `rule.width` is disputed."""
        worst_spread = 0.0
        worst_share = 0.0
        for attribute in settings.attributes:
            span = float(attribute.scale.max - attribute.scale.min) or 1.0
            keys = {k for p in payloads for k in dict(p.get("ratings") or {})}
            for key in keys:
                values = [
                    v
                    for p in payloads
                    if isinstance(
                        v := dict(dict(p.get("ratings") or {}).get(key) or {}).get(attribute.name),
                        int | float,
                    )
                ]
                if len(values) < 2:
                    continue
                spread = float(max(values) - min(values))
                worst_spread = max(worst_spread, spread)
                worst_share = max(worst_share, spread / span)
        wide = worst_spread > rule.width
        return Agreement(
            len(payloads), "spread", round(1 - worst_share, 4), wide, "spread" if wide else ""
        )


def rating_chosen(
    payload: Mapping[str, Any], *, display_order: Sequence[int], attribute: str
) -> int | None:
    """The reply that continues the conversation: the followup's choice, else the highest
    score on `attribute`, ties to the one shown first. The live chat continues with it and the
    `prism` export marks it `if_chosen`."""
    chosen = (payload.get("followup") or {}).get("chosen")
    if chosen is not None:
        return int(chosen)
    ratings = payload.get("ratings") or {}
    scores = [(ratings.get(str(m)) or {}).get(attribute) for m in display_order]
    if all(s is None for s in scores):
        return None
    best = max(s for s in scores if s is not None)
    return display_order[scores.index(best)]


def chosen_attribute(settings: Mapping[str, Any]) -> str:
    """The score that picks the chosen reply: the campaign's first rating attribute."""
    return str(Rating().settings(settings).attributes[0].name)
