"""Loading and validating revenue data into the canonical :class:`Panel`."""

from revwatch.data.panel import FREQUENCIES, Panel, PanelMatrix, period_ordinals

__all__ = ["FREQUENCIES", "Panel", "PanelMatrix", "period_ordinals"]
