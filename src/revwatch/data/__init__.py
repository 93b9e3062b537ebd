"""Loading and validating revenue data into the canonical :class:`Panel`."""

from revwatch.data.load import AGGREGATES, from_frame, load, read_table
from revwatch.data.panel import FREQUENCIES, Panel, PanelMatrix, period_ordinals

__all__ = [
    "AGGREGATES",
    "FREQUENCIES",
    "Panel",
    "PanelMatrix",
    "from_frame",
    "load",
    "period_ordinals",
    "read_table",
]
