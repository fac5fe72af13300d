"""A kind's settings as form fields on the setup page: each plain setting (question, ties,
strength, reasons, ...) a field, and each list (attributes, labels) a table with a row per
item and a blank row to add one. The kind still checks everything (annotation/kinds), and
its error's path (`settings.attributes[1].scale.points`) is shown under the field it names
(`attributes-1-points`). What the fields do not show (a rating's followup) stays in the
JSON, which experts may edit instead."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from annotation.kinds.base import RATIONALE

# Settings with a fixed set of values, shown as a select: (value, label).
CHOICES: dict[str, list[tuple[Any, str]]] = {
    "reason": [(r, r) for r in RATIONALE],
    "role": [("assistant", "as the assistant"), ("user", "as the user (a prompt)")],
    "strength_levels": [(0, "no strength asked"), (2, "5-point"), (3, "7-point")],
}
LABELS = {
    "question": "Question shown above the task",
    "strength_levels": "How much better (strength)",
    "allow_tie": "Allow a tie",
    "allow_both_bad": "Allow “both are bad”",
    "allow_ties": "Allow ties in a ranking",
    "reason": "Reason",
    "max_candidates": "Most responses per task",
    "allow_positive": "Allow thumbs up (off: collect negatives only)",
    "min_chars": "Fewest characters",
    "spans": "May mark spans of the response",
    "role": "The annotator writes",
}
# The lists shown as tables, and their columns per kind: (column, label).
ROW_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "pairwise": [("name", "Attribute"), ("description", "Description")],
    "rating": [
        ("name", "Attribute"),
        ("description", "Description"),
        ("type", "Scale"),
        ("points", "Points (comma-separated, lowest first)"),
        ("min", "Min"),
        ("max", "Max"),
        ("step", "Step"),
        ("rationale", "Rationale"),
    ],
    "label": [
        ("name", "Label"),
        ("type", "Type"),
        ("description", "Description"),
        ("points", "Points (Likert, comma-separated)"),
    ],
}
ROW_LIST = {"pairwise": "attributes", "rating": "attributes", "label": "labels"}
ROW_CHOICES = {
    "rating": {"type": ["likert", "slider"], "rationale": list(RATIONALE)},
    "label": {"type": ["flag", "likert"]},
}


@dataclass
class Field:
    name: str  # the setting; the form field is `s-<name>`
    label: str
    kind: str  # bool | int | text | choice
    value: Any
    choices: list[tuple[Any, str]] = field(default_factory=list)
    error: str = ""

    @property
    def input_name(self) -> str:
        return f"s-{self.name}"


@dataclass
class Cell:
    input_name: str  # attributes-1-points
    column: str
    value: Any
    error: str = ""
    choices: list[str] = field(default_factory=list)


@dataclass
class Rows:
    setting: str  # attributes | labels
    columns: list[tuple[str, str]]
    rows: list[list[Cell]]


def fields_for(
    kind: str, settings: dict[str, Any], defaults: dict[str, Any], errors: dict[str, str]
) -> list[Field]:
    """The plain settings of the kind (their types from the kind's defaults), with values
    from `settings` and errors by form field."""
    out = []
    for name, default in defaults.items():
        value = settings.get(name, default)
        label = LABELS.get(name, name.replace("_", " "))
        error = errors.get(f"s-{name}", "")
        if name in CHOICES:
            out.append(Field(name, label, "choice", value, CHOICES[name], error))
        elif isinstance(default, bool):
            out.append(Field(name, label, "bool", value, error=error))
        elif isinstance(default, int):
            out.append(Field(name, label, "int", value, error=error))
        elif isinstance(default, str):
            out.append(Field(name, label, "text", value, error=error))
    return out


def _row(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    scale = item.get("scale") or {}
    row = {"name": item.get("name", ""), "description": item.get("description", "")}
    if kind == "rating":
        row |= {
            "type": scale.get("type", "likert"),
            "points": ", ".join(scale.get("points", [])),
            "min": f"{scale['min']:g}" if "min" in scale else "",
            "max": f"{scale['max']:g}" if scale.get("type") == "slider" else "",
            "step": f"{scale['step']:g}" if scale.get("type") == "slider" else "",
            "rationale": item.get("rationale", "off"),
        }
    elif kind == "label":
        row |= {"type": item.get("type", "flag"), "points": ", ".join(scale.get("points", []))}
    return row


def rows_for(kind: str, settings: dict[str, Any], errors: dict[str, str]) -> Rows | None:
    if kind not in ROW_LIST:
        return None
    setting = ROW_LIST[kind]
    items = settings.get(setting) or []
    blank = {c: "" for c, _ in ROW_COLUMNS[kind]}
    choices = ROW_CHOICES.get(kind, {})
    rows = [_row(kind, i) for i in items if isinstance(i, dict)] + [blank]
    return Rows(
        setting=setting,
        columns=ROW_COLUMNS[kind],
        rows=[
            [
                Cell(
                    f"{setting}-{n}-{c}",
                    c,
                    row.get(c, ""),
                    errors.get(f"{setting}-{n}-{c}", ""),
                    choices.get(c, []),
                )
                for c, _ in ROW_COLUMNS[kind]
            ]
            for n, row in enumerate(rows)
        ],
    )


def _number(raw: str) -> Any:
    """A typed number as JSON would hold it; text that is none stays text, which the kind
    then refuses by name."""
    try:
        value = float(raw)
    except ValueError:
        return raw
    return int(value) if value.is_integer() else value


def settings_from_form(
    kind: str, form: Any, base: dict[str, Any], defaults: dict[str, Any]
) -> dict[str, Any]:
    """The settings the fields say, over `base` (what the fields do not show is kept)."""
    out = dict(base)
    for f in fields_for(kind, base, defaults, {}):
        raw = form.get(f"s-{f.name}")
        if f.kind == "bool":
            out[f.name] = raw == "on"
        elif raw is None:
            continue
        elif f.kind == "int" or (f.kind == "choice" and isinstance(f.value, int)):
            out[f.name] = _number(raw.strip())
        else:
            out[f.name] = raw
    if kind in ROW_LIST:
        out[ROW_LIST[kind]] = _items_from_form(kind, form, base.get(ROW_LIST[kind]) or [])
    return out


def _items_from_form(kind: str, form: Any, before: list[Any]) -> list[dict[str, Any]]:
    items = []
    n = 0
    while f"{ROW_LIST[kind]}-{n}-name" in form:
        row = {c: form.get(f"{ROW_LIST[kind]}-{n}-{c}", "").strip() for c, _ in ROW_COLUMNS[kind]}
        n += 1
        if not any(v for c, v in row.items() if c not in ("type", "rationale")):
            continue  # the blank row, or one emptied to remove it
        item: dict[str, Any] = {"name": row["name"], "description": row["description"]}
        points = [p.strip() for p in row.get("points", "").split(",") if p.strip()]
        if kind == "rating":
            scale: dict[str, Any] = {"type": row["type"] or "likert"}
            if scale["type"] == "likert":
                scale["points"] = points
                if row["min"]:
                    scale["min"] = _number(row["min"])
            else:
                for bound in ("min", "max", "step"):
                    if row[bound]:
                        scale[bound] = _number(row[bound])
            item |= {"scale": scale, "rationale": row["rationale"] or "off"}
        elif kind == "label":
            item["type"] = row["type"] or "flag"
            if item["type"] == "likert":
                item["scale"] = {"type": "likert", "points": points or ["1", "2", "3", "4", "5"]}
        items.append(item)
    return items


_PATH = re.compile(r"settings\.(\w+)(?:\[(\d+)\](?:\.scale)?(?:\.(\w+))?)?")


def field_of(kind: str, path: str | None) -> str | None:
    """The form field a kind's error names: settings.question -> s-question;
    settings.attributes[1].scale.points -> attributes-1-points."""
    match = _PATH.match(path or "")
    if match is None:
        return None
    setting, index, part = match.groups()
    if index is None:
        return f"s-{setting}" if setting != ROW_LIST.get(kind) else f"{setting}-0-name"
    columns = [c for c, _ in ROW_COLUMNS.get(kind, [])]
    column = part if part in columns else "points" if part == "scale" else "name"
    return f"{setting}-{index}-{column}"
