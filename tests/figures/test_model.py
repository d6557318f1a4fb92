"""Tests of first1000.figures.model (the article's model filled in with results)."""

from __future__ import annotations

import hashlib
import re

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


def _random_row(rng, predictor, response, est, **extra):
    """A row with estimate ``est``, a random SE and p (drawn after ``est``), q = min(3p, 1)."""
    se = abs(est) / rng.uniform(0.5, 5)
    p = rng.uniform(0, 0.2)
    return row(predictor, response, est, est - 2 * se, est + 2 * se, p, min(3 * p, 1.0), **extra)


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
                rows.append(_random_row(rng, x, b, est, mechanism=mk, participant_id=PID))
        for o in outcomes:
            for b in bios:
                rows.append(_random_row(rng, b, o, float(rng.normal(0, 80)), mechanism=mk))
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


# ------------------------------------------------- the child's later outcomes (to age 2)
GROWTH = {"growth": "Child growth and development (to age 2)"}
LATER_LABELS = {
    **LABELS,
    "wlz_12m": "Weight-for-length/height z, 12 months (SD)",
    "laz_24m": "Length/height-for-age z, 24 months (SD)",
    "hcz_12m": "Head circumference-for-age z, 12 months (SD)",
    "asq_communication_24m": "ASQ-3 communication, 24 months (points)",
    "cg04111177_m": "NR3C1 cg04111177 (M-value)",
}
METHYLATION = {"methylation": "DNA methylation (cord blood)"}


def later_associations() -> pd.DataFrame:
    """The demo-like table: the three-column model's rows, a methylation mechanism and the
    growth mechanism (exposure -> the child's scores at the follow-up visits)."""
    g = dict(mechanism="growth")
    return pd.concat([associations(), pd.DataFrame([
        # SES: wlz_12m (q 4e-4) beats laz_24m (q 0.03)
        row("ses_index", "wlz_12m", 0.121, 0.062, 0.180, 6e-5, 4e-4, n=812, **g),
        row("ses_index", "laz_24m", 0.090, 0.020, 0.160, 0.01, 0.03, n=790, **g),
        # EPDS: asq and hcz tie on q, asq has the smaller p; a failed row and another
        # cohort's row with smaller q are never drawn
        row("epds", "hcz_12m", -0.020, -0.060, 0.020, 1e-3, 2.8e-3, n=812, **g),
        row("epds", "asq_communication_24m", -0.412, -0.640, -0.184, 4e-4, 2.8e-3, n=760, **g),
        {**row("epds", "wlz_12m", 7.77, 7.0, 8.0, 1e-12, 1e-11, n=812, **g), "status": "failed"},
        row("epds", "laz_24m", 8.88, 8.0, 9.0, 1e-12, 1e-11, n=812, cohort="ghent", **g),
        # resilience: not significant; wlz_12m has the smaller q, laz_24m the smaller p
        row("resilience", "wlz_12m", 0.031, -0.020, 0.082, 0.23, 0.41, n=790, **g),
        row("resilience", "laz_24m", 0.555, -0.1, 1.2, 0.20, 0.45, n=790, **g),
        # methylation: EPDS -> the NR3C1 CpG
        row("epds", "cg04111177_m", 0.012, 0.006, 0.018, 1e-4, 1e-3, mechanism="methylation", n=640),
        row("cg04111177_m", "birth_weight", -20.0, -60.0, 20.0, 0.3, 0.4, mechanism="methylation",
            n=640),
    ])], ignore_index=True)


def later_mediation() -> pd.DataFrame:
    """The birth-weight paths, and paths ending at a later outcome: EPDS -> the NR3C1 CpG ->
    ASQ communication (mediated), EPDS -> an epigenome-wide CpG -> ASQ communication
    (mediated, the CpG is no drawn biomarker), SES -> cortisol -> wlz_12m (not mediated)."""
    rows = []
    for exposure, mediator, outcome, ind in (
            ("epds", "cg04111177_m", "asq_communication_24m", (-0.21, -0.05)),
            ("epds", "cg22222222", "asq_communication_24m", (-0.15, -0.02)),
            ("ses_index", "hair_cortisol_t3_ln", "wlz_12m", (-0.01, 0.03))):
        for effect, est, lo, hi in (("total", -0.41, -0.64, -0.18), ("direct", -0.30, -0.52, -0.08),
                                    ("indirect", -0.11, *ind),
                                    ("proportion_mediated", 0.27, 0.11, 0.58)):
            rows.append(dict(cohort="pooled", exposure=exposure, mediator=mediator, outcome=outcome,
                             effect=effect, estimate=est, se=1.0, ci_low=lo, ci_high=hi, p=0.001,
                             n=640, participant_id=PID))
    return pd.concat([mediation(), pd.DataFrame(rows)], ignore_index=True)


def draw_later(**kw) -> Figure:
    args = dict(exposures=["ses_index", "epds", "resilience"], mechanisms={**MECHANISMS, **METHYLATION},
                outcomes=["birth_weight", "preterm"], labels=LATER_LABELS, later=GROWTH)
    args.update(kw)
    return model_diagram(later_associations(), later_mediation(), **args)


def texts_with_gid(fig: Figure, gid: str) -> list[Text]:
    fig.draw_without_rendering()
    return [t for t in fig.findobj(Text) if t.get_gid() == gid and t.get_text()]


def patches_with_gid(fig: Figure, gid: str) -> list:
    return [p for p in fig.axes[0].patches if p.get_gid() == gid]


def extent(fig: Figure, artist):
    """An artist's extent in mm from the left / top: (x0, x1, top, bottom)."""
    fig.draw_without_rendering()
    bb = artist.get_window_extent(fig.canvas.get_renderer())
    mm = 25.4 / fig.dpi
    height = fig.bbox.height
    return bb.x0 * mm, bb.x1 * mm, (height - bb.y1) * mm, (height - bb.y0) * mm


def later_lines(fig: Figure) -> dict[str, tuple[str, Text]]:
    """exposure -> (the later line's text, flattened; the Text) of the growth box."""
    out = {}
    entries = texts_with_gid(fig, "model-later-entry")
    keys = [ln for ln in fig.axes[0].lines if (ln.get_gid() or "").startswith("model-later-key-")]
    assert len(entries) == len(keys)
    for text, key in zip(entries, keys):
        exposure = key.get_gid().removeprefix("model-later-key-").removesuffix("-growth")
        # a line may break after the hyphen or slash inside a word ("Weight-" / "for-length")
        out[exposure] = (flat(re.sub(r"(?<=[-/])\n", "", text.get_text())), text)
    return out


def box_text_overlaps(fig: Figure) -> list[str]:
    """Texts running into a box they are not the label of (boxes: gid ``*-box``)."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    boxes = [(p.get_gid(), p.get_window_extent(renderer)) for p in fig.axes[0].patches
             if (p.get_gid() or "").endswith("-box") and p.get_gid() != "model-mediation-box"]
    problems = []
    for t in fig.findobj(Text):
        if not (t.get_visible() and t.get_text()):
            continue
        tb = t.get_window_extent(renderer)
        for gid, bb in boxes:
            if t.get_gid() == gid.removesuffix("-box") + "-label":
                continue  # a box's own label
            inter = tb.intersection(tb, bb)
            if inter is not None and inter.width > 1 and inter.height > 1:
                problems.append(f"{flat(t.get_text())!r} runs into {gid}")
    return problems


def test_later_column_draws_the_follow_up_mechanism_as_the_childs_outcomes():
    fig = draw_later()
    later = [flat(t.get_text()) for t in texts_with_gid(fig, "model-later-label")]
    assert later == ["Child growth and development (to age 2)"]
    assert len(patches_with_gid(fig, "model-later-box")) == 1
    mechanisms = [flat(t.get_text()) for t in texts_with_gid(fig, "model-mechanism-label")]
    assert mechanisms == ["HPA axis (hair cortisol)", "Telomeres (newborn T/S ratio)",
                          "DNA methylation (cord blood)"]
    headings = [flat(t.get_text()) for t in texts_with_gid(fig, "model-heading")]
    assert "Child, to age 2" in headings
    # no arrow runs to the later column: its numbers are lines of text under its box
    assert not any("growth" in (p.get_gid() or "") for p in fig.findobj(PathPatch))
    caption = flat(texts_with_gid(fig, "model-caption")[0].get_text())
    assert ("Child, to age 2: per exposure, its strongest score at the follow-up visits (smallest q) "
            "as exposure \u2192 score: estimate [95% CI]") in caption
    assert "n = 640\u2013875 participants per model" in caption  # the later lines' n too


def test_later_column_is_right_of_the_birth_outcomes_over_infancy():
    fig = draw_later()
    box = extent(fig, patches_with_gid(fig, "model-later-box")[0])
    out_right = max(extent(fig, p)[1] for p in patches_with_gid(fig, "model-outcome-box"))
    out_left = min(extent(fig, p)[0] for p in patches_with_gid(fig, "model-outcome-box"))
    assert box[0] > out_right + 2.0
    assert box[1] <= 174.0 - 1.5 + 0.01
    ticks = {flat(t.get_text()): extent(fig, t) for t in texts_with_gid(fig, "model-timeline-tick")}
    birth = (ticks["birth"][0] + ticks["birth"][1]) / 2
    assert birth == pytest.approx(out_left, abs=0.5)  # birth stays at the birth outcomes
    for tick in ("1 y", "2 y"):  # the infancy ticks under the later column
        centre = (ticks[tick][0] + ticks[tick][1]) / 2
        assert box[0] <= centre <= box[1] + 0.01, tick
    heading = next(t for t in texts_with_gid(fig, "model-heading") if "Child" in t.get_text())
    assert extent(fig, heading)[0] == pytest.approx(box[0], abs=0.5)
    spans = [flat(t.get_text()) for t in texts_with_gid(fig, "model-timeline-span")]
    assert "child: to age 2" in spans


def test_later_lines_are_the_strongest_rows_of_the_table():
    lines = later_lines(draw_later())
    assert set(lines) == {"ses_index", "epds", "resilience"}
    est = format_estimate_ci
    assert lines["ses_index"][0] == ("SES index \u2192 Weight-for-length/height z, 12 months (SD): "
                                     + est(0.121, 0.062, 0.180))
    # tie on q: the smaller p; the failed row and the other cohort's row are never drawn
    assert lines["epds"][0] == ("EPDS depressive symptoms \u2192 ASQ-3 communication, 24 months "
                                "(points): " + est(-0.412, -0.640, -0.184))
    assert lines["resilience"][0] == ("Brief Resilience Scale \u2192 Weight-for-length/height z, "
                                      "12 months (SD): " + est(0.031, -0.020, 0.082))
    everything = " ".join(flat(t) for t in texts_of(draw_later()))
    for never in ("7.77", "8.88", "0.0900", "0.555"):
        assert never not in everything, never


def test_later_lines_significant_solid_in_the_exposure_colour_else_dashed_and_grey():
    fig = draw_later()
    colours = [matplotlib.colors.to_hex(p.get_edgecolor())
               for p in patches_with_gid(fig, "model-exposure-box")]  # in exposure order
    keys = {ln.get_gid(): ln for ln in fig.axes[0].lines
            if (ln.get_gid() or "").startswith("model-later-key-")}
    lines = later_lines(fig)
    for i, (exposure, significant) in enumerate((("ses_index", True), ("epds", True),
                                                 ("resilience", False))):
        key = keys[f"model-later-key-{exposure}-growth"]
        text = lines[exposure][1]
        colour = np.array(matplotlib.colors.to_rgb(colours[i]))
        got = np.array(matplotlib.colors.to_rgb(key.get_color()))
        if significant:
            assert key.get_linestyle() == "-", exposure
            assert np.allclose(got, colour, atol=1 / 255), exposure
            assert matplotlib.colors.to_hex(text.get_color()) == "#000000", exposure
        else:  # as a non-significant arrow: dashed, a lighter tint of the exposure's colour
            assert key.get_linestyle() not in ("-", "solid", "None"), exposure
            assert np.allclose(got, colour + (1 - colour) * 0.5, atol=1 / 255), exposure
            assert matplotlib.colors.to_hex(text.get_color()) != "#000000", exposure
    assert (keys["model-later-key-resilience-growth"].get_linewidth()
            < keys["model-later-key-ses_index-growth"].get_linewidth())


def test_a_mediated_path_to_a_later_outcome_is_annotated_and_highlighted():
    fig = draw_later()
    notes = [flat(t.get_text()) for t in texts_with_gid(fig, "model-mediation")]
    assert len(notes) == 2  # SES -> cortisol -> birth weight, EPDS -> CpG -> ASQ
    later_note = next(n for n in notes if "ASQ" in n)
    assert later_note == ("mediated: PM = 27% [11, 58] EPDS depressive symptoms \u2192 ASQ-3 "
                          "communication, 24 months, via NR3C1 cg04111177")
    # under the mediator's mechanism box
    note = next(t for t in texts_with_gid(fig, "model-mediation") if "ASQ" in t.get_text())
    meth = next(t for t in texts_with_gid(fig, "model-mechanism-label") if "methylation" in t.get_text())
    assert extent(fig, note)[2] > extent(fig, meth)[3]
    gids = {p.get_gid() for p in fig.findobj(PathPatch)}
    assert "model-highlight-in-epds-methylation" in gids
    assert not any(g.startswith("model-highlight-out-methylation") for g in gids if g)
    assert len(patches_with_gid(fig, "model-later-mediated")) == 1
    # the SES -> cortisol -> wlz path is not mediated: nothing says it is
    assert not any("Weight-for-length" in n for n in notes)
    caption = flat(texts_with_gid(fig, "model-caption")[0].get_text())
    assert "yellow outline: the later outcome of a mediated path" in caption
    # the epigenome-wide CpG is no biomarker of a drawn mechanism: the caption says so
    assert ("Mediated, but the mediator is no biomarker of a drawn mechanism: EPDS depressive "
            "symptoms \u2192 cg22222222 \u2192 ASQ-3 communication, 24 months.") in caption


def test_no_later_mediation_no_yellow_outline():
    med = later_mediation().query("outcome != 'asq_communication_24m'")
    fig = model_diagram(later_associations(), med, exposures=["ses_index", "epds", "resilience"],
                        mechanisms={**MECHANISMS, **METHYLATION}, outcomes=["birth_weight"],
                        labels=LATER_LABELS, later=GROWTH)
    assert patches_with_gid(fig, "model-later-mediated") == []
    assert "yellow outline" not in flat(texts_with_gid(fig, "model-caption")[0].get_text())
    assert layout_problems(fig) == []


@pytest.mark.parametrize("width", ["double", "single", 120.0])
def test_later_layout_is_clean(width):
    fig = draw_later(width=width)
    assert layout_problems(fig) == [], layout_problems(fig)[:5]
    assert box_text_overlaps(fig) == [], box_text_overlaps(fig)[:5]
    assert not any(PID in t for t in texts_of(fig))
    assert len(later_lines(fig)) == 3


def test_single_width_later_outcomes_are_a_band_under_the_diagram():
    """85 mm leave no room for a fourth column: the later outcomes go under the diagram,
    above the timeline, and the three columns are laid out as without them."""
    fig = draw_later(width="single")
    assert fig.get_size_inches()[0] * 25.4 == pytest.approx(85.0)
    box = extent(fig, patches_with_gid(fig, "model-later-box")[0])
    above = [extent(fig, p)[3] for gid in ("model-exposure-box", "model-mechanism-box",
                                           "model-outcome-box") for p in patches_with_gid(fig, gid)]
    above += [extent(fig, t)[3] for t in texts_with_gid(fig, "model-mediation")]
    assert box[2] > max(above)
    strip = extent(fig, patches_with_gid(fig, "model-timeline-pregnancy")[0])
    assert max(extent(fig, t)[3] for t in texts_with_gid(fig, "model-later-entry")) < strip[2]
    # the lines right of the box
    for _, text in later_lines(fig).values():
        assert extent(fig, text)[0] > box[1]
    # the diagram above the band: the same edge labels as without the later outcomes
    med = later_mediation().query("outcome != 'asq_communication_24m'")
    kw = dict(exposures=["ses_index", "epds", "resilience"], mechanisms={**MECHANISMS, **METHYLATION},
              outcomes=["birth_weight", "preterm"], labels=LATER_LABELS, width="single")
    with_band = model_diagram(later_associations(), med, later=GROWTH, **kw)
    without = model_diagram(later_associations(), med, **kw)
    def positions(f):
        return [(t.get_text(), tuple(round(v, 6) for v in extent(f, t)))
                for t in texts_with_gid(f, "model-edge-label")]
    assert positions(with_band) == positions(without)


def test_later_column_without_birth_outcomes():
    fig = draw_later(outcomes=[])
    assert layout_problems(fig) == []
    assert box_text_overlaps(fig) == []
    box = extent(fig, patches_with_gid(fig, "model-later-box")[0])
    mech_right = max(extent(fig, p)[1] for p in patches_with_gid(fig, "model-mechanism-box"))
    assert box[0] > mech_right
    ticks = {flat(t.get_text()): extent(fig, t) for t in texts_with_gid(fig, "model-timeline-tick")}
    assert (ticks["birth"][0] + ticks["birth"][1]) / 2 < box[0]


def test_later_none_is_the_three_column_figure(tmp_path):
    """``later=None`` (or empty) draws today's figure: the growth rows and the paths to a
    later outcome in the tables change nothing."""
    def digest(fig, name):
        save_figure(fig, tmp_path / f"{name}.png", tmp_path / f"{name}.svg")
        return [hashlib.sha256((tmp_path / f"{name}.{ext}").read_bytes()).hexdigest()
                for ext in ("png", "svg")]

    for width in ("double", "single"):
        base = digest(draw(width=width), f"base-{width}")
        assert digest(draw(width=width, later=None), f"none-{width}") == base
        assert digest(draw(width=width, later={}), f"empty-{width}") == base
        assert digest(draw(later_associations(), later_mediation(), width=width, later=None),
                      f"tables-{width}") == base
    texts = [flat(t) for t in texts_of(draw(later=None))]
    assert "Child, to age 2" not in texts
    assert not any("to age 2" in t or "ASQ" in t for t in texts)


def test_later_mechanism_also_among_the_mechanisms_is_refused():
    with pytest.raises(ValueError, match="growth"):
        draw_later(mechanisms={**MECHANISMS, "growth": "Growth"})


@pytest.mark.parametrize("seed, n_exp, n_mech, n_out, n_later, long", [
    (11, 1, 1, 0, 1, False),
    (12, 6, 8, 4, 2, False),
    (13, 6, 8, 4, 2, True),
    (14, 3, 2, 1, 1, True),
    (15, 2, 5, 0, 2, True),
])
def test_layout_with_later_outcomes_never_overlaps(seed, n_exp, n_mech, n_out, n_later, long):
    assoc, med, exposures, mechanisms, outcomes, labels = _stress_tables(
        seed, n_exp, n_mech, n_out, long, with_med=n_out > 0)
    rng = np.random.default_rng(seed)
    later = {f"later{i}": ("The child's growth and neurodevelopment to age two (follow-up visits)"
                           if long else f"Later {i}") for i in range(n_later)}
    rows, mrows = [], []
    for lk in later:
        scores = [f"{lk}_wlz_12m", f"{lk}_asq_communication_24m"]
        if long:
            labels.update({s: f"Weight-for-length/height z-score of {s}, 12 months (SD)" for s in scores})
        for x in exposures:
            for s in scores:
                rows.append(_random_row(rng, x, s, float(rng.normal(0, 0.3)), mechanism=lk,
                                        participant_id=PID))
        # a mediated path to a later outcome through the first mechanism's biomarker
        for effect, est, lo, hi in (("indirect", -0.2, -0.3, -0.1),
                                    ("proportion_mediated", 0.3, 0.1, 0.6)):
            mrows.append(dict(cohort="pooled", exposure=exposures[0], mediator=f"{list(mechanisms)[0]}_bio0",
                              outcome=scores[1], effect=effect, estimate=est, ci_low=lo, ci_high=hi,
                              p=0.01, n=700))
    assoc = pd.concat([assoc, pd.DataFrame(rows)], ignore_index=True)
    med = pd.concat([m for m in (med, pd.DataFrame(mrows)) if m is not None], ignore_index=True)
    for width in ("double", "single"):
        fig = model_diagram(assoc, med, exposures=exposures, mechanisms=mechanisms, outcomes=outcomes,
                            labels=labels, width=width, later=later)
        assert layout_problems(fig) == [], (width, layout_problems(fig)[:5])
        assert box_text_overlaps(fig) == [], (width, box_text_overlaps(fig)[:5])
        assert len(texts_with_gid(fig, "model-later-entry")) == n_exp * n_later
        assert len(patches_with_gid(fig, "model-later-mediated")) == n_later
        texts = [flat(t) for t in texts_of(fig)]
        assert not any(PID in t for t in texts)


def test_model_diagram_params_pass_the_follow_up_mechanisms_as_later(demo_config):
    from first1000.stages.figures import model_diagram_params

    params = model_diagram_params(demo_config)
    assert params["later_labels"] == {"growth": demo_config["mechanisms"]["growth"]["label"]}
    assert "growth" not in params["mechanism_labels"]
    assert "hpa" in params["mechanism_labels"]
    # the growth scores have labels for the figure
    assert "wlz_12m" in params["labels"] and "asq_communication_24m" in params["labels"]


def test_model_diagram_stage_forwards_later_and_the_paths_to_later_outcomes(tmp_path, monkeypatch):
    import first1000.figures as figures
    from first1000.stages import figures as stage

    seen = {}

    def fake_draw(assoc, med, **kw):
        seen.update(kw, med=med)
        return draw_later()

    monkeypatch.setattr(figures, "model_diagram", fake_draw)
    monkeypatch.setattr(figures, "save_figure", lambda *a, **k: None)
    assoc_path, med_path = tmp_path / "associations.tsv", tmp_path / "mediation.tsv"
    later_associations().to_csv(assoc_path, sep="\t", index=False)
    later_mediation().to_csv(med_path, sep="\t", index=False)
    stage.model_diagram(exposures=["ses_index", "epds", "resilience"], outcomes=["birth_weight", "preterm"],
                        mechanism_labels={**MECHANISMS, **METHYLATION, "immune": "Immune"},
                        later_labels={**GROWTH, "other_followup": "Not in the table"},
                        labels=LATER_LABELS, fdr=0.05, associations=str(assoc_path), mediation=[str(med_path)],
                        png=tmp_path / "m.png", svg=tmp_path / "m.svg", models=tmp_path / "m.rst")
    assert seen["later"] == GROWTH  # a mechanism without rows is not drawn
    assert set(seen["mechanisms"]) == {"hpa", "telomeres", "methylation"}
    assert "asq_communication_24m" in set(seen["med"]["outcome"])


def _demo_like_tables(cfg: dict, seed: int = 7):
    """Association rows for every exposure x biomarker (and biomarker x outcome) of the
    demo config's mechanisms, and two mediated paths, one ending at a later outcome."""
    rng = np.random.default_rng(seed)
    rows = []
    for mechanism, spec in cfg["mechanisms"].items():
        pairs = [(x, b) for x in spec["exposures"] for b in spec["biomarkers"]]
        pairs += [(b, o) for o in spec.get("outcomes", []) for b in spec["biomarkers"]]
        for predictor, response in pairs:
            scale = 80.0 if response == "birth_weight" else 0.1
            est = float(rng.normal(0, scale))
            se = abs(est) / rng.uniform(0.5, 6)
            p = float(rng.uniform(0, 0.3)) ** 2
            rows.append(row(predictor, response, est, est - 1.96 * se, est + 1.96 * se, p,
                            min(4 * p, 1.0), mechanism=mechanism, n=int(rng.integers(600, 900))))
    mrows = []
    for x, mediator, outcome in (("ses_index", "hair_cortisol_t3_ln", "birth_weight"),
                                 ("epds", "cg04111177_m", "asq_communication_24m")):
        for effect, est, lo, hi in (("indirect", -0.2, -0.3, -0.1), ("proportion_mediated", 0.2, 0.1, 0.4)):
            mrows.append(dict(cohort="pooled", exposure=x, mediator=mediator, outcome=outcome,
                              effect=effect, estimate=est, ci_low=lo, ci_high=hi, p=0.01, n=700))
    return pd.DataFrame(rows), pd.DataFrame(mrows)


def test_the_demo_model_keeps_the_later_column_beside_the_birth_outcomes(demo_config):
    """The report's figure (double width, the demo's nine mechanisms and five outcomes):
    the later column right of the birth outcomes, over infancy; edge labels break no word."""
    from first1000.stages.figures import model_diagram_params

    params = model_diagram_params(demo_config)
    assoc, med = _demo_like_tables(demo_config)
    fig = model_diagram(assoc, med, exposures=params["exposures"], mechanisms=params["mechanism_labels"],
                        outcomes=params["outcomes"], labels=params["labels"], fdr=params["fdr"],
                        later=params["later_labels"])
    assert layout_problems(fig) == [], layout_problems(fig)[:5]
    assert box_text_overlaps(fig) == [], box_text_overlaps(fig)[:5]
    box = extent(fig, patches_with_gid(fig, "model-later-box")[0])
    assert box[0] > max(extent(fig, p)[1] for p in patches_with_gid(fig, "model-outcome-box"))
    assert len(texts_with_gid(fig, "model-mechanism-label")) == 9
    # every edge label is "biomarker: estimate [CI]" of a table row, broken at spaces only
    labels = params["labels"]
    shown = {f"{labels.get(b, b)}: {format_estimate_ci(r.estimate, r.ci_low, r.ci_high)}"
             for r in assoc.itertuples() for b in (r.predictor, r.response)}
    for text in texts_with_gid(fig, "model-edge-label"):
        assert flat(text.get_text()) in shown, text.get_text()
    assert any("ASQ-3 communication, 24 months" in flat(t.get_text())
               for t in texts_with_gid(fig, "model-mediation"))
