"""``auto`` on sub-daily panels (5-minute and hourly steps): the time of day is normal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revwatch.data.panel import Panel
from revwatch.detectors import auto as auto_module
from revwatch.detectors.auto import AutoDetector
from revwatch.detectors.robust import RobustShiftDetector
from revwatch.pipeline import detect
from tests.conftest import make_panel

#: 2024-01-01 is a Monday.
START = "2024-01-01"


def _clock(n_days: int, freq: str = "5min") -> pd.DatetimeIndex:
    per_day = {"5min": 288, "hourly": 24}[freq]
    return pd.date_range(
        START, periods=n_days * per_day, freq={"5min": "5min", "hourly": "h"}[freq]
    )


def _daily_cycle(stamps: pd.DatetimeIndex, *, weekend_shape: bool = False) -> np.ndarray:
    """Orders of a checkout: quiet at night, a lunch peak, an evening bump (mean about 1)."""
    hour = np.asarray(stamps.hour + stamps.minute / 60.0)
    weekday = 0.25 + 1.4 * np.exp(-0.5 * ((hour - 12.5) / 2.0) ** 2)
    weekday += 0.9 * np.exp(-0.5 * ((hour - 19.0) / 1.5) ** 2)
    if not weekend_shape:
        return weekday
    # weekends: half the volume, no lunch peak, one late-morning hump
    weekend = 0.15 + 0.9 * np.exp(-0.5 * ((hour - 10.5) / 2.5) ** 2)
    return np.where(np.asarray(stamps.day_of_week) >= 5, weekend, weekday)


def _panel(values: dict[str, np.ndarray], stamps: pd.DatetimeIndex, freq: str) -> Panel:
    parts = [pd.DataFrame({"id": key, "period": stamps, "value": v}) for key, v in values.items()]
    frame = pd.concat(parts, ignore_index=True)
    return Panel.from_frame(frame, id_columns=["id"], freq=freq)


def _checkout(n_days: int = 21, *, seed: int = 0, weekend_shape: bool = False) -> np.ndarray:
    stamps = _clock(n_days)
    rng = np.random.default_rng(seed)
    return (
        200.0
        * _daily_cycle(stamps, weekend_shape=weekend_shape)
        * np.exp(0.06 * rng.standard_normal(stamps.size))
    )


def _flag_stamps(panel: Panel) -> pd.Series:
    flags = detect(panel)
    return pd.to_datetime(flags["period"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_strong_daily_cycle_is_not_an_anomaly(seed: int) -> None:
    stamps = _clock(21)
    panel = _panel({"checkout": _checkout(seed=seed)}, stamps, "5min")
    flagged = _flag_stamps(panel)
    # 21 days x 288 steps of a cycle that swings by a factor of eight: at most a couple of flags
    assert len(flagged) <= 3


@pytest.mark.parametrize(
    ("kind", "start", "hours", "change", "direction"),
    [
        ("drop", "2024-01-16 11:00", 2, 0.4, "down"),  # a payment outage over lunch
        ("spike", "2024-01-17 15:00", 0.25, 3.0, "up"),  # a quarter hour of triple orders
    ],
)
def test_a_real_drop_or_spike_during_the_day_is_flagged(
    kind: str, start: str, hours: float, change: float, direction: str
) -> None:
    stamps = _clock(21)
    y = _checkout(seed=3)
    inside = (stamps >= pd.Timestamp(start)) & (
        stamps < pd.Timestamp(start) + pd.Timedelta(hours=hours)
    )
    y[inside] *= change
    flags = detect(_panel({"checkout": y}, stamps, "5min"))
    period = pd.to_datetime(flags["period"])
    during = flags[(period >= pd.Timestamp(start)) & (period <= stamps[inside][-1])]
    assert len(during) >= 1, kind
    assert set(during["direction"]) == {direction}
    # the hour after it may report the way back; nothing much elsewhere
    near = (period >= pd.Timestamp(start)) & (period < stamps[inside][-1] + pd.Timedelta("1h"))
    assert (~near).sum() <= 3


def test_weekends_get_their_own_shape() -> None:
    stamps = _clock(35)
    y = _checkout(35, seed=6, weekend_shape=True)
    # a quieter weekend is part of its shape, not a drop every Saturday (the first weekend is
    # new behaviour: its shape was never seen, so it is judged against the weekdays')
    flagged = _flag_stamps(_panel({"checkout": y}, stamps, "5min"))
    first_weekend = flagged < pd.Timestamp("2024-01-08")
    assert first_weekend.sum() >= 1
    assert (~first_weekend).sum() <= 3


def test_hourly_sales_with_a_daily_cycle_are_quiet() -> None:
    stamps = _clock(42, "hourly")
    rng = np.random.default_rng(8)
    values = {
        f"store{i}": 50.0
        * (i + 1)
        * _daily_cycle(stamps)
        * np.exp(0.05 * rng.standard_normal(stamps.size))
        for i in range(3)
    }
    flagged = _flag_stamps(_panel(values, stamps, "hourly"))
    assert len(flagged) <= 3


@pytest.mark.parametrize("freq", ["daily", "monthly"])
def test_daily_and_monthly_panels_are_unchanged(freq: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    n = 400 if freq == "daily" else 36
    weekly = np.tile([1.0, 1.1, 1.05, 1.0, 1.2, 0.6, 0.5], n // 7 + 1)[:n]
    y = 1_000.0 * (weekly if freq == "daily" else 1.0) * np.exp(0.05 * rng.standard_normal((6, n)))
    y[1, n // 2] *= 2.0
    y[2, n // 2 :] *= 0.6
    panel = make_panel(y, freq=freq)
    # the defaults before the time-of-day term: threshold 3.5, CUSUM limit 11 (daily) or 6.5
    limit = 11.0 if freq == "daily" else 6.5
    before = AutoDetector(robust=RobustShiftDetector(threshold=3.5, cusum_limit=limit))
    expected = before.detect(panel)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sub-daily scorer ran on a panel without a time of day")

    monkeypatch.setattr(auto_module, "multiscale_scores", refuse)
    now = AutoDetector().detect(panel)
    np.testing.assert_array_equal(now.flag, expected.flag)
    np.testing.assert_array_equal(now.kind, expected.kind)
    np.testing.assert_allclose(now.baseline, expected.baseline, equal_nan=True)
    assert expected.flag.any()
