"""`preference`: TRL's preference format (explicit prompt), with provenance columns.

Rows come from pairwise judgments, from rankings and from ratings on one attribute (see
pairs.py): one row per judgment and pair, or one per task and pair by majority. `prompt` is the
conversation from its root (system message included) to the judged turn; `chosen` and
`rejected` are one-message assistant lists, as DPOTrainer and RewardTrainer read them; with
`text`, all three are strings, the prompt ending with the assistant's cue (text.py).
Documented in docs/exports.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from annotation.errors import RuleError
from annotation.selectors.adjudication import (
    AdjudicationDone,
    adjudications_done,
    item_agreements,
)

from .context import Batch, ExportContext
from .pairs import PREFERRED, Tally, Vote, vote, votes_of
from .rows import review_columns, system_text
from .spec import MESSAGES, Format, Shared, SplitRow, Table, schema_with_text_variant
from .text import text_check

SCHEMA_VERSION = "agora.preference/2"
KINDS = ("pairwise", "ranking", "rating")


def rating_attribute(ctx: ExportContext) -> str | None:
    """The rated attribute that orders responses: the option, else the campaign's first."""
    settings = ctx.kind_settings("rating")
    names = [a.name for a in settings.attributes] if settings else []
    chosen = ctx.options.rating_attribute
    if chosen is not None and names and chosen not in names:
        raise RuleError(
            f"rating_attribute must be one of {', '.join(names)}.", field="rating_attribute"
        )
    return chosen or (names[0] if names else None)


def options_check(ctx: ExportContext) -> None:
    """Before anything is written: the rated attribute, and the text variant's layout."""
    rating_attribute(ctx)
    text_check(ctx)


_WORD = re.compile(r"\w+")


def similarity(a: str, b: str, how: str) -> float:
    """How alike two responses are, 0 to 1: the Jaccard index of their sets of lower-cased
    words, or difflib's ratio of matching characters."""
    if how == "difflib":
        return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)


def rows(ctx: ExportContext) -> Iterator[SplitRow]:
    o = ctx.options
    attribute = rating_attribute(ctx)
    pairwise_levels = ctx.campaign.settings.get("strength_levels", 0)
    if ctx.campaign.task_kind != "pairwise":
        pairwise_levels = None
    # Aggregated rows carry their item's agreement (in its kind's measure) and, with
    # aggregate=adjudicated, follow a reviewer's decision where there is one.
    items = item_agreements(campaign=ctx.campaign) if o.aggregate != "none" else {}
    decisions = adjudications_done(campaign=ctx.campaign) if o.aggregate == "adjudicated" else {}
    for batch in ctx.batches_by_task(KINDS):
        votes: list[Vote] = []
        for j in batch.judgments:
            votes += votes_of(j, pairs=o.pairs, rating_attribute=attribute)
        tally = Tally(votes)
        pairs = _Pairs(ctx, batch)
        if o.aggregate != "none":
            yield from _aggregated_rows(ctx, pairs, votes, tally, items, decisions)
            continue
        pseudonyms, shared_of, cache = ctx.pseudonyms, pairs.shared, pairs.cache
        counts, totals = tally.counts, tally.totals
        keep_ties, min_agreement = o.keep_ties, o.min_agreement
        for v in votes:
            outcome, pair, chosen = v.outcome, v.pair, v.chosen
            if outcome != PREFERRED and not keep_ties:
                continue
            total = totals[pair]
            agreement = counts[pair][v.says] / total  # tally.agreement(v), inlined
            if min_agreement is not None and agreement < min_agreement:
                continue
            shared = cache.get((pair, chosen), _UNSEEN)
            if shared is _UNSEEN:
                shared = shared_of(v)
            if shared is None:
                continue
            j = v.judgment
            order = j.display_order
            yield SplitRow(
                shared,
                {
                    "outcome": outcome,
                    "strength": v.strength,
                    "strength_levels": pairwise_levels if j.kind == "pairwise" else None,
                    "chosen_score": v.chosen_score,
                    "rejected_score": v.rejected_score,
                    "chosen_rank": v.chosen_rank,
                    "rejected_rank": v.rejected_rank,
                    "reason": j.payload.get("reason"),
                    "chosen_position": order.index(chosen) if chosen in order else None,
                    "votes": total,
                    "agreement": agreement,
                    "judgment_id": j.id,
                    "judgment_ids": [j.id],
                    "annotator": pseudonyms[j.annotator_id],
                    "profile_version": j.profile_version,
                    "instructions_version": j.instructions_version,
                    "seconds_spent": j.seconds_spent,
                    "created_at": j.created_at.isoformat(),
                    **review_columns(j),
                    "item_agreement": None,
                    "adjudication": None,
                },
            )


_UNSEEN: Any = object()  # a pair not in _Pairs' cache yet (None there: a pair left out)


def _aggregated_rows(
    ctx: ExportContext,
    pairs: _Pairs,
    votes: list[Vote],
    tally: Tally,
    items: dict[int, Any],
    decisions: dict[int, AdjudicationDone],
) -> Iterator[SplitRow]:
    """Majority rows, but for a task a reviewer decided (aggregate=adjudicated): its rows
    follow the decision. Every row says its item's agreement and whether it was adjudicated
    (`decided`) or marked `ambiguous` (then the majority stands)."""
    by_task: dict[int, list[Vote]] = {}
    for v in votes:
        by_task.setdefault(v.pair[0], []).append(v)
    for task_id, task_votes in by_task.items():
        found = items.get(task_id)
        done = decisions.get(task_id)
        extra = {
            "item_agreement": None if found is None else found.agreement,
            "adjudication": None if done is None else done.state,
        }
        if done is not None and done.state == "decided":
            yield from _adjudicated_rows(ctx, pairs, task_votes, tally, done, extra)
        else:
            yield from _majority_rows(ctx, pairs, task_votes, tally, extra)


def _adjudicated_rows(
    ctx: ExportContext,
    pairs: _Pairs,
    votes: list[Vote],
    tally: Tally,
    done: AdjudicationDone,
    extra: dict[str, Any],
) -> Iterator[SplitRow]:
    """The decided answer's pairs, read as a judgment of the task would be; `votes` and
    `agreement` say how many judgments voted on the pair and the share that agreed with the
    decision. min_agreement does not apply: the decision settles the pair."""
    o = ctx.options
    first = votes[0].judgment
    decided = first._replace(payload=done.payload, review=None)
    for v in votes_of(decided, pairs=o.pairs, rating_attribute=rating_attribute(ctx)):
        if v.outcome != PREFERRED and not o.keep_ties:
            continue
        shared = pairs.shared(v)
        if shared is None:
            continue
        agreeing = [w for w in votes if w.pair == v.pair and w.says == v.says]
        total = tally.totals.get(v.pair, 0)
        yield SplitRow(
            shared,
            {
                **dict.fromkeys(_OWN),
                "outcome": v.outcome,
                "strength": v.strength,
                "reason": done.payload.get("reason"),
                "votes": total,
                "agreement": len(agreeing) / total if total else None,
                "judgment_ids": [w.judgment.id for w in agreeing],
                "created_at": done.decided_at.isoformat(),
                **extra,
            },
        )


def _majority_rows(
    ctx: ExportContext,
    pairs: _Pairs,
    votes: list[Vote],
    tally: Tally,
    extra: dict[str, Any],
) -> Iterator[SplitRow]:
    """One row per pair of a task, saying what most of its votes say; the columns of single
    judgments are null."""
    o = ctx.options
    by_pair: dict[tuple[Any, ...], list[Vote]] = {}
    for v in votes:
        by_pair.setdefault(v.pair, []).append(v)
    for pair, pair_votes in by_pair.items():
        majority = tally.majority(pair)
        if majority is None:
            continue  # the votes split evenly: no majority, no row
        (outcome, winner), agreement, total = majority
        if outcome != PREFERRED and not o.keep_ties:
            continue
        if o.min_agreement is not None and agreement < o.min_agreement:
            continue
        agreeing = [w for w in pair_votes if w.says == (outcome, winner)]
        rep = agreeing[0]
        if outcome == PREFERRED:
            lo, hi = pair[2], pair[3]
            chosen, rejected = (lo, hi) if winner == lo else (hi, lo)
            rep = vote(rep.judgment, rep.attribute, chosen, rejected, outcome)
        shared = pairs.shared(rep)
        if shared is None:
            continue
        yield SplitRow(
            shared,
            {
                **dict.fromkeys(_OWN),
                "outcome": outcome,
                "votes": total,
                "agreement": agreement,
                "judgment_ids": [w.judgment.id for w in agreeing],
                "created_at": max(w.judgment.created_at for w in agreeing).isoformat(),
                **extra,
            },
        )


class _Pairs:
    """The columns that every row about the same pair (of the same task, in the same
    direction) shares: built, and encoded by a JSON Lines writer, once per batch."""

    def __init__(self, ctx: ExportContext, batch: Batch):
        self.ctx, self.batch = ctx, batch
        self.cache: dict[tuple[Any, ...], Shared | None] = {}

    def shared(self, v: Vote) -> Shared | None:
        """None when the pair is left out (not two assistant messages, too similar, or written
        by someone who withdrew)."""
        key = (v.pair, v.chosen)  # the pair, and which way round
        if key in self.cache:
            return self.cache[key]
        ctx, batch, o = self.ctx, self.batch, self.ctx.options
        j = v.judgment
        chosen, rejected = batch.messages[v.chosen], batch.messages[v.rejected]
        shared: Shared | None = None
        if (
            # A tree also ranks the prompter's answers: no assistant's preference, left out.
            chosen.role == rejected.role == "assistant"
            and (
                o.max_similarity is None
                or similarity(chosen.text, rejected.text, o.similarity) < o.max_similarity
            )
            and not batch.withdrawn(v.chosen, v.rejected)
        ):
            chat = batch.chat(j.parent_id)
            prompt: Any
            pair: tuple[Any, Any]
            if o.text:
                layout = ctx.text_layout
                prompt = layout.prompt(chat)
                pair = (
                    layout.completion(chat, chosen.text),
                    layout.completion(chat, rejected.text),
                )
            else:
                prompt, pair = chat, (batch.reply(v.chosen), batch.reply(v.rejected))
            columns: dict[str, Any] = {"prompt": prompt, "chosen": pair[0], "rejected": pair[1]}
            if o.images:
                columns["images"] = batch.images(j.parent_id)
            shared = Shared(
                {
                    **columns,
                    "system": system_text(chat),
                    "attribute": v.attribute,
                    "source_kind": j.kind,
                    "chosen_model": ctx.model_name(chosen.model_id),
                    "rejected_model": ctx.model_name(rejected.model_id),
                    "chosen_message_id": chosen.id,
                    "rejected_message_id": rejected.id,
                    "task_id": j.task_id,
                    "round": j.round,
                    "conversation_id": j.conversation_id,
                    "conversation_external_id": batch.external_id(j.conversation_id),
                    "campaign": ctx.campaign.slug,
                    "schema_version": SCHEMA_VERSION,
                }
            )
        self.cache[key] = shared
        return shared


COLUMNS: list[tuple[str, pa.DataType]] = [
    # Shared by every row about the same pair.
    ("prompt", MESSAGES),
    ("chosen", MESSAGES),
    ("rejected", MESSAGES),
    ("system", pa.string()),
    ("attribute", pa.string()),
    ("source_kind", pa.string()),
    ("chosen_model", pa.string()),
    ("rejected_model", pa.string()),
    ("chosen_message_id", pa.int64()),
    ("rejected_message_id", pa.int64()),
    ("task_id", pa.int64()),
    ("round", pa.int64()),
    ("conversation_id", pa.int64()),
    ("conversation_external_id", pa.string()),
    ("campaign", pa.string()),
    ("schema_version", pa.string()),
    # The row's own.
    ("outcome", pa.string()),
    ("strength", pa.int64()),
    ("strength_levels", pa.int64()),
    ("chosen_score", pa.float64()),
    ("rejected_score", pa.float64()),
    ("chosen_rank", pa.int64()),
    ("rejected_rank", pa.int64()),
    ("reason", pa.string()),
    ("chosen_position", pa.int64()),
    ("votes", pa.int64()),
    ("agreement", pa.float64()),
    ("judgment_id", pa.int64()),
    ("judgment_ids", pa.list_(pa.int64())),
    ("annotator", pa.string()),
    ("profile_version", pa.int64()),
    ("instructions_version", pa.int64()),
    ("seconds_spent", pa.float64()),
    ("created_at", pa.string()),
    # With a review stage: the reviewer's decision, and a corrected judgment's original payload
    # (the row follows the correction); null on majority rows.
    ("review_decision", pa.string()),
    ("original_payload", pa.string()),
    # Aggregated rows: the item's agreement in its kind's measure (docs/adjudication.md), and
    # `decided` or `ambiguous` where a reviewer adjudicated the item; null on per-judgment rows.
    ("item_agreement", pa.float64()),
    ("adjudication", pa.string()),
]
_OWN = [name for name, _ in COLUMNS[16:]]


schema = schema_with_text_variant(COLUMNS, images_after="rejected")


FORMAT = Format(
    name="preference",
    version=SCHEMA_VERSION,
    kinds=KINDS,
    check=options_check,
    summary="Preference pairs (prompt, chosen, rejected) in TRL's format, with provenance.",
    tables={
        "default": Table(
            rows=rows,
            schema=schema,
            size=lambda ctx: ctx.judgments_count(KINDS),
            needs=KINDS,
        )
    },
    options=frozenset(
        {
            "pairs",
            "rating_attribute",
            "keep_ties",
            "aggregate",
            "min_agreement",
            "max_similarity",
            "similarity",
            "text",
            "chat_template",
            "images",
        }
    ),
    tags=("human-feedback", "preference", "dpo", "rlhf"),
    task_categories=("text-generation",),
)
