"""A study's eligibility, quotas and qualification as form fields on the study settings page
(the JSON stays for experts): each read into the JSON the study service checks, whose errors'
paths (`qualification.items[1].answer`, `eligibility.age`) are shown under the field named."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from annotation.survey import QUESTIONS

JSON_FIELDS = ("eligibility", "quotas", "qualification")
BLANK_ROWS = 1


@dataclass
class Eligibility:
    question: str
    choices: tuple[str, ...]  # empty: a country, typed one per line
    allowed: list[str]
    error: str = ""

    @property
    def text(self) -> str:
        return "\n".join(self.allowed)

    @property
    def label(self) -> str:
        return self.question.replace("_", " ").capitalize()


@dataclass
class Row:
    n: int
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    prefix: str = ""  # its fields' names: `quotas-0-` + the column


def _grouping_questions() -> list[str]:
    return [name for name, q in QUESTIONS.items() if q.groups]


def eligibility_fields(value: Any, errors: dict[str, str]) -> list[Eligibility]:
    value = value if isinstance(value, dict) else {}
    return [
        Eligibility(
            name,
            QUESTIONS[name].choices,
            [a for a in value.get(name, []) if isinstance(a, str)],
            errors.get(f"eligibility-{name}", ""),
        )
        for name in _grouping_questions()
    ]


def quota_rows(value: Any, errors: dict[str, str]) -> list[Row]:
    dims = (value or {}).get("dimensions", []) if isinstance(value, dict) else []
    rows = []
    for n, d in enumerate([*dims, *[{}] * BLANK_ROWS]):
        d = d if isinstance(d, dict) else {}
        targets = d.get("targets") if isinstance(d.get("targets"), dict) else {}
        rows.append(
            Row(
                n,
                {
                    "question": d.get("question", ""),
                    "unit": d.get("unit", "count"),
                    "participants": d.get("participants", ""),
                    "targets": "\n".join(f"{a} = {_shown(v)}" for a, v in (targets or {}).items()),
                },
                {k: errors.get(f"quotas-{n}-{k}", "") for k in ("question", "targets")},
                f"quotas-{n}-",
            )
        )
    return rows


def qualification_rows(value: Any, errors: dict[str, str]) -> list[Row]:
    items = (value or {}).get("items", []) if isinstance(value, dict) else []
    rows = []
    for n, item in enumerate([*items, *[{}] * BLANK_ROWS]):
        item = item if isinstance(item, dict) else {}
        answer = item.get("answer")
        rows.append(
            Row(
                n,
                {
                    "question": item.get("question", ""),
                    "options": "\n".join(str(o) for o in item.get("options", [])),
                    "answer": answer + 1 if isinstance(answer, int) else "",
                    "explanation": item.get("explanation", ""),
                    "attention_check": bool(item.get("attention_check")),
                },
                {k: errors.get(f"qualification-{n}-{k}", "") for k in ("question", "answer")},
                f"qualification-{n}-",
            )
        )
    return rows


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _number(raw: str) -> Any:
    try:
        value = float(raw)
    except ValueError:
        return raw  # refused by the service, naming it
    return int(value) if value.is_integer() else value


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in raw.splitlines() if line.strip()]


def from_form(form: Any) -> dict[str, Any]:
    """Eligibility, quotas and qualification as the fields say."""
    eligibility: dict[str, list[str]] = {}
    for name in _grouping_questions():
        allowed = form.getlist(f"eligibility-{name}")
        if not QUESTIONS[name].choices:
            allowed = _lines(form.get(f"eligibility-{name}", ""))
        if allowed:
            eligibility[name] = allowed
    dims = []
    n = 0
    while f"quotas-{n}-question" in form:
        question = form.get(f"quotas-{n}-question", "")
        targets_text = form.get(f"quotas-{n}-targets", "")
        participants = form.get(f"quotas-{n}-participants", "").strip()
        n += 1
        if not question and not targets_text.strip():
            continue
        targets = {}
        for line in _lines(targets_text):
            answer, _, amount = line.rpartition("=")
            targets[answer.strip() or line] = _number(amount.strip())
        dim: dict[str, Any] = {
            "question": question,
            "unit": form.get(f"quotas-{n - 1}-unit", "count"),
            "targets": targets,
        }
        if participants:
            dim["participants"] = _number(participants)
        dims.append(dim)
    quotas = {"steer": form.get("quotas-steer") == "on", "dimensions": dims} if dims else {}
    items = []
    n = 0
    while f"qualification-{n}-question" in form:
        p = f"qualification-{n}-"
        n += 1
        question, options = (
            form.get(p + "question", "").strip(),
            _lines(form.get(p + "options", "")),
        )
        if not question and not options:
            continue
        answer = _number(form.get(p + "answer", "").strip())
        item: dict[str, Any] = {
            "question": question,
            "options": options,
            "answer": answer - 1 if isinstance(answer, int) else answer,
        }
        if explanation := form.get(p + "explanation", "").strip():
            item["explanation"] = explanation
        if form.get(p + "attention_check") == "on":
            item["attention_check"] = True
        items.append(item)
    qualification: dict[str, Any] = {}
    instructions = form.get("qualification-instructions", "").strip()
    mark = form.get("qualification-pass_mark", "").strip()
    if items or instructions:
        qualification = {"instructions": instructions, "items": items}
        if mark:
            percent = _number(mark)
            qualification["pass_mark"] = percent / 100 if isinstance(percent, int | float) else mark
    return {"eligibility": eligibility, "quotas": quotas, "qualification": qualification}


_ITEM = re.compile(r"(qualification)\.items\[(\d+)\](?:\.(\w+))?|(eligibility)\.(\w+)")


def field_of(path: str | None, message: str) -> str | None:
    """The field a study error names: qualification.items[1].answer -> qualification-1-answer;
    eligibility.age -> eligibility-age; quota dimension n (in the message) -> quotas-(n-1)."""
    path = path or ""
    if path == "qualification.pass_mark":
        return "qualification-pass_mark"
    if match := _ITEM.match(path):
        if match.group(1):
            part = match.group(3) if match.group(3) == "answer" else "question"
            return f"qualification-{match.group(2)}-{part}"
        return f"eligibility-{match.group(5)}"
    if path == "quotas" and (dim := re.search(r"dimension (\d+)", message)):
        return f"quotas-{int(dim.group(1)) - 1}-targets"
    if path == "quotas" and (on := re.search(r"quota on '(\w+)'", message)):
        return f"quotas-question-{on.group(1)}"
    return None
