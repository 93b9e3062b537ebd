"""Calendar and user events that annotate incidents.

Named ``annotations`` (it was ``events_calendar``): what it adds to an incident, and
no third module called calendar beside :mod:`revwatch.detectors.calendar`.

Three sources of context are attached to an incident window
``[start, end]``:

* **public holidays** of a chosen country, from the ``holidays`` package
  (it ships its data, nothing is fetched);
* **month-end and quarter-end**: the window contains the last day of a
  month (or of a quarter); for monthly or coarser data, the period itself is
  a month or quarter that ends in the window;
* **user events** from a CSV file with ``date`` (or ``start`` and ``end``),
  ``label`` and an optional ``kind`` column (price change, campaign,
  outage, ...): every event that overlaps the window.

Annotations are context for the person reading the incident; they do not
change its tier.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from revwatch.data.panel import STEP_SECONDS
from revwatch.errors import InputError, MissingColumnError, MissingDependencyError, ParameterError

logger = logging.getLogger(__name__)

__all__ = ["annotate_windows", "holiday_table", "load_events", "period_end_flags"]

_EVENT_COLUMNS = ("start", "end", "label", "kind")


def holiday_table(country: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Public holidays of ``country`` between two dates.

    Parameters
    ----------
    country : str
        ISO 3166 country code understood by the ``holidays`` package
        (``"US"``, ``"DE"``, ``"GB"``, ...).
    start, end : pandas.Timestamp
        The date range, both included.

    Returns
    -------
    DataFrame
        ``start``, ``end`` (the same day), ``label`` and ``kind`` (``"holiday"``).

    Raises
    ------
    ParameterError
        If the country code is unknown.

    Examples
    --------
    >>> table = holiday_table("US", pd.Timestamp("2025-07-01"), pd.Timestamp("2025-07-31"))
    >>> table[["start", "label"]].astype(str).values.tolist()
    [['2025-07-04', 'Independence Day']]
    """
    try:
        import holidays
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependencyError("holidays", "all") from exc
    years = list(range(int(start.year), int(end.year) + 1))
    try:
        table = holidays.country_holidays(country.upper(), years=years)
    except NotImplementedError as exc:
        raise ParameterError(
            f"--country {country!r} is not a country code the holidays package knows; "
            "use an ISO code such as US, GB or DE"
        ) from exc
    items = sorted((pd.Timestamp(day), str(name)) for day, name in table.items())
    frame = pd.DataFrame(items, columns=["start", "label"])
    if frame.empty:
        frame = pd.DataFrame({"start": pd.to_datetime([]), "label": pd.Series([], dtype=object)})
    frame = frame[(frame["start"] >= start.normalize()) & (frame["start"] <= end)]
    frame = frame.assign(end=frame["start"], kind="holiday")
    return frame[list(_EVENT_COLUMNS)].reset_index(drop=True)


def load_events(path: str | Path) -> pd.DataFrame:
    """Read a user events CSV: ``date`` or ``start``/``end``, ``label``, optional ``kind``.

    Parameters
    ----------
    path : str or Path
        The CSV file. One row per event; a one-day event may give ``date``
        only, a longer one ``start`` and ``end`` (both included).

    Returns
    -------
    DataFrame
        ``start``, ``end``, ``label``, ``kind`` (``"event"`` when absent).

    Raises
    ------
    InputError
        If the file is missing or a date cannot be read (the message names
        the line and column).
    MissingColumnError
        If neither ``date`` nor ``start`` is present, or ``label`` is absent.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "events.csv").write_text(
    ...     "date,label,kind\\n2025-03-01,price change,pricing\\n"
    ... )
    >>> load_events(folder / "events.csv")[["label", "kind"]].values.tolist()
    [['price change', 'pricing']]
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise InputError(f"{source}: events file not found; pass an existing CSV to --events")
    try:
        raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(
            f"{source}: cannot read the events CSV ({exc}); save it as UTF-8 CSV"
        ) from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    if "label" not in raw.columns:
        raise MissingColumnError(
            f"{source}: no 'label' column; the events file needs date (or start,end),label[,kind]"
        )
    if "start" not in raw.columns and "date" not in raw.columns:
        raise MissingColumnError(
            f"{source}: no 'date' or 'start' column; the events file needs "
            "date (or start,end),label[,kind]"
        )
    start_col = "start" if "start" in raw.columns else "date"
    end_col = "end" if "end" in raw.columns else start_col
    start = _parse_event_dates(raw[start_col], source, start_col)
    end_text = raw[end_col].where(raw[end_col].str.strip() != "", raw[start_col])
    end = _parse_event_dates(end_text, source, end_col)
    backwards = np.flatnonzero((end < start).to_numpy())
    if backwards.size:
        line = int(backwards[0]) + 2
        raise InputError(f"{source}: line {line}: end is before start; swap the two dates")
    kind = raw["kind"].where(raw["kind"].str.strip() != "", "event") if "kind" in raw else "event"
    frame = pd.DataFrame({"start": start, "end": end, "label": raw["label"].str.strip()})
    frame["kind"] = kind
    logger.info("read %d events from %s", len(frame), source)
    return frame.reset_index(drop=True)


def _parse_event_dates(text: pd.Series, source: Path, column: str) -> pd.Series:
    parsed = pd.to_datetime(text.str.strip(), errors="coerce", format="mixed")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        line = int(bad[0]) + 2  # the header is line 1
        raise InputError(
            f"{source}: line {line}, column {column!r}: cannot read {text.iloc[bad[0]]!r} "
            "as a date; write it as YYYY-MM-DD"
        )
    return parsed.dt.normalize()


def period_end_flags(start: pd.Series, end: pd.Series, freq: str) -> tuple[np.ndarray, np.ndarray]:
    """Whether each window ``[start, end]`` contains a month end and a quarter end.

    For daily or finer data a window contains a month end when it includes
    the last calendar day of a month; for weekly data when a month ends
    during one of its weeks; for monthly or quarterly data every period is a
    month (quarter) and its end is always inside the window.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2025-03-30", "2025-04-10"]))
    >>> e = pd.Series(pd.to_datetime(["2025-03-31", "2025-04-11"]))
    >>> [a.tolist() for a in period_end_flags(s, e, "daily")]
    [[True, False], [True, False]]
    """
    start_ts = pd.DatetimeIndex(start).normalize()
    last_day = (pd.DatetimeIndex(end) + _span(freq)).normalize() - pd.Timedelta(days=1)
    month_end = np.asarray(start_ts + pd.offsets.MonthEnd(0) <= last_day)
    quarter_end = np.asarray(start_ts + pd.offsets.QuarterEnd(0) <= last_day)
    return month_end, quarter_end


def annotate_windows(
    start: pd.Series,
    end: pd.Series,
    *,
    freq: str = "daily",
    country: str | None = None,
    events: pd.DataFrame | None = None,
) -> list[list[str]]:
    """Annotations for each window ``[start, end]`` (holidays, period ends, events).

    Parameters
    ----------
    start, end : Series of datetime64
        The windows; ``end`` NaT means open (up to ``start``'s last date).
    freq : str, default "daily"
        The data's frequency (see :func:`period_end_flags`).
    country : str, optional
        Country code for public holidays; none when omitted.
    events : DataFrame, optional
        User events as returned by :func:`load_events`.

    Returns
    -------
    list of list of str
        One list per window, e.g. ``["holiday: Independence Day", "month-end"]``.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2025-07-04", "2025-06-10"]))
    >>> annotate_windows(s, s, country="US")
    [['holiday: Independence Day'], []]
    """
    start = pd.Series(pd.to_datetime(start)).reset_index(drop=True)
    end = pd.Series(pd.to_datetime(end)).reset_index(drop=True)
    end = end.fillna(start.max()) if len(start) else end
    notes: list[list[str]] = [[] for _ in range(len(start))]
    if not len(start):
        return notes
    tables = []
    if country:
        lo, hi = start.min(), end.max()
        tables.append(holiday_table(country, lo, hi + _span(freq)))
    if events is not None and len(events):
        tables.append(events[list(_EVENT_COLUMNS)])
    window = pd.DataFrame({"w": np.arange(len(start)), "ws": start, "we": end + _span(freq)})
    if tables:
        table = pd.concat(tables, ignore_index=True)
        pairs = window.merge(table, how="cross")
        hit = pairs[(pairs["start"] < pairs["we"]) & (pairs["end"] >= pairs["ws"])]
        text = hit["kind"].astype(str).str.cat(hit["label"].astype(str), sep=": ")
        grouped = text.groupby(hit["w"]).agg(lambda s: list(dict.fromkeys(s)))
        for position, items in grouped.items():
            notes[int(str(position))].extend(items)
    month_end, quarter_end = period_end_flags(start, end, freq)
    # every monthly period holds a month end (every quarterly one a quarter end):
    # a note that is always there says nothing
    if freq in ("monthly", "quarterly", "yearly"):
        month_end = np.zeros_like(month_end)
    if freq in ("quarterly", "yearly"):
        quarter_end = np.zeros_like(quarter_end)
    for position in np.flatnonzero(quarter_end):
        notes[int(position)].append("quarter-end")
    for position in np.flatnonzero(month_end & ~quarter_end):
        notes[int(position)].append("month-end")
    return notes


def _span(freq: str) -> pd.Timedelta | pd.DateOffset:
    """Length of one period, so a window's last period is covered to its end."""
    spans: dict[str, pd.Timedelta | pd.DateOffset] = {
        **{freq: pd.Timedelta(seconds=seconds) for freq, seconds in STEP_SECONDS.items()},
        "monthly": pd.DateOffset(months=1),
        "quarterly": pd.DateOffset(months=3),
        "yearly": pd.DateOffset(years=1),
    }
    return spans.get(freq, pd.Timedelta(days=1))
