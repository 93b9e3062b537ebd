"""Does each series fit the z-score's normality assumption? (seed 003, "check_normality").

:func:`normality_table` computes, for every series at once from the panel's
``(n_series, n_periods)`` matrix with NaN-aware NumPy moments, the sample
skewness, excess kurtosis and the Jarque-Bera statistic, and recommends a
transform for z-score methods.

The seed's "Jarque-Bera-like" statistic is ``n/6 (S^2 + (K - 3)^2 / 4)`` with
``K`` from pandas' ``kurtosis()``, which is already the *excess* kurtosis, so
it subtracts 3 twice and calls a normal sample non-normal (about
``n/6 * 9/4`` for ``K ~ 0``). Here ``JB = n/6 (S^2 + K^2 / 4)`` with ``K`` the
excess kurtosis, and its p-value is ``chi2.sf(JB, 2)``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats

from revwatch.data.panel import Panel

logger = logging.getLogger(__name__)

__all__ = ["MIN_OBSERVATIONS", "normality_table"]

#: Fewest observed values for the moments to be reported.
MIN_OBSERVATIONS = 8

#: ``|skewness|`` above this is "skewed" (the seed's 0.5).
SKEW_LIMIT = 0.5

#: Jarque-Bera p-value below this rejects normality.
ALPHA = 0.05


def normality_table(panel: Panel) -> pd.DataFrame:
    """One row per series: moments, Jarque-Bera test and a recommended transform.

    Skewness and excess kurtosis are the bias-adjusted sample estimators
    (pandas' ``skew()`` and ``kurtosis()``, as in the seed), computed for all
    series at once over the value matrix, ignoring missing periods.

    Parameters
    ----------
    panel : Panel
        The data; each series is tested on its observed values.

    Returns
    -------
    DataFrame
        The id columns, then ``n`` (observed values), ``skewness``,
        ``excess_kurtosis``, ``jarque_bera`` (``n/6 (S^2 + K^2/4)``),
        ``jb_pvalue`` (``chi2.sf(jb, 2)``), ``is_normal`` (``|S| <= 0.5`` and
        ``p >= 0.05``) and ``recommended``:

        * ``"raw"`` when normal, or when there are fewer than
          :data:`MIN_OBSERVATIONS` values or no spread (statistics NaN,
          ``is_normal`` False: nothing supports a transform);
        * ``"log"`` when right-skewed (``S > 0.5``) and every value is positive;
        * ``"rank"`` otherwise (heavy tails, left skew, or values <= 0 where a
          log is undefined): use a distribution-free method (IQR, percentiles).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({
    ...     "id": np.repeat(["normal", "lognormal"], 200),
    ...     "period": np.tile(pd.date_range("2020-01-01", periods=200, freq="D"), 2),
    ...     "value": np.r_[rng.normal(100, 10, 200), rng.lognormal(0, 1, 200)],
    ... })
    >>> panel = Panel.from_frame(frame, id_columns=["id"], freq="daily")
    >>> normality_table(panel)[["id", "is_normal", "recommended"]]
              id  is_normal recommended
    0  lognormal      False         log
    1     normal       True         raw
    """
    matrix = panel.matrix()
    values = matrix.values
    valid = ~np.isnan(values)
    n = valid.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, values, 0.0).sum(axis=1) / n
        dev = np.where(valid, values - mean[:, None], 0.0)
        m2 = (dev**2).sum(axis=1) / n
        m3 = (dev**3).sum(axis=1) / n
        m4 = (dev**4).sum(axis=1) / n
        g1 = m3 / m2**1.5
        g2 = m4 / m2**2 - 3.0
        # Bias-adjusted estimators (G1, G2), as pandas and scipy with bias=False.
        skewness = np.sqrt(n * (n - 1)) / (n - 2) * g1
        kurtosis = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
        jarque_bera = n / 6.0 * (skewness**2 + kurtosis**2 / 4.0)
    usable = (n >= MIN_OBSERVATIONS) & (m2 > 0) & np.isfinite(jarque_bera)
    skewness = np.where(usable, skewness, np.nan)
    kurtosis = np.where(usable, kurtosis, np.nan)
    jarque_bera = np.where(usable, jarque_bera, np.nan)
    p_value = np.where(usable, stats.chi2.sf(np.nan_to_num(jarque_bera), 2), np.nan)
    is_normal = usable & (np.abs(np.nan_to_num(skewness)) <= SKEW_LIMIT) & (p_value >= ALPHA)
    all_positive = np.where(valid, values, 1.0).min(axis=1, initial=1.0) > 0
    right_skewed = np.nan_to_num(skewness) > SKEW_LIMIT
    recommended = np.where(
        is_normal | ~usable,
        "raw",
        np.where(right_skewed & all_positive, "log", "rank"),
    )
    table = matrix.keys.copy()
    table["n"] = n.astype(np.int64)
    table["skewness"] = skewness
    table["excess_kurtosis"] = kurtosis
    table["jarque_bera"] = jarque_bera
    table["jb_pvalue"] = p_value
    table["is_normal"] = is_normal
    table["recommended"] = recommended
    logger.debug("normality: %d of %d series look normal", int(is_normal.sum()), len(table))
    return table
