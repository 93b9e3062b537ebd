"""``daily-revenue``: seed 001-style daily revenue of one business, with labels.

What it reproduces
------------------
Seed 001 (revenue monitoring with Isolation Forests and Prophet) describes,
without publishing data, a SaaS business whose daily revenue grows about 15%
a year, has a weekly cycle (weekends low), an annual cycle (holiday peak,
summer dip) and a month-start enterprise billing bump, monitored through the
feature vector ``revenue``, ``transaction_count``, ``avg_order_value``,
``payment_success_rate`` and ``refund_rate``, and it classifies anomalies
with the five-type Revenue Anomaly Taxonomy (RAT): spike, dip, trend change,
seasonal shift, level change. This generator builds such a business at the
level of 12 segments, ``payment_method`` (card, paypal, bank_transfer) x
``country`` (US, UK, DE, FR), and sums them to the daily totals:

* attempted payments per segment ~ Poisson(expected x heavy-tailed daily
  shock (Student t, 6 df, 3%) x 3% segment noise), successful ones
  ~ Binomial(attempts, ~0.96), refunds ~ Binomial(successes, 0.02);
* expected attempts grow 15% a year; weekly factors Mon..Sun
  1.04, 1.06, 1.06, 1.05, 1.00, 0.80, 0.74; an annual curve with a
  holiday peak (+22% around mid-December, a Black-Friday bump), a summer dip
  (-12% around early August) and a January lull;
* the first business day of each month is enterprise billing day: bank
  transfers x1.35 in count and x1.25 in order value (about +18% revenue);
* order values differ by method (bank transfers ~2.2x cards) and country.

``revenue`` is the sum of successful payments, ``avg_order_value`` is
``revenue / transaction_count`` rounded to cents, ``payment_success_rate`` is
successes / attempts and ``refund_rate`` refunds / successes, so the totals
are exactly the sums (counts, revenue) or the ratios of sums (rates) of the
segments, whichever ``segments`` is.

Anomalies
---------
All after the first 365 days, at fixed offsets from ``start`` (dates for the
default start of 2024-01-01, a Monday):

==============  ==========================  ===============================================
type            days                        what
==============  ==========================  ===============================================
spike           2025-02-11                  double charge: payments x1.40, order value same
drop            2025-03-12                  payment outage: success rate and count -26%
level_shift     from 2025-04-08             pricing change: order value +12% for good
spike           2025-05-20                  double charge x1.60
drop            2025-06-17, 2025-06-18      outage -8% for two days (the hard one)
seasonal_shift  2025-08-04 .. 2025-08-31    customer-mix change: weekdays x1.06, weekends
                                            x0.75 (the weekly pattern, not the level)
drop            2025-09-03, 2025-09-04      card payments in DE fail (-80% of that
                                            segment, about -10% of the total)
trend_change    2025-09-15 .. 2025-12-07    decline of 0.5% a week for 12 weeks (-5.8%),
                                            the lower level then persists
spike           2025-12-09                  double charge x1.30
==============  ==========================  ===============================================

Calendar options (off by default)
---------------------------------
Two options add the calendar real revenue follows; both are off by default
so that today's tables stay comparable, and neither is ever labelled: they
are the normal a detector has to learn, not anomalies.

``holidays`` (a country code, ``True`` for ``"US"``)
    Public holidays of that country (the ``holidays`` package) and the days
    next to them multiply the expected payments of every line. US effects
    (day relative to the holiday: multiplier):

    ======================  ====================================================
    New Year's Day          Dec 31: 0.80, Jan 1: 0.55, Jan 2: 0.90
    Martin Luther King Day  0.93
    Washington's Birthday   1.10 (Presidents' Day sales)
    Memorial Day            Friday before: 1.05, the day: 0.75
    Juneteenth              0.95
    Independence Day        Jul 3: 0.92, Jul 4: 0.60, Jul 5: 0.88
    Labor Day               Friday before: 1.05, the day: 0.78
    Columbus Day            0.97
    Veterans Day            1.06 (sales)
    Thanksgiving Day        Wednesday: 0.92, Thursday: 0.50, Black Friday: 1.65,
                            Saturday: 1.20, Cyber Monday: 1.45
    Christmas Day           Dec 23: 1.10, Christmas Eve: 0.70, Dec 25: 0.40,
                            Dec 26: 1.15
    a day "(observed)"      0.85 (offices closed, the date itself keeps its effect)
    ======================  ====================================================

    Any other country: every public holiday 0.65, the days before and after
    it 0.92. Each holiday's effect varies from year to year: its log is
    scaled by ``exp(0.1 z)``, ``z`` standard normal, drawn from a stream of
    its own. (The daily noise is drawn after the expected values, so with an
    option on, ordinary days get other noise draws of the same law.)
``billing_bump``
    Subscription renewals charged on the 1st of every month (weekends too):
    card payments x1.45 and PayPal x1.30 in the US and UK lines (DE and FR
    and bank transfers are not billed that way), about +20 % on the total.
    This comes on top of the bank-transfer billing on the first business day,
    which is always there.

The multipliers are public: :func:`holiday_multipliers` and
:func:`billing_multipliers` say, per day and line, what the calendar did,
e.g. to check that a detector leaves holidays alone.

Labels
------
One row per anomalous day (per anomalous segment-day with ``segments=True``):
the id columns, ``date``, ``type``, ``direction``, ``event_start``, ``metric``
(the component metric the cause acts on; ``revenue`` moves with all of them)
and ``cause``. A level shift is labelled for its first 14 days (time for a
method to adapt); after that the higher level is the new normal. The seasonal
shift's direction is ``up`` on weekdays and ``down`` on weekends. In segment
mode the DE card outage labels only ``card``/``DE``; the other events hit
every segment.

Deviations from the seed
------------------------
The seed publishes no data or generator, only magnitudes (a 26% midweek
dip, an 8% two-day dip, 0.5% weekly decline, a 15% growth rate) and the
European card outage story, which this generator turns into fixed events.
The schedule keeps its offsets when ``start`` changes, so with another start
the events fall on other weekdays; ``days`` must be at least 730 so that the
whole schedule fits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from revwatch.datasets._base import Dataset
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "COUNTRIES",
    "EVENTS",
    "PAYMENT_METHODS",
    "US_HOLIDAY_EFFECTS",
    "AnomalyEvent",
    "billing_multipliers",
    "daily_revenue",
    "holiday_multipliers",
]

PAYMENT_METHODS: tuple[str, ...] = ("card", "paypal", "bank_transfer")
COUNTRIES: tuple[str, ...] = ("US", "UK", "DE", "FR")

_METHOD_SHARE = np.array([0.60, 0.25, 0.15])
_COUNTRY_SHARE = np.array([0.45, 0.20, 0.20, 0.15])
_METHOD_AOV = np.array([1.0, 0.85, 2.2])
_COUNTRY_AOV = np.array([1.0, 0.95, 1.05, 0.90])
_BASE_ATTEMPTS = 2_600.0  # attempted payments per day at the start, all segments
_BASE_AOV = 55.0  # dollars, card payments in the US
_GROWTH = 0.15  # per year
_WEEKLY = np.array([1.04, 1.06, 1.06, 1.05, 1.00, 0.80, 0.74])  # Monday first
_SUCCESS = 0.96
_REFUND = 0.02
_SHOCK_SD = 0.03
_SHOCK_DF = 6
_SEGMENT_SD = 0.03
_AOV_SD = 0.025
_BILLING_COUNT = 1.35
_BILLING_AOV = 1.25
_MIN_DAYS = 730
_LEVEL_LABEL_DAYS = 14


@dataclass(frozen=True)
class AnomalyEvent:
    """One injected event of the schedule.

    Parameters
    ----------
    type : str
        RAT label type.
    offset : int
        First day, counted from ``start`` (day 0).
    length : int
        Number of labelled days.
    factor : float
        The multiplier (per week for a trend change; the weekend multiplier of
        a seasonal shift).
    metric : str
        The component metric the cause acts on.
    cause : str
        A short name of the cause.
    segment : tuple of str or None
        ``(payment_method, country)`` when only that segment is hit.
    """

    type: str
    offset: int
    length: int
    factor: float
    metric: str
    cause: str
    segment: tuple[str, str] | None = None


#: The fixed anomaly schedule (see the module docstring).
EVENTS: tuple[AnomalyEvent, ...] = (
    AnomalyEvent("spike", 407, 1, 1.40, "transaction_count", "double_charge"),
    AnomalyEvent("drop", 436, 1, 0.74, "payment_success_rate", "payment_outage"),
    AnomalyEvent("level_shift", 463, _LEVEL_LABEL_DAYS, 1.12, "avg_order_value", "price_change"),
    AnomalyEvent("spike", 505, 1, 1.60, "transaction_count", "double_charge"),
    AnomalyEvent("drop", 533, 2, 0.92, "payment_success_rate", "payment_outage"),
    AnomalyEvent("seasonal_shift", 581, 28, 0.75, "transaction_count", "customer_mix_change"),
    AnomalyEvent(
        "drop", 611, 2, 0.20, "payment_success_rate", "card_outage_de", segment=("card", "DE")
    ),
    AnomalyEvent("trend_change", 623, 84, 0.995, "transaction_count", "gradual_decline"),
    AnomalyEvent("spike", 708, 1, 1.30, "transaction_count", "double_charge"),
)
_SEASONAL_WEEKDAY = 1.06

#: US holiday name (as the ``holidays`` package spells it) -> (day relative to
#: the holiday, multiplier of the expected payments) pairs.
US_HOLIDAY_EFFECTS: dict[str, tuple[tuple[int, float], ...]] = {
    "New Year's Day": ((-1, 0.80), (0, 0.55), (1, 0.90)),
    "Martin Luther King Jr. Day": ((0, 0.93),),
    "Washington's Birthday": ((0, 1.10),),
    "Memorial Day": ((-3, 1.05), (0, 0.75)),
    "Juneteenth National Independence Day": ((0, 0.95),),
    "Independence Day": ((-1, 0.92), (0, 0.60), (1, 0.88)),
    "Labor Day": ((-3, 1.05), (0, 0.78)),
    "Columbus Day": ((0, 0.97),),
    "Veterans Day": ((0, 1.06),),
    "Thanksgiving Day": ((-1, 0.92), (0, 0.50), (1, 1.65), (2, 1.20), (4, 1.45)),
    "Christmas Day": ((-2, 1.10), (-1, 0.70), (0, 0.40), (1, 1.15)),
}
_OBSERVED_EFFECT = 0.85
_GENERIC_EFFECTS: tuple[tuple[int, float], ...] = ((-1, 0.92), (0, 0.65), (1, 0.92))
_HOLIDAY_JITTER = 0.10
#: (payment method, country) -> multiplier of attempts on the 1st of the month.
_BILLING_BUMP: dict[tuple[str, str], float] = {
    ("card", "US"): 1.45,
    ("card", "UK"): 1.45,
    ("paypal", "US"): 1.30,
    ("paypal", "UK"): 1.30,
}


def _bump(doy: np.ndarray, center: float, width: float) -> np.ndarray:
    """A Gaussian bump over the day of the year, wrapping around New Year."""
    dist = np.abs(doy - center)
    dist = np.minimum(dist, 365.25 - dist)
    return np.exp(-0.5 * (dist / width) ** 2)


def _yearly(doy: np.ndarray) -> np.ndarray:
    return (
        1.0
        + 0.22 * _bump(doy, 348, 14)
        + 0.08 * _bump(doy, 332, 3)
        - 0.12 * _bump(doy, 215, 22)
        - 0.06 * _bump(doy, 12, 8)
    )


def _first_business_days(dates: pd.DatetimeIndex) -> np.ndarray:
    """True on the first Monday-to-Friday day of each month."""
    weekday = np.asarray(dates.day_of_week)
    day = np.asarray(dates.day)
    # The first business day is day 1 on a weekday, else the Monday on day 2 or 3.
    return ((day == 1) & (weekday < 5)) | ((day <= 3) & (weekday == 0))


def _segment_mask(event: AnomalyEvent) -> np.ndarray:
    mask = np.ones((len(PAYMENT_METHODS), len(COUNTRIES)), dtype=bool)
    if event.segment is not None:
        mask[:] = False
        mask[PAYMENT_METHODS.index(event.segment[0]), COUNTRIES.index(event.segment[1])] = True
    return mask.ravel()


def _effects(days: int, weekday: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multipliers (days, segments) on attempts, success probability and order value."""
    n_seg = len(PAYMENT_METHODS) * len(COUNTRIES)
    attempts = np.ones((days, n_seg))
    success = np.ones((days, n_seg))
    aov = np.ones((days, n_seg))
    for event in EVENTS:
        rows = slice(event.offset, event.offset + event.length)
        cols = _segment_mask(event)
        if event.type == "spike":
            attempts[rows, cols] *= event.factor
        elif event.type == "drop":
            success[rows, cols] *= event.factor
        elif event.type == "level_shift":
            aov[event.offset :, cols] *= event.factor
        elif event.type == "seasonal_shift":
            weekend = weekday[rows] >= 5
            mult = np.where(weekend, event.factor, _SEASONAL_WEEKDAY)
            attempts[rows, cols] *= mult[:, None]
        elif event.type == "trend_change":
            steps = np.arange(1, event.length + 1) / 7.0
            path = event.factor**steps
            attempts[rows, cols] *= path[:, None]
            attempts[event.offset + event.length :, cols] *= path[-1]
    return attempts, success, aov


def _labels(dates: pd.DatetimeIndex, segments: bool) -> pd.DataFrame:
    weekday = np.asarray(dates.day_of_week)
    parts = []
    for event in EVENTS:
        idx = np.arange(event.offset, event.offset + event.length)
        if event.type == "seasonal_shift":
            direction = np.where(weekday[idx] >= 5, "down", "up")
        else:
            up = event.type in {"spike", "level_shift"} or (
                event.type == "trend_change" and event.factor > 1
            )
            direction = np.full(len(idx), "up" if up else "down")
        part = pd.DataFrame(
            {
                "date": dates[idx],
                "type": event.type,
                "direction": direction,
                "event_start": dates[event.offset],
                "metric": event.metric,
                "cause": event.cause,
            }
        )
        if segments:
            pairs = [(m, c) for m in PAYMENT_METHODS for c in COUNTRIES]
            chosen = [pair for pair, hit in zip(pairs, _segment_mask(event), strict=True) if hit]
            keys = pd.DataFrame(chosen, columns=["payment_method", "country"])
            part = keys.merge(part, how="cross")
        parts.append(part)
    labels = pd.concat(parts, ignore_index=True)
    order = ["payment_method", "country", "date"] if segments else ["date"]
    labels = labels.sort_values([*order, "type"], kind="stable").reset_index(drop=True)
    for column in labels.columns.intersection(
        ["payment_method", "country", "type", "direction", "metric", "cause"]
    ):
        labels[column] = labels[column].astype("str")
    return labels


def _holiday_country(holidays: bool | str) -> str | None:
    if holidays is False or holidays is None:
        return None
    if holidays is True:
        return "US"
    if not isinstance(holidays, str) or not holidays.strip():
        raise ParameterError(
            f"holidays must be True or a country code such as 'US', got {holidays!r}"
        )
    return holidays.strip().upper()


def holiday_multipliers(
    dates: pd.DatetimeIndex, country: str = "US", *, seed: int | None = None
) -> np.ndarray:
    """What public holidays and the days next to them do to expected payments.

    Parameters
    ----------
    dates : DatetimeIndex
        Consecutive days.
    country : str, default "US"
        A country code of the ``holidays`` package. US holidays have their
        own effects (:data:`US_HOLIDAY_EFFECTS`), other countries a generic
        one (see the module docstring).
    seed : int, optional
        Draws each holiday's year-to-year variation; None: no variation.

    Returns
    -------
    ndarray of float, shape (len(dates),)
        1.0 on ordinary days.

    Raises
    ------
    ParameterError
        If the country is unknown to the ``holidays`` package.

    Examples
    --------
    >>> days = pd.date_range("2025-11-26", "2025-12-01")
    >>> holiday_multipliers(days).round(2).tolist()
    [0.92, 0.5, 1.65, 1.2, 1.0, 1.45]
    """
    import holidays as holidays_package

    dates = pd.DatetimeIndex(dates).normalize()
    mult = np.ones(len(dates))
    if not len(dates):
        return mult
    years = range(dates[0].year - 1, dates[-1].year + 2)
    try:
        calendar = holidays_package.country_holidays(country, years=years)
    except NotImplementedError as exc:
        raise ParameterError(
            f"holidays: unknown country {country!r}; use a code of the holidays package "
            "such as US, GB, DE or FR"
        ) from exc
    rng = np.random.default_rng([seed, 1]) if seed is not None else None
    first = dates[0]
    for day, name in sorted(calendar.items()):
        base = str(name)
        if base.endswith("(observed)"):
            effects: tuple[tuple[int, float], ...] = ((0, _OBSERVED_EFFECT),)
        elif country == "US":
            effects = US_HOLIDAY_EFFECTS.get(base, ((0, 0.9),))
        else:
            effects = _GENERIC_EFFECTS
        scale = float(np.exp(_HOLIDAY_JITTER * rng.standard_normal())) if rng else 1.0
        for offset, factor in effects:
            at = (pd.Timestamp(day) - first).days + offset
            if 0 <= at < len(dates):
                mult[at] *= factor**scale
    return mult


def billing_multipliers(dates: pd.DatetimeIndex) -> np.ndarray:
    """The 1st-of-month subscription billing bump per day and line.

    Returns
    -------
    ndarray of float, shape (len(dates), 12)
        Lines in the order ``(payment_method, country)`` of
        :data:`PAYMENT_METHODS` x :data:`COUNTRIES`; 1.0 where nothing is billed.

    Examples
    --------
    >>> bump = billing_multipliers(pd.date_range("2025-03-31", periods=2))
    >>> bump[:, 0].tolist(), bump[:, 2].tolist()  # card/US, card/DE
    ([1.0, 1.45], [1.0, 1.0])
    """
    pairs = [(m, c) for m in PAYMENT_METHODS for c in COUNTRIES]
    line = np.array([_BILLING_BUMP.get(pair, 1.0) for pair in pairs])
    first = np.asarray(pd.DatetimeIndex(dates).day) == 1
    return np.where(first[:, None], line[None, :], 1.0)


def daily_revenue(
    seed: int = 42,
    days: int = 730,
    start: str | pd.Timestamp = "2024-01-01",
    segments: bool = False,
    *,
    holidays: bool | str = False,
    billing_bump: bool = False,
) -> Dataset:
    """Daily revenue metrics of one growing business with labelled RAT anomalies.

    Parameters
    ----------
    seed : int, default 42
        Seed of ``numpy.random.default_rng``; it changes the noise only, the
        anomaly schedule is fixed.
    days : int, default 730
        Number of days, at least 730 (the schedule needs the second year).
    start : str or pandas.Timestamp, default "2024-01-01"
        The first date.
    segments : bool, default False
        Break the business down by ``payment_method`` x ``country`` (12
        series) instead of one total series. The totals are the same for
        the same seed either way.
    holidays : bool or str, default False
        Add the public holidays of a country (``True``: ``"US"``) and their
        neighbouring days to the normal pattern (unlabelled; see the module
        docstring). False keeps the data identical to earlier versions.
    billing_bump : bool, default False
        Add the 1st-of-month subscription billing bump on the card and PayPal
        lines of the US and UK (unlabelled).

    Returns
    -------
    Dataset
        ``frame`` has ``date``, ``revenue``, ``transaction_count``,
        ``avg_order_value``, ``payment_success_rate`` and ``refund_rate``
        (plus ``payment_method`` and ``country`` first when ``segments``);
        ``labels`` as described in the module docstring.

    Raises
    ------
    ParameterError
        If ``days`` is below 730, ``start`` is not a date or the holiday
        country is unknown.

    Examples
    --------
    >>> ds = daily_revenue()
    >>> ds.frame.shape
    (730, 6)
    >>> sorted(ds.labels["type"].unique())
    ['drop', 'level_shift', 'seasonal_shift', 'spike', 'trend_change']
    >>> daily_revenue(segments=True).frame.shape
    (8760, 8)
    >>> calm = daily_revenue(seed=1).frame.set_index("date")["revenue"]
    >>> busy = daily_revenue(seed=1, holidays="US").frame.set_index("date")["revenue"]
    >>> round(float(busy["2024-12-25"] / calm["2024-12-25"]), 1)
    0.4
    """
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < _MIN_DAYS:
        raise ParameterError(f"days must be an integer >= {_MIN_DAYS}, got {days!r}")
    try:
        first = pd.Timestamp(start).normalize()
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"start must be a date such as '2024-01-01', got {start!r}") from exc
    if first is pd.NaT:
        raise ParameterError(f"start must be a date such as '2024-01-01', got {start!r}")
    days = int(days)
    dates = pd.date_range(first, periods=days, freq="D")
    weekday = np.asarray(dates.day_of_week)
    doy = np.asarray(dates.day_of_year, dtype=float)
    t_years = np.arange(days) / 365.25

    n_m, n_c = len(PAYMENT_METHODS), len(COUNTRIES)
    share = np.outer(_METHOD_SHARE, _COUNTRY_SHARE).ravel()
    seg_aov = _BASE_AOV * np.outer(_METHOD_AOV, _COUNTRY_AOV).ravel()
    is_bank = np.repeat(np.array(PAYMENT_METHODS) == "bank_transfer", n_c)
    billing = _first_business_days(dates)[:, None] & is_bank[None, :]

    country = _holiday_country(holidays)
    attempt_fx, success_fx, aov_fx = _effects(days, weekday)
    base = _BASE_ATTEMPTS * (1.0 + _GROWTH) ** t_years * _WEEKLY[weekday] * _yearly(doy)
    if country is not None:
        base = base * holiday_multipliers(dates, country, seed=seed)
    expected = base[:, None] * share[None, :] * np.where(billing, _BILLING_COUNT, 1.0)
    if billing_bump:
        expected = expected * billing_multipliers(dates)

    rng = np.random.default_rng(seed)
    t_draw = rng.standard_t(_SHOCK_DF, days) * np.sqrt((_SHOCK_DF - 2) / _SHOCK_DF)
    shock = np.exp(_SHOCK_SD * t_draw)
    seg_noise = np.exp(_SEGMENT_SD * rng.standard_normal((days, n_m * n_c)))
    lam = expected * attempt_fx * shock[:, None] * seg_noise
    attempts = np.maximum(rng.poisson(lam), 1)
    p_success = np.clip(_SUCCESS + 0.004 * rng.standard_normal((days, n_m * n_c)), 0.5, 0.995)
    successes = np.maximum(rng.binomial(attempts, p_success * success_fx), 1)
    refunds = rng.binomial(successes, _REFUND)
    unit_value = (
        seg_aov[None, :]
        * np.where(billing, _BILLING_AOV, 1.0)
        * aov_fx
        * np.exp(_AOV_SD * rng.standard_normal((days, n_m * n_c)))
    )
    revenue = np.round(successes * unit_value, 2)

    if segments:
        frame = pd.DataFrame(
            {
                "payment_method": np.tile(np.repeat(np.array(PAYMENT_METHODS), n_c), days),
                "country": np.tile(np.array(COUNTRIES), days * n_m),
                "date": np.repeat(dates.to_numpy(), n_m * n_c),
                **_metrics(revenue.ravel(), successes.ravel(), attempts.ravel(), refunds.ravel()),
            }
        )
        for column in ("payment_method", "country"):
            frame[column] = frame[column].astype("str")
        frame = frame.sort_values(["payment_method", "country", "date"], kind="stable")
        frame = frame.reset_index(drop=True)
        id_columns: tuple[str, ...] = ("payment_method", "country")
    else:
        frame = pd.DataFrame(
            {
                "date": dates,
                **_metrics(
                    np.round(revenue.sum(axis=1), 2),
                    successes.sum(axis=1),
                    attempts.sum(axis=1),
                    refunds.sum(axis=1),
                ),
            }
        )
        id_columns = ()
    breakdown = " by payment method and country" if segments else ""
    calendar = "".join(
        [
            f", {country} public holidays" if country is not None else "",
            ", a 1st-of-month subscription billing bump" if billing_bump else "",
        ]
    )
    logger.debug("daily-revenue: %d rows (segments=%s), seed %d", len(frame), segments, seed)
    return Dataset(
        name="daily-revenue",
        frame=frame,
        labels=_labels(dates, segments),
        id_columns=id_columns,
        time_column="date",
        value_column="revenue",
        description=(
            f"Daily revenue metrics of one growing business, {days} days from "
            f"{first.date()} (seed 001 style){breakdown}{calendar}:"
            " weekly, yearly and month-start billing cycles with spikes, drops, a level shift,"
            " a trend change and a seasonal shift after the first year."
        ),
    )


def _metrics(
    revenue: np.ndarray, successes: np.ndarray, attempts: np.ndarray, refunds: np.ndarray
) -> dict[str, np.ndarray]:
    return {
        "revenue": revenue,
        "transaction_count": successes.astype(np.int64),
        "avg_order_value": np.round(revenue / successes, 2),
        "payment_success_rate": successes / attempts,
        "refund_rate": refunds / successes,
    }
