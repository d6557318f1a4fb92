"""Tests of first1000.stats.regression and first1000.stats.multitest.

Reference values come from statsmodels fitted independently here (formula interface),
from statsmodels' multipletests, or from hand computation.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from first1000.errors import ModelError
from first1000.stats.multitest import bh_fdr
from first1000.stats.regression import design_matrix, fit_association


@pytest.fixture
def cohort():
    """Simulated cohort: planted effect 0.5 of maternal_ses on the child outcome."""
    rng = np.random.default_rng(11)
    n = 400
    ses = rng.normal(size=n)
    sex = rng.choice(["F", "M"], size=n)
    parity = rng.choice(["0", "1", "2+"], size=n)
    age = rng.normal(31, 4, size=n)
    noise = rng.normal(size=n)
    y = 1 + 0.5 * ses + 0.3 * (sex == "M") - 0.2 * (parity == "2+") + 0.02 * age + noise
    eta = -0.3 + 0.8 * ses + 0.4 * (sex == "M")
    ybin = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    df = pd.DataFrame(
        {"maternal_ses": ses, "child_sex": sex, "parity": parity, "maternal_age": age,
         "outcome": y, "preterm": ybin}
    )  # fmt: skip
    df.loc[[3, 50, 77], "maternal_age"] = np.nan  # complete-case handling
    df.loc[[5, 90], "child_sex"] = None
    return df


def test_linear_matches_statsmodels_formula(cohort):
    ref = smf.ols(
        "outcome ~ maternal_ses + C(child_sex) + C(parity) + maternal_age", data=cohort
    ).fit()
    got = fit_association(
        cohort, "outcome", "maternal_ses", ["child_sex", "parity", "maternal_age"]
    )
    assert got["status"] == "ok" and got["model"] == "linear"
    assert got["n"] == int(ref.nobs) == 395
    assert got["estimate"] == pytest.approx(ref.params["maternal_ses"], rel=1e-10)
    assert got["se"] == pytest.approx(ref.bse["maternal_ses"], rel=1e-10)
    assert got["p"] == pytest.approx(ref.pvalues["maternal_ses"], rel=1e-8)
    ci = ref.conf_int().loc["maternal_ses"]
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ci[0], ci[1]), rel=1e-10)
    assert got["ci_low"] < 0.5 < got["ci_high"]  # planted effect


def test_logistic_matches_statsmodels_formula(cohort):
    ref = smf.logit("preterm ~ maternal_ses + C(child_sex) + maternal_age", data=cohort).fit(disp=0)
    got = fit_association(
        cohort, "preterm", "maternal_ses", ["child_sex", "maternal_age"], family="binomial"
    )
    assert got["status"] == "ok" and got["model"] == "logistic"
    assert got["n"] == int(ref.nobs)
    assert got["estimate"] == pytest.approx(ref.params["maternal_ses"], rel=1e-7)
    assert got["se"] == pytest.approx(ref.bse["maternal_ses"], rel=1e-7)
    assert got["p"] == pytest.approx(ref.pvalues["maternal_ses"], rel=1e-6)
    ci = ref.conf_int().loc["maternal_ses"]
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ci[0], ci[1]), rel=1e-7)
    assert got["odds_ratio"] == pytest.approx(np.exp(ref.params["maternal_ses"]), rel=1e-7)
    assert got["ci_low"] < 0.8 < got["ci_high"]  # planted log odds ratio


def test_two_level_string_predictor_is_contrast_of_second_level(cohort):
    ref = smf.ols("outcome ~ C(child_sex) + maternal_ses", data=cohort).fit()
    got = fit_association(cohort, "outcome", "child_sex", ["maternal_ses"])
    assert got["estimate"] == pytest.approx(ref.params["C(child_sex)[T.M]"], rel=1e-10)


def test_design_matrix_dummy_codes_with_sorted_reference():
    df = pd.DataFrame(
        {
            "parity": ["2+", "0", "1", "0", None],
            "smoker": [True, False, True, False, True],
            "age": [30, 31, 32, 33, 34],
            "site": pd.Categorical(["b", "a", "b", "a", "a"], categories=["b", "a"]),
        }
    )
    X, names = design_matrix(df, ["parity", "smoker", "age", "site"])
    assert names == ["Intercept", "parity[1]", "parity[2+]", "smoker[True]", "age", "site[b]"]
    nan = np.nan
    expected = np.array(
        [
            [1, 0, 1, 1, 30, 1],
            [1, 0, 0, 0, 31, 0],
            [1, 1, 0, 1, 32, 1],
            [1, 0, 0, 0, 33, 0],
            [1, nan, nan, 1, 34, 0],  # missing level stays missing, not "reference"
        ]
    )
    np.testing.assert_array_equal(X, expected)
    # Row order does not change the coding.
    _, names_rev = design_matrix(df.iloc[::-1], ["parity", "smoker", "age", "site"])
    assert names_rev == names


def test_design_matrix_unknown_column_raises():
    with pytest.raises(ModelError, match="not in the data"):
        design_matrix(pd.DataFrame({"a": [1.0]}), ["b"])


def test_zero_variance_predictor_gives_status(cohort):
    df = cohort.assign(maternal_ses=2.0)
    got = fit_association(df, "outcome", "maternal_ses", ["maternal_age"])
    assert "zero variance" in got["status"]
    assert np.isnan([got["estimate"], got["se"], got["ci_low"], got["ci_high"], got["p"]]).all()


def test_too_few_rows_gives_status():
    df = pd.DataFrame(
        {"outcome": [1.0, 2.0, 0.5, 3.0, np.nan], "ses": [0.1, 0.9, 0.4, 0.2, 0.3],
         "parity": ["0", "1", "2+", "1", "0"], "age": [30, 25, 28, 35, 33]}
    )  # fmt: skip
    got = fit_association(df, "outcome", "ses", ["parity", "age"])
    # 5 parameters: Intercept, ses, parity[1], parity[2+], age; 4 complete rows
    assert "n=4" in got["status"] and "5 parameters" in got["status"]
    assert got["n"] == 4 and np.isnan(got["estimate"])


def test_perfect_separation_gives_status_not_exception():
    x = np.linspace(-2, 2, 60)
    df = pd.DataFrame({"x": x, "y": (x > 0.1).astype(int), "c": np.cos(np.arange(60))})
    got = fit_association(df, "y", "x", ["c"], family="binomial")
    assert "separation" in got["status"]
    assert np.isnan(got["estimate"]) and np.isnan(got["odds_ratio"])


def test_quasi_separation_binary_exposure_gives_status():
    rng = np.random.default_rng(3)
    exposed = rng.integers(0, 2, 200)
    y = np.where(exposed == 1, 1, rng.integers(0, 2, 200))  # every exposed child is a case
    df = pd.DataFrame({"exposed": exposed, "y": y, "c": rng.normal(size=200)})
    got = fit_association(df, "y", "exposed", ["c"], family="binomial")
    assert "separation" in got["status"]
    assert np.isnan(got["p"])


def test_binary_response_not_01_gives_status(cohort):
    df = cohort.assign(preterm=cohort["preterm"] + 1)  # coded 1/2
    got = fit_association(df, "preterm", "maternal_ses", family="binomial")
    assert "0/1" in got["status"] and np.isnan(got["estimate"])


def test_misuse_raises(cohort):
    with pytest.raises(ModelError, match="family"):
        fit_association(cohort, "outcome", "maternal_ses", family="poisson")
    with pytest.raises(ModelError, match="not in the data"):
        fit_association(cohort, "outcome", "no_such_column")


def test_bh_fdr_matches_multipletests_with_nans():
    rng = np.random.default_rng(5)
    p = rng.uniform(size=40) ** 2
    p[[2, 17, 30]] = np.nan
    present = ~np.isnan(p)
    expected = multipletests(p[present], method="fdr_bh")[1]
    q = bh_fdr(p)
    assert np.isnan(q[~present]).all()
    np.testing.assert_allclose(q[present], expected, rtol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 450_000])
def test_bh_fdr_is_bitwise_statsmodels(n):
    """Written out (no statsmodels import in the EWAS gather job): the same bits as
    multipletests(fdr_bh), with ties, zeros and ones."""
    rng = np.random.default_rng(n)
    p = rng.uniform(size=n) ** 3
    p[rng.integers(0, n, max(1, n // 10))] = 1.0
    p[rng.integers(0, n, max(1, n // 20))] = 0.0
    p[rng.integers(0, n, max(1, n // 10))] = np.round(p[: max(1, n // 10)], 2)  # ties
    np.testing.assert_array_equal(bh_fdr(p), multipletests(p, method="fdr_bh")[1])


def test_bh_fdr_hand_example():
    # m = 4. Sorted p: 0.01, 0.03, 0.04, 0.20 (ranks 1-4); m·p/rank = 0.04, 0.06, 0.16/3, 0.20.
    # Step-up (running minimum from the largest rank down): 0.04, 0.16/3, 0.16/3, 0.20.
    # Back in input order (0.01, 0.04, 0.03, 0.20):
    p = np.array([0.01, 0.04, 0.03, 0.20])
    np.testing.assert_allclose(bh_fdr(p), [0.04, 0.16 / 3, 0.16 / 3, 0.20], rtol=1e-12)
    # p = 0.01, 0.03, 0.02, 0.20: m·p/rank = 0.04, 0.04 (0.02), 0.04 (0.03), 0.20.
    p2 = np.array([0.01, 0.03, 0.02, 0.20])
    np.testing.assert_allclose(bh_fdr(p2), [0.04, 0.04, 0.04, 0.20], rtol=1e-12)


def test_bh_fdr_all_nan_and_shape():
    assert np.isnan(bh_fdr([np.nan, np.nan])).all()
    q = bh_fdr(np.array([[0.01, np.nan], [0.04, 0.03]]))
    assert q.shape == (2, 2) and np.isnan(q[0, 1])
    with pytest.raises(ModelError):
        bh_fdr([0.5, 1.5])


def test_infinite_values_give_status(cohort):
    df = cohort.copy()
    df.loc[10, "maternal_ses"] = np.inf  # dropna keeps inf; the model must not see it
    got = fit_association(df, "outcome", "maternal_ses", ["maternal_age"])
    assert "infinite values in 'maternal_ses'" in got["status"] and np.isnan(got["estimate"])


# --- Firth-penalised logistic regression (reference: R brglm2 0.9 / brglm 0.7.2) ---------

FIRTH = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "reference" / "firth"


def _firth_reference(name):
    ref = pd.read_csv(FIRTH / "firth_reference.csv", skipinitialspace=True)
    return ref[ref.dataset == name].reset_index(drop=True)


def test_firth_logit_matches_r_on_the_heinze_schemper_endometrial_data():
    from first1000.stats.regression import firth_logit

    data = pd.read_csv(FIRTH / "endometrial.csv")
    X = np.column_stack([np.ones(len(data)), data.NV, data.PI, data.EH])
    fit = firth_logit(X, data.HG.to_numpy(float))
    ref = _firth_reference("endometrial")
    assert fit["converged"]
    np.testing.assert_allclose(fit["coef"], ref.estimate, atol=1e-6, rtol=0)
    np.testing.assert_allclose(fit["se"], ref.se, atol=1e-6, rtol=0)
    # Heinze & Schemper (2002), Table 2: 3.775, 2.929, -0.035, -2.604
    np.testing.assert_allclose(fit["coef"], [3.775, 2.929, -0.035, -2.604], atol=6e-4)
    # Maximum likelihood does not exist here (NV separates); Firth gives R's numbers.
    ml = fit_association(data, "HG", "NV", ["PI", "EH"], family="binomial")
    assert ml["status"].startswith("perfect or quasi-perfect separation")
    pen = fit_association(data, "HG", "NV", ["PI", "EH"], family="binomial", firth=True)
    assert pen["status"] == "ok"
    assert (pen["estimate"], pen["se"]) == pytest.approx((ref.estimate[1], ref.se[1]), abs=1e-6)


@pytest.mark.parametrize("name", ["separated", "separated_weighted"])
def test_firth_logit_matches_r_under_complete_separation_with_case_weights(name):
    from first1000.stats.regression import firth_logit

    data = pd.read_csv(FIRTH / "separated.csv")
    X = np.column_stack([np.ones(len(data)), data.x, data.z])
    weights = data.w.to_numpy(float) if name == "separated_weighted" else None
    fit = firth_logit(X, data.y.to_numpy(float), weights=weights)
    ref = _firth_reference(name)
    np.testing.assert_allclose(fit["coef"], ref.estimate, atol=1e-6, rtol=0)
    np.testing.assert_allclose(fit["se"], ref.se, atol=1e-6, rtol=0)
    if weights is not None:  # frequency weights = the duplicated rows
        rows = np.repeat(np.arange(len(data)), data.w)
        dup = firth_logit(X[rows], data.y.to_numpy(float)[rows])
        np.testing.assert_allclose(dup["coef"], fit["coef"], atol=1e-9)


def test_firth_logit_solves_the_modified_score_equations_by_hand():
    # U*(b) = X'(y - mu + h (1/2 - mu)) with h the diagonal of W^1/2 X (X'WX)^-1 X' W^1/2.
    from first1000.stats.regression import firth_logit

    rng = np.random.default_rng(5)
    n = 50
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = (rng.random(n) < 0.4).astype(float)
    y[X[:, 2] == 1] = 1.0  # complete separation by the dummy
    fit = firth_logit(X, y)
    mu = 1 / (1 + np.exp(-X @ fit["coef"]))
    w = mu * (1 - mu)
    info = X.T @ (w[:, None] * X)
    hat = np.sqrt(w)[:, None] * X @ np.linalg.inv(info) @ X.T * np.sqrt(w)[None, :]
    score = X.T @ (y - mu + np.diag(hat) * (0.5 - mu))
    np.testing.assert_allclose(score, 0, atol=1e-8)
    np.testing.assert_allclose(fit["cov"], np.linalg.inv(info), rtol=1e-8)
    assert np.isfinite(fit["coef"]).all() and fit["coef"][2] > 2


def test_fit_association_firth_gives_finite_estimates_under_separation():
    data = pd.read_csv(FIRTH / "separated.csv")
    ml = fit_association(data, "y", "z", ["x"], family="binomial")
    assert ml["status"].startswith("perfect or quasi-perfect separation")
    fit = fit_association(data, "y", "z", ["x"], family="binomial", firth=True)
    ref = _firth_reference("separated").set_index("term")
    assert fit["status"] == "ok" and fit["model"] == "logistic (Firth)"
    assert fit["estimate"] == pytest.approx(ref.loc["z", "estimate"], abs=1e-6)
    assert fit["se"] == pytest.approx(ref.loc["z", "se"], abs=1e-6)
    z = 1.959963984540054
    assert fit["ci_low"] == pytest.approx(ref.loc["z", "estimate"] - z * ref.loc["z", "se"], abs=1e-5)
    assert fit["odds_ratio"] == pytest.approx(np.exp(ref.loc["z", "estimate"]), rel=1e-5)


# --- columns mixing numbers and text ------------------------------------------------------


def test_a_covariate_mixing_numbers_and_text_is_refused_naming_the_column_only():
    from first1000.errors import InputTableError
    from first1000.stats.regression import check_column_types, mixed_type_columns

    rng = np.random.default_rng(2)
    n = 40
    parity = np.array(["0", 0, "1", 1] * (n // 4), dtype=object)
    data = pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n), "parity": parity,
                         "sex": rng.choice(["F", "M"], n), "age": rng.normal(30, 4, n)})
    assert mixed_type_columns(data, ["y", "x", "parity", "sex", "age"]) == ["parity"]
    with pytest.raises(InputTableError) as err:
        fit_association(data, "y", "x", ["sex", "parity"])
    message = str(err.value)
    assert "'parity'" in message and "numbers and text" in message and "recode" in message
    assert "20 numeric and 20 text values" in message and "\n" not in message
    assert "'0'" not in message and "'1'" not in message  # no participant value quoted
    with pytest.raises(InputTableError, match=r"\(mechanism immune, cohort a\)"):
        check_column_types(data, ["parity"], where="mechanism immune, cohort a")
    # one type, whatever it is, passes: numbers-as-text is a plain factor
    check_column_types(data.assign(parity=data.parity.astype(str)), ["parity"])


# --------------------------------------------------------------------------- absorbed plate (FWL)
def _plates(n=3000, per_plate=40, seed=5):
    """Methylation-style data: a plate per ``per_plate`` samples with its own shift, one
    plate of a single sample, a few missing values; planted effect 0.25 of x."""
    rng = np.random.default_rng(seed)
    plate = np.array([f"plate_{k // per_plate:03d}" for k in rng.permutation(n)], dtype=object)
    plate[0] = "plate_single"
    codes = pd.factorize(plate, sort=True)[0]
    x = rng.normal(size=n) + 0.3 * rng.normal(size=codes.max() + 1)[codes]  # x differs between plates
    sex = rng.choice(["F", "M"], size=n)
    age = rng.normal(31, 4, size=n)
    y = 0.25 * x + 0.2 * (sex == "M") + 0.01 * age + rng.normal(size=codes.max() + 1)[codes] + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "x": x, "child_sex": sex, "maternal_age": age, "plate": plate})
    df.loc[rng.choice(n, 60, replace=False), "maternal_age"] = np.nan
    return df


def test_a_many_level_plate_is_absorbed_and_gives_the_dummy_models_numbers():
    """A plate with >= ABSORB_LEVELS levels is demeaned out (Frisch–Waugh–Lovell): estimate,
    SE, CI and p equal statsmodels' OLS with the plate as dummy columns, including a plate of
    one sample (its dummy fits it exactly and costs a degree of freedom)."""
    from first1000.stats.regression import ABSORB_LEVELS

    df = _plates()
    assert df.plate.nunique() >= ABSORB_LEVELS
    ref = smf.ols("y ~ x + C(child_sex) + maternal_age + C(plate)", data=df).fit()
    got = fit_association(df, "y", "x", ["child_sex", "maternal_age", "plate"])
    assert got["status"] == "ok" and got["n"] == int(ref.nobs) == 2940
    assert got["estimate"] == pytest.approx(ref.params["x"], rel=1e-10)
    assert got["se"] == pytest.approx(ref.bse["x"], rel=1e-10)
    assert got["p"] == pytest.approx(ref.pvalues["x"], rel=1e-8)
    ci = ref.conf_int().loc["x"]
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ci[0], ci[1]), rel=1e-10)
    assert got["ci_low"] < 0.25 < got["ci_high"]


def test_an_absorbed_plate_collinear_with_the_predictor_is_reported():
    df = _plates(n=1200)
    df["x"] = pd.factorize(df.plate, sort=True)[0] % 7  # constant within each plate
    got = fit_association(df, "y", "x", ["maternal_age", "plate"])
    assert np.isnan(got["estimate"]) and "collinear" in got["status"]


def test_a_plate_below_the_absorption_threshold_enters_as_dummies():
    from first1000.stats.regression import absorbed_factor

    df = _plates(n=600, per_plate=100)  # 7 plates
    assert absorbed_factor(df.dropna(), ["child_sex", "plate"]) is None
    assert absorbed_factor(_plates().dropna(), ["child_sex", "plate"]) == "plate"
