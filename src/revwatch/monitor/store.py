"""The incident store: runs, scores, incidents, deliveries, feedback (SQLAlchemy Core).

A SQLite file by default, PostgreSQL by URL (optionally in its own schema).
Tables:

``runs``
    One row per ``revwatch run``: status ``running`` -> ``ok`` | ``empty`` |
    ``failed`` (a run still ``running`` when the next starts crashed, and is
    marked ``crashed``).
``watermarks``
    Per metric, the last period scored: a re-run processes only later periods.
``scores``
    A compact per-(metric, period) summary (series, flagged, mean and p95
    score) for ``revwatch health``; every score also goes to the Parquet
    feature store.
``incidents``
    One row per incident (deterministic id, :func:`revwatch.incidents.build.incident_id`),
    status ``open`` -> ``acknowledged`` -> ``resolved``; since v4 also its
    level, confidence, share of the portfolio, root-cause lines, calendar
    notes, flags and segments (JSON lists), the highest tier announced
    (``alerted_tier``) and the runs that escalated and resolved it.
``deliveries``
    The alert ledger: one row per (incident, state, channel), unique; status
    ``pending`` -> ``sending`` -> ``sent`` | ``failed`` | ``skipped``. States:
    ``open``, ``esc:warning`` / ``esc:critical``, ``resolved``; a resolved
    incident that a later step of the same move opens again gets ``reopen:k``
    and then ``resolved:k`` (its k-th reopening).
``feedback``
    Labels (``benign`` / ``confirmed``) with their cause, for suppression,
    baseline masking and the supervised classifier.
``models``
    Per metric, when its detector was last fitted and on which window.
``schema_version``
    The applied migration; :data:`MIGRATIONS` are versioned DDL steps applied
    in order, each in its own transaction.

Examples
--------
>>> store = Store("sqlite://")
>>> store.version == LATEST_VERSION
True
>>> run = store.start_run("demo.toml")
>>> store.finish_run(run, "empty")
>>> [r["status"] for r in store.runs()]
['empty']
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from revwatch.data.keys import series_key_json
from revwatch.errors import ParameterError, StoreError
from revwatch.redact import redact

logger = logging.getLogger(__name__)

__all__ = [
    "INCIDENT_STATES",
    "LATEST_VERSION",
    "METADATA",
    "MIGRATIONS",
    "Store",
    "utcnow",
]

INCIDENT_STATES = ("open", "acknowledged", "resolved")
LABELS = ("benign", "confirmed")
#: Ledger states that raise an alert: the open, and escalations to a higher tier.
ALERTING_STATES = ("open", "esc:warning", "esc:critical")


def ack_refusal(incident_id: str) -> str:
    """The one message that refuses to acknowledge a resolved incident.

    Examples
    --------
    >>> ack_refusal("ab12")
    'incident ab12 is resolved; a resolved incident cannot be acknowledged'
    """
    return f"incident {incident_id} is resolved; a resolved incident cannot be acknowledged"


def utcnow() -> dt.datetime:
    """The current UTC time, naive (how the store keeps times)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


# --------------------------------------------------------------------------
# Schema: v1 (as first released) and the current one
# --------------------------------------------------------------------------

_V1 = sa.MetaData()
sa.Table(
    "runs",
    _V1,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("config_path", sa.Text),
    sa.Column("metrics_scored", sa.Integer, default=0),
    sa.Column("new_periods", sa.Integer, default=0),
    sa.Column("incidents_opened", sa.Integer, default=0),
    sa.Column("incidents_resolved", sa.Integer, default=0),
    sa.Column("deliveries_sent", sa.Integer, default=0),
    sa.Column("deliveries_failed", sa.Integer, default=0),
    sa.Column("error", sa.Text),
)
sa.Table(
    "incidents",
    _V1,
    sa.Column("incident_id", sa.String(64), primary_key=True),
    sa.Column("metric", sa.String(200), nullable=False),
    sa.Column("series_key", sa.Text, nullable=False),
    sa.Column("start_period", sa.DateTime, nullable=False),
    sa.Column("end_period", sa.DateTime, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("severity", sa.Float),
    sa.Column("impact", sa.Float),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("suppressed", sa.Boolean, nullable=False, default=False),
    sa.Column("first_seen_run", sa.Integer),
    sa.Column("updated_at", sa.DateTime),
    sa.Column("resolved_at", sa.DateTime),
    sa.Column("resolution", sa.String(16)),
)
sa.Table(
    "deliveries",
    _V1,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("run_id", sa.Integer),
    sa.Column("created_at", sa.DateTime),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("incident_id", "state", "channel", name="uq_delivery"),
)
sa.Table("schema_version", _V1, sa.Column("version", sa.Integer, nullable=False))

#: The current schema (v1 tables plus what later migrations add).
METADATA = sa.MetaData()
for _table in _V1.sorted_tables:
    _table.to_metadata(METADATA)
runs_t = METADATA.tables["runs"]
incidents_t = METADATA.tables["incidents"]
deliveries_t = METADATA.tables["deliveries"]
version_t = METADATA.tables["schema_version"]
incidents_t.append_column(sa.Column("last_seen_run", sa.Integer))
incidents_t.append_column(sa.Column("context", sa.Text))
incidents_t.append_column(sa.Column("impact_low", sa.Float))
incidents_t.append_column(sa.Column("impact_high", sa.Float))
#: v4: the columns of revwatch.incidents.build.Incident the v3 monitor did not keep
V4_INCIDENT_COLUMNS: tuple[tuple[str, str, Any], ...] = (
    ("level", "VARCHAR(16)", sa.String(16)),
    ("unit", "VARCHAR(32)", sa.String(32)),
    ("confidence", "FLOAT", sa.Float),
    ("pct_of_portfolio", "FLOAT", sa.Float),
    ("root_cause", "TEXT", sa.Text),
    ("annotations", "TEXT", sa.Text),
    ("flags", "TEXT", sa.Text),
    ("segments", "TEXT", sa.Text),
    ("alerted_tier", "VARCHAR(16)", sa.String(16)),
    ("escalated_run", "INTEGER", sa.Integer),
    ("resolved_run", "INTEGER", sa.Integer),
)
for _name, _ddl, _type in V4_INCIDENT_COLUMNS:
    incidents_t.append_column(sa.Column(_name, _type))
_JSON_COLUMNS = ("context", "root_cause", "annotations", "flags", "segments")
watermarks_t = sa.Table(
    "watermarks",
    METADATA,
    sa.Column("metric", sa.String(200), primary_key=True),
    sa.Column("last_period", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("updated_at", sa.DateTime),
)
scores_t = sa.Table(
    "scores",
    METADATA,
    sa.Column("metric", sa.String(200), primary_key=True),
    sa.Column("period", sa.DateTime, primary_key=True),
    sa.Column("run_id", sa.Integer),
    sa.Column("n_series", sa.Integer),
    sa.Column("n_flagged", sa.Integer),
    sa.Column("mean_score", sa.Float),
    sa.Column("p95_score", sa.Float),
)
feedback_t = sa.Table(
    "feedback",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(64), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("cause", sa.Text),
    sa.Column("metric", sa.String(200)),
    sa.Column("series_key", sa.Text),
    sa.Column("type", sa.String(32)),
    sa.Column("direction", sa.String(8)),
    sa.Column("start_period", sa.DateTime),
    sa.Column("end_period", sa.DateTime),
    sa.Column("created_at", sa.DateTime),
)
models_t = sa.Table(
    "models",
    METADATA,
    sa.Column("metric", sa.String(200), primary_key=True),
    sa.Column("method", sa.String(64)),
    sa.Column("trained_at", sa.DateTime),
    sa.Column("train_start", sa.DateTime),
    sa.Column("train_end", sa.DateTime),
    sa.Column("n_periods", sa.Integer),
)


def _v1(conn: Connection) -> None:
    _V1.create_all(conn)


def _v2(conn: Connection) -> None:
    for column in ("last_seen_run INTEGER", "context TEXT"):
        conn.execute(sa.text(f"ALTER TABLE incidents ADD COLUMN {column}"))
    METADATA.create_all(conn, tables=[watermarks_t, scores_t, feedback_t, models_t])


def _v3(conn: Connection) -> None:
    # the money impact's interval (90 % by default), summed over the incident's span
    for column in ("impact_low FLOAT", "impact_high FLOAT"):
        conn.execute(sa.text(f"ALTER TABLE incidents ADD COLUMN {column}"))


def _v4(conn: Connection) -> None:
    """The incident model's columns; ids stay as they are (v1's scheme is kept).

    Incidents a v3 run announced get ``alerted_tier`` = their tier, so the
    first v4 run escalates only what becomes more urgent. (Open v3 incidents
    whose span the v4 model draws differently are matched by overlap in
    :func:`revwatch.monitor.runner.run` and keep their id.)
    """
    for name, ddl, _type in V4_INCIDENT_COLUMNS:
        conn.execute(sa.text(f"ALTER TABLE incidents ADD COLUMN {name} {ddl}"))
    conn.execute(sa.text("UPDATE incidents SET level = 'series'"))
    conn.execute(
        sa.text(
            "UPDATE incidents SET alerted_tier = tier WHERE incident_id IN "
            "(SELECT incident_id FROM deliveries WHERE state = 'open')"
        )
    )


#: Versioned DDL steps, applied in order.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1, 2: _v2, 3: _v3, 4: _v4}
LATEST_VERSION = max(MIGRATIONS)


def _record(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for text in ("error", "last_error"):  # stored redacted; rows from older versions too
        if isinstance(out.get(text), str):
            out[text] = redact(out[text])
    if "series_key" in out and isinstance(out["series_key"], str):
        out["series_key"] = json.loads(out["series_key"])
    for name in _JSON_COLUMNS:
        if isinstance(out.get(name), str):
            out[name] = json.loads(out[name])
    for name in _JSON_COLUMNS[1:]:
        if name in out and out[name] is None:
            out[name] = []
    return out


class Store:
    """The incident store.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///revwatch.db``, ``postgresql+psycopg://...``).
    schema : str, optional
        PostgreSQL schema to keep the tables in (created if missing).
    migrate : bool, default True
        Bring the schema up to :data:`LATEST_VERSION`.
    target_version : int, optional
        Stop migrating at this version (for tests of upgrades).
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        migrate: bool = True,
        target_version: int | None = None,
    ) -> None:
        self.url = url
        self.schema = schema
        try:
            self.engine: Engine = sa.create_engine(url, future=True)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(
                f"store url is not usable ({exc}); use sqlite:///revwatch.db or "
                "postgresql+psycopg://user@host/db"
            ) from None
        if schema:
            if self.engine.dialect.name != "postgresql":
                raise ParameterError("store schema is only supported with PostgreSQL")
            quoted = self.engine.dialect.identifier_preparer.quote(schema)

            @sa.event.listens_for(self.engine, "connect")
            def _search_path(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
                cursor.execute(f"SET search_path TO {quoted}")
                cursor.close()
                dbapi_conn.commit()

        if migrate:
            self.migrate(target_version)

    # ------------------------------------------------------------- schema
    @property
    def in_memory(self) -> bool:
        """Whether this is an in-memory SQLite store (one per thread: no worker threads)."""
        url = self.engine.url
        return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")

    @property
    def where(self) -> str:
        """The store's file (SQLite) or its URL without password, for messages."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            return url.database or ":memory:"
        return url.render_as_string(hide_password=True)

    def _unreadable(self, exc: Exception) -> StoreError:
        reason = redact(str(getattr(exc, "orig", exc)).splitlines()[0])
        if "unable to open" in reason:
            return StoreError(
                f"cannot open the store {self.where} ({reason}); check that its folder exists "
                "and can be read"
            )
        if self.engine.dialect.name == "sqlite":
            return StoreError(
                f"{self.where} is not a readable SQLite store ({reason}); if it is corrupt, "
                "restore it from a backup, else point [store] url at the right file"
            )
        return StoreError(f"cannot open the store {self.where}: {reason}")

    @property
    def version(self) -> int:
        """The applied schema version (0: empty store)."""
        try:
            with self.engine.connect() as conn:
                if not sa.inspect(conn).has_table("schema_version"):
                    return 0
                value = conn.execute(sa.select(sa.func.max(version_t.c.version))).scalar()
        except sa.exc.DatabaseError as exc:
            raise self._unreadable(exc) from None
        return int(value or 0)

    def _foreign_tables(self) -> list[str]:
        """Tables of a SQLite file that revwatch did not make (it is someone else's database)."""
        if self.engine.dialect.name != "sqlite":
            return []  # PostgreSQL: keep revwatch in its own `[store] schema`
        try:
            with self.engine.connect() as conn:
                names = sa.inspect(conn).get_table_names()
        except sa.exc.DatabaseError as exc:
            raise self._unreadable(exc) from None
        from revwatch.monitor.runlock import LOCK_TABLE

        return sorted(n for n in names if n not in METADATA.tables and n != LOCK_TABLE)

    def migrate(self, target: int | None = None) -> int:
        """Apply the pending migrations in order; return the new version.

        Raises
        ------
        StoreError
            The file is not a revwatch store (other tables, or not SQLite at
            all), is read-only and needs a migration, or is newer than this
            revwatch.
        """
        target = LATEST_VERSION if target is None else target
        current = self.version
        if current > LATEST_VERSION:
            raise StoreError(
                f"the store's schema is v{current}, newer than this revwatch (v{LATEST_VERSION}); "
                "upgrade revwatch"
            )
        if current == 0 and target > 0:
            foreign = self._foreign_tables()
            if foreign:
                shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
                raise StoreError(
                    f"{self.where} is not a revwatch store (it holds other tables: {shown}); "
                    "point [store] url at a new or empty file"
                )
        for step in range(current + 1, target + 1):
            with self.begin() as conn:
                MIGRATIONS[step](conn)
                conn.execute(sa.delete(version_t))
                conn.execute(sa.insert(version_t).values(version=step))
            logger.info("store migrated to schema v%d", step)
        return max(current, target)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all.

        A store that cannot be written (a read-only or immutable file or
        folder) raises a one-line :class:`StoreError` naming it.
        """
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            text = str(getattr(exc, "orig", exc)).lower()
            if "readonly" in text or "read-only" in text or "unable to open" in text:
                raise StoreError(
                    f"{self.where} is read-only ({text.splitlines()[0]}); this command writes: "
                    "give it write access (file and folder), or run a reading command"
                ) from None
            if "database is locked" in text:
                raise StoreError(
                    f"{self.where} stayed locked by another process; try again in a moment"
                ) from None
            raise
        except sa.exc.DatabaseError as exc:
            if isinstance(exc, sa.exc.IntegrityError):
                raise
            raise self._unreadable(exc) from None

    def _insert_ignore(self, table: sa.Table) -> Any:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()

    def _upsert(self, table: sa.Table, keys: Sequence[str]) -> Callable[[dict[str, Any]], Any]:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            make: Any = pg_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            make = sqlite_insert

        def build(values: dict[str, Any]) -> Any:
            stmt = make(table).values(**values)
            update = {k: stmt.excluded[k] for k in values if k not in keys}
            return stmt.on_conflict_do_update(index_elements=list(keys), set_=update)

        return build

    # --------------------------------------------------------------- runs
    def start_run(self, config_path: str = "") -> int:
        """Record a new run (and mark runs left ``running`` by a crash as ``crashed``)."""
        with self.begin() as conn:
            conn.execute(
                sa.update(runs_t)
                .where(runs_t.c.status == "running")
                .values(status="crashed", error="the process ended before the run finished")
            )
            result = conn.execute(
                sa.insert(runs_t).values(
                    started_at=utcnow(), status="running", config_path=config_path
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_run(self, run_id: int, status: str, error: str | None = None, **counts: int) -> None:
        """Close a run with its final status and counts."""
        with self.begin() as conn:
            conn.execute(
                sa.update(runs_t)
                .where(runs_t.c.id == run_id)
                .values(
                    status=status,
                    finished_at=utcnow(),
                    error=None if error is None else redact(error),
                    **counts,
                )
            )

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs_t).order_by(runs_t.c.id.desc()).limit(limit))
            return [_record(r) for r in rows]

    # ---------------------------------------------------------- watermarks
    def watermark(self, metric: str) -> dt.datetime | None:
        """The last period scored for a metric, or None."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(watermarks_t.c.last_period).where(watermarks_t.c.metric == metric)
            ).scalar()

    def watermarks(self) -> dict[str, dict[str, Any]]:
        """All watermarks by metric."""
        with self.engine.connect() as conn:
            return {r.metric: _record(r) for r in conn.execute(sa.select(watermarks_t))}

    def set_watermark(
        self, conn: Connection, metric: str, period: dt.datetime, run_id: int
    ) -> None:
        """Move a metric's watermark (inside the caller's transaction)."""
        conn.execute(
            self._upsert(watermarks_t, ["metric"])(
                {"metric": metric, "last_period": period, "run_id": run_id, "updated_at": utcnow()}
            )
        )

    # ------------------------------------------------------ scores, models
    def write_scores(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Upsert per-(metric, period) score summaries."""
        build = self._upsert(scores_t, ["metric", "period"])
        for row in rows:
            conn.execute(build(row))

    def scores(self, metric: str | None = None) -> list[dict[str, Any]]:
        """Score summaries, oldest first."""
        query = sa.select(scores_t).order_by(scores_t.c.metric, scores_t.c.period)
        if metric:
            query = query.where(scores_t.c.metric == metric)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def record_model(self, conn: Connection, **values: Any) -> None:
        """Record that a metric's detector was fitted."""
        conn.execute(self._upsert(models_t, ["metric"])(values))

    def models(self) -> list[dict[str, Any]]:
        """The last fit of every metric's detector."""
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(sa.select(models_t))]

    # ----------------------------------------------------------- incidents
    def incident(self, incident_id: str, conn: Connection | None = None) -> dict[str, Any] | None:
        """One incident by id (a unique prefix of at least 6 characters works too)."""
        query = sa.select(incidents_t).where(incidents_t.c.incident_id == incident_id)
        with self._conn(conn) as c:
            row = c.execute(query).first()
            if row is None and len(incident_id) >= 6:
                rows = c.execute(
                    sa.select(incidents_t).where(incidents_t.c.incident_id.like(incident_id + "%"))
                ).all()
                row = rows[0] if len(rows) == 1 else None
            return _record(row) if row is not None else None

    @contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as own:
                yield own

    def incidents(
        self,
        *,
        status: str | None = None,
        metric: str | None = None,
        limit: int | None = None,
        conn: Connection | None = None,
    ) -> list[dict[str, Any]]:
        """Incidents, most recent start first."""
        query = sa.select(incidents_t).order_by(
            incidents_t.c.start_period.desc(), incidents_t.c.incident_id
        )
        if status:
            query = query.where(incidents_t.c.status == status)
        if metric:
            query = query.where(incidents_t.c.metric == metric)
        if limit:
            query = query.limit(limit)
        with self._conn(conn) as c:
            return [_record(r) for r in c.execute(query)]

    def save_incident(self, conn: Connection, row: dict[str, Any]) -> None:
        """Insert or update one incident (inside the caller's transaction)."""
        values = dict(row)
        if isinstance(values.get("series_key"), dict):
            values["series_key"] = series_key_json(values["series_key"])
        for name in _JSON_COLUMNS:
            if isinstance(values.get(name), list | tuple | dict):
                values[name] = json.dumps(values[name], default=str)
        values["updated_at"] = utcnow()
        exists = conn.execute(
            sa.select(incidents_t.c.incident_id).where(
                incidents_t.c.incident_id == values["incident_id"]
            )
        ).first()
        if exists:
            keep = {"incident_id", "first_seen_run"}
            conn.execute(
                sa.update(incidents_t)
                .where(incidents_t.c.incident_id == values["incident_id"])
                .values({k: v for k, v in values.items() if k not in keep})
            )
        else:
            conn.execute(sa.insert(incidents_t).values(**values))

    def set_status(
        self,
        incident_id: str,
        status: str,
        *,
        resolution: str = "manual",
        conn: Connection | None = None,
        run_id: int | None = None,
    ) -> dict[str, Any]:
        """Move an incident to ``acknowledged`` or ``resolved``.

        A resolve also queues a ``resolved`` delivery on every channel that
        received the incident's trigger or an escalation (PagerDuty resolves
        with the same dedup key), sent by the next ``revwatch run``.
        Acknowledging a resolved incident is refused (:class:`ParameterError`,
        the same message for the CLI, the API and the page).
        """
        if status not in INCIDENT_STATES:
            raise ParameterError(f"status {status!r} must be one of {', '.join(INCIDENT_STATES)}")
        with self.begin() if conn is None else _same(conn) as c:
            found = self.incident(incident_id, conn=c)
            if found is None:
                raise ParameterError(
                    f"no incident {incident_id!r}; see `revwatch incidents list` for the ids"
                )
            if status == "acknowledged" and found["status"] == "resolved":
                raise ParameterError(ack_refusal(found["incident_id"]))
            values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
            if status == "resolved":
                values.update(resolved_at=utcnow(), resolution=resolution, resolved_run=run_id)
            c.execute(
                sa.update(incidents_t)
                .where(incidents_t.c.incident_id == found["incident_id"])
                .values(**values)
            )
            if status == "resolved" and found["status"] != "resolved":
                # the k-th reopening is resolved as resolved:k (a ledger row is unique per state)
                reopened = self.reopen_count(found["incident_id"], conn=c)
                alerted = [*ALERTING_STATES, *(f"reopen:{k}" for k in range(1, reopened + 1))]
                channels = self.delivered_channels(found["incident_id"], alerted, conn=c)
                state = "resolved" if reopened == 0 else f"resolved:{reopened}"
                self.enqueue(c, found["incident_id"], state, channels, run_id=run_id)
            found.update(values)
            return found

    # ---------------------------------------------------------- deliveries
    def enqueue(
        self,
        conn: Connection,
        incident_id: str,
        state: str,
        channels: Sequence[str],
        *,
        run_id: int | None,
        status: str = "pending",
    ) -> int:
        """Write ledger rows (ignored when that incident/state/channel exists); return new rows."""
        added = 0
        for channel in channels:
            result = conn.execute(
                self._insert_ignore(deliveries_t)
                .values(
                    incident_id=incident_id,
                    state=state,
                    channel=channel,
                    status=status,
                    attempts=0,
                    run_id=run_id,
                    created_at=utcnow(),
                )
                .returning(deliveries_t.c.id)
            )
            added += len(result.fetchall())
        return added

    def deliveries(
        self, *, status: str | Sequence[str] | None = None, incident_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Ledger rows, oldest first."""
        query = sa.select(deliveries_t).order_by(deliveries_t.c.id)
        if isinstance(status, str):
            query = query.where(deliveries_t.c.status == status)
        elif status is not None:
            query = query.where(deliveries_t.c.status.in_(list(status)))
        if incident_id:
            query = query.where(deliveries_t.c.incident_id == incident_id)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def reopen_count(self, incident_id: str, conn: Connection | None = None) -> int:
        """How many times the incident was opened again (its ``reopen:k`` ledger states)."""
        query = sa.select(sa.func.count(sa.distinct(deliveries_t.c.state))).where(
            deliveries_t.c.incident_id == incident_id,
            deliveries_t.c.state.like("reopen:%"),
        )
        with self._conn(conn) as c:
            return int(c.execute(query).scalar() or 0)

    def delivered_channels(
        self, incident_id: str, state: str | Sequence[str], conn: Connection | None = None
    ) -> list[str]:
        """Channels whose delivery of this incident in these states is sent (or in doubt)."""
        states = [state] if isinstance(state, str) else list(state)
        query = (
            sa.select(deliveries_t.c.channel)
            .where(
                deliveries_t.c.incident_id == incident_id,
                deliveries_t.c.state.in_(states),
                deliveries_t.c.status.in_(["sent", "sending", "pending"]),
            )
            .distinct()
        )
        with self._conn(conn) as c:
            return sorted(r.channel for r in c.execute(query))

    def mark_delivery(self, ids: Sequence[int], status: str, error: str | None = None) -> None:
        """Set the status of ledger rows in one transaction (``sending`` counts an attempt)."""
        values: dict[str, Any] = {"status": status}
        if status == "sending":
            values["attempts"] = deliveries_t.c.attempts + 1
        if status == "sent":
            values.update(sent_at=utcnow(), last_error=None)
        if error is not None:
            values["last_error"] = redact(error)[:2000]
        with self.begin() as conn:
            conn.execute(
                sa.update(deliveries_t).where(deliveries_t.c.id.in_(list(ids))).values(values)
            )

    # ------------------------------------------------------------ feedback
    def add_label(self, incident_id: str, label: str, cause: str | None = None) -> dict[str, Any]:
        """Label an incident ``benign`` or ``confirmed`` (kept for the classifier)."""
        if label not in LABELS:
            raise ParameterError(f"--as {label!r} must be benign or confirmed")
        with self.begin() as conn:
            found = self.incident(incident_id, conn=conn)
            if found is None:
                raise ParameterError(
                    f"no incident {incident_id!r}; see `revwatch incidents list` for the ids"
                )
            row = {
                "incident_id": found["incident_id"],
                "label": label,
                "cause": cause,
                "metric": found["metric"],
                "series_key": series_key_json(found["series_key"]),
                "type": found["type"],
                "direction": found["direction"],
                "start_period": found["start_period"],
                "end_period": found["end_period"],
                "created_at": utcnow(),
            }
            conn.execute(sa.insert(feedback_t).values(**row))
            return row

    def labels(
        self, *, metric: str | None = None, label: str | None = None
    ) -> list[dict[str, Any]]:
        """Feedback labels, oldest first."""
        query = sa.select(feedback_t).order_by(feedback_t.c.id)
        if metric:
            query = query.where(feedback_t.c.metric == metric)
        if label:
            query = query.where(feedback_t.c.label == label)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def dispose(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


@contextmanager
def _same(conn: Connection) -> Iterator[Connection]:
    yield conn
