"""The report's landing page: the filled-in model figure and the key findings, chosen from the
result tables by a stated rule (nothing written by hand).

Per mechanism (in the config's order), at its summary level (the meta-analysis where cohorts
were meta-analysed, else the pooled model, else the one cohort): every exposure → biomarker
and biomarker → outcome association with q below the FDR level (at most
:data:`MAX_PER_MECHANISM`, smallest q first), or, when there is none, the strongest one
(smallest p) marked as not significant; and every mediation path's natural indirect effect.
``results/key_findings.tsv`` holds the rows with their numbers exactly as in the result
tables; ``results/key_findings.rst`` shows them (and the model figure) as HTML on the report's
first page, every row linking to its mechanism's table. Labels are HTML-escaped.
"""

from __future__ import annotations

import base64
import html
from urllib.parse import quote

import pandas as pd

from first1000.config import META, POOLED

MAX_PER_MECHANISM = 5
COLUMNS = ["mechanism", "kind", "exposure", "biomarker", "outcome", "level", "estimate", "ci_low", "ci_high", "unit",
           "p", "q", "p_resolution", "n", "k", "i2", "significant", "table"]


def _level(cohorts) -> str | None:
    present = set(cohorts)
    for level in (META, POOLED):
        if level in present:
            return level
    return sorted(present)[0] if present else None


def key_findings(associations: dict[str, pd.DataFrame], mediation: dict[str, pd.DataFrame], biomarkers: dict,
                 fdr: float) -> pd.DataFrame:
    """The key-findings rows (:data:`COLUMNS`) from each mechanism's association table and
    mediation table (mechanism -> table, in the order to show); ``biomarkers``: mechanism ->
    its biomarkers (a model whose response is one is an exposure -> biomarker model)."""
    from first1000.report.publication import p_resolution

    rows = []
    for mechanism, assoc in associations.items():
        ok = assoc[assoc.status.eq("ok") & assoc.estimate.notna()]
        level = _level(ok.cohort)
        if level is None:
            continue
        at = ok[ok.cohort == level]
        found = at[at.q < fdr].sort_values(["q", "p"], kind="stable").head(MAX_PER_MECHANISM)
        picked = found if len(found) else at.sort_values("p", kind="stable").head(1)
        for r in picked.itertuples(index=False):
            exposure_model = r.response in biomarkers[mechanism]
            rows.append(dict(
                mechanism=mechanism, kind="association", exposure=r.predictor if exposure_model else "",
                biomarker=r.response if exposure_model else r.predictor, outcome="" if exposure_model else r.response,
                level=level, estimate=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, unit=r.unit, p=r.p, q=r.q, n=r.n,
                k=getattr(r, "k", None) if level == META else None, i2=getattr(r, "i2", None) if level == META else None,
                significant=bool(r.q < fdr), table=f"results/tables/associations--{mechanism}.html"))
    for mechanism, med in mediation.items():
        # the difference scale (risk difference for a binary outcome): its null is 0
        indirect = med[(med.effect == "tnie") & med.scale.isin(["difference", "risk_difference"])
                       & med.estimate.notna()]
        level = _level(indirect.cohort)
        if level is None:
            continue
        for r in indirect[indirect.cohort == level].itertuples(index=False):
            rows.append(dict(
                mechanism=mechanism, kind="indirect effect", exposure=r.exposure, biomarker=r.mediator,
                outcome=r.outcome, level=level, estimate=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high,
                unit=f"{r.scale}, {r.contrast}", p=r.p, q=getattr(r, "q", None),
                p_resolution=p_resolution(getattr(r, "ci_method", None), getattr(r, "n_boot", None)), n=r.n,
                k=getattr(r, "k", None) if level == META else None, i2=getattr(r, "i2", None) if level == META else None,
                significant=bool(r.ci_low > 0 or r.ci_high < 0) if pd.notna(r.ci_low) else False,
                table=f"results/tables/mediation--{mechanism}.html"))
    return pd.DataFrame(rows, columns=COLUMNS)


def landing_rst(findings: pd.DataFrame, model_png: bytes, *, labels: dict, mechanism_labels: dict,
                cohort_labels: dict, fdr: float) -> str:
    """reStructuredText of the report's first page: one raw-HTML block with the model figure
    (embedded) and the key-findings table. Every label is escaped; numbers are formatted
    from the rows (:func:`first1000.report.publication.fmt_number`)."""
    from first1000.report.publication import fmt_number, fmt_p

    def name(variable) -> str:
        return html.escape(labels.get(variable, variable)) if variable else ""

    body = []
    for r in findings.itertuples(index=False):
        path = " → ".join(name(v) for v in (r.exposure, r.biomarker, r.outcome) if v)
        where = {POOLED: "pooled cohorts"}.get(r.level, html.escape(cohort_labels.get(r.level, r.level)))
        link = f"javascript:app.showResultInfo('{quote(r.table, safe='')}')"
        q = html.escape(fmt_p(r.q, r.p_resolution)) if pd.notna(r.q) else ""
        i2 = "" if pd.isna(r.i2) else f", I² {r.i2:.0f}%"
        if r.level == META:
            k = int(r.k) if pd.notna(r.k) else None
            if k == 1:  # one cohort's estimate: no heterogeneity to show (an "I² 0%" meant nothing)
                where = "meta-analysis of 1 cohort (the others' estimates missing: see the table)"
            else:
                where = f"meta-analysis ({k} cohorts{i2})" if k else f"meta-analysis{i2}"
        body.append(
            f'<tr class="{"found" if r.significant else "not-found"}">'
            f"<td>{html.escape(mechanism_labels.get(r.mechanism, r.mechanism))}</td>"
            f'<td>{path}<br><small>{html.escape(r.kind)}; {html.escape(str(r.unit))}</small></td>'
            f'<td class="estimate">{fmt_number(r.estimate)} [{fmt_number(r.ci_low)}, {fmt_number(r.ci_high)}]</td>'
            f'<td class="q">{q}</td><td class="n">{int(r.n)}</td><td class="level">{where}</td>'
            f'<td><a href="{link}">table</a></td></tr>')
    # docutils refuses lines over 10,000 characters: one element per line, the image's
    # base64 wrapped at 76 (browsers ignore whitespace in a base64 data URL)
    image = base64.encodebytes(model_png).decode("ascii").split()
    lines = [
        '<div id="first1000-landing">',
        "<h2>The model, filled in with this run's results</h2>",
        '<img id="first1000-model" alt="SES and maternal mood, biological mechanisms and birth outcomes, with '
        'this run\'s estimates" style="max-width:100%;height:auto" src="data:image/png;base64,',
        *image,
        '">',
        "<h2>Key findings</h2>",
        f"<p>Per mechanism, every association with Benjamini–Hochberg q &lt; {fdr:g} at its summary level "
        f"(meta-analysis, else pooled cohorts; at most {MAX_PER_MECHANISM}), or the strongest one when none is "
        "(greyed), and every mediation path's natural indirect effect on the difference scale (bold when its 95% "
        "CI excludes 0). Each estimate is on the scale given under its path; the link opens the row's table.</p>",
        '<table id="first1000-key-findings" style="border-collapse:collapse;font-size:90%">',
        "<thead><tr><th>Mechanism</th><th>Path (effect; scale)</th><th>Estimate [95% CI]</th><th>q</th>"
        "<th>n</th><th>Level</th><th></th></tr></thead>",
        "<tbody>", *body, "</tbody></table>",
        # Snakemake centres the description vertically (a tall one would be cut off above) and
        # narrows it: top-aligned and wider while this page is shown
        "<style>div.items-center.overflow-auto:has(#first1000-landing){align-items:flex-start}"
        ".prose.max-w-lg:has(#first1000-landing){max-width:60rem}"
        "div.py-2:has(#first1000-landing){min-width:min(60rem,62vw)}"
        "#first1000-key-findings td,#first1000-key-findings th{border:1px solid #ccc;padding:2px 6px;"
        "vertical-align:top}#first1000-key-findings small{color:#555}"
        "#first1000-key-findings tr.not-found{color:#888}#first1000-key-findings tr.found td.estimate"
        "{font-weight:bold}</style></div>"]
    return ".. raw:: html\n\n" + "".join(f"   {line}\n" for line in lines)
