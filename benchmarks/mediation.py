"""Benchmark of the counterfactual mediation engine (not a timed test).

Simulates N participants with an exposure, a mediator, an outcome and 5 covariates, then

1. linear mediator and outcome, B bootstrap resamples: ``first1000.stats.causal.causal_mediation``
   against ``pingouin.mediation_analysis`` on the same data (pingouin refits the models in a
   Python loop of resamples); prints both wall times, the speed-up and the largest
   difference of the point estimates (indirect, direct, total);
2. linear mediator, binary outcome with an exposure-mediator interaction (logistic outcome
   model, g-formula over the empirical covariate distribution with Gauss-Hermite quadrature,
   three effect scales), B resamples;
3. the same with a binary mediator (logistic mediator model).

    PYTHONPATH=src python benchmarks/mediation.py                  # N = 2,000, B = 5,000
    PYTHONPATH=src python benchmarks/mediation.py --n 5000 --boot 2000 --skip-pingouin

Targets: >= 20x faster than pingouin for the linear model; < 5 s for the binary-outcome
interaction model with 5,000 resamples. BLAS threads are left at their defaults (the engine
limits BLAS to one thread around its batched small solves itself).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd


def simulate(n: int, rng: np.random.Generator) -> pd.DataFrame:
    c = rng.normal(size=(n, 5))
    c[:, 3] = (c[:, 3] > 0).astype(float)  # a binary covariate (e.g. child sex)
    x = 0.4 * c[:, 0] + rng.normal(size=n)
    m = 0.5 * x + c @ np.array([0.2, -0.1, 0.1, 0.3, 0.0]) + rng.normal(size=n)
    y = 0.3 * m + 0.15 * x + c @ np.array([0.1, 0.2, -0.2, 0.1, 0.05]) + rng.normal(size=n)
    eta = -0.8 + 0.35 * m + 0.2 * x + 0.15 * x * m + c @ np.array([0.1, 0.2, -0.2, 0.1, 0.0])
    ybin = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    mbin = (rng.random(n) < 1 / (1 + np.exp(-(0.8 * x + 0.3 * c[:, 0])))).astype(float)
    eta2 = -0.8 + 0.7 * mbin + 0.2 * x + 0.3 * x * mbin + 0.2 * c[:, 1]
    ybin2 = (rng.random(n) < 1 / (1 + np.exp(-eta2))).astype(float)
    frame = pd.DataFrame(c, columns=[f"c{i + 1}" for i in range(5)])
    frame["x"], frame["m"], frame["y"] = x, m, y
    frame["ybin"], frame["mbin"], frame["ybin2"] = ybin, mbin, ybin2
    return frame


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--boot", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--skip-pingouin", action="store_true")
    args = ap.parse_args(argv)

    from first1000.stats.causal import causal_mediation

    covs = [f"c{i + 1}" for i in range(5)]
    data = simulate(args.n, np.random.default_rng(args.seed))
    print(
        f"N = {args.n:,}, 5 covariates, B = {args.boot:,} resamples; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'default')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, "
        f"cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )

    t0 = time.perf_counter()
    ours = causal_mediation(
        data, "x", "m", "y", covariates=covs, contrast=(0, 1), n_boot=args.boot, seed=1
    )
    t_ours = time.perf_counter() - t0
    e = ours.set_index("effect")["estimate"]
    print(f"[linear]  first1000 causal_mediation   {t_ours:8.2f} s", flush=True)
    if not args.skip_pingouin:
        import pingouin as pg

        t0 = time.perf_counter()
        ref = pg.mediation_analysis(
            data=data, x="x", m="m", y="y", covar=covs, n_boot=args.boot, seed=1
        )
        t_pg = time.perf_counter() - t0
        r = ref.set_index("path")["coef"]
        diff = max(
            abs(e["tnie"] - r["Indirect"]),
            abs(e["pnde"] - r["Direct"]),
            abs(e["te"] - r["Total"]),
        )
        print(f"[linear]  pingouin.mediation_analysis  {t_pg:8.2f} s")
        print(f"[linear]  speed-up {t_pg / t_ours:6.1f}x; max |difference| of point estimates "
              f"(indirect, direct, total) {diff:.2e}")  # fmt: skip

    t0 = time.perf_counter()
    res = causal_mediation(
        data, "x", "m", "ybin", covariates=covs, outcome_family="binomial", interaction=True,
        contrast="sd", n_boot=args.boot, seed=1,
    )  # fmt: skip
    t_bin = time.perf_counter() - t0
    row = res[(res["effect"] == "tnie") & (res["scale"] == "odds_ratio")].iloc[0]
    print(
        f"[binary outcome, X*M, gaussian M] {t_bin:8.2f} s for {args.boot:,} resamples "
        f"(n_boot valid {int(row['n_boot'])}); TNIE OR {row['estimate']:.4f} "
        f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
    )
    t0 = time.perf_counter()
    res = causal_mediation(
        data, "x", "mbin", "ybin2", covariates=covs, mediator_family="binomial",
        outcome_family="binomial", interaction=True, contrast="sd", n_boot=args.boot, seed=1,
    )  # fmt: skip
    t_bb = time.perf_counter() - t0
    row = res[(res["effect"] == "tnie") & (res["scale"] == "risk_difference")].iloc[0]
    print(
        f"[binary outcome, X*M, binary M]   {t_bb:8.2f} s for {args.boot:,} resamples; "
        f"TNIE RD {row['estimate']:.4f} [{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
