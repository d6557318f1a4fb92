"""first1000.plan: which cohorts or sites each analysis runs in."""

from first1000.plan import ewas_cohorts, ewas_meta_wanted
from first1000.stages.ewas import ewas_meta_params


def test_a_sites_run_meta_analyses_each_ewas_exposure_over_the_sites_that_exported_it():
    """Sites may export EWAS of different exposures: the run asked every site with any EWAS
    for every exposure's table and stopped on a missing input (found by a review)."""
    cfg = {"_mode": "sites",
           "epigenome_wide": {"exposures": ["epds", "ses_index"], "array": "EPIC", "meta_method": "FE",
                              "top_n": 10},
           "_manifests": {"a": {"ewas_exposures": ["epds"]}, "b": {"ewas_exposures": ["epds", "ses_index"]},
                          "c": {"ewas_exposures": []}, "d": {"ewas_exposures": ["ses_index"]}}}
    assert ewas_cohorts(cfg) == ["a", "b", "d"]
    assert ewas_cohorts(cfg, "epds") == ["a", "b"]
    assert ewas_cohorts(cfg, "ses_index") == ["b", "d"]
    assert ewas_meta_params(cfg, "ses_index")["cohorts"] == ["b", "d"]
    # an exposure exported by one site: meta-analysed over it (it gave no output, no message)
    cfg["_manifests"]["d"]["ewas_exposures"] = ["ses_index", "cortisol"]
    cfg["epigenome_wide"]["exposures"].append("cortisol")
    assert [ewas_meta_wanted(cfg, e) for e in ("epds", "ses_index", "cortisol")] == [True, True, True]
    assert ewas_meta_params(cfg, "cortisol")["cohorts"] == ["d"]
    cfg["epigenome_wide"]["exposures"] = []
    assert ewas_cohorts(cfg, "epds") == [] and not ewas_meta_wanted(cfg, "epds")


def test_a_cohort_run_meta_analyses_an_ewas_over_two_cohorts_or_more(monkeypatch):
    import first1000.plan as plan

    cfg = {"_mode": "cohorts", "epigenome_wide": {"exposures": ["epds"]}, "cohorts": {"a": {}, "b": {}}}
    monkeypatch.setattr(plan, "cohort_tables", lambda cfg, c: ["methylation_matrix"] if c == "a" else [])
    assert ewas_cohorts(cfg, "epds") == ["a"] and not ewas_meta_wanted(cfg, "epds")  # the cohort's own EWAS
    monkeypatch.setattr(plan, "cohort_tables", lambda cfg, c: ["methylation_matrix"])
    assert ewas_meta_wanted(cfg, "epds")
