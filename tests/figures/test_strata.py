"""Tests of first1000.figures.strata (stratified forest plot) on small hand-made tables."""

from __future__ import annotations

import hashlib

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from first1000.errors import InputTableError
from first1000.figures import OKABE_ITO, save_figure
from first1000.figures.strata import strata_plot, stratum_colours

UNIT = "ln pg/mg per point (EPDS)"
IDS = ["PID-000417", "PID-913206"]  # must never appear in a figure


def _table(cohorts=("pooled",), modifier="child_sex", levels=("female", "male"), values=None) -> pd.DataFrame:
    rows = []
    for cohort in cohorts:
        for i, response in enumerate(["hair_cortisol_t3_ln", "hair_cortisol_t2_ln"]):
            base = dict(cohort=cohort, mechanism="hpa", exposure="epds", response=response, modifier=modifier,
                        unit=UNIT, model="linear", status="ok", pseudo_id=IDS[i])
            for j, level in enumerate(levels):
                est = 0.01 * (i + 1) + 0.02 * j
                value = values[j] if values else np.nan
                for method in (("stratified", "interaction") if values is None else ("interaction",)):
                    rows.append(dict(base, part="stratum", level=level, value=value, method=method,
                                     estimate=est + (0.001 if method == "interaction" else 0), se=0.005,
                                     ci_low=est - 0.01, ci_high=est + 0.01, p=0.01, n=100 + j))
            rows.append(dict(base, part="term", level=f"epds:{modifier}", estimate=0.02, se=0.01, ci_low=0.0,
                             ci_high=0.04, p=0.04, n=200))
            rows.append(dict(base, part="test", test="interaction_wald", p=[0.0345, 0.0004][i], n=200))
            rows.append(dict(base, part="test", test="interaction_lr", p=0.5, n=200))
    return pd.DataFrame(rows)


def texts_of(fig: Figure) -> list[str]:
    fig.draw_without_rendering()
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def _points(fig: Figure) -> dict[str, list]:
    ax = fig.axes[0]
    out = {}
    for line in ax.get_lines():
        gid = line.get_gid() or ""
        if gid.startswith("strata-points-"):
            out.setdefault(gid.removeprefix("strata-points-"), []).append((line.get_xdata()[0], line.get_color()))
    return out


def test_categorical_modifier_draws_stratified_estimates_with_units_and_interaction_p():
    labels = {"hair_cortisol_t3_ln": "Hair cortisol, T3", "hair_cortisol_t2_ln": "Hair cortisol, T2",
              "child_sex": "Child sex"}  # fmt: skip
    fig = strata_plot(_table(), labels=labels, title="HPA axis: EPDS by child sex")
    ax = fig.axes[0]
    assert UNIT in ax.get_xlabel() and "95% CI" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Hair cortisol, T3", "Hair cortisol, T2"]
    text = " ".join(texts_of(fig))
    assert "p = 0.035" in text and "p < 0.001" in text and "Interaction p" in text
    assert "Child sex" in text and "female" in text and "male" in text
    assert not any(pid in text for pid in IDS)
    points = _points(fig)
    assert set(points) == {"female", "male"}
    colours = stratum_colours(["female", "male"])
    assert colours["female"] in OKABE_ITO and colours["male"] in OKABE_ITO
    assert OKABE_ITO[0] not in colours.values()  # black means "pooled" elsewhere
    for level, drawn in points.items():
        assert {c for _, c in drawn} == {colours[level]}
    # the stratified estimates, not the interaction-model ones
    assert sorted(x for x, _ in points["female"]) == pytest.approx([0.01, 0.02])
    inter = strata_plot(_table(), method="interaction")
    assert sorted(x for x, _ in _points(inter)["female"]) == pytest.approx([0.011, 0.021])


def test_continuous_modifier_legend_gives_the_modifier_values():
    table = _table(modifier="resilience", levels=("p25", "p50", "p75"), values=(3.1, 3.5, 3.9))
    fig = strata_plot(table, labels={"resilience": "Resilience (BRS)"})
    text = " ".join(texts_of(fig))
    assert "25th centile (3.10)" in text and "median (3.50)" in text and "75th centile (3.90)" in text
    assert "Resilience (BRS)" in text
    assert len(_points(fig)) == 3


def test_pooled_rows_are_chosen_and_cohort_can_be_named():
    table = _table(cohorts=("ghent", "pooled"))
    table.loc[table.cohort == "ghent", ["estimate", "ci_low", "ci_high"]] += 1.0
    pooled = strata_plot(table)
    assert max(x for xs in _points(pooled).values() for x, _ in xs) < 0.5
    ghent = strata_plot(table, cohort="ghent")
    assert min(x for xs in _points(ghent).values() for x, _ in xs) > 0.5
    with pytest.raises(InputTableError, match="no rows with cohort 'rotterdam'"):
        strata_plot(table, cohort="rotterdam")
    two = _table(cohorts=("ghent", "rotterdam"))
    with pytest.raises(InputTableError, match="several values of cohort"):
        strata_plot(two)


def test_missing_estimates_and_bad_tables():
    table = _table()
    first = table.response == "hair_cortisol_t3_ln"
    table.loc[first, ["estimate", "ci_low", "ci_high", "p"]] = np.nan
    table.loc[first, "status"] = "too few complete rows"
    fig = strata_plot(table)
    assert "p = NA" in " ".join(texts_of(fig))
    assert all(len(v) == 1 for v in _points(fig).values())  # only the second response drawn
    with pytest.raises(InputTableError, match="lacks column"):
        strata_plot(table.drop(columns="ci_low"))
    with pytest.raises(InputTableError, match="must be numeric"):
        bad = table.copy()
        bad["estimate"] = bad["estimate"].astype(object)
        bad.loc[bad.index[-3], "estimate"] = "abc"
        strata_plot(bad)


def test_saved_bytes_are_deterministic(tmp_path):
    digests = []
    for k in range(2):
        fig = strata_plot(_table(), title="HPA axis: EPDS by child sex")
        png, svg = save_figure(fig, tmp_path / f"s{k}.png", tmp_path / f"s{k}.svg")
        digests.append((hashlib.sha256(png.read_bytes()).hexdigest(), hashlib.sha256(svg.read_bytes()).hexdigest()))
        assert UNIT in svg.read_text()  # editable text, unit on the axis
    assert digests[0] == digests[1]


def test_units_that_differ_by_response_go_under_the_row_labels():
    table = _table()
    table.loc[table.response == "hair_cortisol_t2_ln", "unit"] = "ln ratio per point (EPDS)"
    fig = strata_plot(table, labels={"hair_cortisol_t3_ln": "Cortisol", "hair_cortisol_t2_ln": "Ratio"})
    ax = fig.axes[0]
    assert "per point (EPDS)" in ax.get_xlabel().replace("\n", " ")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Cortisol\n(ln pg/mg)", "Ratio\n(ln ratio)"]
