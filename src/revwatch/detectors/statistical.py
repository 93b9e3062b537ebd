"""Statistical baseline detectors: the seeds' z-score, IQR and threshold methods.

Every detector here works on the panel's dense ``(n_series, n_periods)``
matrix (:meth:`revwatch.data.panel.Panel.matrix`) for all series at once:
cumulative sums, block-wise sliding sums, sort-based quantiles and group sums
with :func:`numpy.add.at`; there is no Python loop per series or per row.

Two families:

* **causal** methods judge a period only with data from earlier periods (what
  a monitor running every period would have seen). Changing a later value never
  changes an earlier score.
* **retrospective** methods (names ending in ``-retro``) are the seed
  articles' exact formulas: they use the whole history, including the value
  being judged and everything after it. ``Scores.retrospective`` is True.

Score scales (``Scores.score`` is always >= 0, NaN where a cell is not scored):

==========================  ======================================  ===============
method                      score                                   flag when
==========================  ======================================  ===============
``threshold``               distance outside [lower, upper]         score > 0
                            in value units
``*-zscore`` (not           ``|z|``, z = (value - center) / std     score > threshold
empirical)
``empirical-zscore*``       ``|z|`` / empirical percentile of |z|   score > 1
``iqr*``, ``rolling-iqr``   distance outside the box [Q1, Q3] in    score > multiplier
                            units of IQR (0 inside the box)
==========================  ======================================  ===============

A flag needs the score to be strictly above the threshold, as in the seeds.
For the IQR methods ``score > multiplier`` is exactly the seed's fence test
``value < Q1 - k*IQR or value > Q3 + k*IQR``.

Degenerate scale: when the history a cell is judged against is constant
(standard deviation or IQR exactly 0; detected exactly with the history's
minimum and maximum, not with a rounded variance), the score is 0 if the value
equals the history and :data:`SCORE_CAP` (``1e6``, finite) otherwise.

Scale invariance: multiplying every value by a positive constant changes no
flag, for every method except ``threshold`` (its bounds are in value units) and
``log-zscore-retro`` (the seed's ``log1p(value)`` depends on the currency unit).
``log-zscore`` uses a unit-free ``log1p`` (see :class:`LogZScore`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

from revwatch.data.panel import FREQUENCIES, Panel
from revwatch.detectors.base import Detector, Scores
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "SCORE_CAP",
    "EmpiricalZScore",
    "EmpiricalZScoreRetro",
    "ExpandingIQR",
    "GroupZScore",
    "GroupZScoreRetro",
    "IQRRetro",
    "LogZScore",
    "LogZScoreRetro",
    "NaiveZScore",
    "NaiveZScoreRetro",
    "RollingIQR",
    "RollingZScore",
    "SeasonalZScore",
    "SeasonalZScoreRetro",
    "StaticThreshold",
]

#: Score (and ``|z|``) given to a value that differs from a constant history.
SCORE_CAP = 1e6

#: Robust residuals of :class:`SeasonalZScore` closer than this (relative
#: units) are treated as equal, so rounding cannot turn exact periodicity into
#: a capped score.
_RELATIVE_TOL = 1e-9

#: IQR of a normal distribution in units of its standard deviation.
_IQR_TO_SIGMA = 1.3489795003921634

#: Elements per chunk for the sliding-window sort of :class:`RollingIQR`.
_CHUNK_ELEMENTS = 1 << 22

#: ``log-zscore`` works on ``log1p(value / unit)`` with unit = this fraction
#: of the series' first positive value.
_LOG_UNIT_FRACTION = 1e-3


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #


def _positive(name: str, method: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number) or number <= 0:
        raise ParameterError(f"{method}: {name} must be a positive number, got {value!r}")
    return number


def _rolling_min_periods(method: str, window: int, min_periods: int | None) -> int:
    """``min_periods`` of a rolling method: half the window (at least 2) unless given."""
    if min_periods is None:
        return max(2, window // 2)
    return _count("min_periods", method, min_periods, 2)


def _count(name: str, method: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{method}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _percentile(method: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0 < number < 100:
        raise ParameterError(f"{method}: percentile must be between 0 and 100, got {value!r}")
    return number


def _group_labels(
    panel: Panel, groups: Sequence[str] | str | None, method: str
) -> tuple[np.ndarray | None, int]:
    """Group index of every series row; ``(None, n_series)`` means one group per series."""
    keys = panel.matrix().keys
    n_series = len(keys)
    if groups is None:
        return None, n_series
    columns = [groups] if isinstance(groups, str) else list(groups)
    unknown = [c for c in columns if c not in panel.id_columns]
    if unknown:
        raise ParameterError(
            f"{method}: groups {unknown} are not id columns; "
            f"use some of {list(panel.id_columns)} (or groups=None for one group per series)"
        )
    if not columns or n_series == 0:
        return np.zeros(n_series, dtype=np.int64), 1 if n_series else 0
    labels = keys.groupby(columns, sort=False, dropna=False).ngroup().to_numpy(dtype=np.int64)
    return labels, int(labels.max()) + 1


# --------------------------------------------------------------------------- #
# array helpers
# --------------------------------------------------------------------------- #


def _window_accumulate(a: np.ndarray, window: int, ufunc: np.ufunc, fill: float) -> np.ndarray:
    """Reduce ``a[:, t - window:t]`` with ``ufunc`` for every ``t`` in ``0..n_periods``.

    Block-wise prefix/suffix accumulation (van Herk / Gil-Werman): each window
    is the suffix of one block of ``window`` cells plus the prefix of the next,
    so sums never run over the whole series and cannot drift. Cells before the
    start count as ``fill``. Returns ``(n_series, n_periods + 1)``.

    Examples
    --------
    >>> _window_accumulate(np.array([[1.0, 2.0, 3.0, 4.0]]), 2, np.add, 0.0).tolist()
    [[0.0, 1.0, 3.0, 5.0, 7.0]]
    """
    n_rows, n_periods = a.shape
    length = window + n_periods + 1
    n_blocks = -(-length // window) + 1
    padded = np.full((n_rows, n_blocks * window), fill)
    padded[:, window : window + n_periods] = a
    blocks = padded.reshape(n_rows, n_blocks, window)
    prefix = ufunc.accumulate(blocks, axis=2).reshape(n_rows, -1)
    suffix = ufunc.accumulate(blocks[:, :, ::-1], axis=2)[:, :, ::-1].reshape(n_rows, -1)
    start = np.arange(n_periods + 1)
    out = suffix[:, start].copy()
    partial = start % window > 0
    out[:, partial] = ufunc(out[:, partial], prefix[:, start[partial] + window - 1])
    return out


def _compact(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move each row's observed values to the front, in time order.

    Returns the compacted matrix (NaN tail), the permutation (compact position
    -> column) and its inverse (column -> compact position).
    """
    order = np.argsort(np.isnan(values), axis=1, kind="stable")
    compact = np.take_along_axis(values, order, axis=1)
    inverse = np.argsort(order, axis=1, kind="stable")
    return compact, order, inverse


def _moments_from_sums(
    count: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    reference: np.ndarray,
    min_periods: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample std (ddof=1) from shifted sums, exact for constant histories.

    ``s1``/``s2`` are sums of ``x - reference`` and its square. The variance
    is kept at or above its lower bound ``range**2 / (2 (n - 1))``, so
    cancellation can never make a non-constant history look constant; a
    history whose minimum equals its maximum gets std 0 and mean = that value.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        enough = count >= max(min_periods, 2)
        mean = reference + s1 / count
        var = (s2 - s1 * s1 / count) / (count - 1)
        spread = high - low
        var = np.maximum(var, spread * spread / (2.0 * (count - 1)))
        std = np.sqrt(var)
    constant = spread == 0
    mean = np.where(constant, high, mean)
    std = np.where(constant, 0.0, std)
    mean[~enough] = np.nan
    std[~enough] = np.nan
    return mean, std


def _expanding_moments(
    values: np.ndarray,
    labels: np.ndarray | None,
    n_groups: int,
    min_periods: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of each group's values in all periods before each period.

    ``labels`` None means one group per series. Pooled groups sum their
    series per period with :func:`numpy.add.at` first. Sums are taken about
    the group's value(s) in its first observed period, which lies before every
    scored period, so the result stays causal to the last bit.
    """
    n_series, n_periods = values.shape
    valid = ~np.isnan(values)
    if labels is None:
        count = valid.astype(np.float64)
        first_col = np.argmax(valid, axis=1)
        reference = values[np.arange(n_series), first_col]
        reference = np.where(np.isnan(reference), 0.0, reference)
        shifted = np.where(valid, values - reference[:, None], 0.0)
        s1 = shifted
        s2 = shifted * shifted
        low = np.where(valid, values, np.inf)
        high = np.where(valid, values, -np.inf)
    else:
        count = np.zeros((n_groups, n_periods))
        raw = np.zeros((n_groups, n_periods))
        np.add.at(count, labels, valid.astype(np.float64))
        np.add.at(raw, labels, np.where(valid, values, 0.0))
        observed = count > 0
        first_col = np.argmax(observed, axis=1)
        rows = np.arange(n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            reference = raw[rows, first_col] / count[rows, first_col]
        reference = np.where(np.isfinite(reference), reference, 0.0)
        shifted = np.where(valid, values - reference[labels][:, None], 0.0)
        s1 = np.zeros((n_groups, n_periods))
        s2 = np.zeros((n_groups, n_periods))
        np.add.at(s1, labels, shifted)
        np.add.at(s2, labels, shifted * shifted)
        low = np.full((n_groups, n_periods), np.inf)
        high = np.full((n_groups, n_periods), -np.inf)
        np.minimum.at(low, labels, np.where(valid, values, np.inf))
        np.maximum.at(high, labels, np.where(valid, values, -np.inf))

    def exclusive(a: np.ndarray, ufunc: np.ufunc, fill: float) -> np.ndarray:
        out = np.full(a.shape, fill)
        if a.shape[1] > 1:
            out[:, 1:] = ufunc.accumulate(a[:, :-1], axis=1)
        return out

    mean, std = _moments_from_sums(
        exclusive(count, np.add, 0.0),
        exclusive(s1, np.add, 0.0),
        exclusive(s2, np.add, 0.0),
        exclusive(low, np.minimum, np.inf),
        exclusive(high, np.maximum, -np.inf),
        reference[:, None],
        min_periods,
    )
    if labels is not None:
        mean, std = mean[labels], std[labels]
    return mean, std


def _whole_moments(
    values: np.ndarray, labels: np.ndarray | None, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """The seed's whole-history mean and std (ddof=1) per group, two-pass.

    Groups with one value have std NaN (as pandas); constant groups std 0.
    Returns ``(n_series, 1)`` arrays broadcastable over the periods.
    """
    n_series = values.shape[0]
    valid = ~np.isnan(values)
    if labels is None:
        labels = np.arange(n_series)
        n_groups = n_series
    count = np.zeros(n_groups)
    total = np.zeros(n_groups)
    np.add.at(count, labels, valid.sum(axis=1).astype(np.float64))
    np.add.at(total, labels, np.where(valid, values, 0.0).sum(axis=1))
    low = np.full(n_groups, np.inf)
    high = np.full(n_groups, -np.inf)
    np.minimum.at(low, labels, np.where(valid, values, np.inf).min(axis=1, initial=np.inf))
    np.maximum.at(high, labels, np.where(valid, values, -np.inf).max(axis=1, initial=-np.inf))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        dev = np.where(valid, values - mean[labels][:, None], 0.0)
        ss = np.zeros(n_groups)
        np.add.at(ss, labels, (dev * dev).sum(axis=1))
        std = np.sqrt(ss / (count - 1))
    constant = (high == low) & (count >= 2)
    mean = np.where(constant, high, mean)
    std = np.where(constant, 0.0, std)
    std = np.where(count >= 2, std, np.nan)
    mean = np.where(count >= 1, mean, np.nan)
    return mean[labels][:, None], std[labels][:, None]


class _PriorCells(BaseIndexer):
    """Window bounds ``[row start, cell)`` over a row-major flattened matrix."""

    def __init__(self, start: np.ndarray, end: np.ndarray) -> None:
        super().__init__()
        self.start = start
        self.end = end

    def get_window_bounds(
        self,
        num_values: int = 0,
        min_periods: int | None = None,
        center: bool | None = None,
        closed: str | None = None,
        step: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.start, self.end


def _expanding_quantiles(
    values: np.ndarray, qs: Sequence[float], min_periods: int
) -> list[np.ndarray]:
    """Linear-interpolated quantiles of each row's values before each period.

    The matrix is flattened row by row and every cell's window is "from the
    start of its row up to, not including, itself"; pandas' rolling quantile
    (a skip list in compiled code, O(n log n) per series) reads all windows in
    one call, skipping NaN. A sort per period would be O(n^2).

    Examples
    --------
    >>> _expanding_quantiles(np.array([[1.0, 3.0, np.nan, 2.0]]), [0.5], 1)[0].tolist()
    [[nan, 1.0, 2.0, 2.0]]
    """
    n_rows, n_periods = values.shape
    if values.size == 0:
        return [np.full(values.shape, np.nan) for _ in qs]
    cell = np.arange(values.size, dtype=np.int64)
    start = (cell // n_periods) * n_periods
    rolling = pd.Series(values.reshape(-1)).rolling(
        _PriorCells(start, cell), min_periods=max(min_periods, 1)
    )
    return [rolling.quantile(q).to_numpy(dtype=np.float64).reshape(n_rows, n_periods) for q in qs]


def _sorted_window_quantiles(
    compact: np.ndarray, window: int, qs: Sequence[float]
) -> list[np.ndarray]:
    """Quantiles of the ``window`` compact cells before each compact position.

    Sliding windows are sorted (NaN last) and read at the linear-interpolation
    positions of their own count. Rows go in chunks to bound memory.
    """
    n_rows, n_periods = compact.shape
    out = [np.full((n_rows, n_periods), np.nan) for _ in qs]
    if n_rows == 0 or n_periods == 0:
        return out
    padded = np.concatenate([np.full((n_rows, window), np.nan), compact], axis=1)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n_periods * window))
    for start in range(0, n_rows, chunk):
        windows = np.lib.stride_tricks.sliding_window_view(
            padded[start : start + chunk], window, axis=1
        )[:, :n_periods]
        ordered = np.sort(windows, axis=2)
        count = np.count_nonzero(~np.isnan(windows), axis=2)
        for target, q in zip(out, qs, strict=True):
            position = (count - 1) * q
            lo = np.clip(np.floor(position).astype(np.int64), 0, window - 1)
            hi = np.clip(np.ceil(position).astype(np.int64), 0, window - 1)
            below = np.take_along_axis(ordered, lo[..., None], axis=2)[..., 0]
            above = np.take_along_axis(ordered, hi[..., None], axis=2)[..., 0]
            value = below + (position - lo) * (above - below)
            value = np.where(count > 0, value, np.nan)
            target[start : start + chunk] = value
    return out


# --------------------------------------------------------------------------- #
# score assembly
# --------------------------------------------------------------------------- #


def _z_scores(
    values: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    threshold: float,
    retrospective: bool,
) -> Scores:
    """Scores of ``z = (value - center) / scale``; ``|z|`` is the score.

    A zero scale gives ``z`` 0 for a value equal to the center and
    +/- :data:`SCORE_CAP` otherwise.
    """
    center = np.broadcast_to(center, values.shape)
    scale = np.broadcast_to(scale, values.shape)
    known = np.isfinite(center) & np.isfinite(scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = values - center
        z = np.where(
            scale > 0,
            dev / scale,
            np.where(dev == 0, 0.0, np.sign(dev) * SCORE_CAP),
        )
    z = np.clip(z, -SCORE_CAP, SCORE_CAP)
    z[~(known & ~np.isnan(values))] = np.nan
    scores = Scores.empty(values.shape, threshold)
    scores.z = z
    scores.score = np.abs(z)
    scores.baseline = np.where(known, center, np.nan)
    scores.lower = np.where(known, center - threshold * scale, np.nan)
    scores.upper = np.where(known, center + threshold * scale, np.nan)
    scores.flag = np.nan_to_num(scores.score, nan=0.0) > threshold
    scores.retrospective = retrospective
    return scores


def _iqr_scores(
    values: np.ndarray,
    q1: np.ndarray,
    median: np.ndarray,
    q3: np.ndarray,
    multiplier: float,
    retrospective: bool,
) -> Scores:
    """Scores of the distance outside the box ``[Q1, Q3]`` in units of IQR.

    ``z`` is that distance signed (+ above Q3, - below Q1, 0 inside), the
    score its absolute value; ``lower``/``upper`` are the seed's fences.
    """
    q1, median, q3 = (np.broadcast_to(a, values.shape) for a in (q1, median, q3))
    known = np.isfinite(q1) & np.isfinite(q3)
    iqr = q3 - q1
    with np.errstate(invalid="ignore", divide="ignore"):
        above = values - q3
        below = q1 - values
        outside = np.where(above > 0, above, np.where(below > 0, -below, 0.0))
        z = np.where(iqr > 0, outside / iqr, np.sign(outside) * SCORE_CAP)
    z = np.clip(z, -SCORE_CAP, SCORE_CAP)
    z[~(known & ~np.isnan(values))] = np.nan
    scores = Scores.empty(values.shape, multiplier)
    scores.z = z
    scores.score = np.abs(z)
    scores.baseline = np.where(known, median, np.nan)
    scores.lower = np.where(known, q1 - multiplier * iqr, np.nan)
    scores.upper = np.where(known, q3 + multiplier * iqr, np.nan)
    scores.flag = np.nan_to_num(scores.score, nan=0.0) > multiplier
    scores.retrospective = retrospective
    return scores


def _seasonal_period(panel: Panel) -> int:
    return int(FREQUENCIES[panel.freq][2])


# --------------------------------------------------------------------------- #
# detectors
# --------------------------------------------------------------------------- #


class StaticThreshold(Detector):
    """Flag values below ``lower`` or above ``upper`` (seed 001's static threshold).

    Score: the distance outside ``[lower, upper]`` in value units (0 inside);
    ``z`` the same distance signed; flag when the score is > 0. ``baseline``
    is the middle of the band (or the single bound given); a missing bound is
    NaN in ``lower``/``upper``. Every observed value is scored. This is the one
    method whose flags depend on the unit of the values.

    Parameters
    ----------
    lower, upper : float or None
        Bounds in value units; at least one must be given.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": "a", "period": pd.date_range("2024-01-01", periods=3,
    ...                        freq="MS"), "value": [5.0, 50.0, 500.0]})
    >>> panel = Panel.from_frame(frame, id_columns=["id"], freq="monthly")
    >>> StaticThreshold(lower=10, upper=100).fit_detect(panel).flag.tolist()
    [[True, False, True]]
    """

    name: ClassVar[str] = "threshold"
    complexity: ClassVar[str] = "Very low (fixed bound)"

    def __init__(self, *, lower: float | None = None, upper: float | None = None) -> None:
        self.lower = lower
        self.upper = upper

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against the fixed bounds."""
        if self.lower is None and self.upper is None:
            raise ParameterError(
                "threshold: pass lower=... and/or upper=... (bounds in value units), "
                "e.g. --param lower=1000"
            )
        bounds = []
        for label, bound in (("lower", self.lower), ("upper", self.upper)):
            if bound is None:
                bounds.append(np.nan)
                continue
            try:
                number = float(bound)
            except (TypeError, ValueError):
                number = float("nan")
            if not np.isfinite(number):
                raise ParameterError(f"threshold: {label} must be a finite number, got {bound!r}")
            bounds.append(number)
        lower, upper = bounds
        if np.isfinite(lower) and np.isfinite(upper) and lower > upper:
            raise ParameterError(f"threshold: lower ({lower}) is above upper ({upper})")
        values = panel.matrix().values
        with np.errstate(invalid="ignore"):
            above = values - upper if np.isfinite(upper) else np.zeros_like(values)
            below = lower - values if np.isfinite(lower) else np.zeros_like(values)
            z = np.where(above > 0, above, np.where(below > 0, -below, 0.0))
        z[np.isnan(values)] = np.nan
        scores = Scores.empty(values.shape, 0.0)
        scores.z = z
        scores.score = np.abs(z)
        scores.flag = np.nan_to_num(scores.score, nan=0.0) > 0
        center = np.nanmean([lower, upper]) if np.isfinite([lower, upper]).any() else np.nan
        scores.baseline = np.full(values.shape, center)
        scores.lower = np.full(values.shape, lower)
        scores.upper = np.full(values.shape, upper)
        return scores


class RollingZScore(Detector):
    """z-score against the previous ``window`` observed values (seed 001, 30-day rolling).

    ``z = (x_t - mean) / std`` with the mean and sample std (ddof=1) of the
    ``window`` observed values before ``t`` (missing periods are skipped, so
    the window reaches further back; the current value is never part of its
    own baseline). Score ``|z|``; flag when ``|z| > threshold``.

    Window sums are block-wise prefix/suffix sums about the series' first
    value (no drift over long series); a constant window is recognised
    exactly from its minimum and maximum.

    Parameters
    ----------
    window : int
        Number of earlier observations in the baseline.
    threshold : float
        Flag when ``|z|`` exceeds it.
    min_periods : int or None
        Fewest earlier observations to score a cell; None means ``window // 2``
        (at least 2).

    Examples
    --------
    >>> frame = pd.DataFrame({"id": "a", "period": pd.date_range("2024-01-01", periods=6,
    ...                        freq="MS"), "value": [10.0, 11, 9, 10, 11, 40]})
    >>> panel = Panel.from_frame(frame, id_columns=["id"], freq="monthly")
    >>> RollingZScore(window=4, min_periods=3).fit_detect(panel).flag.tolist()
    [[False, False, False, False, False, True]]
    """

    name: ClassVar[str] = "rolling-zscore"
    complexity: ClassVar[str] = "Very low (rolling mean/std)"

    def __init__(
        self, *, window: int = 30, threshold: float = 3.0, min_periods: int | None = None
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.min_periods = min_periods

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against its trailing window."""
        window = _count("window", self.name, self.window, 2)
        threshold = _positive("threshold", self.name, self.threshold)
        min_periods = _rolling_min_periods(self.name, window, self.min_periods)
        values = panel.matrix().values
        compact, _, inverse = _compact(values)
        n_series, n_periods = compact.shape
        reference = compact[:, :1] if n_periods else np.zeros((n_series, 1))
        reference = np.where(np.isnan(reference), 0.0, reference)
        valid = ~np.isnan(compact)
        shifted = np.where(valid, compact - reference, 0.0)
        count = _window_accumulate(valid.astype(np.float64), window, np.add, 0.0)[:, :-1]
        s1 = _window_accumulate(shifted, window, np.add, 0.0)[:, :-1]
        s2 = _window_accumulate(shifted * shifted, window, np.add, 0.0)[:, :-1]
        low = _window_accumulate(np.where(valid, compact, np.inf), window, np.minimum, np.inf)
        high = _window_accumulate(np.where(valid, compact, -np.inf), window, np.maximum, -np.inf)
        mean, std = _moments_from_sums(
            count, s1, s2, low[:, :-1], high[:, :-1], reference, min_periods
        )
        mean = np.take_along_axis(mean, inverse, axis=1)
        std = np.take_along_axis(std, inverse, axis=1)
        missing = np.isnan(values)
        mean[missing] = np.nan
        std[missing] = np.nan
        return _z_scores(values, mean, std, threshold, retrospective=False)


class RollingIQR(Detector):
    """IQR fences of the previous ``window`` observed values (seed 001, 30-day rolling IQR).

    Q1 and Q3 (linear interpolation, as pandas) of the ``window`` observed
    values before each period; the seed's fences are ``Q1 - k*IQR`` and
    ``Q3 + k*IQR``. Score: the distance outside ``[Q1, Q3]`` in units of
    IQR (0 inside), so ``score > multiplier`` is exactly "outside the fences".
    ``baseline`` is the window median.

    Parameters
    ----------
    window : int
        Number of earlier observations.
    multiplier : float
        The fence multiplier ``k``.
    min_periods : int or None
        Fewest earlier observations to score; None means ``window // 2`` (at least 2).

    Examples
    --------
    >>> frame = pd.DataFrame({"id": "a", "period": pd.date_range("2024-01-01", periods=6,
    ...                        freq="MS"), "value": [10.0, 12, 9, 11, 10, 30]})
    >>> panel = Panel.from_frame(frame, id_columns=["id"], freq="monthly")
    >>> RollingIQR(window=5, min_periods=4).fit_detect(panel).flag.tolist()
    [[False, False, False, False, False, True]]
    """

    name: ClassVar[str] = "rolling-iqr"
    complexity: ClassVar[str] = "Very low (rolling quartiles)"

    def __init__(
        self, *, window: int = 30, multiplier: float = 1.5, min_periods: int | None = None
    ) -> None:
        self.window = window
        self.multiplier = multiplier
        self.min_periods = min_periods

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against its trailing-window fences."""
        window = _count("window", self.name, self.window, 2)
        multiplier = _positive("multiplier", self.name, self.multiplier)
        min_periods = _rolling_min_periods(self.name, window, self.min_periods)
        values = panel.matrix().values
        compact, _, inverse = _compact(values)
        q1, median, q3 = _sorted_window_quantiles(compact, window, (0.25, 0.5, 0.75))
        position = np.arange(compact.shape[1])
        enough = np.minimum(position, window) >= min_periods
        stats = []
        for a in (q1, median, q3):
            a[:, ~enough] = np.nan
            a = np.take_along_axis(a, inverse, axis=1)
            a[np.isnan(values)] = np.nan
            stats.append(a)
        return _iqr_scores(values, stats[0], stats[1], stats[2], multiplier, retrospective=False)


class NaiveZScore(Detector):
    """Causal version of the seed's naive z-score: one pool of all series.

    The mean and std (ddof=1) of every value of every series in all periods
    before ``t``; ``z = (x - mean) / std``, score ``|z|``. It ignores both
    seasonality and the series' own level (which is the seed's point: it
    flags the large series and the December peaks).

    Parameters
    ----------
    threshold : float
        Flag when ``|z|`` exceeds it.
    min_periods : int
        Fewest earlier pooled observations to score a period.
    """

    name: ClassVar[str] = "naive-zscore"
    complexity: ClassVar[str] = "Very low (global mean/std)"

    def __init__(self, *, threshold: float = 3.0, min_periods: int = 3) -> None:
        self.threshold = threshold
        self.min_periods = min_periods

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against the pooled past."""
        threshold = _positive("threshold", self.name, self.threshold)
        min_periods = _count("min_periods", self.name, self.min_periods, 2)
        values = panel.matrix().values
        labels = np.zeros(values.shape[0], dtype=np.int64)
        mean, std = _expanding_moments(values, labels, 1 if len(labels) else 0, min_periods)
        return _z_scores(values, mean, std, threshold, retrospective=False)


class NaiveZScoreRetro(Detector):
    """The seed's naive z-score: global mean and std of the whole data set.

    ``z = (x - mean(all values)) / std(all values)`` (ddof=1); score ``|z|``;
    retrospective.

    Parameters
    ----------
    threshold : float
        Flag when ``|z|`` exceeds it.
    """

    name: ClassVar[str] = "naive-zscore-retro"
    complexity: ClassVar[str] = "Very low (global mean/std)"
    retrospective: ClassVar[bool] = True

    def __init__(self, *, threshold: float = 3.0) -> None:
        self.threshold = threshold

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against the global mean and std."""
        threshold = _positive("threshold", self.name, self.threshold)
        values = panel.matrix().values
        labels = np.zeros(values.shape[0], dtype=np.int64)
        mean, std = _whole_moments(values, labels, 1)
        return _z_scores(values, mean, std, threshold, retrospective=True)


class GroupZScore(Detector):
    """Causal group-aware z-score: expanding mean/std within the group.

    For each period ``t`` the mean and std (ddof=1) of the group's values in
    all periods before ``t``; score ``|z|``. ``groups=None`` is one group per
    series (the seed's (product, region) groups when those are the id
    columns); a list of id columns pools the series that share them.

    Parameters
    ----------
    threshold : float
        Flag when ``|z|`` exceeds it.
    groups : list of str or None
        Id columns to pool by; None = each series alone; ``[]`` = all series.
    min_periods : int
        Fewest earlier observations in the group to score.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": "a", "period": pd.date_range("2024-01-01", periods=6,
    ...                        freq="MS"), "value": [10.0, 11, 9, 10, 11, 40]})
    >>> panel = Panel.from_frame(frame, id_columns=["id"], freq="monthly")
    >>> GroupZScore().fit_detect(panel).flag.tolist()
    [[False, False, False, False, False, True]]
    """

    name: ClassVar[str] = "group-zscore"
    complexity: ClassVar[str] = "Low (groupby + zscore)"

    def __init__(
        self,
        *,
        threshold: float = 3.0,
        groups: Sequence[str] | None = None,
        min_periods: int = 3,
    ) -> None:
        self.threshold = threshold
        self.groups = groups
        self.min_periods = min_periods

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against its group's past."""
        threshold = _positive("threshold", self.name, self.threshold)
        min_periods = _count("min_periods", self.name, self.min_periods, 2)
        labels, n_groups = _group_labels(panel, self.groups, self.name)
        values = panel.matrix().values
        mean, std = _expanding_moments(values, labels, n_groups, min_periods)
        return _z_scores(values, mean, std, threshold, retrospective=False)


class GroupZScoreRetro(Detector):
    """The seed's group-aware z-score: whole-history mean/std per group.

    Score ``|z|``; retrospective. A group with one value is not scored.

    Parameters
    ----------
    threshold : float
        Flag when ``|z|`` exceeds it.
    groups : list of str or None
        Id columns to pool by; None = each series alone.
    """

    name: ClassVar[str] = "group-zscore-retro"
    complexity: ClassVar[str] = "Low (groupby + zscore)"
    retrospective: ClassVar[bool] = True

    def __init__(self, *, threshold: float = 3.0, groups: Sequence[str] | None = None) -> None:
        self.threshold = threshold
        self.groups = groups

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against its group's whole history."""
        threshold = _positive("threshold", self.name, self.threshold)
        labels, n_groups = _group_labels(panel, self.groups, self.name)
        values = panel.matrix().values
        mean, std = _whole_moments(values, labels, n_groups)
        return _z_scores(values, mean, std, threshold, retrospective=True)


class SeasonalZScoreRetro(Detector):
    """The seed's seasonal z-score: same calendar position, all years, value included.

    For each series and calendar position (month of year for monthly data;
    the position is the period's place in the frequency's seasonal cycle:
    hour of day, day of week, week of a 52-week cycle, quarter, month) the
    mean and std (ddof=1) of all its values at that position **including the
    value being judged**; a position with a single value is not scored.
    Score ``|z|``; retrospective.

    Warning: with two observations ``a`` and ``b`` at a position,
    ``z = +/-(a - b) / 2 / (|a - b| / sqrt(2)) = +/-1/sqrt(2) ~ 0.71`` whatever
    the values, so with two years of monthly data this method can never flag
    at threshold 3. In general ``|z| <= (n - 1) / sqrt(n)`` with ``n`` values.
    Use :class:`SeasonalZScore` for short histories.

    Parameters
    ----------
    threshold : float
        Flag when ``|z|`` exceeds it.
    """

    name: ClassVar[str] = "seasonal-zscore-retro"
    complexity: ClassVar[str] = "Low (groupby + month logic)"
    retrospective: ClassVar[bool] = True

    def __init__(self, *, threshold: float = 3.0) -> None:
        self.threshold = threshold

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against its series' same-season values."""
        threshold = _positive("threshold", self.name, self.threshold)
        values = panel.matrix().values
        n_series, n_periods = values.shape
        season = _seasonal_period(panel)
        # Columns are consecutive periods, so the calendar position of column j
        # is (position of column 0 + j) mod season: grouping by j mod season is
        # grouping by calendar position. Cell (i, j) goes to group i*season + j%season.
        labels = (np.arange(n_series)[:, None] * season + np.arange(n_periods) % season).ravel()
        flat = values.reshape(-1, 1)
        mean, std = _whole_moments(flat, labels, n_series * season)
        mean = mean.reshape(n_series, n_periods)
        std = std.reshape(n_series, n_periods)
        return _z_scores(values, mean, std, threshold, retrospective=True)


class SeasonalZScore(Detector):
    """Causal seasonal z-score that works from one prior year of history.

    With ``s`` the seasonal period (12 for monthly data) and ``x_t`` the value:

    1. **Level of a cycle**: the mean of ``s`` consecutive periods after
       dropping their smallest and largest value (when at least 4 are
       observed), so that one anomalous month barely moves it. Every cycle
       holds each season once, so the level is free of seasonality.
    2. **Cycle level around a past cell** ``u``: ``N_u`` = level of the
       periods ``[a, a + s)`` with ``a = max(u - s//2, first observation)``.
    3. **Seasonal index** at ``t``: ``I_t`` = mean over earlier cycles
       ``k >= 1`` of ``x_{t-ks} / N_{t-ks}``. Every ``N_{t-ks}`` only uses
       periods before ``t``.
    4. **Current level**: ``L_t`` = level of the ``s`` periods before ``t``.
    5. **Expected value**: ``e_t = I_t * L_t`` (multiplicative seasonality,
       adjusted for the series' level change since last year).
    6. **Residual**: ``r_t = (x_t - e_t) / e_t``, relative, so December's
       larger swings are on the same scale as the other months'.
    7. **Center and scale** from the residuals of all earlier periods (not
       only the same month, so there are many): center ``m_t`` = median of
       the series' own earlier residuals; own scale ``s_t`` = their IQR / 1.349
       (their std if the IQR is 0), from ``k`` residuals. A handful of
       residuals gives a very noisy scale, so it is shrunk toward the panel's
       pooled scale ``p_t`` = 1.4826 * median of ``|r_u - m_u|`` over every
       series and every earlier period (residuals are relative, so series of
       any size pool): ``sigma_t^2 = (k s_t^2 + 12 p_t^2) / (k + 12)``.
    8. ``z_t = (r_t - m_t) / sigma_t``, score ``|z|``;
       ``baseline = e_t (1 + m_t)``, band ``e_t (1 + m_t -/+ threshold * sigma_t)``.

    A level needs at least 3/4 of its cycle observed. A cell is scored once a
    full prior cycle and ``min_periods`` residuals of its series exist: with
    monthly data, from month 12 + ``min_periods`` on. Cells whose expected
    value is not positive (non-positive data) are not scored. Residual
    differences below 1e-9 (relative) count as equal, so an exactly periodic
    history does not produce capped scores from rounding.

    Parameters
    ----------
    threshold : float
        Flag when ``|z|`` exceeds it.
    min_periods : int
        Fewest earlier residuals of the series needed to score.
    """

    name: ClassVar[str] = "seasonal-zscore"
    complexity: ClassVar[str] = "Low (groupby + month logic)"

    #: Weight, in residuals, of the pooled scale in ``sigma``.
    prior_weight: ClassVar[float] = 12.0

    def __init__(self, *, threshold: float = 3.0, min_periods: int = 6) -> None:
        self.threshold = threshold
        self.min_periods = min_periods

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against its seasonal expectation."""
        threshold = _positive("threshold", self.name, self.threshold)
        min_periods = _count("min_periods", self.name, self.min_periods, 2)
        values = panel.matrix().values
        n_series, n_periods = values.shape
        season = _seasonal_period(panel)
        expected = self._expected(values, season)
        with np.errstate(invalid="ignore", divide="ignore"):
            usable = expected > 0
            residual = np.where(usable, (values - expected) / expected, np.nan)
        q1, median, q3 = _expanding_quantiles(residual, (0.25, 0.5, 0.75), min_periods)
        _, std = _expanding_moments(residual, None, n_series, min_periods)
        (center_any,) = _expanding_quantiles(residual, (0.5,), 1)
        own = (q3 - q1) / _IQR_TO_SIGMA
        own = np.where(own > _RELATIVE_TOL, own, std)
        count = np.zeros(values.shape)
        if n_periods > 1:
            count[:, 1:] = np.cumsum(~np.isnan(residual), axis=1)[:, :-1]
        # Pooled scale: out-of-sample absolute deviations of every series, periods < t.
        deviation = np.abs(residual - center_any)
        stream = deviation.T.reshape(-1)
        pooled = np.full(n_periods, np.nan)
        if stream.size and n_periods > 1:
            running = pd.Series(stream).expanding(min_periods=1).median().to_numpy(dtype=np.float64)
            pooled[1:] = 1.4826 * running[np.arange(1, n_periods) * n_series - 1]
        pooled_sq = np.where(np.isnan(pooled), 0.0, pooled**2)[None, :]
        prior = np.where(np.isnan(pooled), 0.0, self.prior_weight)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            sigma = np.sqrt((count * own**2 + prior * pooled_sq) / (count + prior))
        sigma = np.where(sigma > _RELATIVE_TOL, sigma, np.where(np.isnan(sigma), np.nan, 0.0))
        close = np.abs(residual - median) <= _RELATIVE_TOL
        residual_for_z = np.where(close & (sigma == 0), median, residual)
        rel = _z_scores(residual_for_z, median, sigma, threshold, retrospective=False)
        scores = Scores.empty(values.shape, threshold)
        scores.z = rel.z
        scores.score = rel.score
        scores.flag = rel.flag
        known = np.isfinite(median) & np.isfinite(sigma) & usable
        scores.baseline = np.where(known, expected * (1 + median), np.nan)
        scores.lower = np.where(known, expected * (1 + median - threshold * sigma), np.nan)
        scores.upper = np.where(known, expected * (1 + median + threshold * sigma), np.nan)
        return scores

    @staticmethod
    def _expected(values: np.ndarray, season: int) -> np.ndarray:
        """``e_t = I_t * L_t`` for every cell (NaN where it cannot be formed)."""
        n_series, n_periods = values.shape
        needed = int(np.ceil(0.75 * season))
        valid = ~np.isnan(values)
        count = _window_accumulate(valid.astype(np.float64), season, np.add, 0.0)
        total = _window_accumulate(np.where(valid, values, 0.0), season, np.add, 0.0)
        low = _window_accumulate(np.where(valid, values, np.inf), season, np.minimum, np.inf)
        high = _window_accumulate(np.where(valid, values, -np.inf), season, np.maximum, -np.inf)
        trim = count >= 4
        with np.errstate(invalid="ignore", divide="ignore"):
            level = np.where(trim, (total - low - high) / (count - 2), total / count)
        level = np.where(count >= needed, level, np.nan)
        # level[:, t] is the level of the `season` periods before t (t = 0..n_periods).
        trailing = level[:, :n_periods]
        first = np.argmax(valid, axis=1)
        start = np.maximum(np.arange(n_periods)[None, :] - season // 2, first[:, None])
        end = start + season
        inside = end <= n_periods
        cycle = np.take_along_axis(level, np.minimum(end, n_periods), axis=1)
        cycle = np.where(inside, cycle, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(cycle > 0, values / cycle, np.nan)
        n_cycles = -(-n_periods // season) if n_periods else 0
        padded = np.full((n_series, n_cycles * season), np.nan)
        padded[:, :n_periods] = ratio
        by_cycle = padded.reshape(n_series, n_cycles, season)
        has = ~np.isnan(by_cycle)
        sums = np.cumsum(np.where(has, by_cycle, 0.0), axis=1)
        counts = np.cumsum(has, axis=1)
        index = np.full(by_cycle.shape, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            index[:, 1:] = np.where(counts[:, :-1] > 0, sums[:, :-1] / counts[:, :-1], np.nan)
        index = index.reshape(n_series, -1)[:, :n_periods]
        return index * trailing


class EmpiricalZScore(Detector):
    """Causal empirical z-score: threshold from the percentile of past ``|z|``.

    ``z`` is the causal per-series (or per-group) expanding z-score of
    :class:`GroupZScore`. The threshold for period ``t`` is the ``percentile``
    of all ``|z|`` of all series in periods before ``t`` (pooled, linear
    interpolation); at least ``100 / (100 - percentile)`` past values are
    needed (20 for the 95th). Score: ``|z|`` divided by that threshold, so
    ``Scores.threshold`` is 1 and a flag means ``|z|`` above the empirical
    percentile; ``lower``/``upper`` are ``mean -/+ threshold_t * std``.

    Parameters
    ----------
    percentile : float
        Percentile (0-100) of past ``|z|`` used as the threshold.
    groups : list of str or None
        Id columns to pool the z-score baseline by; None = each series alone.
    min_periods : int
        Fewest earlier observations to compute a z-score.
    """

    name: ClassVar[str] = "empirical-zscore"
    complexity: ClassVar[str] = "Low (groupby + percentile)"

    def __init__(
        self,
        *,
        percentile: float = 95.0,
        groups: Sequence[str] | None = None,
        min_periods: int = 3,
    ) -> None:
        self.percentile = percentile
        self.groups = groups
        self.min_periods = min_periods

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against the empirical threshold of the past."""
        percentile = _percentile(self.name, self.percentile)
        min_periods = _count("min_periods", self.name, self.min_periods, 2)
        labels, n_groups = _group_labels(panel, self.groups, self.name)
        values = panel.matrix().values
        n_series, n_periods = values.shape
        mean, std = _expanding_moments(values, labels, n_groups, min_periods)
        raw = _z_scores(values, mean, std, 1.0, retrospective=False)
        stream = raw.score.T.reshape(-1)
        needed = int(np.ceil(100.0 / (100.0 - percentile)))
        cut = np.full(n_periods, np.nan)
        if stream.size and n_periods > 1:
            running = (
                pd.Series(stream)
                .expanding(min_periods=needed)
                .quantile(percentile / 100.0)
                .to_numpy(dtype=np.float64)
            )
            # The pool for period t is every |z| of periods 0..t-1.
            cut[1:] = running[np.arange(1, n_periods) * n_series - 1]
        return _empirical_scores(values, raw, mean, std, cut[None, :], retrospective=False)


class EmpiricalZScoreRetro(Detector):
    """The seed's empirical z-score: whole-history z, threshold = percentile of all ``|z|``.

    Score ``|z|`` / that percentile (threshold 1); retrospective.

    Parameters
    ----------
    percentile : float
        Percentile (0-100) of all ``|z|`` used as the threshold.
    groups : list of str or None
        Id columns to pool by; None = each series alone (the seed's groups).
    """

    name: ClassVar[str] = "empirical-zscore-retro"
    complexity: ClassVar[str] = "Low (groupby + percentile)"
    retrospective: ClassVar[bool] = True

    def __init__(self, *, percentile: float = 95.0, groups: Sequence[str] | None = None) -> None:
        self.percentile = percentile
        self.groups = groups

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against the percentile of all ``|z|``."""
        percentile = _percentile(self.name, self.percentile)
        labels, n_groups = _group_labels(panel, self.groups, self.name)
        values = panel.matrix().values
        mean, std = _whole_moments(values, labels, n_groups)
        raw = _z_scores(values, mean, std, 1.0, retrospective=True)
        finite = raw.score[np.isfinite(raw.score)]
        cut = float(np.quantile(finite, percentile / 100.0)) if finite.size else np.nan
        return _empirical_scores(values, raw, mean, std, np.asarray(cut), retrospective=True)


def _empirical_scores(
    values: np.ndarray,
    raw: Scores,
    mean: np.ndarray,
    std: np.ndarray,
    cut: np.ndarray,
    retrospective: bool,
) -> Scores:
    """Turn raw z-scores and an empirical ``|z|`` cut into ratio scores (threshold 1)."""
    cut = np.broadcast_to(cut, values.shape)
    mean = np.broadcast_to(mean, values.shape)
    std = np.broadcast_to(std, values.shape)
    scores = Scores.empty(values.shape, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(
            cut > 0,
            raw.score / cut,
            np.where(raw.score == 0, 0.0, SCORE_CAP),
        )
    ratio = np.where(np.isfinite(cut), np.minimum(ratio, SCORE_CAP), np.nan)
    ratio[np.isnan(raw.score)] = np.nan
    known = np.isfinite(mean) & np.isfinite(std) & np.isfinite(cut)
    scores.score = ratio
    scores.z = np.where(np.isnan(ratio), np.nan, raw.z)
    scores.baseline = np.where(known, mean, np.nan)
    scores.lower = np.where(known, mean - cut * std, np.nan)
    scores.upper = np.where(known, mean + cut * std, np.nan)
    scores.flag = np.nan_to_num(ratio, nan=0.0) > 1.0
    scores.retrospective = retrospective
    scores.extra["empirical_threshold"] = np.where(known, cut, np.nan)
    return scores


class LogZScore(Detector):
    """Causal log z-score: expanding per-series z-score of ``log1p(value / unit)``.

    The seed applies ``log1p`` to the raw value, which makes the result
    depend on the currency unit (``log1p(0.5)`` vs ``log1p(500)``). Here the
    unit is 1/1000 of the series' first positive value, so values far above
    it behave like ``log`` (as in the seed at its own scale), zero stays
    finite (``log1p(0) = 0``: a drop to zero is a very large drop) and
    multiplying the data by a constant changes nothing. Values with
    ``value / unit <= -1`` are not scored. ``baseline``/``lower``/``upper`` are
    transformed back to value units. Score ``|z|`` in log units.

    Parameters
    ----------
    threshold : float
        Flag when ``|z|`` exceeds it.
    min_periods : int
        Fewest earlier observations to score.
    """

    name: ClassVar[str] = "log-zscore"
    complexity: ClassVar[str] = "Low (log + groupby + zscore)"

    def __init__(self, *, threshold: float = 3.0, min_periods: int = 3) -> None:
        self.threshold = threshold
        self.min_periods = min_periods

    def detect(self, panel: Panel) -> Scores:
        """Score every cell's log value against the series' past."""
        threshold = _positive("threshold", self.name, self.threshold)
        min_periods = _count("min_periods", self.name, self.min_periods, 2)
        values = panel.matrix().values
        positive = values > 0
        has_positive = positive.any(axis=1)
        first = values[np.arange(values.shape[0]), np.argmax(positive, axis=1)]
        unit = np.where(has_positive, first * _LOG_UNIT_FRACTION, np.nan)[:, None]
        # The unit comes from the first positive value: cells before it are not scored.
        seen = np.cumsum(positive, axis=1) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = np.where(seen & (values / unit > -1), values / unit, np.nan)
            logs = np.log1p(scaled)
        mean, std = _expanding_moments(logs, None, values.shape[0], min_periods)
        scores = _z_scores(logs, mean, std, threshold, retrospective=False)
        scores.score[np.isnan(values)] = np.nan
        with np.errstate(over="ignore"):
            scores.baseline = np.expm1(scores.baseline) * unit
            scores.lower = np.expm1(scores.lower) * unit
            scores.upper = np.expm1(scores.upper) * unit
        return scores


class LogZScoreRetro(Detector):
    """The seed's log z-score: whole-history z of ``log1p(value)`` per series.

    Uses the raw ``log1p`` exactly as the seed, so its flags depend on the
    unit of the values. Values <= -1 are not scored. Score ``|z|``;
    retrospective.

    Parameters
    ----------
    threshold : float
        Flag when ``|z|`` exceeds it.
    """

    name: ClassVar[str] = "log-zscore-retro"
    complexity: ClassVar[str] = "Low (log + groupby + zscore)"
    retrospective: ClassVar[bool] = True

    def __init__(self, *, threshold: float = 3.0) -> None:
        self.threshold = threshold

    def detect(self, panel: Panel) -> Scores:
        """Score every cell's ``log1p`` against its series' whole history."""
        threshold = _positive("threshold", self.name, self.threshold)
        values = panel.matrix().values
        with np.errstate(invalid="ignore", divide="ignore"):
            logs = np.log1p(np.where(values > -1, values, np.nan))
        mean, std = _whole_moments(logs, None, values.shape[0])
        scores = _z_scores(logs, mean, std, threshold, retrospective=True)
        with np.errstate(over="ignore"):
            scores.baseline = np.expm1(scores.baseline)
            scores.lower = np.expm1(scores.lower)
            scores.upper = np.expm1(scores.upper)
        return scores


class ExpandingIQR(Detector):
    """Causal IQR fences from all of the series' earlier values.

    Q1, median and Q3 (linear interpolation) of every observed value before
    the period; score = distance outside ``[Q1, Q3]`` in units of IQR, flag
    when it exceeds ``multiplier`` (outside the seed's fences).

    Parameters
    ----------
    multiplier : float
        The fence multiplier ``k``.
    min_periods : int
        Fewest earlier observations to score.
    """

    name: ClassVar[str] = "iqr"
    complexity: ClassVar[str] = "Low (groupby + quartiles)"

    def __init__(self, *, multiplier: float = 1.5, min_periods: int = 4) -> None:
        self.multiplier = multiplier
        self.min_periods = min_periods

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against the fences of its series' past."""
        multiplier = _positive("multiplier", self.name, self.multiplier)
        min_periods = _count("min_periods", self.name, self.min_periods, 2)
        values = panel.matrix().values
        q1, median, q3 = _expanding_quantiles(values, (0.25, 0.5, 0.75), min_periods)
        return _iqr_scores(values, q1, median, q3, multiplier, retrospective=False)


class IQRRetro(Detector):
    """The seed's IQR method: fences from the series' whole history.

    Q1/Q3 of all the series' values (including the one judged); score =
    distance outside ``[Q1, Q3]`` in IQR units; flag when > ``multiplier``;
    retrospective.

    Parameters
    ----------
    multiplier : float
        The fence multiplier ``k``.
    """

    name: ClassVar[str] = "iqr-retro"
    complexity: ClassVar[str] = "Low (groupby + quartiles)"
    retrospective: ClassVar[bool] = True

    def __init__(self, *, multiplier: float = 1.5) -> None:
        self.multiplier = multiplier

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against its series' whole-history fences."""
        multiplier = _positive("multiplier", self.name, self.multiplier)
        values = panel.matrix().values
        n_series = values.shape[0]
        if values.shape[1] == 0 or n_series == 0:
            stats = [np.full((n_series, 1), np.nan)] * 3
        else:
            with np.errstate(invalid="ignore"):
                # All-NaN rows give NaN (numpy warns about them; that is expected here).
                filled = np.where(np.isnan(values).all(axis=1, keepdims=True), 0.0, values)
                quantiles = np.nanquantile(filled, [0.25, 0.5, 0.75], axis=1)
            empty = np.isnan(values).all(axis=1)
            quantiles[:, empty] = np.nan
            stats = [q[:, None] for q in quantiles]
        return _iqr_scores(values, stats[0], stats[1], stats[2], multiplier, retrospective=True)
