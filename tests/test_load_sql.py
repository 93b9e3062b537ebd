"""Tests for :func:`revwatch.data.load` with SQLite, DuckDB, SQLAlchemy URLs and PostgreSQL."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from revwatch.data import load
from revwatch.errors import InputError, ParameterError

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

ROWS = [
    ("acme", "2024-01-01", 100.0),
    ("acme", "2024-02-01", None),
    ("acme", "2024-04-01", 130.5),
    ("beta", "2024-01-01", -20.0),
    ("beta", "2024-02-01", 25.0),
]
QUERY = "select account, month, revenue from sales"


def make_sqlite(path: Path, rows: list[tuple] = ROWS) -> Path:
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("create table sales (account text, month text, revenue real)")
        connection.executemany("insert into sales values (?, ?, ?)", rows)
    return path


def check_sales(panel_values: np.ndarray, periods: list[str]) -> None:
    assert periods == ["2024-01-01", "2024-02-01", "2024-04-01", "2024-01-01", "2024-02-01"]
    np.testing.assert_array_equal(panel_values, [100.0, np.nan, 130.5, -20.0, 25.0])


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    return make_sqlite(tmp_path / "sales.sqlite")


@pytest.fixture
def duckdb_file(tmp_path: Path) -> Path:
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "sales.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create table sales (account varchar, month date, revenue double)")
        connection.executemany("insert into sales values (?, ?, ?)", ROWS)
    return path


# --------------------------------------------------------------------------
# SQLite and DuckDB files
# --------------------------------------------------------------------------


def test_sqlite_file_query(sqlite_file: Path) -> None:
    before = sqlite_file.read_bytes()
    panel = load(sqlite_file, sql=QUERY)
    assert panel.id_columns == ("account",)
    assert panel.freq == "monthly"
    assert panel.source == str(sqlite_file)
    check_sales(panel.frame["value"].to_numpy(), list(panel.frame["period"].dt.strftime("%F")))
    assert panel.notes[0] == "inferred --time month, --value revenue, --id account"
    assert sqlite_file.read_bytes() == before  # opened read-only


def test_duckdb_file_query(duckdb_file: Path) -> None:
    panel = load(duckdb_file, sql=QUERY, id="account", time="month", value="revenue")
    assert panel.freq == "monthly"
    check_sales(panel.frame["value"].to_numpy(), list(panel.frame["period"].dt.strftime("%F")))


@pytest.mark.parametrize("fixture", ["sqlite_file", "duckdb_file"])
def test_bad_table_quotes_the_database(request: pytest.FixtureRequest, fixture: str) -> None:
    path: Path = request.getfixturevalue(fixture)
    with pytest.raises(InputError) as caught:
        load(path, sql="select * from nope")
    message = str(caught.value)
    assert "\n" not in message
    assert path.name in message
    assert "the query failed" in message
    assert "nope" in message  # the database's own words name the table


@pytest.mark.parametrize("fixture", ["sqlite_file", "duckdb_file"])
def test_database_without_sql_lists_tables(request: pytest.FixtureRequest, fixture: str) -> None:
    path: Path = request.getfixturevalue(fixture)
    with pytest.raises(ParameterError, match=r"pass sql=.*tables: sales"):
        load(path)


def test_sqlite_result_row_numbers_in_errors(tmp_path: Path) -> None:
    rows = [("a", "2024-01-01", "10"), ("a", "2024-02-01", "ten"), ("a", "2024-03-01", "30")]
    path = make_sqlite(tmp_path / "typo.db", rows)
    with pytest.raises(InputError) as caught:
        load(path, sql=QUERY, value="revenue")
    assert "typo.db, result row 2, column 'revenue': cannot read 'ten'" in str(caught.value)


def test_text_file_named_db_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("this is not a database\n" * 10)
    with pytest.raises(InputError, match=r"notes\.db: the query failed"):
        load(path, sql=QUERY)


def test_text_file_named_duckdb_is_an_input_error(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    path = tmp_path / "notes.duckdb"
    path.write_text("this is not a database\n" * 10)
    with pytest.raises(InputError, match=r"notes\.duckdb"):
        load(path, sql=QUERY)


# --------------------------------------------------------------------------
# SQLAlchemy URLs
# --------------------------------------------------------------------------


def test_sqlalchemy_sqlite_url(sqlite_file: Path) -> None:
    url = f"sqlite:///{sqlite_file}"
    panel = load(url, sql=QUERY)
    assert panel.source == url
    check_sales(panel.frame["value"].to_numpy(), list(panel.frame["period"].dt.strftime("%F")))


def test_sqlalchemy_url_bad_table(sqlite_file: Path) -> None:
    with pytest.raises(InputError, match=r"sales\.sqlite: the query failed: no such table: nope"):
        load(f"sqlite:///{sqlite_file}", sql="select * from nope")


def test_sqlalchemy_sqlite_url_to_missing_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(InputError, match=r"absent\.db: database file does not exist"):
        load(f"sqlite:///{path}", sql=QUERY)
    assert not path.exists()


def test_sqlalchemy_url_needs_sql(sqlite_file: Path) -> None:
    with pytest.raises(ParameterError, match="sql="):
        load(f"sqlite:///{sqlite_file}")


def test_unknown_dialect() -> None:
    with pytest.raises(ParameterError, match="dialect"):
        load("nosuchdb://host/db", sql="select 1")


# --------------------------------------------------------------------------
# PostgreSQL (real server)
# --------------------------------------------------------------------------


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
    table = f"revwatch_sales_{uuid.uuid4().hex[:12]}"
    try:
        with connection.begin():
            connection.execute(
                sqlalchemy.text(
                    f"create table {table} (account text, month date, revenue numeric(12, 2))"
                )
            )
            connection.execute(
                sqlalchemy.text(f"insert into {table} values (:a, :m, :r)"),
                [{"a": a, "m": m, "r": r} for a, m, r in ROWS],
            )
        yield table
    finally:
        with connection.begin():
            connection.execute(sqlalchemy.text(f"drop table if exists {table}"))
        connection.close()
        engine.dispose()


@pytest.mark.postgres
def test_postgres_query(postgres_table: str) -> None:
    panel = load(POSTGRES_URL, sql=f"select account, month, revenue from {postgres_table}")
    assert panel.id_columns == ("account",)
    assert panel.freq == "monthly"
    assert panel.frame["value"].dtype == np.float64  # numeric(12, 2) arrives as Decimal
    check_sales(panel.frame["value"].to_numpy(), list(panel.frame["period"].dt.strftime("%F")))


@pytest.mark.postgres
def test_postgres_bad_table_quotes_the_server(postgres_table: str) -> None:
    with pytest.raises(InputError) as caught:
        load(POSTGRES_URL, sql=f"select * from {postgres_table}_missing")
    message = str(caught.value)
    assert "\n" not in message
    assert "127.0.0.1" in message
    assert f'relation "{postgres_table}_missing" does not exist' in message
