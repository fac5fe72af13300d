"""`<id:...>` in URL patterns: a database id, at most 18 digits.

Django's `<int:...>` takes any length, and an id past 64 bits reaches the database and fails
there (SQLite: OverflowError; PostgreSQL: out of range), a 500. An `id` that long never
matches, so the answer is a plain 404. Every URL module imports this one first.
"""

from django.urls import register_converter


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))


register_converter(IdConverter, "id")
