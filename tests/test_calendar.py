"""Month-start billing days and the daily defaults of ``auto``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revwatch.api import to_panel
from revwatch.data.panel import Panel
from revwatch.datasets import generate
from revwatch.detect.auto import AutoDetector
from revwatch.detect.calendar import first_business_days, month_start_effect
from revwatch.evaluate import evaluate

WEEK = np.array([1.04, 1.06, 1.06, 1.05, 1.0, 0.8, 0.74])  # Mon..Sun


def billing_series(
    days: int = 400, bump: float = 1.25, seed: int = 0
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2024-01-01", periods=days, freq="D")
    values = 1_000.0 * WEEK[periods.day_of_week] * (1 + 0.02 * rng.standard_normal(days))
    values[first_business_days(periods)] *= bump
    return periods, values


def as_panel(periods: pd.DatetimeIndex, values: np.ndarray) -> Panel:
    frame = pd.DataFrame({"day": periods, "revenue": values})
    return to_panel(frame, time="day", value="revenue")


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2024-06-01", "2024-07-03", ["2024-06-03", "2024-07-01"]),  # June 1st is a Saturday
        ("2024-06-05", "2024-07-02", ["2024-07-01"]),  # June's first weekday is not in the grid
        ("2025-11-01", "2025-12-02", ["2025-11-03", "2025-12-01"]),
    ],
)
def test_first_business_days(start: str, end: str, expected: list[str]) -> None:
    days = pd.date_range(start, end, freq="D")
    assert [str(days[i].date()) for i in first_business_days(days)] == expected


def test_effect_uses_earlier_months_only() -> None:
    periods, values = billing_series()
    starts = first_business_days(periods)
    factor = month_start_effect(values[None, :], periods)[0]
    assert np.all(np.delete(factor, starts) == 1.0)
    # learned after two earlier month starts, close to the true 25 %
    assert np.all(factor[starts[:3]] == 1.0)
    assert np.allclose(factor[starts[3:]], 1.25, atol=0.04)
    # changing a later month start does not change an earlier factor
    later = values.copy()
    later[starts[-1]] *= 3.0
    again = month_start_effect(later[None, :], periods)[0]
    np.testing.assert_array_equal(again[: starts[-1] + 1], factor[: starts[-1] + 1])


def test_small_effect_is_ignored() -> None:
    periods, values = billing_series(bump=1.02)
    assert np.all(month_start_effect(values[None, :], periods) == 1.0)


def test_auto_does_not_flag_billing_days_but_flags_a_missed_one() -> None:
    periods, values = billing_series()
    starts = first_business_days(periods)
    missed = starts[9]
    values[missed] /= 1.25 * 1.3  # billing failed and the day is 30 % below normal too
    panel = as_panel(periods, values)
    auto = AutoDetector().detect(panel)
    plain = AutoDetector(month_start=False).detect(panel)
    later_starts = starts[4:]
    assert auto.flag[0, missed]
    assert auto.z[0, missed] < 0
    assert not auto.flag[0, np.setdiff1d(later_starts, [missed])].any()
    assert plain.flag[0, later_starts].sum() >= 3


@pytest.mark.parametrize(
    ("freq", "params", "expected"),
    [
        ("daily", {}, {"scale_window": 91, "seasonal_cycles": 5, "cusum_limit": 11.0}),
        ("monthly", {}, {"scale_window": None, "seasonal_cycles": 3, "cusum_limit": 6.5}),
        (
            "daily",
            {"scale_window": 30, "cusum_limit": None},
            {"scale_window": 30, "cusum_limit": None},
        ),
        ("monthly", {"seasonal_cycles": 2}, {"seasonal_cycles": 2}),
    ],
)
def test_defaults_by_frequency(
    freq: str, params: dict[str, object], expected: dict[str, object]
) -> None:
    robust = AutoDetector(**params)._robust(freq)  # type: ignore[arg-type]
    for name, value in expected.items():
        assert getattr(robust, name) == value


def test_auto_wins_event_f1_on_daily_revenue() -> None:
    """Issue 3's bar on seed 001's world, on three seeds (the benchmark uses ten)."""
    rows = []
    for seed in range(3):
        table = evaluate(generate("daily-revenue", seed=seed),
                         methods=["auto", "rolling-zscore", "seasonal-zscore"])  # fmt: skip
        rows.append(table.set_index("method"))
    mean = pd.concat(rows).groupby(level=0).mean(numeric_only=True)
    assert mean.loc["auto", "event_f1"] > mean.loc["rolling-zscore", "event_f1"]
    assert mean.loc["auto", "event_f1"] > mean.loc["seasonal-zscore", "event_f1"]
    assert mean.loc["auto", "recall_trend_change"] >= 0.75
    assert mean.loc["auto", "recall_seasonal_shift"] >= 0.75
