"""High-dimensional mediation over a cohort's CpG matrix (first1000.analysis.highdim): the
array's plate absorbed by demeaning gives the table of the plate as dummy columns (#19)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.analysis.highdim import highdim_mediation
from first1000.io import write_parquet


def _cohort(tmp_path, n=1_200, n_cpg=300, plates=40):
    rng = np.random.default_rng(19)
    plate = rng.integers(0, plates, n)
    shift = rng.normal(0, 0.5, plates)[plate]
    people = pd.DataFrame({
        "pseudo_id": [f"P{i:04d}" for i in range(n)], "cohort": "c",
        "epds": rng.integers(0, 25, n) + 3 * shift, "maternal_age": rng.normal(31, 4, n),
        "plate": [f"plate{p:02d}" for p in plate],
    })
    x = (people.epds.to_numpy() - 12) / 6
    m = rng.normal(-1, 0.4, (n_cpg, n)) + np.outer(rng.normal(0, 0.3, n_cpg), shift)
    m[:5] += 0.25 * x
    people["asq"] = 0.2 * x + 0.6 * m[:5].sum(axis=0) + shift + rng.normal(0, 1, n)
    matrix = pd.DataFrame(2 ** m / (1 + 2 ** m), columns=people.pseudo_id)
    matrix.insert(0, "cpg", [f"cg{k:08d}" for k in range(n_cpg)])
    write_parquet(matrix, tmp_path / "matrix.parquet")
    return people, tmp_path / "matrix.parquet"


def test_the_absorbed_plate_gives_the_table_of_its_dummy_columns(tmp_path, monkeypatch):
    from first1000.analysis import highdim
    from first1000.stats import regression

    people, matrix = _cohort(tmp_path)
    people = people.sample(frac=1.0, random_state=3)  # rows not in the matrix's order
    seen = []

    def spy(*args, absorb=None, **kwargs):
        seen.append(None if absorb is None else len(set(absorb)))
        return hima(*args, absorb=absorb, **kwargs)

    hima = highdim.hima
    monkeypatch.setattr(highdim, "hima", spy)
    absorbed = highdim_mediation(people, matrix, "c", "epds", "asq", ["maternal_age", "plate"], chunk_cpgs=128)
    monkeypatch.setattr(regression, "ABSORB_LEVELS", 10 ** 6)  # the plate as 39 dummy columns
    dummies = highdim_mediation(people, matrix, "c", "epds", "asq", ["maternal_age", "plate"], chunk_cpgs=128)
    assert (absorbed.status == "ok").all() and len(absorbed) == int(np.ceil(1_200 / np.log(1_200)))
    exact = ["cohort", "mediator", "selected", "n", "n_candidates", "n_incomplete", "top", "covariates", "status"]
    pd.testing.assert_frame_equal(absorbed[exact], dummies[exact])
    for column in ("a", "a_se", "p_a", "b", "b_se", "p_b", "ab", "ab_se", "p", "q", "screen_p"):
        np.testing.assert_allclose(absorbed[column], dummies[column], rtol=1e-9, err_msg=column)
    assert set(absorbed.mediator[absorbed.q < 0.05]) == {f"cg{k:08d}" for k in range(5)}
    assert absorbed.covariates.iloc[0] == "maternal_age+plate" and absorbed.n.iloc[0] == 1_200
    assert seen == [40, None]  # absorbed (40 plates), then as dummy columns


def test_a_path_with_fewer_than_min_cell_participants_is_not_fitted(tmp_path):
    """privacy.min_cell_size: HIMA on a cohort (or a path's complete cases) smaller than it
    gives one row with n and the reason, no estimate; at the cohort's size it is fitted."""
    from first1000.analysis.highdim import highdim_mediation_biomarkers
    from first1000.privacy import SMALL_MODEL

    people, matrix = _cohort(tmp_path, n=60, n_cpg=40, plates=2)
    out = highdim_mediation(people, matrix, "c", "epds", "asq", ["maternal_age"], min_cell=61)
    assert len(out) == 1 and out.n.iloc[0] == 60 and out.status.iloc[0] == SMALL_MODEL.format(min_cell=61)
    assert out[["a", "b", "ab", "p", "q", "mediator"]].isna().all().all()
    assert (highdim_mediation(people, matrix, "c", "epds", "asq", ["maternal_age"], min_cell=60).status == "ok").all()
    # 3 participants with the outcome: too few for the model too, and the status gave "only 3
    # participants have the methylation matrix" (n 0, so no small-model rule hid it)
    few = people.assign(asq=np.where(np.arange(60) < 3, people.asq, np.nan))
    out = highdim_mediation(few, matrix, "c", "epds", "asq", ["maternal_age"], min_cell=5)
    assert out.n.tolist() == [3] and out.status.tolist() == [SMALL_MODEL.format(min_cell=5)]
    out = highdim_mediation(few, matrix, "c", "epds", "asq", ["maternal_age"], min_cell=3)  # 3 shown: at m
    assert out.status.iloc[0].startswith("not analysed:") and "only 3 participants" in out.status.iloc[0]
    rng = np.random.default_rng(1)
    people = people.assign(**{f"b{k}": rng.normal(size=60) for k in range(6)})
    people.loc[people.index[:50], "b0"] = np.nan  # 10 complete cases
    args = (people, "immune", [f"b{k}" for k in range(6)], "c", "epds", "asq", ["maternal_age"])
    out = highdim_mediation_biomarkers(*args, min_cell=11)
    assert len(out) == 1 and out.n.iloc[0] == 10 and out.status.iloc[0] == SMALL_MODEL.format(min_cell=11)
    assert (highdim_mediation_biomarkers(*args, min_cell=10).status == "ok").all()


def test_the_figure_note_gives_each_cohort_s_n_candidates_and_covariates():
    """The HIMA figures' captions sent the reader to the TSV for n (found by a newcomer):
    the job writes the lines the mechanisms' figures have, from the result rows."""
    from first1000.stages.analyse import highdim_models_note

    rows = pd.DataFrame({"cohort": ["a", "a", "b"], "n": [289, 289, 3], "n_candidates": [2000, 2000, np.nan],
                         "n_incomplete": [12, 12, np.nan], "top": [52, 52, np.nan],
                         "covariates": ["age+bmi+latent_factors(1)"] * 2 + ["age"],
                         "status": ["ok", "ok", "not shown: fitted on fewer than 5 participants (privacy.min_cell_size)"]})
    note = highdim_models_note(rows)
    assert note.startswith("\n\nModels in this figure, from its result rows:\n\n")
    assert ("- ``a``: n = 289; 2,000 candidates (12 left out as incomplete or redundant), the 52 with the smallest "
            "screening p kept for the penalised model; adjusted for ``age``, ``bmi``, ``latent_factors(1)``.") in note
    assert "- ``b``: n = 3; not shown: fitted on fewer than 5" in note
