"""Maternal mood: questionnaire scoring, internal consistency and resilience.

Instruments are declared as data (:data:`INSTRUMENTS`), not code, so that a lab can add
one in the config with the same keys:

``items``
    number of items ``k`` (the item table has those ``k`` columns, in item order), or the
    list of the item columns in item order.
``min``, ``max``
    the range of an item response as coded in the data (whole numbers).
``reversed``
    1-based item positions scored in reverse: ``min + max - response``.
``score``
    ``sum`` (prorated when items are missing, see below) or ``mean`` (mean of the answered
    items, which is the same proration).
``score_column`` (optional)
    the name of the score column in the scores table (default: the instrument's name).

Codings of the built-in instruments (check your export against them):

* **EPDS** (Cox et al. 1987, Br J Psychiatry 150:782), 10 items, total 0-30. Each item
  lists four answers. The *responses must be coded as the answer's position, 0 = the
  first (top) answer ... 3 = the last*. Items 1, 2 and 4 are then scored 0-3 top to
  bottom as they are; items 3 and 5-10 are scored 3-0 top to bottom, i.e. reversed
  (``3 - position``). If your export already holds item *scores* (0 = no symptom for
  every item), use ``epds_item_scores``, which reverses nothing. Item 10 is the
  self-harm item: the scores table flags a (scored) item 10 >= 1 in ``epds_item10_positive``
  for clinical follow-up according to the study protocol.
* **PSS-10** (Cohen et al. 1983; Cohen & Williamson 1988), 10 items 0 = never ... 4 = very
  often; items 4, 5, 7 and 8 (the positively worded ones) reversed; total 0-40.
* **STAI** form Y (Spielberger 1983), 20 items 1-4 each for the state and the trait
  scale, total 20-80 each. Reversed (anxiety-absent) items: state 1, 2, 5, 8, 10, 11, 15,
  16, 19, 20; trait (items 21-40 of the full form) 21, 23, 26, 27, 30, 33, 34, 36, 39,
  i.e. items 1, 3, 6, 7, 10, 13, 14, 16, 19 of the trait scale as numbered 1-20 here.
* **Brief Resilience Scale** (Smith et al. 2008, Int J Behav Med 15:194), 6 items
  1 = strongly disagree ... 5 = strongly agree; items 2, 4, 6 reversed; score = mean (1-5).

Missing items: a score is computed when at most ``max_missing`` (default 20%) of the items
are missing; a sum score is then prorated as ``sum x k / k_answered`` (= k x the mean of
the answered items); with more missing items the score is missing. Both are counted.

Cronbach's alpha is computed on the reverse-scored items of the complete cases:
alpha = k/(k-1) x (1 - sum of item variances / variance of the total).

Resilience can be declared in two ways (``settings['resilience']``):

* ``{method: scale, instrument: brs}``: a resilience scale score (e.g. the BRS mean);
* ``{method: residual, positivity: <score>, stress: <score>}``: the standardised
  residual of positivity regressed (OLS, with intercept) on stress within the cohort, as
  in Verner et al. 2021: a mother with more positivity than her stress level predicts is
  resilient. The residual is divided by its SD (ddof 1), so +1 is one SD above the
  positivity expected for her stress.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from first1000.errors import ConfigError, InputTableError, format_rows

#: The built-in instruments (see the module docstring for the codings they expect).
INSTRUMENTS: dict[str, dict] = {
    "epds": {
        "label": "Edinburgh Postnatal Depression Scale (responses coded as answer position 0-3)",
        "items": 10, "min": 0, "max": 3, "reversed": [3, 5, 6, 7, 8, 9, 10], "score": "sum",
        "score_column": "epds",
    },
    "epds_item_scores": {
        "label": "Edinburgh Postnatal Depression Scale (items already scored 0-3)",
        "items": 10, "min": 0, "max": 3, "reversed": [], "score": "sum", "score_column": "epds",
    },
    "pss10": {
        "label": "Perceived Stress Scale, 10 items",
        "items": 10, "min": 0, "max": 4, "reversed": [4, 5, 7, 8], "score": "sum", "score_column": "pss",
    },
    "stai_state": {
        "label": "STAI form Y, state anxiety",
        "items": 20, "min": 1, "max": 4, "reversed": [1, 2, 5, 8, 10, 11, 15, 16, 19, 20], "score": "sum",
    },
    "stai_trait": {
        "label": "STAI form Y, trait anxiety (items 21-40 numbered 1-20)",
        "items": 20, "min": 1, "max": 4, "reversed": [1, 3, 6, 7, 10, 13, 14, 16, 19], "score": "sum",
    },
    "brs": {
        "label": "Brief Resilience Scale",
        "items": 6, "min": 1, "max": 5, "reversed": [2, 4, 6], "score": "mean",
    },
}

_EPDS_NAMES = ("epds", "epds_item_scores")


def instrument_definition(instrument, instruments: dict | None = None) -> tuple[str, dict]:
    """``(name, checked definition)`` for a name (looked up in ``instruments``, then the
    built-ins) or a definition dict (which may carry a ``name``)."""
    if isinstance(instrument, str):
        catalogue = {**INSTRUMENTS, **(instruments or {})}
        if instrument not in catalogue:
            raise ConfigError(
                f"mood: unknown instrument `{instrument}`. Declare it under `preparation.mood.definitions` "
                f"(keys items, min, max, reversed, score) or use one of: {', '.join(sorted(catalogue))}.")
        name, definition = instrument, catalogue[instrument]
    else:
        definition = dict(instrument)
        name = str(definition.get("name", "instrument"))
    return name, _checked(name, definition)


def _checked(name: str, definition: dict) -> dict:
    d = copy.deepcopy(definition)
    key = f"mood instrument `{name}`"
    for needed in ("items", "min", "max", "score"):
        if needed not in d:
            raise ConfigError(f"{key}: missing `{needed}` (declare items, min, max, reversed, score).")
    items = d["items"]
    if isinstance(items, (list, tuple)):
        if not items or len(set(map(str, items))) != len(items):
            raise ConfigError(f"{key}: `items` must list distinct item columns.")
        k = len(items)
    elif isinstance(items, (int, np.integer)) and not isinstance(items, bool) and items >= 2:
        k = int(items)
    else:
        raise ConfigError(f"{key}: `items` must be the number of items (>= 2) or the list of item columns.")
    try:
        lo, hi = float(d["min"]), float(d["max"])
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: `min` and `max` must be numbers.") from None
    if not lo < hi:
        raise ConfigError(f"{key}: `min` must be below `max`.")
    reversed_items = d.get("reversed") or []
    bad = [r for r in reversed_items if not isinstance(r, (int, np.integer)) or isinstance(r, bool) or not 1 <= r <= k]
    if bad or len(set(reversed_items)) != len(reversed_items):
        raise ConfigError(f"{key}: `reversed` must list distinct item positions between 1 and {k}.")
    if d["score"] not in ("sum", "mean"):
        raise ConfigError(f"{key}: `score` must be `sum` or `mean`.")
    d.update(k=k, min=lo, max=hi, reversed=sorted(int(r) for r in reversed_items))
    d.setdefault("score_column", name)
    return d


@dataclass
class Scored:
    """The result of :func:`score_instrument`."""

    score: pd.Series          # the score per row (NaN when too many items are missing)
    prorated: pd.Series       # True where the score was prorated over the answered items
    items: pd.DataFrame       # the items after reverse-scoring (for alpha)
    n_prorated: int
    n_missing: int            # rows without a score (more than max_missing items missing)
    definition: dict


def _item_frame(items_df: pd.DataFrame, definition: dict, where: str) -> pd.DataFrame:
    items = definition["items"]
    if isinstance(items, (list, tuple)):
        missing = [c for c in items if c not in items_df.columns]
        if missing:
            raise InputTableError(f"{where}: missing item column '{missing[0]}'. Rename it in the file or "
                                  "list the item columns of the instrument in item order.")
        return items_df[list(items)]
    if items_df.shape[1] != definition["k"]:
        raise InputTableError(f"{where}: {items_df.shape[1]} item columns given where the instrument has "
                              f"{definition['k']} items. Pass exactly its item columns, in item order.")
    return items_df


def _rows(row_numbers, mask) -> str:
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    rows = positions + 2 if row_numbers is None else np.asarray(row_numbers)[positions]
    return format_rows(rows)


def numeric_items(items: pd.DataFrame, lo: float, hi: float, where: str, row_numbers=None) -> pd.DataFrame:
    """Item responses as floats; non-numbers, fractions and out-of-range responses raise."""
    out = {}
    for column in items.columns:
        raw = items[column]
        if pd.api.types.is_bool_dtype(raw):
            raw = raw.astype(float)
        if pd.api.types.is_numeric_dtype(raw):
            values = raw.astype(float)
            present = values.notna()
        else:
            text = raw.astype("string").str.strip()
            present = text.notna() & (text != "")
            values = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce").astype(float)
            not_number = present & values.isna()
            if not_number.any():
                raise InputTableError(
                    f"{where}, column '{column}', {_rows(row_numbers, not_number)}: item response is not a number. "
                    "Code responses as numbers and leave missing answers empty (or declare the missing-value code).")
        values = values.where(present)
        bad = values.notna() & ((values < lo) | (values > hi) | (values != np.round(values)))
        if bad.any():
            raise InputTableError(
                f"{where}, column '{column}', {_rows(row_numbers, bad)}: item response outside the whole numbers "
                f"{lo:g}-{hi:g} this instrument allows. Check the item coding (e.g. 1-4 vs 0-3) or the "
                "instrument declared for these columns.")
        out[column] = values.to_numpy()
    return pd.DataFrame(out, index=items.index)


def score_instrument(items_df: pd.DataFrame, instrument, max_missing: float = 0.2, *,
                     instruments: dict | None = None, where: str = "item table", row_numbers=None) -> Scored:
    """Score one instrument per row, prorating when at most ``max_missing`` of items are missing.

    ``instrument`` is a name from :data:`INSTRUMENTS` (or ``instruments``) or a definition
    dict. ``row_numbers`` are the spreadsheet rows of ``items_df`` for messages (default:
    position + 2, header = row 1).
    """
    name, d = instrument_definition(instrument, instruments)
    if not 0 <= max_missing < 1:
        raise ConfigError(f"mood: `max_missing` must be a fraction in [0, 1), got {max_missing}.")
    raw = _item_frame(items_df, d, where)
    values = numeric_items(raw, d["min"], d["max"], where, row_numbers)
    for position in d["reversed"]:
        column = values.columns[position - 1]
        values[column] = d["min"] + d["max"] - values[column]
    k = d["k"]
    answered = values.notna().sum(axis=1)
    n_missing_items = k - answered
    allowed = int(np.floor(max_missing * k + 1e-9))
    ok = (n_missing_items <= allowed) & (answered > 0)
    mean = values.mean(axis=1, skipna=True)
    score = mean if d["score"] == "mean" else mean * k
    score = score.where(ok)
    prorated = ok & (n_missing_items > 0)
    return Scored(score=score.rename(d["score_column"]), prorated=prorated, items=values,
                  n_prorated=int(prorated.sum()), n_missing=int((~ok).sum()), definition=d)


def cronbach_alpha(items_df: pd.DataFrame) -> float:
    """Cronbach's alpha of (already reverse-scored) items over the complete cases.

    alpha = k/(k-1) x (1 - sum_i var(item_i) / var(sum of items)), variances with ddof 1,
    computed as ``pingouin.cronbach_alpha(nan_policy="listwise")`` computes it (pingouin
    0.7: the items' covariance matrix C, k/(k-1) x (1 - trace(C) / sum(C))): the same bits
    (tests compare both, and the formula by hand). Written out because importing pingouin
    imports matplotlib.pyplot and scipy.stats: 3 s of the 4 s of ingesting a cohort's
    participants, and of the pre-flight check (#19). NaN with fewer than 2 complete cases
    or a total without variance.
    """
    complete = items_df.dropna().astype(float)
    k = complete.shape[1]
    if k < 2 or len(complete) < 2:
        return float("nan")
    total_var = complete.sum(axis=1).var(ddof=1)
    if not total_var > 0:
        return float("nan")
    cov = complete.cov(numeric_only=True)
    return float((k / (k - 1)) * (1 - np.trace(cov) / cov.sum().sum()))


def resilience_residual(positivity, stress) -> pd.Series:
    """Standardised OLS residual of positivity on stress (with intercept).

    Rows missing either value get NaN; the residuals of the others have mean 0 and SD 1
    (ddof 1). Needs at least 3 complete rows and variation in stress.
    """
    positivity = pd.Series(positivity, dtype=float)
    stress = pd.Series(np.asarray(stress, dtype=float), index=positivity.index)
    ok = positivity.notna() & stress.notna()
    out = pd.Series(np.nan, index=positivity.index, name="resilience")
    if ok.sum() < 3 or stress[ok].nunique() < 2:
        raise ConfigError("mood: the resilience residual needs at least 3 mothers with both positivity and "
                          "stress scores, with stress varying between them.")
    x = np.column_stack([np.ones(int(ok.sum())), stress[ok].to_numpy()])
    y = positivity[ok].to_numpy()
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    sd = resid.std(ddof=1)
    out[ok] = resid / sd if sd > 0 else 0.0
    return out


def _instrument_columns(table: pd.DataFrame, name: str, spec, definition: dict) -> list[str]:
    """The item columns of one instrument in a cohort table: ``columns`` or ``prefix``."""
    spec = spec or {}
    if isinstance(spec, (list, tuple)):
        return list(spec)
    if "columns" in spec:
        return list(spec["columns"])
    if isinstance(definition["items"], (list, tuple)):
        return list(definition["items"])
    prefix = spec.get("prefix", f"{name}_")
    return [f"{prefix}{i}" for i in range(1, definition["k"] + 1)]


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    """Score the declared instruments per cohort.

    ``settings``: ``instruments`` (name -> ``{columns: [...]}`` or ``{prefix: 'epds_'}`` or
    a list of columns; default prefix ``<name>_`` with items numbered from 1),
    ``definitions`` (optional lab-declared instruments, same keys as :data:`INSTRUMENTS`),
    ``max_missing`` (default 0.2), ``resilience`` (optional, see the module docstring).

    Returns ``(scores, qc)``: one row per participant (``pseudo_id``, ``cohort``, one
    column per score, ``epds_item10_positive`` when the EPDS is scored, ``resilience``
    when declared) and per cohort and instrument ``n`` (scored), ``n_prorated``,
    ``n_missing`` (no score: too many items missing), ``n_alpha`` (complete cases),
    ``alpha``, ``mean`` and ``sd`` of the score.
    """
    declared = settings.get("instruments") or {}
    if not declared:
        raise ConfigError("mood: declare the instruments to score under `preparation.mood.instruments`.")
    definitions = settings.get("definitions") or {}
    max_missing = settings.get("max_missing", 0.2)
    frames, qc = [], []
    for cohort, table in tables.items():
        out = pd.DataFrame({"pseudo_id": table["pseudo_id"].to_numpy(), "cohort": cohort})
        for name, spec in declared.items():
            _, definition = instrument_definition(name, definitions)
            columns = _instrument_columns(table, name, spec, definition)
            missing = [c for c in columns if c not in table.columns]
            where = f"{cohort} mood table"
            if missing:
                raise InputTableError(
                    f"{where}: missing item column '{missing[0]}' of instrument `{name}`. Rename the column or "
                    f"declare the item columns under `preparation.mood.instruments.{name}.columns`.")
            scored = score_instrument(table[columns], name, max_missing, instruments=definitions, where=where)
            column = definition["score_column"]
            out[column] = scored.score.to_numpy()
            if name in _EPDS_NAMES:
                item10 = scored.items.iloc[:, 9]
                out["epds_item10_positive"] = np.where(item10.isna(), np.nan, (item10 >= 1).astype(float))
            x = scored.score.dropna()
            qc.append(dict(
                cohort=cohort, instrument=name, score_column=column, n=int(len(x)),
                n_prorated=scored.n_prorated, n_missing=scored.n_missing,
                n_alpha=int(scored.items.dropna().shape[0]), alpha=cronbach_alpha(scored.items),
                mean=float(x.mean()) if len(x) else np.nan,
                sd=float(x.std(ddof=1)) if len(x) > 1 else np.nan,
            ))
        resilience = settings.get("resilience")
        if resilience:
            out["resilience"] = _resilience(out, resilience, declared, definitions).to_numpy()
        frames.append(out)
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc)


def _resilience(scores: pd.DataFrame, spec: dict, declared: dict, definitions: dict) -> pd.Series:
    method = spec.get("method")
    if method == "scale":
        name = spec.get("instrument", "brs")
        if name not in declared:
            raise ConfigError(f"mood: resilience is the `{name}` scale score, but `{name}` is not among the "
                              "declared instruments.")
        return scores[instrument_definition(name, definitions)[1]["score_column"]]
    if method == "residual":
        for role in ("positivity", "stress"):
            if spec.get(role) not in scores.columns:
                raise ConfigError(f"mood: resilience `{role}` must name a score column of the scores table "
                                  f"({', '.join(c for c in scores.columns if c not in ('pseudo_id', 'cohort'))}).")
        return resilience_residual(scores[spec["positivity"]], scores[spec["stress"]])
    raise ConfigError("mood: `resilience.method` must be `scale` or `residual`.")


#: Harmonised mood variables reported in the mood QC table whether scored from items or not.
MOOD_VARIABLES = ("epds", "pss", "resilience", "stai_state", "stai_trait")


def qc_table(participants: pd.DataFrame, reports: pd.DataFrame, data_schema: dict) -> pd.DataFrame:
    """The maternal-mood QC table: per cohort and mood variable, how it was scored and its
    distribution (aggregates only).

    ``reports``: the cohorts' harmonisation reports (``results/harmonisation/*_variables.tsv``);
    a variable scored from its items by ``questionnaire_score`` has its instrument in the
    note and ``n_prorated`` and Cronbach's ``alpha`` there; a total supplied by the cohort
    (rule ``direct``) has no item-level QC (alpha blank). Columns: ``cohort``,
    ``variable``, ``label``, ``instrument``, ``scoring``, ``n``, ``n_prorated``,
    ``n_missing``, ``alpha``, ``mean``, ``sd``, ``median``, ``q1``, ``q3``.
    """
    scored = reports.note.fillna("").astype(str).str.extract(r"^(\w+): ", expand=False)
    reports = reports.assign(instrument=scored.where(scored.isin(list(INSTRUMENTS))))
    wanted = reports.variable.isin([v for v in MOOD_VARIABLES if v in data_schema]) | reports.instrument.notna()
    rows = []
    for row in reports[wanted].itertuples(index=False):
        values = participants.loc[participants.cohort == row.cohort, row.variable] \
            if row.variable in participants else pd.Series(dtype=float)
        x = pd.to_numeric(values, errors="coerce").dropna()
        items = isinstance(row.instrument, str)
        if row.rule in ("impossible", "undetermined"):
            scoring = "not available"
        else:
            scoring = f"scored from items ({row.instrument})" if items else "total supplied by the cohort"
        rows.append(dict(
            cohort=row.cohort, variable=row.variable, label=data_schema.get(row.variable, {}).get("label", row.variable),
            instrument=row.instrument if items else "", scoring=scoring, n=row.n,
            n_prorated=row.n_prorated if items else np.nan, n_missing=row.n_missing,
            alpha=row.alpha if items else np.nan,
            mean=float(x.mean()) if len(x) else np.nan, sd=float(x.std(ddof=1)) if len(x) > 1 else np.nan,
            median=float(x.median()) if len(x) else np.nan,
            q1=float(x.quantile(0.25)) if len(x) else np.nan, q3=float(x.quantile(0.75)) if len(x) else np.nan,
        ))
    columns = ["cohort", "variable", "label", "instrument", "scoring", "n", "n_prorated", "n_missing", "alpha",
               "mean", "sd", "median", "q1", "q3"]
    return pd.DataFrame(rows, columns=columns)
