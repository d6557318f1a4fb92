"""ASQ-3 domain scores against the publisher's cut-offs.

The Ages & Stages Questionnaires, Third Edition (ASQ-3; Squires & Bricker 2009, Paul H.
Brookes) has one questionnaire per age interval (:data:`INTERVALS`, months) and five
domains (:data:`DOMAINS`), each scored 0-60. Per interval and domain the cut-off is the
mean - 2 SD of the US normative sample: a score strictly below it is *below the cut-off*
(refer for assessment); a score equal to it is not. The cut-offs shipped in
``first1000/data/asq3/cutoffs.csv`` are only those read in a citable source (the README
there names it per interval); today the 12-month interval. A study with the *ASQ-3 User's
Guide* declares the cut-offs of its other intervals in the config
(``preparation.growth.asq_cutoffs``; they take precedence over the shipped ones). A score
of an interval without a cut-off is not classified (missing), never compared with another
interval's cut-off. The monitoring zone (between -1 and -2 SD) is not computed: its boundaries are not
shipped.

The follow-up table holds scores, not the questionnaire form: :func:`questionnaire_interval`
takes the interval nearest to the child's age at the measurement (months of 30.4375 days,
a tie to the later interval; no interval before 1 month 0 days, the 2-month
questionnaire's first day). Give it the age corrected for prematurity where there is one:
ASQ-3 uses the adjusted age of a child born 3 or more weeks early up to 24 months. For the
12-month questionnaire this is 11.0 to under 13.0 months, the window printed on the form
("11 months 0 days through 12 months 30 days").
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from first1000.errors import ConfigError
from first1000.scoring.growth import DAYS_PER_MONTH

#: The five ASQ-3 domains (the follow-up table's ``asq_{domain}`` scores).
DOMAINS = ("communication", "gross_motor", "fine_motor", "problem_solving", "personal_social")
#: The ASQ-3 questionnaire intervals (months).
INTERVALS = (2, 4, 6, 8, 9, 10, 12, 14, 16, 18, 20, 22, 24, 27, 30, 33, 36, 42, 48, 54, 60)
#: The first age (months) with a questionnaire: the 2-month form's "1 month 0 days".
FIRST_AGE_MONTHS = 1.0
#: Score range of a domain (points).
MAX_SCORE = 60.0
_COLUMNS = ("interval_months", "domain", "cutoff", "source")


def cutoff_path() -> Path:
    """The shipped cut-off table (``first1000/data/asq3/cutoffs.csv``)."""
    return Path(str(resources.files("first1000") / "data" / "asq3" / "cutoffs.csv"))


@lru_cache(maxsize=4)
def _read(path: str) -> pd.DataFrame:
    table = pd.read_csv(path, dtype={"domain": str, "source": str})
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError(f"{path}: the ASQ-3 cut-off table needs the columns {', '.join(_COLUMNS)} "
                          f"(missing: {', '.join(missing)}).")
    problems = []
    if not table.domain.isin(DOMAINS).all():
        problems.append(f"domains other than {', '.join(DOMAINS)}")
    if not table.interval_months.isin(INTERVALS).all():
        problems.append("intervals that are not ASQ-3 questionnaires")
    cutoff = pd.to_numeric(table.cutoff, errors="coerce")
    if not ((cutoff >= 0) & (cutoff <= MAX_SCORE)).all():
        problems.append(f"cut-offs outside 0-{MAX_SCORE:g}")
    if table.duplicated(["interval_months", "domain"]).any():
        problems.append("an interval and domain twice")
    if table.source.isna().any():
        problems.append("rows without a source")
    if problems:
        raise ConfigError(f"{path}: the ASQ-3 cut-off table has {'; '.join(problems)}.")
    return table.assign(interval_months=table.interval_months.astype(int), cutoff=cutoff.astype(float))


def cutoff_table(path=None) -> pd.DataFrame:
    """The cut-offs: ``interval_months``, ``domain``, ``cutoff`` (points), ``source``."""
    return _read(str(path or cutoff_path())).copy()


def _domain(domain: str) -> str:
    name = str(domain).removeprefix("asq_")
    if name not in DOMAINS:
        raise ValueError(f"`{domain}` is not an ASQ-3 domain; expected one of {', '.join(DOMAINS)}.")
    return name


def questionnaire_interval(age_months) -> np.ndarray:
    """The ASQ-3 interval (months, float; NaN for a missing age or one before 1 month)
    nearest to each age in months; a tie goes to the later interval."""
    age = np.atleast_1d(np.asarray(age_months, dtype=float))
    grid = np.asarray(INTERVALS, dtype=float)
    # the later of two equally near intervals: search the first interval at or past the
    # midpoint between neighbours
    midpoints = (grid[:-1] + grid[1:]) / 2
    out = grid[np.searchsorted(midpoints, age, side="right")]
    return np.where(np.isnan(age) | (age < FIRST_AGE_MONTHS), np.nan, out)


def age_in_months(age_days) -> np.ndarray:
    """Age in days as months of 30.4375 days (WHO's)."""
    return np.asarray(age_days, dtype=float) / DAYS_PER_MONTH


def cutoffs(domain: str, interval_months, path=None, declared: dict | None = None) -> np.ndarray:
    """The cut-off of ``domain`` at each interval (NaN where there is none): the shipped
    one, or the one ``declared`` (interval months -> {domain: cut-off}, the config's
    ``preparation.growth.asq_cutoffs``), which takes precedence."""
    name = _domain(domain)
    table = _read(str(path or cutoff_path()))
    lookup = table[table.domain == name].set_index("interval_months").cutoff
    own = {int(i): float(d[name]) for i, d in (declared or {}).items() if name in d}
    if own:
        lookup = pd.concat([lookup[~lookup.index.isin(list(own))], pd.Series(own, dtype=float)]).sort_index()
    interval = pd.Series(np.atleast_1d(np.asarray(interval_months, dtype=float)))
    return interval.map(lookup.rename(index=float)).to_numpy(dtype=float)


def classify(scores, age_months, domain: str, path=None, declared: dict | None = None) -> pd.DataFrame:
    """Per score: ``interval_months`` (the questionnaire, :func:`questionnaire_interval`),
    ``cutoff`` (NaN: none shipped for that interval) and ``below_cutoff`` (1.0: score <
    cut-off, 0.0: not below, NaN: no score or no cut-off), vectorised."""
    score, age = np.broadcast_arrays(np.atleast_1d(np.asarray(scores, dtype=float)),
                                     np.atleast_1d(np.asarray(age_months, dtype=float)))
    interval = questionnaire_interval(age)
    cut = cutoffs(domain, interval, path, declared)
    known = ~np.isnan(score) & ~np.isnan(cut)
    below = np.where(known, (score < cut).astype(float), np.nan)
    index = scores.index if isinstance(scores, pd.Series) and len(scores) == len(score) else None
    return pd.DataFrame({"interval_months": interval, "cutoff": cut, "below_cutoff": below}, index=index)


def below_cutoff(scores, age_months, domain: str, path=None) -> np.ndarray:
    """1.0 where the score is below its interval's cut-off, 0.0 where not, NaN where there is
    no score or no shipped cut-off (:func:`classify`)."""
    return classify(scores, age_months, domain, path).below_cutoff.to_numpy()
