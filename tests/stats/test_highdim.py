"""High-dimensional mediation (first1000.stats.highdim.hima): each step against
statsmodels written here, chunked input equal to the whole matrix, and in simulation
(200 data sets of 10,000 candidates, 8 true mediators and 40 composite nulls that affect
one path only) a false discovery proportion of at most 0.05 plus its Monte Carlo error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from first1000.errors import ModelError
from first1000.stats.highdim import hima

TRUE = 8


def simulate(rng, n=400, p=10_000, effect=0.35):
    x = rng.normal(size=n)
    C = rng.normal(size=(n, 2))
    M = rng.standard_normal((n, p))
    alpha = np.zeros(p)
    beta = np.zeros(p)
    alpha[:TRUE] = beta[:TRUE] = effect          # mediators: both paths
    alpha[TRUE:TRUE + 20] = effect               # exposure -> M only
    beta[TRUE + 20:TRUE + 40] = effect           # M -> outcome only
    M += np.outer(x, alpha) + C @ rng.normal(0, 0.2, (2, p))
    y = 0.3 * x + M @ beta + C @ np.array([0.2, -0.1]) + rng.normal(size=n)
    return x, M, y, C


def test_each_step_equals_ordinary_least_squares():
    rng = np.random.default_rng(1)
    x, M, y, C = simulate(rng, n=300, p=2_000)
    res = hima(x, M, y, C, names=[f"cg{j}" for j in range(M.shape[1])])
    table = res["table"].set_index("mediator")
    assert res["top"] == int(np.ceil(300 / np.log(300))) == len(table) and res["p"] == 2_000
    # screening: the p of M_j in y ~ 1 + x + C + M_j
    for j in (0, 5, 30):
        if f"cg{j}" in table.index:
            fit = sm.OLS(y, np.column_stack([np.ones(300), x, C, M[:, j]])).fit()
            np.testing.assert_allclose(table.loc[f"cg{j}", "screen_p"], fit.pvalues[-1], rtol=1e-8)
    selected = table[table.selected]
    assert len(selected) >= 1
    names = list(selected.index)
    cols = [int(name[2:]) for name in names]
    # b: the joint outcome model of the selected candidates; a: each candidate on x + C
    joint = sm.OLS(y, np.column_stack([np.ones(300), x, C, M[:, cols]])).fit()
    np.testing.assert_allclose(selected.b, joint.params[4:], rtol=1e-9)
    np.testing.assert_allclose(selected.p_b, joint.pvalues[4:], rtol=1e-7)
    for name, j in zip(names, cols):
        fit = sm.OLS(M[:, j], np.column_stack([np.ones(300), x, C])).fit()
        np.testing.assert_allclose([table.loc[name, "a"], table.loc[name, "a_se"]], [fit.params[1], fit.bse[1]],
                                   rtol=1e-9)
        np.testing.assert_allclose(table.loc[name, "p"], max(fit.pvalues[1], table.loc[name, "p_b"]), rtol=1e-7)
    assert (table.loc[~table.selected, "p"] == 1).all()
    assert np.allclose(table.ab, table.a * table.b, equal_nan=True)


def test_chunked_input_equals_the_whole_matrix():
    rng = np.random.default_rng(2)
    x, M, y, C = simulate(rng, n=250, p=3_000)
    names = [f"cg{j:05d}" for j in range(M.shape[1])]
    whole = hima(x, M, y, C, names=names)["table"]
    chunks = ((names[s:s + 700], M[:, s:s + 700]) for s in range(0, M.shape[1], 700))
    pd.testing.assert_frame_equal(hima(x, chunks, y, C)["table"], whole)


def test_false_discoveries_are_controlled_in_simulation():
    rng = np.random.default_rng(20261203)
    runs = 200
    fdp, power = np.empty(runs), np.empty(runs)
    for r in range(runs):
        x, M, y, C = simulate(rng)
        table = hima(x, M, y, C)["table"]
        found = table.mediator[table.q < 0.05].astype(int).to_numpy()
        fdp[r] = np.sum(found >= TRUE) / max(1, found.size)
        power[r] = np.sum(found < TRUE) / TRUE
    mc_error = fdp.std(ddof=1) / np.sqrt(runs)
    print(f"FDR {fdp.mean():.4f} (MC error {mc_error:.4f}), power {power.mean():.3f} over {runs} runs")
    assert fdp.mean() <= 0.05 + 2 * mc_error
    assert power.mean() > 0.5


def test_incomplete_data_and_collinear_designs_are_refused():
    rng = np.random.default_rng(3)
    x, M, y, C = simulate(rng, n=100, p=50)
    M[3, 4] = np.nan
    with pytest.raises(ModelError, match="every candidate mediator needs a value"):
        hima(x, M, y, C)
    with pytest.raises(ModelError, match="collinear"):
        hima(x, M[:, :3], y, np.column_stack([x, x]))


def test_top_is_capped_and_no_candidate_is_refused():
    rng = np.random.default_rng(4)
    x, M, y, C = simulate(rng, n=60, p=300)
    assert hima(x, M, y, C, top=1000)["top"] == 60 - 4 - 2  # the joint model stays estimable
    with pytest.raises(ModelError, match="no candidate mediator"):
        hima(x, iter([]), y, C)


def _lfmm2_direct(x, C, M, k, lam=1e-5):
    """LFMM2's ridge solution as Caye et al. (2019) write it, with the full n x n Q."""
    X = np.column_stack([x, C])
    X = X - X.mean(axis=0)
    Y = M - M.mean(axis=0)
    n, d = X.shape
    Q, s, _ = np.linalg.svd(X, full_matrices=True)
    D = np.diag(np.concatenate([np.sqrt(lam / (lam + s ** 2)), np.ones(n - d)]))
    u, sv, _ = np.linalg.svd(D @ Q.T @ Y, full_matrices=False)
    return Q @ np.linalg.inv(D) @ u[:, :k] @ np.diag(sv[:k])


@pytest.mark.parametrize("chunked,exact", [(False, True), (True, True), (True, False)])
def test_latent_factors_equal_lfmm2_ridge_solution(chunked, exact, monkeypatch):
    """Both ways (the exact n x n matrix; subspace iteration for large cohorts), from an
    array or from chunks, give LFMM2's factors."""
    from first1000.stats import highdim
    from first1000.stats.highdim import latent_factors

    if not exact:
        monkeypatch.setattr(highdim, "GRAM_MAX_N", 0)

    rng = np.random.default_rng(7)
    n, p, k = 150, 600, 3
    x, C = rng.normal(size=n), rng.normal(size=(n, 2))
    hidden = rng.normal(size=(n, k)) + 0.5 * x[:, None]   # confounders, correlated with x
    M = hidden @ rng.normal(0, 1.0, (k, p)) + np.outer(x, rng.normal(0, 0.3, p)) + rng.normal(size=(n, p))
    blocks = (lambda: ((None, M[:, s:s + 128]) for s in range(0, p, 128))) if chunked else M
    ours = latent_factors(x, C, blocks, k)
    direct = _lfmm2_direct(x, C, M, k)
    for j in range(k):  # each factor up to its sign
        sign = np.sign(ours[:, j] @ direct[:, j])
        np.testing.assert_allclose(sign * ours[:, j], direct[:, j], rtol=1e-6, atol=1e-6 * np.abs(direct).max())


def test_latent_factors_remove_confounded_false_mediators():
    """An unmeasured confounder (say, a cell type) raises the exposure, the outcome and 10
    of 3,000 candidates, none a mediator: unadjusted, HIMA reports several of them (their
    a and b paths both run through the confounder); with hdmax2's latent factors (k = 1),
    the factor tracks the confounder, none is reported and the 8 true mediators still are."""
    from first1000.stats.highdim import latent_factors

    rng = np.random.default_rng(11)
    false_unadjusted, false_adjusted, found, tracking = [], [], [], []
    for _ in range(8):
        n, p = 400, 3_000
        hidden = rng.normal(size=n)
        x = 0.6 * hidden + rng.normal(size=n)
        C = rng.normal(size=(n, 1))
        load = np.zeros(p)
        load[100:110] = rng.normal(1.5, 0.1, 10)
        M = np.outer(hidden, load) + rng.standard_normal((n, p))
        M[:, :TRUE] += 0.35 * x[:, None]
        y = 0.3 * x + M[:, :TRUE] @ np.full(TRUE, 0.35) + 2.0 * hidden + rng.normal(size=n)
        plain = hima(x, M, y, C)["table"]
        U = latent_factors(x, C, M, 1)
        tracking.append(abs(np.corrcoef(U[:, 0], hidden)[0, 1]))
        adjusted = hima(x, M, y, np.column_stack([C, U]))["table"]
        hits = [t.mediator[t.q < 0.05].astype(int).to_numpy() for t in (plain, adjusted)]
        false_unadjusted.append(np.sum(hits[0] >= TRUE))
        false_adjusted.append(np.sum(hits[1] >= TRUE))
        found.append(np.sum(hits[1] < TRUE))
    assert np.mean(false_unadjusted) >= 2
    assert np.mean(false_adjusted) <= 0.25
    assert np.mean(found) >= 0.85 * TRUE and min(tracking) > 0.9


def test_lasso_from_the_gram_matrix_equals_sklearn_lassolarsic():
    """The penalised step from sufficient statistics keeps the candidates sklearn's
    LassoLarsIC (BIC) keeps on the residualised, scaled candidates themselves."""
    from sklearn.linear_model import LassoLarsIC

    from first1000.stats.highdim import _lasso_bic

    rng = np.random.default_rng(5)
    for _ in range(5):
        n, k = 300, 60
        X = rng.standard_normal((n, k))
        X -= X.mean(axis=0)
        X /= X.std(axis=0)
        beta = np.zeros(k)
        beta[rng.choice(k, 6, replace=False)] = rng.normal(0, 0.4, 6)
        y = X @ beta + rng.normal(size=n)
        y -= y.mean()
        ref = np.flatnonzero(LassoLarsIC(criterion="bic", fit_intercept=False).fit(X, y).coef_ != 0)
        np.testing.assert_array_equal(_lasso_bic(X.T @ X, X.T @ y, y @ y, n), ref)


def test_screening_in_small_sub_blocks_equals_one_pass(monkeypatch):
    """Sub-blocks of 64 candidates (the in-place replacement of the kept columns, ties
    included) give the table of one block holding every candidate."""
    from first1000.stats import highdim

    rng = np.random.default_rng(3)
    x, M, y, C = simulate(rng, n=250, p=3_000)
    M[:, 2_500] = M[:, 10]  # a tie: the earlier candidate stays first
    names = [f"cg{j:05d}" for j in range(M.shape[1])]
    monkeypatch.setattr(highdim, "_BLOCK", 10_000)
    monkeypatch.setattr(highdim, "_SUB_VALUES", 10 ** 9)
    whole = highdim.hima(x, M, y, C, names=names)["table"]
    monkeypatch.setattr(highdim, "_SUB_VALUES", 64 * 250)
    pd.testing.assert_frame_equal(highdim.hima(x, M, y, C, names=names)["table"], whole)


def test_default_screening_is_capped():
    from first1000.stats.highdim import TOP_MAX

    rng = np.random.default_rng(4)
    n = 10_000
    x, C = rng.normal(size=n), rng.normal(size=(n, 1))
    M = rng.standard_normal((n, 1_200))
    y = x + rng.normal(size=n)
    res = hima(x, M, y, C)
    assert np.ceil(n / np.log(n)) > TOP_MAX and res["top"] == TOP_MAX == len(res["table"])


def _plated(rng, n=1_500, p=800, plates=40):
    """Candidates, exposure and outcome that all shift with the array's plate (a batch
    effect), 6 true mediators."""
    plate = rng.integers(0, plates, n)
    shift = rng.normal(0, 1, plates)[plate]
    x = rng.normal(size=n) + 0.3 * shift
    C = rng.normal(size=(n, 2))
    M = rng.standard_normal((n, p)) + np.outer(shift, rng.normal(0, 0.5, p))
    M[:, :6] += 0.4 * x[:, None]
    y = 0.2 * x + M[:, :6] @ np.full(6, 0.4) + shift + rng.normal(size=n)
    dummies = (plate[:, None] == np.arange(1, plates)).astype(float)
    return x, M, y, C, plate, dummies


def test_absorbed_plate_equals_its_dummy_columns():
    """The plate absorbed by demeaning (#19) gives the table of the plate as dummy columns
    among the covariates: the same candidates screened and selected, in the same order, and
    the same estimates, SEs and p (the plates count in every df: leaving them out of the df
    moves the SEs by ~1.3% here), with the planted mediators found."""
    rng = np.random.default_rng(5)
    x, M, y, C, plate, dummies = _plated(rng)
    names = [f"cg{j}" for j in range(M.shape[1])]
    dummy = hima(x, M, y, np.column_stack([C, dummies]), names=names)
    absorbed = hima(x, ((names[s:s + 300], M[:, s:s + 300]) for s in range(0, 800, 300)), y, C,
                    absorb=[f"plate{p}" for p in plate])
    assert absorbed["top"] == dummy["top"] == int(np.ceil(1_500 / np.log(1_500)))
    assert absorbed["n_selected"] == dummy["n_selected"] and absorbed["p"] == 800
    a, b = dummy["table"], absorbed["table"]
    assert a.mediator.tolist() == b.mediator.tolist() and a.selected.tolist() == b.selected.tolist()
    for column in ("a", "a_se", "p_a", "b", "b_se", "p_b", "ab", "p", "q", "screen_p"):
        np.testing.assert_allclose(b[column], a[column], rtol=1e-9, err_msg=column)
    assert set(b.mediator[b.q < 0.05]) >= {f"cg{j}" for j in range(6)}
    with pytest.raises(ModelError, match="1499 labels for 1500 participants"):
        hima(x, M, y, C, absorb=plate[:-1])


def test_latent_factors_with_an_absorbed_plate_agree_with_its_dummy_columns():
    """LFMM2's factors with the plate absorbed agree, within the model's space (demeaned
    within plates: the dummies are in every HIMA model), with those of the plate as dummy
    columns of X, up to the ridge's shrinkage of the dummies' space; and HIMA with them
    agrees with HIMA on the dummies and their factors."""
    from first1000.stats.ewas import AbsorbedFactor
    from first1000.stats.highdim import latent_factors

    rng = np.random.default_rng(5)
    x, M, y, C, plate, dummies = _plated(rng)
    with_dummies = latent_factors(x, np.column_stack([C, dummies]), M, 2)
    absorbed = latent_factors(x, C, M, 2, absorb=plate)
    within = AbsorbedFactor(plate)
    np.testing.assert_allclose(within.demean(absorbed), absorbed, atol=1e-9 * np.abs(absorbed).max())
    demeaned = within.demean(with_dummies)
    for j in range(2):
        sign = np.sign(demeaned[:, j] @ absorbed[:, j])
        np.testing.assert_allclose(sign * absorbed[:, j], demeaned[:, j], atol=1e-4 * np.abs(demeaned).max())
    names = [f"cg{j}" for j in range(M.shape[1])]
    a = hima(x, M, y, np.column_stack([C, dummies, with_dummies]), names=names)["table"]
    b = hima(x, M, y, np.column_stack([C, absorbed]), names=names, absorb=plate)["table"]
    assert a.mediator.tolist() == b.mediator.tolist() and a.selected.tolist() == b.selected.tolist()
    for column in ("a", "a_se", "b", "b_se", "p"):
        np.testing.assert_allclose(b[column], a[column], rtol=2e-5, err_msg=column)
