"""Loading and validating the workflow config and the cohort mapping files.

YAML is loaded with ``yaml.safe_load`` only, checked against the JSON schemas shipped in
``first1000/schemas`` (also visible as ``workflow/schemas``), defaults are filled in from
the schema, and cross-references (a covariate that is no harmonised variable, a mediator
that no mechanism prepares) are checked. Every problem is reported as one
:class:`~first1000.errors.ConfigError` naming the file, the line and the key, what was
expected and, for a misspelt key, the closest valid one. Nothing in a config is ever
evaluated as code: strings are only compared against closed vocabularies.
"""

from __future__ import annotations

import copy
import difflib
import functools
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from first1000.errors import ConfigError
from first1000.labels import DERIVED_VARIABLES, measure_biomarkers

SCHEMA_DIR = Path(str(resources.files("first1000") / "schemas"))

#: Cohort name of the analyses of all cohorts' data together (cohort as a covariate).
POOLED = "pooled"

@functools.lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """A shipped JSON schema (cached: read-only for every caller)."""
    with open(SCHEMA_DIR / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _with_defaults(validator_class):
    """A validator that fills in `default` values of the schema (jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _line_of(path, keys) -> int | None:
    """1-based line of the YAML node at ``keys`` (or of its deepest existing parent)."""
    try:
        with open(path, encoding="utf-8") as fh:
            node = yaml.compose(fh)
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def where(source, keys) -> str:
    """'file, line N: key `a.b.c`' for a message about a config key."""
    dotted = ".".join(str(k) for k in keys) or "(top level)"
    if source is None:
        return f"config key `{dotted}`"
    line = _line_of(source, keys)
    return f"{source}{f', line {line}' if line else ''}: key `{dotted}`"


def _describe(error: jsonschema.ValidationError, source) -> str:
    keys = list(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed]
        key = unknown[0] if unknown else "?"
        hint = difflib.get_close_matches(key, allowed, n=1)
        suggestion = f" Did you mean `{hint[0]}`?" if hint else ""
        return (f"{where(source, keys + [key])}: unknown key `{key}`.{suggestion} "
                f"Allowed here: {', '.join(allowed)}.")
    if error.validator == "required":
        return f"{where(source, keys)}: {error.message}; add it (see config/README.md)."
    if error.validator == "enum":
        hint = difflib.get_close_matches(str(error.instance), [str(v) for v in error.validator_value], n=1)
        suggestion = f" Did you mean `{hint[0]}`?" if hint else ""
        return (f"{where(source, keys)}: `{error.instance}` is not allowed.{suggestion} Expected one of: "
                f"{', '.join(str(v) for v in error.validator_value)}.")
    if error.validator == "not" and isinstance(error.validator_value, dict) and "enum" in error.validator_value:
        reserved = error.validator_value["enum"]
        return (f"{where(source, keys)}: `{error.instance}` is a reserved name (results of all cohorts "
                f"together are labelled {' and '.join(reserved)}); rename this entry.")
    if error.validator == "propertyNames":
        return f"{where(source, keys)}: {error.message}."
    if error.validator == "type":
        return (f"{where(source, keys)}: expected {error.validator_value}, got "
                f"{type(error.instance).__name__} `{error.instance}`.")
    description = error.schema.get("description", "")
    return f"{where(source, keys)}: {error.message}.{(' ' + description) if description else ''}"


def validate_against(instance, schema_name: str, source=None):
    """Validate ``instance`` (filling defaults in place) or raise one ConfigError."""
    schema = load_schema(schema_name)
    errors = sorted(_Validator(schema).iter_errors(instance), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        # Report the deepest, most specific problem first: it names the misspelt key.
        error = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_describe(error, source))
    return instance


def _resolved(schema, root: dict) -> dict:
    """``schema`` with its local ``$ref`` (``#/$defs/name``) replaced by what it points to."""
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        target = root
        for part in schema["$ref"][2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(target, dict) else {}
        schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **target}
    return schema if isinstance(schema, dict) else {}


def in_schema_order(instance, schema: dict, root: dict | None = None):
    """``instance`` with the keys of every fixed-key object (a schema with ``properties``)
    in the schema's order, and user-named entries (cohorts, windows, measures, ...) in the
    order the file gives them. Local references (``"$ref": "#/$defs/..."``) are followed.

    So a config's settings reach the jobs in one canonical order: moving a key within its
    section changes nothing a job reads (and reruns nothing), while reordering named
    entries, whose order is meaningful (the columns and rows they become), does.
    """
    if not isinstance(schema, dict):
        return instance
    root = schema if root is None else root
    schema = _resolved(schema, root)
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        branch = _resolved(branch, root)
        if isinstance(instance, dict) and "properties" in branch or isinstance(instance, list) and "items" in branch:
            return in_schema_order(instance, branch, root)
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        ordered = {key: in_schema_order(instance[key], sub, root) for key, sub in properties.items() if key in instance}
        for key, value in instance.items():
            if key not in ordered:
                ordered[key] = in_schema_order(value, extra if isinstance(extra, dict) else {}, root)
        return ordered
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [in_schema_order(item, schema["items"], root) for item in instance]
    return instance


def _read(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: file not found.")
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}).") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level.")
    return data


def load_data_schema(path) -> dict:
    """The harmonised variables (name -> label, type, unit, range)."""
    schema = _read(path)
    allowed_types = {"continuous", "integer", "binary", "categorical", "date"}
    for name, spec in schema.items():
        if not isinstance(spec, dict) or spec.get("type") not in allowed_types:
            raise ConfigError(
                f"{where(path, [name])}: each harmonised variable needs a `type` out of "
                f"{', '.join(sorted(allowed_types))}.")
    return schema


def load_mapping(path, data_schema: dict, cohort: str) -> dict:
    """Load and check one cohort's mapping file."""
    mapping = validate_against(_read(path), "mapping.schema.yaml", source=path)
    mapping = in_schema_order(mapping, load_schema("mapping.schema.yaml"))
    requires = {
        "direct": ({"column"}, {"column", "unit", "format"}),
        "recode": ({"column"}, {"column", "map", "map_file", "ranges", "unit"}),
        "derive": ({"operation"}, {"operation", "inputs", "max_missing", "instrument"}),
        "impossible": (set(), {"reason"}),
        "undetermined": (set(), {"reason"}),
    }
    for variable, rule in mapping["variables"].items():
        def where_(variable=variable):  # composed only when there is something to report
            return where(path, ["variables", variable])

        if variable not in data_schema:
            hint = difflib.get_close_matches(variable, list(data_schema), n=1)
            raise ConfigError(
                f"{where_()}: `{variable}` is not a harmonised variable"
                f"{f' (did you mean `{hint[0]}`?)' if hint else ''}. Add it to the data schema "
                f"or use one of: {', '.join(data_schema)}.")
        needed, allowed = requires[rule["rule"]]
        keys = set(rule) - {"rule"}
        if needed - keys:
            raise ConfigError(f"{where_()}: rule `{rule['rule']}` needs `{sorted(needed - keys)[0]}`.")
        if keys - allowed:
            raise ConfigError(
                f"{where_()}: rule `{rule['rule']}` does not take `{sorted(keys - allowed)[0]}` "
                f"(it takes {', '.join(sorted(allowed)) or 'nothing else'}).")
        if rule["rule"] == "recode" and sum(k in rule for k in ("map", "map_file", "ranges")) != 1:
            raise ConfigError(f"{where_()}: a recode needs exactly one of `map`, `map_file` or `ranges`.")
        if "map_file" in rule:
            levels = _read(rule["map_file"]).get("levels")
            if not isinstance(levels, dict) or not levels:
                raise ConfigError(f"{rule['map_file']}: expected a `levels:` mapping of category -> value.")
            rule["map"] = levels
        if "unit" in rule:
            from first1000.units import conversion  # local: units imports errors only

            conversion(rule["unit"], data_schema[variable].get("unit"), where=where_())
    if "id" not in mapping["tables"]["participants"]:
        raise ConfigError(f"{where(path, ['tables', 'participants'])}: name the participant ID column in `id`.")
    qpcr_roles = {"telomere_qpcr": ("telomere", "single_copy"), "mtdna_qpcr": ("mt", "nuclear")}
    for table, spec in mapping["tables"].items():
        if table not in ("methylation_matrix", *qpcr_roles) and "id" not in spec:
            raise ConfigError(f"{where(path, ['tables', table])}: name the participant ID column in `id`.")
        if table in qpcr_roles:
            for key in ("targets", "calibrator"):
                if key not in spec:
                    raise ConfigError(f"{where(path, ['tables', table])}: qPCR tables need `{key}`.")
            for role in qpcr_roles[table]:
                if role not in spec["targets"]:
                    raise ConfigError(f"{where(path, ['tables', table, 'targets'])}: name the `{role}` target "
                                      f"({' and '.join(qpcr_roles[table])} are needed).")
    if "cns_measures" in mapping["tables"] and not mapping["tables"]["cns_measures"].get("columns"):
        raise ConfigError(f"{where(path, ['tables', 'cns_measures'])}: list the measures under `columns` (measure "
                          "-> the file's column); declare each under `preparation.cns.measures` in the config.")
    mapping["_source"] = str(path)
    mapping["_cohort"] = cohort
    return mapping


def load_config(config) -> dict:
    """Validate a config (a path or an already-loaded dict) and its mapping files.

    Returns a new dict with defaults filled in and each cohort's mapping loaded under
    ``cohorts[name]["_mapping"]``, plus ``_data_schema``.
    """
    source = None
    if isinstance(config, (str, Path)):
        source = Path(config)
        config = _read(source)
    config = copy.deepcopy(dict(config))
    if "_mode" in config:  # an already loaded config: drop the empty placeholder of the other mode
        for key in ("cohorts", "sites"):
            if config.get(key) == {}:
                del config[key]
    for key in [k for k in config if str(k).startswith("_")]:
        del config[key]
    validate_against(config, "config.schema.yaml", source=source)
    config = in_schema_order(config, load_schema("config.schema.yaml"))
    if ("cohorts" in config) == ("sites" in config):
        raise ConfigError(
            f"{where(source, [])}: give either `cohorts` (a run on individual data) or `sites` (a "
            "meta-analysis of other runs' exported summary statistics), "
            f"{'not both' if 'cohorts' in config else 'one of them'}; see config/README.md.")
    config["_mode"] = "sites" if "sites" in config else "cohorts"
    config.setdefault("cohorts", {})
    config.setdefault("sites", {})
    data_schema = load_data_schema(config["harmonised_variables"])
    known = set(data_schema) | set(DERIVED_VARIABLES)
    for name, cohort in config["cohorts"].items():
        cohort["_mapping"] = load_mapping(cohort["mapping"], data_schema, name)
    cns_biomarkers = _check_cns_measures(config, known, source)
    from first1000.mechanisms.hpa import check_settings as check_hpa  # local: mechanisms import this module

    check_hpa(config["preparation"]["hpa"], lambda keys: where(source, keys))  # windows' default and unit

    biomarkers = set()
    for mech, spec in config["mechanisms"].items():
        biomarkers |= set(spec["biomarkers"])
        for role in ("exposures", "outcomes", "covariates"):
            for var in spec.get(role, []):
                _check_known(var, known, source, ["mechanisms", mech, role])
    for role in ("exposures", "covariates"):
        for var in config["epigenome_wide"].get(role, []):
            _check_known(var, known, source, ["epigenome_wide", role])
    for i, var in enumerate(config["covariates"]):
        _check_known(var, known, source, ["covariates", i])
    for var in config["ses_index"]["indicators"]:
        _check_known(var, known, source, ["ses_index", "indicators", var])
    for i, path in enumerate(config["mediation"]["paths"]):
        keys = ["mediation", "paths", i]
        _check_known(path["exposure"], known, source, keys + ["exposure"])
        _check_known(path["outcome"], known, source, keys + ["outcome"])
        for role in ("covariates", "mediator_covariates", "outcome_covariates"):
            for var in path.get(role, []):
                _check_known(var, known, source, keys + [role])
        mediators = path["mediator"] if isinstance(path["mediator"], list) else [path["mediator"]]
        if path.get("sequential") and len(mediators) != 2:
            raise ConfigError(
                f"{where(source, keys + ['sequential'])}: a sequential path needs exactly two mediators "
                "[M1, M2] (M1 affects M2); give `mediator` as a list of two biomarkers.")
        for mediator in mediators:
            if mediator not in biomarkers:
                raise ConfigError(
                    f"{where(source, keys + ['mediator'])}: `{mediator}` is not a biomarker of any "
                    "configured mechanism; add it to a mechanism's `biomarkers` first.")

        if data_schema.get(path["outcome"], {}).get("type") == "categorical":
            raise ConfigError(
                f"{where(source, keys + ['outcome'])}: `{path['outcome']}` is categorical; mediation models "
                "continuous, binary (logistic) and count outcomes. Declare a binary indicator of the category.")
    config["_data_schema"] = data_schema
    # Declared labels and units of the CNS biomarkers, kept apart from the data schema
    # (whose entries ingest expects as participant variables).
    config["_declared_biomarkers"] = cns_biomarkers
    config["_source"] = str(source) if source else None
    return config


def attach_cns_measures(mapping: dict, measures: dict, config_source=None) -> None:
    """Check that every measure a cohort's ``cns_measures`` table maps is declared under
    ``preparation.cns.measures`` and hand the declarations (label, unit, log, min, max)
    to the ingester as the table spec's ``_measures``."""
    spec = mapping["tables"].get("cns_measures")
    if spec is None:
        return
    for measure in spec.get("columns", {}):
        if measure not in measures:
            hint = difflib.get_close_matches(measure, list(measures), n=1)
            raise ConfigError(
                f"{where(mapping.get('_source'), ['tables', 'cns_measures', 'columns', measure])}: the CNS measure "
                f"`{measure}` is not declared in the config{f' ({config_source})' if config_source else ''}"
                f"{f' (did you mean `{hint[0]}`?)' if hint else ''}. Declare it as `preparation.cns.measures."
                f"{measure}: {{label: ..., unit: ...}}` (optionally `log`, `min`, `max`), or remove it from the "
                "mapping file.")
    spec["_measures"] = {m: measures[m] for m in spec.get("columns", {})}


def _check_cns_measures(config: dict, known: set, source) -> dict[str, tuple[str, str]]:
    """Declared CNS measures: their biomarkers (name -> (label, unit)), checked against each
    other, the harmonised variables, every cohort's mapping and ``mechanisms.cns``."""
    measures = config["preparation"]["cns"]["measures"]
    keys = ["preparation", "cns", "measures"]
    produced, owner = {}, {}
    for measure, spec in measures.items():
        if spec.get("min") is not None and spec.get("max") is not None and spec["min"] > spec["max"]:
            raise ConfigError(f"{where(source, keys + [measure, 'min'])}: `min` ({spec['min']:g}) is above `max` "
                              f"({spec['max']:g}).")
        for name, label_unit in measure_biomarkers({measure: spec}).items():
            if name in owner:
                raise ConfigError(f"{where(source, keys + [measure])}: the measures `{owner[name]}` and `{measure}` "
                                  f"both give the biomarker `{name}`; rename one of them.")
            if name in known:
                raise ConfigError(f"{where(source, keys + [measure])}: the biomarker `{name}` of this measure has "
                                  "the name of a harmonised variable; rename the measure.")
            owner[name], produced[name] = measure, label_unit
    for cohort in config["cohorts"].values():
        attach_cns_measures(cohort["_mapping"], measures, source)
    if "cns" in config["mechanisms"]:
        for i, name in enumerate(config["mechanisms"]["cns"]["biomarkers"]):
            if name not in produced:
                base = name.removesuffix("_ln")
                if name.endswith("_ln") and base in measures:
                    hint = f" (`{base}` is declared with `log: false`: use `{base}`, or set `log: true`)"
                elif name in measures:
                    hint = f" (`{name}` is declared with `log: true`: use `{name}_ln`)"
                else:
                    close = difflib.get_close_matches(name, list(produced), n=1)
                    hint = f" (did you mean `{close[0]}`?)" if close else ""
                available = (f"The declared measures give: {', '.join(produced)}." if produced else
                             "No measure is declared: add them under `preparation.cns.measures`.")
                raise ConfigError(
                    f"{where(source, ['mechanisms', 'cns', 'biomarkers', i])}: `{name}` is not a biomarker of a "
                    f"measure declared under `preparation.cns.measures`{hint}. {available} A measure gives "
                    "`{measure}` (`{measure}_ln` with `log: true`) and `{measure}_z`.")
    return produced


def _check_known(var, known, source, keys):
    if var not in known:
        hint = difflib.get_close_matches(var, sorted(known), n=1)
        raise ConfigError(
            f"{where(source, keys)}: `{var}` is not a harmonised or derived variable"
            f"{f' (did you mean `{hint[0]}`?)' if hint else ''}.")
