"""Everyday exports read right or refused (issue 14): numbers, currencies, ids, outputs,
read-only SQL, spreadsheet-safe outputs, encodings and odd files.

Every case runs on a real file (CSV, and .xlsx/Parquet/SQLite where it applies) and asserts
either the exact panel (values, series, the note) or an exit 2 with a one-line message.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from revwatch.cli import app
from revwatch.data import load
from revwatch.errors import InputError, RevwatchError

runner = CliRunner()
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def files_in(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


def one_line_error(args: list[str]) -> str:
    """Run the CLI, expect exit 2 with one line on stderr, return that line."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("revwatch: error: ")
    return lines[0]


# --------------------------------------------------------------------------
# Case 7: SQL sources are read-only
# --------------------------------------------------------------------------

SALES = [("acme", f"2024-{month:02d}-01", 100.0 + month) for month in range(1, 7)]

SQLITE_HOSTILE = [
    "vacuum into 'copy.db'",
    "attach database 'other.db' as other",
    "pragma table_info(sales)",
    "pragma journal_mode = wal",
    "delete from sales",
    "update sales set revenue = 0",
    "create table copy as select * from sales",
    "insert into sales values ('x', '2024-07-01', 1)",
    "select * from sales; delete from sales",
    "drop table sales",
]


def make_sqlite(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("create table sales (account text, month text, revenue real)")
        connection.executemany("insert into sales values (?, ?, ?)", SALES)
    return path


def sqlite_rows(path: Path) -> list[tuple]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("select * from sales order by month").fetchall()


@pytest.mark.parametrize("use_url", [False, True], ids=["file", "url"])
@pytest.mark.parametrize("query", SQLITE_HOSTILE)
def test_sqlite_query_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, query: str, use_url: bool
) -> None:
    database = make_sqlite(tmp_path / "sales.db")
    monkeypatch.chdir(tmp_path)  # relative file names in the query land here
    before_files, before_bytes = files_in(tmp_path), database.read_bytes()
    source = f"sqlite:///{database}" if use_url else str(database)
    line = one_line_error(["detect", source, "--sql", query])
    assert "only a single read-only query" in line, line
    assert files_in(tmp_path) == before_files  # no copy.db, no other.db, no journal
    assert database.read_bytes() == before_bytes
    assert sqlite_rows(database) == SALES


@pytest.mark.parametrize("use_url", [False, True], ids=["file", "url"])
def test_sqlite_select_and_with_still_run(tmp_path: Path, use_url: bool) -> None:
    database = make_sqlite(tmp_path / "sales.db")
    source = f"sqlite:///{database}" if use_url else database
    query = "with s as (select account, month, revenue from sales) select * from s"
    panel = load(source, sql=query)
    assert panel.frame["value"].tolist() == [row[2] for row in SALES]
    recursive = (
        "with recursive n(i) as (select 1 union all select i + 1 from n where i < 6) "
        "select 'acme' as account, printf('2024-%02d-01', i) as month, 100.0 + i as revenue from n"
    )
    assert load(source, sql=recursive).frame["value"].tolist() == [row[2] for row in SALES]


DUCKDB_HOSTILE = [
    "copy sales to 'out.csv'",
    "select * from read_csv('{outside}')",
    "attach 'other.duckdb'",
    "set enable_external_access = true",
    "pragma version",
    "install httpfs",
    "export database 'dump'",
    "delete from sales",
    "create table copy as select * from sales",
    "select * from sales; select 1",
]


@pytest.mark.parametrize("query", DUCKDB_HOSTILE)
def test_duckdb_query_cannot_write_or_read_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    duckdb = pytest.importorskip("duckdb")
    database = tmp_path / "sales.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create table sales (account varchar, month date, revenue double)")
        connection.executemany("insert into sales values (?, ?, ?)", SALES)
    outside = tmp_path / "outside.csv"
    outside.write_text("account,month,revenue\nx,2024-01-01,1\nx,2024-02-01,2\n")
    monkeypatch.chdir(tmp_path)
    before_files, before_bytes = files_in(tmp_path), database.read_bytes()
    line = one_line_error(["detect", str(database), "--sql", query.format(outside=outside)])
    assert "only a single read-only query" in line, line
    assert files_in(tmp_path) == before_files
    assert database.read_bytes() == before_bytes
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("select count(*) from sales").fetchone() == (len(SALES),)


@pytest.fixture
def postgres_table() -> Iterator[str]:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    engine = sqlalchemy.create_engine(POSTGRES_URL)
    try:
        connection = engine.connect()
    except sqlalchemy.exc.OperationalError as error:
        engine.dispose()
        pytest.skip(f"PostgreSQL is not reachable: {str(error).splitlines()[0]}")
    table = f"revwatch_ro_{uuid.uuid4().hex[:12]}"
    try:
        with connection.begin():
            connection.execute(
                sqlalchemy.text(f"create table {table} (account text, month date, revenue float)")
            )
            connection.execute(
                sqlalchemy.text(f"insert into {table} values (:a, :m, :r)"),
                [{"a": a, "m": m, "r": r} for a, m, r in SALES],
            )
        yield table
    finally:
        with connection.begin():
            connection.execute(sqlalchemy.text(f"drop table if exists {table}"))
            connection.execute(sqlalchemy.text(f"drop table if exists {table}_copy"))
        connection.close()
        engine.dispose()


def postgres_state(table: str) -> tuple[int, bool]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            count = connection.execute(sqlalchemy.text(f"select count(*) from {table}")).scalar()
            copy = connection.execute(
                sqlalchemy.text("select to_regclass(:name) is not null"), {"name": f"{table}_copy"}
            ).scalar()
    finally:
        engine.dispose()
    return int(count or 0), bool(copy)


POSTGRES_HOSTILE = [
    "commit; drop table {t}",
    "select 1; delete from {t}",
    "delete from {t}",
    "delete from {t} returning *",
    "create table {t}_copy as select * from {t}",
    "select * into {t}_copy from {t}",
    "set transaction read write",
    "with gone as (delete from {t} returning *) select * from gone",
    "commit",
]


@pytest.mark.postgres
@pytest.mark.parametrize("query", POSTGRES_HOSTILE)
def test_postgres_query_is_read_only(postgres_table: str, query: str) -> None:
    line = one_line_error(["detect", POSTGRES_URL, "--sql", query.format(t=postgres_table)])
    assert "only a single read-only query" in line, line
    assert postgres_state(postgres_table) == (len(SALES), False)


@pytest.mark.postgres
def test_postgres_select_with_semicolon_in_text_runs(postgres_table: str) -> None:
    query = f"select account || ';' as account, month, revenue from {postgres_table};"
    panel = load(POSTGRES_URL, sql=query)
    assert panel.frame["account"].unique().tolist() == ["acme;"]
    assert panel.frame["value"].tolist() == [row[2] for row in SALES]


def test_other_sqlalchemy_backends_are_refused() -> None:
    with pytest.raises(RevwatchError, match="cannot open mysql read-only"):
        load("mysql+pymysql://user@127.0.0.1/db", sql="select 1")


@pytest.mark.parametrize("query", ["select 1 as a; select 2 as a", "select 1 ;; ", "  ;  "])
def test_statement_count(query: str) -> None:
    from revwatch.data.sql import count_statements

    expected = {"select 1 as a; select 2 as a": 2, "select 1 ;; ": 1, "  ;  ": 0}[query]
    assert count_statements(query) == expected


# --------------------------------------------------------------------------
# Case 6: --output onto an input or a folder
# --------------------------------------------------------------------------


def monthly_rows(accounts: tuple[str, ...] = ("acme", "beta"), months: int = 12) -> pd.DataFrame:
    rows = [
        (account, f"{2024 + (m // 12)}-{m % 12 + 1:02d}-01", 1000.0 + 10 * m + 7 * k)
        for k, account in enumerate(accounts)
        for m in range(months)
    ]
    return pd.DataFrame(rows, columns=["account", "month", "revenue"])


@pytest.mark.parametrize("spelling", ["same", "relative", "symlink", "hardlink", "sqlite-url"])
def test_output_onto_an_input_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    monkeypatch.chdir(tmp_path)
    if spelling == "sqlite-url":
        data = tmp_path / "sales.db"
        with closing(sqlite3.connect(data)) as connection, connection:
            monthly_rows().to_sql("sales", connection, index=False)
        args = [f"sqlite:///{data}", "--sql", "select * from sales", "--output", str(data)]
    else:
        data = tmp_path / "sales.csv"
        monthly_rows().to_csv(data, index=False)
        target = {"same": str(data), "relative": "./sub/../sales.csv"}.get(spelling, "")
        (tmp_path / "sub").mkdir()
        if spelling == "symlink":
            (tmp_path / "link.csv").symlink_to(data)
            target = "link.csv"
        if spelling == "hardlink":
            os.link(data, tmp_path / "hard.csv")
            target = "hard.csv"
        args = [str(data), "--output", target]
    before, listing = data.read_bytes(), files_in(tmp_path)
    for fmt in ("csv", "json"):
        line = one_line_error(["detect", *args, "--format", fmt])
        assert "is the input file" in line
        line = one_line_error(["detect", *args, "--format", fmt, "--incidents"])
        assert "is the input file" in line
    assert data.read_bytes() == before
    assert files_in(tmp_path) == listing


def test_output_or_chart_onto_a_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "sales.csv"
    monthly_rows().to_csv(data, index=False)
    folder = tmp_path / "out"
    folder.mkdir()
    line = one_line_error(["detect", str(data), "--format", "csv", "--output", str(folder)])
    assert "is a folder" in line
    line = one_line_error(["detect", str(data), "--chart", str(folder)])
    assert "is a folder" in line
    line = one_line_error(["detect", str(data), "--chart", str(data)])
    assert "is the input file" in line
    assert files_in(folder) == set()


# --------------------------------------------------------------------------
# Case 4 and 10: numbers, units, percent, currencies
# --------------------------------------------------------------------------


def write_table(tmp_path: Path, fmt: str, header: list[str], rows: list[list[str]]) -> Path:
    """The same cells as a CSV (comma or semicolon), an .xlsx of text cells, or Parquet."""
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    if fmt == "csv":
        path = tmp_path / "export.csv"
        frame.to_csv(path, index=False)
    elif fmt == "csv;":
        path = tmp_path / "export.csv"
        frame.to_csv(path, index=False, sep=";")
    elif fmt == "xlsx":
        from openpyxl import Workbook

        path = tmp_path / "export.xlsx"
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        for row in [header, *rows]:
            sheet.append(row)  # text cells stay text
        for row_cells in sheet.iter_rows():
            for cell in row_cells:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        workbook.save(path)
    else:
        path = tmp_path / "export.parquet"
        frame.astype(str).to_parquet(path, index=False)
    return path


MONTHS = [f"2024-{m:02d}-01" for m in range(1, 5)]

# (name, formats, header, value cells, extra options, expected values or None, message/note part)
NUMBER_CASES = [
    (
        "german-integers-with-semicolon",
        ["csv;"],
        ["32.477", "1.200", "5.000", "12.345"],
        {},
        [32477.0, 1200.0, 5000.0, 12345.0],
        "',' as the decimal mark",
    ),
    (
        "ambiguous-without-evidence",
        ["csv", "xlsx", "parquet"],
        ["32.477", "1.200", "5.000", "12.345"],
        {},
        None,
        "pass --decimal , (decimal=',')",
    ),
    (
        "ambiguous-with-decimal-option",
        ["csv", "xlsx", "parquet"],
        ["32.477", "1.200", "5.000", "12.345"],
        {"decimal": ","},
        [32477.0, 1200.0, 5000.0, 12345.0],
        "",
    ),
    (
        "ambiguous-read-as-decimals-when-asked",
        ["csv"],
        ["32.477", "1.200", "5.000", "12.345"],
        {"decimal": "."},
        [32.477, 1.2, 5.0, 12.345],
        "",
    ),
    (
        "dollar-sign-is-evidence",
        ["csv", "xlsx"],
        ["$1,234", "$2,000", "$3,500", "$4,100"],
        {},
        [1234.0, 2000.0, 3500.0, 4100.0],
        "'.' as the decimal mark",
    ),
    (
        "plain-decimals-unchanged",
        ["csv", "parquet"],
        ["32.47", "1.2", "5", "12.345"],
        {},
        [32.47, 1.2, 5.0, 12.345],
        "",
    ),
    (
        "tsd-suffix",
        ["csv", "xlsx", "parquet"],
        ["32.5 TSD", "33 TSD", "31.5 TSD", "30 TSD"],
        {},
        None,
        "'32.5 TSD' has a unit suffix",
    ),
    (
        "k-suffix-in-one-cell",
        ["csv"],
        ["32500", "33000", "31.5K", "30000"],
        {},
        None,
        "'31.5K' has a unit suffix",
    ),
    (
        "mio-suffix",
        ["csv"],
        ["1,5 Mio", "2 Mio", "2,5 Mio", "3 Mio"],
        {},
        None,
        "has a unit suffix",
    ),
    (
        "percent",
        ["csv", "xlsx"],
        ["12.5%", "13%", "-2.25%", "0.5%"],
        {},
        [12.5, 13.0, -2.25, 0.5],
        "is in percent",
    ),
    (
        "percent-mixed-with-plain",
        ["csv"],
        ["12.5%", "13", "14%", "0.5%"],
        {},
        None,
        "'13' has no % sign",
    ),
    (
        "two-currencies",
        ["csv", "xlsx", "parquet"],
        ["$1,234.00", "$1,300.00", "€1,234.00", "$1,250.00"],
        {},
        None,
        "several currencies ('$' in {first}, '€' in {third})",
    ),
    (
        "symbol-and-code",
        ["csv"],
        ["1 234,00 EUR", "1 300,00 EUR", "1 250,00 CHF", "1 200,00 EUR"],
        {},
        None,
        "several currencies ('EUR' in {first}, 'CHF' in {third})",
    ),
    (
        "one-currency-code-at-either-end",
        ["csv"],
        ["EUR 1.234,50", "1.300,25 EUR", "EUR 1.250,00", "1.200,75 EUR"],
        {},
        [1234.5, 1300.25, 1250.0, 1200.75],
        "decimal comma",
    ),
]

ROW_NAMES = {"csv": ("line 2", "line 4"), "csv;": ("line 2", "line 4"), "xlsx": ("row 2", "row 4")}
ROW_NAMES["parquet"] = ("row 1", "row 3")


@pytest.mark.parametrize(
    ("fmt", "cells", "options", "expected", "text"),
    [
        pytest.param(fmt, cells, options, expected, text, id=f"{name}-{fmt}")
        for name, formats, cells, options, expected, text in NUMBER_CASES
        for fmt in formats
    ],
)
def test_numbers(
    tmp_path: Path, fmt: str, cells: list[str], options: dict, expected: list | None, text: str
) -> None:
    path = write_table(
        tmp_path, fmt, ["month", "revenue"], [[m, c] for m, c in zip(MONTHS, cells, strict=True)]
    )
    first, third = ROW_NAMES[fmt]
    text = text.format(first=first, third=third)
    if expected is None:
        with pytest.raises(InputError) as caught:
            load(path, **options)
        message = str(caught.value)
        assert "\n" not in message and text in message, message
        assert str(path) in message
        args = ["detect", str(path)] + [f"--{k}={v}" for k, v in options.items()]
        assert text in one_line_error(args)
        return
    panel = load(path, **options)
    np.testing.assert_allclose(panel.frame["value"].to_numpy(), expected, rtol=0, atol=1e-9)
    if text:
        assert any(text in note for note in panel.notes), panel.notes
    if fmt == "csv":  # the same cells as a DataFrame give the same panel
        from revwatch.data import from_frame

        again = from_frame(pd.read_csv(path, dtype=str), decimal=options.get("decimal"))
        assert again.frame["value"].tolist() == panel.frame["value"].tolist()


def test_decimal_comma_in_another_column_is_evidence(tmp_path: Path) -> None:
    values, rates = ["32.477", "1.200", "5.000", "12.345"], ["0,5", "1,25", "2,5", "3,75"]
    rows = [list(cells) for cells in zip(MONTHS, values, rates, strict=True)]
    path = write_table(tmp_path, "csv", ["month", "revenue", "rate"], rows)
    panel = load(path, value="revenue", metrics=["rate"])
    assert panel.frame["value"].tolist() == [32477.0, 1200.0, 5000.0, 12345.0]
    assert panel.frame["rate"].tolist() == [0.5, 1.25, 2.5, 3.75]
    assert any("rate writes decimals with ','" in note for note in panel.notes), panel.notes


def test_dotted_day_first_dates_are_evidence(tmp_path: Path) -> None:
    days = ["31.01.2024", "29.02.2024", "31.03.2024", "30.04.2024"]
    rows = [[d, v] for d, v in zip(days, ["32.477", "1.200", "5.000", "12.345"], strict=True)]
    path = write_table(tmp_path, "csv", ["date", "revenue"], rows)
    panel = load(path, freq="monthly")
    assert panel.frame["value"].tolist() == [32477.0, 1200.0, 5000.0, 12345.0]
    assert any("day.month.year" in note for note in panel.notes), panel.notes


def test_decimal_option_applies_to_frames() -> None:
    from revwatch.data import from_frame

    frame = pd.DataFrame({"month": MONTHS, "revenue": ["32.477", "1.200", "5.000", "12.345"]})
    with pytest.raises(InputError, match="--decimal"):
        from_frame(frame)
    panel = from_frame(frame, decimal=",")
    assert panel.frame["value"].tolist() == [32477.0, 1200.0, 5000.0, 12345.0]
    with pytest.raises(RevwatchError, match="unknown decimal mark"):
        from_frame(frame, decimal=";")


# --------------------------------------------------------------------------
# Case 5: ids
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_ids_are_nfc_normalised_and_trimmed(tmp_path: Path, fmt: str) -> None:
    nfd, nfc = "Mu\u0308ller", "M\u00fcller"
    rows = [[nfd if m % 2 else nfc, MONTHS[m // 2], "10"] for m in range(8)]
    rows += [[" beta ", month, "5"] for month in MONTHS]
    path = write_table(tmp_path, fmt, ["account", "month", "revenue"], rows)
    with pytest.raises(RevwatchError):  # duplicates only once they are the same id
        load(path)
    panel = load(path, aggregate="sum")
    assert set(panel.frame["account"]) == {"beta", nfc}
    assert panel.frame.loc[panel.frame["account"] == nfc, "value"].tolist() == [20.0] * 4
    note = next(note for note in panel.notes if note.startswith("normalised"))
    assert ascii(nfd) in note and repr(" beta ") in note and "2 id(s)" in note
    assert "'Mu\\u0308ller' -> 'Müller'" in note


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_ids_differing_in_case_are_noted_not_merged(tmp_path: Path, fmt: str) -> None:
    rows = [[account, month, "10"] for account in ("ACME", "acme", "Beta") for month in MONTHS]
    path = write_table(tmp_path, fmt, ["account", "month", "revenue"], rows)
    panel = load(path)
    assert sorted(panel.frame["account"].unique()) == ["ACME", "Beta", "acme"]
    note = next(note for note in panel.notes if "letter case" in note)
    assert "'ACME' / 'acme'" in note and "Beta" not in note


def test_big_id_column_is_normalised_too() -> None:
    from revwatch.data import from_frame

    n_months = 24
    accounts = [f"acct{k:05d}" for k in range(1500)]
    frame = pd.DataFrame(
        {
            "account": pd.array(
                np.repeat(accounts, n_months).tolist(), dtype=pd.StringDtype("pyarrow")
            ),
            "month": np.tile(pd.date_range("2024-01-01", periods=n_months, freq="MS"), 1500),
            "revenue": 1.0,
        }
    )
    assert from_frame(frame).n_series == 1500  # the fast path: nothing to note
    frame.loc[(frame["account"] == "acct00007") & (frame["month"].dt.year == 2025), "account"] = (
        "ACCT00007"
    )
    panel = from_frame(frame)
    assert panel.n_series == 1501
    assert any("'ACCT00007' / 'acct00007'" in note for note in panel.notes)


# --------------------------------------------------------------------------
# Case 8: spreadsheet-safe outputs, clean terminal
# --------------------------------------------------------------------------

HOSTILE_IDS = ["=cmd|' /C calc'!A0", "+1+2", "-2+3", "@SUM(A1:A2)", "\tTAB", "plain"]


def hostile_results(n_rows: int) -> pd.DataFrame:
    ids = (HOSTILE_IDS * (n_rows // len(HOSTILE_IDS) + 1))[:n_rows]
    return pd.DataFrame(
        {
            "account": pd.array(ids, dtype=pd.StringDtype("pyarrow" if n_rows > 100 else "python")),
            "period": pd.date_range("2024-01-01", periods=n_rows, freq="D"),
            "value": -np.arange(n_rows, dtype=np.float64) - 1.5,
            "type": "drop",
        }
    )


@pytest.mark.parametrize("n_rows", [6, 30_000], ids=["small", "arrow-path"])
def test_csv_output_neutralises_formulas(tmp_path: Path, n_rows: int) -> None:
    from revwatch.report import write_results

    results = hostile_results(n_rows)
    for output in (None, tmp_path / "out.csv"):
        text = write_results(results, "csv", id_columns=["account"], output=output)
        text = output.read_text() if output is not None else text
        back = pd.read_csv(pd.io.common.StringIO(text), dtype=str, keep_default_na=False)
        expected = ["'" + i if i[0] in "=+-@\t" else i for i in results["account"]]
        assert back["account"].tolist() == expected
        assert back["value"].tolist() == [f"{v:.2f}" for v in results["value"]]  # numbers stay
        raw = write_results(results, "csv", id_columns=["account"], safe_text=False)
        assert pd.read_csv(pd.io.common.StringIO(raw), dtype=str, keep_default_na=False)[
            "account"
        ].tolist() == list(results["account"])


def test_csv_output_neutralises_carriage_return_and_header() -> None:
    from revwatch.report import write_results

    results = pd.DataFrame({"=HYPERLINK(1)": ["\rx", "ok"], "value": [-1.0, 2.0]})
    text = write_results(results, "csv", id_columns=[])
    assert text.splitlines()[0] == "'=HYPERLINK(1),value"
    assert "'\rx" in text and "-1.0000" in text.replace("-1.00", "-1.0000")


def test_cli_csv_and_json_and_table_with_hostile_ids(tmp_path: Path) -> None:
    hostile = ["=cmd|' /C calc'!A0", "evil\x1b[2J\x1b]0;pwned\x07"]
    rows = []
    for k, account in enumerate([*hostile, "calm"]):
        for m in range(24):
            value = 1000.0 + 5 * (m % 3) + k
            if m == 20 and k < 2:
                value = 5000.0
            rows.append([account, f"{2023 + m // 12}-{m % 12 + 1:02d}-01", value])
    path = tmp_path / "hostile.csv"
    pd.DataFrame(rows, columns=["account", "month", "revenue"]).to_csv(path, index=False)
    csv_out = runner.invoke(app, ["detect", str(path), "--format", "csv"])
    assert csv_out.exit_code == 0, csv_out.output
    back = pd.read_csv(pd.io.common.StringIO(csv_out.stdout), dtype=str)
    assert "'=cmd|' /C calc'!A0" in back["account"].tolist()
    raw = runner.invoke(app, ["detect", str(path), "--format", "csv", "--raw-text"])
    assert (
        hostile[0] in pd.read_csv(pd.io.common.StringIO(raw.stdout), dtype=str)["account"].tolist()
    )
    json_out = runner.invoke(app, ["detect", str(path), "--format", "json"])
    import json

    assert hostile[0] in {record["account"] for record in json.loads(json_out.stdout)}
    table = runner.invoke(app, ["detect", str(path)])
    assert table.exit_code == 0
    assert "\x1b" not in table.stderr and "\x07" not in table.stderr
    assert "evil\\x1b[2J" in table.stderr
    for args in (["--format", "csv"], []):
        found = runner.invoke(app, ["detect", str(path), "--incidents", *args])
        assert found.exit_code == 0, found.output
        assert "\x1b" not in found.stderr  # the table and notes; CSV data keeps the id
    incidents = runner.invoke(app, ["detect", str(path), "--incidents", "--format", "csv"])
    cells = pd.read_csv(pd.io.common.StringIO(incidents.stdout), dtype=str).stack().tolist()
    text_cells = [str(c) for c in cells if pd.isna(pd.to_numeric(c, errors="coerce"))]
    assert any("=cmd" in cell for cell in text_cells)
    assert not [cell for cell in text_cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


# --------------------------------------------------------------------------
# Case 11: encodings, pipes, title rows, generated data
# --------------------------------------------------------------------------


def sales_text(header: str, first: str, second: str) -> str:
    rows = [f"{first},2024-01,10", f"{first},2024-02,20", f"{second},2024-01,5"]
    return "\n".join([header, *rows, f"{second},2024-02,6"]) + "\n"


GREEK = sales_text("περιοχή,μήνας,έσοδα", "Αθήνα", "Θεσσαλονίκη")
CYRILLIC = sales_text("регион,месяц,выручка", "Москва", "Казань")
CZECH = sales_text("region,month,revenue", "Plzeň", "České Budějovice")
GERMAN = sales_text("region,month,revenue", "Zürich", "München")


@pytest.mark.parametrize(
    ("text", "encoding", "note"),
    [
        (GREEK, "cp1253", "Windows-1253"),
        (CYRILLIC, "cp1251", "Windows-1251"),
        (GERMAN, "cp1252", "Windows-1252"),
        (GERMAN, "utf-16-le", "UTF-16-LE"),
        (GREEK, "utf-16-le", "UTF-16-LE"),
        (GERMAN, "utf-16-be", "UTF-16-BE"),
        (GREEK, "utf-16", ""),
        (GREEK, "utf-8", ""),
    ],
)
def test_encodings_are_detected(tmp_path: Path, text: str, encoding: str, note: str) -> None:
    path = tmp_path / "sales.csv"
    path.write_bytes(text.encode(encoding))
    panel = load(path)
    expected = pd.read_csv(pd.io.common.StringIO(text), dtype=str)
    expected[expected.columns[2]] = expected[expected.columns[2]].astype(float)
    id_column = expected.columns[0]
    assert panel.id_columns == (id_column,)
    assert set(panel.frame[id_column]) == set(expected[id_column])
    got = panel.frame.groupby(id_column)["value"].sum().to_dict()
    assert got == expected.groupby(id_column)[expected.columns[2]].sum().to_dict()
    if note:
        assert any(note in n for n in panel.notes), panel.notes


def test_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_bytes(CZECH.encode("cp1250"))
    panel = load(path, encoding="cp1250")
    assert "České Budějovice" in panel.frame["region"].tolist()
    assert not any("not UTF-8" in note for note in panel.notes)
    line = one_line_error(["detect", str(path), "--encoding", "no-such-codec"])
    assert "unknown encoding" in line
    path.write_bytes(GREEK.encode("utf-8"))
    line = one_line_error(["detect", str(path), "--encoding", "ascii"])
    assert "is not valid ascii text" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_gets_a_proper_message(tmp_path: Path) -> None:
    fifo = tmp_path / "sales.csv"
    os.mkfifo(fifo)
    line = one_line_error(["detect", str(fifo)])
    assert "is not a regular file" in line


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_title_rows_above_the_header_are_skipped(tmp_path: Path, fmt: str) -> None:
    rows = [["Sales report 2024", "", ""], ["exported 2024-05-01", "", ""], ["", "", ""]]
    rows += [["account", "month", "revenue"]]
    rows += [[a, m, str(10 + k)] for a in ("acme", "beta") for k, m in enumerate(MONTHS)]
    if fmt == "csv":
        path = tmp_path / "report.csv"
        lines = ["Sales report 2024", "exported 2024-05-01", ""] + [",".join(r) for r in rows[3:]]
        path.write_text("\n".join(lines) + "\n")
        header_line = 4
    else:
        path = tmp_path / "report.xlsx"
        frame = pd.DataFrame(rows[1:], columns=rows[0]).replace("", None)
        frame.to_excel(path, index=False)
        header_line = 4
    panel = load(path)
    assert panel.frame["value"].tolist() == [10.0, 11.0, 12.0, 13.0] * 2
    assert any("above the header" in note for note in panel.notes), panel.notes
    explicit = load(path, skip_rows=header_line - 1)
    assert explicit.frame["value"].tolist() == panel.frame["value"].tolist()
    bad = path.with_name("bad" + path.suffix)
    if fmt == "csv":
        bad.write_text("account,month,revenue\n" + "acme,n/a,1\n" * 3)
        line = one_line_error(["detect", str(bad)])
        assert "--skip-rows" in line and "no date column" in line


@pytest.mark.parametrize("name", ["smartphone-sales", "saas-mrr", "daily-revenue"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_generated_data_detects_as_is(tmp_path: Path, name: str, suffix: str) -> None:
    data = tmp_path / f"data{suffix}"
    generated = runner.invoke(app, ["generate", name, "--output", str(data)])
    assert generated.exit_code == 0, generated.output
    frame = pd.read_csv(data) if suffix == ".csv" else pd.read_parquet(data)
    assert not {"is_anomaly", "anomaly_type"} & set(frame.columns)
    labels = pd.read_csv(tmp_path / "data_labels.csv")
    assert {"type", "direction"} <= set(labels.columns) and len(labels)
    if name == "smartphone-sales":
        result = runner.invoke(app, ["detect", str(data), "--format", "json"])
        assert result.exit_code == 0, result.output


def test_error_messages_show_control_characters_escaped(tmp_path: Path) -> None:
    line = one_line_error(["detect", str(tmp_path / "evil\x1b[2J\x07.csv")])
    assert "\x1b" not in line and "\x07" not in line
    assert "evil\\x1b[2J\\x07.csv: file does not exist" in line


EVENTS_SQL_CONFIG = """
[store]
url = "sqlite:///{store}"

[[sources]]
name = "payments"
kind = "events"
url_env = "REVWATCH_TEST_EVENTS_URL"
query = "{query}"
grain = "daily"

[[metrics]]
name = "revenue"
source = "payments"
value = "revenue"
keys = []
grain = "daily"

[routing]
critical = []
warning = []
"""


@pytest.mark.parametrize(
    "query", ["select * from events", "vacuum into 'copy.db'", "attach database 'x.db' as x"]
)
def test_monitor_event_queries_are_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    from revwatch.monitor.config import load_config
    from revwatch.monitor.runner import _read_events

    monkeypatch.chdir(tmp_path)
    database = tmp_path / "events.db"
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("create table events (timestamp text, amount real, status text)")
        connection.execute("insert into events values ('2025-01-01 10:00:00', 5.0, 'succeeded')")
    monkeypatch.setenv("REVWATCH_TEST_EVENTS_URL", f"sqlite:///{database}")
    config_path = tmp_path / "revwatch.toml"
    config_path.write_text(EVENTS_SQL_CONFIG.format(store=tmp_path / "rw.db", query=query))
    source = load_config(config_path).source("payments")
    listing = files_in(tmp_path)
    if query.startswith("select"):
        assert _read_events(source)["amount"].tolist() == [5.0]
    else:
        with pytest.raises(InputError, match=r"source 'payments': .*only a single read-only query"):
            _read_events(source)
    assert files_in(tmp_path) == listing


def test_excel_number_cells_are_numbers_even_beside_text(tmp_path: Path) -> None:
    from openpyxl import Workbook

    path = tmp_path / "mixed.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["month", "revenue", "rate"])
    for month, revenue, rate in zip(
        MONTHS, [32.477, "n/a", 1.2, 12345], ["0,5", "1,25", "2,5", "3,75"], strict=True
    ):
        sheet.append([month, revenue, rate])
    workbook.save(path)
    panel = load(path, value="revenue", metrics=["rate"])
    np.testing.assert_array_equal(panel.frame["value"].to_numpy(), [32.477, np.nan, 1.2, 12345.0])
    assert panel.frame["rate"].tolist() == [0.5, 1.25, 2.5, 3.75]


def test_python_numbers_in_an_object_column_are_numbers() -> None:
    from revwatch.data import from_frame

    frame = pd.DataFrame(
        {
            "month": MONTHS,
            "revenue": pd.Series([32.477, 1.2, None, 12.345], dtype=object),
            "rate": ["0,5", "1,25", "2,5", "3,75"],
        }
    )
    panel = from_frame(frame, value="revenue", metrics=["rate"])
    np.testing.assert_array_equal(panel.frame["value"].to_numpy(), [32.477, 1.2, np.nan, 12.345])
    mixed = frame.assign(revenue=pd.Series([32.477, "1,2", "", 12.345], dtype=object))
    panel = from_frame(mixed, value="revenue", metrics=["rate"])
    np.testing.assert_array_equal(panel.frame["value"].to_numpy(), [32.477, 1.2, np.nan, 12.345])


def test_incident_csv_neutralises_text_cells(tmp_path: Path) -> None:
    rows = []
    for k, account in enumerate(["calm", "jumpy"]):
        for m in range(24):
            value = 5000.0 if (m == 20 and k == 1) else 1000.0 + 5 * (m % 3) + k
            rows.append([account, f"{2023 + m // 12}-{m % 12 + 1:02d}-01", value])
    path = tmp_path / "sales.csv"
    pd.DataFrame(rows, columns=["account", "month", "=SUM(A1)"]).to_csv(path, index=False)

    def metric_cells(*extra: str) -> list[str]:
        result = runner.invoke(app, ["detect", str(path), "--incidents", "--format", "csv", *extra])
        assert result.exit_code == 0, result.output
        frame = pd.read_csv(pd.io.common.StringIO(result.stdout), dtype=str)
        return frame["metric"].tolist()

    assert set(metric_cells()) == {"'=SUM(A1)"}
    assert set(metric_cells("--raw-text")) == {"=SUM(A1)"}


def test_evaluate_output_onto_its_labels_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "mrr.csv"
    assert runner.invoke(app, ["generate", "saas-mrr", "--output", str(data)]).exit_code == 0
    labels = tmp_path / "mrr_labels.csv"
    before = labels.read_bytes()
    args = ["evaluate", str(data), "--labels", str(labels), "--format", "csv"]
    assert "is the input file" in one_line_error([*args, "--output", str(labels)])
    assert labels.read_bytes() == before


def test_a_percent_column_is_recorded_and_incidents_take_its_unit(tmp_path: Path) -> None:
    from revwatch.incidents.build import analyze_incidents

    shares = [40.0 + (i % 3) * 0.5 for i in range(24)]
    shares[20] = 12.0  # a collapse of the share
    path = tmp_path / "share.csv"
    pd.DataFrame(
        {
            "month": pd.date_range("2024-01-01", periods=24, freq="MS").strftime("%Y-%m-%d"),
            "share": [f"{s}%" for s in shares],
        }
    ).to_csv(path, index=False)
    panel = load(path)
    assert panel.percent_columns == ("share",)
    assert panel.frame["value"].tolist() == shares
    assert load(tmp_path / "share.csv", value="share").percent_columns == ("share",)
    found = analyze_incidents(path)
    assert len(found.frame) >= 1 and set(found.frame["unit"]) == {"percent"}
    plain = tmp_path / "plain.csv"
    pd.read_csv(path).assign(share=shares).to_csv(plain, index=False)
    assert load(plain).percent_columns == ()
