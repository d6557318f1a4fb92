"""Microbiome kernels: filters, zero replacement, CLR, Shannon (vs scikit-bio if present)."""

import numpy as np
import pandas as pd
import pytest

from first1000.errors import ConfigError, InputTableError
from first1000.mechanisms import microbiome as mb

COUNTS = pd.DataFrame({"t1": [500, 20, 8000, 0], "t2": [0, 0, 4000, 100],
                       "t3": [10000, 30, 0, 9000], "t4": [0, 0, 0, 5]},
                      index=["s1", "s2", "s3", "s4"])


def test_shannon_of_known_vectors():
    assert mb.shannon([1, 1, 1, 1]) == pytest.approx(np.log(4))
    assert mb.shannon([1, 1, 1, 1], base=2) == pytest.approx(2.0)
    assert mb.shannon([5, 0, 0]) == pytest.approx(0.0)
    assert mb.shannon([1, 3]) == pytest.approx(-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))
    per_sample = mb.shannon(COUNTS)
    assert list(per_sample.index) == list(COUNTS.index) and per_sample["s2"] == pytest.approx(mb.shannon([20, 30]))
    assert np.isnan(mb.shannon([0, 0]))


def test_clr_rows_sum_to_zero_and_equal_log_over_geometric_mean():
    x = mb.replace_zeros(COUNTS, "pseudocount", 0.5)
    out = mb.clr(x)
    assert out.sum(axis=1).to_numpy() == pytest.approx(np.zeros(4), abs=1e-12)
    g = np.exp(np.log(x.loc["s1"]).mean())
    assert out.loc["s1"].to_numpy() == pytest.approx(np.log(x.loc["s1"] / g).to_numpy())
    with pytest.raises(ConfigError, match="replace zeros first"):
        mb.clr(COUNTS)


def test_zero_replacement_by_hand():
    assert mb.replace_zeros(COUNTS, "pseudocount", 1).loc["s2"].tolist() == [21, 1, 31, 1]
    # Multiplicative: D = 4 -> delta = 1/16; s2 has 2 zeros -> non-zeros scaled by 1 - 2/16.
    rep = mb.replace_zeros(COUNTS, "multiplicative")
    assert rep.loc["s2"].tolist() == pytest.approx([0.4 * 0.875, 1 / 16, 0.6 * 0.875, 1 / 16])
    assert rep.sum(axis=1).to_numpy() == pytest.approx(np.ones(4))
    with pytest.raises(ConfigError):
        mb.replace_zeros(COUNTS, "impute")


def test_filters_report_what_they_removed():
    deep, rep = mb.filter_depth(COUNTS, min_depth=1000)
    assert list(deep.index) == ["s1", "s3", "s4"]
    assert rep == dict(min_depth=1000, n_samples_in=4, n_samples_removed=1, n_samples_kept=3)
    # On s1, s3, s4: t1 2/3, t2 2/3, t3 2/3, t4 1/3 present.
    kept, rep = mb.filter_prevalence(deep, min_prevalence=0.5)
    assert list(kept.columns) == ["t1", "t2", "t3"] and rep["n_taxa_removed"] == 1
    with pytest.raises(ConfigError, match="fraction"):
        mb.filter_prevalence(deep, 10)


def test_prepare_counts_pipeline():
    values, diversity, report = mb.prepare_counts(COUNTS, min_depth=1000, min_prevalence=0.5,
                                                  zero_replacement="pseudocount", pseudocount=1)
    assert values.shape == (3, 3) and list(diversity.index) == ["s1", "s3", "s4"]
    # Shannon is taken before the prevalence filter: s4 keeps its t4 reads.
    assert diversity["s4"] == pytest.approx(mb.shannon([0, 100, 9000, 5]))
    assert report["n_samples_removed"] == 1 and report["n_taxa_removed"] == 1
    assert report["shannon_log_base"] == pytest.approx(np.e)


def test_bad_counts_name_column_and_rows():
    bad = COUNTS.astype(float).copy()
    bad.loc["s3", "t2"] = -4
    with pytest.raises(InputTableError) as err:
        mb.prepare_counts(bad, where="taxa.csv")
    msg = str(err.value)
    assert "taxa.csv" in msg and "column 't2'" in msg and "row 4" in msg and "negative" in msg
    assert "s3" not in msg and "-4" not in msg
    bad.loc["s3", "t2"] = np.nan
    with pytest.raises(InputTableError, match="missing or not a number"):
        mb.check_counts(bad)


def test_against_scikit_bio():
    skbio = pytest.importorskip("skbio")
    from skbio.diversity.alpha import shannon as sk_shannon
    from skbio.stats.composition import clr as sk_clr, multi_replace

    rng = np.random.default_rng(3)
    counts = rng.poisson(rng.gamma(0.5, 20, size=(6, 12))).astype(float)
    counts[:, 0] += 1  # no empty sample
    for row in counts:
        assert mb.shannon(row) == pytest.approx(sk_shannon(row.astype(int), base=np.e))
        assert mb.shannon(row, base=2) == pytest.approx(sk_shannon(row.astype(int), base=2))
    assert mb.multiplicative_replacement(counts) == pytest.approx(np.asarray(multi_replace(counts)))
    assert mb.multiplicative_replacement(counts, delta=1e-3) == pytest.approx(
        np.asarray(multi_replace(counts, delta=1e-3)))
    positive = mb.multiplicative_replacement(counts)
    assert mb.clr(positive) == pytest.approx(np.asarray(sk_clr(positive)))
    assert skbio.__version__
