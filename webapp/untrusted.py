"""The one parsing boundary for what comes from outside: JSON text (request bodies, JSON typed
in a form, prompt files, export options) and numbers typed in a form field.

Whatever passes can be stored and walked: PostgreSQL holds no NUL in text, and no driver
encodes a lone surrogate (half of a UTF-16 pair, which a JSON `\\ud800` escape can carry) as
UTF-8; a value nested hundreds deep exhausts Python's stack in any code that walks it (the
JSON encoder that stores it among them); a 5,000-digit integer is past what int() converts;
NaN and Infinity are not JSON and jsonb refuses them. Each is refused here with `Untrusted`,
a RuleError naming the place (`payload.reason`, `metadata.tags[2]`): the API answers 400 in
its error shape, a page 422 under the field, a prompt file an error on the line, the CLI a
CommandError.

`json_parse` reads JSON text; `value_check` checks a value parsed elsewhere (a Python
caller's dict, a CSV row); `form_int` and `form_number` read a number typed in a form field,
ASCII digits only ("²" passes str.isdigit() and then fails int()).

Text that passes can still only look like something: `is_blank` and `visible_len` see text
made of zero-width and other invisible characters as the empty text it shows, and `skeleton`
is what a name looks like, so that a name of Cyrillic or Greek look-alikes ("\\u0430lice") is seen
as the name it imitates.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from annotation.errors import RuleError

# Agora's own JSON (payloads, settings, options) is a few levels deep; imported metadata may
# nest more, never this much.
MAX_DEPTH = 64
# Every 64-bit integer, signed or not, has at most 20 digits.
MAX_INT_DIGITS = 20
MAX_STRING_CHARS = 1_000_000
MAX_KEY_CHARS = 1_000
# A number typed in a form field: an id or a count, never longer than this.
MAX_FORM_DIGITS = 18
_INT_LIMIT = 10**MAX_INT_DIGITS

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ASCII_INT = re.compile(r"-?[0-9]+")
_ASCII_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


class Untrusted(RuleError):
    """Input that cannot be stored or walked as it is."""

    code = "invalid_input"


class _Refused:
    """What a JSON number became that is not kept: found by the walk, which names its place."""

    def __init__(self, reason: str):
        self.reason = reason


def _int(text: str) -> int | _Refused:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _Refused(f"a number has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _float(text: str) -> float | _Refused:
    number = float(text)
    if not math.isfinite(number):
        return _Refused("a number is too large")
    return number


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a number JSON allows")


def _key_label(key: Any) -> str:
    label = str(key).encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    return label if len(label) <= 40 else label[:40] + "..."


def _child(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    label = _key_label(key)
    return f"{path}.{label}" if path else label


def _text_problem(text: str, limit: int) -> str | None:
    if len(text) > limit:
        return f"text is longer than {limit} characters"
    if (found := _UNSTORABLE.search(text)) is not None:
        if found.group() == "\x00":
            return "text may not contain NUL (\\u0000) characters"
        return "text may not contain a lone surrogate (\\ud800 to \\udfff): it is not Unicode"
    return None


def _refuse(path: str, problem: str, code: str) -> Untrusted:
    message = f"{path}: {problem}." if path else f"{problem[0].upper()}{problem[1:]}."
    return Untrusted(message, field=path or None, code=code)


def value_check(
    value: Any,
    *,
    field: str = "",
    max_depth: int = MAX_DEPTH,
    max_string: int = MAX_STRING_CHARS,
) -> Any:
    """The value, if every string and key in it can be stored and it nests at most
    `max_depth` deep; else Untrusted naming the first place that cannot. Iterative: a value
    too deep for recursion is refused, not crashed on."""
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if (problem := _text_problem(item, max_string)) is not None:
                code = "nul_character" if "NUL" in problem else "invalid_text"
                raise _refuse(path, problem, code)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) >= _INT_LIMIT:
                raise _refuse(path, f"a number has more than {MAX_INT_DIGITS} digits", "too_big")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _refuse(path, "a number must be finite", "too_big")
        elif isinstance(item, _Refused):
            raise _refuse(path, item.reason, "too_big")
        elif isinstance(item, Mapping | list | tuple):
            if depth >= max_depth:
                raise _refuse(path, f"nested more than {max_depth} levels deep", "too_deep")
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if isinstance(key, str):
                        problem = _text_problem(key, MAX_KEY_CHARS)
                        if problem is not None:
                            raise _refuse(path, "a key: " + problem, "invalid_text")
                    stack.append((child, _child(path, key), depth + 1))
            else:
                stack.extend((child, _child(path, i), depth + 1) for i, child in enumerate(item))
    return value


def json_parse(
    text: str | bytes,
    *,
    field: str = "",
    max_depth: int = MAX_DEPTH,
    max_string: int = MAX_STRING_CHARS,
) -> Any:
    """JSON text from outside, parsed and checked (see value_check); Untrusted if it is not
    JSON, not UTF-8, or holds what cannot be stored."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _refuse(field, "not UTF-8 text", "parse_error") from None
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as e:
        raise _refuse(
            field, f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})", "parse_error"
        ) from None
    except RecursionError:
        # The parser's own stack ran out: far past max_depth.
        raise _refuse(field, f"nested more than {max_depth} levels deep", "too_deep") from None
    return value_check(value, field=field, max_depth=max_depth, max_string=max_string)


def form_int(raw: Any, *, signed: bool = False, max_digits: int = MAX_FORM_DIGITS) -> int | None:
    """A whole number typed in a form field or a query string: ASCII digits (and a leading
    minus where `signed`), at most `max_digits` of them; None for anything else."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not _ASCII_INT.fullmatch(text) or (text.startswith("-") and not signed):
        return None
    if len(text.lstrip("-")) > max_digits:
        return None
    return int(text)


def form_number(raw: Any, *, max_chars: int = 30) -> float | None:
    """A decimal number typed in a form field ("2.5", "1e3"): ASCII, finite, short; None for
    anything else ("nan", "inf", "1e999", "²")."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if len(text) > max_chars or not _ASCII_NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


# Characters that show nothing by themselves: format characters (zero-width space and
# joiners, bidi controls, the BOM, the soft hyphen), controls, separators, combining marks
# with nothing to sit on, and the letters that are drawn blank (Hangul fillers, braille blank).
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp", "Mn", "Me"})
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _invisible(char: str) -> bool:
    return (
        char.isspace()
        or char in _BLANK_LETTERS
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
    )


def visible_len(text: str) -> int:
    """How many characters of the text show (a zero-width space does not)."""
    if text.isascii():
        return sum(1 for c in text if c.isprintable() and not c.isspace())
    return sum(1 for c in text if not _invisible(c))


def is_blank(text: str) -> bool:
    """True for text that shows nothing: empty, spaces, zero-width and format characters."""
    return visible_len(text) == 0


# Letters of other scripts that pass for Latin ones, and the digits that pass for letters
# (after NFKC and case folding, so lowercase only): the part of Unicode's confusables
# (UTS #39) that a username can hold.
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "г": "r", "д": "a", "е": "e", "ё": "e", "з": "3", "і": "i",
        "ї": "i", "ј": "j", "к": "k", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "һ": "h", "ԛ": "q",
        "ԝ": "w", "ӏ": "l", "ү": "y", "ѵ": "v", "ь": "b",
        # Greek
        "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v",
        "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j", "ω": "w",
        # Armenian
        "օ": "o", "ս": "u", "հ": "h", "ո": "n", "ց": "g", "զ": "q",
        # Latin look-alikes and digits
        "ı": "i", "ɩ": "i", "ɡ": "g", "ɑ": "a", "ʏ": "y", "ℓ": "l", "ǀ": "l", "0": "o",
        "1": "l",
    }
)  # fmt: skip


def skeleton(text: str) -> str:
    """What a name looks like: NFKC, case folded, look-alikes as the letter they pass for,
    invisible characters dropped. Two names with one skeleton are one name to a reader."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_CONFUSABLES)
    return "".join(c for c in folded if not _invisible(c) or unicodedata.category(c) == "Mn")
