"""The exception hierarchy of first1000.

Every error a user can cause is a :class:`First1000Error` whose message says what is
wrong, where (file, column, rows or config key) and how to fix it. Messages never
contain participant IDs or row-level values: rows are reported by their row number as a
spreadsheet shows it (the header is row 1, the first data row is row 2).
"""

from __future__ import annotations


class First1000Error(Exception):
    """Base class of every error first1000 raises on purpose."""


class ConfigError(First1000Error):
    """The configuration (or a mapping file) is invalid."""


class InputTableError(First1000Error):
    """An input table cannot be read or breaks its schema."""


class ModelError(First1000Error):
    """A statistical model cannot be fitted on the given data."""


def format_rows(rows, limit: int = 10) -> str:
    """Format row numbers for a message: ``rows 3, 8, 12 (and 4 more)``."""
    rows = [int(r) for r in rows]
    head = ", ".join(str(r) for r in rows[:limit])
    more = f" (and {len(rows) - limit} more)" if len(rows) > limit else ""
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {head}{more}"
