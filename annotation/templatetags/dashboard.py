"""Number formats of the dashboard: shares as percentages, a dash for what is not known."""

from typing import Any

from django import template

register = template.Library()


@register.filter
def pct(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{float(value):.{int(digits)}f}"


@register.filter
def share(value: Any) -> str:
    """A Share as "73% of 41", or a dash when nothing was measured."""
    if value is None or value.value is None:
        return "—"
    return f"{value.value * 100:.0f}% of {value.n}"
