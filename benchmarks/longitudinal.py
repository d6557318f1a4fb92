"""Linear mixed models of repeated measures: first1000.stats.mixed.fit_lmm against
statsmodels' MixedLM (not a timed test).

Children seen 1-4 times between 3 months and 2 years (2.5 visits on average), a score with
a random intercept and a random slope on age, an exposure whose association widens by
-0.25 SD per year, 6 covariates; REML with a random intercept and slope per child. Prints,
per number of children, the wall time and peak RSS of each fit (statsmodels only up to
``--statsmodels-max``), the exposure x age estimate and the largest difference of the
fixed effects between the two.

    PYTHONPATH=src python benchmarks/longitudinal.py
    PYTHONPATH=src python benchmarks/longitudinal.py --children 3000 30000 100000 --statsmodels-max 30000
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np


def simulate(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    visits = rng.integers(1, 5, n)
    child = np.repeat(np.arange(n), visits)
    age = rng.uniform(0.25, 2.0, child.size)
    x = rng.normal(size=n)[child]
    covs = rng.normal(size=(child.size, 6))
    y = (rng.normal(0, 0.8, n)[child] + rng.normal(0, 0.2, n)[child] * age - 0.25 * x * age
         + covs @ np.full(6, 0.05) + rng.normal(0, 0.35, child.size))
    X = np.column_stack([np.ones(child.size), x, age, x * age, covs])
    Z = np.column_stack([np.ones(child.size), age])
    return y, X, child, Z


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--children", type=int, nargs="+", default=[3000, 30000, 100000])
    ap.add_argument("--statsmodels-max", type=int, default=30000)
    args = ap.parse_args()
    import statsmodels.api as sm

    from first1000.stats.mixed import fit_lmm

    print(f"{'children':>9} {'rows':>8} {'first1000':>10} {'statsmodels':>12} {'x:age':>8} {'max |diff|':>10}")
    for n in args.children:
        y, X, child, Z = simulate(n)
        t0 = time.perf_counter()
        ours = fit_lmm(y, X, child, Z)
        t_ours = time.perf_counter() - t0
        if n <= args.statsmodels_max:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = sm.MixedLM(y, X, groups=child, exog_re=Z).fit(reml=True)
            t_sm = f"{time.perf_counter() - t0:.1f} s"
            diff = f"{np.max(np.abs(ours['params'] - ref.fe_params)):.1e}"
        else:
            t_sm, diff = "-", "-"
        print(f"{n:>9,} {len(y):>8,} {t_ours:>8.2f} s {t_sm:>12} {ours['params'][3]:>8.3f} {diff:>10}", flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
