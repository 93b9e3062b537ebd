"""Calendar effects the weekly cycle does not explain: day of month, holidays, closed days.

B2B revenue is often billed on the 1st or the first business day of the
month (seed 001's "month-start enterprise billing"), public holidays and the
days next to them move revenue, and some dates recur every year. A weekly
seasonal index cannot see any of them (they fall on any weekday), so without
help a daily detector reports them as spikes and drops every time.

:func:`calendar_effects` learns each of these terms causally, per series,
from the term's earlier occurrences (the ratio of the day to the same weekday
around it), with the portfolio's as a prior for holidays, and marks the days
whose effect cannot be known yet (``auto`` does not judge them).

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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from revwatch.detectors._arrays import nanmedian_rows
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "CalendarEffects",
    "calendar_effects",
    "closed_days",
    "day_of_month_classes",
    "first_business_days",
    "public_holidays",
    "same_weekday_median",
]


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


@dataclass
class CalendarEffects:
    """The calendar part of each cell's expected value (see :func:`calendar_effects`).

    Attributes
    ----------
    factor : ndarray, shape (n_series, n_periods)
        Multiplicative effect to divide the value by (and multiply the
        baseline and band with); 1.0 where no calendar term applies.
    unknown : ndarray of bool, same shape
        Calendar days whose effect cannot be known yet (a public holiday the
        series and its portfolio have never been seen on, a date that was
        extreme last year but only once): not judged, and kept out of every
        later baseline.
    """

    factor: np.ndarray
    unknown: np.ndarray
    #: Earlier occurrences the applied effect was learned from (0 where no effect applies; a
    #: portfolio prior counts as one): the effect's own uncertainty widens the band.
    seen: np.ndarray | None = None


#: Offsets (days) of the same weekday around a day that form its reference.
_AROUND = (-21, -14, -7, 7, 14, 21)
#: Day-of-month terms, in the order a day that is several takes them.
_FIRST, _FIRST_BUSINESS, _LAST_BUSINESS, _LAST, _FIRST_CLOSED = 1, 2, 3, 4, 5
#: Terms that share a day in some months (their effects can not be told apart at first).
_RELATED = {1: (2, 5), 2: (1,), 5: (1,), 3: (4,), 4: (3,)}


def day_of_month_classes(periods: pd.DatetimeIndex, closed: np.ndarray | None = None) -> np.ndarray:
    """Day-of-month term of every day; 0 none.

    1 the 1st on a business day (also the first business day), 5 the 1st on
    another day, 2 the first business day after the 1st, 3 the last business
    day before month end, 4 the last day of the month. ``closed`` (boolean
    per day) marks public holidays, which are not business days. A day that
    is two of these has the first in that order. Billing on the 1st shows in
    terms 1 and 5, billing on the first business day in 1 and 2.

    Examples
    --------
    >>> days = pd.date_range("2024-05-29", "2024-06-04", freq="D")
    >>> day_of_month_classes(days).tolist()  # Fri 31 May; Sat 1 June; Mon 3 June
    [0, 0, 4, 5, 0, 2, 0]
    """
    n = len(periods)
    classes = np.zeros(n, dtype=np.int64)
    if n == 0:
        return classes
    day = np.asarray(periods.day)
    # business days from the calendar of whole months, not from the grid: whether the grid's
    # last day is its month's last business day must not depend on later days
    full = pd.date_range(
        periods[0].to_period("M").start_time,
        periods[-1].to_period("M").end_time.normalize(),
        freq="D",
    )
    open_day = np.asarray(full.day_of_week < 5)
    if closed is not None:
        closed_dates = set(periods[closed].normalize())
        open_day &= ~np.asarray(full.isin(list(closed_dates)))
    frame = pd.DataFrame(
        {"month": np.asarray(full.year * 12 + full.month)[open_day], "day": full[open_day]}
    )
    grouped = frame.groupby("month", sort=True)["day"]
    position = pd.Series(np.arange(n), index=periods.normalize())
    first = position.reindex(pd.DatetimeIndex(grouped.min().to_numpy())).dropna().to_numpy(np.int64)
    last = position.reindex(pd.DatetimeIndex(grouped.max().to_numpy())).dropna().to_numpy(np.int64)
    business = np.asarray(periods.day_of_week < 5)
    if closed is not None:
        business &= ~closed
    classes[last] = _LAST_BUSINESS
    classes[np.asarray(periods.is_month_end)] = _LAST
    classes[first] = _FIRST_BUSINESS
    classes[(day == 1) & business] = _FIRST
    classes[(day == 1) & ~business] = _FIRST_CLOSED
    return classes


def public_holidays(periods: pd.DatetimeIndex, country: str) -> list[str | None]:
    """The public holiday's name on each day (None on other days), from ``holidays``.

    Raises :class:`~revwatch.errors.ParameterError` for a country code the
    package does not know.

    Examples
    --------
    >>> days = pd.date_range("2024-12-24", "2024-12-26", freq="D")
    >>> public_holidays(days, "US")
    [None, 'Christmas Day', None]
    """
    import holidays

    if len(periods) == 0:
        return []
    years = range(int(periods[0].year), int(periods[-1].year) + 1)
    try:
        calendar = holidays.country_holidays(str(country).upper(), years=years)
    except NotImplementedError as error:
        raise ParameterError(
            f"country {country!r} is not known to the holidays package: give an ISO code "
            "such as US, GB, DE or AU"
        ) from error
    return [calendar.get(day.date()) for day in periods]


def same_weekday_median(values: np.ndarray) -> np.ndarray:
    """Median of the same weekday one to three weeks before every day (of those there are).

    Examples
    --------
    >>> same_weekday_median(np.arange(22.0)[None, :])[0, [6, 20, 21]].tolist()
    [nan, 9.5, 7.0]
    """
    back = np.full((3, *values.shape), np.nan)
    for k, lag in enumerate((7, 14, 21)):
        back[k, :, lag:] = values[:, :-lag]
    return _median_of_first_axis(back)


def _log_ratios(logy: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Log ratio of each listed day to the median of the same weekday 1-3 weeks around it."""
    n_series, n_days = logy.shape
    out = np.full((n_series, columns.size), np.nan)
    for start in range(0, columns.size, 64):
        cols = columns[start : start + 64]
        around = cols[None, :] + np.array(_AROUND)[:, None]
        ok = (around >= 0) & (around < n_days)
        stack = np.where(
            ok[:, None, :], logy[:, np.clip(around, 0, n_days - 1)].transpose(1, 0, 2), np.nan
        )
        ref = _median_of_first_axis(stack)
        out[:, start : start + cols.size] = logy[:, cols] - ref
    return out


def _median_of_first_axis(stack: np.ndarray) -> np.ndarray:
    """``np.nanmedian(stack, axis=0)`` (NaN where all are NaN), sort-based: the same values.

    NumPy's ``nanmedian`` over a short first axis goes through masked arrays and was the
    slowest part of the calendar terms.
    """
    rows = np.moveaxis(stack, 0, -1).reshape(-1, stack.shape[0])
    return nanmedian_rows(rows)[0].reshape(stack.shape[1:])


def _pooled(ratios: np.ndarray, min_series: int) -> np.ndarray:
    """Median over series of each column (NaN where fewer than ``min_series`` have one)."""
    med, n = nanmedian_rows(ratios.T)
    return np.where(n >= min_series, med, np.nan)


def calendar_effects(
    y: np.ndarray,
    periods: pd.DatetimeIndex,
    *,
    country: str | None = None,
    cycles: int = 6,
    min_effect: float = 0.05,
    strong: float = 0.15,
    min_series: int = 5,
) -> CalendarEffects:
    """Causal calendar effects of daily series: day of month, public holidays, fixed dates.

    Every term is the log ratio of a calendar day to the median of the same
    weekday one to three weeks around it (so the weekly pattern, the yearly
    swing and the trend are not part of it), learned from the term's earlier
    occurrences only (an occurrence is used once the three weeks after it are
    past):

    * **day of month** (every month): the 1st, the first and the last business
      day, the last day; a day's class is the set of those it is. The median
      of the last ``cycles`` own ratios once two exist (the third month start
      on), applied when at least ``min_effect`` (5 %) away from 1; the second
      occurrence, after a first that was ``strong`` (15 %) away from 1, is
      ``unknown`` (a billing run or a one-off: not told from one month).
    * **public holidays** of ``country`` and the days next to them (each
      holiday by name; a day next to one that is also a day of month is a term
      of its own, Black Friday at a month end): the median of the series' own
      earlier ratios on that holiday once there is one; before that the portfolio's (the median over
      at least ``min_series`` series of their ratios on its last occurrence);
      with neither, the day is ``unknown``: not judged.
    * **fixed dates** (every date, with or without a country): where the same
      date a year earlier was ``strong`` (15 %) and four robust units of the
      series' ratios away from its usual day, and either the year before
      agreed or the portfolio moved the same way on it, the median of those
      years is the effect; a single extreme year on its own is ``unknown``
      (a holiday or last year's anomaly: it can not be told, so the day is
      not judged rather than judged against either).

    Series with a zero or negative value are left alone (factor 1): their
    calendar is not multiplicative.

    Examples
    --------
    >>> days = pd.date_range("2024-01-01", periods=200, freq="D")
    >>> y = np.full((1, 200), 100.0)
    >>> y[0, days.day == 1] = 125.0
    >>> effects = calendar_effects(y, days)
    >>> [round(float(v), 2) for v in effects.factor[0, days.day == 1]]  # 1 June: a Saturday
    [1.0, 1.0, 1.25, 1.25, 1.25, 1.0, 1.25]
    """
    shape = y.shape
    factor = np.ones(shape)
    unknown = np.zeros(shape, dtype=bool)
    n_series, n_days = shape
    if n_days < 35 or n_series == 0:
        return CalendarEffects(factor, unknown)
    positive = np.all((y > 0) | np.isnan(y), axis=1)
    if not positive.any():
        return CalendarEffects(factor, unknown)
    with np.errstate(divide="ignore", invalid="ignore"):
        logy = np.where(positive[:, None] & (y > 0), np.log(np.where(y > 0, y, 1.0)), np.nan)
    effect = np.zeros(shape)
    seen = np.zeros(shape)

    names = public_holidays(periods, country) if country else [None] * n_days
    is_holiday = np.array([name is not None for name in names], dtype=bool)
    keys: list[object] = [None] * n_days
    for pos in range(n_days):
        if names[pos] is not None:
            keys[pos] = ("holiday", names[pos])
        elif pos + 1 < n_days and names[pos + 1] is not None:
            keys[pos] = ("before", names[pos + 1])
        elif pos >= 1 and names[pos - 1] is not None:
            keys[pos] = ("after", names[pos - 1])
    classes = day_of_month_classes(periods, is_holiday)
    for pos in np.flatnonzero(classes).tolist():
        # a holiday is its own term. A day next to one that is also a day of month (Black
        # Friday as November's last business day) is both: its own term, learned from the
        # earlier days that were both (not judged until there is one) rather than judged
        # as a plain month end
        key = keys[pos]
        if key is None:
            keys[pos] = ("day_of_month", int(classes[pos]))
        elif key[0] != "holiday":  # type: ignore[index]
            keys[pos] = (key[0], key[1], int(classes[pos]))  # type: ignore[index]
    occurrences: dict[object, list[int]] = {}
    for pos, key in enumerate(keys):
        if key is not None:
            occurrences.setdefault(key, []).append(pos)
    term_days = np.array(sorted(p for ps in occurrences.values() for p in ps), dtype=np.int64)
    ratio_at = dict(zip(term_days.tolist(), range(term_days.size), strict=True))
    ratios = _log_ratios(logy, term_days)
    pooled = _pooled(ratios, min_series)
    # day-of-month term: (day, median of its earlier ratios, even of one)
    learned: dict[int, list[tuple[int, np.ndarray]]] = {}
    unseen: list[tuple[int, int]] = []
    for key, positions in occurrences.items():
        holiday = key[0] != "day_of_month"  # type: ignore[index]
        for j, pos in enumerate(positions):
            past = [ratio_at[p] for p in positions[:j] if p + _AROUND[-1] < pos][-int(cycles) :]
            if not past:
                if holiday:
                    unknown[:, pos] = True
                else:
                    unseen.append((pos, key[1]))  # type: ignore[index]
                continue
            own, n_own = nanmedian_rows(ratios[:, past])
            prior = pooled[past[-1]]
            if holiday:
                est = np.where(n_own >= 1, own, prior)
                unknown[:, pos] = np.isnan(est)
            else:
                # only an effect clearly wider than the noise of its own estimate (the median
                # of n ratios has about 1.25 sd / sqrt(n)): noise is not a calendar
                spread, _ = nanmedian_rows(np.abs(ratios[:, past] - own[:, None]))
                noise = 2.0 * 1.25 * 1.4826 * spread / np.sqrt(np.maximum(n_own, 1))
                est = np.where((n_own >= 2) & (np.abs(own) >= noise), own, np.nan)
                # one earlier occurrence far from 1 (a billing run, or a one-off that fell on
                # that day): it can not be told yet, so the day is not judged rather than
                # judged against either (as a single extreme year of a fixed date)
                unknown[:, pos] |= (n_own == 1) & (np.abs(own) >= np.log1p(float(strong)))
                learned.setdefault(key[1], []).append((pos, own))  # type: ignore[index]
                if np.isnan(est).any():
                    unseen.append((pos, key[1]))  # type: ignore[index]
            use = np.isfinite(est) & (np.abs(est) >= np.log1p(float(min_effect)))
            effect[:, pos] = np.where(use, est, 0.0)
            seen[:, pos] = np.where(use, np.maximum(n_own, 1), 0)
    # a day-of-month term not seen twice yet, where a related term (the 1st and the first
    # business day; the last business day and month end) has an effect: billing on the 1st
    # and on the first business day can not be told apart yet, so the day is not judged
    for pos, term in unseen:
        for other in _RELATED[term]:
            before = [est for p, est in learned.get(other, []) if p < pos]
            if before:
                wide = np.abs(np.nan_to_num(before[-1])) >= np.log1p(float(min_effect))
                unknown[:, pos] |= wide & (effect[:, pos] == 0.0)

    _fixed_dates(logy, periods, is_holiday, keys, effect, unknown, strong, min_series, seen)
    unknown &= positive[:, None]
    factor = np.exp(effect)
    return CalendarEffects(factor, unknown, np.where(unknown, 0.0, seen))


def _fixed_dates(
    logy: np.ndarray,
    periods: pd.DatetimeIndex,
    is_holiday: np.ndarray,
    keys: list[object],
    effect: np.ndarray,
    unknown: np.ndarray,
    strong: float,
    min_series: int,
    seen: np.ndarray,
) -> None:
    """Effects of dates that were extreme on the same date in earlier years (in place)."""
    n_series, n_days = logy.shape
    stamp = np.asarray(periods.month * 100 + periods.day)
    first = int(periods.searchsorted(periods[0] + pd.DateOffset(years=1)))
    if first >= n_days:
        return
    # the same date in the years before, where the grid has it
    ordinal = pd.Series(
        np.arange(n_days), index=pd.MultiIndex.from_arrays([np.asarray(periods.year), stamp])
    )
    # days that can have a same date a year later, and the whole first year (its noise)
    candidates = np.arange(min(n_days, max(n_days - 364, first)))
    ratios = _log_ratios(logy, candidates)
    # the series' usual spread of day ratios (robust), from the first year only (causal)
    year_one = ratios[:, : max(first - _AROUND[-1], 1)]
    centre, _ = nanmedian_rows(year_one)
    spread, _ = nanmedian_rows(np.abs(year_one - centre[:, None]))
    noise = 4.0 * 1.4826 * spread
    pooled = _pooled(ratios, min_series)
    threshold = np.fmax(strong, noise)
    # the day-of-month and holiday terms alone: a date's own effect is what is left of its
    # ratio after them (New Year's Day is also a 1st with a billing bump)
    terms = effect.copy()
    for pos in range(first, n_days):
        if is_holiday[pos] or (keys[pos] is not None and keys[pos][0] in ("before", "after")):  # type: ignore[index]
            continue
        year = int(periods[pos].year)
        past = []
        for back in (1, 2, 3):
            prior = ordinal.get((year - back, int(stamp[pos])))
            if (
                prior is not None
                and int(prior) + _AROUND[-1] < pos
                and int(prior) < candidates.size
            ):
                past.append(int(prior))
        if not past:
            continue
        # what the day-of-month term explains is not news: the term of that day, or this
        # year's where it is the larger (a term learned since: the year's first months)
        then = terms[:, past]
        now = terms[:, pos][:, None]
        own = ratios[:, past] - np.where(np.abs(now) > np.abs(then), now, then)
        last = own[:, 0]
        hit = np.abs(last) >= threshold
        if not hit.any():
            continue
        same = np.zeros(n_series, dtype=bool)
        if len(past) > 1:
            earlier = own[:, 1]
            same = (np.abs(earlier) >= threshold) & (np.sign(earlier) == np.sign(last))
        crowd = pooled[past[0]]
        agreed = np.isfinite(crowd) & (np.abs(crowd) >= strong) & (np.sign(crowd) == np.sign(last))
        known = hit & (same | agreed)
        est, _ = nanmedian_rows(own)
        est = np.where(same, est, last)
        # this year's own terms (its 1st-of-month bump) and the date's effect on top
        effect[:, pos] = np.where(known, terms[:, pos] + est, effect[:, pos])
        seen[:, pos] = np.where(known, np.where(same, 2, 1), seen[:, pos])
        unknown[:, pos] |= hit & ~known


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
    :mod:`revwatch.detectors.intermittent`).

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
