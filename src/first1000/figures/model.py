"""The article's conceptual model, filled in with this run's results.

The source review models the first 1,000 days as: socio-economic status (SES) and
maternal mood (stress, depression, resilience) act through biological mechanisms on
the child's birth outcomes. :func:`model_diagram` draws that model as a three-column
diagram (exposures → mechanisms → birth outcomes) over a timeline band (conception →
birth → 1 y → 2 y), with an optional fourth column for the child's later outcomes
("Child, to age 2": growth and development scores at the follow-up visits, over the
infancy part of the timeline), and fills the arrows in with the pipeline's estimates:

* one arrow per exposure → mechanism (and mechanism → outcome), labelled with the
  mechanism's strongest biomarker (smallest q, ties: smallest p) as
  "biomarker: estimate [95% CI]"; FDR-significant arrows are solid and coloured (by
  exposure, so they can be followed across the diagram), the others thin, grey and
  dashed; a pair without a fitted model has no arrow;
* mediated paths (indirect effect whose CI excludes 0) are highlighted under their
  two arrows and annotated with the proportion mediated next to the mechanism;
* the later-outcome column has no arrows (one from every exposure across the whole
  figure would be too busy): under each of its boxes, one line per exposure with the
  box's strongest score, "exposure → score: estimate [95% CI]", after a short key line
  styled as that exposure's arrow would be (solid, in the exposure's colour, when
  significant; thin, dashed, lighter otherwise). A mediated path ending at a later
  outcome highlights its exposure's arrow into the mediator's mechanism, is annotated
  under that mechanism ("mediated: PM = …", "EPDS → ASQ-3 communication, 24 months,
  via …") and outlines the later box in yellow. When the width leaves no room for a
  fourth column (single-column figures, or many long labels), the later outcomes are a
  band under the diagram, above the timeline (the box, its lines to the right), and
  the three columns are laid out as without them.

Every number is read from the association and mediation result tables; nothing is
refitted. Only contract columns are read, so participant-level columns can never
reach the figure. The layout is computed in mm from measured text, without a layout
engine: edge labels sit above the horizontal ends of their arrows, stacked per
mechanism, so no table can make two texts collide.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon, Rectangle
from matplotlib.path import Path as MplPath

from first1000.errors import InputTableError
from first1000.figures.forest import _Measure
from first1000.figures.style import (
    _COHORT_COLOUR_ORDER,
    contract_table,
    FONT_SIZE,
    GREY,
    MM_PER_INCH,
    OKABE_ITO,
    PNG_DPI,
    SMALL_FONT_SIZE,
    _is_missing,
    _width_mm,
    format_estimate_ci,
    format_range,
    journal_style,
    label_for,
    new_figure,
)

__all__ = [
    "model_diagram",
    "default_exposure_group",
    "ASSOCIATION_COLUMNS",
    "MEDIATION_COLUMNS",
]

#: Association-contract columns the model diagram reads (``status`` optional).
ASSOCIATION_COLUMNS: tuple[str, ...] = (
    "cohort", "mechanism", "predictor", "response", "n", "estimate", "ci_low",
    "ci_high", "p", "q",
)
#: Mediation-effects contract columns the model diagram reads.
MEDIATION_COLUMNS: tuple[str, ...] = (
    "cohort", "exposure", "mediator", "outcome", "effect", "estimate", "ci_low",
    "ci_high", "p", "n",
)
_ASSOC_NUMERIC = ("n", "estimate", "ci_low", "ci_high", "p", "q")
_MED_NUMERIC = ("estimate", "ci_low", "ci_high", "p", "n")

SES_GROUP = "Socio-economic status"
MOOD_GROUP = "Maternal mood"
ARROW = "\u2192"
MINUS = "\u2212"

# Exposure colours: Okabe–Ito without black (text) and yellow (the highlighter).
_EXPOSURE_COLOURS: tuple[str, ...] = _COHORT_COLOUR_ORDER[:6]
_OUT_COLOUR = OKABE_ITO[0]  # significant mechanism → outcome arrows
_HIGHLIGHT = OKABE_ITO[4]  # yellow highlighter under mediated paths
_HIGHLIGHT_FILL = "#FBF6C4"  # light yellow behind the mediation note
_NS_COLOUR = "#9A9A9A"  # non-significant arrows
_PANEL_FILL = "#F2F2F2"  # exposure group panels
_MECH_FILL = "#EAF3FA"  # mechanism boxes (as the mediator box of mediation_diagram)
_OUT_FILL = "#F7F7F7"
_PREG_FILL = "#D6EAF5"  # timeline: pregnancy
_INF_FILL = "#FBE3C3"  # timeline: infancy
_LATER_FILL = "#FDF1E1"  # the child's later outcomes (a tint of the infancy strip)

# Geometry, in mm.
_EDGE_MM = 1.5  # figure edge to content
_BOX_PAD_MM = 1.4  # box border to text
_PANEL_PAD_MM = 1.2  # group panel border to boxes
_ARROW_LEN_MM = 1.6
_ARROW_W_MM = 1.2
_GAP_MIN_MM = 6.0  # room for the curved part of the arrows
_LABEL_GAP_MM = 0.7  # label bottom above its arrow
_PORT_GAP_MM = 1.1  # arrow to the next label's top
_BLOCK_GAP_MM = 3.0  # between mechanism blocks
_BOX_GAP_MM = 2.4  # between exposure / outcome boxes
_INFANCY_MIN_MM = 24.0  # timeline room right of birth
_END_STEP_MM = {"in": 1.0, "out": 1.5}  # arrow ends on exposure / outcome boxes
_LATER_GAP_MM = 4.0  # birth-outcome column to the later-outcome column
_KEY_MM = 3.5  # key line before a later-outcome line
_KEY_GAP_MM = 1.0  # key line to its text
_ENTRY_GAP_MM = 1.0  # between later-outcome lines


def default_exposure_group(name: str) -> str:
    """The group of an exposure by the house rule.

    ``ses_index`` and names starting with ``education``, ``income`` or
    ``neighbourhood`` are :data:`SES_GROUP` ("Socio-economic status"); every other
    exposure is :data:`MOOD_GROUP` ("Maternal mood").
    """
    n = str(name).strip().lower()
    if n == "ses_index" or n.startswith(("education", "income", "neighbourhood")):
        return SES_GROUP
    return MOOD_GROUP


# ----------------------------------------------------------------------- validation
def _clean(table: pd.DataFrame, what: str, columns: tuple[str, ...], numeric: tuple[str, ...],
           optional: tuple[str, ...] = ()) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise InputTableError(
            f"model_diagram needs the {what} table as a pandas DataFrame, "
            f"got {type(table).__name__}"
        )
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputTableError(
            f"{what} table lacks column(s) {', '.join(missing)}; "
            f"model_diagram reads: {', '.join(columns + optional)}"
        )
    cols = list(columns) + [c for c in optional if c in table.columns]
    df = contract_table(table, cols, numeric, what)
    for col in cols:
        if col not in numeric:
            df[col] = df[col].map(lambda v: "" if pd.isna(v) else str(v).strip())
    return df


def _fitted(df: pd.DataFrame) -> pd.DataFrame:
    """Rows with an estimate (and an "ok" status when the table has a status)."""
    ok = np.isfinite(df["estimate"].to_numpy())
    if "status" in df.columns:
        ok &= df["status"].str.lower().isin(["", "ok"]).to_numpy()
    return df[ok]


# ------------------------------------------------------------------------- the model
@dataclass
class _Edge:
    kind: str  # "in" (exposure → mechanism), "out" (mechanism → outcome) or "later"
    # (exposure → a later outcome, drawn as a line of text under the later box)
    source: str
    target: str
    mechanism: str
    biomarker: str
    estimate: float
    ci_low: float
    ci_high: float
    q: float
    n: float
    significant: bool
    text: str = ""  # wrapped label
    text_h: float = 0.0
    port_y: float = 0.0  # y of the arrow's horizontal end (at the mechanism)
    end_y: float = 0.0  # y at the exposure / outcome box
    mediated: bool = False


@dataclass
class _Mediated:
    exposure: str
    mediator: str
    outcome: str
    mechanism: str
    text: str = ""
    text_h: float = 0.0
    text_w: float = 0.0
    later: str = ""  # the later-outcome mechanism of ``outcome`` (not a birth outcome)


@dataclass
class _Node:
    key: str
    text: str
    w: float = 0.0
    h: float = 0.0
    cy: float = 0.0  # centre, mm from the top
    edges_in: list[_Edge] = field(default_factory=list)
    edges_out: list[_Edge] = field(default_factory=list)
    notes: list[_Mediated] = field(default_factory=list)


def _strongest(rows: pd.DataFrame) -> pd.Series | None:
    """The row with the smallest q (missing last), ties broken by the smallest p."""
    if rows.empty:
        return None
    order = rows.assign(
        _qn=rows["q"].isna(), _pn=rows["p"].isna(), _i=np.arange(len(rows))
    ).sort_values(["_qn", "q", "_pn", "p", "_i"], kind="mergesort")
    return order.iloc[0]


def _edge(kind: str, source: str, target: str, mech: str, rec: pd.Series, biomarker: str,
          fdr: float) -> _Edge:
    q = float(rec["q"])
    return _Edge(
        kind=kind, source=source, target=target, mechanism=mech, biomarker=biomarker,
        estimate=float(rec["estimate"]), ci_low=float(rec["ci_low"]),
        ci_high=float(rec["ci_high"]), q=q, n=float(rec["n"]),
        significant=bool(math.isfinite(q) and q < fdr),
    )


def _short(label: str) -> str:
    """A label without its trailing unit or range: "SES index (index unit)" → "SES index"."""
    out = re.sub(r"\s*\([^()]*\)\s*$", "", label).strip()
    return out or label


def _percent(x: float) -> str:
    return f"{x * 100:.0f}".replace("-", MINUS)


def _mediation_text(rows: pd.DataFrame) -> str | None:
    """ "mediated: PM = 38% [19, 84]" (or the indirect effect when PM is missing)."""
    pm = rows[rows["effect"] == "proportion_mediated"]
    if not pm.empty and not _is_missing(pm.iloc[0]["estimate"]):
        r = pm.iloc[0]
        text = f"mediated: PM = {_percent(r['estimate'])}%"
        if not (_is_missing(r["ci_low"]) or _is_missing(r["ci_high"])):
            text += f" [{_percent(r['ci_low'])}, {_percent(r['ci_high'])}]"
        return text
    ind = rows[rows["effect"] == "indirect"].iloc[0]
    return "mediated: indirect = " + format_estimate_ci(
        ind["estimate"], ind["ci_low"], ind["ci_high"])


def _isotonic(values: list[float]) -> list[float]:
    """Least-squares non-decreasing fit of ``values`` (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for v in values:
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, n2 = blocks.pop()
            m1, n1 = blocks.pop()
            blocks.append([(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2])
    out: list[float] = []
    for mean, count in blocks:
        out += [mean] * int(count)
    return out


def _place(heights: list[float], leads: list[float], tail: float, desired: list[float],
           top: float, bottom: float) -> list[float]:
    """Box centres, in order, as close as possible to ``desired`` (least squares).

    Box i has ``leads[i]`` mm of space above it (gap, heading) and the stack ends with
    ``tail`` mm; the boxes keep their order, never overlap and stay in [top, bottom].
    """
    offsets, c = [], 0.0
    for h, lead in zip(heights, leads):
        c += lead
        offsets.append(c)
        c += h
    total = c + tail
    z = _isotonic([d - h / 2 - off for d, h, off in zip(desired, heights, offsets)])
    hi = max(bottom - total, top)
    return [min(max(zi, top), hi) + off + h / 2 for zi, off, h in zip(z, offsets, heights)]


# A word may break after the hyphen or slash between two parts of at least three letters:
# "Weight-for-|length/|height", not "ASQ-3", "T/S" or "pg/mg".
_SOFT_BREAK = re.compile(r"(?<=[A-Za-z]{3}[-/])(?=[A-Za-z]{3})")


def _soft_pieces(text: str) -> list[tuple[str, str]]:
    """``text`` as (piece, what joins it to the next piece): a space between words,
    nothing at a soft break inside a word."""
    out: list[tuple[str, str]] = []
    for word in text.split():
        parts = _SOFT_BREAK.split(word)
        out += [(p, "" if i < len(parts) - 1 else " ") for i, p in enumerate(parts)]
    return out


def _wrap_soft(m, text: str, max_w: float, props: dict) -> str:
    """Balanced wrap of ``text`` to ``max_w`` mm at spaces and soft breaks (never inside
    a piece: a piece wider than ``max_w`` gets a line of its own)."""
    pieces = _soft_pieces(text)
    if not pieces:
        return ""

    def greedy(limit: float) -> list[str]:
        lines, cur, join = [], "", ""
        for piece, j in pieces:
            cand = f"{cur}{join}{piece}" if cur else piece
            if cur and m.width(cand, **props) > limit:
                lines.append(cur)
                cur = piece
            else:
                cur = cand
            join = j
        return lines + [cur]

    widest = max(m.width(p, **props) for p, _ in pieces)
    lo, hi = widest, max(max_w, widest)
    n = len(greedy(hi))
    while hi - lo > 0.3:
        mid = (lo + hi) / 2
        if len(greedy(mid)) <= n:
            hi = mid
        else:
            lo = mid
    return "\n".join(greedy(hi))


def _widest_piece(m, text: str, props: dict) -> float:
    return max((m.width(p, **props) for p, _ in _soft_pieces(text)), default=0.0)


# ---------------------------------------------------------------------------- drawing
def _curve(x0: float, y0: float, x1: float, y1: float) -> tuple[list, list]:
    """A smooth S-curve with horizontal ends, as path vertices and codes."""
    d = (x1 - x0) * 0.5
    return ([(x0, y0), (x0 + d, y0), (x1 - d, y1), (x1, y1)],
            [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4])


def _arrow_head(ax, x_tip: float, y: float, colour: str, scale: float, gid: str) -> None:
    L, w = _ARROW_LEN_MM * scale, _ARROW_W_MM * scale
    ax.add_patch(Polygon([(x_tip, y), (x_tip - L, y - w / 2), (x_tip - L, y + w / 2)],
                         closed=True, fc=colour, ec="none", zorder=3, gid=gid))


def _tint(colour: str, share: float = 0.5) -> str:
    """``colour`` mixed with ``share`` of white: the same hue, lighter."""
    from matplotlib.colors import to_hex, to_rgb

    return to_hex(tuple(c + (1.0 - c) * share for c in to_rgb(colour)))


def _edge_style(e: _Edge, colour: str) -> dict:
    """Significant: solid in the exposure's colour; not significant: thin, dashed, in a
    lighter tint of the same colour (the exposure stays recognisable)."""
    if e.significant:
        return dict(color=colour, lw=1.1, ls="-")
    return dict(color=_tint(colour), lw=0.6, ls=(0, (3.0, 2.0)))


def model_diagram(
    associations: pd.DataFrame,
    mediation: pd.DataFrame | None,
    *,
    exposures: Sequence[str],
    mechanisms: Mapping[str, str],
    outcomes: Sequence[str],
    cohort: str = "pooled",
    fdr: float = 0.05,
    labels: Mapping[str, str] | None = None,
    width: str | float = "double",
    exposure_groups: Mapping[str, str] | None = None,
    later: Mapping[str, str] | None = None,
) -> Figure:
    """The article's model (SES and maternal mood → biological mechanisms → birth
    outcomes, and the child's later outcomes, over the first 1,000 days), with this
    run's estimates on its arrows.

    Parameters
    ----------
    associations
        The association contract: ``cohort, mechanism, predictor, response, n,
        estimate, ci_low, ci_high, p, q`` (optional ``status``: rows whose status is
        not "ok" count as not fitted). Exposure → mechanism arrows use the rows with
        ``predictor`` = the exposure and ``mechanism`` = the mechanism (the response
        is one of its biomarkers); mechanism → outcome arrows the rows with
        ``mechanism`` = the mechanism and ``response`` = the outcome (the predictor is
        one of its biomarkers). Other columns are never read.
    mediation
        The mediation effects contract (``cohort, exposure, mediator, outcome,
        effect, estimate, ci_low, ci_high, p, n`` with ``effect`` in total, direct,
        indirect, proportion_mediated), or None. A path whose indirect-effect CI
        excludes 0 is highlighted and annotated with its proportion mediated; its
        mechanism is the one whose biomarker (an association ``response``) is the
        mediator. Its outcome is a birth outcome (``outcomes``) or a later outcome (a
        ``response`` of a ``later`` mechanism's rows); other paths are not drawn.
    exposures, mechanisms, outcomes
        What to draw, in order: exposure names (left column), mechanism key → display
        label (middle column), outcome names (right column, may be empty).
    cohort
        The cohort whose estimates are drawn ("pooled" by default).
    fdr
        FDR threshold: arrows with ``q < fdr`` are solid and coloured.
    labels
        Optional variable (and cohort) name → human label.
    width
        ``"double"`` (174 mm, default), ``"single"`` (85 mm) or a width in mm; the
        height follows from the content.
    exposure_groups
        Optional exposure → group heading; by default :func:`default_exposure_group`
        (SES: ``ses_index``, ``education*``, ``income*``, ``neighbourhood*``; the
        rest: maternal mood). Groups keep the order of their first exposure.
    later
        Optional mechanism key → display label of the child's later outcomes (e.g. the
        growth mechanism: WHO z-scores and ASQ-3 scores at the follow-up visits, whose
        association rows have the exposure as ``predictor`` and the score as
        ``response``), drawn in a right-most column "Child, to age 2" over the infancy
        part of the timeline, not among the mechanisms (a band under the diagram when
        the width leaves no room for it). Under each box, per exposure, its strongest
        score (smallest q, ties: smallest p) "exposure → score: estimate [CI]" after a
        key line styled as that exposure's arrows (solid and coloured when
        ``q < fdr``). None (or empty): no such column, the three-column figure.

    Each arrow is labelled with the mechanism's strongest biomarker for that pair
    (smallest q, ties: smallest p) as "biomarker: estimate [CI]". Significant arrows
    are solid, coloured by exposure (mechanism → outcome: black); non-significant
    arrows are thin grey dashes; a pair without a fitted model has no arrow.
    """
    W = _width_mm(width)
    exposures = [str(e) for e in exposures]
    outcomes = [str(o) for o in outcomes]
    mech_keys = [str(k) for k in mechanisms]
    for name, seq in (("exposures", exposures), ("mechanisms", mech_keys)):
        if not seq:
            raise ValueError(f"model_diagram needs at least one of {name}")
    later_labels = {str(k): str(v) for k, v in (later or {}).items()}
    later_keys = list(later_labels)
    for name, seq in (("exposures", exposures), ("mechanisms", mech_keys), ("outcomes", outcomes)):
        if len(set(seq)) != len(seq):
            raise ValueError(f"model_diagram: {name} has duplicates: {seq}")
    both = [k for k in later_keys if k in mech_keys]
    if both:
        raise ValueError(f"model_diagram: {both} both in mechanisms and in later; a mechanism "
                         "is drawn in one column")
    if not (isinstance(fdr, (int, float)) and 0 < float(fdr) < 1):
        raise ValueError(f"fdr must be between 0 and 1, got {fdr!r}")
    cohort = str(cohort)

    assoc = _clean(associations, "association", ASSOCIATION_COLUMNS, _ASSOC_NUMERIC, ("status",))
    med = None
    if mediation is not None:
        med = _clean(mediation, "mediation", MEDIATION_COLUMNS, _MED_NUMERIC)

    fitted = _fitted(assoc[assoc["cohort"] == cohort])
    ex_set, out_set = set(exposures), set(outcomes)

    # ---- edges: one per (exposure, mechanism) and (mechanism, outcome)
    edges_in: list[_Edge] = []
    edges_out: list[_Edge] = []
    def from_exposures(kind: str, key: str) -> list[_Edge]:
        """Per exposure, its strongest biomarker of mechanism ``key``."""
        rows_k = fitted[fitted["mechanism"] == key]
        found = []
        for x in exposures:
            rec = _strongest(rows_k[(rows_k["predictor"] == x) & ~rows_k["response"].isin(ex_set)])
            if rec is not None:
                found.append(_edge(kind, x, key, key, rec, rec["response"], fdr))
        return found

    for mk in mech_keys:
        rows_m = fitted[fitted["mechanism"] == mk]
        edges_in += from_exposures("in", mk)
        for o in outcomes:
            rec = _strongest(rows_m[(rows_m["response"] == o) & ~rows_m["predictor"].isin(ex_set)])
            if rec is not None:
                edges_out.append(_edge("out", mk, o, mk, rec, rec["predictor"], fdr))
    # the later outcomes: per (exposure, later mechanism) the strongest score
    edges_later: list[_Edge] = []
    later_of: dict[str, str] = {}  # score → its later mechanism
    for lk in later_keys:
        edges_later += from_exposures("later", lk)
        tried = assoc[(assoc["mechanism"] == lk) & ~assoc["response"].isin(ex_set)]
        for score in tried["response"]:
            if score not in out_set:
                later_of.setdefault(score, lk)

    # ---- mediated paths (indirect-effect CI excludes 0)
    mediated: list[_Mediated] = []
    unplaced: list[str] = []
    if med is not None:
        mc = med[(med["cohort"] == cohort) & med["exposure"].isin(ex_set)
                 & med["outcome"].isin(out_set | set(later_of))]
        for (x, mediator, o), rows in mc.groupby(["exposure", "mediator", "outcome"], sort=False):
            ind = rows[rows["effect"] == "indirect"]
            if ind.empty:
                continue
            lo, hi = ind.iloc[0]["ci_low"], ind.iloc[0]["ci_high"]
            if _is_missing(lo) or _is_missing(hi) or not (lo > 0 or hi < 0):
                continue
            # the mechanism whose biomarker is the mediator: a drawn mechanism with the
            # mediator as a response (else as a predictor) of an association model
            drawn = assoc[assoc["mechanism"].isin(mech_keys)]
            hits = drawn[drawn["response"] == mediator]
            if hits.empty:
                hits = drawn[drawn["predictor"] == mediator]
            if hits.empty:
                unplaced.append(f"{_short(label_for(x, labels))} {ARROW} "
                                f"{_short(label_for(mediator, labels))} {ARROW} "
                                f"{_short(label_for(o, labels))}")
                continue
            mech = min(hits["mechanism"], key=mech_keys.index)
            mp = _Mediated(x, mediator, o, mech, text=_mediation_text(rows) or "",
                           later=later_of.get(o, "") if o not in out_set else "")
            mediated.append(mp)
            for e in edges_in:
                if e.source == x and e.target == mech:
                    e.mediated = True
            for e in edges_out:
                if e.source == mech and e.target == o:
                    e.mediated = True

    # ---- exposure groups
    groups: dict[str, list[str]] = {}
    for x in exposures:
        g = exposure_groups.get(x) if exposure_groups else None
        groups.setdefault(str(g) if g else default_exposure_group(x), []).append(x)
    colour_of = {x: _EXPOSURE_COLOURS[i % len(_EXPOSURE_COLOURS)] for i, x in enumerate(exposures)}

    # ---- caption
    drawn_n = [e.n for e in edges_in + edges_out + edges_later]
    caption = (
        f"Edges: strongest biomarker per mechanism, {label_for(cohort, labels)} estimates "
        f"with 95% CI; solid = FDR q < {float(fdr):g}, thin dashed (lighter) = not significant; "
        f"n = {format_range(drawn_n)} participants per model."
    )
    if later_keys:
        caption += (" Child, to age 2: per exposure, its strongest score at the follow-up visits "
                    f"(smallest q) as exposure {ARROW} score: estimate [95% CI], after a key line "
                    "styled as its edges.")
    if fitted.empty:
        caption += f" No fitted {label_for(cohort, labels)} estimates in the table."
    if mediated:
        caption += (" Yellow: mediated path (indirect effect 95% CI excludes 0); "
                    "PM = proportion mediated [95% CI].")
    later_mediated = {mp.later for mp in mediated if mp.later}
    if later_mediated:
        caption = caption[:-1] + "; yellow outline: the later outcome of a mediated path."
    # an outcome without an arrow because no model of it could be fitted: say why
    at_level = assoc[(assoc["cohort"] == cohort) & assoc["mechanism"].isin(mech_keys)]
    drawn_outcomes = {e.target for e in edges_out}
    for o in outcomes:
        tried = at_level[at_level["response"] == o]
        if o in drawn_outcomes or tried.empty:
            continue
        reasons = tried["status"].astype(str).str.split(";").str[0].str.split(":").str[0].str.strip() \
            if "status" in tried.columns else pd.Series(dtype=str)
        reasons = reasons[~reasons.str.lower().isin(["", "ok", "nan"])]
        why = reasons.value_counts().index[0] if len(reasons) else "no estimate"
        caption += f" {_short(label_for(o, labels))}: no arrow, no model could be fitted ({why})."
    if unplaced:
        caption += (" Mediated, but the mediator is no biomarker of a drawn mechanism: "
                    + "; ".join(unplaced) + ".")

    box_props = dict(fontsize=FONT_SIZE)
    edge_props = dict(fontsize=SMALL_FONT_SIZE)
    head_props = dict(fontsize=FONT_SIZE, fontweight="bold")
    group_props = dict(fontsize=SMALL_FONT_SIZE, fontweight="bold")
    small_props = dict(fontsize=SMALL_FONT_SIZE)

    with journal_style():
        fig = new_figure(width, 100.0, layout=None)
        fig.set_dpi(PNG_DPI)  # measure at the PNG resolution (hinted text is taller)
        m = _Measure(fig)
        inner = W - 2 * _EDGE_MM

        # ---------------------------------------------------------- horizontal layout
        def wrap_words(text: str, cap: float, props: dict) -> str:
            """Balanced word wrap to ``cap`` mm that never breaks inside a word (a word
            wider than ``cap`` gets a line of its own)."""
            widest = max((m.width(w, **props) for w in text.split()), default=0.0)
            limit = max(cap, widest)
            n = m.wrap(text, limit, **props).count("\n")
            lo, hi = widest, limit
            while hi - lo > 0.3:
                mid = (lo + hi) / 2
                if m.wrap(text, mid, **props).count("\n") <= n:
                    hi = mid
                else:
                    lo = mid
            return m.wrap(text, hi, **props)

        def box(key: str, text: str, cap: float, props: dict, split: bool = False) -> _Node:
            wrapped = (m.wrap_balanced(text, cap - 2 * _BOX_PAD_MM, **props) if split
                       else wrap_words(text, cap - 2 * _BOX_PAD_MM, props))
            return _Node(key, wrapped, m.block_width(wrapped, **props) + 2 * _BOX_PAD_MM,
                         m.height(wrapped, **props) + 2 * _BOX_PAD_MM)

        def label_text(e: _Edge) -> str:
            return f"{label_for(e.biomarker, labels)}: " + format_estimate_ci(
                e.estimate, e.ci_low, e.ci_high)

        def two_line_width(e: _Edge) -> float:
            return max(m.width(f"{label_for(e.biomarker, labels)}:", **edge_props),
                       m.width(format_estimate_ci(e.estimate, e.ci_low, e.ci_high), **edge_props))

        has_out = bool(outcomes)
        # one-line and two-line ("biomarker:" / "estimate [CI]") widths of the labels
        nat_in = max([m.width(label_text(e), **edge_props) for e in edges_in], default=0.0)
        nat_out = max([m.width(label_text(e), **edge_props) for e in edges_out], default=0.0)
        two_in = max([two_line_width(e) for e in edges_in], default=0.0)
        two_out = max([two_line_width(e) for e in edges_out], default=0.0)
        head_w = max(m.width(str(g), **group_props) for g in groups) + 2 * _BOX_PAD_MM

        def later_head(e: _Edge) -> str:
            return (f"{_short(label_for(e.source, labels))} {ARROW} "
                    f"{label_for(e.biomarker, labels)}:")

        def widest_word(text: str) -> float:
            return max((m.width(w, **edge_props) for w in text.split()), default=0.0)

        def est_parts(e: _Edge) -> list[str]:
            """"estimate [CI]" as its two lines "estimate" / "[CI]"."""
            est, *ci = format_estimate_ci(e.estimate, e.ci_low, e.ci_high).split(" [", 1)
            return [est] + [f"[{c}" for c in ci]

        def words_width(es: list[_Edge]) -> float:
            """The narrowest edge labels that break no word: "biomarker:" on lines of
            whole words over "estimate" / "[CI]"."""
            return max([max(widest_word(f"{label_for(e.biomarker, labels)}:"),
                            *(m.width(p, **edge_props) for p in est_parts(e))) for e in es],
                       default=0.0)

        words_in, words_out = words_width(edges_in), words_width(edges_out)
        # whole words over "estimate [CI]" on one line
        est1_in = max([max(words_width([e]), m.width(format_estimate_ci(
            e.estimate, e.ci_low, e.ci_high), **edge_props)) for e in edges_in], default=0.0)
        est1_out = max([max(words_width([e]), m.width(format_estimate_ci(
            e.estimate, e.ci_low, e.ci_high), **edge_props)) for e in edges_out], default=0.0)
        # the later lines: widths with "exposure → score:" and "estimate [CI]" on two lines
        # (wanted), and with "exposure → score:" broken at spaces and soft breaks over
        # "estimate" / "[CI]" (the least)
        two_later = max([max(m.width(later_head(e), **edge_props),
                             m.width(format_estimate_ci(e.estimate, e.ci_low, e.ci_high),
                                     **edge_props)) for e in edges_later], default=0.0)
        least_later = max([max(_widest_piece(m, later_head(e), edge_props),
                               *(m.width(p, **edge_props) for p in est_parts(e)))
                           for e in edges_later], default=0.0)
        # ... and with the CI broken after its comma too (the last resort before the band)
        tight_later = max([max(_widest_piece(m, later_head(e), edge_props),
                               *(m.width(w, **edge_props) for p in est_parts(e) for w in p.split()))
                           for e in edges_later], default=0.0)

        def columns(frac: float, split: bool = False, side: bool = False, heads: bool = True,
                    tight: bool = False):
            """Boxes wrapped to ``frac`` of the width (``split``: words may be broken,
            for narrow figures; ``side``: with the later column right of the birth
            outcomes; ``heads``: the exposure column as wide as its group headings;
            ``tight``: the later column as narrow as its lines' widest word); the width
            left for edge labels."""
            cap = frac * W
            exp_nodes = {x: box(x, label_for(x, labels), cap, box_props, split) for x in exposures}
            mech_nodes = {k: box(k, str(mechanisms[k]), cap, box_props, split) for k in mech_keys}
            out_nodes = {o: box(o, label_for(o, labels), cap, box_props, split) for o in outcomes}
            later_nodes = {k: box(k, later_labels[k], cap, box_props, split) for k in later_keys}
            exp_w = max(n.w for n in exp_nodes.values())
            # the exposure column is at least as wide as its group headings (up to a cap)
            widen = head_w > exp_w and not split and heads
            if widen:
                exp_w = min(head_w, max(0.2 * W, exp_w))
            elif side and not heads:  # group headings at least on lines of whole words
                word_w = max(m.width(w, **group_props) for g in groups for w in str(g).split())
                widen = word_w > exp_w
                exp_w = max(exp_w, word_w)
            if widen:
                for x in exposures:
                    node = exp_nodes[x]
                    node.text = wrap_words(label_for(x, labels), exp_w - 2 * _BOX_PAD_MM,
                                           box_props)
                    node.h = m.height(node.text, **box_props) + 2 * _BOX_PAD_MM
            mech_w = max(n.w for n in mech_nodes.values())
            out_w = max([n.w for n in out_nodes.values()], default=0.0)
            # the later column: its boxes, at least as wide as its lines' widest word
            # (it widens below, with width the edge labels leave)
            later_w = max([n.w for n in later_nodes.values()], default=0.0)
            if edges_later:
                later_w = max(later_w, (tight_later if tight else least_later)
                              + _KEY_MM + _KEY_GAP_MM)
            for nodes, w in ((exp_nodes, exp_w), (mech_nodes, mech_w), (out_nodes, out_w),
                             (later_nodes, later_w)):
                for n in nodes.values():
                    n.w = w
            panel_w = exp_w + 2 * _PANEL_PAD_MM
            later_room = _LATER_GAP_MM + later_w if side else 0.0
            fixed = (panel_w + _GAP_MIN_MM + _ARROW_LEN_MM + 0.6 + mech_w
                     + (0.8 + 0.3 + _GAP_MIN_MM + _ARROW_LEN_MM + out_w + later_room if has_out
                        # no outcomes: timeline room right of birth (the later column)
                        else 0.8 + 0.3 + later_room if side else _INFANCY_MIN_MM))
            return (exp_nodes, mech_nodes, out_nodes, later_nodes, exp_w, mech_w, out_w, later_w,
                    panel_w, inner - fixed)

        # narrower boxes (down to 15% of the width) when that keeps every edge label
        # on at most two lines; in narrow figures, boxes narrow enough to leave the edge
        # labels at least 8 mm (words broken only if nothing else fits)
        min_space = (8.0 if edges_in else 0.0) + (8.0 if edges_out else 0.0)
        # The later column right of the birth outcomes ("side") when boxes down to 13% (else
        # 9%) of the width leave the edge labels two lines, else whole words over "estimate
        # [CI]", else whole words over "estimate" / "[CI]", with the later column as wide as
        # its lines on two lines (up to 20% of the figure), else narrower (down to its
        # widest word); otherwise (narrow figures) the later outcomes are a band under the
        # diagram, which is then laid out as without them.
        side, later_grow = False, 0.0
        two, est1, words = two_in + two_out, est1_in + est1_out, words_in + words_out
        later_target = min(two_later + _KEY_MM + _KEY_GAP_MM, 0.2 * W)
        tiers = ((two, True, False), (est1, True, False), (words, True, False),
                 (est1, False, False), (words, False, False), (words, False, True))
        # boxes down to 13% of the width first, then narrower
        trials = [(tier, frac, heads) for fracs in ((0.17, 0.16, 0.15, 0.14, 0.13),
                                                    (0.12, 0.11, 0.10, 0.09))
                  for tier in tiers for frac in fracs for heads in (True, False)]
        for (need, comfy, tight), frac, heads in (trials if later_keys else []):
            cols = columns(frac, side=True, heads=heads, tight=tight)
            want = max(later_target - cols[-3], 0.0)
            if cols[-1] - (want if comfy else 0.0) >= need:
                side = True
                # the later column widens with what the edge labels leave
                later_grow = max(min(want, cols[-1] - need - 0.05), 0.0)
                break
        if not side:
            for frac in (0.17, 0.16, 0.15):
                cols = columns(frac)
                if cols[-1] >= two_in + two_out:
                    break
            else:
                for frac, split in ((0.17, False), (0.15, False), (0.17, True), (0.15, True),
                                    (0.13, True), (0.11, True), (0.09, True)):
                    cols = columns(frac, split)
                    if cols[-1] >= min_space:
                        break
        (exp_nodes, mech_nodes, out_nodes, later_nodes, exp_w, mech_w, out_w, later_w, panel_w,
         space) = cols
        if side:
            later_w += later_grow
            space -= later_grow
            for k, node in later_nodes.items():  # the labels rewrapped to the column's width
                node.text = wrap_words(later_labels[k], later_w - 2 * _BOX_PAD_MM, box_props)
                node.w, node.h = later_w, m.height(node.text, **box_props) + 2 * _BOX_PAD_MM
        # boxes tall enough to keep their arrow ends (and arrowheads) apart
        for x in exposures:
            k = sum(e.source == x for e in edges_in)
            exp_nodes[x].h = max(exp_nodes[x].h, _END_STEP_MM["in"] * (k - 1) + 2.8)
        for o in outcomes:
            k = sum(e.target == o for e in edges_out)
            out_nodes[o].h = max(out_nodes[o].h, _END_STEP_MM["out"] * (k - 1) + 2.8)

        if nat_in + nat_out <= space:
            w_in, w_out = nat_in, nat_out
        elif two_in + two_out <= space:
            # two-line widths, the rest shared in proportion to what one line needs
            extra = space - two_in - two_out
            want_in, want_out = nat_in - two_in, nat_out - two_out
            share = want_in / (want_in + want_out) if want_in + want_out > 0 else 0.5
            w_in, w_out = two_in + extra * share, two_out + extra * (1 - share)
        elif side and words_in + words_out <= space:
            # whole-word widths (estimate [CI] on one line if it fits), the rest shared in
            # proportion to what one line needs
            base_in, base_out = ((est1_in, est1_out) if est1_in + est1_out <= space
                                 else (words_in, words_out))
            extra = space - base_in - base_out
            want_in, want_out = nat_in - base_in, nat_out - base_out
            share = want_in / (want_in + want_out) if want_in + want_out > 0 else 0.5
            w_in, w_out = base_in + extra * share, base_out + extra * (1 - share)
        else:
            total = nat_in + nat_out
            w_in = space * nat_in / total
            w_out = space - w_in
            if edges_in and edges_out:  # neither column below 40% of the space
                w_in = min(max(w_in, 0.4 * space), 0.6 * space)
                w_out = space - w_in
        w_in, w_out = max(w_in, 8.0 if edges_in else 0.0), max(w_out, 8.0 if edges_out else 0.0)

        # ---- wrapped edge labels: "biomarker:" / "estimate [CI]" when one line is too long
        def wrap_edge(e: _Edge, max_w: float) -> str:
            full = label_text(e)
            if m.width(full, **edge_props) <= max_w:
                return full
            head = f"{label_for(e.biomarker, labels)}:"
            if side and widest_word(head) <= max_w:  # lines of whole words
                head = wrap_words(head, max_w, edge_props)
            else:
                head = m.wrap_balanced(head, max_w, **edge_props)
            est = format_estimate_ci(e.estimate, e.ci_low, e.ci_high)
            if m.width(est, **edge_props) > max_w and " [" in est:
                est = est.replace(" [", "\n[", 1)
            return head + "\n" + m.wrap(est, max_w, **edge_props)

        def wrap_all(es: list[_Edge], max_w: float) -> tuple[float, bool]:
            """Wrap the labels; (widest wrapped label, whether any label was wrapped)."""
            for e in es:
                e.text = wrap_edge(e, max_w)
            return (max((m.block_width(e.text, **edge_props) for e in es), default=0.0),
                    any("\n" in e.text for e in es))

        (a_in, wrapped_in), (a_out, wrapped_out) = wrap_all(edges_in, w_in), wrap_all(edges_out, w_out)
        for _ in range(3):  # width one column leaves unused goes to the other, if wrapped
            if wrapped_out and w_in - a_in > 0.5:
                w_out += w_in - a_in
                w_in = a_in
                a_out, wrapped_out = wrap_all(edges_out, w_out)
            elif wrapped_in and w_out - a_out > 0.5:
                w_in += w_out - a_out
                w_out = a_out
                a_in, wrapped_in = wrap_all(edges_in, w_in)
            else:
                break
        w_in, w_out = a_in, a_out  # the columns are as wide as their labels
        for e in edges_in + edges_out:
            e.text_h = m.height(e.text, **edge_props)

        slack = max(space - w_in - w_out, 0.0)
        # spare width widens the curved parts (capped), the rest stays at the right
        extra_in = min(slack / (2 if has_out else 1), 30.0)
        extra_out = min(slack - extra_in, 30.0) if has_out else 0.0

        x_panel = _EDGE_MM
        x_exp = x_panel + _PANEL_PAD_MM  # exposure boxes, left
        x_exp_r = x_exp + exp_w
        x_in_l = x_panel + panel_w + _GAP_MIN_MM + extra_in  # horizontal arrow ends start
        x_mech = x_in_l + w_in + 0.6 + _ARROW_LEN_MM
        x_mech_r = x_mech + mech_w
        x_out_r = x_mech_r + 0.8 + w_out + 0.3
        x_outbox = x_out_r + _GAP_MIN_MM + extra_out + _ARROW_LEN_MM
        x_later = W - _EDGE_MM - later_w  # the later column flush right
        if has_out:
            # outcome column flush right (or against the later column)
            x_outbox = max(x_outbox, (x_later - _LATER_GAP_MM if side else W - _EDGE_MM) - out_w)
        x_outbox_r = x_outbox + out_w
        x_later_text = x_later + _KEY_MM + _KEY_GAP_MM  # the later lines' text
        if later_keys and not side:
            # the band: boxes at the left (as wide as a quarter of the figure), the lines
            # right of them
            for k in later_keys:
                later_nodes[k] = box(k, later_labels[k], max(0.25 * W, 20.0), box_props)
            later_w = max(n.w for n in later_nodes.values())
            for node in later_nodes.values():
                node.w = later_w
            x_later = _EDGE_MM
            x_later_text = x_later + later_w + 2.5 + _KEY_MM + _KEY_GAP_MM

        # ---- the later column's lines: "exposure → score:" / "estimate [CI]"
        later_text_w = W - _EDGE_MM - x_later_text
        for e in edges_later:
            est = format_estimate_ci(e.estimate, e.ci_low, e.ci_high)
            full = f"{later_head(e)} {est}"
            if m.width(full, **edge_props) <= later_text_w:
                e.text = full
            else:
                if m.width(est, **edge_props) > later_text_w and " [" in est:
                    est = est.replace(" [", "\n[", 1)
                head = _wrap_soft(m, later_head(e), later_text_w, edge_props)
                e.text = head + "\n" + m.wrap(est, later_text_w, **edge_props)
            e.text_h = m.height(e.text, **edge_props)
        later_entries = {k: [e for e in edges_later if e.target == k] for k in later_keys}

        # ---- mediation notes (below the mechanism box, as wide as the label columns)
        for mp in mediated:
            node = mech_nodes[mp.mechanism]
            node.notes.append(mp)
        right_half = mech_w / 2 + 0.8 + w_out + 0.3
        if later_keys and not edges_out:
            # no arrow right of the mechanisms (paths to later outcomes only): the notes may
            # use the width up to the next column
            right_half = max(right_half, (x_outbox if has_out else x_later if side
                                          else W - _EDGE_MM) - 2.0 - x_mech - mech_w / 2)
        note_w = 2 * min(mech_w / 2 + w_in + 0.6 + _ARROW_LEN_MM, right_half)
        note_w = max(note_w, mech_w) - 1.6
        for mp in mediated:
            path = (f"{_short(label_for(mp.exposure, labels))} {ARROW} "
                    f"{_short(label_for(mp.outcome, labels))}, via "
                    f"{_short(label_for(mp.mediator, labels))}")
            text = m.wrap_balanced(mp.text, note_w, **small_props)
            text += "\n" + m.wrap_balanced(path, note_w, **small_props)
            mp.text = text
            mp.text_w = m.block_width(text, **small_props) + 1.0
            mp.text_h = m.height(text, **small_props) + 1.0

        # ------------------------------------------------------------ vertical layout
        for e in edges_in:
            mech_nodes[e.target].edges_in.append(e)
        for e in edges_out:
            mech_nodes[e.source].edges_out.append(e)

        def ports(stack: list[_Edge]) -> tuple[list[float], float, float]:
            """Port offsets from the first port, the span of the ports and the label
            height above the first port."""
            offs, y = [], 0.0
            for i, e in enumerate(stack):
                if i:
                    y += _PORT_GAP_MM + _LABEL_GAP_MM + e.text_h
                offs.append(y)
            top = (stack[0].text_h + _LABEL_GAP_MM) if stack else 0.0
            return offs, y, top

        # Each mechanism block: extents above / below the box centre.
        blocks: dict[str, tuple[float, float]] = {}
        layout: dict[str, dict] = {}
        for k in mech_keys:
            node = mech_nodes[k]
            # ports in exposure order (fewer crossings), outcomes in outcome order
            node.edges_in.sort(key=lambda e: exposures.index(e.source))
            node.edges_out.sort(key=lambda e: outcomes.index(e.target))
            offs_in, span_in, top_in = ports(node.edges_in)
            offs_out, span_out, top_out = ports(node.edges_out)
            node.h = max(node.h, span_in + 3.0, span_out + 3.0)
            notes_h = sum(n.text_h + 0.8 for n in node.notes)
            up = max(node.h / 2, span_in / 2 + top_in, span_out / 2 + top_out)
            down = max(node.h / 2 + (0.8 + notes_h if notes_h else 0.0), span_in / 2 + 0.5,
                       span_out / 2 + 0.5)
            blocks[k] = (up, down)
            layout[k] = dict(offs_in=offs_in, span_in=span_in, offs_out=offs_out,
                             span_out=span_out)

        # ---- column headings, wrapped so that they never meet
        mech_cx = x_mech + mech_w / 2

        def head_wrap(text: str, max_w: float) -> str:
            return wrap_words(text, max_w, head_props)

        head_exp = head_wrap("Maternal exposures", x_in_l - x_exp - 2.0)
        head_out = head_wrap("Birth outcomes", x_outbox_r - x_out_r - 2.0) if has_out else ""
        left_lim = x_exp + m.block_width(head_exp, **head_props) + 2.0
        head_later = head_wrap("Child, to age 2", W - _EDGE_MM - x_later) if later_keys else ""
        right_lim = (x_outbox + out_w - m.block_width(head_out, **head_props) - 2.0
                     if has_out else x_later - 2.0 if side else W - _EDGE_MM)
        head_mech = head_wrap("Biological mechanisms",
                              2 * min(mech_cx - left_lim, right_lim - mech_cx))
        head_h = max(m.height(t, **head_props)
                     for t in (head_exp, head_mech, head_out, head_later if side else "") if t)
        group_h = {g: m.wrap(g, panel_w - 2 * _PANEL_PAD_MM, **group_props) for g in groups}

        # ---- stack heights
        mech_total = sum(sum(blocks[k]) for k in mech_keys) + _BLOCK_GAP_MM * (len(mech_keys) - 1)
        group_gap = 2.5
        order_x = [x for xs in groups.values() for x in xs]
        exp_heights = [exp_nodes[x].h for x in order_x]
        exp_leads: list[float] = []
        for gi, (g, xs) in enumerate(groups.items()):
            head_block = 1.1 + m.height(group_h[g], **group_props) + 1.2
            for i in range(len(xs)):
                if i:
                    exp_leads.append(_BOX_GAP_MM)
                else:
                    exp_leads.append(head_block + (_PANEL_PAD_MM + group_gap if gi else 0.0))
        exp_total = sum(exp_heights) + sum(exp_leads) + _PANEL_PAD_MM
        out_heights = [out_nodes[o].h for o in outcomes]
        out_leads = [0.0] + [3.0] * (len(outcomes) - 1) if outcomes else []
        out_total = sum(out_heights) + sum(out_leads)
        body_h = max(mech_total, exp_total, out_total)
        # later blocks: the box, then its lines (side); the box beside its lines (band)
        lines_h = {k: sum(e.text_h + _ENTRY_GAP_MM for e in later_entries[k]) - _ENTRY_GAP_MM
                   if later_entries[k] else 0.0 for k in later_keys}
        later_blocks = {k: (later_nodes[k].h + _ENTRY_GAP_MM + lines_h[k] if lines_h[k]
                            else later_nodes[k].h) if side else max(later_nodes[k].h, lines_h[k])
                        for k in later_keys}
        later_total = sum(later_blocks.values()) + _BLOCK_GAP_MM * (len(later_keys) - 1)
        if side:
            body_h = max(body_h, later_total)

        y_head = _EDGE_MM  # column headings (top of text)
        body_top = y_head + head_h + 3.0
        body_bottom = body_top + body_h

        # mechanism blocks: spare height spread evenly between the blocks
        spare = (body_h - mech_total) / len(mech_keys)
        y = body_top + spare / 2
        for k in mech_keys:
            up, down = blocks[k]
            mech_nodes[k].cy = y + up
            y += up + down + _BLOCK_GAP_MM + spare

        # ports on the mechanism boxes
        for k in mech_keys:
            node, lay = mech_nodes[k], layout[k]
            for e, off in zip(node.edges_in, lay["offs_in"]):
                e.port_y = node.cy - lay["span_in"] / 2 + off
            for e, off in zip(node.edges_out, lay["offs_out"]):
                e.port_y = node.cy - lay["span_out"] / 2 + off

        # exposures and outcomes as close as possible to the mean height of their
        # arrows' other ends (short, flat arrows), keeping their order
        def desired(es: list[_Edge]) -> float:
            return float(np.mean([e.port_y for e in es])) if es else (body_top + body_bottom) / 2

        centres = _place(exp_heights, exp_leads, _PANEL_PAD_MM,
                         [desired([e for e in edges_in if e.source == x]) for x in order_x],
                         body_top, body_bottom)
        for x, cy in zip(order_x, centres):
            exp_nodes[x].cy = cy
        panels: list[tuple[str, float, float]] = []  # group, top, bottom
        for g, xs in groups.items():
            first, last = exp_nodes[xs[0]], exp_nodes[xs[-1]]
            head_block = 1.1 + m.height(group_h[g], **group_props) + 1.2
            panels.append((g, first.cy - first.h / 2 - head_block,
                           last.cy + last.h / 2 + _PANEL_PAD_MM))
        if outcomes:
            centres = _place(out_heights, out_leads, 0.0,
                             [desired([e for e in edges_out if e.target == o]) for o in outcomes],
                             body_top, body_bottom)
            for o, cy in zip(outcomes, centres):
                out_nodes[o].cy = cy

        # later blocks: from the top of the column (side), under the diagram (band)
        band_head_y = body_bottom + 4.0
        band_bottom = body_bottom
        y = body_top
        if later_keys and not side:
            y = band_head_y + m.height(head_later, **head_props) + 2.0
            band_bottom = y + later_total
        for k in later_keys:
            later_nodes[k].cy = y + later_nodes[k].h / 2
            y += later_blocks[k] + _BLOCK_GAP_MM

        # ends on the exposure / outcome boxes: spread over the box side, ordered by
        # the other end so that arrows leaving one box do not cross there
        def spread(node: _Node, es: list[_Edge], step: float) -> None:
            es = sorted(es, key=lambda e: e.port_y)
            for i, e in enumerate(es):
                e.end_y = node.cy + (i - (len(es) - 1) / 2) * step

        for x in exposures:
            spread(exp_nodes[x], [e for e in edges_in if e.source == x], _END_STEP_MM["in"])
        for o in outcomes:
            spread(out_nodes[o], [e for e in edges_out if e.target == o], _END_STEP_MM["out"])

        # ---------------------------------------------------------- timeline band
        x_conc = x_exp
        x_birth = x_outbox if has_out else x_mech_r + 0.8 + w_out + 0.3 + 4.0
        if side and not has_out:
            x_birth = x_later - _LATER_GAP_MM / 2
        x_end = W - _EDGE_MM
        x_2y = x_end - 3.0
        x_1y = (x_birth + x_2y) / 2
        if side:  # 1 y and 2 y under the later column
            x_1y = min(max(x_1y, x_later + 3.0), (x_later + x_2y) / 2)
        tl_top = band_bottom + 4.0
        small_h = m.height("Xg", **small_props)
        span_label_y = tl_top  # top of the span labels
        span_line_y = span_label_y + small_h + 0.7
        strip_top = span_line_y + 1.6
        strip_h = small_h + 1.2
        strip_bot = strip_top + strip_h
        tick_label_y = strip_bot + 1.0
        brace_y = tick_label_y + small_h + 1.6
        brace_label_y = brace_y  # centred on the brace line
        cap_top = brace_y + small_h / 2 + 2.2
        cap_text = m.wrap(caption, inner, **small_props)
        cap_h = m.height(cap_text, **small_props)
        H = cap_top + cap_h + _EDGE_MM

        fig.set_size_inches(W / MM_PER_INCH, H / MM_PER_INCH)
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        ax.set_axis_off()
        ax.set_xlim(0.0, W)
        ax.set_ylim(H, 0.0)  # mm from the top

        def text(x, y, s, gid, **kw):
            kw.setdefault("zorder", 5)
            return ax.text(x, y, s, gid=gid, clip_on=False, **kw)

        # ---- column headings
        text(x_exp, y_head, head_exp, "model-heading", ha="left", va="top", linespacing=1.1,
             **head_props)
        text(mech_cx, y_head, head_mech, "model-heading", ha="center", va="top",
             linespacing=1.1, **head_props)
        if has_out:
            text(x_outbox_r, y_head, head_out, "model-heading", ha="right", va="top",
                 multialignment="right", linespacing=1.1, **head_props)
        if later_keys:
            text(x_later, y_head if side else band_head_y, head_later, "model-heading",
                 ha="left", va="top", linespacing=1.1, **head_props)

        # ---- exposure panels and boxes
        for g, p_top, p_bot in panels:
            ax.add_patch(FancyBboxPatch(
                (x_panel, p_top), panel_w, p_bot - p_top,
                boxstyle="round,pad=0,rounding_size=1.2", fc=_PANEL_FILL, ec="none",
                zorder=0, gid="model-group-panel"))
            text(x_exp, p_top + 1.1, group_h[g], "model-group", ha="left", va="top",
                 color=GREY, linespacing=1.1, **group_props)

        def draw_box(node: _Node, x0: float, fc: str, ec: str, lw: float, gid: str) -> None:
            ax.add_patch(FancyBboxPatch(
                (x0, node.cy - node.h / 2), node.w, node.h,
                boxstyle="round,pad=0,rounding_size=1.0", fc=fc, ec=ec, lw=lw, zorder=3,
                gid=f"{gid}-box"))
            text(x0 + node.w / 2, node.cy, node.text, f"{gid}-label", ha="center",
                 va="center", linespacing=1.15, **box_props)

        for x in exposures:
            draw_box(exp_nodes[x], x_exp, "white", colour_of[x], 1.1, "model-exposure")
        mediated_mechs = {mp.mechanism for mp in mediated}
        for k in mech_keys:
            draw_box(mech_nodes[k], x_mech, _MECH_FILL, "black", 0.7, "model-mechanism")
        for o in outcomes:
            draw_box(out_nodes[o], x_outbox, _OUT_FILL, "black", 0.7, "model-outcome")

        # ---- the later column: boxes, and per exposure a key line and its text
        for k in later_keys:
            node = later_nodes[k]
            if k in later_mediated:  # a mediated path ends here: outlined in yellow
                ax.add_patch(FancyBboxPatch(
                    (x_later, node.cy - node.h / 2), node.w, node.h,
                    boxstyle="round,pad=0,rounding_size=1.0", fc="none", ec=_HIGHLIGHT,
                    lw=4.0, alpha=0.75, zorder=2.5, gid="model-later-mediated"))
            draw_box(node, x_later, _LATER_FILL, "black", 0.7, "model-later")
            # the lines: under the box (side), right of its top (band)
            y = node.cy + node.h / 2 + _ENTRY_GAP_MM if side else node.cy - node.h / 2
            for e in later_entries[k]:
                style = _edge_style(e, colour_of[e.source])
                key_y = y + m.height(e.text.split("\n")[0], **edge_props) / 2
                x_key = x_later_text - _KEY_GAP_MM - _KEY_MM
                ax.plot([x_key, x_key + _KEY_MM], [key_y, key_y], color=style["color"],
                        lw=style["lw"] * (1.3 if e.significant else 1.0), ls=style["ls"],
                        solid_capstyle="butt", dash_capstyle="butt", zorder=3,
                        gid=f"model-later-key-{e.source}-{k}")
                text(x_later_text, y, e.text, "model-later-entry", ha="left", va="top",
                     color="black" if e.significant else GREY, linespacing=1.1, **edge_props)
                y += e.text_h + _ENTRY_GAP_MM

        # ---- arrows
        def draw_edge(e: _Edge) -> None:
            if e.kind == "in":
                verts, codes = _curve(x_exp_r, e.end_y, x_in_l, e.port_y)
                verts.append((x_mech - _ARROW_LEN_MM * 0.6, e.port_y))
                codes.append(MplPath.LINETO)
                tip, tip_y = x_mech, e.port_y
                colour = colour_of[e.source]
            else:
                verts, codes = [(x_mech_r, e.port_y)], [MplPath.MOVETO]
                v2, c2 = _curve(x_out_r, e.port_y, x_outbox - _ARROW_LEN_MM * 0.6, e.end_y)
                verts += v2
                codes += [MplPath.LINETO] + c2[1:]
                tip, tip_y = x_outbox, e.end_y
                colour = _OUT_COLOUR
            path = MplPath(verts, codes)
            gid = f"model-edge-{e.kind}-{e.source}-{e.target}"
            if e.mediated:
                hverts = list(verts)
                hverts[-1] = (tip, tip_y)
                ax.add_patch(PathPatch(
                    MplPath(hverts, codes), fill=False, ec=_HIGHLIGHT, lw=4.0, alpha=0.75,
                    capstyle="round", joinstyle="round", zorder=1,
                    gid=f"model-highlight-{e.kind}-{e.source}-{e.target}"))
            style = _edge_style(e, colour)
            ax.add_patch(PathPatch(path, fill=False, ec=style["color"], lw=style["lw"],
                                   ls=style["ls"], capstyle="butt", zorder=2, gid=gid))
            _arrow_head(ax, tip, tip_y, style["color"], 1.0 if e.significant else 0.8,
                        gid=f"{gid}-head")
            # label above the horizontal end of the arrow, next to the mechanism box
            props = dict(color="black" if e.significant else GREY, linespacing=1.1,
                         va="bottom", **edge_props)
            if e.kind == "in":
                text(x_mech - _ARROW_LEN_MM - 0.6, e.port_y - _LABEL_GAP_MM, e.text,
                     "model-edge-label", ha="right", multialignment="right", **props)
            else:
                text(x_mech_r + 0.8, e.port_y - _LABEL_GAP_MM, e.text, "model-edge-label",
                     ha="left", multialignment="left", **props)

        for e in edges_in + edges_out:
            draw_edge(e)

        # ---- mediation notes under their mechanism box
        for k in mech_keys:
            node = mech_nodes[k]
            y = node.cy + node.h / 2 + 0.8
            for mp in node.notes:
                cx = x_mech + mech_w / 2
                ax.add_patch(FancyBboxPatch(
                    (cx - mp.text_w / 2, y), mp.text_w, mp.text_h - 0.2,
                    boxstyle="round,pad=0,rounding_size=0.8", fc=_HIGHLIGHT_FILL,
                    ec=_HIGHLIGHT, lw=0.6, zorder=3, gid="model-mediation-box"))
                text(cx, y + 0.5, mp.text, "model-mediation", ha="center", va="top",
                     linespacing=1.15, **small_props)
                y += mp.text_h + 0.8
            if k in mediated_mechs:
                # bold outline: this mechanism carries a mediated path
                ax.add_patch(FancyBboxPatch(
                    (x_mech, node.cy - node.h / 2), node.w, node.h,
                    boxstyle="round,pad=0,rounding_size=1.0", fc="none", ec="black",
                    lw=1.6, zorder=3, gid="model-mechanism-mediated"))

        # ---- timeline band
        tl = dict(color=GREY, **small_props)

        def interval(x: float, label: str, ha: str) -> tuple[float, float]:
            w = m.width(label, **small_props)
            x0 = {"left": x, "center": x - w / 2, "right": x - w}[ha]
            return x0, x0 + w

        def place_row(y: float, items: list[tuple[float, list[str], str]], gid: str) -> None:
            """Labels at (x, variants in order of preference, ha); a label whose every
            variant would meet an earlier one or leave the figure is left out."""
            taken: list[tuple[float, float]] = []
            for x, variants, ha in items:
                for lab in variants:
                    x0, x1 = interval(x, lab, ha)
                    if x0 < _EDGE_MM - 0.01 or x1 > W - _EDGE_MM + 0.01:
                        if ha == "left":  # try flush right instead
                            x, ha = W - _EDGE_MM, "right"
                            x0, x1 = interval(x, lab, ha)
                        if x0 < _EDGE_MM - 0.01 or x1 > W - _EDGE_MM + 0.01:
                            continue
                    if all(x1 + 1.2 <= a or x0 >= b + 1.2 for a, b in taken):
                        taken.append((x0, x1))
                        text(x, y, lab, gid, ha=ha, va="top", **tl)
                        break

        spans = [(x_exp, x_exp_r), (x_mech, x_birth)]
        if side:
            spans.append((x_later, x_2y))
        for x0, x1 in spans:
            ax.plot([x0, x0, x1, x1], [span_line_y + 0.8, span_line_y, span_line_y,
                                       span_line_y + 0.8], color=GREY, lw=0.5,
                    solid_joinstyle="miter", zorder=2, gid="model-timeline-span")
        span_items = [
            ((x_exp + x_exp_r) / 2, ["exposures: pregnancy", "exposures"], "center"),
            ((x_mech + x_birth) / 2, ["mechanisms: pregnancy to birth", "mechanisms"], "center"),
        ]
        if side:  # before the birth outcomes' label, which has shorter variants
            span_items.append(((x_later + x_2y) / 2, ["child: to age 2", "to age 2"], "center"))
        if has_out:
            ax.plot([x_birth], [span_line_y + 0.2], marker="v", ms=3.2, color=GREY,
                    ls="none", zorder=2, gid="model-timeline-span")
            span_items.append((x_birth + 1.5, ["birth outcomes: at birth", "birth outcomes",
                                               "outcomes"], "left"))
        place_row(span_label_y, span_items, "model-timeline-span")

        tip = 2.2
        ax.add_patch(Rectangle((x_conc, strip_top), x_birth - x_conc, strip_h, fc=_PREG_FILL,
                               ec="none", zorder=1, gid="model-timeline-pregnancy"))
        ax.add_patch(Polygon(
            [(x_birth, strip_top), (x_end - tip, strip_top), (x_end, strip_top + strip_h / 2),
             (x_end - tip, strip_bot), (x_birth, strip_bot)],
            closed=True, fc=_INF_FILL, ec="none", zorder=1, gid="model-timeline-infancy"))
        text((x_conc + x_birth) / 2, strip_top + strip_h / 2, "Pregnancy",
             "model-timeline-phase", ha="center", va="center", **small_props)
        if m.width("Infancy", **small_props) < x_end - tip - x_birth - 2.0:
            text((x_birth + x_end - tip) / 2, strip_top + strip_h / 2, "Infancy",
                 "model-timeline-phase", ha="center", va="center", **small_props)
        ticks = ((x_conc, ["conception"], "left"), (x_birth, ["birth"], "center"),
                 (x_2y, ["2 y"], "center"), (x_1y, ["1 y"], "center"))
        for xt, _, _ in ticks:
            if xt == x_birth:  # a white cut through the strip
                ax.plot([xt, xt], [strip_top, strip_bot], color="white", lw=0.8, zorder=1.5,
                        gid="model-timeline-tick")
            ax.plot([xt, xt], [strip_bot, strip_bot + 0.7], color=GREY, lw=0.6, zorder=1.5,
                    gid="model-timeline-tick")
        place_row(tick_label_y, list(ticks), "model-timeline-tick")
        # the first 1,000 days, as a bracket under the ticks
        ax.plot([x_conc, x_conc, x_2y, x_2y], [brace_y - 0.8, brace_y, brace_y, brace_y - 0.8],
                color=GREY, lw=0.5, zorder=1, gid="model-timeline-brace")
        text((x_conc + x_2y) / 2, brace_label_y, "the first 1,000 days",
             "model-timeline-brace", ha="center", va="center",
             bbox=dict(boxstyle="square,pad=0.15", fc="white", ec="none"), **tl)

        # ---- caption
        text(_EDGE_MM, cap_top, cap_text, "model-caption", ha="left", va="top",
             linespacing=1.2, **tl)
        fig.draw_without_rendering()
    return fig
