"""Detectors: each scores every row of a panel against that series' own past.

The package is also callable: ``revwatch.detect(frame, id=..., time=...,
value=...)`` is :func:`revwatch.api.detect`, so the one-line API the README
shows and the detectors' package share the natural name.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from revwatch.detect.base import TYPE_CODES, TYPE_NAMES, Detector, Scores
from revwatch.detect.registry import METHODS, get_detector, method_names

__all__ = [
    "METHODS",
    "TYPE_CODES",
    "TYPE_NAMES",
    "Detector",
    "Scores",
    "get_detector",
    "method_names",
]


class _CallableModule(types.ModuleType):
    """Module type whose call is :func:`revwatch.api.detect`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from revwatch.api import detect

        return detect(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
