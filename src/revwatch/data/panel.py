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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "FREQUENCIES",
    "STEP_SECONDS",
    "SUB_DAILY",
    "KeyOrder",
    "Panel",
    "PanelMatrix",
    "key_order",
    "period_ordinals",
    "sorted_keys",
]

#: Supported frequencies, finest first: name -> (pandas offset alias, periods per year,
#: seasonal period). The seasonal period of a step shorter than a day is one day of
#: steps (a day of 5-minute steps is 288 periods); two-weekly data has a yearly season.
FREQUENCIES: dict[str, tuple[str, float, int]] = {
    "1min": ("min", 1440 * 365.25, 1440),
    "5min": ("5min", 288 * 365.25, 288),
    "10min": ("10min", 144 * 365.25, 144),
    "15min": ("15min", 96 * 365.25, 96),
    "30min": ("30min", 48 * 365.25, 48),
    "hourly": ("h", 24 * 365.25, 24),
    "daily": ("D", 365.25, 7),
    "weekly": ("W", 52.18, 52),
    "fortnightly": ("14D", 26.09, 26),
    "monthly": ("MS", 12.0, 12),
    "quarterly": ("QS", 4.0, 4),
    "yearly": ("YS", 1.0, 1),
}

#: Frequencies that are a fixed duration: name -> seconds per step. A period of one of
#: these keeps the input's own stamp (an hourly series stamped at :15 stays at :15;
#: weekly and two-weekly ones keep their weekday).
STEP_SECONDS: dict[str, int] = {
    "1min": 60,
    "5min": 300,
    "10min": 600,
    "15min": 900,
    "30min": 1800,
    "hourly": 3600,
    "daily": 86_400,
    "weekly": 7 * 86_400,
    "fortnightly": 14 * 86_400,
}

#: Frequencies with a step shorter than a day (their periods have a time of day).
SUB_DAILY: tuple[str, ...] = ("1min", "5min", "10min", "15min", "30min", "hourly")

PERIOD = "period"
VALUE = "value"

#: Columns at least this long are mapped once per distinct value (periods).
DISTINCT_FIRST = 50_000


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
    if len(values) >= DISTINCT_FIRST and values.tz is None:
        # exports repeat each period once per series: work on the distinct ones
        codes, uniques = pd.factorize(values.asi8)
        if len(uniques) * 4 <= len(values):
            distinct = pd.DatetimeIndex(uniques.astype(f"datetime64[{values.unit}]"))
            return period_ordinals(distinct, freq)[codes]
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
    if freq in STEP_SECONDS:
        # floor division: stamps with a common phase (every 5 minutes at :02:53, weeks on
        # a Wednesday) map to consecutive integers
        return seconds // STEP_SECONDS[freq]
    raise ParameterError(f"unknown frequency {freq!r}; use one of {', '.join(FREQUENCIES)}")


def _adjacent(column: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """For each pair of neighbouring rows: ``column[i] < column[i + 1]`` and ``==``.

    Compared in C (Arrow for Arrow-backed strings, NumPy otherwise), never as
    Python objects where it can be helped: text ``<`` is only evaluated where
    neighbours differ (it is False where they are equal), which in a sorted
    export is once per series. None when the column has missing values or
    values that do not compare (the caller then falls back to a full sort).
    """
    dtype = column.dtype
    n_pairs = max(len(column) - 1, 0)
    if isinstance(dtype, pd.StringDtype):
        if column.isna().any():
            return None
        if dtype.storage == "pyarrow":
            import pyarrow as pa
            import pyarrow.compute as pc

            arrow = pa.array(column.array)
            head, tail = arrow.slice(0, n_pairs), arrow.slice(1)
            equal = np.asarray(pc.equal(head, tail).to_numpy(zero_copy_only=False), dtype=bool)
            differ = ~equal
            less = np.zeros(n_pairs, dtype=bool)
            if differ.any():
                # filters work chunk by chunk (a take would join the chunks first)
                before = arrow.filter(np.concatenate([differ, [False]]))
                after = arrow.filter(np.concatenate([[False], differ]))
                picked = pc.less(before, after)
                less[differ] = np.asarray(picked.to_numpy(zero_copy_only=False), dtype=bool)
            return less, equal
        values = column.to_numpy(dtype=object)
    elif isinstance(dtype, np.dtype) and dtype.kind in "biufMO":
        if column.isna().any():
            return None
        values = column.to_numpy()
    else:  # categoricals sort by their categories' order, other extensions: let pandas sort
        return None
    try:
        equal = np.asarray(values[:-1] == values[1:], dtype=bool)
        if values.dtype == object:
            # Python comparisons are slow: only where neighbours differ
            differ = np.flatnonzero(~equal)
            less = np.zeros(n_pairs, dtype=bool)
            less[differ] = np.asarray(values[differ] < values[differ + 1], dtype=bool)
        else:
            less = np.asarray(values[:-1] < values[1:], dtype=bool)
    except TypeError:
        return None
    return less, equal


@dataclass(frozen=True)
class KeyOrder:
    """How neighbouring rows of a frame sorted by series, then period, relate.

    Attributes
    ----------
    same_series : ndarray of bool, shape (n_rows - 1,)
        True where row ``i + 1`` has the same series key as row ``i``.
    same_key : ndarray of bool, shape (n_rows - 1,)
        True where row ``i + 1`` also has the same period (a duplicate).
    """

    same_series: np.ndarray
    same_key: np.ndarray


def _ties(
    frame: pd.DataFrame,
    keys: list[str],
    known: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[np.ndarray] | None:
    """If ``frame`` is sorted by ``keys``: for each key, which rows tie on the keys up to it."""
    n_rows = len(frame)
    if n_rows < 2:
        return [np.zeros(0, dtype=bool) for _ in keys]
    ordered = np.zeros(n_rows - 1, dtype=bool)
    tied = np.ones(n_rows - 1, dtype=bool)
    ties: list[np.ndarray] = []
    for key in keys:
        pairs = (known or {}).get(key) or _adjacent(frame[key])
        if pairs is None:
            return None
        less, equal = pairs
        ordered |= tied & less
        tied = tied & equal
        ties.append(tied)
    if not (ordered | tied).all():
        return None
    return ties


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
    ties = _ties(frame, keys)
    if ties is None:
        return None
    return ties[-1] if ties else np.ones(max(len(frame) - 1, 0), dtype=bool)


def key_order(
    frame: pd.DataFrame,
    id_columns: Sequence[str],
    known: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> KeyOrder | None:
    """The :class:`KeyOrder` of a frame already sorted by ``id_columns`` then ``period``.

    None when it is not sorted (or cannot be compared cheaply). ``known``
    maps a column to its ``(column[i] < column[i + 1], column[i] == column[i + 1])``
    arrays when the caller already has them.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": ["a", "a", "b"], "period": [1, 1, 1]})
    >>> order = key_order(frame, ["id"])
    >>> order.same_series.tolist(), order.same_key.tolist()
    ([True, False], [True, False])
    """
    ids = list(id_columns)
    ties = _ties(frame, [*ids, PERIOD], known)
    if ties is None:
        return None
    same_series = ties[len(ids) - 1] if ids else np.ones(max(len(frame) - 1, 0), dtype=bool)
    return KeyOrder(same_series=same_series, same_key=ties[-1])


def _rows_where(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """``frame.loc[mask].reset_index(drop=True)``, filtered column by column.

    pandas selects rows of a frame by a take, which for Arrow columns of
    many chunks first joins all the chunks; a column's filter works chunk by
    chunk.
    """
    return pd.DataFrame(
        {name: frame[name].array[mask] for name in frame.columns},
        index=pd.RangeIndex(int(np.count_nonzero(mask))),
    )


def _owned(array: np.ndarray) -> np.ndarray:
    """``array`` if it owns its writable memory, else a copy (never a view of a frame)."""
    if array.flags.owndata and array.flags.writeable:
        return array
    return array.copy()


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
        position in ``values``; used to map results back to rows (built on
        first use when ``full``).
    rows : tuple of two ndarrays, optional
        ``(row_series, row_period)`` as built; None when ``full``.
    full : bool
        True when the long panel has every cell of the matrix, in order
        (row ``i`` is cell ``i`` of ``values`` flattened), as in most exports;
        rows are then mapped by reshaping instead of indexing.
    """

    values: np.ndarray
    periods: pd.DatetimeIndex
    keys: pd.DataFrame
    rows: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    full: bool = False

    @cached_property
    def row_series(self) -> np.ndarray:
        """Series (row of ``values``) of each panel row."""
        if self.rows is not None:
            return self.rows[0]
        n_series, n_periods = self.values.shape
        return np.repeat(np.arange(n_series, dtype=np.int64), n_periods)

    @cached_property
    def row_period(self) -> np.ndarray:
        """Period (column of ``values``) of each panel row."""
        if self.rows is not None:
            return self.rows[1]
        n_series, n_periods = self.values.shape
        return np.tile(np.arange(n_periods, dtype=np.int64), n_series)

    def _flat(self, array: np.ndarray) -> bool:
        return self.full and getattr(array, "shape", None) == self.values.shape

    def to_rows(self, array: np.ndarray) -> np.ndarray:
        """Pick the cells of a ``(n_series, n_periods)`` array that correspond to panel rows."""
        if self._flat(array):
            flat = array.reshape(-1)
            return flat.copy() if np.may_share_memory(flat, array) else flat
        return array[self.row_series, self.row_period]

    def cells(self, array: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``to_rows(array)[rows]`` without picking the other rows first."""
        if self._flat(array):
            return array.reshape(-1)[rows]
        return array[self.row_series[rows], self.row_period[rows]]


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
    percent_columns : tuple of str
        Input names of the value or metric columns written as percents
        (``12.5%``; kept as 12.5), so reports can give them the percent unit.
    """

    frame: pd.DataFrame
    id_columns: tuple[str, ...]
    freq: str
    source: str = "<frame>"
    value_name: str = VALUE
    time_name: str = PERIOD
    notes: tuple[str, ...] = field(default=())
    percent_columns: tuple[str, ...] = field(default=())

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
        return cls._assemble(
            frame,
            key_order(frame, ids),
            id_columns=ids,
            freq=freq,
            source=source,
            value_name=value_name,
            time_name=time_name,
            notes=notes,
        )

    @classmethod
    def _assemble(
        cls,
        frame: pd.DataFrame,
        order: KeyOrder | None,
        *,
        id_columns: Sequence[str],
        freq: str,
        source: str,
        value_name: str,
        time_name: str,
        notes: Sequence[str],
        percent_columns: Sequence[str] = (),
    ) -> Panel:
        """:meth:`from_frame` with the frame's :func:`key_order` already known."""
        ids = list(id_columns)
        if order is not None:
            # already in order (the usual case for exports): a stable sort is the identity
            ordered = frame.reset_index(drop=True)
        else:
            ordered = frame.sort_values([*ids, PERIOD], kind="stable").reset_index(drop=True)
        panel = cls(
            frame=ordered,
            id_columns=tuple(ids),
            freq=freq,
            source=source,
            value_name=value_name,
            time_name=time_name,
            notes=tuple(notes),
            percent_columns=tuple(percent_columns),
        )
        if order is not None:
            # where series begin, for matrix() (not a dataclass field: replace() drops it)
            panel.__dict__["_same_series"] = order.same_series
        return panel

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

    def _series_starts(self) -> np.ndarray:
        """Per row: True where a new series begins (rows are sorted by series)."""
        frame = self.frame
        n_rows = len(frame)
        changed = np.zeros(n_rows, dtype=bool)
        if not n_rows:
            return changed
        changed[0] = True
        hint = self.__dict__.get("_same_series")
        if hint is not None and len(hint) == n_rows - 1:
            changed[1:] = ~hint
            return changed
        for col in self.id_columns:
            pairs = _adjacent(frame[col])
            if pairs is None:
                v = frame[col].to_numpy()
                changed[1:] |= v[1:] != v[:-1]
            else:
                changed[1:] |= ~pairs[1]
        return changed

    def _grid(self, first: pd.Timestamp, n_periods: int) -> pd.DatetimeIndex:
        """``n_periods`` consecutive periods from ``first``."""
        if self.freq in STEP_SECONDS:
            # a fixed step from the first stamp keeps its phase (weekday, :02:53, ...)
            step = pd.Timedelta(seconds=STEP_SECONDS[self.freq])
            return pd.date_range(first, periods=n_periods, freq=step)
        return pd.date_range(first, periods=n_periods, freq=FREQUENCIES[self.freq][0])

    def _full_grid(self, starts: np.ndarray, first: pd.Timestamp) -> pd.DatetimeIndex | None:
        """The period grid when every series has each of its periods once, in order.

        Then row ``i`` of the panel is cell ``i`` of the flattened matrix. The
        check is exact: series begin every ``n_periods`` rows, each series'
        periods equal the grid, and the grid's ordinals are consecutive.
        None otherwise.
        """
        column = self.frame[PERIOD]
        n_rows, n_series = len(column), len(starts)
        if not n_rows or not n_series or n_rows % n_series:
            return None
        if not (isinstance(column.dtype, np.dtype) and column.dtype.kind == "M"):
            return None
        n_periods = n_rows // n_series
        if not np.array_equal(starts, np.arange(0, n_rows, n_periods)):
            return None
        periods = self._grid(first, n_periods)
        ordinals = period_ordinals(periods, self.freq)
        if not np.array_equal(ordinals - ordinals[0], np.arange(n_periods)):
            return None
        stamps = column.to_numpy().reshape(n_series, n_periods)
        if not bool((stamps == periods.to_numpy()).all()):
            return None
        return periods

    def _build_matrix(self, column: str) -> PanelMatrix:
        frame = self.frame
        n_rows = len(frame)
        changed = self._series_starts()
        if self.id_columns:
            ids = frame[list(self.id_columns)]
            keys = _rows_where(ids, changed) if n_rows else ids.iloc[:0].reset_index(drop=True)
            starts = np.flatnonzero(changed)
        else:
            keys = pd.DataFrame(index=range(1 if n_rows else 0))
            starts = np.zeros(1 if n_rows else 0, dtype=np.int64)
        first = frame[PERIOD].min() if n_rows else pd.Timestamp("1970-01-01")
        grid = self._full_grid(starts, first) if n_rows else None
        if grid is not None:
            # every cell present and in order: the column is the matrix, row by row
            n_series, n_periods = len(starts), len(grid)
            data = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
            return PanelMatrix(
                values=_owned(data).reshape(n_series, n_periods),
                periods=grid,
                keys=keys,
                full=True,
            )
        row_series = np.cumsum(changed) - 1
        ordinals = period_ordinals(frame[PERIOD], self.freq)
        if n_rows:
            start = int(ordinals.min())
            n_periods = int(ordinals.max()) - start + 1
        else:
            start, n_periods = 0, 0
        row_period = ordinals - start
        periods = self._grid(first, n_periods)
        values = np.full((len(keys), n_periods), np.nan)
        values[row_series, row_period] = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        return PanelMatrix(
            values=values,
            periods=periods,
            keys=keys,
            rows=(row_series.astype(np.int64), row_period.astype(np.int64)),
        )
