"""Print detection results as a ranked table in the terminal.

:func:`render_table` prints the results frame that :mod:`revwatch.detectors`
returns (most severe first) as a :class:`rich.table.Table`.
:func:`format_period` turns periods into the strings every writer uses:
``YYYY-MM`` for monthly data, ``YYYY-MM-DD`` for daily or weekly data and
``YYYY-MM-DD HH:MM`` for hourly data, decided from the periods themselves.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from revwatch.errors import MissingColumnError, ParameterError
from revwatch.report._style import DOWN_COLOR, UP_COLOR, type_color

logger = logging.getLogger(__name__)

__all__ = [
    "Resolution",
    "format_number",
    "format_pct",
    "format_period",
    "period_resolution",
    "render_table",
]

#: How finely periods are shown: whole months, whole days, or with a time of day.
Resolution = Literal["month", "day", "time"]

_RESOLUTIONS: tuple[str, ...] = ("month", "day", "time")
_DISPLAY_FORMATS: dict[str, str] = {
    "month": "%Y-%m",
    "day": "%Y-%m-%d",
    "time": "%Y-%m-%d %H:%M",
}
_ISO_FORMATS: dict[str, str] = {
    "month": "%Y-%m-%d",
    "day": "%Y-%m-%d",
    "time": "%Y-%m-%dT%H:%M:%S",
}
_TABLE_COLUMNS: tuple[str, ...] = (
    "period",
    "value",
    "baseline",
    "pct_vs_baseline",
    "type",
    "severity",
)
_MISSING = "–"


def stderr_console(width: int = 140) -> Console:
    """The console for tables and notes: stderr, ``width`` columns when it is not a terminal.

    Pipes and CI logs get a fixed width so that wide tables are not cut to 80 columns; a
    terminal keeps its own width.

    Examples
    --------
    >>> stderr_console(width=180).stderr
    True
    """
    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=width)
    return console


def _as_datetimes(periods: pd.Series | pd.Index | Sequence[Any]) -> pd.Series:
    """Return ``periods`` as a datetime64 Series (NaT where unparseable)."""
    series = periods.copy() if isinstance(periods, pd.Series) else pd.Series(list(periods))
    if isinstance(series.dtype, pd.PeriodDtype):
        return series.dt.to_timestamp()
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series
    return pd.to_datetime(series, errors="coerce")


def _period_dtype_resolution(periods: pd.Series) -> Resolution | None:
    """Resolution implied by a ``period[...]`` dtype, or None for other dtypes."""
    if not isinstance(periods.dtype, pd.PeriodDtype):
        return None
    code = str(periods.dtype.freq.rule_code).upper()
    if code.startswith(("M", "Q", "Y", "A")):
        return "month"
    if code.startswith(("D", "B", "W")):
        return "day"
    return "time"


def period_resolution(periods: pd.Series | pd.Index | Sequence[Any]) -> Resolution:
    """Decide how finely a set of periods should be shown.

    Parameters
    ----------
    periods : Series, Index or sequence
        Timestamps (datetime64, ``period[...]`` or parseable strings).

    Returns
    -------
    {"month", "day", "time"}
        ``"time"`` if any period has a time of day, else ``"month"`` if every
        period is the first (or every one the last) day of a month, else
        ``"day"``. An empty or all-missing input is ``"day"``.

    Examples
    --------
    >>> period_resolution(pd.to_datetime(["2024-01-01", "2024-02-01"]))
    'month'
    >>> period_resolution(pd.to_datetime(["2024-01-31", "2024-02-29"]))
    'month'
    >>> period_resolution(pd.to_datetime(["2024-01-01", "2024-01-02"]))
    'day'
    >>> period_resolution(pd.to_datetime(["2024-01-01 13:00"]))
    'time'
    """
    raw = periods if isinstance(periods, pd.Series) else pd.Series(list(periods))
    from_dtype = _period_dtype_resolution(raw)
    if from_dtype is not None:
        return from_dtype
    stamps = _as_datetimes(raw).dropna()
    if stamps.empty:
        return "day"
    if bool((stamps != stamps.dt.normalize()).any()):
        return "time"
    if bool((stamps.dt.day == 1).all()) or bool(stamps.dt.is_month_end.all()):
        return "month"
    return "day"


def format_period(
    periods: pd.Series | pd.Index | Sequence[Any],
    *,
    iso: bool = False,
    resolution: Resolution | None = None,
) -> pd.Series:
    """Format periods as strings, at the resolution the data has.

    Parameters
    ----------
    periods : Series, Index or sequence
        Timestamps (datetime64, ``period[...]`` or parseable strings).
    iso : bool, default False
        False gives the display form (``2024-03`` for monthly data,
        ``2024-03-05``, ``2024-03-05 13:00``); True gives the machine form used
        by the CSV and JSON writers (always a full ``YYYY-MM-DD`` date, with
        ``THH:MM:SS`` appended for sub-daily data).
    resolution : {"month", "day", "time"}, optional
        Force a resolution instead of inferring it (see
        :func:`period_resolution`).

    Returns
    -------
    Series of str
        One string per period, aligned with ``periods``' index when it is a
        Series; missing periods become ``""``.

    Raises
    ------
    ParameterError
        If ``resolution`` is not one of the three names.

    Examples
    --------
    >>> monthly = pd.Series(pd.to_datetime(["2026-03-01", "2026-04-01"]))
    >>> format_period(monthly).tolist()
    ['2026-03', '2026-04']
    >>> format_period(monthly, iso=True).tolist()
    ['2026-03-01', '2026-04-01']
    >>> format_period(pd.Series(pd.to_datetime(["2024-01-01 13:00", None]))).tolist()
    ['2024-01-01 13:00', '']
    """
    if resolution is not None and resolution not in _RESOLUTIONS:
        raise ParameterError(
            f"resolution must be one of {', '.join(_RESOLUTIONS)}; got {resolution!r}"
        )
    raw = periods if isinstance(periods, pd.Series) else pd.Series(list(periods))
    stamps = _as_datetimes(raw)
    chosen = resolution if resolution is not None else period_resolution(raw)
    fmt = (_ISO_FORMATS if iso else _DISPLAY_FORMATS)[chosen]
    if stamps.empty:
        return pd.Series([], index=stamps.index, dtype=object)
    if chosen == "time" and not iso and bool((stamps.dt.second.fillna(0) != 0).any()):
        fmt += ":%S"  # steps with a phase in seconds (every 5 minutes at :02:53) keep it
    text = stamps.dt.strftime(fmt)
    return text.astype(object).where(stamps.notna(), "")


# C0 and C1 control characters (ESC included) and the bidirectional overrides that reorder text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: Any) -> str:
    r"""``text`` with every control or escape character shown as ``\xNN`` (or ``\uNNNN``).

    What a data file puts in an id must not move the cursor, recolour or
    clear the terminal, or reorder the line.

    Examples
    --------
    >>> print(printable("acme\x1b[2J\tbeta"))
    acme\x1b[2J\x09beta
    """
    return _CONTROL.sub(_escape_control, str(text))


def _escape_control(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pd.NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_number(value: Any, decimals: int = 2, *, currency: str | None = None) -> str:
    """Format a number with thousands separators and a fixed number of decimals.

    Parameters
    ----------
    value : float
        The number; missing values give ``"–"``.
    decimals : int, default 2
        Digits after the decimal point.
    currency : str, optional
        A symbol put before the digits (after the minus sign), e.g. ``"$"``.

    Returns
    -------
    str

    Examples
    --------
    >>> format_number(8954.9)
    '8,954.90'
    >>> format_number(-1234.5, currency="$")
    '-$1,234.50'
    >>> format_number(float("nan"))
    '–'
    """
    if _is_missing(value):
        return _MISSING
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    rounded = round(number, decimals)
    sign = "-" if rounded < 0 else ""
    return f"{sign}{currency or ''}{abs(rounded):,.{decimals}f}"


def format_pct(value: Any, decimals: int = 1) -> str:
    """Format a percentage with an explicit sign, e.g. ``-64.0%`` or ``+153.8%``.

    Parameters
    ----------
    value : float
        The percentage (``-64.0`` means 64 % below baseline); missing gives ``"–"``.
    decimals : int, default 1
        Digits after the decimal point.

    Returns
    -------
    str

    Examples
    --------
    >>> format_pct(-64.04)
    '-64.0%'
    >>> format_pct(153.8)
    '+153.8%'
    >>> format_pct(0.0)
    '0.0%'
    """
    if _is_missing(value):
        return _MISSING
    number = float(value)
    if not math.isfinite(number):
        return f"{number}%"
    rounded = round(number, decimals) + 0.0  # turns -0.0 into 0.0
    sign = "+" if rounded > 0 else ""
    return f"{sign}{rounded:,.{decimals}f}%"


def _check_columns(frame: pd.DataFrame, needed: Sequence[str], what: str) -> None:
    """Raise MissingColumnError naming every column of ``needed`` not in ``frame``."""
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{what} is missing column(s) {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(repr, map(str, frame.columns)))}"
        )


def _value_decimals(values: pd.Series) -> int:
    """0 decimals when every value is a whole number, else 2."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if numbers.empty:
        return 2
    return 0 if bool((numbers == numbers.round()).all()) else 2


def _pct_style(direction: Any, pct: Any, *, has_direction: bool) -> str:
    """Red for down, green for up; from ``direction`` if the frame has it, else the sign."""
    if has_direction:
        if direction == "down":
            return DOWN_COLOR
        if direction == "up":
            return UP_COLOR
        return ""
    if _is_missing(pct):
        return ""
    number = float(pct)
    if number < 0:
        return DOWN_COLOR
    if number > 0:
        return UP_COLOR
    return ""


def render_table(
    results: pd.DataFrame,
    id_columns: Sequence[str],
    *,
    console: Console | None = None,
    limit: int | None = 20,
    title: str | None = None,
    value_label: str = "value",
    currency: str | None = None,
) -> None:
    """Print the ranked anomaly table.

    Parameters
    ----------
    results : DataFrame
        The results frame (see :mod:`revwatch.report`): id columns, ``period``,
        ``value``, ``baseline``, ``pct_vs_baseline``, ``type``, ``severity``
        and optionally ``direction`` and ``provisional``. Printed in its
        order (most severe first).
    id_columns : sequence of str
        The columns that identify a series (may be empty).
    console : rich.console.Console, optional
        Where to print; default :func:`stderr_console`.
    limit : int or None, default 20
        Print at most this many rows (None prints all) and, when rows were
        left out, a ``showing N of M rows`` line.
    title : str, optional
        Table title.
    value_label : str, default "value"
        Header of the value column (e.g. ``"revenue"``).
    currency : str, optional
        Symbol put before value and baseline, e.g. ``"$"``.

    Raises
    ------
    MissingColumnError
        If a needed column is absent.
    ParameterError
        If ``limit`` is not positive.

    Examples
    --------
    >>> import io
    >>> from rich.console import Console
    >>> results = pd.DataFrame(
    ...     {
    ...         "account": ["Apex Holdings"],
    ...         "period": pd.to_datetime(["2026-04-01"]),
    ...         "value": [8954.9],
    ...         "baseline": [24896.35],
    ...         "pct_vs_baseline": [-64.0],
    ...         "type": ["drop"],
    ...         "direction": ["down"],
    ...         "severity": [73.09],
    ...     }
    ... )
    >>> out = io.StringIO()
    >>> render_table(results, ["account"], console=Console(file=out, width=120))
    >>> "Apex Holdings" in out.getvalue() and "-64.0%" in out.getvalue()
    True
    """
    if limit is not None and limit < 1:
        raise ParameterError(f"limit must be a positive number of rows or None; got {limit}")
    ids = list(id_columns)
    _check_columns(results, [*ids, *_TABLE_COLUMNS], "the results frame")
    out = console if console is not None else stderr_console()

    total = len(results)
    if total == 0:
        prefix = f"{printable(title)}: " if title else ""
        out.print(f"{prefix}No anomalies found.", style="bold green", markup=False)
        return

    shown = results if limit is None else results.head(limit)
    periods = format_period(shown["period"])
    decimals = _value_decimals(pd.concat([shown["value"], shown["baseline"]]))
    has_direction = "direction" in shown.columns
    has_provisional = "provisional" in shown.columns

    rows: list[list[Text]] = []
    for position, (_, row) in enumerate(shown.iterrows()):
        kind = "" if _is_missing(row["type"]) else str(row["type"])
        kind_text = Text(kind, style=type_color(kind) if kind and kind != "normal" else "")
        if has_provisional and not _is_missing(row["provisional"]) and bool(row["provisional"]):
            kind_text.append(" (provisional)", style="italic dim")
        direction = row["direction"] if has_direction else None
        pct = row["pct_vs_baseline"]
        rows.append(
            [
                *(Text("" if _is_missing(row[name]) else printable(row[name])) for name in ids),
                Text(str(periods.iloc[position])),
                Text(format_number(row["value"], decimals, currency=currency)),
                Text(format_number(row["baseline"], decimals, currency=currency)),
                Text(
                    format_pct(pct),
                    style=_pct_style(direction, pct, has_direction=has_direction),
                ),
                kind_text,
                Text(format_number(row["severity"], 2)),
            ]
        )

    # On a narrow terminal ids and types wrap or shorten first; periods and numbers never wrap.
    table = Table(
        title=None if title is None else Text(printable(title), style="bold"),
        header_style="bold",
        title_style="bold",
        box=box.SIMPLE_HEAVY,
        show_edge=False,
        pad_edge=False,
    )
    for name in ids:
        table.add_column(printable(name), ratio=1)
    table.add_column("period", no_wrap=True)
    for header in (value_label, "baseline", "% vs baseline"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("type", ratio=1)
    table.add_column("severity", justify="right", no_wrap=True)
    for cells in rows:
        table.add_row(*cells)
    out.print(table)
    if len(shown) < total:
        out.print(f"showing {len(shown)} of {total} rows", style="dim", markup=False)
    logger.debug("printed %d of %d result rows", len(shown), total)
