"""Journal figures of first1000 results tables.

Every figure is a function that takes a results table (the pipeline's output
contract) and returns a :class:`matplotlib.figure.Figure`; figures draw the numbers in
the table and never refit a model. Only aggregate numbers are drawn; columns outside
the contract (participant IDs, row-level data) are never read. Figures are built on
``Figure`` objects, not pyplot, so they are thread-safe and leak nothing; write them
with :func:`save_figure` (300 dpi PNG plus optional SVG/PDF, byte-deterministic and
atomic).

House style (:mod:`first1000.figures.style`): Okabe–Ito colour-blind-safe palette,
journal column widths (85 mm single, 174 mm double), 7–8 pt text.
"""

from first1000.figures.ewas import manhattan_plot, qq_plot
from first1000.figures.forest import forest_plot
from first1000.figures.mediation import mediation_diagram
from first1000.figures.model import model_diagram
from first1000.figures.style import (
    OKABE_ITO,
    cohort_colours,
    cohort_markers,
    format_estimate_ci,
    format_number,
    journal_rc,
    journal_style,
    new_figure,
    save_figure,
)

__all__ = [
    "manhattan_plot",
    "qq_plot",
    "OKABE_ITO",
    "cohort_colours",
    "cohort_markers",
    "forest_plot",
    "format_estimate_ci",
    "format_number",
    "journal_rc",
    "journal_style",
    "mediation_diagram",
    "model_diagram",
    "new_figure",
    "save_figure",
]
