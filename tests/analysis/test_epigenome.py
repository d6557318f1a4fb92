"""The epigenome-wide stage: sharded and unsharded runs give identical results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from first1000.analysis import epigenome
from first1000.figures import manhattan_plot, qq_plot, save_figure
from first1000.io import write_parquet


@pytest.fixture
def cohort(tmp_path):
    rng = np.random.default_rng(7)
    n, n_cpg = 80, 257
    people = pd.DataFrame({
        "pseudo_id": [f"P{i:03d}" for i in range(n)], "cohort": "c",
        "epds": rng.integers(0, 25, n).astype(float), "maternal_age": rng.normal(31, 4, n),
        "child_sex": rng.choice(["female", "male"], n),
    })
    people.loc[3, "maternal_age"] = np.nan  # an incomplete participant is left out of the design
    m = rng.normal(-1, 0.5, size=(n_cpg, n))
    m[:5] += 0.05 * people.epds.to_numpy()[None, :]
    m[10, 7] = np.nan  # a detection-p failure
    beta = 2**m / (1 + 2**m)
    matrix = pd.DataFrame(beta, columns=people.pseudo_id)
    matrix.insert(0, "cpg", [f"cg{k:08d}" for k in range(n_cpg)])
    path = tmp_path / "matrix.parquet"
    write_parquet(matrix, path)
    annotation = pd.DataFrame({"cpg": matrix.cpg, "chr": [f"chr{1 + k % 3}" for k in range(n_cpg)],
                               "pos": np.arange(n_cpg) * 1000 + 1, "gene": "G"})
    return people, path, annotation


def _run(people, path, annotation, shards, chunk):
    samples = list(people.pseudo_id)
    design = epigenome.ewas_design(people, "c", "epds", ["maternal_age", "child_sex"], samples)
    fits = [epigenome.fit_shard(path, design, "epds", s, shards, chunk_cpgs=chunk) for s in range(shards)]
    return epigenome.gather(fits, annotation, "450K"), design


def test_shards_give_identical_results(cohort):
    people, path, annotation = cohort
    (one, summary_one), design = _run(people, path, annotation, shards=1, chunk=1000)
    (many, summary_many), _ = _run(people, path, annotation, shards=5, chunk=37)
    assert len(design) == 79 and "P003" not in design.index
    pd.testing.assert_frame_equal(one, many, check_exact=True)
    pd.testing.assert_frame_equal(summary_one, summary_many, check_exact=True)
    assert set(one.sort_values("p_moderated").cpg[:5]) == {f"cg{k:08d}" for k in range(5)}
    assert (one.fdr[one.cpg.isin([f"cg{k:08d}" for k in range(5)])] < 0.05).all()
    assert one.set_index("cpg").loc["cg00000010", "n"] == 78  # the missing value is dropped, not the CpG


def test_design_needs_enough_participants(cohort):
    from first1000.errors import First1000Error

    people, _, _ = cohort
    with pytest.raises(First1000Error, match="only 3 participants"):
        epigenome.ewas_design(people.iloc[:3], "c", "epds", ["maternal_age"], list(people.pseudo_id[:3]))
    # below privacy.min_cell_size the message gives no count (it was "only 3 participants")
    with pytest.raises(epigenome.SmallModelError, match=r"fewer than privacy.min_cell_size \(5\)") as err:
        epigenome.ewas_model(people.iloc[:3], "c", "epds", ["maternal_age"], list(people.pseudo_id[:3]), 5)
    assert "3 participants" not in str(err.value) and err.value.n == 3


def test_qq_and_manhattan_figures(cohort, tmp_path):
    people, path, annotation = cohort
    (table, summary), _ = _run(people, path, annotation, shards=1, chunk=1000)
    qq = qq_plot(table, lambda_gc=float(summary["lambda"].iloc[0]), title="EPDS")
    texts = " ".join(t.get_text() for ax in qq.axes for t in ax.texts)
    assert f"λ = {summary['lambda'].iloc[0]:.3f}" in texts and "257 CpGs" in texts
    manhattan = manhattan_plot(table, threshold=2.4e-7, title="EPDS")
    assert [t.get_text() for t in manhattan.axes[0].get_xticklabels()] == ["1", "2", "3"]
    save_figure(qq, tmp_path / "qq.png", tmp_path / "qq.svg")
    first = (tmp_path / "qq.png").read_bytes()
    save_figure(qq, tmp_path / "qq.png", tmp_path / "qq.svg")
    assert (tmp_path / "qq.png").read_bytes() == first


def test_manhattan_counts_the_cpgs_the_annotation_does_not_place(cohort):
    """A CpG missing from the annotation (no chromosome, no position) is not drawn but
    counted on the plot; it crashed the figure job (pandas' text dtype keeps it missing)."""
    people, path, annotation = cohort
    (table, _), _ = _run(people, path, annotation.iloc[:-7], shards=1, chunk=1000)
    assert table.chr.isna().sum() == 7 and table.pos.isna().sum() == 7
    figure = manhattan_plot(table, threshold=2.4e-7)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.texts if "not shown" in t.get_text()] == [
        "7 CpGs without a position in the annotation not shown"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    assert len(ax.collections[0].get_offsets()) == 257 - 7


def test_manhattan_reads_numeric_chromosomes_and_missing_positions(cohort):
    """Chromosomes read as numbers (made float by a missing one), a nullable position with
    a missing value, and the FDR line at the largest p under 5% FDR over every CpG, placed
    or not."""
    people, path, annotation = cohort
    (table, _), _ = _run(people, path, annotation, shards=1, chunk=1000)
    table["chr"] = table.chr.str.replace("chr", "").astype(float)
    table["pos"] = table.pos.astype("Int64")
    strongest = table.p_moderated.idxmin()
    weakest_hit = table.loc[table.fdr < 0.05, "p_moderated"].idxmax()
    table.loc[weakest_hit, "chr"] = np.nan  # an unplaced CpG sets the FDR line
    table.loc[strongest, "pos"] = pd.NA
    ax = manhattan_plot(table, threshold=2.4e-7).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    assert [t.get_text() for t in ax.texts if "not shown" in t.get_text()] == [
        "2 CpGs without a position in the annotation not shown"]
    assert len(ax.collections[0].get_offsets()) == 257 - 2
    fdr_line = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert len(fdr_line) == 1
    np.testing.assert_allclose(fdr_line[0].get_ydata()[0], -np.log10(table.loc[weakest_hit, "p_moderated"]))


def _matrix_files(tmp_path, beta):
    ids = [f"ID{i}" for i in range(beta.shape[1])]
    frame = pd.DataFrame(beta, columns=ids)
    frame.insert(0, "cpg", [f"cg{k:08d}" for k in range(len(frame))])
    frame.to_parquet(tmp_path / "m.parquet", index=False)
    frame.to_csv(tmp_path / "m.csv", index=False)
    return ids, {i: f"P{i}" for i in ids}


def test_streamed_parquet_matrix_equals_in_memory_ingest(tmp_path):
    from first1000.ingest import ingest_matrix, stream_matrix

    rng = np.random.default_rng(3)
    beta = rng.uniform(0.01, 0.99, size=(103, 6))
    beta[5, 2] = np.nan
    _, id_map = _matrix_files(tmp_path, beta)
    n = stream_matrix({"path": str(tmp_path / "m.parquet")}, id_map, tmp_path / "out.parquet", batch_rows=10)
    assert n == 103
    streamed = pd.read_parquet(tmp_path / "out.parquet")
    in_memory = ingest_matrix({"path": str(tmp_path / "m.csv")}, [""], id_map)
    assert list(streamed.columns) == ["cpg", *id_map.values()]
    pd.testing.assert_frame_equal(streamed, in_memory, check_exact=False, rtol=1e-7)
    assert stream_matrix({"path": str(tmp_path / "m.parquet")}, id_map) == 103  # the pre-flight check (every batch)


@pytest.mark.parametrize("problem, message", [
    ("outside", r"m.parquet, column D, row 47: beta values outside \[0, 1\]"),
    ("empty", r"m.parquet, column 'cpg', row 47: CpGs without any value"),
    ("duplicate", r"m.parquet, column 'cpg', rows 5, 47: duplicated CpG identifier"),
])
def test_streamed_matrix_errors_name_the_spreadsheet_row_across_batches(tmp_path, problem, message):
    from first1000.errors import InputTableError
    from first1000.ingest import stream_matrix

    beta = np.full((60, 4), 0.5)
    ids = [f"ID{i}" for i in range(4)]
    frame = pd.DataFrame(beta, columns=ids)
    frame.insert(0, "cpg", [f"cg{k:08d}" for k in range(60)])
    if problem == "outside":
        frame.loc[45, "ID2"] = 1.4  # data row 45 = spreadsheet row 47, in the 5th batch of 10
    elif problem == "empty":
        frame.loc[45, ids] = np.nan
    else:
        frame.loc[45, "cpg"] = "cg00000003"
    frame.to_parquet(tmp_path / "m.parquet", index=False)
    with pytest.raises(InputTableError, match=message):
        stream_matrix({"path": str(tmp_path / "m.parquet")}, {i: f"P{i}" for i in ids}, tmp_path / "o.parquet",
                      batch_rows=10)
    assert not (tmp_path / "o.parquet").exists()


def test_meta_ewas_inverse_variance_by_hand():
    from first1000.analysis.epigenome import meta_ewas

    a = pd.DataFrame({"cpg": ["cg1", "cg2", "cg3"], "term": "x", "n": [100, 100, 100],
                      "coef": [0.2, -0.1, 0.05], "se_moderated": [0.1, 0.05, 0.02], "status": "ok"})
    b = pd.DataFrame({"cpg": ["cg1", "cg2"], "term": "x", "n": [50, 50],
                      "coef": [0.4, 0.1], "se_moderated": [0.2, 0.05], "status": ["ok", "ok"]})
    annotation = pd.DataFrame({"cpg": ["cg1", "cg2", "cg3"], "chr": "chr1", "pos": [1, 2, 3], "gene": ["A", "", "C"]})
    table, summary = meta_ewas({"b": b, "a": a}, annotation, "450K")
    table = table.set_index("cpg")
    # cg1: w = 100 and 25 -> (0.2*100 + 0.4*25) / 125 = 0.24, SE = 125^-1/2
    assert table.loc["cg1", "coef"] == pytest.approx(0.24)
    assert table.loc["cg1", "se"] == pytest.approx(125**-0.5)
    assert table.loc["cg1", "n"] == 150 and table.loc["cg1", "k"] == 2
    # Q = 100*(0.04)^2 + 25*(0.16)^2 = 0.16 + 0.64 = 0.8 on 1 df
    assert table.loc["cg1", "q_het"] == pytest.approx(0.8)
    assert table.loc["cg2", "coef"] == pytest.approx(0.0) and table.loc["cg2", "direction"] == "-+"
    assert table.loc["cg3", "k"] == 1 and table.loc["cg3", "direction"] == "+?"
    assert table.loc["cg3", "i2"] == 0
    assert table.loc["cg3", "gene"] == "C"
    assert summary.loc[0, "cohorts"] == "a+b" and summary.loc[0, "n_cpgs"] == 3


def test_top_rows_equal_the_head_of_the_whole_table_sorted():
    """The top table sorts only the rows at or below the n-th smallest p (#19): the same rows
    in the same order as sorting the whole table, with ties at the cut, missing p and n
    beyond the known p (each edge between p values, and the last known p, with one row
    either side)."""
    from first1000.stages.ewas import top_rows

    rng = np.random.default_rng(11)
    table = pd.DataFrame({"cpg": [f"cg{k:05d}" for k in rng.permutation(3000)],
                          "p": rng.choice([0.001, 0.01, 0.02, 0.5, np.nan], 3000, p=[0.01, 0.02, 0.3, 0.57, 0.1]),
                          "row": np.arange(3000)})
    edges = [int((table.p <= cut).sum()) for cut in (0.001, 0.01, 0.02)] + [int(table.p.notna().sum())]
    assert 0 < edges[0] < edges[1] < edges[2] < edges[3] < len(table)
    for n in sorted({0, 1, 200, 5000} | {e + d for e in edges for d in (-1, 0, 1)}):  # ties cut at each edge
        expected = table.sort_values(["p", "cpg"], kind="stable").head(n)
        got = top_rows(table, "p", n)
        assert got["row"].tolist() == expected["row"].tolist(), n
    n = edges[0] + 1  # one row of the next p: the cut falls among its ties
    assert len(top_rows(table, "p", n)) == n and (top_rows(table, "p", n)["p"] <= 0.01).all()


def test_a_cpg_on_fewer_than_min_cell_samples_shows_n_but_no_estimate(cohort, tmp_path):
    """privacy.min_cell_size: a CpG whose values are missing for all but 4 newborns keeps
    n = 4 but no estimate (status too_few_samples) and stays out of the prior and the FDR;
    the other CpGs are fitted as before. A cohort below it stops with a message."""
    from first1000.errors import First1000Error

    people, path, annotation = cohort
    matrix = pd.read_parquet(path)
    matrix.iloc[20, 1:77] = np.nan  # cg00000020: 4 of the design's 79 samples left (P003 is not in it)
    sparse = tmp_path / "sparse.parquet"
    write_parquet(matrix, sparse)
    design = epigenome.ewas_design(people, "c", "epds", ["maternal_age"], list(people.pseudo_id))
    raw = epigenome.fit_shard(sparse, design, "epds", 0, 1)  # 3 columns: 4 samples leave df 1
    shown = epigenome.hide_small_cpgs(raw, 5)
    row = shown.set_index("cpg").loc["cg00000020"]
    assert row.n == 4 and row.status == "too_few_samples" and np.isnan([row.coef, row.se, row.t, row.p]).all()
    assert row.df_residual == 0 and np.isnan(row.sigma2) and shown.dtypes.equals(raw.dtypes)
    assert np.isfinite(raw.set_index("cpg").loc["cg00000020", "coef"])  # fitted (df 1) before the rule
    others = shown.cpg != "cg00000020"
    pd.testing.assert_frame_equal(shown[others], raw[others])
    assert epigenome.hide_small_cpgs(raw, 4) is raw
    table, summary = epigenome.gather([shown], annotation, "450K")
    reference, _ = epigenome.gather([raw[others]], annotation, "450K")  # the prior as without the CpG
    pd.testing.assert_frame_equal(table[table.cpg != "cg00000020"].reset_index(drop=True),
                                  reference.reset_index(drop=True))
    assert np.isfinite(summary.df_prior.iloc[0])
    hidden = table.set_index("cpg").loc["cg00000020"]
    assert np.isnan([hidden.t_moderated, hidden.p_moderated, hidden.fdr]).all() and hidden.n == 4
    epigenome.check_min_cell(design, "c", "epds", 79)
    with pytest.raises(epigenome.SmallModelError, match=r"in cohort c: fewer than privacy.min_cell_size \(80\) "
                                                       r"participants .*lower privacy.min_cell_size") as err:
        epigenome.check_min_cell(design, "c", "epds", 80)
    assert "79" not in str(err.value) and err.value.n == 79  # no count below the threshold in the message


def test_candidate_cpgs_follow_min_cell(cohort):
    from first1000.errors import First1000Error

    people, path, _ = cohort
    beta = pd.read_parquet(path).set_index("cpg").iloc[:6]
    m = np.log2(beta / (1 - beta)).T
    m.columns = [f"{c}_m" for c in m.columns]
    m.iloc[4:, 2] = np.nan  # the third CpG measured in 4 newborns (P003 has none of the model)
    biomarkers = m.rename_axis("pseudo_id").reset_index().assign(cohort="c")
    out = epigenome.candidate_ewas(biomarkers, people, "c", "epds", ["maternal_age"], min_cell=5).set_index("cpg")
    assert out.loc["cg00000002", "status"] == "too_few_samples" and np.isnan(out.loc["cg00000002", "coef"])
    assert out.loc["cg00000002", "n"] == 3 and (out.drop(index="cg00000002").status == "ok").all()
    with pytest.raises(First1000Error, match=r"fewer than privacy.min_cell_size \(80\)"):
        epigenome.candidate_ewas(biomarkers, people, "c", "epds", ["maternal_age"], min_cell=80)


def test_the_ewas_figures_note_gives_newborns_per_cpg_and_covariates():
    """The QQ and Manhattan captions had no n and no covariates (found by a newcomer): the
    figure job writes them as the mechanisms' figures do, from the CpGs with an estimate."""
    from first1000.stages.ewas import ewas_models_note

    results = pd.DataFrame({"cpg": ["a", "b", "c", "d"], "n": [350, 348, 4, 350],
                            "status": ["ok", "ok", "too_few_samples", "ok"]})
    info = pd.Series({"n_tested": 3, "cohorts": "ghent+rotterdam"})
    note = ewas_models_note(results, info, "ghent", ["maternal_age", "child_sex"], ["cell_nk", "plate"])
    assert note.startswith("\n\nModels in this figure, from its result rows:\n\n- ``ghent``: one linear model per CpG")
    assert "newborns per CpG: 348–350" in note and "3 CpGs tested" in note and " 4 " not in note
    assert "adjusted for ``maternal_age``, ``child_sex``; and, in each cohort that gives them, ``cell_nk``, " \
           "``plate``." in note
    meta = ewas_models_note(results.assign(n=[700, 700, 9, 700]), info, "meta", ["maternal_age"], [])
    assert "meta-analysis of the cohorts (``ghent``, ``rotterdam``)" in meta and "summed over the cohorts: 700;" in meta
    one = ewas_models_note(results, pd.Series({"n_tested": 3, "cohorts": "ghent"}), "meta", ["maternal_age"], [])
    assert "- one site only (``ghent``): its estimates, not combined with any other (k = 1; 3 CpGs tested)" in one
