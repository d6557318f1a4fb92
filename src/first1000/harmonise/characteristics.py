"""Table 1: cohort characteristics, overall and by SES tertile, per cohort.

Continuous variables: mean (SD); counts (integer variables such as parity): median [IQR];
binary: n (%) of 1; categorical: n (%) per level; and the missing values, n (%). Tertiles
of the SES index are formed within each cohort (T1 = lowest SES).

Disclosure control is the project's one rule set (:func:`first1000.privacy.protect`, with
``min_cell`` = ``privacy.min_cell_size``): every count of 1 to min_cell - 1 (a level, the
missing, a group's size, and the undisplayed number of participants with a value) is
protected, and the sums an attacker could use are declared: the levels (binary: its 1s and
0s) + missing = the group, and the three tertiles + the participants without an SES index
= overall (each cell, and the group sizes). A suppressed count is shown as ``<min_cell``,
a count suppressed so that another cannot be recovered as a lower bound (``>145``); a
percentage goes with a suppressed count and with a suppressed denominator (the group, or
the number with a value when the missing are suppressed); mean (SD) and median [IQR] are
shown only for at least min_cell values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.labels import label_and_unit
from first1000.privacy import protect

DEFAULT_VARIABLES = [
    "maternal_age", "bmi", "parity", "smoking", "education_group", "income_equivalised", "ses_index",
    "employment", "epds", "pss", "resilience", "child_sex", "gestational_age", "birth_weight", "preterm",
]


def _fmt(x: float, digits: int = 1) -> str:
    return "" if pd.isna(x) else f"{x:.{digits}f}"


GROUPS = ["overall", "SES T1 (lowest)", "SES T2", "SES T3 (highest)"]
_NO_SES = "no SES index"  # undisplayed: the participants without an SES index
MISSING = "missing, n (%)"
ORDER = {"education_group": ["low", "medium", "high"]}


def _kind(variable: str, frame: pd.DataFrame, data_schema: dict) -> str:
    if variable in data_schema:
        return data_schema[variable]["type"]
    values = frame[variable]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "categorical"
    return "binary" if set(values.dropna().unique()) <= {0.0, 1.0} else "continuous"


def _levels(values: pd.Series, kind: str, order) -> list[str]:
    if kind == "binary":
        return ["1", "0"]
    levels = sorted(values.dropna().astype(str).unique())
    if order:
        levels = [lv for lv in order if lv in levels] + [lv for lv in levels if lv not in order]
    return levels


def _cohort_table(cohort: str, group: pd.DataFrame, frame: pd.DataFrame, data_schema: dict, variables,
                  min_cell: int) -> list[dict]:
    tertile = pd.qcut(group["ses_index"], 3, labels=GROUPS[1:]) \
        if group["ses_index"].notna().sum() >= 3 else pd.Series(np.nan, index=group.index)
    groups = {"overall": group, **{name: group[tertile == name] for name in GROUPS[1:]},
              _NO_SES: group[tertile.isna()]}
    values, relations, hidden = {}, [], {("size", _NO_SES)}
    for g, data in groups.items():
        values[("size", g)] = len(data)
    relations.append(([("size", g) for g in groups if g != "overall"], ("size", "overall")))
    layout = []  # (variable, kind, levels)
    for variable in variables:
        kind = _kind(variable, frame, data_schema)
        order = ORDER.get(variable) or data_schema.get(variable, {}).get("categories")
        levels = _levels(group[variable], kind, order)
        layout.append((variable, kind, levels))
        cells = ["missing"] + (["observed"] if kind in ("continuous", "integer") else levels)
        for g, data in groups.items():
            present = data[variable].dropna()
            values[(variable, "missing", g)] = int(data[variable].isna().sum())
            if kind in ("continuous", "integer"):
                values[(variable, "observed", g)] = len(present)
                hidden.add((variable, "observed", g))
            else:
                text = present.map(lambda v: str(int(v)) if kind == "binary" else str(v))
                for level in levels:
                    values[(variable, level, g)] = int((text == level).sum())
                if kind == "binary":
                    hidden.add((variable, "0", g))
            relations.append(([(variable, c, g) for c in cells], ("size", g)))
        for c in cells:
            relations.append(([(variable, c, g) for g in groups if g != "overall"], (variable, c, "overall")))
    hidden |= {k for k in values if k[-1] == _NO_SES}
    shown = protect(values, relations, min_cell, hidden=hidden)

    def count(key, denominator_suppressed: bool, denominator: int) -> str:
        if key in shown:
            return shown[key]
        n = values[key]
        if denominator_suppressed or not denominator:
            return str(n)
        return f"{n} ({_fmt(100 * n / denominator)}%)"

    out = [{"cohort": cohort, "variable": "participants", "level": "n",
            **{g: shown.get(("size", g), str(values[("size", g)])) for g in GROUPS}}]
    for variable, kind, levels in layout:
        label, unit = label_and_unit(variable, data_schema)
        name = f"{label} ({unit})" if unit else label
        rows = {}
        for g in GROUPS:
            present = groups[g][variable].dropna()
            size_hidden = ("size", g) in shown
            if kind == "continuous":
                enough = len(present) >= min_cell
                rows.setdefault("mean (SD)", {})[g] = \
                    f"{_fmt(present.mean())} ({_fmt(present.std(ddof=1))})" if enough else ""
            elif kind == "integer":
                q1, med, q3 = present.quantile([0.25, 0.5, 0.75]) if len(present) else [np.nan] * 3
                rows.setdefault("median [IQR]", {})[g] = \
                    f"{_fmt(med)} [{_fmt(q1)}, {_fmt(q3)}]" if len(present) >= min_cell else ""
            else:
                observed_uncertain = size_hidden or (variable, "missing", g) in shown
                for level in levels[:1] if kind == "binary" else levels:
                    rows.setdefault("n (%)" if kind == "binary" else level, {})[g] = \
                        count((variable, level, g), observed_uncertain, len(present))
            rows.setdefault(MISSING, {})[g] = count((variable, "missing", g), size_hidden, len(groups[g]))
        out += [{"cohort": cohort, "variable": name, "level": level, **cells} for level, cells in rows.items()]
    return out


def table1(frame: pd.DataFrame, data_schema: dict, variables=None, min_cell: int = 5) -> pd.DataFrame:
    """One row per (cohort, variable, level); columns overall and SES tertiles."""
    variables = [v for v in (variables or DEFAULT_VARIABLES) if v in frame]
    out = []
    for cohort, group in frame.groupby("cohort", sort=True):
        out += _cohort_table(cohort, group, frame, data_schema, variables, min_cell)
    return pd.DataFrame(out, columns=["cohort", "variable", "level", *GROUPS])
