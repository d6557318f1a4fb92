"""Inputs of the WHO anthro reference (run once; see README.md): 600 measurements of
children 0-24 months (and a few to 5 years), typical and extreme, with and without the
length/height measure given."""
import numpy as np
import pandas as pd

rng = np.random.default_rng(20261203)
n = 600
age = np.concatenate([rng.uniform(0, 731, 540), rng.uniform(731, 1850, 50), [0, 1, 730, 731, 730.5, 1522, 987, 44, 365.25, 182.6]])
n = age.size
sex = rng.choice(["male", "female"], n)
months = age / 30.4375
weight = np.round(3.3 + 0.55 * months - 0.008 * months**2 + rng.normal(0, 1.2, n) * (1 + months / 24), 2)
length = np.round(50 + 2.6 * months - 0.035 * months**2 + rng.normal(0, 3.5, n), 1)
head = np.round(34.5 + 1.4 * months - 0.03 * months**2 + rng.normal(0, 1.6, n), 1)
measure = rng.choice(["l", "h", ""], n, p=[0.45, 0.15, 0.4])
# a few extremes for the restricted z-scores and the flags, and fractional lengths
weight[:12] = [1.2, 25.0, 2.0, 30.0, 0.9, 14.0, 19.5, 3.0, 6.0, 8.0, 10.0, 12.0]
length[12:20] = [72.86, 45.04, 109.97, 64.99, 65.0, 87.35, 119.95, 45.0]
measure[12:20] = ["l", "l", "l", "h", "h", "", "h", "l"]
pd.DataFrame({"sex": sex, "age_days": np.round(age, 2), "weight_kg": weight, "length_cm": length,
              "head_cm": head, "measure": measure}).to_csv("inputs.csv", index=False)
