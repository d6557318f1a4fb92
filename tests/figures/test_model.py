"""Tests of first1000.figures.model (the article's model filled in with results)."""

from __future__ import annotations

import hashlib

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.text import Text

from first1000.errors import InputTableError
from first1000.figures import model_diagram, save_figure
from first1000.figures.model import default_exposure_group
from first1000.figures.style import format_estimate_ci

PID = "PID-000417"  # must never appear in a figure
MINUS = "\u2212"

LABELS = {
    "ses_index": "SES index (index unit)",
    "epds": "EPDS depressive symptoms (0-30)",
    "resilience": "Brief Resilience Scale (1-5)",
    "birth_weight": "Birth weight (g)",
    "preterm": "Preterm birth (< 37+0 weeks)",
    "hair_cortisol_t3_ln": "Hair cortisol, T3 (ln pg/mg)",
    "hair_cortisol_t2_ln": "Hair cortisol, T2 (ln pg/mg)",
    "telomere_ts_ln": "Telomere length (ln T/S)",
}
MECHANISMS = {"hpa": "HPA axis (hair cortisol)", "telomeres": "Telomeres (newborn T/S ratio)"}


# ----------------------------------------------------------------------------- helpers
def row(predictor, response, estimate, lo, hi, p, q, *, mechanism="hpa", cohort="pooled",
        n=875, **extra):
    return dict(cohort=cohort, mechanism=mechanism, predictor=predictor, response=response,
                model="linear", n=n, estimate=estimate, se=0.01, ci_low=lo, ci_high=hi, p=p,
                q=q, status="ok", **extra)


def associations() -> pd.DataFrame:
    return pd.DataFrame([
        # SES → HPA: T3 is the strongest (smallest q); T2 has the same q but larger p
        row("ses_index", "hair_cortisol_t3_ln", -0.204, -0.256, -0.151, 1e-13, 1e-12,
            participant_id=PID),
        row("ses_index", "hair_cortisol_t2_ln", -0.111, -0.150, -0.070, 1e-11, 1e-12),
        # EPDS → HPA: not significant (q > 0.05)
        row("epds", "hair_cortisol_t3_ln", 0.0104, 0.00107, 0.0198, 0.029, 0.0748),
        row("epds", "hair_cortisol_t2_ln", 0.00739, -0.00234, 0.0171, 0.137, 0.307),
        # HPA → birth weight, HPA → preterm
        row("hair_cortisol_t3_ln", "birth_weight", -144.0, -192.0, -95.0, 9e-9, 5.7e-8),
        row("hair_cortisol_t2_ln", "birth_weight", -99.2, -147.0, -51.9, 4e-5, 1.6e-4),
        row("hair_cortisol_t3_ln", "preterm", -0.048, -0.514, 0.418, 0.84, 0.89),
        # telomeres: resilience → telomeres significant, telomeres → birth weight not
        row("resilience", "telomere_ts_ln", 0.0981, 0.0706, 0.126, 6e-12, 2.4e-11,
            mechanism="telomeres", n=798),
        row("telomere_ts_ln", "birth_weight", 68.9, -53.6, 191.0, 0.27, 0.27,
            mechanism="telomeres", n=798),
        # another cohort: never drawn for cohort="pooled"
        row("epds", "telomere_ts_ln", 9.99, 9.0, 11.0, 1e-9, 1e-9, mechanism="telomeres",
            cohort="ghent"),
    ])


def mediation() -> pd.DataFrame:
    def effects(exposure, mediator, ind_ci, pm):
        rows = []
        for effect, est, lo, hi in (("total", 69.9, 30.4, 110.0), ("direct", 43.3, 4.49, 84.0),
                                    ("indirect", 26.6, *ind_ci), ("proportion_mediated", *pm)):
            rows.append(dict(cohort="pooled", exposure=exposure, mediator=mediator,
                             outcome="birth_weight", effect=effect, estimate=est, se=1.0,
                             ci_low=lo, ci_high=hi, p=0.001, n=875, n_boot=1000,
                             ci_method="percentile", participant_id=PID))
        return rows

    return pd.DataFrame(
        # mediated: the indirect-effect CI excludes 0
        effects("ses_index", "hair_cortisol_t3_ln", (15.5, 39.1), (0.380, 0.192, 0.840))
        # not mediated: the indirect-effect CI includes 0
        + effects("resilience", "telomere_ts_ln", (-5.66, 19.3), (0.365, -3.95, 3.84))
    )


def draw(assoc=None, med=None, **kw) -> Figure:
    args = dict(exposures=["ses_index", "epds", "resilience"], mechanisms=MECHANISMS,
                outcomes=["birth_weight", "preterm"], labels=LABELS)
    args.update(kw)
    return model_diagram(associations() if assoc is None else assoc,
                         mediation() if med is None else med, **args)


def texts_of(fig: Figure) -> list[str]:
    fig.draw_without_rendering()
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def flat(text: str) -> str:
    return " ".join(text.split())


def edge_labels(fig: Figure) -> list[str]:
    return [flat(t.get_text()) for t in fig.findobj(Text) if t.get_gid() == "model-edge-label"]


def edge_patch(fig: Figure, gid: str) -> PathPatch:
    hits = [p for p in fig.findobj(PathPatch) if p.get_gid() == gid]
    assert len(hits) == 1, gid
    return hits[0]


def layout_problems(fig: Figure) -> list[str]:
    """Texts outside the figure, texts overlapping each other, arrows running through
    text. Empty for a clean layout."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    items = [(t.get_text(), t.get_window_extent(renderer))
             for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    problems = []
    tol = 0.5  # pixels
    for text, bb in items:
        if bb.x0 < -tol or bb.x1 > width + tol or bb.y0 < -tol or bb.y1 > height + tol:
            problems.append(f"outside the figure: {text!r}")
    for i, (t1, b1) in enumerate(items):
        for t2, b2 in items[i + 1:]:
            inter = b1.intersection(b1, b2)
            if inter is not None and inter.width > 1 and inter.height > 1:
                problems.append(f"overlap: {t1!r} / {t2!r}")
    # arrows (and highlights) never run through a text
    for patch in fig.findobj(PathPatch):
        if not (patch.get_gid() or "").startswith(("model-edge-", "model-highlight-")):
            continue
        pts = np.concatenate(patch.get_path().to_polygons(patch.get_transform(),
                                                          closed_only=False))
        # densify straight segments
        dense = np.concatenate([np.linspace(a, b, 20) for a, b in zip(pts[:-1], pts[1:])])
        for text, bb in items:
            inside = ((dense[:, 0] > bb.x0 + 1) & (dense[:, 0] < bb.x1 - 1)
                      & (dense[:, 1] > bb.y0 + 1) & (dense[:, 1] < bb.y1 - 1))
            if inside.any():
                problems.append(f"arrow {patch.get_gid()} runs through {text!r}")
    return problems


# ------------------------------------------------------------------------------- tests
def test_returns_figure_with_every_box_label():
    fig = draw()
    assert isinstance(fig, Figure)
    texts = [flat(t) for t in texts_of(fig)]
    for label in ("SES index (index unit)", "EPDS depressive symptoms (0-30)",
                  "Brief Resilience Scale (1-5)", "HPA axis (hair cortisol)",
                  "Telomeres (newborn T/S ratio)", "Birth weight (g)",
                  "Preterm birth (< 37+0 weeks)"):
        assert label in texts, label
    for heading in ("Socio-economic status", "Maternal mood"):
        assert heading in texts
    assert fig.get_size_inches()[0] * 25.4 == pytest.approx(174.0)


def test_significant_edge_label_and_strongest_biomarker():
    fig = draw()
    labels = edge_labels(fig)
    # SES → HPA: T3 and T2 tie on q; T3 has the smaller p
    expected = "Hair cortisol, T3 (ln pg/mg): " + format_estimate_ci(-0.204, -0.256, -0.151)
    assert expected in labels
    assert not any("\u22120.111" in t for t in labels)  # the T2 estimate of SES → HPA
    # HPA → birth weight: T3 (q 5.7e-8) beats T2 (q 1.6e-4)
    assert "Hair cortisol, T3 (ln pg/mg): " + format_estimate_ci(-144.0, -192.0, -95.0) in labels
    # EPDS → HPA: T3 (q 0.0748) beats T2 (q 0.307)
    assert "Hair cortisol, T3 (ln pg/mg): " + format_estimate_ci(0.0104, 0.00107, 0.0198) in labels
    # significant: solid and coloured
    sig = edge_patch(fig, "model-edge-in-ses_index-hpa")
    assert sig.get_linestyle() == "-"
    assert matplotlib.colors.to_hex(sig.get_edgecolor()) != "#9a9a9a"


def test_strongest_biomarker_tie_on_q_and_p_missing_q_last():
    assoc = pd.DataFrame([
        row("ses_index", "hair_cortisol_t2_ln", 0.5, 0.4, 0.6, 0.02, np.nan),  # q missing
        row("ses_index", "hair_cortisol_t3_ln", 0.3, 0.2, 0.4, 0.01, 0.20),
        row("ses_index", "telomere_ts_ln", 0.7, 0.6, 0.8, 0.01, 0.20),  # other mechanism
    ])
    fig = draw(assoc, None, exposures=["ses_index"], outcomes=[], mechanisms={"hpa": "HPA"})
    assert edge_labels(fig) == ["Hair cortisol, T3 (ln pg/mg): 0.300 [0.200, 0.400]"]


def test_non_significant_edge_is_thin_dashed_in_a_tint_of_its_exposure_colour():
    fig = draw()
    ns = edge_patch(fig, "model-edge-in-epds-hpa")
    ls = ns.get_linestyle()
    assert ls != "-" and ls not in ("solid", "None")
    offset, dashes = ns._dash_pattern
    assert dashes is not None and len(dashes) >= 2
    # an exposure box's colour mixed half with white: the exposure stays recognisable
    boxes = [np.array(matplotlib.colors.to_rgb(p.get_edgecolor())) for p in fig.axes[0].patches
             if p.get_gid() == "model-exposure-box"]
    got = np.array(matplotlib.colors.to_rgb(ns.get_edgecolor()))
    assert any(np.allclose(got, b + (1 - b) * 0.5, atol=1 / 255) for b in boxes), got
    assert matplotlib.colors.to_hex(ns.get_edgecolor()) != "#9a9a9a"
    assert ns.get_linewidth() < edge_patch(fig, "model-edge-in-ses_index-hpa").get_linewidth()
    # mechanism → outcome too
    out = edge_patch(fig, "model-edge-out-telomeres-birth_weight")
    assert out._dash_pattern[1] is not None


def test_edge_without_fitted_row_is_not_drawn():
    assoc = associations()
    assoc.loc[(assoc["predictor"] == "epds") & (assoc["mechanism"] == "hpa"), "status"] = "failed"
    fig = draw(assoc)
    gids = {p.get_gid() for p in fig.findobj(PathPatch)}
    assert "model-edge-in-epds-hpa" not in gids
    assert "model-edge-in-ses_index-hpa" in gids
    # no pair of ses_index → telomeres in the table, no ghent rows for pooled
    assert "model-edge-in-ses_index-telomeres" not in gids
    assert "model-edge-in-epds-telomeres" not in gids
    assert not any("9.99" in t for t in texts_of(fig))


def test_mediated_annotation_only_where_indirect_ci_excludes_zero():
    fig = draw()
    notes = [flat(t.get_text()) for t in fig.findobj(Text) if t.get_gid() == "model-mediation"]
    assert len(notes) == 1
    assert notes[0].startswith("mediated: PM = 38% [19, 84]")
    assert "SES index" in notes[0] and "Hair cortisol, T3" in notes[0]
    gids = {p.get_gid() for p in fig.findobj(PathPatch)}
    assert {"model-highlight-in-ses_index-hpa", "model-highlight-out-hpa-birth_weight"} <= gids
    assert not any(g.startswith("model-highlight") and "telomeres" in g for g in gids)
    # the annotation sits under the HPA box, not the telomeres box
    renderer = fig.canvas.get_renderer()
    note = [t for t in fig.findobj(Text) if t.get_gid() == "model-mediation"][0]
    hpa = [t for t in fig.findobj(Text)
           if t.get_gid() == "model-mechanism-label" and "HPA" in t.get_text()][0]
    tel = [t for t in fig.findobj(Text)
           if t.get_gid() == "model-mechanism-label" and "Telomeres" in t.get_text()][0]
    y = note.get_window_extent(renderer).y1
    assert tel.get_window_extent(renderer).y1 < y < hpa.get_window_extent(renderer).y0


def test_no_mediation_and_no_significant_indirect():
    for med in (None, mediation().query("exposure == 'resilience'")):
        fig = model_diagram(associations(), med, exposures=["ses_index", "resilience"],
                            mechanisms=MECHANISMS, outcomes=["birth_weight"], labels=LABELS)
        assert not any(t.startswith("mediated") for t in texts_of(fig))
        assert layout_problems(fig) == []


def test_caption_gives_cohort_threshold_and_n_range():
    fig = draw()
    caption = [flat(t.get_text()) for t in fig.findobj(Text) if t.get_gid() == "model-caption"]
    assert len(caption) == 1
    assert caption[0].startswith("Edges: strongest biomarker per mechanism, pooled estimates "
                                 "with 95% CI; solid = FDR q < 0.05")
    assert "n = 798\u2013875 participants per model" in caption[0]


def test_timeline_band():
    texts = texts_of(draw())
    for label in ("conception", "birth", "1 y", "2 y", "the first 1,000 days", "Pregnancy"):
        assert label in texts


def test_participant_ids_never_drawn(tmp_path):
    fig = draw()
    assert not any(PID in t for t in texts_of(fig))
    save_figure(fig, tmp_path / "m.png", tmp_path / "m.svg")
    assert PID not in (tmp_path / "m.svg").read_text()


def test_save_figure_twice_is_byte_identical(tmp_path):
    digests = []
    for i in range(2):
        fig = draw()
        save_figure(fig, tmp_path / f"m{i}.png", tmp_path / f"m{i}.svg")
        digests.append(tuple(hashlib.sha256((tmp_path / f"m{i}.{ext}").read_bytes()).hexdigest()
                             for ext in ("png", "svg")))
    assert digests[0] == digests[1]


def test_layout_is_clean():
    assert layout_problems(draw()) == []
    assert layout_problems(draw(width="single")) == []


def test_exposure_groups_rule_and_override():
    assert default_exposure_group("ses_index") == "Socio-economic status"
    assert default_exposure_group("education_isced") == "Socio-economic status"
    assert default_exposure_group("income_equivalised_ln") == "Socio-economic status"
    assert default_exposure_group("neighbourhood_ses") == "Socio-economic status"
    assert default_exposure_group("epds") == "Maternal mood"
    fig = draw(exposure_groups={"ses_index": "Social position", "epds": "Mood",
                                "resilience": "Mood"})
    texts = texts_of(fig)
    assert "Social position" in texts and "Mood" in texts
    assert "Socio-economic status" not in texts


def test_input_errors():
    bad = associations().drop(columns=["q"])
    with pytest.raises(InputTableError, match="q"):
        draw(bad)
    with pytest.raises(InputTableError, match="mediator"):
        draw(med=mediation().drop(columns=["mediator"]))
    with pytest.raises(InputTableError, match="numeric"):
        draw(associations().assign(estimate="x"))
    with pytest.raises(ValueError):
        draw(exposures=[])
    with pytest.raises(ValueError):
        draw(mechanisms={})


# ------------------------------------------------------------------- layout stress test
def _stress_tables(seed: int, n_exp: int, n_mech: int, n_out: int, long: bool, with_med: bool):
    rng = np.random.default_rng(seed)
    exposures = ["ses_index", "education_isced", "epds", "pss", "resilience", "stai"][:n_exp]
    mechanisms = {f"m{i}": (f"Mechanism {i} with a long descriptive label (cord blood, birth)"
                            if long and i % 2 == 0 else f"Mechanism {i}") for i in range(n_mech)}
    outcomes = ["birth_weight", "gestational_age", "preterm", "head_circumference"][:n_out]
    labels: dict[str, str] = {}
    if long:
        labels.update({x: f"{x} composite score from the third-trimester questionnaire (0-100)"
                       for x in exposures})
        labels.update({o: f"{o} at delivery, from the obstetric record (units)" for o in outcomes})
    rows = []
    for mk in mechanisms:
        bios = [f"{mk}_bio{j}" for j in range(2)]
        if long:
            labels.update({b: f"Very long biomarker name {b} after adjustment (ln pg/mL)"
                           for b in bios})
        for x in exposures:
            for b in bios:
                est = float(rng.normal(0, 0.1)) * 10.0 ** int(rng.integers(-4, 3))
                se = abs(est) / rng.uniform(0.5, 5)
                p = rng.uniform(0, 0.2)
                rows.append(row(x, b, est, est - 2 * se, est + 2 * se, p, min(3 * p, 1.0),
                                mechanism=mk, participant_id=PID))
        for o in outcomes:
            for b in bios:
                est = float(rng.normal(0, 80))
                se = abs(est) / rng.uniform(0.5, 5)
                p = rng.uniform(0, 0.2)
                rows.append(row(b, o, est, est - 2 * se, est + 2 * se, p, min(3 * p, 1.0),
                                mechanism=mk))
    med = None
    if with_med and outcomes:
        mrows = []
        for i, x in enumerate(exposures[:3]):
            mk = list(mechanisms)[i % len(mechanisms)]
            for effect, est, lo, hi in (("indirect", 20.0, 5.0, 35.0),
                                        ("proportion_mediated", 0.4, 0.1, 0.9)):
                mrows.append(dict(cohort="pooled", exposure=x, mediator=f"{mk}_bio0",
                                  outcome=outcomes[-1], effect=effect, estimate=est,
                                  ci_low=lo, ci_high=hi, p=0.01, n=700))
        med = pd.DataFrame(mrows)
    return pd.DataFrame(rows), med, exposures, mechanisms, outcomes, labels


@pytest.mark.parametrize(
    "seed, n_exp, n_mech, n_out, long, with_med",
    [
        (1, 1, 1, 0, False, False),
        (2, 6, 8, 4, False, True),
        (3, 6, 8, 4, True, True),
        (4, 4, 3, 0, True, False),
        (5, 2, 5, 1, True, True),
        (6, 3, 2, 4, False, False),
    ],
)
def test_layout_never_overlaps(seed, n_exp, n_mech, n_out, long, with_med):
    assoc, med, exposures, mechanisms, outcomes, labels = _stress_tables(
        seed, n_exp, n_mech, n_out, long, with_med)
    for width in ("double", "single"):
        fig = model_diagram(assoc, med, exposures=exposures, mechanisms=mechanisms,
                            outcomes=outcomes, labels=labels, width=width)
        assert layout_problems(fig) == [], (width, layout_problems(fig)[:5])
        texts = [flat(t) for t in texts_of(fig)]
        assert not any(PID in t for t in texts)
        if with_med:
            assert any(t.startswith("mediated: PM = 40% [10, 90]") for t in texts)


def test_an_outcome_whose_models_all_failed_says_why():
    """The SGA box had no arrow and nothing said why (2% SGA: every model separated)."""
    table = pd.DataFrame([
        dict(cohort="pooled", mechanism="hpa", predictor="epds", response="hair_cortisol_t3_ln", model="linear",
             n=800, estimate=0.3, se=0.05, ci_low=0.2, ci_high=0.4, p=1e-6, q=1e-5, status="ok"),
        dict(cohort="pooled", mechanism="hpa", predictor="hair_cortisol_t3_ln", response="sga", model="logistic",
             n=800, estimate=np.nan, se=np.nan, ci_low=np.nan, ci_high=np.nan, p=np.nan, q=np.nan,
             status="perfect or quasi-perfect separation: the predictor and covariates predict the outcome"),
    ])
    from first1000.figures import model_diagram

    fig = model_diagram(table, None, exposures=["epds"], mechanisms={"hpa": "HPA axis"}, outcomes=["sga"],
                        cohort="pooled", labels={"sga": "Small for gestational age (< 10th centile)"})
    fig.draw_without_rendering()
    text = " ".join(" ".join(t.get_text().split()) for t in fig.findobj(matplotlib.text.Text))
    assert ("Small for gestational age: no arrow, no model could be fitted (perfect or quasi-perfect "
            "separation)") in text
