"""Child growth after birth: WHO 2006 Child Growth Standards z-scores, as WHO computes them.

The WHO Child Growth Standards (WHO Multicentre Growth Reference Study Group 2006, *Acta
Paediatr Suppl* 450:76-85; methods: WHO 2006, *Length/height-for-age, weight-for-age,
weight-for-length, weight-for-height and body mass index-for-age*, chapter 7) give, per
sex and day of age (or per 0.1 cm of length/height), Box-Cox LMS parameters. The tables in
``first1000/data/who2006/`` are WHO's own, copied unchanged from WHO's R package
``anthro`` (see the README there). This module computes, vectorised, exactly what that
package's ``anthro_zscores`` does for the indicators of the first two years:

=========  ==================================  ==========================  ============
column     indicator                           z-score                     WHO flag
=========  ==================================  ==========================  ============
``waz``    weight-for-age                      restricted (see below)      z < -6, > 5
``laz``    length/height-for-age               LMS (L = 1: plain normal)   abs(z) > 6
``wlz``    weight-for-length (< 731 days) or   restricted, LMS linearly    abs(z) > 5
           weight-for-height                   interpolated between 0.1 cm
``bmiz``   BMI-for-age                         restricted                  abs(z) > 5
``hcz``    head circumference-for-age          LMS                         abs(z) > 5
=========  ==================================  ==========================  ============

* z = ((y / M)^L - 1) / (L S) with the parameters of the child's sex and age in whole days
  (rounded half up). *Restricted* (WHO's "adjusted" z for skewed indicators): beyond +-3,
  z = +-3 + (y - SD3) / (SD3 - SD2) with SDk = M (1 + L S k)^(1/L), i.e. the distance is
  measured in the constant spacing of the 2nd to 3rd SD, not the Box-Cox tail.
* Length and height: below 731 days the standards are for recumbent length, from 731 on
  for standing height; a height measured before 731 days gets +0.7 cm, a length measured
  from 731 days -0.7 cm (``measure`` "l"/"h"; a height before 9 months is implausible and
  treated as unknown, as WHO does). BMI = weight / (length or height in m)^2 uses the
  adjusted value. Weight-for-length covers 45-110 cm, weight-for-height 65-120 cm.
* As WHO's software, z-scores are rounded to 2 decimals and a measure <= 0 gives none; a
  flag marks a z-score WHO considers biologically implausible (a data error to check).

Corrected age: for a child born preterm (< 259 days of gestation), growth in the first two
years is usually compared at age corrected for prematurity, chronological age minus
(280 - gestational age in days) (e.g. Engle WA, *Pediatrics* 2004;114:1362); see
:func:`corrected_age_days`. A corrected age below 0 (before term-equivalent age) has no
WHO z-score.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

#: Days per month of WHO's software (365.25 / 12).
DAYS_PER_MONTH = 30.4375
#: Term, and the preterm limit, in days of gestation.
TERM_DAYS = 280
PRETERM_DAYS = 259
#: From this age (days) the standards are for standing height instead of recumbent length.
HEIGHT_FROM_DAYS = 731
#: Last day of the standards.
MAX_AGE_DAYS = 1856
#: Length/height correction between recumbent and standing measurement (cm).
LENGTH_HEIGHT_CM = 0.7

#: indicator -> (table file, restricted z beyond +-3, flag limits (low, high))
INDICATORS = {
    "waz": ("weianthro", True, (-6.0, 5.0)),
    "laz": ("lenanthro", False, (-6.0, 6.0)),
    "wlz": (None, True, (-5.0, 5.0)),
    "bmiz": ("bmianthro", True, (-5.0, 5.0)),
    "hcz": ("hcanthro", False, (-5.0, 5.0)),
}
#: weight-for-length (recumbent) and weight-for-height (standing): table and valid range (cm)
_WFLH = {"l": ("wflanthro", 45.0, 110.0), "h": ("wfhanthro", 65.0, 120.0)}
_SEX = {"male": 1, "m": 1, "1": 1, "boy": 1, "female": 2, "f": 2, "2": 2, "girl": 2}


def _data(name: str):
    return resources.files("first1000") / "data" / "who2006" / f"{name}.txt"


def table_files() -> list:
    """The WHO 2006 tables the z-scores read (paths): declared inputs of the jobs that
    compute them, so that their checksums are in the provenance and a changed table reruns
    those jobs."""
    names = {table for table, _, _ in INDICATORS.values() if table} | {table for table, _, _ in _WFLH.values()}
    return [Path(str(_data(name))) for name in sorted(names)]


@lru_cache(maxsize=None)
def _by_age(name: str) -> np.ndarray:
    """(2, MAX_AGE_DAYS + 1, 3) array of L, M, S per sex (1, 2) and day of age."""
    with _data(name).open() as handle:
        table = pd.read_csv(handle, sep="\t")
    out = np.full((2, MAX_AGE_DAYS + 1, 3), np.nan)
    out[table["sex"].to_numpy() - 1, table["age"].to_numpy()] = table[["l", "m", "s"]].to_numpy(float)
    return out


@lru_cache(maxsize=None)
def _by_length(name: str) -> tuple[np.ndarray, int]:
    """(2, rows, 3) L, M, S per sex and 0.1 cm step from the table's first length, and that
    first length in mm."""
    with _data(name).open() as handle:
        table = pd.read_csv(handle, sep="\t")
    key = np.rint(table.iloc[:, 1].to_numpy(float) * 10).astype(np.int64)
    first = int(key.min())
    out = np.full((2, int(key.max()) - first + 1, 3), np.nan)
    out[table["sex"].to_numpy() - 1, key - first] = table[["l", "m", "s"]].to_numpy(float)
    return out, first


def round_half_up(x) -> np.ndarray:
    """WHO's rounding of ages to whole days: .5 and above up (for x >= 0)."""
    x = np.asarray(x, dtype=float)
    floor = np.floor(x)
    return np.where(x - floor >= 0.5, floor + 1, floor)


def sex_codes(sex) -> np.ndarray:
    """1 (male) / 2 (female) / 0 (unknown) from first1000's ``male``/``female`` (or m/f, 1/2)."""
    values = pd.Series(np.asarray(sex, dtype=object)).astype("string").str.strip().str.lower()
    return values.map(_SEX).fillna(0).to_numpy(dtype=np.int64)


def corrected_age_days(age_days, gestational_age_days) -> np.ndarray:
    """Age corrected for prematurity: age - (280 - GA) for GA < 259 days, else the age."""
    age = np.asarray(age_days, dtype=float)
    ga = np.asarray(gestational_age_days, dtype=float)
    with np.errstate(invalid="ignore"):
        preterm = ga < PRETERM_DAYS
    return np.where(preterm, age - (TERM_DAYS - ga), age)


def _z(y, lms, restricted: bool) -> np.ndarray:
    l, m, s = lms[..., 0], lms[..., 1], lms[..., 2]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = (np.power(y / m, l) - 1) / (s * l)
        if restricted:
            def sd(k):
                return m * np.power(1 + l * s * k, 1 / l)
            sd3p, sd3n = sd(3.0), sd(-3.0)
            high = z > 3
            low = z < -3
            z = np.where(high, 3 + (y - sd3p) / (sd3p - sd(2.0)), z)
            z = np.where(low, -3 + (y - sd3n) / (sd(-2.0) - sd3n), z)
    return z


def _round2(z) -> np.ndarray:
    return np.round(z, 2)


def who_zscores(sex, age_days, *, weight_kg=None, length_cm=None, head_cm=None, measure=None) -> pd.DataFrame:
    """WHO 2006 z-scores and flags of children's measurements (one row per measurement).

    Parameters
    ----------
    sex : array-like of ``male``/``female`` (or m/f, 1/2); anything else gives no z-score.
    age_days : array-like, age in days (corrected for prematurity where that is wanted).
    weight_kg, length_cm, head_cm : array-like, optional; missing values allowed.
    measure : array-like of ``l`` (recumbent length) / ``h`` (standing height), optional:
        how each length was measured; unknown = as the standard of that age expects.

    Returns
    -------
    pandas.DataFrame with ``length_cm_adjusted``, ``bmi`` and, per indicator of
    :data:`INDICATORS`, its z-score and ``{indicator}_flag`` (True = beyond WHO's plausible
    range; NA where there is no z-score).
    """
    age = np.asarray(age_days, dtype=float)
    n = age.size
    sexc = sex_codes(sex) if n else np.zeros(0, np.int64)

    def vector(values):
        return np.full(n, np.nan) if values is None else np.asarray(values, dtype=float).reshape(n)

    weight, length, head = vector(weight_kg), vector(length_cm), vector(head_cm)
    how = (pd.Series(np.full(n, None, dtype=object) if measure is None else np.asarray(measure, dtype=object))
           .astype("string").str.strip().str.lower().to_numpy(dtype=object, na_value=None))
    with np.errstate(invalid="ignore"):
        day = np.where(age >= 0, round_half_up(np.where(age >= 0, age, 0)), np.nan)
        months = age / DAYS_PER_MONTH
        valid_age = (age >= 0) & (day <= MAX_AGE_DAYS) & (months < 60) & (sexc > 0)
        # a standing height before 9 months is implausible: measured as WHO expects for the age
        how = np.where((how == "h") & (months < 9), None, how)
        adjusted = length.copy()
        adjusted = np.where((day < HEIGHT_FROM_DAYS) & (how == "h"), length + LENGTH_HEIGHT_CM, adjusted)
        adjusted = np.where((day >= HEIGHT_FROM_DAYS) & (how == "l"), length - LENGTH_HEIGHT_CM, adjusted)
        bmi = weight / (adjusted / 100) ** 2
    idx_day = np.where(valid_age, day, 0).astype(np.int64)
    idx_sex = np.where(valid_age, sexc - 1, 0)
    out = {"length_cm_adjusted": adjusted, "bmi": bmi}
    for name, (table, restricted, (lo, hi)) in INDICATORS.items():
        if name == "wlz":
            z, valid = _weight_for_length(weight, adjusted, day, sexc, valid_age)
        else:
            y = {"waz": weight, "laz": adjusted, "bmiz": bmi, "hcz": head}[name]
            lms = _by_age(table)[idx_sex, idx_day]
            with np.errstate(invalid="ignore"):
                valid = valid_age & (y > 0)
            z = np.where(valid, _z(np.where(valid, y, np.nan), lms, restricted), np.nan)
        z = _round2(z)
        out[name] = z
        with np.errstate(invalid="ignore"):
            flag = (z < lo) | (z > hi)
        flags = pd.array(flag, dtype="boolean")
        flags[~np.isfinite(z)] = pd.NA
        out[f"{name}_flag"] = flags
    return pd.DataFrame(out)


def _weight_for_length(weight, lenhei, day, sexc, valid_age):
    """WHO weight-for-length (< 731 days) / -height z: LMS interpolated between 0.1 cm rows."""
    n = weight.size
    z = np.full(n, np.nan)
    valid_all = np.zeros(n, bool)
    with np.errstate(invalid="ignore"):
        ten = lenhei * 10
        low_key = np.trunc(ten)
        upp_key = np.trunc(ten + 1)
        diff = (lenhei - low_key / 10) / 0.1
        for kind, (table, lo, hi) in _WFLH.items():
            rows = valid_age & ((day < HEIGHT_FROM_DAYS) if kind == "l" else (day >= HEIGHT_FROM_DAYS))
            rows &= (lenhei >= lo) & (lenhei <= hi) & (weight > 0)
            if not rows.any():
                continue
            lms, first = _by_length(table)
            size = lms.shape[1]
            s = sexc[rows] - 1
            k0 = low_key[rows].astype(np.int64) - first
            k1 = upp_key[rows].astype(np.int64) - first
            a = lms[s, np.clip(k0, 0, size - 1)]
            b = lms[s, np.clip(k1, 0, size - 1)]
            b = np.where(((k1 >= 0) & (k1 < size))[:, None], b, np.nan)
            d = diff[rows][:, None]
            params = np.where(d > 0, a + d * (b - a), a)
            z[rows] = _z(weight[rows], params, True)
            valid_all |= rows
    return np.where(valid_all, z, np.nan), valid_all


def who_value(indicator: str, sex, at, z) -> np.ndarray:
    """The measurement at z-score ``z`` (inverse of the unrestricted LMS z; |z| <= 3):
    ``indicator`` ``waz``/``laz``/``bmiz``/``hcz`` at ``at`` = age in whole days, or ``wlz``
    at ``at`` = recumbent length in cm (a multiple of 0.1 cm, 45-110). For simulation."""
    sexc = sex_codes(sex) - 1
    z = np.asarray(z, dtype=float)
    if indicator == "wlz":
        lms, first = _by_length("wflanthro")
        params = lms[sexc, np.rint(np.asarray(at, dtype=float) * 10).astype(np.int64) - first]
    else:
        params = _by_age(INDICATORS[indicator][0])[sexc, np.asarray(at, dtype=np.int64)]
    l, m, s = params[..., 0], params[..., 1], params[..., 2]
    return m * np.power(1 + l * s * z, 1 / l)
