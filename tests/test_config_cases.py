"""Bad config, mapping, data-schema and map files, each refused by ``first1000 check-config``
with one exact message naming the file, the line, the key, what is wrong and how to fix it,
and nothing written under results/.

Each case copies the demo's config, mapping files, data schema and education maps into a
temporary project (the demo tables are linked, not copied), replaces one piece of text in
one file and runs the command line. ``{line}`` in an expected message is the line of the
case's ``at`` text in the edited file (its last occurrence: the second of two duplicates).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from first1000.cli import main
from first1000.config import ALIAS_BUDGET, load_config, load_mapping, load_yaml
from first1000.errors import ConfigError
from first1000.labels import LABEL_RULE, NAME_RULE

from workflow_runs import ROOT, demo_config_copy

CONFIG = "config/config.yaml"
GHENT = "config/cohorts/ghent.yaml"
SCHEMA = "resources/harmonised_variables.yaml"
FLANDERS = "resources/education/flanders.yaml"

BOMB = "\n".join(
    ["covariates:", '  - &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"  - &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi")]
)
DUP_TAIL = ". Keep one of them."
NAN_TAIL = " is not a finite number (NaN and infinity are never valid settings); give a finite number."
BAD_NAME = f" is not a valid name: {NAME_RULE}. Names become file names, column names and report text; rename it."
BAD_REF = f" is not a valid name: {NAME_RULE}. Give the name of a variable, biomarker or entry as declared."
RAW_HTML = r'".. raw:: html\n\n   <img src=x onerror=alert(1)>"'
RAW_HTML_SHOWN = "'.. raw:: html\\n\\n   <img src=x onerror=alert(1)>'"


def _label(problem, what="label"):
    return f" is not a valid {what}: {problem}; {LABEL_RULE}. Rewrite the {what}."


# (id, file, old text, new text, `at` text giving {line}, expected message)
CASES = [
    # -- YAML: duplicate keys, aliases, non-finite numbers, YAML 1.1 booleans, templates
    ("duplicate-top-level-key", CONFIG, "fdr: 0.05\n", "fdr: 0.05\nfdr: 0.5\n", "fdr: 0.5",
     "{file}, line {line}: key `fdr` is given twice (first at line 5); YAML would silently keep only the last "
     "value" + DUP_TAIL),
    ("duplicate-nested-key", CONFIG, "    label: Ghent\n", "    label: Ghent\n    mapping: config/cohorts/x.yaml\n",
     "mapping: config/cohorts/x.yaml",
     "{file}, line {line}: key `cohorts.ghent.mapping` is given twice (first at line 14); YAML would silently keep "
     "only the last value" + DUP_TAIL),
    ("duplicate-flow-key", CONFIG, "indicators: {education_isced: 1,", "indicators: {education_isced: 1, education_isced: -1,",
     "indicators:",
     "{file}, line {line}: key `ses_index.indicators.education_isced` is given twice (first at line {line}); YAML "
     "would silently keep only the last value" + DUP_TAIL),
    ("duplicate-mapping-variable", GHENT, "  parity: {rule: direct, column: parity}\n",
     "  parity: {rule: direct, column: parity}\n  parity: {rule: impossible}\n", "parity: {rule: impossible}",
     "{file}, line {line}: key `variables.parity` is given twice (first at line 57); YAML would silently keep only "
     "the last value" + DUP_TAIL),
    ("duplicate-data-schema-variable", SCHEMA, "smoking: {label: Smoking during pregnancy, type: binary}\n",
     "smoking: {label: Smoking during pregnancy, type: binary}\nsmoking: {label: Smokes, type: continuous}\n",
     "smoking: {label: Smokes",
     "{file}, line {line}: key `smoking` is given twice (first at line 8); YAML would silently keep only the last "
     "value" + DUP_TAIL),
    ("duplicate-map-file-level", FLANDERS, '  "bachelor": 6\n', '  "bachelor": 6\n  bachelor: 7\n', "bachelor: 7",
     "{file}, line {line}: key `levels.bachelor` is given twice (first at line 14); YAML would silently keep "
     "only the last value" + DUP_TAIL),
    ("alias-bomb", CONFIG, "covariates: [maternal_age, bmi, parity, smoking, child_sex]", BOMB, "  - &e [",
     f"{{file}}, line {{line}}: key `covariates.4.0`: the YAML aliases (`*name`) of this file repeat more than "
     f"{ALIAS_BUDGET} values (an alias bomb makes YAML readers hang); first1000 refuses such files: write the "
     "values out or use fewer aliases."),
    ("recursive-alias", CONFIG, "covariates: [maternal_age, bmi, parity, smoking, child_sex]",
     "covariates: &loop [maternal_age, *loop]", "covariates: &loop",
     "{file}, line {line}: a YAML alias refers to a value that contains the alias itself (a recursive alias), "
     "which has no end; write the value out instead."),
    ("nan-fdr", CONFIG, "fdr: 0.05", "fdr: .nan", "fdr: .nan", "{file}, line {line}: key `fdr`: `.nan`" + NAN_TAIL),
    ("nan-loq", CONFIG, "    loq: 1.5", "    loq: .NaN", "loq: .NaN",
     "{file}, line {line}: key `preparation.hpa.loq`: `.NaN`" + NAN_TAIL),
    ("inf-outlier-sd", CONFIG, "    outlier_sd: 3 ", "    outlier_sd: .inf ", "outlier_sd: .inf",
     "{file}, line {line}: key `preparation.hpa.outlier_sd`: `.inf`" + NAN_TAIL),
    ("overflow-window-end", CONFIG, "windows: {t3: [0, 3],", "windows: {t3: [0, 1.0e+999],", "windows:",
     "{file}, line {line}: key `preparation.hpa.windows.t3.1`: `1.0e+999`" + NAN_TAIL),
    ("minus-inf-cns-min", CONFIG, "unit: Fisher z, min: -2,", "unit: Fisher z, min: -.inf,", "min: -.inf",
     "{file}, line {line}: key `preparation.cns.measures.dmn_connectivity.min`: `-.inf`" + NAN_TAIL),
    ("nan-in-mapping-ranges", GHENT, "  parity: {rule: direct, column: parity}",
     "  parity: {rule: recode, column: parity, ranges: [{min: .nan, value: 0}]}", "ranges: [{min: .nan",
     "{file}, line {line}: key `variables.parity.ranges.0.min`: `.nan`" + NAN_TAIL),
    ("nan-data-schema-max", SCHEMA, "type: continuous, unit: years, min: 12, max: 60}",
     "type: continuous, unit: years, min: 12, max: .nan}", "max: .nan",
     "{file}, line {line}: key `maternal_age.max`: `.nan`" + NAN_TAIL),
    ("yes-for-a-boolean", CONFIG, "  remove_outliers: true", "  remove_outliers: yes", "remove_outliers: yes",
     "{file}, line {line}: key `epigenome_wide.remove_outliers`: expected boolean, got str `yes`. Write `true` or "
     "`false`: first1000 reads YAML 1.2, where yes/no/on/off are text, not booleans."),
    ("snakemake-yte-template", CONFIG, "seed: 20261128\n", "__use_yte__: true\nseed: ?__import__('os').getpid()\n",
     "__use_yte__",
     "{file}, line {line}: key `__use_yte__`: first1000 config files are plain YAML, never templates (Snakemake "
     "evaluates `?` expressions of a file marked `__use_yte__` as Python code); remove the key and write the "
     "values out."),
    # -- names: every user-named entry matches NAME_PATTERN up to the end of the text (\Z, not $)
    ("cohort-name-with-final-newline", CONFIG, "  ghent:\n", '  "ghent\\n":\n', '"ghent\\n":',
     "{file}, line {line}: key `cohorts.'ghent\\n'`: 'ghent\\n'" + BAD_NAME),
    ("cohort-name-with-html", CONFIG, "  rotterdam:\n", '  "r<img src=x onerror=alert(1)>":\n', "<img",
     "{file}, line {line}: key `cohorts.'r<img src=x onerror=alert(1)>'`: `r<img src=x onerror=alert(1)>`" + BAD_NAME),
    ("cohort-name-unicode", CONFIG, "  ghent:\n", "  gënt:\n", "gënt:",
     "{file}, line {line}: key `cohorts.gënt`: `gënt`" + BAD_NAME),
    ("cohort-name-rst-reference", CONFIG, "  ghent:\n", "  ghent_:\n", "ghent_:",
     "{file}, line {line}: key `cohorts.ghent_`: `ghent_`" + BAD_NAME),
    ("window-name-rst-directive", CONFIG, "windows: {t3: [0, 3],", 'windows: {".. raw:: html": [0, 3],', "windows:",
     "{file}, line {line}: key `preparation.hpa.windows.'.. raw:: html'`: `.. raw:: html`" + BAD_NAME),
    ("cns-measure-name-upper-case", CONFIG, "      hippocampus_volume: {", "      Hippocampus_volume: {",
     "Hippocampus_volume",
     "{file}, line {line}: key `preparation.cns.measures.Hippocampus_volume`: `Hippocampus_volume`" + BAD_NAME),
    ("covariate-with-newline", CONFIG, "covariates: [maternal_age, bmi,", 'covariates: ["maternal_age\\n", bmi,',
     'covariates: ["maternal_age', "{file}, line {line}: key `covariates.0`: 'maternal_age\\n'" + BAD_REF),
    ("covariate-rst-directive", CONFIG, "covariates: [maternal_age, bmi,", f"covariates: [{RAW_HTML}, bmi,",
     'covariates: [".. raw', "{file}, line {line}: key `covariates.0`: " + RAW_HTML_SHOWN + BAD_REF),
    ("mediation-exposure-script", CONFIG, "- {exposure: resilience, mediator: telomere_ts_ln",
     '- {exposure: "<script>x()</script>", mediator: telomere_ts_ln', "<script>",
     "{file}, line {line}: key `mediation.paths.1.exposure`: `<script>x()</script>`" + BAD_REF),
    ("data-schema-variable-rst-directive", SCHEMA, "smoking: {label: Smoking during pregnancy, type: binary}",
     f"{RAW_HTML}: {{label: Smoking during pregnancy, type: binary}}", ".. raw::",
     "{file}, line {line}: key `" + RAW_HTML_SHOWN + "`: " + RAW_HTML_SHOWN + f" is not a valid name for a "
     f"harmonised variable: {NAME_RULE}. Names "
     "become column names, file names and report text; rename it (and its uses in the config and mapping files)."),
    ("mapping-variable-name-newline", GHENT, "  parity: {rule: direct, column: parity}",
     '  "parity\\n": {rule: direct, column: parity}', '"parity\\n"',
     "{file}, line {line}: key `variables.'parity\\n'`: 'parity\\n'" + BAD_NAME),
    ("path-with-newline", CONFIG, "harmonised_variables: resources/harmonised_variables.yaml",
     'harmonised_variables: "resources/harmonised_variables.yaml\\n.. raw:: html"', "harmonised_variables:",
     "{file}, line {line}: key `harmonised_variables`: 'resources/harmonised_variables.yaml\\n.. raw:: html' is "
     "not valid here; expected a file or folder path: one line, no control characters, no braces (Snakemake's "
     "wildcards)."),
    ("data-schema-label-cut-at-comma", SCHEMA, "smoking: {label: Smoking during pregnancy, type: binary}",
     "smoking: {label: Smoking, during pregnancy, type: binary}", "smoking: {label: Smoking,",
     "{file}, line {line}: key `smoking.'during pregnancy'`: `during pregnancy` is not a key of a harmonised "
     "variable (they are label, type, unit, min, max, categories). A key without a value often is the rest of a "
     'label cut at a comma: in a `{{...}}` mapping, quote a label that holds a comma (label: "...").'),
    # -- labels: free text, but one line of safe characters; never `$` (math text in figures)
    ("cohort-label-mathtext", CONFIG, "    label: Ghent\n", "    label: Ghent $\\alpha^2$\n", "Ghent $",
     "{file}, line {line}: key `cohorts.ghent.label`: `Ghent $\\alpha^2$`"
     + _label("the character '$' (U+0024, DOLLAR SIGN) is not allowed (it would switch figure text to math mode)")),
    ("mechanism-label-raw-directive", CONFIG, "    label: Immune system\n",
     '    label: "Immune\\n\\n.. raw:: html\\n\\n   <script>x()</script>"\n', "label: \"Immune",
     "{file}, line {line}: key `mechanisms.immune.label`: 'Immune\\n\\n.. raw:: html\\n\\n   <script>x()</script>'"
     + _label("the character '\\n' (U+000A, a control character) is not allowed (a label is one line)")),
    ("cns-unit-backslash", CONFIG, "unit: Fisher z,", "unit: Fisher \\z,", "Fisher \\z",
     "{file}, line {line}: key `preparation.cns.measures.dmn_connectivity.unit`: `Fisher \\z`"
     + _label("the character '\\\\' (U+005C, REVERSE SOLIDUS) is not allowed (an escape character in the report)",
              "unit")),
    ("data-schema-label-bidi", SCHEMA, "{label: Parity (previous births),", "{label: \"Parity \\u202e(previous)\",",
     "label: \"Parity", "{file}, line {line}: key `parity.label`: 'Parity \\u202e(previous)'"
     + _label("the character '\\u202e' (U+202E, RIGHT-TO-LEFT OVERRIDE) is not allowed")),
    ("highdim-unknown-mediators", CONFIG, "mediators: metabolites, latent", "mediators: metabolome, latent",
     "mediators: metabolome", "{file}, line {line}: key `mediation.high_dimensional.1.mediators`: `metabolome` is not "
     "among `mechanisms`; the candidates are `methylation` (the epigenome-wide CpGs) or the biomarkers of a declared "
     "mechanism (hpa, telomeres, methylation, metabolites, immune, mitochondria, epigenetic_age, microbiome, cns, "
     "growth)."),
    ("longitudinal-hpa-growth-score", CONFIG, "    exposures: [ses_index, epds]\n    random_slope: false",
     "    scores: [wlz]\n    exposures: [ses_index, epds]\n    random_slope: false", "scores: [wlz]",
     "{file}, line {line}: key `longitudinal.hpa.scores.0`: `wlz` is not a repeated measure of `hpa`; expected one "
     "of hair_cortisol_ln."),
    ("mapping-label-dollar", GHENT, "label: Ghent (Flemish-style demo cohort)", "label: Ghent $5$", "label: Ghent",
     "{file}, line {line}: key `label`: `Ghent $5$`"
     + _label("the character '$' (U+0024, DOLLAR SIGN) is not allowed (it would switch figure text to math mode)")),
]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the demo's config, mappings, data schema and maps; cwd is its root."""
    demo_config_copy(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _edit(project: Path, rel: str, old: str, new: str) -> str:
    text = (project / rel).read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {rel}"
    text = text.replace(old, new, 1)
    (project / rel).write_text(text, encoding="utf-8")
    return text


def _line(text: str, at: str) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if at in line]
    assert lines, f"{at!r} not found"
    return lines[-1]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_refused_with_one_exact_message(project, capsys, case):
    _, rel, old, new, at, expected = case
    text = _edit(project, rel, old, new)
    message = expected.format(file=rel, line=_line(text, at))
    started = time.perf_counter()
    assert main(["check-config", CONFIG]) == 1
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert err == f"first1000: error: {message}\n"
    assert "Traceback" not in err and err.count("\n") == 1
    assert not (project / "results").exists()
    assert elapsed < 5  # nothing hangs (the alias bomb: see the next test)


def test_case_corpus_is_large_and_covers_every_file():
    assert len(CASES) >= 30
    assert {case[1] for case in CASES} == {CONFIG, GHENT, SCHEMA, FLANDERS}


def test_alias_bomb_is_refused_in_well_under_a_second(tmp_path):
    path = tmp_path / "bomb.yaml"
    levels = 30  # 9**30 values once expanded
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=rf"^{path}, line 5: key `a4.0`: the YAML aliases"):
        load_yaml(path)
    assert time.perf_counter() - started < 0.5


def test_a_few_aliases_are_fine(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("base: &cov [maternal_age, bmi]\nother: *cov\nmerged: {<<: {a: 1}, b: 2}\n", encoding="utf-8")
    assert load_yaml(path) == {"base": ["maternal_age", "bmi"], "other": ["maternal_age", "bmi"],
                               "merged": {"a": 1, "b": 2}}


def test_yaml_12_booleans(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text("map: {yes: 1, no: 0, on: 2, off: 3, y: 4, n: 5, Yes: 6}\nflags: [true, false, True, FALSE]\n"
                    "answers: [yes, no]\n", encoding="utf-8")
    assert load_yaml(path) == {"map": {"yes": 1, "no": 0, "on": 2, "off": 3, "y": 4, "n": 5, "Yes": 6},
                               "flags": [True, False, True, False], "answers": ["yes", "no"]}


def test_yes_no_map_recodes_questionnaire_answers_end_to_end(project):
    """`map: {yes: 1, no: 0}` maps the answers "yes" and "no" (YAML 1.1 made them True/False,
    and the message then asked to add the categories that were already there)."""
    from first1000.stages.ingest import cohort_participants

    source = project / "resources/demo/ghent/participants.csv"
    rows = source.read_text(encoding="utf-8").splitlines(keepends=True)[:31]
    header = rows[0].rstrip("\n").split(",")
    col = header.index("smoking_pregnancy")
    out = [rows[0]]
    for row in rows[1:]:
        cells = row.rstrip("\n").split(",")
        cells[col] = {"ja": "yes", "nee": "no"}[cells[col]]
        out.append(",".join(cells) + "\n")
    small = project / "participants_yes_no.csv"
    small.write_text("".join(out), encoding="utf-8")
    _edit(project, GHENT, "path: resources/demo/ghent/participants.csv", f"path: {small}")
    _edit(project, GHENT, "map: {ja: 1, nee: 0}", "map: {yes: 1, no: 0}")
    schema = yaml.safe_load((project / SCHEMA).read_text(encoding="utf-8"))
    mapping = load_mapping(GHENT, schema, "ghent")
    assert mapping["variables"]["smoking"]["map"] == {"yes": 1, "no": 0}
    mapping["tables"] = {"participants": mapping["tables"]["participants"]}
    participants, report, categories, _ = cohort_participants("ghent", mapping, schema, b"k" * 32)
    expected = [1.0 if r.split(",")[col] == "yes" else 0.0 for r in out[1:]]
    assert participants["smoking"].astype(float).tolist() == expected
    assert not (project / "results").exists()


def test_snakemake_loaded_config_gets_the_same_number_checks():
    """A config Snakemake loaded (a dict) is checked for non-finite numbers too."""
    cfg = yaml.safe_load((ROOT / CONFIG).read_text(encoding="utf-8"))
    cfg["preparation"]["hpa"]["loq"] = float("nan")
    with pytest.raises(ConfigError, match=r"^config key `preparation\.hpa\.loq`: `nan` is not a finite number"):
        load_config(cfg)
    cfg = yaml.safe_load((ROOT / CONFIG).read_text(encoding="utf-8"))
    shared = ["x"] * 9
    for _ in range(8):
        shared = [shared] * 9
    cfg["covariates"] = shared
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^config key `\(top level\)`: the config repeats more than 10000 values"):
        load_config(cfg)
    assert time.perf_counter() - started < 1


@pytest.mark.slow
@pytest.mark.parametrize("edit", ["duplicate", "bomb", "yes"])
def test_snakemake_reads_its_config_file_through_the_safe_loader(tmp_path, edit):
    """`snakemake --configfile` validates the file itself (workflow/rules/common.smk hands
    its path to preflight): a duplicate key, an alias bomb or `yes` for a boolean stop the
    parse with first1000's message, in seconds, before any job or results/."""
    from workflow_runs import run_snakemake, workdir_copy

    workdir = workdir_copy(tmp_path / "wf")
    text = (workdir / CONFIG).read_text(encoding="utf-8")
    old, new, at, message = {
        "duplicate": ("fdr: 0.05\n", "fdr: 0.05\nfdr: 0.5\n", "fdr: 0.5",
                      "key `fdr` is given twice (first at line 5); YAML would silently keep only the last value. "
                      "Keep one of them."),
        "bomb": ("covariates: [maternal_age, bmi, parity, smoking, child_sex]", BOMB, "  - &e [",
                 f"key `covariates.4.0`: the YAML aliases (`*name`) of this file repeat more than {ALIAS_BUDGET} "
                 "values (an alias bomb makes YAML readers hang); first1000 refuses such files: write the values "
                 "out or use fewer aliases."),
        "yes": ("  remove_outliers: true", "  remove_outliers: yes", "remove_outliers: yes",
                "key `epigenome_wide.remove_outliers`: expected boolean, got str `yes`. Write `true` or `false`: "
                "first1000 reads YAML 1.2, where yes/no/on/off are text, not booleans."),
    }[edit]
    text = text.replace(old, new, 1)
    (workdir / "bad.yaml").write_text(text, encoding="utf-8")
    started = time.perf_counter()
    result = run_snakemake(workdir, "-n", "--cores", "1", "--configfile", "bad.yaml", timeout=300)
    assert result.returncode == 1
    assert f"first1000: error: bad.yaml, line {_line(text, at)}: {message}\n" in result.stderr
    assert time.perf_counter() - started < 120
    assert not (workdir / "results").exists()


def test_snakemake_config_is_the_file_itself_or_checked_files(project):
    from first1000.config import snakemake_config

    loaded = {"seed": 1}
    assert snakemake_config([project / CONFIG], {}, loaded) == Path(CONFIG)  # relative: messages name it so
    assert snakemake_config([CONFIG, CONFIG], {}, loaded) is loaded
    assert snakemake_config([project / CONFIG], {"seed": 2}, loaded) is loaded
    _edit(project, GHENT, "label: Ghent", "label: Ghent\nlabel: Gent")
    with pytest.raises(ConfigError, match=r"^config/cohorts/ghent\.yaml, line 4: key `label` is given twice"):
        snakemake_config([CONFIG, GHENT], {"seed": 2}, loaded)


@pytest.mark.parametrize("text, fragment", [
    ("seed: 2024-02-30\n", "day is out of range for month"),
    ("seed: " + "9" * 5000 + "\n", "Exceeds the limit"),
])
def test_a_value_python_cannot_hold_is_one_message(tmp_path, text, fragment):
    from first1000.config import load_yaml

    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_yaml(path)
    assert str(err.value).startswith(f"{path}: a value cannot be read (") and fragment in str(err.value)
    assert "quote dates and very long numbers" in str(err.value)


@pytest.mark.parametrize("key, value, message", [
    ("encoding", "rot13", "`rot13` is not a text encoding first1000 reads"),
    ("encoding", "hex", "`hex` is not a text encoding first1000 reads"),
    ("encoding", "klingon", "unknown encoding `klingon` declared for this table"),
    ("delimiter", " ", "tables.participants.delimiter"),
    ("path", "resources/demo/ghent/participants{v2}.csv", "tables.participants.path"),
    ("path", "resources/demo/ghent/participants\nfirst1000: all checks passed.csv", "tables.participants.path"),
])
def test_a_table_spec_snakemake_or_python_would_misread_is_refused(tmp_path, key, value, message):
    """Braces in a path are Snakemake wildcards (the job would declare another file than the
    one checked), control characters fake lines of output, a delimiter or codec first1000
    does not read (``rot13``, ``hex``) crashed the reader: one message naming the key."""
    from workflow_runs import demo_config_copy

    demo_config_copy(tmp_path)
    mapping_path = tmp_path / "config/cohorts/ghent.yaml"
    mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
    mapping["tables"]["participants"][key] = value
    mapping_path.write_text(yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True), encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(ConfigError) as err:
            load_config("config/config.yaml")
    finally:
        os.chdir(cwd)
    assert message in str(err.value).replace("`", "").replace("'", "") or message in str(err.value), str(err.value)
    assert "config/cohorts/ghent.yaml" in str(err.value)


def test_a_pipe_or_device_named_as_a_yaml_or_key_file_is_refused_at_once(tmp_path):
    """A FIFO would block the reader for ever and /dev/zero never end: refused before any
    read, naming the file."""
    from first1000.keys import read_key

    fifo = tmp_path / "mapping.yaml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(ConfigError, match=r"not a regular file \(a folder, device or pipe\)"):
            load_yaml(path)
    key = tmp_path / "pseudonym.key"
    os.mkfifo(key)
    with pytest.raises(ConfigError, match="is not a regular file"):
        read_key(key)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" + b"#" * (17 << 20))
    with pytest.raises(ConfigError, match="more than a config or mapping file holds"):
        load_yaml(big)


def test_a_whole_number_larger_than_any_setting_is_refused_by_the_loader(tmp_path):
    """A 400-digit `min` ended check-config in an OverflowError traceback."""
    path = tmp_path / "config.yaml"
    path.write_text("study_variables:\n  foo:\n    min: " + "9" * 400 + "\n    max: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 3: key `study_variables.foo.min`: a whole number of 400 characters "
                                          r"is larger than any setting takes"):
        load_yaml(path)
    path.write_text("seed: 9223372036854775807\n", encoding="utf-8")
    assert load_yaml(path) == {"seed": 2**63 - 1}


@pytest.mark.parametrize("value", ["$\\frac{a$", "@x\nnewline", "a {b}"])
def test_a_harmonised_category_follows_the_label_rule(tmp_path, value):
    """A recode's harmonised values become table rows and figure legends: the label rule
    (no `$` math text, which broke a figure job after other results were written, no
    control characters, no braces) applies to them, naming the key."""
    demo_config_copy(tmp_path)
    mapping_path = tmp_path / "config/cohorts/ghent.yaml"
    mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
    name, rule = next((n, r) for n, r in mapping["variables"].items()
                      if r.get("rule") == "recode" and isinstance(r.get("map"), dict)
                      and any(isinstance(v, str) for v in r["map"].values()))
    key = next(k for k, v in rule["map"].items() if isinstance(v, str))
    rule["map"][key] = value
    mapping_path.write_text(yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_mapping(mapping_path, load_config(ROOT / "config/config.yaml")["_data_schema"], "ghent")
    assert f"key `variables.{name}.map`" in str(err.value) and "is not a valid category" in str(err.value)
