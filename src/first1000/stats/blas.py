"""BLAS thread control shared by the engines.

The engines call BLAS on many small or fixed-shape products; one BLAS thread per process
avoids contention (the workflow already runs one job per core) and makes the summation
order of a product independent of the thread count (see
:func:`first1000.stats.ewas._products_columnwise`).
"""

from __future__ import annotations

import contextlib
import functools


@functools.lru_cache(maxsize=1)
def _controller():
    """threadpoolctl's view of the BLAS libraries loaded (built once: ~0.3 ms; each limit
    taken from it then costs ~15 us instead of ~350 us for ``threadpool_limits``)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return None
    return ThreadpoolController()


def one_thread():
    """Context manager: BLAS limited to one thread inside, restored on exit."""
    controller = _controller()
    if controller is None:  # pragma: no cover
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")
