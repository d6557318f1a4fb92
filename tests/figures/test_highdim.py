"""The high-dimensional mediation figure draws the mediators a path's HIMA kept."""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.figures.highdim import highdim_figure


def _table(rows):
    return pd.DataFrame([dict(cohort=c, mediator=m, ab=ab, ab_se=0.01, q=q, p=p, status="ok")
                         for c, m, ab, q, p in rows])


def test_candidates_without_an_effect_are_not_drawn_and_the_fdr_level_is_the_configs():
    table = _table([("a", "cg1", 0.05, 0.08, 0.001), ("a", "cg2", np.nan, np.nan, 0.002),
                    ("a", "cg3", np.nan, np.nan, 0.003), ("b", "cg4", -0.02, 0.3, 0.04)])
    fig = highdim_figure(table, exposure="x", outcome="y", q_level=0.1)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["cg1 (a)", "cg4 (b)"]  # cg2, cg3: not kept, no a·b
    assert "filled: q < 0.1" in fig._suptitle.get_text()
    markers = [line.get_markerfacecolor() for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert markers[0] != "white" and markers[1] == "white"  # q 0.08 < 0.1: filled; q 0.3: hollow


def test_a_path_whose_mediators_were_all_dropped_says_so():
    table = _table([("a", "cg1", np.nan, np.nan, 0.2), ("a", "cg2", np.nan, np.nan, 0.3)])
    fig = highdim_figure(table, exposure="x", outcome="y")
    assert "no mediator was kept in any cohort" in fig.axes[0].texts[0].get_text()
