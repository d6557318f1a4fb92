"""Declared unit conversions (never guessed).

A mapping rule states the unit its source column is in; this module converts it to the
unit of the harmonised variable. Only the conversions listed here exist: any other pair
is an error that names both units.
"""

from __future__ import annotations

import re

import pandas as pd

from first1000.errors import ConfigError

_FACTORS = {
    ("kg", "g"): 1000.0,
    ("g", "kg"): 0.001,
    ("weeks", "days"): 7.0,
    ("days", "weeks"): 1 / 7.0,
    ("months", "years"): 1 / 12.0,
    ("EUR/year", "EUR/month"): 1 / 12.0,
    ("EUR/month", "EUR/year"): 12.0,
    ("EUR/week", "EUR/month"): 52.0 / 12.0,
    ("ng/g", "pg/mg"): 1.0,  # 1 ng/g == 1 pg/mg
    ("mg/dL", "mg/L"): 10.0,
    ("mmol/L", "umol/L"): 1000.0,
}
#: Units whose values are parsed from text rather than multiplied.
_PARSED = {("weeks+days", "days")}


def conversion(source: str, target: str | None, where: str = ""):
    """Return a function converting a numeric/text Series from ``source`` to ``target``.

    A unit declared for a quantity without a unit (``target`` None) is an error: nothing
    could be converted, and a silently ignored unit hides a mistake in the mapping.
    """
    if source == target:
        return lambda s: s
    if target is None:
        raise ConfigError(
            f"{where + ': ' if where else ''}`{source}` is declared, but the harmonised variable has no unit in the "
            "data schema, so there is nothing to convert to. Remove `unit` (or give the variable a unit in the "
            "data schema).")
    if (source, target) in _PARSED:
        return parse_weeks_days
    if (source, target) in _FACTORS:
        factor = _FACTORS[(source, target)]
        return lambda s: s * factor
    known = sorted({u for pair in list(_FACTORS) + list(_PARSED) for u in pair if pair[1] == target})
    raise ConfigError(
        f"{where + ': ' if where else ''}no declared conversion from `{source}` to `{target}`. "
        f"Units first1000 converts to {target}: {', '.join(known) or 'none'}."
    )


_WEEKS_DAYS = re.compile(r"^\s*(\d{1,2})\s*\+\s*([0-6])\s*$")


def parse_weeks_days(values: pd.Series) -> pd.Series:
    """'39+4' (weeks+days) -> 277 days; anything else becomes NaN (reported by the caller)."""
    parts = values.astype("string").str.extract(_WEEKS_DAYS)
    return parts[0].astype(float) * 7 + parts[1].astype(float)
