"""A campaign as code: the spec's format, and the parsing boundary for a spec's text.

One document (YAML or JSON) holds everything a campaign is configured by: its kind and the
kind's settings, instructions, overlap, lease, routing, models and their sampling, tree rules,
review stage, live chat, and its study (consent, survey, quotas, eligibility, qualification).
`manage.py campaign apply`, `POST /api/v1/campaigns/`, `PUT /api/v1/campaigns/{id}/` and the
dashboard's *New from spec* all read it through `spec_parse`; `selectors.campaign_spec` writes
it (docs/campaign-spec.md).

This module checks the spec's shape: which keys exist and the type of each value, so an
unknown key or a string where a number belongs is refused naming its path (`study.survey[2]`).
The rules (ranges, the kind's settings, quotas...) stay with the services that keep them, and
their errors name the same paths (`settings.attributes[2].scale`).

Input from outside passes webapp.untrusted: JSON through json_parse; YAML through a loader
that refuses anchors and aliases (a few lines of aliases expand to billions of nodes) and any
value JSON could not hold (dates, sets, binary, non-text keys), then through value_check.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from annotation.errors import RuleError
from annotation.models import Campaign, Study
from generation.models import LanguageModel
from webapp.untrusted import MAX_INT_DIGITS, Untrusted, json_parse, value_check

SPEC_VERSION: Literal[1] = 1
# A spec is a page of settings; a megabyte is far past any real one.
MAX_SPEC_BYTES = 1_000_000


def _default(model: type[Any], field: str) -> Any:
    """A field's default, read from the model that keeps it (one place for each default)."""
    return model._meta.get_field(field).get_default()


class _Shape(BaseModel):
    # Strict: "3" is not a number and 3.0 not a whole number; unknown keys are refused.
    model_config = ConfigDict(extra="forbid", strict=True)


class ModelSpec(_Shape):
    """A generating model the campaign uses, registered under its name if it is new."""

    name: str = Field(min_length=1, max_length=200)
    backend: str = Field(
        default=LanguageModel.Backend.TRANSFORMERS,
        json_schema_extra={"enum": list[Any](LanguageModel.Backend.values)},
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Backend settings (docs/generation.md)."
    )
    sampling: dict[str, Any] = Field(
        default_factory=dict,
        description="Default sampling parameters: temperature, top_p, max_new_tokens, seed, stop.",
    )


class StudySpec(_Shape):
    """How people join a campaign run as a study (docs/studies.md)."""

    signup_open: bool = _default(Study, "signup_open")
    crowd_links_open: bool = _default(Study, "crowd_links_open")
    participant_param: str = _default(Study, "participant_param")
    study_param: str = _default(Study, "study_param")
    session_param: str = _default(Study, "session_param")
    tasks_per_participant: int = _default(Study, "tasks_per_participant")
    completion_code: str = _default(Study, "completion_code")
    completion_url: str = _default(Study, "completion_url")
    consent_text: str = Field(default="", description="Markdown; empty = no consent step.")
    survey: list[str] = Field(
        default_factory=list, description="The PRISM survey questions asked, by name."
    )
    eligibility: dict[str, Any] = Field(
        default_factory=dict, description="Allowed answers per survey question."
    )
    quotas: dict[str, Any] = Field(default_factory=dict)
    qualification: dict[str, Any] = Field(
        default_factory=dict, description="instructions, pass_mark and items."
    )
    guidance: dict[str, Any] = Field(
        default_factory=dict, description="Text per conversation type."
    )


class CampaignSpec(_Shape):
    """Everything a campaign is configured by. Absent keys take their defaults."""

    # The format's version (an enum, not a const: OpenAPI 3.0 has no const).
    version: Annotated[
        Literal[1], WithJsonSchema({"type": "integer", "enum": [SPEC_VERSION], "default": 1})
    ] = SPEC_VERSION
    name: str
    slug: str = Field(
        default="",
        description="The campaign's stable name: apply updates the campaign that has it.",
    )
    description: str = ""
    instructions: str = Field(default="", description="Markdown, shown on every task.")
    # The choices are checked where they are kept (annotation.kinds, the model's choices), and
    # only listed here for the JSON schema.
    task_kind: str = Field(
        default=_default(Campaign, "task_kind"),
        json_schema_extra={"enum": list[Any](Campaign.Kind.values)},
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="The kind's settings, checked by the kind."
    )
    overlap: int = _default(Campaign, "overlap")
    lease_seconds: int = _default(Campaign, "lease_seconds")
    routing: str = Field(
        default=_default(Campaign, "routing"),
        json_schema_extra={"enum": list[Any](Campaign.Routing.values)},
    )
    repeat_share: float = _default(Campaign, "repeat_share")
    is_public: bool = _default(Campaign, "is_public")
    responses_per_prompt: int = _default(Campaign, "responses_per_prompt")
    generation_buffer: int = _default(Campaign, "generation_buffer")
    models: list[ModelSpec] = Field(default_factory=list)
    live_first_replies: int = _default(Campaign, "live_first_replies")
    live_later_replies: int = _default(Campaign, "live_later_replies")
    live_max_turns: int = _default(Campaign, "live_max_turns")
    tree: dict[str, Any] = Field(
        default_factory=dict, description="Rules of growing message trees (docs/trees.md)."
    )
    review_stage: bool = _default(Campaign, "review_stage")
    media_kinds: list[str] = Field(default_factory=list)
    # null = no study; shown in the schema as the object it is when there is one (OpenAPI 3.0
    # has no null type).
    study: StudySpec | SkipJsonSchema[None] = None


def path_of(loc: tuple[int | str, ...]) -> str:
    """("settings", "attributes", 2, "scale") -> settings.attributes[2].scale"""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required",
}


def spec_error(e: ValidationError) -> RuleError:
    """The first of pydantic's errors as a RuleError naming its path."""
    first = e.errors()[0]
    loc = tuple(p for p in first["loc"] if p != "StudySpec")
    path = path_of(loc)
    message = _MESSAGES.get(first["type"], first["msg"][:1].lower() + first["msg"][1:])
    return RuleError(f"{path}: {message}." if path else f"{message}.", field=path or None)


def spec_check(raw: Any) -> CampaignSpec:
    """A parsed spec (a dict from JSON, YAML or a Python caller), checked for its shape."""
    if not isinstance(raw, dict):
        raise RuleError("A campaign spec is a mapping of keys (name, task_kind, settings, ...).")
    value_check(raw)
    try:
        return CampaignSpec.model_validate(raw)
    except ValidationError as e:
        raise spec_error(e) from None


def study_check(raw: Any) -> StudySpec:
    """The `study` part alone (the API's study settings), checked for its shape."""
    if not isinstance(raw, dict):
        raise RuleError("Study settings are a mapping of keys (consent_text, survey, ...).")
    value_check(raw, field="study")
    try:
        return StudySpec.model_validate(raw)
    except ValidationError as e:
        err = spec_error(e)
        raise RuleError(
            f"study.{err.message}", field=f"study.{err.field}" if err.field else "study"
        ) from None


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors, aliases or merge keys, and timestamps left as text."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise Untrusted(
                f"YAML aliases (*{event.anchor}) are not allowed in a spec "
                f"(line {event.start_mark.line + 1}); write the value out.",
                code="parse_error",
            )
        return super().compose_node(parent, index)


# A date stays the text it was written as; JSON has no dates.
_NoAliasLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """An integer of at most MAX_INT_DIGITS digits (a longer one is past what int() converts,
    and past every integer Agora keeps)."""
    digits = sum(c.isdigit() for c in str(node.value))
    if digits > MAX_INT_DIGITS:
        raise Untrusted(
            f"A number has more than {MAX_INT_DIGITS} digits (line {node.start_mark.line + 1}).",
            code="too_big",
        )
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_NoAliasLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)


def _json_like(value: Any, path: str = "") -> None:
    """Refuse what YAML can hold and JSON cannot (sets, binary, keys that are not text)."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise Untrusted(
                        f"{where or 'spec'}: the key {key!r} must be text (quote it).",
                        field=where or None,
                    )
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
        elif not (item is None or isinstance(item, str | bool | int | float)):
            raise Untrusted(
                f"{where or 'spec'}: a {type(item).__name__} is not a value a spec holds.",
                field=where or None,
            )


def spec_parse(text: str | bytes) -> CampaignSpec:
    """A spec's text (JSON, or YAML), parsed through the untrusted boundary and checked."""
    if len(text) > MAX_SPEC_BYTES:
        raise Untrusted(f"A spec is at most {MAX_SPEC_BYTES} bytes.", code="too_large")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise Untrusted("A spec must be UTF-8 text.", code="parse_error") from None
    if text.lstrip().startswith("{"):
        return spec_check(json_parse(text))
    try:
        raw = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506  - a safe loader, no aliases
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(e, "problem", None) or str(e)
        raise Untrusted(f"Not valid YAML: {problem}{line}.", code="parse_error") from None
    except RecursionError:
        raise Untrusted("The spec is nested too deep.", code="too_deep") from None
    _json_like(raw)
    return spec_check(raw)


class _BlockDumper(yaml.SafeDumper):
    """Text of several lines (instructions, consent) as a readable block."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def spec_yaml(spec: dict[str, Any]) -> str:
    return yaml.dump(spec, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)
