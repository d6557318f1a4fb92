"""High-dimensional mediation (HIMA: screening, lasso, joint significance) over an
epigenome-wide number of candidates, read in chunks (not a timed test).

A 450,000 CpG x 1,000 participant matrix is simulated chunk by chunk (never whole in
memory), with 8 true mediators, 40 candidates that affect one path only, and the rest
null; ``first1000.stats.highdim.hima`` screens it in one pass. Prints the wall time (with
and without drawing the random numbers), peak RSS and the mediators found at q < 0.05.
With ``--latent K``, hdmax2's K latent factors are estimated first
(``first1000.stats.highdim.latent_factors``: one pass over the chunks per subspace
iteration) and join the covariates; their time and number of passes are printed too.

    PYTHONPATH=src python benchmarks/highdim.py
    PYTHONPATH=src python benchmarks/highdim.py --latent 2
    PYTHONPATH=src python benchmarks/highdim.py --cpgs 850000 --samples 1000
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpgs", type=int, default=450_000)
    ap.add_argument("--samples", type=int, default=1_000)
    ap.add_argument("--chunk", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--latent", type=int, default=0, help="latent factors (hdmax2), 0: none")
    args = ap.parse_args()
    from first1000.stats.highdim import hima, latent_factors

    n, p, true = args.samples, args.cpgs, 8
    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=n)
    C = rng.normal(size=(n, 3))
    effect = 0.3
    timing = {"draw": 0.0}

    # the planted candidates (first chunk) decide y; every chunk is drawn from its own stream
    def chunk(start):
        t0 = time.perf_counter()
        g = np.random.default_rng([args.seed, start])
        m = min(args.chunk, p - start)
        block = g.standard_normal((n, m))
        if start == 0:
            block[:, :true + 20] += effect * x[:, None]
        timing["draw"] += time.perf_counter() - t0
        return block

    first = chunk(0)
    y = 0.3 * x + effect * first[:, :true].sum(axis=1) + effect * first[:, true + 20:true + 40].sum(axis=1) \
        + C @ np.array([0.2, -0.1, 0.1]) + rng.normal(size=n)

    def chunks():
        for start in range(0, p, args.chunk):
            block = first if start == 0 else chunk(start)
            yield [f"cg{start + j:08d}" for j in range(block.shape[1])], block

    t0 = time.perf_counter()
    passes = {"n": 0}
    if args.latent:
        def counted():
            passes["n"] += 1
            return chunks()

        C = np.column_stack([C, latent_factors(x, C, counted, args.latent)])
        latent_wall = time.perf_counter() - t0
    res = hima(x, chunks(), y, C)
    wall = time.perf_counter() - t0
    table = res["table"]
    found = table[table.q < 0.05].mediator.tolist()
    real = sum(int(name[2:]) < true for name in found)
    print(f"{p:,} candidates x {n:,} participants, chunks of {args.chunk:,}: {wall:.1f} s wall "
          f"({wall - timing['draw']:.1f} s without drawing the simulated values), peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")
    if args.latent:
        print(f"{args.latent} latent factors: {latent_wall:.1f} s, {passes['n']} passes over the matrix")
    print(f"screened {res['top']}, kept by the lasso {res['n_selected']}, found at q < 0.05: {len(found)} "
          f"({real} of the {true} true mediators)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
