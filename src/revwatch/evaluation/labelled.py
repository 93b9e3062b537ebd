"""Score detection methods on a labelled set: a directory of series with anomaly windows.

The format is the one of the project's shared labelled sets (``truth.json``
beside one CSV per series)::

    truth.json   {"series": {NAME: {"dataset": GROUP, "file": "NAME.csv",
                                    "scoring_start": ISO, "windows": [[ISO, ISO], ...],
                                    ...}, ...}}
    NAME.csv     series,time,value   (one series per file, time as in the source)

A window ``[start, end]`` is inclusive. Rows before ``scoring_start`` are
warm-up: a method sees them, flags there are not scored.

Definitions (the same as the shared scoring script, so the numbers agree
exactly)
    A flag (a ``series``, ``period`` pair) is matched to the row of its series
    nearest to it, within half the series' median step (a method may report
    the regular grid, e.g. 05:00 for a row stamped 05:00:01); a flag that
    matches no row is *unmatched* and not scored; repeated flags on one row
    count once.

    recall          windows with at least one scored flag inside / windows
    precision       flags inside any window / scored flags
    F1              2PR / (P + R); 0 when P or R is 0 or there are no flags
    false_per_1000  flags outside every window per 1000 scored rows
    delay           median over detected windows of (row of the first flag
                    inside - first row of the window), in rows

Rows of the table: each group (``dataset`` in ``truth.json``) with its
series pooled, ``overall`` pooling every series, and ``macro`` averaging
recall, precision and F1 over the groups that have windows (a missing
precision counts as 0; groups without windows count only in ``overall``).

A method is run on each file the way ``revwatch detect FILE --id series
--time time --value value --format csv`` runs; its flags are the rows of
that CSV. A file the method refuses (a :class:`~revwatch.errors.RevwatchError`)
counts as "no flags" and is listed in ``failed``.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revwatch.errors import InputError, RevwatchError

logger = logging.getLogger(__name__)

__all__ = [
    "TABLE_COLUMNS",
    "LabelledScore",
    "LabelledSeries",
    "LabelledSet",
    "count_flags",
    "detect_flags",
    "evaluate_labelled",
    "is_labelled_set",
    "markdown_table",
    "read_flags",
    "read_labelled_set",
    "score_labelled",
]

#: Columns of the table :func:`score_labelled` and :func:`evaluate_labelled` return.
TABLE_COLUMNS: tuple[str, ...] = (
    "method",
    "dataset",
    "series",
    "windows",
    "detected",
    "recall",
    "flags",
    "true_flags",
    "precision",
    "f1",
    "false_per_1000",
    "delay",
    "points",
    "unmatched",
    "failed",
)

_TRUTH = "truth.json"


@dataclass(frozen=True)
class LabelledSeries:
    """One series of a labelled set.

    Attributes
    ----------
    name : str
        The key in ``truth.json`` (and the ``series`` value of its flags).
    group : str
        Its ``dataset`` group.
    path : pathlib.Path
        The CSV file.
    scoring_start : pandas.Timestamp
        First scored time; earlier rows are warm-up.
    windows : tuple of (Timestamp, Timestamp)
        Labelled anomaly windows, both ends inclusive.
    """

    name: str
    group: str
    path: Path
    scoring_start: pd.Timestamp
    windows: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]

    def times(self) -> np.ndarray:
        """The series' row times, parsed as the scoring script parses them."""
        try:
            column = pd.read_csv(self.path, dtype=str)["time"]
        except KeyError as exc:
            raise InputError(f"{self.path}: no column 'time'; a labelled series has "
                             "columns series,time,value") from exc  # fmt: skip
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.path} cannot be read ({exc})") from exc
        try:
            stamps = pd.to_datetime(column, format="mixed")
        except (ValueError, TypeError) as exc:
            raise InputError(f"{self.path}: a time cannot be read as a date ({exc})") from exc
        values = np.asarray(stamps.to_numpy())
        if len(values) > 1 and (np.diff(values) < np.timedelta64(0, "s")).any():
            line = int(np.flatnonzero(np.diff(values) < np.timedelta64(0, "s"))[0]) + 3
            raise InputError(f"{self.path} line {line}: times go backwards; sort the file by time")
        return values


@dataclass(frozen=True)
class LabelledSet:
    """A directory of labelled series (see the module docstring)."""

    root: Path
    series: dict[str, LabelledSeries]

    @property
    def groups(self) -> list[str]:
        """The groups in the order ``truth.json`` first names them."""
        return list(dict.fromkeys(s.group for s in self.series.values()))


def is_labelled_set(path: str | Path) -> bool:
    """True when ``path`` is a directory with a ``truth.json``."""
    p = Path(path).expanduser()
    return p.is_dir() and (p / _TRUTH).is_file()


def _stamp(value: Any, where: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{where}: {value!r} is not a date; write ISO times") from exc
    if stamp is pd.NaT:
        raise InputError(f"{where}: {value!r} is not a date; write ISO times")
    return stamp


def read_labelled_set(path: str | Path) -> LabelledSet:
    """Read ``truth.json`` of a labelled set and check that its files exist.

    Raises
    ------
    InputError
        If the directory or ``truth.json`` is missing or malformed, or a
        series' file does not exist.
    """
    root = Path(path).expanduser()
    truth_path = root / _TRUTH
    if not truth_path.is_file():
        raise InputError(f"{root} is not a labelled set: it has no {_TRUTH}")
    try:
        truth = json.loads(truth_path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{truth_path} cannot be read as JSON ({exc})") from exc
    entries = truth.get("series") if isinstance(truth, dict) else None
    if not isinstance(entries, dict):
        raise InputError(f'{truth_path}: no "series" object; see the labelled-set format')
    series: dict[str, LabelledSeries] = {}
    for name, meta in entries.items():
        where = f"{truth_path}: series {name!r}"
        if not isinstance(meta, dict):
            raise InputError(f"{where} is not an object")
        missing = [k for k in ("dataset", "file", "scoring_start", "windows") if k not in meta]
        if missing:
            raise InputError(f"{where} has no {missing[0]!r}")
        file = root / str(meta["file"])
        if not file.is_file():
            raise InputError(f"{where}: file {file} does not exist")
        windows = []
        for k, window in enumerate(meta["windows"]):
            if not isinstance(window, list | tuple) or len(window) != 2:
                raise InputError(f"{where} window {k + 1} is not a [start, end] pair")
            windows.append((_stamp(window[0], where), _stamp(window[1], where)))
        series[str(name)] = LabelledSeries(
            name=str(name),
            group=str(meta["dataset"]),
            path=file,
            scoring_start=_stamp(meta["scoring_start"], where),
            windows=tuple(windows),
        )
    if not series:
        raise InputError(f"{truth_path} lists no series")
    return LabelledSet(root=root, series=series)


def count_flags(
    times: np.ndarray,
    scoring_start: pd.Timestamp,
    windows: Sequence[tuple[pd.Timestamp, pd.Timestamp]],
    flagged: np.ndarray,
) -> dict[str, Any]:
    """The counts of one series: windows, detected, flags, true flags, points, delays.

    Parameters
    ----------
    times : ndarray of datetime64
        The series' rows, sorted.
    scoring_start : Timestamp
        First scored time.
    windows : sequence of (Timestamp, Timestamp)
        Inclusive windows.
    flagged : ndarray of datetime64
        Flagged times (NaT for an unreadable one: unmatched).

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=10, freq="D").to_numpy()
    >>> w = [(pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-06"))]
    >>> flags = pd.to_datetime(["2024-01-02", "2024-01-06", "2024-01-08 06:00",
    ...                         "2024-03-01"], format="mixed").to_numpy()
    >>> c = count_flags(t, pd.Timestamp("2024-01-03"), w, flags)
    >>> c["flags"], c["true_flags"], c["detected"], c["delays"], c["unmatched"], c["points"]
    (2, 1, 1, [1], 1, 8)
    """
    t = np.asarray(times)
    flagged = np.asarray(flagged, dtype="datetime64[ns]")
    n = len(t)
    start = int(np.searchsorted(t, np.datetime64(scoring_start)))
    half = np.median(np.diff(t)) / 2 if n > 1 else np.timedelta64(0, "s")
    if n > 1:
        i = np.clip(np.searchsorted(t, flagged), 1, n - 1)
        i = np.where(np.abs(t[i - 1] - flagged) <= np.abs(t[i] - flagged), i - 1, i)
    else:
        i = np.zeros(len(flagged), dtype=np.int64)
    if n:
        found = (i < n) & (np.abs(t[np.minimum(i, n - 1)] - flagged) <= half)
    else:
        found = np.zeros(len(flagged), dtype=bool)
    rows = np.unique(i[found])
    rows = rows[rows >= start]
    inside = np.zeros(len(rows), dtype=bool)
    detected, delays = 0, []
    for lo_time, hi_time in windows:
        lo = int(np.searchsorted(t, np.datetime64(lo_time)))
        hi = int(np.searchsorted(t, np.datetime64(hi_time), side="right")) - 1
        hit = (rows >= lo) & (rows <= hi)
        inside |= hit
        if hit.any():
            detected += 1
            delays.append(int(rows[hit].min() - lo))
    return {
        "windows": len(windows),
        "detected": detected,
        "flags": len(rows),
        "true_flags": int(inside.sum()),
        "points": n - start,
        "delays": delays,
        "unmatched": int((~found).sum()),
    }


def _metrics(counts: list[dict[str, Any]]) -> dict[str, Any]:
    total = {
        k: sum(c[k] for c in counts)
        for k in ("windows", "detected", "flags", "true_flags", "points", "unmatched")
    }
    recall = total["detected"] / total["windows"] if total["windows"] else None
    precision = total["true_flags"] / total["flags"] if total["flags"] else None
    if recall is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    delays = [d for c in counts for d in c["delays"]]
    false = total["flags"] - total["true_flags"]
    return {
        "series": len(counts),
        **total,
        "recall": recall,
        "precision": precision,
        "f1": f1,
        "false_per_1000": 1000 * false / total["points"] if total["points"] else None,
        "delay": float(np.median(delays)) if delays else None,
    }


@dataclass(frozen=True)
class LabelledScore:
    """The outcome of :func:`score_labelled`.

    Attributes
    ----------
    table : DataFrame
        :data:`TABLE_COLUMNS`: one row per group, then ``overall`` and
        ``macro`` (missing values are NaN / <NA>).
    per_series : DataFrame
        One row per series: ``series_name``, ``dataset`` and its counts.
    unknown_series : list of str
        ``series`` values of flags that name no series of the set.
    failed : dict
        Series name -> why the method could not run on it (no flags counted).
    """

    table: pd.DataFrame
    per_series: pd.DataFrame
    unknown_series: list[str]
    failed: dict[str, str] = field(default_factory=dict)


def read_flags(files: Sequence[str | Path]) -> pd.DataFrame:
    """Read flag CSVs (columns ``series`` and ``period`` or ``time``) as one frame of text.

    Empty files mean "no flags".

    Raises
    ------
    InputError
        If a file is missing, unreadable or lacks the two columns.
    """
    frames = []
    for f in files:
        path = Path(f).expanduser()
        if not path.is_file():
            raise InputError(f"flags file {path} does not exist")
        if os.path.getsize(path) == 0:
            continue
        try:
            frame = pd.read_csv(path, dtype=str)
        except (OSError, ValueError) as exc:
            raise InputError(f"flags file {path} cannot be read ({exc})") from exc
        if "period" not in frame.columns and "time" in frame.columns:
            frame = frame.rename(columns={"time": "period"})
        if not {"series", "period"} <= set(frame.columns):
            raise InputError(
                f"flags file {path}: needs columns series and period, got {list(frame.columns)}"
            )
        frames.append(frame[["series", "period"]])
    if not frames:
        return pd.DataFrame({"series": pd.Series([], dtype=str), "period": []})
    return pd.concat(frames, ignore_index=True)


def score_labelled(
    labelled: LabelledSet | str | Path,
    flags: pd.DataFrame,
    *,
    method: str = "flags",
    failed: Mapping[str, str] | None = None,
) -> LabelledScore:
    """Score one set of flags against a labelled set (see the module docstring).

    Parameters
    ----------
    labelled : LabelledSet or path
        The set.
    flags : DataFrame
        Columns ``series`` and ``period`` (text or datetimes).
    method : str
        The ``method`` column of the table.
    failed : mapping, optional
        Series the method could not run on (shown in the table's ``failed``).

    Returns
    -------
    LabelledScore
    """
    lset = labelled if isinstance(labelled, LabelledSet) else read_labelled_set(labelled)
    failed = dict(failed or {})
    fl = flags
    if len(fl) and "period" not in fl.columns and "time" in fl.columns:
        fl = fl.rename(columns={"time": "period"})
    if len(fl) and not {"series", "period"} <= set(fl.columns):
        raise InputError(f"flags need columns series and period, got {list(fl.columns)}")
    if not len(fl):
        fl = pd.DataFrame({"series": pd.Series([], dtype=str), "period": []})
    names = fl["series"].astype(str)
    stamps = (
        pd.to_datetime(fl["period"], format="mixed", errors="coerce")
        if len(fl)
        else pd.Series([], dtype="datetime64[ns]")
    )
    flag_times = stamps.to_numpy(dtype="datetime64[ns]")
    unknown = sorted(set(names) - set(lset.series))
    per: dict[str, dict[str, Any]] = {}
    for name, s in lset.series.items():
        mask = (names == name).to_numpy()
        per[name] = count_flags(s.times(), s.scoring_start, s.windows, flag_times[mask])
    rows: list[dict[str, Any]] = []
    group_metrics: dict[str, dict[str, Any]] = {}
    for group in lset.groups:
        members = [n for n, s in lset.series.items() if s.group == group]
        group_metrics[group] = _metrics([per[n] for n in members])
        rows.append(
            {"dataset": group, **group_metrics[group],
             "failed": sum(n in failed for n in members)}
        )  # fmt: skip
    rows.append({"dataset": "overall", **_metrics(list(per.values())), "failed": len(failed)})
    with_windows = [m for m in group_metrics.values() if m["windows"]]
    rows.append(
        {
            "dataset": "macro",
            **{
                k: float(np.mean([m[k] or 0.0 for m in with_windows])) if with_windows else None
                for k in ("recall", "precision", "f1")
            },
        }
    )
    table = pd.DataFrame(rows).reindex(columns=[c for c in TABLE_COLUMNS if c != "method"])
    table.insert(0, "method", method)
    counts = ("series", "windows", "detected", "flags", "true_flags", "points", "unmatched")
    for col in (*counts, "failed"):
        table[col] = table[col].astype("Int64")
    for col in ("recall", "precision", "f1", "false_per_1000", "delay"):
        table[col] = table[col].astype(float)
    per_series = pd.DataFrame(
        [
            {
                "series_name": n,
                "dataset": lset.series[n].group,
                **{k: v for k, v in c.items() if k != "delays"},
                "delays": c["delays"],
                "failed": failed.get(n, ""),
            }
            for n, c in per.items()
        ]
    )
    return LabelledScore(table=table, per_series=per_series, unknown_series=unknown, failed=failed)


def detect_flags(
    labelled: LabelledSet,
    method: str = "auto",
    *,
    params: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Run one method on every series file of the set; return its flags and the failures.

    Each file is analysed as ``revwatch detect FILE --id series --time time
    --value value --format csv`` does, and its flags are read back from that
    CSV text, so they are exactly what the command writes.
    """
    from revwatch.pipeline import analyze
    from revwatch.report import write_results

    frames: list[pd.DataFrame] = []
    failed: dict[str, str] = {}
    for name, s in labelled.series.items():
        try:
            detection = analyze(
                s.path, id="series", time="time", value="value", method=method,
                **dict(params or {}),
            )  # fmt: skip
        except RevwatchError as exc:
            failed[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            logger.info("%s on %s: refused (%s)", method, name, failed[name])
            if progress is not None:
                progress(f"{method} {name}: FAILED {failed[name][:160]}")
            continue
        results = detection.results()
        text = write_results(results, "csv", id_columns=list(detection.panel.id_columns))
        if text and len(results):
            frame = pd.read_csv(io.StringIO(text), dtype=str)
            if "period" not in frame.columns and "time" in frame.columns:
                frame = frame.rename(columns={"time": "period"})
            frames.append(frame[["series", "period"]])
        if progress is not None:
            progress(f"{method} {name}: {len(results)} flags")
    if not frames:
        return pd.DataFrame({"series": pd.Series([], dtype=str), "period": []}), failed
    return pd.concat(frames, ignore_index=True), failed


def evaluate_labelled(
    path: str | Path,
    methods: str | Sequence[str] | None = "auto",
    *,
    flags: Sequence[str | Path] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> LabelledScore:
    """Score methods (or given flag files) on a labelled set; one table for all.

    Parameters
    ----------
    path : path
        The labelled set's directory.
    methods : str or sequence of str, default "auto"
        Methods to run (ignored when ``flags`` is given).
    flags : sequence of paths, optional
        Flag CSVs to score instead of running a method (method name
        ``flags``).
    params : mapping, optional
        Parameters per method name.
    progress : callable, optional
        Called with a short line after each series.

    Returns
    -------
    LabelledScore
        ``table`` has the rows of every method one after the other;
        ``per_series`` and ``failed`` are those of the last one.
    """
    from revwatch.evaluation.metrics import parse_methods

    lset = read_labelled_set(path)
    if flags is not None:
        return score_labelled(lset, read_flags(flags), method="flags")
    tables: list[pd.DataFrame] = []
    score: LabelledScore | None = None
    for name in parse_methods(methods):
        found, failed = detect_flags(lset, name, params=(params or {}).get(name), progress=progress)
        score = score_labelled(lset, found, method=name, failed=failed)
        tables.append(score.table)
    assert score is not None  # parse_methods returns at least one name
    return LabelledScore(
        table=pd.concat(tables, ignore_index=True),
        per_series=score.per_series,
        unknown_series=score.unknown_series,
        failed=score.failed,
    )


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float | np.floating):
        return f"{float(value):.{digits}f}"
    return str(value)


def markdown_table(table: pd.DataFrame, *, header: bool = True) -> str:
    """The table in the scoring script's Markdown layout (same columns and rounding).

    Examples
    --------
    >>> row = {"method": "m", "dataset": "g", "windows": 2, "detected": 1, "recall": 0.5,
    ...        "flags": 4, "precision": 0.25, "f1": 1 / 3, "false_per_1000": 3.0, "delay": 2.0}
    >>> print(markdown_table(pd.DataFrame([row]), header=False))
    | m | g | 2 | 1 | 0.50 | 4 | 0.25 | 0.33 | 3.0 | 2.0 |
    """
    lines = []
    if header:
        lines.append(
            "| method | dataset | windows | detected | recall | flags | precision | F1 | "
            "false/1000 | median delay |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for row in table.to_dict("records"):
        cells = [
            _fmt(row["method"]),
            _fmt(row["dataset"]),
            _fmt(row.get("windows")),
            _fmt(row.get("detected")),
            _fmt(row.get("recall")),
            _fmt(row.get("flags")),
            _fmt(row.get("precision")),
            _fmt(row.get("f1")),
            _fmt(row.get("false_per_1000"), 1),
            _fmt(row.get("delay"), 1),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
