"""Tests of first1000.stats.mediation (and the batched bootstrap it rests on).

References: numbers published by pingouin 0.7.0 and R ``mediation`` 4.5.1 on the files in
tests/data/reference (see its README), pingouin called live, and explicit loops of
``np.linalg.lstsq`` on resampled rows.
"""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from first1000.errors import ModelError
from first1000.stats.bootstrap import (
    analysis_rng,
    batched_ols,
    pingouin_resample_counts,
    resample_counts,
)
from first1000.stats.mediation import EFFECT_COLUMNS, PATH_COLUMNS, mediation_linear

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"


@pytest.fixture(scope="module")
def pingouin_data():
    return pd.read_csv(REFERENCE / "pingouin_mediation.csv")


@pytest.fixture(scope="module")
def jobs():
    return pd.read_csv(REFERENCE / "jobs.csv")


def _by(frame, column):
    return frame.set_index(column)


def _row(pg_table, path):
    return pg_table.set_index("path").loc[path]


# --- pingouin's example data --------------------------------------------------------


def test_point_estimates_match_published_and_live_pingouin(pingouin_data):
    effects, paths = mediation_linear(pingouin_data, "X", "M", "Y", n_boot=500, seed=42)
    assert list(effects.columns) == EFFECT_COLUMNS and list(paths.columns) == PATH_COLUMNS
    assert list(effects["effect"]) == ["total", "direct", "indirect", "proportion_mediated"]
    assert list(paths["path"]) == ["a", "b", "c_prime", "c"]
    e, pa = _by(effects, "effect"), _by(paths, "path")
    # published by pingouin 0.7.0 (docstring / reference README)
    assert pa.loc["a", "estimate"] == pytest.approx(0.561015, abs=1e-6)
    assert pa.loc["a", "se"] == pytest.approx(0.094480, abs=1e-6)
    assert pa.loc["b", "estimate"] == pytest.approx(0.635495, abs=1e-6)
    assert e.loc["total", "estimate"] == pytest.approx(0.396126, abs=1e-6)
    assert e.loc["direct", "estimate"] == pytest.approx(0.039604, abs=1e-6)
    assert e.loc["direct", "p"] == pytest.approx(0.7187, abs=1e-4)
    assert e.loc["indirect", "estimate"] == pytest.approx(0.356522, abs=1e-6)
    assert e.loc["proportion_mediated", "estimate"] == pytest.approx(0.356522 / 0.396126, rel=1e-5)
    # pingouin itself, now
    ref = pg.mediation_analysis(data=pingouin_data, x="X", m="M", y="Y", seed=42, n_boot=500)
    assert pa.loc["a", "estimate"] == pytest.approx(_row(ref, "M ~ X")["coef"], abs=1e-10)
    assert pa.loc["a", "se"] == pytest.approx(_row(ref, "M ~ X")["se"], abs=1e-10)
    assert e.loc["total", "estimate"] == pytest.approx(_row(ref, "Total")["coef"], abs=1e-10)
    assert e.loc["total", "p"] == pytest.approx(_row(ref, "Total")["pval"], rel=1e-8)
    assert e.loc["direct", "estimate"] == pytest.approx(_row(ref, "Direct")["coef"], abs=1e-10)
    assert e.loc["direct", "p"] == pytest.approx(_row(ref, "Direct")["pval"], rel=1e-8)
    assert e.loc["indirect", "estimate"] == pytest.approx(_row(ref, "Indirect")["coef"], abs=1e-10)
    assert (effects["status"] == "ok").all() and (effects["n"] == 100).all()


def test_pingouin_resampler_reproduces_pingouin_bootstrap(pingouin_data):
    effects, _ = mediation_linear(
        pingouin_data, "X", "M", "Y", n_boot=500, seed=42,
        ci_method="bias_corrected", resampler="pingouin",
    )  # fmt: skip
    ind = _by(effects, "effect").loc["indirect"]
    # published
    assert ind["ci_low"] == pytest.approx(0.219818, abs=1e-6)
    assert ind["ci_high"] == pytest.approx(0.537654, abs=1e-6)
    # live
    ref = _row(pg.mediation_analysis(data=pingouin_data, x="X", m="M", y="Y", seed=42,
                                     n_boot=500), "Indirect")  # fmt: skip
    assert ind["ci_low"] == pytest.approx(ref["CI2.5"], abs=1e-8)
    assert ind["ci_high"] == pytest.approx(ref["CI97.5"], abs=1e-8)
    assert ind["se"] == pytest.approx(ref["se"], abs=1e-8)
    assert ind["p"] == pytest.approx(ref["pval"], abs=1e-12)
    assert ind["n_boot"] == 500 and ind["seed"] == 42


def test_covariates_match_pingouin_covar(pingouin_data):
    effects, paths = mediation_linear(
        pingouin_data, "X", "M", "Y", covariates=["W1", "W2"], n_boot=300, seed=7,
        ci_method="bias_corrected", resampler="pingouin",
    )  # fmt: skip
    ref = pg.mediation_analysis(
        data=pingouin_data, x="X", m="M", y="Y", covar=["W1", "W2"], seed=7, n_boot=300
    )
    e, pa = _by(effects, "effect"), _by(paths, "path")
    assert pa.loc["a", "estimate"] == pytest.approx(_row(ref, "M ~ X")["coef"], abs=1e-10)
    for ours, theirs in (("total", "Total"), ("direct", "Direct"), ("indirect", "Indirect")):
        assert e.loc[ours, "estimate"] == pytest.approx(_row(ref, theirs)["coef"], abs=1e-10)
    assert e.loc["indirect", "ci_low"] == pytest.approx(_row(ref, "Indirect")["CI2.5"], abs=1e-8)
    assert e.loc["indirect", "ci_high"] == pytest.approx(_row(ref, "Indirect")["CI97.5"], abs=1e-8)


# --- JOBS II (R mediation) ------------------------------------------------------------


def test_jobs_matches_r_mediation(jobs):
    effects, paths = mediation_linear(
        jobs, "treat", "job_seek", "depress2", covariates=["econ_hard", "sex", "age"],
        n_boot=200, seed=2014,
    )  # fmt: skip
    e, pa = _by(effects, "effect"), _by(paths, "path")
    assert pa.loc["a", "estimate"] == pytest.approx(0.065615, abs=1e-6)
    assert pa.loc["b", "estimate"] == pytest.approx(-0.239955, abs=1e-6)
    assert e.loc["indirect", "estimate"] == pytest.approx(-0.01574465, abs=1e-6)
    assert e.loc["direct", "estimate"] == pytest.approx(-0.0402647, abs=1e-6)
    assert e.loc["total", "estimate"] == pytest.approx(-0.0560093, abs=1e-6)
    assert pa.loc["c", "estimate"] == pytest.approx(-0.0560093, abs=1e-6)
    assert (e["n"] == 899).all()


# --- batched bootstrap --------------------------------------------------------------


def test_batched_ols_equals_loop_of_lstsq():
    rng = np.random.default_rng(1)
    n, p = 150, 5
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1)) * [1, 10, 0.1, 50]])
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    counts = resample_counts(n, 40, analysis_rng(3))
    idx_rng = analysis_rng(3)  # same stream: the explicit row indices behind the counts
    idx = idx_rng.integers(0, n, size=(40, n))
    got = batched_ols(X, y, counts, chunk_size=7)  # several chunks, last one partial
    for b in range(40):
        expected = np.linalg.lstsq(X[idx[b]], y[idx[b]], rcond=None)[0]
        np.testing.assert_allclose(got[b], expected, rtol=1e-10, atol=1e-10)


def test_batched_ols_two_responses_and_singular_resamples():
    rng = np.random.default_rng(2)
    n = 40
    rare = np.zeros(n)
    rare[0] = 1.0  # a dummy that is 1 in a single row: resamples missing row 0 are singular
    X = np.column_stack([np.ones(n), rng.normal(size=n), rare])
    Y = rng.normal(size=(n, 2))
    counts = resample_counts(n, 200, analysis_rng(0))
    got = batched_ols(X, Y, counts)
    singular = counts[:, 0] == 0
    assert singular.sum() > 0 and (~singular).sum() > 0
    assert np.isnan(got[singular]).all()
    for b in np.flatnonzero(~singular)[:20]:
        rows = np.repeat(np.arange(n), counts[b])
        expected = np.linalg.lstsq(X[rows], Y[rows], rcond=None)[0]
        np.testing.assert_allclose(got[b], expected, rtol=1e-9, atol=1e-9)


# --- planted mediation --------------------------------------------------------------


def test_planted_indirect_effect_inside_ci():
    rng = np.random.default_rng(2024)
    n = 800
    c1, c2 = rng.normal(size=n), rng.choice(["urban", "rural"], size=n)
    ses = rng.normal(size=n) + 0.3 * c1
    cortisol = 0.5 * ses + 0.2 * c1 + 0.3 * (c2 == "urban") + rng.normal(size=n)
    outcome = 0.4 * cortisol + 0.1 * ses - 0.2 * c1 + rng.normal(size=n)
    df = pd.DataFrame({"ses": ses, "cortisol": cortisol, "bayley": outcome, "c1": c1,
                       "area": c2})  # fmt: skip
    effects, paths = mediation_linear(
        df, "ses", "cortisol", "bayley", ["c1", "area"], n_boot=2000, seed=5,
        keys=("planted",),
    )  # fmt: skip
    e = _by(effects, "effect")
    assert e.loc["indirect", "ci_low"] < 0.5 * 0.4 < e.loc["indirect", "ci_high"]
    # Direct and total: a 95% CI misses 1 time in 20, so check them within 3 bootstrap SEs
    # (a simulation of 1000 data sets gave 94-95% coverage for all three intervals).
    for effect, value in {"direct": 0.1, "total": 0.1 + 0.5 * 0.4}.items():
        assert abs(e.loc[effect, "estimate"] - value) < 3 * e.loc[effect, "se"], effect
    # the indirect effect is clearly non-zero: every replicate on the same side
    assert e.loc["indirect", "p"] < 0.01
    # OLS identity c = c' + a*b holds for the full-data estimates
    assert e.loc["total", "estimate"] == pytest.approx(
        e.loc["direct", "estimate"] + e.loc["indirect", "estimate"], abs=1e-12
    )
    pa = _by(paths, "path")
    assert pa.loc["a", "ci_low"] < 0.5 < pa.loc["a", "ci_high"]
    assert pa.loc["b", "ci_low"] < 0.4 < pa.loc["b", "ci_high"]


# --- determinism --------------------------------------------------------------------


def test_same_seed_same_numbers_and_keys_change_resamples(pingouin_data):
    run = lambda **kw: mediation_linear(pingouin_data, "X", "M", "Y", n_boot=300, seed=9, **kw)
    first, second = run(keys=("a",))[0], run(keys=("a",))[0]
    pd.testing.assert_frame_equal(first, second)
    other = run(keys=("b",))[0]
    assert not np.allclose(first["ci_low"], other["ci_low"])
    np.testing.assert_array_equal(
        resample_counts(100, 50, analysis_rng(9, "a")),
        resample_counts(100, 50, analysis_rng(9, "a")),
    )
    assert not np.array_equal(
        resample_counts(100, 50, analysis_rng(9, "a")),
        resample_counts(100, 50, analysis_rng(9, "b")),
    )
    assert not np.array_equal(
        resample_counts(100, 50, analysis_rng(9, "a", "b")),
        resample_counts(100, 50, analysis_rng(9, "ab")),
    )


def test_analysis_rng_follows_documented_recipe_and_is_stable():
    keys = ("mediation", "maternal_ses", "hair_cortisol", "child_bmi")
    words = [int.from_bytes(hashlib.sha256(k.encode("utf-8")).digest()[:4], "big") for k in keys]
    recipe = np.random.Generator(np.random.PCG64(np.random.SeedSequence([2024, *words])))
    expected = recipe.integers(0, 2**31, size=3)
    got = analysis_rng(2024, *keys).integers(0, 2**31, size=3)
    np.testing.assert_array_equal(got, expected)
    # Hard-coded after checking against the recipe above: must not change between
    # processes, Python hash seeds or releases of first1000.
    np.testing.assert_array_equal(got, [838617110, 144636317, 1206573944])
    # Without keys the generator is numpy's default_rng(seed).
    np.testing.assert_array_equal(
        analysis_rng(7).integers(0, 2**31, size=3),
        np.random.default_rng(7).integers(0, 2**31, size=3),
    )


def test_pingouin_resampler_matches_brief_description():
    # Per-iteration draws of size n from RandomState(seed) give the same rows.
    rs = np.random.RandomState(42)
    idx = [rs.choice(np.arange(30), replace=True, size=30) for _ in range(5)]
    expected = np.stack([np.bincount(i, minlength=30) for i in idx])
    np.testing.assert_array_equal(pingouin_resample_counts(30, 5, 42), expected)


# --- data problems and misuse -------------------------------------------------------


def test_zero_variance_mediator_gives_status(pingouin_data):
    effects, paths = mediation_linear(pingouin_data.assign(M=1.0), "X", "M", "Y", n_boot=50)
    assert effects["status"].str.contains("mediator 'M' has zero variance").all()
    assert paths["status"].str.contains("zero variance").all()
    assert effects[["estimate", "se", "ci_low", "ci_high", "p"]].isna().all().all()
    assert list(effects["effect"]) == ["total", "direct", "indirect", "proportion_mediated"]


def test_zero_variance_exposure_and_too_few_rows(pingouin_data):
    effects, _ = mediation_linear(pingouin_data.assign(X=3), "X", "M", "Y", n_boot=50)
    assert effects["status"].str.contains("exposure 'X' has zero variance").all()
    effects, _ = mediation_linear(
        pingouin_data.iloc[:5], "X", "M", "Y", covariates=["W1", "W2"], n_boot=50
    )
    # outcome model: Intercept, X, M, W1, W2 = 5 parameters on 5 rows
    assert effects["status"].str.contains("n=5").all()
    assert effects["status"].str.contains("5 parameters").all()
    assert effects["estimate"].isna().all() and (effects["n"] == 5).all()


def test_misuse_raises(pingouin_data):
    with pytest.raises(ModelError):
        mediation_linear(pingouin_data, "X", "M", "nope")
    with pytest.raises(ModelError):
        mediation_linear(pingouin_data, "X", "M", "Y", ci_method="bca")
    with pytest.raises(ModelError):
        mediation_linear(pingouin_data, "X", "M", "Y", resampler="scipy")
    with pytest.raises(ModelError):
        mediation_linear(pingouin_data, "X", "M", "Y", covariates=["M"])
