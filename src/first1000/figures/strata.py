"""Stratified forest plot: the exposure effect on each response, by stratum of a modifier.

Draws the effect-modification table of the pipeline (``results/modification/{mechanism}.tsv``,
columns :data:`first1000.analysis.modification.MODIFICATION_COLUMNS`) as it is: one row per response
(biomarker), one marker + confidence interval per stratum of the modifier (levels of a
categorical modifier, or the centiles / mean ± SD of a continuous one), and the p-value of
the interaction test of that response at the right. Numbers are read from the table, never
refitted. Only contract columns are read.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from first1000.errors import InputTableError
from first1000.figures.style import (
    GREY,
    LIGHT_GREY,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    _width_mm,
    contract_table,
    format_number,
    journal_style,
    label_for,
    new_figure,
    style_axes,
)

__all__ = ["strata_plot", "stratum_colours", "REQUIRED_COLUMNS"]

REQUIRED_COLUMNS: tuple[str, ...] = (
    "cohort", "exposure", "response", "modifier", "part", "level", "estimate", "ci_low",
    "ci_high", "p",
)  # fmt: skip
_OPTIONAL = ("value", "method", "test", "unit", "status", "model")
_NUMERIC = ("estimate", "ci_low", "ci_high", "p", "value")
#: Test whose p is printed per response (see first1000.stats.modification).
INTERACTION_TEST = "interaction_wald"

# Okabe–Ito colours in the order strata receive them: black is left out (it means
# "pooled" in the other figures) and yellow, the palest, comes last.
_STRATUM_COLOUR_ORDER = (OKABE_ITO[1], OKABE_ITO[5], OKABE_ITO[3], OKABE_ITO[7], OKABE_ITO[6],
                         OKABE_ITO[2], OKABE_ITO[4])  # fmt: skip
_STRATUM_MARKERS = ("o", "s", "^", "v", "D", "P", "X")
_LEVEL_NAMES = {"p25": "25th centile", "p50": "median", "p75": "75th centile", "mean-1sd": "mean \u2212 1 SD",
                "mean": "mean", "mean+1sd": "mean + 1 SD"}
_ROW_MM = 3.0  # vertical space per response row, on top of the strata
_SLOT_MM = 2.3  # per stratum inside a row
_FRAME_MM = 30.0  # title, axis label, legend
_MIN_PLOT_MM = 24.0  # the plot area of a figure with one or two rows


def stratum_colours(levels) -> dict[str, str]:
    """Stratum -> Okabe–Ito colour, by position (the table's order of the strata)."""
    return {str(s): _STRATUM_COLOUR_ORDER[i % len(_STRATUM_COLOUR_ORDER)] for i, s in enumerate(levels)}


def _choose(df: pd.DataFrame, column: str, value, prefer=()) -> str:
    values = list(dict.fromkeys(df[column].astype(str)))
    if value is not None:
        if str(value) not in values:
            raise InputTableError(f"the effect-modification table has no rows with {column} {value!r} "
                                  f"(it has {', '.join(values) or 'no rows'})")
        return str(value)
    for p in prefer:
        if p in values:
            return p
    if len(values) != 1:
        raise InputTableError(f"the effect-modification table holds several values of {column} "
                              f"({', '.join(values)}); choose one with {column}=")
    return values[0]


def _p_text(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "p = NA"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {format_number(p, 2)}"


def _axis_label(units: list[str]) -> tuple[str, str | None]:
    """The x-axis label, and whether each row carries its response unit or its whole unit.

    One unit: "Estimate (unit)". Units that differ only in the response part
    ("ln µmol/L per point (EPDS)", "ln ratio per point (EPDS)"): the shared "per ..."
    part on the axis and the response unit under each row label.
    """
    if len(units) == 1:
        return f"Estimate ({units[0]})", None
    if not units:
        return "Estimate (response units per exposure unit)", None
    per = {u.split(" per ", 1)[1] for u in units if " per " in u}
    if len(per) == 1 and all(" per " in u for u in units):
        return f"Estimate (response unit, given under each row, per {per.pop()})", "response"
    return "Estimate (unit given under each row)", "unit"


def strata_plot(
    table: pd.DataFrame,
    *,
    exposure: str | None = None,
    modifier: str | None = None,
    cohort: str | None = None,
    method: str | None = None,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    x_label: str | None = None,
    width: str | float = "single",
    ci_level: float = 0.95,
) -> Figure:
    """Stratum-specific exposure effects per response, with the interaction p.

    Parameters
    ----------
    table
        The effect-modification table (``part`` term / stratum / test rows); at least
        ``cohort, exposure, response, modifier, part, level, estimate, ci_low, ci_high,
        p``, optionally ``value`` (modifier value of a continuous modifier), ``method``,
        ``test``, ``unit`` and ``status``. Other columns are never read.
    exposure, modifier, cohort
        Which rows to draw; each may be left out when the table holds one value. Without
        ``cohort`` the "pooled" rows are drawn when present.
    method
        Stratum estimates to draw: ``"stratified"`` (separate fits per level of a
        categorical modifier) or ``"interaction"`` (from the interaction model; the only
        kind for a continuous modifier). Default: stratified when present.
    labels
        Variable / level -> human label (responses on the y axis, the modifier in the
        legend title, levels in the legend).
    title, x_label, width
        Title above the plot; axis label (default "Estimate (unit)" from ``unit``);
        ``"single"`` (85 mm), ``"double"`` (174 mm) or mm. The height grows with the rows.
    ci_level
        Level of ``ci_low``/``ci_high``, for the axis note only.

    Each stratum has its Okabe–Ito colour and marker shape (a redundant cue for
    greyscale), at a fixed offset inside every response row; the legend names the
    strata (continuous modifiers: label and modifier value). At the right: the p of the
    interaction Wald test of that response (``test == "interaction_wald"``). Rows that
    could not be estimated are left empty and their p reads "NA".
    """
    _width_mm(width)
    if not isinstance(table, pd.DataFrame):
        raise InputTableError(f"strata_plot needs a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputTableError(f"effect-modification table lacks column(s) {', '.join(missing)}")
    cols = list(REQUIRED_COLUMNS) + [c for c in _OPTIONAL if c in table.columns]
    df = contract_table(table, cols, [c for c in _NUMERIC if c in cols], "effect-modification")
    if df.empty:
        raise InputTableError("the effect-modification table has no rows")
    cohort = _choose(df, "cohort", cohort, prefer=("pooled", "meta"))
    df = df[df.cohort.astype(str) == cohort]
    exposure = _choose(df, "exposure", exposure)
    df = df[df.exposure.astype(str) == exposure]
    modifier = _choose(df, "modifier", modifier)
    df = df[df.modifier.astype(str) == modifier]

    strata = df[df.part == "stratum"]
    if "method" in strata and strata.method.notna().any():
        if method is None:
            method = "stratified" if (strata.method == "stratified").any() else "interaction"
        strata = strata[strata.method == method]
    responses = list(dict.fromkeys(df.response.astype(str)))
    levels = list(dict.fromkeys(strata.level.astype(str)))
    values = {}
    if "value" in strata:
        values = {str(lv): v for lv, v in zip(strata.level, strata.value) if pd.notna(v)}
    tests = df[df.part == "test"]
    if "test" in tests:
        tests = tests[tests.test == INTERACTION_TEST]
    p_int = {str(r): float(p) for r, p in zip(tests.response, tests.p)}

    row_units = {}
    if "unit" in df:
        row_units = {str(r): str(u) for r, u in zip(df.response, df.unit) if pd.notna(u)}
    units = list(dict.fromkeys(row_units[r] for r in responses if r in row_units))
    row_label = {r: label_for(r, labels) for r in responses}
    if x_label is None:
        x_label, suffixes = _axis_label(units)
        if suffixes:  # the response's own unit under its label
            row_label = {r: f"{text}\n({row_units[r].split(' per ', 1)[0] if suffixes == 'response' else row_units[r]})"
                         if r in row_units else text for r, text in row_label.items()}
    x_label = textwrap.fill(x_label + f", {round(100 * ci_level)}% CI", max(int(_width_mm(width) / 1.45), 20))

    colours = stratum_colours(levels)
    markers = {lv: _STRATUM_MARKERS[i % len(_STRATUM_MARKERS)] for i, lv in enumerate(levels)}
    k = max(len(levels), 1)
    title_text = textwrap.fill(title, max(int(_width_mm(width) / 1.95), 20)) if title else ""
    extra_lines = title_text.count("\n") + x_label.count("\n")
    height = _FRAME_MM + 3.5 * extra_lines + max(len(responses) * (_ROW_MM + _SLOT_MM * k), _MIN_PLOT_MM)
    with journal_style():
        fig = new_figure(width, height)
        ax = fig.add_subplot()
        style_axes(ax)
        ax.axvline(0.0, color=LIGHT_GREY, linewidth=0.6, zorder=0)
        offsets = {lv: (j - (k - 1) / 2) * (0.7 / k) for j, lv in enumerate(levels)}
        lows, highs = [], []
        for i, response in enumerate(responses):
            rows = strata[strata.response.astype(str) == response]
            for lv, est, lo, hi in zip(rows.level.astype(str), rows.estimate, rows.ci_low, rows.ci_high):
                if not np.isfinite(est):
                    continue
                y = -i - offsets[lv]  # first stratum on top
                if np.isfinite(lo) and np.isfinite(hi):
                    ax.plot([lo, hi], [y, y], color=colours[lv], linewidth=0.9, solid_capstyle="butt",
                            gid=f"strata-ci-{lv}")
                    lows.append(lo)
                    highs.append(hi)
                ax.plot([est], [y], linestyle="none", marker=markers[lv], color=colours[lv],
                        markersize=3.6, markeredgewidth=0.4, markeredgecolor="white", gid=f"strata-points-{lv}")
                lows.append(est)
                highs.append(est)
        ax.set_ylim(-len(responses) + 0.5, 0.5)
        ax.set_yticks([-i for i in range(len(responses))])
        ax.set_yticklabels(["\n".join(textwrap.fill(part, 28) for part in row_label[r].split("\n"))
                            for r in responses])
        if lows:
            lo, hi = min(min(lows), 0.0), max(max(highs), 0.0)
            pad = 0.06 * (hi - lo or 1.0)
            ax.set_xlim(lo - pad, hi + pad)
        ax.set_xlabel(x_label)
        right = ax.secondary_yaxis("right")
        right.set_yticks([-i for i in range(len(responses))])
        right.set_yticklabels([_p_text(p_int.get(r, float("nan"))) for r in responses])
        right.tick_params(length=0, labelsize=SMALL_FONT_SIZE, labelcolor=GREY)
        right.spines["right"].set_visible(False)
        right.set_ylabel("Interaction p", fontsize=SMALL_FONT_SIZE, color=GREY, rotation=270, labelpad=8)
        if not lows:
            ax.text(0.5, 0.5, "no stratum could be estimated", transform=ax.transAxes, ha="center",
                    va="center", color=GREY)
            ax.set_xlim(-1, 1)

        def level_text(lv):
            text = label_for(lv, {**_LEVEL_NAMES, **(labels or {})})
            return f"{text} ({format_number(values[lv])})" if lv in values else text

        handles = [Line2D([], [], color=colours[lv], marker=markers[lv], markersize=3.6, linewidth=0.9,
                          markeredgewidth=0.4, markeredgecolor="white", label=level_text(lv)) for lv in levels]
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4),
                       title=label_for(modifier, labels), frameon=False)
        if title_text:  # wrapped to the figure width (about 1.95 mm per character of 8 pt bold)
            fig.suptitle(title_text, x=0.02, ha="left")
    return fig
