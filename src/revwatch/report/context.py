"""The series around a stored incident, as a frame the charts and the pages read.

The monitor stores, with each incident, the last periods of its series up to the incident's
end (its ``context``). :func:`context_frame` turns that into the series frame of
:func:`revwatch.report.chart.plot_series`; it needs pandas only, so the web pages use it without
importing matplotlib.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["context_frame"]


def context_frame(incident: dict[str, Any]) -> pd.DataFrame:
    """The series around an incident as a frame for :func:`~revwatch.report.plot_series`.

    The monitor stores, with each incident, the last periods of its series up
    to the incident's end: ``[period, value, baseline, lower, upper]`` rows
    (or a dict with those rows under ``"series"``). Periods inside the
    incident span get the incident's ``type``, the others ``normal``.

    Examples
    --------
    >>> import datetime as dt
    >>> inc = {"type": "drop", "start_period": dt.datetime(2026, 2, 1),
    ...        "end_period": dt.datetime(2026, 2, 1),
    ...        "context": [["2026-01-01T00:00:00", 10.0, 10.0, 8.0, 12.0],
    ...                    ["2026-02-01T00:00:00", 4.0, 10.0, 8.0, 12.0]]}
    >>> context_frame(inc)[["value", "type"]].values.tolist()
    [[10.0, 'normal'], [4.0, 'drop']]
    """
    context = incident.get("context")
    if isinstance(context, dict):
        context = context.get("series")
    columns = ["period", "value", "baseline", "lower", "upper"]
    if not context:
        return pd.DataFrame(columns=[*columns, "type", "severity"])
    frame = pd.DataFrame([list(r)[:5] for r in context], columns=columns)
    frame["period"] = pd.to_datetime(frame["period"])
    for column in columns[1:]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    inside = (frame["period"] >= pd.Timestamp(incident["start_period"])) & (
        frame["period"] <= pd.Timestamp(incident["end_period"])
    )
    frame["type"] = np.where(inside, str(incident.get("type", "anomaly")), "normal")
    frame["severity"] = np.where(inside, float(incident.get("severity") or np.nan), np.nan)
    return frame
