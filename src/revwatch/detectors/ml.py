"""Machine-learning detectors: Isolation Forest, Local Outlier Factor, DBSCAN-like density.

Features
--------
Every (series, period) cell becomes one feature row, built for all series at
once from the panel's dense matrices, using only the series' own values up to
and including that period (the current value is compared with a history that
excludes it). All features are **scale-free**, so one model pooled across
series fits every series, and multiplying a series by a constant changes
nothing.

* **Seed 001's vector** (``features="auto"`` on daily data whose panel carries
  the metric columns ``transaction_count``, ``avg_order_value``,
  ``payment_success_rate`` and ``refund_rate``; or ``features="seed"``):
  revenue and transaction count relative to the median of the same weekday
  in the previous four weeks (so a weekday collapse does not look like a
  normal Saturday), average order value relative to the median of its
  previous 28 days; payment success rate and refund rate as
  they are (already rates); day of week; day of month; the 7-day trailing
  average of revenue (today excluded) relative to the 28-day median; and the
  change of revenue against the same day last week.
* **Engineered** (``features="auto"`` otherwise, or ``features="engineered"``):
  value relative to its trailing median (one seasonal cycle, at least 6
  periods), change over the previous 3 periods, deviation from the trailing
  mean in robust units (``1.4826 * MAD``, clipped to +-50), and the position in
  the seasonal cycle as sine and cosine (month of year for monthly data).

A cell with a missing value, or a feature that cannot be computed yet (not
enough history, a zero baseline), gets no row and no score.

Causal training
---------------
Models are retrained every ``retrain_every`` periods on the rows of the
previous ``train_window`` periods of **all** series pooled, and score the
following ``retrain_every`` periods; the loop runs over retraining windows,
never over series. The first model is trained once at least ``min_train_rows``
rows exist. Training rows are put in a canonical order (sorted by their
features) before fitting, so the model does not depend on the order of the
series, and at most :data:`MAX_TRAIN_ROWS` rows (a seeded subsample) are used.

Score calibration
-----------------
``score`` is the **empirical quantile of the cell's raw anomaly score among
the training rows' raw scores** (the fraction of training rows strictly less
anomalous), in [0, 1]. The raw score is ``-score_samples`` (Isolation Forest:
the normalised average path length; LOF: the local outlier factor). A cell
more anomalous than every training row scores 1. A cell is flagged when
``score > threshold``: with ``threshold=None`` that is ``0.99`` (about 1% of
normal cells) or ``1 - contamination`` when ``contamination`` is a number.
``z`` is the signed deviation from the trailing mean in robust units (the
direction of the move), ``baseline`` the trailing median.

``dbscan-retro`` is retrospective (the seed clusters every row at once); see
:class:`DBSCANRetro`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

import numpy as np

from revwatch.data.panel import FREQUENCIES, Panel
from revwatch.detectors.base import Detector, Scores
from revwatch.detectors.decomposition import trailing_window_stat
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_TRAIN_ROWS",
    "SEED_METRICS",
    "DBSCANRetro",
    "IsolationForestDetector",
    "LOFDetector",
    "feature_cube",
]

#: Panel metric columns that switch ``features="auto"`` to seed 001's vector on daily data.
SEED_METRICS: tuple[str, ...] = (
    "transaction_count",
    "avg_order_value",
    "payment_success_rate",
    "refund_rate",
)

#: Most training rows one model sees (a seeded subsample of the window beyond this).
MAX_TRAIN_ROWS = 20_000

_MAD_TO_SIGMA = 1.482602218505602
_ROBUST_CLIP = 50.0
_SEED_BASELINE_DAYS = 28


def _relative(values: np.ndarray, base: np.ndarray) -> np.ndarray:
    """``values / base - 1`` where the base is positive, NaN elsewhere."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(base > 0, values / base - 1.0, np.nan)


def _lag(values: np.ndarray, lag: int) -> np.ndarray:
    out = np.full(values.shape, np.nan)
    if lag < values.shape[1]:
        out[:, lag:] = values[:, : values.shape[1] - lag]
    return out


def _robust_deviation(values: np.ndarray, window: int) -> np.ndarray:
    """(value - trailing mean) / (1.4826 * trailing MAD), 0/±clip for a constant history.

    The MAD is that of the ``window`` values before ``t`` about their own
    median. Rows go in chunks so the (rows, periods, window) stack stays small.
    """
    out = np.full(values.shape, np.nan)
    chunk = max(1, (1 << 22) // max(1, values.shape[1] * window))
    for begin in range(0, values.shape[0], chunk):
        out[begin : begin + chunk] = _robust_deviation_block(values[begin : begin + chunk], window)
    return out


def _robust_deviation_block(values: np.ndarray, window: int) -> np.ndarray:
    mean = trailing_window_stat(values, window, stat="mean", min_count=3)
    median = trailing_window_stat(values, window, stat="median", min_count=3)
    lags = np.stack([_lag(values, k) for k in range(1, window + 1)], axis=2)
    with np.errstate(invalid="ignore"):
        dev = np.abs(lags - median[..., None])
    dev_sorted = np.sort(dev, axis=2)
    count = np.count_nonzero(~np.isnan(dev), axis=2)
    lo = np.clip((count - 1) // 2, 0, window - 1)
    hi = np.clip(count // 2, 0, window - 1)
    mad = 0.5 * (
        np.take_along_axis(dev_sorted, lo[..., None], axis=2)[..., 0]
        + np.take_along_axis(dev_sorted, hi[..., None], axis=2)[..., 0]
    )
    mad[count < 3] = np.nan
    scale = _MAD_TO_SIGMA * mad
    diff = values - mean
    with np.errstate(invalid="ignore", divide="ignore"):
        z = diff / scale
    exact = np.abs(diff) <= 1e-9 * np.abs(mean)
    z = np.where(scale == 0, np.where(exact, 0.0, np.sign(diff) * _ROBUST_CLIP), z)
    return np.clip(z, -_ROBUST_CLIP, _ROBUST_CLIP)


def _same_weekday_median(values: np.ndarray) -> np.ndarray:
    """Median of the same weekday in the previous four weeks (at least two of them)."""
    stack = np.stack([_lag(values, 7 * k) for k in range(1, 5)], axis=2)
    count = np.count_nonzero(~np.isnan(stack), axis=2)
    ordered = np.sort(stack, axis=2)
    lo = np.clip((count - 1) // 2, 0, 3)
    hi = np.clip(count // 2, 0, 3)
    median = 0.5 * (
        np.take_along_axis(ordered, lo[..., None], axis=2)[..., 0]
        + np.take_along_axis(ordered, hi[..., None], axis=2)[..., 0]
    )
    median[count < 2] = np.nan
    return median


def _seed_ready(panel: Panel) -> bool:
    return panel.freq == "daily" and all(c in panel.metric_columns for c in SEED_METRICS)


def feature_cube(panel: Panel, features: str = "auto") -> tuple[np.ndarray, list[str]]:
    """Scale-free feature rows for every (series, period) cell.

    Parameters
    ----------
    panel : Panel
    features : {"auto", "seed", "engineered"}
        See the module docstring.

    Returns
    -------
    cube : ndarray, shape (n_series, n_periods, n_features)
        NaN where a feature cannot be computed.
    names : list of str

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=12, freq="MS"),
    ...                       "value": np.arange(1.0, 13.0)})
    >>> cube, names = feature_cube(Panel.from_frame(frame, id_columns=[], freq="monthly"))
    >>> cube.shape, names[:3]
    ((1, 12, 5), ['rel_trailing_median', 'change_3', 'robust_deviation'])
    """
    if features not in {"auto", "seed", "engineered"}:
        raise ParameterError(f"features must be 'auto', 'seed' or 'engineered', got {features!r}")
    use_seed = features == "seed" or (features == "auto" and _seed_ready(panel))
    if features == "seed" and not _seed_ready(panel):
        missing = [c for c in SEED_METRICS if c not in panel.metric_columns]
        raise ParameterError(
            f"features='seed' needs daily data with metric columns {list(SEED_METRICS)}; "
            f"{panel.source} is {panel.freq} and lacks {missing}: pass them as metrics "
            "when loading, or use features='engineered'"
        )
    matrix = panel.matrix()
    values = matrix.values
    n_series, n_periods = values.shape
    periods = matrix.periods
    if use_seed:
        window = _SEED_BASELINE_DAYS
        revenue = values
        count = panel.matrix("transaction_count").values
        aov = panel.matrix("avg_order_value").values
        success = panel.matrix("payment_success_rate").values
        refund = panel.matrix("refund_rate").values
        rev_base = trailing_window_stat(revenue, window, min_count=7)
        rolling7 = trailing_window_stat(revenue, 7, stat="mean", min_count=7)
        dow = np.broadcast_to(np.asarray(periods.day_of_week, dtype=np.float64), values.shape)
        dom = np.broadcast_to(np.asarray(periods.day, dtype=np.float64), values.shape)
        columns = [
            _relative(revenue, _same_weekday_median(revenue)),
            _relative(count, _same_weekday_median(count)),
            _relative(aov, trailing_window_stat(aov, window, min_count=7)),
            success,
            refund,
            dow,
            dom,
            _relative(rolling7, rev_base),
            _relative(revenue, _lag(revenue, 7)),
        ]
        names = [
            "revenue",
            "transaction_count",
            "avg_order_value",
            "payment_success_rate",
            "refund_rate",
            "day_of_week",
            "day_of_month",
            "revenue_7d_rolling_avg",
            "revenue_pct_change_7d",
        ]
    else:
        season = int(FREQUENCIES[panel.freq][2])
        window = max(season, 6)
        base = trailing_window_stat(values, window, min_count=3)
        position = np.arange(n_periods) % max(season, 1)
        if panel.freq == "monthly":
            position = np.asarray(periods.month - 1)
        angle = 2 * np.pi * position / max(season, 1)
        columns = [
            _relative(values, base),
            _relative(values, _lag(values, 3)),
            _robust_deviation(values, window),
            np.broadcast_to(np.sin(angle), values.shape),
            np.broadcast_to(np.cos(angle), values.shape),
        ]
        names = [
            "rel_trailing_median",
            "change_3",
            "robust_deviation",
            "season_sin",
            "season_cos",
        ]
    cube = np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=2)
    cube[np.isnan(values)] = np.nan
    logger.debug("features %s for %d x %d cells", names, n_series, n_periods)
    return cube, names


class _RollingModelDetector(Detector):
    """Shared causal retraining loop; subclasses build the sklearn model."""

    retrospective: ClassVar[bool] = False

    # set by subclasses' __init__
    train_window: int
    retrain_every: int
    features: str
    random_state: int | None
    threshold: float | None
    min_train_rows: int

    def _threshold(self) -> float:
        if self.threshold is not None:
            value = float(self.threshold)
            if not 0 < value < 1:
                raise ParameterError(
                    f"{self.name}: threshold must be between 0 and 1 (a training quantile), "
                    f"got {self.threshold!r}"
                )
            return value
        contamination = getattr(self, "contamination", "auto")
        if contamination == "auto":
            return 0.99
        return 1.0 - float(contamination)

    def _validate(self) -> None:
        for name, minimum in (("train_window", 2), ("retrain_every", 1), ("min_train_rows", 2)):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or value < minimum
            ):
                raise ParameterError(
                    f"{self.name}: {name} must be an integer >= {minimum}, got {value!r}"
                )
        self._threshold()

    def _make_model(self, n_rows: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _prepare(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return train, test

    def _workers(self) -> int:
        """Threads that train and score retraining blocks at once (``n_jobs``; 1 without)."""
        jobs = getattr(self, "n_jobs", 1)
        return (os.cpu_count() or 1) if jobs == -1 else max(int(jobs), 1)

    def _blocks(
        self,
        cube: np.ndarray,
        valid: np.ndarray,
        start: int,
        n_periods: int,
        rng: np.random.Generator,
    ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
        """Each retraining block's periods, test cells and (prepared) train and test rows.

        In block order, so the training subsample draws from ``rng`` the same
        way however many threads then train the models.
        """
        for block in range(start, n_periods, int(self.retrain_every)):
            lo = max(0, block - int(self.train_window))
            train_mask = valid[:, lo:block]
            train = cube[:, lo:block][train_mask]
            end = min(n_periods, block + int(self.retrain_every))
            test_mask = valid[:, block:end]
            if not test_mask.any() or len(train) < self.min_train_rows:
                continue
            # canonical order: independent of the order of the series
            order = np.lexsort(train.T[::-1])
            train = train[order]
            if len(train) > MAX_TRAIN_ROWS:
                keep = np.sort(rng.choice(len(train), MAX_TRAIN_ROWS, replace=False))
                train = train[keep]
            test = cube[:, block:end][test_mask]
            train_x, test_x = self._prepare(train, test)
            yield block, end, test_mask, train_x, test_x

    def _score_block(self, train_x: np.ndarray, test_x: np.ndarray) -> np.ndarray:
        """Train one model; a test row's score: the share of training rows less anomalous."""
        model = self._make_model(len(train_x))
        model.fit(train_x)
        train_raw = -model.score_samples(train_x)
        test_raw = -model.score_samples(test_x)
        ref = np.sort(train_raw)
        # fraction of training rows strictly less anomalous; a tolerance so
        # that float noise between identical rows does not count
        tol = 1e-12 * np.maximum(1.0, np.abs(test_raw))
        below = np.searchsorted(ref, test_raw - tol, side="left")
        return below / len(ref)

    def fit(self, panel: Panel) -> Any:
        """Check the parameters; the models are trained causally inside :meth:`detect`."""
        self._validate()
        self.n_series_ = panel.n_series
        return self

    def detect(self, panel: Panel) -> Scores:
        """Retrain on rolling windows of pooled past rows and score the periods after each."""
        self._validate()
        threshold = self._threshold()
        values = panel.matrix().values
        n_periods = values.shape[1]
        scores = Scores.empty(values.shape, threshold)
        if values.size == 0:
            return scores
        cube, names = feature_cube(panel, self.features)
        valid = np.isfinite(cube).all(axis=2)
        rows_per_period = valid.sum(axis=0)
        cumulative = np.concatenate([[0], np.cumsum(rows_per_period)])
        rng = np.random.default_rng(self.random_state)
        score = np.full(values.shape, np.nan)
        n_models = 0
        start = None
        for t in range(n_periods):
            lo = max(0, t - int(self.train_window))
            if cumulative[t] - cumulative[lo] >= self.min_train_rows:
                start = t
                break
        if start is not None:
            jobs = self._blocks(cube, valid, start, n_periods, rng)
            workers = self._workers()
            with warnings.catch_warnings(), contextlib.ExitStack() as stack:
                warnings.simplefilter("ignore", UserWarning)  # once, for every thread
                run: Any = map
                if workers > 1:
                    run = stack.enter_context(ThreadPoolExecutor(max_workers=workers)).map
                # waves of a few blocks per worker: the blocks' rows are not all held at once
                wave: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]] = []
                for job in itertools.chain(jobs, [None]):
                    if job is not None:
                        wave.append(job)
                    if wave and (job is None or len(wave) >= 4 * workers):
                        scored = run(self._score_block, [j[3] for j in wave], [j[4] for j in wave])
                        for (block, end, test_mask, _, _), block_values in zip(
                            wave, scored, strict=True
                        ):
                            block_score = np.full(test_mask.shape, np.nan)
                            block_score[test_mask] = block_values
                            score[:, block:end] = block_score
                            n_models += 1
                        wave = []
        self.n_models_ = n_models
        self.feature_names_ = names
        values_baseline = trailing_window_stat(values, max(int(FREQUENCIES[panel.freq][2]), 6))
        scored = ~np.isnan(score)
        direction = _robust_deviation(values, max(int(FREQUENCIES[panel.freq][2]), 6))
        scores.score = score
        scores.z = np.where(scored, direction, np.nan)
        scores.baseline = np.where(scored, values_baseline, np.nan)
        scores.flag = scored & (score > threshold)
        logger.debug("%s: %d models, %d flagged", self.name, n_models, int(scores.flag.sum()))
        return scores


class IsolationForestDetector(_RollingModelDetector):
    """Isolation Forest on seed 001's feature vector, retrained causally (``isolation-forest``).

    Parameters
    ----------
    n_estimators : int, default 200
        Trees per forest.
    contamination : "auto" or float, default "auto"
        With ``threshold=None`` a number sets the flag threshold to
        ``1 - contamination`` (the seed's expected anomaly share); ``"auto"``
        means 0.99.
    train_window : int, default 90
        Periods of pooled history each model is trained on.
    retrain_every : int, default 7
        Periods each model scores before the next retraining.
    features : {"auto", "seed", "engineered"}, default "auto"
        See the module docstring.
    random_state : int or None, default 42
        Seeds the forest (and the training subsample); fixed -> deterministic.
    threshold : float or None, default None
        Flag when the calibrated score (a training quantile) is above it.
    min_train_rows : int, default 64
        Pooled rows needed before the first model is trained.
    n_jobs : int, default -1
        Threads that train and score retraining blocks at once (-1: one per
        core). The result does not depend on it.

    Examples
    --------
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> values = 100 * (1 + 0.02 * rng.standard_normal((3, 120)))
    >>> values[0, 100] = 40.0
    >>> frame = pd.DataFrame({"id": np.repeat(["a", "b", "c"], 120),
    ...                       "period": np.tile(pd.date_range("2024-01-01", periods=120), 3),
    ...                       "value": values.ravel()})
    >>> panel = Panel.from_frame(frame, id_columns=["id"], freq="daily")
    >>> det = IsolationForestDetector(n_estimators=50, retrain_every=30)
    >>> scores = det.fit_detect(panel)
    >>> bool(scores.score[0, 100] > 0.99), bool(scores.flag[0, 100])
    (True, True)
    """

    name: ClassVar[str] = "isolation-forest"
    complexity: ClassVar[str] = "Medium (tree ensemble, features)"
    retrain_days: ClassVar[tuple[float, float | None] | None] = (7.0, 90.0)

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        contamination: Literal["auto"] | float = "auto",
        train_window: int = 90,
        retrain_every: int = 7,
        features: str = "auto",
        random_state: int | None = 42,
        threshold: float | None = None,
        min_train_rows: int = 64,
        n_jobs: int = -1,
    ) -> None:
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.train_window = train_window
        self.retrain_every = retrain_every
        self.features = features
        self.random_state = random_state
        self.threshold = threshold
        self.min_train_rows = min_train_rows
        self.n_jobs = n_jobs

    def _validate(self) -> None:
        super()._validate()
        jobs = self.n_jobs
        if isinstance(jobs, bool) or not isinstance(jobs, int) or not (jobs == -1 or jobs >= 1):
            raise ParameterError(
                f"isolation-forest: n_jobs must be -1 (all cores) or an integer >= 1, got {jobs!r}"
            )
        if self.contamination != "auto":
            try:
                share = float(self.contamination)
            except (TypeError, ValueError):
                share = float("nan")
            if not 0 < share <= 0.5:
                raise ParameterError(
                    f"isolation-forest: contamination must be 'auto' or in (0, 0.5], "
                    f"got {self.contamination!r}"
                )

    def _make_model(self, n_rows: int) -> Any:
        from sklearn.ensemble import IsolationForest

        return IsolationForest(
            n_estimators=int(self.n_estimators),
            contamination=self.contamination,
            random_state=self.random_state,
        )


class LOFDetector(_RollingModelDetector):
    """Local Outlier Factor (``novelty=True``) on the same features, trained causally (``lof``).

    Features are centred on the training rows' median and divided by their
    ``1.4826 * MAD`` (1 where that is 0) before distances are taken; the raw
    score is the local outlier factor, calibrated like Isolation Forest's.

    Parameters
    ----------
    n_neighbors : int, default 20
    train_window, retrain_every, features, threshold, min_train_rows
        As :class:`IsolationForestDetector`.
    random_state : int or None, default 42
        Seeds the training subsample when a window exceeds :data:`MAX_TRAIN_ROWS`.
    """

    name: ClassVar[str] = "lof"
    complexity: ClassVar[str] = "Medium (distance calculations)"

    def __init__(
        self,
        *,
        n_neighbors: int = 20,
        train_window: int = 90,
        retrain_every: int = 7,
        features: str = "auto",
        random_state: int | None = 42,
        threshold: float | None = None,
        min_train_rows: int = 64,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.train_window = train_window
        self.retrain_every = retrain_every
        self.features = features
        self.random_state = random_state
        self.threshold = threshold
        self.min_train_rows = min_train_rows

    @staticmethod
    def _prepare(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        center = np.median(train, axis=0)
        spread = _MAD_TO_SIGMA * np.median(np.abs(train - center), axis=0)
        spread = np.where(spread > 0, spread, 1.0)
        return (train - center) / spread, (test - center) / spread

    def _make_model(self, n_rows: int) -> Any:
        from sklearn.neighbors import LocalOutlierFactor

        return LocalOutlierFactor(n_neighbors=min(int(self.n_neighbors), n_rows - 1), novelty=True)


class DBSCANRetro(Detector):
    """Seed 003's DBSCAN-like clustering row, per series (``dbscan-retro``, retrospective).

    The seed marks a point as an anomaly when fewer than ``min_samples`` points
    (itself included) lie within ``eps`` of it. Here the points are each
    series' own values over its **whole** history (hence retrospective), in
    robust units ``(x - median) / (1.4826 * MAD)`` so that one ``eps`` fits
    every series and scaling changes nothing. The seed's ``eps=1500`` units on
    the smartphone data are about 0.8 robust units of a typical series there.

    ``score`` is the distance to the ``min_samples - 1``-th nearest other
    point divided by ``eps``; a cell is flagged when ``score > 1``, which is
    exactly the seed's "fewer than ``min_samples`` neighbours" rule. A series
    with a zero MAD uses ``1.4826 * mean absolute deviation``; a constant
    series scores 0.

    Parameters
    ----------
    eps : float, default 0.8
        Neighbourhood radius in robust units.
    min_samples : int, default 5
        Points needed within ``eps`` (the point itself included).

    Examples
    --------
    >>> import pandas as pd
    >>> values = [10.0, 11, 10, 12, 11, 10, 11, 12, 10, 11, 30, 11]
    >>> frame = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=12, freq="MS"),
    ...                       "value": values})
    >>> panel = Panel.from_frame(frame, id_columns=[], freq="monthly")
    >>> np.flatnonzero(DBSCANRetro().fit_detect(panel).flag[0]).tolist()
    [10]
    """

    name: ClassVar[str] = "dbscan-retro"
    complexity: ClassVar[str] = "Medium (distance calculations)"
    retrospective: ClassVar[bool] = True

    def __init__(self, *, eps: float = 0.8, min_samples: int = 5) -> None:
        self.eps = eps
        self.min_samples = min_samples

    def _validate(self) -> None:
        try:
            eps = float(self.eps)
        except (TypeError, ValueError):
            eps = float("nan")
        if not np.isfinite(eps) or eps <= 0:
            raise ParameterError(f"dbscan-retro: eps must be a positive number, got {self.eps!r}")
        value = self.min_samples
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
            raise ParameterError(
                f"dbscan-retro: min_samples must be an integer >= 2, got {value!r}"
            )

    def fit(self, panel: Panel) -> DBSCANRetro:
        """Check the parameters (nothing is learned before :meth:`detect`)."""
        self._validate()
        self.n_series_ = panel.n_series
        return self

    def detect(self, panel: Panel) -> Scores:
        """Score each cell by its isolation among its series' values."""
        self._validate()
        eps = float(self.eps)
        k = int(self.min_samples) - 1
        values = panel.matrix().values
        n_series, n_periods = values.shape
        scores = Scores.empty(values.shape, 1.0)
        scores.retrospective = True
        if values.size == 0:
            return scores
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(values, axis=1, keepdims=True)
            mad = np.nanmedian(np.abs(values - median), axis=1, keepdims=True)
            mean_ad = np.nanmean(np.abs(values - median), axis=1, keepdims=True)
        scale = _MAD_TO_SIGMA * np.where(mad > 0, mad, mean_ad)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(scale > 0, (values - median) / scale, 0.0)
        u[np.isnan(values)] = np.nan
        # 1-D: the k nearest others of a point are among the k on either side in sorted order
        order = np.argsort(u, axis=1, kind="stable")  # NaN last
        ordered = np.take_along_axis(u, order, axis=1)
        count = np.count_nonzero(~np.isnan(u), axis=1)
        offsets = np.concatenate([np.arange(-k, 0), np.arange(1, k + 1)])
        pos = np.arange(n_periods)[None, :, None] + offsets[None, None, :]
        inside = (pos >= 0) & (pos < count[:, None, None])
        rows = np.arange(n_series)[:, None, None]
        neighbours = ordered[rows, np.clip(pos, 0, n_periods - 1)]
        dist = np.where(inside, np.abs(neighbours - ordered[:, :, None]), np.inf)
        kth = np.sort(dist, axis=2)[:, :, k - 1]
        sorted_score = kth / eps
        score_sorted = np.where(np.isnan(ordered), np.nan, sorted_score)
        score = np.empty_like(score_sorted)
        np.put_along_axis(score, order, score_sorted, axis=1)
        score[np.isinf(score)] = np.nan  # fewer than min_samples points in the series
        scored = ~np.isnan(score)
        scores.score = score
        scores.z = np.where(scored, u, np.nan)
        scores.baseline = np.where(scored, np.broadcast_to(median, values.shape), np.nan)
        band = eps * scale
        scores.lower = np.where(scored, np.broadcast_to(median - band, values.shape), np.nan)
        scores.upper = np.where(scored, np.broadcast_to(median + band, values.shape), np.nan)
        scores.flag = scored & (score > 1.0)
        return scores
