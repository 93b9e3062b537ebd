"""Run one read-only query against a SQLite or DuckDB file or a SQLAlchemy URL.

Every source is opened so that the query cannot write anything, anywhere:

* SQLite: the file is opened with ``mode=ro`` and an authorizer that allows
  only reading tables, ``SELECT`` (and recursive ``WITH``) and function calls.
  ``mode=ro`` and ``PRAGMA query_only`` alone are not enough: ``VACUUM INTO``
  and ``ATTACH DATABASE`` still create files. ``PRAGMA`` is refused too.
* DuckDB: the file is opened ``read_only`` with ``enable_external_access``
  off and the configuration locked, so ``COPY ... TO``, ``ATTACH``,
  ``read_csv('/any/file')`` and extensions are refused; the text must be one
  ``SELECT`` statement.
* Other SQLAlchemy URLs (PostgreSQL, ...): the query text must be exactly one
  statement (checked outside the database, so ``COMMIT; DROP ...`` cannot
  leave the transaction) and runs in a read-only transaction that is rolled
  back.

Only a query that returns rows is accepted. Every database error becomes a
one-line :class:`~revwatch.errors.InputError` quoting the database.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd

from revwatch.errors import InputError, MissingDependencyError, ParameterError, RevwatchError

logger = logging.getLogger(__name__)

__all__ = ["count_statements", "read_duckdb", "read_sql_url", "read_sqlite"]

#: What a query may do in SQLite: read tables, select, call functions, recurse.
_SQLITE_ALLOWED = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
READ_ONLY_FIX = "only a single read-only query (select ... / with ... select ...) is allowed"

# Quoted text and names, dollar-quoted bodies and comments: a ";" there ends no statement.
_SKIPPED = re.compile(
    r"'(?:[^']|'')*'"
    r'|"(?:[^"]|"")*"'
    r"|`[^`]*`"
    r"|\[[^\]]*\]"
    r"|\$(?P<tag>[A-Za-z_]\w*)?\$.*?\$(?P=tag)?\$"
    r"|--[^\n]*"
    r"|/\*.*?\*/",
    re.DOTALL,
)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(kind: type[RevwatchError], message: str) -> RevwatchError:
    flat = _one_line(message)
    logger.debug("raising %s: %s", kind.__name__, flat)
    return kind(flat)


def _first_line(error: BaseException) -> str:
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()
    return type(error).__name__


def count_statements(query: str) -> int:
    """How many statements ``query`` holds (``;`` inside quotes and comments do not count).

    Examples
    --------
    >>> count_statements("select 1;")
    1
    >>> count_statements("select ';' as x -- ; \\n from t")
    1
    >>> count_statements("select 1; commit; drop table t")
    3
    """
    bare = _SKIPPED.sub(" ", query)
    return sum(1 for part in bare.split(";") if part.strip())


def _need_sql(name: str, sql: str | None, tables: Callable[[], list[str]] | None) -> str:
    if sql is not None and sql.strip():
        return sql
    listing = ""
    if tables is not None:
        try:
            listing = f" (tables: {', '.join(tables()) or 'none'})"
        except Exception:  # listing tables is only a courtesy
            listing = ""
    raise _fail(
        ParameterError,
        f"{name}: is a database; pass sql='select ... from <table>' (--sql){listing}",
    )


def _one_statement(name: str, query: str) -> None:
    if count_statements(query) != 1:
        raise _fail(InputError, f"{name}: the query holds several statements; {READ_ONLY_FIX}")


def _no_rows(name: str) -> RevwatchError:
    return _fail(InputError, f"{name}: the query returns no rows (not a select); {READ_ONLY_FIX}")


def _query_failed(name: str, error: BaseException) -> RevwatchError:
    """Quote the database's own one-line message."""
    inner: BaseException = error
    if isinstance(inner, pd.errors.DatabaseError) and inner.__cause__ is not None:
        inner = inner.__cause__
    original = getattr(inner, "orig", None)
    if isinstance(original, BaseException):
        inner = original
    text = _first_line(inner)
    fix = "check the connection, the table and the column names in sql="
    lowered = text.lower()
    if any(word in lowered for word in ("authoriz", "read-only", "read_only", "permission")):
        fix = READ_ONLY_FIX
    return _fail(InputError, f"{name}: the query failed: {text}; {fix}")


def _sqlite_authorizer(action: int, *_args: Any) -> int:
    return sqlite3.SQLITE_OK if action in _SQLITE_ALLOWED else sqlite3.SQLITE_DENY


def connect_sqlite_read_only(path: Path) -> sqlite3.Connection:
    """A SQLite connection to ``path`` that cannot write or create any file."""
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    connection.set_authorizer(_sqlite_authorizer)
    return connection


def _sqlite_frame(connection: sqlite3.Connection, name: str, query: str) -> pd.DataFrame:
    cursor = connection.execute(query)
    try:
        if cursor.description is None:
            raise _no_rows(name)
        columns = [str(item[0]) for item in cursor.description]
        return pd.DataFrame.from_records(cursor.fetchall(), columns=columns, coerce_float=True)
    finally:
        cursor.close()


def read_sqlite(path: Path, name: str, sql: str | None) -> pd.DataFrame:
    """The rows of one read-only query against a SQLite file."""
    try:
        with closing(connect_sqlite_read_only(path)) as connection:

            def tables() -> list[str]:
                rows = connection.execute(
                    "select name from sqlite_master where type in ('table', 'view') order by name"
                ).fetchall()
                return [str(row[0]) for row in rows]

            query = _need_sql(name, sql, tables)
            _one_statement(name, query)
            return _sqlite_frame(connection, name, query)
    except RevwatchError:
        raise
    except (sqlite3.Error, sqlite3.Warning, pd.errors.DatabaseError) as error:
        raise _query_failed(name, error) from None


def read_duckdb(path: Path, name: str, sql: str | None) -> pd.DataFrame:
    """The rows of one read-only ``SELECT`` against a DuckDB file, with no file access."""
    try:
        import duckdb
    except ImportError:
        raise MissingDependencyError("duckdb", "duckdb") from None
    config: dict[str, Any] = {"enable_external_access": False, "lock_configuration": True}
    try:
        with duckdb.connect(str(path), read_only=True, config=config) as connection:

            def tables() -> list[str]:
                rows = connection.execute("select table_name from duckdb_tables()").fetchall()
                return sorted(str(row[0]) for row in rows)

            query = _need_sql(name, sql, tables)
            statements = connection.extract_statements(query)
            if len(statements) != 1:
                raise _fail(
                    InputError, f"{name}: the query holds several statements; {READ_ONLY_FIX}"
                )
            if statements[0].type != duckdb.StatementType.SELECT:
                raise _no_rows(name)
            result = connection.execute(query)
            if result.description is None:
                raise _no_rows(name)
            return result.df()
    except RevwatchError:
        raise
    except duckdb.Error as error:
        raise _query_failed(name, error) from None


def read_sql_url(url_text: str, sql: str | None) -> tuple[pd.DataFrame, str]:
    """The rows of one read-only query against a SQLAlchemy URL, and the URL's safe name."""
    import sqlalchemy
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        url = make_url(url_text)
    except ArgumentError as error:
        raise _fail(
            ParameterError,
            f"cannot read database URL ({_first_line(error)}); "
            "use e.g. sqlite:///sales.db or postgresql+psycopg://user@host/db",
        ) from None
    name = url.render_as_string(hide_password=True)
    query = _need_sql(name, sql, None)
    _one_statement(name, query)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise _fail(
                InputError, f"{name}: an in-memory SQLite database has no data; name a file"
            )
        database = Path(str(url.database))
        if not database.exists():
            raise _fail(InputError, f"{name}: database file does not exist; check the path")
        return read_sqlite(database, name, query), name
    try:
        if backend != "postgresql":
            url.get_dialect()  # an unknown dialect is named as such
            raise _fail(
                ParameterError,
                f"{name}: revwatch cannot open {backend} read-only; use PostgreSQL, SQLite or "
                "DuckDB, or export the table to CSV or Parquet",
            )
        engine = sqlalchemy.create_engine(url)
    except NoSuchModuleError:
        raise _fail(
            ParameterError,
            f"{name}: unknown database dialect {url.drivername!r}; "
            "use e.g. sqlite:/// or postgresql+psycopg://",
        ) from None
    except ModuleNotFoundError as error:
        extra = "postgres" if backend == "postgresql" else backend
        raise MissingDependencyError(error.name or url.drivername, extra) from None
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            result = connection.execute(sqlalchemy.text(query))
            if not result.returns_rows:
                raise _no_rows(name)
            columns = [str(column) for column in result.keys()]  # noqa: SIM118
            frame = pd.DataFrame.from_records(result.fetchall(), columns=columns, coerce_float=True)
            transaction.rollback()
    except RevwatchError:
        raise
    except (SQLAlchemyError, pd.errors.DatabaseError, sqlite3.Error) as error:
        raise _query_failed(name, error) from None
    finally:
        engine.dispose()
    return frame, name
