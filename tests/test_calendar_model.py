"""The calendar terms of ``auto``'s expected value on daily data (``calendar_effects``)."""

from __future__ import annotations

import holidays
import numpy as np
import pandas as pd
import pytest

from revwatch.detectors.auto import AutoDetector
from revwatch.detectors.calendar import calendar_effects, day_of_month_classes
from revwatch.pipeline import to_panel

WEEK = np.array([1.0, 1.05, 1.05, 1.0, 1.1, 0.8, 0.6])  # Mon..Sun
US_EFFECTS = {
    "New Year's Day": 0.4,
    "Independence Day": 0.6,
    "Thanksgiving": 0.5,
    "Christmas Day": 0.3,
}


def daily_panel(
    *,
    n_series: int = 8,
    days: int = 730,
    bump: float = 1.0,
    holiday_effects: dict[str, float] | None = None,
    drop_at: str | None = None,
    seed: int = 0,
    start: str = "2023-01-01",
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Weekly pattern, 4 % noise, optional 1st-of-month bump, US holidays and a planted drop."""
    rng = np.random.default_rng(seed)
    periods = pd.date_range(start, periods=days, freq="D")
    y = 1_000.0 * WEEK[periods.day_of_week][None, :] * rng.lognormal(0, 0.04, (n_series, days))
    y[:, periods.day == 1] *= bump
    if holiday_effects:
        names = holidays.country_holidays("US", years=range(2023, 2026))
        for pos, day in enumerate(periods):
            y[:, pos] *= holiday_effects.get(names.get(day.date()), 1.0)
    if drop_at is not None:
        y[:, periods.get_loc(pd.Timestamp(drop_at))] *= 0.4
    return periods, y


def run(periods: pd.DatetimeIndex, y: np.ndarray, **params: object) -> tuple[np.ndarray, list]:
    frame = pd.DataFrame(
        {
            "id": np.repeat([f"s{i}" for i in range(y.shape[0])], y.shape[1]),
            "day": np.tile(periods, y.shape[0]),
            "value": y.ravel(),
        }
    )
    panel = to_panel(frame, id="id", time="day", value="value")
    scores = AutoDetector().set_params(**params).detect(panel)
    return scores.flag, list(panel.matrix().periods)


def flagged_days(flag: np.ndarray, periods: list, mask: np.ndarray) -> int:
    return int(flag[:, mask].sum())


@pytest.mark.parametrize(
    ("case", "panel", "params", "days", "most"),
    [
        # a weekly pattern is the expectation, not an anomaly: noise flags only, at most one
        # per series-year (8 series, two years)
        ("weekly", {}, {}, lambda p: np.ones(len(p), bool), 16),
        # the 1st of the month once its bump has been seen three times
        ("first of month", {"bump": 1.6}, {}, lambda p: (p.day == 1) & (p >= "2023-04-01"), 0),
        # holidays with the country: neither the holiday nor the days next to it
        (
            "holidays, country",
            {"holiday_effects": US_EFFECTS},
            {"country": "US"},
            lambda p: near_holiday(p, 1),
            1,  # of 8 series x 48 days: noise, not the holiday effect
        ),
        # nor the same weekday in the two weeks after one (the holiday no longer drags it)
        (
            "weeks after a holiday",
            {"holiday_effects": US_EFFECTS},
            {"country": "US"},
            lambda p: after_holiday(p),
            0,
        ),
        # without a country, fixed-date holidays in the second year
        (
            "fixed dates, no country",
            {"holiday_effects": US_EFFECTS},
            {},
            lambda p: fixed_dates(p) & (p >= "2024-01-01"),
            0,
        ),
        # also where New Year's Day is a 1st with a billing bump
        (
            "fixed dates and a bump, no country",
            {"holiday_effects": US_EFFECTS, "bump": 1.3, "n_series": 1},
            {},
            lambda p: fixed_dates(p) & (p >= "2024-01-01"),
            0,
        ),
    ],
)
def test_calendar_terms_are_not_flagged(
    case: str, panel: dict, params: dict, days: object, most: int
) -> None:
    periods, y = daily_panel(**panel)
    flag, _ = run(periods, y, **params)
    mask = days(periods)  # type: ignore[operator]
    assert flagged_days(flag, list(periods), np.asarray(mask)) <= most, case


def near_holiday(periods: pd.DatetimeIndex, reach: int) -> np.ndarray:
    names = holidays.country_holidays("US", years=range(2023, 2026))
    marked = np.zeros(len(periods), dtype=bool)
    for pos, day in enumerate(periods):
        if names.get(day.date()) in US_EFFECTS:
            marked[max(0, pos - reach) : pos + reach + 1] = True
    return marked


def after_holiday(periods: pd.DatetimeIndex) -> np.ndarray:
    base = near_holiday(periods, 0)
    marked = np.zeros(len(periods), dtype=bool)
    for pos in np.flatnonzero(base):
        for lag in (7, 14):
            if pos + lag < len(periods):
                marked[pos + lag] = True
    return marked


def fixed_dates(periods: pd.DatetimeIndex) -> np.ndarray:
    stamp = periods.month * 100 + periods.day
    return np.asarray(np.isin(stamp, [101, 704, 1225]))


@pytest.mark.parametrize(
    ("panel", "params"),
    [
        ({"bump": 1.6, "drop_at": "2024-06-12"}, {}),
        ({"holiday_effects": US_EFFECTS, "drop_at": "2024-06-12"}, {"country": "US"}),
        ({"holiday_effects": US_EFFECTS, "drop_at": "2024-06-12"}, {}),
    ],
)
def test_a_real_drop_is_still_flagged(panel: dict, params: dict) -> None:
    periods, y = daily_panel(**panel)
    flag, _ = run(periods, y, **params)
    assert flag[:, periods.get_loc(pd.Timestamp("2024-06-12"))].all()


def test_first_holiday_with_country_is_not_judged_before_its_effect_is_known() -> None:
    periods, y = daily_panel(n_series=1, holiday_effects=US_EFFECTS)
    effects = calendar_effects(y, periods, country="US")
    christmas = [periods.get_loc(pd.Timestamp(d)) for d in ("2023-12-25", "2024-12-25")]
    assert effects.unknown[0, christmas[0]]
    assert not effects.unknown[0, christmas[1]]
    assert effects.factor[0, christmas[1]] == pytest.approx(0.3, rel=0.15)


@pytest.mark.parametrize("cut", [200, 400, 500, 690])
@pytest.mark.parametrize("country", [None, "US"])
def test_calendar_effects_are_causal(cut: int, country: str | None) -> None:
    periods, y = daily_panel(bump=1.4, holiday_effects=US_EFFECTS, seed=3)
    full = calendar_effects(y, periods, country=country)
    part = calendar_effects(y[:, :cut], periods[:cut], country=country)
    np.testing.assert_array_equal(full.factor[:, :cut], part.factor)
    np.testing.assert_array_equal(full.unknown[:, :cut], part.unknown)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Fri 31 May is the last business day and month end; Sat 1 June a closed 1st; Mon 3rd
        ("2024-05-29", "2024-06-04", [0, 0, 4, 5, 0, 2, 0]),
        # Mon 1 July: the 1st on a business day; Wed 31 July month end
        ("2024-07-01", "2024-07-02", [1, 0]),
        ("2024-07-30", "2024-07-31", [0, 4]),
        # Fri 29 Nov 2024 is the last business day (Sat 30 the month end)
        ("2024-11-28", "2024-11-30", [0, 3, 4]),
    ],
)
def test_day_of_month_classes(start: str, end: str, expected: list[int]) -> None:
    assert day_of_month_classes(pd.date_range(start, end, freq="D")).tolist() == expected


def test_series_with_zeros_are_left_alone() -> None:
    periods, y = daily_panel(n_series=2, bump=1.5)
    y[1, 10] = 0.0
    effects = calendar_effects(y, periods)
    assert (effects.factor[0] != 1.0).any()
    assert np.all(effects.factor[1] == 1.0)


def test_unknown_country_is_a_parameter_error() -> None:
    from revwatch.errors import ParameterError

    periods, y = daily_panel(n_series=1, days=60)
    with pytest.raises(ParameterError, match="country"):
        calendar_effects(y, periods, country="XX")


def test_a_day_next_to_a_holiday_that_is_also_a_month_end_is_its_own_term() -> None:
    # Black Friday 2024 (29 November) is November's last business day; the month ends of the
    # months before it say nothing about it. 2024-2025: its first occurrence as both is not
    # judged; the plain month ends stay judged (their effect is known and 1).
    periods, y = daily_panel(n_series=1, days=760, seed=3)
    friday = periods.get_loc(pd.Timestamp("2024-11-29"))
    y[0, friday] *= 1.8
    effects = calendar_effects(y, periods, country="US")
    assert effects.unknown[0, friday]
    october_end = periods.get_loc(pd.Timestamp("2024-10-31"))
    assert not effects.unknown[0, october_end]
    flag, _ = run(periods, y, country="US")
    assert not flag[0, friday]
    # without the country it is a plain month end: a 1.8x day is news
    flag, _ = run(periods, y)
    assert flag[0, friday]


@pytest.mark.parametrize("seed", [0, 2, 5])
def test_generated_new_years_day_on_a_billing_first_is_not_flagged_in_year_two(seed: int) -> None:
    # daily-revenue with holidays and a 1st-of-month billing bump, no country: New Year's Day
    # is both a fixed-date holiday and a billed 1st. Its own effect is what its ratio leaves
    # after the bump, not what is left once the larger of the two is taken off.
    from revwatch.datasets.daily_revenue import daily_revenue
    from revwatch.pipeline import detect

    data = daily_revenue(seed=seed, holidays=True, billing_bump=True)
    flags = detect(data.frame, time="date", value="revenue")
    period = pd.to_datetime(flags["period"])
    fixed = period.dt.strftime("%m-%d").isin(["01-01", "07-04", "12-25"])
    assert not (fixed & (period >= "2025-01-01")).any()


@pytest.mark.parametrize(
    ("second_year", "flagged"),
    [
        (0.6, False),  # the same effect as the year before
        (0.42, False),  # deeper (z 4.1 against the effect): within what one year can teach
        (0.25, True),  # well under half of last year's level: news
    ],
)
def test_an_effect_learned_from_one_year_widens_the_band(second_year: float, flagged: bool) -> None:
    periods, y = daily_panel(n_series=1, seed=4)
    first = periods.get_loc(pd.Timestamp("2023-07-04"))
    second = periods.get_loc(pd.Timestamp("2024-07-04"))
    y[0, first] *= 0.6
    y[0, second] *= second_year
    effects = calendar_effects(y, periods, country="US")
    assert effects.seen is not None and effects.seen[0, second] == 1
    flag, _ = run(periods, y, country="US")
    assert bool(flag[0, second]) is flagged


@pytest.mark.parametrize(
    ("bumped", "unknown_at", "expected_at", "flag_free"),
    [
        # a billing run on every 1st: the second one is not judged (one earlier ratio, far
        # from 1: a bump or a one-off?), from the third on the bump is expected
        ([1, 2, 3, 4, 5, 6, 7], [2], {4: 1.4, 5: 1.4, 7: 1.4}, [2, 3, 4, 5, 6, 7]),
        # one +40 % 1st (a double charge on that day), then ordinary ones: the next 1st is not
        # judged, later ones are not expected high (the two ratios disagree)
        ([1], [2], {4: 1.0, 5: 1.0, 7: 1.0}, [2, 3, 4, 5, 6, 7]),
    ],
)
def test_a_month_day_seen_once_far_from_normal_is_not_judged_the_next_time(
    bumped: list[int], unknown_at: list[int], expected_at: dict[int, float], flag_free: list[int]
) -> None:
    periods, y = daily_panel(n_series=1, days=240, seed=6, start="2023-01-02")
    firsts = np.flatnonzero(periods.day == 1)  # 1 February 2023 on
    for k in bumped:
        y[0, firsts[k - 1]] *= 1.4
    effects = calendar_effects(y, periods)
    # (a 1st on a weekend is a term of its own, 1 April and 1 July 2023: not judged by the
    # rule for related terms, whatever this test plants)
    unknown = [k for k in range(1, 8) if effects.unknown[0, firsts[k - 1]]]
    assert set(unknown_at) <= set(unknown) and not effects.unknown[0, firsts[0]]
    for k, factor in expected_at.items():
        assert effects.factor[0, firsts[k - 1]] == pytest.approx(factor, abs=0.08)
    flag, _ = run(periods, y)
    assert not flag[0, [firsts[k - 1] for k in flag_free]].any()
