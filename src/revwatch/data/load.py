"""Read revenue data from files, databases or frames into a validated :class:`Panel`.

:func:`load` reads a CSV/TSV, Parquet or Excel file, or runs a query against a
SQLite or DuckDB file or a SQLAlchemy URL, and hands the table to the same
validation path as :func:`from_frame`. That path

* picks the time, value and id columns when the caller did not name them,
  and records what it picked in :attr:`Panel.notes`;
* parses what real exports contain: currency strings (``"$1,234.56"``,
  ``"€1.234,56"``, ``"1 234,56"``), accounting negatives (``"(1,234.00)"``),
  decimal commas, blank cells (kept as NaN) and the usual date spellings
  (``2024-07-01``, ``2024-07``, ``Jul 2024``, ``07/2024``, ``2024Q3``);
* infers the step from the gaps within each series (any fixed step from a
  minute to a year, :mod:`revwatch.data.steps`), refuses series of
  different steps, keeps the phase of steps shorter than a day and
  normalises other periods to the start of their day, month, quarter or year
  (weekly periods keep their weekday);
* reads day/month order and UTC offsets one way for the whole column
  (``date_format=``, ``tz=``);
* refuses duplicate (series, period) rows unless ``aggregate`` is given.

A period the source does not contain stays missing: no row is ever added and
nothing is filled with zero. Every problem with the input is raised as a
:class:`~revwatch.errors.RevwatchError` whose one-line message names the
source, the row (CSV: the line of the file, header = line 1; Excel: the
spreadsheet row; SQL: the 1-based result row; pandas: the index label) and the
column, and says what to do.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from revwatch.data.panel import (
    DISTINCT_FIRST,
    FREQUENCIES,
    PERIOD,
    STEP_SECONDS,
    SUB_DAILY,
    VALUE,
    KeyOrder,
    Panel,
    _owned,
    key_order,
)
from revwatch.data.sql import read_duckdb, read_sql_url, read_sqlite
from revwatch.data.steps import (
    AGGREGATE_FIX,
    SeriesOrder,
    align_sub_daily,
    canonical_freq,
    infer_steps,
    series_order,
)
from revwatch.errors import (
    DuplicateRowsError,
    InputError,
    MissingColumnError,
    ParameterError,
    RevwatchError,
)

logger = logging.getLogger(__name__)

__all__ = ["AGGREGATES", "from_frame", "load", "read_table"]

#: Accepted values of ``aggregate``: add up (amounts), average (prices, rates) or keep
#: the latest row (balances, levels) of several rows of one series and period.
AGGREGATES: tuple[str, ...] = ("sum", "mean", "last")

TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})
SQLITE_SUFFIXES = frozenset({".db", ".sqlite", ".sqlite3"})
DUCKDB_SUFFIXES = frozenset({".duckdb"})
SUPPORTED = ".csv, .tsv, .txt, .parquet, .xlsx, .xls, .db/.sqlite (with sql=), .duckdb (with sql=)"

#: Bytes read from the start of a text file to sniff encoding and delimiter.
SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")

#: Columns with fewer cells than this are parsed with Python-backed strings.
SMALL_COLUMN = 20_000

#: Cell texts that mean "no value" in a numeric column.
NULL_TOKENS = frozenset({"NA", "N/A", "#N/A", "NAN", "NULL", "NONE", "NIL", "#VALUE!", "#REF!"})

#: Date spellings tried, in order, on the distinct texts of a time column.
DATE_FORMATS: tuple[str, ...] = (
    "ISO8601",
    "%b %Y",
    "%B %Y",
    "%b-%Y",
    "%B-%Y",
    "%b-%y",
    "%b %y",
    "%m/%Y",
    "%m-%Y",
    "%m.%Y",
    "%Y/%m",
    "%Y%m",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
)
DATE_FIX = "use a date like 2024-07-01, 2024-07, Jul 2024 or 07/2024"

TIME_NAME_HINT = re.compile(
    r"date|time|month|period|week|year|quarter|day|hour|^ds$|^dt$|_dt$", re.IGNORECASE
)
ID_NAME_HINT = re.compile(r"(?i:(^|[_\s-])(id|code|key|no|number|nr)$)|[a-z](Id|ID)$")

# Removed before a number is read: spaces and apostrophes (thousands
# separators), currency symbols, and a three-letter currency code at either end.
CLUTTER_PATTERN = r"[\s'’$€£¥₹₩₽₪₫฿₴₦₱¢¤]|^[A-Z]{3}|[A-Z]{3}$"
# What is left: (1,234.00) | -1,234.00 | 1,234.00- | 1,234.00CR | 1.5e3
NUMBER_PATTERN = (
    r"^(?P<open>\()?(?P<sign>[-+])?"
    r"(?P<digits>\d+(?:\.\d+)?[eE][-+]?\d+|\d[\d.,]*|[.,]\d+)"
    r"(?P<trailing>-)?(?P<marker>[cC][rR]|[dD][rR])?(?P<close>\))?$"
)
# A numeric cell has a digit, or is a lone (accounting zero) dash, maybe with a currency sign.
DIGIT_OR_DASH = r"\d|^$|^[\s$€£¥₹₩₽₪₫฿₴₦₱¢¤]*[-–—]\s*$"
# Evidence that a column writes decimals with a comma (or with a dot).
COMMA_DECIMAL_EVIDENCE = r"^\d*,(?:\d{0,2}|\d{4,})$|^0,\d+$|\..*,|\..*\."
DOT_DECIMAL_EVIDENCE = r"^\d*\.(?:\d{0,2}|\d{4,})$|^0\.\d+$|,.*\.|,.*,"
# A single separator after four or more digits cannot group thousands: it is the decimal mark.
COMMA_AFTER_FOUR = r"^[1-9]\d{3,},\d+$"
DOT_AFTER_FOUR = r"^[1-9]\d{3,}\.\d+$"
# The one spelling that both readings accept: 1.234 / 12,345 (a lone separator, three digits).
AMBIGUOUS_GROUP = r"^\d{1,3}[.,]\d{3}$"
# A plain machine-written number with a dot that must be a decimal point (fast path).
PLAIN_DOT_DECIMAL = r"\.(?:\d{0,2}|\d{4,})(?:[eE]|$)|^[-+]?0\.|\d{4}\.|[eE]"
# Amounts scaled by a word or letter (32.5 TSD, 1.2M, 3 Mio): refused, never read bare.
UNIT_SUFFIX = (
    r"(?i)\d\s*(?:k|m|mm|mn|bn|b|mio|mill?|mrd|tsd|tds|thousand|million|billion|lakhs?"
    r"|crores?|tausend)\.?\s*\)?$"
)
# The currency of a cell: a symbol, or a three-letter code at either end.
CURRENCY_PATTERN = r"(?P<currency>[$€£¥₹₩₽₪₫฿₴₦₱¢¤]|^[A-Z]{3}(?=[\s\d(+-])|(?<=[\d\s)])[A-Z]{3}$)"
#: Decimal marks accepted by ``decimal=`` (``--decimal``).
DECIMALS: tuple[str, ...] = (".", ",")


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def load(
    source: str | Path,
    *,
    id: str | Sequence[str] | None = None,
    time: str | None = None,
    value: str | None = None,
    sql: str | None = None,
    aggregate: str | None = None,
    sheet: str | int | None = None,
    freq: str | None = None,
    metrics: Sequence[str] | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    skip_rows: int = 0,
    tz: str | None = None,
    date_format: str | None = None,
) -> Panel:
    """Read a file, database query or database URL into a validated panel.

    Parameters
    ----------
    source : str or Path
        A ``.csv``/``.tsv``/``.txt``, ``.parquet`` or ``.xlsx``/``.xls`` file;
        a SQLite (``.db``, ``.sqlite``, ``.sqlite3``) or DuckDB (``.duckdb``)
        file together with ``sql``; or a SQLAlchemy URL such as
        ``"sqlite:///sales.db"`` or ``"postgresql+psycopg://user@host/db"``
        together with ``sql``. Nothing is ever written to it.
    id : str or list of str, optional
        Series key columns. An empty list means one single series. Inferred
        when omitted: the remaining text columns.
    time : str, optional
        The date column. Inferred when omitted: the one date-like column.
    value : str, optional
        The numeric column to watch. Inferred when omitted: the one numeric
        column.
    sql : str, optional
        The query to run, for database sources only.
    aggregate : {None, "sum"}
        What to do with several rows for the same series and period: ``None``
        raises :class:`~revwatch.errors.DuplicateRowsError`, ``"sum"`` adds
        them up (a group whose values are all blank stays NaN).
    sheet : str or int, optional
        Excel sheet name (or 0-based position); the first sheet by default.
    freq : str, optional
        Force a frequency (a key of :data:`~revwatch.data.panel.FREQUENCIES`,
        e.g. ``"5min"``, ``"hourly"``, ``"fortnightly"``, ``"monthly"``)
        instead of inferring it; rows finer than it then need ``aggregate``.
    metrics : list of str, optional
        Extra numeric columns to keep, parsed like the value column.
    decimal : {None, ".", ","}
        The decimal mark of text numbers. None decides it per column from all
        its values; a column where it cannot be told (every number like
        ``32.477``) follows the file's evidence (a ``;`` delimiter, dotted
        day-first dates, a ``$``/``£`` sign, another column's decimals) with a
        note, or is refused asking for ``decimal``.
    encoding : str, optional
        The text encoding of a CSV/TSV file (any Python codec name, e.g.
        ``"cp1253"``). None detects UTF-8, UTF-16 (with or without a byte
        order mark) and the Windows code pages 1252, 1250, 1251 and 1253,
        saying in a note which legacy one was assumed.
    skip_rows : int, default 0
        Lines (CSV) or rows (Excel) above the header to skip, such as a
        title or notes. A CSV preamble whose lines have fewer fields than the
        table is found and skipped on its own, with a note.
    tz : str, optional
        An IANA time zone (``"Europe/Berlin"``). Naive stamps are in this
        zone; stamps with UTC offsets are converted to it; daily and coarser
        periods (and roll-ups to them) are its dates. Steps shorter than a
        day are UTC either way, so no hour is doubled or lost.
    date_format : str, optional
        The spelling of the dates (``"%d/%m/%Y"``, ``"ISO8601"``), for a
        column whose day/month order cannot be told from its values.

    Returns
    -------
    Panel

    Raises
    ------
    InputError
        The source is missing, empty, unreadable, or has cells that cannot be
        parsed (the message names the row and column).
    MissingColumnError
        A named column does not exist.
    DuplicateRowsError
        Several rows share a series and period and ``aggregate`` is None.
    ParameterError
        An option is invalid (unknown ``aggregate`` or ``freq``, ``sql`` with
        a file that is not a database, ...).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "sales.csv").write_text(
    ...     "account,month,revenue\\nacme,2024-01,\\"$1,200.00\\"\\nacme,2024-02,(50.00)\\n"
    ... )
    >>> panel = load(folder / "sales.csv")
    >>> panel.freq, panel.frame["value"].tolist()
    ('monthly', [1200.0, -50.0])
    >>> panel.notes[0]
    'inferred --time month, --value revenue, --id account'
    """
    freq = _check_options(aggregate, freq)
    zone = _check_zone(tz)
    _check_input_options(decimal, encoding, skip_rows)
    table = _read_source(source, sql=sql, sheet=sheet, encoding=encoding, skip_rows=skip_rows)
    table.decimal = decimal
    return _build_panel(
        table,
        id_names=id,
        time_name=time,
        value_name=value,
        metric_names=metrics,
        aggregate=aggregate,
        freq=freq,
        tz=zone,
        date_format=date_format,
    )


def read_table(
    source: str | Path, *, sql: str | None = None, sheet: str | int | None = None
) -> pd.DataFrame:
    """Read a file, database query or database URL into a raw frame, without making a panel.

    The reading half of :func:`load`: the same readers, checks and messages (a missing or
    empty file, an unsupported type, an undecodable CSV, a query that is not one read-only
    statement), for sources that are not a panel yet, such as the raw payment events of the
    monitor (:mod:`revwatch.monitor.payment_events` aggregates them). No column is parsed or
    renamed; the columns of a CSV/TSV file whose every cell is a plain number are numbers (as
    :func:`pandas.read_csv` reads them), the others text.

    Parameters
    ----------
    source : str or Path
        As for :func:`load`.
    sql : str, optional
        The query, for database sources only.
    sheet : str or int, optional
        Excel sheet name (or 0-based position).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    InputError, ParameterError
        As :func:`load` does for the same source.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "events.csv").write_text("country,amount\\nDE,5.5\\nUS,3\\n")
    >>> frame = read_table(folder / "events.csv")
    >>> frame["country"].tolist(), frame["amount"].tolist()
    (['DE', 'US'], [5.5, 3.0])
    >>> read_table(folder / "missing.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    revwatch.errors.InputError: ...missing.csv: file does not exist; check the path and ...
    """
    table = _read_source(source, sql=sql, sheet=sheet)
    is_text = not (isinstance(source, str) and "://" in source)
    if is_text and Path(source).suffix.lower() in TEXT_SUFFIXES:
        return _plain_numbers(table.frame)
    return table.frame


def _plain_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose every cell is a plain number, as numbers (pandas' own reading)."""
    typed = frame.copy(deep=False)
    for column in frame.columns:
        try:
            typed[column] = pd.to_numeric(frame[column])
        except (ValueError, TypeError):
            continue
    return typed


def from_frame(
    frame: Any,
    *,
    id: str | Sequence[str] | None = None,
    time: str | None = None,
    value: str | None = None,
    aggregate: str | None = None,
    freq: str | None = None,
    source: str = "<frame>",
    metrics: Sequence[str] | None = None,
    decimal: str | None = None,
    tz: str | None = None,
    date_format: str | None = None,
) -> Panel:
    """Validate an in-memory pandas or polars DataFrame into a panel.

    Same inference, parsing and checks as :func:`load`. The caller's frame is
    never modified. Rows are named in messages by their index label (pandas)
    or 0-based position (polars).

    Parameters
    ----------
    frame : pandas.DataFrame or polars.DataFrame
        The long table.
    id, time, value, aggregate, freq, metrics, decimal, tz, date_format
        As for :func:`load`.
    source : str
        How to name the frame in messages and in :attr:`Panel.source`.

    Returns
    -------
    Panel

    Examples
    --------
    >>> table = pd.DataFrame({"day": ["2024-01-01", "2024-01-02", "2024-01-04"],
    ...                       "sales": ["1", "", "3"]})
    >>> panel = from_frame(table, freq="daily")
    >>> panel.freq, panel.id_columns, len(panel.frame)
    ('daily', (), 3)
    >>> panel.frame["value"].isna().tolist()
    [False, True, False]
    """
    freq = _check_options(aggregate, freq)
    zone = _check_zone(tz)
    if isinstance(frame, pd.DataFrame):
        # Copy-on-write (pandas >= 3) makes a shallow copy independent of the caller's frame.
        table = _Table(
            frame=frame.copy(deep=False),
            name=source,
            rows=_RowNames("index", frame.index),
        )
    elif type(frame).__module__.split(".")[0] == "polars" and hasattr(frame, "to_pandas"):
        converted = frame.to_pandas()
        table = _Table(
            frame=converted,
            name=source,
            rows=_RowNames("row", pd.RangeIndex(len(converted))),
        )
    else:
        raise ParameterError(
            f"{source}: expected a pandas or polars DataFrame, got {type(frame).__name__}; "
            "pass a DataFrame or use load() for files"
        )
    _check_input_options(decimal, None, 0)
    table.decimal = decimal
    return _build_panel(
        table,
        id_names=id,
        time_name=time,
        value_name=value,
        metric_names=metrics,
        aggregate=aggregate,
        freq=freq,
        tz=zone,
        date_format=date_format,
    )


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _RowNames:
    """How rows of the input are named in messages: ``"<word> <label>"``."""

    word: str
    labels: np.ndarray | pd.Index  # an Index (a RangeIndex for numbering) costs nothing per row

    def name(self, position: int) -> str:
        return f"{self.word} {self.labels[position]}"

    @property
    def plural(self) -> str:
        return "index labels" if self.word == "index" else f"{self.word}s"


@dataclass
class _Table:
    """A raw table read from a source, before validation."""

    frame: pd.DataFrame
    name: str
    rows: _RowNames
    notes: list[str] = field(default_factory=list)
    decimal_comma_hint: bool = False
    #: the decimal mark the caller gave (``decimal=``, ``--decimal``), None to decide per column
    decimal: str | None = None
    is_empty_message: str = "has a header but no data rows; export it again with the data"


def _one_line(text: str) -> str:
    """Collapse a message onto one line."""
    return " ".join(str(text).split())


def _first_line(error: BaseException) -> str:
    """The first non-empty line of an exception's message (or its type name)."""
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()
    return type(error).__name__


def _fail(kind: type[RevwatchError], message: str) -> RevwatchError:
    """Build an error with a one-line message and log it."""
    flat = _one_line(message)
    logger.debug("raising %s: %s", kind.__name__, flat)
    return kind(flat)


def _check_input_options(decimal: str | None, encoding: str | None, skip_rows: int) -> None:
    if decimal is not None and decimal not in DECIMALS:
        raise _fail(
            ParameterError,
            f"unknown decimal mark {decimal!r}; use decimal=',' (--decimal ,) or decimal='.'",
        )
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise _fail(
                ParameterError,
                f"unknown encoding {encoding!r}; use a Python codec name such as utf-8, "
                "utf-16, cp1252 or cp1253",
            ) from None
    if isinstance(skip_rows, bool) or not isinstance(skip_rows, int) or skip_rows < 0:
        raise _fail(
            ParameterError, f"skip_rows must be a whole number of rows >= 0, got {skip_rows!r}"
        )


def _check_options(aggregate: str | None, freq: str | None) -> str | None:
    """Check the time options; return ``freq`` as a key of FREQUENCIES (None: infer)."""
    if aggregate is not None and aggregate not in AGGREGATES:
        raise _fail(
            ParameterError,
            f"unknown aggregate {aggregate!r}; use aggregate= one of {', '.join(AGGREGATES)} "
            f"({AGGREGATE_FIX}) or leave it out to refuse duplicate rows",
        )
    try:
        return canonical_freq(freq)
    except ParameterError as error:
        raise _fail(ParameterError, str(error)) from None


def _check_zone(tz: str | None) -> str | None:
    """``tz`` checked as an IANA zone name (or UTC / a fixed offset such as +02:00)."""
    if tz is None:
        return None
    try:
        pd.Timestamp("2024-01-01").tz_localize(tz)
    except Exception:  # zoneinfo, pytz and dateutil raise different types
        raise _fail(
            ParameterError,
            f"unknown time zone {tz!r}; use an IANA name such as Europe/Berlin, "
            "America/New_York or UTC (tz=, --tz)",
        ) from None
    return tz


def _quoted(names: Sequence[object]) -> str:
    return ", ".join(repr(str(name)) for name in names)


def _more(count: int, word: str = "row") -> str:
    if count <= 0:
        return ""
    return f" (and {count} more {word}{'s' if count != 1 else ''})"


# --------------------------------------------------------------------------
# Reading sources
# --------------------------------------------------------------------------


def _read_source(
    source: str | Path,
    *,
    sql: str | None,
    sheet: str | int | None,
    encoding: str | None = None,
    skip_rows: int = 0,
) -> _Table:
    if isinstance(source, str) and "://" in source:
        if sheet is not None:
            raise _fail(ParameterError, "sheet= applies only to Excel files; leave it out")
        return _read_sql_url(source, sql)
    if not isinstance(source, str | Path):
        raise _fail(
            ParameterError,
            f"expected a path or database URL, got {type(source).__name__}; "
            "use from_frame() for DataFrames",
        )
    path = Path(source)
    name = str(source)
    if not path.exists():
        raise _fail(InputError, f"{name}: file does not exist; check the path and the file name")
    if path.is_dir():
        raise _fail(InputError, f"{name}: is a folder, not a file; pass one of {SUPPORTED}")
    suffix = path.suffix.lower()
    is_database = suffix in SQLITE_SUFFIXES | DUCKDB_SUFFIXES
    if not is_database and suffix not in TEXT_SUFFIXES | PARQUET_SUFFIXES | EXCEL_SUFFIXES:
        raise _fail(
            InputError,
            f"{name}: unsupported file type {suffix or '(no extension)'!r}; use one of {SUPPORTED}",
        )
    if sql is not None and not is_database:
        raise _fail(
            ParameterError,
            f"{name}: sql= applies only to databases (.db, .sqlite, .duckdb or a URL); "
            "leave it out for this file",
        )
    if sheet is not None and suffix not in EXCEL_SUFFIXES:
        raise _fail(ParameterError, f"{name}: sheet= applies only to Excel files; leave it out")
    if not path.is_file():
        raise _fail(
            InputError,
            f"{name}: is not a regular file (a pipe, socket or device); "
            "save the data to a file and pass that file",
        )
    if encoding is not None and suffix not in TEXT_SUFFIXES:
        raise _fail(ParameterError, f"{name}: encoding= applies only to CSV/TSV files")
    if skip_rows and suffix not in TEXT_SUFFIXES | EXCEL_SUFFIXES:
        raise _fail(ParameterError, f"{name}: skip_rows= applies only to CSV and Excel files")
    if path.stat().st_size == 0:
        raise _fail(InputError, f"{name}: file is empty (0 bytes); export the data again")
    if suffix in TEXT_SUFFIXES:
        return _read_text(path, name, encoding=encoding, skip_rows=skip_rows)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path, name)
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path, name, sheet, skip_rows=skip_rows)
    if suffix in SQLITE_SUFFIXES:
        return _read_sqlite(path, name, sql)
    return _read_duckdb(path, name, sql)


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive, e.g. an .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "a SQLite database"),
    (b"%PDF", "a PDF document"),
)


#: Legacy Windows code pages tried when a file is not UTF-8, with the script each writes
#: beyond ASCII and that script's most frequent letters (lower case).
LEGACY_ENCODINGS: tuple[tuple[str, str, str], ...] = (
    ("cp1252", "Windows-1252 (Western European)", "LATIN"),
    ("cp1250", "Windows-1250 (Central European)", "LATIN"),
    ("cp1253", "Windows-1253 (Greek)", "GREEK"),
    ("cp1251", "Windows-1251 (Cyrillic)", "CYRILLIC"),
)
_FREQUENT_LETTERS = {"GREEK": "αεοιτνησρκπμλυ", "CYRILLIC": "оеаинтсрвлкмдпу"}


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the bytes look like mostly-ASCII UTF-16 text without a BOM."""
    sample = head[: len(head) - len(head) % 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    for codec, zeros, text in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        # delimiters, digits and line ends are ASCII: a zero in every such pair's high byte
        if zeros.count(0) >= 0.3 * len(zeros) and text.count(0) == 0:
            try:
                sample.decode(codec)
            except UnicodeDecodeError:
                continue
            return codec
    return None


def _guess_legacy(data: bytes) -> tuple[str, str]:
    """The legacy code page whose reading of ``data`` looks most like text, and its name.

    A Latin reading is kept unless its non-ASCII letters mostly stand in runs
    (whole words of accented letters, as Greek or Cyrillic bytes read as
    Latin give); then the Greek and Cyrillic readings are scored by how many
    of their letters are that script's most frequent ones.
    """
    import unicodedata

    high = bytes(sorted(set(byte for byte in data if byte >= 0x80)))
    if not high:
        return "cp1252", LEGACY_ENCODINGS[0][1]
    latin = data.decode("cp1252", errors="replace")
    runs = re.findall(r"[^\x00-\x7f]{3,}", latin)
    letters = re.findall(r"[^\x00-\x7f]", latin)
    if sum(len(run) for run in runs) < 0.5 * max(len(letters), 1):
        return "cp1252", LEGACY_ENCODINGS[0][1]
    best, best_score = LEGACY_ENCODINGS[0][:2], -1.0
    for codec, label, script in LEGACY_ENCODINGS:
        if script == "LATIN":
            continue
        text = data.decode(codec, errors="replace")
        alien = [c for c in text if ord(c) >= 0x80 and c.isalpha()]
        if not alien:
            continue
        own = sum(script in unicodedata.name(c, "") for c in alien) / len(alien)
        frequent = sum(c.lower() in _FREQUENT_LETTERS[script] for c in alien) / len(alien)
        score = own + frequent
        if score > best_score:
            best, best_score = (codec, label), score
    return best


def _text_encoding(head: bytes, name: str) -> str:
    """Pick the encoding of a text file from its first bytes; refuse binary files."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise _fail(
                InputError,
                f"{name}: is not a text file (it looks like {what}); "
                "give it the right extension or export the data as CSV",
            )
    without_bom = _utf16_without_bom(head)
    if without_bom is not None:
        return without_bom
    if b"\x00" in head:
        raise _fail(
            InputError,
            f"{name}: is a binary file, not text; check that it really is a CSV export "
            "(or pass its encoding with --encoding)",
        )
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return _guess_legacy(head)[0]
    return "utf-8-sig"


def _sniff_delimiter(sample: str) -> tuple[str, int]:
    """The delimiter among , ; tab | that splits the lines most consistently, and the header line.

    The header line (0-based) is the first line with the table's number of
    fields: lines above it with fewer fields are a title or notes.
    """
    lines = sample.splitlines()[:50]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line may be cut off
    found: list[tuple[bool, int, int, int, str]] = []
    for position, delimiter in enumerate(DELIMITERS):
        counts = [len(row) if row else 0 for row in csv.reader(lines, delimiter=delimiter)]
        filled = [count for count in counts if count]
        if not filled:
            continue
        usual = max(set(filled), key=filled.count)
        if usual < 2:
            continue
        header = next(i for i, count in enumerate(counts) if count == usual)
        rest = [count for count in counts[header:] if count]
        consistent = sum(count == usual for count in rest) / len(rest)
        above = counts[:header]
        if header and any(count > usual for count in above):
            continue
        if consistent >= 0.8:
            # a header on the first line first, then the most fields, then the order above
            found.append((header > 0, -usual, position, header, delimiter))
    if not found:
        return ",", 0
    best = min(found)
    return best[4], best[3]


def _read_text(path: Path, name: str, *, encoding: str | None = None, skip_rows: int = 0) -> _Table:
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    notes: list[str] = []
    given = encoding is not None
    if encoding is None:
        encoding = _text_encoding(head, name)
    sample = head.decode(encoding, errors="ignore")
    if skip_rows:
        sample = "\n".join(sample.splitlines()[skip_rows:]) + "\n"
    delimiter, header_line = _sniff_delimiter(sample)
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    if header_line:
        notes.append(
            f"skipped {header_line} line(s) above the header of {name} (a title or notes); "
            "pass --skip-rows N to choose the lines to skip"
        )
    skipped = skip_rows + header_line

    def read(chosen_encoding: str) -> pd.DataFrame:
        return pd.read_csv(
            path,
            sep=delimiter,
            encoding=chosen_encoding,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            skiprows=skipped or None,
        )

    try:
        try:
            frame = read(encoding)
        except UnicodeDecodeError:
            if given:
                raise
            with path.open("rb") as handle:
                encoding = _guess_legacy(handle.read(16 * SNIFF_BYTES))[0]
            frame = read(encoding)
    except pd.errors.EmptyDataError:
        raise _fail(
            InputError, f"{name}: file has no header and no data; export the data again"
        ) from None
    except UnicodeDecodeError as error:
        raise _fail(
            InputError,
            f"{name}: is not valid {encoding} text ({_first_line(error)}); "
            "pass the file's encoding with --encoding",
        ) from None
    except Exception as error:  # any reader failure is a problem with the file
        raise _fail(
            InputError,
            f"{name}: cannot read as delimited text ({_first_line(error)}); "
            "check that it is a CSV export and that every line has the same number of fields"
            " (pass --skip-rows N if a title or notes stand above the header)",
        ) from None
    legacy = {codec: label for codec, label, _script in LEGACY_ENCODINGS}
    if encoding in legacy and not given:
        notes.append(
            f"{name} is not UTF-8; read it as {legacy[encoding]} ({encoding}), judged from its "
            "letters; pass --encoding if that is wrong"
        )
    elif encoding.startswith("utf-16-") and not given:
        notes.append(f"read {name} as {encoding.upper()} text (it has no byte order mark)")
    if delimiter != ",":
        notes.append(f"read {name} with delimiter {delimiter!r}")
    # Physical line of each data row: header is line 1 (after the skipped ones). Blank
    # lines were kept (skip_blank_lines=False) so the numbering holds; drop them now.
    lines = np.arange(len(frame)) + 2 + skipped
    blank_rows = frame.isna().all(axis=1).to_numpy()
    if blank_rows.any():
        keep = ~blank_rows
        frame = frame.loc[keep].reset_index(drop=True)
        lines = lines[keep]
    return _Table(
        frame=frame,
        name=name,
        rows=_RowNames("line", lines),
        notes=notes,
        decimal_comma_hint=delimiter == ";",
    )


@contextmanager
def _retaining_arrow_pool() -> Iterator[None]:
    """Let Arrow allocate from jemalloc (else the system allocator) inside the block.

    mimalloc, pyarrow's default pool on Linux, hands freed pages back to the
    system almost at once, so decoding a big file touches fresh pages for
    every buffer; on virtual machines where that is slow, reading 24M rows
    took 3.5-4 s of system time instead of 0.5-0.7 s with jemalloc. A pool
    chosen with ``ARROW_DEFAULT_MEMORY_POOL`` is left alone.
    """
    import pyarrow as pa

    previous = pa.default_memory_pool()
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") or previous.backend_name != "mimalloc":
        yield
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _read_parquet(path: Path, name: str) -> _Table:
    try:
        # one block per column, numbers and times without a copy where Arrow allows
        with _retaining_arrow_pool():
            frame = pd.read_parquet(
                path,
                engine="pyarrow",
                to_pandas_kwargs={"split_blocks": True, "self_destruct": True},
            )
    except Exception as error:  # pyarrow raises many types for a bad file
        raise _fail(
            InputError,
            f"{name}: cannot read as Parquet ({_first_line(error)}); "
            "check that the file really is a Parquet file",
        ) from None
    return _Table(frame=frame, name=name, rows=_RowNames("row", pd.RangeIndex(1, len(frame) + 1)))


def _read_excel(path: Path, name: str, sheet: str | int | None, *, skip_rows: int = 0) -> _Table:
    engines: list[Literal["calamine", "xlrd", "openpyxl"]] = [
        "calamine",
        "xlrd" if path.suffix.lower() == ".xls" else "openpyxl",
    ]
    first_error: Exception | None = None
    frame: pd.DataFrame | None = None
    for engine in engines:
        try:
            with pd.ExcelFile(path, engine=engine) as workbook:
                sheet_names = [str(sheet_name) for sheet_name in workbook.sheet_names]
                if isinstance(sheet, str) and sheet not in sheet_names:
                    raise _fail(
                        InputError,
                        f"{name}: no sheet named {sheet!r}; "
                        f"pass sheet= one of {_quoted(sheet_names)}",
                    )
                if isinstance(sheet, int) and not 0 <= sheet < len(sheet_names):
                    raise _fail(
                        InputError,
                        f"{name}: has {len(sheet_names)} sheet(s), no sheet {sheet}; "
                        f"pass sheet= one of {_quoted(sheet_names)}",
                    )
                # dtype=object: a text cell such as "32.477" stays text (pandas would
                # read it as a number); cells Excel stores as numbers or dates are typed below
                frame = pd.read_excel(
                    workbook,
                    sheet_name=0 if sheet is None else sheet,
                    keep_default_na=False,
                    na_values=[""],
                    skiprows=skip_rows or None,
                    dtype=object,
                )
            break
        except RevwatchError:
            raise
        except ImportError:
            continue
        except Exception as error:  # calamine/openpyxl raise many types for a bad file
            first_error = first_error or error
            continue
    if frame is None:
        reason = _first_line(first_error) if first_error else "no Excel reader is installed"
        raise _fail(
            InputError,
            f"{name}: cannot read as an Excel workbook ({reason}); "
            "check that the file really is an Excel file",
        )
    frame = _typed_cells(frame)
    notes: list[str] = []
    header = _title_rows(frame)
    if header:
        # a title or notes above the table: the header is the first full row below them
        columns = [str(cell).strip() for cell in frame.iloc[header - 1]]
        frame = frame.iloc[header:].set_axis(columns, axis=1).reset_index(drop=True)
        notes.append(
            f"skipped {header} row(s) above the header of {name} (a title or notes); "
            "pass --skip-rows N to choose the rows to skip"
        )
    first = 2 + skip_rows + header
    # Spreadsheet row of each data row: header is row 1 (after the skipped ones).
    return _Table(
        frame=frame,
        name=name,
        rows=_RowNames("row", pd.RangeIndex(first, len(frame) + first)),
        notes=notes,
    )


def _typed_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns whose every cell Excel stores as a number (or a date) typed as such.

    In a column that mixes numbers and text, the number cells become text that
    reads back as exactly that number (:func:`_number_cell_text`).
    """
    typed = frame.copy(deep=False)
    for column in frame.columns:
        kind = pd.api.types.infer_dtype(frame[column], skipna=True)
        if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
            typed[column] = pd.to_numeric(frame[column])
        elif kind in ("datetime", "datetime64", "date"):
            typed[column] = pd.to_datetime(frame[column])
        elif kind == "boolean":
            typed[column] = frame[column].astype("boolean")
        elif kind in ("mixed", "mixed-integer"):
            typed[column] = frame[column].map(_number_cell_text, na_action="ignore")
    return typed


def _number_cell_text(cell: Any) -> Any:
    """A number cell of a mixed column as text that reads back as that number, and only so.

    ``32.477`` stored as a number must not look like a thousands group to the
    text parser: such a value is spelled in scientific notation.
    """
    if isinstance(cell, bool | np.bool_) or not isinstance(cell, int | float | np.number):
        return cell
    if float(cell).is_integer():
        return str(int(cell))
    text = repr(float(cell))
    return f"{float(cell):.15e}" if re.match(AMBIGUOUS_GROUP, text) else text


def _title_rows(frame: pd.DataFrame) -> int:
    """How many rows below the read header still stand above the real one (0: none).

    A sheet with a title in A1 is read with one named column and the rest
    ``Unnamed: N``; the real header is then the first row with every cell
    filled with text, within the first 20 rows.
    """
    names = [str(column) for column in frame.columns]
    unnamed = sum(name.startswith("Unnamed:") for name in names)
    if len(names) < 2 or unnamed < len(names) - 1:
        return 0
    for position in range(min(20, len(frame))):
        row = frame.iloc[position]
        if row.notna().all() and all(isinstance(cell, str) and cell.strip() for cell in row):
            return position + 1
    return 0


def _sql_result(frame: pd.DataFrame, name: str) -> _Table:
    return _Table(
        frame=frame,
        name=name,
        rows=_RowNames("result row", pd.RangeIndex(1, len(frame) + 1)),
        is_empty_message="the query returned no rows; check the query and its filters",
    )


def _read_sqlite(path: Path, name: str, sql: str | None) -> _Table:
    return _sql_result(read_sqlite(path, name, sql), name)


def _read_duckdb(path: Path, name: str, sql: str | None) -> _Table:
    return _sql_result(read_duckdb(path, name, sql), name)


def _read_sql_url(url_text: str, sql: str | None) -> _Table:
    frame, name = read_sql_url(url_text, sql)
    return _sql_result(frame, name)


# --------------------------------------------------------------------------
# Parsing cells (vectorised over whole columns)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Numbers:
    """A parsed numeric column."""

    values: np.ndarray  # float64, NaN for blank cells
    bad: np.ndarray  # bool: non-blank cells that are not numbers
    decimal_comma: bool = False
    dash_zeros: int = 0
    dash: np.ndarray | None = None  # bool: lone accounting dashes (distinct texts only)
    #: every separator in the column is a lone one before three digits (1.234, 12,345):
    #: the decimal mark cannot be told from the column itself
    ambiguous: bool = False
    #: the decimal mark the column itself shows ("." or ","), None when it shows none
    evidence: str | None = None
    unit: np.ndarray | None = None  # bool: cells with a unit suffix (32.5 TSD)
    percent: np.ndarray | None = None  # bool: cells ending in %
    #: (position, currency) of the first cell of each currency, when there are several
    currencies: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class _Dates:
    """A parsed date column."""

    values: pd.Series  # datetime64, NaT for blank or bad cells; UTC where cells had offsets
    bad: np.ndarray  # bool: non-blank cells that are not dates
    blank: np.ndarray  # bool
    date_format: str = ""
    #: the wall time of each stamp in its own zone, when the cells carried offsets or zones
    wall: pd.Series | None = None
    #: said when one of two readings (day/month or month/day) was chosen
    note: str = ""
    #: why no reading could be chosen (an error for the time column)
    undecided: str = ""


#: Day-first and month-first spellings of the same date: each format and its partner.
DAY_MONTH_PARTNERS: dict[str, str] = {
    "%m/%d/%Y": "%d/%m/%Y",
    "%m/%d/%y": "%d/%m/%y",
    "%m/%d/%Y %H:%M": "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S": "%d/%m/%Y %H:%M:%S",
}
DAY_MONTH_PARTNERS.update({day: month for month, day in list(DAY_MONTH_PARTNERS.items())})

#: A UTC offset or ``Z`` at the end of an ISO 8601 stamp.
OFFSET_PATTERN = r"\s*(?:[zZ]|(?:UTC|GMT)?[+-]\d{2}(?::?\d{2})?)$"


def _reading(date_format: str) -> str:
    return "day/month/year" if date_format.startswith("%d") else "month/day/year"


def _on_month_anchor(parsed: pd.DatetimeIndex) -> bool:
    """Every date is the 1st or the last day of its month (one row a month, as exports write)."""
    days = parsed[parsed.notna()]
    return bool(len(days)) and bool(((days.day == 1) | days.is_month_end).all())


def _text_dtype(n_cells: int) -> pd.StringDtype[Any]:
    """The string dtype to run text methods with.

    Arrow-backed strings are faster on big columns, Python-backed ones have
    far less overhead per call on small columns.
    """
    return pd.StringDtype("pyarrow" if n_cells >= SMALL_COLUMN else "python")


def _as_text(column: pd.Series) -> pd.Series:
    """The column as stripped text (pandas ``string`` dtype), NA for missing."""
    if column.dtype.kind == "f" and bool((column.dropna() % 1 == 0).all()):
        return column.astype("Int64").astype(_text_dtype(len(column)))
    return column.astype(_text_dtype(len(column))).str.strip()


def _parse_numbers(
    column: pd.Series, *, decimal_comma_hint: bool = False, decimal: str | None = None
) -> _Numbers:
    """Parse a column of numbers as exports write them, without a per-row loop.

    Handles currency symbols and codes, thousands separators (``,`` ``.``
    space ``'``), decimal commas, ``(1.00)`` / ``-1.00`` / ``1.00-`` /
    ``1.00 CR`` negatives, a lone dash (accounting zero), a trailing ``%``
    and blank cells. The decimal mark is decided from all the column's
    values (or given as ``decimal``); a column whose every separator is a
    lone one before three digits is flagged ``ambiguous``. Cells with a
    unit suffix (``32.5 TSD``) are flagged ``unit``, several currencies
    ``currencies``. The work is done once per distinct text, then mapped
    back to the rows.

    Examples
    --------
    >>> texts = pd.Series(["$1,234.56", "(50.00)", "", "1 234,5 EUR"])
    >>> _parse_numbers(texts.iloc[:3]).values.tolist()
    [1234.56, -50.0, nan]
    >>> _parse_numbers(texts.iloc[3:]).values.tolist()
    [1234.5]
    >>> _parse_numbers(pd.Series(["32.477", "1.200"])).ambiguous
    True
    >>> _parse_numbers(pd.Series(["32.477", "1.200"]), decimal=",").values.tolist()
    [32477.0, 1200.0]
    """
    count = len(column)
    kind = column.dtype.kind
    if kind in "iufb":
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return _Numbers(values=values, bad=np.zeros(count, dtype=bool))
    if kind == "M":
        return _Numbers(values=np.full(count, np.nan), bad=column.notna().to_numpy())
    if kind == "O":
        # Python numbers in an object column (frames, mixed spreadsheet columns) are numbers,
        # not text to guess separators in
        inferred = pd.api.types.infer_dtype(column, skipna=True)
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            values = pd.to_numeric(column).to_numpy(dtype=np.float64, na_value=np.nan)
            return _Numbers(values=values, bad=np.zeros(count, dtype=bool))
        if inferred in ("mixed", "mixed-integer"):
            column = column.map(_number_cell_text, na_action="ignore")

    codes, distinct_cells = pd.factorize(column.astype(_text_dtype(count)).str.strip())
    distinct = pd.Series(distinct_cells, dtype=_text_dtype(len(distinct_cells)))
    parsed = _parse_distinct_numbers(
        distinct, decimal_comma_hint=decimal_comma_hint, decimal=decimal
    )
    missing = codes < 0
    picked = np.where(missing, 0, codes)
    values = np.where(missing, np.nan, parsed.values[picked] if len(distinct) else np.nan)
    bad = ~missing & (parsed.bad[picked] if len(distinct) else False)
    dash_zeros = int(np.count_nonzero(~missing & _rows_with_dash(parsed, picked)))

    def per_row(flags: np.ndarray | None) -> np.ndarray | None:
        if flags is None or not len(distinct) or not flags.any():
            return None
        return ~missing & flags[picked]

    currencies: tuple[tuple[int, str], ...] = ()
    if parsed.currencies:
        # distinct texts are numbered in order of first appearance: their first rows
        firsts = np.full(len(distinct), -1, dtype=np.int64)
        present = np.flatnonzero(~missing)
        firsts[codes[present][::-1]] = present[::-1]
        currencies = tuple((int(firsts[code]), symbol) for code, symbol in parsed.currencies)
    return _Numbers(
        values=np.asarray(values, dtype=np.float64),
        bad=np.asarray(bad, dtype=bool),
        decimal_comma=parsed.decimal_comma,
        dash_zeros=dash_zeros,
        ambiguous=parsed.ambiguous,
        evidence=parsed.evidence,
        unit=per_row(parsed.unit),
        percent=per_row(parsed.percent),
        currencies=currencies,
    )


def _rows_with_dash(parsed: _Numbers, picked: np.ndarray) -> np.ndarray:
    """Per row: whether its distinct text was a lone accounting dash."""
    if parsed.dash is None or not len(parsed.dash):
        return np.zeros(len(picked), dtype=bool)
    return parsed.dash[picked]


def _parse_distinct_numbers(
    texts: pd.Series, *, decimal_comma_hint: bool, decimal: str | None = None
) -> _Numbers:
    """Parse stripped, distinct, non-missing texts (see :func:`_parse_numbers`)."""
    count = len(texts)
    blank = (texts.eq("") | texts.str.upper().isin(sorted(NULL_TOKENS))).to_numpy(
        dtype=bool, na_value=True
    )

    def flag(series: pd.Series) -> np.ndarray:
        return series.to_numpy(dtype=bool, na_value=False)

    if decimal is None and not decimal_comma_hint:
        # Fast path: plain machine-written numbers need no cleaning.
        direct = pd.to_numeric(texts.where(~pd.Series(blank, index=texts.index)), errors="coerce")
        direct_values = direct.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isfinite(direct_values[~blank]).all():
            # one dot decimal anywhere settles the column: look at a few texts first
            if flag(texts.iloc[:256].str.contains(PLAIN_DOT_DECIMAL, regex=True)).any():
                return _Numbers(values=direct_values, bad=np.zeros(count, dtype=bool), evidence=".")
            dotted = flag(texts.str.contains(".", regex=False)) & ~blank
            if not dotted.any():
                return _Numbers(values=direct_values, bad=np.zeros(count, dtype=bool))
            if flag(texts.str.contains(PLAIN_DOT_DECIMAL, regex=True))[dotted].any():
                return _Numbers(values=direct_values, bad=np.zeros(count, dtype=bool), evidence=".")
            # every dot is a lone one before three digits (32.477): the general path decides

    unit = flag(texts.str.contains(UNIT_SUFFIX, regex=True)) & ~blank
    percent = flag(texts.str.endswith("%")) & ~blank
    body = texts.str.replace(r"%$", "", regex=True) if percent.any() else texts
    currency = body.str.extract(CURRENCY_PATTERN)["currency"]
    symbols = pd.unique(currency.dropna())
    found_currencies: tuple[tuple[int, str], ...] = ()
    if len(symbols) > 1:
        found_currencies = tuple(
            (int(np.flatnonzero(flag(currency.eq(symbol)))[0]), str(symbol)) for symbol in symbols
        )
    cleaned = body.str.replace(CLUTTER_PATTERN, "", regex=True).str.replace("−", "-", regex=False)
    dash = flag(cleaned.isin(["-", "–", "—"])) & ~blank
    parts = cleaned.str.extract(NUMBER_PATTERN)
    digits = parts["digits"]
    matched = flag(digits.notna()) & ~blank
    balanced = flag(parts["open"].isna()) == flag(parts["close"].isna())
    negative = (
        flag(parts["open"].notna())
        | flag(parts["sign"].eq("-"))
        | flag(parts["trailing"].notna())
        | flag(parts["marker"].str.upper().eq("CR"))
    )
    scientific = flag(digits.str.contains(r"[eE]", regex=True)) & matched
    plain = matched & ~scientific
    comma_evidence = (
        flag(digits.str.contains(COMMA_DECIMAL_EVIDENCE, regex=True))
        | flag(digits.str.contains(COMMA_AFTER_FOUR, regex=True))
    ) & plain
    dot_evidence = (
        flag(digits.str.contains(DOT_DECIMAL_EVIDENCE, regex=True))
        | flag(digits.str.contains(DOT_AFTER_FOUR, regex=True))
    ) & plain
    n_comma, n_dot = int(comma_evidence.sum()), int(dot_evidence.sum())
    evidence: str | None = None
    if n_comma or n_dot:
        evidence = "," if n_comma > n_dot else "."
    separated = plain & flag(digits.str.contains(r"[.,]", regex=True))
    ambiguous = decimal is None and evidence is None and bool(separated.any())
    if decimal is not None:
        decimal_comma = decimal == ","
    elif evidence is not None:
        decimal_comma = evidence == ","
    else:
        decimal_comma = decimal_comma_hint
    conflicting = dot_evidence if decimal_comma else comma_evidence
    if decimal_comma:
        normalised = digits.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        normalised = digits.str.replace(",", "", regex=False)
    normalised = normalised.where(pd.Series(~scientific, index=texts.index), digits)
    numbers = pd.to_numeric(normalised, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = np.where(negative, -numbers, numbers)
    numbers = np.where(dash, 0.0, numbers)
    bad = ~blank & ~dash & (np.isnan(numbers) | conflicting | ~balanced | unit)
    numbers = np.where(bad | blank, np.nan, numbers)
    has_comma = flag(digits.str.contains(",", regex=False)) & plain
    return _Numbers(
        values=numbers.astype(np.float64),
        bad=bad,
        decimal_comma=decimal_comma and bool(has_comma.any()),
        dash=dash,
        ambiguous=ambiguous,
        evidence=evidence,
        unit=unit if unit.any() else None,
        percent=percent if percent.any() else None,
        currencies=found_currencies,
    )


_QUARTER_FIRST_MONTH = {"1": "01", "2": "04", "3": "07", "4": "10"}


def _spell_quarters(text: pd.Series) -> pd.Series:
    """Rewrite ``2024Q3``, ``2024-Q3``, ``Q3 2024`` as ``2024-07``."""
    if not bool(text.str.contains("q", case=False, regex=False).any()):
        return text
    text = text.str.replace(r"(?i)^(\d{4})\s*[-/ ]?\s*Q([1-4])$", r"\1-Q\2", regex=True)
    text = text.str.replace(r"(?i)^Q([1-4])\s*[-/ ]?\s*(\d{4})$", r"\2-Q\1", regex=True)
    for quarter, month in _QUARTER_FIRST_MONTH.items():
        text = text.str.replace(f"-Q{quarter}", f"-{month}", regex=False)
    return text


def _to_datetime(
    text: pd.Series | pd.Index, date_format: str, *, keep_zone: bool = False
) -> pd.DatetimeIndex:
    """Parse texts with one format; unparseable texts become NaT.

    Stamps with offsets are converted to UTC; the zone is dropped unless
    ``keep_zone`` (a single offset keeps its own wall time then).
    """
    try:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce")
    except (ValueError, TypeError):  # mixed UTC offsets
        parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
    index = pd.DatetimeIndex(parsed)
    if index.tz is not None and not keep_zone:
        index = index.tz_convert("UTC").tz_localize(None)
    return index


def _parse_dates(column: pd.Series, date_format: str | None = None) -> _Dates:
    """Parse a time column, trying each spelling of :data:`DATE_FORMATS` on the distinct texts.

    One reading for the whole column: the spelling that reads most of the
    distinct texts (``date_format`` when given). When the day-first and the
    month-first reading both read every text and give different dates, the
    one that puts every date on the 1st or the last day of a month is taken
    (with a note); when neither or both do, the column is undecided. Stamps
    with UTC offsets (or a zone) are UTC in ``values``, their own wall time
    in ``wall``.
    """
    count = len(column)
    if column.dtype.kind == "M":
        index = pd.DatetimeIndex(column)
        wall = None
        if index.tz is not None:
            wall = pd.Series(index.tz_localize(None), index=column.index)
            index = index.tz_convert("UTC").tz_localize(None)
        values = pd.Series(index, index=column.index)
        blank = values.isna().to_numpy()
        return _Dates(values=values, bad=np.zeros(count, dtype=bool), blank=blank, wall=wall)
    text = _as_text(column)
    blank = (text.isna() | text.eq("")).to_numpy(dtype=bool, na_value=True)
    codes, distinct = pd.factorize(text.where(~pd.Series(blank, index=column.index)))
    distinct_text = _spell_quarters(pd.Series(distinct, dtype=_text_dtype(len(distinct))))
    best: pd.DatetimeIndex | None = None
    best_format, best_parsed = "", -1
    # Every spelling of a date has a digit; skip the formats for text like "acme".
    if len(distinct_text) and distinct_text.str.contains(r"\d", regex=True).any():
        first = distinct_text.iloc[:1]
        for candidate in (date_format,) if date_format else DATE_FORMATS:
            if not date_format and _to_datetime(first, candidate).isna().all():
                continue
            parsed = _to_datetime(distinct_text, candidate, keep_zone=True)
            n_parsed = int(np.count_nonzero(parsed.notna()))
            if n_parsed > best_parsed:
                best, best_format, best_parsed = parsed, candidate, n_parsed
            if n_parsed == len(distinct_text):
                break
    if best is None:
        values = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
        return _Dates(values=values, bad=~blank, blank=blank)
    note = undecided = ""
    partner = DAY_MONTH_PARTNERS.get(best_format) if not date_format else None
    if partner is not None and best_parsed == len(distinct_text):
        other = _to_datetime(distinct_text, partner)
        if other.notna().all() and not other.equals(best):
            anchored, other_anchored = _on_month_anchor(best), _on_month_anchor(other)
            if other_anchored and not anchored:
                best, best_format, other = other, partner, best
            if anchored != other_anchored:
                note = (
                    f"read it as {_reading(best_format)} ({best_format}): every date is then "
                    "the 1st or the last day of a month, as "
                    f"{_reading(DAY_MONTH_PARTNERS[best_format])} they would not be"
                )
            else:
                sample = str(distinct.take([0])[0]) if len(distinct) else ""
                undecided = (
                    f"dates such as {sample!r} read both as day/month/year and as "
                    "month/day/year, and neither reading is clearly right"
                )
    wall = None
    if best.tz is not None:
        # the wall time in each stamp's own zone: a single offset's own reading, or the
        # text without its offset (several offsets, as a zone with daylight saving has)
        if str(best.tz) != "UTC":
            own = best.tz_localize(None)
        else:
            unzoned = distinct_text.str.replace(OFFSET_PATTERN, "", regex=True)
            own = _to_datetime(unzoned, best_format)
        wall = pd.Series(_by_codes(own, codes), index=column.index)
        best = best.tz_convert("UTC").tz_localize(None)
    values = pd.Series(_by_codes(best, codes), index=column.index)
    bad = ~blank & values.isna().to_numpy()
    return _Dates(
        values=values,
        bad=bad,
        blank=blank,
        date_format=best_format,
        wall=wall,
        note=note,
        undecided=undecided,
    )


def _by_codes(parsed: pd.DatetimeIndex, codes: np.ndarray) -> np.ndarray:
    """The parsed distinct texts mapped back to the rows (NaT for blank rows)."""
    picked = np.where(codes >= 0, codes, 0)
    values = parsed.to_numpy()[picked]
    values[codes < 0] = np.datetime64("NaT")
    return values


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


class _Validator:
    """Turns one raw table into a panel; holds the per-table caches and notes."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.name = table.name
        self.rows = table.rows
        self.notes: list[str] = list(table.notes)
        self.percent_columns: list[str] = []
        #: the spelling of dates given by the caller (``date_format=``), if any
        self.date_format: str | None = None
        self._numbers: dict[str, _Numbers] = {}
        self._dates: dict[str, _Dates] = {}
        self._is_numeric: dict[str, bool] = {}
        #: ``(column[i] < column[i + 1], column[i] == column[i + 1])`` of parsed id
        #: columns, when parsing found them (for the sort check).
        self.id_pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def frame(self) -> pd.DataFrame:
        return self.table.frame

    # -- cached parses -------------------------------------------------

    def numbers(self, column: str) -> _Numbers:
        if column not in self._numbers:
            self._numbers[column] = _parse_numbers(
                self.frame[column],
                decimal_comma_hint=self.table.decimal_comma_hint,
                decimal=self.table.decimal,
            )
        return self._numbers[column]

    def dates(self, column: str) -> _Dates:
        if column not in self._dates:
            self._dates[column] = _parse_dates(self.frame[column], self.date_format)
        return self._dates[column]

    # -- messages ------------------------------------------------------

    def cell_error(
        self, kind: type[RevwatchError], mask: np.ndarray, column: str, problem: str, fix: str
    ) -> RevwatchError:
        """An error naming the first flagged row, its text and how many more there are."""
        positions = np.flatnonzero(mask)
        first = int(positions[0])
        cell = self.frame[column].iloc[first]
        text = "" if pd.isna(cell) else str(cell)
        message = problem.format(text=repr(text))
        return _fail(
            kind,
            f"{self.name}, {self.rows.name(first)}, column {column!r}: {message}"
            f"{_more(len(positions) - 1)}; {fix}",
        )

    def missing_column(self, column: str, role: str) -> RevwatchError:
        available = [str(name) for name in self.frame.columns]
        close = difflib.get_close_matches(column, available, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return _fail(
            MissingColumnError,
            f"{self.name}: no column {column!r} (given as {role}); {hint}"
            f"available columns: {_quoted(available)}",
        )

    # -- column roles --------------------------------------------------

    def is_numeric(self, column: str) -> bool:
        if column not in self._is_numeric:
            self._is_numeric[column] = self._check_numeric(column)
        return self._is_numeric[column]

    def _check_numeric(self, column: str) -> bool:
        series = self.frame[column]
        if series.dtype.kind not in "iufb":
            # Cheap rejection: a filled cell without a digit (other than a dash
            # or a null marker) is never a number, as in an id column.
            distinct = pd.Series(pd.unique(series.dropna()))
            text = distinct.astype(_text_dtype(len(distinct))).str.strip().str.upper()
            wordy = ~text.str.contains(DIGIT_OR_DASH, regex=True)
            wordy &= ~text.isin(sorted(NULL_TOKENS))
            if bool(wordy.any()):
                return False
        parsed = self.numbers(column)
        return self.frame[column].dtype.kind != "M" and not parsed.bad.any()

    def is_date_like(self, column: str) -> bool:
        series = self.frame[column]
        kind = series.dtype.kind
        if kind == "M":
            return True
        hinted = bool(TIME_NAME_HINT.search(column))
        if kind in "iufb":
            if not hinted:
                return False
        elif not hinted and self.is_numeric(column):
            return False
        parsed = self.dates(column)
        n_filled = int(np.count_nonzero(~parsed.blank))
        n_parsed = n_filled - int(np.count_nonzero(parsed.bad))
        # A few unreadable cells do not stop a column from being the time
        # column: they are reported with their row when the column is parsed.
        return n_parsed > 0 and n_parsed >= (0.5 if hinted else 0.8) * n_filled

    def roles(
        self,
        id_names: str | Sequence[str] | None,
        time_name: str | None,
        value_name: str | None,
        metric_names: Sequence[str] | None,
    ) -> tuple[list[str], str, str, list[str]]:
        """Check the named columns and infer the missing ones."""
        columns = [str(name) for name in self.frame.columns]
        given_ids = [id_names] if isinstance(id_names, str) else id_names
        metrics = list(metric_names or [])
        named: list[tuple[str, str]] = [(name, "--id") for name in given_ids or []]
        named += [(name, "--time") for name in [time_name] if name is not None]
        named += [(name, "--value") for name in [value_name] if name is not None]
        named += [(name, "--metrics") for name in metrics]
        for name, role in named:
            if not isinstance(name, str):
                raise _fail(ParameterError, f"{role} must be a column name, got {name!r}")
            if name not in columns:
                raise self.missing_column(name, role)
        taken = {name for name, _ in named}
        inferred: list[str] = []

        if time_name is None:
            candidates = [c for c in columns if c not in taken and self.is_date_like(c)]
            if len(candidates) != 1:
                found = (
                    f"several date columns ({_quoted(candidates)})"
                    if candidates
                    else "no date column"
                )
                hint = ""
                if not candidates:
                    hint = (
                        "; if a title or notes stand above the header, pass --skip-rows N "
                        "(skip_rows=N), and for a workbook --sheet NAME picks another sheet"
                    )
                raise _fail(
                    MissingColumnError,
                    f"{self.name}: found {found}; pass the time column with time= (--time), "
                    f"one of {_quoted(candidates or columns)}{hint}",
                )
            time_name = candidates[0]
            taken.add(time_name)
            inferred.append(f"--time {time_name}")

        if value_name is None:
            candidates = [
                c
                for c in columns
                if c not in taken
                and self.is_numeric(c)
                and not self.numbers(c).bad.all()
                and not np.isnan(self.numbers(c).values).all()
            ]
            if len(candidates) > 1:
                not_ids = [c for c in candidates if not ID_NAME_HINT.search(c)]
                if len(not_ids) == 1 and given_ids is None:
                    candidates = not_ids
            if not candidates:
                # a column that is numeric but for a few typos: name the bad cell
                unassigned = [c for c in columns if c not in taken]
                for column in unassigned:
                    self.check_units(column)
                    parsed = self.numbers(column)
                    numeric = ~parsed.bad & ~np.isnan(parsed.values)
                    if numeric.sum() > parsed.bad.sum() > 0:
                        raise self.cell_error(
                            InputError,
                            parsed.bad,
                            column,
                            "cannot read {text} as a number",
                            "fix the cell (e.g. 1234.56, $1,234.56 or (50.00)) or leave it "
                            "blank for a missing value",
                        )
                if not unassigned:
                    raise _fail(
                        MissingColumnError,
                        f"{self.name}: there is no column left for the values to watch; "
                        "the file needs a numeric column (e.g. revenue) besides the period",
                    )
            if len(candidates) != 1:
                unassigned = [c for c in columns if c not in taken]
                found = (
                    f"several numeric columns ({_quoted(candidates)})"
                    if candidates
                    else "no numeric column"
                )
                raise _fail(
                    MissingColumnError,
                    f"{self.name}: found {found}; pass the column to watch with value= "
                    f"(--value), one of {_quoted(candidates or unassigned)}",
                )
            value_name = candidates[0]
            taken.add(value_name)
            inferred.append(f"--value {value_name}")

        ids: list[str] = []
        if given_ids is None:
            ignored: list[str] = []
            for column in columns:
                if column in taken:
                    continue
                series = self.frame[column]
                if series.isna().all():
                    ignored.append(f"{column} (empty)")
                elif (
                    series.dtype.kind in "iufb" or self.is_numeric(column)
                ) and not ID_NAME_HINT.search(column):
                    ignored.append(f"{column} (numeric)")
                else:
                    ids.append(column)
            inferred.append(f"--id {','.join(ids)}" if ids else "--id (none: a single series)")
            if ignored:
                self.note(
                    f"ignored column(s) {', '.join(ignored)}; "
                    "name them in --id or --metrics to use them"
                )
        else:
            ids = list(given_ids)
        if inferred:
            self.notes.insert(0, f"inferred {', '.join(inferred)}")
            logger.info("%s: inferred %s", self.name, ", ".join(inferred))

        self.check_roles(ids, time_name, value_name, metrics)
        return ids, time_name, value_name, metrics

    def check_roles(
        self, ids: list[str], time_name: str, value_name: str, metrics: list[str]
    ) -> None:
        used = [*ids, time_name, value_name, *metrics]
        repeated = sorted({name for name in used if used.count(name) > 1})
        if repeated:
            raise _fail(
                ParameterError,
                f"{self.name}: column {repeated[0]!r} is given more than one role "
                "(--id, --time, --value, --metrics); give each column one role",
            )
        for name in [*ids, *metrics]:
            if name in (PERIOD, VALUE):
                role = "an id" if name in ids else "a metric"
                raise _fail(
                    InputError,
                    f"{self.name}: column {name!r} is used as {role}, but {PERIOD!r} and "
                    f"{VALUE!r} are the panel's own time and value columns; rename it in the "
                    "source or pass it as --time/--value",
                )

    def note(self, text: str) -> None:
        self.notes.append(text)
        logger.info("%s: %s", self.name, text)

    # -- parsing the chosen columns -------------------------------------

    def parse_time(self, column: str) -> pd.Series:
        parsed = self.dates(column)
        if parsed.blank.any():
            raise self.cell_error(
                InputError,
                parsed.blank,
                column,
                "the date is blank",
                "fill it in or delete the row",
            )
        if parsed.bad.any():
            fix = (
                f"fix the cell to match --date-format {self.date_format}"
                if self.date_format
                else DATE_FIX
            )
            raise self.cell_error(
                InputError, parsed.bad, column, "cannot read {text} as a date", fix
            )
        if parsed.undecided:
            raise _fail(
                InputError,
                f"{self.name}, column {column!r}: {parsed.undecided}; pass --date-format "
                f"{DAY_MONTH_PARTNERS.get(parsed.date_format, '%d/%m/%Y')} or --date-format "
                f"{parsed.date_format} (date_format=) to say which",
            )
        if parsed.note:
            self.note(f"{column}: {parsed.note}")
        return parsed.values

    def parse_ids(self, ids: list[str]) -> dict[str, pd.Series]:
        parsed: dict[str, pd.Series] = {}
        for column in ids:
            clean = self._clean_keys(column)
            if clean is not None:
                parsed[column] = clean
                continue
            text = _as_text(self.frame[column])
            blank = (text.isna() | text.eq("")).to_numpy(dtype=bool, na_value=True)
            if blank.any():
                raise self.cell_error(
                    InputError,
                    blank,
                    column,
                    "the series key is blank",
                    "fill it in, delete the row, or leave the column out of --id",
                )
            # The default string dtype of the running pandas (``str`` in pandas 3).
            parsed[column] = self._normalise_ids(column).reset_index(drop=True).astype(str)
        return parsed

    def _normalise_ids(self, column: str) -> pd.Series:
        """The id column NFC-normalised and trimmed, with notes on what changed.

        Done once per distinct text. Every id that changed is listed in a note;
        ids that differ only in letter case are listed too, and kept apart.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        raw = self.frame[column]
        if raw.dtype.kind in "iufb":
            return _as_text(raw)
        codes, distinct = pd.factorize(raw.astype(_text_dtype(len(raw))))
        original = pa.array(np.asarray(distinct, dtype=object), type=pa.large_string())
        cleaned = pc.utf8_trim_whitespace(pc.utf8_normalize(original, form="NFC"))
        changed = np.asarray(pc.not_equal(cleaned, original).to_numpy(zero_copy_only=False))
        if changed.any():
            before = original.filter(pa.array(changed)).to_pylist()
            after = cleaned.filter(pa.array(changed)).to_pylist()
            listing = ", ".join(
                f"{_shown_id(old)} -> {new!r}" for old, new in zip(before, after, strict=True)
            )
            self.note(
                f"normalised {len(before)} id(s) in {column} (Unicode NFC, spaces trimmed), "
                f"so that ids typed on different systems match: {listing}"
            )
        unique = pc.unique(cleaned)
        folded = pc.utf8_lower(unique)
        if len(pc.unique(folded)) < len(unique):
            groups = (
                pd.DataFrame({"id": unique.to_pylist(), "key": folded.to_pylist()})
                .groupby("key", sort=True)["id"]
                .agg(list)
            )
            clashes = [" / ".join(map(repr, sorted(ids))) for ids in groups if len(ids) > 1]
            self.note(
                f"{len(clashes)} id(s) in {column} differ only in letter case and are kept as "
                f"separate series: {'; '.join(clashes)}; fix the spelling in the source if they "
                "are the same"
            )
        values = np.asarray(cleaned.to_numpy(zero_copy_only=False), dtype=object)
        return pd.Series(values[codes], dtype=_text_dtype(len(raw)))

    def _clean_keys(self, column: str) -> pd.Series | None:
        """A big Arrow text id column that needs no stripping and has no blank, as is.

        Checked once per run of equal neighbours (in a sorted export, once per
        series) instead of once per row; the neighbour comparison is kept for
        the sort check. None when the column needs the general path.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        series = self.frame[column]
        dtype = series.dtype
        if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
            return None
        if len(series) < SMALL_COLUMN:
            return None
        arrow = pa.array(series.array)
        if arrow.null_count:
            return None
        n_pairs = len(arrow) - 1
        equal = np.asarray(
            pc.equal(arrow.slice(0, n_pairs), arrow.slice(1)).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        starts = np.concatenate([[True], ~equal])
        firsts = np.flatnonzero(starts)
        if len(firsts) * 4 > len(arrow):
            return None  # few repeats in a row: no gain over the general path
        texts = arrow.filter(starts)  # chunk by chunk (a take would join the chunks first)
        stripped = pc.utf8_trim_whitespace(pc.utf8_normalize(texts, form="NFC"))
        if not pc.all(pc.equal(stripped, texts)).as_py() or pc.any(pc.equal(texts, "")).as_py():
            return None  # some keys need stripping or are blank: the general path says which
        if pc.count_distinct(pc.utf8_lower(texts)).as_py() < pc.count_distinct(texts).as_py():
            return None  # ids that differ only in case: the general path lists them
        # neighbours differ only where a run ends: "<" there, from the runs' first texts
        less = np.zeros(n_pairs, dtype=bool)
        run_less = pc.less(texts.slice(0, len(texts) - 1), texts.slice(1))
        less[firsts[1:] - 1] = np.asarray(run_less.to_numpy(zero_copy_only=False), dtype=bool)
        self.id_pairs[column] = (less, equal)
        # The default string dtype of the running pandas (``str`` in pandas 3).
        return series.reset_index(drop=True).astype(str)

    def check_units(self, column: str) -> None:
        """Refuse cells whose unit suffix would scale them (32.5 TSD, 1.2M)."""
        parsed = self.numbers(column)
        if parsed.unit is not None and parsed.unit.any():
            raise self.cell_error(
                InputError,
                parsed.unit,
                column,
                "{text} has a unit suffix that scales it",
                "write the full amount (e.g. 32500 for 32.5 TSD) in the export; revwatch never "
                "guesses what a suffix multiplies by",
            )

    def decimal_evidence(self, column: str) -> tuple[str, str] | None:
        """The decimal mark the rest of the file points to, and why; None when it does not.

        Evidence: a ``;`` delimiter, dotted day-first dates (31.12.2024), a
        dollar or pound sign in the column (dot decimals), or another numeric
        column whose own values show its decimal mark. Conflicting evidence
        is no evidence.
        """
        found: dict[str, str] = {}
        if self.table.decimal_comma_hint:
            found.setdefault(",", "the file is ';'-delimited")
        for name, dates in self._dates.items():
            if dates.date_format.startswith("%d."):
                found.setdefault(",", f"the dates in {name} are written day.month.year")
        texts = _as_text(self.frame[column]).dropna()
        if bool(texts.str.contains(r"[$£]", regex=True).any()):
            found.setdefault(".", "the amounts carry a $ or £ sign")
        for other in self.frame.columns:
            if other == column or self.frame[other].dtype.kind in "iufbM":
                continue
            if not self.is_numeric(other):
                continue
            mark = self.numbers(other).evidence
            if mark is not None:
                found.setdefault(mark, f"{other} writes decimals with {mark!r}")
        if len(found) != 1:
            return None
        return next(iter(found.items()))

    def parse_numbers(self, column: str, role: str) -> np.ndarray:
        self.check_units(column)
        parsed = self.numbers(column)
        if parsed.currencies:
            (first, one), (second, other) = parsed.currencies[:2]
            raise _fail(
                InputError,
                f"{self.name}, column {column!r}: holds several currencies ({one!r} in "
                f"{self.rows.name(first)}, {other!r} in {self.rows.name(second)}); convert the "
                "amounts to one currency, or split the file by currency",
            )
        chosen = False
        if parsed.ambiguous:
            evidence = self.decimal_evidence(column)
            sample = _as_text(self.frame[column]).dropna()
            sample = sample[sample.str.contains(AMBIGUOUS_GROUP, regex=True)]
            example = str(sample.iloc[0]) if len(sample) else "1.234"
            if evidence is None:
                raise _fail(
                    InputError,
                    f"{self.name}, column {column!r}: cannot tell the decimal mark: every "
                    f"number is written like {example!r} (a thousands group or three decimals); "
                    "pass --decimal , (decimal=',') if the comma is the decimal mark, "
                    "or --decimal . (decimal='.') if the dot is",
                )
            mark, reason = evidence
            thousands = "." if mark == "," else ","
            parsed = _parse_numbers(
                self.frame[column], decimal_comma_hint=self.table.decimal_comma_hint, decimal=mark
            )
            self._numbers[column] = parsed
            value = parsed.values[sample.index[0]] if len(sample) else float("nan")
            self.note(
                f"read {column} with {mark!r} as the decimal mark ({example} = {value:g}) "
                f"because {reason}; pass --decimal {thousands} if that is wrong"
            )
            chosen = True
        if parsed.bad.any():
            raise self.cell_error(
                InputError,
                parsed.bad,
                column,
                "cannot read {text} as a number",
                f"fix the cell (e.g. 1234.56, $1,234.56 or (50.00)) or leave it blank "
                f"for a missing {role}",
            )
        # numeric columns (Parquet, DataFrames, SQL) can hold infinities; an amount cannot
        infinite = np.isinf(parsed.values)
        if infinite.any():
            raise self.cell_error(
                InputError,
                infinite,
                column,
                "{text} is not a finite number",
                f"replace it with the amount or leave it blank for a missing {role}",
            )
        if parsed.percent is not None:
            filled = ~np.isnan(parsed.values)
            if not parsed.percent[filled].all():
                raise self.cell_error(
                    InputError,
                    filled & ~parsed.percent,
                    column,
                    "{text} has no % sign while other cells do",
                    "write every cell of the column as a percent, or none",
                )
            self.note(f"{column} is in percent: values are kept as written (12.5% is 12.5)")
            self.percent_columns.append(column)
        if parsed.decimal_comma and not chosen:
            self.note(f"read {column} with a decimal comma (1.234,56 = 1234.56)")
        if parsed.dash_zeros:
            self.note(f"read {parsed.dash_zeros} dash cell(s) in {column} as 0 (accounting zero)")
        return parsed.values


def _shown_id(text: str) -> str:
    """``repr`` of an id, with combining marks spelled out when it is not NFC (visibly)."""
    import unicodedata

    return ascii(text) if unicodedata.normalize("NFC", text) != text else repr(text)


def _normalise_periods(
    periods: pd.Series, freq: str, distinct: np.ndarray | None = None
) -> pd.Series:
    """Snap each period to the start of its month/quarter/year/day (weekly: the day).

    A step shorter than a day floors to its step from midnight (10:17 is the
    10:15 period of ``15min``); stamps with their own phase are aligned
    before (:func:`revwatch.data.steps.align_sub_daily`) and not passed here.

    Done on the ``datetime64`` values (a unit cast floors), which gives the
    same result as pandas' ``to_period(...).to_timestamp()`` and ``floor``
    without building Period objects. ``distinct``: the distinct periods, if
    already known.
    """
    stamps = periods.to_numpy(dtype="datetime64[ns]")
    if len(stamps) >= DISTINCT_FIRST:
        # exports repeat each period once per series: snap the distinct ones
        if distinct is None:
            distinct = pd.unique(stamps)
        if len(distinct) * 4 <= len(stamps):
            if np.array_equal(_snap(distinct, freq), distinct):
                if periods.dtype == stamps.dtype:
                    return periods.copy(deep=False)  # already normalised, as usual
                return pd.Series(stamps, index=periods.index, name=periods.name)
            codes, uniques = pd.factorize(stamps.view(np.int64))
            snapped = _snap(uniques.view("datetime64[ns]"), freq)
            return pd.Series(snapped[codes], index=periods.index, name=periods.name)
    return pd.Series(_snap(stamps, freq), index=periods.index, name=periods.name)


def _snap(stamps: np.ndarray, freq: str) -> np.ndarray:
    """``datetime64[ns]`` values floored to the start of their period (see above)."""
    if freq in SUB_DAILY:
        step = STEP_SECONDS[freq] * 10**9
        nanoseconds = stamps.astype("datetime64[ns]").view(np.int64)
        return (nanoseconds - nanoseconds % step).view("datetime64[ns]")
    if freq == "quarterly":
        months = stamps.astype("datetime64[M]").astype(np.int64)
        snapped = (months - months % 3).astype("datetime64[M]")
    else:
        unit = {"monthly": "M", "yearly": "Y"}.get(freq, "D")
        snapped = stamps.astype(f"datetime64[{unit}]")
    return snapped.astype("datetime64[ns]")


def _describe_period(period: pd.Timestamp, freq: str) -> str:
    if freq == "monthly":
        return period.strftime("%Y-%m")
    if freq == "quarterly":
        return f"{period.year}Q{(period.month - 1) // 3 + 1}"
    if freq == "yearly":
        return str(period.year)
    if freq in SUB_DAILY:
        return period.strftime("%Y-%m-%d %H:%M:%S" if period.second else "%Y-%m-%d %H:%M")
    return period.strftime("%Y-%m-%d")


def _build_panel(
    table: _Table,
    *,
    id_names: str | Sequence[str] | None,
    time_name: str | None,
    value_name: str | None,
    metric_names: Sequence[str] | None,
    aggregate: str | None,
    freq: str | None,
    tz: str | None = None,
    date_format: str | None = None,
) -> Panel:
    """The one validation path shared by :func:`load` and :func:`from_frame`."""
    name = table.name
    frame = table.frame
    if isinstance(metric_names, str):
        metric_names = [metric_names]
    if frame.shape[1] == 0:
        raise _fail(InputError, f"{name}: has no columns; export the data again with a header")
    renamed = {column: str(column).replace("\ufeff", "").strip() for column in frame.columns}
    frame = frame.rename(columns=renamed)
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise _fail(
            InputError,
            f"{name}: column {duplicated[0]!r} appears more than once; rename one of them",
        )
    if len(frame) == 0:
        raise _fail(InputError, f"{name}: {table.is_empty_message}")
    table.frame = frame.reset_index(drop=True)
    validator = _Validator(table)
    validator.date_format = date_format

    ids, time_column, value_column, metrics = validator.roles(
        id_names, time_name, value_name, metric_names
    )
    raw_periods = validator.parse_time(time_column).reset_index(drop=True)
    keys = validator.parse_ids(ids)
    values = validator.parse_numbers(value_column, "value")
    if len(values) and bool(np.isnan(np.asarray(values, dtype=np.float64)).all()):
        raise _fail(
            InputError,
            f"{validator.name}, column {value_column!r}: every cell is blank, so there is "
            "nothing to watch; check the export or pass the right column with --value",
        )
    metric_values = {metric: validator.parse_numbers(metric, "metric") for metric in metrics}

    try:
        raw_periods = raw_periods.astype("datetime64[ns]")
    except (pd.errors.OutOfBoundsDatetime, OverflowError, ValueError):
        early = (raw_periods < pd.Timestamp.min) | (raw_periods > pd.Timestamp.max)
        raise validator.cell_error(
            InputError,
            early.to_numpy(dtype=bool, na_value=False),
            time_column,
            "the date {text} is out of range (years 1678-2261)",
            "fix the year",
        ) from None
    absolute, wall = _zoned(validator, raw_periods, keys, time_column, tz)
    freq, periods = _steps(validator, absolute, keys, freq, time_column, wall=wall, tz=tz)
    if freq in ("weekly", "fortnightly"):
        # 1970-01-01 was a Thursday (3); integer days avoid calendar fields per row
        days = periods.to_numpy(dtype="datetime64[ns]").view(np.int64) // (86_400 * 10**9)
        weekdays = (days + 3) % 7
        if len(np.unique(weekdays)) > 1:
            usual = int(np.bincount(weekdays).argmax())
            raise validator.cell_error(
                InputError,
                weekdays != usual,
                time_column,
                ("two-weekly" if freq == "fortnightly" else "weekly")
                + " periods fall on different weekdays ({text} is not a "
                + pd.Timestamp(2024, 1, 1 + usual).day_name()
                + " like most)",
                "put every week on the same weekday, or pass --freq daily",
            )

    if freq == "fortnightly":
        days = periods.to_numpy(dtype="datetime64[ns]").view(np.int64) // (86_400 * 10**9)
        parity = (days // 7) % 2
        if len(np.unique(parity)) > 1:
            usual = int(np.bincount(parity).argmax())
            raise validator.cell_error(
                InputError,
                parity != usual,
                time_column,
                "two-weekly periods are not all a whole number of two weeks apart "
                "({text} is one week off most)",
                "put every period on the same two-week cycle, or pass --freq weekly",
            )

    # the arrays are this function's own (or Series, tracked by copy-on-write): no copy
    out = pd.DataFrame(
        {
            **keys,
            PERIOD: periods,
            VALUE: _panel_column(validator, value_column, values),
            **{
                metric: _panel_column(validator, metric, array)
                for metric, array in metric_values.items()
            },
        },
        index=pd.RangeIndex(len(periods)),
        copy=False,
    )
    out, order = _resolve_duplicates(out, ids, freq, aggregate, validator, raw_periods)
    return Panel._assemble(
        out,
        order,
        id_columns=ids,
        freq=freq,
        source=name,
        value_name=value_column,
        time_name=time_column,
        notes=tuple(validator.notes),
        percent_columns=tuple(validator.percent_columns),
    )


def _series_namer(keys: dict[str, pd.Series], order: SeriesOrder) -> Callable[[int], str]:
    """Name the ``i``-th series of ``order`` by its key values."""

    def name(series: int) -> str:
        row = int(order.positions(order.starts[series : series + 1])[0])
        return "series " + ", ".join(f"{column}={keys[column].iloc[row]!r}" for column in keys)

    return name


def _zoned(
    validator: _Validator,
    raw_periods: pd.Series,
    keys: dict[str, pd.Series],
    time_column: str,
    tz: str | None,
) -> tuple[pd.Series, pd.Series | None]:
    """Each row's absolute time (naive UTC) and, where it differs, its wall time.

    Stamps with UTC offsets: absolute is UTC; the wall time is in ``tz`` when
    given, else in each stamp's own zone (a Berlin export's offsets change
    with daylight saving; its dates are still Berlin dates). Naive stamps
    with ``tz``: they are its wall time; the absolute time places the hour
    the clocks repeat in autumn by its order within its series (first the
    summer one) and refuses a time the clocks skip in spring.
    """
    wall_cells = validator.dates(time_column).wall
    if wall_cells is None and tz is None:
        return raw_periods, None
    if wall_cells is not None:
        if tz is None:
            wall = wall_cells.reset_index(drop=True).astype("datetime64[ns]")
        else:
            wall = raw_periods.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
        return raw_periods, wall.astype("datetime64[ns]")
    assert tz is not None
    first_time = ~pd.DataFrame({**keys, PERIOD: raw_periods}, copy=False).duplicated().to_numpy()
    localised = raw_periods.dt.tz_localize(tz, ambiguous=first_time, nonexistent="NaT")
    skipped = localised.isna().to_numpy()
    if skipped.any() and bool((raw_periods == raw_periods.dt.normalize()).all()):
        # dates only, in a zone whose clocks change at midnight: the day starts an hour late
        localised = raw_periods.dt.tz_localize(
            tz, ambiguous=first_time, nonexistent="shift_forward"
        )
        skipped = localised.isna().to_numpy()
    if skipped.any():
        raise validator.cell_error(
            InputError,
            skipped,
            time_column,
            f"{{text}} does not exist in {tz} (the clocks skip it for daylight saving)",
            "fix the stamp, or pass the zone the stamps are really in with --tz (UTC if none)",
        )
    absolute = localised.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    return absolute, raw_periods


def _steps(
    validator: _Validator,
    raw_periods: pd.Series,
    keys: dict[str, pd.Series],
    freq: str | None,
    time_column: str,
    *,
    wall: pd.Series | None = None,
    tz: str | None = None,
) -> tuple[str, pd.Series]:
    """The frequency (inferred when None) and each row's period.

    ``raw_periods`` is absolute time (naive UTC when the stamps had offsets
    or ``tz`` was given), ``wall`` the wall time where it differs. A step
    shorter than a day keeps the input's own (absolute) stamps, moved onto
    the series' phase when a few seconds off; daily and coarser periods are
    the start of their day, month, quarter or year in wall time.
    """
    stamps = raw_periods.to_numpy(dtype="datetime64[ns]")
    inferred = freq is None
    order: SeriesOrder | None = None
    if freq is None or freq in SUB_DAILY:
        order = series_order(stamps, keys, validator.id_pairs)
    if freq is None:
        assert order is not None
        try:
            freq, how = infer_steps(order, validator.name, series_name=_series_namer(keys, order))
        except InputError as error:
            raise _fail(InputError, str(error)) from None
        validator.note(how)
    if freq not in SUB_DAILY:
        if wall is not None:
            zone = f"in {tz}" if tz else "in their own zone (from their UTC offsets)"
            validator.note(f"{freq} periods of {time_column} are dates {zone}")
            raw_periods, stamps = wall, wall.to_numpy(dtype="datetime64[ns]")
        # the distinct periods (a hash pass over every row) serve normalising
        distinct = pd.unique(stamps) if len(stamps) >= DISTINCT_FIRST else None
        return freq, _normalise_periods(raw_periods, freq, distinct)
    if wall is not None:
        validator.note(
            f"{freq} periods of {time_column} are UTC (absolute time, so no hour is doubled "
            "or lost when the clocks change)"
        )
    assert order is not None
    aligned = align_sub_daily(order, freq)
    if aligned is not None:
        if aligned.moved:
            validator.note(
                f"moved {aligned.moved} stamp(s) in {time_column} by up to "
                f"{aligned.largest_seconds:g} s onto the {freq} step of their series "
                f"(e.g. {validator.rows.name(aligned.first_moved)})"
            )
        return freq, pd.Series(aligned.stamps, index=raw_periods.index, name=raw_periods.name)
    if inferred:
        raise _fail(
            InputError,
            f"{validator.name}, column {time_column!r}: periods are irregularly spaced "
            f"(about {freq} apart, but not on a regular {freq} step); pass --freq (freq=) "
            f"one of {', '.join(FREQUENCIES)} with {AGGREGATE_FIX} to roll the rows up "
            "to that step",
        )
    validator.note(f"rounded {time_column} down to the start of its {freq} step")
    return freq, _normalise_periods(raw_periods, freq)


def _panel_column(validator: _Validator, column: str, parsed: np.ndarray) -> pd.Series | np.ndarray:
    """A parsed numeric column for the panel frame, without a copy where possible.

    A float64 input column parses to itself: it is used as is (copy-on-write
    keeps the caller's frame and the panel apart). Otherwise the parsed array,
    copied if it is a view of the input.
    """
    source = validator.frame[column]
    if source.dtype == np.dtype(np.float64):
        return source.reset_index(drop=True)
    return _owned(parsed)


def _resolve_duplicates(
    out: pd.DataFrame,
    ids: list[str],
    freq: str,
    aggregate: str | None,
    validator: _Validator,
    raw_periods: pd.Series | None = None,
) -> tuple[pd.DataFrame, KeyOrder | None]:
    """The frame with duplicate keys refused or aggregated, and its key order when sorted.

    ``raw_periods``: each row's stamp before it was snapped to its period, so
    that ``aggregate="last"`` keeps the latest row (the last in the file among
    rows with the same stamp).
    """
    keys = [*ids, PERIOD]
    order = key_order(out, ids, validator.id_pairs)
    if order is not None and not order.same_key.any():
        return out, order  # sorted with no repeated key: nothing to resolve (no hashing needed)
    repeated = out.duplicated(keys, keep=False).to_numpy()
    if not repeated.any():
        return out, order
    if aggregate is None:
        positions = np.flatnonzero(repeated)
        groups = out.iloc[positions].groupby(keys, sort=False).ngroup().to_numpy()
        examples = []
        for group in range(min(3, int(groups.max()) + 1)):
            members = positions[groups == group]
            first = out.iloc[int(members[0])]
            series = ", ".join(f"{column}={first[column]!r}" for column in ids)
            where = ", ".join(str(validator.rows.labels[int(m)]) for m in members[:4])
            where += ", ..." if len(members) > 4 else ""
            label = f"{series}, " if series else ""
            examples.append(
                f"{label}period {_describe_period(first[PERIOD], freq)} "
                f"({validator.rows.plural} {where})"
            )
        n_groups = int(groups.max()) + 1
        # local stamps without an offset repeat an hour when the clocks go back
        clocks = (
            "; if the stamps are local time across a daylight-saving change, pass --tz with "
            "their zone (e.g. --tz Europe/Berlin) instead"
            if freq in SUB_DAILY
            else ""
        )
        raise _fail(
            DuplicateRowsError,
            f"{validator.name}: {len(positions)} rows share a series and period "
            f"in {n_groups} place(s), e.g. {'; '.join(examples)}; "
            "pass --aggregate sum to add them up (aggregate='sum'), --aggregate mean to "
            "average them or --aggregate last to keep the latest, or remove the duplicates"
            f"{clocks}",
        )
    measures = [column for column in out.columns if column not in keys]
    n_repeated = int(repeated.sum())
    if aggregate == "last":
        latest = out if raw_periods is None else out.iloc[np.argsort(raw_periods, kind="stable")]
        rolled = latest.drop_duplicates(keys, keep="last").reset_index(drop=True)
        done = "kept the latest of"
    else:
        grouped = out.groupby(keys, sort=False, dropna=False)[measures]
        rolled = grouped.mean() if aggregate == "mean" else grouped.sum(min_count=1)
        rolled = rolled.reset_index()
        done = "averaged" if aggregate == "mean" else "added up"
    validator.note(
        f"{done} {n_repeated} rows that shared a series and period "
        f"into {len(rolled) - (len(out) - n_repeated)} (--aggregate {aggregate})"
    )
    return rolled, None
