"""The incident lifecycle of `revwatch run`: escalation, directions, catch-up, v3 stores.

Six daily account series; ``a2`` drops by 20 % on 2025-05-31, deepening to
50 % over ten days, then recovers (an upward incident). With the tiers below
every flagged incident is at least a warning, and critical once
``|impact| >= 1500``: the drop opens as a warning and becomes critical five
days later, the recovery does the same upwards. Alerts go to real local
servers (pytest-httpserver for Slack and PagerDuty, aiosmtpd for email).
"""

from __future__ import annotations

import collections
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer

from revwatch.errors import ParameterError
from revwatch.incidents.build import incident_id
from revwatch.monitor.config import load_config
from revwatch.monitor.runner import open_store, run
from revwatch.monitor.store import LATEST_VERSION, Store, ack_refusal
from tests.configs import channels
from tests.test_alerts import _Inbox, free_port

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DAYS = pd.date_range("2025-01-01", periods=200, freq="D")
DROP_START = pd.Timestamp("2025-05-31")

CONFIG = """
[store]
url = "{store}"
{schema}
features_dir = ""

[[sources]]
name = "accounts"
path = "accounts.csv"
time = "day"

[[metrics]]
name = "revenue"
source = "accounts"
value = "revenue"
keys = ["account"]
grain = "daily"
directions = {directions}

[metrics.tiers]
critical_confidence = 1.0
warning_confidence = 0.5
info_confidence = 0.5
critical_share = 1.0
warning_share = 1.0
critical_amount = 1500.0

[routing]
critical = ["pagerduty", "slack", "email"]
warning = ["slack", "email"]

[alerts]
retries = 1
backoff_seconds = 0.01
recent_days = 7

"""
CONFIG += channels("slack", "pagerduty", "email") + "\n"


def accounts() -> pd.DataFrame:
    """The six account series (see the module notes)."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(6):
        v = 1000 * (1 + 0.03 * rng.standard_normal(len(DAYS)))
        if i == 2:
            v[150:160] *= np.linspace(0.8, 0.5, 10)  # deepening drop from 2025-05-31
        if i == 4:
            v[60:63] *= 1.6  # an old spike (March)
        if i == 5:
            v[100:102] *= 0.4  # an old drop (April)
        rows.append(pd.DataFrame({"account": f"a{i}", "day": DAYS, "revenue": v}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def inbox() -> Iterator[tuple[_Inbox, int]]:
    box = _Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def endpoints(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    httpserver.expect_request("/v2/enqueue", method="POST").respond_with_json(
        {"status": "success"}, status=202
    )
    monkeypatch.setenv("SLACK_WEBHOOK_URL", httpserver.url_for("/slack"))
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "test-routing-key")
    return httpserver


def _setup(
    folder: Path,
    server: HTTPServer,
    smtp_port: int,
    *,
    store: str | None = None,
    schema: str | None = None,
    directions: str = '["down"]',
) -> Path:
    text = CONFIG.format(
        store=store or "sqlite:///store.db",
        schema=f'schema = "{schema}"' if schema else "",
        pd_url=server.url_for("").rstrip("/"),
        smtp_port=smtp_port,
        directions=directions,
    )
    path = folder / "revwatch.toml"
    path.write_text(text)
    return path


def _stage(folder: Path, frame: pd.DataFrame, cutoff: str | pd.Timestamp) -> None:
    frame[frame["day"] <= pd.Timestamp(cutoff)].to_csv(folder / "accounts.csv", index=False)


def _pd_events(server: HTTPServer) -> list[dict[str, Any]]:
    return [req.get_json(silent=True) or {} for req, _ in server.log if req.path == "/v2/enqueue"]


def _daily(config_path: Path, frame: pd.DataFrame, first: str, last: str) -> None:
    config = load_config(config_path)
    for day in pd.date_range(first, last, freq="D"):
        _stage(config_path.parent, frame, day)
        run(config, sleep=lambda _s: None)
        again = run(config, sleep=lambda _s: None)
        assert again.status == "empty" and again.deliveries_sent == 0  # re-runs send nothing


def _drop_id(store: Store) -> str:
    found = [
        i
        for i in store.incidents()
        if i["series_key"] == {"account": "a2"} and i["direction"] == "down"
    ]
    assert len(found) == 1, found
    return str(found[0]["incident_id"])


@pytest.mark.slow
def test_daily_runs_page_an_escalation_exactly_once(
    tmp_path: Path, endpoints: HTTPServer, inbox: tuple[_Inbox, int]
) -> None:
    box, port = inbox
    config_path = _setup(tmp_path, endpoints, port)
    frame = accounts()
    _stage(tmp_path, frame, "2025-05-25")
    first = run(load_config(config_path), sleep=lambda _s: None)
    assert first.incidents_recorded >= 2 and first.incidents_opened == 0  # March, April
    _daily(config_path, frame, "2025-05-26", "2025-06-20")
    store = open_store(load_config(config_path))
    drop = _drop_id(store)
    assert drop == incident_id("revenue", {"account": "a2"}, DROP_START)
    ledger = collections.defaultdict(set)
    for d in store.deliveries():
        assert d["status"] == "sent"
        ledger[d["incident_id"]].add((d["state"], d["channel"]))
    # opened as a warning (Slack, email), escalated to critical (pages), resolved everywhere
    assert ledger[drop] == {
        ("open", "slack"),
        ("open", "email"),
        ("esc:critical", "pagerduty"),
        ("esc:critical", "slack"),
        ("esc:critical", "email"),
        ("resolved", "pagerduty"),
        ("resolved", "slack"),
        ("resolved", "email"),
    }
    events = collections.Counter((e["dedup_key"], e["event_action"]) for e in _pd_events(endpoints))
    assert events == {(drop, "trigger"): 1, (drop, "resolve"): 1}
    row = store.incident(drop)
    assert row is not None and row["tier"] == "critical" and row["alerted_tier"] == "critical"
    assert row["status"] == "resolved" and row["escalated_run"] is not None
    # the recovery (up) was critical too, but directions = ["down"]: stored, never alerted
    up = [i for i in store.incidents() if i["direction"] == "up" and i["start_period"] > DROP_START]
    assert up and all(i["tier"] == "critical" for i in up)
    assert all(not ledger[i["incident_id"]] for i in up)
    subjects = [m["Subject"] for m in box.messages]
    assert sum("ESCALATED TO CRITICAL" in s for s in subjects) == 1
    assert sum(s.startswith("[WARNING]") for s in subjects) == 1


@pytest.mark.slow
def test_catch_up_pages_nothing_that_ended_before_the_recent_window(
    tmp_path: Path, endpoints: HTTPServer, inbox: tuple[_Inbox, int]
) -> None:
    _box, port = inbox
    config_path = _setup(tmp_path, endpoints, port, directions='["down", "up"]')
    config = load_config(config_path)
    frame = accounts()
    _stage(tmp_path, frame, "2025-02-15")
    run(config, sleep=lambda _s: None)
    # months of new data in one run; the window is the 7 days before 2025-06-12
    _stage(tmp_path, frame, "2025-06-12")
    catch_up = run(config, sleep=lambda _s: None)
    assert catch_up.incidents_recorded >= 2
    store = open_store(config)
    window = pd.Timestamp("2025-06-12") - pd.Timedelta(days=7)
    old = [i for i in store.incidents() if i["end_period"] < window]
    assert old and all(i["resolution"] == "history" for i in old)
    alerted = {d["incident_id"] for d in store.deliveries()}
    assert not alerted & {i["incident_id"] for i in old}
    drop = _drop_id(store)
    events = [(e["dedup_key"], e["event_action"]) for e in _pd_events(endpoints)]
    assert events == [(drop, "trigger"), (drop, "resolve")]  # ended 06-06: inside the window
    again = run(config, sleep=lambda _s: None)
    assert again.deliveries_sent == 0 and len(_pd_events(endpoints)) == 2


# --------------------------------------------------------------------------
# v3 stores (made as revwatch 0.x wrote them) -> v4
# --------------------------------------------------------------------------

_V3_DDL = """
CREATE TABLE runs (
    id {serial}, started_at {ts} NOT NULL, finished_at {ts}, status VARCHAR(16) NOT NULL,
    config_path TEXT, metrics_scored INTEGER, new_periods INTEGER, incidents_opened INTEGER,
    incidents_resolved INTEGER, deliveries_sent INTEGER, deliveries_failed INTEGER, error TEXT
);
CREATE TABLE incidents (
    incident_id VARCHAR(64) NOT NULL PRIMARY KEY, metric VARCHAR(200) NOT NULL,
    series_key TEXT NOT NULL, start_period {ts} NOT NULL, end_period {ts} NOT NULL,
    type VARCHAR(32) NOT NULL, direction VARCHAR(8) NOT NULL, tier VARCHAR(16) NOT NULL,
    severity FLOAT, impact FLOAT, status VARCHAR(16) NOT NULL, suppressed BOOLEAN NOT NULL,
    first_seen_run INTEGER, updated_at {ts}, resolved_at {ts}, resolution VARCHAR(16),
    last_seen_run INTEGER, context TEXT, impact_low FLOAT, impact_high FLOAT
);
CREATE TABLE deliveries (
    id {serial}, incident_id VARCHAR(64) NOT NULL, state VARCHAR(16) NOT NULL,
    channel VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL,
    run_id INTEGER, created_at {ts}, sent_at {ts}, last_error TEXT,
    CONSTRAINT uq_delivery UNIQUE (incident_id, state, channel)
);
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE watermarks (
    metric VARCHAR(200) NOT NULL PRIMARY KEY, last_period {ts} NOT NULL, run_id INTEGER,
    updated_at {ts}
);
CREATE TABLE scores (
    metric VARCHAR(200) NOT NULL, period {ts} NOT NULL, run_id INTEGER, n_series INTEGER,
    n_flagged INTEGER, mean_score FLOAT, p95_score FLOAT, PRIMARY KEY (metric, period)
);
CREATE TABLE feedback (
    id {serial}, incident_id VARCHAR(64) NOT NULL, label VARCHAR(16) NOT NULL, cause TEXT,
    metric VARCHAR(200), series_key TEXT, type VARCHAR(32), direction VARCHAR(8),
    start_period {ts}, end_period {ts}, created_at {ts}
);
CREATE TABLE models (
    metric VARCHAR(200) NOT NULL PRIMARY KEY, method VARCHAR(64), trained_at {ts},
    train_start {ts}, train_end {ts}, n_periods INTEGER
);
INSERT INTO schema_version (version) VALUES (3);
"""


def build_v3_store(url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """A schema-v3 store as revwatch 0.x created it (its DDL), holding ``rows`` per table."""
    engine = sa.create_engine(url)
    pg = engine.dialect.name == "postgresql"
    ddl = _V3_DDL.format(
        serial="SERIAL PRIMARY KEY" if pg else "INTEGER NOT NULL PRIMARY KEY",
        ts="TIMESTAMP WITHOUT TIME ZONE" if pg else "DATETIME",
    )
    meta = sa.MetaData()
    with engine.begin() as conn:
        for statement in ddl.split(";"):
            if statement.strip():
                conn.execute(sa.text(statement))
        meta.reflect(conn)
        for table, items in rows.items():
            for item in items:
                conn.execute(sa.insert(meta.tables[table]).values(**item))
    engine.dispose()


def _v3_rows(open_id: str) -> dict[str, list[dict[str, Any]]]:
    """What a v3 run on the accounts up to 2025-06-01 left: an open warning on a2, announced."""
    t = pd.Timestamp
    return {
        "runs": [
            {
                "started_at": t("2026-01-01 06:00"),
                "status": "ok",
                "finished_at": t("2026-01-01 06:01"),
                "metrics_scored": 1,
                "new_periods": 1,
                "incidents_opened": 1,
                "incidents_resolved": 0,
                "deliveries_sent": 2,
                "deliveries_failed": 0,
            },
        ],
        "incidents": [
            # v3 split runs on type changes: its span started a day after the v4 model's
            {
                "incident_id": open_id,
                "metric": "revenue",
                "series_key": '{"account": "a2"}',
                "start_period": t("2025-06-01"),
                "end_period": t("2025-06-01"),
                "type": "drop",
                "direction": "down",
                "tier": "warning",
                "severity": 4.2,
                "impact": -210.0,
                "status": "open",
                "suppressed": False,
                "first_seen_run": 1,
                "last_seen_run": 1,
                "context": '[["2025-06-01T00:00:00", 790.0, 1000.0, 900.0, 1100.0]]',
            },
            {
                "incident_id": "0123456789abcdef",
                "metric": "revenue",
                "series_key": '{"account": "a5"}',
                "start_period": t("2025-04-11"),
                "end_period": t("2025-04-12"),
                "type": "drop",
                "direction": "down",
                "tier": "critical",
                "severity": 9.0,
                "impact": -1170.0,
                "status": "resolved",
                "suppressed": False,
                "first_seen_run": 1,
                "resolution": "history",
            },
        ],
        "deliveries": [
            {
                "incident_id": open_id,
                "state": "open",
                "channel": channel,
                "status": "sent",
                "attempts": 1,
                "run_id": 1,
                "created_at": t("2026-01-01 06:00"),
                "sent_at": t("2026-01-01 06:01"),
            }
            for channel in ("slack", "email")
        ],
        "feedback": [
            {
                "incident_id": "0123456789abcdef",
                "label": "benign",
                "cause": "promo",
                "metric": "revenue",
                "series_key": '{"account": "a5"}',
                "type": "drop",
                "direction": "down",
                "start_period": t("2025-04-11"),
                "end_period": t("2025-04-12"),
                "created_at": t("2026-01-01 07:00"),
            },
        ],
        "watermarks": [
            {
                "metric": "revenue",
                "last_period": t("2025-06-01"),
                "run_id": 1,
                "updated_at": t("2026-01-01 06:01"),
            },
        ],
    }


def _migrate_and_continue(
    url: str, folder: Path, server: HTTPServer, smtp_port: int, schema: str | None = None
) -> None:
    open_id = incident_id("revenue", {"account": "a2"}, pd.Timestamp("2025-06-01"))
    build_v3_store(
        url if schema is None else f"{url}?options=-csearch_path%3D{schema}", _v3_rows(open_id)
    )
    store = Store(url, schema=schema)
    assert store.version == LATEST_VERSION == 4
    # incidents, deliveries and labels intact
    row = store.incident(open_id)
    assert row is not None and row["status"] == "open" and row["tier"] == "warning"
    assert row["alerted_tier"] == "warning" and row["level"] == "series"
    assert row["root_cause"] == [] and row["context"][0][1] == 790.0
    assert [(d["state"], d["channel"]) for d in store.deliveries()] == [
        ("open", "slack"),
        ("open", "email"),
    ]
    assert [(lab["label"], lab["cause"]) for lab in store.labels()] == [("benign", "promo")]
    config_path = _setup(folder, server, smtp_port, store=url, schema=schema)
    config = load_config(config_path)
    frame = accounts()
    # the first v4 run: the v4 model's span starts on 05-31 and overlaps the stored one
    _stage(folder, frame, "2025-06-02")
    first = run(config, sleep=lambda _s: None)
    assert first.incidents_opened == 0 and first.deliveries_sent == 0  # nothing paged twice
    drop = _drop_id(store)
    assert drop == open_id  # the stored id stays valid
    row = store.incident(open_id)
    assert row is not None and row["start_period"] == DROP_START.to_pydatetime()
    # later runs escalate it under its v3 id: one page
    for day in pd.date_range("2025-06-03", "2025-06-08", freq="D"):
        _stage(folder, frame, day)
        run(config, sleep=lambda _s: None)
    events = collections.Counter((e["dedup_key"], e["event_action"]) for e in _pd_events(server))
    assert events == {(open_id, "trigger"): 1, (open_id, "resolve"): 1}
    assert store.labels()[0]["incident_id"] == "0123456789abcdef"
    store.dispose()


@pytest.mark.slow
def test_v3_sqlite_store_migrates_and_pages_nothing_twice(
    tmp_path: Path, endpoints: HTTPServer, inbox: tuple[_Inbox, int]
) -> None:
    _box, port = inbox
    _migrate_and_continue(f"sqlite:///{tmp_path}/v3.db", tmp_path, endpoints, port)


@pytest.mark.slow
@pytest.mark.postgres
def test_v3_postgres_store_migrates_and_pages_nothing_twice(
    tmp_path: Path, endpoints: HTTPServer, inbox: tuple[_Inbox, int]
) -> None:
    _box, port = inbox
    schema = f"rw_v3_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        _migrate_and_continue(PG_URL, tmp_path, endpoints, port, schema=schema)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_ack_on_a_resolved_incident_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/v3.db"
    open_id = incident_id("revenue", {"account": "a2"}, pd.Timestamp("2025-06-01"))
    build_v3_store(url, _v3_rows(open_id))
    store = Store(url)
    with pytest.raises(ParameterError) as info:
        store.set_status("0123456789abcdef", "acknowledged")
    assert str(info.value) == ack_refusal("0123456789abcdef")
    assert store.incident("0123456789abcdef")["status"] == "resolved"  # type: ignore[index]
    assert store.set_status(open_id, "acknowledged")["status"] == "acknowledged"


# --------------------------------------------------------------------------
# Small things of the command line
# --------------------------------------------------------------------------


def _many_incidents(url: str, n: int) -> None:
    store = Store(url)
    with store.begin() as conn:
        for i in range(n):
            start = pd.Timestamp("2025-01-01") + pd.Timedelta(days=i)
            store.save_incident(
                conn,
                {
                    "incident_id": incident_id("revenue", {"account": f"a{i}"}, start),
                    "metric": "revenue",
                    "series_key": {"account": f"a{i}"},
                    "start_period": start.to_pydatetime(),
                    "end_period": start.to_pydatetime(),
                    "type": "drop",
                    "direction": "down",
                    "tier": "warning",
                    "impact": -1000.0 - i,
                    "unit": "count" if i % 2 else "money:EUR",
                    "status": "open",
                    "suppressed": False,
                },
            )
    store.dispose()


def test_incidents_list_has_a_header_an_impact_column_and_survives_head(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path}/many.db"
    _many_incidents(url, 3000)
    cli = [sys.executable, "-c", "from revwatch.cli import main; main()"]
    listed = subprocess.run(
        [*cli, "incidents", "list", "--store", url, "--limit", "3"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    header, *lines = listed.stdout.splitlines()
    assert header.split()[:2] == ["id", "status"] and "impact" in header.split()
    assert len(lines) == 3
    assert "−€1,000" not in listed.stdout  # newest first: a2999, a2998, a2997
    assert "−3,999" in lines[0] and "−€3,998" in lines[1]  # each in its unit
    # a reader that stops after one line (`| head -1`): no BrokenPipeError, exit 0
    proc = subprocess.Popen(
        [*cli, "incidents", "list", "--store", url, "--limit", "3000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert first.decode().startswith("id ") and "BrokenPipe" not in err and "Traceback" not in err


def test_help_shows_no_bool_or_list_types() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    cli = [sys.executable, "-c", "from revwatch.cli import main; main()"]
    outputs = []
    for args in (["detect", "--help"], ["incidents", "list", "--help"], ["run", "--help"]):
        result = subprocess.run(
            [*cli, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        assert "--help" in result.stdout
        assert "<bool>" not in result.stdout and "<list[" not in result.stdout
        outputs.append(result.stdout)
    assert "<str>" in outputs[0]  # repeatable options still say what they take


def test_health_with_a_past_now_prints_no_negative_ages(tmp_path: Path) -> None:
    from revwatch.monitor.runner import health

    url = f"sqlite:///{tmp_path}/h.db"
    store = Store(url)
    with store.begin() as conn:
        store.record_model(
            conn,
            metric="revenue",
            method="auto",
            trained_at=pd.Timestamp("2026-03-01").to_pydatetime(),
            train_start=pd.Timestamp("2025-01-01").to_pydatetime(),
            train_end=pd.Timestamp("2026-02-28").to_pydatetime(),
            n_periods=400,
        )
        store.set_watermark(conn, "revenue", pd.Timestamp("2026-02-28").to_pydatetime(), 1)
    report = health(store, now=pd.Timestamp("2025-01-01").to_pydatetime())
    details = {c.name: c.detail for c in report.checks}
    assert not re.search(r"(^| )-\d", details["model:revenue"])  # no "-424.0 days ago"
    assert "424.0 days after the reference time" in details["model:revenue"]
    assert not re.search(r" -\d", details["freshness:revenue"])
    assert "after the reference time" in details["freshness:revenue"]
    later = health(store, now=pd.Timestamp("2026-03-03").to_pydatetime())
    assert "last fit 2.0 days ago" in {c.name: c.detail for c in later.checks}["model:revenue"]


def test_serve_says_its_start_up_line_once(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    pytest.importorskip("fastapi", reason="the web extra is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "REVWATCH_API_TOKEN": "serve-token-0123456789abcdef0123"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from revwatch.cli import main; main()", "serve",
         "--store", f"sqlite:///{tmp_path}/s.db", "--port", str(port)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = "".join(lines)
    assert "Application startup complete" in text or "Uvicorn running" in text, text
    assert text.count(f"http://127.0.0.1:{port}/incidents") == 1, text
