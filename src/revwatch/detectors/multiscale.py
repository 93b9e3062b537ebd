"""Sub-daily scoring on several time scales, with bands calibrated on each series' own past.

Five-minute or hourly series (request counts, tweets, checkouts) are noisy at
the step level, heavy-tailed, and their anomalies last from one step to a few
hours. A per-step z-score against a Gaussian threshold either misses the
hour-long bursts or flags the noise every day. :func:`multiscale_scores`
judges each step, strictly causally and for all series at once, in four
stages:

1. **Scale, chosen from the data.** A series with a negative value in its first
   day is a difference or an offset: it is scored as it is (additive). Any
   other series is scored on ``log(y + c)``. ``c`` is the one of 0.02, 0.1,
   0.5 and 2 times its first day's median under which the noise is as large
   at quiet times as at busy ones (the day-to-day change of the same clock
   time over its first two days, quieter half against busier half): close to
   a plain log for revenue with multiplicative noise, larger for counts whose
   relative noise grows at night (a plain log turned the 1 to 15 requests of a
   quiet night into the largest deviations of the day). Half the median while
   there are not two days.
2. **Time of day.** Three candidate expectations of step ``t``, all from the
   days before: the median over the ``history_days`` days before of the
   series around the same clock time (a local quadratic over half an hour
   either side, which keeps the height of a peak); the same over the days of
   the same kind (weekday or weekend) of the last two weeks, when ``periods``
   are given and at least two such days exist (a quieter weekend with its own
   shape is not a drop every Saturday, and the first weekend, never seen
   before, is judged against the weekdays); and the median of the last
   ``history_days`` days (no shape). The simplest applies unless a richer one's
   residual had a trailing spread (the mean absolute deviation from its
   median) at least 20 % smaller; the choice is made per step, so it follows
   the series. The mean, not the median, of the deviations: a flat level on a
   daily cycle misses the busy third of every day, which the median of the
   deviations does not see. While a richer expectation exists but has no
   track record yet, which one holds is not known and the step is not judged
   (a daily cycle judged against a flat level on its third day flagged every
   busy hour).
3. **Several time scales.** The residual of the expectation in force is
   averaged over the last ``w`` steps for each ``w`` of ``scales`` (by
   default one step, an hour and three hours; one step only for data of one
   step an hour or coarser are the hour scales' own). Each average is
   compared with the median and scaled MAD of the same average of the same
   expectation over the ``history_days`` days that end ``w`` steps before the
   day it judges: a robust z per scale. A longer scale speaks for a step only
   while the mean one-step z of the last quarter of its window still deviates
   its way by at least 1 (an hour-long mean does not go on flagging the hour
   after a drop ended).
4. **Bands from the series' own past** (conformal-style): each scale's
   threshold is the ``1 - rate / len(scales)`` quantile of that scale's
   absolute z over the ``calibration_days`` days before (recomputed once a
   day), never below ``floor`` (``floor`` times ``1 + 1/d`` while only ``d``
   days are known: a band from a few days is less sure). Steps whose z passed
   1.5 times the threshold in force (clear anomalies) are left out of later
   calibrations, so an outage neither widens nor shifts the bands after it.
   On heavy-tailed noise the quantile sets the threshold, so at most about
   ``rate`` of normal steps are flagged; on light-tailed noise the floor binds
   and far fewer are (a clean 5-minute series with a daily cycle: none in
   three weeks).

A step is flagged where any scale's z passes its threshold. Its ``score`` is
the largest ratio of a scale's |z| to its threshold times ``threshold`` (the
normal-equivalent scale of the other detectors: flagged at or above
``threshold``); ``z`` carries the direction. A run of flags in one direction
that has lasted the longest scale is a ``level_shift``, a shorter one a
``spike`` or ``drop`` (provisional until it ends or becomes a shift). The band
is the one-step scale's.

The first two days are not judged (no level yet, then no calibration). On a
series with a time-of-day shape neither is the third: its expectation, from
two earlier days, has no track record yet, and its robust z needs a day of its
residuals. Flags start on the fourth day, with the wider floor (the third on a
series whose flat level is the best expectation it has).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from revwatch.detectors._arrays import nanmedian_rows, nanquantile_rows
from revwatch.detectors.base import TYPE_CODES, Scores
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["default_scales", "multiscale_scores", "transform_scale"]

#: Series per block: the time-of-day stack holds ``history_days`` copies of a block.
_BLOCK = 256
#: A time-of-day shape is used where it cuts the residual's trailing spread at least this much.
_SHAPE_GAIN = 0.8
#: Days of history before the level, the robust z and the calibration are used.
_WARMUP = (0.25, 0.5, 0.5)
#: Offsets of the log scale tried, as fractions of the first day's median.
_OFFSETS = (0.02, 0.1, 0.5, 2.0)
#: A longer scale flags a step only where the mean one-step z of the last quarter of its
#: window is this large, the same way.
_NOW = 1.0
#: Past steps beyond this multiple of their threshold are left out of later calibrations.
_CLEAR = 1.5


def default_scales(per_day: int) -> tuple[int, ...]:
    """The time scales, in steps, for data with ``per_day`` steps a day: a step, 1 h and 3 h.

    Examples
    --------
    >>> default_scales(288), default_scales(24), default_scales(96)
    ((1, 12, 36), (1, 3), (1, 4, 12))
    """
    per_hour = max(per_day // 24, 1)
    scales = {1, per_hour, 3 * per_hour}
    return tuple(sorted(scales))


def transform_scale(values: np.ndarray, per_day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each series on its scoring scale: ``(transformed, offset, additive)``.

    ``additive`` (per series) is True where the first day holds a negative value;
    the others are ``log(y + offset)`` with the offset from their first two days
    (see the module docstring). Only the first ``2 * per_day`` steps choose.

    Examples
    --------
    >>> y = np.array([[10.0, 30.0, 20.0, 40.0], [-1.0, 2.0, 3.0, 4.0]])
    >>> z, off, add = transform_scale(y, 2)
    >>> off.ravel().tolist(), add.tolist()
    ([40.0, 0.0], [False, True])
    """
    first = values[:, : max(per_day, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanmin(first, axis=1)
        median = np.nanmedian(first, axis=1)
        mean = np.nanmean(np.abs(first), axis=1)
    additive = np.asarray(low < 0)
    base = np.where(median > 0, median, np.where(mean > 0, mean, 2.0))
    offset = _stable_offset(values, per_day, np.where(np.isfinite(base), base, 2.0))
    offset = np.where(additive, 0.0, offset)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        logged = np.log(np.maximum(values, 0.0) + offset)
    out = np.where(additive[:, None], values, logged)
    return out, offset, additive


def _stable_offset(values: np.ndarray, per_day: int, base: np.ndarray) -> np.ndarray:
    """The offset ``c`` of ``log(y + c)`` under which the noise is the same at every level.

    Revenue with multiplicative noise wants a small ``c`` (a plain log); counts
    that are Poisson-like at night want a larger one (their relative noise
    grows as they shrink). Among ``_OFFSETS`` times ``base`` (the first day's
    median), the one where the day-to-day change of the same clock time is
    as large on the quieter half of the first two days as on the busier half.
    Half the median where there are not two days.
    """
    n_series, n_periods = values.shape
    default = 0.5 * base
    if n_periods < 2 * per_day or per_day < 2:
        return default
    y = np.maximum(values[:, : 2 * per_day], 0.0)
    then, now = y[:, :per_day], y[:, per_day:]
    size = 0.5 * (then + now)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        split = np.nanmedian(size, axis=1, keepdims=True)
        quiet = size <= split
        best = np.full(n_series, np.inf)
        out = default.copy()
        for fraction in _OFFSETS:
            c = (fraction * base)[:, None]
            change = np.abs(np.log(now + c) - np.log(then + c))
            lo = np.nanmedian(np.where(quiet, change, np.nan), axis=1)
            hi = np.nanmedian(np.where(~quiet, change, np.nan), axis=1)
            gap = np.abs(np.log(lo / hi))
            better = np.isfinite(gap) & (gap < best)
            out = np.where(better, fraction * base, out)
            best = np.where(better, gap, best)
    return out


def _rolling(frame: pd.DataFrame, window: int, min_periods: int, how: str) -> np.ndarray:
    """Trailing rolling statistic of every column (series) of a periods x series frame."""
    roll = frame.rolling(window, min_periods=min_periods)
    out = roll.median() if how == "median" else roll.mean()
    return out.to_numpy().T


def _around_clock(x: np.ndarray, half: int) -> np.ndarray:
    """Each step smoothed over ``half`` steps either side (a local quadratic fit).

    A local quadratic (Savitzky-Golay) keeps the height of a curved peak, which
    a moving mean flattens (the lunch peak of a checkout read as 3 % higher
    than expected every day); where a window has a gap the moving mean of what
    is there stands in.
    """
    if half <= 0:
        return x
    frame = pd.DataFrame(x.T)
    mean = frame.rolling(2 * half + 1, center=True, min_periods=half + 1).mean().to_numpy().T
    # the centre value of a least-squares quadratic over the window (Savitzky-Golay weights)
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    design = np.vander(offsets, 3, increasing=True)
    weights = np.linalg.pinv(design)[0]
    n_periods = x.shape[1]
    padded = np.pad(x, ((0, 0), (half, half)), mode="edge")
    fitted = np.zeros_like(x)
    for k, weight in enumerate(weights):
        fitted += weight * padded[:, k : k + n_periods]
    return np.where(np.isfinite(fitted), fitted, mean)


def _lagged_median(
    values: np.ndarray, per_day: int, lags: np.ndarray, use: np.ndarray | None
) -> np.ndarray:
    """Median over whole-day lags of each step's value, at least two of them known.

    ``use`` (lags x periods, optional) says which lag counts for which step
    (the days of the same kind). Series are worked in blocks of :data:`_BLOCK`.
    """
    n_series, n_periods = values.shape
    out = np.full((n_series, n_periods), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for lo in range(0, n_series, _BLOCK):
            hi = min(lo + _BLOCK, n_series)
            stack = np.full((lags.size, hi - lo, n_periods), np.nan)
            for i, k in enumerate(lags):
                lag = int(k) * per_day
                if lag < n_periods:
                    stack[i, :, lag:] = values[lo:hi, : n_periods - lag]
                if use is not None:
                    stack[i, :, ~use[i]] = np.nan
            enough = np.count_nonzero(np.isfinite(stack), axis=0) >= 2
            # the median over the lags, as rows of (lags) per cell
            flat = stack.reshape(stack.shape[0], -1).T
            middle = nanmedian_rows(flat)[0].reshape(stack.shape[1:])
            out[lo:hi] = np.where(enough, middle, np.nan)
    return out


def _trailing_spread(x: np.ndarray, guess: np.ndarray, per_day: int, days: int) -> np.ndarray:
    """Mean absolute deviation of ``x - guess`` from its median, over the ``days`` days before.

    The mean, not the median, of the absolute deviations: an expectation that
    misses the busy third of every day (a flat level on a daily cycle) has a
    median deviation as small as the right one's, and a mean three times it.
    Known from half a day of residuals.
    """
    resid = pd.DataFrame((x - guess).T).shift(1)
    least = max(per_day // 2, 1)
    centre = resid.rolling(days * per_day, min_periods=least).median()
    return _rolling((resid - centre).abs(), days * per_day, least, "mean")


def _expectations(
    x: np.ndarray, per_day: int, days: int, weekend: np.ndarray | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """The candidate causal expectations on the transformed scale, and which applies (stage 2).

    Returns the candidates (simplest last: the recent level) and, per step, the
    index of the one in force: the simplest unless a richer one's residual had
    a trailing spread at least ``1 - _SHAPE_GAIN`` smaller.
    """
    frame = pd.DataFrame(x.T)
    # the series' own recent level: the median of the last `days` days, up to the step before
    level = _rolling(frame.shift(1), days * per_day, max(int(per_day * _WARMUP[0]), 1), "median")
    # the days before t only, so the `half` steps after t in a window are in the past
    around = _around_clock(x, max(per_day // 48, 0))  # half an hour either side
    shape = _lagged_median(around, per_day, np.arange(1, days + 1), None)
    guesses = [shape, level]
    if weekend is not None and weekend.any() and not weekend.all():
        # the same clock time on the last days of the same kind (weekday or weekend) of
        # two weeks: a weekend with its own shape is not a drop every Saturday
        lags = np.arange(1, 2 * days + 1)
        cols = np.arange(x.shape[1])
        earlier = np.clip(cols[None, :] - lags[:, None] * per_day, 0, None)
        same = weekend[earlier] == weekend[None, :]
        guesses.insert(0, _lagged_median(around, per_day, lags, same))
    spreads = [_trailing_spread(x, g, per_day, days) for g in guesses]
    last = len(guesses) - 1
    choice = np.where(np.isfinite(guesses[last]), last, -1)
    # a richer expectation that exists but has no track record yet: which one holds is not
    # known, so the step is not judged (a daily cycle judged against a flat level on its third
    # day flagged every busy hour)
    pending = np.zeros(choice.shape, dtype=bool)
    for i in range(last):
        pending |= np.isfinite(guesses[i]) & ~np.isfinite(spreads[i])
    best = spreads[last]
    for i in range(last - 1, -1, -1):
        spread = spreads[i]
        better = (
            np.isfinite(guesses[i])
            & np.isfinite(spread)
            & (~np.isfinite(best) | (spread < _SHAPE_GAIN * np.where(np.isfinite(best), best, 0)))
        )
        choice = np.where(better, i, choice)
        best = np.where(better, spread, best)
    return guesses, np.where(pending, -1, choice)


def _robust_z(
    resid: np.ndarray, w: int, per_day: int, days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean residual of the last ``w`` steps as a robust z, with its centre and spread.

    Against the median and scaled MAD of the same mean over the ``days`` days
    that end ``w`` steps before the day it judges (so the window of a step
    never overlaps its reference); recomputed once a day.
    """
    n_series, n_periods = resid.shape
    mean = resid if w == 1 else _rolling(pd.DataFrame(resid.T), w, max(w // 2, 1), "mean")
    centre = np.full((n_series, n_periods), np.nan)
    mad = np.full((n_series, n_periods), np.nan)
    hist = days * per_day
    for start in range(per_day, n_periods, per_day):
        stop = min(start + per_day, n_periods)
        end = start - w + 1
        if end <= 0:
            continue
        ref = mean[:, max(0, end - hist) : end]
        enough = np.count_nonzero(np.isfinite(ref), axis=1) >= int(min(per_day, hist) * _WARMUP[1])
        mid = nanmedian_rows(ref)[0]
        dev = np.abs(ref - mid[:, None])
        spread = 1.4826 * nanmedian_rows(dev)[0]
        # a mostly constant past (zeros between spikes): the mean deviation instead
        spread = np.where(spread > 0, spread, 1.2533 * np.nanmean(dev, axis=1))
        spread = np.where((spread > 0) & enough, spread, np.nan)
        centre[:, start:stop] = mid[:, None]
        mad[:, start:stop] = spread[:, None]
    return (mean - centre) / mad, centre, mad


def _calibrated(
    z: np.ndarray, per_day: int, w: int, calib: int, level: float, floor: float
) -> np.ndarray:
    """Each day's threshold: the ``level`` quantile of the past ``calib`` steps' |z| (stage 4).

    Steps past :data:`_CLEAR` times the threshold in force are left out of the
    later calibrations; never below ``floor``; NaN before half a day of z.
    """
    n_series, n_periods = z.shape
    thr = np.full((n_series, n_periods), np.nan)
    clear = np.zeros((n_series, n_periods), dtype=bool)
    for start in range(per_day, n_periods, per_day):
        stop = min(start + per_day, n_periods)
        end = start - w + 1
        if end <= 0:
            continue
        pool = np.abs(z[:, max(0, end - calib) : end])
        pool = np.where(clear[:, max(0, end - calib) : end], np.nan, pool)
        seen = np.count_nonzero(np.isfinite(pool), axis=1)
        known = seen >= int(per_day * _WARMUP[2])
        # a band from a few days of the series is less sure: the floor is wider while
        # they are few (twice the floor after one day, 1.25 times after four)
        wide = floor * (1.0 + per_day / np.maximum(seen, 1))
        cut = np.maximum(nanquantile_rows(pool, level), wide)
        cut = np.where(known, cut, np.nan)
        thr[:, start:stop] = cut[:, None]
        clear[:, start:stop] = np.abs(z[:, start:stop]) > _CLEAR * cut[:, None]
    return thr


def multiscale_scores(
    values: np.ndarray,
    per_day: int,
    *,
    periods: pd.DatetimeIndex | None = None,
    rate: float = 0.005,
    floor: float = 4.5,
    threshold: float = 4.8,
    scales: tuple[int, ...] | None = None,
    history_days: int = 7,
    calibration_days: int = 28,
) -> Scores:
    """Score a sub-daily ``(n_series, n_periods)`` matrix; see the module docstring.

    Parameters
    ----------
    values : ndarray
        The value matrix, NaN where missing.
    per_day : int
        Steps a day (288 for 5-minute data, 24 hourly).
    periods : DatetimeIndex or None
        The step of each column; given, weekends may get their own
        time-of-day shape (stage 2).
    rate : float, default 0.005
        Share of normal steps flagged, at most (calibrated on heavy tails):
        the expected false flags per series-year are ``rate`` times the steps
        a year (525 at 5 minutes, 44 hourly).
    floor : float, default 4.5
        Smallest threshold of a scale's robust z (the estimated expectation
        and spread make the z of clean data heavier-tailed than a normal's:
        3.5 flagged a clean 5-minute cycle a few times a day).
    threshold : float, default 4.8
        Where ``score`` puts a flag: the reported score of a step at its
        band's edge (the normal-equivalent scale the incident model reads).
    scales : tuple of int or None
        Window lengths in steps; None: :func:`default_scales`.
    history_days, calibration_days : int
        Days of the expectation and the robust z (7), and of the calibration (28).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = 100 * np.exp(0.1 * rng.standard_normal((2, 24 * 30)))
    >>> y[1, 600:606] *= 3  # six hours at triple volume
    >>> s = multiscale_scores(y, 24)
    >>> bool(s.flag[1, 600:606].all()), int(s.flag[0].sum()) <= 4
    (True, True)
    """
    if not (isinstance(rate, float | int) and 0 < float(rate) < 0.5):
        raise ParameterError(f"rate must be between 0 and 0.5, got {rate!r}")
    if not (isinstance(floor, float | int) and float(floor) > 0):
        raise ParameterError(f"floor must be positive, got {floor!r}")
    per_day = max(int(per_day), 1)
    scales = default_scales(per_day) if scales is None else tuple(int(w) for w in scales)
    n_series, n_periods = values.shape
    out = Scores.empty((n_series, n_periods), threshold)
    if n_series == 0 or n_periods == 0:
        return out
    x, offset, additive = transform_scale(values, per_day)
    weekend = None if periods is None else np.asarray(periods.day_of_week >= 5)
    guesses, choice = _expectations(x, per_day, history_days, weekend)
    expected = np.full((n_series, n_periods), np.nan)
    for i, guess in enumerate(guesses):
        expected = np.where(choice == i, guess, expected)
    level = 1.0 - float(rate) / len(scales)
    ratio = np.full((n_series, n_periods), np.nan)
    signed = np.full((n_series, n_periods), np.nan)
    band = np.full((3, n_series, n_periods), np.nan)  # centre, mad, threshold of scale 1
    calib = calibration_days * per_day
    now: np.ndarray | None = None  # the one-step z: is the step itself part of it?
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for w in scales:
            # each step's z against the past residuals of the expectation in force at it
            z = np.full((n_series, n_periods), np.nan)
            centre = np.full((n_series, n_periods), np.nan)
            mad = np.full((n_series, n_periods), np.nan)
            for i, guess in enumerate(guesses):
                used = choice == i
                if not used.any():
                    continue
                zi, ci, mi = _robust_z(x - guess, w, per_day, history_days)
                z = np.where(used, zi, z)
                centre = np.where(used, ci, centre)
                mad = np.where(used, mi, mad)
            thr = _calibrated(z, per_day, w, calib, level, float(floor))
            if w == scales[0]:
                band[0], band[1], band[2] = centre, mad, thr
            r = np.abs(z) / thr
            if now is not None:
                # a longer scale speaks for a step only while the last quarter of its window
                # still deviates its way (not for the hours after a drop has ended)
                recent = _rolling(pd.DataFrame(now.T), max(w // 4, 1), 1, "mean")
                r = np.where(np.sign(z) * recent >= _NOW, r, np.nan)
            if w == 1:
                now = z
            better = np.isfinite(r) & ~(r <= np.nan_to_num(ratio, nan=-1.0))
            ratio = np.where(better, r, ratio)
            signed = np.where(better, np.sign(z), signed)
    judged = np.isfinite(ratio) & np.isfinite(values)
    flag = judged & (ratio > 1.0)
    out.score[judged] = (ratio * threshold)[judged]
    out.z[judged] = (signed * ratio * threshold)[judged]
    out.flag[...] = flag
    centre, mad, cut = band
    for name, width in (("baseline", 0.0), ("lower", -1.0), ("upper", 1.0)):
        level_x = expected + centre + width * cut * mad
        inv = np.where(additive[:, None], level_x, np.exp(np.minimum(level_x, 700.0)) - offset)
        getattr(out, name)[...] = np.where(judged, inv, np.nan)
    _type_runs(out, max(scales))
    logger.info(
        "multiscale: %d of %d steps judged, %d flagged (scales %s steps)",
        int(judged.sum()),
        judged.size,
        int(flag.sum()),
        ",".join(map(str, scales)),
    )
    return out


def _type_runs(scores: Scores, longest: int) -> None:
    """Type every flag by its run so far (in place, causal): a shift once it lasts ``longest``."""
    flag = scores.flag
    cols = np.arange(flag.shape[1])[None, :]
    up = flag & (scores.z > 0)
    for direction, short in ((up, "spike"), (flag & ~up, "drop")):
        last_off = np.maximum.accumulate(np.where(direction, -1, cols), axis=1)
        run = cols - last_off  # same-direction flags in a row, ending here
        shift = direction & (run >= longest)
        scores.kind[direction] = TYPE_CODES[short]
        scores.kind[shift] = TYPE_CODES["level_shift"]
        # while a run is shorter than the longest scale it may still become a shift
        scores.provisional[direction & ~shift] = True
