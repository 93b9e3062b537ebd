"""Compiled per-series kernel for the default method's window statistics.

The default method (:mod:`revwatch.detectors.robust`) computes, for every period,
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

import importlib.util
import logging
import os
import threading
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "HAVE_NUMBA", "detect_arrays", "log_spread_rows", "preload_kernel", "seasonal_ratios",
    "window_stats",
]  # fmt: skip

_MAD_TO_SIGMA = 1.4826
_DBL_MAX = float(np.finfo(np.float64).max)
#: Windows up to this long are sorted by rank (k^2 branch-free compares); longer by insertion.
_RANK_MAX = 16
#: Scratch buffers are this much longer than their windows (see ``_sort_into``).
_PAD = 8

#: numba is installed (and not disabled by ``REVWATCH_NO_NUMBA``). It is imported on first
#: use (``_ready``): the import takes about 0.13 s of every command's start-up, and
#: ``preload_kernel`` does it in a thread while the data loads.
HAVE_NUMBA = (
    not os.environ.get("REVWATCH_NO_NUMBA") and importlib.util.find_spec("numba") is not None
)
numba: Any = None


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


def _sort_into(buf: np.ndarray, k: int, out: np.ndarray) -> bool:  # pragma: no cover
    """``out[:k]`` = ``buf[:k]`` in the order :func:`_median_of` sorts it, if no NaN.

    ``buf`` must have ``_PAD - 1`` cells of scratch beyond ``k`` (they are overwritten).

    Each value's place is its rank (smaller values, plus equal ones before
    it): the stable order of the insertion sort, without its unpredictable
    branches. Returns False (``out`` undefined) when ``buf[:k]`` has a NaN.
    """
    for i in range(k):
        if np.isnan(buf[i]):
            return False
    # up to a multiple of _PAD with +inf (never smaller than a value, and after all of
    # them): the vectorised compare loop then runs without a scalar remainder
    kp = (k + _PAD - 1) // _PAD * _PAD
    for j in range(k, kp):
        buf[j] = np.inf
    for i in range(k):
        v = buf[i]
        r = 0
        for j in range(kp):  # one loop over fixed bounds: the compiler vectorises it
            w = buf[j]
            r += (w < v) | ((w == v) & (j < i))
        out[r] = v
    return True


def _median4(a: float, b: float, c: float, d: float) -> float:  # pragma: no cover
    """:func:`_median_of` of four values (no NaN): half the sum of the middle two."""
    lo1, hi1 = (a, b) if a <= b else (b, a)
    lo2, hi2 = (c, d) if c <= d else (d, c)
    return 0.5 * ((lo1 if lo1 >= lo2 else lo2) + (hi1 if hi1 <= hi2 else hi2))


def _median_thirds(buf: np.ndarray, k: int) -> float:  # pragma: no cover
    """:func:`_median_of` of a third of a window (``buf[:k]``, no NaN; four is common)."""
    if k == 4:
        return _median4(buf[0], buf[1], buf[2], buf[3])
    return _median_kernel(buf, k)


def _median_small(buf: np.ndarray, k: int, out: np.ndarray) -> float:  # pragma: no cover
    """:func:`_median_of` of ``buf[:k]`` (``buf`` may be reordered, ``out`` is scratch)."""
    if k <= _RANK_MAX and _sort_into(buf, k, out):
        if k == 0:
            return np.nan
        return 0.5 * (out[(k - 1) // 2] + out[k // 2])
    return _median_kernel(buf, k)


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
    ws = max(t - lo_scale, 1)
    w = max(t - lo, 1)
    no_logs = np.empty((0, 0))
    no_cache = np.empty((0, 0))  # mode 0 uses neither
    no_counts = np.zeros((0, 2), dtype=np.int64)
    for i in numba.prange(n_series):
        lev, sl, sc, nd, nob = _stats_row(
            clean, i, divisor[i], t, lo_scale, lo, seg_start[i], prior_slope[i], False, no_logs,
            np.empty(ws + _PAD), np.empty(ws + _PAD), np.empty(w + _PAD), np.empty(w + _PAD),
            np.empty(w + _PAD), np.empty(w + _PAD), np.empty(max(ws, w) + _PAD), no_cache,
            no_cache, no_counts, 0,
        )  # fmt: skip
        level[i] = lev
        slope[i] = sl
        own_scale[i] = sc
        n_diffs[i] = nd
        n_obs_out[i] = nob


def _seasonal(
    values: np.ndarray,
    t: int,
    period: int,
    cycles: int,
    seg_start: np.ndarray,
    own: np.ndarray,
    n_cycles: np.ndarray,
) -> None:  # pragma: no cover - compiled
    for i in numba.prange(values.shape[0]):
        own[i], n_cycles[i] = _own_ratio_row(
            values, i, t, period, cycles, seg_start[i], np.empty(max(cycles, 1))
        )


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


# ----------------------------------------------------------------------------
# The whole detector in one compiled pass (see ``detect_robust``)
# ----------------------------------------------------------------------------


def _fmax(a: float, b: float) -> float:
    """``np.fmax``: the larger, ignoring a NaN."""
    return a if (a >= b or np.isnan(b)) else b


def _fmin(a: float, b: float) -> float:
    """``np.fmin``: the smaller, ignoring a NaN."""
    return a if (a <= b or np.isnan(b)) else b


def _maximum(a: float, b: float) -> float:
    """``np.maximum``: the larger, a NaN propagates."""
    return a if (a >= b or np.isnan(a)) else b


def _nan_to_num(x: float) -> float:
    """``np.nan_to_num`` of one float."""
    if np.isnan(x):
        return 0.0
    if x == np.inf:
        return _DBL_MAX
    if x == -np.inf:
        return -_DBL_MAX
    return x


def _sign(x: float) -> float:
    """``np.sign`` of one float (NaN stays NaN)."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    if x == 0:
        return 0.0
    return x


def _wallace_z1(tv: float, df: float) -> float:
    """:func:`revwatch.detectors._arrays.wallace_z` of one value."""
    c = (8.0 * df + 1.0) / (8.0 * df + 3.0)
    z = c * np.sqrt(df * np.log1p(tv * tv / df))
    return _sign(tv) * z


def _wallace_t1(zv: float, df: float) -> float:
    """:func:`revwatch.detectors._arrays.wallace_t` of one value."""
    c = (8.0 * df + 1.0) / (8.0 * df + 3.0)
    q = zv / c
    return np.sqrt(df * np.expm1(q * q / df))


def _select(a: np.ndarray, n: int, k: int) -> float:  # pragma: no cover - compiled
    """The ``k``-th smallest of ``a[:n]`` (no NaN); partitions ``a`` around it.

    Three-way quickselect: many equal values (constant series) stay linear.
    Afterwards every ``a[j]`` with ``j < k`` is at most the result.
    """
    lo = 0
    hi = n - 1
    while lo < hi:
        x0 = a[lo]
        x1 = a[(lo + hi) >> 1]
        x2 = a[hi]
        if x0 > x1:
            x0, x1 = x1, x0
        if x1 > x2:
            x1 = x2
        pivot = x0 if x0 > x1 else x1  # median of three
        lt = lo
        i = lo
        gt = hi
        while i <= gt:
            v = a[i]
            if v < pivot:
                a[i] = a[lt]
                a[lt] = v
                lt += 1
                i += 1
            elif v > pivot:
                a[i] = a[gt]
                a[gt] = v
                gt -= 1
            else:
                i += 1
        if k < lt:
            hi = lt - 1
        elif k > gt:
            lo = gt + 1
        else:
            return pivot
    return a[k]


#: Values sampled to bracket a portfolio median.
_SAMPLE = 4096
#: Below this many values a portfolio median is found serially.
_PARALLEL_MIN = 65536


def _pooled_median(
    values: np.ndarray, gather: np.ndarray, n_chunks: int, exact_odd: bool
) -> tuple[float, int]:  # pragma: no cover - compiled
    """:func:`_big_median` of the non-NaN ``values`` and their number, mostly in parallel.

    Exactly the serial result: a sorted sample of the values brackets the
    middle ones; chunks count the values below the bracket and gather those
    in it (into ``gather``) in parallel, and only the bracket is selected
    from. If the middle falls outside the bracket (unlikely), or there are
    few values, all are gathered and selected serially.
    """
    n = values.shape[0]
    n_chunks = max(1, min(n_chunks, n))
    chunk = (n + n_chunks - 1) // n_chunks
    below = np.zeros(n_chunks, dtype=np.int64)
    inside = np.zeros(n_chunks, dtype=np.int64)
    m = 0
    for c in numba.prange(n_chunks):
        k = 0
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            k += not np.isnan(values[i])
        inside[c] = k
    for c in range(n_chunks):
        m += inside[c]
    if m >= _PARALLEL_MIN:
        step = max(n // _SAMPLE, 1)
        sample = np.empty(n // step + 1)
        n_s = 0
        for i in range(0, n, step):
            v = values[i]
            if not np.isnan(v):
                sample[n_s] = v
                n_s += 1
        if n_s >= 64:
            ordered = np.sort(sample[:n_s])
            # the sample rank of the middle, +- 6 binomial standard deviations
            spread = int(6.0 * np.sqrt(0.25 * n_s)) + 2
            centre = (n_s * (m // 2)) // m
            lo = ordered[max(centre - spread, 0)]
            hi = ordered[min(centre + spread, n_s - 1)]
            for c in numba.prange(n_chunks):
                nb = 0
                nm = 0
                for i in range(c * chunk, min(n, (c + 1) * chunk)):
                    v = values[i]
                    nb += v < lo
                    nm += (v >= lo) & (v <= hi)
                below[c] = nb
                inside[c] = nm
            offsets = np.zeros(n_chunks + 1, dtype=np.int64)
            n_below = 0
            for c in range(n_chunks):
                n_below += below[c]
                offsets[c + 1] = offsets[c] + inside[c]
            n_mid = offsets[n_chunks]
            k = m // 2
            # the k-th smallest, and for an even count the (k-1)-th, must lie in the bracket
            first = k if m % 2 == 1 else k - 1
            if n_below <= first and k < n_below + n_mid:
                for c in numba.prange(n_chunks):
                    at = offsets[c]
                    for i in range(c * chunk, min(n, (c + 1) * chunk)):
                        v = values[i]
                        if v >= lo and v <= hi:
                            gather[at] = v
                            at += 1
                high = _select(gather, n_mid, k - n_below)
                if m % 2 == 1:
                    return (high if exact_odd else 0.5 * (high + high)), m
                low = gather[0]
                for j in range(1, k - n_below):
                    if gather[j] > low:
                        low = gather[j]
                return 0.5 * (low + high), m
    count = 0
    for i in range(n):
        if not np.isnan(values[i]):
            gather[count] = values[i]
            count += 1
    return _big_median(gather, count, exact_odd), count


def _big_median(a: np.ndarray, n: int, exact_odd: bool) -> float:  # pragma: no cover
    """Median of ``a[:n]`` (no NaN; reordered) like ``nanmedian_rows`` or, with
    ``exact_odd``, like ``np.median`` (which returns the middle value itself)."""
    if n == 0:
        return np.nan
    k = n // 2
    high = _select(a, n, k)
    if n % 2 == 1:
        return high if exact_odd else 0.5 * (high + high)
    low = a[0]
    for j in range(1, k):
        if a[j] > low:
            low = a[j]
    return 0.5 * (low + high)


def _pairwise_sum(a: np.ndarray, n: int) -> float:  # pragma: no cover - compiled
    """``np.sum`` of ``a[:n]`` along a contiguous row (NumPy's pairwise order, n <= 128)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
    r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
    i = 8
    while i < n - (n % 8):
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[i]
        i += 1
    return res


def _sorted_mad(buf: np.ndarray, n: int, med: float) -> float:  # pragma: no cover
    """Median of ``abs(buf[:n] - med)`` for a sorted ``buf`` (no NaN, finite ``med``).

    The deviations below and above ``med`` are two sorted runs: merging them
    up to the middle gives the same median as sorting the deviations.
    """
    p = 0
    while p < n and buf[p] < med:
        p += 1
    left = p - 1
    right = p
    lo_rank = (n - 1) // 2
    hi_rank = n // 2
    x_lo = 0.0
    x_hi = 0.0
    for r in range(hi_rank + 1):
        if left >= 0 and (right >= n or abs(buf[left] - med) <= abs(buf[right] - med)):
            v = abs(buf[left] - med)
            left -= 1
        else:
            v = abs(buf[right] - med)
            right += 1
        if r == lo_rank:
            x_lo = v
        if r == hi_rank:
            x_hi = v
    return 0.5 * (x_lo + x_hi)


def _sorted_insert(a: np.ndarray, row: int, n: int, v: float) -> int:  # pragma: no cover
    """Insert ``v`` into the sorted ``a[row, :n]``; returns the new count."""
    j = n
    while j > 0 and a[row, j - 1] > v:
        a[row, j] = a[row, j - 1]
        j -= 1
    a[row, j] = v
    return n + 1


def _sorted_remove(a: np.ndarray, row: int, n: int, v: float) -> int:  # pragma: no cover
    """Remove a value equal to ``v`` from the sorted ``a[row, :n]``: the new count, -1 if absent."""
    p = 0
    while p < n and a[row, p] != v:
        p += 1
    if p == n:
        return -1
    for j in range(p, n - 1):
        a[row, j] = a[row, j + 1]
    return n - 1


def _fill_wide(
    clean: np.ndarray,
    i: int,
    div: np.ndarray,
    plain: bool,
    lo_scale: int,
    seg: int,
    wide: np.ndarray,
    j0: int,
    j1: int,
) -> None:  # pragma: no cover - compiled
    """``wide[j0:j1]``: row ``i``'s cells from ``lo_scale + j0`` (over ``div`` unless plain).

    Cells before the segment start ``seg`` are NaN.
    """
    n_before = min(max(seg - lo_scale, j0), j1)
    for j in range(j0, n_before):
        wide[j] = np.nan
    if plain:
        for j in range(n_before, j1):
            wide[j] = clean[i, lo_scale + j]
    else:
        for j in range(n_before, j1):
            wide[j] = clean[i, lo_scale + j] / div[j]


def _stats_row(
    clean: np.ndarray,
    i: int,
    div: np.ndarray,
    t: int,
    lo_scale: int,
    lo: int,
    seg: int,
    prior: float,
    plain: bool,
    logs: np.ndarray,
    wide: np.ndarray,
    buf: np.ndarray,
    fit: np.ndarray,
    vals: np.ndarray,
    xs: np.ndarray,
    tmp: np.ndarray,
    srt: np.ndarray,
    cache_v: np.ndarray,
    cache_d: np.ndarray,
    counts: np.ndarray,
    mode: int,
) -> tuple[float, float, float, int, int]:  # pragma: no cover - compiled
    """Window statistics of series ``i`` at ``t``: level, slope, own scale, changes, observations.

    ``div`` is the row's seasonal divisor over ``[lo_scale, t)``; ``plain``
    says it is all ones (then it is not applied, and, if ``logs`` has
    columns, ``logs[i, col]`` is the log of every non-NaN ``clean[i, col]``).
    The other arrays are scratch space (``window_scale`` and ``window`` long;
    ``srt`` the longer of the two). ``mode`` 0 uses none of ``cache_v``,
    ``cache_d`` and ``counts``; 1 sorts the window's values and changes as
    usual and keeps them in their row ``i`` (``counts[i]`` their numbers); 2
    takes them from there (kept up to date by the caller): medians of the
    same values.
    """
    width_scale = t - lo_scale
    width = t - lo
    offset = lo - lo_scale
    # mode 2 reads only the level window's cells (the changes are kept sorted)
    first = offset if mode == 2 else 0
    _fill_wide(clean, i, div, plain, lo_scale, seg, wide, first, width_scale)
    # scale from period-over-period changes
    if mode == 2:
        nd = counts[i, 1]
    else:
        nd = 0
        for j in range(1, width_scale):
            d = wide[j] - wide[j - 1]
            if not np.isnan(d):
                buf[nd] = d
                nd += 1
    if nd > 0:
        if mode == 2:
            for j in range(nd):  # a copy, not a view (no reference count per row)
                srt[j] = cache_d[i, j]
            med_d = 0.5 * (srt[(nd - 1) // 2] + srt[nd // 2])
            ordered = srt
        elif nd <= _RANK_MAX and _sort_into(buf, nd, srt):
            med_d = 0.5 * (srt[(nd - 1) // 2] + srt[nd // 2])
            ordered = srt
        else:
            med_d = _median_kernel(buf, nd)  # sorts buf[:nd]
            ordered = buf
        if mode == 1:
            for j in range(nd):
                cache_d[i, j] = ordered[j]
        if np.isfinite(med_d):
            mad = _sorted_mad(ordered, nd, med_d)
        else:
            _fill_wide(clean, i, div, plain, lo_scale, seg, wide, 0, first)
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
    if mode == 1:
        counts[i, 1] = nd
    # the level/trend window and its observations
    n_obs = 0
    positive = True
    for j in range(width):
        v = wide[offset + j]
        if not np.isnan(v):
            n_obs += 1
            if not v > 0:
                positive = False
    positive = positive and n_obs > 0
    use_logs = plain and logs.shape[1] > 0
    k = 0
    for j in range(width):
        v = wide[offset + j]
        if not np.isnan(v):
            vals[k] = v
            if not positive:
                fit[k] = v
            elif use_logs:
                fit[k] = logs[i, lo + j]
            else:
                fit[k] = np.log(v)
            xs[k] = lo + j
            k += 1
    if mode == 2:
        typical = np.nan if k == 0 else 0.5 * (cache_v[i, (k - 1) // 2] + cache_v[i, k // 2])
    elif mode == 1:
        if k <= _RANK_MAX and _sort_into(vals, k, srt):
            ordered_v = srt
        else:
            _median_kernel(vals, k)  # sorts vals[:k]
            ordered_v = vals
        for j in range(k):
            cache_v[i, j] = ordered_v[j]
        counts[i, 0] = k
        typical = np.nan if k == 0 else 0.5 * (ordered_v[(k - 1) // 2] + ordered_v[k // 2])
    else:
        typical = _median_small(vals, k, srt)
    unit = abs(typical) if positive else 1.0
    fit_scale = scale / unit
    fit_prior = prior / unit
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
        left = _median_thirds(tmp, n_left)
        x_left = sx / n_left
        sx = 0.0
        for j in range(n_right):
            tmp[j] = fit[k - n_right + j]
            sx += xs[k - n_right + j]
        right = _median_thirds(tmp, n_right)
        x_right = sx / n_right
    if n_mid > 0:
        sx = 0.0
        for j in range(n_mid):
            tmp[j] = fit[n_left + j]
            sx += xs[n_left + j]
        mid = _median_thirds(tmp, n_mid)
        x_mid = sx / n_mid
    raw = (right - left) / (x_right - x_left)
    m = float(min(n_left, n_right))
    se = fit_scale * np.sqrt(np.pi / m) / (x_right - x_left) if m > 0 else np.nan
    shrink = 1.0 - (se / abs(raw)) ** 2
    shrink = min(max(shrink, 0.0), 1.0) if not np.isnan(shrink) else np.nan
    recent = (right - mid) / (x_right - x_mid)
    if np.isfinite(recent) and n_mid >= 1:
        same = np.sign(recent) == np.sign(raw)
        raw = np.sign(raw) * min(abs(raw), abs(recent)) if same else 0.0
    if third >= 2 and np.isfinite(raw) and np.isfinite(shrink):
        fit_slope = raw * shrink
    else:
        fit_slope = fit_prior
    if not np.isfinite(fit_slope):
        fit_slope = 0.0
    for j in range(k):
        tmp[j] = fit[j] + fit_slope * (t - xs[j])
    fit_level = _median_small(tmp, k, srt)
    lev = np.exp(fit_level) if positive else fit_level
    slope = fit_slope * lev if positive else fit_slope
    return lev, slope, scale, nd, n_obs


def _own_ratio_row(
    values: np.ndarray, i: int, t: int, period: int, cycles: int, seg: int, ratios: np.ndarray
) -> tuple[float, int]:  # pragma: no cover - compiled
    """Median same-phase ratio of series ``i`` over its last ``cycles`` cycles, and their count."""
    need = max(2, (3 * period) // 4)
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
        if count >= need and seg <= start and first > 0:
            ratios[k_used] = first / (total / count)
            k_used += 1
    return _median_kernel(ratios, k_used), k_used


def _phase_own(
    c0: int,
    c1: int,
    clean: np.ndarray,
    y: np.ndarray,
    t: int,
    period: int,
    cycles: int,
    seg_start: np.ndarray,
    cleaned: np.ndarray,
    own: np.ndarray,
    n_cyc: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Own seasonal index of series ``c0:c1`` at ``t`` (``_own_seasonal_index`` of clean, raw).

    ``cleaned[i]`` is nonzero once a value of series ``i`` was held out of ``clean``.
    """
    clean, y = _borrow(clean), _borrow(y)
    ratios = np.empty(max(cycles, 1))
    for i in range(c0, c1):
        # the raw values' index wins when it has 3 cycles: then the clean one is not needed
        n_raw = 0
        if cycles >= 3:
            o, n_raw = _own_ratio_row(y, i, t, period, cycles, seg_start[i], ratios)
            nc = n_raw
        # a series none of whose values was ever held out has clean == raw
        if n_raw < 3 and (cycles < 3 or cleaned[i] != 0):
            o, nc = _own_ratio_row(clean, i, t, period, cycles, seg_start[i], ratios)
        own[i] = o
        n_cyc[i] = nc


def _phase_index(
    c0: int,
    c1: int,
    t: int,
    period: int,
    own: np.ndarray,
    n_cyc: np.ndarray,
    pooled: float,
    use_pool: bool,
    many: bool,
    amplitude: float,
    noise_factor: float,
    rel_prev: np.ndarray,
    lo_scale: int,
    si_hist: np.ndarray,
    log_hist: np.ndarray,
    si_used: np.ndarray,
    on_t: np.ndarray,
    need: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Seasonal index at ``t`` (``seasonal_index_at``), whether it is used (``log_spread``).

    Marks in ``need`` the window cells whose index the portfolio must supply.
    ``si_hist`` holds the index of column ``j`` at ``j % width`` (NaN where
    none was set), ``log_hist`` its log where it is positive and finite.
    """
    min_count = max(2, period // 2)
    width = si_hist.shape[1]
    first = (t - period + 1) % width
    for i in range(c0, c1):
        o = own[i]
        nc = n_cyc[i]
        if use_pool:
            combined = (nc * o + 2.0 * pooled) / (nc + 2.0)
            si = combined if np.isfinite(combined) else o
        else:
            si = o if nc >= 2 else np.nan
        si_hist[i, t % width] = si
        log_hist[i, t % width] = np.log(si) if si > 0 and np.isfinite(si) else np.nan
        total = 0.0
        m = 0
        s = first
        for _ in range(period):
            lv = log_hist[i, s]
            if not np.isnan(lv):
                total += lv
                m += 1
            s = s + 1 if s + 1 < width else 0
        on = False
        if m >= min_count and np.isfinite(si):
            mean = total / m
            acc = 0.0
            s = first
            for _ in range(period):
                lv = log_hist[i, s]
                if not np.isnan(lv):
                    d = lv - mean
                    acc += d * d
                s = s + 1 if s + 1 < width else 0
            # the pattern must be wider than the noise of its own estimate, and than amplitude
            on = np.sqrt(acc / (m - 1)) >= max(amplitude, noise_factor * rel_prev[i])
        on_t[i] = on
        si_used[i, t] = si if on else 1.0
        if on and many:
            for j in range(t - lo_scale):
                if np.isnan(si_hist[i, (lo_scale + j) % width]):
                    need[j] = True


def _phase_mean_last(
    c0: int, c1: int, clean: np.ndarray, t: int, period: int, mean_last: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Mean of each series' positive values over the last cycle (``np.nanmean`` order)."""
    start = max(0, t - period)
    width = t - start
    row = np.empty(max(width, 1))
    for i in range(c0, c1):
        count = 0
        for j in range(width):
            v = clean[i, start + j]
            if v > 0:
                row[j] = v
                count += 1
            else:
                row[j] = 0.0
        mean_last[i] = _pairwise_sum(row, width) / count if count > 0 else np.nan


def _cell(
    clean: np.ndarray, si_hist: np.ndarray, plain: bool, i: int, col: int, seg: int
) -> float:  # pragma: no cover - compiled
    """``clean[i, col]`` as a window holds it (NaN before the segment start).

    Deseasonalised (not ``plain``): over the column's own seasonal index,
    ``si_hist[i, col % width]``, exactly as :func:`_stats_row` divides it.
    """
    if col < seg:
        return np.nan
    if plain:
        return clean[i, col]
    return clean[i, col] / si_hist[i, col % si_hist.shape[1]]


def _slide(
    clean: np.ndarray,
    si_hist: np.ndarray,
    plain: bool,
    i: int,
    t: int,
    lo: int,
    lo_scale: int,
    window: int,
    window_scale: int,
    seg: int,
    cache_v: np.ndarray,
    cache_d: np.ndarray,
    counts: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """Move series ``i``'s sorted window values and changes (row ``i``) from ``t - 1`` to ``t``.

    ``plain`` False: the values are deseasonalised by each column's own index
    (``si_hist``), which never changes once set, so they slide like raw ones.
    False (the cache then undefined) if a value to remove is not there.
    """
    kv = counts[i, 0]
    kd = counts[i, 1]
    lo_p = max(0, t - 1 - window)
    if lo > lo_p:
        v = _cell(clean, si_hist, plain, i, lo_p, seg)
        if not np.isnan(v):
            kv = _sorted_remove(cache_v, i, kv, v)
            if kv < 0:
                return False
    v = _cell(clean, si_hist, plain, i, t - 1, seg)
    if not np.isnan(v):
        kv = _sorted_insert(cache_v, i, kv, v)
    ls_p = max(0, t - 1 - window_scale)
    if lo_scale > ls_p and ls_p + 1 <= t - 2:
        d = _cell(clean, si_hist, plain, i, ls_p + 1, seg) - _cell(
            clean, si_hist, plain, i, ls_p, seg
        )
        if not np.isnan(d):
            kd = _sorted_remove(cache_d, i, kd, d)
            if kd < 0:
                return False
    if t - 2 >= lo_scale:
        d = _cell(clean, si_hist, plain, i, t - 1, seg) - _cell(
            clean, si_hist, plain, i, t - 2, seg
        )
        if not np.isnan(d):
            kd = _sorted_insert(cache_d, i, kd, d)
    counts[i, 0] = kv
    counts[i, 1] = kd
    return True


def _phase_window(
    c0: int,
    c1: int,
    clean: np.ndarray,
    logs: np.ndarray,
    t: int,
    lo_scale: int,
    lo: int,
    window: int,
    window_scale: int,
    seg_start: np.ndarray,
    prior_slope: np.ndarray,
    seasonal_now: bool,
    many: bool,
    on_t: np.ndarray,
    si_hist: np.ndarray,
    pooled_col: np.ndarray,
    level: np.ndarray,
    slope: np.ndarray,
    own_scale: np.ndarray,
    n_diffs: np.ndarray,
    n_obs: np.ndarray,
    rel: np.ndarray,
    ist: np.ndarray,
    cache_v: np.ndarray,
    cache_d: np.ndarray,
    counts: np.ndarray,
    work: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Window statistics at ``t`` of series ``c0:c1`` (deseasonalised where the index is on).

    A series' window keeps its sorted values and changes (``cache_v``,
    ``cache_d``; ``counts`` their numbers) from one period to the next: the
    value and change that enter are inserted, those that leave removed. A
    deseasonalised window does too while every column in it has its own
    seasonal index (the value over it is then fixed). They are sorted afresh
    when ``ist[_CACHE_OK]`` says the window changed otherwise (a restart, a
    new segment start, a switch between raw (1) and deseasonalised (2)).
    """
    clean, logs, si_hist, ist = _borrow(clean), _borrow(logs), _borrow(si_hist), _borrow(ist)
    cache_v, cache_d, counts = _borrow(cache_v), _borrow(cache_d), _borrow(counts)
    ws = max(window_scale, 1)
    w = max(window, 1)
    # scratch rows of ``work`` (the caller's, one per chunk), borrowed like the arguments
    div = _borrow(work[0, :ws])
    div[:] = 1.0
    wide = _borrow(work[1, :ws])
    buf = _borrow(work[2])  # the full rows: windows plus _PAD cells of scratch
    fit = _borrow(work[3, :w])
    vals = _borrow(work[4])
    xs = _borrow(work[5, :w])
    tmp = _borrow(work[6])
    srt = _borrow(work[7])
    width_scale = t - lo_scale
    width_hist = si_hist.shape[1]
    for i in range(c0, c1):
        plain = not (seasonal_now and on_t[i])
        seg = seg_start[i]
        # a deseasonalised window slides while each of its columns has its own index
        # (a column without one borrows the portfolio's, which changes every period)
        stable = True
        if not plain:
            for j in range(width_scale):
                v = si_hist[i, (lo_scale + j) % width_hist]
                if np.isnan(v):
                    stable = False
                    if many:
                        v = pooled_col[j]
                div[j] = v
        kind_now = 1 if plain else 2
        mode = 0
        if stable:
            mode = 1
            if t >= 1 and ist[_CACHE_OK, i] == kind_now and ist[_CACHE_SEG, i] == seg:
                slid = _slide(
                    clean, si_hist, plain, i, t, lo, lo_scale, window, window_scale, seg,
                    cache_v, cache_d, counts,
                )  # fmt: skip
                if slid:
                    mode = 2
            ist[_CACHE_OK, i] = kind_now
            ist[_CACHE_SEG, i] = seg
        else:
            ist[_CACHE_OK, i] = 0
        lev, sl, sc, nd, nob = _stats_row(
            clean, i, div, t, lo_scale, lo, seg, prior_slope[i], plain, logs,
            wide, buf, fit, vals, xs, tmp, srt, cache_v, cache_d, counts, mode,
        )  # fmt: skip
        level[i] = lev
        slope[i] = sl
        own_scale[i] = sc
        n_diffs[i] = nd
        n_obs[i] = nob
        r = sc / abs(lev)
        # the relative scale joins the portfolio's median only from 6 changes on
        rel[i] = r if nd >= 6 and np.isfinite(r) else np.nan


#: A series' seasonal index is used only if its spread (sd of the log indices) is at least
#: this many times its relative noise over sqrt(cycles): under no pattern the spread of
#: indices estimated as medians of ``cycles`` same-phase ratios is about 1.25 times that.
SEASONAL_NOISE = 2.0

# rows of the float state of ``_detect_all``
_PRIOR_SLOPE, _CARRIED_REL, _CARRIED_DF = 0, 1, 2
_EV_DIR, _EV_LEVEL, _EV_SLOPE, _EV_SCALE, _EV_DF, _EV_DEV0, _EV_DEVMAX, _EV_PEAK = range(3, 11)
_CU_POS, _CU_NEG, _CU_POS_SUM, _CU_NEG_SUM, _CU_POS_LEN, _CU_NEG_LEN = range(11, 17)
#: the last degrees of freedom of a series and the band's t quantile at them
_T_DF, _T_BAND = 17, 18
#: the series' last relative scale (0 until known): the noise its seasonal index must beat
_REL_PREV = 19
_N_FLOAT_STATE = 20
# rows of the integer state
_SEG_START, _EV_ONSET, _EV_LEN, _CU_POS_START, _CU_NEG_START = range(5)
#: a series' sorted window (``_phase_window``): 0 stale, 1 raw, 2 deseasonalised; its segment start
_CACHE_OK, _CACHE_SEG = 5, 6
#: 1 once a value of the series was held out of ``clean`` (until then clean == y)
_CLEANED = 7
_N_INT_STATE = 8


def _carry(fs: np.ndarray, i: int, scale: float, level: float, df: float) -> None:
    """``RobustShiftDetector._carry_scale`` for one series."""
    rel = scale / abs(level)
    if np.isfinite(rel):
        fs[_CARRIED_REL, i] = rel
        fs[_CARRIED_DF, i] = _fmin(df, 5.0)
    else:
        fs[_CARRIED_REL, i] = 0.0
        fs[_CARRIED_DF, i] = 0.0


def _restart_row(
    clean: np.ndarray, y: np.ndarray, ist: np.ndarray, i: int, start: int, t: int
) -> None:
    """``RobustShiftDetector._restart`` for one series."""
    ist[_SEG_START, i] = start
    ist[_CACHE_OK, i] = 0
    for j in range(max(start, 0), t + 1):
        clean[i, j] = y[i, j]


def _phase_events(
    c0: int,
    c1: int,
    t: int,
    y: np.ndarray,
    clean: np.ndarray,
    si_used: np.ndarray,
    level: np.ndarray,
    slope: np.ndarray,
    own_scale: np.ndarray,
    n_diffs: np.ndarray,
    n_obs: np.ndarray,
    rel_prior: float,
    prior_df: float,
    fpar: np.ndarray,
    ipar: np.ndarray,
    fs: np.ndarray,
    ist: np.ndarray,
    score: np.ndarray,
    z_out: np.ndarray,
    baseline: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    flag: np.ndarray,
    kind: np.ndarray,
    provisional: np.ndarray,
    severity: np.ndarray,
    confirm_at: np.ndarray,
    seasonal_now: bool,
) -> None:  # pragma: no cover - compiled
    """Scores, events and CUSUM at ``t`` of series ``c0:c1`` (the loop body of ``detect``).

    Writes every output cell of column ``t`` (the outputs start uninitialised):
    ``severity`` NaN and ``confirm_at`` -1 unless set, ``si_used`` 1 unless
    ``_phase_index`` set it (``seasonal_now``).
    """
    thr = fpar[0]
    min_change = fpar[1]
    revert = fpar[2]
    revert_fraction = fpar[3]
    growth = fpar[4]
    k_drift = fpar[5]
    limit = fpar[6]
    floor = fpar[7]
    tiny = fpar[8]
    min_history = ipar[0]
    confirm = ipar[1]
    spike, drop, level_code, trend_code = ipar[2], ipar[3], ipar[4], ipar[5]
    y, clean, fs, ist = _borrow(y), _borrow(clean), _borrow(fs), _borrow(ist)
    for i in range(c0, c1):
        severity[i, t] = np.nan
        confirm_at[i, t] = -1.0
        if seasonal_now:
            su = si_used[i, t]
        else:
            su = 1.0
            si_used[i, t] = 1.0
        yt = y[i, t] / su
        observed = not np.isnan(yt)
        lev = level[i]
        # ---- baseline scale pooled with the portfolio's (``_baseline``)
        own_df = 0.4 * float(max(n_diffs[i] - 1, 0))
        abs_level = abs(lev)
        osc = _nan_to_num(own_scale[i])
        own_var = osc * osc if own_df > 0 else 0.0
        pv = rel_prior * abs_level
        prior_var = pv * pv
        cv = _nan_to_num(fs[_CARRIED_REL, i] * abs_level)
        carried_var = cv * cv
        # the earlier regime's scale fades as the new one gathers its own evidence
        carried_df = fs[_CARRIED_DF, i]
        carried_df = carried_df * carried_df / (carried_df + own_df) if carried_df > 0 else 0.0
        df = own_df + prior_df + carried_df
        scale = np.sqrt((own_df * own_var + prior_df * prior_var + carried_df * carried_var) / df)
        scale = _fmax(scale, floor * abs_level)
        rel_now = scale / abs_level
        if np.isfinite(rel_now):
            fs[_REL_PREV, i] = rel_now
        # ---- score
        inflate = np.sqrt(1.0 + np.pi / (2.0 * n_obs[i]))
        pred_scale = _fmax(scale * inflate, tiny)
        scored = (
            observed
            and n_obs[i] >= min_history
            and df >= 2
            and np.isfinite(lev)
            and np.isfinite(pred_scale)
        )
        dev = yt - lev
        z = _wallace_z1(dev / pred_scale, df)
        material = abs(dev) >= min_change * abs_level
        # df rarely changes from one period to the next: reuse the quantile
        if df == fs[_T_DF, i]:
            t_band = fs[_T_BAND, i]
        else:
            t_band = _wallace_t1(thr, df)
            fs[_T_DF, i] = df
            fs[_T_BAND, i] = t_band
        half_band = _fmax(t_band * pred_scale, min_change * abs_level)
        bl = lev if scored else np.nan
        baseline[i, t] = bl
        lower[i, t] = bl - half_band
        upper[i, t] = bl + half_band
        z_out[i, t] = z if scored else np.nan
        score[i, t] = abs(z) if scored else np.nan

        # ---- continue or close an open event
        onset = ist[_EV_ONSET, i]
        in_event = onset >= 0 and observed
        if in_event:
            ev_base = fs[_EV_LEVEL, i] + fs[_EV_SLOPE, i] * (t - onset)
            ev_dev = yt - ev_base
            ev_scale = fs[_EV_SCALE, i]
            ev_df = fs[_EV_DF, i]
            ev_dir = fs[_EV_DIR, i]
            ev_dev0 = fs[_EV_DEV0, i]
            ev_z = _wallace_z1(ev_dev / ev_scale, ev_df)
            toward = ev_dir * ev_z
            if toward < revert or abs(ev_dev) < revert_fraction * abs(ev_dev0):
                # transient event over: the onset stays a spike/drop, confirmed now
                provisional[i, onset] = False
                confirm_at[i, onset] = t
                ist[_EV_ONSET, i] = -1
            else:
                baseline[i, t] = ev_base
                lower[i, t] = ev_base - half_band
                upper[i, t] = ev_base + half_band
                z_out[i, t] = ev_z
                score[i, t] = abs(ev_z)
                clean[i, t] = np.nan
                ist[_CLEANED, i] = 1
                ev_len = ist[_EV_LEN, i] + 1
                ist[_EV_LEN, i] = ev_len
                if abs(ev_dev) > abs(fs[_EV_DEVMAX, i]):
                    fs[_EV_DEVMAX, i] = ev_dev
                peak = _fmax(fs[_EV_PEAK, i], abs(ev_z))
                fs[_EV_PEAK, i] = peak
                severity[i, onset] = peak
                ready = ev_len >= confirm
                persistent = abs(ev_dev) >= 0.5 * abs(fs[_EV_DEVMAX, i])
                grown = (ev_dev - ev_dev0) * ev_dir / ev_scale
                if ready and persistent:
                    is_trend = grown >= growth
                    kind[i, onset] = trend_code if is_trend else level_code
                    provisional[i, onset] = False
                    confirm_at[i, onset] = t
                    run_len = max(ev_len - 1, 1)
                    ev_slope = fs[_EV_SLOPE, i]
                    if is_trend:
                        fs[_PRIOR_SLOPE, i] = ev_slope + (ev_dev - ev_dev0) / run_len
                    else:
                        fs[_PRIOR_SLOPE, i] = ev_slope
                    _carry(fs, i, ev_scale, fs[_EV_LEVEL, i], ev_df)
                    _restart_row(clean, y, ist, i, onset, t)
                    ist[_EV_ONSET, i] = -1
                # a deviation that neither reverts nor settles: give up waiting
                elif ev_len >= 2 * confirm:
                    provisional[i, onset] = False
                    confirm_at[i, onset] = t
                    _carry(fs, i, ev_scale, fs[_EV_LEVEL, i], ev_df)
                    _restart_row(clean, y, ist, i, t - confirm + 1, t)
                    ist[_EV_ONSET, i] = -1
                for r in range(_CU_POS, _CU_NEG_LEN + 1):
                    fs[r, i] = 0.0

        # ---- new event (a series whose event was continued or closed at t is judged by it)
        free = scored and onset < 0 and not in_event
        onset_now = free and abs(z) >= thr and material
        if onset_now:
            up = z > 0
            flag[i, t] = True
            kind[i, t] = spike if up else drop
            provisional[i, t] = True
            severity[i, t] = abs(z)
            ist[_EV_ONSET, i] = t
            fs[_EV_DIR, i] = 1.0 if up else -1.0
            fs[_EV_LEVEL, i] = lev
            fs[_EV_SLOPE, i] = slope[i]
            fs[_EV_SCALE, i] = pred_scale
            fs[_EV_DF, i] = df
            fs[_EV_DEV0, i] = dev
            fs[_EV_DEVMAX, i] = dev
            ist[_EV_LEN, i] = 1
            fs[_EV_PEAK, i] = abs(z)
            clean[i, t] = np.nan
            ist[_CLEANED, i] = 1

        # ---- CUSUM for slow drifts on the remaining scored periods
        if limit > 0 and free and not onset_now:
            zq = z
            if zq < -thr:
                zq = -thr
            elif zq > thr:
                zq = thr
            cu_pos = fs[_CU_POS, i]
            cu_neg = fs[_CU_NEG, i]
            if cu_pos == 0:
                ist[_CU_POS_START, i] = t
            if cu_neg == 0:
                ist[_CU_NEG_START, i] = t
            new_pos = _maximum(0.0, cu_pos + zq - k_drift)
            new_neg = _maximum(0.0, cu_neg - zq - k_drift)
            if new_pos > 0:
                fs[_CU_POS_SUM, i] += zq
                fs[_CU_POS_LEN, i] += 1.0
            else:
                fs[_CU_POS_SUM, i] = 0.0
                fs[_CU_POS_LEN, i] = 0.0
            if new_neg > 0:
                fs[_CU_NEG_SUM, i] += zq
                fs[_CU_NEG_LEN, i] += 1.0
            else:
                fs[_CU_NEG_SUM, i] = 0.0
                fs[_CU_NEG_LEN, i] = 0.0
            fs[_CU_POS, i] = new_pos
            fs[_CU_NEG, i] = new_neg
            drift = abs(yt - lev) >= 0.5 * min_change * abs_level
            sign = 0.0
            start = 0
            csum = 0.0
            clen = 0.0
            if new_pos >= limit and drift:
                sign = 1.0
                start = ist[_CU_POS_START, i]
                csum = fs[_CU_POS_SUM, i]
                clen = fs[_CU_POS_LEN, i]
            elif new_neg >= limit and drift:
                sign = -1.0
                start = ist[_CU_NEG_START, i]
                csum = fs[_CU_NEG_SUM, i]
                clen = fs[_CU_NEG_LEN, i]
            if sign != 0.0:
                flag[i, t] = True
                kind[i, t] = trend_code
                provisional[i, t] = False
                confirm_at[i, t] = t
                sev = abs(csum) / np.sqrt(_maximum(clen, 1.0))
                severity[i, t] = _fmax(sev, abs(z))
                z_out[i, t] = sign * _fmax(abs(z_out[i, t]), sev)
                score[i, t] = _fmax(score[i, t], sev)
                _carry(fs, i, pred_scale, lev, df)
                ist[_SEG_START, i] = start
                ist[_CACHE_OK, i] = 0
                # the drift continues at the rate it built up: 2 x mean deviation / run
                run = _maximum(clen, 1.0)
                mean_dev = csum / run * pred_scale
                fs[_PRIOR_SLOPE, i] = slope[i] + 2.0 * mean_dev / run
                for r in range(_CU_POS, _CU_NEG_LEN + 1):
                    fs[r, i] = 0.0
        baseline[i, t] *= su
        lower[i, t] *= su
        upper[i, t] *= su


def _detect_all(
    y: np.ndarray,
    clean: np.ndarray,
    si_used: np.ndarray,
    score: np.ndarray,
    z_out: np.ndarray,
    baseline: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    flag: np.ndarray,
    kind: np.ndarray,
    provisional: np.ndarray,
    severity: np.ndarray,
    confirm_at: np.ndarray,
    fpar: np.ndarray,
    ipar: np.ndarray,
    n_chunks: int,
) -> None:  # pragma: no cover - compiled
    """Every period of every series: see ``RobustShiftDetector.detect``.

    Per period: phases that are independent across series run in parallel
    over chunks of series; the portfolio quantities between them (pooled
    seasonal index, pooled cycle ratios, median relative scale) are medians
    across series.
    """
    n, n_periods = y.shape
    prior_weight = fpar[9]
    amplitude = fpar[10]
    window = ipar[6]
    window_scale = ipar[7]
    period = ipar[8]
    cycles = ipar[9]
    seasonal = ipar[10] != 0
    noise_factor = SEASONAL_NOISE / np.sqrt(max(cycles, 1))
    many = n >= 5
    chunk = (n + n_chunks - 1) // n_chunks
    fs = np.zeros((_N_FLOAT_STATE, n))
    fs[_EV_SCALE] = 1.0
    fs[_EV_DF] = 1.0
    fs[_T_DF] = np.nan
    ist = np.zeros((_N_INT_STATE, n), dtype=np.int64)
    ist[_EV_ONSET] = -1
    own = np.empty(n)
    n_cyc = np.zeros(n, dtype=np.int64)
    on_t = np.zeros(n, dtype=np.bool_)
    level = np.empty(n)
    slope = np.empty(n)
    own_scale = np.empty(n)
    n_diffs = np.empty(n, dtype=np.int64)
    n_obs = np.empty(n, dtype=np.int64)
    rel = np.empty(n)
    mean_last = np.empty(n)
    gather = np.empty(n)
    ws = max(window_scale, 1)
    cache_v = np.empty((n, max(window, 1)))
    cache_d = np.empty((n, ws))
    counts = np.zeros((n, 2), dtype=np.int64)
    work = np.empty((n_chunks, 8, max(ws, window, 1) + _PAD))
    # clean holds y or NaN: the logs of y serve every window that is not deseasonalised;
    # clean starts as y; the seasonal history (a ring of the last ``n_hist``
    # columns, long enough for a cycle, and for the scale window plus the column
    # that leaves it when the window slides) starts as NaN
    logs = np.empty_like(y)
    n_hist = max(period, window_scale) + 2 if seasonal else 0
    si_hist = np.empty((n, n_hist))
    log_hist = np.empty((n, n_hist))
    for c in numba.prange(n_chunks):
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            for j in range(n_periods):
                v = y[i, j]
                clean[i, j] = v
                logs[i, j] = np.log(v) if v > 0 else np.nan
            for j in range(n_hist):
                si_hist[i, j] = np.nan
                log_hist[i, j] = np.nan
    for t in range(n_periods):
        lo_scale = max(0, t - window_scale)
        lo = max(0, t - window)
        seasonal_now = seasonal and t >= period
        pooled_col = np.full(ws, np.nan)
        if seasonal_now:
            for c in numba.prange(n_chunks):
                _phase_own(
                    c * chunk, min(n, (c + 1) * chunk), clean, y, t, period, cycles,
                    ist[_SEG_START], ist[_CLEANED], own, n_cyc,
                )  # fmt: skip
            use_pool = False
            pooled = np.nan
            if many:
                pooled, count = _pooled_median(own, gather, n_chunks, False)
                use_pool = count >= 5
            need = np.zeros((n_chunks, ws), dtype=np.bool_)
            for c in numba.prange(n_chunks):
                _phase_index(
                    c * chunk, min(n, (c + 1) * chunk), t, period, own, n_cyc, pooled,
                    use_pool, many, amplitude, noise_factor, fs[_REL_PREV], lo_scale, si_hist,
                    log_hist, si_used, on_t, need[c],
                )  # fmt: skip
            cols = np.empty(ws, dtype=np.int64)
            n_cols = 0
            for j in range(t - lo_scale):
                for c in range(n_chunks):
                    if need[c, j]:
                        cols[n_cols] = j
                        n_cols += 1
                        break
            if many and n_cols > 0:
                # pooled_cycle_ratios, only for the cells that need it
                for c in numba.prange(n_chunks):
                    _phase_mean_last(
                        c * chunk, min(n, (c + 1) * chunk), clean, t, period, mean_last
                    )
                for q in numba.prange(n_cols):
                    j = cols[q]
                    col = lo_scale + j
                    ratios = np.empty(n)
                    count_q = 0
                    for i in range(n):
                        v = clean[i, col]
                        if v > 0:
                            r = v / mean_last[i]
                            if not np.isnan(r):
                                ratios[count_q] = r
                                count_q += 1
                    if count_q >= 5:
                        pooled_col[j] = _big_median(ratios, count_q, False)
        for c in numba.prange(n_chunks):
            _phase_window(
                c * chunk, min(n, (c + 1) * chunk), clean, logs, t, lo_scale, lo, window,
                window_scale, ist[_SEG_START], fs[_PRIOR_SLOPE], seasonal_now, many, on_t,
                si_hist, pooled_col, level, slope, own_scale, n_diffs, n_obs, rel, ist,
                cache_v, cache_d, counts, work[c],
            )  # fmt: skip
        rel_prior, count = _pooled_median(rel, gather, n_chunks, True)
        prior_df = prior_weight if count > 0 else 0.0
        if count == 0:
            rel_prior = 0.0
        for c in numba.prange(n_chunks):
            _phase_events(
                c * chunk, min(n, (c + 1) * chunk), t, y, clean, si_used, level, slope,
                own_scale, n_diffs, n_obs, rel_prior, prior_df, fpar, ipar, fs, ist, score,
                z_out, baseline, lower, upper, flag, kind, provisional, severity, confirm_at,
                seasonal_now,
            )  # fmt: skip


_median_kernel: Any = None
_stats_kernel: Any = None
_seasonal_kernel: Any = None
_spread_kernel: Any = None
_detect_kernel: Any = None

#: Plain helpers called from the kernels, compiled (and rebound here) by ``_compile``:
#: ``_INLINE`` ones are inlined into their callers (numba's ``inline="always"``: a call
#: per series-period with a dozen array arguments cost about a quarter of the kernel's
#: time in argument passing and reference counts), ``_CALLED`` ones stay calls.
_INLINE = (
    "_fmax", "_fmin", "_maximum", "_nan_to_num", "_sign", "_wallace_z1", "_wallace_t1",
    "_sort_into", "_median4", "_median_thirds", "_median_small", "_sorted_mad", "_fill_wide",
    "_sorted_insert", "_sorted_remove", "_stats_row", "_cell", "_slide", "_own_ratio_row",
    "_carry", "_restart_row",
)  # fmt: skip
_CALLED = (
    "_select", "_big_median", "_pairwise_sum",
    "_phase_own", "_phase_index", "_phase_mean_last", "_phase_window", "_phase_events",
)  # fmt: skip
_HELPERS = _INLINE + _CALLED


def _borrow(a: np.ndarray) -> np.ndarray:
    """``a`` itself (pure Python); compiled, ``a`` without its reference count (see below)."""
    return a


def _borrow_intrinsic() -> Any:
    """``_borrow`` compiled: the same array with no meminfo, so no reference counting.

    Inlined helpers take their array arguments as new references: an atomic
    increment and decrement of the array's shared meminfo per call, which the
    threads of a parallel loop fight over (about 15 % of the kernel's time).
    A phase function borrows its arguments once; its caller keeps them alive.
    """
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def borrow(typingctx: Any, arr: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            ary = context.make_array(signature.args[0])(context, builder, value=args[0])
            ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
            ary.parent = cgutils.get_null_value(ary.parent.type)
            return ary._getvalue()

        return arr(arr), codegen

    return borrow


def _ready() -> bool:
    """Import numba and compile (or load) the kernels once; False without a working numba."""
    global HAVE_NUMBA
    if not HAVE_NUMBA:
        return False
    try:
        _compile()
    except ImportError as exc:  # pragma: no cover - a broken numba install
        HAVE_NUMBA = False
        logger.warning("numba could not be imported (%s); using the NumPy path", exc)
        return False
    return True


#: ``_compile`` rebinds module globals: one thread at a time (the preload thread and a caller).
_COMPILE_LOCK = threading.Lock()


def _compile() -> Any:
    with _COMPILE_LOCK:
        return _compile_locked()


def _compile_locked() -> Any:
    global _median_kernel, _stats_kernel, _seasonal_kernel, _spread_kernel, _detect_kernel
    global _borrow, _pooled_median, numba
    if numba is None:
        import numba as numba_module

        numba = numba_module
    if _stats_kernel is None:
        _borrow = _borrow_intrinsic()
        compile_serial = numba.njit(cache=True, nogil=True, error_model="numpy")
        _median_kernel = compile_serial(_median_of)
        compile_inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
        names = globals()
        for name in _HELPERS:
            compiler = compile_inline if name in _INLINE else compile_serial
            names[name] = compiler(names[name])
        compile_parallel = numba.njit(cache=True, parallel=True, nogil=True, error_model="numpy")
        _stats_kernel = compile_parallel(_stats)
        _seasonal_kernel = compile_parallel(_seasonal)
        _spread_kernel = compile_parallel(_spread)
        _pooled_median = compile_parallel(_pooled_median)
        _detect_kernel = compile_parallel(_detect_all)
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
    if not _ready():
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

    The compiled path of ``revwatch.detectors.robust._own_seasonal_index``; None
    when numba is not available.
    """
    if not _ready():
        return None
    n_series = values.shape[0]
    own = np.empty(n_series)
    n_cycles = np.empty(n_series, dtype=np.int64)
    _seasonal_kernel(
        np.ascontiguousarray(values), t, period, cycles, seg_start.astype(np.int64), own, n_cycles
    )
    return own, n_cycles


def log_spread_rows(si: np.ndarray, min_count: int) -> np.ndarray | None:
    """Standard deviation of the log of each row's positive finite values (NaN ignored).

    The compiled path of ``revwatch.detectors.robust.log_spread``; None when numba
    is not available.
    """
    if not _ready():
        return None
    out = np.empty(si.shape[0])
    _spread_kernel(np.ascontiguousarray(si), int(min_count), out)
    return out


def preload_kernel() -> None:
    """Compile :func:`detect_arrays`'s kernel, or load it from numba's cache, now.

    Loading takes about half a second of a command's start-up (numba's
    registries, then the cached code); done in a thread while the data
    loads, that time is hidden. A failure is only logged: ``detect_arrays``
    meets it again and raises.
    """
    if not HAVE_NUMBA:
        return
    try:
        detect_arrays(
            np.ones((1, 3)), threshold=3.5, min_change=0.05, min_history=3, confirm=3,
            revert=2.0, revert_fraction=0.25, growth=2.5, cusum_drift=0.5, cusum_limit=6.5,
            prior_weight=3.0, floor=0.005, seasonal=False, seasonal_cycles=3,
            seasonal_amplitude=0.05, window=2, window_scale=2, period=1, tiny=1e-300,
            codes=(1, 2, 3, 4), n_chunks=1,
        )  # fmt: skip
    except Exception as exc:  # detect_arrays meets it again and raises
        logger.debug("preloading the compiled kernel failed: %s", exc)


def detect_arrays(
    y: np.ndarray,
    *,
    threshold: float,
    min_change: float,
    min_history: int,
    confirm: int,
    revert: float,
    revert_fraction: float,
    growth: float,
    cusum_drift: float,
    cusum_limit: float,
    prior_weight: float,
    floor: float,
    seasonal: bool,
    seasonal_cycles: int,
    seasonal_amplitude: float,
    window: int,
    window_scale: int,
    period: int,
    tiny: float,
    codes: tuple[int, int, int, int],
    n_chunks: int | None = None,
) -> dict[str, np.ndarray] | None:
    """Every output of ``RobustShiftDetector.detect`` in one compiled pass.

    ``y`` is the ``(n_series, n_periods)`` matrix; the parameters are the
    detector's, already resolved (``window``, ``period``, ``seasonal``, the
    smallest scale ``tiny``); ``codes`` are the type codes of spike, drop,
    level shift and trend change. Returns ``score``, ``z``, ``baseline``,
    ``lower``, ``upper``, ``flag``, ``kind``, ``provisional``, ``severity``,
    ``confirm_at`` and ``seasonal_index``, or None when numba is not available
    (the caller then runs the NumPy loop).
    """
    if not _ready():
        return None
    y = np.ascontiguousarray(y, dtype=np.float64)
    shape = y.shape
    n_series = shape[0]
    if n_chunks is None:
        n_chunks = 8 * numba.get_num_threads()
    n_chunks = max(1, min(int(n_chunks), n_series))
    # the kernel writes every cell of the float outputs exactly once (no prefill)
    out = {
        name: np.empty(shape)
        for name in ("score", "z", "baseline", "lower", "upper", "severity", "confirm_at")
    }
    out["seasonal_index"] = np.empty(shape)
    out["flag"] = np.zeros(shape, dtype=bool)
    out["kind"] = np.zeros(shape, dtype=np.int8)
    out["provisional"] = np.zeros(shape, dtype=bool)
    fpar = np.array(
        [
            threshold, min_change, revert, revert_fraction, growth, cusum_drift, cusum_limit,
            floor, tiny, prior_weight, seasonal_amplitude,
        ],
        dtype=np.float64,
    )  # fmt: skip
    ipar = np.array(
        [min_history, confirm, *codes, window, window_scale, period, seasonal_cycles, seasonal],
        dtype=np.int64,
    )
    if n_series:
        _detect_kernel(
            y, np.empty(shape), out["seasonal_index"], out["score"], out["z"],
            out["baseline"], out["lower"], out["upper"], out["flag"], out["kind"],
            out["provisional"], out["severity"], out["confirm_at"], fpar, ipar, n_chunks,
        )  # fmt: skip
    return out
