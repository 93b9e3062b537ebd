"""Intermittent series (``revwatch.detectors.intermittent``) and their use in ``auto``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revwatch.detectors.auto import AutoDetector
from revwatch.detectors.intermittent import _trailing_max, intermittent_cells, intermittent_scores
from revwatch.errors import ParameterError
from revwatch.pipeline import analyze

DAYS = 800


def _orders(rate: float, seed: int, days: int = DAYS) -> np.ndarray:
    """Daily revenue of a small account: Poisson(rate) orders of lognormal value (~100)."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate, days)
    values = rng.lognormal(np.log(100.0), 0.5, counts.sum())
    daily = np.zeros(days)
    np.add.at(daily, np.repeat(np.arange(days), counts), values)
    return daily.round(2)


def _frame(values: np.ndarray) -> pd.DataFrame:
    dates = pd.date_range("2023-01-01", periods=len(values), freq="D")
    return pd.DataFrame({"account": "small", "day": dates, "revenue": values})


def _auto(values: np.ndarray, **params: object) -> pd.DataFrame:
    found = analyze(_frame(values), id="account", time="day", value="revenue", **params)
    return found.results(details=True)


@pytest.mark.parametrize("rate", [0.3, 0.7, 1.2])
def test_a_small_account_without_incidents_is_quiet(rate: float) -> None:
    flags = [len(_auto(_orders(rate, seed))) for seed in range(3)]
    assert sum(flags) <= 6  # ~1 a series in 800 days
    # the robust median statistics alone flag it every few weeks
    alone = [len(_auto(_orders(rate, seed), intermittent=False)) for seed in range(3)]
    assert sum(alone) > 3 * sum(flags)


def test_a_big_order_is_a_spike() -> None:
    values = _orders(0.3, seed=4)
    values[500] = 2500.0  # 25 orders' worth
    rows = _auto(values)
    hit = rows[rows["period"] == pd.Timestamp("2023-01-01") + pd.Timedelta(days=500)]
    assert len(hit) == 1
    assert (hit["type"].iloc[0], hit["direction"].iloc[0]) == ("spike", "up")
    assert hit["basis"].iloc[0] == "intermittent"


def test_an_account_that_goes_quiet_is_one_drop() -> None:
    values = _orders(0.5, seed=5)
    values[600:] = 0.0
    rows = _auto(values)
    late = rows[rows["period"] >= pd.Timestamp("2023-01-01") + pd.Timedelta(days=600)]
    assert len(late) == 1
    assert (late["type"].iloc[0], late["direction"].iloc[0]) == ("drop", "down")
    # after about log(alpha) / log(share of zero days) days, not on the first zero
    day = (late["period"].iloc[0] - pd.Timestamp("2023-01-01")).days
    assert 605 < day < 640


def test_regular_series_are_untouched() -> None:
    rng = np.random.default_rng(6)
    values = 1000 * np.exp(0.05 * rng.standard_normal(DAYS))
    frame = _frame(values)
    on = AutoDetector().detect(analyze(frame, id="account", time="day", value="revenue").panel)
    off = AutoDetector(intermittent=False).detect(
        analyze(frame, id="account", time="day", value="revenue").panel
    )
    assert "intermittent" not in on.extra  # no zero day: nothing computed
    np.testing.assert_array_equal(on.flag, off.flag)
    np.testing.assert_allclose(on.z, off.z, equal_nan=True)


def test_scores_are_causal_scale_free_and_order_free() -> None:
    y = np.stack([_orders(0.4, seed) for seed in range(4)])
    y[1, 400] = 3000.0
    full = intermittent_scores(y, 91)
    cut = intermittent_scores(y[:, :500], 91)
    np.testing.assert_array_equal(full.flag[:, :500], cut.flag)
    np.testing.assert_allclose(full.z[:, :500], cut.z, equal_nan=True, rtol=1e-9, atol=1e-9)
    scaled = intermittent_scores(y * 37.0, 91)
    np.testing.assert_array_equal(full.flag, scaled.flag)
    np.testing.assert_allclose(full.z, scaled.z, equal_nan=True, rtol=1e-6, atol=1e-6)
    order = np.array([3, 1, 0, 2])
    permuted = intermittent_scores(y[order], 91)
    np.testing.assert_array_equal(full.flag[order], permuted.flag)
    assert full.flag[1, 400]


@pytest.mark.parametrize(
    ("values", "share", "expected"),
    [
        ([0, 0, 5, 0, 0, 3, 0, 0], 0.5, [0, 0, 0, 0, 1, 1, 1, 1]),  # mostly zero
        ([1, 2, 3, 4, 5, 6, 7, 8], 0.2, [0, 0, 0, 0, 0, 0, 0, 0]),  # no zeros
        ([0, 0, 0, 0, 0, 0, 0, 0], 0.2, [0, 0, 0, 0, 0, 0, 0, 0]),  # no sale to compare
        ([4, 0, 4, np.nan, 0, 4, 0, 4], 0.5, [0, 0, 0, 0, 0, 1, 0, 1]),  # NaN is not a zero
    ],
)
def test_intermittent_cells_table(values: list[float], share: float, expected: list[int]) -> None:
    y = np.array([values], dtype=float)
    got = intermittent_cells(y, 6, share=share, min_obs=4)
    assert got.astype(int).tolist() == [expected]


@pytest.mark.parametrize("window", [1, 2, 3, 5, 7, 8, 13])
def test_trailing_max_matches_a_loop(window: int) -> None:
    rng = np.random.default_rng(window)
    y = rng.normal(size=(3, 40))
    y[rng.random(y.shape) < 0.2] = np.nan
    got = _trailing_max(y, window)
    for s in range(3):
        for t in range(40):
            past = y[s, max(0, t - window) : t]
            past = past[~np.isnan(past)]
            want = past.max() if past.size else -np.inf
            assert got[s, t] == want


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_auto_intermittent_must_be_a_boolean(value: object) -> None:
    with pytest.raises(ParameterError, match="intermittent"):
        _auto(_orders(0.3, seed=0), intermittent=value)


def test_a_few_orders_a_day_do_not_fake_a_weekly_pattern() -> None:
    # five orders a day: ~50 % daily noise, so a weekly index estimated from 5 weeks is ~25 %
    # noise; applied, it made about 12 false spikes in 800 days
    flags = []
    for seed in range(5):
        values = _orders(5.0, seed)
        found = analyze(_frame(values), id="account", time="day", value="revenue")
        flags.append(int(found.scores.flag.sum()))
        assert (found.scores.extra["seasonal_index"][0, 60:] == 1.0).mean() > 0.9
    assert sum(flags) <= 25
    # a real weekly pattern in the same noise is still used
    weekly = np.where(np.arange(DAYS) % 7 >= 5, 0.3, 1.0)
    found = analyze(
        _frame((_orders(5.0, 9) * weekly).round(2)), id="account", time="day", value="revenue"
    )
    assert (found.scores.extra["seasonal_index"][0, 60:] != 1.0).mean() > 0.5
