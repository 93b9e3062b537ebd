"""Vectorized NaN-aware helpers over the rows of 2-D arrays (one row per series)."""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["nanmedian_rows", "trailing_moments", "wallace_z"]


def nanmedian_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of each row ignoring NaN, and the number of non-NaN values.

    Sort-based (NaN sorts last), much faster than :func:`numpy.nanmedian` on
    many short rows. Rows with no value give NaN.

    Examples
    --------
    >>> med, n = nanmedian_rows(np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]]))
    >>> med.tolist(), n.tolist()
    ([2.0, nan], [2, 0])
    """
    if a.shape[1] == 0:
        return np.full(a.shape[0], np.nan), np.zeros(a.shape[0], dtype=np.int64)
    n = np.count_nonzero(~np.isnan(a), axis=1)
    lo = np.clip((n - 1) // 2, 0, a.shape[1] - 1)
    hi = np.clip(n // 2, 0, a.shape[1] - 1)
    below, above = _order_stats(a, n, lo, hi)
    med = 0.5 * (below + above)
    med[n == 0] = np.nan
    return med, n


#: Rows at least this wide are partitioned instead of sorted (the same values) ...
_PARTITION_MIN = 64
#: ... when they have at most this many different counts of values.
_PARTITION_GROUPS = 16


def _order_stats(
    a: np.ndarray, n: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The ``lo``-th and ``hi``-th smallest of each row (NaN last), by sort or partition.

    Rows with the same number of values have their order statistics at the same positions,
    so wide rows are partitioned (linear, not ``n log n``) a group of equal counts at a time,
    NaN put last as infinity: the same values as the sort, to the last bit. Narrow rows, or
    rows with many different counts, are sorted.
    """
    n_rows, width = a.shape
    below = np.empty(n_rows)
    above = np.empty(n_rows)
    counts = np.unique(n) if width >= _PARTITION_MIN else n[:0]
    if width >= _PARTITION_MIN and counts.size <= _PARTITION_GROUPS:
        for count in counts.tolist():
            rows = np.flatnonzero(n == count)
            k_lo, k_hi = int(lo[rows[0]]), int(hi[rows[0]])
            block = a[rows]
            if count < width:
                block = np.where(np.isnan(block), np.inf, block)
            part = np.partition(block, sorted({k_lo, k_hi}), axis=1)
            below[rows] = part[:, k_lo]
            above[rows] = part[:, k_hi]
        return below, above
    s = np.sort(a, axis=1)
    rows = np.arange(n_rows)
    return s[rows, lo], s[rows, hi]


def nanquantile_rows(a: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile of each row ignoring NaN (linear, as :func:`numpy.nanquantile`).

    Sort-based like :func:`nanmedian_rows`; rows with no value give NaN.

    Examples
    --------
    >>> a = np.array([[1.0, np.nan, 3.0, 2.0], [np.nan] * 4])
    >>> nanquantile_rows(a, 0.5).tolist(), nanquantile_rows(a, 0.75).tolist()
    ([2.0, nan], [2.5, nan])
    >>> bool(np.allclose(nanquantile_rows(a[:1], 0.9), np.nanquantile(a[:1], 0.9, axis=1)))
    True
    """
    if a.shape[1] == 0:
        return np.full(a.shape[0], np.nan)
    n = np.count_nonzero(~np.isnan(a), axis=1)
    at = float(q) * np.maximum(n - 1, 0)
    lo = np.clip(np.floor(at).astype(np.int64), 0, a.shape[1] - 1)
    hi = np.clip(lo + 1, 0, a.shape[1] - 1)
    below, above = _order_stats(a, n, lo, hi)
    with np.errstate(invalid="ignore"):  # rows with no value: inf - inf, masked below
        value = np.where(at > lo, below + (above - below) * (at - lo), below)
    return np.where(n > 0, value, np.nan)


def trailing_moments(
    values: np.ndarray, window: int, min_periods: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sample std (ddof=1) and count of the ``window`` periods before each period.

    The current period is never part of its own baseline. Missing values are
    skipped; fewer than ``min_periods`` observed values give NaN. Each series
    is centred on its own mean first, so cumulative sums stay exact.

    Examples
    --------
    >>> m, s, n = trailing_moments(np.array([[1.0, 2.0, 3.0, 4.0]]), 2, 2)
    >>> m.tolist()
    [[nan, nan, 1.5, 2.5]]
    """
    n_series, n_periods = values.shape
    with np.errstate(invalid="ignore"):
        center = np.nanmean(values, axis=1, keepdims=True) if n_periods else values[:, :0]
    center = np.where(np.isnan(center), 0.0, center)
    x = values - center
    valid = ~np.isnan(x)
    x0 = np.where(valid, x, 0.0)
    zeros = np.zeros((n_series, 1))
    c1 = np.concatenate([zeros, np.cumsum(x0, axis=1)], axis=1)
    c2 = np.concatenate([zeros, np.cumsum(x0 * x0, axis=1)], axis=1)
    cn = np.concatenate([zeros, np.cumsum(valid, axis=1, dtype=np.float64)], axis=1)
    # window before t covers columns [t - window, t) -> cumsum indices t and t - window
    end = np.arange(n_periods)
    start = np.maximum(end - window, 0)
    s1 = c1[:, end] - c1[:, start]
    s2 = c2[:, end] - c2[:, start]
    n = cn[:, end] - cn[:, start]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = (s2 - s1 * mean) / (n - 1)
    var = np.maximum(var, 0.0)
    # sums of exact repeats can leave tiny rounding noise: treat as zero variance
    var[var < 1e-20 * np.maximum(1.0, mean * mean)] = 0.0
    ok = n >= max(min_periods, 2)
    mean = np.where(ok, mean + center, np.nan)
    std = np.where(ok, np.sqrt(var), np.nan)
    return mean, std, n


def wallace_z(t: np.ndarray, df: np.ndarray | float) -> np.ndarray:
    """Normal-equivalent z of a Student-t statistic (Wallace 1959), sign kept.

    Turns a deviation measured against a scale estimated from few points into
    the z with the same tail probability, so one threshold means the same
    false-alarm rate whatever the history length. No underflow for huge ``t``.

    Examples
    --------
    >>> round(float(wallace_z(np.array(3.0), 1e9)), 3)
    3.0
    >>> float(wallace_z(np.array(3.0), 3.0)) < 2.0
    True
    """
    df = np.asarray(df, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (8.0 * df + 1.0) / (8.0 * df + 3.0)
        z = c * np.sqrt(df * np.log1p(t * t / df))
    return np.sign(t) * z


def wallace_t(z: float, df: np.ndarray) -> np.ndarray:
    """Inverse of :func:`wallace_z` for a positive ``z``: the t with that normal-equivalent.

    Examples
    --------
    >>> round(float(wallace_t(3.0, np.array(1e9))), 3)
    3.0
    """
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        c = (8.0 * df + 1.0) / (8.0 * df + 3.0)
        return np.sqrt(df * np.expm1((z / c) ** 2 / df))
