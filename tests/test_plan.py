"""first1000.plan: which cohorts or sites each analysis runs in."""

from first1000.plan import ewas_cohorts
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
    cfg["epigenome_wide"]["exposures"] = []
    assert ewas_cohorts(cfg, "epds") == []
