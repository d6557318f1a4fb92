"""Config and mapping validation: one clear message naming file, line and key."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from first1000.config import load_config
from first1000.errors import ConfigError

from workflow_runs import ROOT


def _write(tmp_path, text, name="config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _demo_text():
    return (ROOT / "config/config.yaml").read_text(encoding="utf-8")


def test_demo_config_validates_and_fills_defaults(demo_config):
    assert demo_config["seed"] == 20261128
    assert demo_config["mediation"]["ci_method"] == "percentile"
    assert demo_config["ses_index"]["method"] == "zmean"
    assert set(demo_config["cohorts"]) == {"ghent", "rotterdam"}
    mapping = demo_config["cohorts"]["ghent"]["_mapping"]
    assert mapping["variables"]["education_isced"]["map"]["bachelor"] == 6  # from the map_file


def test_misspelt_key_names_file_line_and_suggestion(tmp_path):
    text = _demo_text().replace("    biomarkers: [telomere_ts_ln]", "    biomarker: [telomere_ts_ln]")
    path = _write(tmp_path, text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "biomarker: [telomere_ts_ln]" in l)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert f"{path}, line {line}" in message
    assert "`mechanisms.telomeres.biomarker`" in message
    assert "Did you mean `biomarkers`?" in message


def test_wrong_type_names_key_and_expected_type(tmp_path):
    path = _write(tmp_path, _demo_text().replace("fdr: 0.05", "fdr: high"))
    with pytest.raises(ConfigError, match=r"line 5: key `fdr`: expected number, got str `high`"):
        load_config(path)


@pytest.mark.parametrize("name", ["meta", "pooled"])
def test_reserved_cohort_name_is_refused(tmp_path, name):
    path = _write(tmp_path, _demo_text().replace("  rotterdam:\n", f"  {name}:\n"))
    with pytest.raises(ConfigError, match=rf"key `cohorts`: `{name}` is a reserved name .*rename this entry"):
        load_config(path)


def test_unknown_variable_gets_a_suggestion(tmp_path):
    path = _write(tmp_path, _demo_text().replace("covariates: [maternal_age,", "covariates: [maternal_ag,"))
    with pytest.raises(ConfigError, match=r"`maternal_ag` is not a harmonised or derived variable \(did you mean `maternal_age`\?\)"):
        load_config(path)


def test_mediator_must_be_a_configured_biomarker(demo_config):
    cfg = yaml.safe_load(_demo_text())
    cfg["mediation"]["paths"][0]["mediator"] = "hair_cortisol_t9_ln"
    with pytest.raises(ConfigError, match="not a biomarker of any configured mechanism"):
        load_config(cfg)


def test_binary_outcome_mediation_is_accepted_and_categorical_refused():
    cfg = yaml.safe_load(_demo_text())
    cfg["mediation"]["paths"][0]["outcome"] = "preterm"
    assert load_config(cfg)["mediation"]["contrast"] == "sd"
    cfg["mediation"]["paths"][0]["outcome"] = "employment"
    with pytest.raises(ConfigError, match="`employment` is categorical; mediation models continuous, binary"):
        load_config(cfg)


def test_python_tags_in_yaml_are_not_constructed(tmp_path):
    marker = tmp_path / "pwned"
    text = _demo_text().replace("seed: 20261128", f"seed: !!python/object/apply:os.system ['touch {marker}']")
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    assert not marker.exists()


def test_code_in_string_fields_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    cfg = yaml.safe_load(_demo_text())
    for mutate in (
        lambda c: c["covariates"].append(payload),
        lambda c: c["mechanisms"]["hpa"]["exposures"].append(payload),
        lambda c: c["mediation"]["paths"][0].__setitem__("exposure", payload),
        lambda c: c["ses_index"]["indicators"].__setitem__(payload, 1),
    ):
        bad = copy.deepcopy(cfg)
        mutate(bad)
        with pytest.raises(ConfigError):
            load_config(bad)
    assert not marker.exists()


def _mapping_with(tmp_path, old, new):
    text = (ROOT / "config/cohorts/ghent.yaml").read_text(encoding="utf-8").replace(old, new)
    mapping = _write(tmp_path, text, "ghent.yaml")
    cfg = yaml.safe_load(_demo_text())
    cfg["cohorts"]["ghent"]["mapping"] = str(mapping)
    return cfg, mapping, text


def test_mapping_unknown_rule_names_file_and_line(tmp_path):
    cfg, mapping, text = _mapping_with(tmp_path, "parity: {rule: direct,", "parity: {rule: drect,")
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "rule: drect" in l)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert f"{mapping}, line {line}" in str(err.value)
    assert "Did you mean `direct`?" in str(err.value)


def test_mapping_unknown_unit_is_an_error(tmp_path):
    cfg, mapping, _ = _mapping_with(tmp_path, "column: birth_weight_g, unit: g}", "column: birth_weight_g, unit: pounds}")
    with pytest.raises(ConfigError, match=r"no declared conversion from `pounds` to `g`"):
        load_config(cfg)


def test_mapping_rule_with_wrong_key(tmp_path):
    cfg, mapping, _ = _mapping_with(tmp_path, "parity: {rule: direct, column: parity}", "parity: {rule: direct, map: {a: 1}}")
    with pytest.raises(ConfigError, match=re.escape("rule `direct` needs `column`")):
        load_config(cfg)


def test_the_shipped_schemas_read_the_same_with_libyaml():
    """load_schema reads the package's schemas with libyaml's safe loader where PyYAML has
    it: the same documents as PyYAML's own safe loader."""
    from first1000.config import SCHEMA_DIR, load_schema

    files = sorted(SCHEMA_DIR.rglob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        with open(path, encoding="utf-8") as fh:
            assert load_schema(str(path.relative_to(SCHEMA_DIR))) == yaml.safe_load(fh), path


def test_the_config_schema_has_no_duplicate_key():
    """The schema is read by the same strict loader as a config (a key defined twice was
    silently the second one's, and an edit of the first had no effect)."""
    from first1000.config import SCHEMA_DIR, load_yaml

    load_yaml(SCHEMA_DIR / "config.schema.yaml")
