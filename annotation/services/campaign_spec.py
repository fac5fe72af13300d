"""Applying a campaign spec (annotation.campaign_spec): create the campaign it describes, or
bring the campaign with its slug (or the one named) to it, all or nothing.

Each part goes through the service that keeps its rules, so a spec is held to exactly what
the dashboard's pages are: campaign_update (fields, the kind's settings), campaign_stages_set
(trees, review, media), the models below, study_configure (consent, survey, quotas,
eligibility, qualification). Their errors name the spec's path (`settings.attributes[2].scale`,
`study.quotas`), and one transaction holds them all: a refused spec leaves nothing changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.text import slugify

from annotation import selectors
from annotation.campaign_spec import (
    CampaignSpec,
    ModelSpec,
    StudySpec,
    spec_check,
    spec_parse,
    study_check,
)
from annotation.errors import Conflict, Forbidden, RuleError
from annotation.models import Campaign, Study, User
from annotation.services.campaign_admin import SLUG_MAX, campaign_setup_start, campaign_update
from annotation.services.campaign_stages import TREE_TASK_KIND, campaign_stages_set
from annotation.services.studies.setup import study_configure
from generation.backends import SamplingParams, settings_refused
from generation.models import LanguageModel
from generation.selectors import language_models_for

# A study service's field, as the spec names it.
STUDY_PATHS = {"questions": "survey", "consent": "consent_text"}


@dataclass(frozen=True)
class SpecApplied:
    campaign: Campaign
    created: bool


def spec_of(value: CampaignSpec | Mapping[str, Any] | str | bytes) -> CampaignSpec:
    """A spec from its text (JSON or YAML), a parsed mapping, or already checked."""
    if isinstance(value, CampaignSpec):
        return value
    if isinstance(value, str | bytes):
        return spec_parse(value)
    return spec_check(value)


def _with_path(e: RuleError, prefix: str = "") -> RuleError:
    """The error with its spec path in front of the message, of the same type and status; a
    study service's field goes under `study.` with the spec's name (questions -> survey)."""
    field = e.field or ""
    if prefix:
        head = re.match(r"[^.\[]*", field)
        name = head.group() if head else ""
        field = f"{prefix}.{STUDY_PATHS.get(name, name)}{field[len(name) :]}" if field else prefix
    message = e.message
    if field and not message.startswith(f"{field}:"):
        message = f"{field}: {message}"
    return type(e)(message, field=field or None, code=e.code)


def campaign_spec_apply(
    *,
    spec: CampaignSpec | Mapping[str, Any] | str | bytes,
    user: User | None,
    campaign: Campaign | None = None,
    create_only: bool = False,
) -> SpecApplied:
    """Apply a spec. With `campaign`: change that campaign (the spec may not rename its slug).
    Without: change the campaign with the spec's slug, or make a new one (with `create_only`,
    a taken slug is a Conflict), its admin `user`. `user` None is the operator (the CLI
    without --user): no access check. Absent keys take their defaults; a study cannot be
    taken away by a spec (participants joined it). Locks the campaign's row for the change."""
    checked = spec_of(spec)
    slug = checked.slug
    if slug and (slugify(slug) != slug or len(slug) > SLUG_MAX):
        raise RuleError(
            f"slug: lowercase letters, digits and hyphens, at most {SLUG_MAX} characters.",
            field="slug",
        )
    if checked.tree and checked.task_kind != TREE_TASK_KIND:
        raise RuleError(
            f"task_kind: a tree campaign's task kind is {TREE_TASK_KIND} (its other kinds' "
            "settings go in tree.kinds).",
            field="task_kind",
        )
    if campaign is None and slug:
        campaign = Campaign.objects.filter(slug=slug).first()
        if campaign is not None and create_only:
            raise Conflict(
                f"slug: a campaign with the slug {slug!r} exists; give the spec another slug.",
                field="slug",
                code="slug_taken",
            )
    elif campaign is not None and slug and slug != campaign.slug:
        raise Conflict(
            f"slug: this campaign's slug is {campaign.slug!r}; a spec cannot change it.",
            field="slug",
        )
    if (
        campaign is not None
        and user is not None
        and not selectors.campaigns_administered_by(user=user).filter(id=campaign.id).exists()
    ):
        raise Forbidden(
            f"slug: the campaign {campaign.slug!r} exists and only its admins may change it.",
            field="slug",
        )
    created = campaign is None
    with transaction.atomic():
        if campaign is None:
            if user is None:
                raise RuleError("A new campaign needs its admin (the CLI's --user).", field="user")
            try:
                campaign = campaign_setup_start(name=checked.name, slug=slug, created_by=user)
            except RuleError as e:
                raise _with_path(e) from None
        else:
            campaign = Campaign.objects.select_for_update().get(id=campaign.id)
        try:
            _apply(campaign, checked)
        except RuleError as e:
            raise _with_path(e) from None
        _study_apply(campaign, checked.study)
    campaign.refresh_from_db()
    return SpecApplied(campaign=campaign, created=created)


def _apply(campaign: Campaign, spec: CampaignSpec) -> None:
    campaign_update(
        campaign=campaign,
        name=spec.name,
        description=spec.description,
        instructions=spec.instructions,
        task_kind=spec.task_kind,
        settings=spec.settings,
        overlap=spec.overlap,
        lease_seconds=spec.lease_seconds,
        responses_per_prompt=spec.responses_per_prompt,
        routing=spec.routing,
        repeat_share=spec.repeat_share,
        is_public=spec.is_public,
        live_first_replies=spec.live_first_replies,
        live_later_replies=spec.live_later_replies,
        live_max_turns=spec.live_max_turns,
        generation_buffer=spec.generation_buffer,
    )
    campaign_stages_set(
        campaign=campaign,
        tree=spec.tree,
        review_stage=spec.review_stage,
        media_kinds=spec.media_kinds,
    )
    campaign.refresh_from_db()
    campaign.language_models.set(_models(campaign, spec.models))


def _models(campaign: Campaign, specs: Sequence[ModelSpec]) -> list[LanguageModel]:
    """The spec's models, registered where new. A registered model is the same model when it
    has the spec's backend, settings and sampling; one only this campaign uses is brought to
    the spec, one another campaign also uses is not changed from here (it is theirs too)."""
    chosen: list[LanguageModel] = []
    seen: set[str] = set()
    visible = language_models_for(campaign=campaign)
    for i, m in enumerate(specs):
        path = f"models[{i}]"
        if m.name in seen:
            raise RuleError(f"{m.name!r} appears twice.", field=f"{path}.name")
        seen.add(m.name)
        if m.backend not in LanguageModel.Backend.values:
            raise RuleError(
                f"backend must be one of {', '.join(LanguageModel.Backend.values)}.",
                field=f"{path}.backend",
            )
        if refused := settings_refused(m.settings):
            key, why = refused
            raise RuleError(f"refused: {why}.", field=f"{path}.settings.{key}")
        try:
            SamplingParams.from_dict(m.sampling)
        except (TypeError, ValueError) as e:
            raise RuleError(str(e).split(" (known")[0] + ".", field=f"{path}.sampling") from None
        model = LanguageModel.objects.filter(name=m.name).first()
        wanted = {"backend": m.backend, "settings": m.settings, "sampling_params": m.sampling}
        if model is None:
            model = LanguageModel.objects.create(name=m.name, **wanted)
        elif not visible.filter(id=model.id).exists():
            raise RuleError(
                "another campaign's model has this name; give this one another name.",
                field=f"{path}.name",
            )
        elif any(getattr(model, k) != v for k, v in wanted.items()):
            if model.campaigns.exclude(id=campaign.id).exists():
                raise Conflict(
                    f"the model {m.name!r} is registered with another backend, settings or "
                    "sampling, and other campaigns use it: give this one another name.",
                    field=path,
                    code="model_differs",
                )
            for k, v in wanted.items():
                setattr(model, k, v)
            model.save(update_fields=list(wanted))
        chosen.append(model)
    return chosen


def _study_apply(campaign: Campaign, spec: StudySpec | None) -> None:
    if spec is None:
        if Study.objects.filter(campaign=campaign).exists():
            raise Conflict(
                "study: this campaign is a study; a spec cannot take its study away "
                "(people joined by it). Keep the study key.",
                field="study",
                code="study_kept",
            )
        return
    fields = spec.model_dump()
    try:
        study_configure(
            campaign=campaign,
            consent_text=fields.pop("consent_text"),
            questions=fields.pop("survey"),
            quotas=fields.pop("quotas"),
            **fields,
        )
    except RuleError as e:
        raise _with_path(e, "study") from None


def study_spec_apply(*, campaign: Campaign, spec: StudySpec | Mapping[str, Any]) -> None:
    """The study part alone (the API's study settings): the campaign becomes a study, or its
    study's settings change. Absent keys take their defaults."""
    checked = spec if isinstance(spec, StudySpec) else study_check(spec)
    with transaction.atomic():
        _study_apply(campaign, checked)
