"""Intermittent series: many zero days, now and then a sale.

A small account or a niche product sells on some days and not on others.
Once half the recent values are zero, every median-based statistic
collapses: the median level is 0, so is the median absolute change, the
robust detector's band shrinks to nothing and every sale is a "spike" 30
sigma away (a series with a sale on 30 % of days was flagged on about 150 of
800 days); from about a fifth of zero days its band is already too narrow
(13 to 20 flags in 800 days). Zero days carry information here (no sale),
so these periods are judged against the whole window, zeros included:

* :func:`intermittent_cells` marks the periods whose trailing ``window``
  observed values are at least ``share`` (a fifth) zeros and hold a sale;
* :func:`intermittent_scores` scores every period against the mean and
  standard deviation of its trailing window (the period itself excluded) on
  the square-root scale, where counts of sales have about even spread
  (Anscombe's transform; signed, so refunds keep their sign):
  ``t = (sqrt(y) - mean) / (sd * sqrt(1 + 1/n))``, calibrated through the
  Student-t with ``n - 1`` degrees of freedom into a normal-equivalent z.
  A **spike** is a day at ``z >= threshold`` that is also above every day of
  the window and at least ``min_change`` above its mean (with a sale on 30 %
  of days, 3 sales in a day, ``p = 0.004``, is not one; 5, ``p = 2e-5``,
  is). A zero day is never unusual by itself (``z`` is about -1 when half
  the days are zero), but a **run** of zeros is: with a share ``p`` of zero
  days before the run began, ``k`` zeros in a row have probability about
  ``p**k``, and the run is a **drop** on the day that falls below the
  one-sided tail of ``threshold`` (28 days for ``p = 0.74``): the account
  went quiet. The ``baseline`` is the window's mean (the expected value).

``auto`` uses these scores for the intermittent periods
(:class:`~revwatch.detectors.auto.AutoDetector`, ``intermittent=True``). Both
use the past only.
"""

from __future__ import annotations

import logging
from statistics import NormalDist

import numpy as np

from revwatch.detectors._arrays import trailing_moments, wallace_z
from revwatch.detectors.base import TYPE_CODES, Scores

logger = logging.getLogger(__name__)

__all__ = ["intermittent_cells", "intermittent_scores"]


def intermittent_cells(
    values: np.ndarray,
    window: int,
    *,
    share: float = 0.2,
    min_obs: int = 14,
    min_sales: int = 1,
) -> np.ndarray:
    """Periods whose trailing window is mostly zeros (boolean, the values' shape).

    Parameters
    ----------
    values : ndarray, shape (n_series, n_periods)
        NaN where missing.
    window : int
        Periods before each period that are looked at.
    share : float, default 0.2
        Smallest fraction of zeros among the window's observed values. The
        robust detector's median statistics break down well before half the
        values are zero: on simulated daily revenue of a few orders a day
        (order values lognormal) with 20-40 % zero days and no anomaly it
        flagged 13 to 20 days in 800; this gives about 1.
    min_obs : int, default 14
        Observed values the window needs.
    min_sales : int, default 1
        Non-zero values the window needs (after a window of zeros, the robust
        detector reports the first sale: the account came back).

    Examples
    --------
    >>> y = np.array([[0.0, 0.0, 5.0, 0.0, 0.0, 3.0, 0.0, 0.0]])
    >>> intermittent_cells(y, 6, min_obs=4).astype(int).tolist()
    [[0, 0, 0, 0, 1, 1, 1, 1]]
    """
    share_zero, n_obs = _zero_share(values, window)
    with np.errstate(invalid="ignore"):
        sales = n_obs * (1.0 - share_zero)
        return (n_obs >= min_obs) & (sales >= min_sales - 1e-9) & (share_zero >= share)


def intermittent_scores(
    values: np.ndarray,
    window: int,
    *,
    threshold: float = 3.5,
    min_change: float = 0.05,
    min_obs: int = 14,
    min_sales: int = 3,
) -> Scores:
    """Score every period against its trailing window, zeros included (square-root scale).

    See the module docstring: a ``spike`` is a day above every day of the
    window that is also ``threshold`` calibrated units above its mean; a
    ``drop`` is the day a run of zeros becomes longer than the window's rate
    of zeros makes plausible. Each flag is a one-period event, confirmed at
    once. A spike needs ``min_sales`` non-zero days in the window to compare
    with (a series that sold once in three months has no typical sale yet).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.poisson(0.3, (1, 400)).astype(float) * 100
    >>> y[0, 300] = 1500.0  # a big order: 15 sales' worth in one day
    >>> y[0, 330:] = 0.0  # then the account goes quiet
    >>> scores = intermittent_scores(y, 91)
    >>> [(int(t), int(scores.kind[0, t])) for t in np.flatnonzero(scores.flag[0])]
    [(300, 1), (354, 2)]
    """
    n_series, n_periods = values.shape
    # counts of sales are skewed: the square root makes their spread about even (Anscombe)
    root = np.sign(values) * np.sqrt(np.abs(values))
    mean_root, sd_root, n = trailing_moments(root, window, min_obs)
    mean, _, _ = trailing_moments(values, window, min_obs)
    highest = _trailing_max(values, window)
    share, n_obs = _zero_share(values, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = sd_root * np.sqrt(1.0 + 1.0 / n)
        z = wallace_z((root - mean_root) / spread, np.maximum(n - 1.0, 1.0))
        scored = np.isfinite(z) & (spread > 0)
        z = np.where(scored, z, np.nan)
        material = np.abs(values - mean) >= min_change * np.abs(mean)
        spike = scored & (z >= threshold) & material & (values > highest)
        spike &= n_obs * (1.0 - share) >= min_sales - 1e-9
    quiet, quiet_z = _quiet_runs(values, share, n_obs, threshold, min_obs)
    drop = quiet & scored
    z = np.where(drop, quiet_z, z)
    flag = spike | drop
    kind = np.where(spike, TYPE_CODES["spike"], np.where(drop, TYPE_CODES["drop"], 0))
    confirm = np.full((n_series, n_periods), -1.0)
    rows, cols = np.nonzero(flag)
    confirm[rows, cols] = cols  # a one-period event, confirmed at once
    baseline = np.where(scored, mean, np.nan)
    low_root = mean_root - threshold * spread
    high_root = mean_root + threshold * spread
    return Scores(
        score=np.abs(z),
        z=z,
        baseline=baseline,
        lower=np.where(scored, np.sign(low_root) * low_root**2, np.nan),
        upper=np.where(scored, np.sign(high_root) * high_root**2, np.nan),
        flag=flag,
        kind=kind.astype(np.int8),
        provisional=np.zeros((n_series, n_periods), dtype=bool),
        threshold=float(threshold),
        extra={"confirm_at": confirm},
    )


def _trailing_max(values: np.ndarray, window: int) -> np.ndarray:
    """Largest value of the ``window`` periods before each period (-inf when none).

    Doubling: ``top[t]`` holds the max of ``2**k`` periods ending at ``t``; two
    overlapping spans of ``2**k <= window`` cover the window, in ``log2(window)``
    passes over the array.
    """
    n_series, n_periods = values.shape
    top = np.where(np.isnan(values), -np.inf, values)
    span = 1
    while 2 * span <= window:
        shifted = np.full_like(top, -np.inf)
        shifted[:, span:] = top[:, :-span]
        top = np.maximum(top, shifted)
        span *= 2
    # window before t is [t - window, t - 1]: spans ending at t - 1 and at t - window + span - 1
    out = np.full((n_series, n_periods), -np.inf)
    end = np.arange(n_periods) - 1
    first = np.arange(n_periods) - window + span - 1
    ok = end >= 0
    out[:, ok] = top[:, end[ok]]
    both = ok & (first >= 0)
    out[:, both] = np.maximum(out[:, both], top[:, first[both]])
    return out


def _quiet_runs(
    values: np.ndarray, share: np.ndarray, n_obs: np.ndarray, threshold: float, min_obs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Days a run of zeros becomes implausibly long, and the z of that run.

    With a share ``p`` of zero days in the window before the run began, a run
    of ``k`` zeros has probability about ``p**k``; the run is flagged on the
    day ``p**k`` first falls below the one-sided tail of ``threshold``.
    """
    n_series, n_periods = values.shape
    zero = values == 0
    cols = np.arange(n_periods)
    last_other = np.maximum.accumulate(np.where(zero, -1, cols), axis=1)
    run = cols[None, :] - last_other  # zeros ending at t (0 where t is not zero)
    start = np.clip(cols[None, :] - run + 1, 0, n_periods - 1)
    rows = np.arange(n_series)[:, None]
    p = share[rows, start]  # the rate of zeros before the run began
    enough = n_obs[rows, start] >= min_obs
    alpha = NormalDist().cdf(-threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.ceil(np.log(alpha) / np.log(p))
        quiet = zero & enough & (p > 0) & (p < 1) & (run == needed)
        prob = np.exp(run * np.log(p))
    z = np.full((n_series, n_periods), np.nan)
    normal = NormalDist()
    r, c = np.nonzero(quiet)
    z[r, c] = [normal.inv_cdf(max(float(q), 1e-300)) for q in prob[r, c]]
    return quiet, z


def _zero_share(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Share of zeros among the observed values of the ``window`` periods before each period.

    The trailing mean of a zero indicator (NaN where missing), and the count of observed values.
    """
    with np.errstate(invalid="ignore"):
        is_zero = np.where(np.isnan(values), np.nan, (values == 0).astype(np.float64))
    share, _, n_obs = trailing_moments(is_zero, window, 1)
    # counts over counts: drop the rounding of the centred sums, so 0 is 0 and 0.2 is 0.2
    return np.round(share, 12), n_obs
