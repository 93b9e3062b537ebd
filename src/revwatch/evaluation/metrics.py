"""Score detection methods against ground-truth labels, and compare them over seeds.

:func:`evaluate` runs each method (through :func:`revwatch.pipeline.analyze`) and
compares its flags with a labels table; :func:`compare` does that on a
generated data set over many random seeds and reports mean and spread.

Definitions
-----------
The data is the panel's dense ``(n_series, n_periods)`` grid; a *cell* is one
series-period and a *flag* is a cell the method reports (``Scores.flag``).

Labels
    One row per truly anomalous series-period: the series id columns, the
    period column, and optionally ``type`` and ``event_start``.

Event
    The labelled cells of one series that share an ``event_start``. Without an
    ``event_start`` column, each run of consecutive labelled periods of one
    series (and one ``type``) is an event. The event's *window* runs from its
    start to its last labelled period plus ``tolerance`` periods.

Point-wise (``point_*``)
    Every cell counts: TP = flagged and labelled, FP = flagged and not
    labelled, FN = labelled and not flagged. This is the seeds' metric. A
    detector that reports an event once (and suppresses its continuation)
    loses point-wise recall on multi-period events.

Event-wise (``event_*``)
    An event is *detected* when at least one flag falls inside its window.
    A flag outside every window is a *false alarm*. Event recall = detected
    events / events; event precision = detected events / (detected events +
    false alarms), i.e. all flags inside one event count once, as one alert.

False alarms per week
    False alarms (event-wise) / series-weeks observed, where series-weeks =
    observed cells x days per period / 7 (16 monthly series over two years is
    about 1,670 series-weeks).

Latency
    For each detected event: first flag in its window minus its start, in
    periods and in days; mean and median over detected events (NaN if none).

Recall by type (``recall_<type>``)
    Event-wise recall of the events of each ``type``.

Types right (``types_right``)
    Among detected events, the share whose first flag inside the window
    carries the event's labelled ``type`` (the type the method reports on
    that row, as ``revwatch detect`` shows it). NaN without detected events
    or without the flags' types.

No point-adjustment is applied anywhere: a flag only ever credits the cell
or the event it falls in. A method that flags nothing has precision 0 (as in
the seeds' ``calculate_metrics``). Cells a method cannot score (warm-up
history) count as not flagged; ``labelled_scored`` says which share of
labelled cells the method scored at all.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revwatch.classify import _typed
from revwatch.data.panel import FREQUENCIES, Panel, period_ordinals
from revwatch.datasets import Dataset, generate
from revwatch.detectors.base import TYPE_NAMES
from revwatch.detectors.registry import METHODS, get_detector, method_names, method_tags
from revwatch.errors import InputError, MissingColumnError, ParameterError, RevwatchError
from revwatch.incidents.build import active_cells
from revwatch.pipeline import Detection, analyze, to_panel

logger = logging.getLogger(__name__)

__all__ = [
    "METRICS",
    "Comparison",
    "LabelGrid",
    "align_labels",
    "compare",
    "evaluate",
    "flag_metrics",
    "parse_methods",
    "read_labels",
]


#: The numeric metric columns of :func:`evaluate`, in order (``recall_<type>``
#: columns follow, one per anomaly type in the labels).
METRICS: tuple[str, ...] = (
    "point_precision",
    "point_recall",
    "point_f1",
    "onset_f1",
    "event_precision",
    "event_recall",
    "event_f1",
    "false_alarms",
    "false_alarms_per_week",
    "latency_mean_periods",
    "latency_median_periods",
    "latency_mean_days",
    "latency_median_days",
    "n_flags",
    "n_events",
    "n_detected",
    "labelled_points",
    "labelled_scored",
    "types_right",
)

_TIME_FALLBACKS = ("period",)


# --------------------------------------------------------------------------- #
# labels -> grid
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class LabelGrid:
    """Labels aligned to a panel's ``(n_series, n_periods)`` grid.

    Attributes
    ----------
    labelled : ndarray of bool, shape (n_series, n_periods)
        True where a cell is labelled anomalous.
    events : DataFrame
        One row per event: ``series`` (row of the grid), ``start`` and ``end``
        (columns of the grid; ``end`` is the last labelled period) and
        ``type``.
    """

    labelled: np.ndarray
    events: pd.DataFrame


def read_labels(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a labels table from a CSV or Parquet file (a frame is passed through).

    Raises
    ------
    InputError
        If the file does not exist or cannot be read.
    """
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source).expanduser()
    if not path.is_file():
        raise InputError(f"labels file {path} does not exist; pass an existing CSV or Parquet file")
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # pandas raises many kinds; all mean "unreadable"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"labels file {path} cannot be read ({first}); write it as CSV with a header row"
        ) from exc


def _label_time_column(labels: pd.DataFrame, panel: Panel, time: str | None) -> str:
    for name in (time, panel.time_name, *_TIME_FALLBACKS):
        if name is not None and name in labels.columns:
            return name
    return time or panel.time_name


def align_labels(
    panel: Panel,
    labels: pd.DataFrame,
    *,
    time: str | None = None,
    source: str = "labels",
) -> LabelGrid:
    """Place label rows on the panel's grid and group them into events.

    Parameters
    ----------
    panel : Panel
        The data the labels describe.
    labels : DataFrame
        The panel's id columns, its period column (its input name, or
        ``time``, or ``period``), optionally ``type`` and ``event_start``.
    time : str, optional
        The labels' period column when it is not the data's.
    source : str
        Name used in error messages.

    Returns
    -------
    LabelGrid

    Raises
    ------
    MissingColumnError
        If an id or period column is absent.
    InputError
        If a period cannot be parsed or a row matches no series-period.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": "a", "period": pd.date_range("2024-01-01",
    ...                        periods=6, freq="MS"), "value": 1.0})
    >>> panel = Panel.from_frame(frame, id_columns=["id"], freq="monthly")
    >>> labels = pd.DataFrame({"id": "a", "period": ["2024-02-01", "2024-03-01", "2024-05-01"]})
    >>> grid = align_labels(panel, labels)
    >>> grid.labelled.astype(int).tolist()
    [[0, 1, 1, 0, 1, 0]]
    >>> grid.events[["series", "start", "end"]].values.tolist()
    [[0, 1, 2], [0, 4, 4]]
    """
    time_col = _label_time_column(labels, panel, time)
    needed = [*panel.id_columns, time_col]
    missing = [c for c in needed if c not in labels.columns]
    if missing:
        raise MissingColumnError(
            f"{source}: missing column {missing[0]!r}; the labels need the series id "
            f"column(s) and the period column: {', '.join(map(repr, needed))}"
        )
    mat = panel.matrix()
    n_series, n_periods = mat.values.shape
    labels = labels.reset_index(drop=True)
    stamps = _parse_times(labels[time_col], source, time_col)
    grid_ord = period_ordinals(mat.periods, panel.freq)
    ordinal = period_ordinals(stamps, panel.freq)
    col = np.searchsorted(grid_ord, ordinal)
    col_clipped = np.minimum(col, max(n_periods - 1, 0))
    on_grid = (col < n_periods) & (grid_ord[col_clipped] == ordinal) if n_periods else col < 0

    if panel.id_columns:
        keys = mat.keys.reset_index(drop=True).astype(str)
        keys["_series"] = np.arange(len(keys))
        left = labels[list(panel.id_columns)].astype(str)
        row = left.merge(keys, how="left", on=list(panel.id_columns))["_series"].to_numpy()
    else:
        row = np.zeros(len(labels))
    matched = ~np.isnan(row.astype(float)) & on_grid
    if not matched.all():
        bad = int(np.flatnonzero(~matched)[0])
        what = ", ".join(f"{c}={labels.at[bad, c]!r}" for c in needed)
        raise InputError(
            f"{source} row {bad + 1} ({what}) matches no series-period of the data; "
            "check the id and period columns (and --time) of the labels"
        )
    series = row.astype(np.int64)
    col = col_clipped.astype(np.int64)
    labelled = np.zeros((n_series, n_periods), dtype=bool)
    labelled[series, col] = True

    types = (
        labels["type"].fillna("anomaly").astype(str).to_numpy()
        if "type" in labels.columns
        else np.full(len(labels), "anomaly", dtype=object)
    )
    signs = np.zeros(len(labels), dtype=np.int64)
    if "direction" in labels.columns:
        said = labels["direction"].astype(str).str.strip().str.lower().to_numpy()
        signs = np.where(said == "up", 1, np.where(said == "down", -1, 0))
    # per labelled cell: 1 up, -1 down, 0 unknown
    cells = pd.DataFrame({"series": series, "col": col, "type": types, "sign": signs})
    if "event_start" in labels.columns:
        starts = _parse_times(labels["event_start"], source, "event_start")
        start_ord = period_ordinals(starts, panel.freq) - (grid_ord[0] if n_periods else 0)
        cells["start_hint"] = np.clip(start_ord, 0, None)
        cells = cells.drop_duplicates(["series", "col", "start_hint"])
        grouped = cells.groupby(["series", "start_hint"], sort=True)
        events = grouped.agg(
            first=("col", "min"),
            end=("col", "max"),
            type=("type", "first"),
            up=("sign", "max"),
            down=("sign", "min"),
        )
        events = events.reset_index()
        events["start"] = np.minimum(events["start_hint"], events["first"])
    else:
        cells = cells.drop_duplicates(["series", "col"]).sort_values(["series", "col"])
        s = cells["series"].to_numpy()
        c = cells["col"].to_numpy()
        t = cells["type"].to_numpy()
        new = np.ones(len(cells), dtype=bool)
        new[1:] = (s[1:] != s[:-1]) | (c[1:] != c[:-1] + 1) | (t[1:] != t[:-1])
        cells["event"] = np.cumsum(new)
        events = cells.groupby("event", sort=True).agg(
            series=("series", "first"),
            start=("col", "min"),
            end=("col", "max"),
            type=("type", "first"),
            up=("sign", "max"),
            down=("sign", "min"),
        )
    # an event's direction: the one all its labelled periods share, else 0 (mixed or unknown)
    up, down = events["up"].to_numpy(), events["down"].to_numpy()
    events["direction"] = np.where(up == down, up, 0)
    events = events[["series", "start", "end", "type", "direction"]].reset_index(drop=True)
    events = events.astype(
        {"series": np.int64, "start": np.int64, "end": np.int64, "direction": np.int64}
    )
    return LabelGrid(labelled=labelled, events=events)


def _parse_times(column: pd.Series, source: str, name: str) -> pd.DatetimeIndex:
    parsed = pd.to_datetime(column, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{source} row {first + 1}: column {name!r} value {column.iloc[first]!r} is not a "
            "date; write dates as YYYY-MM-DD"
        )
    return pd.DatetimeIndex(parsed)


# --------------------------------------------------------------------------- #
# metrics
# --------------------------------------------------------------------------- #


def _ratio(num: float, den: float, empty: float = 0.0) -> float:
    return float(num) / float(den) if den > 0 else empty


def _f1(precision: float, recall: float) -> float:
    if not (math.isfinite(precision) and math.isfinite(recall)) or precision + recall <= 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def flag_metrics(
    flags: np.ndarray,
    grid: LabelGrid,
    periods: pd.DatetimeIndex,
    freq: str,
    *,
    observed: np.ndarray | None = None,
    scored: np.ndarray | None = None,
    tolerance: int = 0,
    anomalous: np.ndarray | None = None,
    flag_sign: np.ndarray | None = None,
    flag_type: np.ndarray | None = None,
) -> dict[str, float]:
    """Point-wise and event-wise metrics of a flag matrix against aligned labels.

    All series and events at once: cumulative sums along time give the flags
    inside each event window, a reversed running minimum gives the first flag
    at or after each event start.

    Parameters
    ----------
    flags : ndarray of bool, shape (n_series, n_periods)
        The method's flags.
    grid : LabelGrid
        From :func:`align_labels`.
    periods : DatetimeIndex
        The grid's periods (columns), for latency in days.
    freq : str
        The panel frequency (a key of :data:`revwatch.data.panel.FREQUENCIES`).
    observed : ndarray of bool, optional
        Cells with a value; default all. Sets the series-weeks.
    scored : ndarray of bool, optional
        Cells the method scored; default all. Sets ``labelled_scored``.
    tolerance : int, default 0
        Periods after an event's last labelled period in which a flag still
        counts as detecting it (and is not a false alarm).
    anomalous : ndarray of bool, optional
        Cells the method judges anomalous, for the point-wise metrics; default
        ``flags``. An event-tracking detector raises one flag (alert) per event
        but judges every period that continues the open event anomalous too
        (:func:`revwatch.incidents.build.active_cells`, from the detector's own
        causal state, never from the labels). Event-wise metrics and false
        alarms always use ``flags``; ``onset_f1`` is the point-wise F1 of
        ``flags`` alone.
    flag_sign : ndarray, optional
        The direction of each cell's deviation (> 0 up, < 0 down, 0 or NaN
        unknown). Given, an event with a labelled direction (the labels'
        ``direction`` column, the same on all its periods) is detected only by
        a flag that points its way or has no direction: event recall, latency
        and recall by type then say whether the method saw *that* anomaly,
        not just something in its window. False alarms are unchanged.
    flag_type : ndarray of str, optional
        The type name each flagged cell is reported with; sets
        ``types_right`` (NaN when not given).

    Returns
    -------
    dict
        :data:`METRICS` then ``recall_<type>`` for each label type.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": "a", "period": pd.date_range("2024-01-01",
    ...                        periods=8, freq="D"), "value": 1.0})
    >>> panel = Panel.from_frame(frame, id_columns=["id"], freq="daily")
    >>> labels = pd.DataFrame({"id": "a", "period": pd.date_range("2024-01-03", periods=3)})
    >>> grid = align_labels(panel, labels)
    >>> flags = np.array([[False, False, False, True, False, False, False, True]])
    >>> m = flag_metrics(flags, grid, panel.matrix().periods, "daily")
    >>> m["point_precision"], round(m["point_recall"], 3), m["event_recall"], m["latency_mean_days"]
    (0.5, 0.333, 1.0, 1.0)
    >>> m["false_alarms"], m["event_precision"]
    (1.0, 0.5)
    """
    if tolerance < 0:
        raise ParameterError(f"tolerance must be >= 0 periods, got {tolerance}")
    flags = np.asarray(flags, dtype=bool)
    labelled = grid.labelled
    if flags.shape != labelled.shape:
        raise ParameterError(f"flags have shape {flags.shape}, labels grid {labelled.shape}")
    n_series, n_periods = flags.shape
    observed = np.ones_like(flags) if observed is None else np.asarray(observed, dtype=bool)
    scored = np.ones_like(flags) if scored is None else np.asarray(scored, dtype=bool)

    point = flags if anomalous is None else np.asarray(anomalous, dtype=bool) | flags
    if point.shape != labelled.shape:
        raise ParameterError(f"anomalous has shape {point.shape}, labels grid {labelled.shape}")
    tp = int((point & labelled).sum())
    fp = int((point & ~labelled).sum())
    fn = int((labelled & ~point).sum())
    point_precision = _ratio(tp, tp + fp)
    point_recall = _ratio(tp, tp + fn, float("nan"))
    # the same on the alerts alone (an event detector's onsets), for transparency
    tp_on = int((flags & labelled).sum())
    onset_f1 = _f1(
        _ratio(tp_on, int(flags.sum())), _ratio(tp_on, int(labelled.sum()), float("nan"))
    )

    events = grid.events
    s = events["series"].to_numpy(dtype=np.int64)
    a = events["start"].to_numpy(dtype=np.int64)
    b = np.minimum(events["end"].to_numpy(dtype=np.int64) + tolerance, n_periods - 1)
    want = np.zeros(len(events), dtype=np.int64)
    if flag_sign is not None and "direction" in events.columns:
        want = events["direction"].to_numpy(dtype=np.int64)
    sign = np.zeros(flags.shape) if flag_sign is None else np.nan_to_num(flag_sign)
    if sign.shape != flags.shape:
        raise ParameterError(f"flag_sign has shape {sign.shape}, flags {flags.shape}")
    hits = np.zeros(len(events), dtype=np.int64)
    first_all = np.full(len(events), n_periods, dtype=np.int64)
    # flags that may detect an event of each direction (a flag without one detects any)
    for way, usable in ((0, flags), (1, flags & (sign >= 0)), (-1, flags & (sign <= 0))):
        pick = want == way
        if not pick.any():
            continue
        cum = np.zeros((n_series, n_periods + 1), dtype=np.int64)
        np.cumsum(usable, axis=1, out=cum[:, 1:])
        hits[pick] = cum[s[pick], b[pick] + 1] - cum[s[pick], a[pick]]
        idx = np.where(usable, np.arange(n_periods)[None, :], n_periods)
        next_flag = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
        first_all[pick] = next_flag[s[pick], a[pick]]
    detected = hits > 0
    first = first_all[detected]
    types_right = float("nan")
    if flag_type is not None and detected.any():
        reported = np.asarray(flag_type)[s[detected], first]
        types_right = float(np.mean(reported == events["type"].to_numpy()[detected]))
    lat_periods = (first - a[detected]).astype(np.float64)
    period_values = periods.to_numpy()
    lat_days = (period_values[first] - period_values[a[detected]]) / np.timedelta64(1, "D")

    window = np.zeros((n_series, n_periods + 1), dtype=np.int64)
    np.add.at(window, (s, a), 1)
    np.add.at(window, (s, b + 1), -1)
    inside = np.cumsum(window, axis=1)[:, :n_periods] > 0
    false_alarms = int((flags & ~inside).sum())
    n_detected = int(detected.sum())
    event_precision = _ratio(n_detected, n_detected + false_alarms)
    event_recall = _ratio(n_detected, len(events), float("nan"))

    days_per_period = 365.25 / FREQUENCIES[freq][1]
    series_weeks = float(observed.sum()) * days_per_period / 7.0

    def _stat(values: np.ndarray, fn: Callable[[np.ndarray], Any]) -> float:
        return float(fn(values)) if len(values) else float("nan")

    out: dict[str, float] = {
        "point_precision": point_precision,
        "point_recall": point_recall,
        "point_f1": _f1(point_precision, point_recall),
        "onset_f1": onset_f1,
        "event_precision": event_precision,
        "event_recall": event_recall,
        "event_f1": _f1(event_precision, event_recall),
        "false_alarms": float(false_alarms),
        "false_alarms_per_week": _ratio(false_alarms, series_weeks, float("nan")),
        "latency_mean_periods": _stat(lat_periods, np.mean),
        "latency_median_periods": _stat(lat_periods, np.median),
        "latency_mean_days": _stat(np.asarray(lat_days, dtype=float), np.mean),
        "latency_median_days": _stat(np.asarray(lat_days, dtype=float), np.median),
        "n_flags": float(flags.sum()),
        "n_events": float(len(events)),
        "n_detected": float(n_detected),
        "labelled_points": float(labelled.sum()),
        "labelled_scored": _ratio(int((labelled & scored).sum()), int(labelled.sum()), np.nan),
        "types_right": types_right,
    }
    by_type = pd.Series(detected, index=events["type"].to_numpy()).groupby(level=0).mean()
    for name, value in by_type.items():
        out[f"recall_{name}"] = float(value)
    return out


# --------------------------------------------------------------------------- #
# evaluate
# --------------------------------------------------------------------------- #


def parse_methods(methods: str | Sequence[str] | None) -> list[str]:
    """Split ``"a,b"`` into names and check each is a registered method.

    Examples
    --------
    >>> parse_methods("auto, group-zscore")
    ['auto', 'group-zscore']
    >>> parse_methods("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    revwatch.errors.ParameterError: unknown method 'nope'; choose one of: auto, ...
    """
    if methods is None:
        return ["auto"]
    items = methods.split(",") if isinstance(methods, str) else list(methods)
    names = [m.strip() for m in items if m and m.strip()]
    if not names:
        raise ParameterError("no method given; pass --methods a,b (see `revwatch methods`)")
    for name in names:
        if name not in METHODS:
            raise ParameterError(
                f"unknown method {name!r}; choose one of: {', '.join(method_names())}"
            )
    return list(dict.fromkeys(names))


def _method_row(
    detection: Detection,
    grid: LabelGrid,
    tolerance: int,
    method: str | None = None,
    match_direction: bool = False,
) -> dict[str, Any]:
    panel = detection.panel
    mat = panel.matrix()
    scores = detection.scores
    metrics = flag_metrics(
        scores.flag,
        grid,
        mat.periods,
        panel.freq,
        observed=~np.isnan(mat.values),
        scored=np.isfinite(scores.score),
        tolerance=tolerance,
        anomalous=active_cells(scores),
        flag_sign=scores.z if match_direction else None,
        flag_type=np.asarray(TYPE_NAMES, dtype=object)[_typed(scores)[0]],
    )
    name = method or detection.method
    return {
        "method": name,
        "retrospective": bool(scores.retrospective),
        **metrics,
        "complexity": method_tags(detection.detector).complexity,
    }


def _tidy(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["method", "retrospective", *METRICS, "complexity"])
    type_cols = sorted(c for c in frame.columns if c.startswith("recall_"))
    order = ["method", "retrospective", *METRICS, *type_cols, "complexity"]
    return frame[[c for c in order if c in frame.columns]]


def evaluate(
    data: Any,
    labels: str | Path | pd.DataFrame | None = None,
    methods: str | Sequence[str] | None = "auto",
    *,
    id: str | Sequence[str] | None = None,
    time: str | None = None,
    value: str | None = None,
    labels_time: str | None = None,
    tolerance: int = 0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    match_direction: bool = False,
) -> pd.DataFrame:
    """Run each method on the data and score its flags against the labels.

    Parameters
    ----------
    data : Detection, sequence of Detection, Dataset, Panel, path or frame
        A :class:`~revwatch.pipeline.Detection` (or several) is scored as it is and
        ``methods`` is ignored; a :class:`~revwatch.datasets.Dataset` brings
        its own columns and labels; anything else goes through
        :func:`revwatch.pipeline.to_panel` with ``id``, ``time`` and ``value``.
    labels : path, DataFrame or None
        One row per anomalous series-period (see :func:`align_labels`). May be
        None only for a Dataset.
    methods : str or sequence of str, default "auto"
        Method names, or one string ``"a,b,c"``.
    id, time, value : optional
        Column names for loading ``data``.
    labels_time : str, optional
        The labels' period column if it differs from the data's.
    tolerance : int, default 0
        Extra periods after each event in which a flag still detects it.
    params : mapping, optional
        Parameters per method name, e.g. ``{"threshold": {"lower": 1000}}``.
    match_direction : bool, default False
        Event-wise metrics count only flags that point the labelled way
        (see ``flag_sign`` in :func:`flag_metrics`).

    Returns
    -------
    DataFrame
        One row per method: ``method``, ``retrospective``, :data:`METRICS`,
        ``recall_<type>`` per label type and ``complexity``. See the module
        docstring for the definitions.

    Examples
    --------
    >>> from revwatch.datasets import generate
    >>> table = evaluate(generate("saas-mrr", seed=1), methods="auto,naive-zscore-retro")
    >>> table[["method", "retrospective"]].values.tolist()
    [['auto', False], ['naive-zscore-retro', True]]
    >>> bool((table["event_recall"] >= table["point_recall"] - 1e-9).all())
    True
    """
    params = params or {}
    if isinstance(data, Detection) or (
        isinstance(data, Sequence)
        and not isinstance(data, str)
        and data
        and all(isinstance(d, Detection) for d in data)
    ):
        detections = [data] if isinstance(data, Detection) else list(data)
        if labels is None:
            raise ParameterError("evaluate: pass labels (a labels file or frame)")
        label_frame = read_labels(labels)
        rows = []
        for det in detections:
            grid = align_labels(det.panel, label_frame, time=labels_time, source=_name(labels))
            rows.append(_method_row(det, grid, tolerance, match_direction=match_direction))
        return _tidy(rows)

    names = parse_methods(methods)
    if isinstance(data, Dataset):
        panel = to_panel(
            data.frame,
            id=list(data.id_columns) or None,
            time=data.time_column,
            value=data.value_column,
        )
        label_frame = data.labels if labels is None else read_labels(labels)
        labels_time = labels_time or data.time_column
    else:
        if labels is None:
            raise ParameterError(
                "evaluate: pass labels (a labels file or frame), e.g. --labels L.csv"
            )
        panel = to_panel(data, id=id, time=time, value=value)
        label_frame = read_labels(labels)
    grid = align_labels(panel, label_frame, time=labels_time, source=_name(labels))
    rows = []
    for name in names:
        detection = analyze(panel, method=name, **dict(params.get(name, {})))
        rows.append(_method_row(detection, grid, tolerance, name, match_direction))
    return _tidy(rows)


def _name(labels: Any) -> str:
    return f"labels file {labels}" if isinstance(labels, str | Path) else "labels"


# --------------------------------------------------------------------------- #
# compare
# --------------------------------------------------------------------------- #

#: Metrics shown in the seed-shaped comparison table, with their headers.
DISPLAY: tuple[tuple[str, str], ...] = (
    ("point_precision", "precision"),
    ("point_recall", "recall"),
    ("point_f1", "F1"),
    ("onset_f1", "F1 onsets only"),
    ("event_precision", "event precision"),
    ("event_recall", "event recall"),
    ("event_f1", "event F1"),
    ("false_alarms_per_week", "false alarms/week"),
    ("latency_mean_days", "latency (days)"),
)


def _comparison_params(method: str, panel: Panel) -> dict[str, Any]:
    """Parameters a method needs that the seeds leave to the reader.

    ``threshold`` needs a bound: the 5th percentile of all values in the first
    year of monthly (or coarser) data, or the first 90 periods of finer data,
    one bound for every series, like seed 001's "daily revenue must be above
    $X". Only early data sets it, so the bound does not look ahead.
    """
    if method != "threshold":
        return {}
    values = panel.matrix().values
    per_year = FREQUENCIES[panel.freq][1]
    head = max(1, min(values.shape[1], round(per_year) if per_year <= 12 else 90))
    return {"lower": float(np.nanpercentile(values[:, :head], 5))}


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`.

    Attributes
    ----------
    dataset : str
        The generator's name.
    seeds : tuple of int
        The seeds used.
    runs : DataFrame
        One row per (seed, method): ``seed`` then the columns of
        :func:`evaluate`.
    summary : DataFrame
        One row per method: ``method``, ``retrospective``, ``complexity``,
        ``seeds`` (runs averaged) and ``<metric>_mean`` / ``<metric>_std``
        (sample std over seeds) for every numeric metric.
    skipped : dict
        Method name -> why it was left out.
    """

    dataset: str
    seeds: tuple[int, ...]
    runs: pd.DataFrame
    summary: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)

    def table(self, *, types: bool = True) -> pd.DataFrame:
        """The seed-shaped table as text cells ``mean ± std``.

        Columns: method, retro, precision, recall, F1 (point-wise), event
        precision, event recall, event F1, false alarms/week, latency (days),
        ``recall <type>`` (event-wise, with ``types``) and complexity.
        """
        summary = self.summary
        out = pd.DataFrame(
            {
                "method": summary["method"],
                "retro": np.where(summary["retrospective"], "yes", "no"),
            }
        )
        cols = list(DISPLAY)
        if types:
            cols += [
                (c[: -len("_mean")], "recall " + c[len("recall_") : -len("_mean")])
                for c in summary.columns
                if c.startswith("recall_") and c.endswith("_mean")
            ]
        for metric, header in cols:
            mean = summary[f"{metric}_mean"].to_numpy(dtype=float)
            std = summary[f"{metric}_std"].to_numpy(dtype=float)
            out[header] = [_pm(m, s, metric) for m, s in zip(mean, std, strict=True)]
        out["complexity"] = summary["complexity"]
        return out.reset_index(drop=True)


def _pm(mean: float, std: float, metric: str) -> str:
    if not math.isfinite(mean):
        return "n/a"
    if metric == "false_alarms_per_week":
        text = f"{mean:.3f}"
        spread = f"{std:.3f}"
    elif metric.startswith("latency"):
        text = f"{mean:.1f}"
        spread = f"{std:.1f}"
    else:
        text = f"{mean:.2f}"
        spread = f"{std:.2f}"
    return text if not math.isfinite(std) else f"{text} ± {spread}"


def compare(
    dataset_name: str,
    methods: str | Sequence[str] | None = None,
    seeds: int | Sequence[int] = 10,
    *,
    tolerance: int = 0,
    dataset_kwargs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    n_jobs: int | None = None,
    match_direction: bool = False,
    params: Mapping[str, Any] | None = None,
) -> Comparison:
    """Evaluate methods on a generated data set over many random seeds.

    Every (seed, method) pair is one job; with ``n_jobs > 1`` the jobs run in
    a :class:`~concurrent.futures.ProcessPoolExecutor` of that many worker
    processes started with the ``spawn`` method (``fork`` can deadlock once
    Prophet's backend has run in the parent). Each job regenerates its seed's
    data, so the result does not depend on ``n_jobs`` or on the order in
    which jobs finish: it is identical to the sequential run.

    Parameters
    ----------
    dataset_name : str
        A generator name (``smartphone-sales``, ``daily-revenue``, ``saas-mrr``).
    methods : str, sequence of str or None
        Method names; None means every registered method. A method whose
        optional dependency is missing, or that fails on the data with a
        :class:`~revwatch.errors.RevwatchError`, is skipped and listed in
        :attr:`Comparison.skipped`.
    seeds : int or sequence of int, default 10
        ``N`` means seeds ``0 .. N-1``.
    tolerance : int, default 0
        See :func:`flag_metrics`.
    dataset_kwargs : mapping, optional
        Extra arguments of the generator.
    progress : callable, optional
        Called in this process with a short line after each finished job.
    n_jobs : int, optional
        Worker processes; default ``os.cpu_count()``. ``1`` runs every job in
        this process, one after the other.
    match_direction : bool, default False
        See :func:`evaluate`.
    params : mapping, optional
        Method parameters (``{"country": "US"}``), each given to the compared
        methods that have a parameter of that name; a name no registered
        method has is an error.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> result = compare("smartphone-sales", "group-zscore,group-zscore-retro", seeds=2,
    ...                  n_jobs=1)
    >>> result.summary[["method", "retrospective", "seeds"]].values.tolist()
    [['group-zscore', False, 2], ['group-zscore-retro', True, 2]]
    >>> list(result.table(types=False).columns)[:5]
    ['method', 'retro', 'precision', 'recall', 'F1']
    """
    explicit = methods is not None
    names = parse_methods(methods) if explicit else method_names()
    seed_list = list(range(int(seeds))) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ParameterError("compare: --seeds must be at least 1")
    workers = _n_workers(n_jobs)
    skipped: dict[str, str] = {}
    for name in list(names):
        try:
            get_detector(name)
        except RevwatchError as exc:  # MissingDependencyError among them
            skipped[name] = str(exc)
        except ImportError as exc:
            skipped[name] = f"cannot be imported ({exc})"
    active = [n for n in names if n not in skipped]
    kwargs = dict(dataset_kwargs or {})
    given = dict(params or {})
    accepted = {name: set(get_detector(name).settable_params()) for name in active}
    if given:
        known: set[str] = set()
        for name in method_names():
            try:
                known |= set(get_detector(name).settable_params())
            except (RevwatchError, ImportError):
                continue
        unknown = sorted(set(given) - known)
        if unknown:
            raise ParameterError(
                f"compare: no method has a parameter {unknown[0]!r}; "
                "see `revwatch methods` for each method's parameters"
            )
    jobs = [
        (
            dataset_name,
            seed,
            name,
            tolerance,
            kwargs,
            match_direction,
            {k: v for k, v in given.items() if k in accepted[name]},
        )
        for seed in seed_list
        for name in active
    ]
    outcomes: dict[tuple[int, str], _Outcome] = {}
    started = time.monotonic()

    def _done(job: tuple[Any, ...], outcome: _Outcome) -> None:
        outcomes[(job[1], job[2])] = outcome
        if progress is not None:
            status = "done" if outcome[0] == "ok" else "failed"
            progress(
                f"{dataset_name}: seed {job[1]} {job[2]} {status} "
                f"({len(outcomes)}/{len(jobs)}, {time.monotonic() - started:.0f}s)"
            )

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            _done(job, _run_job(*job))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
            futures = {pool.submit(_run_job, *job): job for job in jobs}
            try:
                for future in as_completed(futures):
                    _done(futures[future], future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    # Outcomes are read back in (seed, method) order, exactly as a sequential
    # run meets them: a method's first failure decides whether it is skipped
    # (a RevwatchError, or any error when methods were not named) or raised.
    rows: list[dict[str, Any]] = []
    failed: set[str] = set()
    for seed in seed_list:
        for name in active:
            if name in failed:
                continue
            outcome = outcomes[(seed, name)]
            if outcome[0] == "ok":
                rows.append({"seed": seed, **outcome[1]})
            elif outcome[0] == "revwatch":
                skipped[name] = str(outcome[1])
                failed.add(name)
            else:
                error: Exception = outcome[1]
                if explicit:
                    raise error
                logger.warning("compare: %s failed on seed %d: %s", name, seed, error)
                skipped[name] = f"failed: {type(error).__name__}: {error}"
                failed.add(name)
    active = [n for n in active if n not in failed]
    runs = _tidy([{k: v for k, v in r.items() if k != "seed"} for r in rows])
    runs.insert(0, "seed", [r["seed"] for r in rows] if rows else [])
    runs = runs[runs["method"].isin(active)].reset_index(drop=True)
    summary = _summarise(runs, active)
    for name, why in skipped.items():
        logger.info("compare: skipped %s: %s", name, why)
    return Comparison(
        dataset=dataset_name,
        seeds=tuple(seed_list),
        runs=runs,
        summary=summary,
        skipped=skipped,
    )


#: A job's outcome: ``("ok", row)``, ``("revwatch", message)`` or ``("error", exception)``.
_Outcome = tuple[str, Any]


def _n_workers(n_jobs: int | None) -> int:
    if n_jobs is None:
        return os.cpu_count() or 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs < 1:
        raise ParameterError(f"compare: n_jobs (--jobs) must be an integer >= 1, got {n_jobs!r}")
    return int(n_jobs)


#: The last data set a worker prepared, reused by its next job on the same seed.
_PREPARED: dict[str, tuple[Panel, LabelGrid]] = {}


def _prepare(dataset_name: str, seed: int, kwargs: Mapping[str, Any]) -> tuple[Panel, LabelGrid]:
    key = repr((dataset_name, seed, sorted(kwargs.items())))
    if key not in _PREPARED:
        _PREPARED.clear()
        dataset = generate(dataset_name, seed=seed, **dict(kwargs))
        panel = to_panel(
            dataset.frame,
            id=list(dataset.id_columns) or None,
            time=dataset.time_column,
            value=dataset.value_column,
        )
        grid = align_labels(panel, dataset.labels, time=dataset.time_column)
        _PREPARED[key] = (panel, grid)
    return _PREPARED[key]


def _run_job(
    dataset_name: str,
    seed: int,
    name: str,
    tolerance: int,
    kwargs: Mapping[str, Any],
    match_direction: bool = False,
    params: Mapping[str, Any] | None = None,
) -> _Outcome:
    """One (seed, method) job of :func:`compare`; top-level so that it pickles."""
    panel, grid = _prepare(dataset_name, seed, kwargs)
    try:
        given = {**_comparison_params(name, panel), **dict(params or {})}
        detection = analyze(panel, method=name, **given)
        return ("ok", _method_row(detection, grid, tolerance, name, match_direction))
    except RevwatchError as exc:
        return ("revwatch", str(exc))
    except Exception as exc:  # a method still being written must not sink the table
        error: Exception = exc
    try:
        pickle.dumps(error)
    except Exception:  # an exception that cannot cross to the parent process
        error = RuntimeError(f"{type(error).__name__}: {error}")
    return ("error", error)


def _summarise(runs: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    numeric = [c for c in runs.columns if c in METRICS or c.startswith("recall_")]
    grouped = runs.groupby("method", sort=False)
    mean = grouped[numeric].mean().add_suffix("_mean")
    std = grouped[numeric].std(ddof=1).add_suffix("_std")
    first = grouped[["retrospective", "complexity"]].first()
    count = grouped.size().rename("seeds")
    stats_cols = [c for pair in zip(mean.columns, std.columns, strict=True) for c in pair]
    summary = pd.concat([first, count, mean, std], axis=1)[
        ["retrospective", "complexity", "seeds", *stats_cols]
    ]
    summary = summary.reindex([m for m in order if m in summary.index])
    summary.index.name = "method"
    summary = summary.reset_index()
    summary["seeds"] = summary["seeds"].astype(np.int64)
    return summary
