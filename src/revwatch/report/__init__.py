"""Render detection results: a terminal table, CSV/JSON/Markdown files and charts.

Inputs are plain DataFrames, so this package does not depend on the detectors.

The **results frame** (what :mod:`revwatch.detectors` returns, most severe first)
has the id columns, ``period``, ``value``, ``baseline``, ``pct_vs_baseline``,
``score``, ``type``, ``direction``, ``severity``, ``impact`` and optionally
``provisional``, ``detected_period`` and ``method``.

The **series frame** (for charts) has every row of every series: the id
columns, ``period``, ``value``, ``baseline``, ``lower``, ``upper``, ``type``,
``severity`` and optionally ``provisional``.

The chart functions are imported on first use, so that the command line does
not pay for importing matplotlib when it only prints a table.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from revwatch.report.formats import FORMATS, write_results
from revwatch.report.terminal import format_period, render_table

if TYPE_CHECKING:
    from revwatch.report.chart import plot_series, plot_top_series

logger = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "format_period",
    "plot_series",
    "plot_top_series",
    "render_table",
    "write_results",
]

_LAZY = {"plot_series": "revwatch.report.chart", "plot_top_series": "revwatch.report.chart"}


def __getattr__(name: str) -> Any:
    """Import the chart functions on first access (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
