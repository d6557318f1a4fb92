"""Tables for a journal: the workbook holds the TSVs' numbers, the Word document prints
them, text that looks like a formula stays text, and the same tables give the same bytes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from first1000.report.publication import docx_text
from first1000.stages.figures import publication_tables

ASSOC = pd.DataFrame({
    "cohort": ["a", "pooled", "a"], "mechanism": "m", "predictor": ["=cmd|' /c calc'!A0", "epds", "epds"],
    "response": ["il6_ln", "il6_ln", "preterm"], "model": ["linear", "linear", "logistic"], "n": [120, 240, 118],
    "estimate": [0.123456, -0.0456, 0.5], "se": [0.05, 0.03, 0.2], "ci_low": [0.02, -0.1, 0.1],
    "ci_high": [0.22, 0.01, 0.9], "p": [0.0123, 0.13, 0.000012], "q": [0.02, 0.15, 0.0001],
    "unit": ["ln pg/mL per point", "ln pg/mL per point", "log odds per point"], "status": ["ok", "ok", "ok"]})


def _run(tmp_path, labels=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    assoc = tmp_path / "assoc.tsv"
    ASSOC.to_csv(assoc, sep="\t", index=False)
    out = {"xlsx": tmp_path / "t.xlsx", "docx": tmp_path / "t.docx"}
    publication_tables(mechanisms=["m"], mediation_mechanisms=[], mechanism_labels={"m": "Immune"},
                       labels=labels or {"il6_ln": "+IL-6 (ln pg/mL)", "epds": "EPDS"}, cohort_labels={"a": "A"},
                       min_cell_size=5, table1=[], associations=[str(assoc)], mediation=[], **out)
    return out


def test_numbers_are_the_tsvs_and_text_is_text(tmp_path):
    out = _run(tmp_path)
    sheet = load_workbook(out["xlsx"])["Associations m"]
    header = [c.value for c in sheet[3]]
    rows = [dict(zip(header, [c for c in row])) for row in sheet.iter_rows(min_row=4)]
    assert len(rows) == 3
    by_estimate = {r["estimate"].value: r for r in rows}
    for _, expected in ASSOC.iterrows():
        row = by_estimate[expected.estimate]
        for column in ("estimate", "ci_low", "ci_high", "p", "q", "n"):
            assert row[column].value == expected[column] and row[column].data_type == "n", column
    hostile = by_estimate[0.123456]
    assert hostile["Exposure / predictor"].value == "=cmd|' /c calc'!A0"
    assert hostile["Exposure / predictor"].data_type == "s"  # text, not a formula
    assert by_estimate[-0.0456]["Outcome / biomarker"].data_type == "s"
    assert by_estimate[0.5]["Estimate [95% CI]"].value == (
        f"OR {np.exp(0.5):.2f} [{np.exp(0.1):.2f}, {np.exp(0.9):.2f}]")


def test_the_word_document_prints_estimates_as_journals_do(tmp_path):
    out = _run(tmp_path)
    [table] = docx_text(out["docx"])
    header, *rows = table
    assert header == ["Exposure / predictor", "Outcome / biomarker", "Cohort", "n", "Estimate [95% CI]", "p", "Scale",
                      "Status"]
    printed = {tuple(r[:3]): r for r in rows}
    assert printed[("=cmd|' /c calc'!A0", "+IL-6 (ln pg/mL)", "A")][4:6] == ["0.12 [0.02, 0.22]", "0.012"]
    assert printed[("EPDS", "+IL-6 (ln pg/mL)", "Pooled")][4:6] == ["-0.046 [-0.10, 0.01]", "0.13"]
    assert printed[("EPDS", "preterm", "A")][4:6] == ["OR 1.65 [1.11, 2.46]", "<0.001"]


def test_same_tables_same_bytes(tmp_path):
    first = _run(tmp_path / "1")
    second = _run(tmp_path / "2")
    for kind in ("xlsx", "docx"):
        assert first[kind].read_bytes() == second[kind].read_bytes(), kind
