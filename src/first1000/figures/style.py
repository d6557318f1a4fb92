"""The one house style of every first1000 figure, and how figures are written to disk.

* Colours: the Okabe–Ito colour-blind-safe palette (:data:`OKABE_ITO`); cohorts get
  colours by :func:`cohort_colours` (sorted names, "pooled"/"meta" always black) and a
  second, redundant cue by :func:`cohort_markers` so figures survive greyscale printing.
* Size: journal column widths (single 85 mm, double 174 mm) via :func:`new_figure`,
  7 pt text (8 pt titles), thin lines, no top/right spines, no grid, no frames.
* Font: DejaVu Sans, which ships inside matplotlib, so that a figure is the same
  glyph for glyph (and byte for byte) on every machine with the same matplotlib.
  Text stays editable in vector output (SVG ``svg.fonttype = "none"``, PDF TrueType
  fonts, ``pdf.fonttype = 42``), as journals ask.
* Thread safety: figures are built on :class:`matplotlib.figure.Figure` objects, never
  through pyplot, so nothing is registered globally and nothing leaks. The house
  rcParams are applied with :func:`journal_style`, a context manager that holds a
  package-wide re-entrant lock while the global rcParams are temporarily switched, so
  concurrent first1000 figure builds in threads never see each other's settings.
* Saving: :func:`save_figure` writes a 300 dpi PNG and optionally an SVG or PDF,
  byte-deterministic (no dates, no creator strings, fixed SVG hash salt) and atomic
  (temporary file in the destination folder, then :func:`os.replace`).

Number formatting shared by all figures lives here too (:func:`format_number`,
:func:`format_estimate_ci`, :func:`format_count`) so that every figure prints
numbers the same way: 3 significant figures, a true minus sign, no thousands
separators inside estimates.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import matplotlib as mpl
import matplotlib.style  # noqa: F401  (mpl.style.context)
import numpy as np
import pandas as pd
from matplotlib import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from first1000.errors import InputTableError, format_rows

__all__ = [
    "OKABE_ITO",
    "OKABE_ITO_NAMES",
    "POOLED_NAMES",
    "GREY",
    "LIGHT_GREY",
    "MM_PER_INCH",
    "COLUMN_WIDTH_MM",
    "PNG_DPI",
    "FONT_SIZE",
    "SMALL_FONT_SIZE",
    "TITLE_FONT_SIZE",
    "cohort_colours",
    "cohort_markers",
    "is_pooled",
    "journal_rc",
    "journal_style",
    "new_figure",
    "save_figure",
    "format_number",
    "format_estimate_ci",
    "format_count",
    "format_range",
    "label_for",
    "style_axes",
]

#: Okabe–Ito colour-blind-safe palette, in the order of the original publication:
#: black, orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple.
#: Source: Okabe M. & Ito K. (2008) *Color Universal Design (CUD): how to make figures
#: and presentations that are friendly to colorblind people*,
#: https://jfly.uni-koeln.de/color/ (also Wong B. (2011) Nat. Methods 8:441).
OKABE_ITO: list[str] = [
    "#000000",  # black
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#F0E442",  # yellow
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
]

#: Human names of :data:`OKABE_ITO`, same order.
OKABE_ITO_NAMES: list[str] = [
    "black",
    "orange",
    "sky blue",
    "bluish green",
    "yellow",
    "blue",
    "vermillion",
    "reddish purple",
]

# Order in which cohorts receive colours: black is reserved for pooled/meta estimates,
# and the palette is reordered so that the first cohorts get the colours with the most
# contrast on white paper (yellow, the palest, comes last).
_COHORT_COLOUR_ORDER: tuple[str, ...] = (
    OKABE_ITO[5],  # blue
    OKABE_ITO[6],  # vermillion
    OKABE_ITO[3],  # bluish green
    OKABE_ITO[7],  # reddish purple
    OKABE_ITO[1],  # orange
    OKABE_ITO[2],  # sky blue
    OKABE_ITO[4],  # yellow
)
# Redundant shape cue. Six shapes against seven colours: (colour, shape) pairs stay
# unique for up to 42 cohorts. The diamond "D" is reserved for the meta-analysis (the
# classic symbol of a combined estimate), the hexagon "h" for the pooled model (all
# cohorts' participants together), so that the two stay apart when both are drawn.
_COHORT_MARKER_ORDER: tuple[str, ...] = ("o", "s", "^", "v", "P", "X")
POOLED_MARKER = "D"
POOLED_DATA_MARKER = "h"

#: Cohort names (compared case-insensitively) that denote a combined estimate.
POOLED_NAMES: frozenset[str] = frozenset({"pooled", "meta"})

GREY = "#6E6E6E"  # secondary text (reasons, footnotes); 5:1 contrast on white
LIGHT_GREY = "#BDBDBD"  # reference lines

MM_PER_INCH = 25.4
COLUMN_WIDTH_MM: dict[str, float] = {"single": 85.0, "double": 174.0}
PNG_DPI = 300
FONT_SIZE = 7.0
SMALL_FONT_SIZE = 6.5
TITLE_FONT_SIZE = 8.0
LINE_WIDTH = 0.6

# One lock for every first1000 use of the global rcParams (re-entrant: figure
# functions call new_figure and save_figure while already holding it).
_STYLE_LOCK = threading.RLock()


# --------------------------------------------------------------------------- colours
def is_pooled(cohort: object) -> bool:
    """True for the combined-estimate pseudo-cohorts ("pooled", "meta"; any case)."""
    return str(cohort).strip().lower() in POOLED_NAMES


def _sorted_cohorts(cohorts: Iterable[object]) -> list[str]:
    names = sorted({str(c) for c in cohorts})
    return [c for c in names if not is_pooled(c)] + [c for c in names if is_pooled(c)]


def cohort_colours(cohorts: Iterable[object]) -> dict[str, str]:
    """Map each cohort name to an Okabe–Ito hex colour.

    Stable: colours are assigned by position in the *sorted* list of distinct cohort
    names, so the same set of cohorts always gets the same colours whatever the order
    of the table. "pooled" and "meta" (any case) are always black. Pass the full list
    of a study's cohorts to keep colours identical across figures that show subsets.
    Beyond seven cohorts the colours repeat; :func:`cohort_markers` keeps them apart.
    """
    out: dict[str, str] = {}
    i = 0
    for name in _sorted_cohorts(cohorts):
        if is_pooled(name):
            out[name] = OKABE_ITO[0]
        else:
            out[name] = _COHORT_COLOUR_ORDER[i % len(_COHORT_COLOUR_ORDER)]
            i += 1
    return out


def cohort_markers(cohorts: Iterable[object]) -> dict[str, str]:
    """Map each cohort name to a matplotlib marker, same ordering rule as the colours.

    "meta" gets a diamond, the classic symbol of a combined estimate; "pooled" (one model
    of all cohorts' participants) a hexagon, so that the two differ when both are drawn.
    """
    out: dict[str, str] = {}
    i = 0
    for name in _sorted_cohorts(cohorts):
        if is_pooled(name):
            out[name] = POOLED_DATA_MARKER if name.strip().lower() == "pooled" else POOLED_MARKER
        else:
            out[name] = _COHORT_MARKER_ORDER[i % len(_COHORT_MARKER_ORDER)]
            i += 1
    return out


# ----------------------------------------------------------------------------- style
def journal_rc() -> dict[str, object]:
    """The rcParams of the house style (a fresh dict on every call)."""
    return {
        # text
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans"],
        "font.size": FONT_SIZE,
        "axes.titlesize": TITLE_FONT_SIZE,
        "axes.titleweight": "bold",
        "axes.labelsize": FONT_SIZE,
        "xtick.labelsize": FONT_SIZE,
        "ytick.labelsize": FONT_SIZE,
        "legend.fontsize": FONT_SIZE,
        "legend.title_fontsize": FONT_SIZE,
        "figure.titlesize": TITLE_FONT_SIZE,
        "figure.titleweight": "bold",
        "mathtext.default": "regular",
        "axes.unicode_minus": True,
        "text.color": "black",
        # lines and axes
        "axes.linewidth": LINE_WIDTH,
        "axes.edgecolor": "black",
        "axes.labelcolor": "black",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": False,
        "axes.facecolor": "white",
        "axes.prop_cycle": cycler(color=list(_COHORT_COLOUR_ORDER)),
        "axes.titlelocation": "left",
        "axes.labelpad": 3.0,
        "lines.linewidth": 0.8,
        "lines.markersize": 4.0,
        "patch.linewidth": LINE_WIDTH,
        "xtick.major.width": LINE_WIDTH,
        "ytick.major.width": LINE_WIDTH,
        "xtick.minor.width": 0.4,
        "ytick.minor.width": 0.4,
        "xtick.major.size": 2.5,
        "ytick.major.size": 2.5,
        "xtick.minor.size": 1.5,
        "ytick.minor.size": 1.5,
        "xtick.major.pad": 2.0,
        "ytick.major.pad": 2.0,
        "xtick.direction": "out",
        "ytick.direction": "out",
        "xtick.color": "black",
        "ytick.color": "black",
        "legend.frameon": False,
        "legend.handlelength": 1.2,
        "legend.handletextpad": 0.4,
        "legend.columnspacing": 1.2,
        "legend.borderaxespad": 0.3,
        "legend.labelspacing": 0.3,
        # figure and output
        "figure.facecolor": "white",
        "figure.edgecolor": "white",
        "figure.dpi": 100,
        "figure.constrained_layout.h_pad": 0.03,
        "figure.constrained_layout.w_pad": 0.03,
        "savefig.dpi": PNG_DPI,
        "savefig.facecolor": "white",
        "savefig.edgecolor": "white",
        "savefig.transparent": False,
        "savefig.bbox": None,  # keep the exact journal width
        "svg.fonttype": "none",  # editable, searchable text
        "svg.hashsalt": "first1000",  # deterministic element ids
        "svg.image_inline": True,
        "pdf.fonttype": 42,  # TrueType, editable text (no Type 3 fonts)
        "ps.fonttype": 42,
        "pdf.compression": 6,
        "path.simplify": True,
        "image.cmap": "cividis",
    }


@contextlib.contextmanager
def journal_style() -> Iterator[None]:
    """Apply :func:`journal_rc` for the duration of the block, thread-safely.

    Build (and save) figures inside this block: matplotlib reads rcParams when an
    artist is created, so axes, texts and ticks created here carry the house style.
    The previous rcParams are restored on exit, even after an exception. The style is
    laid over matplotlib's own defaults, not over the settings of the process: a
    ``matplotlibrc`` in the working directory, ``$MATPLOTLIBRC`` or the user's config would
    otherwise change the figures without being an input of any job.
    """
    with _STYLE_LOCK, mpl.style.context(["default", journal_rc()]):
        yield


def _width_mm(width: str | float) -> float:
    if isinstance(width, str):
        try:
            return COLUMN_WIDTH_MM[width]
        except KeyError:
            raise ValueError(
                f"width must be 'single' (85 mm), 'double' (174 mm) or a number of mm, "
                f"got {width!r}"
            ) from None
    w = float(width)
    if not (math.isfinite(w) and 10.0 <= w <= COLUMN_WIDTH_MM["double"]):
        raise ValueError(f"width must be between 10 and 174 mm, got {width!r}")
    return w


def new_figure(
    width: str | float = "single", height_mm: float = 60.0, *, layout: str | None = "constrained"
) -> Figure:
    """A blank :class:`~matplotlib.figure.Figure` at journal width.

    ``width`` is ``"single"`` (85 mm), ``"double"`` (174 mm) or a width in mm;
    ``height_mm`` the height in mm. ``layout`` is the matplotlib layout engine
    (``"constrained"`` by default, ``None`` for manual placement). The figure is not
    registered with pyplot; it has its own Agg canvas, so text extents can be
    measured (``fig.canvas.get_renderer()``) while laying it out. Add artists inside :func:`journal_style` to style them.
    """
    w = _width_mm(width)
    h = float(height_mm)
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"height_mm must be a positive number, got {height_mm!r}")
    with journal_style():
        fig = Figure(figsize=(w / MM_PER_INCH, h / MM_PER_INCH), layout=layout)
        # An Agg canvas (not pyplot) so text can be measured while laying out.
        FigureCanvasAgg(fig)
    return fig


def style_axes(ax, *, left_spine: bool = True) -> None:
    """Apply the house tick and spine style explicitly to ``ax``.

    Explicit (not only via rcParams) so that ticks matplotlib creates lazily at draw
    time look the same even if the figure is drawn outside :func:`journal_style`.
    """
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_visible(left_spine)
    for side in ("left", "bottom"):
        ax.spines[side].set_linewidth(LINE_WIDTH)
    ax.tick_params(
        axis="both",
        which="major",
        labelsize=FONT_SIZE,
        width=LINE_WIDTH,
        length=2.5,
        pad=2.0,
        direction="out",
        color="black",
        labelcolor="black",
    )


# ---------------------------------------------------------------------------- saving
_VECTOR_FORMATS = {".svg": "svg", ".pdf": "pdf"}
# Remove every date / software stamp matplotlib would write.
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}

#: zlib level 1 for PNGs: 40% less encoding time than Pillow's default 6 (~9% of a figure
#: job), files ~6% larger (#19)
_SAVE_OPTIONS = {"png": {"pil_kwargs": {"compress_level": 1}}}


def _atomic_savefig(fig: Figure, path: Path, fmt: str) -> None:
    """Write ``fig`` to a temporary file next to ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        # O_EXCL: never write through someone else's file; 0o666 & ~umask permissions.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=PNG_DPI, metadata=_METADATA[fmt], **_SAVE_OPTIONS.get(fmt, {}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_figure(
    fig: Figure, path_png: str | os.PathLike[str], path_vector: str | os.PathLike[str] | None = None
) -> tuple[Path, ...]:
    """Write ``fig`` as a 300 dpi PNG and, optionally, an SVG or PDF (by suffix).

    The files are byte-deterministic: the same figure gives the same bytes on every
    run (no dates or software stamps, fixed SVG hash salt, bundled font). Each file is
    written to a temporary file in its destination folder and then atomically renamed,
    so a half-written figure never exists under the final name. Missing folders are
    created. Returns the paths written.
    """
    png = Path(path_png)
    if png.suffix.lower() != ".png":
        raise ValueError(f"path_png must end in .png, got {png.name!r}")
    targets: list[tuple[Path, str]] = [(png, "png")]
    if path_vector is not None:
        vec = Path(path_vector)
        fmt = _VECTOR_FORMATS.get(vec.suffix.lower())
        if fmt is None:
            raise ValueError(f"path_vector must end in .svg or .pdf, got {vec.name!r}")
        targets.append((vec, fmt))
    with journal_style():
        for path, fmt in targets:
            _atomic_savefig(fig, path, fmt)
    return tuple(p for p, _ in targets)


# ------------------------------------------------------------------------ formatting
_MINUS = "\u2212"
_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _is_missing(x: object) -> bool:
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def format_number(x: object, sig: int = 3) -> str:
    """``x`` to ``sig`` significant figures, keeping trailing zeros ("0.250").

    Plain decimals for 1e-4 <= |x| < 1e6 (like ``f"{x:#.3g}"`` below 1000, but
    1234.5 -> "1230" instead of "1.23e+03"), otherwise "1.23×10⁻⁵". Negative numbers
    use the typographic minus sign (U+2212). Missing values give "NA".
    """
    if _is_missing(x):
        return "NA"
    v = float(x)  # type: ignore[arg-type]
    if v == 0:
        return "0" if sig <= 1 else "0." + "0" * (sig - 1)
    exp = math.floor(math.log10(abs(v)))
    rounded = round(v, sig - 1 - exp)
    if rounded != 0 and math.floor(math.log10(abs(rounded))) != exp:  # 0.9996 -> 1.00
        exp += 1
        rounded = round(v, sig - 1 - exp)
    if -4 <= exp < 6:
        text = f"{rounded:.{max(sig - 1 - exp, 0)}f}"
    else:
        mantissa = rounded / 10**exp
        text = f"{mantissa:.{sig - 1}f}\u00d710{str(exp).translate(_SUPERSCRIPT)}"
    return text.replace("-", _MINUS)


def format_estimate_ci(est: object, low: object, high: object, sig: int = 3) -> str:
    """``"0.123 [0.0512, 0.194]"``; ``"0.123 [CI NA]"`` when the CI is missing."""
    text = format_number(est, sig)
    if _is_missing(low) or _is_missing(high):
        return f"{text} [CI NA]"
    return f"{text} [{format_number(low, sig)}, {format_number(high, sig)}]"


def format_count(n: object) -> str:
    """A count with thousands separators: ``"1,204"``; ``"NA"`` when missing."""
    if _is_missing(n):
        return "NA"
    return f"{int(round(float(n))):,}"  # type: ignore[arg-type]


def format_range(values: Iterable[object]) -> str:
    """``"812"`` or ``"812–1,204"`` (en dash) for the finite values; ``"NA"`` if none."""
    finite = [float(v) for v in values if not _is_missing(v)]  # type: ignore[arg-type]
    if not finite:
        return "NA"
    lo, hi = min(finite), max(finite)
    if round(lo) == round(hi):
        return format_count(lo)
    return f"{format_count(lo)}\u2013{format_count(hi)}"


def label_for(name: object, labels: Mapping[str, str] | None) -> str:
    """The human label of a variable name (the name itself when not in ``labels``)."""
    key = str(name)
    if labels and key in labels:
        return str(labels[key])
    return key


def contract_table(table: pd.DataFrame, columns, numeric, what: str) -> pd.DataFrame:
    """The contract columns of a results table, numeric ones as float.

    Only these columns are kept, so nothing else (participant IDs, row-level data) can
    ever be drawn. A non-numeric value in a numeric column is an InputTableError naming
    the column and the rows.
    """
    df = table.loc[:, list(columns)].copy().reset_index(drop=True)
    for col in numeric:
        if col not in df.columns:
            continue
        raw = df[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna()
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy()) + 1).tolist()
            raise InputTableError(
                f"{what} table column {col!r} must be numeric; non-numeric values in {format_rows(rows)}"
            )
        df[col] = num.astype(float)
    return df
