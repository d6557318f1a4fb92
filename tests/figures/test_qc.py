"""Tests of the mechanism QC figures (first1000.figures.qc and stages.qc_figure) on small
hand-made QC tables shaped like results/qc/{mechanism}.tsv after the prepare stage:
suppressed counts as "<5" strings and their percentages blanked to NaN."""

from __future__ import annotations

import hashlib
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from first1000.errors import InputTableError
from first1000.figures.qc import (
    below_limit_bars,
    clock_coverage_figure,
    clock_display_name,
    cpg_summary,
    marker_labels,
    measure_summary,
    microbiome_filters,
    qpcr_control_chart,
)
from first1000.figures.style import save_figure

LABELS = {"ghent": "Ghent", "rotterdam": "Rotterdam"}


# ----------------------------------------------------------------------------- helpers
def texts_of(fig: Figure) -> list[str]:
    fig.draw_without_rendering()
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def flat(fig: Figure) -> str:
    return " ".join(" ".join(texts_of(fig)).split())


def by_gid(fig: Figure, prefix: str, kind=None) -> list:
    return [a for a in fig.findobj(kind) if (getattr(a, "get_gid", lambda: None)() or "").startswith(prefix)]


def bars(fig: Figure, prefix: str) -> dict[str, Rectangle]:
    return {r.get_gid(): r for r in by_gid(fig, prefix, Rectangle)}


def axes_with_xlabel(fig: Figure, needle: str):
    found = [ax for ax in fig.axes if needle in ax.get_xlabel()]
    assert found, [ax.get_xlabel() for ax in fig.axes]
    return found[0]


def with_ids(table: pd.DataFrame) -> pd.DataFrame:
    """The same table with a row-level column that must never reach a figure."""
    return table.assign(pseudo_id=[f"PID-{i:06d}" for i in range(len(table))], value=np.arange(len(table)) + 0.123)


def no_row_level(fig: Figure, tmp_path, name: str) -> None:
    for text in texts_of(fig):
        assert "PID-" not in text, text
    _, svg = save_figure(fig, tmp_path / f"{name}.png", tmp_path / f"{name}.svg")
    assert "PID-" not in svg.read_text(encoding="utf-8")


def same_bytes_twice(fig: Figure, tmp_path, name: str) -> None:
    a = save_figure(fig, tmp_path / f"{name}_a.png", tmp_path / f"{name}_a.svg")
    b = save_figure(fig, tmp_path / f"{name}_b.png", tmp_path / f"{name}_b.svg")
    for pa, pb in zip(a, b):
        assert hashlib.sha256(pa.read_bytes()).digest() == hashlib.sha256(pb.read_bytes()).digest(), pa.name


# ---------------------------------------------------------------- QC tables (by hand)
def metabolites_qc() -> pd.DataFrame:
    return pd.DataFrame({
        "cohort": ["ghent"] * 4 + ["rotterdam"] * 4,
        "metabolite": ["acetone", "dimethylamine", "succinate", "methylhistidine_1"] * 2,
        "n": [380] * 4 + [462] * 4,
        "n_below_lod": [150, 39, "<5", 0, 170, 44, 5, 0],
        "pct_below_lod": [150 / 3.8, 39 / 3.8, np.nan, 0.0, 170 / 4.62, 44 / 4.62, 5 / 4.62, 0.0],
        "lod": [8.0, 2.0, 2.5, 1.5] * 2,
        "rule": ["detected_binary", "lod_sqrt2", "lod_sqrt2", "none"] * 2,
        "normalisation": "none",
        "median_umol_l": [9.0, 3.1, 5.1, 8.0] * 2,
        "substitution_flag": [True, False, False, False] * 2,
    })


def immune_qc() -> pd.DataFrame:
    markers = ["cd4_cd8_ratio", "crp", "il1b", "il6", "nk_activity"]
    return pd.DataFrame({
        "cohort": ["ghent"] * 5 + ["rotterdam"] * 5,
        "marker": markers * 2,
        "n": [363] * 5 + [446] * 5,
        "n_below_lod": [0, 0, "<5", 5, 30, 0, 0, 12, 8, "<5"],
        "pct_below_lod": [0, 0, np.nan, 500 / 363, 3000 / 363, 0, 0, 1200 / 446, 800 / 446, np.nan],
        "median": [1.8, 3.9, 0.9, 1.4, 22.0, 1.8, 4.3, 1.0, 1.5, 21.0],
    })


def plate_qc(ratio_column: str, with_dct: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for cohort, n_plates in (("ghent", 12), ("rotterdam", 9)):
        for p in range(1, n_plates + 1):
            dct = -8.0 + rng.normal(0, 0.15)
            rows.append(dict(cohort=cohort, plate=f"MT{p:02d}", run_order=p, calibrator_dct=dct,
                             **{ratio_column: 2 ** -dct}, calibrator_failed=False, calibrator_passed_qc=True,
                             n_samples=15, n_failed_replicate_qc="<5" if p % 3 == 0 else 0,
                             calibrator_cv_pct_cohort=10.8 if cohort == "ghent" else 12.6))
    table = pd.DataFrame(rows)
    return table if with_dct else table.drop(columns="calibrator_dct")


def methylation_qc() -> pd.DataFrame:
    return pd.DataFrame({
        "cohort": ["ghent"] * 3 + ["rotterdam"] * 3,
        "cpg": ["cg04111177", "cg15910486", "cg18068240"] * 2,
        "n": [359, 350, 300, 437, 437, 3],
        "mean_beta": [0.126, 0.150, 0.153, 0.125, 0.147, 0.9],
        "sd_beta": [0.029, 0.033, 0.031, 0.028, 0.030, 0.01],
        "n_missing": [0, 9, "<5", 0, 0, 434],
        "n_clipped": [0, 0, 0, "<5", 0, 0],
    })


def clock_qc(n_rotterdam="437") -> pd.DataFrame:
    return pd.DataFrame({
        "cohort": ["ghent", "rotterdam"], "clock": "knight2016", "n_cpgs": [148, 148], "n_present": [148, 140],
        "n_measured": [148, 111], "share_measured": [1.0, 0.75], "n_from_reference": [0, 37],
        "n_values_mean_imputed": [0, "<5"], "clinical_age": "gestational_age", "unit": "weeks",
        "n_samples": [359, 437], "n": ["359", n_rotterdam], "r": [0.923, 0.935], "mae": [0.546, 0.71],
        "median_difference": [0.064, -0.21],
    })


def microbiome_qc() -> pd.DataFrame:
    return pd.DataFrame({
        "cohort": ["ghent", "rotterdam"], "min_depth": [10000, 10000], "n_samples_in": [311, 400],
        "n_samples_removed": ["<5", 11], "n_samples_kept": [310, 389], "min_prevalence": [0.1, 0.1],
        "n_taxa_in": [25, 25], "n_taxa_removed": [0, 6], "n_taxa_kept": [25, 19],
        "zero_replacement": "pseudocount", "pseudocount": 0.5, "shannon_log_base": math.e, "n_taxa_chosen": 2,
        "chosen_taxa_removed": [np.nan, "bacteroides"], "median_depth": [29721.0, 29123.0],
        "depth_p05": [13969.0, 14619.0], "depth_q1": [21299.0, 22255.0], "depth_q3": [41737.0, 41897.0],
        "depth_p95": [70307.0, 64625.5],
    })


def cns_qc() -> pd.DataFrame:
    return pd.DataFrame({
        "cohort": ["ghent"] * 3 + ["rotterdam"] * 3,
        "measure": ["csf_cortisol", "neurofilament_light", "gfap"] * 2,
        "unit": ["nmol/L", "pg/mL", "pg/mL"] * 2,
        "n": [120, 118, "<5", 130, 131, 129],
        "n_missing": [0, "<5", 117, 0, 0, 0],
        "median": [12.1, 8.3, np.nan, 11.8, 9.1, 150.2],
        "q1": [9.0, 6.1, np.nan, 8.7, 7.0, 120.1],
        "q3": [15.2, 10.9, np.nan, 14.9, 11.8, 190.4],
    })


# ------------------------------------------------------- % below the detection limit
def test_metabolite_bars_are_the_table_percentages(tmp_path):
    table = metabolites_qc()
    fig = below_limit_bars(with_ids(table), max_pct=20, labels=LABELS,
                           name_labels=marker_labels(table.metabolite.unique()), title="Metabolites")
    drawn = bars(fig, "below-limit-bar-")
    numeric = table[table.pct_below_lod.notna() & (table.pct_below_lod > 0)]
    # one bar per marker and cohort with a percentage (a 0% bar has zero length but exists)
    assert len(drawn) == table.pct_below_lod.notna().sum() == 7
    for row in table.itertuples():
        gid = f"below-limit-bar-{row.cohort}-{row.metabolite}"
        if math.isnan(row.pct_below_lod):
            assert gid not in drawn  # suppressed "<5": no bar
        else:
            assert drawn[gid].get_width() == pytest.approx(row.pct_below_lod)
    assert len(numeric) == 5
    # detected/not-detected markers (rule detected_binary) are hatched, the others are not
    for gid, bar in drawn.items():
        assert bool(bar.get_hatch()) == ("acetone" in gid), gid
    # dashed line at the declared maximum share
    (line,) = by_gid(fig, "max-pct-line", Line2D)
    assert line.get_xdata()[0] == pytest.approx(20) and line.get_linestyle() == "--"
    text = flat(fig)
    # the suppressed count's share as an upper bound: 5 / 380 = 1.32% -> "<1.4%"
    assert "<1.4%" in text and "39%" in text and "10%" in text
    assert "detected / not detected" in text and "limit for LOD/\u221a2 (20%)" in text
    assert "Ghent (n = 380)" in text and "Rotterdam (n = 462)" in text
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Samples below the limit of detection (%)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Acetone", "Dimethylamine", "Succinate",
                                                             "1-Methylhistidine"]
    no_row_level(fig, tmp_path, "metabolites")
    same_bytes_twice(fig, tmp_path, "metabolites")


def test_immune_bars_any_marker_and_no_reference_line():
    table = immune_qc()
    fig = below_limit_bars(table, labels=LABELS, name_labels=marker_labels(table.marker.unique()))
    drawn = bars(fig, "below-limit-bar-")
    assert len(drawn) == 8  # 10 rows, 2 suppressed
    assert drawn["below-limit-bar-ghent-nk_activity"].get_width() == pytest.approx(3000 / 363)
    assert drawn["below-limit-bar-rotterdam-il1b"].get_width() == pytest.approx(1200 / 446)
    assert not any(bar.get_hatch() for bar in drawn.values())
    assert not by_gid(fig, "max-pct-line")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["CD4/CD8", "CRP", "IL-1\u03b2", "IL-6",
                                                                     "NK-cell activity"]
    text = flat(fig)
    assert "<1.4%" in text and "<1.2%" in text  # 5/363, 5/446 as upper bounds
    assert "detected / not detected" not in text


def test_below_limit_bars_reads_marker_or_metabolite_and_needs_the_columns():
    table = metabolites_qc().rename(columns={"metabolite": "marker"}).drop(columns=["rule", "lod"])
    fig = below_limit_bars(table, max_pct=20)
    hatched = [gid for gid, bar in bars(fig, "below-limit-bar-").items() if bar.get_hatch()]
    assert sorted(hatched) == ["below-limit-bar-ghent-acetone", "below-limit-bar-rotterdam-acetone"]  # flag
    with pytest.raises(InputTableError, match="pct_below_lod"):
        below_limit_bars(table.drop(columns="pct_below_lod"))


def test_marker_labels():
    assert marker_labels(["il6", "cd4_cd8_ratio", "alpha_glucose", "new_marker"]) == {
        "il6": "IL-6", "cd4_cd8_ratio": "CD4/CD8", "alpha_glucose": "\u03b1-Glucose", "new_marker": "New marker"}


# ----------------------------------------------------------- qPCR control chart
def test_mitochondria_control_chart_on_dct_or_the_ratio_column(tmp_path):
    table = plate_qc("calibrator_mt_n")
    fig = qpcr_control_chart(with_ids(table), ratio_column="calibrator_mt_n",
                             delta_label="Calibrator \u0394Ct, mt \u2212 nuclear", labels=LABELS)
    assert len(fig.axes) == 2
    points = np.concatenate([line.get_ydata() for line in by_gid(fig, "control-", Line2D)
                             if line.get_linestyle() == "None"])
    assert sorted(points) == pytest.approx(sorted(table.calibrator_dct))
    assert fig.axes[0].get_ylabel().replace("\n", " ") == "Calibrator \u0394Ct, mt \u2212 nuclear (cycles)"
    no_row_level(fig, tmp_path, "mito")

    ratio_only = plate_qc("calibrator_mt_n", with_dct=False)
    fig = qpcr_control_chart(ratio_only, ratio_column="calibrator_mt_n", ratio_label="Calibrator mt/n")
    points = np.concatenate([line.get_ydata() for line in by_gid(fig, "control-", Line2D)
                             if line.get_linestyle() == "None"])
    assert sorted(points) == pytest.approx(sorted(ratio_only.calibrator_mt_n))
    assert "ratio" in fig.axes[0].get_ylabel()
    with pytest.raises(InputTableError, match="calibrator_mt_n"):
        qpcr_control_chart(ratio_only.drop(columns="calibrator_mt_n"), ratio_column="calibrator_mt_n")


# ------------------------------------------------------------ methylation per CpG
def test_cpg_summary_means_sds_and_missing(tmp_path):
    table = methylation_qc()
    fig = cpg_summary(with_ids(table), labels=LABELS, title="Methylation")
    ax = axes_with_xlabel(fig, "Methylation \u03b2")
    assert "mean \u00b1 SD" in ax.get_xlabel()
    means = {}
    for container in ax.containers:
        line = container.lines[0]
        means[line.get_gid()] = float(line.get_xdata()[0])
        (bar,) = container.lines[2]
        seg = bar.get_segments()[0]
        row = table[(table.cohort + "-" + table.cpg) == line.get_gid().removeprefix("cpg-mean-")].iloc[0]
        assert seg[0][0] == pytest.approx(row.mean_beta - row.sd_beta)
        assert seg[1][0] == pytest.approx(row.mean_beta + row.sd_beta)
    # n = 3 (< 5): no summary drawn
    assert len(means) == 5 and "cpg-mean-rotterdam-cg18068240" not in means
    assert means["cpg-mean-ghent-cg15910486"] == pytest.approx(0.150)
    missing = bars(fig, "cpg-missing-")
    assert missing["cpg-missing-ghent-cg15910486"].get_width() == pytest.approx(100 * 9 / 359)
    assert missing["cpg-missing-ghent-cg04111177"].get_width() == 0
    assert "cpg-missing-ghent-cg18068240" not in missing  # "<5" missing: upper bound only
    text = flat(fig)
    assert "<1.7%" in text  # 5 / 300
    assert "Missing (%)" in text and "clipped" in text and "cg04111177 (Rotterdam): <5" in text
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cg04111177", "cg15910486", "cg18068240"]
    no_row_level(fig, tmp_path, "methylation")


# --------------------------------------------------------------- epigenetic clock
def test_clock_coverage_shares_and_agreement(tmp_path):
    table = clock_qc()
    fig = clock_coverage_figure(with_ids(table), labels=LABELS, title="Epigenetic age")
    drawn = bars(fig, "clock-cpgs-")
    assert drawn["clock-cpgs-measured-ghent"].get_width() == pytest.approx(100)
    assert drawn["clock-cpgs-measured-rotterdam"].get_width() == pytest.approx(100 * 111 / 148)
    assert drawn["clock-cpgs-present-rotterdam"].get_width() == pytest.approx(100 * 29 / 148)
    assert drawn["clock-cpgs-absent-rotterdam"].get_width() == pytest.approx(100 * 8 / 148)
    assert drawn["clock-cpgs-absent-rotterdam"].get_x() == pytest.approx(100 * 140 / 148)
    assert "clock-cpgs-present-ghent" not in drawn
    text = flat(fig)
    assert "Knight et al. 2016" in text and "148/148 measured" in text and "111/148 measured" in text
    assert "r = 0.92, n = 359" in text
    (mae,) = by_gid(fig, "clock-mae-rotterdam", Line2D)
    (med,) = by_gid(fig, "clock-median-difference-rotterdam", Line2D)
    assert mae.get_xdata()[0] == pytest.approx(0.71) and med.get_xdata()[0] == pytest.approx(-0.21)
    ax = axes_with_xlabel(fig, "weeks")
    assert ax.get_xlabel() == "DNAm \u2212 clinical gestational age (weeks)"
    assert "%" in axes_with_xlabel(fig, "CpGs of the").get_xlabel()
    no_row_level(fig, tmp_path, "clock")


def test_clock_agreement_of_a_suppressed_cohort_is_not_drawn():
    fig = clock_coverage_figure(clock_qc(n_rotterdam="<5"))
    assert by_gid(fig, "clock-mae-ghent") and not by_gid(fig, "clock-mae-rotterdam")
    assert "n<5" in flat(fig)
    assert clock_display_name("horvath2013") == "Horvath 2013" and clock_display_name("smith2024") == "Smith 2024"


# -------------------------------------------------------------------- microbiome
def test_microbiome_filters_counts_depth_and_suppression(tmp_path):
    table = microbiome_qc()
    fig = microbiome_filters(with_ids(table), labels=LABELS, title="Microbiome")
    drawn = bars(fig, "samples-")
    assert drawn["samples-kept-ghent"].get_width() == 310
    assert drawn["samples-kept-rotterdam"].get_width() == 389
    assert drawn["samples-removed-rotterdam"].get_width() == 11
    assert drawn["samples-removed-rotterdam"].get_x() == 389
    assert "samples-removed-ghent" not in drawn  # "<5": not drawn
    taxa = bars(fig, "taxa-")
    assert taxa["taxa-kept-rotterdam"].get_width() == 19 and taxa["taxa-removed-rotterdam"].get_width() == 6
    assert "taxa-removed-ghent" not in taxa  # zero removed
    (cut,) = by_gid(fig, "min-depth-line", Line2D)
    assert cut.get_xdata()[0] == 10000
    boxes = by_gid(fig, "depth-box")
    assert len(boxes) == 2
    text = flat(fig)
    assert "310 kept, <5 removed" in text and "389 kept, 11 removed" in text
    assert "Rotterdam: bacteroides" in text and "minimum depth (10,000 reads)" in text
    assert axes_with_xlabel(fig, "reads per sample").get_xscale() == "log"
    assert "Samples (n)" in text and "Taxa (n)" in text and "10%" in text
    no_row_level(fig, tmp_path, "microbiome")


def test_microbiome_kept_count_shown_as_a_bound_when_removed_is_suppressed():
    from first1000.privacy import suppress_small_counts

    table = microbiome_qc().assign(n_samples_in=[311, 400], n_samples_removed=[1, 11], n_samples_kept=[310, 389])
    fig = microbiome_filters(suppress_small_counts(table, 5), labels=LABELS)
    drawn = bars(fig, "samples-")
    assert drawn["samples-kept-ghent"].get_width() == 306  # the bound, never the exact 310
    assert ">306 kept, <5 removed" in flat(fig) and "310" not in flat(fig)


def test_microbiome_without_depth_quartiles_draws_the_median():
    table = microbiome_qc().drop(columns=["depth_p05", "depth_q1", "depth_q3", "depth_p95"])
    fig = microbiome_filters(table)
    assert not by_gid(fig, "depth-box")
    medians = by_gid(fig, "depth-median-", Line2D)
    assert sorted(m.get_xdata()[0] for m in medians) == [29123.0, 29721.0]


def test_microbiome_depth_summary_in_the_qc_table():
    from first1000.mechanisms import microbiome

    rng = np.random.default_rng(0)
    counts = rng.integers(0, 2000, size=(30, 4)).astype(float)
    long = pd.DataFrame([(f"p{i}", t, counts[i, j], False) for i in range(30) for j, t in enumerate("abcd")],
                        columns=["pseudo_id", "marker", "value", "below_limit"])
    _, qc = microbiome.prepare({"c": long}, {"min_depth": 100, "min_prevalence": 0.1})
    depth = counts.sum(axis=1)
    row = qc.iloc[0]
    assert row.depth_q1 == pytest.approx(np.quantile(depth, 0.25))
    assert row.depth_p95 == pytest.approx(np.quantile(depth, 0.95))
    small = microbiome.depth_summary(pd.Series(depth[:10]))
    assert not math.isnan(small["depth_q1"]) and math.isnan(small["depth_p05"])  # no tails below 20
    assert all(math.isnan(v) for v in microbiome.depth_summary(pd.Series(depth[:4])).values())


# --------------------------------------------------------------- generic fallback
def test_measure_summary_median_and_iqr_per_measure(tmp_path):
    table = cns_qc()
    fig = measure_summary(with_ids(table), labels=LABELS, title="CNS")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    assert sorted(ax.get_xlabel() for ax in visible) == ["Median (IQR), nmol/L", "Median (IQR), pg/mL",
                                                         "Median (IQR), pg/mL"]
    iqr = {line.get_gid(): line.get_xdata() for line in by_gid(fig, "summary-iqr-", Line2D)}
    med = {line.get_gid(): line.get_xdata()[0] for line in by_gid(fig, "summary-median-", Line2D)}
    assert len(iqr) == len(med) == 5  # ghent gfap: n "<5", not drawn
    assert list(iqr["summary-iqr-rotterdam-gfap"]) == [120.1, 190.4]
    assert med["summary-median-ghent-csf_cortisol"] == 12.1
    text = flat(fig)
    assert "n<5 117 missing" in text and "n=118 <5 missing" in text
    assert "csf cortisol" in text  # names readable without labels
    no_row_level(fig, tmp_path, "cns")


def test_measure_summary_unit_from_column_suffix_and_count_fallback():
    table = cns_qc().drop(columns="unit").rename(columns={"median": "median_pg_ml", "q1": "q1_pg_ml",
                                                          "q3": "q3_pg_ml"})
    fig = measure_summary(table)
    assert {ax.get_xlabel() for ax in fig.axes if ax.get_visible()} == {"Median (IQR), pg/mL"}
    counts = cns_qc()[["cohort", "measure", "n", "n_missing"]]
    fig = measure_summary(counts)
    drawn = bars(fig, "count-bar-")
    assert len(drawn) == 5 and drawn["count-bar-rotterdam-gfap"].get_width() == 129
    assert fig.axes[0].get_xlabel() == "Values (n)"
    with pytest.raises(InputTableError, match="naming its measures"):
        measure_summary(pd.DataFrame({"cohort": ["a"], "n": [5]}))


# ------------------------------------------------------------------------ the stage
QC_TABLES = {
    "metabolites": metabolites_qc, "immune": immune_qc, "methylation": methylation_qc,
    "epigenetic_age": clock_qc, "microbiome": microbiome_qc,
    "mitochondria": lambda: plate_qc("calibrator_mt_n"), "telomeres": lambda: plate_qc("calibrator_ts"),
    "hpa": lambda: pd.DataFrame({"cohort": ["ghent"] * 3, "window": ["t3", "t2", "t1"],
                                 "cm_from_scalp": ["0-3", "3-6", "6-9"], "n": [406, 406, 406],
                                 "n_below_loq": [0, "<5", 7], "pct_below_loq": [0, np.nan, 1.72],
                                 "median_pg_mg": [20.1, 6.9, 5.4], "q1_pg_mg": [12.9, 4.5, 3.7],
                                 "q3_pg_mg": [30.7, 11.1, 8.5]}),
}


def test_every_mechanism_declares_a_known_qc_figure():
    from first1000.figures.qc import QC_FIGURES
    from first1000.mechanisms import PREPARERS

    declared = {m: getattr(module, "QC_FIGURE", "measure_summary") for m, (module, _) in PREPARERS.items()}
    assert set(declared.values()) <= set(QC_FIGURES)
    assert set(PREPARERS) >= set(QC_TABLES)
    assert declared["cns"] == "measure_summary"  # declares none: the generic summary


def _qc_stage(cfg, mechanism, qc, png, svg):
    from first1000.stages.figures import qc_plot, qc_plot_params

    qc_plot(**qc_plot_params(cfg, mechanism), qc=qc, png=png, svg=svg)


@pytest.mark.parametrize("mechanism", sorted(QC_TABLES))
def test_stage_draws_each_mechanism_from_its_tsv(mechanism, tmp_path, demo_config):
    qc = tmp_path / f"{mechanism}.tsv"
    QC_TABLES[mechanism]().to_csv(qc, sep="\t", index=False)
    png, svg = tmp_path / "qc.png", tmp_path / "qc.svg"
    _qc_stage(demo_config, mechanism, qc, png, svg)
    assert png.stat().st_size > 10_000 and "<svg" in svg.read_text(encoding="utf-8")


def test_stage_generic_fallback_for_a_new_mechanism(tmp_path, demo_config):
    from first1000.errors import First1000Error

    qc = tmp_path / "cns.tsv"
    cns_qc().assign(label=["CSF cortisol", "Neurofilament light", "GFAP"] * 2).to_csv(qc, sep="\t", index=False)
    _qc_stage(demo_config, "cns", qc, tmp_path / "cns.png", tmp_path / "cns.svg")
    svg = (tmp_path / "cns.svg").read_text(encoding="utf-8")
    assert "Neurofilament light" in svg and "GFAP" in svg
    pd.DataFrame({"cohort": ["a"], "n": [5]}).to_csv(qc, sep="\t", index=False)
    with pytest.raises(First1000Error, match="no QC figure can be drawn for mechanism cns"):
        _qc_stage(demo_config, "cns", qc, tmp_path / "x.png", tmp_path / "x.svg")
