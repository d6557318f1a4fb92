"""Disclosure control and pseudonymisation: what keeps participants out of every output.

Cohort data are health data on pregnant women and newborns. No participant ID or
row-level value ever reaches a result table, figure, log or the report:

* IDs become keyed hashes at ingest (:func:`pseudonymise`, HMAC-SHA256 with a key kept
  outside ``results/``, :mod:`first1000.keys`); the cohort's own IDs never leave
  memory;
* every table or figure that summarises people follows one rule set (:func:`protect`,
  one parameter, ``privacy.min_cell_size`` = m, default 5):

  1. *primary suppression*: a count of 1 to m - 1 people is shown as ``<m`` (0 is shown:
     no one is not a small cell);
  2. every statistic computed from a suppressed count goes with it: its percentage, a
     mean, SD, median, IQR, an estimate, and the proportion (binary mean) of which it is
     the numerator or the denominator;
  3. *secondary suppression*: counts tied by a sum (observed + missing = participants;
     the levels of a categorical variable + missing = the group; the cohorts = pooled;
     the SES tertiles + no SES = overall; kept + removed = in; the 1s and 0s of a binary
     variable = its n) are audited as an attacker would: each hidden count's range is
     narrowed from what is shown (interval propagation over all the sums of a table,
     until nothing changes). While any suppressed count (or an undisplayed count of 1 to
     m - 1, such as the people with a value when only % missing is shown) can be pinned
     to one value, the smallest shown non-zero count of a sum it belongs to is
     suppressed too (the sum's total last), as statistical offices do. A secondarily
     suppressed count is shown as a lower bound (``>445``) that the attacker can already
     compute, so it gives nothing back.

  ``protect`` is the audit and the decision; the table adapters declare which columns
  are counts, which statistics derive from them and which sums tie them:
  :func:`suppress_small_counts` (QC tables, descriptive fits and correlations),
  :func:`suppress_missingness`, :func:`suppress_modification`,
  :func:`protect_harmonisation` (harmonisation report and category counts, together),
  :func:`first1000.stages.harmonise.harmonised_summary` and
  :func:`first1000.harmonise.characteristics.table1`. Figures draw only from these
  protected tables and take the same threshold (``min_cell``) for what they summarise
  themselves.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd


#: Report tables: counts of people (or of their samples) in these columns are suppressed.
COUNT_COLUMNS = ("n", "n_missing", "n_below_loq", "n_below_lod", "n_outliers", "n_failed_replicate_qc",
                 "n_samples", "n_clipped", "n_segments_outside_windows", "n_segments_postpartum",
                 "n_segments_before_pregnancy", "n_segments_undated", "n_dropped_replicates",
                 "n_single_replicate", "n_repeated", "n_prorated", "n_values_mean_imputed",
                 "n_samples_removed", "n_samples_kept", "n_samples_in", "n_above_limit", "n_rejected",
                 "n_total", "n_observed", "n_complete_cases", "n_at_one_value", "n_not_below_cutoff")

#: part -> (its complement, the total): a row's part + complement = total.
COMPLEMENTS = {"n_samples_removed": ("n_samples_kept", "n_samples_in"), "n_missing": ("n", None),
               "n_observed": ("n_missing", "n_total"), "n_not_below_cutoff": ("n", None)}

#: Statistics of the people a row's ``n`` counts: blanked with a suppressed ``n`` (a mean of
#: one birth weight is her birth weight; an estimate on 3 women describes them).
_STATISTIC = re.compile(
    r"^(mean|sd|median|q1|q3|p05|p95|iqr|estimate|se|ci_low|ci_high|p|q|statistic|t|z|coef|rho|r|mae|alpha|x|y|"
    r"odds_ratio|percent_difference|percent_ci_low|percent_ci_high|median_difference|share_measured|depth|"
    r"intra_cv_pct|inter_assay_cv_pct|icc1|df_denom|df_residual|i2|tau2|q_het|pct)(_\w+)?$")

#: Statistics computed from the people another count counts: blanked with that count (an
#: inter-assay CV of the 1 participant measured on two plates is her own CV).
_TIED = {"n_repeated": ("inter_assay_cv_pct", "icc1")}

PRIMARY, SECONDARY = "primary", "secondary"
_BOUND = re.compile(r"^\s*[<>]\s*\d+\s*$")  # a count shown as a bound: "<5", ">445"


def _ranges(values: Mapping, status: Mapping, hidden: set, equations, min_cell: int):
    """What an attacker knows of each count: [lo, hi] from the display, narrowed by the sums."""
    lo, hi = {}, {}
    for k, v in values.items():
        if k in hidden:
            lo[k], hi[k] = 0.0, math.inf
        elif status.get(k) == PRIMARY:
            lo[k], hi[k] = 1.0, float(min_cell - 1)
        elif status.get(k) == SECONDARY:
            lo[k], hi[k] = float(min_cell), math.inf
        else:
            lo[k] = hi[k] = float(v)
    for _ in range(200):
        changed = False
        for terms, const in equations:
            low = [a * lo[k] if a > 0 else a * hi[k] for k, a in terms]  # min of each a*v
            high = [a * hi[k] if a > 0 else a * lo[k] for k, a in terms]
            for i, (k, a) in enumerate(terms):
                if lo[k] == hi[k]:
                    continue
                rest_lo = sum(low[:i]) + sum(low[i + 1:])
                rest_hi = sum(high[:i]) + sum(high[i + 1:])
                new_lo, new_hi = (const - rest_hi, const - rest_lo) if a > 0 else (rest_lo - const, rest_hi - const)
                new_lo = math.ceil(new_lo - 1e-9) if math.isfinite(new_lo) else new_lo
                new_hi = math.floor(new_hi + 1e-9) if math.isfinite(new_hi) else new_hi
                if new_lo > lo[k]:
                    lo[k], changed = new_lo, True
                if new_hi < hi[k]:
                    hi[k], changed = new_hi, True
                low[i] = a * lo[k] if a > 0 else a * hi[k]
                high[i] = a * hi[k] if a > 0 else a * lo[k]
        if not changed:
            break
    return lo, hi


def protect(values: Mapping[Hashable, float], relations: Sequence[tuple[Sequence[Hashable], Hashable | float]],
            min_cell: int, hidden: Iterable[Hashable] = ()) -> dict[Hashable, str]:
    """The rule set: which counts to suppress and how each is shown.

    ``values``: count per cell (NaN: no count, e.g. not applicable); ``relations``:
    ``(parts, total)``, the parts summing to the total, which is a cell of ``values`` or a
    number everyone knows (a cohort's size); ``hidden``: cells not displayed anywhere
    (the attacker knows only the sums they are in), protected all the same when small.
    Returns ``{cell: text}`` for every suppressed displayed cell: ``"<m"`` (primary) or a
    lower bound ``">k"`` the display already implies (secondary).
    """
    hidden = set(hidden)
    values = {k: float(v) for k, v in values.items() if v is not None and not pd.isna(v)}
    equations = []
    for parts, total in relations:
        if not parts or any(p not in values for p in parts):
            continue  # a part without a count: the sum tells nothing
        if _is_count(total):
            equations.append(([(p, 1) for p in parts], float(total)))
        elif total in values:
            equations.append(([(p, 1) for p in parts] + [(total, -1)], 0.0))
    parent = {k: k for k in values}  # the sums split the cells into independent parts

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for terms, _ in equations:
        first = root(terms[0][0])
        for c, _ in terms[1:]:
            parent[root(c)] = first
    parts, sums = {}, {}
    for k in values:
        parts.setdefault(root(k), []).append(k)
    for equation in equations:
        sums.setdefault(root(equation[0][0][0]), []).append(equation)
    shown = {}
    for key, cells in parts.items():
        shown.update(_protect_part({k: values[k] for k in cells}, sums.get(key, []), min_cell, hidden))
    order = {k: i for i, k in enumerate(values)}
    return dict(sorted(shown.items(), key=lambda item: order[item[0]]))


def _protect_part(values: dict, equations: list, min_cell: int, hidden: set) -> dict:
    """:func:`protect` on cells that share no sum with any other."""
    small = {k for k, v in values.items() if 0 < v < min_cell}
    status = {k: PRIMARY for k in small if k not in hidden}
    if not equations:
        return {k: f"<{min_cell}" for k in status}
    order = {k: i for i, k in enumerate(values)}
    while True:
        lo, hi = _ranges(values, status, hidden, equations, min_cell)
        exposed = sorted((k for k in small if lo[k] >= hi[k]), key=order.get)
        if not exposed:
            break
        # candidates: the shown non-zero counts of the sums with an exposed count, or with a
        # suppressed count pinned to one value (which gives its sums' other counts back);
        # the smallest part of a sum first, one of an exposed count's sums before others,
        # a sum's total last (a group's size, a pooled count)
        pinned = {k for k in status if lo[k] >= hi[k]} | set(exposed)
        candidates = {}
        for terms, _ in equations:
            cells = {c for c, _ in terms}
            if cells & pinned:
                tier = 0 if cells & set(exposed) else 1
                for c, a in terms:
                    if c not in status and c not in hidden and values[c] > 0:
                        candidates[c] = min(candidates.get(c, (2, 2)), (int(a < 0), tier))
        if not candidates:
            break  # nothing left to suppress (e.g. a sum whose total is public and every part suppressed)
        added = min(candidates, key=lambda c: (*candidates[c], values[c], order[c]))
        status[added] = SECONDARY
    lo, _ = _ranges(values, status, hidden, equations, min_cell)
    return {k: (f"<{min_cell}" if s == PRIMARY else f">{int(max(lo[k], min_cell)) - 1}") for k, s in status.items()}


def _is_count(value) -> bool:
    numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return numeric and not pd.isna(value)


def _as_object(values: pd.Series) -> pd.Series:
    """A count column that will hold text: whole numbers stay whole ("17", not "17.0")."""
    return values.map(lambda v: int(v) if _is_count(v) and float(v).is_integer() else v).astype(object)


def suppress_cells(table: pd.DataFrame, shown: Mapping[tuple, str]) -> pd.DataFrame:
    """Write the texts of :func:`protect` (cells keyed ``(row label, column)``) into ``table`` (in place)."""
    for column in dict.fromkeys(c for _, c in shown):
        table[column] = _as_object(table[column])
    for (row, column), text in shown.items():
        table.at[row, column] = text
    return table


def _blank(table: pd.DataFrame, rows, columns) -> None:
    rows = list(rows)
    for column in columns:
        if column in table and rows:
            if not pd.api.types.is_float_dtype(table[column]):
                table[column] = table[column].astype(object)
            table.loc[rows, column] = np.nan


def _statistics(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if _STATISTIC.match(str(c)) and c not in COUNT_COLUMNS]


def _row_cells(table: pd.DataFrame, min_cell: int):
    """Cells and sums of a table whose rows are independent (QC, fits, modification)."""
    values, relations = {}, []
    counts = [c for c in COUNT_COLUMNS if c in table]
    for row in table.index:
        for column in counts:
            v = table.at[row, column]
            if _is_count(v):
                values[(row, column)] = v
        for part, (complement, total) in COMPLEMENTS.items():
            if part in table and complement in table:
                a, b = table.at[row, part], table.at[row, complement]
                if total is None and _is_count(a) and _is_count(b):
                    relations.append(([(row, part), (row, complement)], float(a) + float(b)))  # a public size
                elif total in table:
                    relations.append(([(row, part), (row, complement)], (row, total)))
    return values, relations


def _finish(table: pd.DataFrame, shown: Mapping[tuple, str]) -> pd.DataFrame:
    """Suppressed counts written, and every statistic computed from them blanked (also
    for counts that came already suppressed, e.g. from the harmonisation report)."""
    out = suppress_cells(table, shown)
    shown = dict(shown)
    for column in COUNT_COLUMNS:
        if column in out:
            for row, value in out[column].items():
                if isinstance(value, str) and _BOUND.match(value):
                    shown.setdefault((row, column), value)
    for column in dict.fromkeys(c for _, c in shown):
        rows = [r for r, c in shown if c == column]
        _blank(out, rows, ["pct_" + column.removeprefix("n_")])  # count = pct × total / 100
        if column in ("n", "n_total", "n_observed", "n_samples", "n_samples_in"):  # the people the row describes
            _blank(out, rows, _statistics(out))
        _blank(out, rows, [c for c in _TIED.get(column, ()) if c in out])
    return out


#: The status of a model on fewer than ``min_cell`` participants (its numbers are not shown).
SMALL_MODEL = "not shown: fitted on fewer than {min_cell} participants (privacy.min_cell_size)"


#: The status of an effect-modification row that could not be fitted and whose counts are hidden.
HIDDEN_STRATUM = "not shown: protects a count below {min_cell} (privacy.min_cell_size)"


def hide_small_models(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """The rule set on a table of fitted models (one model per row, ``n`` its participants:
    associations, mediation effects and paths): a model on 1 to ``min_cell`` - 1
    participants describes them (an estimate on 3 women is a statistic of 3 women), so its
    statistics (:data:`_STATISTIC`: estimate, SE, CI, p, ...) are blanked and its ``status``
    says why; a meta-analysis leaves it out (it takes rows whose status is ``ok``). Its
    ``n`` stays: model sizes are reported exactly, as complete-case counts. A model that
    could not be fitted on so few takes the same status: the reason it gave ("binary
    response is 1 in all 3 complete rows") would describe them too."""
    if "n" not in table or not len(table):
        return table
    n = pd.to_numeric(table["n"], errors="coerce")
    columns = [c for c in table.columns if _STATISTIC.match(str(c))]
    small = ((n >= 1) & (n < min_cell)).to_numpy(dtype=bool)
    # a mediation contrast's exposure values (a0, a1): the 25th and 75th percentiles of the
    # model's exposure under ``contrast: iqr`` are shown only as protect_quantiles shows a
    # quantile (with 5 women they were the second and fourth women's values)
    quartiles = np.zeros(len(table), dtype=bool)
    if "contrast" in table and {"a0", "a1"} & set(table.columns):
        quartiles = ((table["contrast"].astype(str) == "iqr").to_numpy()
                     & ~np.array([quantile_shown(k, 0.25, min_cell) for k in n], dtype=bool))
    if not small.any() and not quartiles.any():
        return table
    table = table.copy()
    rows = table.index[small]
    _blank(table, rows, columns)
    _blank(table, table.index[small | quartiles], [c for c in ("a0", "a1") if c in table])
    if "status" in table:
        table.loc[rows, "status"] = SMALL_MODEL.format(min_cell=min_cell)
    return table


#: QC columns that are a quantile of the row's values (``median``, ``q1_pg_mg``,
#: ``depth_p95``, ``median_age_months``, …) and the quantile each is.
_QUANTILE_COLUMN = re.compile(r"^(?:depth_)?(median|q1|q3|p05|p95)(?:_\w+)?$")
_QUANTILE_LEVEL = {"median": 0.5, "q1": 0.25, "q3": 0.75, "p05": 0.05, "p95": 0.95}


def quantile_shown(n, q: float, min_cell: int) -> bool:
    """Whether the ``q`` quantile of ``n`` values (R's default, type 7) may be shown: only
    where at least ``min_cell`` of the values lie at or below it and ``min_cell`` at or
    above it, so that it is never one of the ``min_cell - 1`` lowest or highest values,
    or between two of them: with 21 mothers a 5th percentile was exactly the second
    lowest mother's value, with 5 the quartiles were the second and fourth values. (A
    median of an odd number of values is one participant's value, as in any Table 1;
    it is not an extreme one.)"""
    if not _is_count(n) or n < 1:
        return False
    h = round((float(n) - 1) * q, 9)  # the type-7 position, 0-based
    return math.floor(h) + 1 >= min_cell and float(n) - math.ceil(h) >= min_cell


def protect_quantiles(table: pd.DataFrame, min_cell: int, counts: Sequence[str] = ("n", "n_samples_in")) -> pd.DataFrame:
    """A QC table's quantile columns (:data:`_QUANTILE_COLUMN`) blanked in each row where
    :func:`quantile_shown` says no for the row's count of the values they describe (the
    first of ``counts`` the table has: ``n``, or the microbiome's samples before its depth
    filter). Apply before :func:`suppress_small_counts` (it needs the exact counts)."""
    columns = {c: _QUANTILE_LEVEL[m.group(1)] for c in table.columns if (m := _QUANTILE_COLUMN.match(str(c)))}
    n = next((c for c in counts if c in table), None)
    if not columns or n is None or table.empty:
        return table
    table = table.copy()
    for column, q in columns.items():
        hide = ~table[n].map(lambda k, q=q: quantile_shown(k, q, min_cell)).astype(bool)
        if hide.any():
            _blank(table, table.index[hide.to_numpy()], [column])
    return table


def suppress_small_counts(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """The rule set on a table whose rows are independent summaries (QC tables, fits,
    effect modification, correlations).

    Counts are the :data:`COUNT_COLUMNS`; a row's ``n`` + ``n_missing`` is its (public)
    number of participants and ``n_samples_removed`` + ``n_samples_kept`` =
    ``n_samples_in`` (:data:`COMPLEMENTS`); ``pct_x`` derives from ``n_x``, and every
    statistic of the row (:data:`_STATISTIC`: mean, SD, median, quartiles, estimates,
    percentages ...) from its ``n``.
    """
    index, table = table.index, table.reset_index(drop=True)  # cells are keyed by row position
    values, relations = _row_cells(table, min_cell)
    return _finish(table, protect(values, relations, min_cell)).set_axis(index)


def suppress_missingness(table: pd.DataFrame, min_cell: int, pooled: str = "pooled") -> pd.DataFrame:
    """The rule set on a :func:`first1000.analysis.modification.missingness` table.

    Sums: ``n_observed + n_missing = n_total`` in each row, and the cohorts' rows of a
    variable add up to its ``pooled`` row (each count column). ``n_total -
    n_complete_cases`` (the participants the variable's models lose) is a count as well:
    when small, ``n_complete_cases`` goes; when it equals the variable's ``n_missing``, the
    two are tied. ``pct_missing`` goes with ``n_missing`` and ``n_total``.
    """
    index, table = table.index, table.reset_index(drop=True)  # cells are keyed by row position
    columns = [c for c in ("n_total", "n_observed", "n_missing", "n_complete_cases") if c in table]
    values = {(r, c): table.at[r, c] for r in table.index for c in columns if _is_count(table.at[r, c])}
    relations = [([(r, "n_observed"), (r, "n_missing")], (r, "n_total")) for r in table.index
                 if {"n_observed", "n_missing", "n_total"} <= set(columns)]
    if "cohort" in table and "variable" in table:
        for _, rows in table.groupby("variable", sort=False):
            whole = rows.index[rows.cohort == pooled]
            parts = rows.index[rows.cohort != pooled]
            if len(whole) == 1 and len(parts):
                relations += [([(r, c) for r in parts], (whole[0], c)) for c in columns]
    hidden = set()
    if {"n_total", "n_complete_cases"} <= set(columns):
        for r in table.index:  # n_total - n_complete_cases: the participants a model loses, a count too
            if (r, "n_total") in values and (r, "n_complete_cases") in values:
                lost = float(values[(r, "n_total")]) - float(values[(r, "n_complete_cases")])
                values[(r, "lost")] = lost
                hidden.add((r, "lost"))
                relations.append(([(r, "n_complete_cases"), (r, "lost")], (r, "n_total")))
                if (r, "n_missing") in values and float(values[(r, "n_missing")]) == lost:  # its only loss
                    relations.append(([(r, "n_missing")], (r, "lost")))
    shown = protect(values, relations, min_cell, hidden=hidden)
    out = suppress_cells(table, shown)
    rows = sorted({r for r, c in shown if c in ("n_missing", "n_total")}, key=list(table.index).index)
    _blank(out, rows, ["pct_missing"])
    return out.set_axis(index)


_ROW_LIST = re.compile(r" \(rows? [\d, ]+(?: \(and \d+ more\))?\)")


#: The source category of the category counts' rows that pool the declared source categories
#: held by fewer than ``min_cell`` participants (per variable and harmonised value).
RARE_SOURCE = "categories of fewer than {min_cell} participants each"


def pool_rare_categories(categories: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """A recode's category counts with the declared source categories that fewer than
    ``min_cell`` participants hold pooled into one row per variable and harmonised value
    (:data:`RARE_SOURCE`), as Table 1 pools rare levels: "birth_region: Eritrea -> non-EU,
    <5" told that 1 to 4 women of the cohort were born there. The pooled count is then
    protected like any other."""
    if categories.empty or "n" not in categories:
        return categories
    n = pd.to_numeric(categories["n"], errors="coerce")
    special = categories["source_category"].isin(["(missing)", "(undeclared)"])
    rare = ((n >= 1) & (n < min_cell) & ~special).to_numpy(dtype=bool)
    if not rare.any():
        return categories
    keys = [c for c in categories.columns if c != "n"]
    pooled = (categories[rare].assign(source_category=RARE_SOURCE.format(min_cell=min_cell))
              .groupby(keys, sort=False, dropna=False, as_index=False)["n"].sum())
    out = pd.concat([categories[~rare], pooled[categories.columns]], ignore_index=True)
    return out.sort_values(["variable", "source_category"], kind="stable").reset_index(drop=True)


def protect_harmonisation(report: pd.DataFrame, categories: pd.DataFrame, min_cell: int):
    """The rule set on a cohort's harmonisation report and its category counts, together
    (the sums run across the two tables). Returns both, protected.

    Sums: ``n + n_missing`` = the cohort's participants (public) for each variable; the
    category rows of a variable add up to the same number, and (where they do in the
    data) its rows harmonised to a value add up to the report's ``n`` and those
    harmonised to ``(missing)`` to its ``n_missing``. ``n_rejected`` and ``n_prorated`` are
    parts of ``n_missing`` and ``n``. ``pct_missing`` goes with ``n_missing``; the rows
    listed in ``rejected`` go with a suppressed ``n_rejected`` (their number is the count);
    a questionnaire's Cronbach's ``alpha`` is blanked when its complete cases (``n`` -
    ``n_prorated``) are fewer than ``min_cell``.
    """
    categories = pool_rare_categories(categories, min_cell)
    indexes = report.index, categories.index
    report, categories = report.reset_index(drop=True), categories.reset_index(drop=True)  # keyed by position
    values, relations, hidden = {}, [], set()
    by_variable = {}
    for r in report.index:
        for column in ("n", "n_missing", "n_rejected", "n_prorated", "n_outliers"):
            if column in report and _is_count(report.at[r, column]):
                values[("report", r, column)] = report.at[r, column]
        n, missing = report.at[r, "n"], report.at[r, "n_missing"]
        size = float(n) + float(missing)
        by_variable[report.at[r, "variable"]] = (r, n, missing, size)
        relations.append(([("report", r, "n"), ("report", r, "n_missing")], size))
        for part, whole in (("n_rejected", "n_missing"), ("n_prorated", "n"), ("n_outliers", "n")):
            if ("report", r, part) in values:
                values[("rest", r, part)] = float(report.at[r, whole]) - float(report.at[r, part])
                hidden.add(("rest", r, part))
                relations.append(([("report", r, part), ("rest", r, part)], ("report", r, whole)))
    for variable, rows in categories.groupby("variable", sort=False):
        cells = []
        for j in rows.index:
            if _is_count(categories.at[j, "n"]):
                values[("categories", j, "n")] = categories.at[j, "n"]
                cells.append(("categories", j, "n"))
        if variable in by_variable:
            r, n, missing, size = by_variable[variable]
            relations.append((cells, size))
            missing_rows = [("categories", j, "n") for j in rows.index[rows.harmonised_value == "(missing)"]]
            valued = [c for c in cells if c not in missing_rows]
            for part, whole, count in ((missing_rows, "n_missing", missing), (valued, "n", n)):
                if part and sum(float(values[c]) for c in part) == float(count):
                    relations.append((part, ("report", r, whole)))
        else:
            total = sum(float(values[c]) for c in cells)
            relations.append((cells, total))
    shown = protect(values, relations, min_cell, hidden=hidden)
    report_shown = {(r, c): t for (where, r, c), t in shown.items() if where == "report"}
    report = suppress_cells(report, report_shown)
    rows = [r for r, c in report_shown if c == "n_missing"]
    _blank(report, rows, ["pct_missing"])
    for r, c in report_shown:  # the rows listed go with a suppressed n_rejected (their number is the count)
        if c == "n_rejected":
            for column in ("rejected_rows", "rejected"):
                if column in report and isinstance(report.at[r, column], str):
                    report.at[r, column] = "" if column == "rejected_rows" else _ROW_LIST.sub("", report.at[r, column])
    if "alpha" in report:  # a statistic of the complete cases' answers
        few = [r for r in report.index if values.get(("rest", r, "n_prorated"), min_cell) < min_cell]
        _blank(report, few, ["alpha"])
    categories = suppress_cells(categories, {(j, c): t for (where, j, c), t in shown.items() if where == "categories"})
    return report.set_axis(indexes[0]), categories.set_axis(indexes[1])


@functools.lru_cache(maxsize=4096)
def _level_token(modifier: str, level: str) -> re.Pattern:
    """``modifier[level]`` as a whole factor of a term name (``x:sex[male]``, ``sex[male]``),
    not inside another variable's name or an exposure's level of the same text."""
    return re.compile(r"(^|:)" + re.escape(f"{modifier}[{level}]") + r"(?=$|:)")


def _names_level(term, modifier, level) -> bool:
    return bool(_level_token(str(modifier), str(level)).search(str(term)))


def suppress_modification(table: pd.DataFrame, min_cell: int, pooled: str = "pooled") -> pd.DataFrame:
    """The rule set on an effect-modification table (:func:`first1000.analysis.modification.modification`).

    The ``n`` of a categorical stratum (``part = stratum``, no ``value``) counts the
    participants at that level of the modifier; the other rows of a model carry its
    complete-case n. Sums (each where it holds in the data): the strata of a model add up
    to its n, and the cohorts' rows to the ``pooled`` row. A suppressed stratum takes its
    estimates with it, and so do the model's terms of that level (``modifier[level]``, an
    estimate on those few participants); a suppressed model n takes all its rows'.
    """
    index, table = table.index, table.reset_index(drop=True)  # cells are keyed by row position
    keys = ["cohort", "exposure", "response", "modifier"]
    if "n" not in table or not set(keys) <= set(table.columns):
        return suppress_small_counts(table, min_cell).set_axis(index)
    counts = table["n"].copy()
    # each row's model (cohort, exposure, response, modifier) and each model's rows, once: the
    # rules below ask for them row by row (.loc per row made 2,240 rows take minutes)
    model_of = list(table[keys].itertuples(index=False, name=None))
    rows_in = {}
    for r, g in zip(table.index, model_of):
        rows_in.setdefault(g, []).append(r)
    part = table["part"].astype(str).tolist() if "part" in table else [""] * len(table)
    categorical = (table.get("part") == "stratum") & table.get("value", pd.Series(np.nan, index=table.index)).isna()
    cell_of, values = {}, {}
    for r in table.index:
        n = table.at[r, "n"]
        if not _is_count(n):
            continue
        cell = (model_of[r], "level", str(table.at[r, "level"])) if categorical[r] else (model_of[r], "model")
        if values.setdefault(cell, n) != n:
            cell = (*cell, r)  # a row whose n differs: a cell of its own
            values[cell] = n
        cell_of[r] = cell
    relations = []
    levels, models = {}, {}
    for cell in values:
        if len(cell) == 3 and cell[1] == "level":
            levels.setdefault(cell[0], []).append(cell)
        elif len(cell) == 2:
            models[cell[0]] = cell
    for group, parts in levels.items():
        if group in models and sum(float(values[c]) for c in parts) == float(values[models[group]]):
            relations.append((parts, models[group]))
    by_name = {}
    for cell in values:
        if len(cell) in (2, 3):
            by_name.setdefault((cell[0][1:], cell[1:]), {})[cell[0][0]] = cell
    for cells in by_name.values():
        if pooled in cells and len(cells) > 1:
            parts = [c for cohort, c in cells.items() if cohort != pooled]
            if sum(float(values[c]) for c in parts) == float(values[cells[pooled]]):
                relations.append((parts, cells[pooled]))
    shown = protect(values, relations, min_cell)
    rows = [r for r, cell in cell_of.items() if cell in shown]
    if rows:
        table["n"] = _as_object(table["n"])
        for r in rows:
            table.at[r, "n"] = shown[cell_of[r]]
    hidden_levels = {(c[0], c[2]) for c in shown if len(c) == 3 and c[1] == "level"}
    hidden_models = {c[0] for c in shown if len(c) == 2}
    hidden_in = {}
    for g, level in hidden_levels:
        hidden_in.setdefault(g, []).append(level)
    terms = [r for g, levels in hidden_in.items() for r in rows_in.get(g, []) if part[r] == "term" and any(
        _names_level(table.at[r, "level"], table.at[r, "modifier"], level) for level in levels)]
    # a hidden reference level (the first, which has no term of its own): every term of the
    # interaction model is a contrast with it (the exposure's term is its slope), so all go
    for g, levels in hidden_in.items():
        rows_of = rows_in.get(g, [])
        named = {str(table.at[r, "level"]) for r in rows_of if categorical[r]}
        with_term = {lv for lv in named for r in rows_of if part[r] == "term"
                     and _names_level(table.at[r, "level"], table.at[r, "modifier"], lv)}
        if set(levels) & (named - with_term):
            terms += [r for r in rows_of if part[r] == "term"]
    terms = sorted(set(terms))
    models_rows = [r for g in hidden_models for r in rows_in.get(g, [])]
    # a model with a stratum of fewer than min_cell participants: its tests go too (with two
    # levels the interaction test is that level's term, and Cochran's Q is computed from the
    # stratum's own fit)
    small = {model_of[r] for r in table.index if categorical[r] and _is_count(counts[r]) and 0 < float(counts[r]) < min_cell}
    tests = [r for g in small for r in rows_in.get(g, []) if part[r] == "test"]
    # a level held by fewer than min_cell participants in any model of a cohort is named in no
    # row of the table (Table 1 pools such levels): "country_of_birth[Eritrea]", n <5 told that
    # 1 to 4 women were born there. It is hidden in every cohort, the pooled rows and every
    # exposure and response, and its rows come after the named levels': named elsewhere, or
    # in its alphabetical place, the label told which level it stood for.
    rare = dict.fromkeys((str(table.at[r, "modifier"]), str(table.at[r, "level"])) for r in table.index
                         if categorical[r] and _is_count(counts[r]) and 0 < float(counts[r]) < min_cell)
    label, numbers = {}, {}
    # numbered in an order that is not the levels' alphabetical one (a hash of the text), and
    # listed in that order (in their alphabetical place they told which level each was)
    for modifier, level in sorted(rare, key=lambda key: hashlib.sha256("\x1f".join(key).encode()).hexdigest()):
        numbers[modifier] = numbers.get(modifier, 0) + 1
        label[modifier, level] = numbers[modifier]
    labelled = pd.Series(0, index=table.index)  # the row's label number (the highest of a term's), 0: none
    for r in table.index if label else ():
        modifier, text = str(table.at[r, "modifier"]), str(table.at[r, "level"])
        for (m, level), k in label.items():
            if m != modifier:
                continue
            name = f"a level of fewer than {min_cell} participants in a cohort ({k})"
            if categorical[r] and text == level:
                text, labelled[r] = name, max(labelled[r], k)
            elif table.at[r, "part"] == "term" and _names_level(text, modifier, level):
                text = _level_token(modifier, level).sub(lambda hit: hit.group(1) + f"{modifier}[{name}]", text)
                labelled[r] = max(labelled[r], k)
        if labelled[r]:
            table.at[r, "level"] = text
    if "value" in table:  # a continuous modifier at its quartiles: each value a quantile (protect_quantiles)
        at = {"p25": 0.25, "p50": 0.5, "p75": 0.75}
        quartiles = [r for r in table.index if table.at[r, "part"] == "stratum" and str(table.at[r, "level"]) in at
                     and not quantile_shown(counts[r], at[str(table.at[r, "level"])], min_cell)]
        _blank(table, quartiles, ["value"])
    hidden = sorted(set(rows) | set(terms) | set(models_rows) | set(tests))  # positions (reset index)
    _blank(table, hidden, _statistics(table))
    if "status" in table:  # a reason a stratum could not be fitted ("too few complete rows: n=1") describes it too
        bounded = [r for r in hidden if str(table.at[r, "status"]) != "ok" or r in tests]
        table.loc[bounded, "status"] = HIDDEN_STRATUM.format(min_cell=min_cell)
    if labelled.any():  # within each model's terms and strata, the labelled levels last
        group = table[keys].astype(str).agg("\x1f".join, axis=1)
        block = group + "\x1f" + table["part"].astype(str)
        first = {b: k for k, b in reversed(list(enumerate(block)))}
        order = sorted(table.index, key=lambda r: (first[block[r]], int(labelled[r]), r))
        return table.set_axis(index).iloc[order]
    return table.set_axis(index)


def pseudonymise(ids: pd.Series, cohort: str, key: bytes) -> pd.Series:
    """Keyed hash of cohort + ID: stable for a key, not reversible without it."""
    return ids.map(
        lambda i: "P" + hmac.new(key, f"{cohort}\x1f{i}".encode(), hashlib.sha256).hexdigest()[:16]
    )
