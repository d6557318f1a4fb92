"""Mitochondrial DNA content by qPCR: mt/n ratio of a mitochondrial to a nuclear gene.

Same machinery as telomere length (:mod:`first1000.mechanisms.qpcr`, via
:func:`first1000.mechanisms.telomeres.prepare_qpcr`): replicate QC, the Pfaffl ratio of
the mitochondrial target (e.g. MT-ND1) to a single-copy nuclear reference (e.g. B2M,
HBB) against the calibrator on each plate, ln ratio per participant (mean over plates)
and its within-cohort z-score. Biomarkers: ``mtdna_content_ln``, ``mtdna_content_z``.
The ingest table ``mtdna_qpcr`` has the layout of ``telomere_qpcr`` with the targets
``mt`` and ``nuclear`` named in the mapping file.
"""

from __future__ import annotations

import pandas as pd

from first1000.mechanisms import qpcr
from first1000.mechanisms.telomeres import prepare_qpcr

#: The QC figure of this mechanism (first1000.figures.qc.QC_FIGURES).
QC_FIGURE = "mtdna_control_chart"


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    return prepare_qpcr(tables, settings, targets=qpcr.MTDNA_TARGETS, name="mtdna_content",
                        mechanism="mitochondria", kind="mtdna_qpcr", ratio_column="calibrator_mt_n")
