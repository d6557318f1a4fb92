"""Sensitivity of a mediation path to unmeasured mediator–outcome confounding.

:func:`sensitivity_plot` draws Imai, Keele & Yamamoto's curve (Stat. Sci. 25:51–71,
2010): the natural indirect effect (ACME) as a function of rho, the correlation between
the errors of the mediator and outcome models, with its bootstrap 95% band, the rho at
which the effect vanishes, and the E-values (VanderWeele & Ding, Ann. Intern. Med.
167:268–274, 2017) of the natural direct and indirect effects. Paths whose models are
not both linear have no rho curve; the figure then shows the E-values alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from first1000.figures.style import (
    GREY,
    LIGHT_GREY,
    OKABE_ITO,
    format_number,
    journal_style,
    label_for,
    new_figure,
    style_axes,
)

EFFECT_NAMES = {"nie": "Natural indirect effect (ACME)", "nde": "Natural direct effect (ADE)"}


def _summary_text(summary: pd.DataFrame) -> str:
    lines = []
    for effect in ("nie", "nde"):
        row = summary[summary.effect == effect]
        if row.empty:
            continue
        r = row.iloc[0]
        name = "indirect" if effect == "nie" else "direct"
        text = f"E-value, {name}: {format_number(r.get('e_value_point'))} (CI limit {format_number(r.get('e_value_ci'))})"
        if pd.notna(r.get("rho_at_zero", np.nan)):
            text += f"; effect = 0 at \u03c1 = {format_number(r['rho_at_zero'])}"
        lines.append(text)
    return "\n".join(lines)


def sensitivity_plot(table: pd.DataFrame, *, labels: Mapping[str, str] | None = None, title: str | None = None,
                     width: str | float = "single", height_mm: float = 65.0) -> Figure:
    """The rho-sensitivity curve of one path (one cohort) with E-values.

    ``table`` is the sensitivity table of one path and cohort (``results/mediation/
    {mechanism}_sensitivity.tsv``): rows with ``part`` "curve" (``effect, rho, estimate,
    ci_low, ci_high``) and "summary" (``effect, estimate, ci_low, ci_high, rho_at_zero,
    e_value_point, e_value_ci``). The y axis is in the outcome's unit per exposure
    contrast (``labels`` maps the outcome to its label with unit).
    """
    for column in ("part", "effect", "estimate"):
        if column not in table:
            raise ValueError(f"sensitivity table: missing column '{column}'")
    curve = table[(table.part == "curve") & (table.effect == "nie")]
    curve = curve.sort_values("rho") if "rho" in curve else curve.iloc[0:0]
    summary = table[table.part == "summary"]
    outcome = table["outcome"].iloc[0] if "outcome" in table and len(table) else "outcome"
    fig = new_figure(width, height_mm)
    with journal_style():
        ax = fig.add_subplot()
        style_axes(ax)
        if len(curve):
            rho = curve.rho.to_numpy(float)
            ax.fill_between(rho, curve.ci_low.to_numpy(float), curve.ci_high.to_numpy(float), color=OKABE_ITO[1],
                            alpha=0.25, linewidth=0, label="95% CI (bootstrap)")
            ax.plot(rho, curve.estimate.to_numpy(float), color=OKABE_ITO[1], label=EFFECT_NAMES["nie"])
            ax.axhline(0, color=LIGHT_GREY, linewidth=0.6)
            ax.axvline(0, color=LIGHT_GREY, linewidth=0.6, linestyle=":")
            zero = summary.loc[summary.effect == "nie", "rho_at_zero"] if "rho_at_zero" in summary else []
            if len(zero) and pd.notna(zero.iloc[0]):
                ax.axvline(float(zero.iloc[0]), color=OKABE_ITO[5], linestyle="--", linewidth=0.8,
                           label=f"ACME = 0 at \u03c1 = {format_number(zero.iloc[0])}")
            ax.set_xlabel("\u03c1, correlation of mediator and outcome model errors")
            ax.set_ylabel(f"ACME ({label_for(outcome, labels)})")
            ax.set_xlim(rho.min(), rho.max())
            ax.legend(loc="best", frameon=False)
        else:
            ax.set_axis_off()
            ax.text(0.5, 0.6, "No \u03c1 curve: the mediator or outcome model is not linear,\n"
                    "or the path has an exposure\u2013mediator interaction.", ha="center", va="center",
                    transform=ax.transAxes, color=GREY)
        note = _summary_text(summary)
        if note:
            fig.text(0.01, 0.005, note, ha="left", va="bottom", color=GREY, fontsize=6.0)
            fig.get_layout_engine().set(rect=(0, 0.08 * (note.count("\n") + 1), 1, 1 - 0.08 * (note.count("\n") + 1)))
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontweight="bold")
    return fig
