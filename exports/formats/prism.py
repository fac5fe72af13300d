"""`prism`: the survey, conversations and utterances tables as the PRISM alignment dataset
publishes them (HannahRoseKirk/prism-alignment), column for column.

- `survey`: one row per participant, from the Profile version in force for this campaign
  (`_profiles_in_force`), its `answers` read under PRISM's own names (`age`,
  `religion: {self_described, ...}`, `stated_prefs: {values, ...}`, ...).
- `conversations`: one row per conversation and participant who rated in it, with the turns,
  every model response's score and whether it was chosen, and the followup attributes.
- `utterances`: one row per rated model response.

Scores are the rating judgments' scores on one attribute (the campaign's first, or
`rating_attribute`). PRISM fields with no source in Agora yet are null; docs/exports.md lists
them. Agora's own columns (system message, ids, schema version) follow PRISM's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

import pyarrow as pa
from django.db.models import Count, Exists, Max, OuterRef
from django_countries import countries

from annotation.kinds.rating import rating_chosen
from annotation.models import Judgment, Membership, Participant, Profile, Study, User
from annotation.selectors.studies import guidance_for
from annotation.survey import STATED_PREFS, USECASES

from .context import ExportContext
from .preference import rating_attribute
from .rows import J, system_text
from .spec import Format, Table, arrow_schema

SCHEMA_VERSION = "agora.prism/1"
KINDS = ("rating",)
EMPTY = "EMPTY STRING"  # PRISM's stand-in for an empty text
CONVERSATION_TYPES = {
    "unguided": "unguided",
    "values_guided": "values guided",
    "controversy_guided": "controversy guided",
}
ATTRIBUTES = ("values", "fluency", "factuality", "safety", "diversity", "creativity", "helpfulness")
LOCATION = (
    "birth_country",
    "birth_countryISO",
    "birth_subregion",
    "birth_region",
    "reside_country",
    "reside_countryISO",
    "reside_subregion",
    "reside_region",
    "same_birth_reside_country",
    "special_region",
)
TEXT_ANSWERS = (
    "consent",
    "consent_age",
    "lm_familiarity",
    "lm_indirect_use",
    "lm_direct_use",
    "lm_frequency_use",
    "self_description",
    "system_string",
    "age",
    "gender",
    "employment_status",
    "education",
    "marital_status",
    "english_proficiency",
    "study_id",
    "study_locale",
)
IDENTITY = ("self_described", "categorised", "simplified")
# PRISM columns that nothing in Agora records yet: always null (listed in docs/exports.md).
NO_SOURCE = ("included_in_US_REP", "included_in_UK_REP", "included_in_balanced_subset")


# Where Agora's stored answer says what PRISM's codebook says in other words. The rest of the
# survey's vocabulary is PRISM's, or the dataset card names the difference (DIFFERENCES).
PUBLISHED_ANSWERS = {
    "consent": {"Yes": "Yes, I consent to take part"},
    "employment_status": {"Homemaker / Full-time parent": "Homemaker / Stay-at-home parent"},
}
DIFFERENCES = (
    "`lm_frequency_use`: Agora asks `Every day`, `Every week`, `Every month`, `Less than once "
    "a month` or `Never`; PRISM offered `Every day`, `Every week`, `More than once a month`, "
    "`Once per month` and `Less than one a year`. The first two are the same.",
    "`english_proficiency`, `lm_familiarity`: Agora lets every closed question be answered "
    "`Prefer not to say`, which PRISM did not offer for these two.",
    "`consent_age`, `lm_indirect_use`, `lm_direct_use`, `study_locale`: not asked, null.",
    "`included_in_US_REP`, `included_in_UK_REP`, `included_in_balanced_subset`: PRISM's "
    "rebalanced samples, which Agora does not draw: null.",
    "`religion`, `ethnicity`: `categorised` and `simplified` are the category the participant "
    "chose (PRISM's were assigned from the self-description).",
    "`score`: typed float64 (PRISM's are whole numbers 1-100, and stay whole here).",
    "`conversation_id` is `c<conversation>-<user_id>`, `utterance_id` `ut<judgment>-<message>`, "
    "`interaction_id` `int<judgment>` (PRISM numbers them `c<n>`, `ut<n>`, `int<n>`).",
    "`timing_duration_s` of the survey: from the participant's consent to the survey's submit; "
    "`generated_datetime` is in UTC.",
    "`if_chosen`: a tie for the highest score goes to the response shown first (PRISM broke "
    "ties at random).",
)


def answer_as_published(column: str, value: Any) -> Any:
    """A stored survey answer in PRISM's codebook's words."""
    return PUBLISHED_ANSWERS.get(column, {}).get(value, value)


def _alpha3(code: Any) -> str | None:
    """ISO 3166-1 alpha-3, as PRISM's `*_countryISO` (the survey stores alpha-2)."""
    if not isinstance(code, str) or not code:
        return None
    return countries.alpha3(code) or code


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _struct(value: Any, keys: tuple[str, ...], *, text: tuple[str, ...] = ()) -> Any:
    if not isinstance(value, dict):
        return None
    return {k: _text(value.get(k)) if k in text else _int(value.get(k)) for k in keys}


def _identity(value: Any) -> dict[str, str | None] | None:
    """religion / ethnicity: PRISM's {self_described, categorised, simplified}; a bare answer
    is the self-description."""
    if isinstance(value, str):
        return {"self_described": value, "categorised": None, "simplified": None}
    if isinstance(value, dict):
        return {k: _text(value.get(k)) for k in IDENTITY}
    return None


def _with_other_text(value: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    out = _struct(value, keys)
    if out is not None:
        out["other_text"] = _text(value.get("other_text"))
    return out


# --- survey -----------------------------------------------------------------------------------


def _participants(ctx: ExportContext) -> Any:
    """Everyone who annotates in the campaign or judged in it, as the export's filters allow."""
    judged = ctx.judgments(KINDS).values("annotator_id")
    members = Membership.objects.filter(
        campaign=ctx.campaign, role=Membership.Role.ANNOTATOR
    ).values("user_id")
    users = User.objects.filter(id__in=judged) | User.objects.filter(id__in=members)
    if not ctx.options.include_flagged:
        flagged = Membership.objects.filter(
            campaign=ctx.campaign, user=OuterRef("pk"), is_flagged=True
        )
        users = users.filter(~Exists(flagged))
    if ctx.withdrawn:
        users = users.exclude(id__in=ctx.withdrawn)
    return users.order_by("id")


def _profiles_in_force(ctx: ExportContext, users: list[int]) -> dict[int, tuple[Any, ...]]:
    """Per person, the profile version in force for this campaign: the newest their survey
    saved in this campaign; for someone who answered no survey here (a campaign without a
    study, or a study whose questions earlier answers covered), the newest of the versions
    their judgments here were made under and the one in force when this campaign's study
    screened them. A profile is a person's, across campaigns: what a later study asks them
    never reaches this campaign's rows."""
    judged = dict(
        Judgment.objects.filter(
            campaign=ctx.campaign, annotator_id__in=users, profile__isnull=False
        )
        .values("annotator_id")
        .annotate(v=Max("profile__version"))
        .values_list("annotator_id", "v")
    )
    screened = dict(
        Participant.objects.filter(
            campaign=ctx.campaign, membership__user_id__in=users, screened_at__isnull=False
        ).values_list("membership__user_id", "screened_at")
    )
    versions: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for profile in (
        Profile.objects.filter(user_id__in=users)
        .order_by("user_id", "version")
        .values_list("user_id", "version", "answers", "consent_version", "consented_at",
                     "created_at", "campaign_id")
    ):  # fmt: skip
        versions[profile[0]].append(profile)
    out = {}
    for uid, mine in versions.items():
        here = [p for p in mine if p[6] == ctx.campaign.id]
        if here:
            out[uid] = here[-1]
            continue
        at = screened.get(uid)
        wanted = max(
            judged.get(uid, 0),
            max((p[1] for p in mine if at is not None and p[5] <= at), default=0),
        )
        if wanted:
            out[uid] = next(p for p in mine if p[1] == wanted)
    return out


def survey(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    conversations = dict(
        ctx.judgments(KINDS)
        .values("annotator_id")
        .annotate(n=Count("task__conversation_id", distinct=True))
        .values_list("annotator_id", "n")
    )
    users = _participants(ctx).values_list("id", flat=True)
    last = 0
    while page := list(users.filter(id__gt=last)[: ctx.batch_size]):
        last = page[-1]
        ctx.pseudonyms_load(page)
        profiles = _profiles_in_force(ctx, page)
        for uid in page:
            _, version, answers, consent_version, consented_at, created_at, _ = profiles.get(
                uid, (uid, None, {}, "", None, None, None)
            )
            answers = answers if isinstance(answers, dict) else {}
            n = conversations.get(uid, 0)
            seconds = answers.get("timing_duration_s")
            if isinstance(seconds, int | float):
                seconds = float(seconds)
            elif consented_at and created_at and created_at >= consented_at:
                # The survey follows the consent at once, and its submit saves the profile.
                seconds = round((created_at - consented_at).total_seconds(), 2)
            else:
                seconds = None
            row: dict[str, Any] = {
                "user_id": ctx.person(uid),
                "survey_only": n == 0,
                "num_completed_conversations": n,
            }
            row.update({k: _text(answer_as_published(k, answers.get(k))) for k in TEXT_ANSWERS})
            location = _struct(answers.get("location"), LOCATION, text=LOCATION)
            if location:
                for key in ("birth_countryISO", "reside_countryISO"):
                    location[key] = _alpha3(location[key])
            row.update(
                religion=_identity(answers.get("religion")),
                ethnicity=_identity(answers.get("ethnicity")),
                location=location,
                lm_usecases=_with_other_text(answers.get("lm_usecases"), USECASES),
                stated_prefs=_with_other_text(answers.get("stated_prefs"), STATED_PREFS),
                order_lm_usecases=_struct(answers.get("order_lm_usecases"), USECASES),
                order_stated_prefs=_struct(answers.get("order_stated_prefs"), STATED_PREFS),
                generated_datetime=_when(created_at) if created_at else None,
                timing_duration_s=seconds,
                timing_duration_mins=None if seconds is None else round(seconds / 60, 2),
                included_in_US_REP=None,
                included_in_UK_REP=None,
                included_in_balanced_subset=None,
                profile_version=version,
                consent_version=consent_version or None,
                consented_at=consented_at.isoformat() if consented_at else None,
                campaign=ctx.campaign.slug,
                schema_version=SCHEMA_VERSION,
            )
            yield row
        ctx.advance(len(page))


# --- conversations and utterances -------------------------------------------------------------


class Turn(NamedTuple):
    judgment: J
    user_id: str | None
    conversation_type: str | None
    prism_type: str
    turn: int  # 0-indexed, as PRISM
    user_prompt: str
    opening_prompt: str
    system: str | None
    models: list[dict[str, Any]]  # conversation_history rows of the model responses


def _turns(ctx: ExportContext) -> Iterator[tuple[str, list[Turn]]]:
    """Per conversation and participant: PRISM's conversation id and its rated turns."""
    attribute = rating_attribute(ctx)
    for batch in ctx.batches_by_conversation(KINDS, full=True):
        groups: dict[tuple[int, int], list[J]] = defaultdict(list)
        for j in batch.judgments:
            groups[(j.conversation_id, j.annotator_id)].append(j)
        for (conversation_id, annotator_id), judgments in groups.items():
            user_id = ctx.person(annotator_id)
            prism_type = batch.conversations[conversation_id].prism_type
            turns = []
            for j in judgments:
                if batch.withdrawn(j.parent_id, *j.display_order):
                    continue
                path = batch.path(j.parent_id)
                users = [m for m in path if m.role == "user"]
                ratings = j.payload.get("ratings") or {}
                scores = {
                    mid: _float((ratings.get(str(mid)) or {}).get(attribute))
                    for mid in j.display_order
                }
                # PRISM breaks ties of the highest score at random, Agora by screen order.
                chosen = rating_chosen(
                    j.payload, display_order=j.display_order, attribute=attribute or ""
                )
                turn = max(len(users) - 1, 0)
                models = []
                for within, mid in enumerate(j.display_order):
                    m = batch.messages[mid]
                    info = ctx.models.get(m.model_id) if m.model_id else None
                    models.append(
                        {
                            "turn": turn,
                            "role": "model",
                            "content": m.text or EMPTY,
                            "model_provider": info.provider if info else None,
                            "model_name": info.name if info else None,
                            "score": scores[mid],
                            "if_chosen": mid == chosen,
                            "within_turn_id": within,
                            "message_id": mid,
                        }
                    )
                turns.append(
                    Turn(
                        judgment=j,
                        user_id=user_id,
                        conversation_type=CONVERSATION_TYPES.get(prism_type),
                        prism_type=prism_type,
                        turn=turn,
                        user_prompt=(path[-1].text if path else "") or EMPTY,
                        opening_prompt=(users[0].text if users else "") or EMPTY,
                        system=system_text(batch.chat(j.parent_id)),
                        models=models,
                    )
                )
            if turns:
                turns.sort(key=lambda t: (t.turn, t.judgment.id))
                yield f"c{conversation_id}-{user_id}", turns


def conversations(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    study = Study.objects.filter(campaign=ctx.campaign).first()
    for conversation_id, turns in _turns(ctx):
        first, last = turns[0], turns[-1]
        history: list[dict[str, Any]] = []
        for t in turns:
            history.append({"turn": t.turn, "role": "user", "content": t.user_prompt})
            history.extend({k: v for k, v in m.items() if k != "message_id"} for m in t.models)
        followups = [t.judgment.payload.get("followup") or {} for t in turns]
        scores = followups[0].get("scores") or {}
        feedback = [f["feedback"] for f in followups if f.get("feedback")]
        started = first.judgment.leased_at or first.judgment.created_at
        seconds = round((last.judgment.created_at - started).total_seconds(), 2)
        yield {
            "conversation_id": conversation_id,
            "user_id": first.user_id,
            "included_in_balanced_subset": None,
            "generated_datetime": _when(last.judgment.created_at),
            "timing_duration_s": seconds,
            "timing_duration_mins": round(seconds / 60, 2),
            "conversation_type": first.conversation_type,
            "opening_prompt": first.opening_prompt,
            "conversation_turns": len({t.turn for t in turns}),
            "conversation_history": history,
            "performance_attributes": {a: _int(scores.get(a)) for a in ATTRIBUTES},
            "choice_attributes": {a: _int(scores.get(f"choice_{a}")) for a in ATTRIBUTES},
            "open_feedback": feedback[-1] if feedback else None,
            "system": first.system,
            "guidance": guidance_for(study=study, prism_type=first.prism_type) or None,
            "judgment_ids": [t.judgment.id for t in turns],
            "campaign": ctx.campaign.slug,
            "schema_version": SCHEMA_VERSION,
        }


def utterances(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    for conversation_id, turns in _turns(ctx):
        for t in turns:
            j = t.judgment
            for m in t.models:
                yield {
                    "utterance_id": f"ut{j.id}-{m['message_id']}",
                    "interaction_id": f"int{j.id}",
                    "conversation_id": conversation_id,
                    "user_id": t.user_id,
                    "turn": t.turn,
                    "within_turn_id": m["within_turn_id"],
                    "included_in_balanced_subset": None,
                    "conversation_type": t.conversation_type,
                    "user_prompt": t.user_prompt,
                    "model_response": m["content"],
                    "model_name": m["model_name"],
                    "model_provider": m["model_provider"],
                    "score": m["score"],
                    "if_chosen": m["if_chosen"],
                    "system": t.system,
                    "judgment_id": j.id,
                    "message_id": m["message_id"],
                    "campaign": ctx.campaign.slug,
                    "schema_version": SCHEMA_VERSION,
                }


# --- schemas ----------------------------------------------------------------------------------

IDENTITY_TYPE = pa.struct([(k, pa.string()) for k in IDENTITY])
SURVEY_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("user_id", pa.string()),
    ("survey_only", pa.bool_()),
    ("num_completed_conversations", pa.int64()),
    *[(k, pa.string()) for k in TEXT_ANSWERS],
    ("religion", IDENTITY_TYPE),
    ("ethnicity", IDENTITY_TYPE),
    ("location", pa.struct([(k, pa.string()) for k in LOCATION])),
    (
        "lm_usecases",
        pa.struct([*[(k, pa.int64()) for k in USECASES], ("other_text", pa.string())]),
    ),
    (
        "stated_prefs",
        pa.struct([*[(k, pa.int64()) for k in STATED_PREFS], ("other_text", pa.string())]),
    ),
    ("order_lm_usecases", pa.struct([(k, pa.int64()) for k in USECASES])),
    ("order_stated_prefs", pa.struct([(k, pa.int64()) for k in STATED_PREFS])),
    ("generated_datetime", pa.string()),
    ("timing_duration_s", pa.float64()),
    ("timing_duration_mins", pa.float64()),
    ("included_in_US_REP", pa.bool_()),
    ("included_in_UK_REP", pa.bool_()),
    ("included_in_balanced_subset", pa.bool_()),
    ("profile_version", pa.int64()),
    ("consent_version", pa.string()),
    ("consented_at", pa.string()),
    ("campaign", pa.string()),
    ("schema_version", pa.string()),
]
HISTORY = pa.struct(
    [
        ("turn", pa.int64()),
        ("role", pa.string()),
        ("content", pa.string()),
        ("model_provider", pa.string()),
        ("model_name", pa.string()),
        ("score", pa.float64()),
        ("if_chosen", pa.bool_()),
        ("within_turn_id", pa.int64()),
    ]
)
ATTRIBUTE_SCORES = pa.struct([(a, pa.int64()) for a in ATTRIBUTES])
CONVERSATION_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("conversation_id", pa.string()),
    ("user_id", pa.string()),
    ("included_in_balanced_subset", pa.bool_()),
    ("generated_datetime", pa.string()),
    ("timing_duration_s", pa.float64()),
    ("timing_duration_mins", pa.float64()),
    ("conversation_type", pa.string()),
    ("opening_prompt", pa.string()),
    ("conversation_turns", pa.int64()),
    ("conversation_history", pa.list_(HISTORY)),
    ("performance_attributes", ATTRIBUTE_SCORES),
    ("choice_attributes", ATTRIBUTE_SCORES),
    ("open_feedback", pa.string()),
    ("system", pa.string()),
    ("guidance", pa.string()),
    ("judgment_ids", pa.list_(pa.int64())),
    ("campaign", pa.string()),
    ("schema_version", pa.string()),
]
UTTERANCE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("utterance_id", pa.string()),
    ("interaction_id", pa.string()),
    ("conversation_id", pa.string()),
    ("user_id", pa.string()),
    ("turn", pa.int64()),
    ("within_turn_id", pa.int64()),
    ("included_in_balanced_subset", pa.bool_()),
    ("conversation_type", pa.string()),
    ("user_prompt", pa.string()),
    ("model_response", pa.string()),
    ("model_name", pa.string()),
    ("model_provider", pa.string()),
    ("score", pa.float64()),
    ("if_chosen", pa.bool_()),
    ("system", pa.string()),
    ("judgment_id", pa.int64()),
    ("message_id", pa.int64()),
    ("campaign", pa.string()),
    ("schema_version", pa.string()),
]


def _schema(columns: list[tuple[str, pa.DataType]]) -> Any:
    return lambda options: arrow_schema(*columns)


def _conversation_count(ctx: ExportContext) -> int:
    return ctx.campaign.conversations.count()


FORMAT = Format(
    name="prism",
    version=SCHEMA_VERSION,
    kinds=KINDS,
    check=rating_attribute,
    summary="Survey, conversations and utterances tables as the PRISM dataset publishes them.",
    tables={
        "survey": Table(
            rows=survey, schema=_schema(SURVEY_COLUMNS), size=lambda ctx: _participants(ctx).count()
        ),
        "conversations": Table(
            rows=conversations,
            schema=_schema(CONVERSATION_COLUMNS),
            size=_conversation_count,
            needs=KINDS,
        ),
        "utterances": Table(
            rows=utterances,
            schema=_schema(UTTERANCE_COLUMNS),
            size=_conversation_count,
            needs=KINDS,
        ),
    },
    options=frozenset({"rating_attribute"}),
    published="the PRISM alignment dataset (HannahRoseKirk/prism-alignment)",
    differences=DIFFERENCES,
    tags=("human-feedback", "ratings", "preferences", "survey", "prism"),
    task_categories=("text-generation",),
)
