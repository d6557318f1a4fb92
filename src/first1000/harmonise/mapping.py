"""Mapping rules: a cohort's participants table -> harmonised variables.

One rule per harmonised variable, from a closed vocabulary (Maelstrom Research's
harmonisation rules, as in Rmonize: direct, recode, derive, impossible, undetermined):

* ``direct``: take a column, converting from its declared ``unit`` (dates: ``format``);
* ``recode``: a category table (``map`` or a ``map_file`` resource) or numeric ``ranges``
  ``[{min, max, value}]`` (min inclusive, max exclusive), optionally with the ``unit`` of
  the mapped values;
* ``derive``: a named operation (:data:`OPERATIONS`) on declared ``inputs``;
* ``impossible`` / ``undetermined``: reported, all missing.

Every value that breaks the data schema (text in a number, an unmapped category, a value
out of range, an invalid date) is an error naming file, column and rows, or, with
``on_invalid: missing`` in the mapping file, is set missing and listed with its reason
and rows in the harmonisation report. Nothing is ever evaluated as code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from first1000.config import where
from first1000.errors import ConfigError
from first1000.io.input_tables import Table, parse_dates
from first1000.units import conversion

PRETERM_DAYS = 259  # < 37+0 weeks
MATERIAL_DEPRIVATION_ITEMS = 13  # EU-SILC material and social deprivation (7 household + 6 personal)
QUESTIONNAIRE_MAX_MISSING = 0.2  # share of items that may be missing for a prorated score


@dataclass
class VariableReport:
    """What a rule did to one variable (aggregate; no row-level values)."""

    variable: str
    rule: str
    source: str = ""
    n: int = 0
    n_missing: int = 0
    n_rejected: int = 0
    rejected: list = field(default_factory=list)  # reasons (no cell quoted)
    rejected_rows: str = ""  # the rows of all rejected values (their number is n_rejected)
    rejected_mask: object = None
    n_outliers: int = 0  # values beyond 5 SD of the median in a variable without a range (kept)
    note: str = ""
    n_prorated: float = float("nan")  # questionnaire scores prorated over the answered items
    alpha: float = float("nan")  # Cronbach's alpha of a questionnaire score


class Checker:
    """Raise on invalid values, or (``on_invalid: missing``) record them and null them."""

    def __init__(self, table: Table, mode: str):
        self.table = table
        self.mode = mode

    def __call__(self, report: VariableReport, column, mask, problem: str, fix: str,
                 reported: str | None = None) -> np.ndarray:
        """``problem`` goes to the error message; ``reported`` (default ``problem``) to the
        harmonisation report, a result table: it never quotes a cell."""
        mask = np.asarray(mask, bool)
        if not mask.any():
            return mask
        if self.mode == "error":
            raise self.table.fail(column, mask, problem, fix)
        report.n_rejected += int(mask.sum())
        if (reported or problem) not in report.rejected:
            report.rejected.append(reported or problem)
        report.rejected_mask = mask if report.rejected_mask is None else (report.rejected_mask | mask)
        report.rejected_rows = self.table.rows(report.rejected_mask, limit=50)
        return mask


def _numeric(table: Table, column: str, check: Checker, report: VariableReport) -> np.ndarray:
    """Parse a column as numbers; invalid cells handled by ``check`` (and then missing)."""
    values, _, bad, problem, fix = table.parse_numbers(column)
    if bad.any():
        check(report, column, bad, problem, fix)
    return values


def _show(category: str, limit: int = 40) -> str:
    """A category for a message: quoted, shortened, control characters escaped."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(category))
    return f"'{text[:limit]}…'" if len(text) > limit else f"'{text}'"


def _nfc(text) -> str:
    return unicodedata.normalize("NFC", str(text))


#: A category longer than this, or of more words, is free text (never quoted in messages).
CATEGORY_MAX_CHARS = 40
CATEGORY_MAX_WORDS = 6
#: A cell that is a measurement, not a category code: a number with decimals (16.2, 3,5).
_MEASUREMENT = re.compile(r"^\s*[-+]?\d*[.,]\d+\s*$")
#: More unmapped values than this: the recode points at a column that is not categories.
CATEGORY_MAX_UNMAPPED = 20
#: First characters that spreadsheets run as formulas (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _unquotable(table: Table, mapping: dict, column: str, present: pd.Series, categories: list) -> str:
    """Why the unmapped values of a recoded column must not be quoted in a message ('' if
    they may): the column is the ID column, holds identifier-like or free-text values
    (mostly distinct values, long or wordy cells), or a value starts as a spreadsheet
    formula would. Quoted categories are codes of a vocabulary, not a participant's data."""
    if column == mapping.get("tables", {}).get("participants", {}).get("id"):
        return "the column is the participant ID column"
    values = present.dropna()
    if len(values) >= 10 and values.nunique() >= 0.8 * len(values):
        return "most of the column's values are distinct, as identifiers or free text are"
    if any(len(c) > CATEGORY_MAX_CHARS or len(c.split()) > CATEGORY_MAX_WORDS for c in categories):
        return "some are free text"
    if any(c.startswith(FORMULA_START) for c in categories):
        return "some start like a spreadsheet formula"
    if any(_MEASUREMENT.match(c) for c in categories):
        return "some are measured values (decimal numbers), not category codes"
    if len(categories) > CATEGORY_MAX_UNMAPPED:
        return f"there are {len(categories)} of them: the column does not hold a vocabulary of codes"
    return ""


def _conform(values, spec: dict, variable: str, column: str, check: Checker, report: VariableReport):
    """Check a harmonised variable against the data schema (type, categories, range)."""
    kind = spec["type"]
    if kind == "categorical":
        text = pd.Series(values, dtype="string")
        allowed = spec.get("categories")
        if allowed:
            bad = (text.notna() & ~text.isin(allowed)).to_numpy(dtype=bool)
            if check(report, column, bad, f"`{variable}` must be one of {', '.join(allowed)}",
                     "Recode the column in the mapping file.").any():
                text[bad] = pd.NA
        return text.astype(object).where(text.notna(), None).to_numpy()
    values = np.asarray(values, float).copy()
    finite = ~np.isnan(values)
    if kind == "binary":
        bad = finite & ~np.isin(values, [0.0, 1.0])
        values[check(report, column, bad, f"`{variable}` must be 0 or 1", "Recode the column.")] = np.nan
    if kind == "integer":
        bad = finite & (values != np.round(values))
        values[check(report, column, bad, f"`{variable}` must be a whole number", "Fix these cells.")] = np.nan
    lo, hi = spec.get("min"), spec.get("max")
    if lo is not None or hi is not None:
        with np.errstate(invalid="ignore"):
            bad = np.zeros(len(values), bool)
            if lo is not None:
                bad |= values < lo
            if hi is not None:
                bad |= values > hi
        bounds = " and ".join(b for b in (f">= {lo:g}" if lo is not None else "",
                                          f"<= {hi:g}" if hi is not None else "") if b)
        values[check(report, column, bad,
                     f"value out of range for {variable} ({spec.get('unit', 'no unit')}): expected {bounds}",
                     "Check the unit declared in the mapping file and the values in these rows.")] = np.nan
    return values


def _source_column(table: Table, mapping: dict, variable: str, column: str, key: tuple = ("column",)) -> str:
    name = _nfc(column).strip()
    if name not in table.data.columns:
        raise ConfigError(
            f"{where(mapping['_source'], ['variables', variable, *key])}: column '{column}' is not in "
            f"{table.where}.{table.suggest(name)} {table.columns_found(25)}")
    return name


def _direct(table, mapping, variable, rule, spec, check, report):
    column = _source_column(table, mapping, variable, rule["column"])
    missing = table.missing_mask(column)
    if spec["type"] == "date":
        fmt = rule.get("format")
        if not fmt:
            raise ConfigError(f"{where(mapping['_source'], ['variables', variable])}: `{variable}` is a date; "
                              "declare its `format`, e.g. \"%d/%m/%Y\".")
        try:
            parsed, bad = parse_dates(table, column, fmt, missing)
        except (ValueError, TypeError):
            raise ConfigError(f"{where(mapping['_source'], ['variables', variable, 'format'])}: `{fmt}` is not a "
                              "date format first1000 can use; write it with strftime codes such as "
                              "\"%d/%m/%Y\" or \"%Y-%m-%d\".") from None
        if check(report, column, bad, f"expected a date in the format {fmt}",
                 "Fix these cells or declare the format the file uses.").any():
            parsed[bad] = pd.NaT
        return parsed.to_numpy()
    if spec["type"] == "categorical":
        text = table.data[column].astype("string").str.strip()
        return text.where(~pd.Series(missing, index=text.index)).to_numpy(dtype=object)
    if rule.get("unit") == "weeks+days":
        source = table.data[column].where(~pd.Series(missing, index=table.data.index))
        values = conversion("weeks+days", spec.get("unit"))(source).to_numpy(float)
        bad = np.isnan(values) & ~missing
        check(report, column, bad, "expected weeks+days such as 39+4", "Fix these cells.")
        return values
    values = _numeric(table, column, check, report)
    if spec.get("min") is None and spec.get("max") is None:
        values = _unbounded(table, column, values, variable, check, report)
    if "unit" in rule:
        values = conversion(rule["unit"], spec.get("unit"))(values)
    return values


#: Values that exports use as missing-value codes (checked in variables without a range).
SENTINELS = (-99999.0, -9999.0, -999.0, -99.0, 999.0, 9999.0, 99999.0)
#: Values farther than this many SDs from the median (MAD scale) are noted in the report.
OUTLIER_SD = 5.0


def _unbounded(table: Table, column: str, values: np.ndarray, variable: str, check: Checker,
               report: VariableReport) -> np.ndarray:
    """Checks of a numeric variable whose data schema declares no ``min``/``max``.

    A value exactly equal to a typical missing-value code (-99999, -9999, -999, -99, 999,
    9999, 99999) is an invalid value (an error, or missing with ``on_invalid: missing``):
    declare it in ``column_missing_codes`` if it means missing, or give the variable a
    ``min``/``max`` in the data schema if such values are real. Other values beyond 5 SD
    of the median (SD estimated as 1.4826 x MAD, or the SD when the MAD is 0) are kept and
    counted in the report's ``n_outliers`` (with a warning in its ``note``)."""
    values = np.asarray(values, float).copy()
    sentinel = np.isin(values, SENTINELS)
    if check(report, column, sentinel, f"values equal to a typical missing-value code (such as -999 or 9999) in "
             f"`{variable}`, which has no declared range",
             "If they mean missing, declare them for this column under `column_missing_codes` of the table in "
             "the mapping file; if they are real values, declare the variable's `min`/`max` in the data "
             "schema.").any():
        values[sentinel] = np.nan
    finite = values[np.isfinite(values)]
    if len(finite) >= 5:
        centre = np.median(finite)
        scale = 1.4826 * np.median(np.abs(finite - centre))
        if not scale > 0:
            centre, scale = float(np.mean(finite)), float(np.std(finite, ddof=1))
        if scale > 0:
            with np.errstate(invalid="ignore"):
                far = np.abs(values - centre) > OUTLIER_SD * scale
            if far.any():  # the count goes to n_outliers (suppressed like every count), not the note
                report.n_outliers = int(far.sum())
                note = (f"warning: values beyond {OUTLIER_SD:g} SD of the median (n_outliers; kept: check them in the "
                        "cohort's file, or declare a range)")
                report.note = f"{report.note}; {note}" if report.note else note
    return values


def _recode(table, mapping, variable, rule, spec, check, report):
    column = _source_column(table, mapping, variable, rule["column"])
    missing = table.missing_mask(column)
    if "ranges" in rule:
        source = _numeric(table, column, check, report)
        values = np.full(len(source), np.nan, dtype=object)
        matched = np.zeros(len(source), bool)
        for band in rule["ranges"]:
            lo, hi = band.get("min", -np.inf), band.get("max", np.inf)
            inside = ~matched & (source >= lo) & (source < hi)
            values[inside] = band["value"]
            matched |= inside
        unmatched = ~matched & ~np.isnan(source)
        check(report, column, unmatched, f"value falls in no declared range of `{variable}` "
              f"(cohort {mapping['_cohort']})", f"Extend `ranges` in {mapping['_source']}.")
        mapped = pd.Series(values)
    else:
        text = table.data[column].astype("string").str.strip()
        lookup = {_nfc(k).strip(): v for k, v in rule["map"].items()}
        unmapped = ~missing & ~text.isin(list(lookup)).fillna(False).to_numpy(dtype=bool)
        if unmapped.any():
            categories = sorted(set(text[unmapped].dropna()))
            folded = {k.casefold(): k for k in lookup}
            near = [c for c in categories if c.casefold() in folded]
            hint = ""
            if near:
                hint = (" It differs from a category of the map only by letter case." if len(categories) == 1 else
                        f" {len(near)} of them differ from a category of the map only by letter case.")
            several = len(categories) > 1
            why = _unquotable(table, mapping, column, text[~missing], categories)
            if why:
                n = len(categories)
                problem = (f"{n} distinct value{'s' if several else ''} ha{'ve' if several else 's'} no entry in the "
                           f"recode of `{variable}` (cohort {mapping['_cohort']}; not quoted: {why})")
                fix = (f"Check that `variables.{variable}.column` names the column of categories in "
                       f"{mapping['_source']}, or add these values to the map or to `missing_codes`.{hint}")
            else:
                # a value fewer than privacy.min_cell_size rows hold is counted, not quoted beside
                # its rows: a rare answer ('stopped in week 12') describes the woman who gave it
                held = text[unmapped].value_counts()
                min_cell = int(mapping.get("_min_cell", 5))  # privacy.min_cell_size, its default without a config
                common = [c for c in categories if held.get(c, 0) >= min_cell]
                rare = len(categories) - len(common)
                shown = ", ".join(_show(c) for c in common[:5])
                more = [f"{len(common) - 5} more"] if len(common) > 5 else []
                more += [f"{rare} held by fewer than {min_cell} rows each, not quoted"] if rare else []
                if shown:
                    listed = f"categor{'ies' if several else 'y'} {shown}" + (f" (and {'; '.join(more)})" if more
                                                                              else "")
                else:
                    listed = f"{rare} distinct value{'s' if several else ''} (held by fewer than {min_cell} rows" \
                             f"{' each' if several else ''}, not quoted)"
                problem = (f"{listed} ha{'ve' if several else 's'} no entry "
                           f"in the recode of `{variable}` (cohort {mapping['_cohort']})")
                fix = (f"Add {'them' if several else 'it'} to the map in {mapping['_source']} or to "
                       f"`missing_codes`.{hint}")
            # no count of distinct values: rows are at least as many, a bound on a suppressed n_rejected
            reported = f"values without an entry in the recode of `{variable}` (not quoted in results)"
            check(report, column, unmapped, problem, fix, reported=reported)
        mapped = text.map(lookup).where(~pd.Series(missing | unmapped, index=text.index))
    if spec["type"] in ("categorical",):
        return mapped.astype(object).where(mapped.notna(), None).to_numpy()
    values = pd.to_numeric(mapped, errors="coerce").to_numpy(float)
    not_numeric = mapped.notna().to_numpy() & np.isnan(values)
    if not_numeric.any():
        raise ConfigError(f"{where(mapping['_source'], ['variables', variable])}: `{variable}` is "
                          f"{spec['type']}; its recode must map to numbers.")
    if "unit" in rule:
        values = conversion(rule["unit"], spec.get("unit"))(values)
    return values


def _input_column(table, mapping, variable, rule, role):
    inputs = rule.get("inputs", {})
    if role not in inputs:
        raise ConfigError(f"{where(mapping['_source'], ['variables', variable])}: operation "
                          f"`{rule['operation']}` needs `inputs.{role}`.")
    columns = inputs[role]
    if isinstance(columns, list):
        return [_source_column(table, mapping, variable, c, ("inputs", role)) for c in columns]
    return _source_column(table, mapping, variable, columns, ("inputs", role))


def _op_preterm(table, mapping, variable, rule, spec, check, report, frame):
    if "gestational_age" not in frame or pd.isna(frame["gestational_age"]).all():
        raise ConfigError(f"{where(mapping['_source'], ['variables', variable])}: `{variable}` derives from "
                          "gestational_age, which this cohort does not map.")
    ga = np.asarray(frame["gestational_age"], float)
    report.source = "gestational_age"
    report.note = "gestational age < 259 days (37+0 weeks)"
    return np.where(np.isnan(ga), np.nan, (ga < PRETERM_DAYS).astype(float))


def _op_bmi(table, mapping, variable, rule, spec, check, report, frame):
    weight_col = _input_column(table, mapping, variable, rule, "weight_kg")
    height_col = _input_column(table, mapping, variable, rule, "height_cm")
    weight = _numeric(table, weight_col, check, report)
    height = _numeric(table, height_col, check, report)
    report.source = f"{weight_col}, {height_col}"
    report.note = "weight (kg) / height (m)^2"
    with np.errstate(invalid="ignore", divide="ignore"):
        return weight / (height / 100.0) ** 2


def _op_deprivation_count(table, mapping, variable, rule, spec, check, report, frame):
    """EU-SILC material and social deprivation: number of the 13 items lacked.

    Items are coded 1 = cannot afford / lacks, 0 = does not lack. A participant with
    more than ``max_missing`` (default 0) missing items gets no count (Eurostat rule:
    the indicator needs every item, or a declared tolerance).
    """
    columns = _input_column(table, mapping, variable, rule, "items")
    items = np.column_stack([_numeric(table, c, check, report) for c in columns])
    bad = ~np.isnan(items) & ~np.isin(items, [0.0, 1.0])
    if bad.any():
        rows = bad.any(axis=1)
        if check(report, columns[int(np.flatnonzero(bad.any(axis=0))[0])], rows,
                 "deprivation items must be coded 0 (not lacking) or 1 (lacking)", "Recode the items.").any():
            items[bad] = np.nan
    max_missing = int(rule.get("max_missing", 0))
    n_missing = np.isnan(items).sum(axis=1)
    count = np.nansum(items, axis=1)
    report.source = ", ".join(columns)
    report.note = f"count of {len(columns)} EU-SILC deprivation items lacked; missing if > {max_missing} items missing"
    return np.where(n_missing > max_missing, np.nan, count)


def _op_isco_major(table, mapping, variable, rule, spec, check, report, frame):
    """ISCO-08 major group (first digit of the 1-4 digit code; 0 = armed forces)."""
    column = _input_column(table, mapping, variable, rule, "isco")
    text = table.data[column].astype("string").str.strip()
    missing = table.missing_mask(column)
    valid = text.str.fullmatch(r"\d{1,4}").fillna(False).to_numpy(dtype=bool)
    check(report, column, ~valid & ~missing, "expected an ISCO-08 code of 1 to 4 digits", "Fix these cells.")
    report.source = column
    report.note = "ISCO-08 major group = first digit of the code"
    first = text.str[0].where(pd.Series(valid & ~missing, index=text.index))
    return pd.to_numeric(first, errors="coerce").to_numpy(float)


def _harmonised(mapping, variable, frame, needed: list[str]):
    """Harmonised inputs of a derived variable; a ConfigError when the cohort maps none of one."""
    for name in needed:
        if name not in frame or pd.isna(pd.Series(frame[name])).all():
            raise ConfigError(f"{where(mapping['_source'], ['variables', variable])}: `{variable}` derives from "
                              f"{', '.join(needed)}; this cohort does not map `{name}`.")
    return [frame[name] for name in needed]


def _op_questionnaire(table, mapping, variable, rule, spec, check, report, frame):
    """A questionnaire score from its items (first1000.scoring.questionnaires), prorated.

    ``instrument``: a built-in instrument (epds, epds_item_scores, pss10, stai_state,
    stai_trait, brs); ``inputs.items``: its item columns in item order; ``max_missing``:
    items that may be missing for a prorated score (default 20 % of the items). Item
    responses that are no whole number in the instrument's range are invalid values.
    Cronbach's alpha (complete cases) and the number of prorated scores go into the
    harmonisation report.
    """
    from first1000.scoring import questionnaires as mood

    if "instrument" not in rule:
        raise ConfigError(f"{where(mapping['_source'], ['variables', variable])}: operation `questionnaire_score` "
                          f"needs `instrument` (one of {', '.join(sorted(mood.INSTRUMENTS))}).")
    try:
        name, definition = mood.instrument_definition(rule["instrument"])
    except ConfigError as exc:
        raise ConfigError(f"{where(mapping['_source'], ['variables', variable, 'instrument'])}: {exc}") from None
    columns = _input_column(table, mapping, variable, rule, "items")
    columns = columns if isinstance(columns, list) else [columns]
    k = definition["k"]
    if len(columns) != k:
        raise ConfigError(f"{where(mapping['_source'], ['variables', variable, 'inputs', 'items'])}: `{name}` has "
                          f"{k} items; {len(columns)} item columns are listed.")
    lo, hi = definition["min"], definition["max"]
    items = {}
    for column in columns:
        values = _numeric(table, column, check, report)
        with np.errstate(invalid="ignore"):
            bad = ~np.isnan(values) & ((values < lo) | (values > hi) | (values != np.round(values)))
        values[check(report, column, bad, f"item response outside the whole numbers {lo:g}-{hi:g} of `{name}`",
                     "Check the item coding (e.g. 1-4 vs 0-3) and the instrument declared for these columns.")] = np.nan
        items[column] = values
    max_missing = rule.get("max_missing")
    fraction = QUESTIONNAIRE_MAX_MISSING if max_missing is None else min(max_missing / k, 0.999)
    scored = mood.score_instrument(pd.DataFrame(items), name, fraction, where=str(table.where))
    allowed = int(np.floor(fraction * k + 1e-9))
    report.source = ", ".join(columns)
    report.n_prorated = scored.n_prorated
    report.alpha = mood.cronbach_alpha(scored.items)
    # no counts in the note: they would escape the disclosure control of the report's count
    # columns (n - complete cases gives n_prorated back); alpha is blanked there below m
    report.note = (f"{name}: {definition['score']} of {k} items ({len(definition['reversed'])} reversed), prorated "
                   f"when at most {allowed} missing, not scored (missing) with more; Cronbach's alpha on the "
                   "complete cases (n - n_prorated)")
    return scored.score.to_numpy(float)


def _size_for_ga(mapping, variable, frame):
    from first1000.scoring import birth_outcomes as birth

    ga, weight, sex = _harmonised(mapping, variable, frame, ["gestational_age", "birth_weight", "child_sex"])
    return birth.size_for_ga(np.asarray(weight, float), np.asarray(ga, float), np.asarray(sex, dtype=object),
                             "weight", path=mapping.get("_lms_table")).z.to_numpy(float)


def _op_birth_weight_z(table, mapping, variable, rule, spec, check, report, frame):
    report.source = "gestational_age, birth_weight, child_sex"
    report.note = ("INTERGROWTH-21st birth weight z-score for gestational age and sex (newborn standard 33+0-42+6 "
                   "weeks, very preterm charts 24+0-32+6); missing outside 24+0-42+6 weeks")
    return _size_for_ga(mapping, variable, frame)


def _op_sga(table, mapping, variable, rule, spec, check, report, frame):
    from first1000.scoring import birth_outcomes as birth

    z = _size_for_ga(mapping, variable, frame)
    report.source = "gestational_age, birth_weight, child_sex"
    report.note = "small for gestational age: INTERGROWTH-21st birth weight < 10th centile for GA and sex"
    return np.where(np.isnan(z), np.nan, (z < birth.Z_P10).astype(float))


def _op_lga(table, mapping, variable, rule, spec, check, report, frame):
    from first1000.scoring import birth_outcomes as birth

    z = _size_for_ga(mapping, variable, frame)
    report.source = "gestational_age, birth_weight, child_sex"
    report.note = "large for gestational age: INTERGROWTH-21st birth weight > 90th centile for GA and sex"
    return np.where(np.isnan(z), np.nan, (z > birth.Z_P90).astype(float))


def _op_low_apgar(table, mapping, variable, rule, spec, check, report, frame):
    from first1000.scoring import birth_outcomes as birth

    (apgar,) = _harmonised(mapping, variable, frame, ["apgar_5min"])
    apgar = np.asarray(apgar, float)
    report.source = "apgar_5min"
    report.note = f"5-minute Apgar score < {birth.LOW_APGAR}"
    return np.where(np.isnan(apgar), np.nan, (apgar < birth.LOW_APGAR).astype(float))


def _op_season(table, mapping, variable, rule, spec, check, report, frame, term):
    from first1000.scoring.season import season_terms

    (dates,) = _harmonised(mapping, variable, frame, ["sampling_date"])
    report.source = "sampling_date"
    report.note = f"{term}(2 pi day-of-year / 365.25) of the sampling date (enter season_sin and season_cos together)"
    return season_terms(pd.Series(dates))[f"season_{term}"].to_numpy(float)


#: The named operations of ``derive`` rules (the closed vocabulary).
OPERATIONS = {
    "preterm_from_gestational_age": _op_preterm,
    "bmi_from_weight_height": _op_bmi,
    "material_deprivation_count": _op_deprivation_count,
    "isco08_major_group": _op_isco_major,
    "questionnaire_score": _op_questionnaire,
    "birth_weight_z_intergrowth": _op_birth_weight_z,
    "sga_intergrowth": _op_sga,
    "lga_intergrowth": _op_lga,
    "low_apgar": _op_low_apgar,
    "season_sin_from_sampling_date": lambda *a: _op_season(*a, term="sin"),
    "season_cos_from_sampling_date": lambda *a: _op_season(*a, term="cos"),
}

#: The operations that read the INTERGROWTH-21st LMS table (``mapping["_lms_table"]``).
LMS_OPERATIONS = frozenset({"birth_weight_z_intergrowth", "sga_intergrowth", "lga_intergrowth"})


def category_counts(table: Table, mapping: dict, variable: str, rule: dict, values) -> pd.DataFrame:
    """Counts per declared source category and the harmonised value it became (recodes only).

    Only the vocabulary the mapping declares is listed (the map's keys, or a band
    ``[min, max)`` of ``ranges``); a value the map does not declare (a free-text answer, an
    ID, a formula) is never written: such cells are counted as ``(undeclared)`` (their rows
    are in the harmonisation report)."""
    column = _nfc(rule["column"]).strip()
    missing = pd.Series(table.missing_mask(column), index=table.data.index)
    after = pd.Series(values, index=table.data.index).astype(object).where(pd.notna(values), "(missing)")
    if "ranges" in rule:
        source_values, _, _, _, _ = table.parse_numbers(column)
        source = pd.Series("(undeclared)", index=table.data.index, dtype=object)
        for band in reversed(rule["ranges"]):  # the first matching band wins, as in _recode
            lo, hi = band.get("min", -np.inf), band.get("max", np.inf)
            with np.errstate(invalid="ignore"):
                inside = (source_values >= lo) & (source_values < hi)
            source[inside] = f"[{lo:g}, {hi:g})"
    else:
        text = table.data[column].astype("string").str.strip()
        declared = {_nfc(k).strip() for k in rule["map"]}
        source = text.where(text.isin(declared).fillna(False), "(undeclared)").astype(object)
    source = source.where(~missing, "(missing)")
    counts = pd.DataFrame({"source_category": source, "harmonised_value": after.astype(str)})
    out = counts.value_counts(sort=False).rename("n").reset_index()
    out.insert(0, "variable", variable)
    return out.sort_values(["variable", "source_category"], kind="stable")


def apply_mapping(table: Table, mapping: dict, data_schema: dict):
    """Apply every rule of a mapping file to its participants table.

    Returns ``(frame, reports, categories)``: the harmonised variables (one column per
    variable of the data schema), a :class:`VariableReport` per variable and the
    before/after category counts of every recode.
    """
    check = Checker(table, mapping.get("on_invalid", "error"))
    rules = mapping["variables"]
    frame, reports, categories = {}, {}, []
    derived = []
    for variable, spec in data_schema.items():
        rule = rules.get(variable, {"rule": "undetermined", "reason": "not declared in the mapping file"})
        report = VariableReport(variable, rule["rule"], rule.get("column", ""))
        reports[variable] = report
        if rule["rule"] in ("impossible", "undetermined"):
            frame[variable] = np.full(len(table.data), np.nan)
            report.note = rule.get("reason", "")
            continue
        if rule["rule"] == "derive":
            derived.append((variable, rule, spec))
            continue
        apply = _direct if rule["rule"] == "direct" else _recode
        values = apply(table, mapping, variable, rule, spec, check, report)
        if spec["type"] != "date":
            values = _conform(values, spec, variable, rule["column"], check, report)
        frame[variable] = values
        if rule["rule"] == "recode":
            categories.append(category_counts(table, mapping, variable, rule, values))
    for variable, rule, spec in derived:
        report = reports[variable]
        values = OPERATIONS[rule["operation"]](table, mapping, variable, rule, spec, check, report, frame)
        frame[variable] = _conform(values, spec, variable, None, check, report)
    out = pd.DataFrame(frame, index=table.data.index)
    for variable, report in reports.items():
        report.n = int(pd.notna(out[variable]).sum())
        report.n_missing = int(pd.isna(out[variable]).sum())
        range_note = data_schema[variable].get("range_note")  # the config's variable_overrides, with the reason
        if range_note:
            report.note = f"{report.note}; {range_note}" if report.note else range_note
    cats = pd.concat(categories, ignore_index=True) if categories else pd.DataFrame(
        columns=["variable", "source_category", "harmonised_value", "n"])
    return out, list(reports.values()), cats


def report_table(reports: list[VariableReport], cohort: str) -> pd.DataFrame:
    """The per-variable harmonisation report (rows are numbered, never identified)."""
    rows = []
    for r in reports:
        rows.append(dict(
            cohort=cohort, variable=r.variable, rule=r.rule, source=r.source, n=r.n, n_missing=r.n_missing,
            pct_missing=round(100 * r.n_missing / max(r.n + r.n_missing, 1), 1), n_rejected=r.n_rejected,
            rejected="; ".join(r.rejected), rejected_rows=r.rejected_rows,
            n_outliers=r.n_outliers, n_prorated=r.n_prorated, alpha=r.alpha, note=r.note,
        ))
    return pd.DataFrame(rows)
