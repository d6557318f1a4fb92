"""The project's conventions: one version everywhere (pyproject, the package, CITATION.cff,
the changelog's latest release), a license, and `first1000 --version`."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

import first1000
from first1000.cli import main

from workflow_runs import ROOT


def test_one_version_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$",
                          (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), flags=re.M)
    assert project["version"] == first1000.__version__ == citation["version"] == releases[0][0]
    assert citation["date-released"] == releases[0][1]
    assert project["license"] == citation["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"first1000 {first1000.__version__}\n"


def test_the_conda_environment_pins_every_runtime_dependency():
    """`snakemake --sdm conda` builds workflow/envs/first1000.yaml: it must hold every direct
    dependency of pyproject.toml at the same pin (python-docx was once missing, which would
    have failed the publication tables job under conda)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "workflow/envs/first1000.yaml").read_text(encoding="utf-8"))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(p for p in pip if "==" in p) == sorted(deps)


def test_the_workflow_catalogue_layout():
    """The Snakemake workflow catalogue's standardised usage: workflow/Snakefile (the top-level
    Snakefile only includes it), config/README.md and .snakemake-workflow-catalog.yml."""
    top = (ROOT / "Snakefile").read_text(encoding="utf-8")
    assert 'workflow.include("workflow/Snakefile", overwrite_default_target=True)' in top
    assert not [line for line in top.splitlines() if line.startswith(("rule ", "include:"))]
    assert "rule all:" in (ROOT / "workflow/Snakefile").read_text(encoding="utf-8")
    assert (ROOT / "config/README.md").is_file()
    usage = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text(encoding="utf-8"))["usage"]
    assert usage["software-stack-deployment"]["conda"] is True and usage["report"] is True
