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

import pandas as pd
import pytest
from typer.testing import CliRunner

from revwatch.cli import app
from revwatch.data import load
from revwatch.errors import RevwatchError

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
