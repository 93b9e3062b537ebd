"""Sub-daily scoring on several time scales, with bands calibrated on each series' own past.

Five-minute or hourly series (request counts, tweets, checkouts) are noisy at
the step level, heavy-tailed, and their anomalies last from one step to a few
hours. A per-step z-score against a Gaussian threshold either misses the
hour-long bursts or flags the noise every day. :func:`multiscale_scores`
judges each step, strictly causally and for all series at once, in four
stages:

1. **Scale, chosen from the data.** A series with a negative value in its first
   day is a difference or an offset: it is scored as it is (additive). Any
   other series is scored on ``log(y + c)`` with ``c`` half its first day's
   median (half its mean when the median is zero, 1 when both are): a ratio
   scale for large values that does not blow up the relative noise of small
   counts at night (a plain log turned the 1 to 15 requests of a quiet night
   into the largest deviations of the day).
2. **Time of day.** The expected value of step ``t`` is the median, over the
   ``history_days`` days before, of the mean of the transformed series around
   the same clock time (half an hour either side). A series whose past shows no
   time-of-day shape worth the noise it adds (the residual's trailing spread
   not at least 20 % smaller than without it) is compared with the median of
   its last ``history_days`` days instead; the choice is made per step on the
   trailing spread, so it follows the series.
3. **Several time scales.** The residual is averaged over the last ``w`` steps
   for each ``w`` of ``scales`` (by default one step, an hour and three hours;
   one step only for data of one step an hour or coarser are the hour
   scales' own). Each average is compared with the median and scaled MAD of
   the same average over the ``history_days`` days that end ``w`` steps before
   the day it judges: a robust z per scale.
4. **Bands from the series' own past** (conformal-style): each scale's
   threshold is the ``1 - rate / len(scales)`` quantile of that scale's
   absolute z over the ``calibration_days`` days before (recomputed once a
   day), never below ``floor``. Steps whose z passed 1.5 times the threshold
   in force (clear anomalies) are left out of later calibrations, so an
   outage neither widens nor shifts the bands after it. On heavy-tailed noise
   the quantile sets the threshold, so about ``rate`` of normal steps are
   flagged (the calibration test checks a factor of two); on light-tailed
   noise the floor binds and fewer are.

A step is flagged where any scale's z passes its threshold. Its ``score`` is
the largest ratio of a scale's |z| to its threshold times ``threshold`` (the
normal-equivalent scale of the other detectors: flagged at or above
``threshold``); ``z`` carries the direction. A run of flags in one direction
that has lasted the longest scale is a ``level_shift``, a shorter one a
``spike`` or ``drop`` (provisional until it ends or becomes a shift). The band
is the one-step scale's.

Steps before one full day of history (and before a day of calibration) are not
judged.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from revwatch.detectors.base import TYPE_CODES, Scores
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["default_scales", "multiscale_scores", "transform_scale"]

#: Series per block: the time-of-day stack holds ``history_days`` copies of a block.
_BLOCK = 256
#: A time-of-day shape is used where it cuts the residual's trailing spread at least this much.
_SHAPE_GAIN = 0.8
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
    the others are ``log(y + offset)`` with the offset from their first day
    (see the module docstring). Only the first ``per_day`` steps choose.

    Examples
    --------
    >>> y = np.array([[10.0, 30.0, 20.0, 40.0], [-1.0, 2.0, 3.0, 4.0]])
    >>> z, off, add = transform_scale(y, 2)
    >>> off.ravel().tolist(), add.tolist()
    ([10.0, 0.0], [False, True])
    """
    first = values[:, : max(per_day, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanmin(first, axis=1)
        median = np.nanmedian(first, axis=1)
        mean = np.nanmean(np.abs(first), axis=1)
    additive = np.asarray(low < 0)
    offset = np.where(median > 0, 0.5 * median, np.where(mean > 0, 0.5 * mean, 1.0))
    offset = np.where(additive | ~np.isfinite(offset), 0.0, offset)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        logged = np.log(np.maximum(values, 0.0) + offset)
    out = np.where(additive[:, None], values, logged)
    return out, offset, additive


def _rolling(frame: pd.DataFrame, window: int, min_periods: int, how: str) -> np.ndarray:
    """Trailing rolling statistic of every column (series) of a periods x series frame."""
    roll = frame.rolling(window, min_periods=min_periods)
    out = roll.median() if how == "median" else roll.mean()
    return out.to_numpy().T


def _expected(x: np.ndarray, per_day: int, days: int) -> np.ndarray:
    """The causal expectation of every step on the transformed scale (stage 2)."""
    n_series, n_periods = x.shape
    frame = pd.DataFrame(x.T)
    # the series' own recent level: the median of the last `days` days, up to the step before
    lagged = frame.shift(1)
    level = _rolling(lagged, days * per_day, per_day, "median")
    half = max(per_day // 48, 0)  # half an hour either side
    # the mean around each clock time; the days before t, so `half` steps ahead are in the past
    around = (
        frame.rolling(2 * half + 1, center=True, min_periods=half + 1).mean().to_numpy().T
        if half
        else x
    )
    shape = np.full((n_series, n_periods), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for lo in range(0, n_series, _BLOCK):
            hi = min(lo + _BLOCK, n_series)
            stack = np.full((days, hi - lo, n_periods), np.nan)
            for k in range(1, days + 1):
                lag = k * per_day
                if lag < n_periods:
                    stack[k - 1, :, lag:] = around[lo:hi, : n_periods - lag]
            enough = np.count_nonzero(np.isfinite(stack), axis=0) >= 2
            shape[lo:hi] = np.where(enough, np.nanmedian(stack, axis=0), np.nan)
    # which expectation: the one with the smaller trailing spread of its residual
    spread = []
    for guess in (shape, level):
        resid = pd.DataFrame((x - guess).T).shift(1)
        centre = resid.rolling(days * per_day, min_periods=per_day).median()
        spread.append(_rolling((resid - centre).abs(), days * per_day, per_day, "median"))
    use_shape = np.isfinite(spread[0]) & (spread[0] < _SHAPE_GAIN * spread[1])
    return np.where(use_shape, shape, level)


def multiscale_scores(
    values: np.ndarray,
    per_day: int,
    *,
    rate: float = 0.005,
    floor: float = 3.5,
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
    rate : float, default 0.005
        Share of normal steps flagged, at most (calibrated on heavy tails):
        the expected false flags per series-year are ``rate`` times the steps
        a year (525 at 5 minutes, 44 hourly).
    floor : float, default 3.5
        Smallest threshold of a scale's robust z.
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
    expected = _expected(x, per_day, history_days)
    resid = x - expected
    frame = pd.DataFrame(resid.T)
    level = 1.0 - float(rate) / len(scales)
    ratio = np.full((n_series, n_periods), np.nan)
    signed = np.full((n_series, n_periods), np.nan)
    band = np.full((3, n_series, n_periods), np.nan)  # centre, mad, threshold of scale 1
    hist = history_days * per_day
    calib = calibration_days * per_day
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for w in scales:
            mean = resid if w == 1 else _rolling(frame, w, max(w // 2, 1), "mean")
            z = np.full((n_series, n_periods), np.nan)
            thr = np.full((n_series, n_periods), np.nan)
            clear = np.zeros((n_series, n_periods), dtype=bool)
            for start in range(per_day, n_periods, per_day):
                stop = min(start + per_day, n_periods)
                end = start - w + 1  # the reference ends w steps before the day it judges
                if end <= 0:
                    continue
                ref = mean[:, max(0, end - hist) : end]
                enough = np.count_nonzero(np.isfinite(ref), axis=1) >= min(per_day, hist)
                centre = np.nanmedian(ref, axis=1)
                dev = np.abs(ref - centre[:, None])
                mad = 1.4826 * np.nanmedian(dev, axis=1)
                # a mostly constant past (zeros between spikes): the mean deviation instead
                mad = np.where(mad > 0, mad, 1.2533 * np.nanmean(dev, axis=1))
                mad = np.where(mad > 0, mad, np.nan)
                day = (mean[:, start:stop] - centre[:, None]) / mad[:, None]
                day[~enough] = np.nan
                z[:, start:stop] = day
                pool = np.abs(z[:, max(0, end - calib) : end])
                pool = np.where(clear[:, max(0, end - calib) : end], np.nan, pool)
                known = np.count_nonzero(np.isfinite(pool), axis=1) >= per_day
                cut = np.maximum(np.nanquantile(pool, level, axis=1), float(floor))
                cut = np.where(known, cut, np.nan)
                thr[:, start:stop] = cut[:, None]
                clear[:, start:stop] = np.abs(day) > _CLEAR * cut[:, None]
                if w == scales[0]:
                    band[0, :, start:stop] = centre[:, None]
                    band[1, :, start:stop] = mad[:, None]
                    band[2, :, start:stop] = cut[:, None]
            r = np.abs(z) / thr
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
        inv = np.where(additive[:, None], level_x, np.exp(level_x) - offset)
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
