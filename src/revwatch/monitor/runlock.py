"""One run at a time per store: the run lock.

Two ``revwatch run``s over one store at once (cron overlapping a manual run)
would both send the same pending alerts. :class:`RunLock` lets one in and
refuses the other with :class:`RunLockedError` (exit 2, "another run is in
progress (started at ..., pid ...)") before it touches anything.

PostgreSQL
    A session-level advisory lock (``pg_try_advisory_lock``) on a connection
    held for the whole run: the server drops it when the holder's connection
    ends, ``kill -9`` included. A row in ``revwatch_run_lock`` says who holds it.
SQLite
    A row in ``revwatch_run_lock`` (created if missing) with the holder's host,
    pid, process start time and a lease, renewed by a heartbeat thread. A row
    is taken over (compare-and-swap on its random token) when its lease ran
    out, or when it comes from this host and its process is gone (``kill -9``)
    or is another process that reused the pid.

Any other long-running consumer of the same store (a scheduler, a stream
consumer) takes the same lock by name and so never races a run.

Examples
--------
>>> from revwatch.monitor.store import Store
>>> store = Store("sqlite://")
>>> with RunLock(store):
...     try:
...         RunLock(store).acquire()
...     except RunLockedError as exc:
...         print(str(exc).split(" (")[0])
another run is in progress
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from revwatch.errors import StoreError

if TYPE_CHECKING:
    from revwatch.monitor.store import Store

logger = logging.getLogger(__name__)

__all__ = ["LOCK_TABLE", "RunLock", "RunLockedError"]

LOCK_TABLE = "revwatch_run_lock"
_META = sa.MetaData()
lock_t = sa.Table(
    LOCK_TABLE,
    _META,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("pid_started", sa.String(32)),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("lease_until", sa.DateTime, nullable=False),
)


class RunLockedError(StoreError):
    """Another run (or consumer) holds the store's run lock."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _process_start(pid: int) -> str | None:
    """The kernel's start time of a process (tells a reused pid apart), if known."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if started is not None:
        now = _process_start(pid)
        if now is not None and now != started:
            return False  # the pid was reused by another process
    return True


class RunLock:
    """The run lock of a store (a context manager).

    Parameters
    ----------
    store : Store
    name : str, default "run"
        What is locked; consumers of the same metrics use the same name.
    lease_seconds : float, default 60
        SQLite: how long the lock stays valid without a heartbeat.
    """

    def __init__(self, store: Store, *, name: str = "run", lease_seconds: float = 60.0) -> None:
        self.store = store
        self.name = name
        self.lease_seconds = lease_seconds
        self._token = secrets.token_hex(16)
        self._conn: Any = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self.held = False

    # ----------------------------------------------------------- helpers
    @property
    def _postgres(self) -> bool:
        return self.store.engine.dialect.name == "postgresql"

    def _key(self) -> int:
        text = f"revwatch:{self.store.schema or ''}:{self.name}".encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:8], "big", signed=True)

    def _row(self) -> dict[str, Any]:
        now = _now()
        return {
            "name": self.name,
            "token": self._token,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "pid_started": _process_start(os.getpid()),
            "started_at": now,
            "lease_until": now + dt.timedelta(seconds=self.lease_seconds),
        }

    def _refuse(self, holder: Any) -> RunLockedError:
        if holder is None:
            where = "holder unknown"
        else:
            started = holder.started_at.strftime("%Y-%m-%d %H:%M:%S") if holder.started_at else "?"
            where = f"started at {started} UTC, pid {holder.pid} on {holder.host}"
        return RunLockedError(
            f"another run is in progress ({where}); nothing was sent. Wait for it to finish "
            "(a lock left by a killed run is taken over once its process is gone or its "
            f"lease of {self.lease_seconds:g} s has run out)"
        )

    def _ensure_table(self) -> None:
        try:
            with self.store.begin() as conn:  # a read-only store: a one-line StoreError
                _META.create_all(conn, checkfirst=True)
        except sa.exc.ProgrammingError as exc:  # PostgreSQL: created meanwhile by another run
            if "exists" not in str(exc):
                raise

    # ------------------------------------------------------------ acquire
    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`RunLockedError` (naming the holder)."""
        self._ensure_table()
        if self._postgres:
            self._acquire_postgres()
        else:
            self._acquire_sqlite()
        self.held = True
        return self

    def _acquire_postgres(self) -> None:
        conn = self.store.engine.connect()
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key()}).scalar()
        conn.commit()
        if not got:
            holder = conn.execute(sa.select(lock_t).where(lock_t.c.name == self.name)).first()
            conn.close()
            raise self._refuse(holder)
        self._conn = conn  # the session holds the lock until it closes
        with self.store.engine.begin() as c:
            c.execute(sa.delete(lock_t).where(lock_t.c.name == self.name))
            c.execute(sa.insert(lock_t).values(**self._row()))

    def _acquire_sqlite(self) -> None:
        engine = self.store.engine
        try:
            with self.store.begin() as c:
                c.execute(sa.insert(lock_t).values(**self._row()))
        except sa.exc.IntegrityError:
            with engine.connect() as c:
                holder = c.execute(sa.select(lock_t).where(lock_t.c.name == self.name)).first()
            if holder is None:  # released meanwhile: try once more
                return self._acquire_sqlite()
            if not self._stale(holder):
                raise self._refuse(holder) from None
            with engine.begin() as c:  # compare-and-swap on the holder's token
                taken = c.execute(
                    sa.update(lock_t)
                    .where(lock_t.c.name == self.name, lock_t.c.token == holder.token)
                    .values(**self._row())
                ).rowcount
            if taken != 1:
                with engine.connect() as c:
                    now_holder = c.execute(
                        sa.select(lock_t).where(lock_t.c.name == self.name)
                    ).first()
                raise self._refuse(now_holder) from None
            logger.warning(
                "took over the run lock left by pid %s on %s (started %s): it was gone",
                holder.pid,
                holder.host,
                holder.started_at,
            )
        self._heartbeat = threading.Thread(
            target=self._renew, name="revwatch-run-lock", daemon=True
        )
        self._heartbeat.start()
        return None

    def _stale(self, holder: Any) -> bool:
        if holder.lease_until is not None and holder.lease_until < _now():
            return True
        if holder.host == socket.gethostname() and holder.pid is not None:
            return not _alive(int(holder.pid), holder.pid_started)
        return False

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                with self.store.engine.begin() as c:
                    c.execute(
                        sa.update(lock_t)
                        .where(lock_t.c.name == self.name, lock_t.c.token == self._token)
                        .values(lease_until=_now() + dt.timedelta(seconds=self.lease_seconds))
                    )
            except sa.exc.SQLAlchemyError as exc:  # retried at the next beat
                logger.warning("could not renew the run lock: %s", str(exc).splitlines()[0])

    # ------------------------------------------------------------ release
    def release(self) -> None:
        """Give the lock back (only ours: a row with another token is left alone)."""
        if not self.held:
            return
        self.held = False
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        try:
            with self.store.engine.begin() as c:
                c.execute(
                    sa.delete(lock_t).where(
                        lock_t.c.name == self.name, lock_t.c.token == self._token
                    )
                )
        except sa.exc.SQLAlchemyError as exc:
            logger.warning("could not clear the run lock row: %s", str(exc).splitlines()[0])
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key()})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
