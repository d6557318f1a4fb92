"""Ingest: read each cohort table, check it, pseudonymise IDs, standardise.

Each table is read as text, checked against its schema (required columns, types,
ranges, unique IDs, IDs that match a participant) and turned into first1000's standard
layout. Participant IDs are replaced by a keyed hash (HMAC-SHA256) whose key lives
outside ``results/``; the cohort's own IDs never leave this module.

Problems raise :class:`~first1000.errors.InputTableError` naming the file, the column,
the rows (as a spreadsheet numbers them: header = row 1) and what was expected. No
message ever contains an ID or a value from a row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from first1000.config import load_schema
from first1000.errors import ConfigError, InputTableError, format_rows
from first1000.io import atomic_path, read_table
from first1000.units import conversion

#: Standard tables a cohort can provide, and the schema each is checked against.
TABLE_KINDS = {
    "hair_cortisol": "tables/hair_cortisol.schema.yaml",
    "telomere_qpcr": "tables/telomere_qpcr.schema.yaml",
    "methylation_candidates": "tables/methylation_candidates.schema.yaml",
    "methylation_matrix": "tables/methylation_matrix.schema.yaml",
    "metabolites": "tables/metabolites.schema.yaml",
    "immune": "tables/immune.schema.yaml",
}
PRETERM_DAYS = 259  # < 37+0 weeks


# --------------------------------------------------------------------------- privacy
def load_or_create_key(path) -> bytes:
    """The pseudonymisation key; created (random, 32 bytes) on first use."""
    path = Path(path)
    if "results" in path.parts:
        raise ConfigError(f"privacy.key_file `{path}` lies under results/; keep the key outside results/.")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
            tmp.chmod(0o600)
    return path.read_text(encoding="ascii").strip().encode()


def pseudonymise(ids: pd.Series, cohort: str, key: bytes) -> pd.Series:
    """Keyed hash of cohort + ID: stable for a key, not reversible without it."""
    return ids.map(
        lambda i: "P" + hmac.new(key, f"{cohort}\x1f{i}".encode(), hashlib.sha256).hexdigest()[:16]
    )


# --------------------------------------------------------------------------- parsing
@dataclass
class Table:
    """A raw table as read, with what messages need to point at it."""

    path: Path
    data: pd.DataFrame
    missing_codes: list = field(default_factory=list)
    decimal: str = "."

    def rows(self, mask) -> str:
        return format_rows(np.flatnonzero(np.asarray(mask)) + 2)

    def fail(self, column: str | None, mask, problem: str, fix: str) -> InputTableError:
        where = f"{self.path}" + (f", column '{column}'" if column else "")
        return InputTableError(f"{where}, {self.rows(mask)}: {problem}. {fix}")

    def require(self, columns: dict[str, str], kind: str) -> None:
        missing = [src for src in columns.values() if src not in self.data.columns]
        if missing:
            raise InputTableError(
                f"{self.path}: missing column '{missing[0]}' (needed for the {kind} table). "
                f"Columns found: {', '.join(map(str, self.data.columns[:20]))}. Rename the column in the "
                "file or map it in the cohort's mapping file under `columns`.")

    def missing_mask(self, column: str) -> np.ndarray:
        values = self.data[column]
        numeric_codes = pd.to_numeric(pd.Series(self.missing_codes, dtype=object), errors="coerce").dropna()
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return (values.isna() | values.isin(numeric_codes.tolist())).to_numpy(dtype=bool)
        text = values.astype("string").str.strip()
        mask = text.isin(self.missing_codes) | text.isna()
        if len(numeric_codes):  # "-9" also matches "-9.0" and "-9,0"
            as_number = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
            mask |= as_number.isin(numeric_codes.tolist())
        return mask.fillna(True).to_numpy(dtype=bool)

    def numeric(self, column: str, *, below_codes=(), label: str | None = None):
        """Parse a column as numbers; returns (values, below_limit mask).

        Missing codes become NaN; text that is neither a number, a missing code nor a
        declared below-limit code is an error naming the rows.
        """
        values = self.data[column]
        missing = self.missing_mask(column)
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return np.where(missing, np.nan, values.astype(float).to_numpy()), np.zeros(len(values), bool)
        text = values.astype("string").str.strip()
        below = text.isin(list(below_codes)).to_numpy(dtype=bool) & ~missing
        if self.decimal == ",":
            text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        parsed = pd.to_numeric(text.where(~(missing | below)), errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(parsed) & ~missing & ~below
        if bad.any():
            allowed = f" or a below-limit code ({', '.join(below_codes)})" if below_codes else ""
            decimal_hint = ""
            if text[bad].str.contains(r"^\s*-?\d+,\d+\s*$", regex=True).any():
                decimal_hint = " Some values use a decimal comma: declare `decimal: \",\"` for this table."
            raise self.fail(column, bad, f"expected a number{allowed}, found text",
                            f"Fix these cells or add the code to `missing_codes`.{decimal_hint}")
        return parsed, below

    def check_range(self, column: str, values: np.ndarray, spec: dict, what: str = "") -> None:
        lo, hi = spec.get("minimum"), spec.get("maximum")
        xlo = spec.get("exclusiveMinimum")
        with np.errstate(invalid="ignore"):
            bad = np.zeros(len(values), bool)
            if lo is not None:
                bad |= values < lo
            if xlo is not None:
                bad |= values <= xlo
            if hi is not None:
                bad |= values > hi
        if bad.any():
            bounds = []
            if lo is not None:
                bounds.append(f">= {lo:g}")
            if xlo is not None:
                bounds.append(f"> {xlo:g}")
            if hi is not None:
                bounds.append(f"<= {hi:g}")
            raise self.fail(column, bad, f"value out of range{what}: expected {' and '.join(bounds)}",
                            "Check the unit declared in the mapping file and the values in these rows.")

    def ids(self, column: str, *, unique: bool) -> pd.Series:
        if column not in self.data.columns:
            raise InputTableError(
                f"{self.path}: missing ID column '{column}'. Columns found: "
                f"{', '.join(map(str, self.data.columns[:20]))}. Fix `id` in the cohort's mapping file.")
        ids = self.data[column].astype("string").str.strip()
        empty = (ids.isna() | (ids == "")).to_numpy(dtype=bool)
        if empty.any():
            raise self.fail(column, empty, "empty participant ID", "Every row needs an ID.")
        if unique:
            folded = ids.str.casefold()
            dup = folded.duplicated(keep=False).to_numpy(dtype=bool)
            if dup.any():
                exact = ids.duplicated(keep=False).to_numpy(dtype=bool)
                kind = "duplicated participant ID" if exact[dup].all() else (
                    "participant IDs that differ only by letter case or surrounding spaces")
                raise self.fail(column, dup, kind, "Each participant must appear once; remove or merge the rows.")
        return ids


def open_table(spec: dict, missing_codes) -> Table:
    data = read_table(spec["path"], delimiter=spec.get("delimiter"), decimal=spec.get("decimal", "."),
                      sheet=spec.get("sheet"), encoding=spec.get("encoding", "utf-8"))
    if len(data) == 0:
        raise InputTableError(f"{spec['path']}: the table has a header but no rows.")
    return Table(Path(spec["path"]), data, list(missing_codes), spec.get("decimal", "."))


# --------------------------------------------------------------------------- participants
def harmonise_participants(table: Table, mapping: dict, data_schema: dict) -> tuple[pd.DataFrame, list]:
    """Apply the mapping's variable rules; returns (variables, per-variable report rows)."""
    out = {}
    report = []
    rules = mapping["variables"]
    for variable, spec in data_schema.items():
        rule = rules.get(variable, {"rule": "undetermined", "reason": "not declared in the mapping file"})
        kind = spec["type"]
        name = rule["rule"]
        if name in ("impossible", "undetermined"):
            out[variable] = pd.Series(np.nan, index=table.data.index)
            report.append(dict(variable=variable, rule=name, source="", n_missing=len(table.data),
                               note=rule.get("reason", "")))
            continue
        if name == "derive":
            continue  # after the direct and recoded variables
        column = rule["column"]
        table.require({variable: column}, "participants")
        missing = table.missing_mask(column)
        if name == "recode":
            text = table.data[column].astype("string").str.strip()
            lookup = {str(k).strip(): v for k, v in rule["map"].items()}
            unmapped = ~missing & ~text.isin(list(lookup)).to_numpy(dtype=bool)
            if unmapped.any():
                categories = sorted(set(text[unmapped].dropna()))
                shown = ", ".join(f"'{c}'" for c in categories[:5])
                raise table.fail(
                    column, unmapped, f"categories {shown} have no entry in the recode of `{variable}` "
                    f"(cohort {mapping['_cohort']})",
                    f"Add them to the map in {mapping['_source']} or to `missing_codes`.")
            mapped = text.map(lookup).where(~pd.Series(missing, index=text.index))
            values = _typed(mapped, kind, table, column, variable, spec)
        elif kind == "date":
            text = table.data[column].astype("string").str.strip()
            fmt = rule.get("format")
            if not fmt:
                raise ConfigError(f"{mapping['_source']}: `variables.{variable}` is a date; declare its `format`.")
            parsed = pd.to_datetime(text.where(~pd.Series(missing, index=text.index)), format=fmt, errors="coerce")
            bad = parsed.isna().to_numpy() & ~missing
            if bad.any():
                raise table.fail(column, bad, f"expected a date in the format {fmt}",
                                 "Fix these cells or declare the format the file uses.")
            values = parsed
        else:
            source = table.data[column].where(~pd.Series(missing, index=table.data.index))
            if rule.get("unit") == "weeks+days":
                converted = conversion("weeks+days", spec.get("unit"))(source)
                bad = converted.isna().to_numpy() & ~missing
                if bad.any():
                    raise table.fail(column, bad, "expected weeks+days such as 39+4", "Fix these cells.")
                values = converted.to_numpy(dtype=float)
            else:
                values = _typed(table.data[column], kind, table, column, variable, spec)
        if "unit" in rule and rule["unit"] != "weeks+days":
            values = conversion(rule["unit"], spec.get("unit"))(values)
        if kind in ("continuous", "integer"):
            table.check_range(column, np.asarray(values, float),
                              {"minimum": spec.get("min"), "maximum": spec.get("max")},
                              f" for {variable} ({spec.get('unit', 'no unit')})")
        out[variable] = values
        report.append(dict(variable=variable, rule=name, source=column,
                           n_missing=int(pd.isna(pd.Series(values)).sum()), note=""))
    frame = pd.DataFrame(out, index=table.data.index)
    for variable, rule in rules.items():
        if rule["rule"] == "derive" and rule["operation"] == "preterm_from_gestational_age":
            if "gestational_age" not in frame or frame["gestational_age"].isna().all():
                raise ConfigError(f"{mapping['_source']}: `variables.{variable}` derives from gestational_age, "
                                  "which this cohort does not map.")
            ga = frame["gestational_age"]
            frame[variable] = np.where(ga.isna(), np.nan, (ga < PRETERM_DAYS).astype(float))
            report.append(dict(variable=variable, rule="derive", source="gestational_age",
                               n_missing=int(frame[variable].isna().sum()), note="gestational age < 259 days"))
    return frame, report


def _typed(values: pd.Series, kind: str, table: Table, column: str, variable: str, spec: dict):
    """Values of a harmonised variable in its type (after missing codes and recoding)."""
    if kind == "categorical":
        text = values.astype("string").str.strip()
        text = text.where(~pd.Series(table.missing_mask(column), index=text.index))
        allowed = spec.get("categories")
        if allowed:
            bad = (~text.isna() & ~text.isin(allowed)).to_numpy(dtype=bool)
            if bad.any():
                raise table.fail(column, bad, f"`{variable}` must be one of {', '.join(allowed)}",
                                 "Recode the column in the mapping file.")
        return text.astype(object).where(text.notna(), None)
    sub = Table(table.path, pd.DataFrame({column: values}), table.missing_codes, table.decimal)
    parsed, _ = sub.numeric(column)
    if kind == "binary":
        bad = ~np.isnan(parsed) & ~np.isin(parsed, [0, 1])
        if bad.any():
            raise table.fail(column, bad, f"`{variable}` must be 0 or 1", "Recode the column in the mapping file.")
    if kind == "integer":
        bad = ~np.isnan(parsed) & (parsed != np.round(parsed))
        if bad.any():
            raise table.fail(column, bad, f"`{variable}` must be a whole number", "Fix these cells.")
    return parsed


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
                declared[_identifier(col)] = col
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
    long = []
    below_codes = spec.get("below_limit", ["<LOD", "<LOQ"])
    for std, col in columns.items():
        if std == "participant_id":
            continue
        prop = _property(schema, std)
        values, below = table.numeric(col, below_codes=below_codes if prop.get("x-below-limit") else ())
        table.check_range(col, values, prop)
        long.append(pd.DataFrame({"pseudo_id": pseudo.to_numpy(), "marker": std, "value": values,
                                  "below_limit": below}))
    return pd.concat(long, ignore_index=True)


def ingest_candidates(spec, missing_codes, id_map) -> pd.DataFrame:
    """Candidate CpGs: one row per participant, one column per CpG (beta in [0, 1])."""
    table = open_table(spec, missing_codes)
    ids = table.ids(spec["id"], unique=True)
    pseudo = _match_ids(table, spec["id"], ids, id_map)
    out = {"pseudo_id": pseudo.to_numpy()}
    prop = load_schema(TABLE_KINDS["methylation_candidates"])["additionalProperties"]
    for col in table.data.columns:
        if col == spec["id"]:
            continue
        values, _ = table.numeric(col)
        table.check_range(col, values, prop, " for a beta value")
        out[_identifier(col)] = values
    return pd.DataFrame(out)


def ingest_hair(spec, missing_codes, id_map) -> pd.DataFrame:
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
    inverted = (frame.segment_end_cm <= frame.segment_start_cm).to_numpy()
    if inverted.any():
        raise table.fail(columns["segment_end_cm"], inverted, "segment end is not beyond its start",
                         "Each segment runs from its start to its end in cm from the scalp.")
    if spec.get("unit", "pg/mg") != "pg/mg":
        frame["cortisol"] = conversion(spec["unit"], "pg/mg", where=str(table.path))(frame["cortisol"])
    return frame


def ingest_qpcr(spec, missing_codes, id_map) -> pd.DataFrame:
    table = open_table(spec, missing_codes)
    columns = _standard_columns("telomere_qpcr", spec, table, None)
    sample = table.data[columns["sample"]].astype("string").str.strip()
    target = table.data[columns["target"]].astype("string").str.strip()
    targets = {spec["targets"]["telomere"]: "telomere", spec["targets"]["single_copy"]: "single_copy"}
    unknown = ~target.isin(list(targets)).to_numpy(dtype=bool)
    if unknown.any():
        raise table.fail(columns["target"], unknown,
                         f"target is neither the telomere ({spec['targets']['telomere']}) nor the single-copy "
                         f"gene ({spec['targets']['single_copy']}) declared in the mapping", "Fix `targets`.")
    calibrator = (sample == spec["calibrator"]).to_numpy(dtype=bool)
    ct, _ = table.numeric(columns["ct"])
    table.check_range(columns["ct"], ct, _property(load_schema(TABLE_KINDS["telomere_qpcr"]), "ct"))
    plate = table.data[columns["plate"]].astype("string").str.strip()
    plates_without = sorted(set(plate) - set(plate[calibrator]))
    if plates_without:
        mask = plate.isin(plates_without).to_numpy(dtype=bool)
        raise table.fail(columns["plate"], mask, f"{len(plates_without)} plate(s) have no calibrator "
                         f"('{spec['calibrator']}')", "Every plate needs the inter-run calibrator.")
    pseudo = pd.Series("calibrator", index=sample.index, dtype=object)
    if (~calibrator).any():
        matched = _match_ids(table, columns["sample"], sample[~calibrator], id_map)
        pseudo[~calibrator] = matched.to_numpy()
    return pd.DataFrame({"plate": plate.to_numpy(dtype=object), "pseudo_id": pseudo.to_numpy(),
                         "is_calibrator": calibrator, "target": target.map(targets).to_numpy(dtype=object),
                         "ct": ct})


def ingest_matrix(spec, missing_codes, id_map) -> pd.DataFrame:
    """CpG x sample beta matrix; sample columns renamed to pseudonyms."""
    table = open_table(spec, missing_codes)
    cpg_col = spec.get("columns", {}).get("cpg", "cpg")
    table.require({"cpg": cpg_col}, "methylation_matrix")
    samples = [c for c in table.data.columns if c != cpg_col]
    header = Table(table.path, pd.DataFrame({"sample": samples}), missing_codes)
    ids = pd.Series(samples, dtype="string").str.strip()
    unknown = ~ids.isin(list(id_map)).to_numpy(dtype=bool)
    if unknown.all():
        raise InputTableError(f"{table.path}: none of the {len(samples)} sample columns matches a participant ID "
                              "of this cohort. The column headers must be the participants' IDs.")
    if unknown.any():
        raise InputTableError(f"{table.path}: {int(unknown.sum())} sample column(s) (columns "
                              f"{', '.join(str(i + 2) for i in np.flatnonzero(unknown)[:10])}) match no participant "
                              "ID of this cohort. Remove them or add the participants.")
    del header
    values = table.data[samples].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad_rows = ((values < 0) | (values > 1)).any(axis=1)
    if bad_rows.any():
        raise table.fail(None, bad_rows, "beta values outside [0, 1]",
                         "The matrix must hold beta values (M-values are computed by first1000).")
    frame = pd.DataFrame(values.astype(np.float32), columns=ids.map(id_map).to_numpy())
    frame.insert(0, "cpg", table.data[cpg_col].astype(str).to_numpy())
    return frame


def _match_ids(table: Table, column: str, ids: pd.Series, id_map: dict) -> pd.Series:
    matched = ids.map(id_map)
    unknown = matched.isna().to_numpy()
    if unknown.all():
        raise InputTableError(f"{table.path}, column '{column}': none of the IDs matches a participant of this "
                              "cohort. Check that the table belongs to this cohort and uses the same ID format.")
    if unknown.any():
        raise table.fail(column, unknown, "ID matches no participant of this cohort",
                         "Remove these rows or add the participants to the participants table.")
    return matched


INGESTERS = {
    "hair_cortisol": ingest_hair,
    "telomere_qpcr": ingest_qpcr,
    "methylation_candidates": ingest_candidates,
    "methylation_matrix": ingest_matrix,
    "metabolites": lambda spec, codes, ids: ingest_wide("metabolites", spec, codes, ids),
    "immune": lambda spec, codes, ids: ingest_wide("immune", spec, codes, ids),
}


def ingest_cohort(cohort: str, mapping: dict, data_schema: dict, key: bytes) -> dict[str, pd.DataFrame]:
    """Read, check and standardise every table of one cohort.

    Returns ``{"participants": ..., "harmonisation": ..., <table kind>: ...}``.
    """
    codes = mapping["missing_codes"]
    spec = mapping["tables"]["participants"]
    table = open_table(spec, codes)
    ids = table.ids(spec["id"], unique=True)
    pseudo = pseudonymise(ids, cohort, key)
    variables, report = harmonise_participants(table, mapping, data_schema)
    variables.insert(0, "cohort", cohort)
    variables.insert(0, "pseudo_id", pseudo.to_numpy())
    id_map = dict(zip(ids, pseudo))
    out = {"participants": variables.reset_index(drop=True),
           "harmonisation": pd.DataFrame(report).assign(cohort=cohort)}
    for kind, table_spec in mapping["tables"].items():
        if kind != "participants":
            out[kind] = INGESTERS[kind](table_spec, codes, id_map)
    return out
