"""Raw tables of a pregnancy trial as a lab exports them (issue #16), written by
:func:`write_tables`: one cohort, immune markers, birth outcomes, education as the only SES
indicator, no questionnaires. What makes it real:

* pregnancy losses: 8 participants with a gestational age of 100-130 days and a weight of
  100-250 g (below the shipped ranges of 154 days and 300 g);
* assay floors: 72 % of IL-6 values are the assay's floor, 0.70 pg/mL (its declared LOD);
  60 % of IL-1beta values sit at 0.20 pg/mL, with no LOD declared;
* one SES indicator: education in three levels, 60 % in the middle one (the tertile cut
  points of an index of it coincide);
* a study-specific binary exposure, ``low_edu`` coded 1 (no) / 2 (yes);
* text/number-mixed codes: in the workbook, half the ``smoker`` and ``low_edu`` cells are
  numbers and half text (as a spreadsheet holds them after copy-pasting from a form).

Planted: CRP is 30 % higher (ln + 0.26) with low education; birth weight falls by 60 g per
ln unit of CRP. Deterministic for a seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

N = 320
N_LOSSES = 8
IL6_FLOOR, IL1B_FLOOR = 0.70, 0.20
LN_CRP_PER_LOW_EDUCATION = 0.26
BIRTH_WEIGHT_PER_LN_CRP = -60.0


def write_tables(folder, seed: int = 16) -> dict:
    """Write participants.xlsx and immune.csv into ``folder``; return the planted facts."""
    from openpyxl import Workbook

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"PT-{i:04d}" for i in range(1, N + 1)]
    education = rng.choice(["primary", "secondary", "tertiary"], size=N, p=[0.18, 0.60, 0.22])
    low = (education == "primary").astype(int)
    age = np.clip(rng.normal(30, 5, N).round(), 17, 46)
    bmi = np.clip(rng.normal(24.5, 4, N), 16, 45).round(1)
    smoker = rng.binomial(1, 0.12 + 0.1 * low)
    sex = rng.choice(["M", "F"], size=N)
    ln_crp = np.log(6.0) + LN_CRP_PER_LOW_EDUCATION * low + rng.normal(0, 0.6, N)
    ga = np.clip(rng.normal(279, 9, N), 238, 297).round()
    weight = 3400 + 20 * (ga - 279) + BIRTH_WEIGHT_PER_LN_CRP * (ln_crp - np.log(6.0)) + rng.normal(0, 380, N)
    losses = rng.choice(N, N_LOSSES, replace=False)
    ga[losses] = rng.integers(100, 131, N_LOSSES)
    weight[losses] = rng.integers(100, 251, N_LOSSES)
    weight = weight.round()

    book = Workbook()
    sheet = book.active
    sheet.title = "data"
    sheet.append(["record_id", "age_years", "bmi", "smoker", "sex", "education", "low_edu", "ga_days",
                  "weight_g"])
    for i in range(N):
        mixed = i % 2 == 0  # every other row holds its codes as text
        sheet.append([ids[i], int(age[i]), float(bmi[i]), str(smoker[i]) if mixed else int(smoker[i]), sex[i],
                      education[i], str(low[i] + 1) if mixed else int(low[i] + 1), int(ga[i]), int(weight[i])])
    book.save(folder / "participants.xlsx")

    il6 = np.where(rng.random(N) < 0.72, IL6_FLOOR, np.round(IL6_FLOOR + rng.lognormal(0.3, 0.7, N), 2))
    il1b = np.where(rng.random(N) < 0.60, IL1B_FLOOR, np.round(IL1B_FLOOR + rng.lognormal(-0.5, 0.6, N), 2))
    crp = np.round(np.exp(ln_crp), 2)
    immune = pd.DataFrame({"record_id": ids, "il6_pg_ml": il6, "il1b_pg_ml": il1b, "crp_mg_l": crp})
    immune.to_csv(folder / "immune.csv", index=False)
    return {"losses": N_LOSSES, "pct_il6_floor": 100 * float(np.mean(il6 == IL6_FLOOR)),
            "pct_il1b_floor": 100 * float(np.mean(il1b == IL1B_FLOOR)), "n_crp_over_10": int((crp > 10).sum())}
