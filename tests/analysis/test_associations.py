"""Pipeline-level combination of per-cohort results (first1000.analysis), on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from first1000.analysis.mediation import combine_mediation


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


def _mediation_data(n=600, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    c = rng.normal(size=n)
    m = 0.5 * x + 0.3 * c + rng.normal(size=n)
    y = 0.4 * m + 0.2 * x + 0.3 * c + rng.normal(size=n)
    return pd.DataFrame({"cohort": "a", "x": x, "m": m, "y": y, "c": c})


SETTINGS = dict(n_boot=200, ci_method="percentile", inference="bootstrap", contrast=[0.0, 1.0],
                interaction=False, sensitivity=False)


def test_mediation_under_multiple_imputation_pools_by_rubin():
    from first1000.analysis.mediation import mediation

    data = _mediation_data()
    paths = [{"exposure": "x", "mediator": "m", "outcome": "y"}]
    missing = {"method": "multiple_imputation", "m": 5, "max_iter": 5, "auxiliary": []}
    full, _, _ = mediation(data, paths, ["c"], SETTINGS, 7, {}, missing_data=missing)
    # Nothing missing: MI is not needed and the result is the complete-data analysis.
    plain, _, _ = mediation(data, paths, ["c"], SETTINGS, 7, {})
    pd.testing.assert_frame_equal(full, plain)
    # The mediator missing at random given the outcome (complete cases are biased).
    gappy = data.copy()
    rng = np.random.default_rng(11)
    gappy.loc[rng.random(len(gappy)) < np.where(gappy.y > 0.5, 0.8, 0.1), "m"] = np.nan
    mi, _, _ = mediation(gappy, paths, ["c"], SETTINGS, 7, {}, missing_data=missing)
    cc, _, _ = mediation(gappy, paths, ["c"], SETTINGS, 7, {})
    mi, cc, full = (t.set_index("effect") for t in (mi, cc, full))
    assert (mi.m == 5).all() and mi.fmi.between(0, 1).all()
    assert mi.loc["tnie", "n"] == len(gappy) and cc.loc["tnie", "n"] < len(gappy)
    assert "Rubin's rules over m=5" in mi.loc["tnie", "ci_method"]
    # Closer to the full-data estimate than the complete cases (truth 0.5 * 0.4 = 0.2).
    assert abs(mi.loc["tnie", "estimate"] - full.loc["tnie", "estimate"]) < \
        abs(cc.loc["tnie", "estimate"] - full.loc["tnie", "estimate"])
    assert mi.loc["tnie", "ci_low"] < 0.2 < mi.loc["tnie", "ci_high"]
