"""Disclosure control (first1000.privacy): one rule set for every table and figure that
summarises people, and CSV/TSV formula neutralisation.

(a) the rule set on hand-made tables, outputs computed by hand;
(b) a suppression-recovery attack: small synthetic cohorts with planted small cells (3 boys
    of 450, 2 smokers, 3 missing BMI, 1 participant with an Apgar score, 2 homemakers, 1
    without a diploma, 2 without an EPDS score, 3 missing biomarker values) run through the
    real stages (ingest,
    harmonise, missingness) on temporary files; every output that holds a count is then
    attacked as a reader could (total - complement, the sum of the other levels, the
    cohorts vs pooled, mean x n, % x n / 100, n_observed vs n_total, repeated until
    nothing new is learnt): no suppressed count may be recovered.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from first1000.harmonise.characteristics import table1
from first1000.io import write_tsv
from first1000.privacy import (
    protect,
    protect_harmonisation,
    suppress_missingness,
    suppress_modification,
    suppress_small_counts,
)
from first1000.stages.harmonise import harmonised_summary

M = 5  # privacy.min_cell_size (the default)


# =========================================================================== (a) the rule set
def test_a_small_count_and_its_complement():
    # 3 boys of 450 (public): the girls would give them back, so they are a bound
    assert protect({"boys": 3, "girls": 447}, [(["boys", "girls"], 450)], M) == {"boys": "<5", "girls": ">445"}


def test_one_suppressed_level_takes_the_next_smallest_with_it():
    # 2 + b = 100 - 30 - 58 = 12 with b >= 5: b in 8..11, shown as ">7"
    shown = protect({"a": 2, "b": 10, "c": 30, "d": 58}, [(["a", "b", "c", "d"], 100)], M)
    assert shown == {"a": "<5", "b": ">7"}


def test_two_small_levels_protect_each_other_unless_their_sum_pins_them():
    assert protect({"a": 2, "b": 3, "c": 95}, [(["a", "b", "c"], 100)], M) == {"a": "<5", "b": "<5"}
    # a + b = 2 with a, b >= 1: both are 1, so a third count goes too (c in 92..98)
    assert protect({"a": 1, "b": 1, "c": 98}, [(["a", "b", "c"], 100)], M) == {"a": "<5", "b": "<5", "c": ">91"}


def test_zero_is_not_a_small_cell():
    assert protect({"a": 0, "b": 50}, [(["a", "b"], 50)], M) == {}


def test_undisplayed_counts_are_protected_too():
    # only the missing are shown: 3 missing leave 447 with a value (not shown), nothing to add
    assert protect({"observed": 447, "missing": 3}, [(["observed", "missing"], 450)], M, hidden=["observed"]) \
        == {"missing": "<5"}
    # 1 participant with a value: the missing (449) would give her away
    assert protect({"observed": 1, "missing": 449}, [(["observed", "missing"], 450)], M, hidden=["observed"]) \
        == {"missing": ">4"}


def test_two_way_table_suppresses_a_rectangle():
    cells = {("r1", "c1"): 3, ("r1", "c2"): 20, ("r2", "c1"): 30, ("r2", "c2"): 40,
             ("r1", "t"): 23, ("r2", "t"): 70, ("t", "c1"): 33, ("t", "c2"): 60, ("t", "t"): 93}
    sums = [([("r1", "c1"), ("r1", "c2")], ("r1", "t")), ([("r2", "c1"), ("r2", "c2")], ("r2", "t")),
            ([("r1", "c1"), ("r2", "c1")], ("t", "c1")), ([("r1", "c2"), ("r2", "c2")], ("t", "c2")),
            ([("r1", "t"), ("r2", "t")], ("t", "t")), ([("t", "c1"), ("t", "c2")], ("t", "t"))]
    # r1c2 = 23 - r1c1 in 19..22; r2c1 = 33 - r1c1 in 29..32; r2c2 = 70 - r2c1 in 38..41
    assert protect(cells, sums, M) == {("r1", "c1"): "<5", ("r1", "c2"): ">18", ("r2", "c1"): ">28",
                                       ("r2", "c2"): ">37"}


def test_the_threshold_is_the_configured_one():
    assert protect({"a": 7, "b": 93}, [(["a", "b"], 100)], 10) == {"a": "<10", "b": ">90"}  # 91..99
    assert protect({"a": 7, "b": 93}, [(["a", "b"], 100)], 5) == {}


def test_row_tables_blank_every_statistic_of_a_suppressed_n():
    qc = pd.DataFrame({"cohort": ["a", "b"], "measure": ["il6", "il6"], "n": [3, 200], "n_missing": [297, 100],
                       "median": [1.5, 2.0], "q1": [1.0, 1.5], "q3": [2.0, 2.5], "pct_below_lod": [33.3, 1.0],
                       "lod": [0.1, 0.1]})
    out = suppress_small_counts(qc, M)
    # n + n_missing = 300 participants: 3 with a value (primary), 297 missing in 296..299
    assert out.n.tolist() == ["<5", 200] and out.n_missing.tolist() == [">295", 100]
    assert out.loc[0, ["median", "q1", "q3", "pct_below_lod"]].isna().all()
    assert out.loc[0, "lod"] == 0.1  # a setting, not a statistic of the 3
    assert out.loc[1, ["median", "q1", "q3", "pct_below_lod"]].tolist() == [2.0, 1.5, 2.5, 1.0]


def test_missingness_pooled_row_does_not_give_a_cohort_back():
    table = pd.DataFrame({
        "cohort": ["a", "b", "pooled"], "variable": "bmi", "role": "covariate", "n_total": [450, 550, 1000],
        "n_observed": [447, 530, 977], "n_missing": [3, 20, 23], "pct_missing": [0.667, 3.636, 2.3],
        "n_complete_cases": [440, 520, 960]})
    out = suppress_missingness(table, M).set_index("cohort")
    assert out.loc["a", "n_missing"] == "<5" and out.loc["a", "n_observed"] == ">445"
    # 23 pooled - 20 in b = 3: the smallest other cohort count of the sum goes (b: 20)
    assert out.loc["b", "n_missing"] == ">18" and math.isnan(out.loc["b", "pct_missing"])  # 23 - (1..4)
    assert math.isnan(out.loc["a", "pct_missing"]) and out.loc["pooled", "n_missing"] == 23
    assert out.loc["b", "n_observed"] == 530 or str(out.loc["b", "n_observed"]).startswith(">")


def test_harmonised_summary_by_hand():
    n = 20
    frame = pd.DataFrame({
        "pseudo_id": [f"P{i}" for i in range(n)], "cohort": "c",
        "bmi": [np.nan] * 3 + [20.0 + i for i in range(n - 3)],  # 3 missing
        "smoking": [1.0, 1.0] + [0.0] * (n - 2),  # 2 smokers
        "preterm": [1.0] * 10 + [0.0] * 10,
        "apgar": [9.0] + [np.nan] * (n - 1),  # 1 participant with a value
    })
    out = harmonised_summary(frame, {}, M).set_index("variable")
    assert out.loc["bmi", "n_missing"] == "<5" and out.loc["bmi", "n"] == ">15"  # 17 with a value: 16..19
    assert out.loc["bmi", ["pct_missing", "mean", "sd"]].isna().all()  # 15% of 20 = 3; mean x n = a sum
    assert out.loc["smoking", "n"] == 20 and out.loc["smoking", "n_missing"] == 0
    assert out.loc["smoking", ["mean", "sd"]].isna().all()  # 0.1 x 20 = 2 smokers
    assert out.loc["preterm", "mean"] == 0.5 and out.loc["preterm", "sd"] == pytest.approx(np.std([1] * 10 + [0] * 10,
                                                                                                   ddof=1))
    assert out.loc["apgar", "n"] == "<5" and out.loc["apgar", "n_missing"] == ">15"
    assert out.loc["apgar", ["pct_missing", "mean", "sd"]].isna().all()


def _table1_frame():
    """30 participants, SES tertiles of 10: 3 boys (all in T1), 2 missing BMI (T2), 1 smoker."""
    n = 30
    return pd.DataFrame({
        "pseudo_id": [f"P{i}" for i in range(n)], "cohort": "c", "ses_index": np.arange(n, dtype=float),
        "child_sex": ["male"] * 3 + ["female"] * 27,
        "bmi": [22.0] * 10 + [np.nan, np.nan] + [25.0] * 18,
        "smoking": [1.0] + [0.0] * 29,
    })


def test_table1_by_hand():
    schema = {"child_sex": {"type": "categorical", "label": "Child sex", "categories": ["female", "male"]},
              "bmi": {"type": "continuous", "label": "BMI", "unit": "kg/m2"},
              "smoking": {"type": "binary", "label": "Smoking"}}
    out = table1(_table1_frame(), schema, variables=["child_sex", "bmi", "smoking"], min_cell=M)
    rows = {(r.variable, r.level): [r.overall, r["SES T1 (lowest)"], r["SES T2"], r["SES T3 (highest)"]]
            for _, r in out.iterrows()}
    assert rows[("participants", "n")] == ["30", "10", "10", "10"]
    # boys: 3 overall and in T1, 0 in T2/T3; the girls of T1 (7) and overall (27) would give them back
    assert rows[("Child sex", "male")] == ["<5", "<5", "0 (0.0%)", "0 (0.0%)"]
    assert rows[("Child sex", "female")] == [">25", ">5", "10 (100.0%)", "10 (100.0%)"]
    # BMI: 2 missing in T2; 8 with a value in T2 (>= 5: the mean is shown); T2's missing is
    # recoverable from overall - T1 - T3, so overall's missing goes too
    assert rows[("BMI (kg/m2)", "missing, n (%)")] == ["<5", "0 (0.0%)", "<5", "0 (0.0%)"]
    assert rows[("BMI (kg/m2)", "mean (SD)")] == ["23.9 (1.5)", "22.0 (0.0)", "25.0 (0.0)", "25.0 (0.0)"]  # 670 / 28
    # 1 smoker (T1): the non-smokers are not shown, but T1 - smokers - missing would give her back
    assert rows[("Smoking (0/1)", "n (%)")] == ["<5", "<5", "0 (0.0%)", "0 (0.0%)"]


def test_modification_strata_and_terms_of_a_small_level():
    rows = []
    for cohort, (female, male) in {"a": (392, 3), "b": (300, 200)}.items():
        total = female + male
        rows += [dict(cohort=cohort, exposure="x", response="y", modifier="sex", part="term", level="sex[male]",
                      value=np.nan, estimate=0.3, n=total),
                 dict(cohort=cohort, exposure="x", response="y", modifier="sex", part="stratum", level="female",
                      value=np.nan, estimate=0.1, n=female),
                 dict(cohort=cohort, exposure="x", response="y", modifier="sex", part="stratum", level="male",
                      value=np.nan, estimate=0.9, n=male),
                 dict(cohort=cohort, exposure="x", response="y", modifier="sex", part="test", level=np.nan,
                      value=np.nan, estimate=np.nan, n=total)]
    out = suppress_modification(pd.DataFrame(rows), M)
    a = out[out.cohort == "a"].set_index("part")
    assert out.n.tolist()[:4] == [395, ">390", "<5", 395]  # female = 395 - male: 391..394
    assert out.estimate.isna().tolist()[:3] == [True, True, True]  # the term of [male], both strata
    assert a.loc["test", "n"] == 395 and out[out.cohort == "b"].n.tolist() == [500, 300, 200, 500]


# --------------------------------------------------------------------------- formula neutralisation
def test_write_tsv_neutralises_formulas_and_leaves_numbers(tmp_path):
    table = pd.DataFrame({
        "text": ["=HYPERLINK(\"x\")", "+SUM(A1)", "-2+3+cmd|' /C calc'!A0", "@cmd", "\tx", "\rx", "-0.5", "<5", ">445",
                 "ok", None],
        "number": [-1.5, -0.25, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        "count": list(range(-5, 6)),
    })
    path = tmp_path / "t.tsv"
    write_tsv(table, path)
    assert path.read_text().split("\n")[0] == "text\tnumber\tcount"
    raw = path.read_bytes()
    assert b"'\rx\t5\t0\n" in raw  # a carriage return at the start: prefixed too
    read = pd.read_csv(path, sep="\t", keep_default_na=False, lineterminator="\n")
    assert read.text.tolist() == ["'=HYPERLINK(\"x\")", "'+SUM(A1)", "'-2+3+cmd|' /C calc'!A0", "'@cmd", "'\tx", "'\rx",
                                  "-0.5", "<5", ">445", "ok", ""]
    assert read.number.tolist() == [-1.5, -0.25, 2, 3, 4, 5, 6, 7, 8, 9, 10]  # numbers untouched
    assert read["count"].tolist() == list(range(-5, 6))
    assert table.text[0] == "=HYPERLINK(\"x\")"  # the caller's frame is not changed
    # a table without formulas is written byte for byte as before
    plain = pd.DataFrame({"a": ["x", "-0.5"], "b": [-1.0, 2.5]})
    write_tsv(plain, path)
    assert path.read_bytes() == plain.to_csv(sep="\t", index=False, float_format="%.10g",
                                             lineterminator="\n").encode()
    write_tsv(pd.DataFrame({"=x": [1]}), path)
    assert path.read_text() == "'=x\n1\n"
    # a meta-analysis direction is signs only: no formula can be made of it
    write_tsv(pd.DataFrame({"direction": ["--", "+-?0", "-0.9 (0.4)", "-1.2 [-2.0, 0.3]", "-1+A1", "=1+1", "-1 to 2",
                                          "-1-1", " =1+1", "\uff1dHYPERLINK(1)"]}), path)
    assert path.read_text() == ("direction\n--\n+-?0\n-0.9 (0.4)\n-1.2 [-2.0, 0.3]\n'-1+A1\n'=1+1\n'-1 to 2\n'-1-1\n"
                                "' =1+1\n'\uff1dHYPERLINK(1)\n")


# --------------------------------------------------------------------------- figures
def test_figures_take_the_configured_threshold(demo_config):
    from first1000.figures.qc import measure_summary
    from first1000.stages.figures import qc_plot_params

    cfg = copy.deepcopy(demo_config)
    cfg["privacy"]["min_cell_size"] = 10
    assert qc_plot_params(cfg, "cns")["min_cell_size"] == 10
    table = pd.DataFrame({"cohort": ["a", "b"], "measure": ["gfap", "gfap"], "unit": "pg/mL", "n": [7, 40],
                          "median": [1.0, 2.0], "q1": [0.5, 1.5], "q3": [1.5, 2.5]})
    fig = measure_summary(table, min_cell=10)
    fig.draw_without_rendering()
    text = " ".join(" ".join(t.get_text() for t in fig.findobj(Text) if t.get_visible()).split())
    assert "fewer than 10" in text and "fewer than 5" not in text
    from first1000.figures.qc import Line2D  # the medians drawn: only b's (n = 40 >= 10)
    drawn = [line.get_gid() for line in fig.findobj(Line2D) if (line.get_gid() or "").startswith("summary-median-")]
    assert drawn == ["summary-median-b-gfap"]


# =========================================================================== (b) recovery attacks
_COUNT = re.compile(r"^\s*(\d+)(?:\s*\(([\d.]+)%\))?\s*$")


def _number(text):
    """An exact count shown in a cell (None when suppressed, a bound or blank)."""
    if isinstance(text, (int, np.integer)) or (isinstance(text, float) and math.isfinite(text) and text.is_integer()):
        return int(text)
    m = _COUNT.match(str(text))
    return int(m.group(1)) if m else None


def _solve(known: dict, sums: list[tuple[list, object]]) -> dict:
    """Every count one sum with a single unknown gives away, repeated until nothing new."""
    known = dict(known)
    changed = True
    while changed:
        changed = False
        for parts, total in sums:
            total_value = known.get(total) if not isinstance(total, (int, np.integer)) else int(total)
            unknown = [p for p in parts if p not in known]
            if total_value is not None and len(unknown) == 1:
                known[unknown[0]] = total_value - sum(known[p] for p in parts if p in known)
                changed = True
            elif total_value is None and not unknown and not isinstance(total, (int, np.integer)):
                known[total] = sum(known[p] for p in parts)
                changed = True
    return known


def _assert_not_recovered(suppressed: dict, known: dict, what: str):
    recovered = {k: known[k] for k in suppressed if k in known}
    assert not recovered, f"{what}: suppressed counts recovered: {recovered}"


def _pct_attack(pct, total):
    """A count given back by its percentage of a known total (rounded to 1 decimal)."""
    if pct is None or (isinstance(pct, float) and math.isnan(pct)) or total is None:
        return None
    candidates = [k for k in range(total + 1) if round(100 * k / total, 1) == round(float(pct), 1)]
    return candidates[0] if len(candidates) == 1 else None


def _planted(table: pd.DataFrame) -> pd.DataFrame:
    """Ghent's demo participants with small cells planted."""
    table = table.copy()
    table["child_sex"] = "meisje"
    table.loc[[5, 77, 301], "child_sex"] = "jongen"  # 3 boys of 450
    table["smoking_pregnancy"] = "nee"
    table.loc[[10, 200], "smoking_pregnancy"] = "ja"  # 2 smokers
    table["bmi_kg_m2"] = "24.5"
    table.loc[[3, 4, 400], "bmi_kg_m2"] = "-9"  # 3 missing
    table["apgar_5min"] = "-9"
    table.loc[[42], "apgar_5min"] = "9"  # 1 participant with a value
    table.loc[table.employment == "huisvrouw", "employment"] = "werkend"
    table.loc[[11, 12], "employment"] = "huisvrouw"  # 2 homemakers
    table.loc[table.education == "geen diploma", "education"] = "bachelor"
    table.loc[[13], "education"] = "geen diploma"  # 1 without a diploma
    for item in range(1, 11):
        table.loc[[20, 21], f"epds_{item}"] = "-9"  # 2 without an EPDS score
    return table


@pytest.fixture(scope="module")
def cohort_outputs(tmp_path_factory, demo_config):
    """Two cohorts through the real ingest, harmonise and missingness stages."""
    from first1000.stages import harmonise as harmonise_stage
    from first1000.stages import ingest as ingest_stage
    from first1000.stages import modification as modification_stage

    tmp = tmp_path_factory.mktemp("privacy")
    key = tmp / "key" / "pseudonym.key"
    key.parent.mkdir()
    key.write_text(hashlib.sha256(b"first1000 privacy test").hexdigest() + "\n", encoding="ascii")
    ingested, reports, out = [], [], {}
    for cohort in ("ghent", "rotterdam"):
        mapping = copy.deepcopy(demo_config["cohorts"][cohort]["_mapping"])
        src = mapping["tables"]["participants"]["path"]
        raw = pd.read_csv(src, dtype=str, keep_default_na=False, sep="," if src.endswith(".csv") else "\t")
        if cohort == "ghent":
            raw = _planted(raw)
        path = tmp / f"{cohort}_raw.csv"
        raw.to_csv(path, index=False)
        mapping["tables"] = {"participants": dict(mapping["tables"]["participants"], path=str(path))}
        files = {name: tmp / f"{cohort}_{name}" for name in ("participants.parquet", "variables.tsv",
                                                               "categories.tsv")}
        ingest_stage.ingest_participants(
            cohort=cohort, mapping=mapping, data_schema=demo_config["_data_schema"], min_cell_size=M,
            table=str(path), mapping_file=demo_config["cohorts"][cohort]["mapping"], key=str(key),
            participants=files["participants.parquet"], harmonisation=files["variables.tsv"],
            categories=files["categories.tsv"])
        ingested.append(files["participants.parquet"])
        reports.append(files["variables.tsv"])
        out[f"{cohort}_variables"] = pd.read_csv(files["variables.tsv"], sep="\t", keep_default_na=False)
        out[f"{cohort}_categories"] = pd.read_csv(files["categories.tsv"], sep="\t", keep_default_na=False,
                                                  dtype={"n": str})
    names = {k: tmp / k for k in ("harmonised.parquet", "summary.tsv", "table1.tsv", "ses.tsv", "mood.tsv",
                                  "mood.png", "mood.svg")}
    harmonise_stage.harmonise(**harmonise_stage.harmonise_params(demo_config), participants=[str(p) for p in ingested],
                              output=names["harmonised.parquet"], summary=names["summary.tsv"],
                              table1=names["table1.tsv"], ses_weights=names["ses.tsv"])
    harmonise_stage.mood_qc(**harmonise_stage.mood_qc_params(demo_config), participants=names["harmonised.parquet"],
                            harmonisation=[str(r) for r in reports], mood_qc=names["mood.tsv"],
                            mood_png=names["mood.png"], mood_svg=names["mood.svg"])
    harmonised = pd.read_parquet(names["harmonised.parquet"])
    # a biomarker table: 3 missing values in Ghent, 20 in Rotterdam
    biomarkers = harmonised[["pseudo_id", "cohort"]].copy()
    biomarkers["b1"] = np.arange(len(biomarkers), dtype=float)
    ghent = np.flatnonzero(biomarkers.cohort == "ghent")
    rotterdam = np.flatnonzero(biomarkers.cohort == "rotterdam")
    biomarkers.loc[ghent[:3], "b1"] = np.nan
    biomarkers.loc[rotterdam[:20], "b1"] = np.nan
    biomarkers.to_parquet(tmp / "biomarkers.parquet")
    modification_stage.missingness(
        mechanism="m", spec={"biomarkers": ["b1"], "exposures": ["epds"], "outcomes": []},
        covariates=["maternal_age", "bmi", "smoking"], models=[], auxiliary=[], min_cell_size=M,
        participants=names["harmonised.parquet"], biomarkers=tmp / "biomarkers.parquet",
        output=tmp / "missingness.tsv")
    out["missingness"] = pd.read_csv(tmp / "missingness.tsv", sep="\t", keep_default_na=False)
    for name in ("summary.tsv", "table1.tsv", "mood.tsv"):
        out[name] = pd.read_csv(names[name], sep="\t", keep_default_na=False, dtype=str)
    out["sizes"] = harmonised.groupby("cohort").size().to_dict()
    out["harmonised"] = harmonised
    return out


def _suppressed(text) -> bool:
    return str(text).strip().startswith("<")


def test_summary_gives_no_small_cell_back(cohort_outputs):
    table, sizes, truth = cohort_outputs["summary.tsv"], cohort_outputs["sizes"], cohort_outputs["harmonised"]
    found_planted = 0
    for _, row in table.iterrows():
        size = sizes[row.cohort]
        cells = {"n": _number(row.n)}
        if "n_missing" in row:
            cells["n_missing"] = _number(row.n_missing)
        known = {k: v for k, v in cells.items() if v is not None}
        pct = row.pct_missing if row.pct_missing != "" else None
        by_pct = _pct_attack(pct, size)
        if by_pct is not None:
            known.setdefault("n_missing", by_pct)
        known = _solve(known, [(["n", "n_missing"], size)])
        for column in ("n", "n_missing"):
            if column in known:
                assert not 0 < known[column] < M, (row.variable, column, known)
        values = truth.loc[truth.cohort == row.cohort, row.variable]
        present = pd.to_numeric(values, errors="coerce").dropna() if values.dtype != object else pd.Series([], float)
        if row["mean"] != "" and "n" in known and len(present) and present.isin([0, 1]).all():
            ones = round(float(row["mean"]) * known["n"])  # mean x n
            assert not 0 < ones < M and not 0 < known["n"] - ones < M, (row.variable, ones)
        if row.cohort == "ghent" and row.variable in ("bmi", "smoking", "apgar_5min"):
            found_planted += 1
    assert found_planted == 3


def test_table1_gives_no_small_cell_back(cohort_outputs):
    table = cohort_outputs["table1.tsv"]
    groups = ["overall", "SES T1 (lowest)", "SES T2", "SES T3 (highest)"]
    planted = table[(table.cohort == "ghent") & table.variable.str.startswith(("Child sex", "Smoking"))]
    assert (planted[groups].map(_suppressed)).any().any()  # the planted cells are there, suppressed
    for cohort, rows in table.groupby("cohort"):
        head = rows[rows.variable == "participants"].iloc[0]
        sizes = {g: _number(head[g]) for g in groups}
        known, sums, suppressed = {}, [], {}
        for g in groups:
            if sizes[g] is not None:
                known[("size", g)] = sizes[g]
        for variable, block in rows[rows.variable != "participants"].groupby("variable", sort=False):
            levels = [lv for lv in block.level if lv not in ("mean (SD)", "median [IQR]")]
            binary = "n (%)" in levels
            for level in levels:
                r = block[block.level == level].iloc[0]
                for g in groups:
                    cell = (variable, level, g)
                    value = _number(r[g])
                    if value is not None:
                        known[cell] = value
                    elif _suppressed(r[g]):
                        suppressed[cell] = r[g]
                    if level == "% missing" and r[g] != "":  # a percentage of a known group
                        by_pct = _pct_attack(float(r[g]), sizes[g])
                        if by_pct is not None:
                            known[cell] = by_pct
            # undisplayed: the 0s of a binary variable, the number with a value of a continuous one
            unseen = ["zeros"] if binary else ["observed"] if len(levels) < len(block) else []
            for g in groups:  # the levels (or the unseen) and the missing make up the group
                sums.append(([(variable, level, g) for level in levels + unseen], ("size", g)))
            for level in levels + unseen:
                sums.append(([(variable, level, g) for g in groups[1:]] + [(variable, level, "no SES")],
                             (variable, level, "overall")))
            for level in levels:  # no one is without an SES index here (known from the sizes)
                if sizes["overall"] is not None and all(sizes[g] is not None for g in groups[1:]) \
                        and sizes["overall"] == sum(sizes[g] for g in groups[1:]):
                    known[(variable, level, "no SES")] = 0
            if unseen and sizes["overall"] == sum(sizes[g] or 0 for g in groups[1:]):
                known[(variable, unseen[0], "no SES")] = 0
        known = _solve(known, sums)
        _assert_not_recovered(suppressed, known, f"Table 1, {cohort}")
        small_unseen = {k: v for k, v in known.items() if k[1] in ("zeros", "observed") and 0 < v < M}
        assert not small_unseen, f"Table 1, {cohort}: a small undisplayed count recovered: {small_unseen}"


def test_harmonisation_report_and_categories_give_no_small_cell_back(cohort_outputs):
    sizes = cohort_outputs["sizes"]
    for cohort in ("ghent", "rotterdam"):
        report, cats = cohort_outputs[f"{cohort}_variables"], cohort_outputs[f"{cohort}_categories"]
        size = sizes[cohort]
        known, sums, suppressed = {}, [], {}
        for _, r in report.iterrows():
            for column in ("n", "n_missing"):
                value = _number(r[column])
                if value is not None:
                    known[(r.variable, column)] = value
                elif _suppressed(r[column]):
                    suppressed[(r.variable, column)] = r[column]
            if r.pct_missing != "":
                by_pct = _pct_attack(float(r.pct_missing), size)
                if by_pct is not None:
                    known.setdefault((r.variable, "n_missing"), by_pct)
            sums.append(([(r.variable, "n"), (r.variable, "n_missing")], size))
            rows_listed = re.findall(r"rows? ([\d, ]+)", f"{r.rejected} {r.get('rejected_rows', '')}")
            if rows_listed and _suppressed(r.n_rejected):
                listed = sum(len(x.split(",")) for x in rows_listed)
                pytest.fail(f"{cohort} {r.variable}: {listed} rejected rows listed, n_rejected {r.n_rejected}")
        for variable, rows in cats.groupby("variable"):
            parts = []
            for j, r in rows.iterrows():
                cell = ("category", variable, r.source_category)
                parts.append(cell)
                value = _number(r.n)
                if value is not None:
                    known[cell] = value
                elif _suppressed(r.n):
                    suppressed[cell] = r.n
            sums.append((parts, size))
            valued = [("category", variable, r.source_category) for _, r in rows.iterrows()
                      if r.harmonised_value != "(missing)"]
            missing = [("category", variable, r.source_category) for _, r in rows.iterrows()
                       if r.harmonised_value == "(missing)"]
            if (variable, "n") in known or (variable, "n_missing") in known:
                sums.append((valued, (variable, "n")))
                if missing:
                    sums.append((missing, (variable, "n_missing")))
        if cohort == "ghent":
            # the planted rare source categories are pooled, not named (Table 1 pools rare levels too)
            rare = "categories of fewer than 5 participants each"
            assert ("category", "child_sex", rare) in suppressed and ("bmi", "n_missing") in suppressed
            assert ("category", "employment", rare) in suppressed
            assert not cats.source_category.isin(["jongen", "huisvrouw"]).any()
        _assert_not_recovered(suppressed, _solve(known, sums), f"harmonisation report of {cohort}")


def test_missingness_gives_no_small_cell_back(cohort_outputs):
    table = cohort_outputs["missingness"]
    known, sums, suppressed = {}, [], {}
    for _, r in table.iterrows():
        for column in ("n_total", "n_observed", "n_missing"):
            value = _number(r[column])
            if value is not None:
                known[(r.cohort, r.variable, column)] = value
            elif _suppressed(r[column]):
                suppressed[(r.cohort, r.variable, column)] = r[column]
        total = _number(r.n_total)
        if r.pct_missing != "" and total:
            by_pct = _pct_attack(round(float(r.pct_missing), 1), total)
            if by_pct is not None:
                known.setdefault((r.cohort, r.variable, "n_missing"), by_pct)
        sums.append(([(r.cohort, r.variable, "n_observed"), (r.cohort, r.variable, "n_missing")],
                     (r.cohort, r.variable, "n_total")))
        complete = _number(r.n_complete_cases)
        if total is not None and complete is not None:  # the participants the models lose
            assert not 0 < total - complete < M, (r.cohort, r.variable, total - complete)
    for variable in table.variable.unique():
        for column in ("n_total", "n_observed", "n_missing"):
            sums.append(([("ghent", variable, column), ("rotterdam", variable, column)], ("pooled", variable, column)))
    assert ("ghent", "b1", "n_missing") in suppressed and ("ghent", "bmi", "n_missing") in suppressed
    _assert_not_recovered(suppressed, _solve(known, sums), "missingness")


def test_mood_qc_gives_no_small_cell_back(cohort_outputs):
    table, sizes = cohort_outputs["mood.tsv"], cohort_outputs["sizes"]
    epds = table[(table.cohort == "ghent") & (table.variable == "epds")].iloc[0]
    assert epds.n_missing == "<5"  # the planted 2
    for _, r in table.iterrows():
        known = {c: _number(r[c]) for c in ("n", "n_missing") if _number(r[c]) is not None}
        known = _solve(known, [(["n", "n_missing"], sizes[r.cohort])])
        for c in ("n", "n_missing"):
            if _suppressed(r[c]):
                assert c not in known, (r.variable, c, known)
        if _suppressed(r.n) or str(r.n).startswith(">"):
            assert r["mean"] == "" and r["median"] == ""


def test_protect_harmonisation_blanks_alpha_of_fewer_than_m_complete_cases():
    """Cronbach's alpha is a statistic of the complete cases' answers (n - n_prorated): below
    m of them it is blanked; the note carries no count (n - a count in it would give a
    suppressed n_prorated back)."""
    report = pd.DataFrame({"cohort": "c", "variable": ["epds", "pss"], "rule": "questionnaire", "source": "items",
                           "n": [90, 90], "n_missing": [10, 10], "pct_missing": [10.0, 10.0],
                           "n_rejected": [0, 0], "rejected": ["", ""], "n_prorated": [87, 40],
                           "alpha": [0.81, 0.77], "note": ["", ""]})
    cats = pd.DataFrame(columns=["cohort", "variable", "source_category", "harmonised_value", "n"])
    out, _ = protect_harmonisation(report, cats, M)
    assert math.isnan(out.loc[0, "alpha"]) and out.loc[1, "alpha"] == 0.77  # 3 and 50 complete cases
    assert out.loc[0, "n_prorated"] == 87 or str(out.loc[0, "n_prorated"]).startswith(">")


def test_questionnaire_notes_hold_no_counts(demo_config):
    from first1000.stages.ingest import cohort_participants

    mapping = demo_config["cohorts"]["ghent"]["_mapping"]
    _, report, _, _ = cohort_participants("ghent", mapping, demo_config["_data_schema"], b"k" * 32)
    notes = report.loc[report.note.str.contains("Cronbach", na=False), "note"]
    assert len(notes) >= 3  # EPDS, PSS, BRS
    for note in notes:  # the instrument's fixed numbers only (items, reversed, allowed missing)
        assert re.fullmatch(r"\w+: [a-z ]+ of \d+ items \(\d+ reversed\), prorated when at most \d+ missing, not "
                            r"scored \(missing\) with more; Cronbach's alpha on the complete cases \(n - n_prorated\)",
                            note), note


def test_protect_harmonisation_rows_of_rejected_values_go_with_their_count():
    report = pd.DataFrame({"cohort": "c", "variable": ["bmi"], "rule": "direct", "source": "bmi", "n": [97],
                           "n_missing": [3], "pct_missing": [3.0], "n_rejected": [2],
                           "rejected": ["value out of range (rows 4, 9)"], "n_prorated": [np.nan], "alpha": [np.nan],
                           "note": [""]})
    cats = pd.DataFrame(columns=["cohort", "variable", "source_category", "harmonised_value", "n"])
    out, _ = protect_harmonisation(report, cats, M)
    assert out.loc[0, "n_rejected"] == "<5" and out.loc[0, "rejected"] == "value out of range"
    assert out.loc[0, "n_missing"] == "<5" and out.loc[0, "n"] == ">95" and math.isnan(out.loc[0, "pct_missing"])


# --------------------------------------------------------------------------- a table without its header row
def test_a_headerless_table_is_never_quoted_as_its_column_names(tmp_path):
    """Exported without its header row, a table's first row is a participant's values (and
    ID): messages about its "column names" name the columns by letter, never by that text.
    With a real header row, a duplicated name is still named."""
    from first1000.errors import InputTableError
    from first1000.io import read_raw_table

    rows = ["GH-0354,2021-05-03,2021-05-03,23.4", "GH-0355,2021-06-01,2021-06-02,22.1",
            "GH-0356,2021-07-11,2021-07-11,25.0"]
    path = tmp_path / "no_header.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputTableError) as err:
        read_raw_table(path)
    message = str(err.value)
    assert "A column name appears 2 times (columns B, C)" in message, message
    assert "2021" not in message and "GH-" not in message and "23.4" not in message
    nul = tmp_path / "no_header_nul.csv"
    nul.write_text("\n".join([rows[0].replace("2021-05-03,2021-05-03", "2021-05-03,2021-05-04"), rows[1],
                              "GH-0357,2021-08-0\x001,2021-08-02,24.0"]) + "\n", encoding="utf-8")
    with pytest.raises(InputTableError) as err:
        read_raw_table(nul)
    message = str(err.value)
    assert ", column B, row 3: cells hold NUL characters" in message, message
    assert "2021" not in message and "GH-" not in message
    named = tmp_path / "header.csv"
    named.write_text("participant_id,bmi,bmi\nGH-0354,23.4,23.5\n", encoding="utf-8")
    with pytest.raises(InputTableError, match=r"Column name 'bmi' appears 2 times \(columns B, C\)"):
        read_raw_table(named)
    named.write_text("participant_id,bmi\nGH-0354,23.4\nGH-0355,2\x003.5\n", encoding="utf-8")
    with pytest.raises(InputTableError, match=r", column 'bmi', row 3: cells hold NUL"):
        read_raw_table(named)


def test_a_headerless_table_with_a_mostly_text_first_row_is_not_listed(tmp_path):
    """The review's case: exported without its header, a first row of mostly text (sex,
    yes/no, smoking, country) passed the numbers-and-dates rules with the participant's ID,
    and the missing-ID message listed that row. One ID over the IDs below it, or a third of
    the names equal to a value below them, now marks the row as data; a name that equals a
    value of its column is never listed, even under a real header."""
    from first1000.errors import InputTableError
    from first1000.io.input_tables import open_table

    rows = ["GH-0012,female,yes,no,smoker,Eritrea", "GH-0013,male,no,no,non-smoker,Belgium",
            "GH-0014,female,no,yes,non-smoker,Belgium", "GH-0015,male,no,no,non-smoker,Belgium"]
    path = tmp_path / "headerless.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    table = open_table({"path": str(path), "id": "participant_id"}, ["NA"])
    for call in (lambda: table.ids("participant_id", unique=True),
                 lambda: table.require({"sex": "sex"}, "participants")):
        with pytest.raises(InputTableError) as err:
            call()
        message = str(err.value)
        assert "Row 1 looks like data" in message, message
        for cell in ("GH-0012", "female", "smoker", "Eritrea"):
            assert cell not in message, (cell, message)
    # the ID alone (no other cell like a value) is enough
    path.write_text("GH-0012,Eritrea\nGH-0013,Belgium\nGH-0014,France\n", encoding="utf-8")
    with pytest.raises(InputTableError) as err:
        open_table({"path": str(path), "id": "participant_id"}, []).ids("participant_id", unique=True)
    assert "Row 1 looks like data" in str(err.value) and "GH-" not in str(err.value), str(err.value)
    # one row below (a table of one participant) and a long table (her ID on each visit's
    # row): the ID rule needed two distinct IDs below, and the row was listed
    for text in ("GH-0012,female,yes,smoker,Eritrea\nGH-0013,male,no,non-smoker,Belgium\n",
                 "GH-0012,1,female,yes,Eritrea\n" + "".join(f"GH-00{12 + k // 3},{k % 3 + 2},female,no,Belgium\n"
                                                              for k in range(2, 12))):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputTableError) as err:
            open_table({"path": str(path), "id": "participant_id"}, []).ids("participant_id", unique=True)
        message = str(err.value)
        assert "Row 1 looks like data" in message and "GH-" not in message and "Eritrea" not in message, message
    # a real header: names listed, but one equal to a value of its column is counted, not printed
    path.write_text("pid,sex,country\nGH-0012,female,Belgium\nGH-0013,male,country\nGH-0014,male,France\n",
                    encoding="utf-8")
    with pytest.raises(InputTableError) as err:
        open_table({"path": str(path), "id": "participant_id"}, []).ids("participant_id", unique=True)
    message = str(err.value)
    assert "Columns found: pid, sex (1 more not listed: it looks like a value of its column)." in message, message
    path.write_text("pid,sex,sex\nGH-0012,female,sex\nGH-0013,male,male\n", encoding="utf-8")
    with pytest.raises(InputTableError, match=r"A column name appears 2 times \(columns B, C\)"):
        open_table({"path": str(path), "id": "pid"}, [])


def test_column_and_sheet_names_shaped_like_participant_ids_are_counted_not_listed(tmp_path):
    """A table with one column per sample (an omics export the wrong way round) or a
    workbook with one sheet per participant: the messages that list columns or sheets count
    the ID-like names instead of printing them; ordinary names are still listed."""
    import openpyxl

    from first1000.errors import InputTableError
    from first1000.io import listed_names
    from first1000.io.input_tables import open_table

    ids = [f"GH-{i:04d}" for i in range(1, 41)]
    path = tmp_path / "microbiome.csv"
    path.write_text("taxon," + ",".join(ids) + "\n" + "g__Bacteroides," + ",".join(["12"] * 40) + "\n",
                    encoding="utf-8")
    table = open_table({"path": str(path), "id": "participant_id"}, [])
    with pytest.raises(InputTableError) as err:
        table.require({"id": "participant_id"}, "microbiome")
    message = str(err.value)
    assert "Columns found: taxon (and 40 named like participant IDs, not listed)." in message, message
    assert "GH-" not in message
    book = openpyxl.Workbook()
    book.active.title = ids[0]
    for name in ids[1:4]:
        book.create_sheet(name)
    for sheet in book.worksheets:
        sheet.append(["participant_id", "bmi"])
        sheet.append(["x", 1.0])
    workbook = tmp_path / "per_participant.xlsx"
    book.save(workbook)
    for spec in ({"path": str(workbook)}, {"path": str(workbook), "sheet": "data"}):
        with pytest.raises(InputTableError) as err:
            open_table({**spec, "id": "participant_id"}, [])
        assert "4 named like participant IDs, not listed" in str(err.value) and "GH-" not in str(err.value)
    assert listed_names(["participant_id", "epds_1", "epds_2", "epds_3"]) == "participant_id, epds_1, epds_2, epds_3"


def test_a_recode_pointed_at_a_measurement_column_quotes_no_value(demo_config):
    """A recode whose `column` names the BMI column: its unmapped values are measurements
    (the lowest BMIs were quoted, the most identifying ones), so they are counted, not
    quoted, with the hint to check the column."""
    import copy

    from first1000.errors import First1000Error
    from first1000.stages.ingest import cohort_participants

    mapping = copy.deepcopy(demo_config["cohorts"]["ghent"]["_mapping"])
    mapping["variables"]["smoking"] = {"rule": "recode", "column": "bmi_kg_m2", "map": {"ja": 1, "nee": 0}}
    with pytest.raises(First1000Error) as err:
        cohort_participants("ghent", mapping, demo_config["_data_schema"], b"k" * 32)
    message = str(err.value)
    assert "distinct values have no entry in the recode of `smoking`" in message, message
    assert "not quoted: some are measured values (decimal numbers), not category codes" in message
    assert not re.search(r"\d+\.\d", message.split("not quoted")[0].split(":", 1)[-1]), message


# --------------------------------------------------------------------------- statuses and level names
def test_a_small_model_that_could_not_be_fitted_says_no_more_than_a_fitted_one():
    """The review's case: 3 participants, all preterm. The logistic model cannot be fitted,
    and its reason ("binary response 'preterm' is 1 in all 3 complete rows") told every
    participant's outcome; it now takes the small-model status like a fitted one, and a
    large model's reason no longer says which value the outcome takes."""
    from first1000.analysis.associations import associations
    from first1000.privacy import SMALL_MODEL

    rng = np.random.default_rng(1)
    n = 60
    people = pd.DataFrame({"pseudo_id": [f"P{i}" for i in range(n)], "cohort": "ghent",
                           "epds": rng.normal(10, 3, n), "hb": np.r_[rng.normal(0, 1, 3), [np.nan] * (n - 3)],
                           "preterm": np.r_[[1.0] * 3, rng.integers(0, 2, n - 3)]})
    schema = {"epds": {"type": "continuous"}, "hb": {"type": "continuous"}, "preterm": {"type": "binary"}}
    out = associations(people, "m", {"biomarkers": ["hb"], "exposures": ["epds"], "outcomes": ["preterm"]}, [],
                       schema, min_cell=5)
    row = out[(out.cohort == "ghent") & (out.response == "preterm")].iloc[0]
    assert row.n == 3 and row.status == SMALL_MODEL.format(min_cell=5), row.status
    people["hb"] = rng.normal(0, 1, n)
    people["preterm"] = 1.0
    out = associations(people, "m", {"biomarkers": ["hb"], "exposures": ["epds"], "outcomes": ["preterm"]}, [],
                       schema, min_cell=5)
    status = out[(out.cohort == "ghent") & (out.response == "preterm")].status.iloc[0]
    assert status == "binary response 'preterm' takes one value in all 60 complete rows", status


def test_effect_modification_names_no_rare_level_and_no_count_in_a_hidden_row_s_status():
    """A categorical modifier without declared categories: a level held by 1 woman
    ('Eritrea') was printed in the stratum and term rows, and a stratum that could not be
    fitted said "too few complete rows: n=1" beside n <5. The level is now "a level of
    fewer than 5", the status of a hidden row gives no count; levels of 5 or more are named."""
    from first1000.analysis.modification import modification
    from first1000.privacy import suppress_modification

    rng = np.random.default_rng(1)
    n = 60
    people = pd.DataFrame({"pseudo_id": [f"P{i}" for i in range(n)], "cohort": "ghent",
                           "epds": rng.normal(10, 3, n), "hb": rng.normal(0, 1, n),
                           "country_of_birth": ["Belgium"] * 40 + ["Netherlands"] * 19 + ["Eritrea"]})
    schema = {"epds": {"type": "continuous"}, "hb": {"type": "continuous"},
              "country_of_birth": {"type": "categorical"}}
    raw = modification(people, "m", [{"exposure": "epds", "response": "hb", "modifier": "country_of_birth"}], [],
                       schema)
    assert raw.level.astype(str).str.contains("Eritrea").any()  # the unprotected table names it
    out = suppress_modification(raw, 5)
    text = out.astype(str).to_csv()
    assert "Eritrea" not in text and "n=1" not in text, text
    strata = out[out.part == "stratum"]
    rare = "a level of fewer than 5 participants in a cohort (1)"
    assert strata.level.tolist() == ["Belgium"] * 2 + ["Netherlands"] * 2 + [rare] * 2  # not in its alphabetical place
    assert (strata[strata.level == rare].n == "<5").all()
    assert out.level.astype(str).str.contains(r"country_of_birth\[a level of fewer than 5 participants in a cohort "
                                              r"\(1\)\]").any()
    hidden = out[out.n.astype(str).str.startswith(("<", ">"))]
    assert hidden.status.isin(["ok", "not shown: protects a count below 5 (privacy.min_cell_size)"]).all()


def _modification_people(cohorts: dict, exposure=None):
    rng = np.random.default_rng(2)
    frames = []
    for cohort, levels in cohorts.items():
        n = sum(levels.values())
        frames.append(pd.DataFrame({
            "pseudo_id": [f"{cohort}{i}" for i in range(n)], "cohort": cohort, "hb": rng.normal(0, 1, n),
            "epds": rng.normal(10, 3, n) if exposure is None else exposure(n),
            "modifier": [level for level, k in levels.items() for _ in range(k)]}))
    return pd.concat(frames, ignore_index=True)


def test_a_rare_modifier_level_is_not_named_in_another_cohort_the_pooled_rows_or_another_response():
    """Eritrea, 3 women in ghent and 10 in oslo: labelled in ghent only, it was named in
    oslo's and the pooled rows, so the label told which level it was. It is now labelled in
    every row of the table (every cohort, pooled, every response), after the named levels."""
    from first1000.analysis.modification import modification

    people = _modification_people({"ghent": {"Belgium": 40, "Netherlands": 17, "Eritrea": 3},
                                   "oslo": {"Belgium": 30, "Netherlands": 20, "Eritrea": 10}})
    people["asq"] = np.random.default_rng(3).normal(50, 10, len(people))
    schema = {"epds": {"type": "continuous"}, "hb": {"type": "continuous"}, "asq": {"type": "continuous"},
              "modifier": {"type": "categorical"}}
    paths = [{"exposure": "epds", "response": r, "modifier": "modifier"} for r in ("hb", "asq")]
    raw = modification(people, "m", paths, [], schema)
    assert raw.level.astype(str).str.contains("Eritrea").sum() > 10
    out = suppress_modification(raw, 5)
    assert "Eritrea" not in out.astype(str).to_csv()
    rare = "a level of fewer than 5 participants in a cohort (1)"
    for (cohort, response), rows in out.groupby(["cohort", "response"], sort=False):
        strata = rows[rows.part == "stratum"]
        assert list(dict.fromkeys(strata.level)) == ["Belgium", "Netherlands", rare], (cohort, response)
        terms = rows[rows.part == "term"].level.tolist()
        assert terms[-2:] == [f"modifier[{rare}]", f"epds:modifier[{rare}]"], terms
    pooled = out[(out.cohort == "pooled") & (out.level == rare) & (out.response == "hb")]
    assert pooled.n.tolist() == [13, 13] and pooled.estimate.notna().all()  # shown, but not named
    # ghent's tests (a stratum of 3) go with its stratum; oslo's and the pooled ones stay
    tests = out[out.part == "test"]
    assert tests[tests.cohort == "ghent"].p.isna().all() and tests[tests.cohort != "ghent"].p.notna().all()
    assert (tests[tests.cohort == "ghent"].status
            == "not shown: protects a count below 5 (privacy.min_cell_size)").all()
    assert (out.sort_index().index == raw.index).all()  # the same rows, reordered


def test_a_rare_modifier_level_leaves_an_exposure_level_of_the_same_text_alone():
    """A two-level exposure whose level text is that of a rare modifier level ("yes"): the
    exposure's term was relabelled as if it were the modifier's; the interaction test (with
    two levels, the rare level's own term) stayed."""
    from first1000.analysis.modification import modification

    people = _modification_people({"ghent": {"no": 76, "yes": 4}}, exposure=lambda n: ["no", "yes"] * (n // 2))
    people = people.rename(columns={"epds": "smoking", "modifier": "alcohol"})
    schema = {"smoking": {"type": "categorical"}, "hb": {"type": "continuous"}, "alcohol": {"type": "categorical"}}
    raw = modification(people, "m", [{"exposure": "smoking", "response": "hb", "modifier": "alcohol"}], [], schema)
    out = suppress_modification(raw, 5)
    rare = "a level of fewer than 5 participants in a cohort (1)"
    terms = out[out.part == "term"].set_index("level")
    assert terms.index.tolist() == ["smoking[yes]", f"alcohol[{rare}]", f"smoking[yes]:alcohol[{rare}]"]
    # every term is blank all the same: the reference level ("no", 76 = 80 - 4) is hidden
    # too, and the exposure's term is the slope in it
    assert terms.estimate.isna().all() and raw[raw.part == "term"].estimate.notna().all()
    tests = out[out.part == "test"]
    assert len(tests) == 3 and tests[["statistic", "p"]].isna().all().all()
    assert raw[raw.part == "test"].p.notna().all()


def test_a_qc_statistic_of_few_repeated_participants_goes_with_their_count():
    """The qPCR QC's inter-assay CV and ICC come from the participants measured on two
    plates: with 1 of them, the CV was her own; it is blanked with ``n_repeated``."""
    from first1000.privacy import suppress_small_counts

    qc = pd.DataFrame({"cohort": ["c", "c"], "plate": ["p1", "p2"], "n_samples": [43, 44], "n_repeated": [1, 1],
                       "inter_assay_cv_pct": [12.86, 12.86], "icc1": [0.91, 0.91]})
    out = suppress_small_counts(qc, 5)
    assert out.n_repeated.tolist() == ["<5", "<5"] and out.inter_assay_cv_pct.isna().all() and out.icc1.isna().all()
    qc["n_repeated"] = 12
    out = suppress_small_counts(qc, 5)
    assert out.inter_assay_cv_pct.tolist() == [12.86, 12.86] and out.icc1.tolist() == [0.91, 0.91]


def test_an_unmapped_category_is_quoted_only_when_enough_rows_hold_it():
    """A recode's unmapped values: one held by 6 rows is a code of the cohort's vocabulary
    and is named (the analyst adds it to the map); one held by a single row (a free
    answer, 'gestopt week 12') is counted, not quoted beside its row."""
    from first1000.errors import First1000Error
    from first1000.harmonise.mapping import apply_mapping
    from first1000.io.input_tables import Table

    smoke = ["yes"] * 100 + ["no"] * 93 + ["gestopt"] * 6 + ["gestopt week 12"]
    data = pd.DataFrame({"id": [str(i) for i in range(len(smoke))], "smoke": smoke}).astype(object)
    mapping = {"_source": "ghent.yaml", "_cohort": "ghent", "_min_cell": 5, "missing_codes": ["NA"],
               "tables": {"participants": {"id": "id"}},
               "variables": {"smoking": {"rule": "recode", "column": "smoke", "map": {"yes": 1, "no": 0}}}}
    with pytest.raises(First1000Error) as err:
        apply_mapping(Table("participants.csv", data, ["NA"]), mapping, {"smoking": {"type": "binary"}})
    message = str(err.value)
    assert ("rows 195, 196, 197, 198, 199, 200, 201: categories 'gestopt' (and 1 held by fewer than 5 rows each, "
            "not quoted) have no entry in the recode of `smoking`") in message, message
    assert "week 12" not in message


def test_a_qc_quantile_is_shown_only_with_min_cell_values_on_each_side():
    """An interpolated quantile can be one participant's value: the 5th percentile of 21
    mothers is exactly the second lowest, the quartiles of 5 the second and fourth values.
    A quantile is shown only where at least min_cell values lie at or below and at or above
    it (type-7 position), so never among the min_cell - 1 most extreme values."""
    from first1000.privacy import protect_quantiles, quantile_shown

    x = np.sort(np.random.default_rng(4).lognormal(1.3, 0.6, 21))
    assert np.quantile(x, 0.05) == x[1] and np.quantile(np.sort(x[:5]), 0.25) == np.sort(x[:5])[1]  # the leak
    # hand-computed thresholds at m = 5: p05 from 81 values (position 4: 5 at or below),
    # quartiles from 17 (position 4), the median from 9 (position 4)
    assert [min(n for n in range(1, 500) if quantile_shown(n, q, 5)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)] \
        == [81, 17, 9, 17, 81]
    assert quantile_shown(80, 0.05, 5) is False and quantile_shown(3, 0.5, 1) and not quantile_shown(0, 0.5, 1)
    qc = pd.DataFrame({"cohort": ["a", "b", "c"], "n": [21, 5, 120], "median_pg_mg": np.quantile(x, 0.5),
                       "q1_pg_mg": 1.0, "q3_pg_mg": 2.0, "p05_pg_mg": np.quantile(x, 0.05), "p95_pg_mg": 9.0,
                       "n_outliers": 0})
    out = suppress_small_counts(protect_quantiles(qc, 5), 5)
    assert out.p05_pg_mg.isna().tolist() == [True, True, False] and out.p95_pg_mg.isna().tolist() == [True, True, False]
    assert out.q1_pg_mg.isna().tolist() == [False, True, False] and out.median_pg_mg.isna().tolist() == [False, True, False]
    depth = pd.DataFrame({"cohort": ["a"], "n_samples_in": [12], "median_depth": [2.0e4], "depth_q1": [1.5e4],
                          "depth_q3": [3.0e4], "depth_p05": [np.nan], "depth_p95": [np.nan]})
    shown = protect_quantiles(depth, 5)  # the microbiome's samples before its depth filter
    assert shown.median_depth.tolist() == [2.0e4] and shown[["depth_q1", "depth_q3"]].isna().all().all()
    assert protect_quantiles(depth, 1).equals(depth)


def test_table_one_and_model_quartiles_follow_the_quantile_rule():
    """Table 1's median [IQR], a continuous modifier's p25/p50/p75 values and a mediation
    contrast's a0/a1 under contrast: iqr are quantiles of the participants' values too."""
    from first1000.analysis.modification import modification
    from first1000.privacy import hide_small_models

    a0 = pd.DataFrame({"cohort": ["a", "b", "c"], "contrast": ["iqr", "iqr", "sd"], "n": [12, 40, 3],
                       "a0": [1.0, 1.0, 9.5], "a1": [2.0, 2.0, 11.0], "estimate": [0.1, 0.2, 0.3], "status": "ok"})
    out = hide_small_models(a0, 5)
    assert out.a0.isna().tolist() == [True, False, True] and out.a1.isna().tolist() == [True, False, True]
    assert out.estimate.isna().tolist() == [False, False, True]  # the model itself stays (n 12 >= 5)
    rng = np.random.default_rng(5)
    people = pd.concat([pd.DataFrame({"pseudo_id": [f"{c}{i}" for i in range(n)], "cohort": c, "epds": rng.normal(10, 3, n),
                                      "hb": rng.normal(0, 1, n), "age": rng.normal(30, 4, n)})
                        for c, n in (("small", 12), ("large", 60))], ignore_index=True)
    schema = {"epds": {"type": "continuous"}, "hb": {"type": "continuous"}, "age": {"type": "continuous"}}
    raw = modification(people, "m", [{"exposure": "epds", "response": "hb", "modifier": "age"}], [], schema)
    out = suppress_modification(raw, 5)
    strata = out[out.part == "stratum"].set_index(["cohort", "level"])
    # 12 participants: the median (position 5.5) has 6 values on each side, the quartiles 3 and 9
    assert strata.loc["small", "value"].isna().groupby(level=0).all().to_dict() == {"p25": True, "p50": False,
                                                                                   "p75": True}
    assert strata.loc["large", "value"].notna().all()
    assert raw[(raw.part == "stratum") & (raw.cohort == "small")].value.notna().all()


def test_a_rare_reference_level_takes_every_term_of_the_interaction_model_with_it():
    """A rare level that sorts first is the interaction model's reference: it has no term
    of its own, but the exposure's term is its slope (it equalled the blanked stratum's
    estimate) and every interaction term a contrast with it. Two rare levels are listed in
    the order of their label numbers, which do not follow the alphabet."""
    from first1000.analysis.modification import modification

    people = _modification_people({"ghent": {"Afghanistan": 3, "Belgium": 40, "Netherlands": 17}})
    schema = {"epds": {"type": "continuous"}, "hb": {"type": "continuous"}, "modifier": {"type": "categorical"}}
    raw = modification(people, "m", [{"exposure": "epds", "response": "hb", "modifier": "modifier"}], [], schema)
    reference = raw[(raw.part == "stratum") & (raw.level == "Afghanistan") & (raw.method == "interaction")]
    assert raw.set_index("level").loc["epds", "estimate"] == pytest.approx(reference.estimate.iloc[0])  # the leak
    out = suppress_modification(raw, 5)
    assert out[out.part == "term"].estimate.isna().all()
    assert out[(out.part == "stratum") & (out.level == "Belgium")].estimate.notna().all()
    two = _modification_people({"ghent": {"Belgium": 40, "Eritrea": 12, "Somalia": 3},
                                "oslo": {"Belgium": 30, "Eritrea": 3, "Somalia": 2}})
    raw = modification(two, "m", [{"exposure": "epds", "response": "hb", "modifier": "modifier"}], [], schema)
    out = suppress_modification(raw, 5)
    for cohort, rows in out[(out.part == "stratum") & (out.method == "stratified")].groupby("cohort"):
        numbers = [int(level[-2]) for level in rows.level if level.startswith("a level")]
        assert numbers == [1, 2], (cohort, rows.level.tolist())
    assert "Eritrea" not in out.astype(str).to_csv() and "Somalia" not in out.astype(str).to_csv()
