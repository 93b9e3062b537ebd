"""The public Python API: :func:`detect` and :func:`analyze`.

The command line is a thin layer over these functions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from revwatch.classify import results_frame, series_frame
from revwatch.data.load import from_frame, load
from revwatch.data.panel import Panel
from revwatch.detectors.base import Detector, Scores
from revwatch.detectors.registry import get_detector

logger = logging.getLogger(__name__)

__all__ = ["Detection", "analyze", "detect", "to_panel"]


@dataclass(frozen=True)
class Detection:
    """The outcome of running one method over a panel.

    Attributes
    ----------
    panel : Panel
        The validated input.
    detector : Detector
        The fitted detector.
    scores : Scores
        Its per-cell output.
    """

    panel: Panel
    detector: Detector
    scores: Scores

    @property
    def method(self) -> str:
        """The method's name."""
        return self.detector.name

    def results(self, *, all_rows: bool = False, details: bool = False) -> pd.DataFrame:
        """Flagged rows (or every row), most severe first; see :func:`detect`."""
        return results_frame(
            self.panel, self.scores, all_rows=all_rows, details=details, method=self.method
        )

    def series(self) -> pd.DataFrame:
        """Every row with its baseline band and type, for charts."""
        return series_frame(self.panel, self.scores)


def to_panel(
    data: Any,
    *,
    id: str | Sequence[str] | None = None,
    time: str | None = None,
    value: str | None = None,
    sql: str | None = None,
    aggregate: str | None = None,
    freq: str | None = None,
    sheet: str | int | None = None,
    metrics: Sequence[str] | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    skip_rows: int = 0,
    tz: str | None = None,
    date_format: str | None = None,
) -> Panel:
    """Turn a path, URL, pandas or polars frame, or a :class:`Panel` into a Panel.

    ``metrics`` names extra numeric columns to keep beside ``value``; ``decimal``,
    ``encoding`` and ``skip_rows`` are those of :func:`revwatch.load` (``decimal`` also
    applies to frames).
    """
    if isinstance(data, Panel):
        return data
    extra = list(metrics) if metrics else None
    if isinstance(data, str | Path):
        return load(
            data,
            id=id,
            time=time,
            value=value,
            sql=sql,
            aggregate=aggregate,
            freq=freq,
            sheet=sheet,
            metrics=extra,
            decimal=decimal,
            encoding=encoding,
            skip_rows=skip_rows,
            tz=tz,
            date_format=date_format,
        )
    return from_frame(
        data,
        id=id,
        time=time,
        value=value,
        aggregate=aggregate,
        freq=freq,
        metrics=extra,
        decimal=decimal,
        tz=tz,
        date_format=date_format,
    )


def analyze(
    data: Any,
    *,
    id: str | Sequence[str] | None = None,
    time: str | None = None,
    value: str | None = None,
    method: str | Detector = "auto",
    sql: str | None = None,
    aggregate: str | None = None,
    freq: str | None = None,
    sheet: str | int | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    skip_rows: int = 0,
    tz: str | None = None,
    date_format: str | None = None,
    **params: Any,
) -> Detection:
    """Load ``data``, run ``method`` over every series and keep everything.

    Parameters are those of :func:`detect`. Use this when you need the chart
    data (:meth:`Detection.series`) as well as the flagged rows.
    """
    detector = get_detector(method, **params)
    # the detector's compiled code loads while the data does (both take a while); a
    # data error does not wait for it (a daemon thread does not hold up the exit)
    preloading = None
    if not isinstance(data, Panel):
        preloading = threading.Thread(target=detector.preload, name="revwatch-preload", daemon=True)
        preloading.start()
    panel = to_panel(
        data,
        id=id,
        time=time,
        value=value,
        sql=sql,
        aggregate=aggregate,
        freq=freq,
        sheet=sheet,
        decimal=decimal,
        encoding=encoding,
        skip_rows=skip_rows,
        tz=tz,
        date_format=date_format,
    )
    if preloading is not None:
        preloading.join()
    logger.info("scoring %d series with %s", panel.n_series, detector.name)
    scores = detector.fit(panel).detect(panel)
    return Detection(panel=panel, detector=detector, scores=scores)


def detect(
    data: Any,
    *,
    id: str | Sequence[str] | None = None,
    time: str | None = None,
    value: str | None = None,
    method: str | Detector = "auto",
    all_rows: bool = False,
    details: bool = False,
    sql: str | None = None,
    aggregate: str | None = None,
    freq: str | None = None,
    sheet: str | int | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    skip_rows: int = 0,
    tz: str | None = None,
    date_format: str | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Find the series-periods that behave differently from their own normal.

    Parameters
    ----------
    data : path, URL, pandas.DataFrame, polars.DataFrame or Panel
        Long data: one row per series and period. A path is read by
        :func:`revwatch.load` (CSV, Parquet, Excel; with ``sql`` a SQLite or
        DuckDB file or a SQLAlchemy URL).
    id, time, value : str, optional
        Series key column(s), period column and value column; inferred when
        omitted.
    method : str or Detector, default "auto"
        A method name (see :func:`revwatch.detectors.method_names`) or a detector.
    all_rows : bool, default False
        Return every row; unflagged ones have type ``normal``.
    details : bool, default False
        Add ``provisional``, ``confirmed_period``, ``method`` and ``basis``
        columns.
    sql, aggregate, freq, sheet, decimal, encoding, skip_rows, tz, date_format
        Passed to the loader (:func:`revwatch.load`).
    **params
        Parameters of the method (e.g. ``threshold=4.0``).

    Returns
    -------
    DataFrame
        The id columns under their input names, then ``period``, ``value``,
        ``baseline``, ``pct_vs_baseline``, ``score``, ``type``,
        ``direction``, ``severity``, ``impact``; most severe first.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "account": ["A"] * 12,
    ...     "month": pd.date_range("2025-01-01", periods=12, freq="MS"),
    ...     "mrr": [100.0, 101, 99, 100, 102, 100, 99, 101, 100, 300, 100, 101],
    ... })
    >>> flags = detect(frame, id="account", time="month", value="mrr")
    >>> flags[["account", "type", "direction"]].values.tolist()
    [['A', 'spike', 'up']]
    """
    result = analyze(
        data,
        id=id,
        time=time,
        value=value,
        method=method,
        sql=sql,
        aggregate=aggregate,
        freq=freq,
        sheet=sheet,
        decimal=decimal,
        encoding=encoding,
        skip_rows=skip_rows,
        tz=tz,
        date_format=date_format,
        **params,
    )
    return result.results(all_rows=all_rows, details=details)
