"""Forest plot of association estimates across cohorts.

Draws the pipeline's association table (one row per cohort × predictor × response)
as it is: estimates and confidence intervals are read from the table, never refitted
or recomputed. Only the columns of the association contract are read, so any other
column (participant IDs included) can never reach the figure.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import ScaledTranslation
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

from first1000.errors import InputTableError, format_rows
from first1000.figures.style import (
    FONT_SIZE,
    GREY,
    LIGHT_GREY,
    LINE_WIDTH,
    MM_PER_INCH,
    SMALL_FONT_SIZE,
    TITLE_FONT_SIZE,
    _sorted_cohorts,
    _width_mm,
    cohort_colours,
    cohort_markers,
    format_range,
    is_pooled,
    journal_style,
    label_for,
    new_figure,
    style_axes,
)

__all__ = ["forest_plot", "REQUIRED_COLUMNS"]

#: Columns of the association contract the forest plot reads (``se`` and ``p`` are in
#: the contract too but are not drawn). Optional: ``unit``, ``status``.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "cohort",
    "mechanism",
    "predictor",
    "response",
    "model",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "q",
)
_NUMERIC = ("n", "estimate", "ci_low", "ci_high", "q")
_OPTIONAL = ("unit", "status")

FDR_THRESHOLD = 0.05
ARROW = "\u2192"

# Vertical geometry, in mm.
_SLOT_MM = 2.8  # distance between two cohorts' points inside one row
_ROW_PAD_MM = 2.6  # extra space per row (between the outermost points of adjacent rows)
_MIN_ROW_MM = 6.0
_HEADER_MM = 5.0  # a mechanism heading
_MARKER_SIZE = {False: 4.2, True: 5.0}  # points; pooled diamonds a little larger


def _is_logistic(model: object) -> bool:
    m = str(model).strip().lower()
    return any(k in m for k in ("logist", "logit", "binomial"))


@dataclass
class _Row:
    key: tuple[str, str, str, str]
    label: str
    logistic: bool
    unit: str | None
    y: float = 0.0
    entries: pd.DataFrame = field(default_factory=pd.DataFrame)


def _validate(associations: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(associations, pd.DataFrame):
        raise InputTableError(
            f"forest_plot needs a pandas DataFrame (the association table), "
            f"got {type(associations).__name__}"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in associations.columns]
    if missing:
        raise InputTableError(
            "association table lacks column(s) "
            + ", ".join(missing)
            + "; the association contract has cohort, mechanism, predictor, response, "
            "model, n, estimate, se, ci_low, ci_high, p, q (optional: unit, status)"
        )
    cols = list(REQUIRED_COLUMNS) + [c for c in _OPTIONAL if c in associations.columns]
    # Keep only contract columns: nothing else (IDs, row-level data) can be drawn.
    df = associations.loc[:, cols].copy().reset_index(drop=True)
    for col in _NUMERIC:
        raw = df[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna()
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy()) + 1).tolist()
            raise InputTableError(
                f"association table column {col!r} must be numeric; "
                f"non-numeric values in {format_rows(rows)}"
            )
        df[col] = num.astype(float)
    for col in ("cohort", "predictor", "response"):
        empty = df[col].isna()
        if empty.any():
            rows = (np.flatnonzero(empty.to_numpy()) + 1).tolist()
            raise InputTableError(
                f"association table column {col!r} is empty in {format_rows(rows)}"
            )
    for col in ("cohort", "mechanism", "predictor", "response", "model"):
        df[col] = df[col].map(lambda v: "" if pd.isna(v) else str(v))
    if "unit" in df.columns:
        df["unit"] = df["unit"].map(lambda v: "" if pd.isna(v) else str(v).strip())
    else:
        df["unit"] = ""
    # Status: "ok" rows with an estimate get a point, everything else a grey reason.
    if "status" in df.columns:
        status = df["status"].map(lambda v: "" if pd.isna(v) else str(v).strip())
    else:
        status = pd.Series([""] * len(df), index=df.index, dtype=object)
    has_est = np.isfinite(df["estimate"].to_numpy())
    is_ok = status.str.lower().isin(["", "ok"]).to_numpy()
    df["ok"] = is_ok & has_est
    reason = (
        status.where(~is_ok, "not estimated")
        .str.replace("_", " ", regex=False)
        # "failed: too few cases" -> "too few cases" (grey italics already say "failed")
        .str.replace(r"^(?:failed|error)\s*[:\-\u2013]\s*(?=\S)", "", regex=True, case=False)
    )
    df["reason"] = reason.where(~df["ok"], "")
    df["logistic"] = df["model"].map(_is_logistic)
    return df


def _build_rows(df: pd.DataFrame, labels: Mapping[str, str] | None) -> list[_Row]:
    df = df.assign(_key=list(zip(df["mechanism"], df["predictor"], df["response"], df["model"])))
    dup = df.duplicated(subset=["_key", "cohort"], keep=False)
    if dup.any():
        rows = (np.flatnonzero(dup.to_numpy()) + 1).tolist()
        raise InputTableError(
            "association table has more than one row for the same cohort, mechanism, "
            f"predictor, response and model ({format_rows(rows)}); "
            "a forest plot shows one estimate per cohort and row"
        )
    pair_models = df.groupby(["mechanism", "predictor", "response"], sort=False)["model"].nunique()
    rows: list[_Row] = []
    for key, entries in df.groupby("_key", sort=False):
        mech, pred, resp, model = key
        label = f"{label_for(pred, labels)} {ARROW} {label_for(resp, labels)}"
        if pair_models.loc[(mech, pred, resp)] > 1:
            label += f" ({model})"
        logistic = bool(entries["logistic"].iloc[0])
        units = [u for u in entries["unit"] if u]
        unit = units[0] if units else ("log-odds" if logistic else None)
        rows.append(_Row(key=key, label=label, logistic=logistic, unit=unit, entries=entries))
    # Group rows by mechanism, mechanisms in order of first appearance.
    mechs = list(dict.fromkeys(r.key[0] for r in rows))
    return [r for m in mechs for r in rows if r.key[0] == m]


def _axis_label(rows: list[_Row], x_label: str | None) -> tuple[str, bool]:
    """The x-axis label and whether each row label must carry its own unit."""
    units = list(dict.fromkeys(r.unit for r in rows))
    any_logistic = any(r.logistic for r in rows)
    all_logistic = all(r.logistic for r in rows)
    per_row = len(units) > 1 and None not in units
    if x_label is not None:
        return x_label, per_row
    if len(units) == 1 and units[0] is not None:
        return f"Estimate ({units[0]})", False
    if per_row:
        return "Estimate (unit given under each row)", True
    if all_logistic:
        return "Estimate (log-odds)", False
    if any_logistic:
        return "Estimate (log-odds for logistic models)", False
    return "Estimate (outcome units per predictor unit)", False


def _legend_ncol(texts: list[str], width_mm: float) -> int:
    # ~0.5 em per character at 7 pt, plus handle and column spacing.
    char_mm = 0.55 * FONT_SIZE / 72 * MM_PER_INCH
    widths = [len(t) * char_mm + 7.0 for t in texts]
    avail = width_mm - 6.0
    for ncol in range(len(texts), 0, -1):
        per_col = [max(widths[i::ncol]) for i in range(ncol)]
        if sum(per_col) <= avail:
            return ncol
    return 1


def _no_data_figure(title: str | None, width: str | float) -> Figure:
    with journal_style():
        fig = new_figure(width, 25.0)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "No associations to show", ha="center", va="center",
                color=GREY, fontsize=FONT_SIZE, transform=ax.transAxes)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontsize=TITLE_FONT_SIZE, fontweight="bold")
        fig.draw_without_rendering()
    return fig


def forest_plot(
    associations: pd.DataFrame,
    *,
    title: str | None = None,
    x_label: str | None = None,
    labels: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
    width: str | float = "single",
    ci_level: float = 0.95,
) -> Figure:
    """Forest plot of an association table: one row per predictor → response.

    Parameters
    ----------
    associations
        The association contract: ``cohort, mechanism, predictor, response, model,
        n, estimate, se, ci_low, ci_high, p, q``; optionally ``unit`` (unit of the
        estimate, e.g. "ln pg/mg per SD") and ``status`` (rows whose status is not
        "ok", or whose estimate is missing, are listed with the reason in grey).
        Other columns are ignored and never drawn.
    title
        Optional title above the plot (journals usually put it in the caption).
    x_label
        Axis label; by default "Estimate (unit)" from the ``unit`` column, or
        "Estimate (log-odds for logistic models)" for mixed linear/logistic rows.
    labels
        Optional human labels, variable or mechanism name → label.
    colours
        Optional cohort → colour map, e.g. ``cohort_colours(all_cohorts)`` to keep
        colours identical across figures; default ``cohort_colours`` of this table.
    width
        ``"single"`` (85 mm, default), ``"double"`` (174 mm) or a width in mm. The
        height grows with the number of rows.
    ci_level
        Confidence level of ``ci_low``/``ci_high``, for the footnote only.

    Each cohort is one marker + CI whisker per row, at a fixed vertical offset, in its
    Okabe–Ito colour and marker shape; "pooled"/"meta" is a black diamond. The legend
    gives each cohort's n range. Estimates with FDR q < 0.05 carry an asterisk. A
    reference line marks 0 (no association; 0 is also "no association" on the
    log-odds scale of logistic rows).
    """
    _width_mm(width)  # fail early on a bad width
    df = _validate(associations)
    if df.empty:
        return _no_data_figure(title, width)

    rows = _build_rows(df, labels)
    xlabel, unit_per_row = _axis_label(rows, x_label)
    cohorts = _sorted_cohorts(df["cohort"])
    palette = cohort_colours(cohorts)
    if colours:
        palette.update({str(k): str(v) for k, v in colours.items()})
    markers = cohort_markers(cohorts)
    k = len(cohorts)
    slot = {c: i for i, c in enumerate(cohorts)}

    # ---- vertical layout, in mm from the top (y axis runs downwards in mm)
    row_mm = max(_MIN_ROW_MM, _SLOT_MM * k + _ROW_PAD_MM)
    if unit_per_row:
        row_mm = max(row_mm, 8.5)
    mechanisms = list(dict.fromkeys(r.key[0] for r in rows))
    # mechanism headings when there are several mechanisms (or one with a human label)
    show_headers = len(mechanisms) > 1 or bool(labels and mechanisms[0] in labels)
    headers: list[tuple[float, str]] = []
    y = 0.0
    current = None
    for r in rows:
        if show_headers and r.key[0] != current:
            current = r.key[0]
            headers.append((y + _HEADER_MM * 0.55, label_for(current, labels) or "(no mechanism)"))
            y += _HEADER_MM
        r.y = y + row_mm / 2
        y += row_mm
    total_mm = y

    def y_of(row: _Row, cohort: str) -> float:
        return row.y + (slot[cohort] - (k - 1) / 2) * _SLOT_MM

    width_mm = _width_mm(width)

    with journal_style():
        fig = new_figure(width, total_mm + 45.0)
        ax = fig.add_subplot()
        style_axes(ax, left_spine=False)

        # reference line at 0 (also 0 on the log-odds scale)
        ax.axvline(0.0, color=LIGHT_GREY, lw=LINE_WIDTH, zorder=0)

        any_open = False
        reason_texts = []
        star_xs: list[float] = []
        for cohort in cohorts:
            colour = palette.get(cohort, "black")
            marker = markers[cohort]
            pooled = is_pooled(cohort)
            size = _MARKER_SIZE[pooled]
            filled_x, filled_y, open_x, open_y = [], [], [], []
            for row in rows:
                e = row.entries[row.entries["cohort"] == cohort]
                if e.empty:
                    continue
                rec = e.iloc[0]
                yy = y_of(row, cohort)
                if not rec["ok"]:
                    t = ax.annotate(
                        textwrap.shorten(f"{cohort}: {rec['reason']}", width=90, placeholder="\u2026"),
                        xy=(0.0, yy), xycoords=("axes fraction", "data"),
                        xytext=(2.0, 0.0), textcoords="offset points",
                        ha="left", va="center", fontsize=SMALL_FONT_SIZE, color=GREY,
                        fontstyle="italic", annotation_clip=False,
                        bbox=dict(boxstyle="square,pad=0.05", fc="white", ec="none"),
                        gid="forest-reason",
                    )
                    t.set_in_layout(False)
                    reason_texts.append((t, f"{cohort}, {row.label}: {rec['reason']}"))
                    continue
                est, lo, hi = rec["estimate"], rec["ci_low"], rec["ci_high"]
                if math.isfinite(lo) and math.isfinite(hi):
                    ax.plot([lo, hi], [yy, yy], color=colour, lw=0.9, solid_capstyle="butt",
                            zorder=2)
                    filled_x.append(est)
                    filled_y.append(yy)
                    right = max(hi, est)
                else:
                    open_x.append(est)
                    open_y.append(yy)
                    any_open = True
                    right = est
                if math.isfinite(rec["q"]) and rec["q"] < FDR_THRESHOLD:
                    star_xs.append(right)
                    # clear of the whisker end, or of the marker when there is no CI
                    dx = 1.2 + (size / 2 if right == est else 0.0)
                    ax.annotate(
                        "*", xy=(right, yy), xytext=(dx, -1.2), textcoords="offset points",
                        ha="left", va="center", fontsize=TITLE_FONT_SIZE, fontweight="bold",
                        color="black", annotation_clip=False, gid="forest-star",
                    )
            i = slot[cohort]
            if filled_x:
                ax.plot(filled_x, filled_y, ls="none", marker=marker, ms=size, mfc=colour,
                        mec=colour, mew=0.0, zorder=3,
                        gid=f"forest-points-{i}-filled")
            if open_x:
                ax.plot(open_x, open_y, ls="none", marker=marker, ms=size, mfc="white",
                        mec=colour, mew=0.8, zorder=3, gid=f"forest-points-{i}-open")

        # ---- x range: every estimate and CI bound, and 0
        ok = df[df["ok"]]
        vals = np.concatenate([ok["estimate"].to_numpy(), ok["ci_low"].to_numpy(),
                               ok["ci_high"].to_numpy(), [0.0]])
        vals = vals[np.isfinite(vals)]
        lo, hi = float(vals.min()), float(vals.max())
        span = hi - lo if hi > lo else max(abs(hi), 1.0)
        ax.set_xlim(lo - 0.06 * span, hi + (0.10 if star_xs else 0.06) * span)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5 if width_mm < 120 else 8, steps=[1, 2, 2.5, 5, 10]))
        ax.set_xlabel(xlabel, fontsize=FONT_SIZE)

        # ---- y: rows top-down, labels as tick labels
        ax.set_ylim(total_mm, 0.0)
        tick_labels = [f"{r.label}\n{r.unit}" if unit_per_row and r.unit else r.label for r in rows]
        ax.yaxis.set_major_locator(FixedLocator([r.y for r in rows]))
        ax.set_yticklabels(tick_labels)
        ax.yaxis.set_minor_locator(NullLocator())
        ax.tick_params(axis="y", length=0, pad=3.0, labelsize=FONT_SIZE)
        for yy, text in headers:
            ax.annotate(
                text, xy=(0.0, yy), xycoords=("axes fraction", "data"), xytext=(-3.0, 0.0),
                textcoords="offset points", ha="right", va="center", fontsize=FONT_SIZE,
                fontweight="bold", annotation_clip=False, gid="forest-header",
            )

        # ---- legend above the plot: cohort (n range)
        handles, texts = [], []
        for cohort in cohorts:
            ok_c = ok[ok["cohort"] == cohort]
            n_text = f"n = {format_range(ok_c['n'])}" if not ok_c.empty else "no estimate"
            texts.append(f"{cohort} ({n_text})")
            handles.append(Line2D([], [], color=palette.get(cohort, "black"), lw=0.9,
                                  marker=markers[cohort], ms=_MARKER_SIZE[is_pooled(cohort)],
                                  mew=0.0))
        # Title and legend sit in a band at the top, footnotes in a band at the bottom,
        # both outside the constrained layout (which is confined between them), so
        # nothing can overlap whatever the figure height.
        renderer = fig.canvas.get_renderer()
        top_mm = 1.2
        head = None
        if title:
            head = fig.text(0.0, 1.0, title, transform=_from_top_left(fig, 1.5, top_mm),
                            ha="left", va="top", fontsize=TITLE_FONT_SIZE, fontweight="bold",
                            gid="forest-title")
            head.set_in_layout(False)
            top_mm += _height_mm(fig, renderer, head) + 1.5
        legend = fig.legend(
            handles, texts, loc="upper center", bbox_to_anchor=(0.5, 1.0),
            bbox_transform=_from_top_left(fig, 0.0, top_mm - 0.8), borderaxespad=0.0,
            ncols=_legend_ncol(texts, width_mm), frameon=False, fontsize=FONT_SIZE,
            handlelength=1.6,
        )
        legend.set_in_layout(False)
        top_mm += _height_mm(fig, renderer, legend) + 1.5

        # ---- footnotes at the bottom-left of the figure, outside the layout
        pct = f"{ci_level * 100:g}%"
        notes = [f"Points: estimates; whiskers: {pct} confidence intervals."]
        if any_open:
            notes.append("Open marker: confidence interval not available.")
        if star_xs:
            notes.append(f"* FDR q < {FDR_THRESHOLD:g}")
        if not df["ok"].all():
            notes.append("Grey text: no estimate, with the reason.")
        foot = fig.text(
            1.5 / MM_PER_INCH, 1.2 / MM_PER_INCH, "\n".join(notes),
            transform=fig.dpi_scale_trans, ha="left", va="bottom",
            fontsize=SMALL_FONT_SIZE, color=GREY, gid="forest-footnote",
        )
        foot.set_in_layout(False)
        bottom_mm = _height_mm(fig, renderer, foot) + 2.4

        _fit_height(fig, ax, total_mm, bottom_mm, top_mm)
        if _fit_xlabel(fig, ax):
            _fit_height(fig, ax, total_mm, bottom_mm, top_mm)
        long_reasons = _fit_reasons(fig, ax, reason_texts)
        if long_reasons:
            # reasons cut short in the plot are given in full in the footnote
            chars = max(int((width_mm - 3.0) / 1.3), 30)
            notes += [textwrap.fill(n, width=chars, subsequent_indent="   ") for n in long_reasons]
            foot.set_text("\n".join(notes))
            bottom_mm = _height_mm(fig, renderer, foot) + 2.4
            _fit_height(fig, ax, total_mm, bottom_mm, top_mm)
    return fig


def _from_top_left(fig: Figure, x_mm: float, y_mm: float):
    """Transform placing (0, 1) in figure coordinates ``x_mm`` right, ``y_mm`` down.

    Anchored to the top edge, so positions survive changes of the figure height.
    """
    shift = ScaledTranslation(x_mm / MM_PER_INCH, -y_mm / MM_PER_INCH, fig.dpi_scale_trans)
    return fig.transFigure + shift


def _height_mm(fig: Figure, renderer, artist) -> float:
    return artist.get_window_extent(renderer).height / fig.dpi * MM_PER_INCH


def _fit_height(fig: Figure, ax, axes_mm: float, bottom_mm: float, top_mm: float) -> None:
    """Resize the figure so that the axes get ``axes_mm`` of height.

    The constrained layout is confined to the band between ``top_mm`` (title and
    legend) and ``bottom_mm`` (footnotes).
    """
    engine = fig.get_layout_engine()
    for _ in range(4):
        fig_h_mm = fig.get_figheight() * MM_PER_INCH
        bottom, top = bottom_mm / fig_h_mm, top_mm / fig_h_mm
        engine.set(rect=(0.0, bottom, 1.0, 1.0 - bottom - top))
        fig.draw_without_rendering()
        got = ax.get_position().height * fig_h_mm
        if abs(got - axes_mm) < 0.1:
            break
        fig.set_figheight((fig_h_mm + axes_mm - got) / MM_PER_INCH)


def _fit_xlabel(fig: Figure, ax) -> bool:
    """Keep the x-axis label inside the figure: right-align it, then wrap it."""
    renderer = fig.canvas.get_renderer()
    fig_w = fig.bbox.width
    label = ax.xaxis.label

    def overflows() -> bool:
        bb = label.get_window_extent(renderer)
        return bb.x0 < 0 or bb.x1 > fig_w

    if not overflows():
        return False
    text = label.get_text()
    ax.set_xlabel(text, loc="right")
    fig.draw_without_rendering()
    width = len(text)
    while overflows() and width > 12:
        width = int(width * 0.8)
        ax.set_xlabel(textwrap.fill(text, width=width), loc="right")
        fig.draw_without_rendering()
    return True


_SUPERSCRIPT_DIGITS = str.maketrans("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _fit_reasons(fig: Figure, ax, texts) -> list[str]:
    """Shorten grey reason texts that would run past the axes.

    A shortened text ends in an ellipsis and a superscript note number; the returned
    footnote lines give those reasons in full, numbered top to bottom.
    """
    notes: list[str] = []
    if not texts:
        return notes
    renderer = fig.canvas.get_renderer()
    right = ax.get_window_extent(renderer).x1
    # top to bottom on the page (the y axis runs downwards)
    for t, full_note in sorted(texts, key=lambda item: item[0].xy[1]):
        if t.get_window_extent(renderer).x1 <= right:
            continue
        mark = str(len(notes) + 1).translate(_SUPERSCRIPT_DIGITS)
        full = t.get_text()
        n = len(full)
        while n > 4:
            n -= 1
            t.set_text(full[:n].rstrip(" :,;") + "\u2026" + mark)
            if t.get_window_extent(renderer).x1 <= right:
                break
        notes.append(f"{mark} {full_note}")
    fig.draw_without_rendering()
    return notes
