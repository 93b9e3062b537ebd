"""Colours and labels shared by the terminal table and the charts.

Kept free of matplotlib and rich imports so that both writers can use it
without paying for the other's import.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

__all__ = ["DOWN_COLOR", "TYPE_COLORS", "TYPE_MARKERS", "UP_COLOR", "type_color"]

#: One colour per anomaly type (colour-blind friendly, legible on light and dark).
TYPE_COLORS: dict[str, str] = {
    "normal": "#8c8c8c",
    "spike": "#f28e2b",
    "drop": "#e15759",
    "level_shift": "#b07aa1",
    "trend_change": "#d4a017",
    "seasonal_shift": "#17a2b8",
}

#: One marker shape per anomaly type, so the chart does not rely on colour alone.
TYPE_MARKERS: dict[str, str] = {
    "normal": "o",
    "spike": "^",
    "drop": "v",
    "level_shift": "s",
    "trend_change": "D",
    "seasonal_shift": "P",
}

UP_COLOR = "#2ca02c"
DOWN_COLOR = "#e15759"

_FALLBACK_COLOR = "#7f7f7f"


def type_color(kind: str) -> str:
    """Return the colour of an anomaly type (grey for unknown types).

    Parameters
    ----------
    kind : str
        An anomaly type such as ``"spike"``.

    Returns
    -------
    str
        A ``#rrggbb`` colour.

    Examples
    --------
    >>> type_color("drop")
    '#e15759'
    >>> type_color("something_else")
    '#7f7f7f'
    """
    return TYPE_COLORS.get(kind, _FALLBACK_COLOR)
