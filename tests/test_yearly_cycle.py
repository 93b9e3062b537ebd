"""A yearly cycle seen once is expected; a fall of growth is reported (monthly and quarterly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from revwatch.data.panel import Panel
from revwatch.detectors.auto import AutoDetector
from revwatch.detectors.base import TYPE_CODES
from revwatch.detectors.growth import periodic_growth_change
from revwatch.errors import ParameterError
from revwatch.pipeline import detect
from tests.conftest import make_panel

DATA = Path(__file__).parent / "data"


def _seasonal(n_years: int, period: int, *, seed: int, n_series: int = 1) -> np.ndarray:
    """Series with a peak in the last period of each year (a December) and 2 % noise."""
    rng = np.random.default_rng(seed)
    n = n_years * period
    peak = np.where(np.arange(n) % period == period - 1, 1.25, 1.0)
    growth = np.exp(0.03 / period * np.arange(n))
    return 1_000.0 * peak * growth * np.exp(0.02 * rng.standard_normal((n_series, n)))


def _quarterly_panel(values: np.ndarray) -> Panel:
    periods = pd.date_range("2010-01-01", periods=values.shape[1], freq="QS")
    frame = pd.concat(
        [
            pd.DataFrame({"id": f"s{i}", "period": periods, "value": row})
            for i, row in enumerate(values)
        ]
    )
    return Panel.from_frame(frame, id_columns=["id"], freq="quarterly")


@pytest.mark.parametrize(("freq", "period"), [("monthly", 12), ("quarterly", 4)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_peak_that_recurs_every_year_is_flagged_at_most_the_first_time(
    freq: str, period: int, seed: int
) -> None:
    y = _seasonal(6, period, seed=seed)
    panel = make_panel(y) if freq == "monthly" else _quarterly_panel(y)
    scores = AutoDetector().detect(panel)
    peaks = np.arange(period - 1, y.shape[1], period)
    judged = peaks[np.isfinite(scores.score[0, peaks])]
    assert judged.size >= 2
    # the first peak judged is new behaviour; seen once, the next ones are expected
    assert not scores.flag[0, judged[1:]].any()


def test_a_one_off_spike_a_year_later_is_still_a_spike_and_a_normal_month_no_drop() -> None:
    y = _seasonal(6, 12, seed=3)
    y[0, 30] *= 1.6  # a one-off spike in July of year 3
    y[0, 54] *= 1.6  # and a bigger December than ever (year 5)
    y[0, 59] *= 1.5
    scores = AutoDetector().detect(make_panel(y))
    assert scores.flag[0, 30] and scores.kind[0, 30] == TYPE_CODES["spike"]
    # the July after the one-off spike is a normal July, not a drop against it
    assert not scores.flag[0, 42]
    # a December 50 % above the usual December peak is news
    assert scores.flag[0, 59] and scores.z[0, 59] > 0


def _recession(n: int = 132, start: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    months = np.arange(n)
    season = 1.0 + 0.2 * np.cos(2 * np.pi * months / 12)
    y = 100.0 * season * np.exp(0.004 * months + 0.01 * rng.standard_normal(n))
    y[start:] *= np.exp(-0.012 * np.minimum(np.arange(n - start), 12))  # a year of decline
    return y[None, :]


def test_a_fall_of_growth_is_one_downward_onset_and_the_rebound_a_year_later_is_not() -> None:
    y = _recession()
    none = np.zeros(y.shape, dtype=bool)
    found = periodic_growth_change(y, np.zeros(y.shape), none, period=12)
    onsets = np.flatnonzero(found.flag[0])
    assert onsets.size == 1
    assert 96 < onsets[0] <= 102 and found.z[0, onsets[0]] < 0
    # a year after the fall the growth against the fallen year rises back: not reported
    assert found.opened[0, 103:].any() and not found.flag[0, 103:].any()


def test_steady_growth_gives_no_growth_change() -> None:
    rng = np.random.default_rng(4)
    months = np.arange(120)
    y = 100.0 * (1 + 0.2 * np.cos(2 * np.pi * months / 12)) * np.exp(0.004 * months)
    y = (y * np.exp(0.015 * rng.standard_normal((20, 120)))).astype(float)
    none = np.zeros(y.shape, dtype=bool)
    found = periodic_growth_change(y, np.zeros(y.shape), none, period=12)
    assert found.flag.sum() <= 2  # 20 series x 10 years


@pytest.mark.parametrize("cut", [50, 97, 110])
def test_growth_change_at_t_does_not_see_values_after_t(cut: int) -> None:
    y = _recession(seed=5)
    later = y.copy()
    later[:, cut + 1 :] = np.random.default_rng(6).uniform(1, 1_000, later.shape[1] - cut - 1)
    none = np.zeros(y.shape, dtype=bool)
    a = periodic_growth_change(y, np.zeros(y.shape), none, period=12)
    b = periodic_growth_change(later, np.zeros(y.shape), none, period=12)
    np.testing.assert_array_equal(a.z[:, : cut + 1], b.z[:, : cut + 1])
    np.testing.assert_array_equal(a.flag[:, : cut + 1], b.flag[:, : cut + 1])


def test_the_period_level_flag_already_explains_it() -> None:
    y = _recession()
    flag = np.zeros(y.shape, dtype=bool)
    z = np.zeros(y.shape)
    alone = periodic_growth_change(y, z, flag, period=12)
    onset = int(np.flatnonzero(alone.flag[0])[0])
    flag[0, onset - 1], z[0, onset - 1] = True, -5.0  # the month before: a drop already reported
    explained = periodic_growth_change(y, z, flag, period=12)
    assert explained.opened[0, onset] and not explained.flag[0, onset]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"period": 1}, "period"), ({"period": 12, "window": 0}, "window")],
)
def test_bad_parameters_are_refused(kwargs: dict[str, int], message: str) -> None:
    y = np.ones((1, 60))
    with pytest.raises(ParameterError, match=message):
        periodic_growth_change(y, np.zeros((1, 60)), np.zeros((1, 60), dtype=bool), **kwargs)


def test_us_retail_decembers_are_normal_and_the_recession_is_down() -> None:
    flags = detect(DATA / "us_retail_sales_monthly.csv", time="ds", value="y")
    period = pd.to_datetime(flags["period"])
    decembers_up = flags[(period.dt.month == 12) & (period.dt.year > 1992)]
    assert not (decembers_up["direction"] == "up").any()
    recession = flags[(period >= "2008-06-01") & (period <= "2009-06-01")]
    assert (recession["direction"] == "down").any()


@pytest.mark.parametrize("confirm", [1, 3])
def test_a_growth_change_is_reported_once_on_its_onset_or_when_confirmed(confirm: int) -> None:
    y = _recession()
    none = np.zeros(y.shape, dtype=bool)
    found = periodic_growth_change(y, np.zeros(y.shape), none, period=12, confirm=confirm)
    onset = int(np.flatnonzero(found.opened[0])[0])
    assert np.flatnonzero(found.flag[0]).tolist() == [onset + confirm - 1]


def test_growth_changes_within_a_series_own_swing_are_not_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # twenty series whose level is a random walk (growth that swings every year, as licence
    # auctions or commodity sales do) and one steady series with a fall of growth from month 96
    from revwatch.detectors import growth

    rng = np.random.default_rng(7)
    walks = np.vstack(
        [
            _recession(start=132, seed=s)[0] * np.exp(np.cumsum(0.06 * rng.standard_normal(132)))
            for s in range(20)
        ]
    )
    y = np.vstack([_recession(seed=8), walks])
    none = np.zeros(y.shape, dtype=bool)
    with_swing = periodic_growth_change(y, np.zeros(y.shape), none, period=12)
    monkeypatch.setattr(growth, "_SWING_QUANTILE", 0.0)
    without = periodic_growth_change(y, np.zeros(y.shape), none, period=12)
    assert with_swing.flag[0, 96:104].any() and without.flag[0, 96:104].any()
    # the own swing takes out a third or more of the random walks' reports
    assert with_swing.flag[1:].sum() <= 0.7 * without.flag[1:].sum()
