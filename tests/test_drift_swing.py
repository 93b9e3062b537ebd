"""A slow drift (CUSUM ``trend_change``) must leave the series' own swing on monthly data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revwatch.detectors.auto import AutoDetector, drift_beyond_swing
from revwatch.detectors.base import TYPE_CODES
from revwatch.pipeline import to_panel

MONTHS = pd.date_range("2023-01-01", periods=36, freq="MS")


def account(kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(36)
    noise = {"cycle": 0.02, "heavy": 0.04, "erosion": 0.02}[kind]
    eps = noise * (
        rng.standard_t(3, 36) / np.sqrt(3) if kind == "heavy" else rng.standard_normal(36)
    )
    y = 1_000.0 * np.exp(0.01 * t + eps)
    if kind == "cycle":
        y *= np.exp(0.2 * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 6.3)))
    if kind == "erosion":
        y[26:] *= np.exp(-0.06 * np.arange(1, 11))
    return y


def flags(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.DataFrame({"month": MONTHS, "mrr": y})
    scores = AutoDetector().detect(to_panel(frame, time="month", value="mrr"))
    return scores.flag[0], scores.kind[0]


def false_drifts(seeds: range) -> int:
    """CUSUM trend changes outside the labels of saas-mrr with yearly cycles and heavy tails."""
    from revwatch.datasets import generate

    count = 0
    for seed in seeds:
        data = generate("saas-mrr", seed=seed, months=36, yearly_cycle=True, heavy_tails=True)
        panel = to_panel(data.frame, id=list(data.id_columns), time=data.time_column,
                         value=data.value_column)  # fmt: skip
        scores = AutoDetector().detect(panel)
        labelled = np.zeros(scores.flag.shape, dtype=bool)
        matrix = panel.matrix()
        key = data.id_columns[0]
        rows = {account: i for i, account in enumerate(matrix.keys[key])}
        periods = list(matrix.periods)
        for account, month in zip(data.labels[key], data.labels[data.time_column], strict=True):
            labelled[rows[account], periods.index(pd.Timestamp(month))] = True
        drift = (scores.kind == TYPE_CODES["trend_change"]) & scores.flag & ~labelled
        count += int(drift.sum())
    return count


def test_drifts_within_the_own_swing_are_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import revwatch.detectors.auto as auto

    with_rule = false_drifts(range(3))
    monkeypatch.setattr(auto, "_SWING_FREQS", {})
    without = false_drifts(range(3))
    assert with_rule <= 0.8 * without


@pytest.mark.parametrize("seed", range(6))
def test_an_erosion_is_still_reported_downward(seed: int) -> None:
    flag, _ = flags(account("erosion", seed))
    assert flag[26:].any()


@pytest.mark.parametrize(
    ("t", "expected"),
    [(8, [True, True]), (35, [False, True])],  # before a swing is known every drift stands
)
def test_drift_beyond_swing(t: int, expected: list[bool]) -> None:
    cycle = 100 * np.exp(0.2 * np.sin(np.arange(36) * np.pi / 6))
    erosion = cycle.copy()
    erosion[30:] *= np.exp(-0.1 * np.arange(1, 7))
    got = drift_beyond_swing(np.vstack([cycle, erosion]), np.array([0, 1]), t, 12)
    assert got.tolist() == expected
