"""pairwise (Chatbot Arena, Anthropic HH): two anonymous responses, A / B / tie / both bad,
an optional strength, an optional reason; or one such choice per attribute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from annotation.kinds.base import (
    RATIONALE,
    Agreement,
    DisputeRule,
    Kind,
    bad,
    candidate,
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
from webapp.untrusted import form_int

OUTCOMES = ("preferred", "tie", "both_bad")
STRENGTH_WORDS = {
    2: ["slightly better", "much better"],
    3: ["slightly better", "clearly better", "much better"],
}


@dataclass(frozen=True)
class PairwiseAttribute:
    name: str
    description: str = ""


@dataclass(frozen=True)
class PairwiseSettings:
    question: str = "Which response is better?"
    # 0: no strength asked; 2: a 5-point scale (2 each side of a tie); 3: a 7-point scale.
    strength_levels: int = 0
    allow_tie: bool = True
    allow_both_bad: bool = True
    reason: str = "optional"  # "off", "optional" or "required"
    # When given, one choice per attribute (e.g. helpfulness, harmlessness) instead of one.
    attributes: tuple[PairwiseAttribute, ...] = ()

    def strength_choices(self) -> list[tuple[int, str]]:
        return list(enumerate(STRENGTH_WORDS.get(self.strength_levels, []), start=1))

    def outcomes(self) -> tuple[str, ...]:
        return tuple(
            o
            for o in OUTCOMES
            if o == "preferred"
            or (o == "tie" and self.allow_tie)
            or (o == "both_bad" and self.allow_both_bad)
        )


class Pairwise(Kind[PairwiseSettings]):
    name = "pairwise"
    label = "Pairwise comparison"
    Settings = PairwiseSettings
    candidates = (2, 2)
    template = "annotation/kinds/_pairwise.html"

    def settings(self, raw: Mapping[str, Any] | None) -> PairwiseSettings:
        raw = settings_object(raw, set(PairwiseSettings.__dataclass_fields__))
        attributes = raw.get("attributes") or []
        if not isinstance(attributes, list):
            raise bad("attributes must be a list.", "settings.attributes")
        parsed = []
        for i, a in enumerate(attributes):
            f = f"settings.attributes[{i}]"
            a = obj(a, f)
            no_unknown(a, {"name", "description"}, f)
            parsed.append(
                PairwiseAttribute(
                    name=text(a.get("name"), f"{f}.name", required=True, max_chars=100),
                    description=text(a.get("description"), f"{f}.description"),
                )
            )
        names_unique([a.name for a in parsed], "settings.attributes")
        s = PairwiseSettings(
            question=text(
                raw.get("question", PairwiseSettings.question),
                "settings.question",
                required=True,
                max_chars=300,
            ),
            strength_levels=raw.get("strength_levels", 0),
            allow_tie=raw.get("allow_tie", True),
            allow_both_bad=raw.get("allow_both_bad", True),
            reason=raw.get("reason", "optional"),
            attributes=tuple(parsed),
        )
        if s.strength_levels not in (0, 2, 3):
            raise bad(
                "strength_levels must be 0 (none), 2 (5-point) or 3 (7-point).",
                "settings.strength_levels",
            )
        for flag in ("allow_tie", "allow_both_bad"):
            if not isinstance(getattr(s, flag), bool):
                raise bad(f"{flag} must be true or false.", f"settings.{flag}")
        choice(s.reason, RATIONALE, "settings.reason")
        return s

    def validate(
        self, payload: Any, *, settings: PairwiseSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        """The stored payload: it names messages, never screen positions."""
        payload = obj(payload, "payload")
        if settings.attributes:
            no_unknown(payload, {"attributes", "reason"}, "payload")
            given = obj(payload.get("attributes"), "payload.attributes")
            no_unknown(given, {a.name for a in settings.attributes}, "payload.attributes")
            out: dict[str, Any] = {"attributes": {}}
            for a in settings.attributes:
                f = f"payload.attributes.{a.name}"
                if a.name not in given:
                    raise bad(gettext("Please choose for %(name)s.") % {"name": a.name}, f)
                out["attributes"][a.name] = self._choice(
                    obj(given[a.name], f), f, settings=settings, candidate_ids=candidate_ids
                )
        else:
            no_unknown(payload, {"outcome", "preferred", "strength", "reason"}, "payload")
            out = self._choice(payload, "payload", settings=settings, candidate_ids=candidate_ids)
        if reason := rationale(payload.get("reason"), settings.reason, "payload.reason"):
            out["reason"] = reason
        return out

    def _choice(
        self,
        given: Mapping[str, Any],
        field: str,
        *,
        settings: PairwiseSettings,
        candidate_ids: Sequence[int],
    ) -> dict[str, Any]:
        no_unknown(given, {"outcome", "preferred", "strength", "reason"}, field)
        outcome = given.get("outcome")
        if outcome not in OUTCOMES:
            raise bad("outcome must be one of preferred, tie, both_bad.", f"{field}.outcome")
        if outcome == "tie" and not settings.allow_tie:
            raise bad("This campaign does not allow ties.", f"{field}.outcome")
        if outcome == "both_bad" and not settings.allow_both_bad:
            raise bad("This campaign does not allow 'both bad'.", f"{field}.outcome")
        out: dict[str, Any] = {"outcome": outcome}
        preferred = given.get("preferred")
        if outcome == "preferred":
            out["preferred"] = candidate(preferred, candidate_ids, f"{field}.preferred")
            out["rejected"] = next(c for c in candidate_ids if c != preferred)
        elif preferred is not None:
            raise bad(
                "preferred is only given when the outcome is preferred.", f"{field}.preferred"
            )
        strength = given.get("strength")
        if settings.strength_levels and outcome == "preferred":
            out["strength"] = integer(
                strength, f"{field}.strength", lo=1, hi=settings.strength_levels
            )
        elif strength is not None:
            raise bad(
                "strength is only given for a preferred outcome on a campaign with a scale.",
                f"{field}.strength",
            )
        return out

    def payload_from_form(
        self, data: Any, *, settings: PairwiseSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        """The form of the task page, in the API's payload shape."""
        payload: dict[str, Any] = {}
        if settings.attributes:
            payload["attributes"] = {
                a.name: self._form_choice(data, f"choice-{i}", f"strength-{i}", a.name)
                for i, a in enumerate(settings.attributes)
            }
        else:
            payload.update(self._form_choice(data, "choice", "strength", None))
        if data.get("reason"):
            payload["reason"] = data["reason"]
        return payload

    def _form_choice(
        self, data: Any, choice_key: str, strength_key: str, attribute: str | None
    ) -> dict[str, Any]:
        picked = data.get(choice_key, "")
        out: dict[str, Any]
        if picked in ("tie", "both_bad"):
            out = {"outcome": picked}
        elif (preferred := form_int(picked)) is not None:
            out = {"outcome": "preferred", "preferred": preferred}
            if raw_strength := data.get(strength_key, ""):
                # Not a whole number: the text itself, which validate() refuses by name.
                strength = form_int(raw_strength)
                out["strength"] = raw_strength if strength is None else strength
        else:
            raise bad(
                (
                    gettext("Pick the better response for %(name)s (or tie, or both bad).")
                    % {"name": attribute}
                    if attribute
                    else gettext(
                        "Pick the better response (or tie, or both bad) before submitting."
                    )
                ),
                "payload.outcome" if attribute is None else f"payload.attributes.{attribute}",
            )
        return out

    def shortcuts(self, settings: PairwiseSettings) -> list[tuple[str, str]]:
        keys = [("A or ←", _("Response A is better")), ("B or →", _("Response B is better"))]
        if settings.allow_tie:
            keys.append(("T", _("About the same (tie)")))
        if settings.allow_both_bad:
            keys.append(("X", _("Both are bad")))
        if settings.strength_levels:
            keys.append((f"1 – {settings.strength_levels}", _("How much better")))
        if settings.attributes:
            keys.append(("Tab", _("Next attribute")))
        if settings.reason != "off":
            keys.append(("R", _("Write a reason")))
        return [*keys, *super().shortcuts(settings)]

    def task_groups(self, candidates: Sequence[Any]) -> list[list[Any]]:
        """One task per pair of candidates."""
        return [[a, b] for i, a in enumerate(candidates) for b in candidates[i + 1 :]]

    gold_keys = ("outcome", "preferred")

    def gold_validate(
        self, gold: dict[str, Any], *, settings: PairwiseSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        if settings.attributes:
            raise bad(
                "A pairwise campaign that asks per attribute has no single gold answer.", "gold"
            )
        # The outcome is what is compared: a gold answer needs no strength.
        plain = replace(settings, strength_levels=0)
        return self._choice(gold, "gold", settings=plain, candidate_ids=candidate_ids)

    def gold_score(self, payload: dict[str, Any], gold: Any) -> float | None:
        if not isinstance(gold, Mapping) or "outcome" not in gold:
            return None
        same = payload.get("outcome") == gold["outcome"] and payload.get("preferred") == gold.get(
            "preferred"
        )
        return 1.0 if same else 0.0

    def agreement(
        self,
        payloads: Sequence[Mapping[str, Any]],
        *,
        settings: PairwiseSettings,
        rule: DisputeRule,
    ) -> Agreement:
        """The share of the most chosen outcome (per attribute: the lowest such share); an
        item where no outcome reaches `rule.share` is split."""
        if settings.attributes:
            shares = [
                top_share([_outcome(dict(p.get("attributes") or {}).get(a.name)) for p in payloads])
                for a in settings.attributes
            ]
        else:
            shares = [top_share([_outcome(p) for p in payloads])]
        worst = round(min(shares), 4)
        split = worst < rule.share
        return Agreement(len(payloads), "top_share", worst, split, "split" if split else "")


def _outcome(choice: Any) -> list[Any]:
    """What two pairwise choices must share to agree: the outcome and the message preferred."""
    choice = choice if isinstance(choice, Mapping) else {}
    return [choice.get("outcome"), choice.get("preferred")]
