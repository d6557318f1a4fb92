"""What each job reads: its rule's params (the config slice, built by first1000.stages.*)
and its input files. The edit list of tests/config_edits.py covers every config key; here
each params edit must change the params of the jobs that read the key, on every job of the
demo's DAG, and an edit that changes nothing a job reads must change no job's params."""

from __future__ import annotations

import copy
import importlib
import inspect
import re
from pathlib import Path

import pytest
import yaml

from config_edits import EDITS, NOT_EDITED, PARAMS_EDITS, edited, planned_jobs, schema_keys
from first1000.config import load_config
from workflow_runs import ROOT, run_snakemake, workdir_copy

STAGE_MODULES = ["ingest", "harmonise", "prepare", "analyse", "modification", "export", "sites", "ewas", "figures", "longitudinal",
                 "provenance"]


def builder_of(rule: str):
    """The params builder of a rule: ``<rule>_params`` in its stage module."""
    for name in STAGE_MODULES:
        module = importlib.import_module(f"first1000.stages.{name}")
        if hasattr(module, f"{rule}_params"):
            return getattr(module, f"{rule}_params"), getattr(module, rule)
    raise AssertionError(f"rule {rule}: no {rule}_params in first1000.stages")


def job_params(cfg: dict, jobs) -> dict:
    out = {}
    for rule, wildcards in jobs:
        build, _ = builder_of(rule)
        key = (rule, tuple(sorted(wildcards.items())))
        try:
            out[key] = repr(build(cfg, "commit", **wildcards) if rule == "provenance" else build(cfg, **wildcards))
        except (KeyError, IndexError, ValueError) as exc:  # the job no longer exists under this config
            out[key] = f"gone: {type(exc).__name__}"
    return out


@pytest.fixture(scope="module")
def demo_jobs(tmp_path_factory):
    """Every job of the demo's DAG, as `snakemake --dry-run` lists it."""
    workdir = workdir_copy(tmp_path_factory.mktemp("dag"))
    dry = run_snakemake(workdir, "--dry-run")
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = planned_jobs(dry.stdout + dry.stderr)
    assert len(jobs) > 90
    return jobs


@pytest.fixture(scope="module")
def raw_demo():
    return yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def base_params(demo_jobs, raw_demo):
    return job_params(load_config(raw_demo), demo_jobs)


def test_every_config_key_has_an_edit():
    keys = schema_keys()
    covered = {k for e in EDITS for k in e.keys} | {k for e in PARAMS_EDITS for k in e.keys} | set(NOT_EDITED)
    assert not keys - covered, f"config keys without an edit or a reason (tests/config_edits.py): {sorted(keys - covered)}"
    assert not covered - keys, f"edits of keys the schema does not have: {sorted(covered - keys)}"
    assert len(EDITS) >= 15


def test_every_rule_has_a_params_builder_and_a_stage(demo_jobs):
    cfg = load_config(ROOT / "config/config.yaml")
    for rule in sorted({rule for rule, _ in demo_jobs}):
        build, stage = builder_of(rule)
        signature = inspect.signature(stage)
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values()), rule
        wildcards = next(w for r, w in demo_jobs if r == rule)
        settings = build(cfg, "commit", **wildcards) if rule == "provenance" else build(cfg, **wildcards)
        assert set(settings) <= set(signature.parameters), (rule, set(settings) - set(signature.parameters))


@pytest.mark.parametrize("params_edit", PARAMS_EDITS, ids=[e.keys[0] for e in PARAMS_EDITS])
def test_an_edit_changes_the_params_of_the_jobs_that_read_it(params_edit, demo_jobs, raw_demo, base_params):
    base = base_params
    after = job_params(load_config(edited(raw_demo, params_edit)), demo_jobs)
    changed = {rule for (rule, _), value in after.items() if base[(rule, _)] != value}
    assert set(params_edit.rules) <= changed, (params_edit.keys, sorted(changed))
    assert "provenance" in changed  # the config as run


def test_moving_keys_within_their_section_changes_no_params(demo_jobs, raw_demo, base_params):
    moved = copy.deepcopy(raw_demo)
    moved = {k: moved[k] for k in reversed(list(moved))}  # top-level sections in another order
    for section in ("mediation", "privacy", "epigenome_wide", "missing_data", "effect_modification"):
        moved[section] = {k: moved[section][k] for k in reversed(list(moved[section]))}
    moved["preparation"]["hpa"] = {k: moved["preparation"]["hpa"][k] for k in reversed(list(moved["preparation"]["hpa"]))}
    assert list(moved) != list(raw_demo)
    assert job_params(load_config(moved), demo_jobs) == base_params


def test_scripts_pass_input_output_params_and_log_only():
    scripts = sorted((ROOT / "workflow/scripts").glob("*.py"))
    rules = re.findall(r'script:\n\s+"../scripts/(\w+)\.py"', "".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "workflow/rules").glob("*.smk")))
    assert sorted(rules) == sorted(p.stem for p in scripts)
    for script in scripts:
        module = next(m for m in STAGE_MODULES if hasattr(importlib.import_module(f"first1000.stages.{m}"), script.stem))
        assert script.read_text(encoding="utf-8") == (
            f"from first1000.stages import run\nfrom first1000.stages.{module} import {script.stem}\n\n"
            f"run({script.stem}, snakemake.input, snakemake.output, snakemake.params, snakemake.log)\n"), script.name


def test_every_rule_takes_its_settings_from_its_builder():
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "workflow/rules").glob("*.smk")))
    for block in re.split(r"\n(?=rule \w+:)", text)[1:]:
        rule = re.match(r"rule (\w+):", block).group(1)
        if rule == "all":
            continue
        params = re.search(r"    params:\n((?:        .*\n)+)", block)
        assert params, f"rule {rule} has no params"
        lines = [line.strip() for line in params.group(1).splitlines()]
        expected = r"settings=provenance_settings," if rule == "provenance" else rf"settings=params_of\(\w+\.{rule}_params\),"
        # and the software versions, a rerun trigger (first1000.stages.provenance.software_trigger)
        assert len(lines) == 2 and re.fullmatch(expected, lines[0]) and lines[1] == "software=SOFTWARE,", (rule, lines)


def test_software_trigger_changes_with_any_version(monkeypatch):
    """The param every rule carries names each package's version and Python's: an upgrade
    changes it, so Snakemake reruns every job. The machine (platform, BLAS kernels) is in
    the provenance's versions.tsv, not in the trigger: Snakemake's main process is not
    where a cluster's jobs compute."""
    import platform

    from first1000.stages import provenance

    before = provenance.software_trigger()
    assert before.startswith("first1000 ") and ", pandas " in before and ", python 3." in before
    assert len(before.split(", ")) == len(provenance.PACKAGES) + 1
    assert "BLAS" not in before and "platform" not in before
    real = provenance.metadata.version
    monkeypatch.setattr(provenance.metadata, "version",
                        lambda name: "99.0" if name == "statsmodels" else real(name))
    after = provenance.software_trigger()
    assert after != before and "statsmodels 99.0" in after
    assert after.replace("statsmodels 99.0", f"statsmodels {real('statsmodels')}") == before
    rows = provenance.machine_rows()
    assert rows[0] == {"package": "platform",
                       "version": f"{platform.system()} {platform.machine()}, {' '.join(platform.libc_ver())}"}
    blas = {row["package"]: row["version"] for row in rows[1:]}
    assert set(blas) == {"BLAS of numpy", "BLAS of scipy"}  # this project's pip wheels bundle OpenBLAS each
    assert all(re.fullmatch(r"openblas \S+ \(\w+ kernels\)", v) for v in blas.values()), blas


def test_machine_rows_name_a_blas_outside_the_wheels_folders(monkeypatch):
    """conda or a system numpy: the library is named by its file (the review found the
    trigger's first version said "none found" there)."""
    from types import SimpleNamespace

    from first1000.stages import provenance
    from first1000.stats import blas

    lib = SimpleNamespace(user_api="blas", internal_api="openblas", version="0.3.28", architecture="Haswell",
                          filepath="/opt/conda/lib/libopenblasp-r0.3.28.so")
    monkeypatch.setattr(blas, "_controller", lambda: SimpleNamespace(lib_controllers=[lib]))
    assert provenance.machine_rows()[1:] == [{"package": "BLAS of libopenblasp-r0.3.28.so",
                                              "version": "openblas 0.3.28 (Haswell kernels)"}]


def test_packaged_tables_a_job_reads_are_declared_inputs(raw_demo):
    """The INTERGROWTH-21st LMS table (birth-weight z, SGA, LGA) and the clock's
    coefficients and reference medians are inputs of the jobs that read them."""
    from first1000.harmonise.mapping import LMS_OPERATIONS, OPERATIONS
    from first1000.stages import ingest, prepare

    assert LMS_OPERATIONS <= set(OPERATIONS)
    cfg = load_config(raw_demo)
    for cohort in cfg["cohorts"]:
        inputs = ingest.ingest_participants_inputs(cfg, cohort)
        params = ingest.ingest_participants_params(cfg, cohort)
        assert "src/first1000/data/intergrowth/newborn_lms.csv" in inputs["definitions"], cohort
        assert params["mapping"]["_lms_table"] == "src/first1000/data/intergrowth/newborn_lms.csv"
    clock = prepare.prepare_inputs(cfg, "epigenetic_age")["definitions"]
    assert clock == ["src/first1000/data/clocks/Knight.csv",
                     "src/first1000/data/clocks/reference_medians_sesame_450k.csv"]
    mean = copy.deepcopy(raw_demo)
    mean["preparation"]["epigenetic_age"] = {"clock": "horvath2013", "impute": "mean"}
    assert prepare.prepare_inputs(load_config(mean), "epigenetic_age")["definitions"] == [
        "src/first1000/data/clocks/Horvath1.csv"]
    assert "definitions" not in prepare.prepare_inputs(cfg, "immune")
    # the WHO 2006 tables of the child follow-up's growth z-scores
    for cohort in cfg["cohorts"]:
        followup = ingest.ingest_table_inputs(cfg, cohort, "child_followup")["definitions"]
        assert followup == [f"src/first1000/data/who2006/{name}anthro.txt"
                            for name in ("bmi", "hc", "len", "wei", "wfh", "wfl")], cohort
        assert "definitions" not in ingest.ingest_table_inputs(cfg, cohort, "hair_cortisol")


def test_moving_keys_of_a_mapping_table_changes_no_params(tmp_path, raw_demo):
    """The mapping's tables are ``$ref``s to one definition: their keys are put in its order too."""
    from first1000.config import load_data_schema, load_mapping

    schema = load_data_schema(ROOT / "resources/harmonised_variables.yaml")
    source = yaml.safe_load((ROOT / "config/cohorts/ghent.yaml").read_text(encoding="utf-8"))
    moved = copy.deepcopy(source)
    for name, table in moved["tables"].items():
        moved["tables"][name] = {k: table[k] for k in reversed(list(table))}
    assert list(moved["tables"]["hair_cortisol"]) != list(source["tables"]["hair_cortisol"])
    paths = []
    for name, mapping in (("source.yaml", source), ("moved.yaml", moved)):
        paths.append(tmp_path / name)
        paths[-1].write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        a, b = (load_mapping(p, schema, "ghent") for p in paths)
    assert repr(a["tables"]) == repr(b["tables"])


def test_an_edit_of_the_high_dimensional_paths_leaves_the_bootstrap_mediation_alone(demo_config):
    """The review's case: `mediation.high_dimensional` rode in the `mediate` jobs' settings,
    so an edit of a HIMA path's `top` reran every bootstrap mediation (the longest jobs),
    which never read it (that the HIMA jobs' params change: the params edits above)."""
    import copy

    from first1000.stages.analyse import mediate_params

    edited = copy.deepcopy(demo_config)
    edited["mediation"]["high_dimensional"][0]["top"] = 20
    for mechanism in ("hpa", "methylation"):
        assert mediate_params(edited, mechanism) == mediate_params(demo_config, mechanism)
    assert "high_dimensional" not in mediate_params(demo_config, "hpa")["settings"]
    assert "n_boot" in mediate_params(demo_config, "hpa")["settings"]


def test_a_change_of_first1000_s_code_changes_the_software_trigger(tmp_path):
    """The version number of a development checkout stays the same across commits: the
    trigger carries a digest of the package's files, so a pulled change reruns the jobs
    (and versions.tsv names the code that made them); bytecode caches do not count."""
    import shutil

    from first1000.stages import provenance

    package = Path(provenance.__file__).resolve().parents[1]
    copy = tmp_path / "first1000"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert provenance.code_digest(copy) == provenance.code_digest(package)
    assert f"(code {provenance.code_digest()})" in provenance.software_trigger()
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"cache")
    assert provenance.code_digest(copy) == provenance.code_digest(package)
    # a packaged reference table is an input of the jobs that read it, not code
    who = copy / "data" / "who2006" / "weianthro.txt"
    who.write_text(who.read_text() + "\n")
    assert provenance.code_digest(copy) == provenance.code_digest(package)
    # files beside the code (an editor's swap file, macOS's .DS_Store, a tool's cache, a
    # patch's leftovers) reran every job
    (copy / "stages" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (copy / "stats" / ".meta.py.swp").write_bytes(b"b0VIM 9.0")
    (copy / ".mypy_cache").mkdir()
    (copy / ".mypy_cache" / "x.json").write_text("{}")
    (copy / "stats" / "meta.py.orig").write_text("old")
    assert provenance.code_digest(copy) == provenance.code_digest(package)
    schema = copy / "schemas" / "config.schema.yaml"
    schema.write_text(schema.read_text() + "\n# a change\n")
    assert provenance.code_digest(copy) != provenance.code_digest(package)
    schema.write_text(schema.read_text()[: -len("\n# a change\n")])
    assert provenance.code_digest(copy) == provenance.code_digest(package)
    stats = copy / "stats" / "meta.py"
    stats.write_text(stats.read_text() + "\n# a change\n")
    assert provenance.code_digest(copy) != provenance.code_digest(package)
