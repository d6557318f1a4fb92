"""Benchmark of the per-CpG meta-analysis engine (not a timed test).

Simulates an EWAS's per-cohort results (one estimate and SE per CpG and cohort) with planted
between-cohort heterogeneity, then meta-analyses every CpG at once with
``first1000.stats.meta.meta_analyse`` (what the workflow's `ewas_meta` job calls) and prints
wall time, peak RSS and what was recovered: the coverage of the 95% CIs of the planted mean
effect, the mean tau² estimate where tau² was planted and where it was zero, and the coverage
of the Q-profile tau² intervals. With Rscript and metafor installed (Debian: r-cran-metafor),
``--metafor N`` also fits ``metafor::rma`` to the first N CpGs one by one (a loop, as an R
user meta-analyses CpGs): timed at metafor's defaults, compared with ours once converged to a
change of 1e-10 in tau² (its default stops REML at 1e-5); it prints the time per CpG and the
largest differences.

    PYTHONPATH=src python benchmarks/meta.py                                   # 850,000 x 5, REML
    PYTHONPATH=src python benchmarks/meta.py --cpgs 200000 --cohorts 3 --method FE
    PYTHONPATH=src python benchmarks/meta.py --metafor 2000

Simulation: per CpG a true mean effect mu ~ N(0, 0.02²); half of the CpGs have tau² = 0,
the other half tau² = ``--tau2`` (default 0.03², about the size of the cohorts' SEs); each
cohort's SE is drawn from U(0.02, 0.06) and its estimate is mu + N(0, tau²) + N(0, SE²).
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METAFOR_R = r"""
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
studies <- split(d[, c("estimate", "se")], factor(d$marker, levels = unique(d$marker)))
fit <- function(control) t(vapply(studies, function(s) tryCatch({
  f <- rma(yi = s$estimate, sei = s$se, method = args[2], control = control)
  c(f$beta[1], f$se, f$tau2)
}, error = function(e) c(NA_real_, NA_real_, NA_real_)), numeric(3)))
invisible(rma(yi = studies[[1]]$estimate, sei = studies[[1]]$se, method = args[2]))  # warm-up, not timed
t0 <- proc.time()[["elapsed"]]
invisible(fit(list()))  # timed at metafor's defaults (REML: Fisher scoring to a change of 1e-5 in tau2)
elapsed <- proc.time()[["elapsed"]] - t0
out <- fit(list(threshold = 1e-10, stepadj = 0.5, maxiter = 10000))  # compared: converged
write.csv(data.frame(marker = names(studies), estimate = out[, 1], se = out[, 2], tau2 = out[, 3]), args[3],
          row.names = FALSE)
cat(sprintf("metafor %s: %.3f s for %d CpGs (%d failed)\n", as.character(packageVersion("metafor")), elapsed,
            length(studies), sum(is.na(out[, 1]))))
"""


def simulate(n_cpgs: int, n_cohorts: int, tau2: float, rng: np.random.Generator):
    """The long table (marker, cohort, estimate, se, status) and the planted mu and tau²."""
    import pandas as pd

    mu = rng.normal(0.0, 0.02, n_cpgs)
    planted_tau2 = np.where(np.arange(n_cpgs) % 2 == 1, tau2, 0.0)
    se = rng.uniform(0.02, 0.06, (n_cpgs, n_cohorts))
    estimate = (mu[:, None] + np.sqrt(planted_tau2)[:, None] * rng.standard_normal((n_cpgs, n_cohorts))
                + se * rng.standard_normal((n_cpgs, n_cohorts)))
    markers = np.array([f"cg{i:08d}" for i in range(n_cpgs)], dtype=object)
    table = pd.DataFrame({
        "marker": np.repeat(markers, n_cohorts),
        "cohort": np.tile([f"cohort{j + 1}" for j in range(n_cohorts)], n_cpgs),
        "estimate": estimate.ravel(),
        "se": se.ravel(),
        "status": "ok",
    })
    return table, mu, planted_tau2


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpgs", type=int, default=850_000)
    ap.add_argument("--cohorts", type=int, default=5)
    ap.add_argument("--method", choices=["REML", "DL", "FE"], default="REML")
    ap.add_argument("--tau2", type=float, default=0.03**2, help="planted tau² of every second CpG")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--metafor", type=int, default=0, metavar="N",
                    help="also fit metafor::rma to the first N CpGs, one by one (needs Rscript and metafor)")
    args = ap.parse_args(argv)

    from first1000.stats.meta import meta_analyse

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    table, mu, planted_tau2 = simulate(args.cpgs, args.cohorts, args.tau2, rng)
    print(f"simulated {args.cpgs:,} CpGs x {args.cohorts} cohorts in {time.perf_counter() - t0:.1f} s; "
          f"peak RSS so far {peak_rss_gb():.2f} GB", flush=True)

    t0 = time.perf_counter()
    c0 = time.process_time()
    meta = meta_analyse(table, by=("marker",), study="cohort", method=args.method)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(f"meta_analyse ({args.method}{', Q-profile tau2 CIs' if args.method != 'FE' else ''}): "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {peak_rss_gb():.2f} GB (the simulated table included)")

    ok = (meta.status == "ok").to_numpy()
    covered = (meta.ci_low.to_numpy() <= mu) & (mu <= meta.ci_high.to_numpy())
    het = planted_tau2 > 0
    print(f"  {ok.sum():,} of {args.cpgs:,} CpGs ok; the 95% CI covers the planted mean effect in "
          f"{covered[ok].mean():.1%} of them ({covered[ok & ~het].mean():.1%} where tau2 = 0, "
          f"{covered[ok & het].mean():.1%} where tau2 > 0{', which FE ignores' if args.method == 'FE' else ''})")
    if args.method != "FE":
        tau2 = meta.tau2.to_numpy()
        print(f"  mean tau2 estimate {tau2[ok & het].mean():.2e} where {args.tau2:.2e} was planted, "
              f"{tau2[ok & ~het].mean():.2e} where 0 was (an estimate is never below 0)")
        if "tau2_ci_low" in meta:
            inside = (meta.tau2_ci_low.to_numpy() <= planted_tau2) & (planted_tau2 <= meta.tau2_ci_high.to_numpy())
            print(f"  tau2 CI covers the planted tau2 in {inside[ok & het].mean():.1%} (planted > 0) and "
                  f"{inside[ok & ~het].mean():.1%} (planted 0) of the CpGs")

    if args.metafor:
        if not shutil.which("Rscript"):
            print("metafor: Rscript not found (Debian: apt-get install r-base-core r-cran-metafor)")
            return 0
        import pandas as pd

        with tempfile.TemporaryDirectory(prefix="meta_bench_") as tmp:
            sub = table.iloc[: args.metafor * args.cohorts]
            sub.to_csv(Path(tmp) / "in.csv", index=False)
            (Path(tmp) / "rma.R").write_text(METAFOR_R)
            proc = subprocess.run(["Rscript", str(Path(tmp) / "rma.R"), str(Path(tmp) / "in.csv"), args.method,
                                   str(Path(tmp) / "out.csv")], capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-2000:])
                return 1
            found = re.search(r"^metafor \S+: ([\d.]+) s for \d+ CpGs.*$", proc.stdout, flags=re.M)
            if not found:
                sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-2000:])
                return 1
            print(found.group(0))
            seconds = float(found.group(1))
            theirs = pd.read_csv(Path(tmp) / "out.csv").set_index("marker")
            ours = meta.set_index("marker").loc[theirs.index]
            diff = {col: float(np.nanmax(np.abs(ours[col].to_numpy() - theirs[col].to_numpy())))
                    for col in ("estimate", "se", "tau2")}
            print(f"  metafor: {seconds / len(theirs) * 1e3:.2f} ms per CpG; this engine "
                  f"{wall / args.cpgs * 1e3:.4f} ms per CpG ({seconds / len(theirs) / (wall / args.cpgs):.0f}x); "
                  "largest difference " + ", ".join(f"{k} {v:.1e}" for k, v in diff.items())
                  + (" (timed at metafor's defaults; compared with metafor run to a change of 1e-10 in tau2, not its "
                     "default 1e-5)" if args.method == "REML" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
