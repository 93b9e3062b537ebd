"""Year-over-year growth change: the slow trend change a daily baseline absorbs.

A daily baseline that follows the last four weeks (the robust detector's)
adapts to a decline of 0.5 % a week as fast as it happens, and the yearly
cycle (a holiday ramp of +20 %) dwarfs it, so neither the single-day scores
nor their CUSUM ever see it. What does see it is the growth against last
year: the same weekdays 364 days earlier carry last year's seasonality, so
the log ratio ``r[t] = log y[t] - log y[t-364]`` is the year-over-year growth
of day ``t`` with the weekly and yearly cycles removed. This module compares
the growth of the last ``window`` days with the growth of the half year
before them:

* ``change[t]``: the mean of ``r`` over the ``window`` (28) days up to ``t``
  (each value clipped to ``clip`` scale units around the reference known on
  its day, so one spike or one of last year's holidays moves it little)
  minus the **reference**, the median of the weekly medians of ``r`` over the
  ``reference_weeks`` (26) weeks that end ``window`` days before ``t``;
* its scale from the week-to-week changes of the weekly medians over
  ``scale_weeks`` (52) weeks (median absolute deviation, so one step hardly
  inflates it), and the normal-equivalent z through the
  Student-t with the degrees of freedom that spread is worth, so the same
  ``threshold`` means the same false-alarm rate with a short reference;
* **events**: a change opens when ``|z|`` reaches
  :func:`growth_threshold` (2.72 for the day-level 3.5: a 28-day mean tested
  daily is about one independent test a month, so this keeps its false
  alarms per year at half the day-level's) and ``|exp(change) - 1| >=
  min_change``; only its first day is flagged. It
  stays open while ``z`` keeps its sign and ``|z| >= 1``; open for
  ``confirm`` days it is the new normal, and the reference restarts after its
  onset (and again a year later, when last year's values straddle it);
* **only what the day-level detector missed**: an onset is not reported when
  the day-level detector flagged the same direction in the last ``window``
  days or since a week before the excursion of ``z`` began (a price change
  or a lockdown it already reported), and a day whose
  value a year earlier was itself anomalous (``|z| >= threshold`` in the
  day-level scores) is left out of ``r``. A confirmed level shift or trend
  change of the day-level detector restarts the reference a year after its
  onset.

Every quantity at ``t`` uses days up to ``t`` only (the reference ends
``window`` days earlier), so the flags are causal. It needs ``lag + window +
7 * min_reference`` days of history, 15 months on daily data; shorter series
are left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from revwatch.detectors._arrays import nanmedian_rows, wallace_z
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["GrowthChange", "growth_threshold", "periodic_growth_change", "yoy_growth_change"]

_MAD_TO_SIGMA = 1.4826
#: Efficiency of the median absolute deviation (degrees of freedom per observation).
_MAD_EFFICIENCY = 0.37
#: Variance of a median relative to a mean (large samples): pi / 2.
_MEDIAN_VARIANCE = np.pi / 2
#: Values of a weekly block needed for its median.
_BLOCK_MIN = 4
#: Weekly updates between two updates of the scale (it changes slowly).
_SCALE_EVERY = 4
#: Series per chunk of the day-major working copies.
_CHUNK = 32768
#: Days before an excursion began in which a day-level flag still explains it.
_EXPLAIN_SLACK = 7


@dataclass
class GrowthChange:
    """What :func:`yoy_growth_change` found, arrays of the values' shape.

    ``z``, ``change`` and ``scale`` are float32 (a bound on memory for large
    panels; they are reported, not summed further).

    Attributes
    ----------
    z : ndarray of float64
        Normal-equivalent z of the growth change (NaN where not scored).
    change : ndarray of float64
        Growth of the last ``window`` days minus the reference growth (log).
    scale : ndarray of float64
        Standard error of ``change`` (log).
    flag : ndarray of bool
        Reported onsets of growth-change events.
    opened : ndarray of bool
        Every onset, including those the day-level flags already explained.
    """

    z: np.ndarray
    change: np.ndarray
    scale: np.ndarray
    flag: np.ndarray
    opened: np.ndarray

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> GrowthChange:
        """Nothing found on a ``(series, periods)`` panel: NaN scores, no flags.

        Examples
        --------
        >>> GrowthChange.empty((2, 3)).flag.shape
        (2, 3)
        """
        return cls(
            z=np.full(shape, np.nan, dtype=np.float32),
            change=np.full(shape, np.nan, dtype=np.float32),
            scale=np.full(shape, np.nan, dtype=np.float32),
            flag=np.zeros(shape, dtype=bool),
            opened=np.zeros(shape, dtype=bool),
        )


def yoy_growth_change(
    values: np.ndarray,
    day_z: np.ndarray,
    day_flag: np.ndarray,
    day_shift: np.ndarray,
    *,
    threshold: float = 3.5,
    min_change: float = 0.03,
    lag: int = 364,
    window: int = 28,
    reference_weeks: int = 26,
    scale_weeks: int = 52,
    min_reference: int = 8,
    confirm: int = 28,
    clip: float = 3.0,
) -> GrowthChange:
    """Score the change in year-over-year growth of every daily series.

    Parameters
    ----------
    values : ndarray, shape (n_series, n_days)
        Daily values (NaN where missing); non-positive values are not scored.
    day_z : ndarray
        Signed scores of the day-level detector (same shape).
    day_flag : ndarray of bool
        Its flags.
    day_shift : ndarray of bool
        Its confirmed level shifts and trend changes (onset days).
    threshold, min_change, lag, window, reference_weeks, scale_weeks, min_reference, confirm, clip
        See the module docstring.

    Returns
    -------
    GrowthChange

    Raises
    ------
    ParameterError
        If the arrays are not 2-D of one shape, or a parameter is out of range.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> days = np.arange(900)
    >>> weekly = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.7])[days % 7]
    >>> y = 100 * weekly * np.exp(0.0004 * days + 0.02 * rng.standard_normal(900))
    >>> y[700:] *= np.exp(-0.001 * np.arange(200))  # growth slows by 0.7 % a week
    >>> none = np.zeros((1, 900), dtype=bool)
    >>> found = yoy_growth_change(y[None, :], np.zeros((1, 900)), none, none)
    >>> onset = int(np.flatnonzero(found.flag[0])[0])
    >>> 700 < onset < 760, bool(found.z[0, onset] < 0)
    (True, True)
    """
    _check(values, day_z, day_flag, day_shift, lag, window, reference_weeks, scale_weeks,
           min_reference, confirm, threshold, min_change, clip)  # fmt: skip
    n_series, n_days = values.shape
    result = GrowthChange.empty((n_series, n_days))
    if n_days < lag + window + 7 * min_reference + 7:
        return result
    settings = _Settings(
        threshold=float(threshold),
        z_open=growth_threshold(threshold, window),
        min_change=float(min_change),
        lag=int(lag),
        window=int(window),
        reference_weeks=int(reference_weeks),
        scale_weeks=int(scale_weeks),
        min_reference=int(min_reference),
        confirm=int(confirm),
        clip=float(clip),
    )
    # chunks of series bound the day-major working copies (about 45 bytes per series-day)
    for lo in range(0, n_series, _CHUNK):
        rows = slice(lo, min(n_series, lo + _CHUNK))
        part = _chunk(values[rows], day_z[rows], day_flag[rows], day_shift[rows], settings)
        for name in ("z", "change", "scale", "flag", "opened"):
            getattr(result, name)[rows] = getattr(part, name).T
    n_opened, n_flagged = int(result.opened.sum()), int(result.flag.sum())
    logger.debug("yoy growth change: %d onsets, %d reported", n_opened, n_flagged)
    return result


def _check(
    values: np.ndarray,
    day_z: np.ndarray,
    day_flag: np.ndarray,
    day_shift: np.ndarray,
    lag: int,
    window: int,
    reference_weeks: int,
    scale_weeks: int,
    min_reference: int,
    confirm: int,
    threshold: float,
    min_change: float,
    clip: float,
) -> None:
    """Raise :class:`ParameterError` for arrays or parameters this function cannot use."""
    shapes = {np.shape(a) for a in (values, day_z, day_flag, day_shift)}
    if len(shapes) != 1 or np.ndim(values) != 2:
        raise ParameterError(
            "yoy_growth_change: values, day_z, day_flag and day_shift must be 2-D arrays of one"
            f" shape (series, days), got shapes {sorted(shapes)}"
        )
    counts = {
        "lag": (lag, 7), "window": (window, 7), "reference_weeks": (reference_weeks, 2),
        "scale_weeks": (scale_weeks, 3), "min_reference": (min_reference, 2),
        "confirm": (confirm, 1),
    }  # fmt: skip
    for name, (value, least) in counts.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
            raise ParameterError(f"{name} must be an integer >= {least}, got {value!r}")
    if min_reference > reference_weeks:
        raise ParameterError(
            f"min_reference ({min_reference}) cannot exceed reference_weeks ({reference_weeks})"
        )
    for name, number in (("threshold", threshold), ("min_change", min_change), ("clip", clip)):
        if isinstance(number, bool) or not isinstance(number, int | float | np.number):
            raise ParameterError(f"{name} must be a number, got {number!r}")
        if not (np.isfinite(number) and number > 0):
            raise ParameterError(f"{name} must be positive, got {number!r}")


@dataclass(frozen=True)
class _Settings:
    threshold: float
    z_open: float
    min_change: float
    lag: int
    window: int
    reference_weeks: int
    scale_weeks: int
    min_reference: int
    confirm: int
    clip: float


def _chunk(
    values: np.ndarray,
    day_z: np.ndarray,
    day_flag: np.ndarray,
    day_shift: np.ndarray,
    settings: _Settings,
) -> GrowthChange:
    """:func:`yoy_growth_change` on a few series; the arrays it returns are day-major."""
    n_series, n_days = values.shape
    threshold, z_open, min_change = settings.threshold, settings.z_open, settings.min_change
    lag, window, confirm, clip = settings.lag, settings.window, settings.confirm, settings.clip
    reference_weeks, scale_weeks = settings.reference_weeks, settings.scale_weeks
    min_reference = settings.min_reference

    # time-major copies: every step of the loop below reads and writes whole rows
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(values)  # -inf at 0, NaN below: not finite, left out below
        growth = np.full((n_days, n_series), np.nan)
        growth[lag:] = (logs[:, lag:] - logs[:, :-lag]).T
    del logs
    growth[~np.isfinite(growth)] = np.nan
    odd = np.abs(day_z[:, :-lag].T) >= threshold  # last year's value was anomalous
    growth[lag:][odd] = np.nan
    del odd
    flag_down = np.ascontiguousarray((day_flag & (day_z < 0)).T)
    flag_up = np.ascontiguousarray((day_flag & (day_z > 0)).T)
    shift_echo = np.zeros((n_days, n_series), dtype=bool)
    shift_echo[lag:] = day_shift[:, :-lag].T

    # weekly blocks [7k, 7k + 6]: medians of the year-over-year growth, (n_blocks, n_series)
    n_blocks = n_days // 7
    blocks = growth[: 7 * n_blocks].reshape(n_blocks, 7, n_series).transpose(0, 2, 1)
    block_med, block_n = nanmedian_rows(blocks.reshape(-1, 7))
    block_med = block_med.reshape(n_blocks, n_series)
    block_med[block_n.reshape(n_blocks, n_series) < _BLOCK_MIN] = np.nan
    del blocks, block_n

    z = np.full((n_days, n_series), np.nan, dtype=np.float32)
    change = np.full((n_days, n_series), np.nan, dtype=np.float32)
    scale = np.full((n_days, n_series), np.nan, dtype=np.float32)
    flag = np.zeros((n_days, n_series), dtype=bool)
    opened = np.zeros((n_days, n_series), dtype=bool)
    clipped = np.zeros((n_days, n_series))  # 0 where missing, so sums need no mask
    present = np.zeros((n_days, n_series), dtype=np.int8)

    regime = np.zeros(n_series, dtype=np.int64)  # first day of the current regime
    echo = np.full(n_series, -1, dtype=np.int64)  # a year after a confirmed change
    ref = np.full(n_series, np.nan)
    day_scale = np.full(n_series, np.nan)  # scale of one day's growth
    block_scale = np.full(n_series, np.nan)  # scale of one weekly median
    n_ref = np.zeros(n_series, dtype=np.int64)
    df = np.ones(n_series)
    win_sum = np.zeros(n_series)
    win_n = np.zeros(n_series, dtype=np.int64)
    is_open = np.zeros(n_series, dtype=bool)
    direction = np.zeros(n_series)
    onset = np.zeros(n_series, dtype=np.int64)
    run_start = np.zeros(n_series, dtype=np.int64)  # first day of the current excursion
    run_sign = np.zeros(n_series)
    was_valid = np.zeros(n_series, dtype=bool)
    last_down = np.full(n_series, -(10**9), dtype=np.int64)  # last day-level flag down
    last_up = np.full(n_series, -(10**9), dtype=np.int64)
    updates = 0
    for t in range(n_days):
        restart = (echo == t) | shift_echo[t]
        if restart.any():
            regime[restart] = t
            ref[restart] = np.nan
            n_ref[restart] = 0
        end_block = t - window - 6
        if end_block >= 0 and end_block % 7 == 0:  # a new weekly block entered the reference
            _update_reference(
                block_med, end_block // 7 + 1, regime, reference_weeks, scale_weeks,
                min_reference, ref, n_ref, day_scale, block_scale, df,
                updates % _SCALE_EVERY == 0,
            )  # fmt: skip
            updates += 1
        value = growth[t]
        limit = clip * day_scale
        with np.errstate(invalid="ignore"):
            bounded = np.clip(value, ref - limit, ref + limit)
        centred = np.where(np.isnan(ref), value, bounded)
        here = ~np.isnan(centred)
        clipped[t] = np.where(here, centred, 0.0)
        present[t] = here
        win_sum += clipped[t]
        win_n += here
        if t >= window:
            win_sum -= clipped[t - window]
            win_n -= present[t - window]
        last_down[flag_down[t]] = t
        last_up[flag_up[t]] = t
        if t < lag + window:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            d = win_sum / win_n - ref
            se = np.sqrt(day_scale**2 / win_n + _MEDIAN_VARIANCE * block_scale**2 / n_ref)
            valid = (n_ref >= min_reference) & (win_n >= 0.7 * window) & (se > 0)
            valid &= regime <= t - window + 1
            zt = np.where(valid, wallace_z(d / se, df), np.nan)
            valid &= ~np.isnan(zt)
            z[t] = zt
            change[t] = np.where(valid, d, np.nan)
            scale[t] = np.where(valid, se, np.nan)
            absz = np.abs(zt)
            sign = np.sign(zt)
            away = absz >= 1.0  # False where not scored
            material = np.abs(np.expm1(d)) >= min_change
            crossing = (absz >= z_open) & material
        # an excursion found on the first scored day may have begun a window earlier
        began = np.where(was_valid, t, t - window)
        run_start = np.where(away & (sign == run_sign), run_start, began)
        run_sign = np.where(away, sign, 0.0)
        was_valid = valid
        is_open &= away & (sign == direction)
        settled = is_open & (t - onset >= confirm)
        if settled.any():
            regime[settled] = onset[settled]
            echo[settled] = onset[settled] + lag
            ref[settled] = np.nan
            n_ref[settled] = 0
            is_open[settled] = False
        new = crossing & ~is_open & ~settled
        if not new.any():
            continue
        is_open |= new
        direction[new] = sign[new]
        onset[new] = t
        opened[t] = new
        # explained: the day-level flags saw this direction since the excursion began
        seen = np.where(sign > 0, last_up, last_down)
        explained = (t - seen <= window) | (seen >= run_start - _EXPLAIN_SLACK)
        flag[t] = new & ~explained
    return GrowthChange(z=z, change=change, scale=scale, flag=flag, opened=opened)


def _update_reference(
    block_med: np.ndarray,
    k: int,
    regime: np.ndarray,
    reference_weeks: int,
    scale_weeks: int,
    min_reference: int,
    ref: np.ndarray,
    n_ref: np.ndarray,
    day_scale: np.ndarray,
    block_scale: np.ndarray,
    df: np.ndarray,
    update_scale: bool,
) -> None:
    """Reference growth and scales from the weekly blocks before ``k`` (in place).

    The reference is the median of the last ``reference_weeks`` weekly medians
    of the current regime; the scale of one weekly median comes from the
    changes between consecutive weekly medians over ``scale_weeks`` weeks,
    which one step (a price change, last year's lockdown) hardly inflates.
    """
    lo_ref = max(0, k - reference_weeks)
    starts = 7 * np.arange(lo_ref, k)
    near = np.where(starts[None, :] >= regime[:, None], block_med[lo_ref:k].T, np.nan)
    med, n = nanmedian_rows(near)
    ref[:] = np.where(n >= min_reference, med, np.nan)
    n_ref[:] = n
    if not update_scale:
        return
    steps = np.diff(block_med[max(0, k - scale_weeks) : k].T, axis=1)
    centre, count = nanmedian_rows(steps)
    mad, _ = nanmedian_rows(np.abs(steps - centre[:, None]))
    block_scale[:] = np.where(count >= min_reference, _MAD_TO_SIGMA * mad / np.sqrt(2.0), np.nan)
    day_scale[:] = block_scale * np.sqrt(7.0 / _MEDIAN_VARIANCE)
    df[:] = np.maximum(1.0, _MAD_EFFICIENCY * count)


def growth_threshold(threshold: float, window: int) -> float:
    """The z at which a growth change opens, from the day-level ``threshold``.

    A mean over ``window`` days tested every day is about one independent test
    per ``window`` days, against one per day for the day-level scores. The
    growth threshold is the z whose false alarms per year are half the
    day-level's at ``threshold``: ``P(|Z| >= z) = window / 2 * P(|Z| >=
    threshold)``.

    Examples
    --------
    >>> round(growth_threshold(3.5, 28), 2)
    2.72
    """
    normal = NormalDist()  # not scipy: importing scipy.special costs ~0.2 s of CLI start-up
    tail = min(0.5, 0.5 * window * normal.cdf(-float(threshold)))
    return -normal.inv_cdf(tail)


def periodic_growth_change(
    values: np.ndarray,
    z: np.ndarray,
    flag: np.ndarray,
    *,
    period: int,
    threshold: float = 3.5,
    min_change: float = 0.03,
    window: int = 3,
    reference: int | None = None,
    scale: int | None = None,
    clip: float = 4.0,
    confirm: int = 1,
) -> GrowthChange:
    """Year-over-year growth change of monthly or quarterly series (``period`` a year).

    A recession is a fall of growth, not of one period: US retail sales fell
    9 % below the baseline in December 2008, inside the noise of a seasonal
    month, while their growth against the year before went from +4 % to -11 %.
    ``r[t] = log y[t] - log y[t - period]`` is the growth with the yearly
    cycle removed (a period whose value a year earlier was flagged, or not
    positive, is left out). ``change[t]`` is the mean of ``r`` over the last
    ``window`` periods (each clipped to ``clip`` scale units of ``r`` around
    the reference known at ``t``: one spike moves it little) minus the
    reference, the median of ``r`` over the ``reference`` periods (a year)
    before them; its scale is the robust spread of the
    period-to-period changes of ``r`` over the ``scale`` periods (three
    years) before the window, divided by sqrt 2, times
    ``sqrt(1 / window + pi / (2 * reference))``, and ``z`` the ratio as a
    normal-equivalent z through the Student-t with the degrees of freedom
    that spread is worth (0.37 per period-to-period change). An
    event opens where ``|z| >= threshold``, ``|exp(change) - 1| >=
    min_change`` and ``|change|`` is beyond the series' own swing of growth
    changes (the 90 % quantile of ``|change|`` over the ``scale`` periods that
    end a window before ``t``, at least 12 of them: none is reported before),
    and stays open while ``z`` keeps its sign and ``|z| >= 1``;
    it is reported on its onset (the window's ``window`` periods are the
    evidence, as the daily version's 28 days are) or, with ``confirm`` above
    1, on the period it has lasted that long (never earlier: that would look
    ahead), unless the period-level flags (``flag``,
    signed by ``z``) already pointed the same way within the window, or it is
    the mirror of an earlier event a year later (the opposite direction
    between ``period - window`` and ``2 * period`` periods after that onset:
    last year's values were the fall). Everything at ``t`` uses periods up to
    ``t``; series need ``period + window + reference + 12`` periods.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> months = np.arange(120)
    >>> season = 1 + 0.2 * np.cos(2 * np.pi * months / 12)
    >>> y = 100 * season * np.exp(0.004 * months + 0.01 * rng.standard_normal(120))
    >>> y[84:] *= np.exp(-0.012 * np.arange(36))  # growth turns from +5 % to -10 % a year
    >>> none = np.zeros((1, 120), dtype=bool)
    >>> found = periodic_growth_change(y[None, :], np.zeros((1, 120)), none, period=12)
    >>> onset = np.flatnonzero(found.flag[0])
    >>> onset.size, 84 < int(onset[0]) < 96, bool(found.z[0, onset[0]] < 0)
    (1, True, True)
    """
    reference = int(period) if reference is None else int(reference)
    scale = 3 * int(period) if scale is None else int(scale)
    shapes = {np.shape(a) for a in (values, z, flag)}
    if len(shapes) != 1 or np.ndim(values) != 2:
        raise ParameterError(
            "periodic_growth_change: values, z and flag must be 2-D arrays of one shape,"
            f" got shapes {sorted(shapes)}"
        )
    for name, number, least in (
        ("period", period, 2), ("window", window, 1), ("reference", reference, 2),
        ("scale", scale, 3), ("confirm", confirm, 1),
    ):  # fmt: skip
        if isinstance(number, bool) or not isinstance(number, int | np.integer) or number < least:
            raise ParameterError(f"{name} must be an integer >= {least}, got {number!r}")
    n_series, n_periods = values.shape
    result = GrowthChange.empty((n_series, n_periods))
    if n_periods < period + window + reference + 12:
        return result
    with np.errstate(invalid="ignore", divide="ignore"):
        logged = np.where(values > 0, np.log(values), np.nan)
    r = np.full((n_series, n_periods), np.nan)
    r[:, period:] = logged[:, period:] - logged[:, :-period]
    r[:, period:][flag[:, :-period]] = np.nan  # last year's value was itself an anomaly
    # the reference and the scale end `window` periods before t
    ref = _shifted(_trailing_median(r, reference, (2 * reference) // 3)[0], window)
    steps = np.full((n_series, n_periods), np.nan)
    steps[:, 1:] = r[:, 1:] - r[:, :-1]
    spread, count = _trailing_median(steps, scale, 12, mad=True, every=_SCALE_EVERY)
    sigma = _MAD_TO_SIGMA * _shifted(spread, window) / np.sqrt(2.0)
    count = _shifted(count, window)
    # the window's growths, each clipped to `clip` scale units around the reference known at
    # t: one spike (or last year's) moves the mean little, a fall of every period moves it
    middle = ref
    lo, hi = middle - float(clip) * sigma, middle + float(clip) * sigma
    total = np.zeros((n_series, n_periods))
    seen = np.zeros((n_series, n_periods))
    for k in range(window):
        past = np.full((n_series, n_periods), np.nan)
        past[:, k:] = r[:, : n_periods - k]
        known = np.isfinite(past)
        total += np.where(known, np.clip(np.nan_to_num(past), lo, hi), 0.0)
        seen += known
    with np.errstate(invalid="ignore", divide="ignore"):
        recent = np.where(seen >= max(window - 1, 1), total / seen, np.nan)
    change = recent - middle
    se = sigma * np.sqrt(1.0 / window + _MEDIAN_VARIANCE / reference)
    with np.errstate(invalid="ignore", divide="ignore"):
        # through the Student-t with the degrees of freedom the spread is worth: a scale
        # from three years of months is itself uncertain
        df = np.maximum(1.0, _MAD_EFFICIENCY * count)
        zz = np.where(se > 0, wallace_z(change / se, df), np.nan)
    result.z[...] = zz
    result.change[...] = change
    result.scale[...] = se
    # the series' own swing of growth changes: the 90 % quantile of |change| over the `scale`
    # periods that end a window before t (a volatile series swings by a third every year)
    swing = _shifted(
        _trailing_quantile(np.abs(change), scale, 12, _SWING_QUANTILE, every=_SCALE_EVERY),
        window,
    )
    sign = np.sign(np.nan_to_num(z))
    explained_up = _any_within(flag & (sign > 0), window)
    explained_down = _any_within(flag & (sign < 0), window)
    open_sign = np.zeros(n_series)
    opened_at = np.full(n_series, -1)
    pending = np.zeros(n_series, dtype=bool)  # opened, reportable, not yet confirmed
    last_onset = np.full(n_series, -(10**9))
    last_sign = np.zeros(n_series)
    for t in range(n_periods):
        zt = zz[:, t]
        known = np.isfinite(zt)
        still = known & (np.sign(zt) == open_sign) & (np.abs(zt) >= 1.0)
        open_sign = np.where(still, open_sign, 0.0)
        pending &= still
        # reported once it has lasted `confirm` periods: a trend change is sustained
        confirmed = pending & (t - opened_at + 1 >= int(confirm))
        result.flag[:, t] = confirmed
        pending &= ~confirmed
        size = np.abs(np.nan_to_num(change[:, t]))
        material = (np.expm1(size) >= float(min_change)) & (size > swing[:, t])
        onset = known & (open_sign == 0) & (np.abs(zt) >= float(threshold)) & material
        if not onset.any():
            continue
        direction = np.sign(zt)
        since = t - last_onset
        mirror = (direction == -last_sign) & (since >= period - window) & (since < 2 * period)
        explained = np.where(direction > 0, explained_up[:, t], explained_down[:, t])
        result.opened[:, t] = onset
        report = onset & ~mirror & ~explained
        if int(confirm) <= 1:
            result.flag[:, t] |= report
        else:
            pending |= report
            opened_at = np.where(report, t, opened_at)
        open_sign = np.where(onset, direction, open_sign)
        last_onset = np.where(onset & ~mirror, t, last_onset)
        last_sign = np.where(onset & ~mirror, direction, last_sign)
    return result


#: Quantile of a series' past |growth change| a new one must pass (its own swing).
_SWING_QUANTILE = 0.9
#: Series per block of the trailing-window medians (a block holds ``width`` copies).
_WINDOW_BLOCK = 8192


def _window_blocks(
    values: np.ndarray, width: int, every: int
) -> tuple[np.ndarray, Iterator[tuple[slice, np.ndarray, np.ndarray]]]:
    """The columns computed (every ``every``-th, the last included) and, per block of series,
    ``(rows, sorted windows, counts)``: each row's last ``width`` values up to those columns,
    sorted in float32 with missing values last, and how many are known.
    """
    n_series, n_periods = values.shape
    cols = np.arange(n_periods - 1, -1, -int(every))[::-1]
    padded = np.concatenate([np.full((n_series, width - 1), np.nan), values], axis=1)
    padded = padded.astype(np.float32)

    def blocks() -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
        for lo in range(0, n_series, _WINDOW_BLOCK):
            rows = slice(lo, min(lo + _WINDOW_BLOCK, n_series))
            windows = np.lib.stride_tricks.sliding_window_view(padded[rows], width, axis=1)
            windows = windows[:, cols]
            yield rows, windows, np.count_nonzero(np.isfinite(windows), axis=2)

    return cols, blocks()


def _carried(computed: np.ndarray, cols: np.ndarray, n_periods: int) -> np.ndarray:
    """``computed`` (at ``cols``) carried forward to every period (never back: causal)."""
    if cols.size == n_periods:
        return computed
    slot = np.searchsorted(cols, np.arange(n_periods), side="right") - 1
    known = slot >= 0
    fill = 0 if computed.dtype.kind in "iu" else np.nan
    full = np.full((computed.shape[0], n_periods), fill, dtype=computed.dtype)
    full[:, known] = computed[:, slot[known]]
    return full


def _trailing_median(
    values: np.ndarray, width: int, least: int, *, mad: bool = False, every: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Median (or median absolute deviation) of each row's last ``width`` values up to ``t``.

    NaN where fewer than ``least`` of them are known; also returns the counts.
    Sorting each window (missing values last, in float32) is several times
    faster than :func:`numpy.nanmedian` on the windows. ``every`` above 1
    computes it every ``every`` periods and carries it forward in between
    (a slowly changing scale).

    Examples
    --------
    >>> med, n = _trailing_median(np.array([[1.0, 5.0, 3.0, np.nan, 9.0]]), 3, 2)
    >>> med.tolist(), n.tolist()
    ([[nan, 3.0, 3.0, 4.0, 6.0]], [[1, 2, 3, 2, 2]])
    """
    cols, blocks = _window_blocks(values, width, every)
    out = np.full((values.shape[0], cols.size), np.nan)
    counts = np.zeros((values.shape[0], cols.size), dtype=np.int64)
    for rows, windows, n in blocks:
        middle = _sorted_median(np.sort(windows, axis=2), n)
        if mad:
            deviation = np.abs(windows - middle[..., None].astype(np.float32))
            middle = _sorted_median(np.sort(deviation, axis=2), n)
        out[rows] = np.where(n >= least, middle, np.nan)
        counts[rows] = n
    return _carried(out, cols, values.shape[1]), _carried(counts, cols, values.shape[1])


def _trailing_quantile(
    values: np.ndarray, width: int, least: int, q: float, *, every: int = 1
) -> np.ndarray:
    """The ``q`` quantile (linear, as :func:`numpy.nanquantile`) of each row's last ``width``.

    NaN where fewer than ``least`` are known; computed every ``every`` periods and carried
    forward.

    Examples
    --------
    >>> _trailing_quantile(np.array([[1.0, 2.0, 3.0, 4.0, np.nan]]), 4, 2, 0.5).tolist()
    [[nan, 1.5, 2.0, 2.5, 3.0]]
    """
    cols, blocks = _window_blocks(values, width, every)
    out = np.full((values.shape[0], cols.size), np.nan)
    for rows, windows, n in blocks:
        ordered = np.sort(windows, axis=2)
        at = q * np.maximum(n - 1, 0)
        below = np.clip(np.floor(at).astype(np.int64), 0, width - 1)
        above = np.where(at > below, np.clip(below + 1, 0, width - 1), below)
        a = np.take_along_axis(ordered, below[..., None], axis=-1)[..., 0]
        b = np.take_along_axis(ordered, above[..., None], axis=-1)[..., 0]
        out[rows] = np.where(n >= least, a + (b - a) * (at - below), np.nan)
    return _carried(out, cols, values.shape[1])


def _sorted_median(ordered: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Median of the first ``n`` values of each sorted window (NaN where ``n`` is 0)."""
    width = ordered.shape[-1]
    lo = np.clip((n - 1) // 2, 0, width - 1)[..., None]
    hi = np.clip(n // 2, 0, width - 1)[..., None]
    a = np.take_along_axis(ordered, lo, axis=-1)[..., 0]
    b = np.take_along_axis(ordered, hi, axis=-1)[..., 0]
    return np.where(n > 0, 0.5 * (a + b), np.nan)


def _any_within(cells: np.ndarray, width: int) -> np.ndarray:
    """Whether any of each row's last ``width`` cells up to ``t`` is set."""
    total = np.cumsum(cells, axis=1, dtype=np.int64)
    before = np.zeros_like(total)
    before[:, width:] = total[:, :-width] if width < total.shape[1] else 0
    return (total - before) > 0


def _shifted(values: np.ndarray, by: int) -> np.ndarray:
    """``values`` moved ``by`` periods later (NaN in front)."""
    out = np.full(values.shape, np.nan)
    if by < values.shape[1]:
        out[:, by:] = values[:, : values.shape[1] - by]
    return out
