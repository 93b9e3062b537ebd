"""The default method judges a series of every period length, once it has enough history.

Yearly data were never judged: the 5-year window's changes give the noise scale
1.6 degrees of freedom, under the 2 a band needs (the yearly scale window is 12); the 5-year
level window never had a slope of its own (it is 6).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revwatch.data.panel import FREQUENCIES, Panel
from revwatch.detectors.auto import AutoDetector


def _panel(freq: str, values: np.ndarray) -> Panel:
    periods = pd.date_range("1990-01-01", periods=values.shape[1], freq=FREQUENCIES[freq][0])
    frame = pd.DataFrame({"id": "s0", "period": periods, "value": values[0]})
    return Panel.from_frame(frame, id_columns=["id"], freq=freq)


@pytest.mark.parametrize(
    ("freq", "n_periods", "judged_from"),
    [
        ("yearly", 40, 12),
        ("quarterly", 40, 12),
        ("monthly", 48, 12),
        ("fortnightly", 60, 12),
        ("weekly", 80, 16),
        ("daily", 200, 40),
    ],
)
def test_a_clean_series_is_judged_and_a_step_down_is_flagged(
    freq: str, n_periods: int, judged_from: int
) -> None:
    rng = np.random.default_rng(7)
    y = 1_000.0 * np.exp(0.02 * rng.standard_normal((1, n_periods)))
    cut = n_periods - 8
    y[0, cut:] *= 0.6  # revenue falls by 40 % and stays there
    scores = AutoDetector().detect(_panel(freq, y))
    # every period after the warm-up is judged
    assert np.isfinite(scores.score[0, judged_from:cut]).all()
    # the fall is reported where it happens, downward, and nothing before it
    assert scores.flag[0, cut]
    assert scores.z[0, cut] < 0
    assert not scores.flag[0, :cut].any()


def test_a_yearly_series_flat_after_a_decline_is_not_expected_to_go_on_declining() -> None:
    """A 5-year window never had a slope of its own: a trend change's slope was kept for good."""
    rng = np.random.default_rng(3)
    level = np.r_[np.full(20, 1_000.0), 1_000.0 * 0.8 ** np.arange(1, 7), np.full(14, 262.0)]
    y = (level * np.exp(0.02 * rng.standard_normal(level.size)))[None, :]
    scores = AutoDetector().detect(_panel("yearly", y))
    flat = slice(level.size - 6, level.size)  # the last six of fourteen flat years
    assert np.allclose(scores.baseline[0, flat], y[0, flat], rtol=0.15)
    assert not scores.flag[0, flat].any()
