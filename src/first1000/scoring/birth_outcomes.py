"""Birth outcomes: size for gestational age (INTERGROWTH-21st), preterm, Apgar, complications.

Size at birth is expressed against the INTERGROWTH-21st Newborn Size Standards (Villar et
al. 2014, Lancet 384:857; 33+0 to 42+6 weeks) and, optionally, the very preterm size at
birth charts (Villar et al. 2016, Lancet 387:844; 24+0 to 32+6 weeks), by sex, for
birth weight, length and head circumference. The parameters are LMS (Box-Cox, Cole &
Green 1992) values per day of gestation in ``first1000/data/intergrowth/newborn_lms.csv``
(source, licence and how they approximate the published GAMLSS curves: the README
beside it). With ``L``, ``M``, ``S`` at the baby's gestational age (linear interpolation
for fractional days):

    z = ((y / M)^L - 1) / (L S),   or ln(y / M) / S when L = 0;   centile = 100 Phi(z)

Derived outcomes (DOMAIN.md section 3): SGA = below the 10th centile for GA and sex
(z < Phi^-1(0.10)); severe SGA < 3rd; LGA = above the 90th; preterm = GA < 259 days
(< 37+0 weeks), very preterm < 224 days (32+0), extremely preterm < 196 days (28+0);
low birth weight < 2500 g; low Apgar = 5-minute Apgar < 7.

Raw values that cannot be right (GA outside 22+0-45+0 weeks, birth weight <= 0 or
> 7000 g, Apgar outside the whole numbers 0-10) raise :class:`InputTableError` naming the
column, the rule and the rows. A plausible GA outside the standard's range gives a
missing z-score and SGA/LGA, counted in the QC table.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special  # norm.cdf and norm.ppf are special.ndtr and special.ndtri

from first1000.errors import ConfigError, InputTableError, format_rows
from first1000.units import parse_weeks_days

PRETERM_DAYS = 259            # < 37+0 weeks
VERY_PRETERM_DAYS = 224       # < 32+0 weeks
EXTREMELY_PRETERM_DAYS = 196  # < 28+0 weeks
GA_LIMITS_DAYS = (154, 315)   # 22+0 .. 45+0 weeks: anything else is a data error
BIRTH_WEIGHT_MAX_G = 7000.0
LOW_BIRTH_WEIGHT_G = 2500.0
LOW_APGAR = 7
Z_P10 = float(special.ndtri(0.10))
Z_P90 = float(special.ndtri(0.90))
Z_P3 = float(special.ndtri(0.03))

#: measure -> (unit of the LMS table, factor from the input unit to it)
MEASURES = {"weight": ("kg", 1 / 1000.0), "length": ("cm", 1.0), "head_circumference": ("cm", 1.0)}
_SEX = {"male": "male", "m": "male", "boy": "male", "female": "female", "f": "female", "girl": "female"}

_YES = {"1", "1.0", "yes", "y", "true", "ja", "j", "oui", "si", "sí"}
_NO = {"0", "0.0", "no", "n", "false", "nee", "non"}


def _rows(row_numbers, mask) -> str:
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    rows = positions + 2 if row_numbers is None else np.asarray(row_numbers)[positions]
    return format_rows(rows)


def _fail(where, column, row_numbers, mask, problem, fix) -> InputTableError:
    return InputTableError(f"{where}, column '{column}', {_rows(row_numbers, mask)}: {problem}. {fix}")


# --------------------------------------------------------------------------- LMS machinery
def lms_z(y, L, M, S) -> np.ndarray:
    """Box-Cox (LMS) z-score: ((y/M)^L - 1)/(L S), or ln(y/M)/S where L = 0."""
    y, L, M, S = (np.asarray(a, dtype=float) for a in (y, L, M, S))
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.abs(L) < 1e-12
        safe_l = np.where(small, 1.0, L)
        return np.where(small, np.log(y / M) / S, (np.power(y / M, safe_l) - 1) / (safe_l * S))


def lms_value(z, L, M, S) -> np.ndarray:
    """Inverse of :func:`lms_z`: the measurement at z-score ``z``."""
    z, L, M, S = (np.asarray(a, dtype=float) for a in (z, L, M, S))
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.abs(L) < 1e-12
        safe_l = np.where(small, 1.0, L)
        return np.where(small, M * np.exp(S * z), M * np.power(1 + safe_l * S * z, 1 / safe_l))


def standard_table_path() -> Path:
    """The shipped INTERGROWTH-21st LMS table (data/intergrowth/newborn_lms.csv)."""
    packaged = resources.files("first1000") / "data" / "intergrowth" / "newborn_lms.csv"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "resources" / "intergrowth" / "newborn_lms.csv"


@lru_cache(maxsize=4)
def _read_table(path: str) -> pd.DataFrame:
    table = pd.read_csv(path)
    needed = {"standard", "measure", "sex", "ga_days", "L", "M", "S"}
    if not needed <= set(table.columns):
        raise ConfigError(f"{path}: an LMS table needs the columns {', '.join(sorted(needed))}.")
    return table.sort_values(["standard", "measure", "sex", "ga_days"]).reset_index(drop=True)


def load_standard(path=None) -> pd.DataFrame:
    """The LMS table: standard, measure, unit, sex, ga_days, L, M, S (one row per day)."""
    return _read_table(str(path or standard_table_path())).copy()


def lms_at(ga_days, sex, measure: str = "weight", *, very_preterm: bool = True, path=None) -> pd.DataFrame:
    """L, M, S per row at each gestational age (days) and sex; NaN outside the standards.

    The newborn standard covers 231-300 days (33+0-42+6); with ``very_preterm`` the
    very preterm charts cover 168-230 days (24+0-32+6). Fractional days interpolate
    linearly between the tabulated days.
    """
    if measure not in MEASURES:
        raise ConfigError(f"birth: unknown measure `{measure}`; use one of {', '.join(MEASURES)}.")
    table = _read_table(str(path or standard_table_path()))
    ga = np.asarray(ga_days, dtype=float)
    sex = np.asarray(pd.Series(np.asarray(sex, dtype=object)).map(
        lambda s: _SEX.get(str(s).strip().casefold()) if pd.notna(s) else None), dtype=object)
    out = np.full((len(ga), 3), np.nan)
    standards = ["newborn"] + (["very_preterm"] if very_preterm else [])
    for standard in standards:
        for sx in ("male", "female"):
            ref = table[(table.standard == standard) & (table.measure == measure) & (table.sex == sx)]
            if ref.empty:
                continue
            x = ref.ga_days.to_numpy(float)
            rows = (sex == sx) & (ga >= x.min()) & (ga <= x.max())
            for j, param in enumerate(("L", "M", "S")):
                out[rows, j] = np.interp(ga[rows], x, ref[param].to_numpy(float))
    return pd.DataFrame(out, columns=["L", "M", "S"])


def size_for_ga(values, ga_days, sex, measure: str = "weight", *, unit: str | None = None,
                very_preterm: bool = True, path=None) -> pd.DataFrame:
    """z-score and centile (0-100) of a birth measurement for gestational age and sex.

    ``values`` in grams for weight (``unit='kg'`` for kilograms) and in cm for length and
    head circumference. Returns columns ``z`` and ``centile``; NaN where the value, GA or
    sex is missing or GA is outside the standards.
    """
    y = np.asarray(values, dtype=float)
    if measure == "weight":
        y = y / 1000.0 if unit in (None, "g") else y if unit == "kg" else None
        if y is None:
            raise ConfigError("birth: birth weight unit must be `g` or `kg`.")
    lms = lms_at(ga_days, sex, measure, very_preterm=very_preterm, path=path)
    z = lms_z(y, lms.L, lms.M, lms.S)
    return pd.DataFrame({"z": z, "centile": 100 * special.ndtr(z)})


# --------------------------------------------------------------------------- raw values
def _as_numbers(values: pd.Series, where: str, column: str, row_numbers) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    numbers = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce").astype(float)
    bad = present & numbers.isna()
    if bad.any():
        raise _fail(where, column, row_numbers, bad, "value is not a number",
                    "Leave missing values empty or declare the missing-value code.")
    return numbers


def gestational_age_days(values, unit: str = "days", *, where: str = "birth table",
                         column: str = "gestational_age", row_numbers=None) -> pd.Series:
    """Gestational age in days from ``days``, ``weeks`` (decimal) or ``weeks+days`` ('39+4').

    GA outside 22+0-45+0 weeks (154-315 days) or unreadable raises InputTableError.
    """
    values = pd.Series(values).reset_index(drop=True)
    if unit == "weeks+days":
        text = values.astype("string").str.strip()
        present = text.notna() & (text != "")
        days = parse_weeks_days(values)
        bad = present & days.isna()
        if bad.any():
            raise _fail(where, column, row_numbers, bad, "gestational age is not written as weeks+days (e.g. 39+4)",
                        "Write it as weeks+days with 0-6 days, or declare the unit (days or weeks).")
    elif unit in ("days", "weeks"):
        days = _as_numbers(values, where, column, row_numbers) * (7.0 if unit == "weeks" else 1.0)
    else:
        raise ConfigError(f"birth: gestational age unit must be days, weeks or weeks+days, not `{unit}`.")
    lo, hi = GA_LIMITS_DAYS
    bad = days.notna() & ((days < lo) | (days > hi))
    if bad.any():
        raise _fail(where, column, row_numbers, bad,
                    "gestational age outside 22+0 to 45+0 weeks (154-315 days), which cannot be a live birth "
                    "record", f"Check the value and its unit (declared: {unit}).")
    return days.astype(float)


def check_birth_weight(values, *, unit: str = "g", where: str = "birth table", column: str = "birth_weight",
                       row_numbers=None) -> pd.Series:
    """Birth weight in grams; <= 0 or > 7000 g raises InputTableError."""
    grams = _as_numbers(pd.Series(values).reset_index(drop=True), where, column, row_numbers)
    if unit == "kg":
        grams = grams * 1000.0
    elif unit != "g":
        raise ConfigError(f"birth: birth weight unit must be g or kg, not `{unit}`.")
    bad = grams.notna() & ((grams <= 0) | (grams > BIRTH_WEIGHT_MAX_G))
    if bad.any():
        raise _fail(where, column, row_numbers, bad, "birth weight must be above 0 and at most 7000 g",
                    f"Check the value and its unit (declared: {unit}).")
    return grams


def check_apgar(values, *, where: str = "birth table", column: str = "apgar_5min", row_numbers=None) -> pd.Series:
    """Apgar score; anything but a whole number 0-10 raises InputTableError."""
    score = _as_numbers(pd.Series(values).reset_index(drop=True), where, column, row_numbers)
    bad = score.notna() & ((score < 0) | (score > 10) | (score != np.round(score)))
    if bad.any():
        raise _fail(where, column, row_numbers, bad, "Apgar score must be a whole number from 0 to 10",
                    "Check the value (and that the column is the Apgar score).")
    return score


def binary_complication(values, *, yes=(), no=(), missing=(), where: str = "birth table",
                        column: str = "complication", row_numbers=None) -> pd.Series:
    """A yes/no variable (e.g. pre-eclampsia, gestational diabetes) as 1.0/0.0 (NaN missing).

    Recognised (case-insensitive): 1/yes/y/true/ja/oui and 0/no/n/false/nee/non, plus the
    extra codes in ``yes`` / ``no``; empty cells and ``missing`` codes are missing. Any
    other value raises InputTableError naming the column and rows.
    """
    values = pd.Series(values).reset_index(drop=True)
    text = values.astype("string").str.strip().str.casefold()
    yes_codes = _YES | {str(c).strip().casefold() for c in yes}
    no_codes = _NO | {str(c).strip().casefold() for c in no}
    clash = yes_codes & no_codes
    if clash:
        raise ConfigError(f"birth: `{column}` declares the same code as yes and as no.")
    missing_codes = {str(c).strip().casefold() for c in missing}
    is_missing = text.isna() | (text == "") | text.isin(missing_codes)
    out = pd.Series(np.nan, index=values.index)
    out[text.isin(yes_codes).fillna(False)] = 1.0
    out[text.isin(no_codes).fillna(False)] = 0.0
    bad = out.isna() & ~is_missing.fillna(True)
    if bad.any():
        raise _fail(where, column, row_numbers, bad, "value is not a recognised yes/no coding",
                    "Recode it to 1/0 (yes/no) or declare its codes as yes or no.")
    return out


# --------------------------------------------------------------------------- outcomes
def birth_outcomes(table: pd.DataFrame, *, ga_unit: str = "days", weight_unit: str = "g",
                   very_preterm: bool = True, complications=(), where: str = "birth table",
                   row_numbers=None, path=None) -> pd.DataFrame:
    """Derived outcomes per row from ``gestational_age``, ``birth_weight``, ``child_sex``
    and, when present, ``apgar_5min``, ``birth_length`` (cm), ``head_circumference`` (cm)
    and the binary ``complications`` columns.

    Returns ``gestational_age_days``, ``birth_weight_g``, ``preterm``, ``very_preterm``,
    ``extremely_preterm``, ``low_birth_weight``, ``birth_weight_z``,
    ``birth_weight_centile``, ``sga``, ``severe_sga``, ``lga`` (+ ``low_apgar``,
    ``birth_length_z``, ``head_circumference_z``, the complications) as floats with NaN
    for missing.
    """
    for needed in ("gestational_age", "birth_weight", "child_sex"):
        if needed not in table.columns:
            raise InputTableError(f"{where}: missing column '{needed}' (needed for the birth outcomes).")
    ga = gestational_age_days(table["gestational_age"], ga_unit, where=where, row_numbers=row_numbers)
    grams = check_birth_weight(table["birth_weight"], unit=weight_unit, where=where, row_numbers=row_numbers)
    sex = table["child_sex"].to_numpy(dtype=object)
    known_sex = pd.Series(sex).map(lambda s: pd.notna(s) and str(s).strip().casefold() in _SEX)
    bad_sex = pd.Series(sex).notna().to_numpy() & ~known_sex.to_numpy()
    if bad_sex.any():
        raise _fail(where, "child_sex", row_numbers, bad_sex, "child sex is not male/female (or M/F)",
                    "Recode child sex to male/female in the cohort mapping.")
    out = pd.DataFrame({"gestational_age_days": ga.to_numpy(), "birth_weight_g": grams.to_numpy()})

    def flag(condition, known):
        return np.where(known, np.asarray(condition, dtype=float), np.nan)

    known_ga = ga.notna().to_numpy()
    out["preterm"] = flag(ga < PRETERM_DAYS, known_ga)
    out["very_preterm"] = flag(ga < VERY_PRETERM_DAYS, known_ga)
    out["extremely_preterm"] = flag(ga < EXTREMELY_PRETERM_DAYS, known_ga)
    out["low_birth_weight"] = flag(grams < LOW_BIRTH_WEIGHT_G, grams.notna().to_numpy())
    size = size_for_ga(grams, ga, sex, "weight", very_preterm=very_preterm, path=path)
    out["birth_weight_z"] = size.z.to_numpy()
    out["birth_weight_centile"] = size.centile.to_numpy()
    known_z = size.z.notna().to_numpy()
    out["sga"] = flag(size.z < Z_P10, known_z)
    out["severe_sga"] = flag(size.z < Z_P3, known_z)
    out["lga"] = flag(size.z > Z_P90, known_z)
    if "apgar_5min" in table.columns:
        apgar = check_apgar(table["apgar_5min"], where=where, row_numbers=row_numbers)
        out["low_apgar"] = flag(apgar < LOW_APGAR, apgar.notna().to_numpy())
    for column, measure in (("birth_length", "length"), ("head_circumference", "head_circumference")):
        if column in table.columns:
            cm = _as_numbers(table[column].reset_index(drop=True), where, column, row_numbers)
            bad = cm.notna() & (cm <= 0)
            if bad.any():
                raise _fail(where, column, row_numbers, bad, "measurement must be above 0 cm", "Check the value.")
            out[f"{column}_z"] = size_for_ga(cm, ga, sex, measure, very_preterm=very_preterm, path=path).z.to_numpy()
    for spec in complications:
        spec = {"column": spec} if isinstance(spec, str) else dict(spec)
        column = spec["column"]
        if column not in table.columns:
            raise InputTableError(f"{where}: missing column '{column}' (declared as a pregnancy complication).")
        out[column] = binary_complication(table[column], yes=spec.get("yes", ()), no=spec.get("no", ()),
                                          missing=spec.get("missing", ()), where=where, column=column,
                                          row_numbers=row_numbers).to_numpy()
    return out


def _ga_outside(ga: pd.Series, very_preterm: bool) -> int:
    lo = 168 if very_preterm else 231
    return int((ga.notna() & ((ga < lo) | (ga > 300))).sum())


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    """Birth outcomes per cohort.

    ``settings`` (all optional): ``ga_unit`` (days | weeks | weeks+days, default days),
    ``weight_unit`` (g | kg), ``very_preterm`` (use the Villar 2016 charts for 24+0-32+6,
    default true), ``complications`` (column names, or ``{column, yes, no, missing}``),
    ``lms_table`` (path of an LMS table in the resource format).

    Returns ``(outcomes, qc)``: ``pseudo_id``, ``cohort`` and the columns of
    :func:`birth_outcomes`; and per cohort ``n``, ``n_preterm``, ``n_very_preterm``,
    ``n_low_birth_weight``, ``n_bw_z`` (z computed), ``n_ga_outside_standard`` (plausible
    GA the standards do not cover: no z), ``n_sga``, ``n_lga``, ``n_low_apgar``,
    ``mean_bw_z``, ``sd_bw_z``.
    """
    frames, qc = [], []
    very_preterm = bool(settings.get("very_preterm", True))
    for cohort, table in tables.items():
        outcomes = birth_outcomes(
            table, ga_unit=settings.get("ga_unit", "days"), weight_unit=settings.get("weight_unit", "g"),
            very_preterm=very_preterm, complications=settings.get("complications", ()),
            where=f"{cohort} birth table", path=settings.get("lms_table"))
        outcomes.insert(0, "pseudo_id", table["pseudo_id"].to_numpy())
        outcomes.insert(1, "cohort", cohort)
        frames.append(outcomes)
        z = outcomes.birth_weight_z.dropna()

        def count(column):
            return int(np.nansum(outcomes[column])) if column in outcomes else np.nan

        qc.append(dict(
            cohort=cohort, n=int(len(outcomes)), n_preterm=count("preterm"), n_very_preterm=count("very_preterm"),
            n_low_birth_weight=count("low_birth_weight"), n_bw_z=int(len(z)),
            n_ga_outside_standard=_ga_outside(outcomes.gestational_age_days, very_preterm),
            n_sga=count("sga"), n_lga=count("lga"), n_low_apgar=count("low_apgar"),
            mean_bw_z=float(z.mean()) if len(z) else np.nan,
            sd_bw_z=float(z.std(ddof=1)) if len(z) > 1 else np.nan,
        ))
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc)
