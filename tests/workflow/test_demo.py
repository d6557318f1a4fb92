"""The whole workflow, end to end, on the bundled demo cohort (Snakemake in a subprocess)."""

from __future__ import annotations

import os
import re
import shutil
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from workflow_runs import ROOT, run_snakemake, workdir_copy

pytestmark = pytest.mark.e2e
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
_workdir = workdir_copy
_snakemake = run_snakemake


@pytest.fixture(scope="module")
def truth():
    return yaml.safe_load((ROOT / "resources/demo/truth.yaml").read_text())


def _associations(workdir):
    return pd.concat([pd.read_csv(p, sep="\t") for p in sorted((workdir / "results/associations").glob("*.tsv"))])


def test_contract_columns(demo_run):
    assoc = _associations(demo_run)
    for column in "cohort, mechanism, predictor, response, model, n, estimate, se, ci_low, ci_high, p, q".split(", "):
        assert column in assoc.columns
    med = pd.read_csv(demo_run / "results/mediation/hpa.tsv", sep="\t")
    for column in "cohort, exposure, mediator, outcome, effect, estimate, ci_low, ci_high, p, n, n_boot".split(", "):
        assert column in med.columns
    for column in "scale, contrast, a0, a1, ci_method, seed, q".split(", "):
        assert column in med.columns
    single = med[~med.mediator.str.contains(r"[+>]")]  # not the joint or sequential paths
    assert set(single.effect) == {"cde", "pnde", "tnde", "pnie", "tnie", "te", "pm"}
    assert set(med[med.outcome == "birth_weight"].scale) == {"difference"}
    assert set(med[med.outcome == "preterm"].scale) == {"risk_difference", "risk_ratio", "odds_ratio"}
    joint = med[med.mediator == "hair_cortisol_t3_ln+hair_cortisol_t2_ln"]
    assert {"joint_pnde", "joint_tnie", "te", "joint_pm"} <= set(joint.effect)
    sequential = med[med.mediator == "hair_cortisol_t3_ln>cg04111177_m"]
    assert {"te", "nde", "nie_m2_only", "nie_m1", "nie_joint"} <= set(sequential.effect)
    assert sorted(p.name for p in (demo_run / "results/figures/hpa").glob("*.png"))


def test_planted_effects_recovered(demo_run, truth):
    assoc = _associations(demo_run)
    by_cohort = assoc.set_index(["cohort", "predictor", "response"])
    for effect in truth["planted"]:
        key = (effect["predictor"], effect["response"])
        if "by_cohort" in effect:  # heterogeneous: each cohort's own truth
            checks = [(cohort, value) for cohort, value in effect["by_cohort"].items()]
        else:
            checks = [("pooled", effect["estimate"])]
        for cohort, value in checks:
            row = by_cohort.loc[(cohort, *key)]
            assert row.ci_low <= value <= row.ci_high, (cohort, effect)
            assert np.sign(row.estimate) == np.sign(value), (cohort, effect)
            assert row.q < 0.05, (cohort, effect)


def test_planted_heterogeneity_shows_in_meta_analysis(demo_run, truth):
    assoc = _associations(demo_run)
    meta = assoc[assoc.cohort == "meta"].set_index(["predictor", "response"])
    for effect in truth["planted"]:
        row = meta.loc[(effect["predictor"], effect["response"])]
        assert row.k == 2 and row.direction == ("++" if effect["estimate"] > 0 else "--")
        if "by_cohort" in effect:
            assert row.i2 > 50 and row.q_het_p < 0.05, row
    # single-cohort rows are guarded: I2 exactly 0
    single = assoc[(assoc.cohort == "meta") & (assoc.k == 1)]
    assert len(single) and (single.i2 == 0).all()


def test_no_effect_biomarkers_not_significant_after_fdr(demo_run, truth):
    assoc = _associations(demo_run)
    exposures = {"ses_index", "epds", "pss", "resilience"}
    null = assoc[assoc.response.isin(truth["no_effect"]) & assoc.predictor.isin(exposures)]
    pooled = null[null.cohort == "pooled"]
    assert len(pooled) >= 20
    # In the pooled analysis (the one the planted effects are checked on) no null is significant.
    assert (pooled.q > 0.05).all(), pooled[pooled.q <= 0.05][["predictor", "response", "q"]]
    # Per cohort, false discoveries stay rare, as FDR control implies (a chance one may occur).
    assert (null.q <= 0.05).mean() <= 0.05, null[null.q <= 0.05][["cohort", "predictor", "response", "q"]]


def test_mediated_path_recovered(demo_run, truth):
    med = pd.read_csv(demo_run / "results/mediation/hpa.tsv", sep="\t")
    planted = truth["mediation"][0]
    rows = med[(med.cohort == "pooled") & (med.exposure == planted["exposure"]) & (med.mediator == planted["mediator"])
               & (med.outcome == planted["outcome"])].set_index("effect")
    # The planted effects are per unit of the exposure; the table's are per SD (a0 -> a1).
    per_unit = rows[["estimate", "ci_low", "ci_high"]].div(rows.a1 - rows.a0, axis=0)
    for effect, name in (("tnie", "indirect"), ("pnde", "direct"), ("te", "total")):
        assert per_unit.loc[effect, "ci_low"] <= planted[name] <= per_unit.loc[effect, "ci_high"], effect
    assert rows.loc["tnie", "p"] < 0.05 and rows.loc["tnie", "q"] < 0.05
    assert (rows.n_boot == 1000).all() and (rows.contrast == "sd").all()


def test_mediation_equals_pingouin(demo_run):
    pingouin = pytest.importorskip("pingouin")
    people = pd.read_parquet(demo_run / "results/harmonised/participants.parquet")
    hpa = pd.read_parquet(demo_run / "results/prepared/hpa.parquet").drop(columns="cohort")
    data = people.merge(hpa, on="pseudo_id")
    data = data[data.cohort == "ghent"].copy()
    data["child_sex_male"] = (data.child_sex == "male").astype(float)
    covar = ["maternal_age", "bmi", "parity", "smoking", "child_sex_male"]
    cols = ["ses_index", "hair_cortisol_t3_ln", "birth_weight", *covar]
    data = data[cols].dropna()
    ref = pingouin.mediation_analysis(data=data, x="ses_index", m="hair_cortisol_t3_ln", y="birth_weight",
                                      covar=covar, seed=1, n_boot=200).set_index("path")
    med = pd.read_csv(demo_run / "results/mediation/hpa.tsv", sep="\t")
    ours = med[(med.cohort == "ghent") & (med.exposure == "ses_index") & (med.mediator == "hair_cortisol_t3_ln")
               & (med.outcome == "birth_weight")].set_index("effect")
    assert ours.loc["te", "n"] == len(data)
    # Linear models without interaction: the natural effects are pingouin's coefficients
    # times the exposure contrast (here 1 SD of the complete cases).
    sd = data.ses_index.std(ddof=1)
    assert (ours.a1 - ours.a0).iloc[0] == pytest.approx(sd, rel=1e-10)
    assert ours.loc["te", "estimate"] == pytest.approx(ref.loc["Total", "coef"] * sd, rel=1e-8)
    assert ours.loc["pnde", "estimate"] == pytest.approx(ref.loc["Direct", "coef"] * sd, rel=1e-8)
    assert ours.loc["tnie", "estimate"] == pytest.approx(ref.loc["Indirect", "coef"] * sd, rel=1e-8)
    paths = pd.read_csv(demo_run / "results/mediation/hpa_paths.tsv", sep="\t")
    paths = paths[(paths.cohort == "ghent") & (paths.exposure == "ses_index") & (paths.outcome == "birth_weight")
                  & (paths.mediator == "hair_cortisol_t3_ln")].drop_duplicates("path").set_index("path")
    assert paths.loc["a", "estimate"] == pytest.approx(ref.loc["hair_cortisol_t3_ln ~ X", "coef"], rel=1e-8)
    assert paths.loc["a", "estimate"] * paths.loc["b", "estimate"] * sd == pytest.approx(
        ours.loc["tnie", "estimate"], rel=1e-8)
    assert paths.loc["c_prime", "estimate"] * sd == pytest.approx(ours.loc["pnde", "estimate"], rel=1e-8)


def test_noop_rerun_does_nothing(demo_run):
    dry = _snakemake(demo_run, "--dry-run")
    assert dry.returncode == 0
    assert "Nothing to be done" in dry.stdout + dry.stderr


def _report_texts(html: str) -> list[str]:
    """The report page and every file embedded in it (base64 data URIs), as text."""
    import base64

    import struct
    import zlib

    texts = [re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", html)]
    for payload in re.findall(r"base64,([A-Za-z0-9+/=]+)", html):
        data = base64.b64decode(payload + "=" * (-len(payload) % 4))
        if data.startswith(b"\x89PNG\r\n\x1a\n"):  # a figure: its text chunks (metadata)
            pos = 8
            while pos < len(data):
                length, kind = struct.unpack(">I4s", data[pos:pos + 8])
                chunk = data[pos + 8:pos + 8 + length]
                if kind == b"tEXt":
                    texts.append(chunk.decode("latin-1"))
                elif kind == b"zTXt":
                    key, _, rest = chunk.partition(b"\0")
                    texts.append(key.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
                elif kind == b"iTXt":
                    texts.append(chunk.decode("utf-8", errors="ignore"))
                pos += 12 + length
        else:
            texts.append(data.decode("utf-8", errors="ignore"))
    return texts


def test_report_has_figures_and_no_ids(demo_run):
    """Neither a participant ID nor a pseudonymous ID appears anywhere in the report
    bundle: its page, every embedded table, page and figure (including PNG metadata)."""
    html = (demo_run / "results/report.html").read_text(encoding="utf-8")
    assert len(html) > 100_000
    texts = _report_texts(html)
    assert len(texts) > 20  # the embedded files were found and decoded
    ids = set(pd.concat([
        pd.read_csv(ROOT / "resources/demo/ghent/participants.csv", dtype=str).participant_id,
        pd.read_csv(ROOT / "resources/demo/rotterdam/participants.tsv", sep="\t", dtype=str)["id"],
    ]))
    pseudo = set(pd.read_parquet(demo_run / "results/harmonised/participants.parquet").pseudo_id)
    assert len(ids) == 1000 and len(pseudo) == 1000
    tokens = set()
    for text in texts:
        tokens.update(_tokens(text))
    assert not ids & tokens, f"{len(ids & tokens)} participant IDs in the report"
    assert not pseudo & tokens, f"{len(pseudo & tokens)} pseudonymous IDs in the report"
    for table in (demo_run / "results").rglob("*.tsv"):
        found = _tokens(table.read_text()) & (ids | pseudo)
        assert not found, table


def _tokens(text: str) -> set[str]:
    """Words of a text, with decimals and clock times taken out first: the 6 digits after the
    point of "25.582460" (a job's end time) are not a rotterdam participant ID, 582460."""
    return set(re.findall(r"[\w-]+", re.sub(r"\d+(?:[.:]\d+)+", " ", text)))


def test_id_tokens_ignore_decimals_and_times():
    assert _tokens("ID 582460 ended 22:31:25.582460, mean 0.582460") == {"ID", "582460", "ended", "mean"}
    assert "582460" not in _tokens("endtime 2026-11-28T22:31:25.582460")


def test_lint_is_clean(demo_run):
    lint = _snakemake(demo_run, "--lint")
    assert lint.returncode == 0, lint.stdout[-4000:] + lint.stderr[-2000:]


@pytest.mark.parametrize("case", ["duplicated_id", "missing_column", "text_in_numeric", "misspelt_key"])
def test_bad_input_stops_before_any_job(tmp_path, case):
    workdir = _workdir(tmp_path / case)
    table = workdir / "resources/demo/rotterdam/participants.tsv"
    frame = pd.read_csv(table, sep="\t", dtype=str, keep_default_na=False)
    expected = None
    if case == "duplicated_id":
        frame.loc[10, "id"] = frame.loc[3, "id"]
        expected = "resources/demo/rotterdam/participants.tsv, column 'id', rows 5, 12: duplicated participant ID"
    elif case == "missing_column":
        frame = frame.drop(columns="pariteit")
        expected = "key `variables.parity.column`: column 'pariteit' is not in resources/demo/rotterdam/participants.tsv"
    elif case == "text_in_numeric":
        frame.loc[[20, 21], "leeftijd_moeder"] = "n.v.t."
        expected = "resources/demo/rotterdam/participants.tsv, column 'leeftijd_moeder', rows 22, 23: expected a number"
    else:
        config = workdir / "config/config.yaml"
        config.write_text(config.read_text().replace("mediation:\n  n_boot:", "mediation:\n  nboot:"))
        expected = "key `mediation.nboot`: unknown key `nboot`. Did you mean `n_boot`?"
    frame.to_csv(table, sep="\t", index=False)
    run = _snakemake(workdir, "--cores", "2")
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("first1000: error:")]
    assert len(errors) == 1, run.stderr[-3000:]
    assert expected in errors[0]
    assert "Traceback" not in run.stderr
    assert not (workdir / "results").exists()


def test_epigenome_wide_planted_cpgs(demo_run, truth):
    planted = set(truth["epigenome_wide"]["planted_cpgs"])
    for cohort in ("ghent", "rotterdam"):
        table = pd.read_parquet(demo_run / f"results/ewas/{cohort}/epds.parquet")
        summary = pd.read_csv(demo_run / f"results/ewas/{cohort}/epds_summary.tsv", sep="\t").iloc[0]
        hits = set(table.cpg[table.fdr < 0.05])
        assert len(hits & planted) >= 8, (cohort, sorted(hits & planted))
        assert len(hits - planted) <= 2, (cohort, sorted(hits - planted))
        assert 0.85 < summary["lambda"] < 1.2
        assert len(table) == 2000 and (demo_run / f"results/figures/ewas/{cohort}--epds--manhattan.png").exists()
    # The meta-analysis of both cohorts finds the planted CpGs with more power than either
    # cohort, and its estimates are the inverse-variance average of the cohorts' ones.
    meta = pd.read_parquet(demo_run / "results/ewas/meta/epds.parquet").set_index("cpg")
    hits = set(meta.index[meta.fdr < 0.05])
    assert len(hits & planted) >= 9 and len(hits - planted) <= 2, sorted(hits)
    per = {c: pd.read_parquet(demo_run / f"results/ewas/{c}/epds.parquet").set_index("cpg")
           for c in ("ghent", "rotterdam")}
    w = {c: 1 / per[c].se_moderated**2 for c in per}
    pooled = (w["ghent"] * per["ghent"].coef + w["rotterdam"] * per["rotterdam"].coef) / (w["ghent"] + w["rotterdam"])
    np.testing.assert_allclose(meta.coef, pooled.reindex(meta.index), rtol=1e-9)
    np.testing.assert_allclose(meta.se, (1 / (w["ghent"] + w["rotterdam"])) ** 0.5, rtol=1e-9)
    assert (demo_run / "results/figures/ewas/meta--epds--qq.png").exists()


def test_candidate_cpgs_use_the_ewas_engine(demo_run):
    """The candidate (NR3C1) run of the EWAS engine agrees with the association models
    (statsmodels OLS, same covariates) on the coefficients, and moderates them."""
    assoc = _associations(demo_run)
    for cohort in ("ghent", "rotterdam"):
        cand = pd.read_csv(demo_run / f"results/ewas/{cohort}/epds_candidates.tsv", sep="\t").set_index("cpg")
        rows = assoc[(assoc.cohort == cohort) & (assoc.predictor == "epds")].set_index("response")
        assert len(cand) == 8
        for cpg, row in cand.iterrows():
            ols = rows.loc[f"{cpg}_m"]
            assert row.coef == pytest.approx(ols.estimate, rel=1e-8)
            assert row.n == ols.n
        assert (cand.loc[["cg04111177", "cg15910486", "cg27107893"], "fdr"] < 0.05).all()


def _planned_jobs(output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    jobs = {}
    for line in lines[start + 3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        jobs[parts[0]] = int(parts[1])
    return jobs


def test_changing_one_cohort_table_reruns_only_what_depends_on_it(demo_run, tmp_path):
    """New immune-marker data from one cohort rerun that cohort's ingest and the immune
    analyses (and what summarises them), never the other cohort's ingest, the
    harmonisation or the other mechanisms. (Snakemake compares checksums, so the content
    must change: two data rows swap places.)"""
    copy = tmp_path / "demo"
    shutil.copytree(demo_run, copy, symlinks=True)
    table = copy / "resources/demo/ghent/immune.csv"
    lines = table.read_text().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    table.write_text("".join(lines))
    dry = run_snakemake(copy, "--dry-run")
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = _planned_jobs(dry.stdout + dry.stderr)
    assert jobs.get("ingest_table") == 1, jobs  # ghent's immune table only
    assert jobs.get("prepare") == 1 and jobs.get("associate") == 1, jobs  # the immune mechanism only
    for rule in ("ingest_participants", "harmonise", "mediate", "ewas_shard", "ewas_gather", "ewas_meta"):
        assert rule not in jobs, (rule, jobs)
    # The same through --summary: only the files downstream of the changed table are stale.
    summary = run_snakemake(copy, "--summary")
    stale = {line.split("\t")[0] for line in summary.stdout.splitlines()[1:] if "update pending" in line}
    assert "results/ingest/ghent/immune.parquet" in stale and "results/associations/immune.tsv" in stale
    assert not any(s.startswith(("results/ingest/rotterdam", "results/associations/hpa", "results/harmonised"))
                   for s in stale), stale


def test_a_changed_packaged_who_table_reruns_the_followup_ingest(demo_run, tmp_path):
    """The WHO 2006 tables of the growth z-scores are declared inputs: a changed table
    reruns both cohorts' follow-up ingest (and what depends on it), not the other tables'
    ingest, and the provenance lists the tables' checksums."""
    copy = tmp_path / "demo"
    shutil.copytree(demo_run, copy, symlinks=True)
    checksums = (copy / "results/provenance/input_checksums.tsv").read_text()
    assert "first1000/data/who2006/weianthro.txt\t" in checksums
    table = copy / "src/first1000/data/who2006/weianthro.txt"
    table.write_text(table.read_text() + "\n")  # a blank line more: the content changes
    dry = run_snakemake(copy, "--dry-run")
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = _planned_jobs(dry.stdout + dry.stderr)
    assert jobs.get("ingest_table") == 2 and jobs.get("provenance") == 1, jobs  # each cohort's child_followup
    assert "results/ingest/ghent/child_followup.parquet" in dry.stdout + dry.stderr
    for rule in ("ingest_participants", "harmonise", "ewas_shard"):
        assert rule not in jobs, (rule, jobs)


def test_effect_modification_and_missingness_outputs(demo_run):
    """Issue #7: effect-modification tables and stratified forest plots, missingness tables.

    The demo plants no interaction, so this is structural (the statistics are tested on
    simulated interactions in tests/analysis/test_modification.py)."""
    from first1000.config import load_config
    from first1000.analysis.modification import MISSINGNESS_COLUMNS, MODIFICATION_COLUMNS
    from first1000.plan import modification_models, strata_figures

    cwd = os.getcwd()
    os.chdir(demo_run)
    try:
        cfg = load_config(demo_run / "config/config.yaml")
    finally:
        os.chdir(cwd)
    participants = pd.read_parquet(demo_run / "results/harmonised/participants.parquet")
    mechanisms = sorted(p.stem for p in (demo_run / "results/associations").glob("*.tsv"))
    html = (demo_run / "results/report.html").read_text(encoding="utf-8")
    modified = [m for m in mechanisms if modification_models(cfg, m)]
    assert {"hpa", "telomeres", "methylation", "immune"} <= set(modified)
    for mechanism in mechanisms:
        spec = cfg["mechanisms"][mechanism]
        models = modification_models(cfg, mechanism)
        modifiers = {m["modifier"] for m in models}
        miss = pd.read_csv(demo_run / f"results/missingness/{mechanism}.tsv", sep="\t")
        assert list(miss.columns) == MISSINGNESS_COLUMNS
        variables = {*spec["exposures"], *spec["biomarkers"], *spec.get("outcomes", []),
                     *spec.get("covariates", cfg["covariates"]), *modifiers}  # fmt: skip
        assert set(miss.variable) == variables
        assert set(miss.cohort) == {*participants.cohort.unique(), "pooled"}
        totals = miss.drop_duplicates("cohort").set_index("cohort").n_total.astype(int)
        assert totals.to_dict() == {**participants.cohort.value_counts().to_dict(), "pooled": len(participants)}
        assert f"results/missingness/{mechanism}.tsv" in html
        if not models:
            continue
        table = pd.read_csv(demo_run / f"results/modification/{mechanism}.tsv", sep="\t")
        assert list(table.columns) == MODIFICATION_COLUMNS
        assert set(table.part) == {"term", "stratum", "test"}
        wald = table[(table.part == "test") & (table.test == "interaction_wald")]
        expected = {(m["exposure"], m["response"], m["modifier"]) for m in models}
        for cohort in ("pooled", *participants.cohort.unique()):
            rows = wald[wald.cohort == cohort]
            assert set(zip(rows.exposure, rows.response, rows.modifier)) == expected
        ok = wald[wald.status == "ok"]
        assert len(ok) and ok.q.between(0, 1).all() and (ok.q >= ok.p - 1e-12).all()
        # complete cases: the same participants as the association model (the demo's
        # modifiers have no missing values, child_sex is already a covariate)
        assoc = pd.read_csv(demo_run / f"results/associations/{mechanism}.tsv", sep="\t")
        n_assoc = assoc.set_index(["cohort", "predictor", "response"]).n
        for row in ok.itertuples():
            assert int(row.n) == n_assoc[(row.cohort, row.exposure, row.response)], row
        sex = table[(table.part == "stratum") & (table.modifier == "child_sex") & (table.status == "ok")]
        if len(sex):
            assert set(sex.level) == {"female", "male"} and set(sex.method) == {"stratified", "interaction"}
        res = table[(table.part == "stratum") & (table.modifier == "resilience") & (table.status == "ok")]
        assert set(res.level) <= {"p25", "p50", "p75"} and res.value.between(1, 5).all()
        for exposure, modifier in strata_figures(cfg, mechanism):
            for ext in ("png", "svg"):
                path = demo_run / f"results/figures/{mechanism}/strata--{exposure}--{modifier}.{ext}"
                assert path.stat().st_size > 5000, path
            assert f"strata--{exposure}--{modifier}.png" in html
        assert f"results/modification/{mechanism}.tsv" in html
        assert f"Effect modification in the {mechanism} mechanism" in html


def documented_patterns() -> list[re.Pattern]:
    """The paths docs/output.md lists (`results/...` in backticks), as regular expressions:
    `{name}` is one path component's part, a trailing `/` a folder, a `.png` its `.svg` twin."""
    text = (ROOT / "docs/output.md").read_text(encoding="utf-8")
    patterns = []
    for path in re.findall(r"`(results/[^`]+)`", text):
        regex = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(path))
        if path.endswith("/"):
            regex += ".+"
        patterns.append(re.compile(regex + r"\Z"))
        if path.endswith(".png"):
            patterns.append(re.compile(regex[: -len(r"\.png")] + r"\.svg\Z"))
    return patterns


def test_every_output_is_documented(demo_run):
    patterns = documented_patterns()
    files = [str(p.relative_to(demo_run)) for p in (demo_run / "results").rglob("*")
             if p.is_file() and not p.name.startswith(".")]
    assert len(files) > 250
    undocumented = [f for f in files if not any(p.match(f) for p in patterns)]
    assert not undocumented, undocumented


def test_documented_patterns_are_not_a_catch_all():
    patterns = documented_patterns()
    assert not any(p.match("results/unknown.tsv") or p.match("results/figures/x/unknown.png") for p in patterns)


def test_figure_captions_list_their_own_models(demo_run):
    """#18: a figure's caption lists the covariates, n and failed models of the models it shows,
    from its result rows: the Ghent HPA models adjust for hair washing, treatment and
    corticosteroids, Rotterdam's (no hair questionnaire) do not; every note reaches the report."""
    note = (demo_run / "results/figures/hpa/forest--ses_index.models.rst").read_text(encoding="utf-8")
    assoc = pd.read_csv(demo_run / "results/associations/hpa.tsv", sep="\t")
    rows = assoc[assoc.predictor == "ses_index"]
    bullets = {line.split(":")[0][2:]: line for line in note.splitlines() if line.startswith("- ")}
    for cohort in ("ghent", "rotterdam"):
        part = rows[(rows.cohort == cohort) & (rows.n > 0)]
        line = bullets[f"``{cohort}``"]
        assert f"{len(rows[rows.cohort == cohort])} models" in line
        n = sorted(set(part.n))
        assert f"n = {n[0]:,}" in line and f"{n[-1]:,}" in line
        for covariate in part.covariates.iloc[0].split("+"):
            assert f"``{covariate}``" in line
    assert "``hair_wash_frequency``" in bullets["``ghent``"]
    assert "hair_wash_frequency" not in bullets["``rotterdam``"]
    notes = sorted((demo_run / "results/figures").rglob("*.models.rst"))
    trajectories = [n for n in notes if n.name.startswith("trajectory--")]
    assert len(notes) - len(trajectories) > 40 and len(trajectories) >= 4
    page = "\n".join(_report_texts((demo_run / "results/report.html").read_text(encoding="utf-8")))
    assert page.count("Models in this figure, from its result rows:") >= len(notes) - len(trajectories)
    # the EWAS QQ and Manhattan plots (ghent, rotterdam, meta): newborns per CpG and covariates
    assert len([n for n in notes if n.parent.name == "ewas"]) == 3 and page.count("newborns per CpG") >= 6
    # a trajectory's caption: its mixed model, children and measurements, covariates
    assert page.count("Model in this figure, from its fit: linear mixed model (REML)") >= len(trajectories)
    growth = (demo_run / "results/figures/longitudinal/growth/trajectory--wlz--ses_index.models.rst").read_text(
        encoding="utf-8")
    traj = pd.read_csv(demo_run / "results/longitudinal/growth_trajectories.tsv", sep="\t")
    shown = traj[(traj.response == "wlz") & (traj.predictor == "ses_index")].iloc[0]
    assert f"{shown.n_participants:,} children, {shown.n_obs:,} measurements (all cohorts, pooled)" in growth
    assert "``cohort``" in growth and "``child_sex``" in growth
    assert 'hair_wash_frequency</tt>, <tt class=\\"docutils literal\\">hair_treated' in page


def test_longitudinal_growth_trajectory_recovered(demo_run, truth):
    """The demo's planted SES gradient in weight-for-length z widens with age (none at
    birth); length-for-age and head circumference trajectories have no planted widening."""
    table = pd.read_csv(demo_run / "results/longitudinal/growth.tsv", sep="\t")
    planted = truth["longitudinal"][0]
    pooled = table[table.cohort == "pooled"].set_index(["predictor", "response", "age_term"])
    row = pooled.loc[(planted["exposure"], planted["outcome"], "per_year")]
    assert row.ci_low <= planted["estimate_per_year"] <= row.ci_high and row.ci_high < 0 and row.q < 0.05
    at_birth = pooled.loc[(planted["exposure"], planted["outcome"], "at_birth")]
    assert at_birth.ci_low <= 0 <= at_birth.ci_high
    for response in ("laz", "hcz"):
        assert pooled.loc[("ses_index", response, "per_year")].q > 0.05, response
    assert (table.n_obs > table.n_participants).all() and (table.status == "ok").all()
    assert set(table.cohort) == {"ghent", "rotterdam", "pooled", "meta"}
    traj = pd.read_csv(demo_run / "results/longitudinal/growth_trajectories.tsv", sep="\t")
    assert set(traj.months) == set(range(25)) and set(traj.time_axis) == {"age"} and traj.group.nunique() == 2
    assert (demo_run / "results/figures/longitudinal/growth/trajectory--wlz--ses_index.png").exists()


def test_longitudinal_hair_cortisol_across_trimesters(demo_run, truth):
    """The demo plants the same SES effect on ln hair cortisol in every trimester: one
    mixed model over the hair windows finds it at mid-pregnancy, and no change per month."""
    planted = next(p for p in truth["longitudinal"] if p.get("mechanism") == "hpa")
    table = pd.read_csv(demo_run / "results/longitudinal/hpa.tsv", sep="\t")
    pooled = table[table.cohort == "pooled"].set_index(["predictor", "response", "age_term"])
    mid = pooled.loc[(planted["exposure"], planted["outcome"], "mid_pregnancy")]
    assert mid.ci_low <= planted["estimate_mid_pregnancy"] <= mid.ci_high and mid.ci_high < 0 and mid.q < 0.05
    per = pooled.loc[(planted["exposure"], planted["outcome"], "per_month")]
    assert per.ci_low <= planted["estimate_per_month"] <= per.ci_high
    # ghent's mothers have three windows, rotterdam's two: every window of every mother
    ghent = table[(table.cohort == "ghent")].iloc[0]
    assert ghent.n_obs > 2.5 * ghent.n_participants and (table.status == "ok").all()
    assert table.random_effects.eq("intercept per mother").all()
    traj = pd.read_csv(demo_run / "results/longitudinal/hpa_trajectories.tsv", sep="\t")
    assert set(traj.time_axis) == {"gestation"} and traj.months.nunique() == 3
    assert (demo_run / "results/figures/longitudinal/hpa/trajectory--hair_cortisol_ln--ses_index.png").exists()


def test_mediation_to_a_later_outcome(demo_run, demo_config):
    """A path may end at a child's score at a follow-up visit: SES -> 3rd-trimester hair
    cortisol -> weight-for-length z at 24 months. The demo plants the SES gradient at
    24 months (-0.5 SD per SES unit) and no cortisol effect on growth: total and direct
    effects near -0.5 per unit, the indirect effect's CI includes 0."""
    import copy

    from first1000.plan import mediation_mechanisms
    from first1000.stages.analyse import analysis_table
    from first1000.analysis.mediation import mediation

    cfg = copy.deepcopy(demo_config)
    path = {"exposure": "ses_index", "mediator": "hair_cortisol_t3_ln", "outcome": "wlz_24m"}
    cfg["mediation"]["paths"] = [path]
    assert mediation_mechanisms(cfg, "hpa") == ["hpa", "growth"]
    table = analysis_table(demo_run / "results/harmonised/participants.parquet",
                           [demo_run / "results/prepared/hpa.parquet", demo_run / "results/prepared/growth.parquet"])
    settings = {**{k: v for k, v in cfg["mediation"].items() if k != "paths"}, "n_boot": 200, "sensitivity": False}
    effects, _, _ = mediation(table, [path], cfg["covariates"], settings, cfg["seed"], cfg["_data_schema"],
                              mechanism="hpa")
    rows = effects[effects.cohort == "pooled"].set_index("effect")
    per_unit = rows[["estimate", "ci_low", "ci_high"]].div(rows.a1 - rows.a0, axis=0)
    assert per_unit.loc["te", "ci_low"] <= -0.5 <= per_unit.loc["te", "ci_high"]
    assert per_unit.loc["tnie", "ci_low"] <= 0 <= per_unit.loc["tnie", "ci_high"]
    assert rows.loc["te", "n"] > 600


def test_high_dimensional_mediators_found(demo_run, truth):
    """EPDS -> cord-blood CpGs -> ASQ-3 communication at 24 months: the 5 planted mediating
    CpGs are found (q < 0.05) in each cohort; the CpGs EPDS moves without any effect on the
    outcome (composite nulls) and every other CpG are not."""
    planted = truth["high_dimensional_mediation"]
    table = pd.read_csv(demo_run / "results/mediation/methylation_highdim.tsv", sep="\t")
    assert (table.status == "ok").all() and set(table.cohort) == {"ghent", "rotterdam"}
    for cohort, rows in table.groupby("cohort"):
        found = set(rows.mediator[rows.q < 0.05])
        assert found <= set(planted["mediators"]), (cohort, found)
        assert len(found) >= 4, (cohort, found)
        assert not found & set(planted["exposure_only"])
        mediators = rows[rows.mediator.isin(planted["mediators"])]
        assert (mediators.a > 0).all() and (mediators.b < 0).all()
    assert (demo_run / "results/figures/highdim/methylation/epds--asq_communication_24m.png").exists()


def test_high_dimensional_mediation_through_the_metabolites_finds_none(demo_run, truth):
    """EPDS lowers lactate, but no metabolite affects birth weight (composite nulls): HIMA
    over the metabolites with one latent factor finds no mediator; the lactate/pyruvate log
    ratio, lactate minus pyruvate, cannot enter beside them."""
    table = pd.read_csv(demo_run / "results/mediation/metabolites_highdim.tsv", sep="\t")
    assert (table.status == "ok").all() and set(table.cohort) == {"ghent", "rotterdam"}
    assert (table.q >= 0.05).all() and (table.latent_factors == 1).all()
    assert table.covariates.str.endswith("+latent_factors(1)").all()
    assert "lactate_pyruvate_ln_ratio" not in set(table.mediator) and (table.n_incomplete == 1).all()
    assert (table.n_candidates == 8).all() and table.groupby("cohort").mediator.nunique().eq(7).all()
    assert (demo_run / "results/figures/highdim/metabolites/epds--birth_weight.png").exists()


def test_the_scatter_line_is_the_association_of_its_cohort(demo_run):
    """The scatter plot's line per cohort: the model of the associations table, with the
    mechanism's own covariates where the cohort recorded them (hair covariates, cell
    types, array batch), so its slope is that table's estimate."""
    for mechanism in ("hpa", "methylation", "immune"):
        fits = pd.read_csv(demo_run / f"results/descriptives/{mechanism}_fits.tsv", sep="\t")
        table = pd.read_csv(demo_run / f"results/associations/{mechanism}.tsv", sep="\t")
        checked = 0
        for (exposure, biomarker, cohort), line in fits[fits.part == "line"].groupby(
                ["exposure", "biomarker", "cohort"]):
            row = table[(table.cohort == cohort) & (table.predictor == exposure) & (table.response == biomarker)]
            assert len(row) == 1 and row.status.iloc[0] == "ok", (mechanism, exposure, biomarker, cohort)
            slope = (line.y.iloc[-1] - line.y.iloc[0]) / (line.x.iloc[-1] - line.x.iloc[0])
            assert slope == pytest.approx(row.estimate.iloc[0], rel=1e-6, abs=1e-9), (mechanism, exposure, cohort)
            assert line.covariates.iloc[0] == row.covariates.iloc[0]
            checked += 1
        assert checked >= 2, mechanism


def test_the_models_notes_of_sensitivity_and_strata_figures_count_what_they_show(demo_run):
    """The sensitivity figure's note counts its path with n and covariates (it counted a ρ
    curve row, "not fitted: 1 (no estimate)"); the strata figure's counts its strata (it
    counted the interaction term and the test as "not fitted")."""
    figures = demo_run / "results/figures/hpa"
    sensitivity = sorted(figures.glob("sensitivity--*.models.rst"))
    strata = sorted(figures.glob("strata--*.models.rst"))
    assert sensitivity and strata
    for path in sensitivity:
        note = path.read_text(encoding="utf-8")
        assert "not fitted" not in note and "1 path; n = " in note and "adjusted for " in note, (path.name, note)
    for path in strata:
        note = path.read_text(encoding="utf-8")
        assert "not fitted" not in note and " strata; n = " in note, (path.name, note)


def test_the_provenance_names_the_pseudonym_keys_fingerprint(demo_run):
    """Which key made the pseudonyms: its fingerprint (as every ingested table records it),
    never the key."""
    import json

    import pyarrow.parquet as pq

    from first1000.keys import METADATA_KEY

    run = json.loads((demo_run / "results/provenance/run.json").read_text(encoding="utf-8"))
    metadata = pq.read_schema(demo_run / "results/ingest/ghent/participants.parquet").metadata
    assert run["key_fingerprint"] == metadata[METADATA_KEY].decode()
    key = (demo_run / ".first1000/pseudonym.key").read_text().strip()
    assert key not in (demo_run / "results/provenance/run.json").read_text()
    page = (demo_run / "results/tables/provenance.html").read_text(encoding="utf-8")
    assert f"<th>pseudonym key (fingerprint)</th><td>{run['key_fingerprint']}</td>" in page
