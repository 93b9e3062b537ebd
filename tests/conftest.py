"""Shared fixtures: small panels built from plain frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revwatch.data.panel import Panel


def make_panel(values: dict[str, list[float]] | np.ndarray, freq: str = "monthly") -> Panel:
    """A panel from {series: values} (or a 2-D array), monthly from 2024-01 by default."""
    if isinstance(values, np.ndarray):
        values = {f"s{i:04d}": list(row) for i, row in enumerate(values)}
    alias = {"monthly": "MS", "daily": "D", "weekly": "7D", "hourly": "h"}[freq]
    parts = []
    for key, series in values.items():
        periods = pd.date_range("2024-01-01", periods=len(series), freq=alias)
        parts.append(pd.DataFrame({"id": key, "period": periods, "value": series}))
    frame = pd.concat(parts, ignore_index=True)
    frame["value"] = frame["value"].astype(float)
    return Panel.from_frame(frame, id_columns=["id"], freq=freq)


@pytest.fixture
def noisy_panel() -> Panel:
    """Twenty noisy monthly series with one spike and one step among them."""
    rng = np.random.default_rng(7)
    base = rng.uniform(1_000, 50_000, size=(20, 1))
    values = base * (1 + 0.03 * rng.standard_normal((20, 24)))
    values[3, 15] *= 2.5
    values[5, 18:] *= 0.4
    return make_panel(values)
