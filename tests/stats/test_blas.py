"""first1000.stats.blas: one threadpoolctl controller re-used until a module is imported."""

import sys
import types

import numpy as np
import pytest

from threadpoolctl import threadpool_info, threadpool_limits

from first1000.stats import blas


def _blas_threads():
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_the_controller_is_built_once_and_again_after_an_import(monkeypatch):
    first = blas._controller()
    assert blas._controller() is first  # building one walks every loaded library
    monkeypatch.setitem(sys.modules, "first1000_test_loaded_module", types.ModuleType("x"))
    again = blas._controller()
    assert again is not first  # an import may have loaded another BLAS (scipy.linalg's)
    assert blas._controller() is again


def test_sections_limit_to_one_thread_and_restore_the_callers_limit():
    a = np.arange(9.0).reshape(3, 3)  # numpy's BLAS is loaded
    with threadpool_limits(2, "blas"):
        if _blas_threads() != {2}:
            pytest.skip("no BLAS whose threads threadpoolctl controls")
    with threadpool_limits(2, "blas"):
        with blas.single_threaded() as controlled:
            assert controlled
            assert _blas_threads() == {1}
            assert np.array_equal(a @ a, [[15, 18, 21], [42, 54, 66], [69, 90, 111]])
        assert _blas_threads() == {2}
        with blas.one_thread():
            assert _blas_threads() == {1}
        assert _blas_threads() == {2}
