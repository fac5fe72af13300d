"""Reading prompt files (JSON Lines or CSV) into checked rows, with an error per bad line.

A JSONL line:
    {"id": "p1", "prompt": "text" | [{"role": ..., "content": ...}, ...],
     "responses": ["text", {"text": "...", "model": "name"}, ...], "metadata": {...},
     "images": ["<base64 or data URL>", {"data": "<base64>", "name": "cat.png"}, ...],
     "audio": [...], "video": [...],
     "reference": {"caption": "...", "answer": "...", "documents": ["...", ...]},
     "gold": {"outcome": "preferred", "preferred": 1}}
`images` (and `audio` / `video` where the campaign accepts them) are files the prompt's last
message carries; `reference` holds facts shown to the annotator beside the task (docs/trees.md);
`gold` is the known right answer of the line's tasks, with responses by their place in
`responses` (0 the first): pairwise `{"outcome": "preferred", "preferred": 1}` or
`{"outcome": "tie"}`, ranking `{"ranking": [2, 0, 1]}`, binary `{"label": true}`
(docs/quality.md). In CSV, a `gold` column holds that object as JSON.
A CSV file has a `prompt` column, optional `id` and `system` columns, and pairs of
`response_N` / `model_N` columns (or `response_a` / `model_a`, `response_b` / ...).
Other keys or columns are kept in the conversation's metadata.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from annotation.attachments import CheckedFile, attachment_check, base64_decode
from annotation.errors import RuleError
from generation.models import LanguageModel
from webapp.untrusted import MAX_STRING_CHARS, Untrusted, is_blank, json_parse, value_check

MAX_TEXT_CHARS = 100_000
MAX_MODEL_NAME: int = LanguageModel._meta.get_field("name").max_length or 200
MAX_RESPONSES = 16
MAX_CONTEXT_MESSAGES = 200
ROLES = ("system", "user", "assistant")
PRISM_TYPES = ("unguided", "values_guided", "controversy_guided")


@dataclass
class PromptRow:
    line: int
    external_id: str
    messages: list[dict[str, str]]
    responses: list[dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)
    files: list[CheckedFile] = field(default_factory=list)
    reference: dict[str, Any] | None = None
    # PRISM's conversation type (Conversation.PrismType), "" for none.
    prism_type: str = ""
    # The known right answer, responses by place (checked by the campaign's kind on import).
    gold: Any = None


@dataclass
class LineError:
    line: int
    message: str


class _Bad(Exception):
    pass


def _max_string() -> int:
    """The longest string a line may hold: a file given as base64 text is the longest."""
    return max(MAX_STRING_CHARS, settings.AGORA_ATTACHMENT_MAX_BYTES * 4 // 3 + 1024)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or is_blank(value):
        raise _Bad(f"{what} must be non-empty text")
    if len(value) > MAX_TEXT_CHARS:
        raise _Bad(f"{what} is longer than {MAX_TEXT_CHARS} characters")
    return value


def _messages(prompt: Any, last_role: str = "user") -> list[dict[str, str]]:
    if isinstance(prompt, str):
        if last_role != "user":
            raise _Bad(f"the last message of prompt must have the role {last_role}")
        return [{"role": "user", "content": _text(prompt, "prompt")}]
    if not isinstance(prompt, list) or not prompt:
        raise _Bad("prompt must be text or a non-empty list of messages")
    if len(prompt) > MAX_CONTEXT_MESSAGES:
        raise _Bad(f"prompt has more than {MAX_CONTEXT_MESSAGES} messages")
    out = []
    for i, m in enumerate(prompt):
        if not isinstance(m, dict):
            raise _Bad(f"prompt[{i}] must be an object with role and content")
        role = m.get("role")
        if role not in ROLES:
            raise _Bad(f"prompt[{i}].role must be one of {', '.join(ROLES)}")
        out.append({"role": role, "content": _text(m.get("content"), f"prompt[{i}].content")})
    if out[-1]["role"] != last_role:
        raise _Bad(f"the last message of prompt must have the role {last_role}")
    return out


def _responses(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _Bad("responses must be a list")
    if len(raw) > MAX_RESPONSES:
        raise _Bad(f"more than {MAX_RESPONSES} responses")
    out: list[dict[str, Any]] = []
    for i, r in enumerate(raw):
        if isinstance(r, str):
            out.append({"text": _text(r, f"responses[{i}]"), "model": None, "metadata": {}})
            continue
        if not isinstance(r, dict):
            raise _Bad(f"responses[{i}] must be text or an object with text")
        text = r.get("text", r.get("content"))
        model = r.get("model")
        if model is not None and (not isinstance(model, str) or is_blank(model)):
            raise _Bad(f"responses[{i}].model must be a model name")
        if model is not None and len(model) > MAX_MODEL_NAME:
            raise _Bad(f"responses[{i}].model is longer than {MAX_MODEL_NAME} characters")
        extra = {k: v for k, v in r.items() if k not in ("text", "content", "model")}
        out.append({"text": _text(text, f"responses[{i}].text"), "model": model, "metadata": extra})
    return out


def _external_id(raw: Any) -> str:
    if raw is None or raw == "":
        return ""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _Bad("id must be text or a number")
    value = str(raw)
    if len(value) > 200:
        raise _Bad("id is longer than 200 characters")
    return value


MAX_FILES = 16
MEDIA_FIELDS = {"images": "image", "audio": "audio", "video": "video"}
REFERENCE_KEYS = ("caption", "answer", "documents")


def _files(obj: dict[str, Any], media: tuple[str, ...]) -> list[CheckedFile]:
    out = []
    for key, kind in MEDIA_FIELDS.items():
        raw = obj.get(key)
        if raw is None:
            continue
        if not isinstance(raw, list) or len(raw) > MAX_FILES:
            raise _Bad(f"{key} must be a list of at most {MAX_FILES} files")
        for i, item in enumerate(raw):
            f = f"{key}[{i}]"
            name = ""
            if isinstance(item, dict):
                name = item.get("name") or ""
                if not isinstance(name, str):
                    raise _Bad(f"{f}.name must be text")
                item = item.get("data")
            try:
                data = base64_decode(item, f)
                out.append(attachment_check(data, kind=kind, name=name, allowed=media, field=f))
            except RuleError as e:
                raise _Bad(e.message) from None
    return out


def _reference(raw: Any) -> dict[str, Any] | None:
    """Facts for the judgment: a caption, a ground-truth answer, retrieved documents."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise _Bad("reference must be an object with caption, answer or documents")
    unknown = sorted(set(raw) - set(REFERENCE_KEYS))
    if unknown:
        raise _Bad(f"reference.{unknown[0]} is not a reference field (caption, answer, documents)")
    out: dict[str, Any] = {}
    for key in ("caption", "answer"):
        if key in raw:
            out[key] = _text(raw[key], f"reference.{key}")
    if "documents" in raw:
        docs = raw["documents"]
        if not isinstance(docs, list) or len(docs) > 50:
            raise _Bad("reference.documents must be a list of at most 50 documents")
        out["documents"] = []
        for i, d in enumerate(docs):
            if isinstance(d, str):
                d = {"text": d}
            if not isinstance(d, dict):
                raise _Bad(f"reference.documents[{i}] must be text or an object with text")
            doc = {"text": _text(d.get("text"), f"reference.documents[{i}].text")}
            if d.get("title"):
                doc["title"] = _text(d["title"], f"reference.documents[{i}].title")
            out["documents"].append(doc)
    return out


def _row_from_object(
    line: int, obj: Any, last_role: str = "user", media: tuple[str, ...] = ("image",)
) -> PromptRow:
    if not isinstance(obj, dict):
        raise _Bad("each line must be a JSON object")
    try:
        # A CSV row, or a line a Python caller gave as a dict: checked as a JSONL line is, so
        # that what cannot be stored is refused here, by line, not at the INSERT.
        value_check(obj, max_string=_max_string())
    except Untrusted as e:
        raise _Bad(_line_message(e)) from None
    if "prompt" not in obj:
        raise _Bad("missing prompt")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _Bad("metadata must be an object")
    own = (
        "id", "prompt", "responses", "metadata", "reference", "conversation_type", "gold",
        *MEDIA_FIELDS,
    )  # fmt: skip
    extra = {k: v for k, v in obj.items() if k not in own}
    prism_type = obj.get("conversation_type") or ""
    if prism_type not in ("", *PRISM_TYPES):
        raise _Bad(f"conversation_type must be one of {', '.join(PRISM_TYPES)}")
    return PromptRow(
        line=line,
        external_id=_external_id(obj.get("id")),
        messages=_messages(obj["prompt"], last_role),
        responses=_responses(obj.get("responses")),
        metadata={**extra, **metadata},
        files=_files(obj, media),
        reference=_reference(obj.get("reference")),
        prism_type=prism_type,
        gold=_gold(obj.get("gold")),
    )


def _gold(raw: Any) -> Any:
    """The line's gold answer as given (a CSV cell holds it as JSON text); its meaning is the
    campaign kind's to check."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json_parse(raw, field="gold", max_depth=4)
        except Untrusted as e:
            raise _Bad(_line_message(e)) from None
    if not isinstance(raw, dict):
        raise _Bad('gold must be an object, e.g. {"outcome": "preferred", "preferred": 1}')
    return raw


def _line_message(e: Untrusted) -> str:
    """The boundary's sentence as a line's message: "prompt: text may not ..."."""
    return (e.message[:1].lower() + e.message[1:]).rstrip(".")


def _jsonl_objects(text: str) -> Iterator[tuple[int, Any]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield number, json_parse(raw, max_string=_max_string())
        except Untrusted as e:
            yield number, _Bad(_line_message(e))


_RESPONSE_COLUMN = re.compile(r"^response_(\w+)$")


def _csv_objects(text: str) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = reader.fieldnames
    except csv.Error as e:
        yield 1, _Bad(f"{_csv_error(e)}; the lines after it were not read")
        return
    if not header or "prompt" not in header:
        yield 1, _Bad("the CSV header must have a prompt column")
        return
    suffixes = [m.group(1) for c in header if (m := _RESPONSE_COLUMN.match(c))]
    known = {"id", "prompt", "system", "gold"} | {f"response_{s}" for s in suffixes}
    known |= {f"model_{s}" for s in suffixes}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            # A field past the csv module's limit: the reader cannot go on from the middle of
            # it. (DictReader's own line_num moves only past good rows; its reader's is here.)
            yield reader.reader.line_num, _Bad(f"{_csv_error(e)}; the lines after it were not read")
            return
        line = reader.line_num
        if None in row:
            yield line, _Bad("more fields than the header has columns")
            continue
        prompt: Any = row["prompt"]
        if row.get("system"):
            prompt = [
                {"role": "system", "content": row["system"]},
                {"role": "user", "content": prompt},
            ]
        responses = [
            {"text": row[f"response_{s}"], "model": row.get(f"model_{s}") or None}
            for s in suffixes
            if row.get(f"response_{s}")
        ]
        metadata = {k: v for k, v in row.items() if k not in known and v}
        yield (
            line,
            {
                "id": row.get("id"),
                "prompt": prompt,
                "responses": responses,
                "metadata": metadata,
                "gold": row.get("gold") or None,
            },
        )


def _csv_error(e: csv.Error) -> str:
    if "field larger than field limit" in str(e):
        return f"a field is longer than {csv.field_size_limit()} characters"
    return f"not valid CSV ({e})"


def prompt_rows_parse(
    content: str | bytes,
    *,
    fmt: str,
    max_lines: int,
    last_role: str = "user",
    max_bytes: int = 0,
    media: tuple[str, ...] = ("image",),
) -> tuple[list[PromptRow], list[LineError]]:
    """Every line checked: the good rows and an error for each bad line."""
    if max_bytes and len(content) > max_bytes:
        return [], [LineError(0, f"the file is larger than {max_bytes // 1_000_000} MB")]
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [], [LineError(1, "the file is not UTF-8 text")]
    objects: Iterable[tuple[int, Any]]
    if fmt == "jsonl":
        objects = _jsonl_objects(content)
    elif fmt == "csv":
        objects = _csv_objects(content)
    else:
        return [], [LineError(0, f"unknown format {fmt!r}: use jsonl or csv")]
    rows, errors = [], []
    for count, (line, obj) in enumerate(objects, start=1):
        if count > max_lines:
            errors.append(LineError(line, f"the file has more than {max_lines} prompts"))
            break
        try:
            if isinstance(obj, _Bad):
                raise obj
            rows.append(_row_from_object(line, obj, last_role, media))
        except _Bad as e:
            errors.append(LineError(line, str(e)))
    if not rows and not errors:
        errors.append(LineError(0, "the file has no prompts"))
    return rows, errors


def prompt_file_format(filename: str, content_type: str = "") -> str:
    name = filename.lower()
    if name.endswith(".csv") or "csv" in content_type:
        return "csv"
    return "jsonl"
