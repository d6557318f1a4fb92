"""Write the 200 simulated data sets of benchmarks/imputation_coverage.py (defaults) to data.csv.

    PYTHONPATH=src python tests/data/reference/mice_coverage/export_data.py   # from the repo root

data.csv (not kept; 60,000 rows) is what mice_coverage.R reads.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "benchmarks"))
from imputation_coverage import simulate  # noqa: E402

frames = []
for rep in range(200):  # the benchmark's defaults: seed 2024, n 300, 40% missing
    _, data = simulate(np.random.default_rng([2024, rep]), 300, 0.4)
    frames.append(data.assign(rep=rep))
pd.concat(frames).to_csv(Path(__file__).with_name("data.csv"), index=False, na_rep="NA")
