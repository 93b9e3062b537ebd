"""Write detection results as a table, CSV, JSON or Markdown.

:func:`write_results` serialises a results frame without adding, dropping or
reordering columns. Floats are rounded per column (:data:`COLUMN_DECIMALS`)
and never written in scientific notation; periods become ISO dates
(``YYYY-MM-DD``, with ``THH:MM:SS`` for sub-daily data); missing values are an
empty field in CSV, ``null`` in JSON and an empty cell in Markdown.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console

from revwatch.errors import ParameterError
from revwatch.report.terminal import (
    _check_columns,
    _is_missing,
    format_number,
    format_pct,
    format_period,
    period_resolution,
    printable,
    render_table,
)

logger = logging.getLogger(__name__)

__all__ = ["COLUMN_DECIMALS", "DEFAULT_DECIMALS", "FORMATS", "check_output_path", "write_results"]

#: The output formats :func:`write_results` knows.
FORMATS: tuple[str, ...] = ("table", "csv", "json", "markdown")

#: Decimals kept per column in CSV and JSON; other float columns keep
#: :data:`DEFAULT_DECIMALS`.
COLUMN_DECIMALS: dict[str, int] = {
    "value": 2,
    "baseline": 2,
    "impact": 2,
    "lower": 2,
    "upper": 2,
    "pct_vs_baseline": 2,
    "score": 4,
    "severity": 4,
}
DEFAULT_DECIMALS = 4

# Markdown shows money-like columns with 2 decimals and thousands separators.
_MARKDOWN_DECIMALS = 2
_PCT_COLUMN = "pct_vs_baseline"


def _same_file(first: Path, second: Path) -> bool:
    try:
        if first.resolve() == second.resolve():
            return True
        return first.exists() and second.exists() and os.path.samefile(first, second)
    except OSError:
        return False


def _source_paths(source: str | Path) -> list[Path]:
    """The files a source names: the path itself, or a ``sqlite:///`` URL's database."""
    text = str(source)
    if "://" not in text:
        return [Path(text).expanduser()]
    if text.startswith("sqlite") and ":///" in text:
        return [Path(text.split(":///", 1)[1].split("?", 1)[0]).expanduser()]
    return []


def check_output_path(
    output: str | Path | None, inputs: Sequence[str | Path | None] = (), *, option: str = "--output"
) -> None:
    """Refuse an output path that is a folder or one of the inputs (nothing is written).

    Raises
    ------
    ParameterError
        If ``output`` is an existing folder, or the same file as one of
        ``inputs`` (compared by resolved path and by ``os.path.samefile``, so
        links and relative spellings are caught).

    Examples
    --------
    >>> check_output_path("results.csv", ["sales.csv"])
    >>> check_output_path("sales.csv", ["./sales.csv"])
    Traceback (most recent call last):
    ...
    revwatch.errors.ParameterError: --output sales.csv is the input file ./sales.csv; \
write the results to another file
    """
    if output is None:
        return
    path = Path(output).expanduser()
    if path.is_dir():
        raise ParameterError(
            f"{option} {output} is a folder; name a file inside it, e.g. {path / 'results.csv'}"
        )
    for source in inputs:
        if source is None:
            continue
        for candidate in _source_paths(source):
            if _same_file(path, candidate):
                raise ParameterError(
                    f"{option} {output} is the input file {source}; "
                    "write the results to another file"
                )


def _is_datetime_like(column: pd.Series) -> bool:
    """True for datetime64 (naive or aware) and ``period[...]`` columns."""
    return isinstance(column.dtype, pd.PeriodDtype) or pd.api.types.is_datetime64_any_dtype(
        column.dtype
    )


def _is_float(column: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(column.dtype)


def _is_bool(column: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(column.dtype)


def _plain_float(value: float, decimals: int) -> str:
    """Shortest positional (never scientific) text of ``value`` rounded to ``decimals``.

    Keeps a trailing ``.0`` so that JSON readers see a float, not an int.
    """
    rounded = round(value, decimals) + 0.0  # turns -0.0 into 0.0
    return np.format_float_positional(rounded, unique=True, trim="0")


def _fixed_float(value: float, decimals: int) -> str:
    """``value`` with exactly ``decimals`` digits after the point, never scientific."""
    rounded = round(value, decimals) + 0.0
    return f"{rounded:.{decimals}f}"


def _float_cells(column: pd.Series, name: str, text: Callable[[float, int], str]) -> list[str]:
    """Text of every float in ``column``; missing values become ``""``."""
    decimals = COLUMN_DECIMALS.get(name, DEFAULT_DECIMALS)
    cells: list[str] = []
    for value in column.tolist():
        if _is_missing(value):
            cells.append("")
        elif not math.isfinite(float(value)):
            cells.append(str(float(value)))
        else:
            cells.append(text(float(value), decimals))
    return cells


def _fixed_float_cells(column: pd.Series, name: str, *, decimals: int | None = None) -> np.ndarray:
    """``_float_cells(column, name, _fixed_float)`` without a Python call per cell.

    ``f"{x:.{d}f}"`` rounds exactly like ``round(x, d)`` (both use the
    correctly rounded decimal of the binary value) and prints ``inf`` and
    ``-inf`` as ``str`` does; only a negative zero needs fixing (``"-0.00"``
    becomes ``"0.00"``) and missing values become ``""``.

    Examples
    --------
    >>> _fixed_float_cells(pd.Series([1.005, -0.001, float("nan"), 2.5]), "value").tolist()
    ['1.00', '0.00', '', '2.50']
    """
    if decimals is None:
        decimals = COLUMN_DECIMALS.get(name, DEFAULT_DECIMALS)
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    cells = np.array(list(map(f"{{:.{decimals}f}}".format, values.tolist())), dtype=object)
    cells[np.isnan(values)] = ""
    negative_zero = "-" + f"{0.0:.{decimals}f}"
    cells[cells == negative_zero] = negative_zero[1:]
    return cells


def _text(value: str) -> pa.Scalar:
    """An Arrow ``large_string`` literal (all CSV cells are ``large_string``)."""
    return pa.scalar(value, type=pa.large_string())


def _fixed_float_texts(values: np.ndarray, decimals: int) -> pa.Array:
    """:func:`_fixed_float_cells` of float64 ``values`` as Arrow text, built in C.

    Each value is scaled by ``10 ** decimals`` and rounded to an integer,
    whose digits Arrow prints. That integer is the correctly rounded one
    (what ``f"{x:.{decimals}f}"`` prints) unless the scaled value lies within
    a few units in the last place of a rounding tie, or is too large for the
    digits to be exact; those cells and infinities are formatted by Python as
    before. NaN is an empty cell.

    Examples
    --------
    >>> _fixed_float_texts(np.array([1.005, -0.001, np.nan, 2.5, -3.25]), 2).to_pylist()
    ['1.00', '0.00', '', '2.50', '-3.25']
    """
    values = np.asarray(values, dtype=np.float64)
    scale = 10**decimals
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values * float(scale)
        magnitude = np.abs(scaled)
        tie_distance = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5)
        exact = (magnitude < 2.0**50) & (tie_distance > 1e-6 + 4 * np.spacing(magnitude))
    integers = np.where(exact, np.rint(np.where(exact, scaled, 0.0)), 0.0).astype(np.int64)
    digits = np.abs(integers)
    whole = digits // scale
    negative = integers < 0
    text = pc.cast(pa.array(np.where(negative, -whole, whole)), pa.large_string())
    if decimals:
        # "1" + the zero-padded decimals, then the "1" becomes the point
        fraction = pc.cast(pa.array(digits % scale + scale), pa.large_string())
        fraction = pc.utf8_replace_slice(fraction, start=0, stop=1, replacement=".")
        text = pc.binary_join_element_wise(text, fraction, _text(""))
        minus_zero = negative & (whole == 0)  # -0.25: the whole part alone has no sign
        if minus_zero.any():
            signed = pc.binary_join_element_wise(_text("-"), text.filter(minus_zero), _text(""))
            text = pc.replace_with_mask(text, pa.array(minus_zero), signed)
    missing = np.isnan(values)
    others = ~exact & ~missing
    if others.any():
        slow = _fixed_float_cells(pd.Series(values[others]), "", decimals=decimals)
        text = pc.replace_with_mask(
            text, pa.array(others), pa.array(slow.tolist(), type=pa.large_string())
        )
    if missing.any():
        text = pc.if_else(pa.array(missing), _text(""), text)
    return text


#: A text cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
FORMULA_START = r"^[=+\-@\t\r]"


def neutralise_text(column: pd.Series) -> pd.Series:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'``.

    Only text cells change: numbers, dates and missing values are kept as
    they are (a negative number is not text).

    Examples
    --------
    >>> neutralise_text(pd.Series(["=cmd|' /C calc'!A0", "acme", "-5", None, 3], dtype=object)).tolist()
    ["'=cmd|' /C calc'!A0", 'acme', "'-5", None, 3]
    """  # noqa: E501
    is_text = column.map(lambda cell: isinstance(cell, str), na_action="ignore")
    is_text = is_text.fillna(False).astype(bool)
    if not is_text.any():
        return column
    texts = column[is_text].astype(str)
    risky = texts.str.contains(FORMULA_START, regex=True)
    if not risky.any():
        return column
    out = column.astype(object).copy()
    out[risky[risky].index] = "'" + texts[risky]
    return out


def _csv_text_cells(column: pd.Series, *, safe_text: bool = True) -> pa.Array | None:
    """Cells of a text column quoted as the csv module quotes them (minimal quoting).

    With ``safe_text``, a cell that starts like a formula gets a ``'`` in
    front (:data:`FORMULA_START`). None when the column is not all text, or
    has a carriage return (whose quoting differs between Python versions):
    the caller then uses pandas.
    """
    if isinstance(column.dtype, pd.StringDtype):
        arrow = pa.array(column.array)
    elif column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in (
        "string",
        "empty",
    ):
        arrow = pa.array(column.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    else:
        return None
    arrow = pc.cast(arrow, pa.large_string())
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    if pc.any(pc.match_substring(arrow, "\r")).as_py():
        return None
    if safe_text:
        risky = pc.match_substring_regex(arrow, FORMULA_START)
        if pc.any(risky).as_py():
            prefixed = pc.binary_join_element_wise(_text("'"), arrow, _text(""))
            arrow = pc.if_else(risky.fill_null(False), prefixed, arrow)
    special = pc.match_substring_regex(arrow, '[,"\n]')
    if pc.any(special).as_py():
        doubled = pc.replace_substring(arrow, '"', '""')
        quoted = pc.binary_join_element_wise(_text('"'), doubled, _text('"'), _text(""))
        arrow = pc.if_else(special, quoted, arrow)
    return arrow.fill_null(_text(""))


def _csv_period_cells(column: pd.Series) -> pa.Array:
    """``format_period(column, iso=True)``, formatted once per distinct period."""
    codes, distinct = pd.factorize(column)
    distinct_series = pd.Series(distinct)
    resolution = period_resolution(distinct_series)
    texts = format_period(distinct_series, iso=True, resolution=resolution).tolist()
    lookup = pa.array([*texts, ""], type=pa.large_string())
    return lookup.take(pa.array(np.where(codes < 0, len(texts), codes)))


def _csv_cells(column: pd.Series, name: str, *, safe_text: bool = True) -> pa.Array | None:
    """The CSV text of every cell of one column, or None where pandas must write it."""
    dtype = column.dtype
    if _is_datetime_like(column):
        return _csv_period_cells(column)
    if _is_float(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return _fixed_float_texts(values, COLUMN_DECIMALS.get(name, DEFAULT_DECIMALS))
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return pc.if_else(pa.array(column.to_numpy()), _text("True"), _text("False"))
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return pc.cast(pa.array(column.to_numpy()), pa.large_string())
    return _csv_text_cells(column, safe_text=safe_text)


def _csv_utf8(results: pd.DataFrame, *, safe_text: bool = True) -> bytes | None:
    """:func:`_to_csv_pandas` as UTF-8, built column by column in Arrow.

    None for what it does not cover (the caller then uses pandas).
    """
    names = list(results.columns)
    if len(names) < 2 or not all(isinstance(name, str) for name in names):
        return None  # a lone empty cell is quoted; non-text names: let pandas decide
    if len(set(names)) != len(names):
        return None
    cells: list[pa.Array] = []
    for name in names:
        column_cells = _csv_cells(results[name], name, safe_text=safe_text)
        if column_cells is None:
            return None
        cells.append(column_cells)
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(_safe_names(names, safe_text))
    head = header.getvalue().encode("utf-8")
    if not len(results):
        return head
    lines = pc.binary_join_element_wise(*cells, _text(","))
    lines = pc.binary_join_element_wise(lines, _text(""), _text("\n"))
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    start, stop = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return head + memoryview(lines.buffers()[2])[start:stop]


def _safe_names(names: Sequence[Any], safe_text: bool) -> list[Any]:
    if not safe_text:
        return list(names)
    return neutralise_text(pd.Series(list(names), dtype=object)).tolist()


def _to_csv_arrow(results: pd.DataFrame, *, safe_text: bool = True) -> str | None:
    """:func:`_csv_utf8` as text."""
    data = _csv_utf8(results, safe_text=safe_text)
    return None if data is None else data.decode("utf-8")


def _to_csv(results: pd.DataFrame, *, safe_text: bool = True) -> str:
    text = _to_csv_arrow(results, safe_text=safe_text)
    return text if text is not None else _to_csv_pandas(results, safe_text=safe_text)


def _to_csv_pandas(results: pd.DataFrame, *, safe_text: bool = True) -> str:
    out = pd.DataFrame(index=results.index)
    for name in results.columns:
        column = results[name]
        if _is_datetime_like(column):
            out[name] = format_period(column, iso=True).to_numpy(dtype=object)
        elif _is_float(column):
            out[name] = _fixed_float_cells(column, str(name))
        elif safe_text and not pd.api.types.is_numeric_dtype(column.dtype):
            out[name] = neutralise_text(column)
        else:
            out[name] = column
    if safe_text:
        out.columns = pd.Index(_safe_names(list(out.columns), safe_text), dtype=object)
    return out.to_csv(index=False, na_rep="", lineterminator="\n")


def _json_token(value: Any, decimals: int) -> str:
    """JSON text of one scalar (floats positional, missing as null)."""
    if _is_missing(value):
        return "null"
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return _plain_float(number, decimals) if math.isfinite(number) else "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, pd.Timestamp):
        return json.dumps(value.isoformat())
    return json.dumps(str(value), ensure_ascii=False)


def _to_json(results: pd.DataFrame) -> str:
    columns: list[list[str]] = []
    for name in results.columns:
        column = results[name]
        if _is_datetime_like(column):
            texts = format_period(column, iso=True).tolist()
            columns.append([json.dumps(t) if t else "null" for t in texts])
        else:
            decimals = COLUMN_DECIMALS.get(str(name), DEFAULT_DECIMALS)
            columns.append([_json_token(v, decimals) for v in column.tolist()])
    keys = [json.dumps(str(name), ensure_ascii=False) for name in results.columns]
    if len(results) == 0:
        return "[]\n"
    records = [
        "  {" + ", ".join(f"{key}: {col[i]}" for key, col in zip(keys, columns, strict=True)) + "}"
        for i in range(len(results))
    ]
    return "[\n" + ",\n".join(records) + "\n]\n"


def _markdown_escape(text: str) -> str:
    return printable(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _to_markdown(results: pd.DataFrame) -> str:
    headers: list[str] = []
    aligns: list[str] = []
    columns: list[list[str]] = []
    for name in results.columns:
        column = results[name]
        headers.append(_markdown_escape(str(name)))
        if _is_datetime_like(column):
            cells = format_period(column).tolist()
            aligns.append("---")
        elif str(name) == _PCT_COLUMN and pd.api.types.is_numeric_dtype(column.dtype):
            cells = ["" if _is_missing(v) else format_pct(v) for v in column.tolist()]
            aligns.append("---:")
        elif _is_bool(column):
            cells = ["" if _is_missing(v) else ("yes" if v else "no") for v in column.tolist()]
            aligns.append("---")
        elif pd.api.types.is_numeric_dtype(column.dtype):
            decimals = _MARKDOWN_DECIMALS if _is_float(column) else 0
            cells = ["" if _is_missing(v) else format_number(v, decimals) for v in column.tolist()]
            aligns.append("---:")
        else:
            cells = ["" if _is_missing(v) else _markdown_escape(str(v)) for v in column.tolist()]
            aligns.append("---")
        columns.append(cells)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(aligns) + "|"]
    for i in range(len(results)):
        lines.append("| " + " | ".join(col[i] for col in columns) + " |")
    return "\n".join(lines) + "\n"


def _to_table(results: pd.DataFrame, id_columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None, force_terminal=False)
    render_table(results, id_columns, console=console, limit=None)
    return buffer.getvalue()


def write_results(
    results: pd.DataFrame,
    fmt: str,
    *,
    id_columns: Sequence[str],
    output: str | Path | None = None,
    safe_text: bool = True,
) -> str | None:
    """Serialise a results frame.

    Parameters
    ----------
    results : DataFrame
        The results frame (see :mod:`revwatch.report`). Every column is
        written, in order; nothing is added or dropped.
    fmt : {"table", "csv", "json", "markdown"}
        ``"csv"``: one row per anomaly; ``"json"``: a list of records with
        the frame's columns as keys; ``"markdown"``: a pipe table with
        thousands separators and percentages such as ``-64.0%``;
        ``"table"``: the plain-text :func:`render_table` output (all rows).
    id_columns : sequence of str
        The columns that identify a series; they must be in ``results``.
    output : str or Path, optional
        Where to write (parent folders are created). None returns the text.
        An existing folder is refused.
    safe_text : bool, default True
        CSV only: a text cell (or header) that starts with ``=``, ``+``,
        ``-``, ``@``, a tab or a carriage return gets a ``'`` in front, so a
        spreadsheet shows it instead of running it as a formula (the OWASP
        rule). False writes the raw text, for pipelines (``--raw-text``).
        JSON always keeps the raw text.

    Returns
    -------
    str or None
        The text when ``output`` is None, else None.

    Raises
    ------
    ParameterError
        If ``fmt`` is not one of :data:`FORMATS`.
    MissingColumnError
        If an id column is absent.

    Examples
    --------
    >>> results = pd.DataFrame(
    ...     {
    ...         "account": ["Apex Holdings"],
    ...         "period": pd.to_datetime(["2026-04-01"]),
    ...         "value": [8954.904],
    ...         "pct_vs_baseline": [-64.03],
    ...         "severity": [float("nan")],
    ...     }
    ... )
    >>> print(write_results(results, "csv", id_columns=["account"]), end="")
    account,period,value,pct_vs_baseline,severity
    Apex Holdings,2026-04-01,8954.90,-64.03,
    >>> print(write_results(results, "json", id_columns=["account"]), end="")
    [
      {"account": "Apex Holdings", "period": "2026-04-01", "value": 8954.9, "pct_vs_baseline": -64.03, "severity": null}
    ]
    >>> print(write_results(results, "markdown", id_columns=["account"]), end="")
    | account | period | value | pct_vs_baseline | severity |
    |---|---|---:|---:|---:|
    | Apex Holdings | 2026-04 | 8,954.90 | -64.0% |  |
    """  # noqa: E501
    if fmt not in FORMATS:
        raise ParameterError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    _check_columns(results, list(id_columns), "the results frame")
    check_output_path(output, option="output")
    if fmt == "csv":
        if output is not None and os.linesep == "\n":
            # the bytes as they would be written: no round trip through a str
            data = _csv_utf8(results, safe_text=safe_text)
            if data is not None:
                path = Path(output).expanduser()
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                logger.info("wrote %d result rows as %s to %s", len(results), fmt, path)
                return None
        text = _to_csv(results, safe_text=safe_text)
    elif fmt == "json":
        text = _to_json(results)
    elif fmt == "markdown":
        text = _to_markdown(results)
    else:
        text = _to_table(results, id_columns)
    if output is None:
        return text
    path = Path(output).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    logger.info("wrote %d result rows as %s to %s", len(results), fmt, path)
    return None
