"""ranking (OpenAssistant, InstructGPT): order k candidates best first; ties only where the
campaign allows them. Stored as groups, best first: [[812], [815, 813], [814]]."""

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
    bad,
    candidate,
    choice,
    integer,
    obj,
    rationale,
    settings_object,
)
from webapp.untrusted import form_int


@dataclass(frozen=True)
class RankingSettings:
    question: str = "Order the responses from best to worst."
    allow_ties: bool = False
    reason: str = "optional"
    max_candidates: int = 9


class Ranking(Kind[RankingSettings]):
    name = "ranking"
    label = "Ranking"
    Settings = RankingSettings
    candidates = (2, None)
    template = "annotation/kinds/_ranking.html"

    def settings(self, raw: Mapping[str, Any] | None) -> RankingSettings:
        raw = settings_object(raw, set(RankingSettings.__dataclass_fields__))
        s = RankingSettings(**raw)
        if not isinstance(s.allow_ties, bool):
            raise bad("allow_ties must be true or false.", "settings.allow_ties")
        choice(s.reason, RATIONALE, "settings.reason")
        integer(s.max_candidates, "settings.max_candidates", lo=2, hi=26)
        return s

    def validate(
        self, payload: Any, *, settings: RankingSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        payload = obj(payload, "payload")
        unknown = sorted(set(payload) - {"ranking", "reason"})
        if unknown:
            raise bad(f"Unknown field {unknown[0]}.", f"payload.{unknown[0]}")
        groups = payload.get("ranking")
        if not isinstance(groups, list) or not groups:
            raise bad("ranking must be a list of candidate ids, best first.", "payload.ranking")
        ranked: list[list[int]] = []
        seen: set[int] = set()
        for i, group in enumerate(groups):
            f = f"payload.ranking[{i}]"
            ids = group if isinstance(group, list) else [group]
            if not ids:
                raise bad("An empty place in the ranking.", f)
            if len(ids) > 1 and not settings.allow_ties:
                raise bad(gettext("This campaign does not allow ties in a ranking."), f)
            place = []
            for message_id in ids:
                candidate(message_id, candidate_ids, f)
                if message_id in seen:
                    raise bad(f"Message {message_id} is ranked twice.", f)
                seen.add(message_id)
                place.append(message_id)
            ranked.append(place)
        missing = [c for c in candidate_ids if c not in seen]
        if missing:
            raise bad(
                f"Message {missing[0]} is not ranked; rank every candidate.", "payload.ranking"
            )
        out: dict[str, Any] = {"ranking": ranked}
        if reason := rationale(payload.get("reason"), settings.reason, "payload.reason"):
            out["reason"] = reason
        return out

    def payload_from_form(
        self, data: Any, *, settings: RankingSettings, candidate_ids: Sequence[int]
    ) -> dict[str, Any]:
        """The page sends one `rank-<id>` field per candidate: 1 = best; equal = tied."""
        places: dict[int, list[int]] = {}
        for message_id in candidate_ids:
            place = form_int(data.get(f"rank-{message_id}", ""))
            if place is None:
                raise bad(gettext("Give every response a place (1 = best)."), "payload.ranking")
            places.setdefault(place, []).append(message_id)
        payload: dict[str, Any] = {
            "ranking": [places[p] if len(places[p]) > 1 else places[p][0] for p in sorted(places)]
        }
        if data.get("reason"):
            payload["reason"] = data["reason"]
        return payload

    def shortcuts(self, settings: RankingSettings) -> list[tuple[str, str]]:
        return [
            ("1 – 9", _("Place the focused response")),
            ("↑ / ↓", _("Move the focused response up or down")),
            ("Tab", _("Next response")),
            *super().shortcuts(settings),
        ]

    gold_keys = ("ranking",)

    def gold_score(self, payload: dict[str, Any], gold: Any) -> float | None:
        if not isinstance(gold, Mapping) or "ranking" not in gold:
            return None
        return 1.0 if payload.get("ranking") == gold["ranking"] else 0.0

    def agreement(
        self,
        payloads: Sequence[Mapping[str, Any]],
        *,
        settings: RankingSettings,
        rule: DisputeRule,
    ) -> Agreement:
        """1 - the mean normalised Kendall distance between every two judgments' rankings;
        an item whose mean distance is over `rule.distance` is disputed."""
        places = [_places(p.get("ranking") or []) for p in payloads]
        distances = [kendall_distance(a, b) for i, a in enumerate(places) for b in places[i + 1 :]]
        mean = sum(distances) / len(distances) if distances else 0.0
        far = mean > rule.distance
        return Agreement(
            len(payloads), "kendall", round(1 - mean, 4), far, "distance" if far else ""
        )


def _places(ranking: Sequence[Any]) -> dict[int, int]:
    """Each candidate's place (0 = best; tied candidates share a place)."""
    return {
        m: i
        for i, group in enumerate(ranking)
        for m in (group if isinstance(group, list) else [group])
    }


def kendall_distance(a: Mapping[int, int], b: Mapping[int, int]) -> float:
    """The normalised Kendall distance of two rankings given as places: the share of pairs
    of candidates they order oppositely (a pair tied in one and not the other counts half)."""
    ids = sorted(set(a) & set(b))
    pairs = 0
    apart = 0.0
    for i, x in enumerate(ids):
        for y in ids[i + 1 :]:
            pairs += 1
            sa = (a[x] > a[y]) - (a[x] < a[y])
            sb = (b[x] > b[y]) - (b[x] < b[y])
            if sa != sb:
                apart += 1.0 if sa and sb else 0.5
    return apart / pairs if pairs else 0.0
