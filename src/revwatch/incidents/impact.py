"""Money impact of an incident, with an uncertainty interval.

The impact of an incident is what the series earned minus what it would
have earned without the anomaly, summed over the incident's window, in the
input's units (money for revenue)::

    impact = sum_t (actual_t - baseline_t)

The counterfactual ``baseline_t`` is the detector's baseline. For the
default method it is frozen at the event's onset (and moved along the
pre-event trend), so continuation periods are compared with what the series
was doing before the anomaly started, not with a baseline that has already
absorbed it.

Uncertainty
-----------
Detectors report a band ``baseline ± threshold × scale`` (``lower`` and
``upper`` in :class:`~revwatch.detectors.base.Scores`), so the per-period
predictive standard deviation is recovered as::

    sigma_t = (upper_t - lower_t) / (2 × threshold)

For the default method the band is ``max(t_{df}(threshold) × scale,
min_change × |baseline|)``: the Student-t quantile and the materiality floor
make ``sigma_t`` at least the true predictive scale, so the interval errs on
the wide side. The periods of one incident share one estimated baseline, so
their errors are correlated: a share ``rho`` of each period's predictive
variance is the baseline's own estimation error, common to every period.
With ``s = sum_t sigma_t`` and ``v = sum_t sigma_t**2`` the variance of the
summed error is::

    var = (1 - rho) × v + rho × s**2

(``rho = 0.12`` by default: for a robust baseline from a 12-period window
the level's variance is about ``pi / (2 × 12)`` of the noise variance, i.e.
12 % of the predictive variance). The interval is ``impact ± z × sqrt(var)``
with ``z`` the two-sided normal quantile of ``level`` (1.645 for 90 %).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["ImpactSettings", "band_sigma", "window_impact"]


@dataclass(frozen=True)
class ImpactSettings:
    """How the impact interval is computed.

    Parameters
    ----------
    level : float, default 0.9
        Two-sided coverage of the interval.
    rho : float, default 0.12
        Share of each period's predictive variance that is common to the
        whole window (the baseline's own estimation error).
    """

    level: float = 0.9
    rho: float = 0.12

    def __post_init__(self) -> None:
        if not 0.0 < self.level < 1.0:
            raise ParameterError(f"impact level must be between 0 and 1, got {self.level}")
        if not 0.0 <= self.rho <= 1.0:
            raise ParameterError(f"impact rho must be between 0 and 1, got {self.rho}")


def band_sigma(lower: np.ndarray, upper: np.ndarray, threshold: float) -> np.ndarray:
    """Per-cell predictive standard deviation recovered from a detector's band.

    Parameters
    ----------
    lower, upper : ndarray
        The band ``baseline ± threshold × scale``.
    threshold : float
        The detector's threshold (``Scores.threshold``).

    Returns
    -------
    ndarray
        ``(upper - lower) / (2 × threshold)``; NaN where the band is missing.

    Examples
    --------
    >>> band_sigma(np.array([90.0]), np.array([110.0]), 2.0).tolist()
    [5.0]
    """
    if not threshold > 0:
        raise ParameterError(f"threshold must be positive to derive a scale, got {threshold}")
    with np.errstate(invalid="ignore"):
        return (np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float)) / (
            2.0 * float(threshold)
        )


def window_impact(
    actual: np.ndarray,
    baseline: np.ndarray,
    sigma: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    settings: ImpactSettings | None = None,
) -> pd.DataFrame:
    """Sum ``actual - baseline`` per group of cells, with an interval.

    Cells whose actual or baseline is missing contribute nothing.

    Parameters
    ----------
    actual, baseline, sigma : ndarray of float, shape (n_cells,)
        Observed value, counterfactual and predictive standard deviation of
        every cell that belongs to an incident window.
    group : ndarray of int, shape (n_cells,)
        The incident (0 .. ``n_groups - 1``) each cell belongs to.
    n_groups : int
        Number of incidents.
    settings : ImpactSettings, optional
        Interval level and correlation.

    Returns
    -------
    DataFrame
        One row per group: ``actual``, ``expected``, ``impact``,
        ``impact_low``, ``impact_high``, ``impact_sd`` and ``periods`` (cells
        that counted). The interval is NaN when a cell has no known scale.

    Examples
    --------
    >>> out = window_impact(
    ...     np.array([80.0, 85.0]), np.array([100.0, 100.0]), np.array([5.0, 5.0]),
    ...     np.array([0, 0]), 1, ImpactSettings(level=0.9, rho=0.0),
    ... )
    >>> round(float(out["impact"][0]), 2), round(float(out["impact_sd"][0]), 3)
    (-35.0, 7.071)
    """
    cfg = settings or ImpactSettings()
    actual = np.asarray(actual, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    ok = np.isfinite(actual) & np.isfinite(baseline)
    sig = np.where(ok & np.isfinite(sigma), np.abs(sigma), 0.0)
    g = np.asarray(group, dtype=np.int64)
    size = int(n_groups)
    act = np.bincount(g, weights=np.where(ok, actual, 0.0), minlength=size)
    exp = np.bincount(g, weights=np.where(ok, baseline, 0.0), minlength=size)
    s1 = np.bincount(g, weights=sig, minlength=size)
    s2 = np.bincount(g, weights=sig**2, minlength=size)
    count = np.bincount(g, weights=ok.astype(float), minlength=size)
    unknown = np.bincount(g, weights=(ok & ~np.isfinite(sigma)).astype(float), minlength=size)
    var = (1.0 - cfg.rho) * s2 + cfg.rho * s1**2
    sd = np.where(unknown > 0, np.nan, np.sqrt(var))
    z = NormalDist().inv_cdf(0.5 + cfg.level / 2.0)
    impact = act - exp
    return pd.DataFrame(
        {
            "actual": act,
            "expected": exp,
            "impact": impact,
            "impact_low": impact - z * sd,
            "impact_high": impact + z * sd,
            "impact_sd": sd,
            "periods": count.astype(np.int64),
        }
    )
