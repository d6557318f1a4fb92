"""Tests of first1000.figures on small hand-made results tables."""

from __future__ import annotations

import ast
import hashlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from first1000.errors import InputTableError
from first1000.figures import (
    OKABE_ITO,
    cohort_colours,
    forest_plot,
    journal_rc,
    mediation_diagram,
    new_figure,
    save_figure,
)
from first1000.figures.style import format_number, journal_style

MM = 25.4
MINUS = "\u2212"
PRIME = "\u2032"
IDS = ["PID-000417", "PID-913206", "PID-552871"]  # must never appear in a figure


# ----------------------------------------------------------------------------- helpers
def texts_of(fig: Figure) -> list[str]:
    """Every string drawn in ``fig`` (tick labels included)."""
    fig.draw_without_rendering()
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def flat(text: str) -> str:
    return " ".join(text.split())


def sig3(x: float) -> str:
    """Expected 3-significant-figure text, computed independently of the package."""
    return f"{x:#.3g}".replace("-", MINUS)


def point_count(fig: Figure) -> int:
    ax = fig.axes[0]
    return sum(
        len(line.get_xdata())
        for line in ax.get_lines()
        if (line.get_gid() or "").startswith("forest-points")
    )


def assoc_row(cohort, predictor, response, estimate, q, *, n=900, model="linear",
              mechanism="hair_cortisol", pid=IDS[0], **extra):
    row = dict(
        cohort=cohort, mechanism=mechanism, predictor=predictor, response=response,
        model=model, n=n, estimate=estimate, se=0.05, ci_low=estimate - 0.1,
        ci_high=estimate + 0.1, p=q / 2, q=q, participant_id=pid,
    )
    row.update(extra)
    return row


@pytest.fixture
def associations() -> pd.DataFrame:
    rows = [
        assoc_row("ALSPAC", "maternal_education", "hair_cortisol", -0.21, 0.004, n=812, pid=IDS[0]),
        assoc_row("GenR", "maternal_education", "hair_cortisol", -0.12, 0.20, n=1204, pid=IDS[1]),
        assoc_row("pooled", "maternal_education", "hair_cortisol", -0.16, 0.010, n=2016, pid=IDS[2]),
        assoc_row("ALSPAC", "epds_score", "telomere_length", 0.03, 0.61, n=790,
                  mechanism="telomeres"),
        assoc_row("GenR", "epds_score", "telomere_length", 0.08, 0.049, n=1150,
                  mechanism="telomeres"),
        assoc_row("ALSPAC", "household_income", "preterm_birth", -0.35, 0.03, n=805,
                  model="logistic", mechanism="telomeres"),
        assoc_row("GenR", "household_income", "preterm_birth", np.nan, np.nan, n=1190,
                  model="logistic", mechanism="telomeres", status="not_converged"),
    ]
    df = pd.DataFrame(rows)
    df["status"] = df["status"].fillna("ok") if "status" in df else "ok"
    df["unit"] = ""
    return df


@pytest.fixture
def mediation_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    key = dict(cohort="GenR", exposure="maternal_education", mediator="hair_cortisol",
               outcome="child_bmi_z")
    common = dict(se=0.02, p=0.01, n=812, n_boot=5000, ci_method="percentile")
    effects = pd.DataFrame([
        dict(key, effect="total", estimate=-0.2513, ci_low=-0.3521, ci_high=-0.1498, **common),
        dict(key, effect="direct", estimate=-0.2057, ci_low=-0.3049, ci_high=-0.1052, **common),
        dict(key, effect="indirect", estimate=-0.04561, ci_low=-0.07893, ci_high=-0.01234, **common),
        dict(key, effect="proportion_mediated", estimate=0.1815, ci_low=0.05123, ci_high=0.4012,
             **common),
    ])
    common_p = dict(se=0.02, p=0.001, n=812)
    paths = pd.DataFrame([
        dict(key, path="a", estimate=-0.1234, ci_low=-0.1602, ci_high=-0.08671, **common_p),
        dict(key, path="b", estimate=0.3697, ci_low=0.2704, ci_high=0.4689, **common_p),
        dict(key, path="c_prime", estimate=-0.2044, ci_low=-0.3041, ci_high=-0.1048, **common_p),
        dict(key, path="c", estimate=-0.2513, ci_low=-0.3521, ci_high=-0.1498, **common_p),
    ])
    effects["participant_id"] = IDS[0]
    paths["participant_id"] = IDS[1]
    return effects, paths


# ------------------------------------------------------------------------------- style
def test_okabe_ito_palette_is_the_published_one():
    assert OKABE_ITO == ["#000000", "#E69F00", "#56B4E9", "#009E73",
                         "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]


def test_cohort_colours_stable_and_pooled_black():
    a = cohort_colours(["MoBa", "pooled", "ALSPAC", "GenR", "ALSPAC"])
    b = cohort_colours(["GenR", "ALSPAC", "MoBa", "pooled"])
    assert a == b
    assert a["pooled"] == "#000000"
    assert cohort_colours(["Meta", "X"])["Meta"] == "#000000"
    others = [a[c] for c in ("ALSPAC", "GenR", "MoBa")]
    assert len(set(others)) == 3
    assert all(c in OKABE_ITO and c != "#000000" for c in others)


def test_journal_rc_fonts_and_determinism_settings():
    rc = journal_rc()
    assert 7 <= rc["font.size"] <= 8
    assert all(7 <= rc[k] <= 8 for k in ("axes.labelsize", "xtick.labelsize", "legend.fontsize"))
    assert rc["svg.hashsalt"]
    assert rc["pdf.fonttype"] == 42
    rc["font.size"] = 99  # a fresh dict every call
    assert journal_rc()["font.size"] != 99


def test_new_figure_sizes_and_no_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    single = new_figure("single", 60)
    double = new_figure("double", 80)
    assert isinstance(single, Figure)
    assert single.get_figwidth() * MM == pytest.approx(85.0)
    assert single.get_figheight() * MM == pytest.approx(60.0)
    assert double.get_figwidth() * MM == pytest.approx(174.0)
    assert plt.get_fignums() == before
    with pytest.raises(ValueError):
        new_figure("triple", 50)
    with pytest.raises(ValueError):
        new_figure("single", -1)


def test_journal_style_restores_rcparams():
    before = dict(matplotlib.rcParams)
    with journal_style():
        assert matplotlib.rcParams["font.size"] == journal_rc()["font.size"]
    assert dict(matplotlib.rcParams) == before


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.12345, "0.123"),
        (-0.25, MINUS + "0.250"),
        (0.0867, "0.0867"),
        (12.34, "12.3"),
        (0.99961, "1.00"),
        (1234.5, "1230"),
        (0.0000123, "1.23\u00d710\u207b\u2075"),
        (0.0, "0.00"),
        (float("nan"), "NA"),
        (None, "NA"),
    ],
)
def test_format_number(value, expected):
    assert format_number(value) == expected


# ------------------------------------------------------------------------------ saving
def _small_figure() -> Figure:
    with journal_style():
        fig = new_figure("single", 40)
        ax = fig.add_subplot()
        ax.plot([0, 1, 2], [0.1, 0.3, 0.2], marker="o")
        ax.set_xlabel("Age (years)")
        ax.set_ylabel("Cortisol (ln pg/mg)")
    return fig


def test_save_figure_png_svg_pdf_byte_identical(tmp_path):
    fig = _small_figure()
    out1 = save_figure(fig, tmp_path / "a" / "fig.png", tmp_path / "a" / "fig.svg")
    out2 = save_figure(fig, tmp_path / "b" / "fig.png", tmp_path / "b" / "fig.svg")
    save_figure(_small_figure(), tmp_path / "c" / "fig.png", tmp_path / "c" / "fig.pdf")
    save_figure(_small_figure(), tmp_path / "d" / "fig.png", tmp_path / "d" / "fig.pdf")
    for p in (*out1, *out2):
        assert p.exists() and p.stat().st_size > 0
    png1, svg1 = (p.read_bytes() for p in out1)
    png2, svg2 = (p.read_bytes() for p in out2)
    assert png1.startswith(b"\x89PNG\r\n\x1a\n")
    assert svg1.lstrip().startswith(b"<?xml")
    assert png1 == png2
    assert svg1 == svg2
    assert b"<dc:date>" not in svg1
    for name in ("fig.png", "fig.pdf"):
        assert (tmp_path / "c" / name).read_bytes() == (tmp_path / "d" / name).read_bytes()
    assert b"CreationDate" not in (tmp_path / "c" / "fig.pdf").read_bytes()
    # no temporary files left behind
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["fig.png", "fig.svg"]


def test_save_figure_png_dpi_300(tmp_path):
    fig = _small_figure()
    (png,) = save_figure(fig, tmp_path / "fig.png")
    data = png.read_bytes()
    width = int.from_bytes(data[16:20], "big")
    assert abs(width - 85 / MM * 300) <= 1


def test_save_figure_rejects_bad_suffixes(tmp_path):
    fig = _small_figure()
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "fig.jpg")
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "fig.png", tmp_path / "fig.eps")


def test_save_figure_is_atomic(tmp_path, monkeypatch):
    fig = _small_figure()
    final = tmp_path / "fig.png"
    final.write_bytes(b"previous complete figure")

    def broken_savefig(self, fh, *args, **kwargs):
        fh.write(b"half a PNG")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError):
        save_figure(fig, final)
    assert final.read_bytes() == b"previous complete figure"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


# ------------------------------------------------------------------------------ forest
def test_forest_returns_figure_with_every_row_label(associations):
    fig = forest_plot(associations)
    assert isinstance(fig, Figure)
    assert fig.get_figwidth() * MM == pytest.approx(85.0)
    texts = texts_of(fig)
    for pred, resp in associations[["predictor", "response"]].drop_duplicates().itertuples(index=False):
        label = f"{pred} \u2192 {resp}"
        # long labels are wrapped onto several lines in the label column
        assert any(label in flat(t) for t in texts), label


def test_forest_asterisk_only_for_q_below_005(associations):
    fig = forest_plot(associations)
    texts = texts_of(fig)
    expected = int((associations["q"] < 0.05).sum())  # NaN q never counts
    assert texts.count("*") == expected == 4
    assert any("* FDR q < 0.05" in t for t in texts)

    none_sig = associations.assign(q=0.5)
    texts = texts_of(forest_plot(none_sig))
    assert "*" not in texts
    assert not any("FDR" in t for t in texts)

    # the config's fdr (0.10 here) decides, as the caption says: the review found 0.05 fixed
    looser = associations.assign(q=associations["q"].where(associations["q"] >= 0.05, 0.07))
    assert "*" not in texts_of(forest_plot(looser))
    texts = texts_of(forest_plot(looser, q_level=0.10))
    assert texts.count("*") == 4 and any("* FDR q < 0.1" in t for t in texts)


def test_forest_failed_row_is_text_not_point(associations):
    fig = forest_plot(associations)
    texts = texts_of(fig)
    assert any(t == "GenR: not converged" for t in texts)
    assert point_count(fig) == int(associations["estimate"].notna().sum()) == 6

    # a status other than "ok" hides even a finite estimate
    failed = associations.copy()
    failed.loc[0, "status"] = "failed: too few complete cases"
    fig = forest_plot(failed)
    assert point_count(fig) == 5
    texts = texts_of(fig)
    # the reason is shown in the plot, in full or cut short with a note number that
    # points to the footnote, which then gives it in full
    shown = [t for t in texts if t.startswith("ALSPAC: too few")]
    assert len(shown) == 1
    if shown[0] != "ALSPAC: too few complete cases":
        assert shown[0].endswith("\u2026\u00b9")
        assert any("\u00b9 ALSPAC, maternal_education \u2192 hair_cortisol: too few complete cases"
                   in flat(t) for t in texts)


def test_forest_pooled_is_black_hexagon_and_legend_gives_n_range(associations):
    """Pooled (one model of all participants): black hexagon; the meta-analysis keeps the
    diamond, so both can be drawn side by side."""
    fig = forest_plot(associations)
    ax = fig.axes[0]
    pooled_lines = [
        line for line in ax.get_lines()
        if (line.get_gid() or "").startswith("forest-points") and line.get_marker() == "h"
    ]
    assert len(pooled_lines) == 1
    assert matplotlib.colors.to_hex(pooled_lines[0].get_markerfacecolor()) == "#000000"
    texts = texts_of(fig)
    assert "ALSPAC (n = 790\u2013812)" in texts
    assert "GenR (n = 1,150\u20131,204)" in texts  # failed row's n is not counted
    assert "pooled (n = 2,016)" in texts


def test_forest_axis_labels(associations):
    mixed = forest_plot(associations)
    assert mixed.axes[0].get_xlabel() == "Estimate (log-odds for logistic models)"
    linear = associations[associations["model"] == "linear"].assign(unit="ln pg/mg per SD")
    assert forest_plot(linear).axes[0].get_xlabel() == "Estimate (ln pg/mg per SD)"
    custom = forest_plot(associations, x_label="Difference (SD)", title="Associations")
    assert custom.axes[0].get_xlabel() == "Difference (SD)"
    assert "Associations" in texts_of(custom)


def test_forest_single_row_nan_ci_and_many_rows(associations):
    one = associations.iloc[[0]].copy()
    one.loc[:, ["ci_low", "ci_high"]] = np.nan
    fig = forest_plot(one)
    assert isinstance(fig, Figure)
    assert point_count(fig) == 1
    assert any("Open marker" in t for t in texts_of(fig))

    rows = [
        assoc_row(c, f"predictor_{i}", "hair_cortisol", 0.01 * i, 0.5)
        for i in range(40)
        for c in ("ALSPAC", "GenR")
    ]
    many = forest_plot(pd.DataFrame(rows))
    small = forest_plot(pd.DataFrame(rows[:4]))
    assert many.get_figheight() > 5 * small.get_figheight()
    texts = texts_of(many)
    # the response shared by every row is given once, in a heading
    assert "\u2026 \u2192 hair_cortisol" in texts
    assert all(f"predictor_{i}" in texts for i in range(40))


def test_forest_empty_table_gives_placeholder(associations):
    fig = forest_plot(associations.iloc[0:0])
    assert "No associations to show" in texts_of(fig)


def test_forest_input_errors(associations):
    with pytest.raises(InputTableError, match="lacks column"):
        forest_plot(associations.drop(columns=["ci_low"]))
    dup = pd.concat([associations, associations.iloc[[0]]], ignore_index=True)
    with pytest.raises(InputTableError, match="more than one row") as err:
        forest_plot(dup)
    assert not any(pid in str(err.value) for pid in IDS)
    bad = associations.astype({"estimate": object})
    bad.loc[1, "estimate"] = "oops"
    with pytest.raises(InputTableError, match="row 2"):
        forest_plot(bad)


# ------------------------------------------------------------------ forest: layout
def layout_problems(fig: Figure) -> list[str]:
    """Texts outside the figure, texts overlapping each other, row labels in the plot,
    a legend overlapping the plot. Empty for a clean layout."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    ax = fig.axes[0]
    plot = ax.get_window_extent(renderer)
    lo, hi = ax.get_xlim()
    ticks = ax.get_xticklabels()
    items = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text():
            continue
        if t in ticks and not lo <= t.get_position()[0] <= hi:
            continue  # ticks outside the axis range are not drawn
        items.append((t.get_gid() or "", t.get_text(), t.get_window_extent(renderer)))
    problems = []
    tol = 0.5  # pixels
    for gid, text, bb in items:
        if bb.x0 < -tol or bb.x1 > width + tol or bb.y0 < -tol or bb.y1 > height + tol:
            problems.append(f"outside the figure: {text!r}")
        if gid in ("forest-label", "forest-unit") and bb.x1 > plot.x0 + tol:
            problems.append(f"row label runs into the plot: {text!r}")
    boxed = [item for item in items if item[0] != "forest-star"]
    for i, (g1, t1, b1) in enumerate(boxed):
        for g2, t2, b2 in boxed[i + 1:]:
            if g1 == g2 == "forest-reason":
                continue  # one per cohort slot, may touch
            inter = b1.intersection(b1, b2)
            if inter is not None and inter.width > 1 and inter.height > 1:
                problems.append(f"overlap: {t1!r} / {t2!r}")
    for legend in fig.legends:
        lb = legend.get_window_extent(renderer)
        if lb.y0 < plot.y1 - tol:
            problems.append("legend overlaps the plot")
    return problems


# The pipeline's table that crashed forest_plot (kiwisolver UnsatisfiableConstraint from
# the constrained layout): telomeres, predictor == "epds", one response row, three
# cohorts, a row label wider than the 85 mm figure.
TELOMERES_EPDS = pd.DataFrame({
    "cohort": ["ghent", "rotterdam", "pooled"],
    "mechanism": ["telomeres"] * 3,
    "predictor": ["epds"] * 3,
    "response": ["telomere_ts_ln"] * 3,
    "model": ["linear"] * 3,
    "n": [346, 452, 798],
    "estimate": [-0.008865310418, -0.002016467861, -0.004876226817],
    "se": [0.002860885751, 0.002819312939, 0.002010238771],
    "ci_low": [-0.01449263396, -0.007557289555, -0.008822268006],
    "ci_high": [-0.003237986881, 0.003524353832, -0.0009301856272],
    "p": [0.002105574971, 0.4748396744, 0.01550211421],
    "q": [0.004211149942, 0.9496793489, 0.03100422843],
    "family": ["gaussian"] * 3,
    "covariates": ["maternal_age+bmi+parity+smoking+child_sex"] * 2
                  + ["maternal_age+bmi+parity+smoking+child_sex+cohort"],
    "unit": ["ln T/S per point (EPDS depressive symptoms (0-30))"] * 3,
    "status": ["ok"] * 3,
})
PIPELINE_LABELS = {"epds": "EPDS depressive symptoms (0-30) (point)",
                   "telomere_ts_ln": "Telomere length (ln T/S)",
                   "il6_ln": "IL-6 (ln pg/mL)", "crp_ln": "CRP (ln mg/L)",
                   "cd4_cd8_ln_ratio": "CD4/CD8 (ln ratio)"}


def test_forest_pipeline_table_that_broke_constrained_layout(tmp_path):
    fig = forest_plot(TELOMERES_EPDS, title="Telomeres (newborn T/S ratio): EPDS",
                      labels=PIPELINE_LABELS,
                      colours=cohort_colours(["ghent", "rotterdam", "pooled"]))
    save_figure(fig, tmp_path / "f.png", tmp_path / "f.svg")
    assert fig.get_layout_engine() is None  # explicit mm layout, no solver
    assert fig.get_figwidth() * MM == pytest.approx(85.0)
    assert layout_problems(fig) == []
    texts = [flat(t) for t in texts_of(fig)]
    assert ("EPDS depressive symptoms (0-30) (point) \u2192 Telomere length (ln T/S)"
            in texts)
    assert point_count(fig) == 3
    # the plot keeps a usable width next to the label column
    assert fig.axes[0].get_position().width * 85.0 > 30.0


def test_forest_exposure_table_shared_predictor_heading_and_row_units(tmp_path):
    """One exposure, several biomarker responses with their own units (pipeline shape)."""
    rows = []
    for resp, unit in (("il6_ln", "ln pg/mL"), ("crp_ln", "ln mg/L"),
                       ("cd4_cd8_ln_ratio", "ln ratio")):
        for cohort, est in (("ghent", 0.017), ("rotterdam", -0.024), ("pooled", 0.002)):
            rows.append(assoc_row(cohort, "epds", resp, est, 0.03, mechanism="immune",
                                  unit=f"{unit} per point (EPDS depressive symptoms (0-30))"))
    fig = forest_plot(pd.DataFrame(rows), title="Immune system: EPDS", labels=PIPELINE_LABELS)
    save_figure(fig, tmp_path / "f.png")
    assert layout_problems(fig) == []
    texts = [flat(t) for t in texts_of(fig)]
    assert "EPDS depressive symptoms (0-30) (point) \u2192 \u2026" in texts
    for label in ("IL-6 (ln pg/mL)", "CRP (ln mg/L)", "CD4/CD8 (ln ratio)"):
        assert label in texts
    assert "ln mg/L per point (EPDS depressive symptoms (0-30))" in texts
    assert fig.axes[0].get_xlabel() == "Estimate (unit given under each row)"


def _fuzz_table(seed: int, n_responses: int, n_cohorts: int, pooled: bool, long_labels: bool,
                mixed_units: bool, failed: bool, nan_ci: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cohorts = [f"cohort_{i}" for i in range(n_cohorts)]
    if long_labels:
        cohorts[0] = "Generation R Next (Rotterdam, the Netherlands) birth cohort"
    cohorts += ["pooled"] if pooled else []
    rows = []
    for j in range(n_responses):
        response = (f"biomarker_{j}_" + "with_a_very_long_name_" * 3) if long_labels else f"bio_{j}"
        unit = f"unit{j % 3} per point (EPDS)" if mixed_units else "ln pg/mg per SD"
        for c in cohorts:
            est = float(rng.normal(0.0, 10.0 ** int(rng.integers(-3, 3))))
            half = abs(est) * float(rng.uniform(0.2, 2.0)) + 1e-6
            lo, hi = (np.nan, np.nan) if nan_ci and rng.random() < 0.4 else (est - half, est + half)
            status = "ok"
            if failed and rng.random() < 0.3:
                status = "failed: too few complete cases for a model with all the covariates"
            rows.append(assoc_row(c, "maternal_stress", response, est, float(rng.uniform(0, 0.1)),
                                  n=int(rng.integers(20, 5000)), mechanism="hpa", unit=unit,
                                  status=status, ci_low=lo, ci_high=hi))
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("n_responses", "n_cohorts", "pooled", "long_labels", "mixed_units", "failed", "nan_ci",
     "width"),
    [
        (1, 1, False, False, False, False, False, "single"),
        (1, 3, True, True, True, True, True, "single"),
        (2, 5, True, True, False, True, False, "single"),
        (3, 2, True, False, True, False, True, "single"),
        (7, 4, False, True, True, True, True, "single"),
        (12, 2, True, True, True, False, False, 60.0),
        (30, 5, True, False, True, True, True, "single"),
        (5, 3, False, True, False, True, True, "double"),
    ],
)
def test_forest_fuzz_layout_never_fails(tmp_path, n_responses, n_cohorts, pooled, long_labels,
                                        mixed_units, failed, nan_ci, width):
    table = _fuzz_table(n_responses * 100 + n_cohorts, n_responses, n_cohorts, pooled,
                        long_labels, mixed_units, failed, nan_ci)
    labels = ({"maternal_stress": "Maternal perceived stress in the second trimester "
                                  "(PSS-10 total score, 0-40)"} if long_labels else None)
    title = ("A long title that has to wrap onto more than one line at 85 mm width, "
             "with a subtitle" if long_labels else "Hair cortisol")
    fig = forest_plot(table, title=title, labels=labels, width=width)
    save_figure(fig, tmp_path / "f.png", tmp_path / "f.svg")
    assert layout_problems(fig) == []
    assert fig.get_layout_engine() is None


# --------------------------------------------------------------------------- mediation
def test_mediation_returns_figure_with_formatted_paths(mediation_tables):
    effects, paths = mediation_tables
    fig = mediation_diagram(effects, paths)
    assert isinstance(fig, Figure)
    assert fig.get_figwidth() * MM == pytest.approx(85.0)
    texts = [flat(t) for t in texts_of(fig)]
    joined = "\n".join(texts)

    def path_text(symbol: str, path: str) -> str:
        r = paths.set_index("path").loc[path]
        return f"{symbol} = {sig3(r.estimate)} [{sig3(r.ci_low)}, {sig3(r.ci_high)}]"

    for symbol, path in (("a", "a"), ("b", "b"), (f"c{PRIME}", "c_prime")):
        assert path_text(symbol, path) in texts, path_text(symbol, path)
    assert "a = \u22120.123 [\u22120.160, \u22120.0867]" in texts  # spelled out once

    eff = effects.set_index("effect")
    ind = eff.loc["indirect"]
    assert (f"Indirect effect (a\u00b7b) = {sig3(ind.estimate)} "
            f"[{sig3(ind.ci_low)}, {sig3(ind.ci_high)}]") in joined
    tot = eff.loc["total"]
    assert f"Total effect (c) = {sig3(tot.estimate)} [{sig3(tot.ci_low)}, {sig3(tot.ci_high)}]" in joined
    prop = eff.loc["proportion_mediated"]
    assert f"Proportion mediated = {sig3(prop.estimate)}" in joined
    assert "n = 812, 5,000 bootstrap resamples (percentile CI)" in joined


def test_mediation_uses_labels_and_units(mediation_tables):
    effects, paths = mediation_tables
    labels = {"maternal_education": "Maternal education (years)",
              "hair_cortisol": "Hair cortisol (ln pg/mg)"}
    fig = mediation_diagram(effects, paths, labels=labels, units={"child_bmi_z": "z-score"})
    texts = [flat(t) for t in texts_of(fig)]
    assert "Maternal education (years)" in texts
    assert "Hair cortisol (ln pg/mg)" in texts
    assert "child_bmi_z (z-score)" in texts
    assert not any("maternal_education" in t for t in texts)


def test_mediation_missing_effect_and_ci(mediation_tables):
    effects, paths = mediation_tables
    effects = effects[effects["effect"] != "proportion_mediated"]
    paths = paths.copy()
    paths.loc[paths["path"] == "b", ["ci_low", "ci_high"]] = np.nan
    texts = [flat(t) for t in texts_of(mediation_diagram(effects, paths))]
    joined = "\n".join(texts)
    assert "Proportion mediated: not estimated" in joined
    assert f"b = {sig3(0.3697)} [CI NA]" in texts


def test_mediation_rejects_more_than_one_path(mediation_tables):
    effects, paths = mediation_tables
    other = paths.assign(cohort="ALSPAC")
    with pytest.raises(InputTableError, match="one exposure"):
        mediation_diagram(effects, pd.concat([paths, other], ignore_index=True))
    with pytest.raises(InputTableError, match="lacks column"):
        mediation_diagram(effects.drop(columns=["n_boot"]), paths)


# ----------------------------------------------------------------- privacy and safety
def test_no_participant_id_in_any_figure(associations, mediation_tables, tmp_path):
    effects, paths = mediation_tables
    figures = {
        "forest": forest_plot(associations),
        "mediation": mediation_diagram(effects, paths),
    }
    for name, fig in figures.items():
        for text in texts_of(fig):
            assert not any(pid in text for pid in IDS), (name, text)
        _, svg = save_figure(fig, tmp_path / f"{name}.png", tmp_path / f"{name}.svg")
        content = svg.read_text(encoding="utf-8")
        assert not any(pid in content for pid in IDS)
        assert "participant_id" not in content


def test_figures_leave_rcparams_untouched(associations, mediation_tables):
    before = dict(matplotlib.rcParams)
    forest_plot(associations)
    mediation_diagram(*mediation_tables)
    assert dict(matplotlib.rcParams) == before


def test_figures_are_thread_safe_and_deterministic(associations, mediation_tables, tmp_path):
    def build(i: int) -> tuple[str, str]:
        f = forest_plot(associations)
        m = mediation_diagram(*mediation_tables)
        pf = save_figure(f, tmp_path / f"forest_{i}.png")[0]
        pm = save_figure(m, tmp_path / f"mediation_{i}.png")[0]
        return (hashlib.sha256(pf.read_bytes()).hexdigest(),
                hashlib.sha256(pm.read_bytes()).hexdigest())

    sequential = build(99)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(build, range(4)))
    assert all(r == sequential for r in results)


def test_figures_package_imports_neither_snakemake_nor_pyplot():
    import first1000.figures as pkg

    for path in Path(pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith("snakemake"), path.name
                assert name != "matplotlib.pyplot", path.name


def test_render_pngs_for_visual_check(associations, mediation_tables, tmp_path):
    """Render both figures to files; set FIRST1000_FIGURE_DIR to keep them for a look."""
    out = Path(os.environ.get("FIRST1000_FIGURE_DIR") or tmp_path)
    save_figure(forest_plot(associations, title="Maternal SES, mood and biomarkers"),
                out / "forest.png", out / "forest.svg")
    labels = {"maternal_education": "Maternal education (years)",
              "hair_cortisol": "Hair cortisol (ln pg/mg)",
              "child_bmi_z": "Child BMI at 5 years (z-score)"}
    save_figure(mediation_diagram(*mediation_tables, labels=labels),
                out / "mediation.png", out / "mediation.svg")
    assert (out / "forest.png").stat().st_size > 0
    assert (out / "mediation.png").stat().st_size > 0


def test_forest_estimate_column_and_odds_ratios(tmp_path):
    """A double-column forest plot prints each marker's estimate [95% CI] right of the
    plot, the odds ratio (exp of the log odds and its bounds) for a logistic row (#18)."""
    rows = [assoc_row("ghent", "epds", "preterm", 0.5, 0.01, model="logistic", unit="log odds per point"),
            assoc_row("rotterdam", "epds", "preterm", -0.2, 0.3, model="logistic", unit="log odds per point"),
            assoc_row("pooled", "epds", "preterm", 0.12, 0.2, model="logistic", unit="log odds per point")]
    fig = forest_plot(pd.DataFrame(rows), width="double", labels=PIPELINE_LABELS)
    save_figure(fig, tmp_path / "f.png")
    assert layout_problems(fig) == []
    shown = [t.get_text() for t in fig.findobj(Text) if t.get_gid() == "forest-estimate"]
    expected = [f"OR {math.exp(e):.2f} [{math.exp(e - 0.1):.2f}, {math.exp(e + 0.1):.2f}]" for e in (0.5, -0.2, 0.12)]
    assert sorted(shown) == sorted(expected)
    assert "OR 1.65 [1.49, 1.82]" in shown  # exp(0.5), exp(0.4), exp(0.6) by hand
    assert any("OR: odds ratio of a logistic model (axis: log odds)" in flat(t) for t in texts_of(fig))


def test_forest_estimate_column_linear_and_left_out_when_there_is_no_room():
    rows = [assoc_row(c, "epds", "il6_ln", e, 0.2, unit="ln pg/mL per point") for c, e in
            (("ghent", 0.0234), ("rotterdam", -0.31), ("pooled", 0.004))]
    double = forest_plot(pd.DataFrame(rows), width="double")
    assert layout_problems(double) == []
    shown = sorted(t.get_text() for t in double.findobj(Text) if t.get_gid() == "forest-estimate")
    assert shown == sorted(["0.023 [-0.077, 0.12]", "-0.31 [-0.41, -0.21]", "0.004 [-0.096, 0.10]"])
    single = forest_plot(pd.DataFrame(rows), labels={"il6_ln": "A very long label " * 4})
    assert not [t for t in single.findobj(Text) if t.get_gid() == "forest-estimate"]
    assert layout_problems(single) == []


def test_mediation_states_the_exposure_contrast(mediation_tables):
    """Counterfactual effects compare two exposure values (#18: "indirect 21.0" beside
    a = -0.204 and b = -130 is per contrast, not per unit): the figure names them TNIE/TE
    and says the contrast; the a, b and c' paths stay per unit."""
    effects, paths = mediation_tables
    effects = effects.assign(contrast="sd", a0=-0.024, a1=0.766)
    joined = "\n".join(flat(t) for t in texts_of(mediation_diagram(effects, paths)))
    assert "Indirect effect (TNIE) = " in joined and "Total effect (TE) = " in joined
    assert "Exposure contrast: \u22120.0240 \u2192 0.766 (mean \u2192 mean + 1 SD)" in joined
    assert "a, b and c\u2032 are per unit of their predictor" in joined
    binary = effects.assign(contrast="binary", a0=0.0, a1=1.0)
    joined = "\n".join(flat(t) for t in texts_of(mediation_diagram(binary, paths)))
    assert "Exposure contrast: 0 \u2192 1 (lower \u2192 higher value)" in joined


def test_mediation_names_quasi_bayesian_draws_and_the_interaction(mediation_tables):
    """Under mediation.inference: quasi_bayes the intervals come from Monte Carlo draws, not
    resamples; with an exposure x mediator interaction b and c' are the paths of the
    outcome model without it (analysis.mediation.path_coefficients), and the caption says so."""
    effects, paths = mediation_tables
    plain = "\n".join(flat(t) for t in texts_of(mediation_diagram(effects.assign(inference="bootstrap",
                                                                                 interaction=False), paths)))
    assert "5,000 bootstrap resamples" in plain and "interaction" not in plain
    qb = effects.assign(inference="quasi_bayes", interaction=True)
    joined = "\n".join(flat(t) for t in texts_of(mediation_diagram(qb, paths)))
    assert "n = 812, 5,000 quasi-Bayesian Monte Carlo draws (percentile CI)" in joined
    assert "bootstrap" not in joined
    assert "outcome model has an exposure \u00d7 mediator interaction; b and c\u2032 are from the outcome model without it" \
        in joined


def test_mediation_of_a_binary_outcome_names_its_effect_scale(mediation_tables):
    """A binary outcome's effects come on three scales; the diagram draws the first, the
    risk difference (stages.figures.figure_effects), and says so."""
    effects, paths = mediation_tables
    joined = "\n".join(flat(t) for t in texts_of(mediation_diagram(effects.assign(scale="risk_difference"), paths)))
    assert "The indirect and total effects are on the risk-difference (probability) scale of the outcome." in joined
    joined = "\n".join(flat(t) for t in texts_of(mediation_diagram(effects.assign(scale="difference"), paths)))
    assert "scale of the outcome" not in joined


def test_the_house_style_ignores_the_process_s_matplotlib_settings():
    """A ``matplotlibrc`` in the working directory (or $MATPLOTLIBRC, the user's config) is
    read into the process's rcParams and is no input of any job: a figure drawn in
    :func:`journal_style` must not depend on it (the review drew a different PNG with
    ``text.antialiased: False``)."""
    import io

    import matplotlib as mpl
    from matplotlib.figure import Figure

    from first1000.figures.style import journal_style

    def draw() -> bytes:
        with journal_style():
            fig = Figure(figsize=(2, 1.5))
            ax = fig.add_subplot()
            ax.plot([0, 1, 2], [1, 0, 2], marker="o")
            ax.set_xlabel("EPDS score (points)")
            buf = io.BytesIO()
            fig.savefig(buf, format="png", metadata={"Software": None})
            return buf.getvalue()

    clean = draw()
    with mpl.rc_context({"text.antialiased": False, "lines.linewidth": 6.0, "axes.grid": True,
                         "font.size": 20, "lines.marker": "x"}):
        hostile = draw()
    assert hostile == clean
