"""Benchmark of the EWAS engine end to end from a Parquet file (not a timed test).

Simulates a CpG x sample beta matrix with planted exposure effects, writes it to a
temporary Parquet file chunk by chunk (never the whole matrix in memory), then runs
``first1000.analysis.epigenome.ewas`` on that file in a fresh child process (read chunks -> M-values
-> fit -> gather -> limma eBayes -> summaries) and prints wall time, peak RSS, the planted
CpGs recovered at FDR 5% and the genomic inflation factor lambda.

    PYTHONPATH=src python benchmarks/ewas.py                       # 450,000 x 500
    PYTHONPATH=src python benchmarks/ewas.py --cpgs 850000 --samples 1000
    PYTHONPATH=src python benchmarks/ewas.py --missing-cpgs 0.02 --outliers --beta-difference

Reference: R limma (lmFit + eBayes on M-values) takes ~30 s to fit (plus ~9-14 s to read)
and ~10 GB for 450,000 x 500 on complete data on a 2-core machine, ~83 s to fit when values
are missing (it then fits CpG by CpG); targets are >= 5x faster and < 2 GB.

``--workflow`` measures what a user gets instead: the EWAS through the workflow (ingest of
the matrix + shard jobs + gather, Snakemake's pre-flight included) on the demo's cohort
Ghent simulated so that ``--samples`` participants have a methylation matrix, whose matrix
is replaced by a null ``--cpgs`` x samples one (Parquet, float64); then R limma (lmFit +
eBayes on M-values with the workflow's own design, reading the same values from a binary
file) side by side, when Rscript and limma are installed (Debian: r-bioc-limma). Prints
the workflow's wall time, each job's time and peak RSS, limma's wall time and RSS, and
both sides' moderated t of the exposure compared CpG by CpG. Without ``--pace`` the
workflow runs without PACE outlier removal and limma fits complete data (its fastest path:
one QR for all CpGs); ``--pace`` keeps the demo config's outlier removal, and the values it
removes (the library's ``iqr_outliers`` on the design's samples) are missing for limma too,
which then fits CpG by CpG, as ``lmFit`` does whenever a value is missing (the same
analysis on both sides: the benchmark prints both outlier counts). Last, an analyst's next step: the EWAS
again after an edit of ``epigenome_wide.covariates`` (one covariate fewer; the pre-flight
check is cached and only the EWAS jobs rerun), beside limma's lmFit + eBayes alone (what an
R session that keeps its M-values in memory redoes; one rerun, beside the median of limma's
fits). ``--repeat N`` runs the workflow from scratch and limma N times, interleaved, and
reports the medians (the machine's speed varies from minute to minute; a single pair can be
off by 10%; the first workflow run also creates the pseudonym key in its fresh copy).
Written files are flushed to disk (``os.sync``) before each timed run, so neither side pays
for the other's writes.

    PYTHONPATH=src python benchmarks/ewas.py --workflow --repeat 3            # 450,000 x 500
    PYTHONPATH=src python benchmarks/ewas.py --workflow --pace --repeat 3     # with PACE on both sides
    PYTHONPATH=src python benchmarks/ewas.py --workflow --cpgs 850000 --samples 1000 --no-limma

Simulation: M = mu + covariate effects + exposure effect + sigma * noise, with per-CpG
sigma^2 = d0 s0^2 / chi2(d0) (the limma model, d0 = 8, s0 = 0.3), means drawn from a
bimodal mixture (mostly un- or fully methylated CpGs, as on the arrays), planted CpGs with
exposure effects of 0.25-0.45 residual SDs per SD of exposure, then beta = 2^M / (1 + 2^M).
The Parquet file's sample columns are shuffled (and 3 extra samples added) so the reader
must select and reorder them. Optionally a fraction of CpGs gets 1-3 missing values
(detection-p failures), each such CpG with its own missingness pattern.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def simulate_design(n: int, rng: np.random.Generator):
    import pandas as pd

    exposure = rng.normal(size=n)
    design = pd.DataFrame(
        {
            "intercept": np.ones(n),
            "exposure": exposure,
            "sex_male": rng.integers(0, 2, n).astype(float),
            "gestational_age": rng.normal(39.5, 1.5, n),
            "maternal_age": rng.normal(31, 5, n),
            "maternal_smoking": (rng.random(n) < 0.15).astype(float),
            "cd8t": rng.beta(4, 30, n),
            "nrbc": rng.beta(3, 25, n),
        },
        index=[f"S{i:05d}" for i in range(n)],
    )
    return design


def write_matrix(
    path: Path,
    design,
    n_cpgs: int,
    chunk: int,
    n_planted: int,
    missing_cpgs: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Write the beta matrix in row groups of ``chunk`` CpGs; return planted CpG indices."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = design.to_numpy()
    n, p = x.shape
    xs = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1)
    xs[:, 0] = 0.0
    planted = np.sort(rng.choice(n_cpgs, size=n_planted, replace=False))
    effects = np.zeros(n_cpgs)
    effects[planted] = rng.uniform(0.25, 0.45, n_planted) * rng.choice([-1, 1], n_planted)
    samples = list(design.index) + ["X_extra1", "X_extra2", "X_extra3"]
    order = rng.permutation(len(samples))  # file column order != design order
    names = ["cpg"] + [samples[i] for i in order]
    schema = pa.schema([("cpg", pa.string())] + [(s, pa.float64()) for s in names[1:]])
    d0, s0 = 8.0, 0.3
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for start in range(0, n_cpgs, chunk):
            m = min(chunk, n_cpgs - start)
            sigma = np.sqrt(d0 * s0**2 / rng.chisquare(d0, m))
            mode = rng.random(m)
            mu = np.where(
                mode < 0.45,
                rng.normal(-3.5, 0.8, m),
                np.where(mode < 0.85, rng.normal(3.0, 0.8, m), rng.normal(0, 1.2, m)),
            )
            gamma = rng.normal(0, 0.05, (m, p)) * sigma[:, None]
            gamma[:, 1] = effects[start : start + m] * sigma
            mv = mu[:, None] + gamma @ xs.T + sigma[:, None] * rng.standard_normal((m, n))
            beta = 1.0 / (1.0 + np.exp2(-mv))
            del mv
            if missing_cpgs > 0:
                hit = np.flatnonzero(rng.random(m) < missing_cpgs)
                for i in hit:
                    beta[i, rng.choice(n, rng.integers(1, 4), replace=False)] = np.nan
            full = np.empty((m, len(samples)))
            full[:, :n] = beta
            full[:, n:] = rng.random((m, len(samples) - n))
            del beta
            cols = [pa.array([f"cg{start + i:08d}" for i in range(m)])]
            cols += [pa.array(full[:, i], from_pandas=True) for i in order]
            del full
            writer.write_table(pa.Table.from_arrays(cols, schema=schema), row_group_size=chunk)
            del cols
    return planted


def run_engine(args) -> None:
    """Child process: time the engine on the file and print one JSON line."""
    import pandas as pd
    import pyarrow as pa

    from first1000.analysis.epigenome import ewas
    from first1000.stats.ewas import genomic_inflation

    design = pd.read_parquet(args.design)
    planted = np.load(args.planted_file)
    start = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = start.ru_utime + start.ru_stime
    t0 = time.perf_counter()
    result = ewas(
        args.run,
        design,
        ["exposure"],
        chunk_cpgs=args.chunk,
        remove_outliers=args.outliers,
        beta_difference=args.beta_difference,
        prefetch=args.prefetch,
    )
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    table = result.table
    idx = np.array([int(c[2:]) for c in table["cpg"].to_numpy()[table["term"] == "exposure"]])
    fdr = table.loc[table["term"] == "exposure", "fdr"].to_numpy()
    is_planted = np.isin(idx, planted)
    row = result.summary.iloc[0]
    out = {
        "cpgs": int(len(idx)),
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime - cpu0, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "arrow_pool_peak_mb": round(pa.default_memory_pool().max_memory() / 2**20, 1),
        "planted": int(is_planted.sum()),
        "planted_recovered_fdr05": int(np.sum(is_planted & (fdr < 0.05))),
        "null_hits_fdr05": int(np.sum(~is_planted & (fdr < 0.05))),
        "lambda": round(float(row["lambda"]), 4),
        "df_prior": round(result.prior.df_prior, 4),
        "s2_prior": round(result.prior.s2_prior, 6),
        "reasons": result.reasons,
    }
    p = table.loc[table["term"] == "exposure", "p_moderated"].to_numpy()
    out["lambda_null_cpgs"] = round(genomic_inflation(p[~is_planted]), 4)
    print(json.dumps(out))


LIMMA_R = r"""
suppressMessages(library(limma))
args <- commandArgs(trailingOnly = TRUE)
t0 <- proc.time()[["elapsed"]]
design <- as.matrix(read.csv(args[1], row.names = 1, check.names = FALSE))
dims <- scan(args[3], quiet = TRUE)
con <- file(args[2], "rb")
beta <- matrix(readBin(con, "double", n = dims[1] * dims[2]), nrow = dims[1], ncol = dims[2], byrow = TRUE)
close(con)
beta <- pmin(pmax(beta, 1e-6), 1 - 1e-6)
m <- log2(beta / (1 - beta))
rm(beta)
t1 <- proc.time()[["elapsed"]]
fit <- eBayes(lmFit(m, design))  # any missing value: lmFit fits CpG by CpG (a QR per CpG)
p <- fit$p.value[, 2]
elapsed <- proc.time()[["elapsed"]] - t0
# (no count of the missing values here: a pass over the matrix would add to limma's wall time;
# the benchmark prints how many it wrote, and the moderated t compared below show their effect)
cat(sprintf("limma %s: %.1f s (read and M-values %.1f s, lmFit + eBayes %.1f s), df.prior %.3f, %d CpGs at FDR 5%%\n",
            as.character(packageVersion("limma")), elapsed, t1 - t0, elapsed - (t1 - t0), fit$df.prior,
            sum(p.adjust(p, "BH") < 0.05)))
writeBin(as.vector(fit$t[, 2]), args[4])
# R's BLAS: Debian's r-base-core alone links the reference BLAS; with libopenblas0-pthread
# installed, update-alternatives switches R to OpenBLAS (lmFit + eBayes 28.6-29.5 -> 18.8-25.8 s
# here, 450,000 x 500, 2026-12-04)
cat(sprintf("R %s, BLAS %s\n", getRversion(), sessionInfo()$BLAS))
"""


def write_null_matrix(path: Path, samples: list[str], n_cpgs: int, chunk: int, rng, raw=None) -> None:
    """A null CpG x sample beta matrix (float64 Parquet, row groups of ``chunk``); with
    ``raw`` the same values also as row-major float64 for R's readBin."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(samples)
    schema = pa.schema([("cpg", pa.string())] + [(s, pa.float64()) for s in samples])
    d0, s0 = 8.0, 0.3
    handle = open(raw, "wb") if raw else None
    try:
        with pq.ParquetWriter(path, schema, compression="snappy") as writer:
            for start in range(0, n_cpgs, chunk):
                m = min(chunk, n_cpgs - start)
                sigma = np.sqrt(d0 * s0**2 / rng.chisquare(d0, m))
                mode = rng.random(m)
                mu = np.where(mode < 0.45, rng.normal(-3.5, 0.8, m),
                              np.where(mode < 0.85, rng.normal(3.0, 0.8, m), rng.normal(0, 1.2, m)))
                beta = 1.0 / (1.0 + np.exp2(-(mu[:, None] + sigma[:, None] * rng.standard_normal((m, n)))))
                if handle:
                    handle.write(np.ascontiguousarray(beta).tobytes())
                cols = [pa.array([f"cg{start + i:08d}" for i in range(m)])] + [pa.array(beta[:, j]) for j in range(n)]
                writer.write_table(pa.Table.from_arrays(cols, schema=schema), row_group_size=chunk)
    finally:
        if handle:
            handle.close()


def workflow_benchmark(args) -> int:
    """The EWAS through the workflow, then R limma on the same values (see the module doc)."""
    import csv

    import pyarrow.parquet as pq

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from workflow_scale import job_benchmarks, snakemake, workflow_copy

    base = Path(tempfile.mkdtemp(prefix="ewas_workflow_", dir=args.workdir))
    try:
        work = workflow_copy(base / "run")
        sys.path.insert(0, str(work / "src"))
        from first1000.simulate import DEMO_SEED, simulate

        demo = work / "resources" / "demo"
        shutil.rmtree(demo)
        simulate(demo, seed=DEMO_SEED, sizes={"ghent": int(args.samples / 0.75) + 20, "rotterdam": 100})
        matrix = demo / "ghent" / "methylation_ewas.parquet"
        samples = [c for c in pq.read_schema(matrix).names if c != "cpg"]
        if len(samples) < args.samples:
            raise SystemExit(f"only {len(samples)} simulated participants with a methylation matrix")
        samples = samples[: args.samples]
        raw = base / "beta.f64"
        t0 = time.perf_counter()
        write_null_matrix(matrix, samples, args.cpgs, args.chunk, np.random.default_rng(args.seed),
                          raw=None if args.no_limma else raw)
        print(f"simulated {args.cpgs:,} CpGs x {len(samples):,} samples (null), Parquet "
              f"{matrix.stat().st_size / 1e9:.2f} GB, in {time.perf_counter() - t0:.0f} s", flush=True)
        config = work / "config" / "config.yaml"
        text = config.read_text()
        assert "  remove_outliers: true\n" in text
        config.write_text(text.replace("  remove_outliers: true\n", f"  remove_outliers: {str(args.pace).lower()}\n"))
        print(f"EWAS model: the demo config's (covariates, cell types, plate), PACE outlier removal "
              f"{'on (the values it removes are missing for limma too)' if args.pace else 'off (limma fits complete data: its fastest path, one QR for all CpGs)'}", flush=True)
        targets = [f"results/ewas/ghent/{e}_summary.tsv" for e in ["epds"]]
        os.sync()  # the files just written reach the disk before the clock starts, not during the run
        wall, _ = snakemake(work, 2, targets)
        jobs = job_benchmarks(work)
        print(f"workflow (pre-flight + ingest + shards + gather, `snakemake --cores 2`): {wall:.1f} s wall")
        for name, (sec, rss) in sorted(jobs.items(), key=lambda kv: -kv[1][0]):
            if "ewas" in name or "methylation_matrix" in name:
                print(f"  {sec:7.1f} s  {rss / 1024:5.2f} GB  {name}")
        with open(work / "results/ewas/ghent/epds_summary.tsv", newline="") as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        print(f"  lambda {float(row['lambda']):.3f}, CpGs at FDR 5%: {row.get('n_fdr_05', '?')}")
        limma = None if args.no_limma or not shutil.which("Rscript") else limma_command(args, work, base, matrix,
                                                                                       len(samples), raw)
        walls, r_walls, fits = [wall], [], []
        for k in range(args.repeat):
            if k:  # interleaved: the workflow from scratch again, then limma again
                walls.append(rerun_from_scratch(work, targets))
            if limma:
                r_wall, fit_s = run_limma(limma)
                if not k:
                    compare_with_limma(work, base)
                r_walls.append(r_wall)
                fits += [fit_s] if fit_s is not None else []
                print(f"workflow / limma wall time: {walls[-1] / r_wall:.2f}", flush=True)
        if args.repeat > 1:
            print(f"{args.repeat} runs: workflow from scratch {', '.join(f'{w:.1f}' for w in walls)} s (median "
                  f"{np.median(walls):.1f})" + (f", limma interleaved {', '.join(f'{w:.1f}' for w in r_walls)} s "
                                                f"(median {np.median(r_walls):.1f}); workflow / limma, medians: "
                                                f"{np.median(walls) / np.median(r_walls):.2f}" if r_walls else ""))
        rerun_after_edit(work, targets, float(np.median(fits)) if fits else None)
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def limma_command(args, work: Path, base: Path, matrix: Path, n_samples: int, raw: Path) -> list[str]:
    """R limma's inputs written beside the workflow's copy (the workflow's own design: same
    participants, covariates and order; the design's samples' values, row-major for readBin)
    and the command that runs it."""
    import pandas as pd

    from first1000.analysis.epigenome import ewas_design
    from first1000.config import load_config
    from first1000.io.methylation import open_matrix
    from first1000.plan import ewas_covariates
    from first1000.stages.ewas import cohort_covariates
    from first1000.stats.ewas import iqr_outliers

    cfg = load_config(work / "config/config.yaml")
    people = pd.read_parquet(work / "results/harmonised/participants.parquet")
    here = os.getcwd()
    os.chdir(work)  # the ingested matrix records its file's path as the workflow names it
    try:
        pseudo = open_matrix("results/ingest/ghent/methylation_matrix.parquet", [matrix]).samples
    finally:
        os.chdir(here)
    covariates, extra = ewas_covariates(cfg)
    design = ewas_design(people, "ghent", "epds", cohort_covariates(people, "ghent", covariates, extra), pseudo)
    position = {p: i for i, p in enumerate(pseudo)}
    keep = [position[p] for p in design.index]
    full = np.memmap(raw, dtype=np.float64, mode="r", shape=(args.cpgs, n_samples))
    sub = base / "beta_design.f64"
    removed = 0
    with open(sub, "wb") as handle:
        for start in range(0, args.cpgs, args.chunk):
            block = np.ascontiguousarray(full[start:start + args.chunk][:, keep])
            if args.pace:  # the values the workflow removes, by the library's own rule, missing for limma
                outliers = iqr_outliers(block, cfg["epigenome_wide"]["outlier_k"])
                removed += int(outliers.sum())
                block[outliers] = np.nan
            handle.write(block.tobytes())
    del full
    if args.pace:
        print(f"PACE outlier removal for limma: {removed:,} values set to missing (the library's iqr_outliers, "
              f"k = {cfg['epigenome_wide']['outlier_k']}, on the design's samples' betas)", flush=True)
    design.to_csv(base / "design.csv")
    (base / "dims.txt").write_text(f"{args.cpgs} {len(keep)}\n")
    (base / "limma.R").write_text(LIMMA_R)
    return ["/usr/bin/time", "-v", "Rscript", str(base / "limma.R"), str(base / "design.csv"), str(sub),
            str(base / "dims.txt"), str(base / "limma_t.f64")]


def compare_with_limma(work: Path, base: Path) -> None:
    """The workflow's moderated t of the exposure against limma's, CpG by CpG (the same
    analysis on both sides: its outlier count too)."""
    import pandas as pd

    written = base / "limma_t.f64"
    if not written.exists():
        print("workflow vs limma: limma wrote no moderated t (see its output above)", flush=True)
        return
    table = pd.read_parquet(work / "results/ewas/ghent/epds.parquet", columns=["cpg", "n_outliers", "t_moderated"])
    ours = table.sort_values("cpg")["t_moderated"].to_numpy()  # the simulated CpGs' names sort in file order
    theirs = np.fromfile(written, dtype=np.float64)
    if len(theirs) != len(ours):
        print(f"workflow vs limma: {len(ours):,} CpGs against limma's {len(theirs):,}", flush=True)
        return
    unmatched = int((np.isnan(ours) != np.isnan(theirs)).sum())
    print(f"workflow vs limma, moderated t of the exposure: max |difference| {np.nanmax(np.abs(ours - theirs)):.1e} "
          f"over {len(theirs):,} CpGs, {unmatched} missing on one side only; the workflow removed "
          f"{int(table['n_outliers'].sum()):,} outlying values", flush=True)


def run_limma(command: list[str]) -> tuple[float, float | None]:
    """R limma's wall time (written files flushed first) and its lmFit + eBayes seconds, printed."""
    os.sync()
    t0 = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss = [line for line in proc.stderr.splitlines() if "Maximum resident" in line]
    print(proc.stdout.strip() or proc.stderr[-2000:])
    print(f"R limma (Rscript: read + lmFit + eBayes): {wall:.1f} s wall, peak RSS "
          f"{int(rss[0].split()[-1]) / 2**20:.2f} GB" if rss else f"R limma: {wall:.1f} s wall")
    fit_s = re.search(r"lmFit \+ eBayes ([\d.]+) s\)", proc.stdout)
    return wall, float(fit_s.group(1)) if fit_s else None


def rerun_from_scratch(work: Path, targets: list) -> float:
    """The workflow's wall time from scratch again: its results, logs and Snakemake's records
    (the pre-flight check's cache too) removed; the pseudonym key kept."""
    from workflow_scale import snakemake  # benchmarks/ is on sys.path (workflow_benchmark)

    for name in ("results", "logs", ".snakemake"):
        shutil.rmtree(work / name, ignore_errors=True)
    os.sync()
    wall, _ = snakemake(work, 2, targets)
    print(f"workflow from scratch again: {wall:.1f} s wall", flush=True)
    return wall


def rerun_after_edit(work: Path, targets: list, limma_fit_s: float | None) -> None:
    """An analyst's next step: the EWAS again with one covariate fewer (an edit of
    ``epigenome_wide.covariates``; the pre-flight check is cached, only the EWAS jobs rerun),
    beside what an R session that keeps its M-values in memory redoes (lmFit + eBayes)."""
    import yaml

    from workflow_scale import snakemake  # benchmarks/ is on sys.path (workflow_benchmark)

    config = work / "config" / "config.yaml"
    text = config.read_text()
    settings = yaml.safe_load(text)
    # the demo config's EWAS uses the global covariates (no epigenome_wide.covariates to edit)
    assert "covariates" not in settings["epigenome_wide"] and text.count("\nepigenome_wide:\n") == 1
    fewer = settings["covariates"][:-1]
    config.write_text(text.replace("\nepigenome_wide:\n", f"\nepigenome_wide:\n  covariates: [{', '.join(fewer)}]\n", 1))
    wall, proc = snakemake(work, 2, targets)
    ran = re.findall(r"^localrule (\w+):", proc.stdout + proc.stderr, flags=re.M)
    jobs = ", ".join(f"{rule} x{ran.count(rule)}" for rule in sorted(set(ran)))
    print(f"rerun after an edit of epigenome_wide.covariates ({', '.join(fewer)}): {wall:.1f} s wall ({jobs})")
    if limma_fit_s:
        print(f"  R limma's lmFit + eBayes alone (an R session that keeps its M-values; the first run's design, "
              f"one covariate more): {limma_fit_s:.1f} s; "
              f"workflow rerun / limma refit: {wall / limma_fit_s:.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpgs", type=int, default=450_000)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--chunk", type=int, default=20_000)
    ap.add_argument("--planted", type=int, default=200)
    ap.add_argument(
        "--missing-cpgs",
        type=float,
        default=0.0,
        help="fraction of CpGs with 1-3 missing values (default 0)",
    )
    ap.add_argument("--outliers", action="store_true", help="PACE 3*IQR outlier removal")
    ap.add_argument("--beta-difference", action="store_true", help="also fit on beta values")
    ap.add_argument("--prefetch", action="store_true", help="read ahead in a thread")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--workdir", default=None, help="directory for the temporary file")
    ap.add_argument("--keep", action="store_true", help="keep the Parquet file")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the engine N times on the same file (fresh process each; reports all); with "
        "--workflow: the workflow from scratch and R limma N times, interleaved (medians reported)",
    )
    ap.add_argument("--workflow", action="store_true", help="the EWAS through the workflow, then R limma")
    ap.add_argument("--no-limma", action="store_true", help="with --workflow: skip R limma")
    ap.add_argument("--pace", action="store_true",
                    help="with --workflow: keep the demo config's PACE outlier removal (the values it removes "
                    "are missing for limma too)")
    ap.add_argument("--run", help=argparse.SUPPRESS)
    ap.add_argument("--design", help=argparse.SUPPRESS)
    ap.add_argument("--planted-file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    if args.run:  # child process
        run_engine(args)
        return 0
    if args.workflow:
        return workflow_benchmark(args)

    rng = np.random.default_rng(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="ewas_bench_", dir=args.workdir))
    try:
        design = simulate_design(args.samples, rng)
        design_path = tmp / "design.parquet"
        design.to_parquet(design_path)
        data_path = tmp / "beta.parquet"
        t0 = time.perf_counter()
        planted = write_matrix(
            data_path, design, args.cpgs, args.chunk, args.planted, args.missing_cpgs, rng
        )
        write_s = time.perf_counter() - t0
        planted_path = tmp / "planted.npy"
        np.save(planted_path, planted)
        size_gb = data_path.stat().st_size / 1e9
        print(
            f"simulated {args.cpgs:,} CpGs x {args.samples:,} samples "
            f"(exposure + 6 covariates), {args.planted} planted; Parquet {size_gb:.2f} GB "
            f"written in {write_s:.1f} s; parent peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
            flush=True,
        )
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--run",
            str(data_path),
            "--design",
            str(design_path),
            "--planted-file",
            str(planted_path),
            "--chunk",
            str(args.chunk),
        ]
        if args.outliers:
            cmd.append("--outliers")
        if args.beta_difference:
            cmd.append("--beta-difference")
        if args.prefetch:
            cmd.append("--prefetch")
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[1] / "src")
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        runs = []
        for _ in range(max(1, args.repeat)):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout, done.stderr, file=sys.stderr)
                return done.returncode
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        res = min(runs, key=lambda r: r["wall_s"])
        if len(runs) > 1:
            print(
                "engine runs (wall s / peak RSS MB): "
                + ", ".join(f"{r['wall_s']:.1f} / {r['peak_rss_mb']:.0f}" for r in runs)
                + f"; load average {os.getloadavg()[0]:.2f}"
            )
        print(
            f"engine wall time        {res['wall_s']:.1f} s, CPU {res['cpu_s']:.1f} s "
            f"(limma reference ~85 s for 450,000 x 500)"
        )
        print(
            f"engine peak RSS         {res['peak_rss_mb']:.0f} MB "
            f"(ru_maxrss of the engine process; Arrow pool peak {res['arrow_pool_peak_mb']:.0f} MB)"
        )
        print(
            f"planted recovered       {res['planted_recovered_fdr05']} / {res['planted']} "
            f"at FDR 5% ({res['null_hits_fdr05']} null CpGs at FDR 5%)"
        )
        print(
            f"lambda                  {res['lambda']:.4f} (null CpGs only: "
            f"{res['lambda_null_cpgs']:.4f})"
        )
        print(
            f"limma prior             d0 = {res['df_prior']:.3f}, s0^2 = {res['s2_prior']:.5f} "
            "(simulated d0 = 8, s0^2 = 0.09)"
        )
        print(f"reasons                 {res['reasons']}")
        print(json.dumps(res))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
