"""Mechanism-specific figures, each drawn from one result table: adjusted scatter, hair
cortisol by window, qPCR calibrator control chart, metabolite volcano plot and biomarker
correlation heatmap.

Every function takes one table and returns a :class:`matplotlib.figure.Figure` in the
house style of :mod:`first1000.figures.style` (Okabe–Ito colours, journal column width,
7 pt text); write it with :func:`~first1000.figures.style.save_figure` for
byte-identical PNG/SVG/PDF files. Only the columns a figure needs are read, so an ID
column in the table can never reach the figure.

Privacy rules shared by all functions here (health data, see ``privacy.min_cell_size``):

* no individual data point is ever drawn: :func:`scatter_adjusted` draws binned means ±
  SE (bins of at least ``privacy.min_cell_size`` participants, computed by the analysis
  job, :mod:`first1000.analysis.descriptive`) and :func:`cortisol_by_window` draws
  summaries only (median, IQR; whiskers for groups of at least :data:`MIN_POINTS`);
* a summary of fewer than ``min_cell`` (``privacy.min_cell_size``) participants is not drawn at all, and counts
  suppressed upstream as ``"<5"`` are shown as such (a percentage is never printed
  when it would give a suppressed count away);
* correlations computed on fewer than ``min_n`` (``privacy.min_cell_size``) pairs are suppressed.

Which table each function reads (columns in ``backticks`` are required):

=========================  ==============================================================
:func:`scatter_adjusted`   ``results/descriptives/{mechanism}_fits.tsv``
                           (:func:`first1000.analysis.descriptive.adjusted_fit_table`)
:func:`cortisol_by_window` ``results/qc/hpa.tsv`` (``cohort``, ``window``, ``n``,
                           ``median_pg_mg``, ``q1_pg_mg``, ``q3_pg_mg``; optional
                           ``p05_pg_mg``/``p95_pg_mg`` whiskers, ``n_below_loq``,
                           ``pct_below_loq``, ``cm_from_scalp`` or
                           ``gestational_weeks``)
:func:`calibrator_control_chart`
                           ``results/qc/telomeres.tsv`` (``plate``, the calibrator column,
                           default ``calibrator_dct``; optional ``cohort``,
                           ``run_order``, ``calibrator_passed_qc``,
                           ``calibrator_cv_pct_cohort``)
:func:`volcano_plot`       association contract (``response``, ``estimate``, ``p``,
                           ``q``; optional ``cohort``, ``predictor``, ``unit``,
                           ``status``)
:func:`correlation_heatmap`
                           ``results/descriptives/{mechanism}_correlations.tsv``, the
                           long table of
                           :func:`first1000.analysis.descriptive.biomarker_correlations`
                           (``biomarker_1``, ``biomarker_2``, ``rho``; optional ``n``,
                           ``suppressed``, ``cohort``) or a square correlation matrix
=========================  ==============================================================
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from first1000.errors import InputTableError
from first1000.figures import style as _style
from first1000.figures.style import (
    FONT_SIZE,
    GREY,
    LIGHT_GREY,
    LINE_WIDTH,
    OKABE_ITO,
    PNG_DPI,
    SMALL_FONT_SIZE,
    _sorted_cohorts,
    _width_mm,
    cohort_colours,
    cohort_markers,
    contract_table,
    format_count,
    format_number,
    journal_style,
    label_for,
    new_figure,
    style_axes,
)

__all__ = [
    "MIN_CELL",
    "DIVERGING_CMAP",
    "scatter_adjusted",
    "cortisol_by_window",
    "calibrator_control_chart",
    "volcano_plot",
    "correlation_heatmap",
]

#: The default of ``privacy.min_cell_size`` (the config schema's): the smallest group for
#: which a summary (mean, median, correlation, bin) is shown. Every function that
#: suppresses takes the configured value as ``min_cell`` (``min_n``); the figure stages
#: pass ``cfg["privacy"]["min_cell_size"]``.
MIN_CELL = 5
#: Smallest group whose individual points may be drawn.
MIN_POINTS = 20
#: Diverging colour map of the correlation heatmap: the style module's
#: ``DIVERGING_CMAP`` when it defines one (it does not yet), else ColorBrewer "PuOr"
#: (orange–white–purple). ColorBrewer rates PuOr colour-blind safe (Harrower & Brewer
#: 2003, Cartogr. J. 40:27): its arms differ in the blue–yellow direction and in
#: lightness, which protan, deutan and tritan viewers keep, and they echo the
#: orange/blue contrast of the Okabe–Ito palette. Maps with a red or green arm (RdBu,
#: RdYlGn, Spectral) are avoided: red darkens and red/green merge for red–green colour
#: blindness. The fixed range [−1, 1] keeps the white midpoint at ρ = 0.
DIVERGING_CMAP: str = getattr(_style, "DIVERGING_CMAP", "PuOr")

MINUS = "\u2212"
_SUPPRESSED = re.compile(r"^\s*<\s*(\d+(?:\.\d+)?)\s*$")
_LOWER_BOUND = re.compile(r"^\s*>\s*(\d+(?:\.\d+)?)\s*$")
_MISSING_FILL = "#EBEBEB"  # suppressed / missing heatmap cells


# ---------------------------------------------------------------------------- helpers
def _need_frame(table, what: str, func: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise InputTableError(f"{func} needs a pandas DataFrame ({what}), got {type(table).__name__}")


def _need_columns(table: pd.DataFrame, columns: Sequence[str], what: str, hint: str = "") -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputTableError(
            f"{what} lacks column(s) {', '.join(repr(c) for c in missing)}" + (f"; {hint}" if hint else "")
        )


def _counts(values: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Parse a count column that may hold suppressed cells ("<5").

    Returns (value as float, NaN when suppressed or missing; upper bound of a suppressed
    count, NaN otherwise; display text: "406", "<5" or "NA"). A lower bound (">306", the
    complement of a suppressed count) is NaN with that text.
    """
    vals, bounds, texts = [], [], []
    for v in values.tolist():
        if isinstance(v, str) and _LOWER_BOUND.match(v):  # ">306": the complement of a suppressed count
            vals.append(np.nan)
            bounds.append(np.nan)
            texts.append(v.strip())
            continue
        m = _SUPPRESSED.match(str(v)) if isinstance(v, str) else None
        if m:
            vals.append(np.nan)
            bounds.append(float(m.group(1)))
            texts.append(f"<{m.group(1)}")
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise InputTableError(f"count value {v!r} is neither a number nor a suppressed count like '<5'") from None
        vals.append(x)
        bounds.append(np.nan)
        texts.append("NA" if not math.isfinite(x) else format_count(x))
    return np.asarray(vals, float), np.asarray(bounds, float), texts


def _natural_key(text: object):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(text))]


def _axis_text(label: str, unit: str | None) -> str:
    return f"{label} ({unit})" if unit else label


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)) or text


def _fmt_pct(x: float) -> str:
    if not math.isfinite(x):
        return "NA"
    if x == 0:
        return "0%"
    if x < 0.1:
        return "<0.1%"
    return f"{x:.1f}%" if x < 10 else f"{x:.0f}%"


def _fmt_pct_bound(x: float) -> str:
    """An upper bound as a percentage, rounded up so that it stays an upper bound."""
    if x >= 10:
        return f"{math.ceil(x - 1e-9):.0f}%"
    return f"{math.ceil(x * 10 - 1e-9) / 10:.1f}%"


def _legend_above(ax, handles, ncols: int) -> None:
    """Legend in a block above the axes (inside the axes' layout box, so the constrained
    layout keeps it clear of the title and the plot)."""
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.02), borderaxespad=0.0,
              ncols=ncols, fontsize=SMALL_FONT_SIZE)


def _freeze_layout(fig: Figure) -> None:
    """Run the constrained layout to convergence at the PNG resolution, then fix it.

    The constrained layout moves axes again on a second draw when a legend or label sits
    outside the axes; freezing the converged positions makes every later save (and every
    save of an identical figure) byte-identical. The positions are rounded to 1e-9 of the
    figure: the layout solver (kiwisolver) can differ in the last bit from one process to
    the next, which the SVG's clip-path identifiers (hashes of the full-precision clip
    box) would show.
    """
    fig.set_dpi(PNG_DPI)
    for _ in range(3):
        fig.draw_without_rendering()
    fig.set_layout_engine("none")
    for ax in fig.axes:
        ax.set_position([round(float(v), 9) for v in ax.get_position(original=True).bounds], which="original")
        ax.set_position([round(float(v), 9) for v in ax.get_position().bounds], which="active")


def _set_title(fig: Figure, title: str | None) -> None:
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold")


# --------------------------------------------------------------- 1. adjusted scatter
def scatter_adjusted(
    fits: pd.DataFrame,
    exposure: str,
    biomarker: str,
    *,
    units: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
    width: str | float = "single",
    height_mm: float = 70.0,
    title: str | None = None,
    ci_level: float = 0.95,
    min_cell: int = MIN_CELL,
) -> Figure:
    """Biomarker against exposure by cohort, adjusted for covariates, with the fitted line.

    Draws the table of :func:`first1000.analysis.descriptive.adjusted_fit_table`
    (``results/descriptives/{mechanism}_fits.tsv``): per cohort, the exposure-quantile bins
    (mean of x; mean ± SE of the adjusted biomarker, at least ``privacy.min_cell_size``
    participants each) and the prediction at the covariate means over the bins' range with
    its ``ci_level`` band. A cohort with too few complete cases, or whose model is not
    estimable, is named in the foot. No participant's value is ever drawn.

    ``units`` maps the exposure and the biomarker (at least) to their units, e.g.
    ``{"epds": "points", "hair_cortisol_t3_ln": "ln pg/mg"}``; both are required so
    every axis carries a unit. ``labels`` gives human variable and cohort names.
    ``min_cell``: the ``privacy.min_cell_size`` the table was made with (named in the foot).
    """
    _need_frame(fits, "the adjusted-fit table", "scatter_adjusted")
    missing_units = [v for v in (exposure, biomarker) if not (units and str(units.get(v, "")).strip())]
    if missing_units:
        raise ValueError(f"scatter_adjusted: give the unit of {', '.join(map(repr, missing_units))} in units=")
    _need_columns(fits, ["cohort", "exposure", "biomarker", "covariates", "part", "x", "y", "se", "ci_low",
                         "ci_high", "n", "status"], "scatter_adjusted table")
    frame = fits[(fits.exposure.astype(str) == exposure) & (fits.biomarker.astype(str) == biomarker)]
    covariates = [c for c in str(frame.covariates.dropna().iloc[0]).split("+") if c] if \
        frame.covariates.notna().any() else []
    cohorts = _sorted_cohorts(frame.cohort.dropna())
    palette = cohort_colours(cohorts)
    if colours:
        palette.update({str(k): str(v) for k, v in colours.items()})
    markers = cohort_markers(cohorts)
    x_text = _axis_text(label_for(exposure, labels), units[exposure])
    y_text = _axis_text(label_for(biomarker, labels), units[biomarker])

    with journal_style():
        fig = new_figure(width, height_mm)
        ax = fig.add_subplot(1, 1, 1)
        style_axes(ax)
        handles, notes = [], []
        for cohort in cohorts:
            rows = frame[frame.cohort.astype(str) == cohort]
            summary = rows[rows.part == "cohort"].iloc[0]
            colour, marker = palette[cohort], markers[cohort]
            name = label_for(cohort, labels)
            if summary.status == "too_few":
                notes.append(f"{name}: n < {min_cell}, not shown")
                continue
            bins = rows[rows.part == "bin"]
            bx = bins.x.to_numpy(float)
            smallest = int(pd.to_numeric(bins.n, errors="coerce").min())
            ax.errorbar(bx, bins.y.to_numpy(float), yerr=bins.se.to_numpy(float), fmt=marker, color=colour,
                        mfc="white", mec=colour, ms=4, elinewidth=LINE_WIDTH, capsize=1.5, zorder=3,
                        gid=f"scatter-bins-{cohort}")
            legend = (f"{name} (n = {format_count(summary.n)}; "
                      f"{len(bins)} bins of \u2265{smallest}, mean \u00b1 SE)")
            line = rows[rows.part == "line"]
            if len(line):
                grid = line.x.to_numpy(float)
                ax.fill_between(grid, line.ci_low.to_numpy(float), line.ci_high.to_numpy(float), color=colour,
                                alpha=0.18, linewidth=0, zorder=1, gid=f"scatter-band-{cohort}")
                ax.plot(grid, line.y.to_numpy(float), color=colour, lw=1.1, zorder=4, gid=f"scatter-line-{cohort}")
            elif summary.status == "not_estimable":
                notes.append(f"{name}: adjusted model not estimable")
            handles.append(Line2D([], [], color=colour, marker=marker, lw=1.1, ms=3.5, mfc="white", label=legend))
        ax.set_xlabel(_wrap(x_text, 60))
        ax.set_ylabel(_wrap(f"{y_text}, adjusted", 45))
        cov_text = ", ".join(label_for(c, labels) for c in covariates) or "none"
        foot = (f"Adjusted for: {cov_text}. Line: prediction at covariate means, "
                f"{ci_level:.0%} CI band; points: partial residuals (bin means \u00b1 SE).")
        if notes:
            foot += " " + "; ".join(notes) + "."
        if handles:
            _legend_above(ax, handles, 2 if _width_mm(width) > 100 else 1)
        else:
            ax.text(0.5, 0.5, "No cohort with enough data to show", transform=ax.transAxes,
                    ha="center", va="center", color=GREY)
        fig.supxlabel(_wrap(foot, 95 if _width_mm(width) > 100 else 70), fontsize=SMALL_FONT_SIZE - 0.5,
                      color=GREY, x=0.01, ha="left")
        _set_title(fig, title)
        _freeze_layout(fig)
    return fig


# ----------------------------------------------------------- 2. cortisol by window
def _window_summary_from_qc(qc: pd.DataFrame) -> pd.DataFrame:
    _need_columns(qc, ["window", "n", "median_pg_mg", "q1_pg_mg", "q3_pg_mg"], "hair cortisol QC table",
                  "results/qc/hpa.tsv has cohort, window, n, n_below_loq, pct_below_loq, median_pg_mg, "
                  "q1_pg_mg, q3_pg_mg (optional whiskers p05_pg_mg, p95_pg_mg)")
    numeric = [c for c in ("median_pg_mg", "q1_pg_mg", "q3_pg_mg", "p05_pg_mg", "p95_pg_mg", "pct_below_loq")
               if c in qc.columns]
    cols = [c for c in ("cohort", "window", "cm_from_scalp", "gestational_weeks", "n", "n_below_loq")
            if c in qc.columns] + numeric
    df = contract_table(qc, cols, numeric, "hair cortisol QC")
    n, _, n_text = _counts(df["n"])
    out = pd.DataFrame({
        "cohort": df["cohort"].astype(str) if "cohort" in df else "all",
        "window": df["window"].astype(str),
        "n": n, "n_text": n_text,
        "median": df["median_pg_mg"], "q1": df["q1_pg_mg"], "q3": df["q3_pg_mg"],
        "p05": df["p05_pg_mg"] if "p05_pg_mg" in df else np.nan,
        "p95": df["p95_pg_mg"] if "p95_pg_mg" in df else np.nan,
        "pct_below": df["pct_below_loq"] if "pct_below_loq" in df else np.nan,
    })
    if "n_below_loq" in df:
        below, bound, _ = _counts(df["n_below_loq"])
    else:
        below, bound = np.full(len(df), np.nan), np.full(len(df), np.nan)
    out["n_below"], out["n_below_bound"] = below, bound
    for column, unit in _WINDOW_RANGES.items():  # the window's range, in cm or gestational weeks
        if column in df:
            out["range"], out["range_unit"] = df[column].astype(str), unit
            break
    return out


#: QC column with each window's range -> its unit under the window names.
_WINDOW_RANGES = {"cm_from_scalp": "cm", "gestational_weeks": "wk"}


def cortisol_by_window(
    table: pd.DataFrame,
    *,
    windows: Sequence[str] | None = None,
    window_labels: Mapping[str, str] | None = None,
    unit: str = "pg/mg",
    labels: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
    width: str | float = "single",
    height_mm: float = 70.0,
    title: str | None = None,
    min_whisker_n: int = MIN_POINTS,
    min_cell: int = MIN_CELL,
) -> Figure:
    """Hair cortisol (log axis) by exposure window and cohort, as box summaries.

    ``table`` is the HPA QC table ``results/qc/hpa.tsv``: ``cohort, window, n,
    median_pg_mg, q1_pg_mg, q3_pg_mg``, optional ``p05_pg_mg, p95_pg_mg`` (whiskers),
    ``n_below_loq`` (may hold "<5"), ``pct_below_loq``, ``cm_from_scalp`` (or
    ``gestational_weeks``, with ``preparation.hpa.timing: gestation``). The summaries are
    computed by the prepare job (:func:`first1000.mechanisms.hpa.prepare`); no value of a
    participant reaches the figure.

    Each box is median and interquartile range; whiskers are the 5th and 95th
    percentiles, drawn only for windows with at least ``min_whisker_n`` (≥ 20)
    participants. The QC table shows a quantile only where at least
    ``privacy.min_cell_size`` values lie on each side of it
    (:func:`first1000.privacy.protect_quantiles`: an interpolated 5th percentile of 21
    mothers was exactly the second lowest mother's value); a window without its quartiles
    gets no box, one without a 5th or 95th percentile no whisker. No individual points
    are drawn, whatever the n. Windows with fewer than 5 participants (or a suppressed
    n) get no box. Under each box: n and the share of samples below the LOQ; a
    suppressed count below LOQ is shown as an upper bound ("<1.2%") so it cannot be
    recovered from the percentage.

    Windows are ordered by ``windows`` or naturally by name (t1, t2, t3); tick labels
    are ``window_labels`` or the upper-cased name with the hair segment (cm from scalp) or
    the gestational weeks the window covers.
    """
    _need_frame(table, "the HPA QC table", "cortisol_by_window")
    if min_whisker_n < MIN_POINTS:
        raise ValueError(f"min_whisker_n must be at least {MIN_POINTS} (privacy), got {min_whisker_n}")
    if "median_pg_mg" not in table.columns:
        raise InputTableError("cortisol_by_window needs the HPA QC table (results/qc/hpa.tsv: window, n, "
                              "median_pg_mg, q1_pg_mg, q3_pg_mg)")
    summary = _window_summary_from_qc(table)

    # small counts (1-4) are shown as "<5", as in the project's report tables, and a
    # percentage below LOQ never gives a small count away
    small_n = np.isfinite(summary["n"]) & (summary["n"] > 0) & (summary["n"] < min_cell)
    summary.loc[small_n, "n_text"] = f"<{min_cell}"
    small_below = np.isfinite(summary["n_below"]) & (summary["n_below"] > 0) & (summary["n_below"] < min_cell)
    summary.loc[small_below, "n_below_bound"] = float(min_cell)
    summary.loc[small_below, ["n_below", "pct_below"]] = np.nan
    order = list(windows) if windows is not None else sorted(summary["window"].unique(), key=_natural_key)
    summary = summary[summary["window"].isin(order)]
    cohorts = _sorted_cohorts(summary["cohort"].unique())
    palette = cohort_colours(cohorts)
    if colours:
        palette.update({str(k): str(v) for k, v in colours.items()})
    k = len(cohorts)
    box_w = 0.8 / max(k, 1)
    by_key = {(r.cohort, r.window): r for r in summary.itertuples(index=False)}

    with journal_style():
        fig = new_figure(width, height_mm)
        ax = fig.add_subplot(1, 1, 1)
        style_axes(ax)
        ax.set_yscale("log")
        positions, tick_text, values = [], [], []
        any_whiskers = False
        for wi, window in enumerate(order):
            for ci, cohort in enumerate(cohorts):
                pos = wi + (ci - (k - 1) / 2) * box_w
                r = by_key.get((cohort, window))
                if r is None:
                    continue
                positions.append(pos)
                n = r.n
                if math.isfinite(r.n_below_bound) and math.isfinite(n) and n > 0:
                    below = f"<{_fmt_pct_bound(100 * r.n_below_bound / n)}"
                elif math.isfinite(r.n_below_bound):
                    below = f"<{int(r.n_below_bound)}"
                else:
                    below = _fmt_pct(r.pct_below)
                n_line = f"n<{r.n_text.lstrip('<')}" if r.n_text.startswith("<") else f"n={r.n_text}"
                if math.isfinite(n) and n == 0:
                    below = "\u2013"
                tick_text.append(f"{n_line}\n{below}")
                stats_ok = (math.isfinite(n) and n >= min_cell
                            and all(math.isfinite(v) and v > 0 for v in (r.median, r.q1, r.q3)))
                if not stats_ok:
                    continue
                whiskers = (n >= min_whisker_n and math.isfinite(r.p05) and math.isfinite(r.p95)
                            and r.p05 > 0)
                st = dict(med=r.median, q1=r.q1, q3=r.q3,
                          whislo=r.p05 if whiskers else r.q1, whishi=r.p95 if whiskers else r.q3,
                          fliers=[], label=cohort)
                values += [st["whislo"], st["whishi"]]
                any_whiskers |= whiskers
                colour = palette[cohort]
                ax.bxp([st], positions=[pos], widths=box_w * 0.75, patch_artist=True, showfliers=False,
                       showcaps=whiskers, manage_ticks=False,
                       boxprops=dict(facecolor=mpl.colors.to_rgba(colour, 0.35), edgecolor=colour,
                                     linewidth=0.8),
                       medianprops=dict(color="black", linewidth=1.1),
                       whiskerprops=dict(color=colour, linewidth=0.8),
                       capprops=dict(color=colour, linewidth=0.8))
        for artist in ax.patches:
            artist.set_gid("cortisol-box")
        if values:
            lo, hi = min(values), max(values)
            ax.set_ylim(lo / 1.35, hi * 1.35)
        else:
            ax.text(0.5, 0.5, "No window with enough data to show", transform=ax.transAxes,
                    ha="center", va="center", color=GREY)
            ax.set_ylim(1, 100)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        # per-box n / % below LOQ as major tick labels, windows as minor tick labels below
        ax.xaxis.remove_overlapping_locs = False
        ax.xaxis.set_major_locator(FixedLocator(positions))
        ax.set_xticklabels(tick_text, fontsize=SMALL_FONT_SIZE - 0.5, linespacing=1.0)
        ax.tick_params(axis="x", which="major", length=0, pad=1.5)
        ranges = {r.window: (r.range, r.range_unit) for r in summary.itertuples(index=False)
                  if hasattr(r, "range")}
        names = []
        for w in order:
            if window_labels and w in window_labels:
                names.append(window_labels[w])
            else:
                seg, seg_unit = ranges.get(w, (None, None))
                names.append(f"{w.upper()}" + (f"\n{seg.replace('-', chr(0x2013))} {seg_unit}" if seg else ""))
        ax.set_xticks(range(len(order)), names, minor=True)
        ax.tick_params(axis="x", which="minor", length=0, pad=2.0 * SMALL_FONT_SIZE + 5, labelsize=FONT_SIZE)
        ax.set_xlim(-0.6, len(order) - 0.4)
        gestation = "range_unit" in summary and (summary["range_unit"] == "wk").any()
        ax.set_xlabel("Exposure window (gestational weeks at hair growth)" if gestation
                      else "Exposure window (hair segment, cm from scalp)", labelpad=2)
        ax.set_ylabel(f"Hair cortisol ({unit}, log scale)")
        handles = [Patch(facecolor=mpl.colors.to_rgba(palette[c], 0.35), edgecolor=palette[c],
                         label=label_for(c, labels)) for c in cohorts]
        if k > 1:
            _legend_above(ax, handles, min(k, 4))
        whisk = (f"5th\u201395th percentiles (drawn when n \u2265 {min_whisker_n})" if any_whiskers
                 else "not drawn (no percentiles, or n < {})".format(min_whisker_n))
        fig.supxlabel(_wrap(f"Box: median and IQR; whiskers: {whisk}. Under each box: n; % of "
                            "samples below the LOQ.", 95 if _width_mm(width) > 100 else 70),
                      fontsize=SMALL_FONT_SIZE - 0.5, color=GREY, x=0.01, ha="left")
        _set_title(fig, title)
        _freeze_layout(fig)
    return fig


# ------------------------------------------------------- 3. calibrator control chart
_VALUE_DEFAULTS = {
    "calibrator_dct": ("Calibrator \u0394Ct", "cycles"),
    "calibrator_ts": ("Calibrator T/S", "ratio"),
    "calibrator_ct_telomere": ("Calibrator Ct, telomere", "cycles"),
    "calibrator_ct_single_copy": ("Calibrator Ct, single-copy gene", "cycles"),
}
_IN_CONTROL, _WARNING, _REJECT, _FAILED = "in control", "warning", "out of control", "failed QC"


def _as_bool(values: pd.Series) -> np.ndarray:
    def one(v):
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        s = str(v).strip().lower()
        if s in ("true", "1", "yes"):
            return True
        if s in ("false", "0", "no"):
            return False
        return True  # missing: not known to have failed
    return np.array([one(v) for v in values.tolist()], bool)


def calibrator_control_chart(
    plate_table: pd.DataFrame,
    *,
    value_col: str = "calibrator_dct",
    value_label: str | None = None,
    unit: str | None = None,
    order_col: str | None = None,
    labels: Mapping[str, str] | None = None,
    width: str | float = "single",
    panel_height_mm: float = 45.0,
    title: str | None = None,
) -> Figure:
    """Levey–Jennings chart of the qPCR inter-run calibrator, one point per plate.

    ``plate_table`` (``results/qc/telomeres.tsv``): ``plate`` and the calibrator value
    ``value_col`` (default ``calibrator_dct``, ΔCt in cycles; ``calibrator_ts`` for T/S);
    optional ``cohort`` (one panel per cohort), ``run_order`` (number or date giving the
    run sequence; else ``order_col``; else plates in natural name order, P2 before P10),
    ``calibrator_passed_qc`` (False: replicate QC of the calibrator failed) and
    ``calibrator_cv_pct_cohort`` (printed in the panel title).

    Centre line and limits are the mean and SD (ddof 1) of the cohort's plates whose
    calibrator passed QC (at least 3 plates, else no limits). Plates beyond ±3 SD are out
    of control (Westgard 1-3s rule, vermillion cross), between ±2 and ±3 SD a warning
    (1-2s, orange triangle), plates whose calibrator failed QC are hollow grey circles;
    the marker shape repeats the colour cue. The y axis carries ``value_label (unit)``,
    known for the default columns, otherwise ``unit`` is required.
    """
    _need_frame(plate_table, "the telomere plate QC table", "calibrator_control_chart")
    default_label, default_unit = _VALUE_DEFAULTS.get(value_col, (value_col, None))
    unit = unit or default_unit
    if not unit:
        raise ValueError(f"calibrator_control_chart: give unit= for the calibrator column {value_col!r}")
    value_label = value_label or default_label
    order_col = order_col or ("run_order" if "run_order" in plate_table.columns else None)
    _need_columns(plate_table, ["plate", value_col] + ([order_col] if order_col else []), "telomere plate QC table",
                  "results/qc/telomeres.tsv has cohort, plate, calibrator_dct, calibrator_passed_qc")
    cols = ["plate", value_col] + [c for c in ("cohort", "calibrator_passed_qc", "calibrator_cv_pct_cohort")
                                   if c in plate_table.columns]
    numeric = [value_col] + (["calibrator_cv_pct_cohort"] if "calibrator_cv_pct_cohort" in cols else [])
    df = contract_table(plate_table, cols, numeric, "telomere plate QC")
    if order_col:
        raw = plate_table[order_col].reset_index(drop=True)
        num = pd.to_numeric(raw, errors="coerce")
        if num.isna().any() and raw.notna().all():
            num = pd.to_datetime(raw, errors="coerce")
        if num.isna().any():
            raise InputTableError(f"telomere plate QC table column {order_col!r} must be numbers or dates")
        df["_order"] = num
    if "cohort" not in df:
        df["cohort"] = ""
    df["cohort"] = df["cohort"].astype(str)
    df["passed"] = _as_bool(df["calibrator_passed_qc"]) if "calibrator_passed_qc" in df else True
    cohorts = _sorted_cohorts(df["cohort"].unique())

    with journal_style():
        fig = new_figure(width, panel_height_mm * max(len(cohorts), 1) + 12.0)
        axes = fig.subplots(max(len(cohorts), 1), 1, squeeze=False)[:, 0]
        counts = {s: 0 for s in (_IN_CONTROL, _WARNING, _REJECT, _FAILED)}
        for ax, cohort in zip(axes, cohorts):
            style_axes(ax)
            sub = df[df["cohort"] == cohort].copy()
            if order_col:
                sub = sub.sort_values(["_order", "plate"], kind="stable")
            else:
                sub = sub.iloc[sorted(range(len(sub)), key=lambda i: _natural_key(sub["plate"].iloc[i]))]
            y = sub[value_col].to_numpy(float)
            passed = sub["passed"].to_numpy(bool)
            x = np.arange(1, len(sub) + 1)
            ref = y[passed & np.isfinite(y)]
            has_limits = len(ref) >= 3
            mean = float(ref.mean()) if has_limits else np.nan
            sd = float(ref.std(ddof=1)) if has_limits else np.nan
            z = (y - mean) / sd if has_limits and sd > 0 else np.zeros_like(y)
            state = np.where(~passed, _FAILED,
                             np.where(np.abs(z) > 3, _REJECT, np.where(np.abs(z) > 2, _WARNING, _IN_CONTROL)))
            state = np.where(np.isfinite(y), state, "missing")
            if has_limits:
                trans = blended_transform_factory(ax.transAxes, ax.transData)
                for k_sd, ls, colour in ((0, "-", GREY), (2, "--", OKABE_ITO[1]), (3, ":", OKABE_ITO[6])):
                    for sign in ((1,) if k_sd == 0 else (1, -1)):
                        level = mean + sign * k_sd * sd
                        ax.axhline(level, color=colour, lw=0.7, ls=ls, zorder=1,
                                   gid="control-mean" if k_sd == 0 else f"control-{k_sd}sd")
                        text = "mean" if k_sd == 0 else f"{'+' if sign > 0 else MINUS}{k_sd} SD"
                        ax.text(1.01, level, text, transform=trans, va="center", ha="left",
                                fontsize=SMALL_FONT_SIZE - 0.5, color=colour)
            ax.plot(x, y, color=LIGHT_GREY, lw=0.6, zorder=2)
            styles = {
                _IN_CONTROL: dict(marker="o", color=OKABE_ITO[5], mfc=OKABE_ITO[5], ms=3.0),
                _WARNING: dict(marker="^", color=OKABE_ITO[1], mfc=OKABE_ITO[1], ms=4.0),
                _REJECT: dict(marker="X", color=OKABE_ITO[6], mfc=OKABE_ITO[6], ms=5.0),
                _FAILED: dict(marker="o", color=GREY, mfc="white", ms=3.5),
            }
            for s, kw in styles.items():
                sel = state == s
                counts[s] += int(sel.sum())
                if sel.any():
                    ax.plot(x[sel], y[sel], ls="none", mew=0.7, zorder=3,
                            gid=f"control-{s.replace(' ', '-')}", **kw)
            plates = sub["plate"].astype(str).tolist()
            step = max(1, math.ceil(len(plates) / 30))
            ax.set_xticks(x[::step], plates[::step], rotation=90, fontsize=SMALL_FONT_SIZE - 1)
            ax.set_xlim(0.3, len(plates) + 0.7)
            ax.yaxis.set_major_locator(MaxNLocator(5))
            ax.set_ylabel(_wrap(_axis_text(value_label, unit), 28))
            head = label_for(cohort, labels) if cohort else ""
            head += (": " if head else "") + f"{len(plates)} plates"
            if "calibrator_cv_pct_cohort" in sub:
                cv = sub["calibrator_cv_pct_cohort"].dropna()
                if len(cv):
                    head += f", inter-run CV {format_number(cv.iloc[0])}%"
            if has_limits:
                head += f", mean {format_number(mean)} \u00b1 SD {format_number(sd)} {unit}"
            else:
                head += " (fewer than 3 plates passing QC: no control limits)"
            ax.set_title(_wrap(head, 48 if _width_mm(width) < 100 else 100), loc="left", fontsize=FONT_SIZE,
                         fontweight="normal")
        axes[-1].set_xlabel("Plate, in run order")
        handles = [Line2D([], [], ls="none", mew=0.7, label=f"{s} ({counts[s]})", **styles[s])
                   for s in (_IN_CONTROL, _WARNING, _REJECT, _FAILED)] if cohorts else []
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncols=4 if _width_mm(width) > 100 else 2,
                       fontsize=SMALL_FONT_SIZE)
        _set_title(fig, title)
        _freeze_layout(fig)
    return fig


# ------------------------------------------------------------------ 4. volcano plot
def _select(df: pd.DataFrame, column: str, value: str | None, what: str) -> pd.DataFrame:
    if column not in df.columns:
        return df
    present = sorted(df[column].dropna().astype(str).unique())
    if value is None:
        if len(present) > 1:
            raise InputTableError(
                f"volcano_plot: the table has several {what}s ({', '.join(present)}); choose one with {column}=")
        return df
    if str(value) not in present:
        raise InputTableError(f"volcano_plot: {what} {value!r} not in the table ({', '.join(present)})")
    return df[df[column].astype(str) == str(value)]


def _place_labels(ax, fig, anns) -> None:
    """Move annotation texts down until no two overlap (greedy, top to bottom)."""
    renderer = fig.canvas.get_renderer()
    placed = []
    for ann in sorted(anns, key=lambda a: -a.xy[1]):
        for _ in range(40):
            ann.update_positions(renderer)
            bb = Text.get_window_extent(ann, renderer).expanded(1.05, 1.15)
            hit = next((p for p in placed if bb.overlaps(p)), None)
            if hit is None:
                break
            shift = (bb.y1 - hit.y0) * 72.0 / fig.dpi + 1.0
            ann.xyann = (ann.xyann[0], ann.xyann[1] - shift)
        ann.update_positions(renderer)
        placed.append(Text.get_window_extent(ann, renderer))


def _estimate_label(units: pd.Series) -> str:
    """"Estimate (unit)"; units differing only before a shared " per …" are joined:
    "Estimate (ln µmol/L or ln ratio per point (EPDS))"."""
    found = list(dict.fromkeys(str(u).strip() for u in units.dropna() if str(u).strip()))
    if len(found) == 1:
        return f"Estimate ({found[0]})"
    if found:
        heads, tails = zip(*(u.partition(" per ")[::2] for u in found))
        if all(" per " in u for u in found) and len(set(tails)) == 1:
            return f"Estimate ({' or '.join(dict.fromkeys(heads))} per {tails[0]})"
    return "Estimate (biomarker units per exposure unit)"


def volcano_plot(
    assoc_table: pd.DataFrame,
    *,
    cohort: str | None = None,
    predictor: str | None = None,
    fdr: float = 0.05,
    labels: Mapping[str, str] | None = None,
    x_label: str | None = None,
    width: str | float = "single",
    height_mm: float = 70.0,
    title: str | None = None,
    max_labels: int = 25,
) -> Figure:
    """Volcano plot of an association table: estimate against −log10 p, one point per
    biomarker (``response``).

    Reads ``response, estimate, p, q`` (optional ``cohort``, ``predictor``, ``unit``,
    ``status``, and ``mechanism``). When the table holds several cohorts or predictors,
    choose one with ``cohort=`` / ``predictor=`` (one x scale per figure). Rows whose
    ``status`` is not "ok" or without estimate/p are left out and counted in the note.
    Biomarkers with FDR ``q < fdr`` (the table's own q, never recomputed) are
    highlighted and labelled (``labels`` maps names to human labels; at most
    ``max_labels``, the smallest p first). The FDR line is drawn between the largest
    significant p and the smallest non-significant p (BH makes significance monotone
    in p); when nothing is significant the note says so and no line is drawn. The x axis
    is "Estimate (unit)" from the ``unit`` column, or ``x_label``.
    """
    _need_frame(assoc_table, "the association table", "volcano_plot")
    _need_columns(assoc_table, ["response", "estimate", "p", "q"], "association table",
                  "the association contract has cohort, mechanism, predictor, response, model, n, estimate, "
                  "se, ci_low, ci_high, p, q (optional: unit, status)")
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be between 0 and 1, got {fdr}")
    cols = ["response", "estimate", "p", "q"] + [c for c in ("cohort", "predictor", "unit", "status")
                                                 if c in assoc_table.columns]
    df = contract_table(assoc_table, cols, ["estimate", "p", "q"], "association")
    df = _select(df, "cohort", cohort, "cohort")
    df = _select(df, "predictor", predictor, "predictor")
    status_ok = (df["status"].fillna("ok").astype(str).str.strip().str.lower().isin(["ok", ""])
                 if "status" in df else pd.Series(True, index=df.index))
    usable = status_ok & np.isfinite(df["estimate"]) & np.isfinite(df["p"]) & (df["p"] > 0) & (df["p"] <= 1)
    dropped = int((~usable).sum())
    df = df[usable].reset_index(drop=True)
    if df.duplicated("response").any():
        dup = sorted(df.loc[df.duplicated("response"), "response"].astype(str).unique())
        raise InputTableError(f"volcano_plot: more than one row for {', '.join(dup)}; choose cohort= and predictor=")
    df["y"] = -np.log10(df["p"])
    df["sig"] = np.isfinite(df["q"]) & (df["q"] < fdr)
    if x_label is None:
        x_label = _estimate_label(df["unit"] if "unit" in df else pd.Series(dtype=object))

    with journal_style():
        fig = new_figure(width, height_mm)
        ax = fig.add_subplot(1, 1, 1)
        style_axes(ax)
        ns, sig = df[~df["sig"]], df[df["sig"]].sort_values("p", kind="stable")
        ax.axvline(0, color=LIGHT_GREY, lw=0.6, zorder=1)
        ax.scatter(ns["estimate"], ns["y"], s=9, color=GREY, alpha=0.7, linewidths=0, zorder=2,
                   gid="volcano-ns")
        ax.scatter(sig["estimate"], sig["y"], s=16, color=OKABE_ITO[5], edgecolors="black", linewidths=0.4,
                   zorder=3, gid="volcano-sig")
        top = float(df["y"].max()) if len(df) else 1.0
        ax.set_ylim(0, max(top * 1.12, 1.0))
        if len(df):
            span = float(np.abs(df["estimate"]).max()) or 1.0
            ax.set_xlim(-span * 1.25, span * 1.25)
        note = f"Highlighted: FDR q < {fdr:g} (n = {len(sig)} of {len(df)})."
        if len(sig):
            p_sig = float(sig["p"].max())
            rest = ns["p"][ns["p"] > p_sig]
            cut = math.sqrt(p_sig * float(rest.min())) if len(rest) else p_sig
            ax.axhline(-math.log10(cut), color=OKABE_ITO[6], lw=0.7, ls="--", zorder=1, gid="volcano-fdr")
            trans = blended_transform_factory(ax.transAxes, ax.transData)
            ax.text(0.99, -math.log10(cut), f"FDR {fdr:.0%}", transform=trans, ha="right", va="bottom",
                    color=OKABE_ITO[6], fontsize=SMALL_FONT_SIZE)
        else:
            note = f"No biomarker reaches FDR q < {fdr:g} ({len(df)} tested)."
        if dropped:
            note += f" {dropped} not estimated, not shown."
        ax.set_xlabel(_wrap(x_label, 60))
        ax.set_ylabel("\u2212log\u2081\u2080 p")
        fig.supxlabel(_wrap(note, 95 if _width_mm(width) > 100 else 70), fontsize=SMALL_FONT_SIZE - 0.5,
                      color=GREY, x=0.01, ha="left")
        _set_title(fig, title)
        _freeze_layout(fig)
        # labels last, on the frozen layout (they sit inside the axes)
        anns = []
        xmid = 0.0
        for r in sig.head(max_labels).itertuples(index=False):
            right = r.estimate <= xmid
            anns.append(ax.annotate(
                label_for(r.response, labels), (r.estimate, r.y), xytext=(4 if right else -4, 2),
                textcoords="offset points", ha="left" if right else "right", va="bottom",
                fontsize=SMALL_FONT_SIZE, gid="volcano-label", zorder=4,
                arrowprops=dict(arrowstyle="-", lw=0.4, color=GREY, shrinkA=0, shrinkB=2)))
        _place_labels(ax, fig, anns)
    return fig


# ---------------------------------------------------------- 5. correlation heatmap
def _matrix_from(table: pd.DataFrame, cohort: str | None, min_n: int) -> pd.DataFrame:
    if {"biomarker_1", "biomarker_2", "rho"} <= set(table.columns):
        df = table
        if "cohort" in df.columns:
            present = sorted(df["cohort"].dropna().astype(str).unique())
            if cohort is None and len(present) > 1:
                raise InputTableError(
                    f"correlation_heatmap: the table has several cohorts ({', '.join(present)}); choose one with cohort=")
            if cohort is not None:
                if str(cohort) not in present:
                    raise InputTableError(f"correlation_heatmap: cohort {cohort!r} not in the table ({', '.join(present)})")
                df = df[df["cohort"].astype(str) == str(cohort)]
        cols = ["biomarker_1", "biomarker_2", "rho"] + [c for c in ("n", "suppressed") if c in df.columns]
        df = contract_table(df, cols, ["rho"], "correlation")
        small = np.zeros(len(df), bool)
        if "n" in df:
            n, bound, _ = _counts(df["n"])
            small |= np.isfinite(bound) | (np.isfinite(n) & (n < min_n))
        if "suppressed" in df:
            small |= _as_bool(df["suppressed"].fillna(False)) & df["suppressed"].notna().to_numpy()
        df.loc[small, "rho"] = np.nan
        names = list(dict.fromkeys(list(df["biomarker_1"].astype(str)) + list(df["biomarker_2"].astype(str))))
        mat = pd.DataFrame(np.nan, index=names, columns=names)
        for a, b, r in zip(df["biomarker_1"].astype(str), df["biomarker_2"].astype(str), df["rho"]):
            mat.loc[a, b] = r
            mat.loc[b, a] = r
        return mat
    # a square matrix
    mat = table.copy()
    if "biomarker" in mat.columns:
        mat = mat.set_index("biomarker")
    mat.index = mat.index.astype(str)
    mat.columns = mat.columns.astype(str)
    if list(mat.index) != list(mat.columns):
        if set(mat.index) == set(mat.columns):
            mat = mat.loc[list(mat.columns)]
        else:
            raise InputTableError("correlation_heatmap needs a long table (biomarker_1, biomarker_2, rho[, n]) or a "
                                  "square matrix whose index and columns are the same biomarkers")
    try:
        mat = mat.astype(float)
    except (TypeError, ValueError):
        raise InputTableError("correlation matrix values must be numeric") from None
    return mat


def correlation_heatmap(
    corr: pd.DataFrame,
    *,
    cohort: str | None = None,
    labels: Mapping[str, str] | None = None,
    min_n: int = MIN_CELL,
    annotate: bool = True,
    width: str | float = "single",
    title: str | None = None,
    cmap: str | None = None,
) -> Figure:
    """Heatmap of Spearman correlations between biomarkers, values written in the cells.

    ``corr`` is the long table of :func:`biomarker_correlations` (``biomarker_1,
    biomarker_2, rho``, optional ``n``, which may hold "<5", ``suppressed`` and
    ``cohort``; choose one cohort with ``cohort=``) or a square matrix (index =
    columns = biomarkers). Cells with ``n < min_n`` or marked suppressed are grey with
    "n<5" and no value. Colours: :data:`DIVERGING_CMAP` (colour-blind safe, see there)
    fixed to [−1, 1], centred on 0; the colour bar is labelled "Spearman ρ". The figure
    is square, at journal width.
    """
    _need_frame(corr, "the correlation table or matrix", "correlation_heatmap")
    mat = _matrix_from(corr, cohort, min_n)
    names = list(mat.index)
    k = len(names)
    values = mat.to_numpy(float)
    if np.nanmax(np.abs(values), initial=0.0) > 1 + 1e-9:
        raise InputTableError("correlation_heatmap: correlations must lie between -1 and 1")
    colour_map = mpl.colormaps[cmap or DIVERGING_CMAP].with_extremes(bad=_MISSING_FILL)
    w = _width_mm(width)
    cell_pt = (w * 0.62 / max(k, 1)) / 25.4 * 72.0
    text_size = float(np.clip(0.78 * cell_pt / 3.1, 3.5, SMALL_FONT_SIZE))
    with journal_style():
        fig = new_figure(width, min(w * 0.92, 170.0))
        ax = fig.add_subplot(1, 1, 1)
        ax.set_aspect("equal")
        for side in ax.spines.values():
            side.set_visible(False)
        mesh = ax.pcolormesh(np.ma.masked_invalid(values), cmap=colour_map, vmin=-1, vmax=1,
                             edgecolors="white", linewidth=0.5)
        mesh.set_gid("heatmap-cells")
        ax.set_xlim(0, k)
        ax.set_ylim(k, 0)
        ticks = np.arange(k) + 0.5
        tick_labels = [label_for(n, labels) for n in names]
        ax.set_xticks(ticks, tick_labels, rotation=45, ha="right", rotation_mode="anchor")
        ax.set_yticks(ticks, tick_labels)
        ax.tick_params(length=0, pad=2, labelsize=SMALL_FONT_SIZE if k <= 10 else 5.5)
        n_suppressed = 0
        for i in range(k):
            for j in range(k):
                v = values[i, j]
                if not math.isfinite(v):
                    n_suppressed += i != j
                    ax.text(j + 0.5, i + 0.5, f"n<{min_n}", ha="center", va="center", color=GREY,
                            fontsize=max(text_size - 0.5, 3.5), gid="heatmap-suppressed")
                elif annotate:
                    rgba = colour_map((v + 1) / 2)
                    lum = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
                    shown = f"{v:.2f}"
                    shown = "0.00" if shown == "-0.00" else shown.replace("-", MINUS)
                    ax.text(j + 0.5, i + 0.5, shown, ha="center", va="center",
                            color="white" if lum < 0.45 else "black", fontsize=text_size, gid="heatmap-value")
        bar = fig.colorbar(mesh, ax=ax, shrink=0.8, aspect=25, pad=0.03, ticks=[-1, -0.5, 0, 0.5, 1])
        bar.set_label("Spearman \u03c1 (rank correlation, \u22121 to 1)")
        bar.outline.set_linewidth(LINE_WIDTH)
        bar.ax.tick_params(width=LINE_WIDTH, length=2.5, labelsize=FONT_SIZE)
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}".replace("-", MINUS)))
        if n_suppressed:
            fig.supxlabel(f"Grey cells: fewer than {min_n} participants with both values (not shown).",
                          fontsize=SMALL_FONT_SIZE - 0.5, color=GREY, x=0.01, ha="left")
        _set_title(fig, title)
        _freeze_layout(fig)
    return fig
