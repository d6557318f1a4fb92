"""Nothing in a config runs code: every string field of the config and the mapping files
is replaced, one at a time, by code that would create a marker file if evaluated."""

from __future__ import annotations

import copy

import pytest
import yaml

from first1000.config import load_config
from first1000.errors import First1000Error
from first1000.stages.ingest import cohort_participants as ingest_participants

from workflow_runs import ROOT

#: Each case runs the workflow's parse (a dry run) on a copy of the repository.
pytestmark = pytest.mark.slow

PAYLOADS = [
    "__import__('os').system('touch {marker}')",
    "@__import__('os').system('touch {marker}')",
    "{{ __import__('os').system('touch {marker}') }}",
    "!!python/object/apply:os.system ['touch {marker}']",
]


def _string_leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _string_leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _string_leaves(value, (*path, i))
    elif isinstance(node, str):
        yield path


def _set(node, path, value):
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _try(config, marker, ingest: bool):
    """Load the config (where config strings are interpreted) and, for mapping files, apply
    the mapping to the cohort's participants table (where mapping strings are used)."""
    try:
        cfg = load_config(config)
        if ingest:
            for cohort, spec in cfg["cohorts"].items():
                ingest_participants(cohort, spec["_mapping"], cfg["_data_schema"], b"k")
    except First1000Error:
        pass
    assert not marker.exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_code_in_any_config_string_never_runs(tmp_path, payload):
    marker = tmp_path / "pwned"
    text = payload.format(marker=marker)
    base = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    leaves = list(_string_leaves(base))
    assert len(leaves) > 40
    for path in leaves:
        config = copy.deepcopy(base)
        _set(config, path, text)
        _try(config, marker, ingest=False)


@pytest.mark.parametrize("cohort", ["ghent", "rotterdam"])
def test_code_in_any_mapping_string_never_runs(tmp_path, cohort):
    marker = tmp_path / "pwned"
    text = PAYLOADS[0].format(marker=marker)
    base_config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    mapping = yaml.safe_load((ROOT / f"config/cohorts/{cohort}.yaml").read_text())
    # A 30-row copy of the participants table keeps the 100+ ingests fast.
    source = ROOT / mapping["tables"]["participants"]["path"]
    small = tmp_path / source.name
    small.write_text("".join(source.read_text(encoding="utf-8").splitlines(keepends=True)[:31]), encoding="utf-8")
    mapping["tables"] = {"participants": dict(mapping["tables"]["participants"], path=str(small))}
    leaves = list(_string_leaves(mapping))
    assert len(leaves) > 35
    for i, path in enumerate(leaves):
        bad = copy.deepcopy(mapping)
        _set(bad, path, text)
        mapping_file = tmp_path / f"{cohort}_{i}.yaml"
        mapping_file.write_text(yaml.safe_dump(bad, allow_unicode=True))
        config = copy.deepcopy(base_config)
        config["cohorts"] = {cohort: {"mapping": str(mapping_file)}}
        _try(config, marker, ingest=True)


def test_a_yte_template_never_reaches_snakemake(tmp_path):
    """Snakemake evaluates the `?` expressions of a config marked `__use_yte__` when it
    loads it; the workflow's default config and the config `first1000 run` / `report`
    pass are read by first1000's loader first and refused, before anything runs."""
    import os
    import subprocess
    import sys

    from workflow_runs import run_snakemake, workdir_copy

    work = workdir_copy(tmp_path / "run")
    marker = tmp_path / "pwned"
    config = work / "config/config.yaml"
    text = config.read_text(encoding="utf-8").replace(
        "seed: 20261128\n", f"__use_yte__: true\nseed: ?open({str(marker)!r}, 'w').write('x')\n", 1)
    assert "__use_yte__" in text
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(text, encoding="utf-8")
    config.write_text(text, encoding="utf-8")
    dry = run_snakemake(work, "--dry-run")
    assert dry.returncode != 0 and not marker.exists()
    assert "first1000: error: config/config.yaml, line" in dry.stderr and "__use_yte__" in dry.stderr, dry.stderr[-2000:]
    for command in (["run", "--configfile", str(hostile)], ["report", "--configfile", str(hostile)]):
        cli = subprocess.run([sys.executable, "-m", "first1000.cli", *command], cwd=work, capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": str(work / "src")}, timeout=120)
        assert cli.returncode == 1 and not marker.exists(), cli.stderr[-2000:]
        assert f"first1000: error: {hostile}, line" in cli.stderr and "__use_yte__" in cli.stderr
