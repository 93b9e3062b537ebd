"""Causal seasonal-trend decomposition (``stl``): the fast alternative to Prophet.

:class:`STLDetector` splits every series into trend + seasonal + residual the
way STL does (a moving trend over one full cycle, a seasonal component from
the same phase of earlier cycles, robust statistics throughout), but it is
computed **causally** and for **all series at once** with NumPy: the
expectation for period ``t`` uses only values before ``t``.

For a seasonal period ``p`` (from :data:`revwatch.data.panel.FREQUENCIES`:
7 for daily, 12 for monthly, 52 for weekly, 24 for hourly, 4 for quarterly):

1. **trend** ``L(s)``: the median (``robust=True``; the mean otherwise) of the
   ``p`` values in the window ``[s - p//2, s - p//2 + p)``, which holds exactly
   one value of every phase, so the seasonal pattern cancels. ``L(s)`` needs
   values up to ``s + ceil(p/2) - 1``.
2. **seasonal** ``S_t``: the median (mean) of the detrended values
   ``x(s) - L(s)`` at ``s = t - p, t - 2p, ..., t - seasonal_cycles * p``,
   all of whose windows end before ``t``.
3. **trend at t**: the last trend value whose window ends before ``t``,
   ``L(t - ceil(p/2))``, extrapolated linearly with the slope of ``L`` over
   the cycle before it.
4. **residual** ``r(t) = x(t) - (trend at t + S_t)``; its scale is
   ``1.4826 *`` the median, over the ``scale_window`` periods before ``t``, of
   ``|r(s) - m(s)|`` where ``m(s)`` is the median of the residuals before ``s``
   (the sample std of the past residuals when ``robust=False``).

``score = |r(t) - m(t)| / scale`` (a robust z), ``z`` keeps the sign,
a cell is flagged when ``score > threshold``. A period is scored once the
series has ``min_cycles`` full cycles before it and at least
:data:`MIN_RESIDUALS` past residuals. With ``p < 2`` (yearly data) there is no
seasonal component and the trend is the median of the previous three values.

Series whose values are all positive are decomposed in logs by default
(``multiplicative="auto"``): revenue's seasonal swings grow with its level, and
an additive decomposition of a growing series flags every new December.
Scores are invariant to multiplying a series by a positive constant (every
step is a median, a mean or a scale, and a log turns the factor into a shift).
A history whose residual scale is exactly 0 scores 0 when the value matches the expectation and
:data:`SCORE_CAP` otherwise.

Why not :mod:`statsmodels` STL: it fits one series at a time (about 5.5 ms per
730-day series, see ``shared/notes/stack.md``) and a causal use would refit it
at every period; this NumPy version scores 10 000 daily series x 730 days in
seconds.
"""

from __future__ import annotations

import logging
from typing import ClassVar

import numpy as np

from revwatch.data.panel import FREQUENCIES, Panel
from revwatch.detectors.base import Detector, Scores
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["MIN_RESIDUALS", "SCORE_CAP", "STLDetector", "trailing_window_stat"]

#: Score given to a residual against a history whose residual scale is exactly 0.
SCORE_CAP = 1e6

#: Past residuals needed before a period is scored.
MIN_RESIDUALS = 6

#: 1 / Phi^-1(3/4): MAD of a normal sample in units of its standard deviation.
_MAD_TO_SIGMA = 1.482602218505602

#: Elements per chunk for sliding-window sorts.
_CHUNK_ELEMENTS = 1 << 22

#: Relative size below which a residual counts as exactly zero.
_RELATIVE_TOL = 1e-9


def trailing_window_stat(
    values: np.ndarray,
    window: int,
    *,
    offset: int = 0,
    stat: str = "median",
    min_count: int = 1,
) -> np.ndarray:
    """Median, mean or std of each row over the window ``[t - window + offset, t + offset)``.

    ``offset=0`` is the trailing window before ``t`` (``t`` excluded). NaN
    values are skipped; fewer than ``min_count`` values give NaN. Rows go in
    chunks so memory stays bounded.

    Parameters
    ----------
    values : ndarray, shape (n_rows, n_periods)
    window : int
        Window length (>= 1).
    offset : int, default 0
        Shift of the window's end relative to ``t`` (the end is exclusive).
    stat : {"median", "mean", "std"}
    min_count : int, default 1

    Returns
    -------
    ndarray, shape (n_rows, n_periods)

    Examples
    --------
    >>> trailing_window_stat(np.array([[1.0, 5.0, 2.0, 4.0]]), 2).tolist()
    [[nan, 1.0, 3.0, 3.5]]
    >>> trailing_window_stat(np.array([[1.0, 5.0, 2.0, 4.0]]), 3, offset=2).tolist()
    [[3.0, 2.0, 4.0, 3.0]]
    """
    n_rows, n_periods = values.shape
    out = np.full((n_rows, n_periods), np.nan)
    if n_rows == 0 or n_periods == 0:
        return out
    # padded column j holds original column j - window; the window for t is
    # original [t - window + offset, t + offset) = padded [t + offset, t + offset + window)
    right = max(offset, 0) + 1
    padded = np.full((n_rows, window + n_periods + right), np.nan)
    padded[:, window : window + n_periods] = values
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n_periods * window))
    if offset < 0:
        raise ParameterError(f"window offset must be >= 0, got {offset}")
    first = offset
    for start in range(0, n_rows, chunk):
        block = padded[start : start + chunk]
        windows = np.lib.stride_tricks.sliding_window_view(block, window, axis=1)
        windows = windows[:, first : first + n_periods]
        count = np.count_nonzero(~np.isnan(windows), axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            if stat == "median":
                ordered = np.sort(windows, axis=2)
                lo = np.clip((count - 1) // 2, 0, window - 1)
                hi = np.clip(count // 2, 0, window - 1)
                a = np.take_along_axis(ordered, lo[..., None], axis=2)[..., 0]
                b = np.take_along_axis(ordered, hi[..., None], axis=2)[..., 0]
                result = 0.5 * (a + b)
            elif stat == "mean":
                result = np.nansum(windows, axis=2) / count
            elif stat == "std":
                mean = np.nansum(windows, axis=2) / count
                dev = windows - mean[..., None]
                result = np.sqrt(np.nansum(dev * dev, axis=2) / (count - 1))
            else:
                raise ParameterError(f"unknown window statistic {stat!r}; use median, mean or std")
        result[count < max(min_count, 1)] = np.nan
        out[start : start + chunk] = result
    return out


def _lagged_stack(values: np.ndarray, lags: list[int]) -> np.ndarray:
    """``out[..., k] = values[:, t - lags[k]]`` (NaN before the start)."""
    n_rows, n_periods = values.shape
    out = np.full((n_rows, n_periods, len(lags)), np.nan)
    for k, lag in enumerate(lags):  # a handful of lags, not a loop over series
        if lag < n_periods:
            out[:, lag:, k] = values[:, : n_periods - lag]
    return out


def _center(stack: np.ndarray, robust: bool) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        if robust:
            ordered = np.sort(stack, axis=2)
            count = np.count_nonzero(~np.isnan(stack), axis=2)
            size = stack.shape[2]
            lo = np.clip((count - 1) // 2, 0, size - 1)
            hi = np.clip(count // 2, 0, size - 1)
            a = np.take_along_axis(ordered, lo[..., None], axis=2)[..., 0]
            b = np.take_along_axis(ordered, hi[..., None], axis=2)[..., 0]
            out = 0.5 * (a + b)
            out[count == 0] = np.nan
            return out
        count = np.count_nonzero(~np.isnan(stack), axis=2)
        out = np.nansum(stack, axis=2) / count
        out[count == 0] = np.nan
        return out


def causal_decomposition(
    values: np.ndarray,
    period: int,
    *,
    robust: bool = True,
    seasonal_cycles: int = 5,
) -> np.ndarray:
    """Expected value of every cell from the values before it (trend + seasonal).

    See the module docstring for the steps. Returns NaN where the history is
    too short.

    Examples
    --------
    >>> x = np.tile([10.0, 20.0, 30.0, 20.0], 4)[None, :]
    >>> causal_decomposition(x, 4)[0, 8:].tolist()
    [10.0, 20.0, 30.0, 20.0, 10.0, 20.0, 30.0, 20.0]
    """
    stat = "median" if robust else "mean"
    if period < 2:
        return trailing_window_stat(values, 3, stat=stat, min_count=2)
    half = period // 2
    need = period - period // 4  # observed values a trend window needs
    # L(s) over [s - half, s - half + period): a trailing window ending at s - half + period
    trend = trailing_window_stat(values, period, offset=period - half, stat=stat, min_count=need)
    # the trend window of s ends (inclusive) at s + period - half - 1; for t use s = t - lag
    lag = period - half  # = ceil(period / 2): smallest lag whose window ends before t
    detrended = values - trend
    seasonal = _center(
        _lagged_stack(detrended, [k * period for k in range(1, seasonal_cycles + 1)]), robust
    )
    last = _lagged_stack(trend, [lag, lag + period])
    slope = (last[..., 0] - last[..., 1]) / period
    expected_trend = last[..., 0] + lag * slope
    return expected_trend + seasonal


class STLDetector(Detector):
    """Causal seasonal-trend decomposition with robust residual scores (``stl``).

    Parameters
    ----------
    period : int or None, default None
        Seasonal period in periods; None takes it from the panel frequency
        (daily 7, weekly 52, monthly 12, quarterly 4, hourly 24, yearly 1).
    robust : bool, default True
        Medians and MAD (True) or means and standard deviations (False).
    threshold : float, default 3.5
        Flag when the robust z of the residual is above this.
    min_cycles : int, default 2
        Full seasonal cycles of history a period needs before it is scored.
    seasonal_cycles : int, default 5
        Earlier cycles the seasonal component is taken from.
    scale_window : int or None, default None
        Past residuals the scale is estimated from; None: ``max(4 * period, 30)``.
    multiplicative : bool or "auto", default "auto"
        Decompose ``log(value)`` (seasonal swings that grow with the level, as
        revenue's do); ``"auto"``: for each series whose observed values are
        all positive, the others additively. Residuals, scale and score are
        then in log units; ``baseline``/``lower``/``upper`` are back in value units.

    Examples
    --------
    >>> import pandas as pd
    >>> months = pd.date_range("2020-01-01", periods=48, freq="MS")
    >>> rng = np.random.default_rng(0)
    >>> season = np.where(months.month == 12, 1.5, 1.0)
    >>> values = 1000 * season * (1 + 0.02 * rng.standard_normal(48))
    >>> values[40] *= 0.6
    >>> frame = pd.DataFrame({"period": months, "value": values})
    >>> panel = Panel.from_frame(frame, id_columns=[], freq="monthly")
    >>> scores = STLDetector().fit_detect(panel)
    >>> np.flatnonzero(scores.flag[0]).tolist()
    [40]
    """

    name: ClassVar[str] = "stl"
    complexity: ClassVar[str] = "Medium (seasonal decomposition)"
    retrospective: ClassVar[bool] = False

    def __init__(
        self,
        *,
        period: int | None = None,
        robust: bool = True,
        threshold: float = 3.5,
        min_cycles: int = 2,
        seasonal_cycles: int = 5,
        scale_window: int | None = None,
        multiplicative: bool | str = "auto",
    ) -> None:
        self.period = period
        self.robust = robust
        self.threshold = threshold
        self.min_cycles = min_cycles
        self.seasonal_cycles = seasonal_cycles
        self.scale_window = scale_window
        self.multiplicative = multiplicative

    def _period(self, panel: Panel) -> int:
        if self.period is None:
            return int(FREQUENCIES[panel.freq][2])
        if isinstance(self.period, bool) or not isinstance(self.period, (int, np.integer)):
            raise ParameterError(f"stl: period must be a positive integer, got {self.period!r}")
        if self.period < 1:
            raise ParameterError(f"stl: period must be a positive integer, got {self.period!r}")
        return int(self.period)

    def _validate(self) -> None:
        for name in ("min_cycles", "seasonal_cycles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"stl: {name} must be an integer >= 1, got {value!r}")
        try:
            threshold = float(self.threshold)
        except (TypeError, ValueError):
            threshold = float("nan")
        if not np.isfinite(threshold) or threshold <= 0:
            raise ParameterError(
                f"stl: threshold must be a positive number, got {self.threshold!r}"
            )
        if self.scale_window is not None and (
            isinstance(self.scale_window, bool)
            or not isinstance(self.scale_window, (int, np.integer))
            or self.scale_window < MIN_RESIDUALS
        ):
            raise ParameterError(
                f"stl: scale_window must be None or an integer >= {MIN_RESIDUALS}, "
                f"got {self.scale_window!r}"
            )

    def fit(self, panel: Panel) -> STLDetector:
        """Check the parameters and remember the seasonal period (nothing else is learned)."""
        self._validate()
        self.period_ = self._period(panel)
        self.n_series_ = panel.n_series
        return self

    def detect(self, panel: Panel) -> Scores:
        """Score every cell against the causal decomposition of its own past."""
        self._validate()
        period = self._period(panel)
        values = panel.matrix().values
        shape = values.shape
        scores = Scores.empty(shape, float(self.threshold))
        if values.size == 0:
            return scores
        if self.multiplicative not in (True, False, "auto"):
            raise ParameterError(
                f"stl: multiplicative must be True, False or 'auto', got {self.multiplicative!r}"
            )
        with np.errstate(invalid="ignore"):
            positive = np.where(np.isnan(values), True, values > 0).all(axis=1)
        use_log: np.ndarray = (
            np.asarray(positive)
            if self.multiplicative == "auto"
            else np.zeros(shape[0], dtype=bool)
        )
        if self.multiplicative is True:
            if not positive.all():
                raise ParameterError(
                    "stl: multiplicative=True needs positive values in every series; "
                    "use multiplicative='auto' or False"
                )
            use_log = np.asarray(positive)
        original = values
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(
                use_log[:, None], np.log(np.where(use_log[:, None], values, 1.0)), values
            )
        values = np.where(np.isnan(original), np.nan, values)
        expected = causal_decomposition(
            values, period, robust=bool(self.robust), seasonal_cycles=int(self.seasonal_cycles)
        )
        residual = values - expected
        tiny = _RELATIVE_TOL * np.abs(expected)
        residual = np.where(np.abs(residual) <= tiny, 0.0, residual)
        window = int(self.scale_window) if self.scale_window is not None else max(4 * period, 30)
        stat = "median" if self.robust else "mean"
        center = trailing_window_stat(residual, window, stat=stat, min_count=MIN_RESIDUALS // 2)
        if self.robust:
            # 1.4826 x median over the window of |r(s) - m(s)|, each past residual
            # centred on the median of the residuals before it
            spread = _MAD_TO_SIGMA * trailing_window_stat(
                np.abs(residual - center), window, stat="median", min_count=MIN_RESIDUALS
            )
        else:
            spread = trailing_window_stat(residual, window, stat="std", min_count=MIN_RESIDUALS)
        centred = residual - center
        with np.errstate(invalid="ignore", divide="ignore"):
            z = centred / spread
        exact = np.abs(centred) <= _RELATIVE_TOL * np.maximum(np.abs(expected), np.abs(center))
        zero_scale = spread == 0
        z = np.where(zero_scale, np.where(exact, 0.0, np.sign(centred) * SCORE_CAP), z)
        start = self.min_cycles * period
        z[:, :start] = np.nan
        z[np.isnan(original)] = np.nan
        score = np.abs(z)
        scored = ~np.isnan(score)
        scores.score = score
        scores.z = z
        base = expected + center
        half_band = float(self.threshold) * spread
        back = use_log[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            scores.baseline = np.where(scored, np.where(back, np.exp(base), base), np.nan)
            low, high = base - half_band, base + half_band
            scores.lower = np.where(scored, np.where(back, np.exp(low), low), np.nan)
            scores.upper = np.where(scored, np.where(back, np.exp(high), high), np.nan)
        scores.flag = scored & (score > float(self.threshold))
        self.period_ = period
        logger.debug(
            "stl: period %d, %d cells scored, %d flagged", period, scored.sum(), scores.flag.sum()
        )
        return scores
