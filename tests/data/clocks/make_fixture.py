"""Regenerate the biolearn reference predictions used by tests/mechanisms/test_clocks.py.

Not run by the test suite. It needs biolearn 0.9.1 in a throwaway environment (biolearn
is not a dependency of first1000):

    python3.11 -m venv /tmp/bl-venv
    /tmp/bl-venv/bin/pip install biolearn==0.9.1 seaborn
    # biolearn.model imports torch at module level although the linear clocks never use
    # it; instead of installing PyTorch, put a stub `torch` package (Tensor, nn.Module,
    # nn.functional) on PYTHONPATH.
    PYTHONPATH=/path/to/torch-stub /tmp/bl-venv/bin/python tests/data/clocks/make_fixture.py

Writes, beside this script:
  synthetic_betas.csv   12 synthetic samples (rows) x CpGs (columns), beta values.
                        Built from the sesame 450K medians biolearn ships plus noise;
                        it has scattered missing values, CpGs left out entirely and one
                        CpG per clock with < 80 % of samples present.
  biolearn_predictions.csv  sample, clock, imputation, predicted: biolearn's
                        ModelGallery().get(clock, imputation_method=...).predict(...)
                        with imputation "sesame_450k" (biolearn's default, hybrid) on
                        the incomplete matrix and "none" on a complete copy of it.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from biolearn.data_library import GeoData
from biolearn.model_gallery import ModelGallery
from biolearn.util import get_data_file

HERE = Path(__file__).parent
CLOCKS = ["Horvathv1", "Hannum", "Knight", "Bohlin"]


def main():
    gallery = ModelGallery()
    cpgs = sorted(set().union(*(gallery.get(c, imputation_method="none").methylation_sites() for c in CLOCKS)))
    medians = pd.read_csv(get_data_file("sesame_450k_median.csv"), index_col=0)["median"]
    rng = np.random.default_rng(20240611)
    n = 12
    samples = [f"S{i:02d}" for i in range(1, n + 1)]
    base = medians.reindex(cpgs).fillna(0.5).to_numpy()
    # Sample-specific shifts make the clocks spread out; noise per CpG and sample.
    shift = rng.normal(0, 0.6, size=(n, 1)) * rng.normal(0, 1, size=(1, len(cpgs)))
    logit = np.log(base / (1 - base)) + shift + rng.normal(0, 0.3, size=(n, len(cpgs)))
    betas = pd.DataFrame(1 / (1 + np.exp(-logit)), index=samples, columns=cpgs).round(4)
    complete = betas.copy()

    incomplete = betas.copy()
    # Scattered missing values (about 3 %).
    mask = rng.random(incomplete.shape) < 0.03
    incomplete = incomplete.mask(mask)
    # Per clock: two CpGs absent from the data, one CpG present in only 6 of 12 samples.
    dropped, sparse = [], []
    for clock in CLOCKS:
        sites = sorted(gallery.get(clock, imputation_method="none").methylation_sites())
        pick = rng.choice(sites, size=3, replace=False)
        dropped += list(pick[:2])
        sparse.append(pick[2])
    for cpg in sparse:
        incomplete.loc[samples[:6], cpg] = np.nan
    incomplete = incomplete.drop(columns=sorted(set(dropped)))

    rows = []
    for clock in CLOCKS:
        for imputation, data in (("sesame_450k", incomplete), ("none", complete)):
            model = gallery.get(clock, imputation_method=imputation)
            geo = GeoData(pd.DataFrame(index=data.index), data.T.copy())
            pred = model.predict(geo)["Predicted"]
            rows += [dict(sample=s, clock=clock, imputation=imputation, predicted=float(pred[s]))
                     for s in samples]
    incomplete.index.name = "sample"
    incomplete.to_csv(HERE / "synthetic_betas.csv")
    complete.index.name = "sample"
    # The complete matrix is the incomplete one plus the values withheld; ship it too.
    complete.to_csv(HERE / "synthetic_betas_complete.csv")
    pd.DataFrame(rows).to_csv(HERE / "biolearn_predictions.csv", index=False, float_format="%.10g")
    print(f"{len(cpgs)} CpGs, dropped {sorted(map(str, set(dropped)))}, sparse {list(map(str, sparse))}")


if __name__ == "__main__":
    main()
