"""Epigenetic clocks against biolearn 0.9.1's own predictions (fixture made by
tests/data/clocks/make_fixture.py in a throwaway environment)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from first1000.errors import ConfigError, InputTableError
from first1000.mechanisms import clocks

DATA = Path(__file__).resolve().parents[1] / "data" / "clocks"
BIOLEARN = {"Horvathv1": "horvath2013", "Hannum": "hannum2013", "Knight": "knight2016", "Bohlin": "bohlin2016"}


@pytest.fixture(scope="module")
def expected():
    return pd.read_csv(DATA / "biolearn_predictions.csv")


def _betas(name):
    return pd.read_csv(DATA / name, index_col="sample")


def test_horvath_transform_round_trip_and_threshold():
    ages = np.array([0.0, 5.0, 20.0, 45.0, 80.0])
    assert clocks.horvath_anti_log(clocks.horvath_log(ages)) == pytest.approx(ages)
    # At the adult age (20) F is 0 and both branches meet; above it F is linear.
    assert clocks.horvath_log(20.0) == pytest.approx(0.0)
    assert clocks.horvath_anti_log(1.0) == pytest.approx(41.0)
    assert clocks.horvath_anti_log(-np.log(21)) == pytest.approx(0.0)


def test_clock_files_have_the_published_sizes():
    sizes = {name: len(clocks.load_clock(name).cpgs) for name in clocks.SPECS}
    assert sizes == {"horvath2013": 353, "hannum2013": 71, "knight2016": 148, "bohlin2016": 251}
    assert clocks.load_clock("knight2016").intercept == pytest.approx(41.7)
    assert clocks.load_clock("horvath2013").intercept == pytest.approx(0.696)


@pytest.mark.parametrize("biolearn_name", sorted(BIOLEARN))
def test_complete_data_matches_biolearn(expected, biolearn_name):
    betas = _betas("synthetic_betas_complete.csv")
    got = clocks.predict(betas, BIOLEARN[biolearn_name])
    want = expected.query("clock == @biolearn_name and imputation == 'none'").set_index("sample").predicted
    assert got.loc[want.index].to_numpy() == pytest.approx(want.to_numpy(), rel=1e-8, abs=1e-7)


@pytest.mark.parametrize("biolearn_name", sorted(BIOLEARN))
def test_missing_cpgs_are_handled_as_biolearn_hybrid_impute(expected, biolearn_name):
    betas = _betas("synthetic_betas.csv")
    clock = clocks.load_clock(BIOLEARN[biolearn_name])
    got = clocks.predict(betas, clock)
    want = expected.query("clock == @biolearn_name and imputation == 'sesame_450k'").set_index("sample").predicted
    assert got.loc[want.index].to_numpy() == pytest.approx(want.to_numpy(), rel=1e-8, abs=1e-7)
    # The fixture leaves out 2 CpGs of each clock and keeps one in only half the samples
    # (CpGs of one clock left out for another may also belong to this one).
    cover = clocks.clock_coverage(betas, clock)
    assert cover["n_cpgs"] == len(clock.cpgs)
    assert cover["n_from_reference"] >= 3
    assert cover["n_measured"] + cover["n_from_reference"] == cover["n_cpgs"]
    assert cover["share_measured"] == pytest.approx(cover["n_measured"] / cover["n_cpgs"])
    assert cover["n_values_mean_imputed"] > 0


def test_mean_imputation_refuses_absent_cpgs_and_fills_gaps():
    betas = _betas("synthetic_betas.csv")
    with pytest.raises(InputTableError, match="no value in any sample"):
        clocks.predict(betas, "hannum2013", impute="mean")
    complete = _betas("synthetic_betas_complete.csv")
    clock = clocks.load_clock("hannum2013")
    gappy = complete.copy()
    cpg = clock.cpgs[0]
    gappy.loc["S01", cpg] = np.nan
    filled = complete.copy()
    filled.loc["S01", cpg] = complete[cpg].drop("S01").mean()
    assert clocks.predict(gappy, clock, impute="mean")["S01"] == pytest.approx(clocks.predict(filled, clock)["S01"])


def test_bad_betas_name_column_and_rows_only():
    betas = _betas("synthetic_betas_complete.csv")
    cpg = clocks.load_clock("hannum2013").cpgs[0]
    betas.loc["S03", cpg] = 1.7
    with pytest.raises(InputTableError) as err:
        clocks.predict(betas, "hannum2013", where="methylation_clock.csv")
    msg = str(err.value)
    assert f"column '{cpg}'" in msg and "row 4" in msg and "S03" not in msg and "1.7" not in msg
    with pytest.raises(ConfigError):
        clocks.load_clock("grimage")


def test_age_acceleration_is_the_residual_on_age():
    rng = np.random.default_rng(1)
    age = rng.uniform(270, 290, 50)
    dnam = 30 + 0.9 * age + rng.normal(0, 2, 50)
    acc = clocks.age_acceleration(dnam, age)
    slope, intercept = np.polyfit(age, dnam, 1)
    assert acc == pytest.approx(dnam - intercept - slope * age)
    assert np.mean(acc) == pytest.approx(0, abs=1e-9)
    assert np.corrcoef(acc, age)[0, 1] == pytest.approx(0, abs=1e-9)
    dnam[3] = np.nan
    assert np.isnan(clocks.age_acceleration(dnam, age)[3])
    agree = clocks.clock_agreement([1.0, 2.0, 4.0, np.nan], [1.0, 3.0, 4.0, 2.0])
    assert agree["n"] == 3 and agree["mae"] == pytest.approx(1 / 3)
