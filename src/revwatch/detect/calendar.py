"""Calendar effects the weekly cycle does not explain: month-start billing, closed days.

B2B revenue is often billed on the first business day of the month (seed
001's "month-start enterprise billing"): that day is 10-30 % above the same
weekday in the weeks around it, every month. A weekly seasonal index cannot
see it (the first business day falls on any weekday), so without help a
daily detector reports it as a spike twelve times a year.

:func:`month_start_effect` learns the effect causally, per series, from the
month starts before each one: the ratio of each first business day to the
median of the same weekday in the three weeks before it, then the median of
the last ``cycles`` such ratios. Where at least ``min_events`` earlier month
starts exist and the effect is at least ``min_effect``, the day is divided by
it before scoring (and the baseline multiplied back), so the bump is normal
but a month start that misses it, or doubles it, is not.

:func:`closed_days` finds the days a business is closed: a B2B account that
invoices Monday to Friday has zero revenue every weekend. Those zeros are not
"no sale" but "not open"; left in, they made every median statistic of the
window jump between the weekday level and zero (50 to 85 false flags in 800
days on a steady weekday-only series). A zero on a weekday that was zero at
least ``min_closed`` of its last ``lookback`` occurrences is a closed day and
is left out of the scoring (a sale on such a day is still scored).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from revwatch.detect._arrays import nanmedian_rows

logger = logging.getLogger(__name__)

__all__ = ["closed_days", "first_business_days", "month_start_effect"]


def first_business_days(periods: pd.DatetimeIndex) -> np.ndarray:
    """Positions of the first weekday (Mon-Fri) of each month in a daily grid.

    Examples
    --------
    >>> days = pd.date_range("2024-06-01", "2024-07-03", freq="D")
    >>> [str(days[i].date()) for i in first_business_days(days)]
    ['2024-06-03', '2024-07-01']
    """
    if len(periods) == 0:
        return np.zeros(0, dtype=np.int64)
    weekday = periods.day_of_week < 5
    month = periods.year * 12 + periods.month
    frame = pd.DataFrame({"month": month[weekday], "pos": np.flatnonzero(weekday)})
    first = frame.groupby("month", sort=True)["pos"].min().to_numpy()
    # a month whose first weekday is not in the data (the grid starts mid-month) has none
    days = periods[first]
    keep = days.day <= 3
    return first[keep].astype(np.int64)


def month_start_effect(
    y: np.ndarray,
    periods: pd.DatetimeIndex,
    *,
    cycles: int = 6,
    min_events: int = 2,
    min_effect: float = 0.05,
) -> np.ndarray:
    """Multiplicative month-start factor of every cell (1.0 where there is none).

    Parameters
    ----------
    y : ndarray, shape (n_series, n_periods)
        Daily values.
    periods : DatetimeIndex
        The daily grid (columns of ``y``).
    cycles : int, default 6
        Earlier month starts whose ratios are combined (median).
    min_events : int, default 2
        Earlier month starts with a ratio needed before the effect is used.
    min_effect : float, default 0.05
        Smallest effect (relative) worth adjusting for.

    Returns
    -------
    ndarray, shape (n_series, n_periods)
        Factor to divide the value by (and multiply the baseline with); only
        first business days differ from 1, and each uses earlier months only.

    Examples
    --------
    >>> days = pd.date_range("2024-01-01", periods=200, freq="D")
    >>> y = np.full((1, 200), 100.0)
    >>> y[0, first_business_days(days)] = 125.0
    >>> f = month_start_effect(y, days)
    >>> [round(float(v), 2) for v in f[0, first_business_days(days)]]
    [1.0, 1.0, 1.0, 1.25, 1.25, 1.25, 1.25]
    """
    factor = np.ones(y.shape, dtype=np.float64)
    starts = first_business_days(periods)
    if starts.size <= int(min_events):
        return factor
    lags = np.array([7, 14, 21])
    ratios = np.full((y.shape[0], starts.size), np.nan)
    for j, pos in enumerate(starts):
        back = pos - lags
        back = back[back >= 0]
        if back.size:
            ref, _ = nanmedian_rows(y[:, back])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = y[:, pos] / ref
            ratios[:, j] = np.where(np.isfinite(ratio) & (ratio > 0), ratio, np.nan)
        if j >= int(min_events):
            past = ratios[:, max(0, j - int(cycles)) : j]
            effect, n = nanmedian_rows(past)
            use = (n >= int(min_events)) & (np.abs(effect - 1.0) >= float(min_effect))
            factor[:, pos] = np.where(use, effect, 1.0)
    return factor


def closed_days(
    values: np.ndarray,
    periods: pd.DatetimeIndex,
    *,
    lookback: int = 8,
    min_closed: int = 7,
    max_open_zeros: float = 0.2,
) -> np.ndarray:
    """Zero days on a weekday the business is closed (boolean, the values' shape).

    Causal: a day counts as closed when it is zero, at least ``min_closed`` of
    the ``lookback`` same weekdays before it were zero too, and at most
    ``max_open_zeros`` of the other days of those weeks were zero (the
    business is open then: a small account that sells on some days only has
    zeros on every weekday, and they are "no sale", see
    :mod:`revwatch.detect.intermittent`).

    Parameters
    ----------
    values : ndarray, shape (n_series, n_days)
        Daily values on a daily grid (NaN where missing).
    periods : DatetimeIndex
        The grid's days.
    lookback, min_closed, max_open_zeros
        See above.

    Examples
    --------
    >>> days = pd.date_range("2024-01-01", periods=70, freq="D")  # a Monday
    >>> y = np.where(days.day_of_week >= 5, 0.0, 100.0)[None, :]
    >>> closed = closed_days(y, days)
    >>> int(closed.sum()), str(days[np.flatnonzero(closed[0])[0]].date())
    (4, '2024-03-02')
    """
    n_series = values.shape[0]
    closed = np.zeros(values.shape, dtype=bool)
    zero = values == 0
    observed = ~np.isnan(values)
    pad = np.zeros((n_series, 1))
    # zeros and observed days over the lookback weeks before each day, all weekdays
    all_zero = np.concatenate([pad, np.cumsum(zero, axis=1, dtype=np.float64)], axis=1)
    all_obs = np.concatenate([pad, np.cumsum(observed, axis=1, dtype=np.float64)], axis=1)
    span = 7 * lookback
    weekday = np.asarray(periods.day_of_week)
    for day in range(7):
        cols = np.flatnonzero(weekday == day)
        if cols.size <= lookback:
            continue
        same = np.concatenate([pad, np.cumsum(zero[:, cols], axis=1, dtype=np.float64)], axis=1)
        same_obs = np.concatenate(
            [pad, np.cumsum(observed[:, cols], axis=1, dtype=np.float64)], axis=1
        )
        k = np.arange(lookback, cols.size)
        t = cols[k]
        start = np.maximum(t - span, 0)
        this_zero = same[:, k] - same[:, k - lookback]  # the lookback same weekdays before t
        this_obs = same_obs[:, k] - same_obs[:, k - lookback]
        other_zero = all_zero[:, t] - all_zero[:, start] - this_zero
        other_obs = all_obs[:, t] - all_obs[:, start] - this_obs
        with np.errstate(invalid="ignore", divide="ignore"):
            open_otherwise = other_zero <= max_open_zeros * other_obs
        closed[:, t] = zero[:, t] & (this_zero >= min_closed) & open_otherwise & (other_obs > 0)
    return closed
