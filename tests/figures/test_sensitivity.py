"""The mediation sensitivity figure (figures/sensitivity.py) on small tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.figures import save_figure
from first1000.figures.sensitivity import sensitivity_plot


def _texts(fig):
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_rho_curve_with_zero_crossing_and_e_values(tmp_path):
    rho = np.round(np.linspace(-0.9, 0.9, 19), 2)
    curve = pd.DataFrame({"part": "curve", "effect": "nie", "rho": rho, "estimate": 20 + 100 * rho,
                          "ci_low": 10 + 100 * rho, "ci_high": 30 + 100 * rho, "outcome": "birth_weight"})
    summary = pd.DataFrame({"part": "summary", "effect": ["nie", "nde"], "estimate": [20, 34],
                            "rho_at_zero": [-0.2, 0.27], "e_value_point": [1.26, 1.35],
                            "e_value_ci": [1.18, 1.07], "outcome": "birth_weight"})
    fig = sensitivity_plot(pd.concat([curve, summary]), labels={"birth_weight": "Birth weight (g)"})
    ax = fig.axes[0]
    assert ax.get_ylabel() == "ACME (Birth weight (g))" and "ρ" in ax.get_xlabel()
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), 20 + 100 * rho)
    texts = " ".join(_texts(fig))
    assert "ACME = 0 at ρ = −0.2" in texts
    assert "E-value, indirect: 1.26 (CI limit 1.18)" in texts and "E-value, direct: 1.35" in texts
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    save_figure(fig, a)
    save_figure(sensitivity_plot(pd.concat([curve, summary]), labels={"birth_weight": "Birth weight (g)"}), b)
    assert a.read_bytes() == b.read_bytes()


def test_without_curve_only_e_values():
    summary = pd.DataFrame({"part": "summary", "effect": ["nie", "nde"], "estimate": [1.01, 1.07],
                            "rho_at_zero": [np.nan, np.nan], "e_value_point": [1.12, 1.36],
                            "e_value_ci": [1.0, 1.0], "outcome": "preterm"})
    fig = sensitivity_plot(summary)
    texts = " ".join(_texts(fig))
    assert "No ρ curve" in texts and "E-value, indirect: 1.12 (CI limit 1.00)" in texts
