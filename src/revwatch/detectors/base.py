"""The interface every detector shares.

Detectors are shaped like scikit-learn estimators: keyword-only parameters
stored as given, no logic in ``__init__``, :meth:`Detector.fit` returns
``self`` and learned state ends in ``_``. :meth:`Detector.detect` scores every
cell of a panel's dense ``(n_series, n_periods)`` matrix against that series'
own past, for all series at once, and returns :class:`Scores`.

A higher ``score`` always means more anomalous. The pipeline is split into
composable steps: score (the detector) -> calibrate (``score`` is on a
documented scale, for most detectors a robust z) -> threshold (``flag``) ->
suppress (detectors that track events clear flags that only continue an
already-reported event) -> classify (:mod:`revwatch.classify`).
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np

from revwatch.data.panel import Panel

logger = logging.getLogger(__name__)

__all__ = ["TYPE_CODES", "TYPE_NAMES", "Detector", "Scores"]

#: Anomaly types, indexed by their integer code in :attr:`Scores.kind`.
TYPE_NAMES: tuple[str, ...] = (
    "normal",
    "spike",
    "drop",
    "level_shift",
    "trend_change",
    "seasonal_shift",
)
TYPE_CODES: dict[str, int] = {name: code for code, name in enumerate(TYPE_NAMES)}


@dataclass
class Scores:
    """What a detector says about every cell of a ``(n_series, n_periods)`` matrix.

    All arrays have the matrix's shape. Cells that were not scored (missing
    value, not enough history) have ``score`` NaN and ``flag`` False.

    Attributes
    ----------
    score : ndarray of float64
        Anomaly score, >= 0, higher = more anomalous, on the detector's
        calibrated scale (see ``threshold``).
    z : ndarray of float64
        Signed deviation; its sign gives the direction (up > 0).
    baseline : ndarray of float64
        What the series was expected to be (the counterfactual).
    lower, upper : ndarray of float64
        The band of normal values around the baseline.
    flag : ndarray of bool
        Reported anomalies after thresholding and suppression.
    kind : ndarray of int8
        Anomaly type code (:data:`TYPE_CODES`); 0 where not flagged or where the
        detector does not type its flags (the classifier then uses direction).
    provisional : ndarray of bool
        True where the type can only be confirmed by later periods.
    severity : ndarray of float64 or None
        Detector-specific severity; None means ``score``.
    threshold : float
        The score at or above which a cell is flagged.
    retrospective : bool
        True if the detector used data after a period to judge it.
    """

    score: np.ndarray
    z: np.ndarray
    baseline: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    flag: np.ndarray
    kind: np.ndarray
    provisional: np.ndarray
    threshold: float
    severity: np.ndarray | None = None
    retrospective: bool = False
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def empty(cls, shape: tuple[int, int], threshold: float) -> Scores:
        """Scores with nothing scored, to fill in."""
        nan = np.full(shape, np.nan)
        return cls(
            score=nan.copy(),
            z=nan.copy(),
            baseline=nan.copy(),
            lower=nan.copy(),
            upper=nan.copy(),
            flag=np.zeros(shape, dtype=bool),
            kind=np.zeros(shape, dtype=np.int8),
            provisional=np.zeros(shape, dtype=bool),
            threshold=threshold,
        )


class Detector(ABC):
    """Base class of all detectors.

    Subclasses declare their parameters as keyword-only arguments of
    ``__init__`` and store them unchanged under the same names.
    """

    # The method's facts, as tags on the class (the one table of them: the registry's
    # :func:`~revwatch.detectors.registry.method_tags`, the comparison tables and the monitor's
    # health checks read them here).

    #: Name used by ``--method`` and :func:`revwatch.detect`.
    name: ClassVar[str] = ""
    #: True if the detector judges a period with data after it.
    retrospective: ClassVar[bool] = False
    #: Short description of the method's cost, for the comparison tables.
    complexity: ClassVar[str] = ""
    #: Seed 001's retraining schedule, ``(refit every N days, training window in days or
    #: None)``; None for a method that learns nothing between runs.
    retrain_days: ClassVar[tuple[float, float | None] | None] = None
    #: The optional extra the method needs (``pip install 'revwatch[EXTRA]'``), None for none.
    extra: ClassVar[str | None] = None

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters as given to ``__init__`` (scikit-learn convention).

        With ``deep``, a parameter that is itself a detector (``AutoDetector``'s ``robust``) also
        gives its own parameters as ``NAME__PARAM`` (``robust__threshold``).
        """
        sig = inspect.signature(type(self).__init__)
        params = {
            p: getattr(self, p)
            for p in sig.parameters
            if p != "self" and sig.parameters[p].kind is inspect.Parameter.KEYWORD_ONLY
        }
        if deep:
            for key, value in list(params.items()):
                if isinstance(value, Detector):
                    params.update({f"{key}__{k}": v for k, v in value.get_params().items()})
        return params

    def set_params(self, **params: Any) -> Self:
        """Set parameters by name, a nested detector's as ``NAME__PARAM`` (scikit-learn style).

        Unknown names raise ``ParameterError``.
        """
        from revwatch.errors import ParameterError

        valid = self.get_params(deep=False)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            head, _, sub = key.partition("__")
            if head not in valid:
                raise ParameterError(
                    f"method {self.name!r} has no parameter {key!r}; "
                    f"valid: {', '.join(self._param_names()) or 'none'}"
                )
            if sub:
                nested.setdefault(head, {})[sub] = value
            else:
                setattr(self, key, value)
        for head, sub_params in nested.items():
            inner = getattr(self, head)
            if not isinstance(inner, Detector):
                raise ParameterError(f"{head} is not a detector, so {head}__NAME cannot be set")
            inner.set_params(**sub_params)
        return self

    def settable_params(self) -> dict[str, Any]:
        """The names :meth:`set_params` (``-p NAME=VALUE``) accepts, with their current values.

        By default the parameters of ``__init__``; a method that also takes a nested
        detector's parameters under their own names (``auto``) lists those instead of the slot.

        Examples
        --------
        >>> from revwatch.detectors.registry import get_detector
        >>> get_detector("rolling-zscore").settable_params()
        {'window': 30, 'threshold': 3.0, 'min_periods': None}
        """
        return self.get_params(deep=False)

    def _param_names(self) -> list[str]:
        """The parameter names :meth:`set_params` accepts, for its error message."""
        return sorted(self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"

    def preload(self) -> None:
        """Load what the detector needs whatever the data (compiled code); default nothing.

        :func:`revwatch.analyze` runs it in a thread while the data loads.
        It must not raise: anything that fails here fails again, with its
        error, in :meth:`detect`.
        """
        return None

    def fit(self, panel: Panel) -> Self:
        """Learn from the panel's history; most rolling detectors learn nothing."""
        self.n_series_ = panel.n_series
        return self

    @abstractmethod
    def detect(self, panel: Panel) -> Scores:
        """Score every cell of the panel's value matrix."""

    def fit_detect(self, panel: Panel) -> Scores:
        """``fit`` then ``detect`` on the same panel."""
        return self.fit(panel).detect(panel)
