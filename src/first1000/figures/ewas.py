"""Epigenome-wide figures: QQ plot with genomic inflation and Manhattan plot.

Both draw an EWAS results table (one row per CpG: ``p_moderated``, and for the Manhattan
plot ``chr`` and ``pos``); nothing is refitted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from first1000.errors import InputTableError
from first1000.figures.style import GREY, LIGHT_GREY, OKABE_ITO, journal_style, new_figure, style_axes


def _p_values(table: pd.DataFrame, column: str) -> np.ndarray:
    if column not in table:
        raise InputTableError(f"EWAS table: missing column '{column}'.")
    p = pd.to_numeric(table[column], errors="coerce").to_numpy(float)
    return p[np.isfinite(p) & (p > 0) & (p <= 1)]


def qq_plot(table: pd.DataFrame, *, p_column: str = "p_moderated", lambda_gc: float | None = None,
            title: str | None = None) -> Figure:
    """Observed vs expected -log10 p under the null, with lambda = median chi2 / 0.4549."""
    p = np.sort(_p_values(table, p_column))
    n = len(p)
    with journal_style():
        fig = new_figure("single", 75.0)
        ax = fig.add_subplot(1, 1, 1)
        style_axes(ax)
        if n:
            expected = -np.log10((np.arange(1, n + 1) - 0.5) / n)
            observed = -np.log10(p)
            top = max(expected.max(), observed.max()) * 1.05
            ax.plot([0, top], [0, top], color=LIGHT_GREY, lw=0.8, zorder=1)
            ax.scatter(expected, observed, s=3, color=OKABE_ITO[5], linewidths=0, rasterized=True, zorder=2)
            ax.set_xlim(0, top)
            ax.set_ylim(0, top)
        ax.set_xlabel("Expected −log10(p)")
        ax.set_ylabel("Observed −log10(p)")
        text = f"λ = {lambda_gc:.3f}" if lambda_gc is not None and np.isfinite(lambda_gc) else ""
        ax.text(0.04, 0.96, f"{text}\n{n:,} CpGs".strip(), transform=ax.transAxes, va="top", ha="left")
        if title:
            ax.set_title(title, loc="left", fontweight="bold")
    return fig


def _chromosome_order(label) -> int:
    """1-22 as themselves, X 23, Y 24, anything else 25, from a label such as 'chr1', '1',
    1 or 1.0 (an annotation read with numeric chromosomes, made float by a missing one)."""
    text = str(label).strip()
    if text.lower().startswith("chr"):
        text = text[3:]
    try:
        number = float(text)
    except ValueError:
        return {"X": 23, "Y": 24}.get(text.upper(), 25)
    return int(number) if number.is_integer() and number > 0 else 25


def manhattan_plot(table: pd.DataFrame, *, p_column: str = "p_moderated", threshold: float | None = None,
                   fdr_column: str | None = "fdr", title: str | None = None) -> Figure:
    """-log10 p by genomic position; alternating colours per chromosome; significance lines."""
    for column in ("chr", "pos", p_column):
        if column not in table:
            raise InputTableError(f"EWAS table: missing column '{column}' (give an annotation table with chr and pos).")
    data = table[["chr", "pos", p_column] + ([fdr_column] if fdr_column and fdr_column in table else [])].copy()
    data["p"] = pd.to_numeric(data[p_column], errors="coerce")
    data = data[np.isfinite(data.p) & (data.p > 0)]
    significant = fdr_column and fdr_column in data and (data[fdr_column] < 0.05).any()
    fdr_cut = data.loc[data[fdr_column] < 0.05, "p"].max() if significant else None  # over every CpG
    # a CpG the annotation does not place (no chromosome or position: a probe missing from
    # the manifest) has no x; it is counted on the plot, not drawn
    data["pos"] = pd.to_numeric(data["pos"], errors="coerce").astype(float)
    placed = data["chr"].notna().to_numpy() & np.isfinite(data["pos"].to_numpy())
    unplaced = int((~placed).sum())
    data = data[placed].copy()
    data["chr_order"] = data["chr"].map(_chromosome_order).astype(np.int64)
    data = data.sort_values(["chr_order", "pos"], kind="stable")
    offsets, ticks, labels, start = {}, [], [], 0.0
    for chrom, group in data.groupby("chr_order", sort=True):
        offsets[chrom] = start - group.pos.min()
        span = group.pos.max() - group.pos.min()
        ticks.append(start + span / 2)
        labels.append({23: "X", 24: "Y"}.get(chrom, str(chrom)))
        start += span + max(span * 0.05, 1.0)
    x = data.pos + data.chr_order.map(offsets)
    y = -np.log10(data.p)
    with journal_style():
        fig = new_figure("double", 70.0)
        ax = fig.add_subplot(1, 1, 1)
        style_axes(ax)
        colours = np.where(data.chr_order % 2 == 0, OKABE_ITO[5], GREY)
        ax.scatter(x, y, s=3, c=colours, linewidths=0, rasterized=True)
        if threshold:
            ax.axhline(-np.log10(threshold), color=OKABE_ITO[6], lw=0.8, ls="--")
            ax.text(ax.get_xlim()[1], -np.log10(threshold), f" p = {threshold:.1e}", color=OKABE_ITO[6],
                    va="bottom", ha="right")
        if fdr_cut is not None:
            ax.axhline(-np.log10(fdr_cut), color=OKABE_ITO[1], lw=0.8, ls=":")
            ax.text(ax.get_xlim()[0], -np.log10(fdr_cut), " FDR 5%", color=OKABE_ITO[1], va="bottom", ha="left")
        if unplaced:
            ax.text(0.99, 0.98, f"{unplaced:,} CpG{'s' if unplaced != 1 else ''} without a position in the "
                    "annotation not shown",
                    transform=ax.transAxes, va="top", ha="right", color=GREY)
        ax.set_xticks(ticks)
        ax.set_xticklabels(labels)
        ax.set_xlabel("Chromosome (position)")
        ax.set_ylabel("−log10(p), moderated t" if p_column == "p_moderated" else "−log10(p), meta-analysis z"
                      if p_column == "p" else f"−log10({p_column})")
        ax.set_ylim(0, max(float(y.max()) * 1.08 if len(y) else 1.0, -np.log10(threshold) * 1.05 if threshold else 1.0))
        if title:
            ax.set_title(title, loc="left", fontweight="bold")
    return fig
