"""Tests of first1000.analysis.modification (effect modification and missing data at pipeline level) and of
multiple imputation in first1000.analysis.associations.associations, on data simulated here with planted
interactions and planted missingness."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from first1000.analysis import associations as analyse
from first1000 import plan
from first1000.analysis import modification as strata
from first1000.privacy import suppress_missingness
from first1000.config import load_config
from first1000.errors import ConfigError

SCHEMA = {
    "x": {"type": "continuous", "unit": "point", "label": "Exposure"},
    "z": {"type": "continuous", "unit": "point", "label": "Resilience"},
    "sex": {"type": "categorical", "categories": ["female", "male"]},
    "c": {"type": "continuous"},
    "yb": {"type": "binary"},
}
SLOPE = {"female": 0.2, "male": 0.6}  # planted stratum-specific effects of x on b1
G = 0.3  # planted x-by-z interaction on b2


def _cohorts(seed: int = 7, n: int = 600) -> pd.DataFrame:
    """Two cohorts; b1 has a sex interaction, b2 a continuous x*z one, b3 none."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, cohort in enumerate(["alpha", "beta"]):
        x, z, c = rng.normal(size=(3, n))
        sex = rng.choice(["female", "male"], size=n)
        slope = np.array([SLOPE[s] for s in sex])
        frames.append(pd.DataFrame({
            "pseudo_id": [f"{cohort}{i}" for i in range(n)], "cohort": cohort, "x": x, "z": z,
            "sex": sex, "c": c,
            "b1": 0.5 * k + slope * x + 0.2 * c + rng.normal(size=n),
            "b2": 0.4 * x + G * x * z + 0.2 * z + 0.1 * c + rng.normal(size=n),
            "b3": 0.1 * c + rng.normal(size=n),
            "yb": (rng.random(n) < 0.3).astype(float),
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def _cfg(**em) -> dict:
    return {
        "mechanisms": {"m1": {"biomarkers": ["b1", "b2", "b3"], "exposures": ["x", "z"], "outcomes": ["yb"]}},
        "effect_modification": {"modifiers": [], "at": "quartiles", "pairs": [], **em},
        "missing_data": {"method": "complete_case", "m": 5, "max_iter": 5, "auxiliary": []},
        "_data_schema": SCHEMA,
    }


# --------------------------------------------------------------------------- which models
def test_every_modifier_for_every_exposure_biomarker_model_but_never_on_itself():
    models = plan.modification_models(_cfg(modifiers=["z", "sex"]), "m1")
    keys = [(m["exposure"], m["modifier"], m["response"]) for m in models]
    # z is an exposure: it is never its own modifier; outcomes are not included by default
    assert keys == [("x", "z", "b1"), ("x", "z", "b2"), ("x", "z", "b3"),
                    ("x", "sex", "b1"), ("x", "sex", "b2"), ("x", "sex", "b3"),
                    ("z", "sex", "b1"), ("z", "sex", "b2"), ("z", "sex", "b3")]  # fmt: skip
    assert {m["family"] for m in models} == {"gaussian"}
    assert plan.strata_figures(_cfg(modifiers=["z", "sex"]), "m1") == [("x", "z"), ("x", "sex"), ("z", "sex")]
    assert plan.modification_models(_cfg(), "m1") == []


def test_pairs_replace_the_all_models_rule():
    cfg = _cfg(modifiers=["z"], pairs=[{"exposure": "x", "biomarker": "b1", "modifier": "sex"},
                                       {"exposure": "b2", "outcome": "yb", "modifier": "sex"},
                                       {"exposure": "x", "biomarker": "b1", "modifier": "sex"}])  # fmt: skip
    models = plan.modification_models(cfg, "m1")
    assert [(m["exposure"], m["response"], m["modifier"], m["family"]) for m in models] == [
        ("x", "b1", "sex", "gaussian"), ("b2", "yb", "sex", "binomial")]  # fmt: skip


def test_check_settings_names_the_key():
    base = _cfg()
    plan.check_settings(base)
    with pytest.raises(ConfigError, match=r"effect_modification.modifiers.0.*`sexx`.*did you mean `sex`"):
        plan.check_settings(_cfg(modifiers=["sexx"]))
    with pytest.raises(ConfigError, match=r"pairs.0.*not an association model"):
        plan.check_settings(_cfg(pairs=[{"exposure": "x", "biomarker": "yb", "modifier": "sex"}]))
    with pytest.raises(ConfigError, match=r"pairs.0.modifier.*exposure or response"):
        plan.check_settings(_cfg(pairs=[{"exposure": "x", "biomarker": "b1", "modifier": "x"}]))
    bad = copy.deepcopy(base)
    bad["missing_data"]["auxiliary"] = ["nope"]
    with pytest.raises(ConfigError, match=r"missing_data.auxiliary.0"):
        plan.check_settings(bad)


def test_schema_fills_defaults_and_rejects_bad_values():
    raw = load_config("config/config.yaml")
    clean = {k: v for k, v in raw.items() if not k.startswith("_") and k != "sites"}
    clean["cohorts"] = {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")}
                        for k, v in clean["cohorts"].items()}  # fmt: skip
    for key in ("missing_data", "effect_modification"):
        clean.pop(key, None)
    cfg = load_config(clean)
    assert cfg["missing_data"] == {"method": "complete_case", "m": 20, "max_iter": 10, "imputation_method": "norm.boot",
                                   "auxiliary": []}
    assert cfg["effect_modification"] == {"modifiers": [], "at": "quartiles", "pairs": []}
    for bad, message in [({"missing_data": {"method": "mice"}}, "complete_case"),
                         ({"missing_data": {"m": 1}}, "missing_data.m"),
                         ({"effect_modification": {"at": "tertiles"}}, "quartiles"),
                         ({"effect_modification": {"pairs": [{"exposure": "epds", "modifier": "child_sex"}]}},
                          "exactly one of `biomarker`"),
                         ({"effect_modification": {"pairs": [{"exposure": "epds", "biomarker": "il6_ln",
                                                              "outcome": "birth_weight",
                                                              "modifier": "child_sex"}]}},
                          "exactly one of `biomarker`")]:  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            load_config({**clean, **bad})


# --------------------------------------------------------------------------- effect modification
@pytest.fixture(scope="module")
def modified():
    table = _cohorts()
    cfg = _cfg(modifiers=["sex", "z"])
    models = plan.modification_models(cfg, "m1")
    return strata.modification(table, "m1", models, ["c", "sex"], SCHEMA, at="quartiles")


def test_table_layout(modified):
    out = modified
    assert list(out.columns) == strata.MODIFICATION_COLUMNS
    assert set(out.cohort) == {"alpha", "beta", "pooled"}
    assert set(out.part) == {"term", "stratum", "test"}
    assert (out.status == "ok").all()
    pooled = out[out.cohort == "pooled"]
    assert (pooled.covariates == "c+cohort").all() or set(pooled.covariates) == {"c+sex+cohort", "c+cohort"}
    # the modifier is never its own covariate
    by_sex = out[out.modifier == "sex"]
    assert not by_sex.covariates.str.contains("sex").any()
    assert set(out[out.modifier == "z"].covariates) == {"c+sex", "c+sex+cohort"}
    tests = out[out.part == "test"]
    assert set(tests.test) == {"interaction_wald", "interaction_lr", "cochran_q"}
    assert set(tests[tests.modifier == "z"].test) == {"interaction_wald", "interaction_lr"}
    # q only on the Wald interaction tests, BH within mechanism and cohort
    assert out.q.notna().sum() == ((out.part == "test") & (out.test == "interaction_wald")).sum()
    from first1000.stats.multitest import bh_fdr

    for cohort, rows in out[out.q.notna()].groupby("cohort"):
        assert np.allclose(rows.q, bh_fdr(rows.p.to_numpy()))
    strata_rows = out[(out.part == "stratum") & (out.modifier == "z")]
    assert set(strata_rows.level) == {"p25", "p50", "p75"} and strata_rows.value.notna().all()
    assert (out.unit.dropna().str.contains("per point")).all()


def test_planted_interactions_found_and_null_not(modified):
    out = modified.set_index(["cohort", "exposure", "response", "modifier"])
    wald = modified[(modified.part == "test") & (modified.test == "interaction_wald")]
    wald = wald.set_index(["cohort", "exposure", "response", "modifier"])
    assert wald.loc[("pooled", "x", "b1", "sex"), "q"] < 0.001
    assert wald.loc[("pooled", "x", "b2", "z"), "q"] < 0.001
    assert wald.loc[("pooled", "x", "b3", "sex"), "p"] > 0.01
    assert wald.loc[("pooled", "x", "b3", "z"), "p"] > 0.01
    del out
    s = modified[(modified.part == "stratum") & (modified.cohort == "pooled") & (modified.exposure == "x")
                 & (modified.response == "b1") & (modified.modifier == "sex") & (modified.method == "stratified")]
    for level, truth in SLOPE.items():
        row = s[s.level == level].iloc[0]
        assert row.ci_low < truth < row.ci_high
        assert row.n == (_cohorts().sex == level).sum()
    term = modified[(modified.part == "term") & (modified.cohort == "pooled") & (modified.response == "b2")
                    & (modified.modifier == "z") & (modified.exposure == "x")].set_index("level")
    assert term.loc["x:z", "ci_low"] < G < term.loc["x:z", "ci_high"]


def test_unmeasured_variable_gives_a_status_row():
    table = _cohorts(n=200)
    table.loc[table.cohort == "beta", "b1"] = np.nan
    out = strata.modification(table, "m1", [{"exposure": "x", "response": "b1", "modifier": "sex"}], ["c"], SCHEMA)
    beta = out[out.cohort == "beta"]
    assert len(beta) == 1 and beta.part.iloc[0] == "test" and "b1 is not measured in cohort beta" in beta.status.iloc[0]
    assert (out[out.cohort != "beta"].status == "ok").all()


def test_at_sd_and_reproducible():
    table = _cohorts(n=300)
    models = [{"exposure": "x", "response": "b2", "modifier": "z"}]
    a = strata.modification(table, "m1", models, ["c"], SCHEMA, at="sd")
    b = strata.modification(table, "m1", models, ["c"], SCHEMA, at="sd")
    pd.testing.assert_frame_equal(a, b)
    assert set(a[a.part == "stratum"].level) == {"mean-1sd", "mean", "mean+1sd"}


# --------------------------------------------------------------------------- missingness
def test_missingness_counts_roles_and_suppression():
    table = _cohorts(n=100)
    rng = np.random.default_rng(3)
    table.loc[rng.choice(200, 30, replace=False), "b1"] = np.nan
    table.loc[[0, 1, 2], "c"] = np.nan  # 3 missing in alpha: a small cell
    table.loc[table.cohort == "beta", "b3"] = np.nan  # not measured in beta
    spec = {"biomarkers": ["b1", "b3"], "exposures": ["x"], "outcomes": []}
    models = [{"exposure": "x", "response": "b1", "modifier": "sex"}]
    out = strata.missingness(table, spec, ["c"], SCHEMA, models, auxiliary=["z"])
    assert list(out.columns) == strata.MISSINGNESS_COLUMNS
    assert list(dict.fromkeys(out.cohort)) == ["alpha", "beta", "pooled"]
    roles = dict(zip(out.variable, out.role))
    assert roles == {"x": "exposure", "b1": "biomarker", "b3": "biomarker", "c": "covariate",
                     "sex": "modifier", "z": "auxiliary"}  # fmt: skip
    row = out.set_index(["cohort", "variable"])
    for cohort, data in [("alpha", table[table.cohort == "alpha"]), ("pooled", table)]:
        r = row.loc[(cohort, "b1")]
        assert r.n_total == len(data) and r.n_observed == data.b1.notna().sum()
        assert r.pct_missing == pytest.approx(100 * data.b1.isna().mean())
        assert r.n_complete_cases == (data.b1.notna() & data.c.notna()).sum()
    assert row.loc[("beta", "b3"), "n_observed"] == 0 and row.loc[("beta", "b3"), "pct_missing"] == 100
    assert row.loc[("alpha", "c"), "n_missing"] == 3

    shown = suppress_missingness(out, 5).set_index(["cohort", "variable"])
    c = shown.loc[("alpha", "c")]
    # the rule set (tests/test_privacy.py): 96..99 observed, and 97 complete cases would give the 3 back
    assert c.n_missing == "<5" and c.n_observed == ">95" and pd.isna(c.pct_missing)
    assert c.n_complete_cases == ">95"
    assert shown.loc[("beta", "b3"), "n_observed"] == 0  # zero is not a small cell
    assert shown.loc[("alpha", "x"), "n_observed"] == 100


# --------------------------------------------------------------------------- multiple imputation
def _with_missing(seed: int = 11) -> pd.DataFrame:
    table = _cohorts(seed=seed, n=150)
    rng = np.random.default_rng(seed)
    # missing at random given z (observed): the auxiliary variable carries information
    p = 1 / (1 + np.exp(-(table.z - 0.5)))
    table.loc[rng.random(len(table)) < 0.4 * p, "b1"] = np.nan
    table.loc[rng.random(len(table)) < 0.1, "c"] = np.nan
    return table


def test_multiple_imputation_adds_m_and_fmi_and_is_reproducible():
    table = _with_missing()
    spec = {"biomarkers": ["b1"], "exposures": ["x"], "outcomes": ["yb"]}
    md = {"method": "multiple_imputation", "m": 3, "max_iter": 3, "auxiliary": ["z"]}
    cc = analyse.associations(table, "m1", spec, ["c"], SCHEMA)
    mi = analyse.associations(table, "m1", spec, ["c"], SCHEMA, missing_data=md, seed=42)
    again = analyse.associations(table, "m1", spec, ["c"], SCHEMA, missing_data=md, seed=42)
    pd.testing.assert_frame_equal(mi, again)  # byte-reproducible for a seed
    assert "m" not in cc and "fmi" not in cc
    assert list(mi.columns) == list(cc.columns) + ["m", "fmi"]
    per = mi[mi.cohort.isin(["alpha", "beta", "pooled"])].set_index(["cohort", "predictor", "response"])
    assert (per.status == "ok").all()
    assert (per.m == 3).all()
    n = table.groupby("cohort").size()
    assert per.loc[("alpha", "x", "b1"), "n"] == n["alpha"]  # every row analysed
    assert per.loc[("pooled", "x", "b1"), "n"] == len(table)
    assert 0 < per.loc[("pooled", "x", "b1"), "fmi"] < 1
    assert per.loc[("pooled", "b1", "yb"), "model"] == "logistic"
    # the complete-case n is smaller
    cc_n = cc.set_index(["cohort", "predictor", "response"]).loc[("pooled", "x", "b1"), "n"]
    assert cc_n < len(table)
    # meta rows from the per-cohort pooled estimates, no m
    assert (mi.cohort == "meta").any() and mi[mi.cohort == "meta"].m.isna().all()


def test_multiple_imputation_matches_fit_association_mi_with_its_keys():
    from first1000.stats.imputation import fit_association_mi

    table = _with_missing()
    md = {"method": "multiple_imputation", "m": 3, "max_iter": 3, "auxiliary": ["z", "x"]}
    spec = {"biomarkers": ["b1"], "exposures": ["x"], "outcomes": []}
    mi = analyse.associations(table, "m1", spec, ["c"], SCHEMA, missing_data=md, seed=5)
    row = mi.set_index(["cohort", "predictor", "response"]).loc[("beta", "x", "b1")]
    data = table[table.cohort == "beta"]
    # x is a model variable here: it is not used again as an auxiliary variable
    ref = fit_association_mi(data, "b1", "x", ["c"], m=3, seed=5, auxiliary=["z"], max_iter=3,
                             keys=("beta", "m1", "b1", "x"))  # fmt: skip
    assert row.estimate == ref["estimate"] and row.se == ref["se"] and row.fmi == ref["fmi"]
    other = fit_association_mi(data, "b1", "x", ["c"], m=3, seed=6, auxiliary=["z"], max_iter=3,
                               keys=("beta", "m1", "b1", "x"))  # fmt: skip
    assert other["estimate"] != ref["estimate"]  # the seed matters


def test_multiple_imputation_of_an_unmeasured_biomarker_is_a_status_row():
    table = _with_missing()
    table.loc[table.cohort == "beta", "b3"] = np.nan
    table.loc[table.cohort == "alpha", "z"] = np.nan  # auxiliary not measured in alpha: left out there
    md = {"method": "multiple_imputation", "m": 3, "max_iter": 3, "auxiliary": ["z"]}
    spec = {"biomarkers": ["b1", "b3"], "exposures": ["x"], "outcomes": []}
    mi = analyse.associations(table, "m1", spec, ["c"], SCHEMA, missing_data=md, seed=1)
    per = mi.set_index(["cohort", "predictor", "response"])
    assert per.loc[("beta", "x", "b3"), "status"] == "b3 is not measured in cohort beta"
    assert per.loc[("beta", "x", "b3"), "m"] == 0
    assert per.loc[("alpha", "x", "b1"), "status"] == "ok"
