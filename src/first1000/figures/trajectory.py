"""Trajectory figure: a measure's model-predicted mean over time, by exposure group.

Draws the trajectory table of the longitudinal stage
(:data:`first1000.analysis.longitudinal.TRAJECTORY_COLUMNS`): for one score and exposure,
one line per exposure group (mothers at the exposure's mean - 1 SD and + 1 SD, or 0 and
1) with its 95% confidence band, against the child's age in months (0-24) or, for hair
cortisol, the month of pregnancy (0-9, a marker at each hair window). The numbers are the
mixed model's fixed-effect predictions, read from the table: no participant's values are
drawn.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from first1000.errors import InputTableError
from first1000.figures.style import (OKABE_ITO, _width_mm, contract_table, journal_style, label_for, new_figure,
                                     style_axes)

REQUIRED_COLUMNS = ("predictor", "response", "group", "months", "estimate", "ci_low", "ci_high")
#: Okabe-Ito vermillion and blue: the two groups, distinguishable in greyscale by line style too.
_COLOURS = (OKABE_ITO[6], OKABE_ITO[5])
_STYLES = ("-", "--")


def trajectory_figure(table: pd.DataFrame, *, response: str, predictor: str, labels: Mapping[str, str] | None = None,
                      y_label: str | None = None, title: str | None = None, width: str | float = "single",
                      x_label: str = "Age (months)") -> Figure:
    """The predicted mean of ``response`` over time for the groups of ``predictor``: by age
    (0-24 months) or, when the table's ``time_axis`` is ``gestation``, by month of
    pregnancy (0-9 months, markers at the predicted points)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputTableError(f"trajectory table lacks column(s) {', '.join(missing)}")
    df = contract_table(table, list(REQUIRED_COLUMNS), ["months", "estimate", "ci_low", "ci_high"], "trajectory")
    gestation = "time_axis" in table.columns and (table.time_axis.astype(str) == "gestation").any()
    df = df[(df.response.astype(str) == response) & (df.predictor.astype(str) == predictor)]
    if df.empty:
        raise InputTableError(f"the trajectory table has no rows for {response} by {predictor}")
    title = textwrap.fill(title, max(int(_width_mm(width) / 1.95), 20)) if title else ""
    fig = new_figure(width, 62.0 + 4.0 * title.count("\n"))
    with journal_style():
        ax = fig.add_subplot(1, 1, 1)
        style_axes(ax)
        for i, (group, rows) in enumerate(df.groupby("group", sort=False)):
            rows = rows.sort_values("months")
            colour = _COLOURS[i % len(_COLOURS)]
            ax.fill_between(rows.months, rows.ci_low, rows.ci_high, color=colour, alpha=0.18, linewidth=0,
                            gid=f"ci-{i}")
            ax.plot(rows.months, rows.estimate, color=colour, linestyle=_STYLES[i % len(_STYLES)], linewidth=1.4,
                    marker=("o", "s")[i % 2] if gestation else None, markersize=3.5,
                    label=f"{label_for(predictor, labels)}: {group}", gid=f"line-{i}")
        if gestation:  # ln hair cortisol is far from 0: no reference line
            ax.set_xlim(0, 9.5)
            ax.set_xticks(np.arange(0, 10, 3))
        else:
            ax.axhline(0, color="#BBBBBB", linewidth=0.6, zorder=0)
            ax.set_xlim(0, 24)
            ax.set_xticks(np.arange(0, 25, 6))
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label or label_for(response, labels))
        ax.legend(frameon=False, loc="best")
        if title:
            ax.set_title(title, loc="left")
    return fig
