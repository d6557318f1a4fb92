"""Multiple-testing corrections."""

from __future__ import annotations

import numpy as np

from first1000.errors import ModelError


def bh_fdr(p) -> np.ndarray:
    """Benjamini–Hochberg false-discovery-rate adjusted p-values (q-values).

    Parameters
    ----------
    p : array-like of float
        p-values in [0, 1], any shape; NaN marks a test that was not performed.

    Returns
    -------
    numpy.ndarray of float
        q-values, same shape and order as ``p``. NaN inputs stay NaN and do not count
        toward the number of tests m.

    Notes
    -----
    With the m non-missing p-values sorted, p_(1) <= ... <= p_(m),
    q_(i) = min_{j >= i} min(1, m · p_(j) / j)
    (Benjamini & Hochberg, J. R. Stat. Soc. B 57:289–300, 1995), computed as
    ``statsmodels.stats.multitest.multipletests(p, method="fdr_bh")`` computes it
    (statsmodels 0.15 ``fdrcorrection``: p_(i) divided by i / m, running minimum from the
    largest, capped at 1), on the non-missing values: the same bits (tests/stats check
    them against statsmodels and R's ``p.adjust(p, "BH")``). Written out because importing
    statsmodels' module imports ``scipy.stats``: ~2 s of every EWAS gather job (#19).

    Raises
    ------
    ModelError
        If a non-missing value lies outside [0, 1] (not a p-value: a programming error).
    """
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    flat = p.ravel()
    present = ~np.isnan(flat)
    values = flat[present]
    if np.any((values < 0) | (values > 1)):
        raise ModelError("bh_fdr needs p-values in [0, 1]; got values outside that range")
    if values.size == 0:
        return q
    order = np.argsort(values)
    ecdf = np.arange(1, values.size + 1) / float(values.size)
    adjusted = np.minimum.accumulate((values[order] / ecdf)[::-1])[::-1]
    adjusted[adjusted > 1] = 1
    q_flat = q.ravel()
    q_present = np.empty_like(adjusted)
    q_present[order] = adjusted
    q_flat[present] = q_present
    return q_flat.reshape(p.shape)
