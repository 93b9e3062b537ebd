"""From detector scores to typed, ranked anomalies.

Every flagged row gets a ``type`` (spike, drop, level_shift, trend_change,
seasonal_shift), a ``direction`` (up/down), a ``severity`` and a money
``impact``:

* ``type`` comes from the detector when it tracks events (``auto``,
  ``seed-rolling``); detectors that only score points get ``spike`` or
  ``drop`` from the direction.
* ``severity`` is on one scale across types: the normal-equivalent z of the
  evidence (how many Gaussian standard deviations would be as surprising).
  For a level shift or trend change it is the strongest evidence over the
  event; for ``seed-rolling`` it is the seed's own score (``|z|``, or
  ``|erosion_pct| * 100`` for erosion).
* ``impact`` is ``value - baseline`` in the input's units (money for
  revenue), and ``pct_vs_baseline`` the same in percent of the baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from revwatch.data.panel import PERIOD, Panel
from revwatch.detectors.base import TYPE_CODES, TYPE_NAMES, Scores

logger = logging.getLogger(__name__)

__all__ = ["RESULT_COLUMNS", "results_frame", "series_frame"]

#: Columns after the id columns, in order, of every results frame.
RESULT_COLUMNS: tuple[str, ...] = (
    "period",
    "value",
    "baseline",
    "pct_vs_baseline",
    "score",
    "type",
    "direction",
    "severity",
    "impact",
)


def _typed(
    scores: Scores, pick: Callable[[np.ndarray], np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Type codes, direction signs and severities for every cell (or the cells ``pick`` takes).

    Every step is per cell, so picking first gives the same values as
    picking from the whole-matrix result.
    """
    if pick is None:
        flag = scores.flag
        kind = scores.kind.astype(np.int8).copy()
        z, severity = scores.z, scores.severity
        score = scores.score
    else:
        flag = pick(scores.flag)
        kind = np.array(pick(scores.kind), dtype=np.int8)
        z, score = pick(scores.z), pick(scores.score)
        severity = pick(scores.severity) if scores.severity is not None else None
    sign = np.sign(np.nan_to_num(z, nan=0.0))
    untyped = flag & (kind == 0)
    kind[untyped & (sign >= 0)] = TYPE_CODES["spike"]
    kind[untyped & (sign < 0)] = TYPE_CODES["drop"]
    kind[~flag] = 0
    severity = severity if severity is not None else score
    severity = np.where(flag, np.nan_to_num(severity, nan=0.0), 0.0)
    return kind, sign, severity


def _default_text_dtype() -> Any:
    """The dtype pandas infers for a column of Python strings (``str`` in pandas 3)."""
    return pd.Series(np.array(["a"], dtype=object)).dtype


def _labels(names: tuple[str, ...], codes: np.ndarray) -> object:
    """``names[codes]`` as the column pandas would infer from those strings, built by a take.

    Same values and dtype as ``np.asarray(names, dtype=object)[codes]`` put in a
    DataFrame, without creating one Python string per row.

    Examples
    --------
    >>> list(_labels(("", "up", "down"), np.array([1, 0, 2])))
    ['up', '', 'down']
    """
    return pd.array(list(names), dtype=_default_text_dtype()).take(codes)


def _column_rows(column: pd.Series, rows: np.ndarray, order: np.ndarray) -> object:
    """``column.to_numpy()[rows[order]]``, as the column a frame would make of it.

    ``rows`` is ascending. Arrow-backed string columns of the default dtype
    are picked in Arrow, which gives the same column without a round trip
    through Python objects: filtered (chunk by chunk; a take on many chunks
    would first join them all), then put in order.
    """
    if column.dtype == _default_text_dtype():
        keep = np.zeros(len(column), dtype=bool)
        keep[rows] = True
        return column.array[keep].take(order)
    return column.to_numpy()[rows[order]]


def _most_severe_first(severity: np.ndarray, impact: np.ndarray) -> np.ndarray:
    """Order by severity, descending, then by absolute impact (NaN as 0), descending; stable.

    The same order as ``np.lexsort((-|impact|, -severity))``: one stable
    sort by severity is enough when no two severities tie (the usual case),
    at a third of the cost.

    Examples
    --------
    >>> _most_severe_first(np.array([1.0, 3.0, 1.0]), np.array([5.0, 0.0, -7.0])).tolist()
    [1, 2, 0]
    """
    order = np.argsort(-severity, kind="stable")
    ranked = severity[order]
    if len(ranked) > 1 and bool((ranked[1:] == ranked[:-1]).any()):
        magnitude = -np.abs(np.where(np.isnan(impact), 0.0, impact))
        return np.lexsort((magnitude, -severity))
    return order


def results_frame(
    panel: Panel,
    scores: Scores,
    *,
    all_rows: bool = False,
    details: bool = False,
    method: str | None = None,
) -> pd.DataFrame:
    """One row per flagged series-period (or every row), most severe first.

    Parameters
    ----------
    panel : Panel
        The data that was scored.
    scores : Scores
        The detector's output for ``panel``.
    all_rows : bool, default False
        Include every row; unflagged rows have type ``normal``.
    details : bool, default False
        Add ``provisional`` (the type may still change with later periods),
        ``confirmed_period``, ``method`` and ``basis`` (what ``auto`` judged the
        row against: ``own history``, ``peers``, ``intermittent`` or ``yoy
        growth``) columns.
    method : str, optional
        Method name for the ``method`` column.

    Returns
    -------
    DataFrame
        The id columns under their input names, then :data:`RESULT_COLUMNS`.
    """
    mat = panel.matrix()
    flag_all = mat.to_rows(scores.flag)
    # keep only the rows reported before building anything row-wise
    selected = np.arange(len(flag_all)) if all_rows else np.flatnonzero(flag_all)

    row_kind, row_sign, row_severity = _typed(scores, lambda array: mat.cells(array, selected))
    value = panel.frame["value"].to_numpy(dtype=np.float64)[selected]
    baseline = mat.cells(scores.baseline, selected)
    impact = value - baseline
    # most severe first, then the largest money impact: order the rows, then build columns
    order = _most_severe_first(row_severity, impact)
    rows = selected[order]
    row_kind, row_sign, row_severity = row_kind[order], row_sign[order], row_severity[order]
    value, baseline, impact = value[order], baseline[order], impact[order]

    def pick(array: np.ndarray) -> np.ndarray:
        return mat.cells(array, rows)

    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(baseline != 0, impact / np.abs(baseline) * 100.0, np.nan)
    flag = flag_all[rows]
    direction = np.where(flag, np.where(row_sign < 0, 2, 1), 0)
    data: dict[str, object] = {
        col: _column_rows(panel.frame[col], selected, order) for col in panel.id_columns
    }
    data.update(
        {
            "period": panel.frame[PERIOD].to_numpy()[rows],
            "value": value,
            "baseline": baseline,
            "pct_vs_baseline": pct,
            "score": pick(scores.score),
            "type": _labels(TYPE_NAMES, row_kind),
            "direction": _labels(("", "up", "down"), direction),
            "severity": row_severity,
            "impact": impact,
        }
    )
    if details:
        confirm = scores.extra.get("confirm_at")
        confirmed = np.full(len(value), np.datetime64("NaT"), dtype="datetime64[ns]")
        if confirm is not None:
            at = pick(confirm)
            ok = flag & (at >= 0)
            periods = mat.periods.to_numpy()
            confirmed[ok] = periods[at[ok].astype(np.int64)]
        data["provisional"] = flag & pick(scores.provisional)
        data["confirmed_period"] = confirmed
        data["method"] = method or ""
        data["basis"] = _basis(scores, flag, pick)
    return pd.DataFrame(data)


def _basis(
    scores: Scores, flag: np.ndarray, pick: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """What ``auto`` judged each flagged row against; empty for the other methods.

    ``own history`` (the series' own robust baseline), ``peers`` (the
    peer-relative part), ``intermittent`` (a mostly-zero stretch judged
    against its window's mean) or ``yoy growth`` (a change of year-over-year
    growth, on daily data).
    """
    basis = np.full(len(flag), "", dtype=object)
    parts = [(scores.extra.get(key), label) for key, label in _BASIS]
    if all(mask is None for mask, _ in parts):
        return basis
    basis[flag] = "own history"
    for mask, label in parts:
        if mask is not None:
            basis[flag & (pick(mask) > 0)] = label
    return basis


#: ``auto``'s parts that mark the cells they judged (``Scores.extra`` key, label); later wins.
_BASIS = (
    ("multiscale", "own history"),
    ("peer", "peers"),
    ("intermittent", "intermittent"),
    ("yoy", "yoy growth"),
)


def series_frame(panel: Panel, scores: Scores) -> pd.DataFrame:
    """Every row with its baseline band, type and severity, for charts.

    Returns
    -------
    DataFrame
        Id columns, ``period``, ``value``, ``baseline``, ``lower``, ``upper``,
        ``type`` ("normal" when not flagged), ``severity`` (NaN when not
        flagged) and ``provisional``; in panel order (series, then period).
    """
    mat = panel.matrix()
    kind, _, severity = _typed(scores)
    pick = mat.to_rows
    flag = pick(scores.flag)
    data: dict[str, object] = {col: panel.frame[col].to_numpy() for col in panel.id_columns}
    data.update(
        {
            "period": panel.frame[PERIOD].to_numpy(),
            "value": panel.frame["value"].to_numpy(dtype=np.float64),
            "baseline": pick(scores.baseline),
            "lower": pick(scores.lower),
            "upper": pick(scores.upper),
            "type": np.asarray(TYPE_NAMES, dtype=object)[pick(kind)],
            "severity": np.where(flag, pick(severity), np.nan),
            "provisional": flag & pick(scores.provisional),
        }
    )
    return pd.DataFrame(data)
