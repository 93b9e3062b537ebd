"""Detectors: each scores every row of a panel against that series' own past."""

from __future__ import annotations

from revwatch.detectors.base import TYPE_CODES, TYPE_NAMES, Detector, Scores
from revwatch.detectors.registry import (
    METHODS,
    MethodTags,
    detector_class,
    get_detector,
    method_names,
    method_tags,
)

__all__ = [
    "METHODS",
    "TYPE_CODES",
    "TYPE_NAMES",
    "Detector",
    "MethodTags",
    "Scores",
    "detector_class",
    "get_detector",
    "method_names",
    "method_tags",
]
