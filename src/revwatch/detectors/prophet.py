"""Prophet prediction intervals, refit causally per block (``prophet``).

Needs the optional extra: ``pip install 'revwatch[prophet]'``. Prophet is
imported only inside :meth:`ProphetDetector.fit` / :meth:`ProphetDetector.detect`
and in the worker processes; without it they raise
:class:`revwatch.errors.MissingDependencyError` with that install hint.

Causality: periods are cut into blocks of ``refit_every`` periods, the first
starting at ``min_history``. For every series and block, one Prophet model is
fitted on the series' observed values **before** the block and predicts the
block; nothing after a block's start is used to score it.

Scores (the seed's 95% and 99% rows):

* ``score`` = distance outside the ``interval_width`` (95%) band divided by
  half the band width, 0 inside; flagged when ``score > threshold``
  (default 0: any value outside the 95% band, the seed's "Prophet (95%)");
* ``extra["strict_flag"]`` marks values outside the ``strict_interval_width``
  (99%) band ("Prophet (99%)"), whose bounds are ``extra["lower_strict"]`` and
  ``extra["upper_strict"]``;
* ``extra["band_ratio"]`` = ``|y - yhat| / (half 95% band)``, the seed
  ensemble's Prophet score before clipping; ``score="band_ratio"`` makes it
  the score (then flagged when above ``threshold`` as well).

Both bands come from the same posterior predictive samples (seeded with
``random_state``), so the run is deterministic.

Cost: one fit per series and block, about 0.1-0.3 s for a few hundred daily
points (much more on short monthly series, which is why ``iter`` caps the
optimizer); fits run in parallel in a ``ProcessPoolExecutor`` with the
``"spawn"`` start method (``"fork"`` deadlocks once Prophet has run in the
parent, see ``shared/notes/stack.md``). cmdstanpy's logging is silenced.
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from revwatch.data.panel import Panel
from revwatch.detectors.base import Detector, Scores
from revwatch.errors import MissingDependencyError, ParameterError

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MIN_HISTORY", "ProphetDetector", "import_prophet"]

#: Periods of history before the first block, by frequency, when ``min_history=None``.
DEFAULT_MIN_HISTORY: dict[str, int] = {
    "1min": 2 * 1440,
    "5min": 2 * 288,
    "10min": 2 * 144,
    "15min": 2 * 96,
    "30min": 2 * 48,
    "hourly": 14 * 24,
    "daily": 90,
    "weekly": 104,
    "fortnightly": 52,
    "monthly": 24,
    "quarterly": 8,
    "yearly": 5,
}

_RELATIVE_TOL = 1e-9


def import_prophet() -> Any:
    """Import Prophet's class with its loggers silenced, or raise the install hint.

    Raises
    ------
    MissingDependencyError
        When ``prophet`` cannot be imported.
    """
    for name in ("cmdstanpy", "prophet", "prophet.plot"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from prophet import Prophet
    except ImportError as exc:
        raise MissingDependencyError("prophet", "prophet") from exc
    return Prophet


def _fit_predict(task: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    """Fit one series on its history and predict one block (runs in a worker)."""
    (train_ds, train_y, test_ds, params, seed) = task
    Prophet = import_prophet()
    y = np.asarray(train_y, dtype=np.float64)
    n_test = len(test_ds)
    if np.ptp(y) == 0:  # a constant history: Prophet would divide by a zero scale
        flat = np.full(n_test, y[0])
        return flat, flat, flat, flat, flat
    model = Prophet(
        interval_width=params["interval_width"],
        weekly_seasonality=params["weekly_seasonality"],
        yearly_seasonality=params["yearly_seasonality"],
        daily_seasonality=False,
    )
    if params["holidays_country"]:
        model.add_country_holidays(country_name=params["holidays_country"])
    model.fit(pd.DataFrame({"ds": train_ds, "y": y}), iter=params["iter"])
    future = pd.DataFrame({"ds": test_ds})
    np.random.seed(seed)  # noqa: NPY002 - Prophet samples with the global legacy generator
    samples = model.predictive_samples(future)["yhat"]
    yhat = model.predict(future)["yhat"].to_numpy()
    wide = params["interval_width"]
    strict = params["strict_interval_width"]
    lower, upper = np.quantile(samples, [(1 - wide) / 2, (1 + wide) / 2], axis=1)
    lower_s, upper_s = np.quantile(samples, [(1 - strict) / 2, (1 + strict) / 2], axis=1)
    return yhat, lower, upper, lower_s, upper_s


class ProphetDetector(Detector):
    """Prophet's prediction interval per series, refit every block (``prophet``).

    Parameters
    ----------
    interval_width : float, default 0.95
        The band ``score`` measures against.
    strict_interval_width : float, default 0.99
        The stricter band exposed in ``Scores.extra``.
    weekly_seasonality : bool or "auto", default True
    yearly_seasonality : bool or "auto", default "auto"
        As Prophet (``"auto"``: on with two years of history).
    holidays_country : str or None, default None
        A country code for Prophet's built-in holidays (``"US"``, ``"DE"``...).
    refit_every : int, default 30
        Periods per block; each block is predicted by a model fitted before it.
    n_jobs : int, default -1
        Worker processes (-1: all cores; 1: in this process).
    iter : int, default 1000
        Optimizer iteration cap per fit.
    min_history : int or None, default None
        Periods before the first block; None: by frequency
        (:data:`DEFAULT_MIN_HISTORY`, e.g. 90 days, 24 months).
    threshold : float, default 0.0
        Flag when ``score`` is above it.
    score : {"band_distance", "band_ratio"}, default "band_distance"
        See the module docstring.
    random_state : int, default 0
        Seeds the posterior predictive samples.
    """

    name: ClassVar[str] = "prophet"
    complexity: ClassVar[str] = "High (Bayesian curve fit per series)"
    extra: ClassVar[str | None] = "prophet"
    retrain_days: ClassVar[tuple[float, float | None] | None] = (30.0, None)
    retrospective: ClassVar[bool] = False

    def __init__(
        self,
        *,
        interval_width: float = 0.95,
        strict_interval_width: float = 0.99,
        weekly_seasonality: bool | str = True,
        yearly_seasonality: bool | str = "auto",
        holidays_country: str | None = None,
        refit_every: int = 30,
        n_jobs: int = -1,
        iter: int = 1000,
        min_history: int | None = None,
        threshold: float = 0.0,
        score: Literal["band_distance", "band_ratio"] = "band_distance",
        random_state: int = 0,
    ) -> None:
        self.interval_width = interval_width
        self.strict_interval_width = strict_interval_width
        self.weekly_seasonality = weekly_seasonality
        self.yearly_seasonality = yearly_seasonality
        self.holidays_country = holidays_country
        self.refit_every = refit_every
        self.n_jobs = n_jobs
        self.iter = iter
        self.min_history = min_history
        self.threshold = threshold
        self.score = score
        self.random_state = random_state

    def _validate(self) -> None:
        for name in ("interval_width", "strict_interval_width"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < float(value) < 1:
                raise ParameterError(f"prophet: {name} must be between 0 and 1, got {value!r}")
        for name in ("refit_every", "iter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"prophet: {name} must be an integer >= 1, got {value!r}")
        if self.score not in ("band_distance", "band_ratio"):
            raise ParameterError(
                f"prophet: score must be 'band_distance' or 'band_ratio', got {self.score!r}"
            )
        if self.min_history is not None and (
            isinstance(self.min_history, bool)
            or not isinstance(self.min_history, (int, np.integer))
            or self.min_history < 2
        ):
            raise ParameterError(
                f"prophet: min_history must be None or an integer >= 2, got {self.min_history!r}"
            )

    def _workers(self) -> int:
        if self.n_jobs == -1 or self.n_jobs is None:
            return os.cpu_count() or 1
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, int) or self.n_jobs < 1:
            raise ParameterError(
                f"prophet: n_jobs must be -1 or an integer >= 1, got {self.n_jobs!r}"
            )
        return self.n_jobs

    def fit(self, panel: Panel) -> ProphetDetector:
        """Check that Prophet is installed and the parameters are valid.

        The models themselves are fitted per block inside :meth:`detect`.
        """
        import_prophet()
        self._validate()
        self.n_series_ = panel.n_series
        return self

    def detect(self, panel: Panel) -> Scores:
        """Fit one model per series and block on the history before it; score the block."""
        import_prophet()
        self._validate()
        matrix = panel.matrix()
        values = matrix.values
        n_series, n_periods = values.shape
        threshold = float(self.threshold)
        scores = Scores.empty(values.shape, threshold)
        min_history = (
            int(self.min_history)
            if self.min_history is not None
            else DEFAULT_MIN_HISTORY.get(panel.freq, 24)
        )
        params = {
            "interval_width": float(self.interval_width),
            "strict_interval_width": float(self.strict_interval_width),
            "weekly_seasonality": self.weekly_seasonality,
            "yearly_seasonality": self.yearly_seasonality,
            "holidays_country": self.holidays_country,
            "iter": int(self.iter),
        }
        observed = ~np.isnan(values)
        tasks: list[tuple[Any, ...]] = []
        cells: list[tuple[int, int, int]] = []
        periods = matrix.periods.to_numpy()
        # one task per (series, block): Prophet fits one series at a time
        for start in range(min_history, n_periods, int(self.refit_every)):
            end = min(n_periods, start + int(self.refit_every))
            history = observed[:, :start]
            eligible = (history.sum(axis=1) >= max(2, min_history // 2)) & observed[
                :, start:end
            ].any(axis=1)
            for row in np.flatnonzero(eligible).tolist():
                mask = history[row]
                tasks.append(
                    (
                        periods[:start][mask],
                        values[row, :start][mask],
                        periods[start:end],
                        params,
                        int(self.random_state),
                    )
                )
                cells.append((int(row), start, end))
        workers = min(self._workers(), len(tasks))
        if workers > 1:
            chunk = max(1, math.ceil(len(tasks) / (workers * 4)))
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                results = list(pool.map(_fit_predict, tasks, chunksize=chunk))
        else:
            results = [_fit_predict(task) for task in tasks]
        yhat = np.full(values.shape, np.nan)
        lower = yhat.copy()
        upper = yhat.copy()
        lower_s = yhat.copy()
        upper_s = yhat.copy()
        for (row, start, end), result in zip(cells, results, strict=True):
            for target, part in zip((yhat, lower, upper, lower_s, upper_s), result, strict=True):
                target[row, start:end] = part
        self.n_fits_ = len(tasks)
        with np.errstate(invalid="ignore", divide="ignore"):
            half = (upper - lower) / 2.0
            tiny = _RELATIVE_TOL * np.abs(yhat)
            half_safe = np.maximum(half, tiny)
            outside = np.maximum(values - upper, lower - values)
            outside = np.where(outside > tiny, outside, 0.0)
            distance = np.where(half_safe > 0, outside / half_safe, np.inf)
            distance = np.where((half_safe == 0) & (outside == 0), 0.0, distance)
            resid = np.abs(values - yhat)
            resid = np.where(resid > tiny, resid, 0.0)
            ratio = np.where(half_safe > 0, resid / half_safe, np.where(resid > 0, np.inf, 0.0))
        scored = observed & ~np.isnan(yhat)
        distance = np.where(scored, np.minimum(distance, 1e6), np.nan)
        ratio = np.where(scored, np.minimum(ratio, 1e6), np.nan)
        score = distance if self.score == "band_distance" else ratio
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(scored, (values - yhat) / half_safe, np.nan)
        scores.score = score
        scores.z = np.clip(z, -1e6, 1e6)
        scores.baseline = np.where(scored, yhat, np.nan)
        scores.lower = np.where(scored, lower, np.nan)
        scores.upper = np.where(scored, upper, np.nan)
        scores.flag = scored & (score > threshold)
        scores.extra = {
            "band_ratio": ratio,
            "lower_strict": np.where(scored, lower_s, np.nan),
            "upper_strict": np.where(scored, upper_s, np.nan),
            "strict_flag": scored & ((values > upper_s) | (values < lower_s)),
        }
        logger.debug("prophet: %d fits over %d series", len(tasks), n_series)
        return scores
