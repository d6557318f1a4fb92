"""High-dimensional mediation figure: the mediators a path's HIMA finds, per cohort.

Draws the table of :func:`first1000.analysis.highdim.highdim_mediation`: per cohort, the
candidates with q below ``q_level`` (the config's ``fdr``; else the 5 with the smallest joint
p, marked as not significant) as their mediation effect a·b with a delta-method 95% CI
(outcome units per exposure unit); a candidate the screening or the penalised regression
did not keep has no a·b and is not drawn. Numbers only from the table.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from first1000.figures.style import GREY, OKABE_ITO, journal_style, new_figure, style_axes

SHOWN_IF_NONE = 5


def highdim_figure(table: pd.DataFrame, *, exposure: str, outcome: str, labels: dict | None = None,
                   unit: str | None = None, q_level: float = 0.05, what: str = "CpG") -> Figure:
    """``labels``: variable (and candidate) -> label; ``unit``: the unit of a·b (outcome per
    exposure unit); ``what``: the kind of candidate, for the title ("CpG", "biomarker")."""
    labels = labels or {}
    ok = table[table.status == "ok"] if "status" in table else table
    rows = []
    for i, (cohort, group) in enumerate(ok.groupby("cohort", sort=True)):
        group = group[np.isfinite(pd.to_numeric(group.ab, errors="coerce"))]  # kept: they have an a·b
        found = group[group.q < q_level]
        shown = found if len(found) else group.nsmallest(SHOWN_IF_NONE, "p")
        for _, r in shown.iterrows():
            rows.append((cohort, str(r.mediator), float(r.ab), float(r.ab_se), bool(r.q < q_level), i))
    fig = new_figure("single", 38.0 + 4.2 * max(len(rows), 3))
    with journal_style():
        ax = fig.add_subplot(1, 1, 1)
        style_axes(ax)
        if not rows:
            ax.text(0.5, 0.5, "no mediator was kept in any cohort, or no cohort could be analysed\n(see the "
                    "table's status)", ha="center", va="center", transform=ax.transAxes, color=GREY)
            ax.set_axis_off()
            return fig
        y = np.arange(len(rows))[::-1]
        for yi, (cohort, name, ab, se, sig, i) in zip(y, rows):
            colour = OKABE_ITO[(i % 7) + 1]
            ax.errorbar(ab, yi, xerr=1.959963984540054 * se, fmt="o", mfc=colour if sig else "white",
                        color=colour, capsize=2, lw=1.0, ms=4)
        ax.axvline(0, color="#BBBBBB", lw=0.8, zorder=0)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{labels.get(name, name)} ({cohort})" for cohort, name, *_ in rows])
        ax.set_xlabel(textwrap.fill(f"Mediation effect a·b ({unit or 'outcome units per exposure unit'}), "
                                    "95% CI", 34))
        title = (f"{labels.get(exposure, exposure)} → {what} → {labels.get(outcome, outcome)}: "
                 f"mediators (filled: q < {q_level:g})")
        fig.suptitle(textwrap.fill(title, 50), x=0.02, ha="left", fontsize="medium", fontweight="bold")
    return fig
