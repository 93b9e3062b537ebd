"""Weighted ensembles of detectors: seed 001's IF + Prophet, and any others.

``score = sum_i w_i * n_i(score_i) / sum_i w_i`` where ``n_i`` maps member
``i``'s score to [0, 1] **causally**, per series, using only that series'
earlier scores of the same member:

* ``"minmax"``: ``(s - min) / (max - min)`` over the series' scores before
  the period, clipped to [0, 1] (a new maximum scores 1; a constant past
  scores 0 when ``s`` equals it and 1 otherwise). The seed min-max scaled over
  the whole column, which looks ahead; this is its causal form.
* ``"rank"``: the fraction of the series' earlier scores strictly below ``s``.
* ``"clip"``: ``min(max(s, 0), 1)`` for scores already on [0, 1] (the seed's
  Prophet score ``clip(|y - yhat| / half band, 0, 1)``).

A cell is scored when every member scored it and the member has at least one
earlier score in that series (``minmax``/``rank``); it is flagged when the
combined score is above ``threshold``. The ensemble is retrospective if any
member is.

Registered names:

* ``seed-ensemble``: seed 001 exactly: ``0.45 * isolation-forest`` (causal
  min-max) ``+ 0.55 * prophet`` (``score="band_ratio"``, clipped), flag above
  0.65. Needs the ``prophet`` extra.
* ``ensemble``: the same weights and threshold with the fast ``stl``
  decomposition in Prophet's place (its robust z divided by 2 x its threshold,
  clipped: 1 at twice the flag level), so it runs without optional extras.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from revwatch.data.panel import Panel
from revwatch.detectors.base import Detector, Scores
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["FastEnsemble", "SeedEnsemble", "WeightedEnsemble", "normalise_causal"]

_NORMALISERS = ("minmax", "rank", "clip")

Member = str | Detector | tuple[str, Mapping[str, Any] | Sequence[tuple[str, Any]]]


def normalise_causal(score: np.ndarray, how: str) -> np.ndarray:
    """Map each series' scores to [0, 1] with only its earlier scores.

    Parameters
    ----------
    score : ndarray, shape (n_series, n_periods)
        NaN where not scored.
    how : {"minmax", "rank", "clip"}

    Examples
    --------
    >>> s = np.array([[1.0, 3.0, 2.0, np.nan, 5.0]])
    >>> normalise_causal(s, "minmax").tolist()
    [[nan, 1.0, 0.5, nan, 1.0]]
    >>> normalise_causal(s, "rank").tolist()
    [[nan, 1.0, 0.5, nan, 1.0]]
    """
    if how == "clip":
        return np.clip(score, 0.0, 1.0)
    n_periods = score.shape[1]
    out = np.full(score.shape, np.nan)
    if how == "minmax":
        low = np.where(np.isnan(score), np.inf, score)
        high = np.where(np.isnan(score), -np.inf, score)
        past_low = np.full(score.shape, np.inf)
        past_high = np.full(score.shape, -np.inf)
        if n_periods > 1:
            past_low[:, 1:] = np.minimum.accumulate(low, axis=1)[:, :-1]
            past_high[:, 1:] = np.maximum.accumulate(high, axis=1)[:, :-1]
        span = past_high - past_low
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = (score - past_low) / span
        constant = np.where(
            np.abs(score - past_high) <= 1e-12 * np.maximum(1.0, np.abs(score)), 0.0, 1.0
        )
        scaled = np.where(span == 0, np.where(score > past_high, 1.0, constant), scaled)
        out = np.clip(scaled, 0.0, 1.0)
        out[np.isinf(past_low) | np.isnan(score)] = np.nan
        return out
    if how == "rank":
        # loop over time steps, vectorized over series
        for t in range(1, n_periods):
            past = score[:, :t]
            count = np.count_nonzero(~np.isnan(past), axis=1)
            with np.errstate(invalid="ignore"):
                below = np.sum(past < score[:, t : t + 1], axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, t] = np.where(count > 0, below / count, np.nan)
        out[np.isnan(score)] = np.nan
        return out
    raise ParameterError(f"normalise must be one of {', '.join(_NORMALISERS)}, got {how!r}")


class WeightedEnsemble(Detector):
    """Weighted average of causally normalised member scores.

    Parameters
    ----------
    detectors : sequence of str, Detector or (name, params) pairs
        Members: registered names, detector instances, or ``(name, {param:
        value})``.
    weights : sequence of float
        One non-negative weight per member (normalised to sum 1).
    threshold : float, default 0.65
        Flag when the combined score is above it.
    normalise : str or sequence of str, default "minmax"
        ``"minmax"``, ``"rank"`` or ``"clip"``, for all members or one each.

    Examples
    --------
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> values = 100 * (1 + 0.02 * rng.standard_normal(60))
    >>> values[50] = 60.0
    >>> frame = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=60, freq="D"),
    ...                       "value": values})
    >>> panel = Panel.from_frame(frame, id_columns=[], freq="daily")
    >>> ens = WeightedEnsemble(detectors=("rolling-zscore", "stl"), weights=(1, 1),
    ...                        normalise=("minmax", "minmax"))
    >>> bool(ens.fit_detect(panel).flag[0, 50])
    True
    """

    name: ClassVar[str] = "weighted-ensemble"
    complexity: ClassVar[str] = "Medium-high (weighted detectors)"
    retrospective: ClassVar[bool] = False

    def __init__(
        self,
        *,
        detectors: Sequence[Member] = ("isolation-forest", "prophet"),
        weights: Sequence[float] = (0.45, 0.55),
        threshold: float = 0.65,
        normalise: str | Sequence[str] = "minmax",
    ) -> None:
        self.detectors = detectors
        self.weights = weights
        self.threshold = threshold
        self.normalise = normalise

    def _members(self) -> list[Detector]:
        from revwatch.detectors.registry import get_detector

        members: list[Detector] = []
        for item in self.detectors:
            if isinstance(item, Detector):
                members.append(item)
            elif isinstance(item, str):
                members.append(get_detector(item))
            elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                members.append(get_detector(item[0], **dict(item[1])))
            else:
                raise ParameterError(
                    f"{self.name}: a member must be a method name, a detector or "
                    f"(name, params), got {item!r}"
                )
        return members

    def _plan(self) -> tuple[np.ndarray, list[str]]:
        n = len(self.detectors)
        if n == 0:
            raise ParameterError(f"{self.name}: detectors is empty; name at least one method")
        weights = np.asarray(list(self.weights), dtype=np.float64)
        if weights.shape != (n,) or not np.all(np.isfinite(weights)) or (weights < 0).any():
            raise ParameterError(
                f"{self.name}: weights must be {n} non-negative numbers "
                f"(one per detector), got {self.weights!r}"
            )
        if weights.sum() <= 0:
            raise ParameterError(f"{self.name}: weights must not all be zero")
        how = [self.normalise] * n if isinstance(self.normalise, str) else list(self.normalise)
        if len(how) != n or any(h not in _NORMALISERS for h in how):
            raise ParameterError(
                f"{self.name}: normalise must be one of {', '.join(_NORMALISERS)} "
                f"or one per detector, got {self.normalise!r}"
            )
        return weights / weights.sum(), how

    def fit(self, panel: Panel) -> WeightedEnsemble:
        """Fit every member on the panel."""
        weights, _ = self._plan()
        self.members_ = [m.fit(panel) for m in self._members()]
        self.weights_ = weights
        self.n_series_ = panel.n_series
        return self

    def detect(self, panel: Panel) -> Scores:
        """Combine the members' causally normalised scores."""
        weights, how = self._plan()
        members = getattr(self, "members_", None) or [m.fit(panel) for m in self._members()]
        values = panel.matrix().values
        threshold = float(self.threshold)
        scores = Scores.empty(values.shape, threshold)
        total = np.zeros(values.shape)
        parts: dict[str, np.ndarray] = {}
        retrospective = False
        first: Scores | None = None
        for i, (member, weight, norm) in enumerate(zip(members, weights, how, strict=True)):
            result = member.detect(panel)
            retrospective |= bool(result.retrospective or member.retrospective)
            raw = result.score
            if norm == "clip" and getattr(member, "name", "") == "stl":
                raw = raw / (2.0 * float(result.threshold))
            part = normalise_causal(raw, norm)
            parts[f"member_{i}_{member.name}"] = part
            total = total + weight * part
            first = first or result
        scored = ~np.isnan(total) & ~np.isnan(values)
        scores.score = np.where(scored, total, np.nan)
        if first is not None:
            scores.z = np.where(scored, first.z, np.nan)
            scores.baseline = np.where(scored, first.baseline, np.nan)
            scores.lower = np.where(scored, first.lower, np.nan)
            scores.upper = np.where(scored, first.upper, np.nan)
        scores.flag = scored & (scores.score > threshold)
        scores.retrospective = retrospective
        scores.extra = parts
        return scores


class SeedEnsemble(WeightedEnsemble):
    """Seed 001's ensemble: 0.45 x Isolation Forest + 0.55 x Prophet, flag above 0.65.

    Isolation Forest's score is min-max scaled (causally), Prophet's is the
    seed's ``clip(|y - yhat| / half 95% band, 0, 1)``. Needs ``revwatch[prophet]``.
    """

    name: ClassVar[str] = "seed-ensemble"
    complexity: ClassVar[str] = "High (IF + Prophet)"
    extra: ClassVar[str | None] = "prophet"

    def __init__(
        self,
        *,
        detectors: Sequence[Member] = (
            "isolation-forest",
            ("prophet", (("score", "band_ratio"),)),
        ),
        weights: Sequence[float] = (0.45, 0.55),
        threshold: float = 0.65,
        normalise: str | Sequence[str] = ("minmax", "clip"),
    ) -> None:
        super().__init__(
            detectors=detectors, weights=weights, threshold=threshold, normalise=normalise
        )

    def fit(self, panel: Panel) -> SeedEnsemble:
        """Fit the members; raises ``MissingDependencyError`` without Prophet."""
        from revwatch.detectors.prophet import import_prophet

        import_prophet()
        super().fit(panel)
        return self


class FastEnsemble(WeightedEnsemble):
    """The seed's weights and threshold with ``stl`` in Prophet's place (``ensemble``).

    Runs without optional extras. STL's robust z is divided by twice its
    threshold and clipped to [0, 1] (``normalise="clip"``), the analogue of the
    seed's clipped band ratio; Isolation Forest is min-max scaled causally.
    """

    name: ClassVar[str] = "ensemble"
    complexity: ClassVar[str] = "Medium (IF + STL, seed weights)"

    def __init__(
        self,
        *,
        detectors: Sequence[Member] = ("isolation-forest", "stl"),
        weights: Sequence[float] = (0.45, 0.55),
        threshold: float = 0.65,
        normalise: str | Sequence[str] = ("minmax", "clip"),
    ) -> None:
        super().__init__(
            detectors=detectors, weights=weights, threshold=threshold, normalise=normalise
        )
