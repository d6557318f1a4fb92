"""Write the bad-input corpus (tests/data/bad/*): small broken exports, one problem each.

Run from the repository root: ``python tests/data/bad/make_bad.py``. The files are
committed; this script documents how each was made (exact bytes matter for encodings,
byte-order marks and delimiters). What each file must produce is in ``cases.yaml``.
IDs are synthetic (BX-101 ...); no file holds real data.
"""

from __future__ import annotations

import codecs
import datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent

HEADER = ["pid", "age", "bw_g", "ga_days", "sex", "education", "delivery"]
ROWS = [
    ["BX-101", "31.2", "3359", "282", "meisje", "bachelor", "17/07/2024"],
    ["BX-102", "34.1", "2947", "281", "jongen", "hoger secundair onderwijs – geëxamineerd", "22/08/2023"],
    ["BX-103", "28.0", "3120", "275", "meisje", "master", "01/02/2024"],
    ["BX-104", "36.5", "3601", "286", "jongen", "lager onderwijs", "15/11/2023"],
    ["BX-105", "25.3", "2890", "270", "meisje", "bachelor", "30/04/2024"],
    ["BX-106", "30.0", "3400", "279", "jongen", "master", "09/09/2023"],
]


def rows(**edits):
    """The base participants with cells replaced: edits = {"r3_age": "x"} (data row 3 = sheet row 4)."""
    out = [list(r) for r in ROWS]
    for key, value in edits.items():
        r, col = key[1:].split("_", 1)
        out[int(r)][HEADER.index(col)] = value
    return out


def text(name, lines, *, encoding="utf-8", bom=b"", newline="\n"):
    data = newline.join(lines) + newline
    (HERE / name).write_bytes(bom + data.encode(encoding))


def table(name, header, body, sep=",", **kw):
    text(name, [sep.join(header)] + [sep.join(r) for r in body], **kw)


def xlsx(name, sheets):
    """sheets: {title: [rows...]} (cells None/str/float/datetime); merged: title -> ranges."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, (grid, merged) in sheets.items():
        ws = book.create_sheet(title)
        for r, values in enumerate(grid, start=1):
            for c, value in enumerate(values, start=1):
                if value is not None:
                    ws.cell(row=r, column=c, value=value)
        for rng in merged:
            ws.merge_cells(rng)
    book.save(HERE / name)


def parquet(name, arrays, names):
    pq.write_table(pa.Table.from_arrays(arrays, names=names), HERE / name)


def main():
    # ---------------------------------------------------------------- valid base tables
    table("participants.csv", HEADER, ROWS)
    table("participants_numeric.csv", ["pid", "age"], [["07001", "31"], ["07002", "29"], ["07003", "35"]])
    table("hair.csv", ["pid", "seg_from", "seg_to", "cortisol"],
          [["BX-101", "0", "3", "9.58"], ["BX-101", "3", "6", "5.48"], ["BX-102", "0", "3", "<LOQ"],
           ["BX-103", "0", "3", "12.1"]])
    qpcr_ok = []
    for plate in ("P01", "P02"):
        for sample in ("CAL", "BX-101", "BX-102"):
            for target, ct in (("telomere", "15.4"), ("36B4", "22.1")):
                qpcr_ok.append([plate, sample, target, ct])
    table("qpcr.csv", ["plate", "sample", "target", "ct"], qpcr_ok)
    table("candidates.csv", ["pid", "cg04111177", "cg15910486"],
          [["BX-101", "0.086", "0.18"], ["BX-102", "0.118", "0.22"], ["BX-103", "0.101", "0.19"]])
    table("matrix.csv", ["cpg", "BX-101", "BX-102", "BX-103"],
          [["cg900000001", "0.44", "0.38", "0.40"], ["cg900000002", "0.95", "0.94", "0.92"],
           ["cg900000003", "0.12", "0.10", "0.11"]])
    table("metabolites.csv", ["pid", "lactate", "pyruvate"],
          [["BX-101", "1663.05", "95.17"], ["BX-102", "1694.81", "60.80"], ["BX-103", "1782.50", "<LOD"]])
    table("immune.csv", ["pid", "il6_pg_ml", "crp_mg_l"],
          [["BX-101", "0.837", "13.88"], ["BX-102", "1.395", "0.58"], ["BX-103", "<LOD", "2.1"],
           ["BX-104", "2.2", "4.4"]])

    # ---------------------------------------------------------------- participants: layout
    table("p_semicolon_as_comma.csv", HEADER, ROWS, sep=";")
    table("p_comma_as_semicolon.csv", HEADER, ROWS, sep=",")
    table("p_tab_in_csv.csv", HEADER, ROWS, sep="\t")
    table("p_decimal_comma_semicolon.csv", HEADER, rows(r0_age="31,2", r2_age="28,0"), sep=";")
    table("p_decimal_comma_ok.csv", HEADER, [[c.replace(".", ",") if i == 1 else c for i, c in enumerate(r)]
                                             for r in ROWS], sep=";")
    table("p_decimal_comma_unquoted.csv", HEADER, rows(r1_age="34,1", r3_age="36,5"))
    table("p_mixed_decimal.csv", HEADER, rows(r0_age="31,2", r1_age="34,1", r2_age="28.5", r3_age="36,5",
                                              r4_age="25,3", r5_age="30,0"), sep=";")
    table("p_nul_in_cell.csv", HEADER, rows(r1_age="34\x001"))
    (HERE / "p_empty.csv").write_bytes(b"")
    text("p_blank_lines.csv", ["", ",,,,,,", "   ", ""])
    table("p_header_only.csv", HEADER, [])
    text("p_title_row.csv", ["Export LIMS cohort bad 2024"] + [",".join(HEADER)] + [",".join(r) for r in ROWS])
    table("p_unnamed_index.csv", [""] + HEADER, [[str(i)] + r for i, r in enumerate(ROWS)])
    text("p_short_rows.csv", [",".join(HEADER)] + [",".join(r) for r in ROWS] + ["n = 6 participants"])
    text("p_unclosed_quote.csv", [",".join(HEADER)] + [",".join(r) for r in ROWS[:1]]
         + ['BX-102,"34.1,2947,281,jongen,master,22/08/2023'] + [",".join(r) for r in ROWS[2:]])
    table("p_duplicated_columns.csv", HEADER + ["age"], [r + [r[1]] for r in ROWS])
    text("p_blank_line_numbering.csv", [",".join(HEADER)] + [",".join(r) for r in ROWS[:2]] + [""]
         + [",".join(r) for r in rows(r3_age="onbekend")[2:]])
    text("p_headerless.csv", [",".join(r) for r in ROWS])
    (HERE / "p_wrong_type.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))  # OLE2 header
    table("p_header_case.csv", ["pid", "Age"] + HEADER[2:], ROWS)

    # ---------------------------------------------------------------- participants: encodings
    table("p_cp1252.csv", HEADER, ROWS, encoding="cp1252")
    table("p_bom.csv", HEADER, ROWS, bom=codecs.BOM_UTF8)
    table("p_utf16.txt", HEADER, ROWS, sep="\t", encoding="utf-16-le", bom=codecs.BOM_UTF16_LE, newline="\r\n")
    table("p_utf16_no_bom.csv", HEADER, ROWS, encoding="utf-16-le")
    table("p_nfd.csv", HEADER, [[c.replace("ë", "e\u0308") for c in r] for r in ROWS])
    table("p_crlf.csv", HEADER, ROWS, newline="\r\n")

    # ---------------------------------------------------------------- participants: IDs
    table("p_duplicated_ids.csv", HEADER, rows(r4_pid="BX-102"))
    table("p_ids_case.csv", HEADER, rows(r3_pid="bx-101"))
    table("p_ids_space.csv", HEADER, rows(r2_pid="BX-101 "))
    table("p_ids_inner_space.csv", HEADER, rows(r5_pid="BX- 102"))
    table("p_blank_id.csv", HEADER, rows(r2_pid=""))
    table("p_na_id.csv", HEADER, rows(r4_pid="NA"))
    table("p_float_ids.csv", ["pid", "age"], [["7001.0", "31"], ["7002.0", "29"], ["7003.0", "35"]])
    table("p_float_id_twice.csv", ["pid", "age"], [["7001", "31"], ["7002", "29"], ["7001.0", "35"]])
    table("p_scientific_ids.csv", ["pid", "age"], [["1.00123E+11", "31"], ["1.00124E+11", "29"], ["7003", "35"]])
    table("i_float_ids.csv", ["pid", "il6_pg_ml", "crp_mg_l"], [["7001", "0.8", "1.2"], ["7003", "1.1", "0.4"]])
    table("i_leading_zeros.csv", ["pid", "il6_pg_ml", "crp_mg_l"], [["7001", "0.8", "1.2"], ["7003", "1.1", "0.4"]])

    # ---------------------------------------------------------------- participants: values
    table("p_text_in_numeric.csv", HEADER, rows(r1_age="unknown", r3_age="?!"))
    table("p_missing_codes.csv", HEADER, rows(r0_age="n.a.", r2_age="-", r4_age="NA"))
    table("p_excel_error.csv", HEADER, rows(r2_age="#DIV/0!"))
    table("p_thousands.csv", HEADER, rows(r1_bw_g='"2,947"'))
    table("p_huge_number.csv", HEADER, rows(r3_age="1e400"))
    table("p_bw_kg_as_g.csv", HEADER, rows(r0_bw_g="3.359", r2_bw_g="40", r4_bw_g="2.89"))
    table("p_negative_age.csv", HEADER, rows(r5_age="-31"))
    table("p_ga_weeks.csv", HEADER[:3] + ["ga_weeks"] + HEADER[4:],
          rows(r0_ga_days="40", r1_ga_days="60", r2_ga_days="39", r3_ga_days="41", r4_ga_days="38",
               r5_ga_days="39"))
    table("p_weeks_days.csv", HEADER[:3] + ["ga"] + HEADER[4:],
          rows(r0_ga_days="40+1", r1_ga_days="39+9", r2_ga_days="39+2", r3_ga_days="41", r4_ga_days="38+0",
               r5_ga_days="39+6"))
    table("p_dates_mixed.csv", HEADER, rows(r1_delivery="2023-08-22", r3_delivery="11/15/2023"))
    table("p_date_impossible.csv", HEADER, rows(r4_delivery="31/02/2024"))
    table("p_category_spaces.csv", HEADER, rows(r0_sex="meisje ", r1_sex="  jongen", r3_education=" lager onderwijs  "))
    table("p_unmapped_category.csv", HEADER, rows(r2_education="universiteit"))
    table("p_category_case.csv", HEADER, rows(r4_sex="Meisje"))

    # ---------------------------------------------------------------- workbooks
    people = [HEADER] + [list(r) for r in ROWS]
    xlsx("x_title_row.xlsx", {"data": ([["Cohort bad: participants (export 2024)"] + [None] * 6] + people,
                                       ["A1:G1"])})
    xlsx("x_group_header.xlsx", {"data": ([[None, "Mother", None, "Child", None, None, None]] + people,
                                          ["B1:C1", "D1:G1"])})
    xlsx("x_two_sheets.xlsx", {"Info": ([["Participants of cohort bad"], ["exported 2024"]], []),
                               "Data": (people, [])})
    xlsx("x_two_data_sheets.xlsx", {"Visit 1": (people, []), "Visit 2": (people, [])})
    xlsx("x_first_sheet_is_data.xlsx", {"Data": (people, []), "Notes": ([["codes: see codebook"]], [])})
    xlsx("x_empty.xlsx", {"Sheet1": ([], [])})
    xlsx("x_empty_first_sheet.xlsx", {"Sheet1": ([], []), "Data": (people, [])})
    xlsx("x_duplicated_columns.xlsx", {"data": ([HEADER + ["age"]] + [r + [r[1]] for r in ROWS], [])})
    header3 = [[None] * 7, [None] * 7] + [HEADER] + [list(r) for r in rows(r2_age="onbekend")]
    xlsx("x_header_on_row3.xlsx", {"data": (header3, [])})
    dated = [HEADER] + [list(r) for r in ROWS]
    dated[1][6] = datetime.datetime(2024, 7, 17)
    dated[2][6] = datetime.datetime(2023, 8, 22)
    dated[4][6] = "2023-11-15"  # a text cell in another format among real dates
    xlsx("x_dates.xlsx", {"data": (dated, [])})
    # Real date cells and text dates in the declared format (%d/%m/%Y), without the odd one out.
    xlsx("x_dates_ok.xlsx", {"data": ([row for i, row in enumerate(dated) if i != 4], [])})
    numbers = [HEADER] + [list(r) for r in ROWS]
    for r in numbers[1:]:
        r[1] = float(r[1])
    numbers[3][1] = datetime.datetime(2024, 5, 28)  # Excel turned "28.5" into a date
    xlsx("x_number_as_date.xlsx", {"data": (numbers, [])})
    floats = [["pid", "age"], [7001.0, 31.0], [7002.0, 29.0], [7003.0, 35.0]]
    xlsx("x_float_ids.xlsx", {"data": (floats, [])})
    (HERE / "x_not_a_workbook.xlsx").write_bytes((HERE / "participants.csv").read_bytes())

    # ---------------------------------------------------------------- parquet
    def strings(values):
        return pa.array(values, type=pa.string())

    parquet("q_float_ids.parquet", [pa.array([7001.0, 7002.0, None]), strings(["31", "29", "35"])], ["pid", "age"])
    parquet("q_duplicated_columns.parquet", [strings(["BX-101", "BX-102"]), pa.array([31.0, 29.0]),
                                             pa.array([30.0, 28.0])], ["pid", "age", "age"])
    parquet("q_infinite.parquet", [strings(["BX-101", "BX-102", "BX-103"]), pa.array([31.0, float("inf"), 28.0])],
            ["pid", "age"])
    parquet("q_dates.parquet", [strings(["BX-101", "BX-102"]), pa.array([31.0, 29.0]),
                                pa.array([datetime.date(2024, 7, 17), datetime.date(2023, 8, 22)])],
            ["pid", "age", "delivery"])
    (HERE / "q_not_parquet.parquet").write_bytes((HERE / "participants.csv").read_bytes())

    # ---------------------------------------------------------------- biomarker tables
    immune = ["pid", "il6_pg_ml", "crp_mg_l"]
    table("i_no_id_matches.csv", immune, [["ZZ-901", "0.8", "1.2"], ["ZZ-902", "1.1", "0.4"]])
    table("i_some_ids_unknown.csv", immune, [["BX-101", "0.8", "1.2"], ["ZZ-902", "1.1", "0.4"],
                                             ["BX-103", "0.5", "2.0"], ["ZZ-904", "0.9", "0.3"]])
    table("i_ids_case.csv", immune, [["bx-101", "0.8", "1.2"], ["bx-102", "1.1", "0.4"], ["BX-103", "0.5", "2.0"]])
    table("i_negative.csv", immune, [["BX-101", "0.8", "1.2"], ["BX-102", "1.1", "0.4"], ["BX-103", "0.5", "-2.0"]])
    table("i_below_limit_undeclared.csv", immune, [["BX-101", "<0.4", "1.2"], ["BX-102", "1.1", "0.4"]])
    table("i_duplicated_ids.csv", immune, [["BX-101", "0.8", "1.2"], ["BX-102", "1.1", "0.4"],
                                           ["BX-101", "0.5", "2.0"]])
    table("i_missing_column.csv", ["pid", "il6", "crp_mg_l"], [["BX-101", "0.8", "1.2"]])
    table("mb_name_collision.csv", ["pid", "Lactate", "lactate"], [["BX-101", "1663", "1700"]])
    table("c_beta_outside.csv", ["pid", "cg04111177", "cg15910486"],
          [["BX-101", "0.086", "0.18"], ["BX-102", "0.118", "0.22"], ["BX-103", "1.7", "0.19"]])
    table("c_beta_percent.csv", ["pid", "cg04111177", "cg15910486"],
          [["BX-101", "8.6", "18.0"], ["BX-102", "11.8", "22.0"]])
    table("mb_mmol.csv", ["pid", "lactate", "pyruvate"],
          [["BX-101", "1.66305", "0.09517"], ["BX-102", "1.69481", "0.0608"], ["BX-103", "1.7825", "<LOD"]])
    table("mb_only_id.csv", ["pid"], [["BX-101"], ["BX-102"]])
    table("c_only_id.csv", ["pid"], [["BX-101"], ["BX-102"]])
    table("c_name_collision.csv", ["pid", "cg04111177", "CG04111177"], [["BX-101", "0.08", "0.09"]])
    mx = ["cpg", "BX-101", "BX-102", "BX-103"]
    table("mx_beta_outside.csv", mx, [["cg900000001", "0.44", "0.38", "0.40"],
                                      ["cg900000002", "0.95", "1.94", "0.92"]])
    table("mx_all_missing.csv", mx, [["cg900000001", "0.44", "0.38", "0.40"], ["cg900000002", "", "NA", ""],
                                     ["cg900000003", "0.12", "0.10", "0.11"], ["cg900000004", "NA", "", ""]])
    table("mx_text.csv", mx, [["cg900000001", "0.44", "0.38", "0.40"], ["cg900000002", "0.95", "failed", "0.92"]])
    table("mx_unknown_sample.csv", mx + ["ZZ-999"], [["cg900000001", "0.44", "0.38", "0.40", "0.41"]])
    table("mx_duplicated_sample.csv", ["cpg", "BX-101", "BX-102", "BX-101"], [["cg900000001", "0.44", "0.38", "0.40"]])
    table("mx_no_cpg_column.csv", ["probe", "BX-101", "BX-102"], [["cg900000001", "0.44", "0.38"]])
    table("mx_duplicated_cpg.csv", mx, [["cg900000001", "0.44", "0.38", "0.40"],
                                        ["cg900000001", "0.45", "0.39", "0.41"]])
    hair = ["pid", "seg_from", "seg_to", "cortisol"]
    table("h_inverted.csv", hair, [["BX-101", "0", "3", "9.58"], ["BX-101", "6", "3", "5.48"]])
    table("h_too_long.csv", hair, [["BX-101", "0", "3", "9.58"], ["BX-102", "0", "3", "5.1"],
                                   ["BX-102", "3", "75", "5.48"]])
    table("h_overlap.csv", hair, [["BX-101", "0", "3", "9.58"], ["BX-102", "0", "3", "4.2"],
                                  ["BX-101", "2", "5", "5.48"]])
    table("h_negative_cortisol.csv", hair, [["BX-101", "0", "3", "-9.58"]])
    qp = ["plate", "sample", "target", "ct"]

    def wells(edit=None, plates=("P01", "P02"), samples=("CAL", "BX-101", "BX-102")):
        out = [[p, s, t, c] for p in plates for s in samples for t, c in (("telomere", "15.4"), ("36B4", "22.1"))]
        if edit:
            edit(out)
        return out

    table("qp_ct_zero.csv", qp, wells(lambda w: w[3].__setitem__(3, "0")))
    table("qp_no_calibrator.csv", qp, [w for w in wells() if not (w[0] == "P02" and w[1] == "CAL")])
    table("qp_unknown_target.csv", qp, wells(lambda w: (w[2].__setitem__(2, "tel"), w[8].__setitem__(2, "tel"))))
    table("qp_target_case.csv", qp, wells(lambda w: w[3].__setitem__(2, "36b4")))
    table("qp_undetermined.csv", qp, wells(lambda w: w[4].__setitem__(3, "Undetermined")))
    table("qp_calibrator_one_target.csv", qp, [w for w in wells() if not (w[0] == "P01" and w[1] == "CAL"
                                                                           and w[2] == "36B4")])
    table("qp_empty_sample.csv", qp, wells(lambda w: w[5].__setitem__(1, "")))
    table("qp_unknown_sample.csv", qp, wells(lambda w: (w[8].__setitem__(1, "ZZ-950"), w[9].__setitem__(1, "ZZ-950"))))
    table("qp_empty_plate.csv", qp, wells(lambda w: w[7].__setitem__(0, "")))
    mechanism_inputs()
    cns_inputs()
    followup_inputs()
    hostile_inputs()


def _edited(header, base, *edits):
    """A copy of the rows ``base`` with (row, column name, value) edits."""
    out = [list(r) for r in base]
    for row, col, value in edits:
        out[row][header.index(col)] = value
    return out


def cns_inputs():
    """CNS measures (a lab's MRI export): a valid table, then values outside the declared
    plausibility limits (a unit slip), a 0 in a measure analysed on the log scale and a
    text note in a number column."""
    mri = ["pid", "amy_r_mm3", "hipp_mm3", "dmn_fc_z"]
    base = [["BX-101", "1520.4", "3890.2", "0.31"], ["BX-102", "1611.0", "4012.7", "0.12"],
            ["BX-103", "1490.0", "3755.1", "0.22"], ["BX-104", "1702.3", "4150.0", "0.05"]]

    def edited(*edits):
        return _edited(mri, base, *edits)

    table("n_mri.csv", mri, base)
    table("n_out_of_range.csv", mri, edited((1, "amy_r_mm3", "16110"), (3, "amy_r_mm3", "1.7023")))
    table("n_log_not_positive.csv", mri, edited((2, "hipp_mm3", "0")))
    table("n_text.csv", mri, edited((1, "dmn_fc_z", "motion artefact")))


def followup_inputs():
    """Child follow-up to age 2 (one row per child and visit): a valid table, then a visit
    after age 2, the same child twice on one day, a weight in grams, a weight WHO flags as
    implausible for the age and an age given in weeks where months were declared."""
    fu = ["pid", "age_d", "weight", "length", "head"]
    base = [["BX-101", "183", "7.6", "66.8", "43.1"], ["BX-101", "366", "9.1", "74.9", "45.9"],
            ["BX-102", "180", "7.9", "67.6", "43.9"], ["BX-103", "731", "11.7", "85.1", "47.8"]]

    def edited(*edits):
        return _edited(fu, base, *edits)

    table("fu_visits.csv", fu, base)
    table("fu_after_two.csv", fu, edited((3, "age_d", "1100")))
    table("fu_same_day.csv", fu, edited((1, "age_d", "183")))
    table("fu_grams.csv", fu, edited((2, "weight", "7900")))
    table("fu_implausible.csv", fu, edited((2, "weight", "25.0")))
    table("fu_weeks.csv", ["pid", "age_m", "weight", "length", "head"],
          [[r[0], str(w), *r[2:]] for r, w in zip(base, (26, 52, 26, 104))])


def mechanism_inputs():
    """Raw tables of the later mechanisms (mtDNA qPCR, microbiome, questionnaire items) and
    the bad values their preparation must never see: negative concentrations, a Ct of 0 or
    above 40, a segment longer than the hair, a gestational age of 60 weeks."""
    mt = ["plate", "sample", "target", "ct"]

    def mt_wells(edit=None):
        out = [[p, s, t, c] for p in ("M01", "M02") for s in ("CAL", "BX-101", "BX-102")
               for t, c in (("ND1", "17.2"), ("B2M", "25.3"))]
        if edit:
            edit(out)
        return out

    table("mtdna.csv", mt, mt_wells())
    table("mt_ct_zero.csv", mt, mt_wells(lambda w: w[6].__setitem__(3, "0")))
    table("mt_unknown_target.csv", mt, mt_wells(lambda w: w[2].__setitem__(2, "ND2")))
    qp = ["plate", "sample", "target", "ct"]
    wells = [[p, s, t, c] for p in ("P01", "P02") for s in ("CAL", "BX-101", "BX-102")
             for t, c in (("telomere", "15.4"), ("36B4", "22.1"))]
    wells[9][3] = "41.7"
    table("qp_ct_above_40.csv", qp, wells)
    table("mb_negative.csv", ["pid", "lactate", "pyruvate"],
          [["BX-101", "1663.05", "95.17"], ["BX-102", "-12.5", "60.80"], ["BX-103", "1782.50", "<LOD"]])
    hair = ["pid", "seg_from", "seg_to", "cortisol"]
    table("h_longer_than_hair.csv", hair, [["BX-101", "0", "3", "9.58"], ["BX-101", "3", "6", "5.48"],
                                           ["BX-101", "6", "9", "4.1"], ["BX-102", "0", "3", "5.1"]])
    table("h_longer_than_hair_column.csv", hair + ["hair_cm"],
          [["BX-101", "0", "3", "9.58", "8"], ["BX-101", "3", "6", "5.48", "8"], ["BX-101", "6", "9", "4.1", "8"],
           ["BX-102", "0", "3", "5.1", "12"]])
    taxa = ["pid", "Bacteroides", "Prevotella", "Faecalibacterium"]
    table("microbiome.csv", taxa, [["BX-101", "12000", "300", "4000"], ["BX-102", "8000", "0", "5100"]])
    table("mc_negative.csv", taxa, [["BX-101", "12000", "300", "4000"], ["BX-102", "8000", "-3", "5100"]])
    table("mc_missing.csv", taxa, [["BX-101", "12000", "", "4000"], ["BX-102", "8000", "0", "5100"]])
    items = [f"epds_{i}" for i in range(1, 11)]
    answers = [["BX-101"] + ["1"] * 10, ["BX-102"] + ["0", "2", "1", "1", "0", "3", "1", "0", "1", "0"],
               ["BX-103"] + ["2"] * 10]
    answers[2][3] = "4"
    table("p_epds_item_out_of_range.csv", ["pid"] + items, answers)
    table("p_ga_60_weeks.csv", ["pid", "ga"], [["BX-101", "39+4"], ["BX-102", "60+0"], ["BX-103", "40+1"]])


def hostile_inputs():
    """Issue #17: IDs that are the same person written differently (Unicode look-alikes,
    leading zeros), workbooks whose cells differ from what Excel shows (formulas without
    saved values, merged cells, hidden rows and columns), categories that are IDs, free
    text or formulas, sentinel codes in a variable without a range, a qPCR file without
    its header, and methylation matrices broken in Parquet, TSV and late batches."""
    # ------------------------------------------------------------ IDs
    table("p_ids_unicode_dash.csv", HEADER, rows(r4_pid="BX\u2010102"))        # U+2010 hyphen
    table("p_ids_minus_sign.csv", HEADER, rows(r4_pid="BX\u2212102"))          # U+2212 minus
    table("p_ids_zwj.csv", HEADER, rows(r3_pid="BX-\u200d103"))                # zero-width joiner
    table("p_ids_fullwidth.csv", HEADER, rows(r5_pid="\uff22\uff38-104"))       # full-width B X
    table("p_ids_nbsp.csv", HEADER, rows(r5_pid="BX-\u00a0101"))               # no-break space inside
    numeric = [["0242071", "31"], ["0242072", "29"], ["242071", "35"], ["0242074", "33"]]
    table("p_ids_leading_zeros.csv", ["pid", "age"], numeric)
    table("i_ids_unicode.csv", ["pid", "il6_pg_ml", "crp_mg_l"],
          [["BX\u2010101", "0.8", "1.2"], ["\uff22\uff38-102", "1.1", "0.4"], ["BX-\u200b103", "0.5", "2.0"]])
    table("i_ids_unicode_twice.csv", ["pid", "il6_pg_ml", "crp_mg_l"],
          [["BX-101", "0.8", "1.2"], ["BX-102", "1.1", "0.4"], ["BX\u2011101", "0.5", "2.0"]])
    table("i_ids_zeros_twice.csv", ["pid", "il6_pg_ml", "crp_mg_l"],
          [["07001", "0.8", "1.2"], ["7001", "1.1", "0.4"], ["07003", "0.5", "2.0"]])
    table("mx_unicode_samples.csv", ["cpg", "BX\u2010101", "\uff22\uff38-102", "BX-103"],
          [["cg900000001", "0.44", "0.38", "0.40"], ["cg900000002", "0.95", "0.94", "0.92"]])
    table("mx_same_sample_unicode.csv", ["cpg", "BX-101", "BX-102", "BX\u2010101"],
          [["cg900000001", "0.44", "0.38", "0.40"]])

    # ------------------------------------------------------------ workbooks
    people = [HEADER] + [list(r) for r in ROWS]

    def workbook(name, edit):
        book = openpyxl.Workbook()
        ws = book.active
        ws.title = "Data"
        for r, values in enumerate(people, start=1):
            for c, value in enumerate(values, start=1):
                ws.cell(row=r, column=c, value=value)
        edit(ws)
        book.save(HERE / name)

    def age_formulas(ws):  # age as formulas: openpyxl saves no computed value
        for r in range(2, len(people) + 1):
            ws.cell(row=r, column=2, value=f"=ROUND({people[r - 1][1]},1)")

    workbook("x_formulas_uncached.xlsx", age_formulas)
    workbook("x_merged_body.xlsx", lambda ws: ws.merge_cells("E3:E4"))
    workbook("x_hidden_rows.xlsx", lambda ws: (ws.row_dimensions.__getitem__(4).__setattr__("hidden", True),
                                               ws.row_dimensions.__getitem__(6).__setattr__("hidden", True)))

    def hide_notes(ws):
        ws.cell(row=1, column=8, value="notes")
        ws.cell(row=3, column=8, value="moved abroad")
        ws.column_dimensions["H"].hidden = True
    workbook("x_hidden_columns.xlsx", hide_notes)
    workbook("x_hidden_empty_column.xlsx", lambda ws: setattr(ws.column_dimensions["J"], "hidden", True))

    # ------------------------------------------------------------ categories that must never be quoted
    table("p_recode_free_text.csv", HEADER,
          rows(r2_education='"verhuisd naar het buitenland, diploma nog niet erkend (zie notities)"'))
    table("p_recode_formula.csv", HEADER, rows(r1_sex='"=HYPERLINK(""http://x.invalid"",""jongen"")"',
                                               r3_sex="+1+cmd|' /C calc'!A0", r5_sex="@SUM(1+1)"))
    many = [[f"BX-{200 + i}", "30.0", "3300", "280", f"note {i}", "master", "01/02/2024"] for i in range(12)]
    table("p_recode_distinct.csv", HEADER, many)

    # ------------------------------------------------------------ sentinels in a variable without a range
    ses = ["pid", "age", "nses"]
    table("p_ses_sentinel.csv", ses, [["BX-101", "31", "0.4"], ["BX-102", "29", "-999"], ["BX-103", "35", "-0.2"],
                                      ["BX-104", "33", "1.1"], ["BX-105", "28", "-999"], ["BX-106", "30", "0.0"]])
    table("p_ses_sentinel_9999.csv", ses, [["BX-101", "31", "0.4"], ["BX-102", "29", "0.3"],
                                           ["BX-103", "35", "9999"], ["BX-104", "33", "1.1"]])
    table("p_ses_outlier.csv", ses, [["BX-101", "31", "0.4"], ["BX-102", "29", "0.3"], ["BX-103", "35", "-0.2"],
                                     ["BX-104", "33", "1.1"], ["BX-105", "28", "0.9"], ["BX-106", "30", "48.0"]])

    # ------------------------------------------------------------ qPCR and immune exported without header
    wells = [[p, s, t, c] for p in ("P01", "P02") for s in ("CAL", "BX-101", "BX-102")
             for t, c in (("telomere", "15.4"), ("36B4", "22.1"))]
    wells[0] = ["P01", "A10", "BX-101", "36B4", "24.381"]
    text("qp_headerless.csv", [",".join(w[:4]) if len(w) == 4 else ",".join([w[0], w[2], w[3], w[4]])
                               for w in wells])
    text("i_headerless.csv", ["BX-101,0.837,13.88", "BX-102,1.395,0.58", "BX-103,0.4,2.1"])

    # ------------------------------------------------------------ methylation matrices
    mx = ["cpg", "BX-101", "BX-102", "BX-103"]
    cpgs = [f"cg9{k:08d}" for k in range(1, 6)]

    def matrix_columns(cells):
        return [strings(cpgs[:len(cells)])] + [pa.array([r[j] for r in cells], type=pa.float64()) for j in range(3)]

    def strings(values):
        return pa.array(values, type=pa.string())

    base = [[0.44, 0.38, 0.40], [0.95, 0.94, 0.92], [0.12, 0.10, 0.11], [0.50, 0.51, 0.52]]
    beta = [list(r) for r in base]
    beta[1][1] = 1.7
    parquet("mx_beta_outside.parquet", matrix_columns(beta), mx)
    dup = matrix_columns(base)
    dup[0] = strings([cpgs[0], cpgs[1], cpgs[0], cpgs[3]])
    parquet("mx_duplicated_cpg.parquet", dup, mx)
    parquet("mx_text_column.parquet", [strings(cpgs[:2]), pa.array([0.4, 0.5]), strings(["0.4", "n.d."]),
                                       pa.array([0.4, 0.5])], mx)
    table("mx_text.tsv", mx, [["cg900000001", "0.44", "0.38", "0.40"], ["cg900000002", "0.95", "failed", "0.92"]],
          sep="\t")
    table("mx_semicolon.csv", mx, [["cg900000001", "0.44", "0.38", "0.40"]], sep=";")
    text("mx_short_row.csv", [",".join(mx), "cg900000001,0.44,0.38,0.40", "cg900000002,0.95,0.94",
                              "cg900000003,0.12,0.10,0.11"])
    text("mx_headerless.csv", ["cg900000001,0.44,0.38,0.40", "cg900000002,0.95,0.94,0.92"])
    table("mx_header_only.csv", mx, [])
    table("mx_cp1252.csv", mx + ["notes"], [["cg900000001", "0.44", "0.38", "0.40", "ok"],
                                            ["cg900000002", "0.95", "0.94", "0.92", "r\u00e9p\u00e9t\u00e9"]],
          encoding="cp1252")
    table("mx_utf16_no_bom.csv", mx, [["cg900000001", "0.44", "0.38", "0.40"]], encoding="utf-16-le")
    table("mx_sentinel.csv", mx, [["cg900000001", "0.44", "-999", "0.40"], ["cg900000002", "0.95", "0.94", "0.92"]])


if __name__ == "__main__":
    main()
