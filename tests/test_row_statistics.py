"""The row medians and quantiles every detector uses equal NumPy's, whichever path computes them.

Wide rows are partitioned by groups of equal counts (NaN last as infinity), narrow ones or rows
of many different counts sorted: the values must be the same to the last bit as the sort.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from revwatch.detectors._arrays import nanmedian_rows, nanquantile_rows


def _sorted_median(a: np.ndarray) -> np.ndarray:
    s = np.sort(a, axis=1)
    n = np.count_nonzero(~np.isnan(a), axis=1)
    rows = np.arange(a.shape[0])
    lo = np.clip((n - 1) // 2, 0, a.shape[1] - 1)
    hi = np.clip(n // 2, 0, a.shape[1] - 1)
    out = 0.5 * (s[rows, lo] + s[rows, hi])
    out[n == 0] = np.nan
    return out


@settings(max_examples=80, deadline=None)
@given(
    a=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.sampled_from([1, 5, 63, 64, 65, 200])),
        elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan), st.sampled_from([0.0, 1.0])),
    ),
    q=st.sampled_from([0.0, 0.1, 0.5, 0.9, 0.9983, 1.0]),
)
def test_row_statistics_equal_the_sort_and_numpy(a: np.ndarray, q: float) -> None:
    med, n = nanmedian_rows(a)
    np.testing.assert_array_equal(med, _sorted_median(a))
    np.testing.assert_array_equal(n, np.count_nonzero(~np.isnan(a), axis=1))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with no value: NaN, as ours
        expected = np.nanquantile(a, q, axis=1)
    np.testing.assert_allclose(nanquantile_rows(a, q), expected, rtol=1e-12, atol=1e-9)


def test_many_different_counts_fall_back_to_the_sort() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((40, 100))
    for i in range(40):  # forty different counts
        a[i, : i + 1] = np.nan
    np.testing.assert_array_equal(nanmedian_rows(a)[0], _sorted_median(a))


@pytest.mark.parametrize(("k", "nan_share"), [(3, 0.0), (3, 0.4), (6, 0.3), (6, 1.0)])
def test_the_calendar_medians_equal_numpys_nanmedian(k: int, nan_share: float) -> None:
    from revwatch.detectors.calendar import _median_of_first_axis

    rng = np.random.default_rng(k)
    stack = rng.standard_normal((k, 30, 20))
    stack[rng.random(stack.shape) < nan_share] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(stack, axis=0)
    np.testing.assert_array_equal(_median_of_first_axis(stack), expected)
