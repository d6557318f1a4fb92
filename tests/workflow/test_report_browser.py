"""The Snakemake report in a real (headless) browser: it renders, no image is broken, and
the front page and a mechanism section are not blank.

Needs Playwright (Python package) and a Chromium binary: Debian's ``/usr/bin/chromium``,
or the one named by ``FIRST1000_CHROMIUM``. Skipped with a message when either is
missing. The report is the one built by the session-scoped ``demo_run`` fixture of
``conftest.py``, so the demo workflow is not run an extra time.

The report is a self-contained single-page app: there is no URL routing, so sections
are reached by clicking the sidebar, as a reader would. Any request that leaves the
file (http, https) is blocked and recorded: a self-contained report makes none.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.e2e

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed: `pip install playwright` (the browser test drives Chromium with it)",
)

CHROMIUM = os.environ.get("FIRST1000_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: A mechanism of the demo config (config/config.yaml, ``mechanisms:``) whose category has
#: forest plots; its sidebar entry is "2.<position> <label>" (first1000.labels.report_category;
#: the demo's 10 mechanisms are numbered 2.01 to 2.10).
MECHANISM = "2.01 HPA axis (hair cortisol)"
SUBCATEGORY = "Associations"
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 60_000


def _decode_png(data: bytes) -> np.ndarray:
    """RGB array (0-255) of PNG bytes, with Pillow if present, else matplotlib."""
    try:
        from PIL import Image
    except ImportError:  # matplotlib reads PNG natively
        import matplotlib.image as mpimg

        rgb = mpimg.imread(io.BytesIO(data), format="png")[..., :3]
        return np.round(rgb * 255).astype(np.int16)
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def assert_not_blank(png: bytes, what: str, min_fraction: float = 0.02, min_colours: int = 16) -> None:
    """The screenshot has real content: enough pixels away from the background colour
    (its most common colour) and more than a handful of distinct colours."""
    rgb = _decode_png(png)
    flat = rgb.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    fraction = float((np.abs(flat - background).max(axis=1) > 24).mean())
    assert fraction >= min_fraction, f"{what}: only {fraction:.2%} of the pixels differ from the background"
    assert len(colours) >= min_colours, f"{what}: only {len(colours)} distinct colours"
    assert float(flat.std()) > 5.0, f"{what}: no colour variance"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def report_html(request) -> Path:
    """results/report.html of the session's demo run (the ``demo_run`` fixture of
    conftest.py, shared with the other end-to-end tests, so the demo runs once).

    ``FIRST1000_REPORT_HTML=path/to/report.html`` checks an existing report instead,
    without running the demo.
    """
    given = os.environ.get("FIRST1000_REPORT_HTML")
    path = Path(given) if given else Path(request.getfixturevalue("demo_run")) / "results" / "report.html"
    assert path.is_file(), f"no report at {path}"
    return path


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium or set FIRST1000_CHROMIUM)")
    with sync_api.sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except sync_api.Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} does not start under Playwright: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, report_html):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.external_requests = []  # type: ignore[attr-defined]
    pg.page_errors = []  # type: ignore[attr-defined]

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            pg.external_requests.append(r.request.url)
            r.abort()

    pg.route("**/*", route)
    pg.on("pageerror", lambda exc: pg.page_errors.append(str(exc)))
    pg.goto(report_html.resolve().as_uri(), wait_until="load")
    # the app has rendered once its sidebar lists the mechanism categories
    pg.get_by_text(MECHANISM, exact=True).first.wait_for(state="visible")
    yield pg
    context.close()


def images_loaded(pg) -> list[dict]:
    """Wait until every <img> finished loading, then describe each one."""
    pg.wait_for_function("() => Array.from(document.images).every(img => img.complete)")
    return pg.eval_on_selector_all(
        "img",
        "imgs => imgs.map(img => ({src: img.currentSrc.slice(0, 80), width: img.naturalWidth, "
        "height: img.naturalHeight, visible: img.getClientRects().length > 0}))",
    )


def assert_no_broken_images(images: list[dict], where: str) -> None:
    broken = [i["src"] for i in images if i["width"] == 0 or i["height"] == 0]
    assert not broken, f"{where}: {len(broken)} broken image(s): {broken}"


def assert_self_contained(pg) -> None:
    assert not pg.external_requests, f"the report requested {pg.external_requests[:5]}"
    assert not pg.page_errors, f"JavaScript errors: {pg.page_errors[:3]}"


# -------------------------------------------------------------------------------- tests
def test_front_page_renders_without_broken_images(page, tmp_path):
    images = images_loaded(page)
    assert images, "no <img> on the front page (the Snakemake logo at least is expected)"
    assert_no_broken_images(images, "front page")
    body = page.inner_text("body")
    assert "first1000" in body  # the workflow description (report/workflow.rst) is shown
    shot = page.screenshot(full_page=False)
    (tmp_path / "front.png").write_bytes(shot)
    assert_not_blank(shot, "front page")
    assert_self_contained(page)


def test_mechanism_section_and_one_figure(page, tmp_path):
    page.get_by_text(MECHANISM, exact=True).first.click()
    page.get_by_text(SUBCATEGORY, exact=True).first.click()
    rows = page.locator("tr", has_text="forest plot")
    rows.first.wait_for(state="visible")
    assert rows.count() >= 1, f"no forest plot listed under {MECHANISM} > {SUBCATEGORY}"
    assert_no_broken_images(images_loaded(page), f"{MECHANISM} section")
    shot = page.screenshot(full_page=False)
    (tmp_path / "section.png").write_bytes(shot)
    assert_not_blank(shot, f"{MECHANISM} section")

    # open the first figure with its "eye" button: the figure replaces the main panel
    rows.first.locator("a[iconname=eye]").click()
    figure = page.locator("img[src^='data:image/png'], img[src^='data:image/svg+xml'][src*='forest']").last
    figure.wait_for(state="visible")
    images = images_loaded(page)
    assert_no_broken_images(images, f"{MECHANISM} figure")
    assert any(i["src"].startswith("data:image/png") and i["visible"] for i in images), images
    box = figure.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100, f"figure drawn at {box}"
    figure_shot = figure.screenshot()
    (tmp_path / "figure.png").write_bytes(figure_shot)
    assert_not_blank(figure_shot, "opened figure", min_fraction=0.01)
    assert_not_blank(page.screenshot(full_page=False), f"{MECHANISM} section with a figure open")
    assert_self_contained(page)


def test_landing_page_shows_the_model_and_the_key_findings(page, report_html):
    """Without a click: the filled-in model figure and the key-findings table, each row's
    numbers those of its result-table row."""
    import pandas as pd

    from first1000.report.publication import fmt_number

    model = page.locator("#first1000-model")
    model.wait_for(state="visible")
    assert model.evaluate("img => img.naturalWidth") > 500
    rows = page.locator("#first1000-key-findings tbody tr")
    results = report_html.parent
    findings = pd.read_csv(results / "key_findings.tsv", sep="\t", keep_default_na=False, na_values=[""])
    assert rows.count() == len(findings) >= 5
    for i, finding in findings.iterrows():
        row_cells = rows.nth(i)
        if finding.kind == "association":
            table = pd.read_csv(results / f"associations/{finding.mechanism}.tsv", sep="\t")
            predictor = finding.exposure if isinstance(finding.exposure, str) else finding.biomarker
            response = finding.biomarker if isinstance(finding.exposure, str) else finding.outcome
            source = table[(table.cohort == finding.level) & (table.predictor == predictor)
                           & (table.response == response)]
        else:
            table = pd.read_csv(results / f"mediation/{finding.mechanism}.tsv", sep="\t")
            source = table[(table.cohort == finding.level) & (table.exposure == finding.exposure)
                           & (table.mediator == finding.biomarker) & (table.outcome == finding.outcome)
                           & (table.effect == "tnie") & table.scale.isin(["difference", "risk_difference"])]
        assert len(source) == 1, (finding.to_dict(), len(source))
        row = source.iloc[0]
        assert (row.estimate, row.ci_low, row.ci_high, row.n) == (finding.estimate, finding.ci_low, finding.ci_high,
                                                                  finding.n)
        assert row_cells.locator("td.estimate").inner_text() == (
            f"{fmt_number(row.estimate)} [{fmt_number(row.ci_low)}, {fmt_number(row.ci_high)}]")
        assert row_cells.locator("td.n").inner_text() == str(int(row.n))
    assert_self_contained(page)
