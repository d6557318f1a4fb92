"""Searchable HTML views of result tables (report_tables.py)."""

from __future__ import annotations

import base64
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from first1000.report.html_tables import html_table

TABLE = pd.DataFrame({
    "cohort": ["ghent", "rotterdam", "meta", "ghent"],
    "response": ["il6_ln", "il6_ln", "il6_ln", "<script>alert(1)</script>"],
    "estimate": [0.0123456, -2.5, 1e-6, np.nan],
    "n": [395, 480, 875, 12],
    "n_below": ["<5", 7, 9, 0],
})


def test_cells_are_escaped_numbers_rounded_and_the_tsv_embedded():
    page = html_table(TABLE, "Immune: associations", "caption & more", filename="a.tsv")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "caption &amp; more" in page
    assert ">0.01235<" in page and 'title="0.0123456"' in page and ">1.000e-06<" in page
    href = re.search(r'href="data:text/tab-separated-values;base64,([^"]+)" download="a.tsv"', page).group(1)
    back = pd.read_csv(io.BytesIO(base64.b64decode(href)), sep="\t", keep_default_na=False, na_values=[""])
    assert list(back.columns) == list(TABLE.columns) and len(back) == 4
    assert back.n_below.tolist() == ["<5", "7", "9", "0"]
    assert "http://" not in page and "https://" not in page  # works offline, fetches nothing


def test_filter_and_sort_in_a_browser(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("no Chromium")
    page_file = tmp_path / "t.html"
    page_file.write_text(html_table(TABLE, "t"), encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(page_file.as_uri())
        assert page.inner_text("#count") == "4 of 4 rows"
        page.fill("#q", "ghent il6")
        assert page.inner_text("#count") == "1 of 4 rows"
        page.fill("#q", "")
        page.click("th:nth-child(3)")  # estimate, ascending: numbers as numbers, blank last
        shown = page.eval_on_selector_all("tbody tr td:nth-child(3)", "cells => cells.map(c => c.dataset.v)")
        assert shown == ["-2.5", "1e-06", "0.0123456", ""]
        page.click("th:nth-child(3)")
        shown = page.eval_on_selector_all("tbody tr td:nth-child(3)", "cells => cells.map(c => c.dataset.v)")
        assert shown[0] == "0.0123456"
        browser.close()
