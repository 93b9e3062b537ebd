"""Detector lookup by name (``--method NAME``) and the methods' facts.

:data:`METHODS` maps a name to its class; everything else known about a method (whether it is
retrospective, its complexity, its retraining schedule, the optional extra it needs) is a tag on
the class (:class:`~revwatch.detectors.base.Detector`), read with :func:`method_tags`. The
comparison tables (:mod:`revwatch.evaluation`) and the monitor's health checks read the tags
through here, so each fact is written once, beside the code it describes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from revwatch.detectors.base import Detector
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["METHODS", "MethodTags", "detector_class", "get_detector", "method_names", "method_tags"]

#: Method name -> "module:Class". Modules are imported on first use so that an
#: optional extra (Prophet) is only needed when its method is asked for.
METHODS: dict[str, str] = {
    "auto": "revwatch.detectors.auto:AutoDetector",
    "peer": "revwatch.detectors.peer:PeerRelativeDetector",
    "seed-rolling": "revwatch.detectors.seed_rolling:SeedRollingZScore",
    "threshold": "revwatch.detectors.statistical:StaticThreshold",
    "rolling-zscore": "revwatch.detectors.statistical:RollingZScore",
    "rolling-iqr": "revwatch.detectors.statistical:RollingIQR",
    "naive-zscore": "revwatch.detectors.statistical:NaiveZScore",
    "naive-zscore-retro": "revwatch.detectors.statistical:NaiveZScoreRetro",
    "group-zscore": "revwatch.detectors.statistical:GroupZScore",
    "group-zscore-retro": "revwatch.detectors.statistical:GroupZScoreRetro",
    "seasonal-zscore": "revwatch.detectors.statistical:SeasonalZScore",
    "seasonal-zscore-retro": "revwatch.detectors.statistical:SeasonalZScoreRetro",
    "empirical-zscore": "revwatch.detectors.statistical:EmpiricalZScore",
    "empirical-zscore-retro": "revwatch.detectors.statistical:EmpiricalZScoreRetro",
    "log-zscore": "revwatch.detectors.statistical:LogZScore",
    "log-zscore-retro": "revwatch.detectors.statistical:LogZScoreRetro",
    "iqr": "revwatch.detectors.statistical:ExpandingIQR",
    "iqr-retro": "revwatch.detectors.statistical:IQRRetro",
    "isolation-forest": "revwatch.detectors.ml:IsolationForestDetector",
    "lof": "revwatch.detectors.ml:LOFDetector",
    "dbscan-retro": "revwatch.detectors.ml:DBSCANRetro",
    "stl": "revwatch.detectors.decomposition:STLDetector",
    "prophet": "revwatch.detectors.prophet:ProphetDetector",
    "ensemble": "revwatch.detectors.ensemble:FastEnsemble",
    "seed-ensemble": "revwatch.detectors.ensemble:SeedEnsemble",
}


def method_names() -> list[str]:
    """All method names, sorted."""
    return sorted(METHODS)


@dataclass(frozen=True)
class MethodTags:
    """The facts of one method, as tagged on its detector class.

    Attributes
    ----------
    name : str
        The method's name (``--method``).
    retrospective : bool
        Judges a period with data after it.
    complexity : str
        Short description of its cost (the comparison tables' ``complexity``).
    retrain_days : (float, float or None) or None
        Seed 001's schedule: refit every N days, training window in days.
    extra : str or None
        The optional extra it needs (``pip install 'revwatch[EXTRA]'``).
    """

    name: str
    retrospective: bool
    complexity: str
    retrain_days: tuple[float, float | None] | None
    extra: str | None


def _unknown(method: str) -> ParameterError:
    return ParameterError(f"unknown method {method!r}; choose one of: {', '.join(method_names())}")


def detector_class(method: str) -> type[Detector]:
    """The detector class of a method name (its module imported on first use).

    Importing a detector's module never needs its optional extra (Prophet is imported when the
    method fits), so the class and its tags are there without it.

    Examples
    --------
    >>> detector_class("rolling-iqr").__name__
    'RollingIQR'
    """
    target = METHODS.get(method)
    if target is None:
        raise _unknown(method)
    module_name, class_name = target.split(":")
    cls: type[Detector] = getattr(import_module(module_name), class_name)
    return cls


def method_tags(method: str | Detector | type[Detector]) -> MethodTags:
    """The facts of a method (a name, a detector or its class), read from the class's tags.

    Examples
    --------
    >>> tags = method_tags("isolation-forest")
    >>> tags.retrospective, tags.retrain_days, tags.extra
    (False, (7.0, 90.0), None)
    >>> method_tags("prophet").extra
    'prophet'
    """
    if isinstance(method, str):
        cls = detector_class(method)
        name = method
    else:
        cls = method if isinstance(method, type) else type(method)
        name = cls.name
    return MethodTags(
        name=name,
        retrospective=bool(cls.retrospective),
        complexity=cls.complexity,
        retrain_days=cls.retrain_days,
        extra=cls.extra,
    )


def get_detector(method: str | Detector = "auto", **params: Any) -> Detector:
    """Return a detector instance for a method name (or pass one through).

    Parameters
    ----------
    method : str or Detector
        A name from :data:`METHODS`, or a detector instance.
    **params
        Parameters for the detector; unknown names raise ``ParameterError``.

    Examples
    --------
    >>> get_detector("seed-rolling", window=6).window
    6
    """
    if isinstance(method, Detector):
        return method.set_params(**params) if params else method
    detector = detector_class(method)()
    return detector.set_params(**params) if params else detector
