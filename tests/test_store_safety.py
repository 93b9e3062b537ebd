"""The store under failure: foreign, corrupt and read-only files; overlapping and killed runs.

Runs are real ``revwatch run`` processes; the first is held inside its delivery
step by a webhook endpoint that answers only when the test releases it (a
test-side mechanism: nothing in the production code waits for a test).
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from revwatch.cli import app as cli_app
from revwatch.datasets import generate
from revwatch.monitor.runlock import LOCK_TABLE, RunLock, RunLockedError
from revwatch.monitor.store import Store
from tests.configs import mrr_config, routing, store
from tests.endpoints import HttpEndpoints

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

CONFIG = mrr_config(
    store_block=store("{store}", schema=True),
    routes=routing(critical=["webhook"], warning=["webhook"], info=["webhook"]),
    # the scenario catches up six months and must still alert: recent_days = 400
    alerts={"recent_days": 400, "retries": 0, "timeout_seconds": 60, "channel_budget_seconds": 120},
    delivers_to=["webhook"],
    webhook_url="{hook}",
)


def _write_config(folder: Path, store: str, hook: str, schema: str | None = None) -> Path:
    path = folder / "revwatch.toml"
    path.write_text(
        CONFIG.format(
            store=store,
            schema=f'schema = "{schema}"' if schema else "",
            folder=folder,
            hook=hook,
        ),
        encoding="utf-8",
    )
    return path


def _cli(*args: str) -> subprocess.Popen[str]:
    code = "import sys; from revwatch.cli import main; sys.argv[0] = 'revwatch'; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


# ------------------------------------------------ foreign / corrupt / read-only


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _truncated(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 40)


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, 'Acme')")


BAD_STORES = {
    "garbage": (_garbage, "is not a readable SQLite store"),
    "truncated": (_truncated, "is not a readable SQLite store"),
    "foreign": (_foreign, "is not a revwatch store"),
}
COMMANDS = [
    ["incidents", "list"],
    ["incidents", "show", "abcdef12"],
    ["incidents", "ack", "abcdef12"],
    ["incidents", "label", "abcdef12", "--as", "benign"],
    ["health"],
    ["report", "--html", "{folder}/r.html"],
    ["serve", "--port", "1"],
    ["run"],
]


@pytest.mark.parametrize("kind", list(BAD_STORES))
def test_a_foreign_or_corrupt_store_is_one_line_for_every_command(
    tmp_path: Path, kind: str
) -> None:
    make, expected = BAD_STORES[kind]
    path = tmp_path / "store.db"
    make(path)
    before = path.read_bytes()
    config = _write_config(tmp_path, f"sqlite:///{path}", "http://127.0.0.1:1/hook")
    generate("saas-mrr", seed=1).frame.to_csv(tmp_path / "mrr.csv", index=False)
    for command in COMMANDS:
        args = [a.format(folder=tmp_path) for a in command]
        option = (
            ["--config", str(config)] if command[0] == "run" else ["--store", f"sqlite:///{path}"]
        )
        result = CliRunner().invoke(cli_app, [*args, *option])
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2, (command, result.output)
        assert len(lines) == 1 and expected in lines[0] and str(path) in lines[0], (command, lines)
        assert "Traceback" not in result.output and "internal error" not in result.output
        assert path.read_bytes() == before, f"{command} modified the file"


@contextlib.contextmanager
def _immutable(path: Path) -> Iterator[None]:
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("chattr +i is not allowed here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_a_read_only_store_refuses_writes_and_serves_reads(
    tmp_path: Path,
    built_store: Path,  # noqa: F811
) -> None:
    path = tmp_path / "store.db"
    shutil.copy(built_store, path)
    store_url = f"sqlite:///{path}"
    Store(store_url).dispose()
    ident = str(Store(store_url).incidents(status="open")[0]["incident_id"])
    before = path.read_bytes()
    with _immutable(path):
        for args in (
            ["incidents", "list"],
            ["incidents", "show", ident],
            ["health"],
            ["report", "--html", str(tmp_path / "r.html")],
        ):
            result = CliRunner().invoke(cli_app, [*args, "--store", store_url])
            assert result.exit_code in (0, 1), (args, result.output)  # health: 1 = critical
            assert "revwatch: error" not in result.output, (args, result.output)
        for args in (
            ["incidents", "ack", ident],
            ["incidents", "resolve", ident],
            ["incidents", "label", ident, "--as", "benign"],
        ):
            result = CliRunner().invoke(cli_app, [*args, "--store", store_url])
            lines = [line for line in result.output.splitlines() if line.strip()]
            assert result.exit_code == 2, (args, result.output)
            assert len(lines) == 1 and "is read-only" in lines[0] and str(path) in lines[0]
        config = _write_config(tmp_path, store_url, "http://127.0.0.1:1/hook")
        generate("saas-mrr", seed=42).frame.to_csv(tmp_path / "mrr.csv", index=False)
        result = CliRunner().invoke(cli_app, ["run", "--config", str(config)])
        assert result.exit_code == 2 and "is read-only" in result.output, result.output
        assert "Traceback" not in result.output
    assert path.read_bytes() == before


# ----------------------------------------------------------- the lock itself


def _stores() -> list[Any]:
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(pytest.param("postgres", id="postgres"))
    return params


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}", None
        return
    schema = f"lock_{uuid.uuid4().hex[:10]}"
    try:
        sa.create_engine(PG_URL).connect().close()
    except Exception:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    yield PG_URL, schema
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.mark.parametrize("store_url", _stores(), indirect=True)
def test_the_lock_refuses_a_second_holder_and_names_the_first(
    store_url: tuple[str, str | None],
) -> None:
    url, schema = store_url
    first_store, second_store = Store(url, schema=schema), Store(url, schema=schema)
    with RunLock(first_store):
        with pytest.raises(RunLockedError) as caught:
            RunLock(second_store).acquire()
        message = str(caught.value)
        assert message.startswith("another run is in progress (started at ")
        assert f"pid {os.getpid()}" in message and "\n" not in message
    with RunLock(second_store):  # released: the next one gets it
        pass


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    RunLock(store).acquire().release()  # creates the table
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with store.begin() as conn:
        conn.execute(
            sa.text(
                f"INSERT INTO {LOCK_TABLE} (name, token, host, pid, started_at, lease_until) "
                "VALUES ('run', 'old', :host, :pid, :now, :later)"
            ),
            {
                "host": socket.gethostname(),
                "pid": dead.pid,
                "now": "2026-01-01 00:00:00",
                "later": "2999-01-01 00:00:00",  # lease still valid: only the pid tells
            },
        )
    with RunLock(store) as lock:
        assert lock.held
    # another host's lock with a live lease is respected; an expired one is taken over
    with store.begin() as conn:
        conn.execute(
            sa.text(
                f"INSERT INTO {LOCK_TABLE} (name, token, host, pid, started_at, lease_until) "
                "VALUES ('run', 'other', 'elsewhere', 1, '2026-01-01 00:00:00', '2999-01-01')"
            )
        )
    with pytest.raises(RunLockedError, match="pid 1 on elsewhere"):
        RunLock(store).acquire()
    with store.begin() as conn:
        conn.execute(sa.text(f"UPDATE {LOCK_TABLE} SET lease_until = '2000-01-01 00:00:00'"))
    with RunLock(store) as lock:
        assert lock.held


# ------------------------------------------------- overlapping real runs


@pytest.fixture
def hook() -> Iterator[HttpEndpoints]:
    server = HttpEndpoints()
    try:
        yield server
    finally:
        server.close()


def _prepare(folder: Path, url: str, schema: str | None, hook: HttpEndpoints) -> Path:
    """A store with pending alerts (the first scoring runs with the endpoint refusing)."""
    config_path = _write_config(folder, url, hook.url("/hook"), schema)
    frame = generate("saas-mrr", seed=42).frame
    hook.modes["/hook"] = "s503"
    for cutoff in ("2025-12-01", "2026-02-01"):
        frame[frame["month"] <= cutoff].to_csv(folder / "mrr.csv", index=False)
        proc = _cli("run", "--config", str(config_path))
        proc.communicate(timeout=180)
    store = Store(url, schema=schema)
    assert len(store.deliveries(status="pending")) >= 3, "the scenario must queue alerts"
    return config_path


def _requeue(url: str, schema: str | None) -> int:
    store = Store(url, schema=schema)
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE deliveries SET status = 'pending', attempts = 0"))
    return len(store.deliveries())


def _delivered(hook: HttpEndpoints) -> list[tuple[str, str]]:
    bodies = hook.bodies("/hook", ok=True)
    return [(a["incident_id"], a["state"]) for b in bodies for a in b["alerts"]]


def _overlap_once(config_path: Path, hook: HttpEndpoints, expected: int) -> None:
    hook.rearm()
    hook.modes["/hook"] = "hold"
    first = _cli("run", "--config", str(config_path))
    try:
        assert hook.hanging.wait(60), "the first run never reached its delivery step"
        second = _cli("run", "--config", str(config_path))
        _out, err = second.communicate(timeout=60)
        assert second.returncode == 2, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "another run is in progress (started at " in lines[0], err
        assert f"pid {first.pid}" in lines[0]
        assert hook.count("/hook") == 1  # the second sent nothing
    finally:
        hook.release()
    _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    sent = [
        (a["incident_id"], a["state"]) for b in hook.bodies("/hook", ok=True) for a in b["alerts"]
    ]
    counts = collections.Counter(sent)
    assert len(sent) == expected and all(n == 1 for n in counts.values()), counts


@pytest.mark.slow
@pytest.mark.parametrize("store_url", _stores(), indirect=True)
def test_overlapping_runs_send_each_alert_once(
    tmp_path: Path, store_url: tuple[str, str | None], hook: HttpEndpoints
) -> None:
    url, schema = store_url
    config_path = _prepare(tmp_path, url, schema, hook)
    # 20 in the acceptance run (REVWATCH_OVERLAP_REPEATS=20: ~4 min per backend on 2 cores)
    repeats = int(os.environ.get("REVWATCH_OVERLAP_REPEATS", "5"))
    for _ in range(repeats):
        expected = _requeue(url, schema)
        _overlap_once(config_path, hook, expected)
    store = Store(url, schema=schema)
    assert {d["status"] for d in store.deliveries()} == {"sent"}
    statuses = [r["status"] for r in store.runs(limit=1000)]
    assert "crashed" not in statuses  # the refused runs never touched the run table


@pytest.mark.slow
@pytest.mark.parametrize("store_url", _stores(), indirect=True)
def test_after_kill_9_of_the_lock_holder_the_next_run_proceeds(
    tmp_path: Path, store_url: tuple[str, str | None], hook: HttpEndpoints
) -> None:
    url, schema = store_url
    config_path = _prepare(tmp_path, url, schema, hook)
    expected = _requeue(url, schema)
    hook.rearm()
    hook.modes["/hook"] = "hold"
    holder = _cli("run", "--config", str(config_path))
    assert hook.hanging.wait(60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate(timeout=30)
    hook.modes["/hook"] = "ok"
    hook.release()
    started = time.monotonic()
    nxt = _cli("run", "--config", str(config_path))
    _out, err = nxt.communicate(timeout=120)
    assert nxt.returncode == 0, err
    assert time.monotonic() - started < 60  # did not wait for a lease to run out
    store = Store(url, schema=schema)
    assert {d["status"] for d in store.deliveries()} == {"sent"}
    statuses = [r["status"] for r in store.runs(limit=5)]
    assert statuses[:2] == ["ok", "crashed"]
    delivered = {
        (a["incident_id"], a["state"]) for b in hook.bodies("/hook", ok=True) for a in b["alerts"]
    }
    assert len(delivered) == expected  # the in-doubt one was resent (at-least-once), none lost


from tests.test_web import built_store  # noqa: E402, F401
