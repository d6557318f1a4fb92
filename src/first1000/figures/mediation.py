"""Mediation diagram: exposure → mediator → outcome for one path in one cohort.

The classic triangle (Baron & Kenny layout): exposure bottom-left, mediator on top,
outcome bottom-right; arrows carry the path estimates a, b and c′ with their
confidence intervals, and the indirect effect a·b, the total effect c and the
proportion mediated are listed underneath with the sample size and the bootstrap
settings. Every number is read from the mediation results tables; nothing is
refitted or recomputed. Only contract columns are read, so participant-level columns
can never reach the figure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from first1000.errors import InputTableError, format_rows
from first1000.figures.style import (
    contract_table,
    COLUMN_WIDTH_MM,
    FONT_SIZE,
    GREY,
    MM_PER_INCH,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    TITLE_FONT_SIZE,
    _is_missing,
    format_estimate_ci,
    format_number,
    format_range,
    journal_style,
    label_for,
    new_figure,
)

__all__ = ["mediation_diagram", "EFFECT_COLUMNS", "PATH_COLUMNS"]

EFFECT_COLUMNS: tuple[str, ...] = (
    "cohort", "exposure", "mediator", "outcome", "effect", "estimate", "se",
    "ci_low", "ci_high", "p", "n", "n_boot", "ci_method",
)
PATH_COLUMNS: tuple[str, ...] = (
    "cohort", "exposure", "mediator", "outcome", "path", "estimate", "se",
    "ci_low", "ci_high", "p", "n",
)
_KEY = ("cohort", "exposure", "mediator", "outcome")
_NUMERIC = ("estimate", "se", "ci_low", "ci_high", "p", "n")
EFFECTS = ("total", "direct", "indirect", "proportion_mediated")
PATHS = ("a", "b", "c_prime", "c")
PRIME = "\u2032"
DOT = "\u00b7"
TIMES = "\u00d7"
#: How an effect scale (``scale`` of the mediation table) is named in the caption.
_SCALE_NAMES = {"risk_difference": "risk-difference (probability)", "risk_ratio": "risk-ratio",
                "odds_ratio": "odds-ratio", "rate_ratio": "rate-ratio"}
NBSP = "\u00a0"
INDIRECT_COLOUR = OKABE_ITO[5]  # blue: the a and b arrows and the indirect effect
_CI_METHOD_NAMES = {
    "percentile": "percentile",
    "perc": "percentile",
    "bca": "BCa",
    "bc": "bias-corrected",
    "normal": "normal",
    "basic": "basic",
}

# Geometry, in mm.
_WIDTH_MM = COLUMN_WIDTH_MM["single"]
_BOX_MAX_TEXT_MM = 23.0  # exposure and outcome boxes
_MED_BOX_MAX_TEXT_MM = 34.0  # mediator box (top centre, more room)
_BOX_PAD_MM = 1.6
_BOX_MIN_W_MM = 20.0
_RISE_MM = 24.0  # vertical gap between the bottom boxes and the mediator box


def _line_mm(fontsize: float) -> float:
    return fontsize * 1.2 / 72 * MM_PER_INCH


def _check(table: pd.DataFrame, name: str, columns: tuple[str, ...], kind_col: str,
           kinds: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise InputTableError(
            f"mediation_diagram needs the {name} table as a pandas DataFrame, "
            f"got {type(table).__name__}"
        )
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputTableError(
            f"mediation {name} table lacks column(s) {', '.join(missing)}; "
            f"expected columns: {', '.join(columns)}"
        )
    df = contract_table(table, columns, _NUMERIC + ("n_boot",), f"mediation {name}")
    for col in _KEY + (kind_col,):
        df[col] = df[col].map(lambda v: "" if pd.isna(v) else str(v).strip())
    unknown = ~df[kind_col].isin(kinds)
    if unknown.any():
        rows = (np.flatnonzero(unknown.to_numpy()) + 1).tolist()
        raise InputTableError(
            f"mediation {name} table column {kind_col!r} must be one of "
            f"{', '.join(kinds)}; other values in {format_rows(rows)}"
        )
    dup = df.duplicated(subset=[kind_col], keep=False)
    if dup.any():
        rows = (np.flatnonzero(dup.to_numpy()) + 1).tolist()
        raise InputTableError(
            f"mediation {name} table has the same {kind_col} more than once "
            f"({format_rows(rows)}); pass the rows of one exposure → mediator → outcome "
            "path in one cohort"
        )
    return df


def _one_path(effects: pd.DataFrame, paths: pd.DataFrame) -> tuple[str, str, str, str]:
    keys = pd.concat([effects.loc[:, list(_KEY)], paths.loc[:, list(_KEY)]]).drop_duplicates()
    if len(keys) != 1:
        raise InputTableError(
            "mediation_diagram draws one exposure → mediator → outcome path in one cohort, "
            f"but the effects and paths tables hold {len(keys)} different "
            "(cohort, exposure, mediator, outcome) combinations; filter both tables to one"
        )
    rec = keys.iloc[0]
    return rec["cohort"], rec["exposure"], rec["mediator"], rec["outcome"]


def _row(df: pd.DataFrame, kind_col: str, kind: str) -> pd.Series | None:
    hit = df[df[kind_col] == kind]
    return None if hit.empty else hit.iloc[0]


def _est_text(rec: pd.Series | None) -> tuple[str, str]:
    """Estimate and bracketed CI, as two strings."""
    if rec is None or _is_missing(rec["estimate"]):
        return "not estimated", ""
    full = format_estimate_ci(rec["estimate"], rec["ci_low"], rec["ci_high"])
    est = format_number(rec["estimate"])
    return est, full[len(est) + 1:]


def _wrap_measured(fig: Figure, renderer, text: str, max_mm: float, fontsize: float) -> str:
    """Wrap ``text`` at word boundaries so each line is at most ``max_mm`` wide.

    A bracketed group such as a unit "(ln pg/mg)" is kept on one line.
    """
    probe = fig.text(0, 0, "", fontsize=fontsize)
    try:
        out_lines: list[str] = []
        for para in text.split("\n"):
            glued = re.sub(r"\([^()]*\)|\[[^\[\]]*\]", lambda m: m.group(0).replace(" ", NBSP), para)
            words = [w.replace(NBSP, " ") for w in glued.split(" ")]
            line = ""
            for w in words:
                trial = f"{line} {w}" if line else w
                probe.set_text(trial)
                if line and probe.get_window_extent(renderer).width / fig.dpi * MM_PER_INCH > max_mm:
                    out_lines.append(line)
                    line = w
                else:
                    line = trial
            out_lines.append(line)
        return "\n".join(out_lines)
    finally:
        probe.remove()


def _wrap_label(fig: Figure, renderer, text: str, max_mm: float) -> str:
    """Wrap a box label; a trailing unit "(…)" goes on its own line when wrapping."""
    greedy = _wrap_measured(fig, renderer, text, max_mm, FONT_SIZE)
    m = re.match(r"^(.*\S)\s+(\([^()]*\))$", text, flags=re.S)
    if "\n" not in greedy or m is None:
        return greedy
    split = _wrap_measured(fig, renderer, m.group(1), max_mm, FONT_SIZE) + "\n" + m.group(2)
    return split if split.count("\n") <= greedy.count("\n") else greedy


def _text_mm(fig: Figure, renderer, text: str, fontsize: float) -> tuple[float, float]:
    probe = fig.text(0, 0, text, fontsize=fontsize)
    try:
        bb = probe.get_window_extent(renderer)
        return bb.width / fig.dpi * MM_PER_INCH, bb.height / fig.dpi * MM_PER_INCH
    finally:
        probe.remove()


def _contrast_text(eff: pd.DataFrame) -> str:
    """'for exposure a0 → a1 (sd)' when the effects carry their exposure contrast."""
    if not {"contrast", "a0", "a1"} <= set(eff.columns) or eff.empty:
        return ""
    row = eff.iloc[0]
    if pd.isna(row["a0"]) or pd.isna(row["a1"]):
        return ""
    words = {"sd": "mean → mean + 1 SD", "iqr": "25th → 75th percentile", "binary": "lower → higher value"}
    contrast = row["contrast"] if isinstance(row["contrast"], str) else ""
    kind = f" ({words.get(contrast.split(' (')[0], contrast)})" if contrast else ""
    def value(v) -> str:  # codes of a two-valued exposure as integers
        return str(int(v)) if float(v).is_integer() and contrast.startswith("binary") else format_number(v)

    return f"for exposure {value(row['a0'])} → {value(row['a1'])}{kind}"


def mediation_diagram(
    effects: pd.DataFrame,
    paths: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    title: str | None = None,
    ci_level: float = 0.95,
) -> Figure:
    """Mediation triangle for ONE exposure → mediator → outcome path in one cohort.

    Parameters
    ----------
    effects
        Columns ``cohort, exposure, mediator, outcome, effect, estimate, se, ci_low,
        ci_high, p, n, n_boot, ci_method`` with ``effect`` in total, direct,
        indirect, proportion_mediated (bootstrap estimates).
    paths
        Columns ``cohort, exposure, mediator, outcome, path, estimate, se, ci_low,
        ci_high, p, n`` with ``path`` in a, b, c_prime, c (model estimates).
    labels
        Optional human labels, variable name → label (ideally with its unit), used
        in the boxes instead of the variable names.
    units
        Optional variable name → unit, printed in brackets under the box label
        (for labels that do not already carry their unit).
    title
        Optional title (journals usually put it in the caption).
    ci_level
        Confidence level of the intervals, for the caption only.

    Arrows a (exposure → mediator), b (mediator → outcome) and c′ (direct,
    exposure → outcome) carry "a = 0.123 [0.0512, 0.194]" (estimate and CI on two
    lines). Underneath: the indirect effect a·b, the total effect c and the
    proportion mediated with their CIs, and the caption "n = …, … bootstrap
    resamples (… CI)". Numbers have 3 significant figures.
    """
    # the exposure contrast of the counterfactual effects (optional columns, kept apart
    # from the contract columns the figure draws)
    contrast = _contrast_text(effects) if isinstance(effects, pd.DataFrame) else ""
    eff = _check(effects, "effects", EFFECT_COLUMNS, "effect", EFFECTS)
    pth = _check(paths, "paths", PATH_COLUMNS, "path", PATHS)
    if eff.empty and pth.empty:
        raise InputTableError("mediation_diagram got empty effects and paths tables")
    cohort, exposure, mediator, outcome = _one_path(eff, pth)

    def box_text(var: str) -> str:
        text = label_for(var, labels)
        if units and var in units and str(units[var]).strip():
            text += f"\n({units[var]})"
        return text

    rec = {p: _row(pth, "path", p) for p in PATHS}
    erec = {e: _row(eff, "effect", e) for e in EFFECTS}
    # The direct-path arrow shows the path model's c′ (like a and b); the bootstrap
    # "direct" effect stands in only if the paths table has no c′ row.
    c_prime = rec["c_prime"] if rec["c_prime"] is not None else erec["direct"]
    total = erec["total"] if erec["total"] is not None else rec["c"]

    def path_label(symbol: str, r: pd.Series | None) -> str:
        est, ci = _est_text(r)
        if not ci:
            return f"{symbol}: {est}" if est == "not estimated" else f"{symbol} = {est}"
        return f"{symbol} = {est}\n{ci}"

    def summary_line(name: str, r: pd.Series | None) -> str:
        est, ci = _est_text(r)
        if est == "not estimated":
            return f"{name}: not estimated"
        return f"{name} = {est} {ci}".rstrip()

    label_a = path_label("a", rec["a"])
    label_b = path_label("b", rec["b"])
    label_c = path_label(f"c{PRIME}", c_prime)
    # Counterfactual effects (columns contrast, a0, a1) are per exposure contrast, not
    # per unit: name them as such (TNIE, TE) instead of a·b and c, and say the contrast.
    summary = [
        summary_line("Indirect effect (TNIE)" if contrast else f"Indirect effect (a{DOT}b)", erec["indirect"]),
        summary_line("Total effect (TE)" if contrast else "Total effect (c)", total),
        summary_line("Proportion mediated", erec["proportion_mediated"]),
    ] + ([f"Exposure contrast: {contrast[len('for exposure '):]}"] if contrast else [])

    # Caption: n and bootstrap settings (aggregate numbers only).
    n_values = pd.concat([eff["n"], pth["n"]])
    n_text = format_range(n_values)
    boot = eff["n_boot"].dropna()
    methods = [m for m in dict.fromkeys(eff["ci_method"].dropna().astype(str).str.strip()) if m]
    method = ", ".join(_CI_METHOD_NAMES.get(m.lower(), m) for m in methods) or "bootstrap"
    inference = set(effects["inference"].dropna().astype(str)) if "inference" in effects else set()
    if not boot.empty and float(boot.max()) > 0:
        draws = ("quasi-Bayesian Monte Carlo draws" if inference == {"quasi_bayes"} else "bootstrap resamples")
        first = f"n = {n_text}, {format_range(boot)} {draws} ({method} CI)"
    else:
        first = f"n = {n_text} ({method} CI)"
    pct = f"{ci_level * 100:g}%"
    # Say where each number comes from: path models or the mediation analysis.
    from_paths = ["a", "b"]
    from_mediation = ["indirect effect"]
    (from_paths if rec["c_prime"] is not None else from_mediation).insert(2, f"c{PRIME}")
    (from_mediation if erec["total"] is not None else from_paths).append("total effect c")
    from_mediation.append("proportion mediated")

    def listing(items: list[str]) -> str:
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

    caption = (
        f"{cohort}: {first}. Brackets: {pct} CI. {listing(from_paths)} from the path "
        f"models; {listing(from_mediation)} from the mediation analysis."
    )
    if contrast:
        caption += (f" a, b and c{PRIME} are per unit of their predictor; the indirect and total effects and "
                    f"the proportion mediated compare exposure {contrast[len('for exposure '):]}.")
    scales = set(effects["scale"].dropna().astype(str)) if "scale" in effects else set()
    if scales and scales != {"difference"}:
        named = ", ".join(_SCALE_NAMES.get(x, x.replace("_", " ")) for x in sorted(scales))
        caption += f" The indirect and total effects are on the {named} scale of the outcome."
    interaction = effects["interaction"] if "interaction" in effects else pd.Series(dtype=object)
    if interaction.astype(str).str.lower().isin(["true", "1"]).any():
        caption += (f" The mediation analysis's outcome model has an exposure {TIMES} mediator interaction; b and "
                    f"c{PRIME} are from the outcome model without it.")

    W = _WIDTH_MM
    with journal_style():
        fig = new_figure("single", 80.0, layout=None)
        renderer = fig.canvas.get_renderer()

        # ---- box texts and sizes
        texts = {
            v: _wrap_label(fig, renderer, box_text(v), max_mm)
            for v, max_mm in ((exposure, _BOX_MAX_TEXT_MM), (outcome, _BOX_MAX_TEXT_MM),
                              (mediator, _MED_BOX_MAX_TEXT_MM))
        }
        sizes = {}
        for v, t in texts.items():
            w, h = _text_mm(fig, renderer, t, FONT_SIZE)
            sizes[v] = (max(w + 2 * _BOX_PAD_MM, _BOX_MIN_W_MM), h + 2 * _BOX_PAD_MM)
        caption_w = _wrap_measured(fig, renderer, caption, W - 4.0, SMALL_FONT_SIZE)
        _, cap_h = _text_mm(fig, renderer, caption_w, SMALL_FONT_SIZE)
        sum_text = "\n".join(summary)
        sum_text = _wrap_measured(fig, renderer, sum_text, W - 4.0, FONT_SIZE)
        _, sum_h = _text_mm(fig, renderer, sum_text, FONT_SIZE)

        label_sizes = {
            name: _text_mm(fig, renderer, t, FONT_SIZE)
            for name, t in (("a", label_a), ("b", label_b), ("c_prime", label_c))
        }
        exp_w, exp_h = sizes[exposure]
        out_w, out_h = sizes[outcome]
        c_gap = W - 2.0 - exp_w - out_w
        # c' sits on its arrow when >= 7 mm of arrow stay visible on each side; else
        # just under the arrow, between the boxes; else under the boxes.
        c_w, c_h = label_sizes["c_prime"]
        c_place = "on" if c_w + 14.0 <= c_gap else ("under" if c_w + 2.0 <= c_gap else "below")
        bottom_h = max(exp_h, out_h)
        extra = {"on": 0.0, "under": max(c_h + 1.5 - bottom_h / 2, 0.0), "below": c_h + 1.5}
        c_below_h = extra[c_place]

        # ---- vertical stack, bottom-up, in mm
        y_caption = 1.5
        y_summary = y_caption + cap_h + 2.0
        y_base = y_summary + sum_h + 5.0 + c_below_h + bottom_h / 2  # exposure/outcome centre
        med_w, med_h = sizes[mediator]
        y_med = y_base + bottom_h / 2 + _RISE_MM + med_h / 2
        top = y_med + med_h / 2 + 1.5
        if title:
            y_title = top + 1.0
            top = y_title + _line_mm(TITLE_FONT_SIZE) + 1.0
        H = top
        fig.set_size_inches(W / MM_PER_INCH, H / MM_PER_INCH)

        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        ax.set_axis_off()
        ax.set_xlim(0.0, W)
        ax.set_ylim(0.0, H)

        # ---- boxes
        centres = {
            "exposure": (1.0 + exp_w / 2, y_base),
            "outcome": (W - 1.0 - out_w / 2, y_base),
            "mediator": (W / 2, y_med),
        }
        boxes = {
            "exposure": (exposure, exp_w, exp_h),
            "outcome": (outcome, out_w, out_h),
            "mediator": (mediator, med_w, med_h),
        }
        for role, (var, w, h) in boxes.items():
            cx, cy = centres[role]
            ax.add_patch(FancyBboxPatch(
                (cx - w / 2, cy - h / 2), w, h,
                boxstyle="round,pad=0,rounding_size=1.0",
                fc="white" if role != "mediator" else "#EAF3FA",
                ec="black", lw=0.7, zorder=2, gid=f"mediation-box-{role}",
            ))
            ax.text(cx, cy, texts[var], ha="center", va="center", fontsize=FONT_SIZE,
                    linespacing=1.15, zorder=3, gid=f"mediation-label-{role}")

        # ---- arrows (edge to edge)
        ex, ey = centres["exposure"]
        ox, oy = centres["outcome"]
        mx, my = centres["mediator"]
        a_start = (ex + exp_w * 0.15, ey + exp_h / 2)
        a_end = (mx - med_w / 2, my)
        b_start = (mx + med_w / 2, my)
        b_end = (ox - out_w * 0.15, oy + out_h / 2)
        c_start = (ex + exp_w / 2, ey)
        c_end = (ox - out_w / 2, oy)
        gap = 0.8
        arrows = [
            ("a", a_start, a_end, INDIRECT_COLOUR, label_a),
            ("b", b_start, b_end, INDIRECT_COLOUR, label_b),
            ("c_prime", c_start, c_end, "black", label_c),
        ]
        for name, start, end, colour, text in arrows:
            ax.add_patch(FancyArrowPatch(
                start, end, arrowstyle="-|>,head_length=3.2,head_width=1.6",
                shrinkA=gap / MM_PER_INCH * 72, shrinkB=gap / MM_PER_INCH * 72,
                color=colour, lw=0.9, zorder=1, gid=f"mediation-arrow-{name}",
            ))
            midx, midy = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
            half_w = label_sizes[name][0] / 2 + 0.8
            midx = min(max(midx, half_w), W - half_w)  # stay inside the figure
            va = "center"
            if name == "c_prime" and c_place == "under":
                midx, midy, va = (c_start[0] + c_end[0]) / 2, y_base - 1.2, "top"
            elif name == "c_prime" and c_place == "below":
                midx, midy, va = (c_start[0] + c_end[0]) / 2, y_base - bottom_h / 2 - 1.0, "top"
            ax.text(midx, midy, text, ha="center", va=va, fontsize=FONT_SIZE,
                    color=colour, linespacing=1.15, zorder=4,
                    bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="none"),
                    gid=f"mediation-path-{name}")

        # ---- summary and caption
        ax.text(2.0, y_summary, sum_text, ha="left", va="bottom", fontsize=FONT_SIZE,
                linespacing=1.3, gid="mediation-summary")
        ax.text(2.0, y_caption, caption_w, ha="left", va="bottom", fontsize=SMALL_FONT_SIZE,
                color=GREY, linespacing=1.2, gid="mediation-caption")
        if title:
            ax.text(2.0, y_title, title, ha="left", va="bottom", fontsize=TITLE_FONT_SIZE,
                    fontweight="bold", gid="mediation-title")
        fig.draw_without_rendering()
    return fig
