"""Trajectory figure: a score's model-predicted mean over the first two years, by exposure group.

Draws the trajectory table of the longitudinal stage
(:data:`first1000.analysis.longitudinal.TRAJECTORY_COLUMNS`): for one score and exposure,
one line per exposure group (children of mothers at the exposure's mean - 1 SD and + 1 SD,
or 0 and 1) with its 95% confidence band, against age in months. The numbers are the
mixed model's fixed-effect predictions, read from the table: no child's values are drawn.
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

REQUIRED_COLUMNS = ("predictor", "response", "group", "age_months", "estimate", "ci_low", "ci_high")
#: Okabe-Ito vermillion and blue: the two groups, distinguishable in greyscale by line style too.
_COLOURS = (OKABE_ITO[6], OKABE_ITO[5])
_STYLES = ("-", "--")


def trajectory_figure(table: pd.DataFrame, *, response: str, predictor: str, labels: Mapping[str, str] | None = None,
                      y_label: str | None = None, title: str | None = None, width: str | float = "single") -> Figure:
    """The predicted mean of ``response`` by age for the groups of ``predictor``."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputTableError(f"trajectory table lacks column(s) {', '.join(missing)}")
    df = contract_table(table, list(REQUIRED_COLUMNS), ["age_months", "estimate", "ci_low", "ci_high"], "trajectory")
    df = df[(df.response.astype(str) == response) & (df.predictor.astype(str) == predictor)]
    if df.empty:
        raise InputTableError(f"the trajectory table has no rows for {response} by {predictor}")
    title = textwrap.fill(title, max(int(_width_mm(width) / 1.95), 20)) if title else ""
    fig = new_figure(width, 62.0 + 4.0 * title.count("\n"))
    with journal_style():
        ax = fig.add_subplot(1, 1, 1)
        style_axes(ax)
        for i, (group, rows) in enumerate(df.groupby("group", sort=False)):
            rows = rows.sort_values("age_months")
            colour = _COLOURS[i % len(_COLOURS)]
            ax.fill_between(rows.age_months, rows.ci_low, rows.ci_high, color=colour, alpha=0.18, linewidth=0,
                            gid=f"ci-{i}")
            ax.plot(rows.age_months, rows.estimate, color=colour, linestyle=_STYLES[i % len(_STYLES)], linewidth=1.4,
                    label=f"{label_for(predictor, labels)}: {group}", gid=f"line-{i}")
        ax.axhline(0, color="#BBBBBB", linewidth=0.6, zorder=0)
        ax.set_xlim(0, 24)
        ax.set_xticks(np.arange(0, 25, 6))
        ax.set_xlabel("Age (months)")
        ax.set_ylabel(y_label or label_for(response, labels))
        ax.legend(frameon=False, loc="best")
        if title:
            ax.set_title(title, loc="left")
    return fig
