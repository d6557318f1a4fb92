"""Central nervous system: brain-network or MRI-derived measures declared in the config.

A cohort's ``cns_measures`` table holds one row per participant and one column per
measure (a regional volume, a network's functional connectivity, ...). Nothing here knows
a measure by name: each is declared under ``preparation.cns.measures`` with its label,
unit, scale (``log``) and plausibility limits (checked at ingest), so a lab adds a
measure by declaring it and mapping its column, without code.

Per cohort and measure the biomarkers are ``{measure}`` in its declared unit (or
``{measure}_ln`` with ``log: true``) and ``{measure}_z``, the within-cohort z-score of that
value (SD with ddof = 1) for pooling cohorts whose scanners or pipelines differ in scale.
The QC table has per cohort and measure the label, unit, n, n_missing (rows of the table
without a value), median, q1 and q3 (declared unit) and n_outliers: values beyond ±4 SD
(|z| > 4 on the analysed scale), flagged, not dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.errors import ConfigError
from first1000.labels import measure_biomarkers

#: Values beyond this many SD (within cohort, analysed scale) are counted in the QC table.
OUTLIER_SD = 4.0


def zscore(values: pd.Series) -> pd.Series:
    """(x - mean) / SD (ddof 1) over the non-missing values; missing with fewer than 2 values or SD 0."""
    sd = values.std(ddof=1)
    if not np.isfinite(sd) or sd == 0:
        return values * np.nan
    return (values - values.mean()) / sd


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    measures = settings.get("measures", {})
    frames, qc = [], []
    for cohort, long in tables.items():
        values = long.pivot(index="pseudo_id", columns="marker", values="value").astype(float)
        undeclared = sorted(set(values.columns) - set(measures))
        if undeclared:
            raise ConfigError(f"cohort {cohort}: the CNS measure `{undeclared[0]}` is not declared; add "
                              f"`preparation.cns.measures.{undeclared[0]}` (label, unit) to the config.")
        wide = pd.DataFrame(index=values.index)
        for measure, spec in measures.items():  # in the order the config declares them
            if measure not in values.columns:
                continue
            raw = values[measure]
            value_name, z_name = measure_biomarkers({measure: spec})
            with np.errstate(divide="ignore", invalid="ignore"):
                analysed = np.log(raw.where(raw > 0)) if spec.get("log") else raw
            wide[value_name] = analysed
            wide[z_name] = z = zscore(analysed)
            qc.append(dict(
                cohort=cohort, measure=measure, label=spec["label"], unit=spec["unit"],
                n=int(raw.notna().sum()), n_missing=int(raw.isna().sum()),
                median=float(raw.median()), q1=float(raw.quantile(0.25)), q3=float(raw.quantile(0.75)),
                n_outliers=int((z.abs() > OUTLIER_SD).sum()),
            ))
        wide.insert(0, "cohort", cohort)
        frames.append(wide.rename_axis("pseudo_id").reset_index())
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc, columns=[
        "cohort", "measure", "label", "unit", "n", "n_missing", "median", "q1", "q3", "n_outliers"])
