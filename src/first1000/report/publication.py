"""Tables for a journal: Table 1, the associations and the mediation effects as one Excel
workbook and one Word document (``results/tables/publication.xlsx`` and ``.docx``).

The workbook keeps the numbers of the result tables as numbers (estimate, CI, p, q, n:
exactly the TSVs' values, shown with a number format), so they can be re-analysed; the Word
document prints them as journals do (``estimate [95% CI]``, odds ratios for logistic
models, p to two significant digits). Every text cell is written as text: a label or a
status starting with ``=``, ``+``, ``-`` or ``@`` stays text in Excel (no formula), and
Word has no formulas. Counts suppressed for privacy stay suppressed (``<5``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from first1000.config import META, POOLED

#: Number formats of the workbook's numeric columns.
_FORMATS = {"n": "0", "n_missing": "0", "p": "0.0E+00", "q": "0.0E+00"}


def _level_order(cohort: str) -> tuple:
    return ({POOLED: 1, META: 2}.get(cohort, 0), cohort)


def fmt_number(x: float, digits: int = 2) -> str:
    """A value to ``digits`` decimals (three significant digits below 0.1); empty if missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    x = float(x)
    if x != 0 and abs(x) < 0.1:
        return f"{x:.2g}" if abs(x) >= 1e-3 else f"{x:.1e}"
    return f"{x:.{digits}f}"


def fmt_p(p: float, resolution: float | None = None) -> str:
    """p to two significant digits, `<0.001` below 0.001; below ``resolution`` (the
    smallest p a resampling can give apart from 0, :func:`p_resolution`) `<resolution`:
    a bootstrap p of 0 over 1,000 resamples is `<0.002`, not `<0.001`."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    if resolution is not None and not math.isnan(resolution) and p < resolution:
        return f"<{_round_up(resolution):.2g}"
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def _round_up(x: float) -> float:
    """``x`` > 0 rounded up to two significant digits (a bound printed never below its
    value: 2/1500 = 0.00133 -> 0.0014); a value with two digits stays (0.002 -> 0.002)."""
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return math.ceil(round(x / step, 9)) * step


#: ``ci_method`` of a mediation row whose p comes from its resamples or draws
#: (:func:`first1000.stats.bootstrap.bootstrap_p`): not the meta-analysis's or Rubin's.
RESAMPLED = ("percentile", "bias_corrected", "bca")


def p_resolution(ci_method, n_boot) -> float:
    """2/B for a p counted from B resamples or draws (``bootstrap_p``: p is a multiple of
    2/B, and 0 means no replicate fell on the other side of 0), else NaN."""
    try:
        b = float(n_boot)
    except (TypeError, ValueError):
        return math.nan
    return 2.0 / b if str(ci_method) in RESAMPLED and b > 0 else math.nan


def association_table(assoc: pd.DataFrame, labels: dict, cohort_labels: dict) -> pd.DataFrame:
    """One row per model and level (cohorts, pooled, meta): labelled, the numbers as in the
    TSV, and the printed ``estimate [95% CI]`` (odds ratio for a logistic model)."""
    rows = []
    order = assoc.assign(_level=assoc.cohort.map(_level_order)).sort_values(
        ["predictor", "response", "_level"], kind="stable")
    for r in order.itertuples(index=False):
        logistic = str(getattr(r, "model", "")).startswith("logistic")  # "logistic (Firth)" too
        estimate, low, high = r.estimate, r.ci_low, r.ci_high
        shown = ""
        if pd.notna(estimate):
            if logistic:
                shown = (f"OR {fmt_number(np.exp(estimate))} [{fmt_number(np.exp(low))}, "
                         f"{fmt_number(np.exp(high))}]")
            else:
                shown = f"{fmt_number(estimate)} [{fmt_number(low)}, {fmt_number(high)}]"
        rows.append({
            "Exposure / predictor": labels.get(r.predictor, r.predictor),
            "Outcome / biomarker": labels.get(r.response, r.response),
            "Cohort": cohort_labels.get(r.cohort, {POOLED: "Pooled", META: "Meta-analysis"}.get(r.cohort, r.cohort)),
            "n": r.n, "estimate": estimate, "ci_low": low, "ci_high": high, "p": r.p, "q": r.q,
            "Estimate [95% CI]": shown, "p (shown)": fmt_p(r.p), "Scale": r.unit if isinstance(r.unit, str) else "",
            "Status": r.status if isinstance(r.status, str) and r.status != "ok" else "",
        })
    return pd.DataFrame(rows)


def mediation_table(med: pd.DataFrame, labels: dict, cohort_labels: dict) -> pd.DataFrame:
    """One row per path, level and effect (the TSV's numbers and the printed estimate)."""
    effects = {"te": "Total effect", "pnde": "Natural direct effect", "tnie": "Natural indirect effect",
               "pm": "Proportion mediated", "cde": "Controlled direct effect", "tnde": "Total natural direct effect",
               "pnie": "Pure natural indirect effect"}
    rows = []
    for r in med.itertuples(index=False):
        if r.effect not in effects:
            continue
        shown = f"{fmt_number(r.estimate)} [{fmt_number(r.ci_low)}, {fmt_number(r.ci_high)}]" \
            if pd.notna(r.estimate) else ""
        rows.append({
            "Exposure": labels.get(r.exposure, r.exposure), "Mediator": labels.get(r.mediator, r.mediator),
            "Outcome": labels.get(r.outcome, r.outcome),
            "Cohort": cohort_labels.get(r.cohort, {POOLED: "Pooled", META: "Meta-analysis"}.get(r.cohort, r.cohort)),
            "Effect": effects[r.effect], "Scale": r.scale, "Contrast": f"{r.contrast} ({fmt_number(r.a0)} → {fmt_number(r.a1)})"
            if pd.notna(r.a0) else str(r.contrast),
            "n": r.n, "estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p,
            "Estimate [95% CI]": shown, "p (shown)": fmt_p(r.p, p_resolution(r.ci_method, r.n_boot)),
            "Status": r.status if isinstance(r.status, str) and r.status != "ok" else "",
        })
    return pd.DataFrame(rows)


def write_xlsx(sheets: dict[str, tuple[str, pd.DataFrame]], path) -> None:
    """``sheets``: name -> (title, table). Text cells are text (never a formula), numbers
    numbers; the title is the first row."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from first1000.io import atomic_path

    book = Workbook()
    book.remove(book.active)
    for name, (title, table) in sheets.items():
        sheet = book.create_sheet(name[:31])
        _text_cell(sheet.cell(row=1, column=1), title).font = Font(bold=True)
        for j, column in enumerate(table.columns, 1):
            _text_cell(sheet.cell(row=3, column=j), str(column)).font = Font(bold=True)
        for i, row in enumerate(table.itertuples(index=False), 4):
            for j, (column, value) in enumerate(zip(table.columns, row), 1):
                cell = sheet.cell(row=i, column=j)
                if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                    if not pd.isna(value):
                        cell.value = float(value) if isinstance(value, (float, np.floating)) else int(value)
                        cell.number_format = _FORMATS.get(column, "0.000")
                elif value is not None and not (isinstance(value, float) and pd.isna(value)):
                    _text_cell(cell, str(value))
        sheet.freeze_panes = "A4"
    with atomic_path(path) as tmp:
        book.save(tmp)
        _reproducible(tmp)


def _reproducible(path) -> None:
    """The same bytes for the same tables: Office files are zip archives whose entries carry
    the time they were written and whose core properties the time of saving; both are set
    to one fixed time."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>2000-01-01T00:00:00Z\g<2>",
                              data)
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            out.writestr(info, data)


def _text_cell(cell, text: str):
    """A cell holding ``text`` as text: openpyxl would store a string starting with `=` as
    a formula, so the type is set explicitly."""
    cell.value = text
    cell.data_type = "s"
    return cell


def write_docx(sections: list[tuple[str, str, pd.DataFrame]], path) -> None:
    """``sections``: (heading, note, table) each, the table's printed columns only."""
    import docx
    from docx.shared import Pt

    from first1000.io import atomic_path

    document = docx.Document()
    document.core_properties.author = "first1000"
    document.core_properties.last_modified_by = "first1000"
    style = document.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(9)
    for heading, note, table in sections:
        document.add_heading(heading, level=2)
        grid = document.add_table(rows=1, cols=len(table.columns))
        grid.style = "Table Grid"
        for cell, column in zip(grid.rows[0].cells, table.columns):
            cell.text = str(column)
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for row in table.itertuples(index=False):
            cells = grid.add_row().cells
            for cell, value in zip(cells, row):
                cell.text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        if note:
            document.add_paragraph(note)
    with atomic_path(path) as tmp:
        document.save(tmp)
        _reproducible(tmp)


def printed(table: pd.DataFrame) -> pd.DataFrame:
    """The columns a journal prints (the workbook also has the raw numbers)."""
    return table.drop(columns=[c for c in ("estimate", "ci_low", "ci_high", "p", "q") if c in table]).rename(
        columns={"p (shown)": "p"})


def docx_text(path) -> list[list[list[str]]]:
    """Every table of a Word document as rows of cell texts (for tests)."""
    import docx

    return [[[c.text for c in row.cells] for row in t.rows] for t in docx.Document(Path(path)).tables]
