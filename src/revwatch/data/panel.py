"""The canonical long panel every part of revwatch works on.

A :class:`Panel` is a long table with one row per (series, period): the
series key columns under their input names, ``period`` (``datetime64``),
``value`` (``float64``, NaN where the source cell was blank) and any extra
numeric metrics. Rows are sorted by series then period and there is at most
one row per (series, period). The frequency is known.

Detectors do not loop over series: they ask the panel for a dense
``(n_series, n_periods)`` matrix (:meth:`Panel.matrix`) where a period the
source did not contain is NaN (never zero) and work on all series at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["FREQUENCIES", "Panel", "PanelMatrix", "period_ordinals", "sorted_keys"]

#: Supported frequencies: name -> (pandas offset alias, periods per year, seasonal period).
FREQUENCIES: dict[str, tuple[str, float, int]] = {
    "hourly": ("h", 24 * 365.25, 24),
    "daily": ("D", 365.25, 7),
    "weekly": ("W", 52.18, 52),
    "monthly": ("MS", 12.0, 12),
    "quarterly": ("QS", 4.0, 4),
    "yearly": ("YS", 1.0, 1),
}

PERIOD = "period"
VALUE = "value"


def period_ordinals(periods: pd.Series | pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Integer position of each period on a regular grid of the given frequency.

    Consecutive periods differ by exactly one, so gaps are visible.

    Parameters
    ----------
    periods : Series or DatetimeIndex of datetime64
        The (already normalised) periods.
    freq : str
        A key of :data:`FREQUENCIES`.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> idx = pd.to_datetime(["2024-01-01", "2024-03-01"])
    >>> period_ordinals(idx, "monthly").tolist()
    [24288, 24290]
    """
    values = pd.DatetimeIndex(periods)
    if freq in ("monthly", "quarterly", "yearly") and values.tz is None:
        # calendar fields straight from datetime64 (floor to the month), no Python objects
        months = values.to_numpy().astype("datetime64[M]").astype(np.int64) + 1970 * 12
        if freq == "monthly":
            return months
        if freq == "quarterly":
            return months // 3
        return months // 12
    values = values.as_unit("s")
    if freq == "monthly":
        return np.asarray(values.year * 12 + values.month - 1, dtype=np.int64)
    if freq == "quarterly":
        return np.asarray(values.year * 4 + (values.month - 1) // 3, dtype=np.int64)
    if freq == "yearly":
        return np.asarray(values.year, dtype=np.int64)
    seconds = values.asi8
    if freq == "daily":
        return seconds // 86_400
    if freq == "weekly":
        return seconds // (7 * 86_400)
    if freq == "hourly":
        return seconds // 3_600
    raise ParameterError(f"unknown frequency {freq!r}; use one of {', '.join(FREQUENCIES)}")


def _adjacent(column: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """For each pair of neighbouring rows: ``column[i] < column[i + 1]`` and ``==``.

    Compared in C (Arrow for Arrow-backed strings, NumPy otherwise), never as
    Python objects. None when the column has missing values or values that do
    not compare (the caller then falls back to a full sort).
    """
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):
        if column.isna().any():
            return None
        if dtype.storage == "pyarrow":
            import pyarrow as pa
            import pyarrow.compute as pc

            arrow = pa.array(column.array)
            head, tail = arrow.slice(0, len(arrow) - 1), arrow.slice(1)
            less = pc.less(head, tail).to_numpy(zero_copy_only=False)
            equal = pc.equal(head, tail).to_numpy(zero_copy_only=False)
            return np.asarray(less, dtype=bool), np.asarray(equal, dtype=bool)
        values = column.to_numpy(dtype=object)
    elif isinstance(dtype, np.dtype) and dtype.kind in "biufMO":
        if column.isna().any():
            return None
        values = column.to_numpy()
    else:  # categoricals sort by their categories' order, other extensions: let pandas sort
        return None
    try:
        less = np.asarray(values[:-1] < values[1:], dtype=bool)
        equal = np.asarray(values[:-1] == values[1:], dtype=bool)
    except TypeError:
        return None
    return less, equal


def sorted_keys(frame: pd.DataFrame, keys: list[str]) -> np.ndarray | None:
    """Whether ``frame`` is already sorted by ``keys``; if so, which rows repeat a key.

    Returns None when the rows are not in ascending order of ``keys`` (or
    cannot be compared cheaply); otherwise a bool array of ``len(frame) - 1``
    that is True where row ``i + 1`` has the same key as row ``i``. A frame
    sorted this way is returned unchanged by a stable sort, so callers can
    skip sorting and find duplicates from neighbours alone.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": ["a", "a", "b"], "t": [1, 2, 1]})
    >>> sorted_keys(frame, ["id", "t"]).tolist()
    [False, False]
    >>> sorted_keys(frame.iloc[::-1], ["id", "t"]) is None
    True
    """
    n_rows = len(frame)
    if n_rows < 2:
        return np.zeros(0, dtype=bool)
    ordered = np.zeros(n_rows - 1, dtype=bool)
    tied = np.ones(n_rows - 1, dtype=bool)
    for key in keys:
        pairs = _adjacent(frame[key])
        if pairs is None:
            return None
        less, equal = pairs
        ordered |= tied & less
        tied &= equal
    if not (ordered | tied).all():
        return None
    return tied


@dataclass(frozen=True)
class PanelMatrix:
    """Dense ``(n_series, n_periods)`` view of a panel.

    Attributes
    ----------
    values : ndarray of float64, shape (n_series, n_periods)
        NaN where the series has no observation for that period.
    periods : DatetimeIndex
        The regular grid of periods (columns).
    keys : DataFrame
        One row per series with the id columns (rows of ``values``).
    row_series, row_period : ndarray of int64
        For each row of the long panel, its series (row) and period (column)
        position in ``values``; used to map results back to rows.
    """

    values: np.ndarray
    periods: pd.DatetimeIndex
    keys: pd.DataFrame
    row_series: np.ndarray
    row_period: np.ndarray

    def to_rows(self, array: np.ndarray) -> np.ndarray:
        """Pick the cells of a ``(n_series, n_periods)`` array that correspond to panel rows."""
        return array[self.row_series, self.row_period]


@dataclass(frozen=True)
class Panel:
    """A validated long panel: series keys, ``period``, ``value`` and extra metrics.

    Build one with :func:`revwatch.load` or :meth:`Panel.from_frame`.

    Attributes
    ----------
    frame : DataFrame
        Columns: the id columns, ``period``, ``value``, then any extra metrics.
        Sorted by series then period, one row per (series, period).
    id_columns : tuple of str
        Series key columns (may be empty for a single series).
    freq : str
        A key of :data:`FREQUENCIES`.
    source : str
        Where the data came from (a path or ``"<frame>"``), used in messages.
    value_name : str
        The input name of the value column, for reports.
    time_name : str
        The input name of the period column, for reports.
    """

    frame: pd.DataFrame
    id_columns: tuple[str, ...]
    freq: str
    source: str = "<frame>"
    value_name: str = VALUE
    time_name: str = PERIOD
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        id_columns: tuple[str, ...] | list[str],
        freq: str,
        source: str = "<frame>",
        value_name: str = VALUE,
        time_name: str = PERIOD,
        notes: tuple[str, ...] = (),
    ) -> Panel:
        """Sort a frame that already has ``period`` and ``value`` columns into a panel.

        The caller guarantees one row per (series, period).
        """
        ids = list(id_columns)
        sort_cols = [*ids, PERIOD]
        if sorted_keys(frame, sort_cols) is not None:
            # already in order (the usual case for exports): a stable sort is the identity
            ordered = frame.reset_index(drop=True)
        else:
            ordered = frame.sort_values(sort_cols, kind="stable").reset_index(drop=True)
        return cls(
            frame=ordered,
            id_columns=tuple(ids),
            freq=freq,
            source=source,
            value_name=value_name,
            time_name=time_name,
            notes=tuple(notes),
        )

    @property
    def metric_columns(self) -> list[str]:
        """Extra numeric columns beyond ``value``."""
        skip = {*self.id_columns, PERIOD, VALUE}
        return [c for c in self.frame.columns if c not in skip]

    @property
    def n_series(self) -> int:
        """Number of distinct series."""
        return int(self.matrix().values.shape[0])

    @cached_property
    def _matrix(self) -> PanelMatrix:
        return self._build_matrix(VALUE)

    def matrix(self, column: str = VALUE) -> PanelMatrix:
        """Dense ``(n_series, n_periods)`` matrix of one numeric column.

        Periods missing from the source are NaN, never zero.
        """
        if column == VALUE:
            return self._matrix
        return self._build_matrix(column)

    def _build_matrix(self, column: str) -> PanelMatrix:
        frame = self.frame
        n_rows = len(frame)
        if self.id_columns:
            ids = frame[list(self.id_columns)]
            if n_rows:
                changed = np.zeros(n_rows, dtype=bool)
                changed[0] = True
                for col in self.id_columns:
                    pairs = _adjacent(ids[col])
                    if pairs is None:
                        v = ids[col].to_numpy()
                        changed[1:] |= v[1:] != v[:-1]
                    else:
                        changed[1:] |= ~pairs[1]
                row_series = np.cumsum(changed) - 1
                keys = ids.loc[changed].reset_index(drop=True)
            else:
                row_series = np.zeros(0, dtype=np.int64)
                keys = ids.iloc[:0].reset_index(drop=True)
        else:
            row_series = np.zeros(n_rows, dtype=np.int64)
            keys = pd.DataFrame(index=range(1 if n_rows else 0))
        ordinals = period_ordinals(frame[PERIOD], self.freq)
        if n_rows:
            start = int(ordinals.min())
            n_periods = int(ordinals.max()) - start + 1
            first = frame[PERIOD].min()
        else:
            start, n_periods, first = 0, 0, pd.Timestamp("1970-01-01")
        row_period = ordinals - start
        alias = FREQUENCIES[self.freq][0]
        if self.freq == "weekly":
            periods = pd.date_range(first, periods=n_periods, freq="7D")
        else:
            periods = pd.date_range(first, periods=n_periods, freq=alias)
        values = np.full((len(keys), n_periods), np.nan)
        values[row_series, row_period] = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        return PanelMatrix(
            values=values,
            periods=periods,
            keys=keys,
            row_series=row_series.astype(np.int64),
            row_period=row_period.astype(np.int64),
        )
