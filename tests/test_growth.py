"""Year-over-year growth change (``revwatch.detectors.growth``) and its use in ``auto``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from revwatch.datasets import generate
from revwatch.detectors.auto import AutoDetector
from revwatch.detectors.base import TYPE_CODES
from revwatch.detectors.growth import growth_threshold, yoy_growth_change
from revwatch.errors import ParameterError
from revwatch.pipeline import to_panel

DAYS = 900
DECLINE_START = 700


def _series(
    n: int = 1, seed: int = 0, decline: float = 0.0, days: int = DAYS, noise: float = 0.03
) -> np.ndarray:
    """Daily values with growth, a weekly and a yearly cycle; optionally a slow decline."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekly = np.array([1.04, 1.06, 1.06, 1.05, 1.0, 0.8, 0.74])[t % 7]
    yearly = (
        1 + 0.15 * np.sin(2 * np.pi * t / 364) + 0.2 * np.exp(-0.5 * ((t % 364 - 340) / 10) ** 2)
    )
    level = 1000 * np.exp(0.15 * t / 365) * weekly * yearly
    y = level * np.exp(noise * rng.standard_normal((n, days)))
    if decline:
        weeks = np.clip(t - DECLINE_START, 0, None) / 7
        y *= np.exp(np.log1p(-decline) * weeks)
    return y


def _run(y: np.ndarray, **kwargs: object) -> object:
    quiet = np.zeros(y.shape, dtype=bool)
    return yoy_growth_change(y, np.zeros(y.shape), quiet, quiet, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_a_slow_decline_under_a_yearly_cycle(seed: int) -> None:
    found = _run(_series(seed=seed, decline=0.006))
    onsets = np.flatnonzero(found.flag[0])  # type: ignore[attr-defined]
    assert len(onsets) >= 1
    first = int(onsets[0])
    assert DECLINE_START < first < DECLINE_START + 84
    assert found.z[0, first] < 0  # type: ignore[attr-defined]
    assert found.change[0, first] < -0.03  # type: ignore[attr-defined]


def test_steady_growth_and_cycles_raise_few_alarms() -> None:
    y = _series(n=300, seed=7)
    found = _run(y)
    scored = np.isfinite(found.z).sum()  # type: ignore[attr-defined]
    assert scored > 300 * 200  # most of the second year is scored
    # the budget is half the day-level's false alarms: 365 / 2 * P(|Z| >= 3.5) a year
    budget = 365 / 2 * 2 * norm.sf(3.5) * scored / 365
    assert found.flag.sum() <= 1.5 * budget  # type: ignore[attr-defined]
    # and the z scale is calibrated: about normal in the bulk
    z = found.z[np.isfinite(found.z)]  # type: ignore[attr-defined]
    assert 0.6 < np.std(z) < 1.4


def test_causal_future_days_change_nothing() -> None:
    y = _series(n=3, seed=3, decline=0.006)
    full = _run(y)
    cut = _run(y[:, :800])
    np.testing.assert_array_equal(full.flag[:, :800], cut.flag)  # type: ignore[attr-defined]
    np.testing.assert_allclose(full.z[:, :800], cut.z, equal_nan=True)  # type: ignore[attr-defined]


def test_scale_invariant_and_series_order_free() -> None:
    y = _series(n=4, seed=4, decline=0.006)
    base = _run(y)
    scaled = _run(y * 1234.5)
    np.testing.assert_allclose(base.z, scaled.z, equal_nan=True, atol=1e-4)  # type: ignore[attr-defined]
    order = np.array([2, 0, 3, 1])
    permuted = _run(y[order])
    np.testing.assert_array_equal(base.flag[order], permuted.flag)  # type: ignore[attr-defined]
    np.testing.assert_allclose(base.z[order], permuted.z, equal_nan=True)  # type: ignore[attr-defined]


def test_too_short_history_is_left_alone() -> None:
    found = _run(_series(days=400, decline=0.02))
    assert np.isnan(found.z).all()  # type: ignore[attr-defined]
    assert not found.flag.any()  # type: ignore[attr-defined]


def test_missing_and_non_positive_days_are_skipped() -> None:
    y = _series(seed=5, decline=0.006)
    y[0, 500:510] = np.nan
    y[0, 600] = 0.0
    y[0, 650] = -5.0
    found = _run(y)
    assert np.isfinite(found.z[0]).sum() > 200  # type: ignore[attr-defined]
    assert found.flag[0, DECLINE_START:].any()  # type: ignore[attr-defined]


def test_a_change_the_day_level_already_flagged_is_opened_not_reported() -> None:
    y = _series(seed=6)
    y[:, 600:] *= 0.85  # a step down: the day-level detector reports it on its first day
    quiet = np.zeros(y.shape, dtype=bool)
    alone = yoy_growth_change(y, np.zeros(y.shape), quiet, quiet)
    assert alone.flag[0, 600:640].any()
    day_flag = quiet.copy()
    day_flag[0, 600] = True
    day_z = np.zeros(y.shape)
    day_z[0, 600] = -6.0
    seen = yoy_growth_change(y, day_z, day_flag, quiet)
    assert seen.opened[0, 600:640].any()
    assert not seen.flag[0, 600:700].any()
    # the day-level flag must point the same way to explain it
    day_z[0, 600] = 6.0
    other_way = yoy_growth_change(y, day_z, day_flag, quiet)
    assert other_way.flag[0, 600:640].any()


def test_last_years_anomalies_are_left_out() -> None:
    y = _series(seed=8)
    y[:, 300:330] *= 1.3  # a month-long promotion last year, not repeated
    quiet = np.zeros(y.shape, dtype=bool)
    naive = yoy_growth_change(y, np.zeros(y.shape), quiet, quiet)
    assert naive.flag[0, 664:720].any()  # this year looks 30 % down against it
    day_z = np.zeros(y.shape)
    day_z[0, 300:330] = 5.0  # the day-level scores saw it as anomalous
    masked = yoy_growth_change(y, day_z, quiet, quiet)
    assert not masked.flag[0, 664:720].any()


def test_a_confirmed_shift_restarts_the_reference_a_year_later() -> None:
    y = _series(seed=9)
    y[:, 300:] *= 1.25  # a lasting step up in the first year
    quiet = np.zeros(y.shape, dtype=bool)
    naive = yoy_growth_change(y, np.zeros(y.shape), quiet, quiet)
    assert naive.flag[0, 664:720].any()  # a year later the growth "falls" by 25 %
    shift = quiet.copy()
    shift[0, 300] = True  # the day-level detector confirmed the step
    restarted = yoy_growth_change(y, np.zeros(y.shape), quiet, shift)
    assert not restarted.flag[0, 664:].any()
    assert np.isnan(restarted.z[0, 664 : 664 + 28]).all()


@pytest.mark.parametrize(("threshold", "window"), [(3.5, 28), (3.0, 28), (4.0, 14)])
def test_growth_threshold_keeps_half_the_day_level_alarm_budget(
    threshold: float, window: int
) -> None:
    z = growth_threshold(threshold, window)
    assert z < threshold
    assert norm.sf(z) == pytest.approx(window / 2 * norm.sf(threshold), rel=1e-9)


def _daily_revenue_panel(seed: int) -> tuple[object, pd.DatetimeIndex]:
    ds = generate("daily-revenue", seed=seed)
    panel = to_panel(ds.frame, id=None, time=ds.time_column, value=ds.value_column)
    return panel, pd.DatetimeIndex(panel.matrix().periods)


def test_auto_reports_the_daily_revenue_decline_downward() -> None:
    panel, dates = _daily_revenue_panel(seed=1)
    inside = (dates >= "2025-09-15") & (dates <= "2025-12-07")
    with_yoy = AutoDetector().detect(panel)  # type: ignore[arg-type]
    down = with_yoy.flag[0] & inside & (with_yoy.z[0] < 0)
    assert down.any()
    assert (with_yoy.kind[0][down] == TYPE_CODES["trend_change"]).any()
    assert np.isfinite(with_yoy.extra["yoy_change"][0]).sum() > 100
    without = AutoDetector(yoy=False).detect(panel)  # type: ignore[arg-type]
    added = with_yoy.flag[0] & ~without.flag[0]
    assert (added & down & (with_yoy.kind[0] == TYPE_CODES["trend_change"])).any()
    # everything else the day-level detector said is unchanged
    same = ~added
    np.testing.assert_array_equal(with_yoy.flag[0][same], without.flag[0][same])


def test_auto_with_yoy_is_causal() -> None:
    panel, dates = _daily_revenue_panel(seed=2)
    frame = panel.frame  # type: ignore[attr-defined]
    cut = dates[690]
    short = to_panel(frame[frame["period"] <= cut], id=None, time="period", value="value")
    full = AutoDetector().detect(panel)  # type: ignore[arg-type]
    part = AutoDetector().detect(short)
    np.testing.assert_array_equal(full.flag[:, :691], part.flag)
    np.testing.assert_allclose(
        full.extra["yoy_change"][:, :691], part.extra["yoy_change"], equal_nan=True
    )


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_auto_yoy_must_be_a_boolean(value: object) -> None:
    panel, _ = _daily_revenue_panel(seed=0)
    with pytest.raises(ParameterError, match="yoy"):
        AutoDetector(yoy=value).detect(panel)  # type: ignore[arg-type]


def test_chunks_of_series_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import revwatch.detectors.growth as growth

    y = _series(n=5, seed=10, decline=0.006)
    whole = _run(y)
    monkeypatch.setattr(growth, "_CHUNK", 2)
    chunked = _run(y)
    for name in ("z", "change", "scale", "flag", "opened"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(chunked, name))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window must be an integer >= 7"),
        ({"lag": 3.5}, "lag must be an integer"),
        ({"min_reference": 30}, "cannot exceed reference_weeks"),
        ({"threshold": -1.0}, "threshold must be positive"),
        ({"clip": "3"}, "clip must be a number"),
        ({"min_change": float("nan")}, "min_change must be positive"),
    ],
)
def test_bad_parameters_are_parameter_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        _run(_series(days=420), **kwargs)


def test_arrays_of_different_shapes_are_a_parameter_error() -> None:
    y = _series(days=420)
    quiet = np.zeros((1, 419), dtype=bool)
    with pytest.raises(ParameterError, match="one shape"):
        yoy_growth_change(y, np.zeros(y.shape), quiet, quiet)


def test_a_lasting_change_is_reported_once() -> None:
    # the event settles after 28 days open and the reference restarts after its onset, so the
    # lower level is not reported again while the new reference builds up
    y = _series(n=3, seed=11)
    y[:, 600:] *= 0.85
    found = _run(y, confirm=28)
    assert (found.flag[:, 600:720].sum(axis=1) == 1).all()  # type: ignore[attr-defined]
    for row in range(3):
        onset = int(np.flatnonzero(found.flag[row, 600:])[0]) + 600  # type: ignore[attr-defined]
        # settled 28 days later: unscored until a new window and 8 reference weeks exist
        assert np.isnan(found.z[row, onset + 29 : onset + 28 + 56]).all()  # type: ignore[attr-defined]
    never = _run(y, confirm=10_000)
    assert np.isfinite(never.z[:, 640:700]).any()  # type: ignore[attr-defined]


def test_auto_growth_change_is_a_one_day_episode() -> None:
    # a month-long episode would merge the portfolio's other flags of that month into one
    # incident (tests/test_incidents.py: the DE card outage stays its own 2-day incident)
    from revwatch.incidents.build import active_cells

    panel, _ = _daily_revenue_panel(seed=1)
    with_yoy = AutoDetector().detect(panel)  # type: ignore[arg-type]
    without = AutoDetector(yoy=False).detect(panel)  # type: ignore[arg-type]
    added = np.flatnonzero(with_yoy.flag[0] & ~without.flag[0])
    assert added.size
    np.testing.assert_array_equal(with_yoy.extra["confirm_at"][0, added], added)
    active = active_cells(with_yoy)[0]
    assert active[added].all()
    # beyond its onsets, the episodes are the day level's
    others = np.ones(active.size, dtype=bool)
    others[added] = False
    np.testing.assert_array_equal(active[others], active_cells(without)[0][others])


def test_details_say_which_rows_are_growth_changes() -> None:
    from revwatch.pipeline import analyze

    panel, _ = _daily_revenue_panel(seed=1)
    rows = analyze(panel, method="auto").results(details=True)  # type: ignore[arg-type]
    growth = rows[rows["basis"] == "yoy growth"]
    assert len(growth) >= 1
    assert set(growth["type"]) == {"trend_change"}
    assert "down" in set(growth["direction"])
    assert set(rows["basis"]) <= {"own history", "peers", "yoy growth"}
    assert (rows["basis"] == "own history").sum() > len(growth)
    plain = analyze(panel, method="auto", yoy=False).results(details=True)  # type: ignore[arg-type]
    assert "yoy growth" not in set(plain["basis"])
    other = analyze(panel, method="iqr").results(details=True)  # type: ignore[arg-type]
    assert set(other["basis"]) <= {""}


def test_importing_auto_does_not_import_scipy_special() -> None:
    # scipy.special costs ~0.2 s of start-up on every `revwatch detect`
    import subprocess
    import sys

    code = "import sys, revwatch.detectors.auto; print('scipy.special' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
