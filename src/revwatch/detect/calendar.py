"""Calendar effects the weekly cycle does not explain: month-start billing.

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
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from revwatch.detect._arrays import nanmedian_rows

logger = logging.getLogger(__name__)

__all__ = ["first_business_days", "month_start_effect"]


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
