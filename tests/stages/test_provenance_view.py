"""The provenance readable in the report, and the uncommitted-changes flag."""

from __future__ import annotations

import json
import subprocess

from first1000.stages.provenance import git_commit, git_dirty, provenance_view


def test_the_page_shows_commit_dirty_flag_versions_config_and_checksums_escaped(tmp_path):
    (tmp_path / "c.yaml").write_text("seed: 7\nfdr: 0.05\n", encoding="utf-8")
    (tmp_path / "k.tsv").write_text("file\tbytes\tsha256\ndata/<script>.csv\t3\tabc123\n", encoding="utf-8")
    (tmp_path / "v.tsv").write_text("package\tversion\npandas\t3.1.1\n", encoding="utf-8")
    (tmp_path / "r.json").write_text(json.dumps({"seed": 7, "fdr": 0.05, "git_commit": "f00d", "git_dirty": True,
                                                 "key_fingerprint": "a1b2c3"}))
    provenance_view(config_out=tmp_path / "c.yaml", checksums=tmp_path / "k.tsv", versions=tmp_path / "v.tsv",
                    run_info=tmp_path / "r.json", output=tmp_path / "p.html")
    page = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert "<th>git commit</th><td>f00d</td>" in page
    assert "<th>pseudonym key (fingerprint)</th><td>a1b2c3</td>" in page
    assert "<th>uncommitted changes</th><td>yes: the sources had uncommitted changes" in page
    assert "<td>pandas</td><td>3.1.1</td>" in page and "<pre>seed: 7\nfdr: 0.05\n</pre>" in page
    assert "data/&lt;script&gt;.csv" in page and "<script>" not in page


def test_git_dirty_follows_tracked_changes_only(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    assert git_dirty(tmp_path) is None and git_commit(tmp_path) == "unknown"
    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    (tmp_path / "Snakefile").write_text("rule all:\n", encoding="utf-8")
    git("add", "Snakefile")
    git("commit", "-qm", "x")
    assert git_dirty(tmp_path) is False and len(git_commit(tmp_path)) == 40
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "x.tsv").write_text("a\n", encoding="utf-8")
    (tmp_path / "untracked.csv").write_text("a\n", encoding="utf-8")
    assert git_dirty(tmp_path) is False  # results and untracked files are not the workflow's sources
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("fdr: 0.05\n", encoding="utf-8")
    git("add", "config/config.yaml")
    git("commit", "-qm", "config")
    (tmp_path / "config" / "config.yaml").write_text("fdr: 0.1\n", encoding="utf-8")
    assert git_dirty(tmp_path) is False  # an analyst's config edit: the provenance holds the config as run
    (tmp_path / "Snakefile").write_text("rule all:\n    input: []\n", encoding="utf-8")
    assert git_dirty(tmp_path) is True


def test_git_dirty_covers_the_whole_checkout_from_workflow_snakefile(tmp_path):
    """Run as ``snakemake -s workflow/Snakefile`` Snakemake's base directory is workflow/:
    an edit of the package under src/ still makes the sources dirty."""
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    for name in ("workflow/Snakefile", "src/first1000/x.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("a = 1\n", encoding="utf-8")
    git("add", ".")
    git("commit", "-qm", "x")
    assert git_dirty(tmp_path / "workflow") is False
    (tmp_path / "src/first1000/x.py").write_text("a = 2\n", encoding="utf-8")
    assert git_dirty(tmp_path / "workflow") is True
