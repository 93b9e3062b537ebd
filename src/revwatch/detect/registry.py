"""Detector lookup by name (``--method NAME``)."""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from revwatch.detect.base import Detector
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["METHODS", "get_detector", "method_names"]

#: Method name -> "module:Class". Modules are imported on first use so that an
#: optional extra (Prophet) is only needed when its method is asked for.
METHODS: dict[str, str] = {
    "auto": "revwatch.detect.auto:AutoDetector",
    "peer": "revwatch.detect.peer:PeerRelativeDetector",
    "seed-rolling": "revwatch.detect.seed_rolling:SeedRollingZScore",
    "threshold": "revwatch.detect.statistical:StaticThreshold",
    "rolling-zscore": "revwatch.detect.statistical:RollingZScore",
    "rolling-iqr": "revwatch.detect.statistical:RollingIQR",
    "naive-zscore": "revwatch.detect.statistical:NaiveZScore",
    "naive-zscore-retro": "revwatch.detect.statistical:NaiveZScoreRetro",
    "group-zscore": "revwatch.detect.statistical:GroupZScore",
    "group-zscore-retro": "revwatch.detect.statistical:GroupZScoreRetro",
    "seasonal-zscore": "revwatch.detect.statistical:SeasonalZScore",
    "seasonal-zscore-retro": "revwatch.detect.statistical:SeasonalZScoreRetro",
    "empirical-zscore": "revwatch.detect.statistical:EmpiricalZScore",
    "empirical-zscore-retro": "revwatch.detect.statistical:EmpiricalZScoreRetro",
    "log-zscore": "revwatch.detect.statistical:LogZScore",
    "log-zscore-retro": "revwatch.detect.statistical:LogZScoreRetro",
    "iqr": "revwatch.detect.statistical:ExpandingIQR",
    "iqr-retro": "revwatch.detect.statistical:IQRRetro",
    "isolation-forest": "revwatch.detect.ml:IsolationForestDetector",
    "lof": "revwatch.detect.ml:LOFDetector",
    "dbscan-retro": "revwatch.detect.ml:DBSCANRetro",
    "stl": "revwatch.detect.decomposition:STLDetector",
    "prophet": "revwatch.detect.prophet:ProphetDetector",
    "ensemble": "revwatch.detect.ensemble:FastEnsemble",
    "seed-ensemble": "revwatch.detect.ensemble:SeedEnsemble",
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
