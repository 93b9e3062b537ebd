"""Compiled per-series kernel for the default method's window statistics.

The default method (:mod:`revwatch.detect.robust`) computes, for every period,
a handful of medians over each series' short trailing window. In NumPy that is
a few sorts of ``(n_series, window)`` arrays per period, about 5 microseconds
per series-period. When `numba` is installed (the ``fast`` extra), this module
computes the same statistics in one compiled pass over the series, in
parallel across cores; :func:`window_stats` falls back to ``None`` (the NumPy
path) otherwise. Both paths compute the same quantities with the same
formulas; results agree to floating-point rounding (``log``/``exp`` may differ
in the last bit), which ``tests/test_kernels.py`` checks.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["HAVE_NUMBA", "log_spread_rows", "seasonal_ratios", "window_stats"]

_MAD_TO_SIGMA = 1.4826

try:  # pragma: no cover - depends on the environment
    if os.environ.get("REVWATCH_NO_NUMBA"):
        raise ImportError("disabled by REVWATCH_NO_NUMBA")
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment
    numba = None  # type: ignore[assignment]
    HAVE_NUMBA = False


def _median_of(buf: np.ndarray, k: int) -> float:
    """Median of ``buf[:k]`` (sorted in place), like :func:`nanmedian_rows`."""
    for i in range(1, k):
        v = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v
    if k == 0:
        return np.nan
    return 0.5 * (buf[(k - 1) // 2] + buf[k // 2])


def _stats(
    clean: np.ndarray,
    divisor: np.ndarray,
    t: int,
    lo_scale: int,
    lo: int,
    seg_start: np.ndarray,
    prior_slope: np.ndarray,
    level: np.ndarray,
    slope: np.ndarray,
    own_scale: np.ndarray,
    n_diffs: np.ndarray,
    n_obs_out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    n_series = clean.shape[0]
    width_scale = t - lo_scale
    width = t - lo
    offset = lo - lo_scale
    for i in numba.prange(n_series):
        wide = np.empty(width_scale)
        for j in range(width_scale):
            col = lo_scale + j
            v = clean[i, col] / divisor[i, j]
            if col < seg_start[i]:
                v = np.nan
            wide[j] = v
        # scale from period-over-period changes
        buf = np.empty(max(width_scale, 1))
        nd = 0
        for j in range(1, width_scale):
            d = wide[j] - wide[j - 1]
            if not np.isnan(d):
                buf[nd] = d
                nd += 1
        if nd > 0:
            med_d = _median_kernel(buf, nd)
            nd2 = 0
            for j in range(1, width_scale):
                d = wide[j] - wide[j - 1]
                if not np.isnan(d):
                    buf[nd2] = abs(d - med_d)
                    nd2 += 1
            mad = _median_kernel(buf, nd2)
            scale = _MAD_TO_SIGMA * mad / np.sqrt(2.0)
            scale = scale * (1.0 + 1.0 / max(nd - 0.8, 0.2))
        else:
            scale = np.nan
        own_scale[i] = scale
        n_diffs[i] = nd
        # the level/trend window and its observations
        n_obs = 0
        positive = True
        for j in range(width):
            v = wide[offset + j]
            if not np.isnan(v):
                n_obs += 1
                if not v > 0:
                    positive = False
        n_obs_out[i] = n_obs
        positive = positive and n_obs > 0
        fit = np.empty(max(width, 1))
        vals = np.empty(max(width, 1))
        xs = np.empty(max(width, 1))
        k = 0
        for j in range(width):
            v = wide[offset + j]
            if not np.isnan(v):
                vals[k] = v
                fit[k] = np.log(v) if positive else v
                xs[k] = lo + j
                k += 1
        tmp = np.empty(max(width, 1))
        for j in range(k):
            tmp[j] = vals[j]
        typical = _median_kernel(tmp, k)
        unit = abs(typical) if positive else 1.0
        fit_scale = scale / unit
        fit_prior = prior_slope[i] / unit
        third = n_obs // 3
        # thirds by rank
        n_left = third
        n_right = third
        n_mid = k - 2 * third
        left = np.nan
        right = np.nan
        mid = np.nan
        x_left = np.nan
        x_right = np.nan
        x_mid = np.nan
        if n_left > 0:
            sx = 0.0
            for j in range(n_left):
                tmp[j] = fit[j]
                sx += xs[j]
            left = _median_kernel(tmp, n_left)
            x_left = sx / n_left
            sx = 0.0
            for j in range(n_right):
                tmp[j] = fit[k - n_right + j]
                sx += xs[k - n_right + j]
            right = _median_kernel(tmp, n_right)
            x_right = sx / n_right
        if n_mid > 0:
            sx = 0.0
            for j in range(n_mid):
                tmp[j] = fit[n_left + j]
                sx += xs[n_left + j]
            mid = _median_kernel(tmp, n_mid)
            x_mid = sx / n_mid
        raw = (right - left) / (x_right - x_left)
        m = float(min(n_left, n_right))
        se = fit_scale * np.sqrt(np.pi / m) / (x_right - x_left) if m > 0 else np.nan
        shrink = 1.0 - (se / abs(raw)) ** 2
        shrink = min(max(shrink, 0.0), 1.0) if not np.isnan(shrink) else np.nan
        recent = (right - mid) / (x_right - x_mid)
        if np.isfinite(recent) and n_mid >= 1:
            if np.sign(recent) == np.sign(raw):
                raw = np.sign(raw) * min(abs(raw), abs(recent))
            else:
                raw = 0.0
        if third >= 2 and np.isfinite(raw) and np.isfinite(shrink):
            fit_slope = raw * shrink
        else:
            fit_slope = fit_prior
        if not np.isfinite(fit_slope):
            fit_slope = 0.0
        for j in range(k):
            tmp[j] = fit[j] + fit_slope * (t - xs[j])
        fit_level = _median_kernel(tmp, k)
        lev = np.exp(fit_level) if positive else fit_level
        level[i] = lev
        slope[i] = fit_slope * lev if positive else fit_slope


def _seasonal(
    values: np.ndarray,
    t: int,
    period: int,
    cycles: int,
    seg_start: np.ndarray,
    own: np.ndarray,
    n_cycles: np.ndarray,
) -> None:  # pragma: no cover - compiled
    need = max(2, (3 * period) // 4)
    for i in numba.prange(values.shape[0]):
        ratios = np.empty(cycles)
        k_used = 0
        for k in range(1, cycles + 1):
            start = t - k * period
            if start < 0:
                break
            total = 0.0
            count = 0
            for j in range(start, start + period):
                v = values[i, j]
                if v > 0:
                    total += v
                    count += 1
            first = values[i, start]
            if count >= need and seg_start[i] <= start and first > 0:
                ratios[k_used] = first / (total / count)
                k_used += 1
        own[i] = _median_kernel(ratios, k_used)
        n_cycles[i] = k_used


def _spread(si: np.ndarray, min_count: int, out: np.ndarray) -> None:  # pragma: no cover
    for i in numba.prange(si.shape[0]):
        total = 0.0
        n = 0
        for j in range(si.shape[1]):
            v = si[i, j]
            if v > 0 and np.isfinite(v):
                total += np.log(v)
                n += 1
        if n < max(2, min_count):
            out[i] = np.nan
            continue
        mean = total / n
        acc = 0.0
        for j in range(si.shape[1]):
            v = si[i, j]
            if v > 0 and np.isfinite(v):
                d = np.log(v) - mean
                acc += d * d
        out[i] = np.sqrt(acc / (n - 1))


_median_kernel: Any = None
_stats_kernel: Any = None
_seasonal_kernel: Any = None
_spread_kernel: Any = None


def _compile() -> Any:
    global _median_kernel, _stats_kernel, _seasonal_kernel, _spread_kernel
    if _stats_kernel is None:
        _median_kernel = numba.njit(cache=True, nogil=True, error_model="numpy")(_median_of)
        compile_parallel = numba.njit(cache=True, parallel=True, nogil=True, error_model="numpy")
        _stats_kernel = compile_parallel(_stats)
        _seasonal_kernel = compile_parallel(_seasonal)
        _spread_kernel = compile_parallel(_spread)
    return _stats_kernel


def window_stats(
    clean: np.ndarray,
    divisor: np.ndarray | None,
    t: int,
    window: int,
    window_scale: int,
    seg_start: np.ndarray,
    prior_slope: np.ndarray,
) -> tuple[np.ndarray, ...] | None:
    """Level, slope, own scale, number of changes and observations of every series at ``t``.

    Returns None when numba is not available (the caller then uses NumPy).
    """
    if not HAVE_NUMBA:
        return None
    kernel = _compile()
    n_series = clean.shape[0]
    lo_scale = max(0, t - window_scale)
    lo = max(0, t - window)
    if divisor is None:
        divisor = np.ones((n_series, t - lo_scale))
    level = np.empty(n_series)
    slope = np.empty(n_series)
    own_scale = np.empty(n_series)
    n_diffs = np.empty(n_series, dtype=np.int64)
    n_obs = np.empty(n_series, dtype=np.int64)
    kernel(
        np.ascontiguousarray(clean),
        np.ascontiguousarray(divisor, dtype=np.float64),
        t,
        lo_scale,
        lo,
        seg_start.astype(np.int64),
        prior_slope.astype(np.float64),
        level,
        slope,
        own_scale,
        n_diffs,
        n_obs,
    )
    return level, slope, own_scale, n_diffs, n_obs


def seasonal_ratios(
    values: np.ndarray, t: int, period: int, cycles: int, seg_start: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Median same-phase ratio over the last ``cycles`` cycles, and how many were used.

    The compiled path of ``revwatch.detect.robust._own_seasonal_index``; None
    when numba is not available.
    """
    if not HAVE_NUMBA:
        return None
    _compile()
    n_series = values.shape[0]
    own = np.empty(n_series)
    n_cycles = np.empty(n_series, dtype=np.int64)
    _seasonal_kernel(
        np.ascontiguousarray(values), t, period, cycles, seg_start.astype(np.int64), own, n_cycles
    )
    return own, n_cycles


def log_spread_rows(si: np.ndarray, min_count: int) -> np.ndarray | None:
    """Standard deviation of the log of each row's positive finite values (NaN ignored).

    The compiled path of ``revwatch.detect.robust.log_spread``; None when numba
    is not available.
    """
    if not HAVE_NUMBA:
        return None
    _compile()
    out = np.empty(si.shape[0])
    _spread_kernel(np.ascontiguousarray(si), int(min_count), out)
    return out
