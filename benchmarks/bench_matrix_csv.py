"""Benchmark of the CSV/TSV methylation-matrix ingest: check + write, batch by batch.

Writes a synthetic CpG x sample beta matrix as CSV (chunk by chunk, never the whole matrix
in memory), then, in a fresh child process, runs what the pre-flight check and the ingest
job do with it: :func:`first1000.ingest.stream_matrix` without an output (every value
checked) and with one (checked again and written as Parquet, sample columns pseudonymised).
Prints the file size, the wall time of each step and the child's peak RSS
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``), which must stay bounded by the batch,
not grow with the matrix.

    PYTHONPATH=src python benchmarks/bench_matrix_csv.py                    # 200,000 x 100
    PYTHONPATH=src python benchmarks/bench_matrix_csv.py --cpgs 450000 --samples 500
    PYTHONPATH=src python benchmarks/bench_matrix_csv.py --sep tab --batch-rows 10000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from first1000.ingest import MATRIX_BLOCK_BYTES  # noqa: E402

CHILD = r"""
import json, sys, time
from first1000 import ingest
path, out, batch_rows, n_samples = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
id_map = {f"S{j:05d}": f"P{j:05d}" for j in range(n_samples)}
spec = {"path": path}
t0 = time.perf_counter()
n_check = ingest.stream_matrix(spec, id_map, batch_rows=batch_rows)
t1 = time.perf_counter()
n_write = ingest.stream_matrix(spec, id_map, out, batch_rows=batch_rows)
t2 = time.perf_counter()
print(json.dumps({"check_s": t1 - t0, "write_s": t2 - t1, "n_check": n_check, "n_write": n_write}))
"""


def write_matrix(path: Path, cpgs: int, samples: int, sep: str, seed: int = 1, chunk: int = 10000) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(sep.join(["cpg", *(f"S{j:05d}" for j in range(samples))]) + "\n")
        for start in range(0, cpgs, chunk):
            n = min(chunk, cpgs - start)
            beta = rng.beta(0.6, 0.6, size=(n, samples))
            beta[rng.random(size=beta.shape) < 0.001] = np.nan  # detection-p failures
            lines = []
            for i in range(n):
                cells = ["NA" if np.isnan(v) else f"{v:.5f}" for v in beta[i]]
                lines.append(sep.join([f"cg{start + i:08d}", *cells]))
            fh.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpgs", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--batch-rows", type=int, default=20_000)
    parser.add_argument("--sep", choices=["comma", "tab"], default="comma")
    args = parser.parse_args()
    sep = "," if args.sep == "comma" else "\t"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("matrix.csv" if sep == "," else "matrix.tsv")
        t0 = time.perf_counter()
        write_matrix(path, args.cpgs, args.samples, sep)
        written = time.perf_counter() - t0
        out = Path(tmp) / "out.parquet"
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[1] / "src")
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        t0 = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", CHILD, str(path), str(out), str(args.batch_rows),
                                 str(args.samples)], env=env, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        timings = json.loads(result.stdout.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"matrix: {args.cpgs:,} CpGs x {args.samples} samples, {path.stat().st_size / 1e6:.0f} MB "
              f"{'CSV' if sep == ',' else 'TSV'} (written in {written:.1f} s); batches: the first 100 rows with "
              f"the exact checks, then Arrow blocks of {MATRIX_BLOCK_BYTES >> 20} MB (exact checks: "
              f"{args.batch_rows:,} rows at most)")
        print(f"check (pre-flight):  {timings['check_s']:.1f} s, {timings['n_check']:,} CpGs")
        print(f"check + write:       {timings['write_s']:.1f} s -> {out.stat().st_size / 1e6:.0f} MB Parquet")
        print(f"child wall time:     {wall:.1f} s (with imports)")
        print(f"child peak RSS:      {peak_mb:.0f} MB (the values alone: "
              f"{args.cpgs * args.samples * 8 / 1e6:.0f} MB as float64)")


if __name__ == "__main__":
    main()
