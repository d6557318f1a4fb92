"""Table 1: cohort characteristics, overall and by SES tertile, per cohort.

Continuous variables: mean (SD); counts (integer variables such as parity): median [IQR];
binary: n (%) of 1; categorical: n (%) per level; dates: the missing values only (a date is
a participant's own value, and so is a level of free text); and the missing values, n (%).
A categorical variable without declared categories (free text, e.g. a study variable) shows
a level by its text only when at least ``min_cell`` participants of the cohort have it; the
rarer levels are counted together as :data:`RARE_LEVELS`. Tertiles
of the SES index are formed within each cohort (T1 = lowest SES) when it can form them
(:func:`ses_tertiles`); the table has tertile columns only when a cohort does, with ``p``
of the difference across the tertiles (ANOVA, Kruskal–Wallis or Pearson's χ²; left empty
when a count of the variable is suppressed, so that no test recovers it).

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

from first1000.labels import BIRTH_OUTCOMES, label_and_unit
from first1000.privacy import protect, quantile_shown

DEFAULT_VARIABLES = [
    "maternal_age", "bmi", "parity", "smoking", "education_group", "income_equivalised", "ses_index",
    "employment", "epds", "pss", "resilience", "child_sex", "gestational_age", "birth_weight", "preterm",
]


def _fmt(x: float, digits: int = 1) -> str:
    return "" if pd.isna(x) else f"{x:.{digits}f}"


GROUPS = ["overall", "SES T1 (lowest)", "SES T2", "SES T3 (highest)"]
_NO_SES = "no SES index"  # undisplayed: the participants without an SES index
MISSING = "missing, n (%)"
#: Kinds described by a statistic of their values (or, dates, by their missing values only), not by levels.
_NO_LEVELS = ("continuous", "integer", "date")
ORDER = {"education_group": ["low", "medium", "high"]}


def _kind(variable: str, frame: pd.DataFrame, data_schema: dict) -> str:
    if variable in data_schema:
        return data_schema[variable]["type"]
    values = frame[variable]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "categorical"
    return "binary" if set(values.dropna().unique()) <= {0.0, 1.0} else "continuous"


#: The level that counts together the levels of an undeclared categorical variable that fewer
#: than ``min_cell`` participants of the cohort have (their text is not shown).
RARE_LEVELS = "other levels (each fewer than {min_cell} participants)"


def _labeller(column: pd.Series, kind: str, order, min_cell: int):
    """The level label of each value (a function of a Series of present values): binary
    "1"/"0"; declared categories their text; an undeclared categorical variable its text
    when at least ``min_cell`` of ``column`` (the cohort) have it, else :data:`RARE_LEVELS`."""
    if kind == "binary":
        return lambda values: values.map(lambda v: str(int(v)))
    if kind != "categorical" or order:
        return lambda values: values.map(str)
    counts = column.dropna().map(str).value_counts()
    common = set(counts.index[counts >= min_cell])
    rare = RARE_LEVELS.format(min_cell=min_cell)
    return lambda values: values.map(str).where(lambda text: text.isin(common), rare)


def _levels(labels: pd.Series, kind: str, order, min_cell: int) -> list[str]:
    """The rows of a binary or categorical variable, from its present values' labels
    (:func:`_labeller`): declared categories in their order, other levels sorted, the rare
    levels last."""
    if kind == "binary":
        return ["1", "0"]
    levels = sorted(labels.unique())
    if order:
        levels = [lv for lv in order if lv in levels] + [lv for lv in levels if lv not in order]
    rare = RARE_LEVELS.format(min_cell=min_cell)
    return [lv for lv in levels if lv != rare] + [rare] * (rare in levels)


NOT_FORMED = "SES tertiles not formed"


def ses_tertiles(ses: pd.Series) -> tuple[pd.Series | None, str]:
    """Within-cohort tertiles of the SES index (labels ``GROUPS[1:]``), or None and why not:
    no SES index, fewer than 3 participants with one, or an index with so few distinct
    values (e.g. one ordinal indicator) that two tertile cut points coincide: splitting
    tied participants between tertiles would be arbitrary, so no tertiles are formed."""
    present = ses.dropna()
    if present.empty:
        return None, "no SES index in this cohort"
    distinct = present.nunique()
    if len(present) < 3 or distinct < 3:
        return None, f"the SES index has {distinct} distinct value{'s' * (distinct != 1)}"
    try:
        return pd.qcut(ses, 3, labels=GROUPS[1:]), ""
    except ValueError:  # pandas: "Bin edges must be unique" (tied cut points)
        return None, f"the SES index has {distinct} distinct values and its tertile cut points coincide"


LOSSES = "pregnancy losses (not births), n (%)"


def _cohort_table(cohort: str, group: pd.DataFrame, frame: pd.DataFrame, data_schema: dict, variables,
                  min_cell: int, births_from: float | None = None) -> list[dict]:
    tertile, why = ses_tertiles(group["ses_index"]) if "ses_index" in group else (None, "no SES index")
    groups = {"overall": group}
    if tertile is not None:
        groups.update({name: group[tertile == name] for name in GROUPS[1:]})
        groups[_NO_SES] = group[tertile.isna()]
    values, relations, hidden = {}, [], {("size", _NO_SES)}
    for g, data in groups.items():
        values[("size", g)] = len(data)
    if tertile is not None:
        relations.append(([("size", g) for g in groups if g != "overall"], ("size", "overall")))
    loss = pd.Series(False, index=group.index)
    if births_from is not None and "gestational_age" in group:
        loss = pd.to_numeric(group["gestational_age"], errors="coerce") < births_from
    layout = []  # (variable, kind, levels, their labeller, whether its losses are counted apart)
    for variable in variables:
        kind = _kind(variable, frame, data_schema)
        order = ORDER.get(variable) or data_schema.get(variable, {}).get("categories")
        apart = variable in BIRTH_OUTCOMES and bool(loss.any())
        column = group[variable].where(~loss) if apart else group[variable]
        labeller = _labeller(column, kind, order, min_cell)
        levels = [] if kind in _NO_LEVELS else _levels(labeller(column.dropna()), kind, order, min_cell)
        layout.append((variable, kind, levels, labeller, apart))
        cells = ["missing"] + (["observed"] if kind in _NO_LEVELS else levels) + (["loss"] * apart)
        for g, data in groups.items():
            lost = loss.loc[data.index]
            values_g = data[variable].where(~lost) if apart else data[variable]
            present = values_g.dropna()
            values[(variable, "missing", g)] = int((values_g.isna() & ~lost).sum()) if apart else \
                int(values_g.isna().sum())
            if apart:
                values[(variable, "loss", g)] = int(lost.sum())
            if kind in _NO_LEVELS:
                values[(variable, "observed", g)] = len(present)
                hidden.add((variable, "observed", g))
            else:
                text = labeller(present)
                for level in levels:
                    values[(variable, level, g)] = int((text == level).sum())
                if kind == "binary":
                    hidden.add((variable, "0", g))
            relations.append(([(variable, c, g) for c in cells], ("size", g)))
        for c in cells if tertile is not None else []:
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

    shown_groups = [g for g in GROUPS if g in groups]
    out = [{"cohort": cohort, "variable": "participants", "level": "n",
            **{g: shown.get(("size", g), str(values[("size", g)])) for g in shown_groups}}]
    if tertile is None:
        out.append({"cohort": cohort, "variable": NOT_FORMED, "level": why})
    for variable, kind, levels, labeller, apart in layout:
        label, unit = label_and_unit(variable, data_schema)
        name = f"{label} ({unit})" if unit else label
        rows = {}
        for g in shown_groups:
            data = groups[g]
            present = (data[variable].where(~loss.loc[data.index]) if apart else data[variable]).dropna()
            size_hidden = ("size", g) in shown
            if kind == "continuous":
                enough = len(present) >= min_cell
                rows.setdefault("mean (SD)", {})[g] = \
                    f"{_fmt(present.mean())} ({_fmt(present.std(ddof=1))})" if enough else ""
            elif kind == "integer":
                q1, med, q3 = present.quantile([0.25, 0.5, 0.75]) if len(present) else [np.nan] * 3
                # a quartile only with min_cell values on each side of it (privacy.quantile_shown)
                rows.setdefault("median [IQR]", {})[g] = \
                    f"{_fmt(med)} [{_fmt(q1)}, {_fmt(q3)}]" if quantile_shown(len(present), 0.25, min_cell) else ""
            elif kind == "date":
                pass  # the missing values only
            else:
                observed_uncertain = size_hidden or (variable, "missing", g) in shown
                for level in levels[:1] if kind == "binary" else levels:
                    rows.setdefault("n (%)" if kind == "binary" else level, {})[g] = \
                        count((variable, level, g), observed_uncertain, len(present))
            rows.setdefault(MISSING, {})[g] = count((variable, "missing", g), size_hidden, len(groups[g]))
            if apart:
                rows.setdefault(LOSSES, {})[g] = count((variable, "loss", g), size_hidden, len(groups[g]))
        block = [{"cohort": cohort, "variable": name, "level": level, **cells} for level, cells in rows.items()]
        if tertile is not None and block:
            cells = [c for c in ["missing", "observed", *levels] if (variable, c, GROUPS[1]) in values]
            protected = any((variable, c, g) in shown for c in cells for g in GROUPS[1:])
            block[0]["p"] = "" if protected else _tertile_p([groups[g][variable] for g in GROUPS[1:]], kind, levels,
                                                            labeller)
        out += block
    return out


def anova_p(groups: list[np.ndarray]) -> float:
    """p of the one-way ANOVA F test, computed as ``scipy.stats.f_oneway`` computes it
    (sums of squares about the grand mean; NaN when every value is equal, 0 when the values
    vary between groups only), without importing scipy.stats (1.3 s of the harmonise job; #19)."""
    from scipy import special

    if len(groups) < 2 or min(len(g) for g in groups) < 1:
        return np.nan
    data = np.concatenate(groups).astype(float)
    n, k = data.size, len(groups)
    if n <= k:  # no degrees of freedom within the groups
        return np.nan
    if all(np.all(g == g[0]) for g in groups):  # no variance within any group (scipy's check)
        return np.nan if np.all(data == data[0]) else 0.0
    offset = data.mean()
    data = data - offset
    normalised = data.sum() ** 2 / n
    total = np.sum(data * data) - normalised
    between = sum((np.asarray(g, float) - offset).sum() ** 2 / len(g) for g in groups) - normalised
    within = total - between
    return float(special.fdtrc(k - 1, n - k, (between / (k - 1)) / (within / (n - k))))


def kruskal_p(groups: list[np.ndarray]) -> float:
    """p of the Kruskal–Wallis H test, as ``scipy.stats.kruskal`` computes it: mid-ranks,
    H divided by the tie correction 1 - sum(t^3 - t) / (N^3 - N), chi-squared with k - 1 df;
    NaN when every value is equal."""
    from scipy import special

    if len(groups) < 2 or min(len(g) for g in groups) < 1:
        return np.nan
    data = np.concatenate(groups).astype(float)
    n = data.size
    ranks = pd.Series(data).rank(method="average").to_numpy()
    _, ties = np.unique(data, return_counts=True)
    correction = 1.0 - float(np.sum(ties.astype(float) ** 3 - ties)) / (n**3 - n)
    if correction == 0:
        return np.nan
    bounds = np.cumsum([0] + [len(g) for g in groups])
    between = sum(ranks[a:b].sum() ** 2 / (b - a) for a, b in zip(bounds[:-1], bounds[1:]))
    h = (12.0 / (n * (n + 1)) * between - 3 * (n + 1)) / correction
    return float(special.chdtrc(len(groups) - 1, h))


def chi2_p(counts: np.ndarray) -> float:
    """p of Pearson's chi-squared test of independence of an r x c table of counts (every
    row and column sum > 0, else NaN), as ``scipy.stats.chi2_contingency(correction=False)``."""
    from scipy import special

    counts = np.asarray(counts, dtype=float)
    if min(counts.shape) < 2 or (counts.sum(axis=0) == 0).any() or (counts.sum(axis=1) == 0).any():
        return np.nan  # scipy raises: an expected count is zero
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
    stat = float(np.sum((counts - expected) ** 2 / expected))
    return float(special.chdtrc((counts.shape[0] - 1) * (counts.shape[1] - 1), stat))


def _tertile_p(samples: list[pd.Series], kind: str, levels: list[str], labeller) -> str:
    """p of the difference across the SES tertiles: one-way ANOVA (mean (SD)), Kruskal–Wallis
    (median [IQR]) or Pearson's χ² (n (%) of the levels shown, ``labeller``:
    :func:`_labeller`); empty when not computable (and for dates)."""
    if kind == "date":
        return ""
    present = [s.dropna() for s in samples]
    if kind == "continuous":
        if min(len(x) for x in present) < 2:
            return ""
        p = anova_p([x.to_numpy(dtype=float) for x in present])
    elif kind == "integer":
        if min(len(x) for x in present) < 1 or pd.concat(present).nunique() < 2:
            return ""
        p = kruskal_p([x.to_numpy(dtype=float) for x in present])
    else:
        text = [labeller(x) for x in present]
        counts = np.array([[int((t == level).sum()) for t in text] for level in levels])
        counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
        if counts.shape[0] < 2 or counts.shape[1] < 2:
            return ""
        p = chi2_p(counts)
    if not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def table1(frame: pd.DataFrame, data_schema: dict, variables=None, min_cell: int = 5,
           births_from: float | None = None) -> pd.DataFrame:
    """One row per (cohort, variable, level); columns overall and the SES tertiles.

    ``variables``: the rows (default :data:`DEFAULT_VARIABLES`); a variable no participant
    of any cohort has is left out. The tertile columns are there only when at least one
    cohort forms SES tertiles (:func:`ses_tertiles`); a cohort that does not has empty
    tertile cells and a row ``NOT_FORMED`` saying why. ``births_from`` (config
    ``analysis_population``): the birth outcomes are described over the births (gestational
    age at or above it); the pregnancy losses are counted in a row of their own."""
    variables = [v for v in (variables or DEFAULT_VARIABLES) if v in frame and frame[v].notna().any()]
    out = []
    for cohort, group in frame.groupby("cohort", sort=True):
        out += _cohort_table(cohort, group, frame, data_schema, variables, min_cell, births_from)
    any_tertiles = any(GROUPS[1] in row for row in out)
    columns = ["cohort", "variable", "level", *(GROUPS + ["p"] if any_tertiles else GROUPS[:1])]
    return pd.DataFrame(out, columns=columns).fillna("")
