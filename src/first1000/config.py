"""Loading and validating the workflow config and the cohort mapping files.

YAML is read by :func:`load_yaml` (a ``yaml.SafeLoader`` with YAML 1.2 booleans that refuses
duplicate keys, alias bombs, recursive aliases and NaN or infinite numbers), checked against
the JSON schemas shipped in ``first1000/schemas`` (also visible as ``workflow/schemas``), defaults are filled in from
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
import math
import os
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from first1000.errors import ConfigError
from first1000.labels import (DERIVED_VARIABLES, FOLLOWUP_SCORES, LABEL_RULE, NAME_PATTERN, NAME_RULE, is_name,
                              label_problem, measure_biomarkers, shown)

if TYPE_CHECKING:
    import jsonschema

SCHEMA_DIR = Path(str(resources.files("first1000") / "schemas"))

#: Cohort name of the analyses of all cohorts' data together (cohort as a covariate).
POOLED = "pooled"
#: The cohort column of a meta-analysis of the cohorts' estimates.
META = "meta"

#: At most this many values may be repeated by YAML aliases (``*name``) in one document. A
#: config repeats a list of covariates or so; a "billion laughs" document repeats 9**9
#: values, which makes every reader that walks it (validation, messages, Snakemake's own
#: config checksum) hang while its memory grows.
ALIAS_BUDGET = 10_000

_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
#: The largest whole number a setting may hold (a 64-bit integer's): a larger one cannot be a
#: count, a seed or a limit, and overflowed the checks' float arithmetic.
_INT_MAX = 2**63 - 1
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2 booleans: only true/false (any case as YAML 1.2
    spells them) are booleans; yes/no/on/off are text, so a map of questionnaire answers
    ``{yes: 1, no: 0}`` maps the answers "yes" and "no"."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _dotted(keys) -> str:
    """A key path for a message: `a.b.0`; a key that is not a plain word is quoted and
    escaped (`cohorts.'ghent\\n'`), so every message stays one line."""
    return ".".join(k if isinstance(k, str) and re.fullmatch(r"[\w-]+", k) else repr(k)
                    for k in map(_plain, keys)) or "(top level)"


def _plain(key):
    return key if isinstance(key, (str, int)) and not isinstance(key, bool) else str(key)


def _children(node):
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def _expanded_sizes(root, path) -> dict[int, int]:
    """Number of values each node stands for once its aliases are expanded (memoised per
    node, so computing it never expands anything); refuses a node that contains itself."""
    size, on_stack = {}, {id(root)}
    stack = [(root, iter(list(_children(root))))]
    while stack:
        node, todo = stack[-1]
        for child in todo:
            if id(child) in size:
                continue
            if id(child) in on_stack:
                raise ConfigError(
                    f"{path}, line {child.start_mark.line + 1}: a YAML alias refers to a value that contains the "
                    "alias itself (a recursive alias), which has no end; write the value out instead.")
            on_stack.add(id(child))
            stack.append((child, iter(list(_children(child)))))
            break
        else:
            stack.pop()
            on_stack.discard(id(node))
            size[id(node)] = 1 + sum(size[id(c)] for c in _children(node))
    return size


def _check_nodes(loader, root, path) -> None:
    """Refuse duplicate keys, NaN or infinite numbers, alias bombs and Snakemake's YTE
    templates in a composed YAML document, naming the line and the key path."""
    sizes = _expanded_sizes(root, path)
    seen, repeated = set(), 0
    stack = [(root, (), 1)]
    while stack:
        node, keys, line = stack.pop()  # line: where the value is used (an alias's anchor is elsewhere)
        if id(node) in seen:  # a second use of an anchored value: an alias
            repeated += sizes[id(node)]
            if repeated > ALIAS_BUDGET:
                raise ConfigError(
                    f"{path}, line {line}: key `{_dotted(keys)}`: the YAML aliases (`*name`) of "
                    f"this file repeat more than {ALIAS_BUDGET} values (an alias bomb makes YAML readers hang); "
                    "first1000 refuses such files: write the values out or use fewer aliases.")
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _FLOAT_TAG and not math.isfinite(loader.construct_yaml_float(node)):
                raise ConfigError(
                    f"{path}, line {node.start_mark.line + 1}: key `{_dotted(keys)}`: `{node.value}` is not a finite "
                    "number (NaN and infinity are never valid settings); give a finite number.")
            if node.tag == _INT_TAG and len(node.value) > 19 and abs(loader.construct_yaml_int(node)) > _INT_MAX:
                raise ConfigError(
                    f"{path}, line {node.start_mark.line + 1}: key `{_dotted(keys)}`: a whole number of "
                    f"{len(node.value)} characters is larger than any setting takes (at most {_INT_MAX:,}); give a "
                    "smaller number.")
        elif isinstance(node, yaml.MappingNode):
            first_line, children = {}, []
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                if key_node.tag == _MERGE_TAG:  # `<<: *defaults`: keys given here override the merged ones
                    children.append((value_node, keys, key_line))
                    continue
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.tag == _FLOAT_TAG and not math.isfinite(loader.construct_yaml_float(key_node)):
                        raise ConfigError(f"{path}, line {key_node.start_mark.line + 1}: key `{_dotted(keys)}`: "
                                          f"`{key_node.value}` is not a finite number; use a finite number or text.")
                    key = loader.construct_object(key_node, deep=True)
                    if not keys and key == "__use_yte__":
                        raise ConfigError(
                            f"{path}, line {key_node.start_mark.line + 1}: key `__use_yte__`: first1000 config files "
                            "are plain YAML, never templates (Snakemake evaluates `?` expressions of a file marked "
                            "`__use_yte__` as Python code); remove the key and write the values out.")
                    marker = (type(key).__name__, key) if isinstance(key, (str, int, float, bool)) else None
                    if marker is not None:
                        if marker in first_line:
                            raise ConfigError(
                                f"{path}, line {key_node.start_mark.line + 1}: key `{_dotted((*keys, key))}` is given "
                                f"twice (first at line {first_line[marker]}); YAML would silently keep only the last "
                                "value. Keep one of them.")
                        first_line[marker] = key_node.start_mark.line + 1
                else:
                    key = f"<key at line {key_node.start_mark.line + 1}>"
                children.append((key_node, keys, key_line))
                children.append((value_node, (*keys, key), key_line))
            stack.extend(reversed(children))
        elif isinstance(node, yaml.SequenceNode):
            # an alias's own line is not kept: an item anchored above this list is used on the list's line
            first = node.start_mark.line
            stack.extend(reversed([(item, (*keys, i), max(item.start_mark.line, first) + 1)
                                   for i, item in enumerate(node.value)]))


def refuse_unsafe_config(path) -> None:
    """Read a config file with first1000's own loader (:func:`load_yaml`) before Snakemake
    reads it: Snakemake evaluates the ``?`` expressions of a file marked ``__use_yte__`` as
    Python and expands its aliases when it loads a config, before the workflow's pre-flight
    check could refuse it. The workflow does so for its default config, ``first1000 run``
    and ``first1000 report`` for the config they pass; a ``--configfile`` given to
    ``snakemake`` itself is read by Snakemake first. Raises :class:`ConfigError`."""
    load_yaml(path)


#: The largest config, mapping or map file read (a data table named by mistake is refused).
YAML_MAX_BYTES = 16 << 20


def load_yaml(path):
    """A YAML file as Python data, read safely (see :class:`_Loader` and :func:`_check_nodes`):
    one ConfigError naming the file, the line and the key for anything refused."""
    path = Path(path)
    try:
        # a regular file only: a FIFO or device (/dev/zero) would block or never end
        if path.exists() and not path.is_file():
            raise ConfigError(f"{path}: not a regular file (a folder, device or pipe); name a YAML file.")
        if path.exists() and path.stat().st_size > YAML_MAX_BYTES:
            raise ConfigError(f"{path}: {path.stat().st_size:,} bytes, more than a config or mapping file holds "
                              f"({YAML_MAX_BYTES:,} at most); is it the right file?")
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(loader, node, path)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where_ = f", line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}{where_}: not valid YAML ({problem}).") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config or mapping file.") from None
    except (ValueError, OverflowError) as exc:  # a value YAML reads but Python cannot hold (2024-02-30, 10^5000)
        raise ConfigError(f"{path}: a value cannot be read ({' '.join(str(exc).split())[:120]}); quote dates "
                          "and very long numbers, or correct them.") from None
    finally:
        loader.dispose()


@functools.lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """A shipped JSON schema (cached: read-only for every caller), read by libyaml's safe
    loader where PyYAML has it (the 12 schemas in 0.01 s instead of 0.06 s in Snakemake's
    parse, #19); these are the package's own files. A user's YAML goes through
    :func:`load_yaml`, whose checks need PyYAML's own parser."""
    with open(SCHEMA_DIR / name, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _with_defaults(validator_class):
    """A validator that fills in `default` values of the schema (jsonschema FAQ recipe)."""
    import jsonschema

    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


@functools.cache
def _validator():
    """The validator class, built on first use: jsonschema is imported only by what
    validates (Snakemake's parse, the pre-flight check), not by every job (#19)."""
    import jsonschema

    return _with_defaults(jsonschema.Draft202012Validator)


@functools.lru_cache(maxsize=16)
def _composed(path: str, size: int, mtime_ns: int):
    """The YAML node tree of a file (cached by its size and modification time: a mapping
    file's unit rules name their line in every message they may give, ~0.1 s per compose)."""
    del size, mtime_ns  # the cache key
    with open(path, encoding="utf-8") as fh:
        return yaml.compose(fh, Loader=_Loader)


def _line_of(path, keys) -> int | None:
    """1-based line of the YAML node at ``keys`` (or of its deepest existing parent)."""
    try:
        stat = os.stat(path)
        node = _composed(str(path), stat.st_size, stat.st_mtime_ns)
    except (OSError, ValueError, yaml.YAMLError):
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
    dotted = _dotted(keys)
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
    if error.validator == "pattern" and error.validator_value == NAME_PATTERN:
        if "propertyNames" in error.schema_path:  # the key of an entry the user named
            return (f"{where(source, keys + [error.instance])}: {shown(error.instance)} is not a valid name: "
                    f"{NAME_RULE}. Names become file names, column names and report text; rename it.")
        return (f"{where(source, keys)}: {shown(error.instance)} is not a valid name: {NAME_RULE}. Give the name "
                "of a variable, biomarker or entry as declared.")
    if error.validator == "pattern":
        expected = error.schema.get("description", "see config/README.md")
        return f"{where(source, keys)}: {shown(error.instance)} is not valid here; expected {expected}"
    if error.validator == "enum":
        hint = difflib.get_close_matches(str(error.instance), [str(v) for v in error.validator_value], n=1)
        suggestion = f" Did you mean `{hint[0]}`?" if hint else ""
        return (f"{where(source, keys)}: {shown(error.instance)} is not allowed.{suggestion} Expected one of: "
                f"{', '.join(str(v) for v in error.validator_value)}.")
    if error.validator == "not" and isinstance(error.validator_value, dict) and "enum" in error.validator_value:
        reserved = error.validator_value["enum"]
        return (f"{where(source, keys)}: `{error.instance}` is a reserved name (results of all cohorts "
                f"together are labelled {' and '.join(reserved)}); rename this entry.")
    if error.validator == "propertyNames":
        return f"{where(source, keys)}: {error.message}."
    if error.validator == "type":
        hint = ""
        if "boolean" in error.validator_value and str(error.instance).lower() in ("yes", "no", "on", "off", "y", "n"):
            hint = (" Write `true` or `false`: first1000 reads YAML 1.2, where yes/no/on/off are text, not "
                    "booleans.")
        return (f"{where(source, keys)}: expected {error.validator_value}, got "
                f"{type(error.instance).__name__} {shown(error.instance)}.{hint}")
    description = error.schema.get("description", "")
    message = " ".join(error.message.split())
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{where(source, keys)}: {message}.{(' ' + description) if description else ''}"


def validate_against(instance, schema_name: str, source=None):
    """Validate ``instance`` (filling defaults in place) or raise one ConfigError."""
    schema = load_schema(schema_name)
    import jsonschema

    errors = sorted(_validator()(schema).iter_errors(instance), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
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
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level.")
    return data


def check_label(text, source, keys, what: str = "label") -> None:
    """Refuse a label (free text shown to readers) outside the safe character set
    (:func:`first1000.labels.label_problem`)."""
    problem = label_problem(text)
    if problem:
        raise ConfigError(f"{where(source, keys)}: {shown(text)} is not a valid {what}: {problem}; {LABEL_RULE}. "
                          f"Rewrite the {what}.")


#: Types of a harmonised variable.
VARIABLE_TYPES = ("continuous", "integer", "binary", "categorical", "date")

#: The blocks of the model figure (first1000.figures.model) a study variable's ``group``
#: may name; any other ``group`` text is the heading of a block of its own.
FIGURE_GROUPS = {"ses": "Socio-economic status", "mood": "Maternal mood"}


#: The keys of a data-schema entry.
VARIABLE_KEYS = ("label", "type", "unit", "min", "max", "categories")


def _check_variable(name, spec, source, keys, what: str = "harmonised variable", extra_keys=()) -> None:
    """One data-schema entry: a valid name, a type, safe label, unit and categories, numeric limits."""
    if not is_name(name):
        raise ConfigError(
            f"{where(source, keys)}: {shown(name)} is not a valid name for a {what}: {NAME_RULE}. "
            "Names become column names, file names and report text; rename it (and its uses in the config "
            "and mapping files).")
    if not isinstance(spec, dict) or spec.get("type") not in VARIABLE_TYPES:
        raise ConfigError(
            f"{where(source, keys)}: each {what} needs a `type` out of {', '.join(sorted(VARIABLE_TYPES))}.")
    allowed = (*VARIABLE_KEYS, *extra_keys)
    for key in spec:
        if key not in allowed:
            cut = (" A key without a value often is the rest of a label cut at a comma: in a `{...}` "
                   "mapping, quote a label that holds a comma (label: \"...\")." if spec[key] is None else "")
            raise ConfigError(
                f"{where(source, [*keys, key])}: {shown(key)} is not a key of a {what} (they are "
                f"{', '.join(allowed)}).{cut}")
    for key in ("label", "unit"):
        if key in spec:
            check_label(spec[key], source, [*keys, key], key)
    for key in ("min", "max"):
        if key in spec and (isinstance(spec[key], bool) or not isinstance(spec[key], (int, float))):
            raise ConfigError(f"{where(source, [*keys, key])}: expected a number, got {shown(spec[key])}.")
    if "categories" in spec:
        if not isinstance(spec["categories"], list):
            raise ConfigError(f"{where(source, [*keys, 'categories'])}: expected a list of categories.")
        for i, category in enumerate(spec["categories"]):
            if not isinstance(category, (int, str)) or isinstance(category, bool):
                raise ConfigError(f"{where(source, [*keys, 'categories', i])}: expected text, got "
                                  f"{shown(category)}.")
            if isinstance(category, str):
                check_label(category, source, [*keys, "categories", i], "category")


def load_data_schema(path) -> dict:
    """The harmonised variables (name -> label, type, unit, range), every name a valid
    name and every label, unit and category safe text (they reach file names, figures,
    tables and the report)."""
    schema = _read(path)
    for name, spec in schema.items():
        _check_variable(name, spec, path, [name])
    return schema


def _limits_problem(spec: dict) -> str | None:
    if spec.get("min") is not None and spec.get("max") is not None and spec["min"] > spec["max"]:
        return f"`min` ({spec['min']:g}) is above `max` ({spec['max']:g})"
    return None


def _study_variables(config: dict, shipped: dict, source) -> tuple[dict, dict]:
    """The shipped data schema with the config's ``variable_overrides`` applied and its
    ``study_variables`` appended; and the model-figure group of each variable that
    declares one (name -> heading)."""
    schema_file = config["harmonised_variables"]
    merged = copy.deepcopy(shipped)
    groups = {}

    def heading(group, keys):
        if group in FIGURE_GROUPS:
            return FIGURE_GROUPS[group]
        check_label(group, source, keys, "group heading")
        return group

    for name, spec in config["variable_overrides"].items():
        keys = ["variable_overrides", name]
        if name not in shipped:
            declared = name in config["study_variables"]
            raise ConfigError(
                f"{where(source, keys)}: `{name}` is not a variable of the data schema ({schema_file}); "
                + ("set its `min`/`max`/`group` in `study_variables` directly." if declared else
                   "overrides change shipped variables; declare a new variable under `study_variables`."))
        check_label(spec["reason"], source, keys + ["reason"], "reason")
        changed = [key for key in ("min", "max") if key in spec]
        if not changed and "group" not in spec:
            raise ConfigError(f"{where(source, keys)}: give `min`, `max` or `group` to override, with the `reason`.")
        entry = merged[name]
        if changed and entry["type"] not in ("continuous", "integer"):
            raise ConfigError(f"{where(source, keys + [changed[0]])}: `{name}` is {entry['type']}; only continuous "
                              "and integer variables have a range.")
        old = {key: entry.get(key) for key in changed}
        entry.update({key: spec[key] for key in changed})
        problem = _limits_problem(entry)
        if problem:
            raise ConfigError(f"{where(source, keys + [changed[0]])}: {problem} after this override.")
        if changed:
            was = "; ".join(f"{key} {spec[key]:g} (data schema: {'none' if old[key] is None else f'{old[key]:g}'})"
                            for key in changed)
            entry["range_note"] = f"range set by variable_overrides: {was}; reason: {spec['reason']}"
        if "group" in spec:
            groups[name] = heading(spec["group"], keys + ["group"])
    for name, spec in config["study_variables"].items():
        keys = ["study_variables", name]
        if name in shipped:
            raise ConfigError(
                f"{where(source, keys)}: `{name}` is a variable of the data schema ({schema_file}); a study variable "
                f"may not redefine it. Change its range under `variable_overrides.{name}` (with a `reason`), or give "
                "the study variable another name.")
        if name in DERIVED_VARIABLES:
            raise ConfigError(f"{where(source, keys)}: `{name}` is a variable the workflow derives; give the study "
                              "variable another name.")
        _check_variable(name, spec, source, keys, "study variable", extra_keys=("group",))
        for key in ("min", "max"):
            if key in spec and spec["type"] not in ("continuous", "integer"):
                raise ConfigError(f"{where(source, keys + [key])}: a {spec['type']} variable has no range; `min` and "
                                  "`max` are for continuous and integer variables.")
        if "categories" in spec and spec["type"] != "categorical":
            raise ConfigError(f"{where(source, keys + ['categories'])}: only a categorical variable has "
                              "`categories`.")
        problem = _limits_problem(spec)
        if problem:
            raise ConfigError(f"{where(source, keys + ['min'])}: {problem}.")
        merged[name] = {key: copy.deepcopy(spec[key]) for key in ("label", "type", "unit", "min", "max", "categories")
                        if key in spec}
        if "group" in spec:
            groups[name] = heading(spec["group"], keys + ["group"])
    return merged, groups


def _check_encoding(encoding, source, keys) -> None:
    """A table's declared ``encoding``: one of :data:`first1000.io.TEXT_ENCODINGS`."""
    from first1000.io import encoding_problem

    problem = encoding_problem(encoding)
    if problem:
        raise ConfigError(f"{where(source, keys)}: {problem}")


def load_mapping(path, data_schema: dict, cohort: str) -> dict:
    """Load and check one cohort's mapping file."""
    mapping = validate_against(_read(path), "mapping.schema.yaml", source=path)
    mapping = in_schema_order(mapping, load_schema("mapping.schema.yaml"))
    if "label" in mapping:
        check_label(mapping["label"], path, ["label"])
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
                f"(or the config's `study_variables`) or use one of: {', '.join(data_schema)}.")
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
        # harmonised categories are shown to readers (table rows, figure legends): labels
        for part in ("map", "ranges"):
            entries = rule.get(part) or {}
            values = entries.values() if isinstance(entries, dict) else [
                e.get("value") for e in entries if isinstance(e, dict)]
            for value in values:
                if isinstance(value, str):
                    source, keys = ((rule["map_file"], ["levels"]) if part == "map" and "map_file" in rule
                                    else (path, ["variables", variable, part]))
                    check_label(value, source, keys, "category")
        if "unit" in rule:
            from first1000.units import conversion  # local: units imports errors only

            conversion(rule["unit"], data_schema[variable].get("unit"), where=where_())
    if "id" not in mapping["tables"]["participants"]:
        raise ConfigError(f"{where(path, ['tables', 'participants'])}: name the participant ID column in `id`.")
    qpcr_roles = {"telomere_qpcr": ("telomere", "single_copy"), "mtdna_qpcr": ("mt", "nuclear")}
    for table, spec in mapping["tables"].items():
        _check_encoding(spec.get("encoding", "utf-8"), path, ["tables", table, "encoding"])
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


def _check_data(data, source) -> None:
    """The checks of :func:`load_yaml` that can be made on already loaded data (a config
    Snakemake read): no NaN or infinite number, no structure repeating more than
    :data:`ALIAS_BUDGET` values (shared lists of an alias bomb)."""
    sizes, distinct, stack = {}, 1, [(data, False)]
    while stack:  # expanded size of every container, each computed once
        node, done = stack.pop()
        if not isinstance(node, (dict, list)) or (id(node) in sizes and not done):
            continue
        items = list(node.values()) if isinstance(node, dict) else node
        if done:
            sizes[id(node)] = 1 + sum(sizes.get(id(v), 1) for v in items)
            distinct += len(items)
        else:
            sizes[id(node)] = 1  # guards against a container holding itself
            stack.append((node, True))
            stack.extend((v, False) for v in items if isinstance(v, (dict, list)) and id(v) not in sizes)
    if sizes.get(id(data), 1) > distinct + ALIAS_BUDGET:
        raise ConfigError(f"{where(source, [])}: the config repeats more than {ALIAS_BUDGET} values through YAML "
                          "aliases (an alias bomb); write the values out or use fewer aliases.")
    seen, stack = set(), [(data, ())]
    while stack:
        node, keys = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            raise ConfigError(f"{where(source, keys)}: `{node}` is not a finite number (NaN and infinity are "
                              "never valid settings); give a finite number.")
        if isinstance(node, (dict, list)) and id(node) not in seen:
            seen.add(id(node))
            pairs = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((value, (*keys, key)) for key, value in pairs)


def snakemake_config(configfiles, overrides, config: dict):
    """The config the workflow validates (``preflight``), given Snakemake's ``workflow.configfiles``,
    its ``--config`` overrides and the ``config`` it loaded.

    Snakemake reads config files itself with PyYAML's FullLoader (YAML 1.1 booleans, a
    duplicate key silently keeps its last value, a file marked ``__use_yte__`` is evaluated
    as a template), so each file is read again by :func:`load_yaml`, which refuses those.
    With one file and no ``--config`` overrides that file is what is validated (messages
    then name its lines, and yes/no are text as everywhere in first1000); otherwise
    Snakemake's merged config is, after every file passed.
    """
    files = []
    for path in map(Path, configfiles):  # named as the user would, relative to the working directory
        relative = os.path.relpath(path) if path.is_absolute() else str(path)
        files.append(Path(relative) if not relative.startswith("..") else path)
    if len(files) == 1 and not overrides:
        return files[0]
    for path in files:
        _read(path)
    return config


def load_config(config) -> dict:
    """Validate a config (a path or an already-loaded dict) and its mapping files.

    Returns a new dict with defaults filled in and each cohort's mapping loaded under
    ``cohorts[name]["_mapping"]``, plus ``_data_schema``.
    """
    source = None
    if isinstance(config, (str, Path)):
        source = Path(config)
        config = _read(source)
    else:
        _check_data(config, None)
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
    for section in ("cohorts", "sites", "mechanisms"):
        for name, spec in config.get(section, {}).items():
            if "label" in spec:
                check_label(spec["label"], source, [section, name, "label"])
    for name, spec in config["preparation"]["cns"]["measures"].items():
        for key in ("label", "unit"):
            check_label(spec[key], source, ["preparation", "cns", "measures", name, key], key)
    config["_mode"] = "sites" if "sites" in config else "cohorts"
    config.setdefault("cohorts", {})
    config.setdefault("sites", {})
    data_schema, figure_groups = _study_variables(config, load_data_schema(config["harmonised_variables"]), source)
    known = set(data_schema) | set(DERIVED_VARIABLES)
    for name, cohort in config["cohorts"].items():
        cohort["_mapping"] = load_mapping(cohort["mapping"], data_schema, name)
        # messages quote a value only if this many rows hold it (mapping._recode)
        cohort["_mapping"]["_min_cell"] = config["privacy"]["min_cell_size"]
    cns_biomarkers = _check_cns_measures(config, known, source)
    from first1000.mechanisms.hpa import check_settings as check_hpa  # local: mechanisms import this module

    check_hpa(config["preparation"]["hpa"], lambda keys: where(source, keys))  # windows' default and unit
    from first1000.mechanisms.growth import check_settings as check_growth

    check_growth(config["preparation"].get("growth", {}), lambda keys: where(source, keys))

    biomarkers = set()
    for mech, spec in config["mechanisms"].items():
        biomarkers |= set(spec["biomarkers"])
        for role in ("exposures", "outcomes", "covariates"):
            for var in spec.get(role, []):
                _check_known(var, known, source, ["mechanisms", mech, role])
    for role in ("exposures", "covariates"):
        for var in config["epigenome_wide"].get(role, []):
            _check_known(var, known, source, ["epigenome_wide", role])
    config.setdefault("longitudinal", {})
    for mech, spec in config["longitudinal"].items():
        if mech not in config["mechanisms"]:
            raise ConfigError(f"{where(source, ['longitudinal', mech])}: `{mech}` is not among `mechanisms`; "
                              f"declare the mechanism (its label, visits' biomarkers and exposures) first.")
        allowed = ["hair_cortisol_ln"] if mech == "hpa" else list(FOLLOWUP_SCORES)
        if mech == "hpa":
            spec.setdefault("scores", list(allowed))
        if mech == "growth" and not spec.get("scores"):
            raise ConfigError(f"{where(source, ['longitudinal', mech])}: give `scores`, the follow-up scores to "
                              f"model over age, e.g. `scores: [wlz, laz]` (one of {', '.join(allowed)}).")
        for i, score in enumerate(spec.get("scores", [])):
            if score not in allowed:
                raise ConfigError(f"{where(source, ['longitudinal', mech, 'scores', i])}: `{score}` is not a "
                                  f"repeated measure of `{mech}`; expected one of {', '.join(allowed)}.")
        for i, var in enumerate(spec["exposures"]):
            _check_known(var, known, source, ["longitudinal", mech, "exposures", i])
    for i, var in enumerate(config["covariates"]):
        _check_known(var, known, source, ["covariates", i])
    for var in config["ses_index"]["indicators"]:
        _check_known(var, known, source, ["ses_index", "indicators", var])
    for i, path in enumerate(config["mediation"].get("high_dimensional", [])):
        keys = ["mediation", "high_dimensional", i]
        _check_known(path["exposure"], known, source, keys + ["exposure"])
        mediators = path.get("mediators", "methylation")
        if mediators not in config["mechanisms"] and mediators != "methylation":
            raise ConfigError(f"{where(source, keys + ['mediators'])}: `{mediators}` is not among `mechanisms`; the "
                              "candidates are `methylation` (the epigenome-wide CpGs) or the biomarkers of a declared "
                              f"mechanism ({', '.join(config['mechanisms'])}).")
        if mediators == "methylation" and not config["epigenome_wide"].get("exposures"):
            raise ConfigError(f"{where(source, keys)}: high-dimensional mediation through the epigenome-wide CpGs "
                              "reads the EWAS matrices: give `epigenome_wide.exposures` (or `mediators:` a "
                              "mechanism).")
        if path["outcome"] not in biomarkers:
            _check_known(path["outcome"], known, source, keys + ["outcome"])
    for i, path in enumerate(config["mediation"]["paths"]):
        keys = ["mediation", "paths", i]
        _check_known(path["exposure"], known, source, keys + ["exposure"])
        if path["outcome"] not in biomarkers:  # or a later outcome: a child's score at a follow-up visit
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
    # The model figure's block of each variable that declares one (study_variables, variable_overrides).
    config["_figure_groups"] = figure_groups
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
