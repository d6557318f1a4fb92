"""Quality-control figures of the mechanisms, drawn from the aggregate QC tables only.

Every function takes one ``results/qc/{mechanism}.tsv`` table (as written by the prepare
stage: counts below the privacy threshold already replaced by strings such as ``"<5"``
and the percentage that goes with them blanked) and returns a
:class:`matplotlib.figure.Figure` in the house style of
:mod:`first1000.figures.style`. Only the columns named below are read, so nothing
row-level can reach a figure; a suppressed count is shown as such (or as an upper bound,
"<1.3%", so that it cannot be recovered from a percentage), never as a number.

=============================  ========================================================
:func:`below_limit_bars`       ``results/qc/metabolites.tsv`` and ``immune.tsv``:
                               ``cohort``, the marker column (``metabolite`` or
                               ``marker``), ``n``, ``n_below_lod``, ``pct_below_lod``;
                               optional ``rule`` (``detected_binary``: analysed as
                               detected / not detected) or ``substitution_flag``
:func:`qpcr_control_chart`     ``results/qc/telomeres.tsv`` / ``mitochondria.tsv``: the
                               Levey–Jennings chart of
                               :func:`first1000.figures.mechanism.calibrator_control_chart`
                               on ``calibrator_dct`` (else the assay's ratio column)
:func:`cpg_summary`            ``results/qc/methylation.tsv``: ``cohort``, ``cpg``,
                               ``n``, ``mean_beta``, ``sd_beta``; optional
                               ``n_missing``, ``n_clipped``
:func:`clock_coverage_figure`  ``results/qc/epigenetic_age.tsv``: ``cohort``, ``clock``,
                               ``n_cpgs``, ``n_present``, ``n_measured``; optional
                               ``n``, ``r``, ``mae``, ``median_difference``, ``unit``,
                               ``clinical_age``
:func:`microbiome_filters`     ``results/qc/microbiome.tsv``: ``cohort``,
                               ``n_samples_kept``, ``n_samples_removed``,
                               ``n_taxa_kept``, ``n_taxa_removed``, ``min_depth``,
                               ``min_prevalence``; optional ``median_depth``,
                               ``depth_q1``, ``depth_q3``, ``depth_p05``,
                               ``depth_p95``, ``n_samples_in``, ``chosen_taxa_removed``
:func:`measure_summary`        any other QC table with ``cohort``, a name column
                               (``measure``, ``marker``, ...) and ``n``: median and IQR
                               per measure and cohort (``median``, ``q1``, ``q3``,
                               optional ``unit``), or the counts when it has no median
=============================  ========================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from first1000.errors import First1000Error, InputTableError
from first1000.figures.mechanism import (
    MIN_CELL,
    MIN_POINTS,
    _counts,
    _fmt_pct,
    _fmt_pct_bound,
    _freeze_layout,
    _legend_above,
    _need_columns,
    _need_frame,
    _set_title,
    _wrap,
    calibrator_control_chart,
    cortisol_by_window,
)
from first1000.figures.style import (
    FONT_SIZE,
    GREY,
    LIGHT_GREY,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    _sorted_cohorts,
    _width_mm,
    cohort_colours,
    cohort_markers,
    format_count,
    format_number,
    format_range,
    journal_style,
    label_for,
    new_figure,
    style_axes,
)

__all__ = [
    "NAME_COLUMNS",
    "below_limit_bars",
    "qpcr_control_chart",
    "cpg_summary",
    "clock_coverage_figure",
    "clock_display_name",
    "microbiome_filters",
    "marker_labels",
    "measure_summary",
    "name_column",
]

#: Columns that name the rows of a per-measure QC table, in order of preference.
NAME_COLUMNS = ("measure", "marker", "metabolite", "biomarker", "variable", "cpg", "taxon", "target", "window",
                "name")
#: Published names of the epigenetic clocks (:mod:`first1000.mechanisms.clocks`).
CLOCK_NAMES = {
    "knight2016": "Knight et al. 2016",
    "bohlin2016": "Bohlin et al. 2016",
    "horvath2013": "Horvath 2013",
    "hannum2013": "Hannum et al. 2013",
}
#: Units of ``median_<suffix>`` columns.
_SUFFIX_UNITS = {"umol_l": "µmol/L", "pg_mg": "pg/mg", "pg_ml": "pg/mL", "mg_l": "mg/L", "nmol_l": "nmol/L"}
_FOOT = dict(fontsize=SMALL_FONT_SIZE - 0.5, color=GREY, x=0.01, ha="left")
_REMOVED = "#D9D9D9"


# ---------------------------------------------------------------------------- helpers
def _cohort_column(table: pd.DataFrame) -> pd.Series:
    return table["cohort"].astype(str) if "cohort" in table.columns else pd.Series("all", index=table.index)


def _numbers(values: pd.Series, what: str) -> np.ndarray:
    """A numeric QC column as floats (missing -> NaN); anything else is an error."""
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        raise InputTableError(f"QC table column {what!r} must be numeric; got {values[bad].iloc[0]!r}")
    return num.to_numpy(float)


def _optional_numbers(table: pd.DataFrame, column: str) -> np.ndarray:
    return _numbers(table[column], column) if column in table.columns else np.full(len(table), np.nan)


def _count_text(bound: float, text: str) -> str:
    """A count as printed: "<5" when suppressed, else its text ("1,204", "NA")."""
    return f"<{format_count(bound)}" if math.isfinite(bound) else text


def _share_text(count: float, bound: float, total: float, pct: float | None = None) -> str:
    """The % of ``total`` that ``count`` is; an upper bound for a suppressed count."""
    if math.isfinite(bound):
        if math.isfinite(total) and total > 0:
            return f"<{_fmt_pct_bound(min(100.0, 100.0 * bound / total))}"
        return f"<{format_count(bound)} samples"
    if pct is not None and math.isfinite(pct):
        return _fmt_pct(pct)
    if math.isfinite(count) and math.isfinite(total) and total > 0:
        return _fmt_pct(100.0 * count / total)
    return "NA"


def _ordered(values: Sequence[object]) -> list[str]:
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(str(v) for v in values))


def _pretty(name: str) -> str:
    return name.replace("_", " ")


def _cohort_handles(cohorts, palette, labels, notes: Mapping[str, str] | None = None, *, patch=True):
    out = []
    for c in cohorts:
        text = label_for(c, labels) + (f" ({notes[c]})" if notes and notes.get(c) else "")
        if patch:
            out.append(Patch(facecolor=palette[c], edgecolor=palette[c], label=text))
        else:
            out.append(Line2D([], [], color=palette[c], marker="o", ms=3.5, lw=1.6, label=text))
    return out


def _n_by_cohort(cohorts, cohort_col: pd.Series, n: np.ndarray, n_text: Sequence[str],
                 min_cell: int = MIN_CELL) -> dict[str, str]:
    """'n = 380' (or a range, or 'n < 5') per cohort, for legends."""
    out = {}
    for c in cohorts:
        sel = (cohort_col == c).to_numpy()
        values = n[sel]
        if np.isfinite(values).any():
            out[c] = f"n = {format_range(values)}"
        elif any(t.startswith("<") for t, s in zip(n_text, sel) if s):
            out[c] = f"n < {min_cell}"
    return out


def _title(fig: Figure, title: str | None, width) -> None:
    """The figure title, wrapped to the figure's width."""
    _set_title(fig, _wrap(title, 50 if _width_mm(width) < 100 else 105) if title else None)


def _legend_top(ax, handles, ncols: int) -> None:
    """Legend above ``ax`` starting at the figure's left edge rather than the axes' (so
    a legend wider than the plot area does not squeeze the plot); the constrained layout
    keeps it clear of the title."""
    trans = blended_transform_factory(ax.figure.transFigure, ax.transAxes)
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.01, 1.02), bbox_transform=trans,
              borderaxespad=0.0, ncols=ncols, fontsize=SMALL_FONT_SIZE)


def _legend_row(ax, handles, ncols: int) -> None:
    """A legend in ``ax``, an invisible axes spanning a row of its own above the panels,
    starting at the figure's left edge (so that a legend wider than a panel pushes no
    panel aside and the constrained layout keeps it clear of the title and the plots)."""
    ax.axis("off")
    trans = blended_transform_factory(ax.figure.transFigure, ax.transAxes)
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.01, 0.0), bbox_transform=trans,
              borderaxespad=0.0, ncols=ncols, fontsize=SMALL_FONT_SIZE)


def _no_data(ax, text: str = "No data to show") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=GREY)
    ax.set_yticks([])


def _foot(fig: Figure, text: str, width) -> None:
    fig.supxlabel(_wrap(text, 100 if _width_mm(width) > 100 else 72), **_FOOT)


def marker_labels(names) -> dict[str, str]:
    """Human names of raw markers ('il6' -> 'IL-6', 'cd4_cd8_ratio' -> 'CD4/CD8'), from
    :func:`first1000.labels.biomarker_label` of the biomarker each becomes."""
    from first1000.labels import biomarker_label

    out = {}
    for name in map(str, names):
        found = None
        if name.endswith("_ratio"):
            found = biomarker_label(f"{name.removesuffix('_ratio')}_ln_ratio")
        found = found or biomarker_label(f"{name}_ln")
        out[name] = found[0] if found else _pretty(name)
    return out


def name_column(table: pd.DataFrame, name_col: str | None = None) -> str:
    """The column naming the rows of a per-measure QC table (``measure``, ``marker``...)."""
    if name_col is not None:
        _need_columns(table, [name_col], "QC table")
        return name_col
    found = next((c for c in NAME_COLUMNS if c in table.columns), None)
    if found is None:
        raise InputTableError(f"QC table has no column naming its measures (one of {', '.join(NAME_COLUMNS)})")
    return found


# ------------------------------------------------------------ 1. below the limit (LOD)
def below_limit_bars(
    table: pd.DataFrame,
    *,
    name_col: str | None = None,
    max_pct: float | None = None,
    limit: str = "LOD",
    limit_name: str = "limit of detection",
    labels: Mapping[str, str] | None = None,
    name_labels: Mapping[str, str] | None = None,
    width: str | float = "single",
    title: str | None = None,
    min_cell: int = MIN_CELL,
) -> Figure:
    """% of samples below the detection limit per marker, bars grouped by cohort.

    One horizontal bar per marker and cohort, its length the table's ``pct_below_lod``
    and its value printed at its end. ``max_pct`` (e.g. ``preparation.metabolites.
    lod_max_pct``) adds a dashed reference line: up to it, values below the limit are
    set to LOD/√2; markers above it are analysed as detected / not detected only — the
    bars of markers whose ``rule`` is ``detected_binary`` (or whose
    ``substitution_flag`` is true) are hatched. A suppressed count (``n_below_lod`` =
    "<5", its percentage blanked) gets no bar, only the upper bound of its share
    ("<1.3%"); a marker with n = 0 reads "no data". Nothing marker-specific: any marker
    in the table is drawn, in table order (top to bottom).
    """
    _need_frame(table, "the marker QC table", "below_limit_bars")
    name_col = name_column(table, name_col)
    _need_columns(table, ["n", "n_below_lod", "pct_below_lod"], "marker QC table",
                  "results/qc/{metabolites,immune}.tsv have cohort, marker, n, n_below_lod, pct_below_lod")
    cohort = _cohort_column(table)
    names = table[name_col].astype(str)
    n, _, n_text = _counts(table["n"])
    below, bound, _ = _counts(table["n_below_lod"])
    pct = _numbers(table["pct_below_lod"], "pct_below_lod")
    if "rule" in table.columns:
        binary = (table["rule"].astype(str) == "detected_binary").to_numpy()
    elif "substitution_flag" in table.columns:
        binary = table["substitution_flag"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
    else:
        binary = np.zeros(len(table), bool)
    markers = _ordered(names)
    cohorts = _sorted_cohorts(cohort.unique())
    palette = cohort_colours(cohorts)
    k = max(len(cohorts), 1)
    h = 0.8 / k
    rows = {(c, m): i for i, (c, m) in enumerate(zip(cohort, names))}
    height = 24.0 + max(len(markers), 1) * (k * 3.4 + 2.0) + (6.0 if max_pct is not None else 0.0)

    with journal_style():
        fig = new_figure(width, height)
        ax = fig.add_subplot(1, 1, 1)
        style_axes(ax)
        top = 0.0
        annotations = []
        for mi, marker in enumerate(markers):
            for ci, c in enumerate(cohorts):
                i = rows.get((c, marker))
                if i is None:
                    continue
                y = mi + (ci - (k - 1) / 2) * h
                colour = palette[c]
                if math.isfinite(n[i]) and n[i] == 0:
                    text, value = "no data", 0.0
                elif math.isfinite(bound[i]):
                    text, value = _share_text(below[i], bound[i], n[i]), 0.0
                elif math.isfinite(pct[i]):
                    value = float(pct[i])
                    text = _fmt_pct(value)
                    ax.barh(y, value, height=h * 0.9, color=mpl.colors.to_rgba(colour, 0.3 if binary[i] else 1.0),
                            edgecolor=colour, linewidth=0.6, hatch="//////" if binary[i] else None, zorder=2,
                            gid=f"below-limit-bar-{c}-{marker}")
                    top = max(top, value)
                else:
                    text, value = "NA", 0.0
                annotations.append((value, y, text))
        right = max(top, max_pct or 0.0, 1.0) * 1.18 + 2.0
        right = min(right, 118.0)
        for value, y, text in annotations:
            ax.text(value + right * 0.012, y, text, va="center", ha="left", fontsize=SMALL_FONT_SIZE - 0.5,
                    color="black" if text[0].isdigit() else GREY, zorder=3)
        ax.set_xlim(0, right)
        ax.set_ylim(max(len(markers), 1) - 0.5, -0.5)
        ax.set_yticks(range(len(markers)), [_wrap(label_for(m, name_labels), 22) for m in markers])
        ax.tick_params(axis="y", length=0)
        ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        ax.set_xlabel(f"Samples below the {limit_name} (%)")
        if not markers:
            _no_data(ax)
        handles = _cohort_handles(cohorts, palette, labels, _n_by_cohort(cohorts, cohort, n, n_text, min_cell))
        if max_pct is not None:
            ax.axvline(max_pct, color=GREY, ls="--", lw=0.8, zorder=1, gid="max-pct-line")
            handles.append(Line2D([], [], color=GREY, ls="--", lw=0.8,
                                  label=f"limit for {limit}/\u221a2 ({format_number(max_pct, 2)}%)"))
        if binary.any() or max_pct is not None:
            handles.append(Patch(facecolor="white", edgecolor=GREY, hatch="//////",
                                 label="above: detected / not detected"))
        _legend_top(ax, handles, 2)
        foot = (f"Values below the {limit} were set to {limit}/\u221a2"
                + (f" when at most {format_number(max_pct, 2)}% of a marker's values were below it; markers "
                   "above that share were analysed as detected / not detected (hatched bars)."
                   if max_pct is not None else ".")
                + f" \u201c<x%\u201d: fewer than {min_cell} samples below the {limit} (suppressed; upper bound).")
        if "pile_up" in table:  # measured values piled at one single value: an undeclared assay floor?
            piled = table[table.pile_up.astype(str).str.lower() == "true"]
            if len(piled):
                named = sorted({f"{label_for(str(m), name_labels)} ({label_for(str(c), labels)})"
                                for m, c in zip(piled[name_col], cohort[piled.index])})
                foot += (" Warning: many measured values equal one single value (a detection floor reported as a "
                         f"number?) for {', '.join(named)}; see the QC table.")
        _foot(fig, foot, width)
        _title(fig, title, width)
        _freeze_layout(fig)
    return fig


# ----------------------------------------------------------- 2. qPCR control chart
def qpcr_control_chart(
    table: pd.DataFrame,
    *,
    ratio_column: str = "calibrator_ts",
    ratio_label: str = "Calibrator ratio",
    delta_label: str | None = None,
    labels: Mapping[str, str] | None = None,
    width: str | float = "single",
    title: str | None = None,
) -> Figure:
    """The Levey–Jennings chart of a qPCR assay's inter-run calibrator.

    :func:`~first1000.figures.mechanism.calibrator_control_chart` on the calibrator's
    ΔCt (``calibrator_dct``, cycles) when the QC table has it, else on the assay's ratio
    column (``ratio_column``: ``calibrator_ts`` for telomeres, ``calibrator_mt_n`` for
    mtDNA content; uncalibrated ratio).
    """
    _need_frame(table, "the qPCR plate QC table", "qpcr_control_chart")
    if "calibrator_dct" in table.columns:
        return calibrator_control_chart(table, value_col="calibrator_dct", value_label=delta_label, labels=labels,
                                        width=width, title=title)
    if ratio_column in table.columns:
        return calibrator_control_chart(table, value_col=ratio_column, value_label=ratio_label,
                                        unit="ratio, uncalibrated", labels=labels, width=width, title=title)
    raise InputTableError(f"qPCR plate QC table has neither 'calibrator_dct' nor {ratio_column!r}")


# ------------------------------------------------------- 3. candidate CpG summary
def cpg_summary(
    table: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    width: str | float = "single",
    title: str | None = None,
    min_cell: int = MIN_CELL,
) -> Figure:
    """Per candidate CpG and cohort: mean β ± SD, and the share of samples missing.

    Left panel: mean β (proportion methylated, 0–1) ± 1 SD per CpG, one marker per
    cohort (colour and shape). Right panel (when the table has ``n_missing``): % of
    samples without a β value, ``n_missing / (n + n_missing)``; a suppressed count is
    shown as an upper bound. The number of β values of exactly 0 or 1 (clipped before the
    M-value transform) is given under the plot. CpGs in table order, top to bottom.
    """
    _need_frame(table, "the methylation QC table", "cpg_summary")
    name_col = name_column(table, "cpg" if "cpg" in table.columns else None)
    _need_columns(table, ["n", "mean_beta", "sd_beta"], "methylation QC table",
                  "results/qc/methylation.tsv has cohort, cpg, n, mean_beta, sd_beta, n_missing, n_clipped")
    cohort = _cohort_column(table)
    names = table[name_col].astype(str)
    n, _, n_text = _counts(table["n"])
    mean = _numbers(table["mean_beta"], "mean_beta")
    sd = _numbers(table["sd_beta"], "sd_beta")
    has_missing = "n_missing" in table.columns
    missing, missing_bound, _ = _counts(table["n_missing"]) if has_missing else (None, None, None)
    cpgs = _ordered(names)
    cohorts = _sorted_cohorts(cohort.unique())
    palette, shapes = cohort_colours(cohorts), cohort_markers(cohorts)
    k = max(len(cohorts), 1)
    h = 0.7 / k
    rows = {(c, m): i for i, (c, m) in enumerate(zip(cohort, names))}
    height = 26.0 + max(len(cpgs), 1) * (k * 2.6 + 2.2)

    with journal_style():
        fig = new_figure(width, height)
        ncols = 2 if has_missing else 1
        grid = fig.add_gridspec(2, ncols, height_ratios=[0.001, 1.0], width_ratios=[2.6, 1.0][:ncols])
        ax_legend = fig.add_subplot(grid[0, :])
        ax = fig.add_subplot(grid[1, 0])
        ax_miss = fig.add_subplot(grid[1, 1], sharey=ax) if has_missing else None
        fig.get_layout_engine().set(wspace=0.08)
        style_axes(ax)
        values = []
        miss_top, miss_notes = 0.0, []
        for mi, cpg in enumerate(cpgs):
            for ci, c in enumerate(cohorts):
                i = rows.get((c, cpg))
                if i is None:
                    continue
                y = mi + (ci - (k - 1) / 2) * h
                if math.isfinite(n[i]) and n[i] >= min_cell and math.isfinite(mean[i]):
                    err = sd[i] if math.isfinite(sd[i]) else 0.0
                    ax.errorbar(mean[i], y, xerr=err, fmt=shapes[c], color=palette[c], mfc=palette[c], ms=3.2,
                                elinewidth=0.9, capsize=1.2, capthick=0.6, zorder=3, gid=f"cpg-mean-{c}-{cpg}")
                    values += [mean[i] - err, mean[i] + err]
                if ax_miss is not None:
                    total = n[i] + missing[i] if math.isfinite(missing[i]) else n[i]
                    if math.isfinite(missing_bound[i]):
                        miss_notes.append((y, _share_text(np.nan, missing_bound[i], n[i]), 0.0))
                    elif math.isfinite(missing[i]) and math.isfinite(total) and total > 0:
                        share = 100.0 * missing[i] / total
                        ax_miss.barh(y, share, height=h * 0.9, color=palette[c], linewidth=0, zorder=2,
                                     gid=f"cpg-missing-{c}-{cpg}")
                        miss_top = max(miss_top, share)
                        miss_notes.append((y, _fmt_pct(share), share))
        if values:
            lo, hi = min(values), max(values)
            pad = max(0.02, 0.08 * (hi - lo))
            ax.set_xlim(max(0.0, lo - pad), min(1.0, hi + pad))
        else:
            ax.set_xlim(0, 1)
        ax.set_ylim(max(len(cpgs), 1) - 0.5, -0.5)
        ax.set_yticks(range(len(cpgs)), cpgs)
        ax.tick_params(axis="y", length=0)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_xlabel(_wrap("Methylation \u03b2 (proportion methylated, 0\u20131), mean \u00b1 SD", 40))
        if not cpgs:
            _no_data(ax)
        if ax_miss is not None:
            style_axes(ax_miss, left_spine=False)
            ax_miss.tick_params(axis="y", length=0, labelleft=False)
            right = max(miss_top * 1.6, 5.0)
            for y, text, value in miss_notes:
                ax_miss.text(value + right * 0.03, y, text, va="center", ha="left", fontsize=SMALL_FONT_SIZE - 1,
                             color="black" if text[0].isdigit() else GREY)
            ax_miss.set_xlim(0, right)
            ax_miss.xaxis.set_major_locator(MaxNLocator(3, integer=True))
            ax_miss.set_xlabel("Missing (%)")
        handles = _cohort_handles(cohorts, palette, labels, _n_by_cohort(cohorts, cohort, n, n_text, min_cell),
                                  patch=False)
        for hd, c in zip(handles, cohorts):
            hd.set_marker(shapes[c])
        if handles:
            _legend_row(ax_legend, handles, min(len(handles), 3))
        foot = "Points: mean \u03b2; bars: \u00b1 1 SD over the cohort's samples (summaries only)."
        if "n_clipped" in table.columns:
            clipped, clipped_bound, _ = _counts(table["n_clipped"])
            if np.nansum(clipped) > 0 or np.isfinite(clipped_bound).any():
                parts = [f"{cpg} ({label_for(c, labels)}): "
                         f"{'<' + format_count(b) if math.isfinite(b) else format_count(v)}"
                         for cpg, c, v, b in zip(names, cohort, clipped, clipped_bound)
                         if (math.isfinite(v) and v > 0) or math.isfinite(b)]
                foot += " \u03b2 of exactly 0 or 1 clipped before the M-value transform: " + "; ".join(parts) + "."
            else:
                foot += " No \u03b2 of exactly 0 or 1 (none clipped before the M-value transform)."
        _foot(fig, foot, width)
        _title(fig, title, width)
        _freeze_layout(fig)
    return fig


# ------------------------------------------------------- 4. epigenetic clock coverage
def clock_display_name(clock: str) -> str:
    """'Knight et al. 2016' for 'knight2016' (any other 'name2020' -> 'Name 2020')."""
    if clock in CLOCK_NAMES:
        return CLOCK_NAMES[clock]
    m = re.fullmatch(r"([a-z]+)(\d{4})", clock)
    return f"{m.group(1).capitalize()} {m.group(2)}" if m else clock


_AGE_NAMES = {"gestational_age": "gestational age", "maternal_age": "maternal age"}


def clock_coverage_figure(
    table: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    width: str | float = "single",
    title: str | None = None,
    min_cell: int = MIN_CELL,
) -> Figure:
    """Share of the clock's CpGs measured per cohort, and the clock's agreement.

    Top panel: one 100 % bar per cohort split into the clock CpGs measured in at least
    80 % of the samples (``n_measured``), present in fewer (``n_present − n_measured``)
    and absent from the data (``n_cpgs − n_present``); the tick label gives
    measured/total. Bottom panel (when the table has ``mae``): the mean absolute error
    and the median difference (DNAm − clinical) of the clock's age against the clinical
    age, in the clock's unit, with Pearson r and n in the tick label; not drawn for a
    cohort with fewer than 5 participants.
    """
    _need_frame(table, "the epigenetic age QC table", "clock_coverage_figure")
    _need_columns(table, ["clock", "n_cpgs", "n_present", "n_measured"], "epigenetic age QC table",
                  "results/qc/epigenetic_age.tsv has cohort, clock, n_cpgs, n_present, n_measured, ...")
    cohort = _cohort_column(table)
    cohorts = _sorted_cohorts(cohort.unique())
    rows = {c: i for i, c in enumerate(cohort)}
    total = _numbers(table["n_cpgs"], "n_cpgs")
    present = _numbers(table["n_present"], "n_present")
    measured = _numbers(table["n_measured"], "n_measured")
    clocks = table["clock"].astype(str).tolist()
    agreement = "mae" in table.columns or "median_difference" in table.columns
    mae, med = _optional_numbers(table, "mae"), _optional_numbers(table, "median_difference")
    r = _optional_numbers(table, "r")
    if "n" in table.columns:
        n, n_bound, n_text = _counts(table["n"])
    else:
        n, n_bound, n_text = np.full(len(table), np.nan), np.full(len(table), np.nan), ["NA"] * len(table)
    unit = str(table["unit"].dropna().iloc[0]) if "unit" in table.columns and table["unit"].notna().any() else ""
    clinical = (str(table["clinical_age"].dropna().iloc[0]) if "clinical_age" in table.columns
                and table["clinical_age"].notna().any() else "")
    clinical = _AGE_NAMES.get(clinical, _pretty(clinical)) or "age"
    one_clock = len(set(clocks)) == 1
    parts = (("measured in \u2265 80% of samples", OKABE_ITO[5], None),
             ("present in < 80%", OKABE_ITO[1], None),
             ("absent from the data", "white", "//////"))
    k = max(len(cohorts), 1)
    height = 34.0 + k * 7.5 + ((16.0 + k * 7.5) if agreement else 0.0)

    with journal_style():
        fig = new_figure(width, height)
        grid = fig.add_gridspec(4 if agreement else 2, 1,
                                height_ratios=[0.001, 1.0, 0.001, 1.0] if agreement else [0.001, 1.0])
        ax = fig.add_subplot(grid[1, 0])
        style_axes(ax)
        ticks = []
        for yi, c in enumerate(cohorts):
            i = rows[c]
            name = label_for(c, labels) + ("" if one_clock else f", {clock_display_name(clocks[i])}")
            if not (math.isfinite(total[i]) and total[i] > 0):
                ticks.append(f"{name}\nno clock CpGs")
                continue
            shares = 100.0 * np.array([measured[i], present[i] - measured[i], total[i] - present[i]]) / total[i]
            left = 0.0
            for (what, colour, hatch), share in zip(parts, shares):
                if share > 0:
                    ax.barh(yi, share, left=left, height=0.6, color=colour, edgecolor=GREY if hatch else colour,
                            hatch=hatch, linewidth=0.5, zorder=2, gid=f"clock-cpgs-{what.split()[0]}-{c}")
                left += share
            ticks.append(f"{name}\n{format_count(measured[i])}/{format_count(total[i])} measured")
        ax.set_xlim(0, 100)
        ax.set_ylim(k - 0.5, -0.5)
        ax.set_yticks(range(k), ticks, linespacing=1.1)
        ax.tick_params(axis="y", length=0)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        n_total = format_range([total[rows[c]] for c in cohorts])
        head = f"the {clock_display_name(clocks[0])} clock" if one_clock and clocks else "each clock"
        ax.set_xlabel(_wrap(f"CpGs of {head} (% of its {n_total})", 56 if _width_mm(width) < 100 else 110))
        _legend_row(fig.add_subplot(grid[0, 0]), [
            Patch(facecolor=colour, edgecolor=GREY if hatch else colour, hatch=hatch, label=what)
            for what, colour, hatch in parts], 2)
        if agreement:
            ax_agree = fig.add_subplot(grid[3, 0])
            style_axes(ax_agree)
            ax_agree.axvline(0, color=LIGHT_GREY, lw=0.6, zorder=1)
            xs, ticks = [], []
            for yi, c in enumerate(cohorts):
                i = rows[c]
                r_text = f"r = {format_number(r[i], 2)}" if math.isfinite(r[i]) else "r = NA"
                n_line = f"n<{n_text[i].lstrip('<')}" if n_text[i].startswith("<") else f"n = {n_text[i]}"
                ticks.append(f"{label_for(c, labels)}\n{r_text}, {n_line}")
                if math.isfinite(n_bound[i]) or (math.isfinite(n[i]) and n[i] < min_cell):
                    continue
                if math.isfinite(mae[i]):
                    ax_agree.plot(mae[i], yi - 0.12, "o", color=OKABE_ITO[5], ms=3.8, zorder=3, gid=f"clock-mae-{c}")
                    xs.append(mae[i])
                if math.isfinite(med[i]):
                    ax_agree.plot(med[i], yi + 0.12, "D", color=OKABE_ITO[6], mfc="white", mew=0.9, ms=3.4, zorder=3,
                                  gid=f"clock-median-difference-{c}")
                    xs.append(med[i])
            lo, hi = min(xs + [0.0]), max(xs + [0.0])
            pad = max(hi - lo, 0.1) * 0.2
            ax_agree.set_xlim(lo - pad, hi + pad)
            ax_agree.set_ylim(k - 0.5, -0.5)
            ax_agree.set_yticks(range(k), ticks, linespacing=1.1)
            ax_agree.tick_params(axis="y", length=0)
            ax_agree.xaxis.set_major_locator(MaxNLocator(5))
            ax_agree.set_xlabel(f"DNAm \u2212 clinical {clinical} ({unit or 'clock unit'})")
            _legend_row(fig.add_subplot(grid[2, 0]), [
                Line2D([], [], ls="none", marker="o", color=OKABE_ITO[5], ms=3.8, label="mean absolute error"),
                Line2D([], [], ls="none", marker="D", color=OKABE_ITO[6], mfc="white", mew=0.9, ms=3.4,
                       label="median difference")], 2)
        _foot(fig, "Clock CpGs measured in < 80% of samples or absent are filled in as set by "
                   "preparation.epigenetic_age.impute (reference medians or cohort means); a clock run on few "
                   f"measured CpGs predicts the reference profile. r: Pearson correlation of DNAm and clinical "
                   f"{clinical}.", width)
        _title(fig, title, width)
        _freeze_layout(fig)
    return fig


# ------------------------------------------------------------- 5. microbiome filters
def microbiome_filters(
    table: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    width: str | float = "single",
    title: str | None = None,
    min_cell: int = MIN_CELL,
) -> Figure:
    """Sequencing depth against the depth filter, and what the two filters removed.

    Three panels, one row per cohort:

    * sequencing depth (reads per sample, log axis): box of the quartiles
      (``depth_q1``–``depth_q3``) with the median, whiskers at the 5th and 95th
      percentiles where the cohort has at least 20 samples; the median only when the
      table has no quartiles; dashed line at ``min_depth``;
    * samples kept and removed by the depth filter (stacked counts);
    * taxa kept and removed by the prevalence filter (present in < ``min_prevalence`` of
      the samples kept), naming chosen taxa that were removed.

    A suppressed count ("<5") is not drawn; it is written beside the bar.
    """
    _need_frame(table, "the microbiome QC table", "microbiome_filters")
    _need_columns(table, ["n_samples_kept", "n_samples_removed", "n_taxa_kept", "n_taxa_removed"],
                  "microbiome QC table", "results/qc/microbiome.tsv has cohort, n_samples_in, n_samples_removed, "
                  "n_samples_kept, n_taxa_in, n_taxa_removed, n_taxa_kept, min_depth, min_prevalence, ...")
    cohort = _cohort_column(table)
    cohorts = _sorted_cohorts(cohort.unique())
    rows = {c: i for i, c in enumerate(cohort)}
    palette = cohort_colours(cohorts)
    kept, kept_bound, kept_text = _counts(table["n_samples_kept"])
    removed, removed_bound, removed_text = _counts(table["n_samples_removed"])
    n_in, _, _ = _counts(table["n_samples_in"]) if "n_samples_in" in table.columns else (
        kept + removed, None, None)
    taxa_kept, taxa_kept_bound, taxa_kept_text = _counts(table["n_taxa_kept"])
    taxa_removed, taxa_removed_bound, taxa_removed_text = _counts(table["n_taxa_removed"])
    depth = {q: _optional_numbers(table, col) for q, col in (
        ("med", "median_depth"), ("q1", "depth_q1"), ("q3", "depth_q3"), ("p05", "depth_p05"), ("p95", "depth_p95"))}
    min_depth = _optional_numbers(table, "min_depth")
    min_prev = _optional_numbers(table, "min_prevalence")
    chosen = (table["chosen_taxa_removed"].fillna("").astype(str).tolist()
              if "chosen_taxa_removed" in table.columns else [""] * len(table))
    k = max(len(cohorts), 1)
    ticks = [label_for(c, labels) for c in cohorts]
    height = 30.0 + 3 * (12.0 + k * 6.0)
    depth_cut = format_range(min_depth) if np.isfinite(min_depth).any() else None
    prev_cut = (format_number(100 * np.nanmax(min_prev), 2) + "%") if np.isfinite(min_prev).any() else None

    with journal_style():
        fig = new_figure(width, height)
        ax_depth, ax_samples, ax_taxa = fig.subplots(3, 1)
        for ax in (ax_depth, ax_samples, ax_taxa):
            style_axes(ax)
            ax.set_ylim(k - 0.5, -0.5)
            ax.set_yticks(range(k), ticks)
            ax.tick_params(axis="y", length=0)

        # depth
        ax_depth.set_xscale("log")
        values, small_cohorts = [], []
        whiskers_any = False
        for yi, c in enumerate(cohorts):
            i = rows[c]
            if math.isfinite(n_in[i]) and n_in[i] < min_cell:
                small_cohorts.append(yi)
                continue
            med, q1, q3, p05, p95 = (depth[q][i] for q in ("med", "q1", "q3", "p05", "p95"))
            colour = palette[c]
            if all(math.isfinite(v) and v > 0 for v in (med, q1, q3)):
                whisk = (math.isfinite(n_in[i]) and n_in[i] >= MIN_POINTS and math.isfinite(p05)
                         and math.isfinite(p95) and p05 > 0)
                whiskers_any |= whisk
                st = dict(med=med, q1=q1, q3=q3, whislo=p05 if whisk else q1, whishi=p95 if whisk else q3,
                          fliers=[], label=c)
                ax_depth.bxp([st], positions=[yi], widths=0.5, orientation="horizontal", patch_artist=True,
                             showfliers=False,
                             showcaps=whisk, manage_ticks=False,
                             boxprops=dict(facecolor=mpl.colors.to_rgba(colour, 0.35), edgecolor=colour,
                                           linewidth=0.8),
                             medianprops=dict(color="black", linewidth=1.1),
                             whiskerprops=dict(color=colour, linewidth=0.8), capprops=dict(color=colour,
                                                                                          linewidth=0.8))
                values += [st["whislo"], st["whishi"]]
            elif math.isfinite(med) and med > 0:
                ax_depth.plot(med, yi, "|", color="black", ms=8, mew=1.4, gid=f"depth-median-{c}")
                values.append(med)
            else:  # privacy.protect_quantiles: too few samples on each side of every quantile
                small_cohorts.append(yi)
        for patch in ax_depth.patches:
            patch.set_gid("depth-box")
        cuts = [v for v in min_depth if math.isfinite(v) and v > 0]
        for cut in sorted(set(cuts)):
            ax_depth.axvline(cut, color=GREY, ls="--", lw=0.8, zorder=1, gid="min-depth-line")
        if values or cuts:
            lo, hi = min(values + cuts), max(values + cuts)
            ax_depth.set_xlim(lo / 1.6, hi * 1.6)
        for yi in small_cohorts:
            ax_depth.text(0.01, yi, f"not shown: fewer than {min_cell} samples (on each side of a quantile)",
                          transform=ax_depth.get_yaxis_transform(), va="center", ha="left", color=GREY, fontsize=SMALL_FONT_SIZE - 0.5)
        ax_depth.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax_depth.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_count(v)))
        ax_depth.xaxis.set_minor_formatter(NullFormatter())
        ax_depth.set_xlabel("Sequencing depth (reads per sample, log scale)")
        whisk_text = (f"whiskers: 5th\u201395th percentiles (cohorts of \u2265 {MIN_POINTS} samples)"
                      if whiskers_any else "no whiskers")

        # samples / taxa: stacked kept + removed
        def stacked(ax, kept, kept_bound, kept_text, removed, removed_bound, removed_text, what, gid):
            top = 0.0
            notes = []
            for yi, c in enumerate(cohorts):
                i = rows[c]
                left = 0.0
                shown = kept[i]
                if not math.isfinite(shown) and kept_text[i].startswith(">"):  # drawn at its lower bound
                    shown = float(kept_text[i][1:])
                if math.isfinite(shown):
                    ax.barh(yi, shown, height=0.6, color=palette[c], linewidth=0, zorder=2,
                            gid=f"{gid}-kept-{c}")
                    left = shown
                if math.isfinite(removed[i]) and removed[i] > 0:
                    ax.barh(yi, removed[i], left=left, height=0.6, color=_REMOVED, edgecolor=GREY,
                            hatch="//////", linewidth=0.5, zorder=2, gid=f"{gid}-removed-{c}")
                top = max(top, left + (removed[i] if math.isfinite(removed[i]) else 0.0))
                k_text = _count_text(kept_bound[i], kept_text[i])
                r_text = _count_text(removed_bound[i], removed_text[i])
                notes.append((yi, left + (removed[i] if math.isfinite(removed[i]) else 0.0),
                              f"{k_text} kept, {r_text} removed"))
            right = max(top, 1.0) * 1.7
            for yi, x, text in notes:
                ax.text(x + right * 0.015, yi, text, va="center", ha="left", fontsize=SMALL_FONT_SIZE - 0.5)
            ax.set_xlim(0, right)
            ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
            ax.set_xlabel(_wrap(what, 48 if _width_mm(width) < 100 else 90))

        stacked(ax_samples, kept, kept_bound, kept_text, removed, removed_bound, removed_text,
                "Samples (n), depth filter" + (f": \u2265 {depth_cut} reads" if depth_cut else ""), "samples")
        stacked(ax_taxa, taxa_kept, taxa_kept_bound, taxa_kept_text, taxa_removed, taxa_removed_bound,
                taxa_removed_text,
                "Taxa (n), prevalence filter" + (f": present in \u2265 {prev_cut} of the samples kept"
                                                 if prev_cut else ""), "taxa")
        handles = [Patch(facecolor=LIGHT_GREY, edgecolor=LIGHT_GREY, label="kept (colour: cohort)"),
                   Patch(facecolor=_REMOVED, edgecolor=GREY, hatch="//////", label="removed by the filter")]
        if cuts:
            handles.insert(0, Line2D([], [], color=GREY, ls="--", lw=0.8, label=f"minimum depth ({depth_cut} reads)"))
        _legend_top(ax_depth, handles, 2)
        dropped = [f"{label_for(c, labels)}: {chosen[rows[c]]}" for c in cohorts if chosen[rows[c]].strip()]
        foot = (f"Depth (all samples, before the filter): box, median and interquartile range; {whisk_text}. "
                f"Counts below {min_cell} are suppressed (\u201c<{min_cell}\u201d) and not drawn. "
                + ("Chosen taxa removed by the prevalence filter (no CLR value): " + "; ".join(dropped) + "."
                   if dropped else "No chosen taxon was removed by the prevalence filter."))
        _foot(fig, foot, width)
        _title(fig, title, width)
        _freeze_layout(fig)
    return fig


# ----------------------------------------------------------- 6. generic fallback
def _median_columns(table: pd.DataFrame):
    """(median, q1, q3, unit from the suffix) columns of a summary table, or None."""
    if "median" in table.columns:
        return "median", ("q1" if "q1" in table.columns else None), ("q3" if "q3" in table.columns else None), None
    for col in table.columns:
        m = re.fullmatch(r"median_(\w+)", str(col))
        if m:
            suffix = m.group(1)
            q1, q3 = f"q1_{suffix}", f"q3_{suffix}"
            return (col, q1 if q1 in table.columns else None, q3 if q3 in table.columns else None,
                    _SUFFIX_UNITS.get(suffix, _pretty(suffix)))
    return None


def measure_summary(
    table: pd.DataFrame,
    *,
    name_col: str | None = None,
    unit: str | None = None,
    labels: Mapping[str, str] | None = None,
    name_labels: Mapping[str, str] | None = None,
    width: str | float | None = None,
    title: str | None = None,
    min_cell: int = MIN_CELL,
) -> Figure:
    """Generic QC figure of a per-measure QC table: median and IQR per measure and cohort.

    ``table`` has ``cohort``, a name column (``measure``, ``marker``, ... see
    :data:`NAME_COLUMNS`, or ``name_col``) and ``n``; with ``median`` (or
    ``median_<unit>``) and optionally ``q1``/``q3`` it is drawn as one small panel per
    measure (its own axis and unit: the table's ``unit`` column, the column suffix or
    ``unit``; its title the ``label`` column or ``name_labels``), a point at the median
    and a line over the IQR per cohort, n (and the number missing) beside it.
    Groups of fewer than 5 (or a suppressed n) are not drawn. A table without a median
    is drawn as the number of values per measure and cohort (and % missing when it has
    ``n_missing``).
    """
    _need_frame(table, "a per-measure QC table", "measure_summary")
    name_col = name_column(table, name_col)
    _need_columns(table, ["n"], "QC table")
    cohort = _cohort_column(table)
    names = table[name_col].astype(str)
    measures = _ordered(names)
    cohorts = _sorted_cohorts(cohort.unique())
    palette, shapes = cohort_colours(cohorts), cohort_markers(cohorts)
    rows = {(c, m): i for i, (c, m) in enumerate(zip(cohort, names))}
    n, _, n_text = _counts(table["n"])
    spec = _median_columns(table)
    k = max(len(cohorts), 1)
    if spec is None:
        return _count_bars(table, measures, cohorts, rows, n, n_text, cohort, palette, labels, name_labels,
                           width or "single", title, min_cell)
    med_col, q1_col, q3_col, suffix_unit = spec
    has_missing = "n_missing" in table.columns
    _, missing_bound, missing_text = _counts(table["n_missing"]) if has_missing else (None, None, None)
    med = _numbers(table[med_col], med_col)
    q1 = _optional_numbers(table, q1_col) if q1_col else np.full(len(table), np.nan)
    q3 = _optional_numbers(table, q3_col) if q3_col else np.full(len(table), np.nan)
    if "label" in table.columns:  # e.g. the CNS QC table carries each measure's declared label
        declared = {str(m): str(lab) for m, lab in zip(names, table["label"]) if isinstance(lab, str) and lab}
        name_labels = {**declared, **(name_labels or {})}
    units = {}
    for m in measures:
        given = None
        if "unit" in table.columns:
            vals = table.loc[(names == m).to_numpy(), "unit"].dropna().astype(str)
            given = vals.iloc[0] if len(vals) else None
        units[m] = given or suffix_unit or unit or "unit as reported"
    ncols = 1 if len(measures) <= 1 else (2 if len(measures) <= 4 else 3)
    width = width or ("single" if ncols == 1 else "double")
    nrows = max(1, math.ceil(len(measures) / ncols))
    height = 26.0 + nrows * (15.0 + k * 5.0)

    with journal_style():
        fig = new_figure(width, height)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in axes[len(measures):]:
            ax.set_visible(False)
        for ax, m in zip(axes, measures):
            style_axes(ax)
            xs = []
            for yi, c in enumerate(cohorts):
                i = rows.get((c, m))
                if i is None:
                    continue
                ok = math.isfinite(n[i]) and n[i] >= min_cell and math.isfinite(med[i])
                if ok:
                    if math.isfinite(q1[i]) and math.isfinite(q3[i]):
                        ax.plot([q1[i], q3[i]], [yi, yi], color=palette[c], lw=2.2, solid_capstyle="butt",
                                zorder=2, gid=f"summary-iqr-{c}-{m}")
                        xs += [q1[i], q3[i]]
                    ax.plot(med[i], yi, shapes[c], color="black", mfc="white", mew=0.9, ms=3.6, zorder=3,
                            gid=f"summary-median-{c}-{m}")
                    xs.append(med[i])
                text = f"n<{n_text[i].lstrip('<')}" if n_text[i].startswith("<") else f"n={n_text[i]}"
                if has_missing:
                    text += f"\n{_count_text(missing_bound[i], missing_text[i])} missing"
                ax.text(1.01, yi, text, transform=ax.get_yaxis_transform(), va="center", ha="left",
                        fontsize=SMALL_FONT_SIZE - 1, linespacing=1.0, color="black" if ok else GREY)
            if xs:
                lo, hi = min(xs), max(xs)
                pad = (hi - lo) * 0.15 or abs(hi) * 0.1 or 1.0
                ax.set_xlim(lo - pad, hi + pad)
            else:
                ax.text(0.5, 0.5, f"not shown (n < {min_cell})", transform=ax.transAxes, ha="center", va="center",
                        color=GREY, fontsize=SMALL_FONT_SIZE)
            ax.set_ylim(k - 0.5, -0.5)
            ax.set_yticks(range(k), [label_for(c, labels) for c in cohorts])
            ax.tick_params(axis="y", length=0)
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.set_xlabel(_wrap(f"Median (IQR), {units[m]}", 40))
            ax.set_title(_wrap(label_for(m, name_labels) if name_labels and m in name_labels else _pretty(m), 40),
                         loc="left", fontsize=FONT_SIZE, fontweight="normal")
        if not measures:
            _no_data(axes[0])
        _foot(fig, f"Point: median; line: interquartile range (summaries only; a quantile only where at least "
                   f"{min_cell} values lie on each side of it); groups of fewer than {min_cell} are not drawn.", width)
        _title(fig, title, width)
        _freeze_layout(fig)
    return fig


def _count_bars(table, measures, cohorts, rows, n, n_text, cohort, palette, labels, name_labels, width, title,
                min_cell: int = MIN_CELL):
    """Fallback of :func:`measure_summary` for a table without medians: n per measure."""
    k = max(len(cohorts), 1)
    h = 0.8 / k
    missing, missing_bound, _ = (_counts(table["n_missing"]) if "n_missing" in table.columns
                                 else (np.full(len(table), np.nan), np.full(len(table), np.nan), None))
    with journal_style():
        fig = new_figure(width, 24.0 + max(len(measures), 1) * (k * 3.4 + 2.0))
        ax = fig.add_subplot(1, 1, 1)
        style_axes(ax)
        top, notes = 0.0, []
        for mi, m in enumerate(measures):
            for ci, c in enumerate(cohorts):
                i = rows.get((c, m))
                if i is None:
                    continue
                y = mi + (ci - (k - 1) / 2) * h
                if math.isfinite(n[i]):
                    ax.barh(y, n[i], height=h * 0.9, color=palette[c], linewidth=0, zorder=2,
                            gid=f"count-bar-{c}-{m}")
                    top = max(top, n[i])
                text = n_text[i]
                if "n_missing" in table.columns:
                    total = n[i] + missing[i] if math.isfinite(missing[i]) else n[i]
                    text += ", " + _share_text(missing[i], missing_bound[i], total) + " missing"
                notes.append((n[i] if math.isfinite(n[i]) else 0.0, y, text))
        right = max(top, 1.0) * 1.45
        for x, y, text in notes:
            ax.text(x + right * 0.012, y, text, va="center", ha="left", fontsize=SMALL_FONT_SIZE - 0.5)
        ax.set_xlim(0, right)
        ax.set_ylim(max(len(measures), 1) - 0.5, -0.5)
        ax.set_yticks(range(len(measures)), [_wrap(label_for(m, name_labels), 22) for m in measures])
        ax.tick_params(axis="y", length=0)
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.set_xlabel("Values (n)")
        if not measures:
            _no_data(ax)
        _legend_above(ax, _cohort_handles(cohorts, palette, labels), min(k, 3))
        _foot(fig, f"Number of values per measure and cohort; counts below {min_cell} suppressed.", width)
        _title(fig, title, width)
        _freeze_layout(fig)
    return fig


# ------------------------------------------------------------ the registry
def _hpa_windows(table, *, settings, labels, name, min_cell):
    return cortisol_by_window(table, windows=list(settings["windows"]), labels=labels,
                              title="Hair cortisol by exposure window", min_cell=min_cell)


def _calibrator(table, *, settings, labels, name, min_cell):
    del min_cell  # plates of calibrator samples: no participant counts
    return calibrator_control_chart(table, labels=labels, title="Inter-run calibrator per plate")


def _mtdna_calibrator(table, *, settings, labels, name, min_cell):
    del min_cell  # plates of calibrator samples: no participant counts
    return qpcr_control_chart(table, ratio_column="calibrator_mt_n", ratio_label="Calibrator mt/n",
                              delta_label="Calibrator \u0394Ct, mt \u2212 nuclear", labels=labels,
                              title="Inter-run calibrator per plate (mtDNA qPCR)")


def _below_limit(table, *, settings, labels, name, min_cell):
    markers = table[name_column(table)].astype(str).unique() if len(table) else []
    return below_limit_bars(table, max_pct=settings.get("lod_max_pct"), labels=labels,
                            name_labels=marker_labels(markers), title=f"{name}: values below the detection limit",
                            min_cell=min_cell)


def _cpgs(table, *, settings, labels, name, min_cell):
    return cpg_summary(table, labels=labels, title=f"{name}: \u03b2 per CpG", min_cell=min_cell)


def _clock(table, *, settings, labels, name, min_cell):
    return clock_coverage_figure(table, labels=labels, title=f"{name}: clock CpGs and agreement", min_cell=min_cell)


def _microbiome(table, *, settings, labels, name, min_cell):
    return microbiome_filters(table, labels=labels, title=f"{name}: depth and filters", min_cell=min_cell)


def _summary(table, *, settings, labels, name, min_cell):
    return measure_summary(table, labels=labels, title=f"{name}: QC summary", min_cell=min_cell)


#: QC figure kind -> how it is drawn from a mechanism's QC table. A mechanism declares its
#: kind as ``QC_FIGURE`` in its module (first1000.mechanisms); one that declares none gets
#: ``measure_summary``, the median and IQR of every measure of its QC table per cohort.
QC_FIGURES = {
    "cortisol_by_window": _hpa_windows,
    "calibrator_control_chart": _calibrator,
    "mtdna_control_chart": _mtdna_calibrator,
    "below_limit_bars": _below_limit,
    "cpg_summary": _cpgs,
    "clock_coverage": _clock,
    "microbiome_filters": _microbiome,
    "measure_summary": _summary,
}


def draw_qc_figure(kind: str, table: pd.DataFrame, *, mechanism: str, settings: Mapping, labels: Mapping,
                   name: str, min_cell: int = MIN_CELL) -> Figure:
    """The QC figure of kind ``kind`` (:data:`QC_FIGURES`) of one mechanism's QC table;
    ``settings``: its ``preparation`` settings, ``labels``: cohort labels, ``name``: its label,
    ``min_cell``: ``privacy.min_cell_size``, the threshold the table was suppressed with."""
    if kind not in QC_FIGURES:
        raise InputTableError(f"mechanism {mechanism} declares the QC figure {kind!r}, which does not exist; "
                              f"known: {', '.join(QC_FIGURES)}")
    try:
        return QC_FIGURES[kind](table, settings=settings, labels=labels, name=name, min_cell=min_cell)
    except First1000Error as exc:
        if kind != "measure_summary":
            raise
        raise First1000Error(f"no QC figure can be drawn for mechanism {mechanism}: {exc}") from exc
