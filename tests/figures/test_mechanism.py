"""Tests of the mechanism-specific figures (first1000.figures.mechanism) on small
synthetic tables shaped like the pipeline's QC and association outputs."""

from __future__ import annotations

import hashlib

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text

from first1000.analysis.descriptive import biomarker_correlations
from first1000.errors import InputTableError
from first1000.figures.mechanism import (
    DIVERGING_CMAP,
    calibrator_control_chart,
    correlation_heatmap,
    cortisol_by_window,
    scatter_adjusted,
    volcano_plot,
)
from first1000.figures.style import OKABE_ITO, save_figure

MM = 25.4
IDS = [f"PID-{i:06d}" for i in range(1000)]


# ----------------------------------------------------------------------------- helpers
def texts_of(fig: Figure) -> list[str]:
    fig.draw_without_rendering()
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def flat(text: str) -> str:
    return " ".join(text.split())


def scatters(fig: Figure) -> list[PathCollection]:
    return [c for c in fig.findobj(PathCollection) if len(c.get_offsets())]


def by_gid(fig: Figure, prefix: str, kind=None) -> list:
    return [a for a in fig.findobj(kind) if (getattr(a, "get_gid", lambda: None)() or "").startswith(prefix)]


def same_bytes_twice(fig: Figure, tmp_path, name: str) -> None:
    a = save_figure(fig, tmp_path / f"{name}_a.png", tmp_path / f"{name}_a.svg")
    b = save_figure(fig, tmp_path / f"{name}_b.png", tmp_path / f"{name}_b.svg")
    for pa, pb in zip(a, b):
        assert hashlib.sha256(pa.read_bytes()).digest() == hashlib.sha256(pb.read_bytes()).digest(), pa.name


def no_ids(fig: Figure, tmp_path, name: str) -> None:
    for text in texts_of(fig):
        assert "PID-" not in text, text
    _, svg = save_figure(fig, tmp_path / f"{name}.png", tmp_path / f"{name}.svg")
    content = svg.read_text(encoding="utf-8")
    assert "PID-" not in content and "participant_id" not in content


# --------------------------------------------------------------- 1. scatter_adjusted
def analysis_table(sizes: dict[str, int], seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    start = 0
    for cohort, n in sizes.items():
        age = rng.normal(31, 4, n)
        sex = rng.choice(["female", "male"], n)
        ses = rng.normal(0, 1, n) + 0.05 * (age - 31)
        cortisol = 2.5 - 0.2 * ses + 0.03 * (age - 31) + 0.1 * (sex == "male") + rng.normal(0, 0.3, n)
        frames.append(pd.DataFrame({
            "participant_id": IDS[start:start + n], "cohort": cohort, "ses_index": ses,
            "hair_cortisol_t3_ln": cortisol, "maternal_age": age, "child_sex": sex}))
        start += n
    return pd.concat(frames, ignore_index=True)


UNITS = {"ses_index": "index unit", "hair_cortisol_t3_ln": "ln pg/mg"}
COVS = ["maternal_age", "child_sex"]


def fits(data: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """The analysis job's table (first1000.analysis.descriptive), read back as the figure job reads it."""
    from first1000.analysis.descriptive import adjusted_fit_table

    return adjusted_fit_table(data, "ses_index", "hair_cortisol_t3_ln", COVS, **kwargs)


def test_scatter_draws_bins_and_the_adjusted_line(tmp_path):
    data = analysis_table({"ghent": 120, "rotterdam": 80})
    table = fits(data)
    fig = scatter_adjusted(table, "ses_index", "hair_cortisol_t3_ln", units=UNITS,
                           labels={"ses_index": "SES index", "hair_cortisol_t3_ln": "Hair cortisol, T3"})
    ax = fig.axes[0]
    assert fig.get_figwidth() * MM == pytest.approx(85.0)
    assert "(index unit)" in ax.get_xlabel()
    assert "(ln pg/mg)" in ax.get_ylabel()
    assert scatters(fig) == []  # no participant's value, only bins
    for cohort in ("ghent", "rotterdam"):
        rows = table[(table.cohort == cohort)]
        marker = next(ln for ln in by_gid(fig, f"scatter-bins-{cohort}", Line2D) if len(ln.get_xdata()) == 5)
        np.testing.assert_array_equal(marker.get_xdata(), rows[rows.part == "bin"].x.to_numpy())
        (line,) = by_gid(fig, f"scatter-line-{cohort}", Line2D)
        np.testing.assert_array_equal(line.get_ydata(), rows[rows.part == "line"].y.to_numpy())
        assert by_gid(fig, f"scatter-band-{cohort}")
    texts = [flat(t) for t in texts_of(fig)]
    assert "ghent (n = 120; 5 bins of \u226524, mean \u00b1 SE)" in texts
    assert any("Adjusted for: maternal_age, child_sex." in t for t in texts)
    same_bytes_twice(fig, tmp_path, "scatter")
    no_ids(fig, tmp_path, "scatter_ids")


def test_scatter_names_small_and_inestimable_cohorts(tmp_path):
    data = analysis_table({"big": 60, "small": 19, "tiny": 4}, seed=3)
    fig = scatter_adjusted(fits(data), "ses_index", "hair_cortisol_t3_ln", units=UNITS)
    texts = [flat(t) for t in texts_of(fig)]
    assert any(t.startswith("small (n = 19; 3 bins of \u22656") for t in texts), texts
    # the tiny cohort (n < 5) is not drawn at all, only named in the note
    assert not by_gid(fig, "scatter-bins-tiny") and not by_gid(fig, "scatter-line-tiny")
    assert any("tiny: n < 5, not shown" in t for t in texts)
    no_ids(fig, tmp_path, "scatter_small")


def test_scatter_needs_units_and_its_table():
    table = fits(analysis_table({"ghent": 30}))
    with pytest.raises(ValueError, match="unit of 'ses_index'"):
        scatter_adjusted(table, "ses_index", "hair_cortisol_t3_ln", units={"hair_cortisol_t3_ln": "ln pg/mg"})
    with pytest.raises(InputTableError, match="lacks column"):
        scatter_adjusted(table.drop(columns="part"), "ses_index", "hair_cortisol_t3_ln", units=UNITS)


# ------------------------------------------------------------- 2. cortisol_by_window
def hpa_qc() -> pd.DataFrame:
    """Shaped like results/qc/hpa.tsv read back from disk (suppressed counts as '<5')."""
    return pd.DataFrame({
        "cohort": ["ghent"] * 3 + ["rotterdam"] * 3,
        "window": ["t3", "t2", "t1"] * 2,
        "cm_from_scalp": ["0-3", "3-6", "6-9"] * 2,
        "n": ["406", "406", "406", "489", "12", "0"],
        "n_below_loq": ["0", "<5", "7", "0", "<5", "0"],
        "pct_below_loq": [0.0, 0.4926, 1.7241, 0.0, 8.3, np.nan],
        "median_pg_mg": [20.09, 6.93, 5.44, 20.36, 7.07, np.nan],
        "q1_pg_mg": [12.89, 4.48, 3.74, 13.67, 4.54, np.nan],
        "q3_pg_mg": [30.69, 11.08, 8.52, 30.0, 10.47, np.nan],
        "p05_pg_mg": [7.1, 2.6, 2.0, 7.5, 2.7, np.nan],
        "p95_pg_mg": [52.0, 20.0, 16.0, 53.0, 17.0, np.nan],
        "n_outliers": ["<5", "<5", "0", "0", "<5", "0"],
    })


def tick_texts(ax, minor=False) -> list[str]:
    ax.figure.draw_without_rendering()
    return [flat(t.get_text()) for t in ax.get_xticklabels(minor=minor) if t.get_text()]


def test_cortisol_from_qc_table(tmp_path):
    fig = cortisol_by_window(hpa_qc())
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert "pg/mg" in ax.get_ylabel() and "log" in ax.get_ylabel()
    assert "cm from scalp" in ax.get_xlabel()
    # windows in chronological (natural) order, with the hair segment
    assert tick_texts(ax, minor=True) == ["T1 6\u20139 cm", "T2 3\u20136 cm", "T3 0\u20133 cm"]
    labels = tick_texts(ax)
    assert labels[:2] == ["n=406 1.7%", "n=0 \u2013"]
    # a suppressed count below LOQ is an upper bound, never the percentage that reveals it
    assert "n=406 <1.3%" in labels and "n=12 <42%" in labels
    assert not any("0.5%" in t or "0.49" in t for t in texts_of(fig))
    # five boxes (rotterdam t1 has n = 0); no individual points at all
    assert len(by_gid(fig, "cortisol-box")) == 5
    assert scatters(fig) == []
    same_bytes_twice(fig, tmp_path, "cortisol")


def whisker_ends(fig: Figure) -> list[float]:
    """y values of drawn caps (whisker ends)."""
    ax = fig.axes[0]
    return sorted(float(ln.get_ydata()[0]) for ln in ax.get_lines()
                  if len(ln.get_xdata()) == 2 and ln.get_ydata()[0] == ln.get_ydata()[1]
                  and ln.get_visible() and ln.get_color() != "black")


def test_cortisol_whiskers_only_for_n_at_least_20():
    fig = cortisol_by_window(hpa_qc())
    ends = whisker_ends(fig)
    # rotterdam t2 has n = 12: its 2.7 / 17.0 percentiles are not drawn
    assert 2.7 not in ends and 17.0 not in ends
    assert {2.0, 16.0, 52.0, 7.1} <= set(ends)


def test_cortisol_rejects_anything_but_the_qc_table():
    with pytest.raises(InputTableError, match="cortisol_by_window needs"):
        cortisol_by_window(pd.DataFrame({"cohort": ["a"], "x": [1.0]}))
    # participants' values (the prepared table) are never summarised by a figure
    with pytest.raises(InputTableError, match="cortisol_by_window needs"):
        cortisol_by_window(pd.DataFrame({"cohort": ["a"] * 30, "hair_cortisol_t3_ln": np.linspace(1, 3, 30)}))


# -------------------------------------------------------- 3. calibrator control chart
def plates(n_plates=25, cohorts=("ghent", "rotterdam"), seed=11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for cohort in cohorts:
        for i in range(1, n_plates + 1):
            rows.append(dict(cohort=cohort, plate=f"P{i}", calibrator_dct=-9.0 + rng.normal(0, 0.1),
                             calibrator_passed_qc=True, n_samples=15, n_failed_replicate_qc="<5",
                             calibrator_cv_pct_cohort=10.98))
    return pd.DataFrame(rows)


def test_control_chart_marks_out_of_control_plates(tmp_path):
    table = plates()
    table.loc[(table.cohort == "ghent") & (table.plate == "P7"), "calibrator_dct"] = -7.0  # far out
    table.loc[(table.cohort == "ghent") & (table.plate == "P3"), "calibrator_passed_qc"] = False
    fig = calibrator_control_chart(table)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert ax.get_ylabel() == "Calibrator \u0394Ct (cycles)"
    assert fig.axes[-1].get_xlabel() == "Plate, in run order"
    ghent = fig.axes[0]
    (out,) = [ln for ln in ghent.get_lines() if ln.get_gid() == "control-out-of-control"]
    assert list(out.get_ydata()) == [-7.0]
    assert out.get_color() == OKABE_ITO[6] and out.get_marker() == "X"
    # natural plate order: P1, P2, ..., P10 (not P1, P10, P11, ...); P7 is the 7th plate
    assert list(out.get_xdata()) == [7]
    assert [t.get_text() for t in ghent.get_xticklabels()][:10] == [f"P{i}" for i in range(1, 11)]
    (failed,) = [ln for ln in ghent.get_lines() if ln.get_gid() == "control-failed-QC"]
    assert list(failed.get_xdata()) == [3]
    # limits from plates that passed QC, the out-of-control plate included (it passed QC)
    sub = table[(table.cohort == "ghent") & table.calibrator_passed_qc]
    (mean_line,) = [ln for ln in ghent.get_lines() if ln.get_gid() == "control-mean"]
    assert mean_line.get_ydata()[0] == pytest.approx(sub.calibrator_dct.mean())
    three = sorted(ln.get_ydata()[0] for ln in ghent.get_lines() if ln.get_gid() == "control-3sd")
    sd = sub.calibrator_dct.std(ddof=1)
    assert three == pytest.approx([sub.calibrator_dct.mean() - 3 * sd, sub.calibrator_dct.mean() + 3 * sd])
    texts = [flat(t) for t in texts_of(fig)]
    assert "out of control (1)" in texts and "failed QC (1)" in texts
    assert any(t.startswith("ghent: 25 plates, inter-run CV 11.0%") for t in texts)
    same_bytes_twice(fig, tmp_path, "control")


def test_control_chart_run_order_and_other_units():
    table = plates(n_plates=6, cohorts=("ghent",))
    table["run_order"] = [6, 5, 4, 3, 2, 1]
    table["calibrator_ts"] = np.linspace(0.9, 1.1, 6)
    fig = calibrator_control_chart(table, value_col="calibrator_ts")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Calibrator T/S (ratio)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["P6", "P5", "P4", "P3", "P2", "P1"]
    with pytest.raises(ValueError, match="give unit="):
        calibrator_control_chart(table.assign(cal_x=1.0), value_col="cal_x")
    fig2 = calibrator_control_chart(table.assign(cal_x=1.0), value_col="cal_x", unit="Ct", value_label="Cal")
    assert fig2.axes[0].get_ylabel() == "Cal (Ct)"


# ------------------------------------------------------------------ 4. volcano plot
def metabolite_assoc() -> pd.DataFrame:
    names = ["formate_ln", "succinate_ln", "lactate_ln", "pyruvate_ln", "alpha_glucose_ln",
             "dimethylamine_ln", "methylhistidine_1_ln", "lactate_pyruvate_ln_ratio"]
    p = [1e-6, 2e-4, 0.003, 0.2, 0.5, 0.04, 0.8, 0.9]
    q = [8e-6, 8e-4, 0.008, 0.27, 0.57, 0.064, 0.8, 0.9]
    est = [0.12, -0.09, 0.05, 0.01, -0.002, 0.03, 0.0005, -0.001]
    unit = ["ln \u00b5mol/L per index unit (SES index)"] * 7 + ["ln ratio per index unit (SES index)"]
    rows = pd.DataFrame({"cohort": "pooled", "mechanism": "metabolites", "predictor": "ses_index",
                         "response": names, "model": "linear", "n": 840, "estimate": est, "se": 0.01,
                         "ci_low": np.array(est) - 0.02, "ci_high": np.array(est) + 0.02, "p": p, "q": q,
                         "unit": unit, "status": "ok", "participant_id": IDS[0]})
    other = rows.assign(cohort="ghent", q=0.9)
    return pd.concat([rows, other], ignore_index=True)


def test_volcano_highlights_and_labels_fdr_significant(tmp_path):
    labels = {"formate_ln": "Formate", "succinate_ln": "Succinate", "lactate_ln": "Lactate"}
    fig = volcano_plot(metabolite_assoc(), cohort="pooled", labels=labels)
    ax = fig.axes[0]
    (sig,) = by_gid(fig, "volcano-sig", PathCollection)
    (ns,) = by_gid(fig, "volcano-ns", PathCollection)
    assert len(sig.get_offsets()) == 3 and len(ns.get_offsets()) == 5
    np.testing.assert_allclose(sorted(sig.get_offsets()[:, 1]), sorted(-np.log10([1e-6, 2e-4, 0.003])))
    annotated = sorted(a.get_text() for a in fig.findobj(Annotation) if a.get_gid() == "volcano-label")
    assert annotated == ["Formate", "Lactate", "Succinate"]
    # the FDR line lies between the largest significant and the smallest non-significant p
    (line,) = by_gid(fig, "volcano-fdr", Line2D)
    y = line.get_ydata()[0]
    assert -np.log10(0.04) < y < -np.log10(0.003)
    assert "FDR 5%" in texts_of(fig)
    assert ax.get_xlabel() == "Estimate (ln \u00b5mol/L or ln ratio per index unit (SES index))"
    assert "log" in ax.get_ylabel()
    # labels do not overlap each other
    fig.draw_without_rendering()
    r = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(a, r) for a in fig.findobj(Annotation)]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    same_bytes_twice(fig, tmp_path, "volcano")
    no_ids(fig, tmp_path, "volcano_ids")


def test_volcano_nothing_significant_and_selection():
    table = metabolite_assoc()
    with pytest.raises(InputTableError, match="several cohorts"):
        volcano_plot(table)
    fig = volcano_plot(table, cohort="ghent")
    assert by_gid(fig, "volcano-fdr") == [] and by_gid(fig, "volcano-label") == []
    assert any("No biomarker reaches FDR q < 0.05 (8 tested)" in flat(t) for t in texts_of(fig))
    failed = table.copy()
    failed.loc[0, ["status", "estimate", "p", "q"]] = ["failed: too few", np.nan, np.nan, np.nan]
    fig2 = volcano_plot(failed, cohort="pooled")
    assert len(by_gid(fig2, "volcano-sig", PathCollection)[0].get_offsets()) == 2
    assert any("1 not estimated" in flat(t) for t in texts_of(fig2))


# ----------------------------------------------------------- 5. correlation heatmap
def biomarker_table(seed=13) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 80
    a = rng.normal(size=n)
    df = pd.DataFrame({"participant_id": IDS[:n], "cohort": np.repeat(["ghent", "rotterdam"], n // 2),
                       "il6_ln": a, "crp_ln": 0.7 * a + rng.normal(scale=0.5, size=n),
                       "cd4_cd8_ln_ratio": rng.normal(size=n), "rare_ln": np.nan})
    df.loc[:3, "rare_ln"] = rng.normal(size=4)  # only 4 people measured: below min cell size
    df.loc[10:14, "crp_ln"] = np.nan
    return df


def test_heatmap_values_suppressed_cells_and_colormap(tmp_path):
    df = biomarker_table()
    names = ["il6_ln", "crp_ln", "cd4_cd8_ln_ratio", "rare_ln"]
    corr = biomarker_correlations(df, names)
    labels = {"il6_ln": "IL-6", "crp_ln": "CRP", "cd4_cd8_ln_ratio": "CD4/CD8", "rare_ln": "Rare"}
    fig = correlation_heatmap(corr, labels=labels)
    (mesh,) = [m for m in fig.findobj(QuadMesh) if m.get_gid() == "heatmap-cells"]
    assert mesh.get_cmap().name.startswith(DIVERGING_CMAP)
    assert mesh.norm.vmin == -1 and mesh.norm.vmax == 1
    cells = np.ma.masked_invalid(mesh.get_array()).reshape(4, 4)
    assert cells.mask[3].all() and cells.mask[:, 3].all()  # the rare biomarker: suppressed
    assert not cells.mask[:3, :3].any()
    rho = corr.set_index(["biomarker_1", "biomarker_2"]).rho
    assert cells[0, 1] == pytest.approx(rho[("il6_ln", "crp_ln")])
    assert cells[1, 0] == cells[0, 1]
    texts = texts_of(fig)
    assert texts.count("n<5") == 7  # row and column of the rare biomarker
    assert f"{rho[('il6_ln', 'crp_ln')]:.2f}" in texts
    assert "IL-6" in texts and "il6_ln" not in texts
    assert any("Spearman" in t for t in texts)
    same_bytes_twice(fig, tmp_path, "heatmap")
    no_ids(fig, tmp_path, "heatmap_ids")


def test_heatmap_reads_suppressed_counts_and_square_matrices():
    long = pd.DataFrame({"biomarker_1": ["a", "a", "b"], "biomarker_2": ["a", "b", "b"],
                         "n": ["40", "<5", "40"], "rho": [1.0, 0.9, 1.0]})
    fig = correlation_heatmap(long)
    (mesh,) = [m for m in fig.findobj(QuadMesh) if m.get_gid() == "heatmap-cells"]
    cells = np.ma.masked_invalid(mesh.get_array()).reshape(2, 2)
    assert cells.mask[0, 1] and cells.mask[1, 0] and not cells.mask[0, 0]
    square = pd.DataFrame([[1.0, -0.3], [-0.3, 1.0]], index=["x", "y"], columns=["x", "y"])
    texts = texts_of(correlation_heatmap(square))
    assert "\u22120.30" in texts
    with pytest.raises(InputTableError, match="between -1 and 1"):
        correlation_heatmap(square * 2)
    two = pd.concat([long.assign(cohort="g"), long.assign(cohort="r")])
    with pytest.raises(InputTableError, match="several cohorts"):
        correlation_heatmap(two)
    correlation_heatmap(two, cohort="r")


# -------------------------------------------------------------------------- all
def test_mechanism_figures_leave_rcparams_untouched():
    before = dict(matplotlib.rcParams)
    cortisol_by_window(hpa_qc())
    calibrator_control_chart(plates(5))
    volcano_plot(metabolite_assoc(), cohort="pooled")
    correlation_heatmap(biomarker_correlations(biomarker_table(), ["il6_ln", "crp_ln"]))
    scatter_adjusted(fits(analysis_table({"g": 30})), "ses_index", "hair_cortisol_t3_ln", units=UNITS)
    assert dict(matplotlib.rcParams) == before


@pytest.mark.parametrize("width", ["single", "double"])
def test_mechanism_figures_at_journal_widths(width):
    figs = [
        cortisol_by_window(hpa_qc(), width=width),
        calibrator_control_chart(plates(5), width=width),
        volcano_plot(metabolite_assoc(), cohort="pooled", width=width),
        correlation_heatmap(biomarker_correlations(biomarker_table(), ["il6_ln", "crp_ln"]), width=width),
        scatter_adjusted(fits(analysis_table({"g": 30})), "ses_index", "hair_cortisol_t3_ln", units=UNITS,
                         width=width),
    ]
    expected = {"single": 85.0, "double": 174.0}[width]
    for fig in figs:
        assert fig.get_figwidth() * MM == pytest.approx(expected)
        fig.draw_without_rendering()
        r = fig.canvas.get_renderer()
        w, h = fig.bbox.width, fig.bbox.height
        undrawn = set()  # tick labels outside the view limits exist but are not drawn
        for ax in fig.axes:
            for axis, lims in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
                lo, hi = min(lims), max(lims)
                for which in ("major", "minor"):
                    for label in axis.get_ticklabels(which=which):
                        pos = label.get_position()[0 if axis is ax.xaxis else 1]
                        if not lo - 1e-9 <= pos <= hi + 1e-9:
                            undrawn.add(id(label))
        for t in fig.findobj(Text):
            if t.get_visible() and t.get_text() and id(t) not in undrawn:
                bb = t.get_window_extent(r)
                assert bb.x0 >= -1 and bb.x1 <= w + 1 and bb.y0 >= -1 and bb.y1 <= h + 1, t.get_text()
