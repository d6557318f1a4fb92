"""Searchable, sortable HTML views of result tables, for the Snakemake report.

The report embeds TSV files as downloads; a reviewer also wants to look inside them. Each
view is one self-contained HTML page (no network access, no external script): the table
with a search box that filters rows on any text, headers that sort on click (numbers as
numbers), numbers shown to 4 significant digits with the full value on hover, and a link
that downloads the complete table as TSV (embedded as a data URI). Cell text is escaped;
nothing in a table is ever interpreted as HTML or code.
"""

from __future__ import annotations

import base64
import html
import math

import pandas as pd

_SCRIPT = """
(function () {
  const table = document.getElementById('t');
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const count = document.getElementById('count');
  function show() {
    const words = document.getElementById('q').value.toLowerCase().split(/\\s+/).filter(Boolean);
    let shown = 0;
    for (const row of rows) {
      const text = row.dataset.text;
      const ok = words.every(w => text.includes(w));
      row.style.display = ok ? '' : 'none';
      if (ok) shown++;
    }
    count.textContent = shown + ' of ' + rows.length + ' rows';
  }
  for (const row of rows) row.dataset.text = row.textContent.toLowerCase();
  document.getElementById('q').addEventListener('input', show);
  Array.from(table.tHead.rows[0].cells).forEach(function (th, col) {
    th.addEventListener('click', function () {
      const up = th.dataset.dir !== 'up';
      Array.from(table.tHead.rows[0].cells).forEach(c => { c.dataset.dir = ''; c.classList.remove('up', 'down'); });
      th.dataset.dir = up ? 'up' : 'down';
      th.classList.add(up ? 'up' : 'down');
      const key = r => r.cells[col].dataset.v;
      rows.sort(function (a, b) {
        const x = key(a), y = key(b);
        if (x === '' || y === '') return (x === '') - (y === '');  // blanks last either way
        const nx = Number(x), ny = Number(y);
        const c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return up ? c : -c;
      });
      for (const r of rows) body.appendChild(r);
    });
  });
  show();
})();
"""

_STYLE = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 12px; color: #111; }
h1 { font-size: 15px; margin: 0 0 4px; }
p.caption { color: #444; max-width: 70em; margin: 0 0 8px; }
.bar { display: flex; gap: 12px; align-items: center; margin-bottom: 8px; }
input { font: inherit; padding: 3px 6px; width: 22em; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ddd; padding: 2px 8px; white-space: nowrap; }
th { cursor: pointer; background: #f3f3f3; position: sticky; top: 0; text-align: left; }
th.up::after { content: ' \\25B2'; } th.down::after { content: ' \\25BC'; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:hover { background: #fafae6; }
"""


def _cell(value) -> tuple[str, str, bool]:
    """(shown text, sort key, is numeric) of one cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "", "", False
    if isinstance(value, bool):
        return str(value), str(value), False
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value), repr(value), True
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            shown = f"{value:.4g}"
        else:
            shown = f"{value:.3e}"
        return shown, repr(value), True
    return str(value), str(value), False


def html_table(table: pd.DataFrame, title: str, caption: str = "", filename: str = "table.tsv") -> str:
    """The HTML page of one table (see the module docstring)."""
    tsv = table.to_csv(sep="\t", index=False, lineterminator="\n").encode("utf-8")
    href = "data:text/tab-separated-values;base64," + base64.b64encode(tsv).decode("ascii")
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = []
    for row in table.itertuples(index=False, name=None):
        cells = []
        for value in row:
            value = value.item() if hasattr(value, "item") else value
            shown, key, numeric = _cell(value)
            attrs = f' class="num" title="{html.escape(key)}"' if numeric else ""
            cells.append(f'<td data-v="{html.escape(key)}"{attrs}>{html.escape(shown)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        + (f"<p class=\"caption\">{html.escape(caption)}</p>\n" if caption else "")
        + "<div class=\"bar\"><input id=\"q\" type=\"search\" placeholder=\"Filter rows (all words must match)\">"
        f"<span id=\"count\"></span><a href=\"{href}\" download=\"{html.escape(filename)}\">Download TSV</a></div>\n"
        f"<table id=\"t\"><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>\n"
        f"<script>{_SCRIPT}</script>\n</body></html>\n"
    )
