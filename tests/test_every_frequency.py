"""The default method judges a series of every period length, once it has enough history.

Yearly data were never judged: the 5-year window's changes give the noise scale
1.6 degrees of freedom, under the 2 a band needs (the yearly scale window is 12).
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
