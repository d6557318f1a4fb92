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
from matplotlib.text import Text
from matplotlib.transforms import ScaledTranslation, blended_transform_factory
from matplotlib.ticker import AutoMinorLocator, MaxNLocator, NullLocator

from first1000.errors import InputTableError, format_rows
from first1000.figures.style import (
    FONT_SIZE,
    GREY,
    LIGHT_GREY,
    LINE_WIDTH,
    MM_PER_INCH,
    PNG_DPI,
    SMALL_FONT_SIZE,
    TITLE_FONT_SIZE,
    _sorted_cohorts,
    _width_mm,
    cohort_colours,
    cohort_markers,
    contract_table,
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

FDR_THRESHOLD = 0.05  # the default of q_level (the config's fdr)
ARROW = "\u2192"

# Geometry, in mm. The figure has no layout engine: every position is computed here,
# in mm, from measured text extents, so no table can make the layout fail.
_SLOT_MM = 2.8  # distance between two cohorts' points inside one row
_ROW_PAD_MM = 2.6  # extra space per row (between the outermost points of adjacent rows)
_MIN_ROW_MM = 6.0
_LABEL_PAD_MM = 1.6  # space around a row's label block (total, above + below)
_HEADER_PAD_MM = 1.8  # space around a heading (total)
_EDGE_MM = 1.5  # figure edge to text
_LABEL_GAP_MM = 2.5  # label column to plot area
_INDENT_MM = 2.0  # row labels under a heading
_LABEL_FRACTION = 0.45  # the label column takes at most this share of the width
_MIN_PLOT_MM = 12.0
#: The narrowest plot drawn beside the estimate [CI] column (else the column is left out).
_MIN_PLOT_WITH_ESTIMATES_MM = 30.0
_MARKER_SIZE = {False: 4.2, True: 5.0}  # points; pooled diamonds a little larger


def _is_logistic(model: object) -> bool:
    m = str(model).strip().lower()
    return any(k in m for k in ("logist", "logit", "binomial"))


@dataclass
class _Row:
    key: tuple[str, str, str, str]
    label: str  # full label, "predictor → response (model)"
    logistic: bool
    unit: str | None
    predictor_label: str = ""
    response_label: str = ""
    suffix: str = ""
    text: str = ""  # label drawn at the row (the full label, or the part not in the heading)
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
    df = contract_table(associations, cols, _NUMERIC, "association")
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
        pred_label, resp_label = label_for(pred, labels), label_for(resp, labels)
        suffix = f" ({model})" if pair_models.loc[(mech, pred, resp)] > 1 else ""
        label = f"{pred_label} {ARROW} {resp_label}{suffix}"
        logistic = bool(entries["logistic"].iloc[0])
        units = [u for u in entries["unit"] if u]
        unit = units[0] if units else ("log-odds" if logistic else None)
        rows.append(_Row(key=key, label=label, logistic=logistic, unit=unit,
                         predictor_label=pred_label, response_label=resp_label,
                         suffix=suffix, text=label, entries=entries))
    # Group rows by mechanism, mechanisms in order of first appearance.
    mechs = list(dict.fromkeys(r.key[0] for r in rows))
    return [r for m in mechs for r in rows if r.key[0] == m]


def _shared_heading(rows: list[_Row]) -> str | None:
    """Factor out a predictor (or response) shared by every row.

    The pipeline draws one plot per exposure (all rows share the predictor) or per
    outcome (all rows share the response); repeating it in every row label only makes
    the labels long. The shared part becomes a heading "EPDS → …" (or "… → Birth
    weight") and each row is labelled by the variable that differs.
    """
    if len(rows) < 2:
        return None
    if len({r.key[1] for r in rows}) == 1:
        for r in rows:
            r.text = r.response_label + r.suffix
        return f"{rows[0].predictor_label} {ARROW} \u2026"
    if len({r.key[2] for r in rows}) == 1:
        for r in rows:
            r.text = r.predictor_label + r.suffix
        return f"\u2026 {ARROW} {rows[0].response_label}"
    return None




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


class _Measure:
    """Text extents in mm (house style), and wrapping of text to a width in mm."""

    def __init__(self, fig: Figure):
        self.fig = fig
        self.renderer = fig.canvas.get_renderer()
        self._cache: dict[tuple, tuple[float, float]] = {}

    def size(self, text: str, **props) -> tuple[float, float]:
        key = (text, tuple(sorted(props.items())))
        if key not in self._cache:
            t = Text(0.0, 0.0, text, **props)
            t.set_figure(self.fig)
            bb = t.get_window_extent(self.renderer)
            scale = MM_PER_INCH / self.fig.dpi
            self._cache[key] = (bb.width * scale, bb.height * scale)
        return self._cache[key]

    def width(self, text: str, **props) -> float:
        return self.size(text, **props)[0]

    def height(self, text: str, **props) -> float:
        return self.size(text, **props)[1] if text else 0.0

    def wrap(self, text: str, max_mm: float, **props) -> str:
        """Greedy word wrap to ``max_mm``.

        A parenthesised group ("(ln T/S)") is kept on one line when it fits on a line;
        words longer than a line are split.
        """
        max_mm = max(max_mm, 1.0)
        lines: list[str] = []
        for para in str(text).split("\n"):
            if self.width(para, **props) <= max_mm:
                lines.append(para)
                continue
            current = ""
            for unit in _groups(para):
                candidate = f"{current} {unit}" if current else unit
                if self.width(candidate, **props) <= max_mm:
                    current = candidate
                    continue
                if current and self.width(unit, **props) <= max_mm:
                    lines.append(current)
                    current = unit
                    continue
                for word in unit.split():
                    candidate = f"{current} {word}" if current else word
                    if self.width(candidate, **props) <= max_mm:
                        current = candidate
                        continue
                    if current:
                        lines.append(current)
                    while len(word) > 1 and self.width(word, **props) > max_mm:
                        n = len(word) - 1
                        while n > 1 and self.width(word[:n], **props) > max_mm:
                            n -= 1
                        lines.append(word[:n])
                        word = word[n:]
                    current = word
            lines.append(current)
        return "\n".join(lines)

    def wrap_label(self, text: str, max_mm: float, **props) -> str:
        """Wrap a row label, breaking after the arrow of "predictor → response" first."""
        sep = f" {ARROW} "
        if sep in text and self.width(text, **props) > max_mm:
            left, right = text.split(sep, 1)
            return (self.wrap_balanced(f"{left} {ARROW}", max_mm, **props) + "\n"
                    + self.wrap_balanced(right, max_mm, **props))
        return self.wrap_balanced(text, max_mm, **props)

    def wrap_balanced(self, text: str, max_mm: float, **props) -> str:
        """Like :meth:`wrap`, with the same number of lines but lines of even length
        (no one-word last line)."""
        greedy = self.wrap(text, max_mm, **props)
        n = greedy.count("\n") + 1
        if n == 1:
            return greedy
        lo, hi = 0.0, max(max_mm, 1.0)
        while hi - lo > 0.5:
            mid = (lo + hi) / 2
            if self.wrap(text, mid, **props).count("\n") + 1 <= n:
                hi = mid
            else:
                lo = mid
        return self.wrap(text, hi, **props)

    def block_width(self, text: str, **props) -> float:
        return max((self.width(line, **props) for line in text.split("\n")), default=0.0)


def _groups(text: str) -> list[str]:
    """Split at spaces outside parentheses: "IL-6 (ln pg/mL)" -> ["IL-6", "(ln pg/mL)"]."""
    out, current, depth = [], "", 0
    for ch in text:
        if ch == " " and depth == 0:
            if current:
                out.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        depth = max(depth, 0)
        current += ch
    if current:
        out.append(current)
    return out


def _no_data_figure(title: str | None, width: str | float) -> Figure:
    w = _width_mm(width)
    with journal_style():
        fig = new_figure(width, 25.0, layout=None)
        fig.set_dpi(PNG_DPI)
        m = _Measure(fig)
        title_props = dict(fontsize=TITLE_FONT_SIZE, fontweight="bold")
        top = 1.2
        if title:
            wrapped = m.wrap(title, w - 2 * _EDGE_MM, **title_props)
            fig.text(0.0, 1.0, wrapped, transform=_from_top_left(fig, _EDGE_MM, top),
                     ha="left", va="top", gid="forest-title", **title_props)
            top += m.height(wrapped, **title_props) + 1.5
        h = top + 12.0
        fig.set_figheight(h / MM_PER_INCH)
        fig.text(0.5, 1.0, "No associations to show", ha="center", va="center", color=GREY,
                 fontsize=FONT_SIZE, transform=_from_top_left(fig, 0.0, top + 6.0))
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
    estimates: bool | None = None,
    q_level: float = FDR_THRESHOLD,
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
        Optional human labels, variable, mechanism or cohort name → label.
    colours
        Optional cohort → colour map, e.g. ``cohort_colours(all_cohorts)`` to keep
        colours identical across figures; default ``cohort_colours`` of this table.
    width
        ``"single"`` (85 mm, default), ``"double"`` (174 mm) or a width in mm. The
        height grows with the number of rows.
    ci_level
        Confidence level of ``ci_low``/``ci_high``, for the footnote only.
    estimates
        The column right of the plot with each marker's "estimate [CI]" ("OR …" for a
        logistic row: the odds ratio). None (default): shown when the plot keeps at least
        30 mm beside it (a double-column figure); True/False: always/never.
    q_level
        The FDR level (the config's ``fdr``): estimates with q below it carry an asterisk.

    Each cohort is one marker + CI whisker per row, at a fixed vertical offset, in its
    Okabe–Ito colour and marker shape; "pooled"/"meta" is a black diamond. The legend
    gives each cohort's n range. Estimates with FDR q < ``q_level`` carry an asterisk. A
    reference line marks 0 (no association; 0 is also "no association" on the
    log-odds scale of logistic rows). When every row shares its predictor (or its
    response), that variable is given once in a heading ("EPDS → …") and the rows are
    labelled by the other variable. Row labels are wrapped into a label column of at
    most 45% of the width; the layout is computed in mm from measured text, without a
    layout engine, so any table of the contract gives a valid figure.
    """
    width_mm = _width_mm(width)  # fail early on a bad width
    df = _validate(associations)
    if df.empty:
        return _no_data_figure(title, width)

    rows = _build_rows(df, labels)
    xlabel, unit_per_row = _axis_label(rows, x_label)
    shared = _shared_heading(rows)
    cohorts = _sorted_cohorts(df["cohort"])
    palette = cohort_colours(cohorts)
    if colours:
        palette.update({str(k): str(v) for k, v in colours.items()})
    markers = cohort_markers(cohorts)
    k = len(cohorts)
    slot = {c: i for i, c in enumerate(cohorts)}
    mechanisms = list(dict.fromkeys(r.key[0] for r in rows))
    # mechanism headings when there are several mechanisms (or one with a human label)
    show_headers = len(mechanisms) > 1 or bool(labels and mechanisms[0] in labels)

    label_props = dict(fontsize=FONT_SIZE)
    unit_props = dict(fontsize=SMALL_FONT_SIZE)
    head_props = dict(fontsize=FONT_SIZE, fontweight="bold")
    shared_props = dict(fontsize=FONT_SIZE)
    title_props = dict(fontsize=TITLE_FONT_SIZE, fontweight="bold")
    note_props = dict(fontsize=SMALL_FONT_SIZE)

    with journal_style():
        fig = new_figure(width, 100.0, layout=None)
        # measure text at the PNG resolution: hinted text at screen resolution is taller
        fig.set_dpi(PNG_DPI)
        m = _Measure(fig)
        text_mm = width_mm - 2 * _EDGE_MM  # full-width text (title, headings, notes)

        # ---- horizontal layout: label column | gap | plot | estimate [CI] column | margin
        indent = _INDENT_MM if (show_headers or shared) else 0.0
        entry_texts = {}  # (row id, cohort) -> "estimate [CI]" (OR for a logistic row)
        for r in rows:
            for rec in r.entries.itertuples(index=False):
                if rec.ok and math.isfinite(rec.ci_low) and math.isfinite(rec.ci_high):
                    entry_texts[(id(r), rec.cohort)] = estimate_text(rec.estimate, rec.ci_low, rec.ci_high,
                                                                     r.logistic)
        ci_props = dict(fontsize=SMALL_FONT_SIZE)
        ci_col_mm = max([m.width(t, **ci_props) for t in entry_texts.values()], default=0.0)
        labels_mm = min(indent + max(m.width(r.text, **label_props) for r in rows), _LABEL_FRACTION * width_mm)
        if estimates is False or (estimates is None and width_mm - _EDGE_MM - labels_mm - _LABEL_GAP_MM - 2.5
                                  - (ci_col_mm + 1.5) < _MIN_PLOT_WITH_ESTIMATES_MM):
            entry_texts = {}  # no room beside a usable plot (a single-column figure): no column
        right_mm = 2.5 + (ci_col_mm + 1.5 if entry_texts else 0.0)
        col_cap = max(min(_LABEL_FRACTION * width_mm,
                          width_mm - _EDGE_MM - _LABEL_GAP_MM - right_mm - _MIN_PLOT_MM), 5.0)
        natural = max(
            [m.width(r.text, **label_props) for r in rows]
            + [m.width(r.unit, **unit_props) for r in rows if unit_per_row and r.unit]
        ) + indent
        col_mm = min(natural, col_cap)
        for r in rows:
            r.text = m.wrap_label(r.text, col_mm - indent, **label_props)
        unit_texts = {
            id(r): m.wrap_balanced(r.unit, col_mm - indent, **unit_props)
            for r in rows if unit_per_row and r.unit
        }
        # wrapped lines may be shorter than the cap: the column is as wide as its text
        col_mm = min(col_mm, indent + max(
            [m.block_width(r.text, **label_props) for r in rows]
            + [m.block_width(u, **unit_props) for u in unit_texts.values()]
        ))
        left_mm = _EDGE_MM + col_mm + _LABEL_GAP_MM
        plot_mm = max(width_mm - left_mm - right_mm, 3.0)

        # ---- vertical layout, in mm from the top of the axes (y axis runs downwards)
        base_row_mm = max(_MIN_ROW_MM, _SLOT_MM * k + _ROW_PAD_MM)
        y = 0.0
        headings: list[tuple[float, str, dict]] = []  # (top y, text, props)

        def add_heading(text: str, props: dict) -> None:
            nonlocal y
            wrapped = m.wrap(text, text_mm, **props)
            h = m.height(wrapped, **props)
            headings.append((y + _HEADER_PAD_MM / 2, wrapped, props))
            y += h + _HEADER_PAD_MM

        if shared:
            add_heading(shared, shared_props)
        current = None
        blocks: dict[int, tuple[float, float]] = {}  # label height, unit height
        first_top: float | None = None
        for r in rows:
            if show_headers and r.key[0] != current:
                current = r.key[0]
                add_heading(label_for(current, labels) or "(no mechanism)", head_props)
            lab_h = m.height(r.text, **label_props)
            unit_h = m.height(unit_texts[id(r)], **unit_props) if id(r) in unit_texts else 0.0
            blocks[id(r)] = (lab_h, unit_h)
            block = lab_h + (unit_h + 0.3 if unit_h else 0.0)
            row_mm = max(base_row_mm, block + _LABEL_PAD_MM)
            if first_top is None:
                first_top = y
            r.y = y + row_mm / 2
            y += row_mm
        total_mm = y

        def y_of(row: _Row, cohort: str) -> float:
            return row.y + (slot[cohort] - (k - 1) / 2) * _SLOT_MM

        ax = fig.add_axes((left_mm / width_mm, 0.3, plot_mm / width_mm, 0.5))
        style_axes(ax, left_spine=False)
        ax.set_ylim(total_mm, 0.0)
        ax.set_yticks([])
        ax.yaxis.set_minor_locator(NullLocator())

        # reference line at 0 (also 0 on the log-odds scale), from the first row down
        ax.plot([0.0, 0.0], [first_top or 0.0, total_mm], color=LIGHT_GREY, lw=LINE_WIDTH,
                zorder=0, solid_capstyle="butt", gid="forest-reference")

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
                    t.set_in_layout(False)  # shortened to the plot width later
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
                if math.isfinite(rec["q"]) and rec["q"] < q_level:
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

        # ---- the estimate [CI] column, right of the plot, one line per marker
        ci_x = blended_transform_factory(ax.transAxes, ax.transData)
        for r in rows:
            for cohort in cohorts:
                text = entry_texts.get((id(r), cohort))
                if text:
                    t = ax.text(1.0, y_of(r, cohort), text, transform=ci_x + ScaledTranslation(
                        1.5 / MM_PER_INCH, 0.0, fig.dpi_scale_trans), ha="left", va="center", clip_on=False,
                        color="black" if is_pooled(cohort) else GREY, gid="forest-estimate", **ci_props)
                    t.set_in_layout(False)

        # ---- x range: every estimate and CI bound, and 0
        ok = df[df["ok"]]
        vals = np.concatenate([ok["estimate"].to_numpy(), ok["ci_low"].to_numpy(),
                               ok["ci_high"].to_numpy(), [0.0]])
        vals = vals[np.isfinite(vals)]
        lo, hi = float(vals.min()), float(vals.max())
        span = hi - lo if hi > lo else max(abs(hi), 1.0)
        ax.set_xlim(lo - 0.06 * span, hi + (0.12 if star_xs else 0.06) * span)

        # ---- row labels (left-aligned at the figure edge) and headings
        label_x = blended_transform_factory(fig.dpi_scale_trans, ax.transData)
        for r in rows:
            lab_h, unit_h = blocks[id(r)]
            top = r.y - (lab_h + (unit_h + 0.3 if unit_h else 0.0)) / 2
            x_in = (_EDGE_MM + indent) / MM_PER_INCH
            ax.text(x_in, top, r.text, transform=label_x, ha="left", va="top",
                    clip_on=False, gid="forest-label", in_layout=False, **label_props)
            if id(r) in unit_texts:
                ax.text(x_in, top + lab_h + 0.3, unit_texts[id(r)], transform=label_x,
                        ha="left", va="top", color=GREY, clip_on=False, gid="forest-unit",
                        in_layout=False, **unit_props)
        for top, text, props in headings:
            ax.text(_EDGE_MM / MM_PER_INCH, top, text, transform=label_x, ha="left", va="top",
                    clip_on=False, zorder=4, gid="forest-header", in_layout=False,
                    bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none"), **props)

        # ---- title and legend in a band above the plot
        top_mm = 1.2
        if title:
            wrapped = m.wrap(title, text_mm, **title_props)
            fig.text(0.0, 1.0, wrapped, transform=_from_top_left(fig, _EDGE_MM, top_mm),
                     ha="left", va="top", gid="forest-title", **title_props)
            top_mm += m.height(wrapped, **title_props) + 1.5
        handles, texts = [], []
        for cohort in cohorts:
            ok_c = ok[ok["cohort"] == cohort]
            n_text = f"n = {format_range(ok_c['n'])}" if not ok_c.empty else "no estimate"
            texts.append(m.wrap(f"{label_for(cohort, labels)} ({n_text})", text_mm - 8.0,
                                fontsize=FONT_SIZE))
            handles.append(Line2D([], [], color=palette.get(cohort, "black"), lw=0.9,
                                  marker=markers[cohort], ms=_MARKER_SIZE[is_pooled(cohort)],
                                  mew=0.0))
        legend = None
        for ncol in range(len(texts), 0, -1):
            legend = fig.legend(
                handles, texts, loc="upper center", bbox_to_anchor=(0.5, 1.0),
                bbox_transform=_from_top_left(fig, 0.0, top_mm - 0.6), borderaxespad=0.0,
                ncols=ncol, frameon=False, fontsize=FONT_SIZE, handlelength=1.6,
            )
            if ncol == 1 or _size_mm(fig, m.renderer, legend)[0] <= text_mm:
                break
            legend.remove()
        top_mm += _size_mm(fig, m.renderer, legend)[1] + 2.0

        # ---- x axis: ticks that do not collide, a label that stays inside the figure
        ax_w = plot_mm
        for _ in range(3):
            ax.set_position((left_mm / width_mm, 0.3, ax_w / width_mm, 0.5))
            _fit_xticks(fig, ax, 5 if ax_w < 90 else 8)
            # centred under the plot when it fits, else right-aligned with the plot and
            # free to run left under the label column (empty below the plot)
            if m.width(xlabel, **label_props) <= ax_w:
                ax.set_xlabel(xlabel, fontsize=FONT_SIZE, loc="center")
            else:
                avail = left_mm + ax_w - _EDGE_MM
                ax.set_xlabel(m.wrap_balanced(xlabel, avail, **label_props),
                              fontsize=FONT_SIZE, loc="right")
            fig.draw_without_rendering()
            right_edge = _size_mm(fig, m.renderer, ax.get_tightbbox(m.renderer), x1=True)
            over = right_edge - (width_mm - _EDGE_MM - (right_mm - 2.5))  # the estimate column's room
            if over <= 0.05:
                break
            ax_w = max(ax_w - over - 0.5, 3.0)
        long_reasons = _fit_reasons(fig, ax, reason_texts)

        # ---- footnotes at the bottom-left of the figure
        pct = f"{ci_level * 100:g}%"
        notes = [f"Points: estimates; whiskers: {pct} confidence intervals"
                 + (f"; right: estimate [{pct} CI]" if entry_texts else "")
                 + ("; OR: odds ratio of a logistic model (axis: log odds)." if entry_texts and
                    any(r.logistic for r in rows) else ".")]
        if any_open:
            notes.append("Open marker: confidence interval not available.")
        if star_xs:
            notes.append(f"* FDR q < {q_level:g}")
        if not df["ok"].all():
            notes.append("Grey text: no estimate, with the reason.")
        notes += long_reasons
        foot_text = "\n".join(m.wrap(n, text_mm, **note_props) for n in notes)
        fig.text(_EDGE_MM / MM_PER_INCH, 1.2 / MM_PER_INCH, foot_text,
                 transform=fig.dpi_scale_trans, ha="left", va="bottom", color=GREY,
                 gid="forest-footnote", **note_props)
        foot_mm = m.height(foot_text, **note_props)

        # ---- final height: title/legend band, plot, x axis, footnotes
        ax_px = ax.get_window_extent(m.renderer)
        below = ax_px.y0 - ax.xaxis.get_tightbbox(m.renderer).y0
        below_mm = max(below, 0.0) / fig.dpi * MM_PER_INCH
        height_mm = top_mm + total_mm + below_mm + 2.5 + foot_mm + 1.2
        fig.set_figheight(height_mm / MM_PER_INCH)
        ax.set_position((left_mm / width_mm, (height_mm - top_mm - total_mm) / height_mm,
                         ax_w / width_mm, total_mm / height_mm))
        fig.draw_without_rendering()
    return fig


def _fmt(x: float) -> str:
    """A number as journals print it: 2 decimals, 2 significant digits below 0.1."""
    if not math.isfinite(x):
        return "NA"
    if x != 0 and abs(x) < 0.1:
        return f"{x:.2g}" if abs(x) >= 1e-3 else f"{x:.1e}"
    return f"{x:.2f}"


def estimate_text(estimate: float, ci_low: float, ci_high: float, logistic: bool) -> str:
    """The text column's entry: ``estimate [low, high]``, or ``OR …`` (odds ratio, the
    exponentiated log odds) for a logistic model."""
    if logistic:
        return f"OR {_fmt(math.exp(estimate))} [{_fmt(math.exp(ci_low))}, {_fmt(math.exp(ci_high))}]"
    return f"{_fmt(estimate)} [{_fmt(ci_low)}, {_fmt(ci_high)}]"


def _from_top_left(fig: Figure, x_mm: float, y_mm: float):
    """Transform placing (0, 1) in figure coordinates ``x_mm`` right, ``y_mm`` down.

    Anchored to the top edge, so positions survive changes of the figure height.
    """
    shift = ScaledTranslation(x_mm / MM_PER_INCH, -y_mm / MM_PER_INCH, fig.dpi_scale_trans)
    return fig.transFigure + shift


def _size_mm(fig: Figure, renderer, thing, *, x1: bool = False):
    """(width, height) in mm of an artist or a display-space bbox; its right edge if x1."""
    bb = thing if hasattr(thing, "x1") else thing.get_window_extent(renderer)
    scale = MM_PER_INCH / fig.dpi
    if x1:
        return bb.x1 * scale
    return bb.width * scale, bb.height * scale


def _fit_xticks(fig: Figure, ax, nbins: int) -> None:
    """At most ``nbins`` ticks, fewer while neighbouring tick labels would touch.

    With fewer than three labelled ticks, unlabelled minor ticks halve the intervals.
    """
    renderer = fig.canvas.get_renderer()
    gap = 1.5 / MM_PER_INCH * fig.dpi  # at least 1.5 mm between tick labels
    ax.xaxis.set_minor_locator(NullLocator())
    boxes: list = []
    for n in range(nbins, 1, -1):
        ax.xaxis.set_major_locator(MaxNLocator(nbins=n, steps=[1, 2, 2.5, 5, 10]))
        fig.draw_without_rendering()
        lo, hi = ax.get_xlim()
        boxes = sorted(
            (t.get_window_extent(renderer) for t in ax.get_xticklabels()
             if t.get_visible() and t.get_text() and lo <= t.get_position()[0] <= hi),
            key=lambda b: b.x0,
        )
        if all(b.x0 - a.x1 >= gap for a, b in zip(boxes, boxes[1:])):
            break
    if len(boxes) < 3:
        ax.xaxis.set_minor_locator(AutoMinorLocator(2))
        ax.tick_params(axis="x", which="minor", length=1.5, width=0.4, color="black")



_SUPERSCRIPT_DIGITS = str.maketrans("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _fit_reasons(fig: Figure, ax, texts) -> list[str]:
    """Shorten grey reason texts that would run past the figure's right margin.

    A shortened text ends in an ellipsis and a superscript note number; the returned
    footnote lines give those reasons in full, numbered top to bottom.
    """
    notes: list[str] = []
    if not texts:
        return notes
    renderer = fig.canvas.get_renderer()
    # a reason sits at its cohort's slot, which has no estimate text: it may run on to the
    # figure's right margin
    right = fig.bbox.width - _EDGE_MM / MM_PER_INCH * fig.dpi
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
