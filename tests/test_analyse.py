"""Pipeline-level combination of per-cohort results (analyse.py), on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from first1000.analyse import combine_mediation


def _rows(cohort, estimate, se, scale="difference", effect="tnie"):
    return dict(cohort=cohort, exposure="x", mediator="m", outcome="y", effect=effect, scale=scale,
                estimate=estimate, se=se, ci_low=np.nan, ci_high=np.nan, p=0.01, n=100, n_boot=1000,
                contrast="sd", a0=0.0, a1=1.0, ci_method="percentile", seed=1, covariates="", status="ok")


def test_mediation_meta_pools_ratios_on_the_log_scale_and_skips_pm():
    eff = pd.DataFrame([
        _rows("a", 2.0, 0.2, "risk_ratio"), _rows("b", 1.0, 0.1, "risk_ratio"),
        _rows("a", 0.3, 0.1), _rows("b", 0.1, 0.1),
        _rows("a", 0.5, np.nan, effect="pm"), _rows("b", 0.4, np.nan, effect="pm"),
    ])
    out = combine_mediation(eff, {"method": "FE", "knapp_hartung": False})
    meta = out[out.cohort == "meta"].set_index("scale")
    # log RR: (ln 2 / 0.04 + 0 / 0.01) / (25 + 100) -> exp
    w = np.array([1 / 0.04, 1 / 0.01])
    log_rr = (np.log(2.0) * w[0]) / w.sum()
    assert meta.loc["risk_ratio", "estimate"] == pytest.approx(np.exp(log_rr))
    assert meta.loc["risk_ratio", "ci_low"] == pytest.approx(np.exp(log_rr - 1.959964 * w.sum() ** -0.5), rel=1e-6)
    assert meta.loc["difference", "estimate"] == pytest.approx(0.2)
    assert meta.loc["difference", "n"] == 200 and meta.loc["difference", "k"] == 2
    assert not ((out.cohort == "meta") & (out.effect == "pm")).any()
    # FDR of tnie (first scale of each path) within each cohort: one path -> q = p
    first = out[(out.effect == "tnie") & (out.scale == "risk_ratio") & (out.cohort == "a")]
    assert first.q.iloc[0] == pytest.approx(0.01)
