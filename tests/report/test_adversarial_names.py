"""Names and labels never become markup or script in the report.

Snakemake renders each caption (``workflow/report/*.rst``) as a Jinja template over the
job's config, wildcards and params, then as reStructuredText with docutils' defaults, which
allow ``.. raw:: html`` (and ``.. include::``): a name that reaches a caption unchecked can
put any element or script into report.html. So:

* adversarial names (cohorts, windows, measures, harmonised variables of the data schema,
  covariates) are refused by the loader with one exact message, nothing written;
* with the most awkward names and labels the loader allows (labels holding ``*``, `````,
  ``<``, ``>``, ``&``, ``|``, ``_``, an ``<img onerror>`` and ``.. raw::``), every caption
  renders, through Snakemake's own rendering steps, to exactly the elements and attributes
  it has for the demo config: nothing comes from a name or a label;
* labels that reach HTML tables are escaped, and never switch matplotlib to math text;
* in headless Chromium (e2e), the unchecked name does run its handler (the harness works)
  and nothing rendered from a loaded config does.
"""

from __future__ import annotations

import copy
import inspect
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from docutils.core import publish_parts
from jinja2 import Environment

from first1000.config import load_config
from first1000.errors import ConfigError
from first1000.labels import LABEL_RULE, NAME_RULE, figure_labels, label_problem, shown
from first1000.stages.figures import FIGURE_KINDS

from workflow_runs import ROOT, demo_config_copy

#: Snakemake calls publish_parts(..., writer_name="html"), which docutils deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Argument \"writer_name\":PendingDeprecationWarning")

REPORT = ROOT / "workflow" / "report"
CAPTIONS = sorted(REPORT.glob("*.rst"))
#: Sets a flag when a browser runs it; an image that fails to load runs onerror.
HANDLER = "window.__pwned=1"
PAYLOAD = f"x\n\n.. raw:: html\n\n   <img src=x onerror={HANDLER}>\n\n"
#: Labels the loader allows although they hold characters RST, HTML or Markdown give a meaning.
ALLOWED_LABELS = [
    "*emphasis* **strong** `code` ``literal`` |subst| ref_ anon__ [1]_",
    f"<img src=x onerror={HANDLER}> & <script>x()</script> &amp;",
    ".. raw:: html <b>bold</b>",
    "Preterm birth (< 37+0 weeks) >= 5 ≥ 6 ± 1 µmol/L 2π·day α-Glucose mm³",
    "a_b_ _c_ ^caret^ ~tilde~ #hash |pipe| `tick",
]
NAMES = {"cohorts": ["a1", "x_y_z9"], "variable": "z9_q1"}


def _q(text: str) -> str:
    """``text`` as a double-quoted YAML scalar on one line."""
    return yaml.safe_dump(text, default_style='"', width=10**6, allow_unicode=True).strip().removesuffix("...").strip()


def _html_items(html: str) -> set[tuple]:
    """Every element as (tag, ((attribute, value if not free text), ...)) of an HTML fragment."""

    class Parser(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.items = set()

        def handle_starttag(self, tag, attrs):
            kept = tuple(sorted((k, v if k in ("class",) else "") for k, v in attrs))
            self.items.add((tag, kept))

    parser = Parser()
    parser.feed(html)
    return parser.items


def test_snakemake_still_renders_captions_this_way():
    """The two steps below are Snakemake's own (snakemake.report): a Jinja environment with
    trim_blocks and lstrip_blocks, then docutils' publish_parts to HTML with default settings."""
    from snakemake import report

    source = inspect.getsource(report)
    assert "Environment(\n        trim_blocks=True,\n        lstrip_blocks=True,\n    )" in source
    assert 'publish_parts(caption, writer_name="html")["body"]' in source


#: Config keys holding free text or paths: never interpolated into a caption (RST).
FREE_TEXT_KEYS = ("label", "unit", "annotation", "mapping", "path", "key_file", "harmonised_variables", "reason",
                  "categories", "_data_schema", "_declared_biomarkers")


def test_captions_interpolate_no_free_text():
    """Captions interpolate names (validated), numbers and enumerated settings only: no
    label, unit or path, whose text would be read as reStructuredText (``{{ ... }}`` and
    the ``{% set %}`` values they print; conditions print nothing)."""
    import re

    for caption in CAPTIONS:
        for expression in re.findall(r"\{\{(.*?)\}\}|\{%-?\s*set(.*?)%\}", caption.read_text(encoding="utf-8"), re.S):
            text = "".join(expression)
            used = [key for key in FREE_TEXT_KEYS if re.search(rf"[\"'.]{key}[\"'\]]", text)]
            assert not used, f"{caption.name}: {text.strip()} uses {used}"


def render_caption(path: Path, config: dict, wildcards: dict, params: dict) -> str:
    """A caption as snakemake.report.FileRecord.render makes it."""
    env = Environment(trim_blocks=True, lstrip_blocks=True)
    snakemake = SimpleNamespace(config=config, wildcards=SimpleNamespace(**wildcards),
                                params=SimpleNamespace(**params),
                                output=SimpleNamespace(folder=f"results/figures/{wildcards.get('mechanism')}"))
    text = env.from_string(path.read_text(encoding="utf-8")).render(snakemake=snakemake, categories={}, files={})
    return publish_parts(text, writer_name="html")["body"]


def _as_snakemake_config(cfg: dict, raw: dict) -> dict:
    """The `config` captions read: the config Snakemake loaded, updated with the validated
    settings (workflow/rules/common.smk)."""
    out = copy.deepcopy(raw)
    out.update({k: v for k, v in cfg.items() if not k.startswith("_") and k not in ("cohorts", "sites")})
    return out


def _renders(cfg: dict, raw: dict) -> dict[tuple[str, str], str]:
    """Every caption for every mechanism, with wildcards taken from the config."""
    config = _as_snakemake_config(cfg, raw)
    cohorts = sorted(cfg["cohorts"])
    path = cfg["mediation"]["paths"][0]
    out = {}
    for mechanism, spec in cfg["mechanisms"].items():
        wildcards = {"mechanism": mechanism, "cohort": cohorts[0], "exposure": spec["exposures"][0],
                     "mediator": path["mediator"] if isinstance(path["mediator"], str) else path["mediator"][0],
                     "outcome": path["outcome"], "variable": spec["biomarkers"][0],
                     "modifier": cfg["covariates"][-1], "kind": "associations",
                     "response": spec["biomarkers"][0], "predictor": spec["exposures"][0]}
        for caption in CAPTIONS:
            if caption.name == "figure.rst":  # one caption, a branch per kind of figure
                for kind in FIGURE_KINDS:
                    out[(f"{caption.name}:{kind}", mechanism)] = render_caption(
                        caption, config, {**wildcards, "kind": kind}, {"settings": {"cohorts": cohorts}})
                continue
            out[(caption.name, mechanism)] = render_caption(caption, config, wildcards, {"settings": {"cohorts": cohorts}})
    return out


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the demo's config files (the demo tables linked); cwd is its root."""
    demo_config_copy(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _edit(rel: str, old: str, new: str) -> str:
    text = Path(rel).read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    text = text.replace(old, new, 1)
    Path(rel).write_text(text, encoding="utf-8")
    return text


def _line(text: str, at: str) -> int:
    return [i for i, line in enumerate(text.splitlines(), 1) if at in line][-1]


def test_an_unchecked_name_would_inject_html_into_a_caption(demo_config):
    """Why names are checked: a covariate named like a raw directive becomes an <img> with
    an onerror handler in the associations table's caption (loader bypassed on purpose)."""
    raw = yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8"))
    config = _as_snakemake_config(demo_config, raw)
    config["covariates"] = [PAYLOAD]
    html = render_caption(REPORT / "associations.rst", config, {"mechanism": "hpa", "variable": "epds"}, {})
    assert f"<img src=x onerror={HANDLER}>" in html


NAME_CASES = [
    # (file, old, new, `at`, message after "{file}, line {line}: ")
    ("resources/harmonised_variables.yaml", "smoking: {label: Smoking during pregnancy, type: binary}",
     f"{_q(PAYLOAD)}: {{label: Smoking, type: binary}}", ".. raw::",
     "key `{shown_key}`: {shown} is not a valid name for a harmonised variable: " + NAME_RULE
     + ". Names become column names, file names and report text; rename it (and its uses in the config and "
       "mapping files)."),
    ("config/config.yaml", "covariates: [maternal_age, bmi,",
     f"covariates: [{_q(PAYLOAD)}, bmi,", "covariates: [\"x",
     "key `covariates.0`: {shown} is not a valid name: " + NAME_RULE
     + ". Give the name of a variable, biomarker or entry as declared."),
    ("config/config.yaml", "  ghent:\n", '  "ghent\\n":\n', '"ghent\\n"',
     "key `cohorts.'ghent\\n'`: 'ghent\\n' is not a valid name: " + NAME_RULE
     + ". Names become file names, column names and report text; rename it."),
    ("config/config.yaml", "windows: {t3: [0, 3],", f'windows: {{"t3<img src=x onerror={HANDLER}>": [0, 3],',
     "windows:", f"key `preparation.hpa.windows.'t3<img src=x onerror={HANDLER}>'`: `t3<img src=x onerror={HANDLER}>` "
     f"is not a valid name: {NAME_RULE}. Names become file names, column names and report text; rename it."),
    ("config/config.yaml", "      hippocampus_volume: {", "      hippocampus_volume_: {", "hippocampus_volume_",
     "key `preparation.cns.measures.hippocampus_volume_`: `hippocampus_volume_` is not a valid name: " + NAME_RULE
     + ". Names become file names, column names and report text; rename it."),
    ("config/config.yaml", "    label: Ghent\n", f"    label: {_q(PAYLOAD)}\n",
     "label: \"x", "key `cohorts.ghent.label`: {shown} is not a valid label: the character '\\n' (U+000A, a control "
     "character) is not allowed (a label is one line); " + LABEL_RULE + ". Rewrite the label."),
]


@pytest.mark.parametrize("case", NAME_CASES, ids=["data-schema-variable", "covariate", "cohort-newline",
                                                   "window-img", "measure-rst-reference", "cohort-label"])
def test_adversarial_names_are_refused_with_an_exact_message(project, case):
    rel, old, new, at, message = case
    text = _edit(rel, old, new)
    expected = f"{rel}, line {_line(text, at)}: " + message.format(shown=shown(PAYLOAD), shown_key=repr(PAYLOAD))
    with pytest.raises(ConfigError) as err:
        load_config("config/config.yaml")
    assert str(err.value) == expected
    assert not (project / "results").exists()


def _adversarial_project() -> tuple[dict, dict]:
    """The demo with odd but valid names and the allowed labels everywhere a label goes."""
    text = Path("config/config.yaml").read_text(encoding="utf-8")
    text = text.replace("  ghent:\n", f"  {NAMES['cohorts'][0]}:\n").replace("  rotterdam:\n", f"  {NAMES['cohorts'][1]}:\n")
    labels = iter(ALLOWED_LABELS * 20)
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("label:"):
            line = line.split("label:")[0] + "label: " + _q(next(labels))
        lines.append(line)
    text = "\n".join(lines) + "\n"
    text = text.replace("label: Right amygdala volume", "label: " + _q(next(labels)))
    text = text.replace("covariates: [maternal_age, bmi, parity, smoking, child_sex]",
                        f"covariates: [maternal_age, bmi, parity, smoking, child_sex, {NAMES['variable']}]")
    Path("config/config.yaml").write_text(text, encoding="utf-8")
    schema = Path("resources/harmonised_variables.yaml").read_text(encoding="utf-8")
    schema += f"{NAMES['variable']}: {{label: {_q(ALLOWED_LABELS[1])}, " \
              f"type: continuous, unit: {_q(ALLOWED_LABELS[0])}}}\n"
    Path("resources/harmonised_variables.yaml").write_text(schema, encoding="utf-8")
    for rel in ("config/cohorts/ghent.yaml", "config/cohorts/rotterdam.yaml"):
        _edit(rel, "label: ", "label: " + _q(ALLOWED_LABELS[2]) + "  # ")
    cfg = load_config("config/config.yaml")
    return cfg, yaml.safe_load(text)


def test_allowed_labels_and_odd_names_add_no_element_to_any_caption(project, demo_config):
    raw_demo = yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8"))
    baseline = _renders(demo_config, raw_demo)
    for label in ALLOWED_LABELS:
        assert label_problem(label) is None, label
    cfg, raw = _adversarial_project()
    assert cfg["cohorts"][NAMES["cohorts"][0]]["label"] in ALLOWED_LABELS
    assert cfg["_data_schema"][NAMES["variable"]]["label"] == ALLOWED_LABELS[1]
    rendered = _renders(cfg, raw)
    assert len(rendered) == len(baseline) >= len(CAPTIONS) * 9
    for key, html in rendered.items():
        extra = _html_items(html) - _html_items(baseline[key])
        assert not extra, f"{key}: elements not in the demo's caption: {extra}"
        assert "system-message" not in html and "onerror" not in html and "<script" not in html, key
    # a covariate with an odd but valid name is shown as text
    assert any(NAMES["variable"] in html for (name, _), html in rendered.items() if name == "associations.rst")


def test_labels_in_html_tables_are_text():
    import pandas as pd

    from first1000.report.html_tables import html_table

    plain = pd.DataFrame({"variable": ["a", "b"], "label": ["Plain", "Text"]})
    odd = pd.DataFrame({"variable": ["a", "b"], ALLOWED_LABELS[1]: ALLOWED_LABELS[:2]})
    base = _html_items(html_table(plain, "Title", "caption", filename="t.tsv"))
    page = html_table(odd, ALLOWED_LABELS[0], ALLOWED_LABELS[1], filename="t.tsv")
    assert _html_items(page) <= base
    assert "<img src=x" not in page and "<script>x()" not in page


def test_labels_never_switch_figures_to_math_text():
    from matplotlib.text import Text

    schema = {f"v{i}": {"label": label, "unit": "unit", "type": "continuous"} for i, label in enumerate(ALLOWED_LABELS)}
    for text in figure_labels(list(schema), schema).values():
        assert Text(0, 0, text)._preprocess_math(text) == (text, False), text
    assert label_problem("a $x$ b") and label_problem("100 \\$")


@pytest.mark.e2e
def test_no_handler_runs_in_chromium(project, demo_config, tmp_path):
    """The unchecked name's caption runs its handler in Chromium (so the check below can
    fail); the captions and a table rendered from the loaded adversarial config do not."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = os.environ.get("FIRST1000_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip(f"no Chromium at {chromium}")
    import pandas as pd

    from first1000.report.html_tables import html_table

    raw = yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8"))
    unsafe = _as_snakemake_config(demo_config, raw)
    unsafe["covariates"] = [PAYLOAD]
    attack = render_caption(REPORT / "associations.rst", unsafe, {"mechanism": "hpa", "variable": "epds"}, {})
    cfg, raw = _adversarial_project()
    safe = "".join(_renders(cfg, raw).values())
    safe += html_table(pd.DataFrame({"label": ALLOWED_LABELS}), ALLOWED_LABELS[1], ALLOWED_LABELS[1], filename="t.tsv")
    pages = {}
    for name, body in (("attack", attack), ("safe", safe)):
        pages[name] = tmp_path / f"{name}.html"
        pages[name].write_text(f"<!doctype html><meta charset=utf-8><body>{body}</body>", encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        except sync_api.Error as exc:
            pytest.skip(f"Chromium does not start under Playwright: {str(exc).splitlines()[0]}")
        try:
            results = {}
            for name, page_path in pages.items():
                page = browser.new_page()
                page.goto(page_path.as_uri(), wait_until="load")
                page.wait_for_timeout(300)
                results[name] = page.evaluate("() => window.__pwned === 1")
                page.close()
        finally:
            browser.close()
    assert results == {"attack": True, "safe": False}


def test_no_caption_line_ends_in_a_block_tag_before_text():
    """Snakemake renders captions with ``trim_blocks``: the newline after a ``{% ... %}`` at
    a line's end is removed, so the next line's first word is glued to the previous one
    ("single-cohortestimate", issue #16). Such a tag is followed by a blank line or the end."""
    glued = []
    for path in sorted((ROOT / "workflow/report").glob("*.rst")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines[:-1]):
            if line.rstrip().endswith("%}") and lines[i + 1].strip():
                glued.append(f"{path.name}:{i + 1}")
    assert not glued


def test_a_conditional_caption_keeps_its_spaces():
    from jinja2 import Environment

    text = (ROOT / "workflow/report/model.rst").read_text(encoding="utf-8")
    env = Environment(trim_blocks=True, lstrip_blocks=True)
    for cohorts in ({"a": {}}, {"a": {}, "b": {}}):
        config = {"cohorts": cohorts, "covariates": ["bmi"], "fdr": 0.05}
        rendered = " ".join(env.from_string(text).render(snakemake=type("S", (), {"config": config}),
                                                         categories={}).split())
        assert "single-cohort estimate" in rendered or "covariate) estimate" in rendered
        assert "cohortestimate" not in rendered and ")estimate" not in rendered
