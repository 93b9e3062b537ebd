"""The multi-scale sub-daily scorer: causality, calibration, the scale it picks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revwatch.detectors.multiscale import default_scales, multiscale_scores, transform_scale
from revwatch.errors import ParameterError

PER_DAY = {"5min": 288, "15min": 96, "hourly": 24}


def _cycle(n_days: int, per_day: int) -> np.ndarray:
    hour = (np.arange(n_days * per_day) % per_day) * 24.0 / per_day
    return 0.3 + 1.2 * np.exp(-0.5 * ((hour - 13.0) / 3.0) ** 2)


def _noise(kind: str, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if kind == "gaussian":
        return 0.06 * rng.standard_normal(size)
    # Student t with 3 degrees of freedom: heavy tails, as real counts have
    return 0.04 * rng.standard_t(3, size)


@pytest.mark.parametrize(
    ("freq", "noise", "most"),
    [
        # a light-tailed clean series: the floor binds, well under the rate
        ("5min", "gaussian", 0.005),
        ("hourly", "gaussian", 0.005),
        # heavy tails: the series' own quantiles set the bands, within twice the rate
        ("5min", "heavy", 0.010),
        ("15min", "heavy", 0.010),
        ("hourly", "heavy", 0.010),
    ],
)
def test_clean_series_are_flagged_at_most_at_the_documented_rate(
    freq: str, noise: str, most: float
) -> None:
    per_day = PER_DAY[freq]
    n_days = 35
    rng = np.random.default_rng(11)
    y = 100.0 * _cycle(n_days, per_day) * np.exp(_noise(noise, (8, n_days * per_day), rng))
    scores = multiscale_scores(y, per_day, rate=0.005)
    judged = np.isfinite(scores.score)
    assert judged[:, 3 * per_day :].all()
    share = scores.flag[judged].mean()
    assert share <= most, share


def test_a_lower_rate_flags_no_more() -> None:
    rng = np.random.default_rng(12)
    y = 50.0 * _cycle(30, 96) * np.exp(_noise("heavy", (6, 30 * 96), rng))
    loose = multiscale_scores(y, 96, rate=0.02)
    strict = multiscale_scores(y, 96, rate=0.001)
    assert strict.flag.sum() <= loose.flag.sum()
    assert not (strict.flag & ~loose.flag).any()


@pytest.mark.parametrize("cut_day", [2.5, 6.2, 11.9])
def test_scores_up_to_t_do_not_depend_on_values_after_t(cut_day: float) -> None:
    per_day = 96
    rng = np.random.default_rng(13)
    y = 80.0 * _cycle(14, per_day) * np.exp(_noise("heavy", (3, 14 * per_day), rng))
    y[2] -= 60.0  # one additive series (negative values)
    cut = int(cut_day * per_day)
    later = y.copy()
    later[:, cut + 1 :] = rng.uniform(-1_000, 10_000, (3, later.shape[1] - cut - 1))
    stamps = pd.date_range("2024-03-01", periods=y.shape[1], freq="15min")
    before = multiscale_scores(y, per_day, periods=stamps)
    after = multiscale_scores(later, per_day, periods=stamps)
    for name in ("score", "z", "baseline", "lower", "upper"):
        np.testing.assert_array_equal(
            getattr(before, name)[:, : cut + 1], getattr(after, name)[:, : cut + 1], name
        )
    np.testing.assert_array_equal(before.flag[:, : cut + 1], after.flag[:, : cut + 1])
    np.testing.assert_array_equal(before.kind[:, : cut + 1], after.kind[:, : cut + 1])


@pytest.mark.parametrize(
    ("series", "smallest"),
    [
        # multiplicative noise: every level equally noisy in log: close to a plain log
        ("revenue", True),
        # Poisson counts from 1 to 40: relatively noisier when quiet: a larger offset
        ("counts", False),
    ],
)
def test_the_log_offset_evens_out_the_noise(series: str, smallest: bool) -> None:
    per_day = 96
    rng = np.random.default_rng(14)
    shape = _cycle(2, per_day)
    if series == "revenue":
        y = 1_000.0 * shape * np.exp(0.05 * rng.standard_normal(shape.size))
    else:
        y = rng.poisson(25.0 * shape).astype(float)
    _, offset, additive = transform_scale(y[None, :], per_day)
    median = float(np.median(y[:per_day]))
    assert not additive[0]
    assert bool(offset[0, 0] <= 0.02 * median + 1e-9) is smallest


def test_a_burst_of_an_hour_is_found_by_the_hour_scale_and_typed() -> None:
    per_day = 288
    rng = np.random.default_rng(15)
    y = 100.0 * _cycle(14, per_day) * np.exp(0.05 * rng.standard_normal(14 * per_day))
    start = 10 * per_day + 150
    y[start : start + 24] *= 1.12  # two hours 12 % up: a few % per step, clear over an hour
    scores = multiscale_scores(y[None, :], per_day)
    inside = scores.flag[0, start : start + 24]
    assert inside.any()
    assert not scores.flag[0, : start - per_day].any()
    z = scores.z[0, start : start + 24][inside]
    assert (z > 0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"rate": 0.0}, "rate"), ({"rate": 0.7}, "rate"), ({"floor": -1.0}, "floor")],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        multiscale_scores(np.ones((1, 96)), 24, **kwargs)


def test_default_scales_follow_the_step() -> None:
    assert default_scales(288) == (1, 12, 36)
    assert default_scales(24) == (1, 3)
    assert default_scales(1440) == (1, 60, 180)


@pytest.mark.parametrize("negative", [True, False])
def test_a_daily_cycle_with_a_busy_third_is_not_flagged_while_its_shape_is_learned(
    negative: bool,
) -> None:
    """A flat level misses the busy third of every day; its median deviation does not show it.

    Judged against the flat level on days 3 and 4, such a cycle (a machine metric, a shop open
    eight hours a day) had every busy hour flagged.
    """
    rng = np.random.default_rng(4)
    per_day = 288
    clock = np.arange(7 * per_day) % per_day
    # open 9:00-17:00, ramping up and down over about an hour
    hours = clock / 12.0
    busy = 1.0 / (1.0 + np.exp(-(hours - 9.0) * 4)) - 1.0 / (1.0 + np.exp(-(hours - 17.0) * 4))
    low = -20.0 if negative else 5.0
    y = low + (80.0 - low) * busy + 1.5 * rng.standard_normal(clock.size)
    y = np.maximum(y, 0.1) if not negative else y
    periods = pd.date_range("2014-04-01", periods=clock.size, freq="5min")
    scores = multiscale_scores(y[None, :], per_day, periods=periods)
    assert np.isfinite(scores.score[0, 4 * per_day :]).all()  # judged from day 4 at the latest
    assert int(scores.flag.sum()) <= 2
