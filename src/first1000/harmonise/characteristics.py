"""Table 1: cohort characteristics, overall and by SES tertile, per cohort.

Continuous variables: mean (SD); counts (integer variables such as parity): median [IQR];
binary: n (%) of 1; categorical: n (%) per level; and % missing. Tertiles of the SES index
are formed within each cohort (T1 = lowest SES). Every count below ``min_cell`` is shown
as "<min_cell" (and so is its percentage), as are groups with fewer participants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.labels import label_and_unit

DEFAULT_VARIABLES = [
    "maternal_age", "bmi", "parity", "smoking", "education_group", "income_equivalised", "ses_index",
    "employment", "epds", "pss", "resilience", "child_sex", "gestational_age", "birth_weight", "preterm",
]


def _fmt(x: float, digits: int = 1) -> str:
    return "" if pd.isna(x) else f"{x:.{digits}f}"


def _count(n: int, total: int, min_cell: int) -> str:
    if 0 < n < min_cell:
        return f"<{min_cell}"
    pct = 100 * n / total if total else np.nan
    return f"{n} ({_fmt(pct)}%)"


ORDER = {"education_group": ["low", "medium", "high"]}


def _describe(values: pd.Series, kind: str, min_cell: int, order=None) -> list[tuple[str, str]]:
    """[(level, text)] for one variable in one group."""
    present = values.dropna()
    total = len(present)
    rows = []
    if kind in ("continuous",):
        rows.append(("mean (SD)", f"{_fmt(present.mean())} ({_fmt(present.std(ddof=1))})" if total >= min_cell else ""))
    elif kind == "integer":
        q1, med, q3 = (present.quantile([0.25, 0.5, 0.75]) if total else [np.nan] * 3)
        rows.append(("median [IQR]", f"{_fmt(med)} [{_fmt(q1)}, {_fmt(q3)}]" if total >= min_cell else ""))
    elif kind == "binary":
        rows.append(("n (%)", _count(int((present == 1).sum()), total, min_cell)))
    else:
        levels = sorted(present.astype(str).unique())
        if order:
            levels = [lv for lv in order if lv in levels] + [lv for lv in levels if lv not in order]
        for level in levels:
            rows.append((level, _count(int((present.astype(str) == level).sum()), total, min_cell)))
    missing = int(values.isna().sum())
    rows.append(("% missing", _fmt(100 * missing / len(values)) if len(values) else ""))
    return rows


def _kind(variable: str, frame: pd.DataFrame, data_schema: dict) -> str:
    if variable in data_schema:
        return data_schema[variable]["type"]
    values = frame[variable]
    if values.dtype == object:
        return "categorical"
    return "binary" if set(values.dropna().unique()) <= {0.0, 1.0} else "continuous"


def table1(frame: pd.DataFrame, data_schema: dict, variables=None, min_cell: int = 5) -> pd.DataFrame:
    """One row per (cohort, variable, level); columns overall and SES tertiles."""
    variables = [v for v in (variables or DEFAULT_VARIABLES) if v in frame]
    out = []
    for cohort, group in frame.groupby("cohort", sort=True):
        tertile = pd.qcut(group["ses_index"], 3, labels=["SES T1 (lowest)", "SES T2", "SES T3 (highest)"]) \
            if group["ses_index"].notna().sum() >= 3 else pd.Series(np.nan, index=group.index)
        groups = {"overall": group}
        for name in ["SES T1 (lowest)", "SES T2", "SES T3 (highest)"]:
            groups[name] = group[tertile == name]
        header = {"cohort": cohort, "variable": "participants", "level": "n"}
        header.update({g: (str(len(d)) if len(d) >= min_cell or len(d) == 0 else f"<{min_cell}")
                       for g, d in groups.items()})
        out.append(header)
        for variable in variables:
            kind = _kind(variable, frame, data_schema)
            label, unit = label_and_unit(variable, data_schema)
            order = ORDER.get(variable) or data_schema.get(variable, {}).get("categories")
            per_group = {g: dict(_describe(d[variable], kind, min_cell, order)) for g, d in groups.items()}
            levels = list(dict.fromkeys(level for rows in per_group.values() for level in rows))
            for level in levels:
                row = {"cohort": cohort, "variable": f"{label} ({unit})" if unit else label, "level": level}
                row.update({g: per_group[g].get(level, f"<{min_cell}" if level != "% missing" else "")
                            for g in groups})
                out.append(row)
    return pd.DataFrame(out)
