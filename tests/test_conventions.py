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
