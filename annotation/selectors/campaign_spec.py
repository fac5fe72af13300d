"""A campaign's spec: everything it is configured by, as the document that makes it again
(annotation.campaign_spec has the format; services.campaign_spec applies one)."""

from __future__ import annotations

from typing import Any

from annotation.campaign_spec import CampaignSpec, ModelSpec, StudySpec
from annotation.errors import RuleError
from annotation.kinds import kind_for
from annotation.models import Campaign, Study
from annotation.survey import questions_clean


def _ordered(value: Any) -> Any:
    """A stored JSON value with its keys in order. PostgreSQL's jsonb keeps keys in its own
    order (shortest first), SQLite as written: sorted, a spec reads the same from both."""
    if isinstance(value, dict):
        return {k: _ordered(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def _kind_settings(campaign: Campaign) -> dict[str, Any]:
    """The kind's settings in the kind's own order, every default written out."""
    try:
        return kind_for(campaign.task_kind).settings_dict(campaign.settings)
    except RuleError:  # settings stored before the kind checked them: as they are
        return dict(_ordered(campaign.settings))


def study_spec_of(*, campaign: Campaign) -> StudySpec | None:
    study = Study.objects.filter(campaign=campaign).first()
    if study is None:
        return None
    return StudySpec(
        **{f: _ordered(getattr(study, f)) for f in Study.SETTINGS if f in StudySpec.model_fields},
        consent_text=study.consent_text,
        # In the catalogue's order, as the survey asks them (and as applying stores them).
        survey=questions_clean((campaign.survey or {}).get("questions", [])),
        quotas=_ordered(campaign.quotas or {}),
    )


def campaign_spec_of(*, campaign: Campaign) -> dict[str, Any]:
    """The campaign's spec as JSON would hold it, every key written out (defaults too), in
    the format's order; `study` only for a study."""
    models = [
        ModelSpec(
            name=m.name,
            backend=m.backend,
            settings=_ordered(m.settings),
            sampling=_ordered(m.sampling_params),
        )
        for m in campaign.language_models.order_by("name")
    ]
    spec = CampaignSpec.model_construct(
        name=campaign.name,
        slug=campaign.slug,
        description=campaign.description,
        instructions=campaign.instructions,
        task_kind=campaign.task_kind,
        settings=_kind_settings(campaign),
        overlap=campaign.overlap,
        lease_seconds=campaign.lease_seconds,
        routing=campaign.routing,
        repeat_share=campaign.repeat_share,
        is_public=campaign.is_public,
        responses_per_prompt=campaign.responses_per_prompt,
        generation_buffer=campaign.generation_buffer,
        models=models,
        live_first_replies=campaign.live_first_replies,
        live_later_replies=campaign.live_later_replies,
        live_max_turns=campaign.live_max_turns,
        tree=_ordered(campaign.tree or {}),
        review_stage=campaign.review_stage,
        media_kinds=list(campaign.media_kinds or []),
        study=study_spec_of(campaign=campaign),
    )
    out = spec.model_dump(mode="json")
    if out["study"] is None:
        del out["study"]
    return out
