"""Detector lookup by name (``--method NAME``)."""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from revwatch.detectors.base import Detector
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["METHODS", "get_detector", "method_names"]

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
    target = METHODS.get(method)
    if target is None:
        raise ParameterError(
            f"unknown method {method!r}; choose one of: {', '.join(method_names())}"
        )
    module_name, class_name = target.split(":")
    cls = getattr(import_module(module_name), class_name)
    detector: Detector = cls()
    return detector.set_params(**params) if params else detector
