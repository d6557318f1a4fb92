"""Human labels and units of variables, for figures, captions and result tables.

A variable is labelled from the data schema (harmonised variables), the derived SES
variables (:data:`DERIVED_VARIABLES`), the biomarkers a config declares with their label
and unit (the CNS measures, passed as ``declared``) or the naming rules of the prepared
biomarkers (:func:`biomarker_label`). Jobs get the labels they need through their rule's
params (:func:`variables`), never from module state.
"""

from __future__ import annotations

import re
import unicodedata

#: A name (cohort, site, harmonised variable, biomarker, mechanism, CNS measure, window,
#: metabolite, taxon, ...): lower-case letters and digits in words joined by single
#: underscores, starting with a letter, at most 64 characters. Names become file names,
#: column names, Snakemake wildcards and report text, so nothing else is allowed: no
#: trailing or double underscore (a reference in reStructuredText), no newline (``\Z``,
#: not ``$``, which also matches before a final newline), no markup.
NAME_PATTERN = r"^[a-z](?:[a-z0-9]|_(?=[a-z0-9])){0,63}\Z"
NAME_RULE = ("names are lower-case letters and digits in words joined by single underscores, starting "
             "with a letter, at most 64 characters (e.g. `ghent`, `birth_weight_z`)")
_NAME = re.compile(NAME_PATTERN)

#: Punctuation a label (free text shown to readers: figures, tables, the report) may hold
#: besides letters, digits and spaces. Not `$` (it would switch matplotlib to math text),
#: not backslash, braces or double quotes, no control or invisible characters.
LABEL_PUNCTUATION = "()[]-‐–—,.;:/%+'’·≥≤±<>=&*_|`#?!~^°×→…"
LABEL_MAX_CHARS = 200
LABEL_RULE = (f"labels may hold letters, digits, spaces and {LABEL_PUNCTUATION} (at most {LABEL_MAX_CHARS} "
              "characters, one line)")


def is_name(text) -> bool:
    """Whether ``text`` is a valid name (:data:`NAME_PATTERN`)."""
    return isinstance(text, str) and _NAME.match(text) is not None


def shown(value, limit: int = 60) -> str:
    """A value for a one-line message, at most ``limit`` characters: `text` in backticks,
    a string with control characters or backticks as its escaped repr (``'ghent\\n'``), any
    other value as its repr in backticks (`[1, 2]`)."""
    if isinstance(value, str) and value.isprintable() and "`" not in value:
        text = f"`{value}`"
    else:
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in repr(value)[:limit + 1])
        if not isinstance(value, str) and "`" not in text:
            text = f"`{text}`"
    if len(text) <= limit:
        return text
    return text[:limit - 4] + "...`" if text.startswith("`") else text[:limit - 3] + "..."


def label_problem(text) -> str | None:
    """What is wrong with ``text`` as a label, or None if it is a valid label."""
    if not isinstance(text, str):
        return f"expected text, got {type(text).__name__}"
    if not text.strip():
        return "the label is empty"
    if len(text) > LABEL_MAX_CHARS:
        return f"the label has {len(text)} characters (at most {LABEL_MAX_CHARS})"
    for char in text:
        if char == " " or char in LABEL_PUNCTUATION or unicodedata.category(char)[0] in "LMN":
            continue
        why = {"$": " (it would switch figure text to math mode)", "\\": " (an escape character in the report)",
               "\n": " (a label is one line)"}.get(char, "")
        name = unicodedata.name(char, "a control character")
        return f"the character {repr(char)} (U+{ord(char):04X}, {name}) is not allowed{why}"
    return None


#: Variables the harmonise stage derives for every cohort (not mapped per cohort).
DERIVED_VARIABLES = {
    "ses_index": "Composite SES index (mean of within-cohort z-scores; higher = higher SES)",
    "education_group": "Education, Eurostat grouping (low ISCED 0-2, medium 3-4, high 5-8)",
    "income_equivalised": "Equivalised household income (OECD-modified scale), EUR/month",
    "income_equivalised_ln": "ln equivalised household income",
    "income_ridit": "Equivalised household income, within-cohort ridit score (0-1)",
    "income_quintile": "Equivalised household income, within-cohort quintile (1 = lowest)",
    "material_deprivation": "Material and social deprivation (>= 5 of 13 EU-SILC items)",
    "severe_material_deprivation": "Severe material and social deprivation (>= 7 of 13 items)",
}

DERIVED_SHORT = {
    "ses_index": ("SES index", "index unit"),
    "education_group": ("Education group", ""),
    "income_equivalised": ("Equivalised income", "EUR/month"),
    "income_equivalised_ln": ("ln equivalised income", "ln EUR/month"),
    "income_ridit": ("Income ridit", "ridit"),
}
_MARKERS = {"il6": ("IL-6", "ln pg/mL"), "crp": ("CRP", "ln mg/L"), "il1b": ("IL-1β", "ln pg/mL"),
            "nk_activity": ("NK-cell activity", "ln % lysis")}
_METABOLITES = {"methylhistidine_1": "1-Methylhistidine", "alpha_glucose": "α-Glucose"}

#: Birth outcomes: defined for births, so analysed (and described in Table 1) only for
#: participants with a gestational age at or above the config's ``analysis_population``.
BIRTH_OUTCOMES = ("gestational_age", "preterm", "birth_weight", "birth_weight_z", "sga", "lga", "apgar_5min",
                  "low_apgar")

#: A prepared biomarker that is detected (1) / not detected (0): a marker or metabolite with
#: more than ``lod_max_pct`` % of its values below the LOD.
DETECTED_PATTERN = re.compile(r"[a-z]\w*_detected")


def model_family(variable: str, data_schema: dict) -> str:
    """The GLM family of a model of ``variable``: ``binomial`` (logistic) for a binary
    harmonised variable or a detected/not-detected biomarker, ``gaussian`` otherwise."""
    if data_schema.get(variable, {}).get("type") == "binary" or DETECTED_PATTERN.fullmatch(variable):
        return "binomial"
    return "gaussian"


def measure_biomarkers(measures: dict) -> dict[str, tuple[str, str]]:
    """Biomarkers of declared measures (``preparation.cns.measures``): name -> (label, unit).

    Per measure ``{measure}`` in its declared unit (``{measure}_ln``, ln of that unit, with
    ``log: true``), then ``{measure}_z``, the within-cohort z-score of that value.
    """
    out = {}
    for measure, spec in measures.items():
        unit = f"ln {spec['unit']}" if spec.get("log") else spec["unit"]
        out[f"{measure}_ln" if spec.get("log") else measure] = (spec["label"], unit)
        out[f"{measure}_z"] = (spec["label"], f"SD of {unit}")
    return out


#: Scores of the child follow-up (first1000.mechanisms.growth): name -> (label, unit).
FOLLOWUP_SCORES = {
    "waz": ("Weight-for-age z", "SD"),
    "laz": ("Length/height-for-age z", "SD"),
    "wlz": ("Weight-for-length/height z", "SD"),
    "bmiz": ("BMI-for-age z", "SD"),
    "hcz": ("Head circumference-for-age z", "SD"),
    "asq_communication": ("ASQ-3 communication", "points"),
    "asq_gross_motor": ("ASQ-3 gross motor", "points"),
    "asq_fine_motor": ("ASQ-3 fine motor", "points"),
    "asq_problem_solving": ("ASQ-3 problem solving", "points"),
    "asq_personal_social": ("ASQ-3 personal-social", "points"),
    "bayley_cognitive": ("Bayley-III cognitive", "points"),
    "bayley_language": ("Bayley-III language", "points"),
    "bayley_motor": ("Bayley-III motor", "points"),
}
_FOLLOWUP_PATTERN = re.compile(rf"({'|'.join(FOLLOWUP_SCORES)})_([a-z0-9]+)")
#: ``asq_{domain}_below_cutoff_{visit}``: the children below the ASQ-3 cut-off at a visit
#: (a row of the growth mechanism's QC table; first1000.scoring.asq).
_ASQ_BELOW_PATTERN = re.compile(rf"({'|'.join(s for s in FOLLOWUP_SCORES if s.startswith('asq_'))})"
                                r"_below_cutoff_([a-z0-9]+)")


def _visit_text(visit: str) -> str:
    return f"{visit[:-1]} months" if re.fullmatch(r"\d+m", visit) else visit


def followup_label(name: str) -> tuple[str, str] | None:
    """(label, unit) of a follow-up biomarker ``{score}_{visit}`` (e.g. ``wlz_12m``:
    Weight-for-length/height z, 12 months), of ``asq_{domain}_below_cutoff_{visit}`` (ASQ-3
    communication below the cut-off, 12 months; points), or None."""
    if name in FOLLOWUP_SCORES:  # the score itself, over all visits (longitudinal models)
        return FOLLOWUP_SCORES[name]
    if m := _ASQ_BELOW_PATTERN.fullmatch(name):
        label, unit = FOLLOWUP_SCORES[m.group(1)]
        return f"{label} below the cut-off, {_visit_text(m.group(2))}", unit
    m = _FOLLOWUP_PATTERN.fullmatch(name)
    if not m:
        return None
    label, unit = FOLLOWUP_SCORES[m.group(1)]
    return f"{label}, {_visit_text(m.group(2))}", unit


def biomarker_label(name: str, declared: dict | None = None) -> tuple[str, str] | None:
    """(label, unit) of a prepared biomarker, from ``declared`` (name -> (label, unit), the
    biomarkers of the config's declared measures) or its name; None if not a biomarker name."""
    if declared and name in declared:
        return tuple(declared[name])
    if found := followup_label(name):
        return found
    if name == "hair_cortisol_ln":  # every window (the longitudinal models)
        return "Hair cortisol", "ln pg/mg"
    if m := re.fullmatch(r"hair_cortisol_(\w+)_ln", name):
        return f"Hair cortisol, {m.group(1).upper()}", "ln pg/mg"
    if name == "telomere_ts_ln":
        return "Telomere length", "ln T/S"
    if name == "telomere_ts_z":
        return "Telomere length", "SD of ln T/S"
    if name == "mtdna_content_ln":
        return "mtDNA content", "ln mt/n"
    if name == "mtdna_content_z":
        return "mtDNA content", "SD of ln mt/n"
    if m := re.fullmatch(r"epigenetic_(ga|age)_(acceleration|weeks|years)", name):
        what = "Epigenetic gestational age" if m.group(1) == "ga" else "Epigenetic age"
        unit = "weeks" if m.group(1) == "ga" else "years"
        return (f"{what} acceleration" if m.group(2) == "acceleration" else what), unit
    if name == "shannon":
        return "Shannon diversity", "index"
    if m := re.fullmatch(r"(\w+)_clr", name):
        return m.group(1).replace("_", " ").capitalize(), "CLR"
    if m := re.fullmatch(r"(\w+)_detected", name):
        stem = m.group(1)
        shown = _MARKERS[stem][0] if stem in _MARKERS else _METABOLITES.get(stem, stem.replace("_", " ").capitalize())
        return f"{shown} detected", "0/1"
    if m := re.fullmatch(r"(cg\d+)_m", name):
        return m.group(1), "M-value"
    if name == "lactate_pyruvate_ln_ratio":
        return "Lactate/pyruvate", "ln ratio"
    if name == "cd4_cd8_ln_ratio":
        return "CD4/CD8", "ln ratio"
    if m := re.fullmatch(r"(\w+)_ln", name):
        key = m.group(1)
        if key in _MARKERS:
            return _MARKERS[key]
        return _METABOLITES.get(key, key.replace("_", " ").capitalize()), "ln µmol/L"
    return None


def label_and_unit(name: str, data_schema: dict, declared: dict | None = None) -> tuple[str, str]:
    if name in data_schema:
        spec = data_schema[name]
        unit = spec.get("unit", "")
        return spec.get("label", name), ("0/1" if spec.get("type") == "binary" and not unit else unit)
    if name in DERIVED_SHORT:
        return DERIVED_SHORT[name]
    found = biomarker_label(name, declared)
    return found if found else (DERIVED_VARIABLES.get(name, name), "")


def variables(names, data_schema: dict, declared: dict | None = None) -> dict[str, dict]:
    """The entries of ``names`` as a job needs them: the data-schema entry of a harmonised
    variable (type, label, unit, range), ``{label, unit}`` of any other name (derived
    variables, biomarkers). Labelling, units and model families computed from this slice
    are those of the whole vocabulary for these names."""
    out = {}
    for name in dict.fromkeys(names):
        if name in data_schema:
            out[name] = data_schema[name]
        else:
            label, unit = label_and_unit(name, data_schema, declared)
            out[name] = {"label": label, "unit": unit}
    return out


def figure_labels(names, data_schema: dict, declared: dict | None = None) -> dict[str, str]:
    """name -> 'Label (unit)' for figure text."""
    out = {}
    for name in names:
        label, unit = label_and_unit(name, data_schema, declared)
        # Scale scores carry their range in the label; "(point)" or "(0/1)" adds nothing.
        out[name] = f"{label} ({unit})" if unit and unit not in ("point", "0/1") else label
    return out


def effect_unit(response: str, predictor: str, family: str, data_schema: dict) -> str:
    """The unit of a regression coefficient, e.g. 'ln pg/mg per SD units of SES index'."""
    p_label, p_unit = label_and_unit(predictor, data_schema)
    per = f"per {p_unit}" if p_unit and p_unit not in ("0/1",) else "per unit"
    if family == "binomial":
        return f"log odds {per} ({p_label})"
    _, r_unit = label_and_unit(response, data_schema)
    return f"{r_unit or 'units'} {per} ({p_label})"


def report_category(position: int, label: str, count: int = 1) -> str:
    """The report section of a mechanism: its position in the config (the article's order)
    and its label, as ``2.<position> <label>``, reduced to letters, digits, spaces and
    ``( ) - , . /`` (the name is also a reStructuredText link target in every caption,
    where a colon or a backquote would break it). The position has as many digits as the
    ``count`` of mechanisms (``2.01`` … ``2.10``): the report sorts its sections as text, and
    "2.10 Child growth" came second, before "2.2"."""
    kept = "".join(c if c.isalnum() or c in " ()-,./" else " " for c in label)
    return f"2.{position:0{len(str(max(count, 1)))}d} " + " ".join(kept.split())
