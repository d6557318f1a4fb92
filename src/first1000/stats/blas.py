"""BLAS thread control shared by the engines.

:func:`one_thread` runs batched small solves with one BLAS thread (threads only add
contention there; the workflow runs one job per core). :func:`single_threaded` is for
products whose summation order must not depend on the thread count (see
:func:`first1000.stats.ewas._products_columnwise`): it also checks that the limit took
effect in the calling thread and keeps other threads from changing it meanwhile.
"""

from __future__ import annotations

import contextlib
import sys
import threading

_EXCLUSIVE = threading.RLock()
_CONTROLLER: tuple[int, object] | None = None  # (len(sys.modules) when built, controller)


def _controller():
    """A threadpoolctl controller of the BLAS libraries loaded (None without threadpoolctl).
    Building one walks every loaded shared library (~0.1 s: 0.85 s of a 450,000-CpG EWAS
    shard when built for every block, #19), so it is re-used while the number of imported
    modules stays the same: a BLAS library comes with an extension module (scipy.linalg
    loads its own OpenBLAS). A library loaded by ctypes alone is not seen; numpy's, whose
    products :func:`single_threaded` limits, is loaded with numpy. Takes the lock of
    :func:`single_threaded`, so it waits while another thread is inside one."""
    global _CONTROLLER
    with _EXCLUSIVE:
        if _CONTROLLER is None or _CONTROLLER[0] != len(sys.modules):
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
                return None
            _CONTROLLER = (len(sys.modules), ThreadpoolController())
        return _CONTROLLER[1]


@contextlib.contextmanager
def one_thread():
    """BLAS limited to one thread inside (the libraries loaded now), restored on exit."""
    controller = _controller()
    if controller is None:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


@contextlib.contextmanager
def single_threaded():
    """One BLAS thread inside, held exclusively (an RLock: the sections of other threads
    wait, so none restores its own limit while this one runs); yields whether every BLAS
    library reports one thread inside, in this thread (False without threadpoolctl or a
    BLAS it knows, and where the library ignores the limit: OpenBLAS 0.3.31 ignores one set
    from a worker thread after the main thread set another, measured)."""
    controller = _controller()
    if controller is None:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield False
        return
    with _EXCLUSIVE:
        with controller.limit(limits=1, user_api="blas"):
            blas = controller.select(user_api="blas").lib_controllers
            yield bool(blas) and all(lib.num_threads == 1 for lib in blas)
