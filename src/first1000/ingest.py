"""Ingest: read each cohort table, check it, pseudonymise IDs, standardise.

Each table is read as text, checked against its schema (required columns, types,
ranges, unique IDs, IDs that match a participant) and turned into first1000's standard
layout. Participant IDs are replaced by a keyed hash (:func:`first1000.privacy.pseudonymise`)
whose key lives outside ``results/``; the cohort's own IDs never leave memory.

Problems raise :class:`~first1000.errors.InputTableError` naming the file, the column,
the rows (as a spreadsheet numbers them: header = row 1) and what was expected. No
message ever contains an ID or a value from a row.
"""

from __future__ import annotations

import contextlib
import codecs
import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from first1000.config import load_schema
from first1000.errors import ConfigError, InputTableError, format_rows
from first1000.io import (_BOMS, TABLE_FORMATS, _clean_name, _frame, atomic_path, column_letter, table_format,
                          text_encoding)
from first1000.io.input_tables import Table, _fold, _unzero, normalise_ids, open_table, parse_dates
from first1000.scoring.growth import DAYS_PER_MONTH, corrected_age_days, who_zscores
from first1000.scoring.growth import INDICATORS as GROWTH_INDICATORS
from first1000.units import conversion

#: Standard tables a cohort can provide, and the schema each is checked against.
TABLE_KINDS = {
    "hair_cortisol": "tables/hair_cortisol.schema.yaml",
    "telomere_qpcr": "tables/telomere_qpcr.schema.yaml",
    "mtdna_qpcr": "tables/mtdna_qpcr.schema.yaml",
    "methylation_candidates": "tables/methylation_candidates.schema.yaml",
    "methylation_matrix": "tables/methylation_matrix.schema.yaml",
    "metabolites": "tables/metabolites.schema.yaml",
    "immune": "tables/immune.schema.yaml",
    "microbiome_counts": "tables/microbiome_counts.schema.yaml",
    "cns_measures": "tables/cns_measures.schema.yaml",
    "child_followup": "tables/child_followup.schema.yaml",
}
#: Unit of the standard metabolite table (a declared `unit` is converted to it).
METABOLITE_UNIT = "umol/L"


# --------------------------------------------------------------------------- biomarker tables
def _standard_columns(kind: str, spec: dict, table: Table, id_column: str | None) -> dict[str, str]:
    """Standard column -> file column for a table kind."""
    schema = load_schema(TABLE_KINDS[kind])
    declared = dict(spec.get("columns", {}))
    if id_column:
        declared["participant_id"] = id_column
    required = {c: declared.get(c, c) for c in schema.get("required", [])}
    table.require(required, kind)
    if "additionalProperties" in schema and not spec.get("columns", {}).keys() - {"cpg"}:
        # Wide table without a declared column list: every other column is a measure.
        used = set(required.values())
        for col in table.data.columns:
            if col not in used:
                ident = _identifier(col)
                if ident in declared and declared[ident] != col:
                    raise InputTableError(
                        f"{table.where}, row 1: columns '{declared[ident]}' and '{col}' both become the measure "
                        f"`{ident}`. Rename one of them, or list the measures under `columns` in the mapping file.")
                declared[ident] = col
    else:
        for std, col in declared.items():
            table.require({std: col}, kind)
    declared.update(required)
    bad_names = [s for s in declared if not re.fullmatch(r"[a-z][a-z0-9_]*", s)]
    if bad_names:
        raise ConfigError(f"{spec['path']}: standard column name `{bad_names[0]}` must be lowercase letters, "
                          "digits and underscores; declare `columns:` in the mapping file.")
    return declared


def _identifier(name: str) -> str:
    ident = re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")
    return ident if re.match(r"[a-z]", ident) else f"x_{ident}"


def _property(schema: dict, column: str) -> dict:
    return schema.get("properties", {}).get(column) or schema.get("additionalProperties") or {}


def ingest_wide(kind, spec, missing_codes, id_map) -> pd.DataFrame:
    """One row per participant, one column per measure -> long table with below-limit flags."""
    table = open_table(spec, missing_codes)
    columns = _standard_columns(kind, spec, table, spec["id"])
    ids = table.ids(spec["id"], unique=True)
    pseudo = _match_ids(table, spec["id"], ids, id_map)
    schema = load_schema(TABLE_KINDS[kind])
    if len(columns) <= 1:
        raise InputTableError(f"{table.where}: no {kind} columns besides the ID column '{spec['id']}'. The table "
                              f"needs one column per measure (list them under `columns` in the mapping file).")
    long = []
    below_codes = spec.get("below_limit", ["<LOD", "<LOQ"])
    for std, col in columns.items():
        if std == "participant_id":
            continue
        prop = _property(schema, std)
        values, below = table.numeric(col, below_codes=below_codes if prop.get("x-below-limit") else ())
        if kind == "metabolites" and spec.get("unit", METABOLITE_UNIT) != METABOLITE_UNIT:
            values = conversion(spec["unit"], METABOLITE_UNIT, where=f"{table.where}: `unit`")(values)
        table.check_range(col, values, prop)
        if kind == "microbiome_counts" and np.isnan(values).any():
            raise table.fail(col, np.isnan(values), "missing count (rule: microbiome counts)",
                             "Abundance tables need a number in every cell (0 for a taxon not seen).")
        if kind == "cns_measures":
            _check_declared_measure(table, col, std, values, spec)
        long.append(pd.DataFrame({"pseudo_id": pseudo.to_numpy(), "marker": std, "value": values,
                                  "below_limit": below}))
    return pd.concat(long, ignore_index=True)


def _check_declared_measure(table: Table, column: str, measure: str, values: np.ndarray, spec: dict) -> None:
    """A CNS measure against its declaration (``preparation.cns.measures``, attached to the
    table's spec as ``_measures`` by :func:`first1000.config.attach_cns_measures`): the
    plausibility limits ``min``/``max`` and, for ``log: true``, values above 0."""
    declared = spec.get("_measures", {})
    key = f"preparation.cns.measures.{measure}"
    if measure not in declared:
        raise ConfigError(f"{table.where}: the CNS measure `{measure}` is not declared in the config. Declare it "
                          f"as `{key}` with its `label` and `unit`, or remove it from the mapping file.")
    rule = declared[measure]
    unit = f" {rule['unit']}" if rule.get("unit") else ""
    lo, hi = rule.get("min"), rule.get("max")
    with np.errstate(invalid="ignore"):
        outside = np.zeros(len(values), bool)
        if lo is not None:
            outside |= values < lo
        if hi is not None:
            outside |= values > hi
        not_positive = values <= 0 if rule.get("log") else np.zeros(len(values), bool)
    if outside.any():
        bounds = " and ".join(f"{sign} {limit:g}{unit}" for sign, limit in ((">=", lo), ("<=", hi))
                              if limit is not None)
        raise table.fail(column, outside, f"value out of range for the measure `{measure}`: expected {bounds} "
                         f"(rule: `{key}` min/max in the config)",
                         f"Check the values in these rows and that the column is in{unit or ' the declared unit'}; "
                         "widen `min`/`max` only if such values are plausible.")
    if not_positive.any():
        raise table.fail(column, not_positive, f"value not above 0 for the measure `{measure}`, which is analysed "
                         f"on the log scale (rule: `{key}.log: true` in the config)",
                         "The natural log needs positive values: fix these rows, or set `log: false` for this "
                         "measure.")


def ingest_candidates(spec, missing_codes, id_map) -> pd.DataFrame:
    """Candidate CpGs: one row per participant, one column per CpG (beta in [0, 1])."""
    table = open_table(spec, missing_codes)
    ids = table.ids(spec["id"], unique=True)
    pseudo = _match_ids(table, spec["id"], ids, id_map)
    out = {"pseudo_id": pseudo.to_numpy()}
    prop = load_schema(TABLE_KINDS["methylation_candidates"])["additionalProperties"]
    sources = {}
    for col in table.data.columns:
        if col == spec["id"]:
            continue
        ident = _identifier(col)
        if ident in sources:
            raise InputTableError(
                f"{table.where}, row 1: columns '{sources[ident]}' and '{col}' both become the CpG `{ident}` "
                "(names are compared in lower case, other characters as '_'). Rename or delete one of them.")
        sources[ident] = col
        values, _ = table.numeric(col)
        table.check_range(col, values, prop, " for a beta value")
        out[ident] = values
    if not sources:
        raise InputTableError(f"{table.where}: no CpG columns besides the ID column '{spec['id']}'. The table needs "
                              "one column of beta values per CpG.")
    return pd.DataFrame(out)


#: Hair cut dates (``sampling_date``) allowed around the participant's delivery date:
#: at most 43 weeks before (conception) and 2 calendar years after it.
HAIR_CUT_BEFORE_DELIVERY_WEEKS = 43
HAIR_CUT_AFTER_DELIVERY_YEARS = 2


def ingest_hair(spec, missing_codes, id_map, participants: pd.DataFrame | None = None) -> pd.DataFrame:
    """Hair segments: one row per participant and segment (cm from the scalp), cortisol in
    pg/mg with below-LOQ flags, and, when the mapping declares ``columns: {sampling_date:
    ...}``, the date the hair was cut (``date_format`` for text dates), checked against the
    participant's harmonised ``delivery_date`` when ``participants`` are given."""
    table = open_table(spec, missing_codes)
    columns = _standard_columns("hair_cortisol", spec, table, spec["id"])
    ids = table.ids(spec["id"], unique=False)
    pseudo = _match_ids(table, spec["id"], ids, id_map)
    schema = load_schema(TABLE_KINDS["hair_cortisol"])
    out = {"pseudo_id": pseudo.to_numpy()}
    for std in ("segment_start_cm", "segment_end_cm", "cortisol"):
        prop = _property(schema, std)
        codes = spec.get("below_limit", ["<LOD", "<LOQ"]) if prop.get("x-below-limit") else ()
        values, below = table.numeric(columns[std], below_codes=codes)
        table.check_range(columns[std], values, prop)
        out[std] = values
        if std == "cortisol":
            out["below_limit"] = below
    frame = pd.DataFrame(out)
    if "hair_length_cm" in columns:  # per-sample hair length
        length, _ = table.numeric(columns["hair_length_cm"])
        table.check_range(columns["hair_length_cm"], length, _property(schema, "hair_length_cm"))
        limit, source = length, f"the hair length in column '{columns['hair_length_cm']}'"
    elif "max_length_cm" in spec:
        limit, source = np.full(len(frame), float(spec["max_length_cm"])), f"`max_length_cm: {spec['max_length_cm']:g}`"
    else:
        limit = None
    if limit is not None:
        with np.errstate(invalid="ignore"):
            beyond = (frame.segment_end_cm.to_numpy(float) > limit)
        if beyond.any():
            raise table.fail(columns["segment_end_cm"], beyond, f"segment ends beyond the hair sample ({source}; "
                             "rule: segment within hair length)", "Check the segment bounds (cm from the scalp) "
                             "and the declared hair length.")
    inverted = (frame.segment_end_cm <= frame.segment_start_cm).to_numpy()
    if inverted.any():
        raise table.fail(columns["segment_end_cm"], inverted, "segment end is not beyond its start",
                         "Each segment runs from its start to its end in cm from the scalp.")
    order = frame.sort_values(["pseudo_id", "segment_start_cm", "segment_end_cm"], kind="stable")
    same = order.pseudo_id.eq(order.pseudo_id.shift()).to_numpy()
    overlap_next = same & (order.segment_start_cm.to_numpy() < order.segment_end_cm.shift().to_numpy())
    if overlap_next.any():
        positions = order.index.to_numpy()
        mask = np.zeros(len(frame), bool)
        mask[positions[overlap_next]] = True
        mask[positions[np.flatnonzero(overlap_next) - 1]] = True
        raise table.fail(columns["segment_start_cm"], mask, "hair segments of the same participant overlap "
                         "(or repeat)", "Each cm of hair belongs to one segment: fix the segment bounds or "
                         "remove the repeated rows.")
    if "sampling_date" in columns:
        frame["sampling_date"] = _hair_sampling_dates(table, columns["sampling_date"], spec, frame, participants)
    if spec.get("unit", "pg/mg") != "pg/mg":
        frame["cortisol"] = conversion(spec["unit"], "pg/mg", where=f"{table.where}: `unit`")(frame["cortisol"])
    return frame


def _hair_sampling_dates(table: Table, column: str, spec: dict, frame: pd.DataFrame,
                         participants: pd.DataFrame | None) -> np.ndarray:
    """The hair cut dates (as :func:`first1000.io.input_tables.parse_dates` reads dates), checked
    against each participant's delivery date: at most 43 weeks before, 2 years after."""
    fmt = spec.get("date_format")
    missing = table.missing_mask(column)
    native = np.asarray(table.native_dates.get(column, np.zeros(len(missing), bool)), dtype=bool)
    if fmt is None and (~missing & ~native).any():
        raise ConfigError(f"{table.where}, column '{column}': the hair sampling dates are text; declare their "
                          "format as `date_format` (e.g. \"%d/%m/%Y\" or \"%Y-%m-%d\") under "
                          "`tables.hair_cortisol` in the cohort's mapping file.")
    try:
        dates, bad = parse_dates(table, column, fmt, missing)
    except (ValueError, TypeError):
        raise ConfigError(f"{table.where}: `date_format: {fmt}` of the hair_cortisol table is not a date format "
                          "first1000 can use; write it with strftime codes such as \"%d/%m/%Y\" or "
                          "\"%Y-%m-%d\".") from None
    if bad.any():
        raise table.fail(column, bad, f"expected a date in the format {fmt}",
                         "Fix these cells (or code them as missing) or declare the format the file uses as "
                         "`date_format`.")
    if participants is not None and "delivery_date" in participants:
        delivery = frame.pseudo_id.map(participants.drop_duplicates("pseudo_id").set_index("pseudo_id")
                                       ["delivery_date"])
        cut, delivery = pd.to_datetime(dates).reset_index(drop=True), pd.to_datetime(delivery)
        early = (cut < delivery - pd.Timedelta(days=HAIR_CUT_BEFORE_DELIVERY_WEEKS * 7)).to_numpy(bool)
        late = (cut > delivery + pd.DateOffset(years=HAIR_CUT_AFTER_DELIVERY_YEARS)).to_numpy(bool)
        if early.any():
            raise table.fail(column, early, "hair sampling date more than 43 weeks before the participant's "
                             "delivery date (rule: hair cut between conception and 2 years after delivery)",
                             "Check these dates, the declared `date_format` (day and month swapped?) and the "
                             "delivery dates.")
        if late.any():
            raise table.fail(column, late, "hair sampling date more than 2 years after the participant's "
                             "delivery date (rule: hair cut between conception and 2 years after delivery)",
                             "Check these dates, the declared `date_format` (day and month swapped?) and the "
                             "delivery dates.")
    return pd.to_datetime(dates).to_numpy()


#: Numeric measures of the child follow-up table besides the age (standard name -> label).
FOLLOWUP_MEASURES = ("weight_kg", "length_cm", "head_circumference_cm", "asq_communication", "asq_gross_motor",
                     "asq_fine_motor", "asq_problem_solving", "asq_personal_social", "bayley_cognitive",
                     "bayley_language", "bayley_motor")
#: WHO z-score -> (the measure column it rests on, what it is)
FOLLOWUP_ZSCORES = {"waz": ("weight_kg", "weight-for-age"), "laz": ("length_cm", "length/height-for-age"),
                    "wlz": ("weight_kg", "weight-for-length/height"), "bmiz": ("weight_kg", "BMI-for-age"),
                    "hcz": ("head_circumference_cm", "head circumference-for-age")}


def ingest_followup(spec, missing_codes, id_map, participants: pd.DataFrame | None = None) -> pd.DataFrame:
    """Child follow-up to age 2: one row per child and visit (age in days or months),
    anthropometry with WHO 2006 z-scores (:mod:`first1000.scoring.growth`; sex and
    gestational age from the participant's harmonised ``child_sex`` and
    ``gestational_age``; age corrected for prematurity unless ``corrected_age: false``)
    and neurodevelopment scores. An age outside 0-24 months, the same child twice at the
    same age (in whole days) and a z-score WHO flags as implausible are errors naming the
    rows."""
    table = open_table(spec, missing_codes)
    columns = _standard_columns("child_followup", spec, table, spec["id"])
    schema = load_schema(TABLE_KINDS["child_followup"])
    ages = [c for c in ("age_days", "age_months") if c in columns]
    if len(ages) != 1:
        raise ConfigError(f"{table.where}: declare the age at the visit as exactly one of `columns: {{age_days: "
                          "...}}` or `columns: {age_months: ...}` under `tables.child_followup` in the cohort's "
                          "mapping file." + (" Both are declared." if ages else ""))
    ids = table.ids(spec["id"], unique=False)
    pseudo = _match_ids(table, spec["id"], ids, id_map)
    age_col = columns[ages[0]]
    age, _ = table.numeric(age_col)
    if np.isnan(age).any():
        raise table.fail(age_col, np.isnan(age), "missing age at the visit",
                         "Every follow-up row needs the child's age; remove rows without one.")
    prop = _property(schema, ages[0])
    with np.errstate(invalid="ignore"):
        outside = (age < prop["minimum"]) | (age > prop["maximum"])
    if outside.any():
        unit = "days" if ages[0] == "age_days" else "months"
        raise table.fail(age_col, outside, f"age outside 0-24 months (expected {prop['minimum']:g} to "
                         f"{prop['maximum']:g} {unit}; rule: follow-up from birth to age 2)",
                         f"Check that the column is in {unit}; visits after age 2 are outside first1000's "
                         "follow-up: remove these rows.")
    age_days = age if ages[0] == "age_days" else age * DAYS_PER_MONTH
    frame = pd.DataFrame({"pseudo_id": pseudo.to_numpy(), "age_days": age_days})
    day = np.floor(age_days + 0.5)
    repeated = pd.DataFrame({"p": frame.pseudo_id, "d": day}).duplicated(keep=False).to_numpy()
    if repeated.any():
        raise table.fail(age_col, repeated, "the same child twice at the same age (in whole days)",
                         "Keep one row per child and visit: merge or remove the repeated rows.")
    for std in FOLLOWUP_MEASURES:
        if std in columns:
            values, _ = table.numeric(columns[std])
            table.check_range(columns[std], values, _property(schema, std))
            frame[std] = values
    measure = None
    if "measure" in columns:
        raw = table.data[columns["measure"]].astype("string").str.strip().str.lower()
        raw = raw.where(~(raw.isin([str(c).lower() for c in table.missing_codes]) | (raw == "")), pd.NA)
        raw = raw.replace({"length": "l", "height": "h", "recumbent": "l", "standing": "h"})
        bad = (raw.notna() & ~raw.isin(["l", "h"])).to_numpy(dtype=bool)
        if bad.any():
            raise table.fail(columns["measure"], bad, "expected `l` (recumbent length) or `h` (standing height)",
                             "Code how each length was measured as l or h (or leave it empty).")
        measure = raw.to_numpy(dtype=object, na_value=None)
    anthropometry = [c for c in ("weight_kg", "length_cm", "head_circumference_cm") if c in frame]
    if anthropometry:
        frame = _growth_zscores(table, columns, frame, measure, participants, spec)
    return frame


def _growth_zscores(table, columns, frame, measure, participants, spec):
    """WHO z-scores of the follow-up's anthropometry, with WHO's implausibility flags as errors."""
    need = [v for v in ("child_sex", "gestational_age") if participants is None or v not in participants]
    if "child_sex" in need:
        raise ConfigError(f"{table.where}: WHO growth z-scores need each child's sex; map the harmonised variable "
                          "`child_sex` in the cohort's mapping file.")
    people = participants.drop_duplicates("pseudo_id").set_index("pseudo_id")
    sex = frame.pseudo_id.map(people["child_sex"])
    age = frame.age_days.to_numpy(float)
    if spec.get("corrected_age", True) and "gestational_age" in people:
        ga = pd.to_numeric(frame.pseudo_id.map(people["gestational_age"]), errors="coerce").to_numpy(float)
        age = corrected_age_days(age, ga)
    frame["age_corrected_days"] = age
    z = who_zscores(sex.to_numpy(dtype=object), age, weight_kg=frame.get("weight_kg"),
                    length_cm=frame.get("length_cm"), head_cm=frame.get("head_circumference_cm"), measure=measure)
    for name, (source, what) in FOLLOWUP_ZSCORES.items():
        if source not in frame:
            continue
        if name in ("laz", "wlz", "bmiz") and "length_cm" not in frame:
            continue
        if name in ("wlz", "bmiz") and "weight_kg" not in frame:
            continue
        flagged = z[f"{name}_flag"].fillna(False).to_numpy(dtype=bool)
        if flagged.any():
            lo, hi = GROWTH_INDICATORS[name][2]
            column = columns["length_cm"] if name == "laz" else columns[source]
            raise table.fail(column, flagged, f"WHO {what} z-score outside {lo:g} to {hi:g} (rule: WHO flag of a "
                             "biologically implausible value)",
                             "Check the unit (kg, cm), the age at the visit, the child's sex and the length/height "
                             "measure in these rows; correct or remove them.")
        frame[name] = z[name].to_numpy()
    return frame


#: qPCR table kind -> its two target roles (assay target, reference) and their names in messages.
QPCR_TARGETS = {
    "telomere_qpcr": (("telomere", "the telomere"), ("single_copy", "the single-copy gene")),
    "mtdna_qpcr": (("mt", "the mitochondrial target"), ("nuclear", "the nuclear reference gene")),
}


def ingest_qpcr(spec, missing_codes, id_map, kind: str = "telomere_qpcr") -> pd.DataFrame:
    """qPCR wells (telomere T/S or mtDNA mt/n): one row per well, targets as their roles."""
    table = open_table(spec, missing_codes)
    columns = _standard_columns(kind, spec, table, None)
    plate = table.data[columns["plate"]].astype("string").str.strip()
    no_plate = (plate.isna() | (plate == "") | plate.isin(table.missing_codes)).to_numpy(dtype=bool)
    if no_plate.any():
        raise table.fail(columns["plate"], no_plate, "empty plate name", "Every well needs its plate.")
    sample = table.ids(columns["sample"], unique=False, what="sample name")
    target = table.data[columns["target"]].astype("string").str.strip()
    (role_t, label_t), (role_s, label_s) = QPCR_TARGETS[kind]
    names = {role_t: spec["targets"][role_t], role_s: spec["targets"][role_s]}
    targets = {names[role_t]: role_t, names[role_s]: role_s}
    unknown = ~target.isin(list(targets)).fillna(False).to_numpy(dtype=bool)
    if unknown.any():
        folded = {str(t).casefold() for t in targets}
        case = target[unknown].str.casefold().isin(folded).fillna(False).all()
        hint = " They differ from the declared names only by letter case." if case else ""
        raise table.fail(columns["target"], unknown,
                         f"target is neither {label_t} ({names[role_t]}) nor {label_s} ({names[role_s]}) "
                         "declared in the mapping",
                         f"Fix `targets` in the mapping file or the target names in these rows.{hint}")
    calibrator = (sample == str(spec["calibrator"]).strip()).to_numpy(dtype=bool)
    ct, _ = table.numeric(columns["ct"])
    table.check_range(columns["ct"], ct, _property(load_schema(TABLE_KINDS[kind]), "ct"))
    plates_without = sorted(set(plate) - set(plate[calibrator]))
    if plates_without:
        mask = plate.isin(plates_without).to_numpy(dtype=bool)
        raise table.fail(columns["plate"], mask, f"{len(plates_without)} plate(s) have no calibrator "
                         f"('{spec['calibrator']}')", "Every plate needs the inter-run calibrator.")
    kinds = target.map(targets)
    for role in (role_t, role_s):
        with_target = set(plate[calibrator & (kinds == role).to_numpy(dtype=bool)])
        lacking = sorted(set(plate) - with_target)
        if lacking:
            mask = plate.isin(lacking).to_numpy(dtype=bool)
            raise table.fail(columns["plate"], mask, f"{len(lacking)} plate(s) have no calibrator "
                             f"('{spec['calibrator']}') well of the target {names[role]}",
                             "The calibrator needs wells of both targets on every plate.")
    pseudo = pd.Series("calibrator", index=sample.index, dtype=object)
    if (~calibrator).any():
        matched = _match_ids(table, columns["sample"], sample[~calibrator], id_map, mask=~calibrator)
        pseudo[~calibrator] = matched.to_numpy()
    return pd.DataFrame({"plate": plate.to_numpy(dtype=object), "pseudo_id": pseudo.to_numpy(),
                         "is_calibrator": calibrator, "target": kinds.to_numpy(dtype=object),
                         "ct": ct})


def _matrix_samples(where: str, columns: list, cpg_col: str, id_map: dict, found: str,
                    leading_zeros: str = "keep"):
    """Check a matrix header: the CpG column and one column per known participant (sample
    IDs normalised as every table's IDs, :func:`first1000.io.input_tables.normalise_ids`).

    Returns (samples, their spreadsheet letters, normalised IDs, pseudonyms).
    """
    if cpg_col not in columns:
        raise InputTableError(f"{where}: missing column '{cpg_col}' (the CpG identifiers of the "
                              f"methylation_matrix table). {found} Rename the column in the file "
                              "or map it under `columns: {cpg: ...}` in the cohort's mapping file.")
    positions = {c: i for i, c in enumerate(columns)}
    samples = [c for c in columns if c != cpg_col]
    if not samples:
        raise InputTableError(f"{where}: no sample columns besides '{cpg_col}'. The matrix needs one column "
                              "of beta values per participant, named by the participant's ID.")
    letters = np.array([column_letter(positions[c]) for c in samples])
    ids = normalise_ids(pd.Series(samples, dtype=object), leading_zeros)
    pseudo = _lookup(ids, id_map, leading_zeros)
    unknown = pseudo.isna().to_numpy(dtype=bool)
    if unknown.all():
        raise InputTableError(f"{where}: none of the {len(samples)} sample columns matches a participant ID "
                              "of this cohort. The column headers must be the participants' IDs.")
    if unknown.any():
        n_unknown = int(unknown.sum())
        shown = ", ".join(letters[unknown][:10]) + (f" (and {n_unknown - 10} more)" if n_unknown > 10 else "")
        raise InputTableError(f"{where}, row 1: {n_unknown} sample column{'s' if n_unknown > 1 else ''} "
                              f"(column{'s' if n_unknown > 1 else ''} {shown}) match{'' if n_unknown > 1 else 'es'} "
                              "no participant ID of this cohort. Remove them or add the participants."
                              + _id_hint(ids[unknown], id_map))
    repeated = pseudo.duplicated(keep=False).to_numpy(dtype=bool)
    if repeated.any():
        raise InputTableError(f"{where}, row 1: columns {', '.join(letters[repeated][:10])} are the same "
                              "participant (their IDs differ only by spaces, a trailing '.0', Unicode look-alikes "
                              "or leading zeros). Keep one column per participant.")
    return samples, letters, ids, list(pseudo)


class _SeenCpgs:
    """The CpG identifiers of a matrix's blocks and their rows, checked unique across blocks
    by :meth:`check` once every block is read: one hash pass (pandas) over all of them, not
    a Python lookup per CpG per block (the pre-flight check of 450,000 x 500: 1.23-1.27 ->
    1.07-1.19 s, #19). A block's own duplicates are found with the block
    (:func:`_check_cpgs`)."""

    def __init__(self):
        self._names: list = []
        self._rows: list = []

    def add(self, names: np.ndarray, rows: np.ndarray) -> None:
        self._names.append(names)
        self._rows.append(rows)

    def check(self, where: str, cpg_col: str) -> None:
        """Every CpG once across the blocks added; else one message naming all their rows."""
        if len(self._names) < 2:
            return
        dup = pd.Series(np.concatenate(self._names), dtype=object).duplicated(keep=False).to_numpy(dtype=bool)
        if dup.any():
            rows = np.sort(np.concatenate(self._rows)[dup])
            raise InputTableError(f"{where}, column '{cpg_col}', {format_rows(rows)}: duplicated CpG identifier. "
                                  "Each CpG must appear once.")


def _check_cpgs(where: str, cpg_col: str, cpg: pd.Series, row_list, seen: _SeenCpgs | None = None) -> None:
    """The CpG identifiers of a block of matrix rows: present and unique within the block
    (``seen``: the blocks of the matrix so far, checked across blocks at its end)."""
    no_cpg = (cpg.isna() | (cpg == "")).to_numpy(dtype=bool)
    if no_cpg.any():
        raise InputTableError(f"{where}, column '{cpg_col}', {format_rows(row_list(no_cpg))}: empty CpG identifier. "
                              "Every row needs its CpG.")
    dup = cpg.duplicated(keep=False).to_numpy(dtype=bool)
    if dup.any():
        raise InputTableError(f"{where}, column '{cpg_col}', {format_rows(row_list(dup))}: "
                              "duplicated CpG identifier. Each CpG must appear once.")
    if seen is not None:
        seen.add(cpg.to_numpy(dtype=object), np.asarray(row_list(np.ones(len(cpg), bool))))


def _check_matrix_block(where: str, cpg_col: str, cpg: pd.Series, values: np.ndarray, letters, row_list,
                        seen: _SeenCpgs | None = None, complete: bool = False) -> None:
    """Cell checks of a block of matrix rows; ``row_list(mask)`` gives the masked rows as a
    spreadsheet numbers them; ``seen``: the CpGs of the matrix's blocks (:class:`_SeenCpgs`);
    ``complete``: the caller knows no value is missing."""
    def rows(mask):
        return format_rows(row_list(mask))

    _check_cpgs(where, cpg_col, cpg, row_list, seen)
    # one pass for the range (NaN ignored), the cell mask only when a value is outside it
    in_range = values.size == 0 or (np.fmin.reduce(values, axis=None) >= 0 and np.fmax.reduce(values, axis=None) <= 1)
    with np.errstate(invalid="ignore"):
        outside = None if in_range else (values < 0) | (values > 1)
    if outside is not None and outside.any():
        cols = letters[outside.any(axis=0)]
        raise InputTableError(
            f"{where}, column{'s' if len(cols) > 1 else ''} {', '.join(cols[:10])}"
            f"{f' (and {len(cols) - 10} more)' if len(cols) > 10 else ''}, {rows(outside.any(axis=1))}: beta "
            "values outside [0, 1]. The matrix must hold beta values (M-values are computed by first1000).")
    empty_rows = None if complete else np.isnan(values).all(axis=1)
    if empty_rows is not None and empty_rows.any():
        raise InputTableError(f"{where}, column '{cpg_col}', {rows(empty_rows)}: CpGs without any value (every "
                              "sample is missing). Remove these rows from the matrix (or export the values).")


#: Matrix formats read batch by batch (an .xlsx matrix is read whole: a sheet holds at most
#: 16,384 columns and 1,048,576 rows, and openpyxl reads the whole workbook anyway).
STREAMED_MATRIX_FORMATS = ("csv", "tsv", "parquet")
#: CpG rows per batch of a streamed matrix.
MATRIX_BATCH_ROWS = 20000
#: Values per batch of a Parquet matrix's check (256 MB; fewer rows per batch for many samples).
MATRIX_BATCH_VALUES = 2**25
#: A Parquet matrix's pieces (row groups or batches) of at most this many values are read
#: one ahead of the check (at most two more pieces, 256 MB, in memory).
MATRIX_PREFETCH_VALUES = 2**24


def streams_matrix(spec: dict) -> bool:
    """True when the methylation matrix ``spec`` points to is checked and written batch by
    batch (:func:`stream_matrix`): CSV, TSV and Parquet files."""
    suffix = Path(spec["path"]).suffix.lower()
    return TABLE_FORMATS.get(suffix) in STREAMED_MATRIX_FORMATS


def ingest_matrix(spec, missing_codes, id_map) -> pd.DataFrame:
    """CpG x sample beta matrix, in memory; sample columns renamed to pseudonyms.

    The sample column names are participant IDs, so messages name those columns by
    their spreadsheet letter, never by name. CSV, TSV and Parquet matrices are read and
    checked batch by batch (:func:`matrix_batches`);
    :func:`stream_matrix` also writes them batch by batch.
    """
    if streams_matrix(spec):
        parts = []
        for cpg, values, pseudo in matrix_batches(spec, missing_codes, id_map):
            part = pd.DataFrame(values, columns=pseudo, copy=True)  # values: valid until the next batch
            part.insert(0, "cpg", cpg.astype(str).to_numpy())
            parts.append(part)
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    table = open_table(spec, missing_codes, ids_in_header=True)
    cpg_col = spec.get("columns", {}).get("cpg", "cpg")
    samples, letters, ids, pseudo = _matrix_samples(table.where, list(table.data.columns), cpg_col, id_map,
                                                    table.columns_found(), spec.get("id_leading_zeros", "keep"))
    cpg = table.data[cpg_col].astype("string").str.strip()
    values = _matrix_values(table, samples, letters)
    _check_matrix_block(str(table.where), cpg_col, cpg, values, letters, table.row_list)
    frame = pd.DataFrame(values, columns=pseudo)
    frame.insert(0, "cpg", cpg.astype(str).to_numpy())
    return frame


def _matrix_values(table: Table, samples: list, letters) -> np.ndarray:
    """The sample columns of a text block as numbers (missing codes -> NaN); text is an error
    (as :meth:`Table.numeric` reports it)."""
    values = np.empty((len(table.data), len(samples)), dtype=np.float64)
    numeric_codes = {c: pd.to_numeric(pd.Series(table.codes(c), dtype=object), errors="coerce").dropna().tolist()
                     for c in samples}
    for j, column in enumerate(samples):
        parsed = None
        if table.decimal == ".":  # fast path: numbers and missing codes only
            parsed = np.array(pd.to_numeric(table.data[column], errors="coerce"), dtype=np.float64)
            blank = np.isnan(parsed)
            if np.isinf(parsed).any() or (blank.any() and (blank & ~table.missing_mask(column)).any()):
                parsed = None
            elif numeric_codes[column]:
                parsed[np.isin(parsed, numeric_codes[column])] = np.nan
        if parsed is None:
            parsed, _, bad, problem, fix = table.parse_numbers(column)
            if bad.any():
                raise InputTableError(f"{table.where}, column {letters[j]}, {table.rows(bad)}: {problem}. {fix}")
        values[:, j] = parsed
    return values


def matrix_batches(spec, missing_codes, id_map, batch_rows: int = MATRIX_BATCH_ROWS, keep_values: bool = True):
    """Check a CSV, TSV or Parquet CpG x sample matrix batch by batch; yield
    ``(cpg, betas, pseudonyms)`` per batch (betas float64, n_rows x n_samples; with
    ``keep_values=False`` a Parquet matrix's batches may yield None for the betas: only checked).

    Memory is bounded by ``batch_rows`` x samples, not by the matrix. The header is checked
    first (:func:`_matrix_samples`: the CpG column, one column per known participant, sample
    IDs normalised as every table's IDs), then every batch: for text files the same layout
    and encoding checks as any table (:func:`first1000.io.read_raw_table`) and the same
    cell checks (missing codes, text in a number), for all formats betas in [0, 1], no CpG
    without values, CpG identifiers present and unique (within a batch with the batch;
    across batches once the last batch is read, so a caller must read every batch before
    it trusts the matrix, as :func:`stream_matrix` and :func:`ingest_matrix` do). Rows are
    named as a spreadsheet numbers them."""
    path = Path(spec["path"])
    fmt = table_format(path)
    if fmt == "parquet":
        yield from _parquet_matrix_batches(spec, id_map, batch_rows, keep_values)
    else:
        yield from _text_matrix_batches(spec, missing_codes, id_map, batch_rows, fmt)


def _open_parquet_matrix(spec, id_map):
    """A Parquet matrix opened and its header checked (one column per known participant):
    (path, pyarrow ParquetFile, CpG column, column names, sample columns, their letters,
    pseudonyms). A missing or unreadable file is an error naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(spec["path"])
    if not path.exists():
        raise InputTableError(f"{path}: file not found. Check the path in the config.")
    if not path.is_file():  # a folder, or a pipe or device that would block the reader
        raise InputTableError(f"{path}: not a regular file (a folder, device or pipe). Check the path in the "
                              "mapping file.")
    try:
        # pre_buffer=False: with it Arrow buffers far more than the batch being checked (#19)
        source = pq.ParquetFile(path, pre_buffer=False)
    except (OSError, pa.ArrowException) as exc:
        raise InputTableError(f"{path}: cannot be read as Parquet ({type(exc).__name__}).") from None
    cpg_col = spec.get("columns", {}).get("cpg", "cpg")
    columns = list(source.schema_arrow.names)
    samples, letters, _, pseudo = _matrix_samples(str(path), columns, cpg_col, id_map,
                                                  f"The file has {len(columns)} columns.",
                                                  spec.get("id_leading_zeros", "keep"))
    return path, source, cpg_col, columns, samples, letters, pseudo


def _row_batches(pieces, batch_rows: int):
    """Arrow record batches of at most ``batch_rows`` rows (views), in order, from (first
    row, table) pieces."""
    for _, table in pieces:
        yield from table.to_batches(max_chunksize=batch_rows)


#: 1.0's bits as an unsigned integer, by float type. Read as unsigned integers, the floats
#: whose bits are at most 1.0's are exactly the numbers in [0, 1] other than -0.0; NaN,
#: infinities, negative numbers and -0.0 read larger (a batch holding -0.0 takes the exact
#: checks, which accept it).
_ONE_BITS = {np.dtype(np.float64): np.float64(1.0).view(np.uint64),
             np.dtype(np.float32): np.float32(1.0).view(np.uint32)}


def _complete_betas(batch) -> bool:
    """True when every sample column of an Arrow record batch (the CpG column first) is a
    float column without nulls whose values are all in [0, 1] (so none is NaN either): one
    unsigned-integer maximum per column, on Arrow's own buffer (no copy). For 450,000 CpGs x
    500 samples ~0.15 s against ~0.6 s for copying the values and reducing them three times
    (#19). False sends the batch to the exact checks (which name the cells)."""
    import pyarrow as pa

    for j in range(1, batch.num_columns):
        column = batch.column(j)
        if column.null_count or not pa.types.is_floating(column.type):
            return False
        numbers = column.to_numpy()  # no nulls: a view of the buffer
        one = _ONE_BITS.get(numbers.dtype)
        if one is None or (numbers.size and numbers.view(one.dtype).max() > one):
            return False
    return True


def _parquet_matrix_batches(spec, id_map, batch_rows, keep_values: bool = True):
    import pyarrow as pa

    from first1000.io.methylation import arrow_values, cpg_ids, prefetch, row_pieces

    path, source, cpg_col, _, samples, letters, pseudo = _open_parquet_matrix(spec, id_map)
    seen = _SeenCpgs()
    n_rows = 0
    buffer = None
    # at most MATRIX_BATCH_VALUES values per batch: 20,000 CpGs of 36,000 samples are 5.8 GB
    batch_rows = max(1, min(batch_rows, MATRIX_BATCH_VALUES // max(len(samples), 1)))
    pieces = row_pieces(source, [cpg_col, *samples], batch_rows, path=path)
    meta = source.metadata
    piece_rows = max((r if r <= 2 * batch_rows else batch_rows
                      for r in (meta.row_group(i).num_rows for i in range(meta.num_row_groups))), default=0)
    if piece_rows * len(samples) <= MATRIX_PREFETCH_VALUES:
        # the next row group is read (Arrow, GIL released) while this one is checked: ~1 s
        # less for the pre-flight check of 450,000 x 500 (6.0 -> 5.0 s; two pieces more in memory)
        pieces = prefetch(pieces, name="matrix-check-reader")
    try:
        for batch in _row_batches(pieces, batch_rows):
            cpg = pd.Series(cpg_ids(batch.column(0)), dtype=object)
            first = n_rows + 2  # spreadsheet row of the batch's first CpG (header = row 1)
            if not keep_values and _complete_betas(batch):  # only checked: the values are not needed
                _check_cpgs(str(path), cpg_col, cpg, lambda mask, first=first: np.flatnonzero(mask) + first, seen)
                n_rows += batch.num_rows
                yield cpg, None, pseudo
                continue
            # filled sample by sample (each a contiguous row of ``buffer``), then used transposed:
            # writing columns of a row-major array was ~60% of the check's time (#19). One
            # buffer for every batch (faulting in fresh pages per batch took 0.7 s of 5 s for
            # 450,000 x 500): the values yielded are valid until the next batch.
            if buffer is None or buffer.shape[1] < batch.num_rows:
                buffer = np.empty((len(samples), batch.num_rows), dtype=np.float64)
            block = buffer[:, : batch.num_rows]
            for j in range(len(samples)):
                column = batch.column(j + 1)
                if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)
                        or pa.types.is_null(column.type)):
                    raise InputTableError(f"{path}, column {letters[j]}: expected numbers (beta values), found "
                                          f"a column of type {column.type}. Export the matrix with numeric columns.")
                block[j] = arrow_values(column)
            values = block.T
            # one summing pass (SIMD) tells whether a value is missing or infinite
            with np.errstate(over="ignore", invalid="ignore"):  # +inf and -inf, or huge values: the slow path
                complete = bool(np.isfinite(np.add.reduce(block, axis=None)))
            if not complete:
                finite = np.isfinite(block)
                if not finite.all():
                    block[~finite] = np.nan
            _check_matrix_block(str(path), cpg_col, cpg, values, letters,
                                lambda mask, first=first: np.flatnonzero(mask) + first, seen, complete)
            n_rows += batch.num_rows
            yield cpg, values, pseudo
        seen.check(str(path), cpg_col)
    finally:  # an error stops the reader thread at once (not when the generator is collected)
        pieces.close()
    if n_rows == 0:
        raise InputTableError(f"{path}: the table has a header but no rows (no data below row 1). Export the "
                              "table again with its rows, or remove it from the cohort's mapping file.")


def _open_text(path: Path, encoding: str):
    """A text table opened for streaming: a byte-order mark wins over ``encoding`` (as
    :func:`first1000.io.read_raw_table` reads text tables); undecodable bytes become lone
    surrogates, reported with their cells."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    encoding = text_encoding(path, encoding, head)
    return open(path, encoding=encoding, errors="surrogateescape", newline="")


#: Cells per batch of a text matrix read with the exact checks (its rows are Python strings first).
MATRIX_BATCH_CELLS = 2_000_000
#: Bytes per block (one batch) of a text matrix read by Arrow; Arrow reads a few blocks ahead.
MATRIX_BLOCK_BYTES = 4 << 20


def _text_matrix_batches(spec, missing_codes, id_map, batch_rows, fmt):
    """Batches of a CSV/TSV matrix: the header and the first rows through the full checks of
    any text table (:func:`_python_matrix_batches`), the rest parsed by Arrow's streaming CSV
    reader (:func:`_arrow_matrix_batches`) as long as every cell is a number or a missing
    code; from the first batch Arrow cannot parse that way (text, a ragged or blank row, a
    stray quote, bytes invalid in the encoding) on, the exact checks take over, so every
    problem is named as they name it."""
    path = Path(spec["path"])
    if not path.exists():
        raise InputTableError(f"{path}: file not found. Check the path in the config.")
    if path.is_dir():
        raise InputTableError(f"{path}: is a folder, not a table. Check the path in the mapping file.")
    if path.stat().st_size == 0:
        raise InputTableError(f"{path}: the file is empty. Export the table again with its header row.")
    info: dict = {"seen": _SeenCpgs(), "n_rows": 0}
    yield from _python_matrix_batches(spec, missing_codes, id_map, batch_rows, fmt, info, skip=0, first_rows=100)
    if not info["done"]:
        try:
            yield from _arrow_matrix_batches(spec, fmt, info)
        except _NotPlain:
            yield from _python_matrix_batches(spec, missing_codes, id_map, batch_rows, fmt, info, skip=info["records"])
    info["seen"].check(info["where"], info["cpg_col"])


class _NotPlain(Exception):
    """A matrix batch Arrow cannot read as numbers and missing codes: read it with the full checks."""


def _arrow_matrix_batches(spec, fmt, info):
    """The rows after ``info["records"]`` records below the header, parsed by Arrow's CSV
    parser block by block (about :data:`MATRIX_BLOCK_BYTES` of whole lines at a time, read
    here, so memory holds one block): one line per row (rows keep their spreadsheet
    numbers), the CpG column as text, the sample columns as float64 with the missing codes
    as nulls. Raises _NotPlain at the first block that is not that (nothing of it yielded)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    codec = info["encoding"]
    same_codes = all(c == info["codes"][0] for c in info["codes"])
    if (codecs.lookup(codec).name not in ("utf-8", "utf-8-sig", "ascii") or info["decimal"] != "." or not same_codes
            or info["multiline"]):
        raise _NotPlain  # Arrow reads UTF-8 lines with '.' decimals; column-specific codes need the exact path
    width, cpg_index, sample_index = info["width"], info["cpg_index"], info["sample_index"]
    names = [f"c{i}" for i in range(width)]
    codes = sorted(set(info["codes"][0]))
    numeric_codes = [float(c) for c in pd.to_numeric(pd.Series(codes, dtype=object), errors="coerce").dropna()]
    options = dict(
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
        parse_options=pacsv.ParseOptions(delimiter=info["sep"], quote_char='"', double_quote=True,
                                         newlines_in_values=False, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={names[cpg_index]: pa.string(), **{names[i]: pa.float64() for i in sample_index}},
            include_columns=[names[cpg_index]] + [names[i] for i in sample_index],
            null_values=[c for c in codes if c != ""] + [""], strings_can_be_null=False,
            quoted_strings_can_be_null=True))
    cpg_col, letters, pseudo = info["cpg_col"], info["letters"], info["pseudo"]
    with open(spec["path"], "rb") as fh:
        for _ in range(info["header_row"] + info["records"]):
            fh.readline()
        rest = b""
        while True:
            block = fh.read(MATRIX_BLOCK_BYTES)
            data = rest + block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            chunk, rest = data[:cut], data[cut:]
            del data
            if chunk:
                try:
                    batch = pacsv.read_csv(pa.py_buffer(chunk), **options)
                except (pa.ArrowException, ValueError):
                    raise _NotPlain from None
                del chunk
                yield _arrow_block(batch, info, numeric_codes, cpg_col, letters, pseudo)
            if not block:
                break


def _arrow_block(batch, info, numeric_codes, cpg_col, letters, pseudo):
    """(cpg, betas, pseudonyms) of an Arrow block of matrix rows, checked; _NotPlain when a
    cell needs the exact checks (``nan``/``inf`` written in a cell, a blank line, an empty CpG)."""
    values = np.empty((batch.num_rows, batch.num_columns - 1), dtype=np.float64)
    for j in range(batch.num_columns - 1):
        column = batch.column(j + 1)
        parsed = column.to_numpy().astype(np.float64)
        nulls = column.is_null().to_numpy() if column.null_count else None
        written_nan = np.isnan(parsed) if nulls is None else np.isnan(parsed) & ~nulls
        if np.isinf(parsed).any() or written_nan.any():
            raise _NotPlain
        if numeric_codes:
            parsed[np.isin(parsed, numeric_codes)] = np.nan
        values[:, j] = parsed
    cpg = pd.Series(batch.column(0).to_pylist(), dtype=object).str.strip()
    if (cpg == "").any():  # a blank line (skipped, numbering kept) or an empty CpG: exact checks
        raise _NotPlain
    first = info["header_row"] + info["records"] + 1
    _check_matrix_block(info["where"], cpg_col, cpg, values, letters,
                        lambda mask, first=first: np.flatnonzero(mask) + first, info["seen"])
    info["records"] += batch.num_rows
    info["n_rows"] += batch.num_rows
    return cpg, values, pseudo


def _python_matrix_batches(spec, missing_codes, id_map, batch_rows, fmt, info, *, skip: int, first_rows=None):
    """Batches of a text matrix read with the csv module and checked as any text table
    (:func:`first1000.io._frame`: delimiter, encoding, ragged rows, stray quotes; then the
    cells as :meth:`Table.parse_numbers` reads them), ``skip`` records below the header
    skipped; with ``first_rows``, only that many records are read (``info["done"]`` tells
    whether the file ended). Fills ``info`` with what :func:`_arrow_matrix_batches` needs."""
    path = Path(spec["path"])
    sep = spec.get("delimiter") or ("," if fmt == "csv" else "\t")
    encoding = spec.get("encoding", "utf-8")
    decimal = spec.get("decimal", ".")
    cpg_col = spec.get("columns", {}).get("cpg", "cpg")
    where = str(path)
    seen = info["seen"]
    csv.field_size_limit(1 << 24)
    with _open_text(path, encoding) as fh:
        reader = csv.reader(fh, delimiter=sep, quotechar='"', doublequote=True, strict=False)
        header, header_row, row = None, 0, 0
        try:
            for record in reader:
                row += 1
                if any(c.strip() for c in record):
                    header, header_row = record, row
                    break
            if header is None:
                raise InputTableError(f"{path}: the file is empty. Export the table again with its header row.")
            for _ in range(skip):
                next(reader, None)
                row += 1
            samples = letters = pseudo = None
            limit = first_rows or max(100, min(batch_rows, MATRIX_BATCH_CELLS // max(len(header), 1)))
            done = False
            while not done:
                records, rows = [header], [header_row]
                for record in reader:
                    row += 1
                    records.append(record)
                    rows.append(row)
                    if len(records) > limit:
                        break
                else:
                    done = True
                if len(records) == 1 and info["n_rows"]:
                    break
                raw = _frame(records, rows, path, where, sep=sep, encoding=encoding, ids_in_header=True)
                table = Table(path, raw.data, list(missing_codes), decimal, row_numbers=raw.row_numbers,
                              where=where, ids_in_header=True, column_codes=spec.get("column_missing_codes", {}))
                if samples is None:
                    samples, letters, _, pseudo = _matrix_samples(where, list(table.data.columns), cpg_col, id_map,
                                                                  table.columns_found(),
                                                                  spec.get("id_leading_zeros", "keep"))
                    names = [_clean_name(x) for x in header]
                    info.update(sep=sep, encoding=_open_text_codec(path, encoding), decimal=decimal, where=where,
                                header_row=header_row, width=len(header), cpg_col=cpg_col, letters=letters,
                                pseudo=pseudo, cpg_index=names.index(cpg_col),
                                sample_index=[names.index(c) for c in samples],
                                codes=[table.codes(c) for c in samples], multiline=False)
                info["multiline"] = info["multiline"] or any("\n" in c or "\r" in c for r in records for c in r)
                if len(table.data):
                    cpg = table.data[cpg_col].astype("string").str.strip()
                    values = _matrix_values(table, samples, letters)
                    _check_matrix_block(where, cpg_col, cpg, values, letters, table.row_list, seen)
                    info["n_rows"] += len(table.data)
                    yield cpg, values, pseudo
                info["records"] = row - header_row
                if first_rows:
                    break
        except csv.Error as exc:
            raise InputTableError(f"{path}, row {row + 1}: cannot be split into cells ({exc}). Check the delimiter "
                                  "and the quoting of the file, or export it again.") from None
        except UnicodeDecodeError:
            raise InputTableError(f"{path}: cannot be decoded as {encoding}. Declare the file's `encoding` in the "
                                  "mapping file.") from None
    info["done"] = done
    if done and info["n_rows"] == 0:
        raise InputTableError(f"{where}: the table has a header but no rows (no data below row {header_row}). "
                              "Export the table again with its rows, or remove it from the cohort's mapping file.")


def _open_text_codec(path: Path, encoding: str) -> str:
    """The codec a text table is read with: its byte-order mark's, else ``encoding``."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return next((codec for bom, codec in _BOMS if head.startswith(bom)), encoding)


#: The most CpGs in a row group of a Parquet matrix read in place (:func:`references_matrix`).
REFERENCE_MAX_GROUP_ROWS = 2 * MATRIX_BATCH_ROWS


def references_matrix(spec: dict) -> bool:
    """True when the methylation matrix ``spec`` points to is a Parquet file of row groups of
    at most :data:`REFERENCE_MAX_GROUP_ROWS` CpGs, which is ingested without a copy
    (:func:`reference_matrix`). Arrow decodes a row group's column chunks whole even when
    it is read batch by batch (3.6 GB per EWAS shard for 450,000 x 500 in one row group,
    as pandas and R arrow write files), so a file of larger row groups is copied in row
    groups of :data:`MATRIX_BATCH_ROWS` (:func:`stream_matrix`), as before."""
    import pyarrow.parquet as pq

    path = Path(spec["path"])
    if TABLE_FORMATS.get(path.suffix.lower()) != "parquet":
        return False
    try:
        meta = pq.ParquetFile(path).metadata
    except Exception:  # noqa: BLE001 -- unreadable: stream_matrix names the problem
        return False
    return all(meta.row_group(i).num_rows <= REFERENCE_MAX_GROUP_ROWS for i in range(meta.num_row_groups))


def reference_matrix(spec, id_map, output, metadata: dict | None = None) -> int:
    """Ingest a Parquet CpG x sample matrix without copying it: write to ``output`` which of
    the file's columns is which participant (column position -> pseudonym; never the IDs)
    and the file's path and fingerprint (:func:`first1000.io.methylation.open_matrix`
    reads the values from the file itself). Returns the number of CpGs.

    The header (one column per known participant) and the CpG column (identifiers present
    and unique) are checked here; every value was checked by the pre-flight check before
    any job ran (:func:`stream_matrix`, cached by the file's size and modification time),
    and every job that reads the values checks the rows it reads again (range, as beta
    values). Copying 450,000 CpGs x 500 samples took 10-15 s and 1 GB, more than the
    epigenome-wide fit itself (#19)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from first1000.io.methylation import REFERENCE_KEY, cpg_ids, parquet_fingerprint

    path, source, cpg_col, columns, samples, _, pseudo = _open_parquet_matrix(spec, id_map)
    fingerprint = parquet_fingerprint(path)
    seen = _SeenCpgs()
    n_rows = 0
    for group in range(source.metadata.num_row_groups):
        cpg = pd.Series(cpg_ids(source.read_row_group(group, columns=[cpg_col]).column(0)), dtype=object)
        _check_cpgs(str(path), cpg_col, cpg, lambda mask, first=n_rows + 2: np.flatnonzero(mask) + first, seen)
        n_rows += len(cpg)
    seen.check(str(path), cpg_col)
    if n_rows == 0:
        raise InputTableError(f"{path}: the table has a header but no rows (no data below row 1). Export the "
                              "table again with its rows, or remove it from the cohort's mapping file.")
    if parquet_fingerprint(path) != fingerprint:
        raise InputTableError(f"{path}: the file changed while it was being ingested. Run the workflow again "
                              "once it is written.")
    position = {c: i for i, c in enumerate(columns)}
    info = {"path": str(spec["path"]), "fingerprint": fingerprint, "cpg_column": cpg_col,
            "cpg_position": position[cpg_col], "columns": len(columns), "rows": n_rows}
    table = pa.table({"column": pa.array([position[c] for c in samples], type=pa.int32()),
                      "pseudo_id": pa.array(pseudo, type=pa.string())})
    table = table.replace_schema_metadata({**(metadata or {}), REFERENCE_KEY: json.dumps(info, sort_keys=True).encode()})
    with atomic_path(output) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return n_rows


def stream_matrix(spec, id_map, output=None, batch_rows: int = MATRIX_BATCH_ROWS, missing_codes=("", "NA"),
                  metadata: dict | None = None) -> int:
    """Check (and, with ``output``, write) a CSV, TSV or Parquet CpG x sample matrix batch by
    batch (:func:`matrix_batches`).

    Memory is bounded by ``batch_rows`` x samples, not by the matrix. Every batch is checked
    also with ``output=None`` (the pre-flight check before any job runs). With ``output``
    the standardised matrix (sample columns renamed to pseudonyms, float64) is written to a
    temporary file renamed into place only when every batch passed (``metadata``: key-value
    metadata of the Parquet file's schema). Returns the number of CpGs.
    """
    n_rows = 0
    # closed on any error, the writer's too: a Parquet matrix's reader thread stops at once
    with contextlib.closing(matrix_batches(spec, missing_codes, id_map, batch_rows,
                                           keep_values=output is not None)) as batches:
        if output is None:
            for cpg, _, _ in batches:
                n_rows += len(cpg)
            return n_rows
        return _write_matrix(batches, output, metadata)


def _write_matrix(batches, output, metadata) -> int:
    """The checked batches written to ``output`` (Parquet, zstd), renamed into place at the end."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n_rows = 0
    writer = None
    with atomic_path(output) as tmp:
        try:
            for cpg, values, pseudo in batches:
                if writer is None:
                    schema = pa.schema([("cpg", pa.string())] + [(p, pa.float64()) for p in pseudo],
                                       metadata=metadata)
                    # no dictionary for the beta columns: Arrow tries one per column before it
                    # falls back, which made writing 7x slower and the file 50% larger (#19)
                    writer = pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=["cpg"])
                arrays = [pa.array(cpg.astype(str).to_numpy())] + [pa.array(np.ascontiguousarray(values[:, j]))
                                                                    for j in range(values.shape[1])]
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
                n_rows += len(cpg)
        finally:
            if writer is not None:
                writer.close()
    return n_rows


def _id_hint(unknown: pd.Series, id_map: dict) -> str:
    """Why unmatched IDs may be near misses (case/spaces, leading zeros): no ID is quoted."""
    known = pd.Series(list(id_map), dtype="string")
    folded = set(_fold(known))
    n_case = int(_fold(unknown).isin(folded).sum())
    if n_case:
        return (f" {n_case} of them match a participant when letter case and spaces are ignored: write the IDs "
                "exactly as in the participants table.")
    stripped = set(known.str.lstrip("0"))
    n_zero = int(unknown.str.lstrip("0").isin(stripped).sum())
    if n_zero:
        return (f" {n_zero} of them match a participant when leading zeros are ignored (spreadsheets drop leading "
                "zeros of numeric IDs): format the ID column as text and restore the zeros.")
    return ""


def _lookup(ids: pd.Series, id_map: dict, leading_zeros: str = "keep") -> pd.Series:
    """Pseudonyms of normalised ``ids`` (missing where unknown); with ``leading_zeros="strip"``
    an ID also matches the participant whose ID is the same once leading zeros are removed
    from both (when only one participant does)."""
    matched = ids.map(id_map)
    if leading_zeros == "strip" and matched.isna().any():
        known = pd.Series(list(id_map), dtype="string")
        unzeroed = _unzero(known)
        unique = (~unzeroed.duplicated(keep=False)).to_numpy()
        lookup = dict(zip(unzeroed[unique], np.asarray(list(id_map.values()), dtype=object)[unique]))
        matched = matched.where(matched.notna(), _unzero(ids).map(lookup))
    return matched


def _match_ids(table: Table, column: str, ids: pd.Series, id_map: dict, mask=None) -> pd.Series:
    """Pseudonyms of ``ids`` (rows ``mask`` of the table, default all); unknown IDs are an error.

    With ``id_leading_zeros: strip`` on this table, an ID also matches the participant whose
    ID is the same once leading zeros are removed from both (when only one participant does)."""
    matched = _lookup(ids, id_map, table.leading_zeros)
    unknown = matched.isna().to_numpy()
    if unknown.all():
        raise InputTableError(f"{table.where}, column '{column}': none of the IDs matches a participant of this "
                              "cohort. Check that the table belongs to this cohort and uses the same ID format."
                              + _id_hint(ids, id_map))
    if unknown.any():
        rows = np.zeros(len(table.data), bool)
        where_ = np.flatnonzero(np.ones(len(table.data), bool) if mask is None else np.asarray(mask, bool))
        rows[where_[unknown]] = True
        raise table.fail(column, rows, "ID matches no participant of this cohort",
                         "Remove these rows or add the participants to the participants table."
                         + _id_hint(ids[unknown], id_map))
    return matched


#: Ingesters that also check values against the cohort's participants (``participants=``).
WITH_PARTICIPANTS = {"hair_cortisol", "child_followup"}

INGESTERS = {
    "hair_cortisol": ingest_hair,
    "telomere_qpcr": ingest_qpcr,
    "mtdna_qpcr": lambda spec, codes, ids: ingest_qpcr(spec, codes, ids, "mtdna_qpcr"),
    "methylation_candidates": ingest_candidates,
    "methylation_matrix": ingest_matrix,
    "metabolites": lambda spec, codes, ids: ingest_wide("metabolites", spec, codes, ids),
    "immune": lambda spec, codes, ids: ingest_wide("immune", spec, codes, ids),
    "microbiome_counts": lambda spec, codes, ids: ingest_wide("microbiome_counts", spec, codes, ids),
    "cns_measures": lambda spec, codes, ids: ingest_wide("cns_measures", spec, codes, ids),
    "child_followup": ingest_followup,
}


def ingest_standard(kind: str, spec: dict, missing_codes, id_map: dict,
                    participants: pd.DataFrame | None = None) -> pd.DataFrame:
    """One standard (non-participants) table; ``participants`` (the cohort's ingested
    participants) for the tables checked against them (:data:`WITH_PARTICIPANTS`)."""
    if kind in WITH_PARTICIPANTS:
        return INGESTERS[kind](spec, missing_codes, id_map, participants=participants)
    return INGESTERS[kind](spec, missing_codes, id_map)


def read_participants(mapping: dict) -> tuple[Table, pd.Series]:
    """A cohort's participants table, read and checked as text, and its unique IDs (the
    harmonisation rules of the mapping file are applied by
    :func:`first1000.harmonise.mapping.apply_mapping`)."""
    spec = mapping["tables"]["participants"]
    table = open_table(spec, mapping["missing_codes"])
    return table, table.ids(spec["id"], unique=True)


def check_tables(mapping: dict, id_map: dict, participants: pd.DataFrame) -> dict:
    """Read and check every table of one cohort but its participants, in memory (the
    pre-flight check before any job runs); ``participants``: its harmonised participants.
    Returns kind -> standard table (a CSV, TSV or Parquet methylation matrix: its number of
    CpGs, every value checked batch by batch)."""
    return {kind: check_table(kind, mapping, id_map, participants) for kind in mapping["tables"]
            if kind != "participants"}


def check_table(kind: str, mapping: dict, id_map: dict, participants: pd.DataFrame):
    """Read and check one table (``kind``) of a cohort's ``mapping`` but its participants,
    in memory: the standard table (a CSV, TSV or Parquet methylation matrix: its number of
    CpGs, every value checked batch by batch)."""
    table_spec = mapping["tables"][kind]
    if kind == "methylation_matrix" and streams_matrix(table_spec):
        # A matrix can be far larger than memory: every batch is checked, one at a time.
        return stream_matrix(table_spec, id_map, missing_codes=mapping["missing_codes"])
    return ingest_standard(kind, table_spec, mapping["missing_codes"], id_map, participants)
