"""The default method (``--method auto``): robust, causal, event-aware.

Why not the seed's rolling z-score? A 6-point standard deviation is itself
very noisy, revenue is heavy-tailed so a 2.5 sigma rule fires on noise, and
once an account churns or expands the trailing window keeps flagging it month
after month. This detector fixes each of those (``docs/methods.md`` has the
full reasoning):

1. **Robust baseline with trend.** For each period, from the ``window``
   clean observations before it in the current regime: a resistant line
   (medians of the first and last thirds; on log values when the window is
   positive, so growth and decay are in percent) gives the slope, shrunk
   toward zero unless it is clearly larger than its own standard error; the
   baseline is the median of the observations moved along that slope to the
   current period.
   **Seasonality.** Once a full cycle of history exists (12 months, 7 days,
   ...), each period's multiplicative seasonal index is estimated from the
   same phase in earlier cycles, pooled across the portfolio's series (one
   year is enough when many series share a calendar; alone, a series needs
   two cycles); where the pattern is strong (``seasonal_amplitude``) the
   window and the period are deseasonalised first, so December peaks and
   weekends are not anomalies.
2. **Robust scale.** The noise scale comes from the median absolute
   deviation of period-over-period changes, which a trend or a single level
   step inside the window does not inflate. Series with little history borrow
   strength from the portfolio: their relative scale is pooled with the
   median relative scale of the series that have enough history
   (``prior_weight`` pseudo-observations), and the deviation is calibrated
   through the Student-t with the resulting degrees of freedom
   (:func:`revwatch.detectors._arrays.wallace_z`), so the same threshold means
   the same false-alarm rate for a two-year-old and a two-month-old account.
3. **Materiality.** A period is flagged only if its calibrated score reaches
   ``threshold`` *and* it differs from the baseline by at least
   ``min_change`` (a fraction of the baseline): a 1 % wobble on a very
   steady account is not news.
4. **Events, not rows.** A flag opens an *event* with the baseline frozen at
   its onset. Later periods that only continue it are not flagged again. The
   event ends as a ``spike``/``drop`` when the series returns to normal; if
   the deviation persists for ``confirm`` periods it becomes a
   ``level_shift`` (a step that stays) or a ``trend_change`` (a deviation
   that keeps growing), and the baseline restarts from the onset so the new
   level is the new normal: an account that churned is reported once, not
   every month.
5. **Slow drifts.** A two-sided CUSUM of the calibrated scores catches
   erosion or growth too gradual for any single period to stand out and
   reports it as ``trend_change``.
6. **Causal.** Every score uses only earlier periods. The *type* of an
   event can depend on the periods after its onset; until ``confirm``
   periods have been seen the flag is marked ``provisional``.

The scores are on a normal-equivalent z scale: ``score`` 3.5 has the tail
probability of a 3.5 sigma Gaussian deviation given the evidence available.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from revwatch.data.panel import FREQUENCIES, Panel
from revwatch.detectors._arrays import nanmedian_rows, wallace_t, wallace_z
from revwatch.detectors._kernels import (
    SEASONAL_NOISE,
    detect_arrays,
    log_spread_rows,
    preload_kernel,
    seasonal_ratios,
    window_stats,
)
from revwatch.detectors.base import TYPE_CODES, Detector, Scores
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["RobustShiftDetector", "baseline_window"]

_MAD_TO_SIGMA = 1.4826
_MAD_EFFICIENCY = 0.4
#: Default baseline window by frequency.
_WINDOWS = {
    "monthly": 12,
    "quarterly": 8,
    "fortnightly": 8,
    "weekly": 13,
    "daily": 28,
    "hourly": 48,
    # steps shorter than an hour: two days of steps, as for hourly data
    "30min": 96,
    "15min": 192,
    "10min": 288,
    "5min": 576,
    "1min": 2880,
    # the smallest window whose thirds hold two observations each: the slope of a shorter one
    # is never its own, and the slope carried from a trend change was extrapolated for good
    # (UK coal employment, flat at 11 000 for five years, expected at 811)
    "yearly": 6,
}


def baseline_window(freq: str) -> int:
    """Periods of the default baseline window for a frequency (12 for one not listed).

    Examples
    --------
    >>> baseline_window("daily"), baseline_window("monthly"), baseline_window("yearly")
    (28, 12, 6)
    """
    return _WINDOWS.get(freq, 12)


#: Parameters whose None (``"auto"`` for ``cusum_limit``) means "by frequency": on
#: daily data the noise scale looks back 13 weeks (a 4-week scale has too few
#: degrees of freedom and inflates every band) and the weekly index combines
#: 5 past weeks, so a month-long change of the weekly pattern is not adopted
#: as the new normal before it has been reported.
#: The CUSUM's decision limit grows with the number of periods a year: the
#: same limit that alarms falsely once in decades on monthly data alarms every
#: few weeks on daily data (heavy tails, holidays, unmodelled yearly shape).
#: On daily data a deviation must last a week (every weekday once) before it
#: becomes the new normal, and an open event ends only
#: when the series is back within 1 scale unit of its old baseline (or 90 % of
#: the onset's deviation is gone): with 2 units, a +12 % shift in a series with
#: 5 % daily noise "ended" on any day the noise pulled it under 2 units (about
#: one day in three), so shifts were closed as one-day spikes.
_SUB_HOURLY = {"30min": 2, "15min": 4, "10min": 6, "5min": 12, "1min": 60}  # steps an hour
#: Steps a day of each sub-daily frequency.
_PER_DAY = {"hourly": 24, **{freq: 24 * per_hour for freq, per_hour in _SUB_HOURLY.items()}}
#: The daily defaults whose false-alarm rate sub-daily data keeps per series-day.
_DAILY_THRESHOLD, _DAILY_CUSUM_LIMIT = 3.5, 11.0


def _per_day_threshold(per_day: int) -> float:
    """Threshold with the daily default's false alarms per series-day at ``per_day`` steps a day.

    At 3.5 a Gaussian residual passes about once in 2,150 steps: once in six years of days, but
    every eight days of 5-minute steps. The threshold whose two-sided tail is the daily one
    divided by the steps a day keeps the expected false alarms per series-day.

    Examples
    --------
    >>> [round(_per_day_threshold(n), 2) for n in (1, 24, 288)]
    [3.5, 4.27, 4.8]
    """
    tail = 2.0 * (1.0 - NormalDist().cdf(_DAILY_THRESHOLD)) / per_day
    return float(NormalDist().inv_cdf(1.0 - tail / 2.0))


def _per_day_cusum_limit(per_day: int) -> float:
    """CUSUM limit with the daily default's run length in days at ``per_day`` steps a day.

    Siegmund's approximation of the in-control run length grows as ``exp(2 k h)`` (drift ``k``
    0.5): adding ``log(per_day) / (2 k)`` to the limit multiplies it by ``per_day``, so a drift
    alarm is as rare per day as on daily data (monthly 6.5 -> daily 11 follows the same rule).

    Examples
    --------
    >>> [round(_per_day_cusum_limit(n), 1) for n in (1, 24, 288)]
    [11.0, 14.2, 16.7]
    """
    return _DAILY_CUSUM_LIMIT + float(np.log(per_day))


_FREQ_DEFAULTS: dict[str, dict[str, float | int | None]] = {
    # steps shorter than an hour are treated as hourly data (a week of steps for the scale)
    "scale_window": {
        "daily": 91,
        "hourly": 168,
        **{freq: 168 * per_hour for freq, per_hour in _SUB_HOURLY.items()},
        # the changes of a 5- or 6-year window give the scale 1.6 or 2.0 degrees of freedom,
        # at or under the 2 a band needs: yearly data were never judged; 12 years give monthly
        # data's 11 changes
        "yearly": 12,
        "other": None,
    },
    "seasonal_cycles": {"daily": 5, "hourly": 5, **dict.fromkeys(_SUB_HOURLY, 5), "other": 3},
    # sub-daily: as many false alarms per series-day as the daily defaults
    "threshold": {
        **{freq: _per_day_threshold(n) for freq, n in _PER_DAY.items()},
        "other": _DAILY_THRESHOLD,
    },
    "cusum_limit": {
        "daily": _DAILY_CUSUM_LIMIT,
        **{freq: _per_day_cusum_limit(n) for freq, n in _PER_DAY.items()},
        "other": 6.5,
    },
    "confirm": {"daily": 7, "other": 3},
    "revert": {"daily": 1.0, "other": 2.0},
    "revert_fraction": {"daily": 0.1, "other": 0.25},
}
_SPIKE = TYPE_CODES["spike"]
_DROP = TYPE_CODES["drop"]
_LEVEL = TYPE_CODES["level_shift"]
_TREND = TYPE_CODES["trend_change"]


@dataclass
class _Baseline:
    """Baseline, scale and degrees of freedom of every series at one period."""

    level: np.ndarray
    slope: np.ndarray
    scale: np.ndarray
    df: np.ndarray
    n_obs: np.ndarray


class RobustShiftDetector(Detector):
    """Robust, causal, event-aware detector; the robust part of the default (``auto``) method.

    Seven parameters default *by frequency* (None, ``"auto"`` for ``cusum_limit``, whose None
    turns the CUSUM off), resolved in :meth:`detect` from the panel's frequency
    (:meth:`for_frequency`): ``scale_window``, ``seasonal_cycles`` and ``cusum_limit`` are 91,
    5 and 11 for daily data, a week of steps, 5 and ``11 + ln(steps a day)`` (14.2 hourly, 16.7
    at 5 minutes) for sub-daily data, 12, 3 and 6.5 for yearly data, otherwise ``window``, 3
    and 6.5; ``threshold`` is 3.5, and
    on sub-daily data the value with the same expected false alarms per series-day (4.27
    hourly, 4.80 at 5 minutes); ``confirm``, ``revert`` and ``revert_fraction`` are 7, 1.0 and
    0.1 for daily data, otherwise 3, 2.0 and 0.25. A value given is used as given.

    Parameters
    ----------
    window : int or None, default None
        Clean observations before a period that form its baseline (level and
        trend). None picks one by frequency: 12 monthly, 8 quarterly, 13
        weekly, 28 daily, 48 hourly, 6 yearly.
    scale_window : int or None, default None (by frequency)
        Observations whose period-over-period changes give the noise scale;
        the scale is steadier than the level, so it may look further back.
        By frequency: 91 daily, a week of steps sub-daily, 12 yearly, otherwise
        ``window``.
    threshold : float or None, default None (by frequency: 3.5)
        Calibrated score (normal-equivalent z) at or above which a period is
        flagged.
    min_change : float, default 0.05
        Minimum relative difference from the baseline for a flag.
    min_history : int, default 3
        Observations in the current regime needed before a period is scored.
    confirm : int or None, default None (by frequency: 7 daily, otherwise 3)
        Periods (the onset included) a deviation must persist to be typed as
        a level shift or trend change rather than a spike or drop.
    revert : float or None, default None (by frequency: 1.0 daily, otherwise 2.0)
        An open event ends when the series comes back within ``revert``
        scale units of its frozen baseline, or recovers ``revert_fraction``
        of the onset's deviation.
    revert_fraction : float or None, default None (by frequency: 0.1 daily, otherwise 0.25)
        See ``revert``.
    growth : float, default 2.5
        A persistent deviation that grew by more than ``growth`` scale units
        since its onset is a trend change; otherwise a level shift.
    cusum_drift : float, default 0.5
        Allowance ``k`` of the CUSUM on calibrated scores.
    cusum_limit : float, "auto" or None, default "auto" (by frequency: 6.5 monthly, 11 daily)
        Decision limit ``h`` of the CUSUM; ``None`` or 0 disables it.
    prior_weight : float, default 3.0
        Pseudo-observations of the portfolio's relative scale added to each
        series' own scale estimate.
    floor : float, default 0.005
        Smallest scale as a fraction of the baseline.
    seasonal : bool, default True
        Adjust for a seasonal pattern (period from the panel's frequency: 12
        for monthly, 7 for daily, ...) once one full cycle of history exists
        and the pattern is strong enough; see :func:`seasonal_indices`.
    seasonal_cycles : int or None, default None (by frequency: 5 daily and sub-daily, else 3)
        Past cycles whose same-phase ratios are combined (median).
    seasonal_amplitude : float, default 0.05
        A series is treated as seasonal at a period only if the robust spread
        of its seasonal indices over the last cycle is at least this (5 %),
        and at least twice the noise of their own estimate (``SEASONAL_NOISE``
        times the relative scale over ``sqrt(seasonal_cycles)``: a noisy
        series' indices spread by chance).

    Examples
    --------
    >>> RobustShiftDetector(threshold=4.0).threshold
    4.0
    >>> daily = RobustShiftDetector(threshold=4.0).for_frequency("daily")
    >>> daily.threshold, daily.confirm, daily.cusum_limit
    (4.0, 7, 11.0)
    """

    #: Not a registered method: the robust part of ``auto`` (``AutoDetector``, named ``auto``),
    #: named apart so that the two are never confused.
    name = "robust"
    complexity = "Medium (robust event-aware baseline)"

    # The types once resolved by frequency (:meth:`for_frequency`, at the start of :meth:`detect`)
    threshold: float
    confirm: int
    revert: float
    revert_fraction: float
    cusum_limit: float | None
    seasonal_cycles: int

    def __init__(
        self,
        *,
        window: int | None = None,
        scale_window: int | None = None,
        threshold: float | None = None,
        min_change: float = 0.05,
        min_history: int = 3,
        confirm: int | None = None,
        revert: float | None = None,
        revert_fraction: float | None = None,
        growth: float = 2.5,
        cusum_drift: float = 0.5,
        cusum_limit: float | str | None = "auto",
        prior_weight: float = 3.0,
        floor: float = 0.005,
        seasonal: bool = True,
        seasonal_cycles: int | None = None,
        seasonal_amplitude: float = 0.05,
    ) -> None:
        # stored as given (scikit-learn style); None/"auto" are resolved in detect()
        self.window = window
        self.scale_window = scale_window
        self.threshold = threshold  # type: ignore[assignment]  # None: by frequency
        self.min_change = min_change
        self.min_history = min_history
        self.confirm = confirm  # type: ignore[assignment]  # None: by frequency
        self.revert = revert  # type: ignore[assignment]  # None: by frequency
        self.revert_fraction = revert_fraction  # type: ignore[assignment]  # None: by frequency
        self.growth = growth
        self.cusum_drift = cusum_drift
        self.cusum_limit = cusum_limit  # type: ignore[assignment]  # "auto": by frequency
        self.prior_weight = prior_weight
        self.floor = floor
        self.seasonal = seasonal
        self.seasonal_cycles = seasonal_cycles  # type: ignore[assignment]  # None: by frequency
        self.seasonal_amplitude = seasonal_amplitude

    def for_frequency(self, freq: str) -> RobustShiftDetector:
        """A copy with the parameters left to the frequency (None, ``cusum_limit`` "auto") set.

        Examples
        --------
        >>> RobustShiftDetector(confirm=4).for_frequency("monthly").get_params()["confirm"]
        4
        >>> RobustShiftDetector().for_frequency("hourly").scale_window
        168
        """
        params = self.get_params(deep=False)
        for name, by_freq in _FREQ_DEFAULTS.items():
            # None means "by frequency", except for the CUSUM, where None disables it
            unset = "auto" if name == "cusum_limit" else None
            if params[name] == unset:
                params[name] = by_freq.get(freq, by_freq["other"])
        return RobustShiftDetector(**params)

    def _left_to(self, freq: str) -> bool:
        """Whether :meth:`for_frequency` would change a parameter for ``freq``."""
        for name, by_freq in _FREQ_DEFAULTS.items():
            unset = "auto" if name == "cusum_limit" else None
            if getattr(self, name) == unset and by_freq.get(freq, by_freq["other"]) != unset:
                return True
        return False

    #: Parameters that must be numbers (those in ``_OPTIONAL_NUMBERS`` may also be None).
    _NUMBERS = (
        "window", "scale_window", "threshold", "min_change", "min_history", "confirm", "revert",
        "revert_fraction", "growth", "cusum_drift", "prior_weight", "floor", "seasonal_cycles",
        "seasonal_amplitude",
    )  # fmt: skip
    _OPTIONAL_NUMBERS = ("window", "scale_window")

    def _check_params(self) -> None:
        """Validate the parameters (resolved by frequency); ``ParameterError`` names the bad one."""
        for name in self._NUMBERS:
            value = getattr(self, name)
            if value is None and name in self._OPTIONAL_NUMBERS:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ParameterError(f"{name} must be a number, got {value!r}")
        limit = self.cusum_limit
        if not (limit is None or (_is_number(limit) and float(limit) >= 0)):
            raise ParameterError(
                f"cusum_limit must be 'auto', a number >= 0 or none (off), got {limit!r}"
            )
        if not isinstance(self.seasonal, bool | np.bool_):
            raise ParameterError(f"seasonal must be true or false, got {self.seasonal!r}")
        if int(self.seasonal_cycles) < 1:
            raise ParameterError(
                f"seasonal_cycles must be at least 1, got {self.seasonal_cycles!r}"
            )
        if self.window is not None and int(self.window) < 3:
            raise ParameterError(f"window must be at least 3, got {self.window}")
        if self.scale_window is not None and int(self.scale_window) < 3:
            raise ParameterError(f"scale_window must be at least 3, got {self.scale_window}")
        if int(self.min_history) < 2:
            raise ParameterError(f"min_history must be at least 2, got {self.min_history}")
        if int(self.confirm) < 2:
            raise ParameterError(f"confirm must be at least 2, got {self.confirm}")
        if not self.threshold > 0:
            raise ParameterError(f"threshold must be positive, got {self.threshold}")
        if self.min_change < 0:
            raise ParameterError(f"min_change must be >= 0, got {self.min_change}")

    # ------------------------------------------------------------------ baseline
    def _baseline(
        self,
        clean: np.ndarray,
        t: int,
        seg_start: np.ndarray,
        prior_slope: np.ndarray,
        carried_rel: np.ndarray,
        carried_df: np.ndarray,
        window: int,
        window_scale: int,
        divisor: np.ndarray | None = None,
    ) -> _Baseline:
        """Robust level, slope and scale of every series from clean data before ``t``.

        ``divisor`` (the window's seasonal indices, 1 where not seasonal)
        deseasonalises the window first.
        """
        stats = window_stats(clean, divisor, t, window, window_scale, seg_start, prior_slope)
        if stats is None:
            stats = _window_stats_numpy(
                clean, divisor, t, window, window_scale, seg_start, prior_slope
            )
        level, slope, own_scale, n_d, n_obs = stats
        # the MAD has about 40 % of the efficiency of the standard deviation:
        # count its degrees of freedom accordingly so the t-calibration is honest
        own_df = _MAD_EFFICIENCY * np.maximum(n_d - 1, 0).astype(np.float64)
        # pool the relative scale with the portfolio's
        abs_level = np.abs(level)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = own_scale / abs_level
        pool_ok = (n_d >= 6) & np.isfinite(rel)
        prior_df = float(self.prior_weight) if pool_ok.any() else 0.0
        rel_prior = float(np.median(rel[pool_ok])) if pool_ok.any() else 0.0
        own_var = np.where(own_df > 0, np.nan_to_num(own_scale) ** 2, 0.0)
        prior_var = (rel_prior * abs_level) ** 2
        # after a regime change a series keeps its own earlier relative scale as a prior,
        # which fades as the new regime gathers its own evidence (an early anomaly's scale
        # must not widen the band for good)
        carried_var = np.nan_to_num(carried_rel * abs_level) ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            carried_df = np.where(
                carried_df > 0, carried_df * carried_df / (carried_df + own_df), 0.0
            )
        df = own_df + prior_df + carried_df
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.sqrt(
                (own_df * own_var + prior_df * prior_var + carried_df * carried_var) / df
            )
        scale = np.fmax(scale, float(self.floor) * abs_level)
        return _Baseline(level=level, slope=slope, scale=scale, df=df, n_obs=n_obs)

    def preload(self) -> None:
        """Load the compiled kernel (numba's cache: about half a second) ahead of ``detect``."""
        preload_kernel()

    # ------------------------------------------------------------------- detect
    def detect(self, panel: Panel) -> Scores:
        """Score every period of every series causally; see the module docstring.

        With numba installed everything runs in one compiled pass
        (:func:`revwatch.detectors._kernels.detect_arrays`); otherwise the
        NumPy loop over periods (:meth:`_detect_numpy`) gives the same result.
        """
        if self._left_to(panel.freq):
            return self.for_frequency(panel.freq).detect(panel)
        self._check_params()
        y = panel.matrix().values
        n_periods = y.shape[1]
        tiny = max(_smallest_scale(y), 1e-300)
        period = FREQUENCIES[panel.freq][2] if panel.freq in FREQUENCIES else 1
        window = int(self.window) if self.window is not None else _WINDOWS.get(panel.freq, 12)
        window_scale = int(self.scale_window) if self.scale_window is not None else window
        window_scale = max(window_scale, window)
        seasonal = bool(self.seasonal) and period >= 2 and n_periods > period
        compiled = detect_arrays(
            y,
            threshold=float(self.threshold),
            min_change=float(self.min_change),
            min_history=int(self.min_history),
            confirm=int(self.confirm),
            revert=float(self.revert),
            revert_fraction=float(self.revert_fraction),
            growth=float(self.growth),
            cusum_drift=float(self.cusum_drift),
            cusum_limit=float(self.cusum_limit or 0.0),
            prior_weight=float(self.prior_weight),
            floor=float(self.floor),
            seasonal=seasonal,
            seasonal_cycles=int(self.seasonal_cycles),
            seasonal_amplitude=float(self.seasonal_amplitude),
            window=window,
            window_scale=window_scale,
            period=period,
            tiny=tiny,
            codes=(_SPIKE, _DROP, _LEVEL, _TREND),
        )
        if compiled is None:
            return self._detect_numpy(y, tiny, period, window, window_scale, seasonal)
        out = Scores(
            score=compiled["score"],
            z=compiled["z"],
            baseline=compiled["baseline"],
            lower=compiled["lower"],
            upper=compiled["upper"],
            flag=compiled["flag"],
            kind=compiled["kind"],
            provisional=compiled["provisional"],
            threshold=float(self.threshold),
            severity=compiled["severity"],
        )
        out.extra["confirm_at"] = compiled["confirm_at"]
        out.extra["seasonal_index"] = compiled["seasonal_index"]
        return out

    def _detect_numpy(
        self,
        y: np.ndarray,
        tiny: float,
        period: int,
        window: int,
        window_scale: int,
        seasonal: bool,
    ) -> Scores:
        """The NumPy path of :meth:`detect`: a loop over periods, vectorised over series."""
        n_series, n_periods = y.shape
        out = Scores.empty((n_series, n_periods), float(self.threshold))
        confirm_at = np.full((n_series, n_periods), -1, dtype=np.int64)
        severity = np.full((n_series, n_periods), np.nan)
        clean = y.copy()

        seg_start = np.zeros(n_series, dtype=np.int64)
        prior_slope = np.zeros(n_series)
        carried_rel = np.zeros(n_series)
        carried_df = np.zeros(n_series)
        # open events
        ev_onset = np.full(n_series, -1, dtype=np.int64)
        ev_dir = np.zeros(n_series)
        ev_level = np.zeros(n_series)
        ev_slope = np.zeros(n_series)
        ev_scale = np.ones(n_series)
        ev_df = np.ones(n_series)
        ev_dev0 = np.zeros(n_series)
        ev_devmax = np.zeros(n_series)
        ev_len = np.zeros(n_series, dtype=np.int64)
        ev_peak = np.zeros(n_series)
        # CUSUM state
        cu_pos = np.zeros(n_series)
        cu_neg = np.zeros(n_series)
        cu_pos_start = np.zeros(n_series, dtype=np.int64)
        cu_neg_start = np.zeros(n_series, dtype=np.int64)
        cu_pos_sum = np.zeros(n_series)
        cu_neg_sum = np.zeros(n_series)
        cu_pos_len = np.zeros(n_series)
        cu_neg_len = np.zeros(n_series)
        limit = float(self.cusum_limit or 0.0)
        k_drift = float(self.cusum_drift)
        thr = float(self.threshold)
        cycles = int(self.seasonal_cycles)
        noise_factor = SEASONAL_NOISE / np.sqrt(max(cycles, 1))
        rel_prev = np.zeros(n_series)  # each series' last relative scale (0 until known)
        # seasonal index of each cell, estimated from clean data before it
        si_hist = np.full((n_series, n_periods), np.nan)
        si_used = np.ones((n_series, n_periods))

        for t in range(n_periods):
            divisor: np.ndarray | None = None
            if seasonal and t >= period:
                si_hist[:, t] = seasonal_index_at(
                    clean, t, period, cycles=cycles, raw=y, seg_start=seg_start
                )
                spread = log_spread(si_hist[:, t - period + 1 : t + 1], min_count=period // 2)
                # the pattern must be wider than the noise of its own estimate, and amplitude
                wide = np.fmax(float(self.seasonal_amplitude), noise_factor * rel_prev)
                on_t = np.isfinite(si_hist[:, t]) & (spread >= wide)
                if on_t.any():
                    si_used[:, t] = np.where(on_t, si_hist[:, t], 1.0)
                    lo = max(0, t - window_scale)
                    window_si = si_hist[:, lo:t]
                    if n_series >= 5:
                        # cells whose own index is not known yet (the first cycle) take
                        # the portfolio's same-phase ratio within the last cycle
                        window_si = np.where(
                            np.isnan(window_si),
                            pooled_cycle_ratios(clean, lo, t, period)[None, :],
                            window_si,
                        )
                    divisor = np.where(on_t[:, None], window_si, 1.0)
            yt = y[:, t] / si_used[:, t]
            observed = ~np.isnan(yt)
            base = self._baseline(
                clean,
                t,
                seg_start,
                prior_slope,
                carried_rel,
                carried_df,
                window,
                window_scale,
                divisor,
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                rel_now = base.scale / np.abs(base.level)
            rel_prev = np.where(np.isfinite(rel_now), rel_now, rel_prev)
            with np.errstate(divide="ignore"):
                inflate = np.sqrt(1.0 + np.pi / (2.0 * base.n_obs))
            pred_scale = np.fmax(base.scale * inflate, tiny)
            scored = observed & (base.n_obs >= int(self.min_history)) & (base.df >= 2)
            scored &= np.isfinite(base.level) & np.isfinite(pred_scale)
            dev = yt - base.level
            with np.errstate(invalid="ignore", divide="ignore"):
                z = wallace_z(dev / pred_scale, base.df)
                material = np.abs(dev) >= float(self.min_change) * np.abs(base.level)
            half_band = np.fmax(
                wallace_t(thr, base.df) * pred_scale,
                float(self.min_change) * np.abs(base.level),
            )
            out.baseline[:, t] = np.where(scored, base.level, np.nan)
            out.lower[:, t] = out.baseline[:, t] - half_band
            out.upper[:, t] = out.baseline[:, t] + half_band
            out.z[:, t] = np.where(scored, z, np.nan)
            out.score[:, t] = np.where(scored, np.abs(z), np.nan)

            # ---- continue or close open events
            in_event = (ev_onset >= 0) & observed
            if in_event.any():
                ev_base = ev_level + ev_slope * (t - ev_onset)
                ev_dev = yt - ev_base
                with np.errstate(invalid="ignore", divide="ignore"):
                    ev_z = wallace_z(ev_dev / ev_scale, ev_df)
                toward = ev_dir * ev_z
                reverted = in_event & (
                    (toward < float(self.revert))
                    | (np.abs(ev_dev) < float(self.revert_fraction) * np.abs(ev_dev0))
                )
                # transient event over: the onset stays a spike/drop, confirmed now
                done = np.flatnonzero(reverted)
                out.provisional[done, ev_onset[done]] = False
                confirm_at[done, ev_onset[done]] = t
                ev_onset[done] = -1

                going = in_event & ~reverted
                idx = np.flatnonzero(going)
                if idx.size:
                    half = half_band[idx]
                    out.baseline[idx, t] = ev_base[idx]
                    out.lower[idx, t] = ev_base[idx] - half
                    out.upper[idx, t] = ev_base[idx] + half
                    out.z[idx, t] = ev_z[idx]
                    out.score[idx, t] = np.abs(ev_z[idx])
                    clean[idx, t] = np.nan
                    ev_len[idx] += 1
                    bigger = np.abs(ev_dev[idx]) > np.abs(ev_devmax[idx])
                    ev_devmax[idx] = np.where(bigger, ev_dev[idx], ev_devmax[idx])
                    ev_peak[idx] = np.fmax(ev_peak[idx], np.abs(ev_z[idx]))
                    onset = ev_onset[idx]
                    severity[idx, onset] = ev_peak[idx]
                    ready = ev_len[idx] >= int(self.confirm)
                    persistent = np.abs(ev_dev[idx]) >= 0.5 * np.abs(ev_devmax[idx])
                    grown = (ev_dev[idx] - ev_dev0[idx]) * ev_dir[idx] / ev_scale[idx]
                    settle = idx[ready & persistent]
                    if settle.size:
                        is_trend = grown[ready & persistent] >= float(self.growth)
                        s_onset = ev_onset[settle]
                        out.kind[settle, s_onset] = np.where(is_trend, _TREND, _LEVEL)
                        out.provisional[settle, s_onset] = False
                        confirm_at[settle, s_onset] = t
                        run_len = np.maximum(ev_len[settle] - 1, 1)
                        trend_slope = (
                            ev_slope[settle] + (ev_dev[settle] - ev_dev0[settle]) / run_len
                        )
                        prior_slope[settle] = np.where(is_trend, trend_slope, ev_slope[settle])
                        self._carry_scale(
                            settle, ev_scale, ev_level, ev_df, carried_rel, carried_df
                        )
                        self._restart(clean, y, settle, s_onset, t, seg_start)
                        ev_onset[settle] = -1
                    # a deviation that neither reverts nor settles: give up waiting
                    stale = idx[ev_len[idx] >= 2 * int(self.confirm)]
                    stale = stale[ev_onset[stale] >= 0]
                    if stale.size:
                        out.provisional[stale, ev_onset[stale]] = False
                        confirm_at[stale, ev_onset[stale]] = t
                        new_start = np.full(stale.size, t - int(self.confirm) + 1)
                        self._carry_scale(stale, ev_scale, ev_level, ev_df, carried_rel, carried_df)
                        self._restart(clean, y, stale, new_start, t, seg_start)
                        ev_onset[stale] = -1
                    for arr in (cu_pos, cu_neg, cu_pos_sum, cu_neg_sum, cu_pos_len, cu_neg_len):
                        arr[idx] = 0.0

            # ---- new events
            # a series whose event was continued, closed or settled at t is judged by it
            free = scored & (ev_onset < 0) & ~in_event
            onset_now = free & (np.abs(z) >= thr) & material
            new = np.flatnonzero(onset_now)
            if new.size:
                up = z[new] > 0
                out.flag[new, t] = True
                out.kind[new, t] = np.where(up, _SPIKE, _DROP)
                out.provisional[new, t] = True
                severity[new, t] = np.abs(z[new])
                ev_onset[new] = t
                ev_dir[new] = np.where(up, 1.0, -1.0)
                ev_level[new] = base.level[new]
                ev_slope[new] = base.slope[new]
                ev_scale[new] = pred_scale[new]
                ev_df[new] = base.df[new]
                ev_dev0[new] = dev[new]
                ev_devmax[new] = dev[new]
                ev_len[new] = 1
                ev_peak[new] = np.abs(z[new])
                clean[new, t] = np.nan

            # ---- CUSUM for slow drifts on the remaining scored periods
            quiet = free & ~onset_now
            if limit > 0 and quiet.any():
                zq = np.where(quiet, np.clip(z, -thr, thr), 0.0)
                restart_pos = quiet & (cu_pos == 0)
                restart_neg = quiet & (cu_neg == 0)
                cu_pos_start[restart_pos] = t
                cu_neg_start[restart_neg] = t
                new_pos = np.where(quiet, np.maximum(0.0, cu_pos + zq - k_drift), cu_pos)
                new_neg = np.where(quiet, np.maximum(0.0, cu_neg - zq - k_drift), cu_neg)
                cu_pos_sum = np.where(
                    quiet, np.where(new_pos > 0, cu_pos_sum + zq, 0.0), cu_pos_sum
                )
                cu_neg_sum = np.where(
                    quiet, np.where(new_neg > 0, cu_neg_sum + zq, 0.0), cu_neg_sum
                )
                cu_pos_len = np.where(quiet, np.where(new_pos > 0, cu_pos_len + 1, 0.0), cu_pos_len)
                cu_neg_len = np.where(quiet, np.where(new_neg > 0, cu_neg_len + 1, 0.0), cu_neg_len)
                cu_pos, cu_neg = new_pos, new_neg
                alarm_up = quiet & (cu_pos >= limit) & material_drift(yt, base.level, self)
                alarm_dn = quiet & (cu_neg >= limit) & material_drift(yt, base.level, self)
                for alarm, start, csum, clen, sign in (
                    (alarm_up, cu_pos_start, cu_pos_sum, cu_pos_len, 1.0),
                    (alarm_dn, cu_neg_start, cu_neg_sum, cu_neg_len, -1.0),
                ):
                    hit = np.flatnonzero(alarm & ~out.flag[:, t])
                    if not hit.size:
                        continue
                    out.flag[hit, t] = True
                    out.kind[hit, t] = _TREND
                    out.provisional[hit, t] = False
                    confirm_at[hit, t] = t
                    sev = np.abs(csum[hit]) / np.sqrt(np.maximum(clen[hit], 1.0))
                    severity[hit, t] = np.fmax(sev, np.abs(z[hit]))
                    out.z[hit, t] = sign * np.fmax(np.abs(out.z[hit, t]), sev)
                    out.score[hit, t] = np.fmax(out.score[hit, t], sev)
                    self._carry_scale(hit, pred_scale, base.level, base.df, carried_rel, carried_df)
                    seg_start[hit] = start[hit]
                    # the drift continues at the rate it built up: 2 x mean deviation / run
                    run = np.maximum(clen[hit], 1.0)
                    mean_dev = csum[hit] / run * pred_scale[hit]
                    prior_slope[hit] = base.slope[hit] + 2.0 * mean_dev / run
                    for arr in (cu_pos, cu_neg, cu_pos_sum, cu_neg_sum, cu_pos_len, cu_neg_len):
                        arr[hit] = 0.0

        out.baseline *= si_used
        out.lower *= si_used
        out.upper *= si_used
        out.severity = severity
        out.extra["confirm_at"] = confirm_at.astype(np.float64)
        out.extra["seasonal_index"] = si_used
        return out

    @staticmethod
    def _carry_scale(
        series: np.ndarray,
        scale: np.ndarray,
        level: np.ndarray,
        df: np.ndarray,
        carried_rel: np.ndarray,
        carried_df: np.ndarray,
    ) -> None:
        """Remember a series' relative scale (at most 5 pseudo-observations) for later."""
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = scale[series] / np.abs(level[series])
        ok = np.isfinite(rel)
        carried_rel[series] = np.where(ok, rel, 0.0)
        carried_df[series] = np.where(ok, np.fmin(df[series], 5.0), 0.0)

    @staticmethod
    def _restart(
        clean: np.ndarray,
        y: np.ndarray,
        series: np.ndarray,
        start: np.ndarray,
        t: int,
        seg_start: np.ndarray,
    ) -> None:
        """Start a new regime at ``start`` for ``series``: its values become the new normal."""
        seg_start[series] = start
        cols = np.arange(clean.shape[1])
        mask = (cols[None, :] >= start[:, None]) & (cols[None, :] <= t)
        block = clean[series]
        block[mask] = y[series][mask]
        clean[series] = block


def _smallest_scale(y: np.ndarray) -> float:
    """``1e-12`` times the largest ``|y|`` (1e-12 when no value is finite).

    Without temporaries the size of ``y`` (``np.abs(y)`` of a million series
    cost 0.4 s, most of it in fresh memory): the largest ``|y|`` is ``|max|``
    or ``|min|``, and only an infinite one needs a look for finite values.
    """
    if not y.size:
        return 1e-12
    with np.errstate(invalid="ignore"):
        largest = max(
            abs(float(np.fmax.reduce(y, axis=None))), abs(float(np.fmin.reduce(y, axis=None)))
        )
    if np.isnan(largest) or (np.isinf(largest) and not np.isfinite(y).any()):
        return 1e-12
    return 1e-12 * largest


def _window_stats_numpy(
    clean: np.ndarray,
    divisor: np.ndarray | None,
    t: int,
    window: int,
    window_scale: int,
    seg_start: np.ndarray,
    prior_slope: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Level, slope, own scale, number of changes and observations of every series at ``t``.

    The NumPy path of :func:`revwatch.detectors._kernels.window_stats` (same
    formulas, used when numba is not installed).
    """
    lo_scale = max(0, t - window_scale)
    wide = clean[:, lo_scale:t].copy()
    if divisor is not None:
        wide = wide / divisor
    wide_cols = np.arange(lo_scale, t)
    wide[wide_cols[None, :] < seg_start[:, None]] = np.nan
    lo = max(0, t - window)
    win = wide[:, lo - lo_scale :]
    cols = np.arange(lo, t)
    n_series = win.shape[0]
    valid = ~np.isnan(win)
    n_obs = valid.sum(axis=1)

    # scale from period-over-period changes (robust to trend and to a step)
    if wide.shape[1] >= 2:
        diffs = wide[:, 1:] - wide[:, :-1]
        med_d, n_d = nanmedian_rows(diffs)
        mad_d, _ = nanmedian_rows(np.abs(diffs - med_d[:, None]))
        own_scale = _MAD_TO_SIGMA * mad_d / np.sqrt(2.0)
        # small-sample bias of the MAD (Croux & Rousseeuw style factor)
        own_scale = own_scale * (1.0 + 1.0 / np.maximum(n_d - 0.8, 0.2))
    else:
        own_scale = np.full(n_series, np.nan)
        n_d = np.zeros(n_series, dtype=np.int64)

    # the trend is fitted on log values where the whole window is positive
    # (revenue grows and decays by percentages, and a steep decline must not
    # be extrapolated below zero), on raw values otherwise
    with np.errstate(invalid="ignore"):
        nonpositive = (valid & ~(win > 0)).any(axis=1)
        positive_row = ~nonpositive & (n_obs > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        fit = np.where(positive_row[:, None], np.log(np.where(valid, win, 1.0)), win)
    fit = np.where(valid, fit, np.nan)
    typical, _ = nanmedian_rows(win)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = np.where(positive_row, np.abs(typical), 1.0)  # raw units per fit unit
        fit_scale = own_scale / unit
        fit_prior = prior_slope / unit

    # resistant slope from the medians of the first and last thirds of the
    # observations in the current regime
    left, right, mid, n_left, n_right, n_mid, x_left, x_right, x_mid = _thirds(
        fit, valid, n_obs, cols
    )
    third = n_obs // 3
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = (right - left) / (x_right - x_left)
        m = np.minimum(n_left, n_right).astype(np.float64)
        se = fit_scale * np.sqrt(np.pi / m) / (x_right - x_left)
        shrink = np.clip(1.0 - (se / np.abs(raw)) ** 2, 0.0, 1.0)
    # a trend that has stopped must not be extrapolated: also measure the
    # recent slope (middle to last third) and keep the smaller of the two
    # when they agree in sign, no slope when they disagree
    with np.errstate(invalid="ignore", divide="ignore"):
        recent = (right - mid) / (x_right - x_mid)
    agree = np.sign(recent) == np.sign(raw)
    have_recent = np.isfinite(recent) & (n_mid >= 1)
    raw = np.where(
        have_recent,
        np.where(agree, np.sign(raw) * np.fmin(np.abs(raw), np.abs(recent)), 0.0),
        raw,
    )
    enough = (third >= 2) & np.isfinite(raw) & np.isfinite(shrink)
    fit_slope = np.where(enough, raw * shrink, fit_prior)
    fit_slope = np.where(np.isfinite(fit_slope), fit_slope, 0.0)

    moved = fit + fit_slope[:, None] * (t - cols[None, :])
    fit_level, _ = nanmedian_rows(moved)
    with np.errstate(over="ignore"):
        level = np.where(positive_row, np.exp(fit_level), fit_level)
    # the slope in raw units at t (used to extrapolate a frozen event baseline)
    slope = np.where(positive_row, fit_slope * level, fit_slope)
    return level, slope, own_scale, n_d, n_obs


def seasonal_index_at(
    clean: np.ndarray,
    t: int,
    period: int,
    *,
    cycles: int = 3,
    pool_weight: float = 2.0,
    raw: np.ndarray | None = None,
    seg_start: np.ndarray | None = None,
) -> np.ndarray:
    """Causal multiplicative seasonal index of period ``t`` for every series.

    For each of the last ``cycles`` complete cycles ``k``, the same-phase
    ratio is ``clean[t - k*period]`` over the mean of the cycle that starts
    there; all of it lies before ``t``, and periods of reported anomalies are
    already NaN in ``clean`` so last year's spike does not become this year's
    expectation. A series' own index is the median of its ratios; the
    portfolio's is the median of the own indices across series; they are
    combined with ``pool_weight`` pseudo-cycles for the portfolio, so one
    year of history is enough when many series share a calendar. Once
    ``cycles`` (at least 3) cycles exist, the median over them is robust to a
    single anomalous year by itself, so the ``raw`` values are used instead of
    ``clean``: a pattern that recurs every year is learned even if it was
    reported the first time it appeared. A trend
    inside a cycle biases every phase's ratio by the same factor, which
    cancels between the baseline and the period being judged. Non-positive
    values give NaN (no multiplicative seasonality).

    Examples
    --------
    >>> y = np.tile([10.0, 20.0], 4)[None, :]
    >>> [round(float(seasonal_index_at(y, t, 2)[0]), 2) for t in (4, 5)]
    [0.67, 1.33]

    With a single series one cycle is not enough evidence:

    >>> bool(np.isnan(seasonal_index_at(y, 2, 2)[0]))
    True
    """
    n_series = clean.shape[0]
    start = np.zeros(n_series, dtype=np.int64) if seg_start is None else seg_start
    own, n_cycles = _own_seasonal_index(clean, t, period, cycles, start)
    if raw is not None and cycles >= 3:
        own_raw, n_raw = _own_seasonal_index(raw, t, period, cycles, start)
        use_raw = n_raw >= 3
        own = np.where(use_raw, own_raw, own)
        n_cycles = np.where(use_raw, n_raw, n_cycles)
    if n_series >= 5:
        pooled, n_pooled = nanmedian_rows(own[None, :])
        if n_pooled[0] >= 5:
            with np.errstate(invalid="ignore", divide="ignore"):
                combined = (n_cycles * own + pool_weight * pooled[0]) / (n_cycles + pool_weight)
            return np.where(np.isfinite(combined), combined, own)
    # alone, one cycle cannot tell a seasonal pattern from noise or a step
    return np.where(n_cycles >= 2, own, np.nan)


def _own_seasonal_index(
    values: np.ndarray, t: int, period: int, cycles: int, seg_start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Median over the last ``cycles`` cycles (in the current regime) of the same-phase ratio.

    Returns the index and the number of cycles it used.
    """
    compiled = seasonal_ratios(values, t, period, cycles, seg_start)
    if compiled is not None:
        return compiled
    n_series = values.shape[0]
    ratios = np.full((n_series, cycles), np.nan)
    need = max(2, (3 * period) // 4)
    for k in range(1, cycles + 1):
        start = t - k * period
        if start < 0:
            break
        # only the cycle's columns: this runs once per period
        cycle = values[:, start : start + period]
        cycle = np.where(cycle > 0, cycle, np.nan)
        count = np.count_nonzero(~np.isnan(cycle), axis=1)
        in_regime = seg_start <= start
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(cycle, axis=1) / count
            ratio = cycle[:, 0] / mean
        ratios[:, k - 1] = np.where((count >= need) & in_regime, ratio, np.nan)
    return nanmedian_rows(ratios)


def pooled_cycle_ratios(clean: np.ndarray, lo: int, t: int, period: int) -> np.ndarray:
    """Portfolio median of each cell's ratio to its series' mean over the last cycle.

    Used for cells in ``[lo, t)`` whose own seasonal index is not known yet.
    """
    window = clean[:, lo:t]
    window = np.where(window > 0, window, np.nan)
    last = clean[:, max(0, t - period) : t]
    last = np.where(last > 0, last, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(last, axis=1)
        ratios = window / mean[:, None]
    pooled, n = nanmedian_rows(ratios.T)
    return np.where(n >= 5, pooled, np.nan)


def _thirds(
    fit: np.ndarray, valid: np.ndarray, n_obs: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Medians, counts and mean positions of the first, last and middle thirds of each row.

    The thirds are by rank among a row's observations. Rows with every cell
    observed (the common case) are cut by column slices, which sorts a third of
    the values; the others by rank masks. Returns ``left, right, mid``, their
    counts, then their mean column positions.
    """
    n_rows, width = fit.shape
    x = cols.astype(np.float64)
    med_out = [np.full(n_rows, np.nan) for _ in range(3)]
    count_out = [np.zeros(n_rows, dtype=np.int64) for _ in range(3)]
    pos_out = [np.full(n_rows, np.nan) for _ in range(3)]
    full = n_obs == width
    k = width // 3
    if full.any() and k >= 1:
        rows = fit[full]
        for i, (a, b) in enumerate(((0, k), (width - k, width), (k, width - k))):
            if b > a:
                med, n = nanmedian_rows(rows[:, a:b])
                med_out[i][full] = med
                count_out[i][full] = n
                pos_out[i][full] = x[a:b].mean()
    rest = ~full
    if rest.any():
        sub, ok, n_sub = fit[rest], valid[rest], n_obs[rest]
        rank = np.cumsum(ok, axis=1)  # 1-based rank of each observation
        third = (n_sub // 3)[:, None]
        in_left = ok & (rank <= third)
        in_right = ok & (rank > n_sub[:, None] - third)
        in_mid = ok & ~in_left & ~in_right
        for i, mask in enumerate((in_left, in_right, in_mid)):
            med, n = nanmedian_rows(np.where(mask, sub, np.nan))
            med_out[i][rest] = med
            count_out[i][rest] = n
            with np.errstate(invalid="ignore", divide="ignore"):
                pos_out[i][rest] = (mask * x[None, :]).sum(axis=1) / n
    return (*med_out, *count_out, *pos_out)


def log_spread(si: np.ndarray, *, min_count: int = 2) -> np.ndarray:
    """Standard deviation of the log seasonal indices of each row (NaN ignored).

    Deliberately not a robust spread: one strong month (December) *is* the
    seasonal pattern, not an outlier among the phases.

    Examples
    --------
    >>> bool(log_spread(np.array([[0.8, 1.2, 0.8, 1.2]]))[0] > 0.1)
    True
    """
    compiled = log_spread_rows(si, min_count)
    if compiled is not None:
        return compiled
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = np.log(si)
    valid = np.isfinite(logs)
    n = valid.sum(axis=1)
    filled = np.where(valid, logs, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=1) / n
        var = np.where(valid, (logs - mean[:, None]) ** 2, 0.0).sum(axis=1) / (n - 1)
    spread = np.sqrt(var)
    spread[n < max(2, min_count)] = np.nan
    return spread


def material_drift(yt: np.ndarray, level: np.ndarray, det: RobustShiftDetector) -> np.ndarray:
    """A CUSUM alarm also needs the current period to differ materially (half ``min_change``)."""
    with np.errstate(invalid="ignore"):
        return np.abs(yt - level) >= 0.5 * float(det.min_change) * np.abs(level)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
