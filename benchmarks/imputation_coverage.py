"""Coverage benchmark of multiple imputation pooled by Rubin's rules (not a timed test).

Repeats a simulation many times and prints, for the full data, the complete cases and
multiple imputation (:func:`first1000.stats.imputation.fit_association_mi`) with each
imputation method (``mi_pmm``, ``mi_norm.boot``; R mice's ``pmm`` and ``norm.boot``): the
mean estimate, its bias against the true effect, the mean |estimate - full-data estimate|,
the empirical SD, the mean SE, the coverage of the true effect by the 95% interval and the
time spent imputing and pooling.

    PYTHONPATH=src python benchmarks/imputation_coverage.py                 # 200 reps, m=20
    PYTHONPATH=src python benchmarks/imputation_coverage.py --reps 500 --missing 0.5
    PYTHONPATH=src python benchmarks/imputation_coverage.py --method norm.boot

Simulation (per replicate, n participants): covariate c ~ N(0, 1); auxiliary a ~ N(0, 1);
exposure x = 0.5 c + 0.3 a + e_x; outcome y = 1 + beta x + 0.3 c + e, e, e_x ~ N(0, 1),
beta = 0.5. The exposure is made missing at random given the observed outcome:
P(x missing) = expit(alpha0 + 1.5 y_std), alpha0 chosen for the requested overall share.
Complete-case analysis of y ~ x + c is then biased (selection on the outcome), MI with the
outcome in the imputation model is not. The auxiliary variable a enters the imputation
model only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from first1000.stats.imputation import METHODS, fit_association_mi
from first1000.stats.regression import fit_association

BETA = 0.5


def simulate(rng: np.random.Generator, n: int, missing: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(full data, data with the exposure missing at random given the outcome)."""
    c = rng.normal(size=n)
    a = rng.normal(size=n)
    x = 0.5 * c + 0.3 * a + rng.normal(size=n)
    y = 1 + BETA * x + 0.3 * c + rng.normal(size=n)
    full = pd.DataFrame({"y": y, "x": x, "c": c, "a": a})
    ys = (y - y.mean()) / y.std()
    alpha0 = brentq(lambda a0: expit(a0 + 1.5 * ys).mean() - missing, -20, 20)
    data = full.copy()
    data.loc[rng.random(n) < expit(alpha0 + 1.5 * ys), "x"] = np.nan
    return full, data


def one_replicate(
    rep: int, n: int, missing: float, m: int, max_iter: int, seed: int, methods: list[str],
    seconds: dict,
) -> dict:  # fmt: skip
    rng = np.random.default_rng([seed, rep])
    full, data = simulate(rng, n, missing)
    out = {}
    out["full"] = fit_association(full, "y", "x", ["c"])
    out["cc"] = fit_association(data, "y", "x", ["c"])
    for method in methods:
        start = time.perf_counter()
        out[f"mi_{method}"] = fit_association_mi(
            data, "y", "x", ["c"], m=m, seed=seed, auxiliary=["a"], max_iter=max_iter,
            keys=(f"rep{rep}",), method=method,
        )  # fmt: skip
        seconds[method] = seconds.get(method, 0.0) + time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--missing", type=float, default=0.4)
    parser.add_argument("--m", type=int, default=20)
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--method", choices=[*METHODS, "both"], default="both")
    args = parser.parse_args()
    methods = list(METHODS) if args.method == "both" else [args.method]

    start = time.perf_counter()
    rows = []
    seconds: dict[str, float] = {}
    for rep in range(args.reps):
        res = one_replicate(
            rep, args.n, args.missing, args.m, args.max_iter, args.seed, methods, seconds
        )  # fmt: skip
        full = res["full"]["estimate"]
        for method, fit in res.items():
            rows.append({
                "method": method, "estimate": fit["estimate"], "se": fit["se"],
                "covered": fit["ci_low"] <= BETA <= fit["ci_high"],
                "dev_full": abs(fit["estimate"] - full), "fmi": fit.get("fmi", np.nan),
            })  # fmt: skip
    table = pd.DataFrame(rows)
    summary = table.groupby("method", sort=False).agg(
        mean_estimate=("estimate", "mean"),
        emp_sd=("estimate", "std"),
        mean_se=("se", "mean"),
        mean_abs_dev_from_full=("dev_full", "mean"),
        coverage=("covered", "mean"),
        mean_fmi=("fmi", "mean"),
    )
    summary.insert(1, "bias", summary.mean_estimate - BETA)
    mc_se = np.sqrt(0.95 * 0.05 / args.reps)
    print(
        f"{args.reps} replicates, n={args.n}, {args.missing:.0%} of the exposure missing "
        f"(MAR given the outcome), m={args.m}, max_iter={args.max_iter}, true beta={BETA}"
    )
    print(summary.round(4).to_string())
    print(f"Monte Carlo SE of a 95% coverage: {mc_se:.4f}; "
          f"wall time {time.perf_counter() - start:.1f} s")  # fmt: skip
    for method, secs in seconds.items():
        per_rep = secs / args.reps
        print(f"  mi_{method}: {secs:.1f} s imputing and pooling ({per_rep:.2f} s per replicate)")


if __name__ == "__main__":
    main()
