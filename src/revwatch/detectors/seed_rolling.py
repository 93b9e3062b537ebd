"""The seed walkthrough's method, reproduced faithfully (``--method seed-rolling``).

For each series: a trailing ``window``-period mean and standard deviation,
shifted one period so the current period is never part of its own baseline;
``z = (value - mean) / std``; a point anomaly when ``|z| >= threshold``.
Slow erosion: the value fell in each of the last ``erosion_window``
period-over-period changes and ``erosion_pct`` (the change over those
periods) is at or below ``-erosion_min``. Classification puts point
anomalies before erosion (SPIKE, DROP, then EROSION, reported here as
``spike``, ``drop`` and ``trend_change``). Severity: ``|z|`` for point
anomalies and ``|erosion_pct| * 100`` for erosion, as in the seed.

The seed does not define erosion precisely; the rule above reproduces its
table (Apex Holdings' months after the churn are EROSION with severity
about 71-73, i.e. a 71-73% fall over three months).
"""

from __future__ import annotations

import logging

import numpy as np

from revwatch.data.panel import Panel
from revwatch.detectors._arrays import trailing_moments
from revwatch.detectors.base import TYPE_CODES, Detector, Scores

logger = logging.getLogger(__name__)

__all__ = ["SeedRollingZScore"]

#: Finite stand-in for an infinite z (a deviation from a constant history).
Z_CAP = 1e6


class SeedRollingZScore(Detector):
    """Trailing mean/std z-score with slow-erosion detection, as in the seed.

    Parameters
    ----------
    window : int, default 6
        Trailing periods in the baseline (the current one excluded).
    threshold : float, default 2.5
        Point anomaly when ``|z| >= threshold``.
    erosion_window : int, default 3
        Consecutive period-over-period declines that make erosion.
    erosion_min : float, default 0.10
        Minimum fall over ``erosion_window`` periods (a fraction).
    min_periods : int or None, default None
        Observed periods needed in the window; None means ``window``.

    Examples
    --------
    >>> SeedRollingZScore(window=6).get_params()["threshold"]
    2.5
    """

    name = "seed-rolling"
    complexity = "Very low (rolling mean/std)"

    def __init__(
        self,
        *,
        window: int = 6,
        threshold: float = 2.5,
        erosion_window: int = 3,
        erosion_min: float = 0.10,
        min_periods: int | None = None,
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.erosion_window = erosion_window
        self.erosion_min = erosion_min
        self.min_periods = min_periods

    def detect(self, panel: Panel) -> Scores:
        """Score every period of every series; see the module docstring."""
        y = panel.matrix().values
        min_periods = self.window if self.min_periods is None else self.min_periods
        mean, std, _ = trailing_moments(y, self.window, min_periods)
        dev = y - mean
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(std > 0, dev / std, np.sign(dev) * Z_CAP)
        z = np.clip(z, -Z_CAP, Z_CAP)
        point = np.abs(z) >= self.threshold

        k = self.erosion_window
        n_periods = y.shape[1]
        erosion_pct = np.full_like(y, np.nan)
        erosion = np.zeros(y.shape, dtype=bool)
        if n_periods > k:
            with np.errstate(invalid="ignore", divide="ignore"):
                erosion_pct[:, k:] = y[:, k:] / y[:, :-k] - 1.0
            step_down = np.zeros(y.shape, dtype=bool)
            step_down[:, 1:] = y[:, 1:] < y[:, :-1]
            run = np.ones(y.shape, dtype=bool)
            for lag in range(k):
                shifted = np.zeros(y.shape, dtype=bool)
                shifted[:, lag:] = step_down[:, : n_periods - lag]
                run &= shifted
            erosion = run & (erosion_pct <= -self.erosion_min)

        scores = Scores.empty(y.shape, self.threshold)
        scores.z = z
        scores.baseline = mean
        scores.lower = mean - self.threshold * std
        scores.upper = mean + self.threshold * std
        scores.score = np.abs(z)
        kind = np.zeros(y.shape, dtype=np.int8)
        kind[erosion] = TYPE_CODES["trend_change"]
        kind[point & (z > 0)] = TYPE_CODES["spike"]
        kind[point & (z < 0)] = TYPE_CODES["drop"]
        scores.kind = kind
        scores.flag = point | erosion
        severity = np.abs(z)
        is_erosion = erosion & ~point
        severity[is_erosion] = np.abs(erosion_pct[is_erosion]) * 100.0
        # erosion rows carry the direction of the fall
        scores.z = np.where(is_erosion, -np.abs(np.nan_to_num(z, nan=1.0)), z)
        scores.severity = severity
        scores.score = np.where(scores.flag, np.nan_to_num(scores.score, nan=0.0), scores.score)
        scores.extra["erosion_pct"] = erosion_pct
        return scores
