"""End to end: `revwatch run` on generated data, alerts to real local servers, re-runs, crashes.

Monthly MRR of 30 accounts (``saas-mrr``) arrives in stages; each stage is run
twice. Alerts go to a pytest-httpserver (Slack, PagerDuty, webhook) and an
aiosmtpd SMTP server. The test asserts exactly one delivery per incident,
state change and channel, and that resolves reach PagerDuty with the
trigger's dedup key.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from revwatch.cli import app
from revwatch.datasets import generate
from revwatch.errors import RevwatchError
from revwatch.monitor.config import load_config
from revwatch.monitor.runner import open_store, run
from tests.configs import CHANNELS, mrr_config, routing, store
from tests.test_alerts import _Inbox, free_port

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STAGES = ("2025-12-01", "2026-01-01", "2026-02-01", "2026-06-01")

CONFIG = mrr_config(
    store_block=store("{store}", schema=True, features_dir="features"),
    source_path="mrr.csv",
    tiers={"critical_severity": 3.0, "warning_severity": 2.0},
    routes=routing(critical=["pagerduty", "slack", "webhook", "email"], warning=["slack"]),
    alerts={"retries": 2, "backoff_seconds": 0.01, "in_doubt": "{in_doubt}"},
    delivers_to=CHANNELS,
)


@pytest.fixture(scope="module")
def mrr() -> pd.DataFrame:
    return generate("saas-mrr", seed=42).frame


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
    httpserver.expect_request("/webhook", method="POST").respond_with_data("", status=204)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", httpserver.url_for("/slack"))
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "test-routing-key")
    monkeypatch.setenv("REVWATCH_WEBHOOK_URL", httpserver.url_for("/webhook"))
    return httpserver


def _setup(
    folder: Path,
    server: HTTPServer,
    smtp_port: int,
    *,
    store: str | None = None,
    schema: str | None = None,
    in_doubt: str = "resend",
) -> Path:
    text = CONFIG.format(
        store=store or "sqlite:///store.db",
        schema=f'schema = "{schema}"' if schema else "",
        pd_url=server.url_for("").rstrip("/"),
        smtp_port=smtp_port,
        in_doubt=in_doubt,
    )
    path = folder / "revwatch.toml"
    path.write_text(text)
    return path


def _stage(folder: Path, frame: pd.DataFrame, cutoff: str) -> None:
    frame[frame["month"] <= cutoff].to_csv(folder / "mrr.csv", index=False)


def _requests(server: HTTPServer, path: str) -> list[dict]:
    return [req.get_json(silent=True) or {} for req, _ in server.log if req.path == path]


def _check_exactly_once(config_path: Path, server: HTTPServer, box: _Inbox) -> None:
    store = open_store(load_config(config_path))
    ledger = store.deliveries()
    assert ledger, "the scenario must alert"
    assert {d["status"] for d in ledger} == {"sent"}
    keys = [(d["incident_id"], d["state"], d["channel"]) for d in ledger]
    assert len(keys) == len(set(keys))
    per_channel = collections.Counter(d["channel"] for d in ledger)
    events = _requests(server, "/v2/enqueue")
    pd_keys = collections.Counter((e["dedup_key"], e["event_action"]) for e in events)
    assert all(n == 1 for n in pd_keys.values()), pd_keys
    assert len(events) == per_channel["pagerduty"]
    triggered = {k for k, action in pd_keys if action == "trigger"}
    resolved = {k for k, action in pd_keys if action == "resolve"}
    assert resolved and resolved <= triggered
    assert len(_requests(server, "/slack")) == per_channel["slack"]
    assert len(_requests(server, "/webhook")) == per_channel["webhook"]
    assert len(box.messages) == per_channel["email"]
    # every incident that was announced and is resolved now has its resolve delivered
    for incident in store.incidents(status="resolved"):
        opened = {d["channel"] for d in ledger if d["incident_id"] == incident["incident_id"]}
        if opened:
            assert ("resolved", "pagerduty") in {
                (d["state"], d["channel"])
                for d in ledger
                if d["incident_id"] == incident["incident_id"]
            }


def _run_stages(config_path: Path, frame: pd.DataFrame) -> None:
    config = load_config(config_path)
    for cutoff in STAGES:
        _stage(config_path.parent, frame, cutoff)
        first = run(config, sleep=lambda _s: None)
        second = run(config, sleep=lambda _s: None)
        assert second.status == "empty" and second.deliveries_sent == 0
        assert first.status == "ok"


def test_sqlite_runs_alert_exactly_once(
    tmp_path: Path,
    mrr: pd.DataFrame,
    endpoints: HTTPServer,
    inbox: tuple[_Inbox, int],
) -> None:
    box, port = inbox
    config_path = _setup(tmp_path, endpoints, port)
    _run_stages(config_path, mrr)
    _check_exactly_once(config_path, endpoints, box)
    store = open_store(load_config(config_path))
    assert store.watermark("mrr") == pd.Timestamp(STAGES[-1]).to_pydatetime()
    history = [i for i in store.incidents() if i["resolution"] == "history"]
    assert history, "incidents before the first run are recorded without alerts"
    parts = list((tmp_path / "features" / "metric=mrr").glob("date=*/*.parquet"))
    assert len(parts) == len(mrr["month"].unique())
    features = pd.read_parquet(tmp_path / "features")
    assert len(features) == len(mrr)  # each period written once, no duplicates
    weekly = CliRunner().invoke(
        app, ["health", "--config", str(config_path), "--now", "2026-07-02"]
    )
    assert weekly.exit_code == 0, weekly.output


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_runs_alert_exactly_once(
    tmp_path: Path,
    mrr: pd.DataFrame,
    endpoints: HTTPServer,
    inbox: tuple[_Inbox, int],
) -> None:
    box, port = inbox
    schema = f"rw_test_{uuid.uuid4().hex[:10]}"
    config_path = _setup(tmp_path, endpoints, port, store=PG_URL, schema=schema)
    try:
        _run_stages(config_path, mrr)
        _check_exactly_once(config_path, endpoints, box)
    finally:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_failing_endpoint_keeps_the_ledger_and_fails_the_run(
    tmp_path: Path, mrr: pd.DataFrame, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/slack").respond_with_data("no_service", status=404)
    httpserver.expect_request("/v2/enqueue").respond_with_data("busy", status=503)
    httpserver.expect_request("/webhook").respond_with_data("", status=204)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", httpserver.url_for("/slack"))
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "k")
    monkeypatch.setenv("REVWATCH_WEBHOOK_URL", httpserver.url_for("/webhook"))
    config_path = _setup(tmp_path, httpserver, free_port())
    config = load_config(config_path)
    _stage(tmp_path, mrr, STAGES[0])
    run(config)
    _stage(tmp_path, mrr, STAGES[1])
    with pytest.raises(RevwatchError, match="failed"):
        run(config, sleep=lambda _s: None)
    store = open_store(config)
    status = {d["channel"]: d["status"] for d in store.deliveries()}
    assert status["slack"] == "failed"  # 404: not retried, not resent
    assert status["pagerduty"] == "pending"  # 503: retried next run
    assert status["webhook"] == "sent"
    assert store.watermark("mrr") == pd.Timestamp(STAGES[1]).to_pydatetime()
    assert store.runs()[0]["status"] == "failed"
    assert len(_requests(httpserver, "/slack")) == 1


# A run killed at a chosen point, injected from the test: the subprocess wraps one store
# method so that the process dies (os._exit, no cleanup) right where a crash would hurt.
_KILLED_RUN = """
import os, sys
from revwatch.monitor.store import Store
point = sys.argv.pop(1)
if point == "before_commit":  # the watermark is written, its transaction not committed
    write_watermark = Store.set_watermark
    def set_watermark(self, *args, **kwargs):
        write_watermark(self, *args, **kwargs)
        os._exit(1)
    Store.set_watermark = set_watermark
elif point == "after_send":  # an alert went out, its delivery not yet marked sent
    mark = Store.mark_delivery
    def mark_delivery(self, ids, status, *args, **kwargs):
        if status == "sent":
            os._exit(1)
        return mark(self, ids, status, *args, **kwargs)
    Store.mark_delivery = mark_delivery
from revwatch.cli import main
sys.argv[0] = "revwatch"
main()
"""


def _cli_run(config_path: Path, crash: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, crash or "none", "run", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("crash", "in_doubt"), [("before_commit", "resend"), ("after_send", "skip")]
)
def test_killed_run_leaves_store_consistent(
    tmp_path: Path,
    mrr: pd.DataFrame,
    endpoints: HTTPServer,
    inbox: tuple[_Inbox, int],
    crash: str,
    in_doubt: str,
) -> None:
    _box, port = inbox
    config_path = _setup(tmp_path, endpoints, port, in_doubt=in_doubt)
    config = load_config(config_path)
    _stage(tmp_path, mrr, STAGES[0])
    run(config)
    _stage(tmp_path, mrr, STAGES[1])
    killed = _cli_run(config_path, crash)
    assert killed.returncode == 1, killed.stderr
    store = open_store(config)
    if crash == "before_commit":
        # nothing of the interrupted metric was committed
        assert store.watermark("mrr") == pd.Timestamp(STAGES[0]).to_pydatetime()
        assert store.deliveries() == []
        assert all(i["resolution"] == "history" for i in store.incidents())
    else:
        assert "sending" in {d["status"] for d in store.deliveries()}
    rerun = _cli_run(config_path, None)
    assert rerun.returncode == 0, rerun.stderr
    runs = store.runs()
    assert [r["status"] for r in runs][-2:] == ["crashed", "ok"]
    ledger = store.deliveries()
    keys = [(d["incident_id"], d["state"], d["channel"]) for d in ledger]
    assert len(keys) == len(set(keys))
    sent_or_skipped = {d["status"] for d in ledger}
    assert sent_or_skipped <= {"sent", "skipped"}
    events = _requests(endpoints, "/v2/enqueue")
    pd_keys = collections.Counter((e["dedup_key"], e["event_action"]) for e in events)
    assert pd_keys and all(n == 1 for n in pd_keys.values()), pd_keys


def test_cli_incidents_feedback(
    tmp_path: Path, mrr: pd.DataFrame, endpoints: HTTPServer, inbox: tuple[_Inbox, int]
) -> None:
    _, port = inbox
    config_path = _setup(tmp_path, endpoints, port)
    config = load_config(config_path)
    _stage(tmp_path, mrr, STAGES[0])
    run(config)
    runner = CliRunner()
    listed = runner.invoke(app, ["incidents", "list", "--config", str(config_path), "--json"])
    assert listed.exit_code == 0, listed.output
    store = open_store(config)
    first = store.incidents()[0]
    ident = first["incident_id"]
    shown = runner.invoke(app, ["incidents", "show", ident[:8], "--config", str(config_path)])
    assert shown.exit_code == 0 and ident in shown.output
    labelled = runner.invoke(
        app,
        [
            "incidents",
            "label",
            ident,
            "--as",
            "benign",
            "--cause",
            "promo",
            "--config",
            str(config_path),
        ],
    )
    assert labelled.exit_code == 0, labelled.output
    assert store.labels(label="benign")[0]["cause"] == "promo"
    bad = runner.invoke(
        app, ["incidents", "label", ident, "--as", "maybe", "--config", str(config_path)]
    )
    assert bad.exit_code == 2
    assert (
        runner.invoke(app, ["incidents", "ack", "nope", "--config", str(config_path)]).exit_code
        == 2
    )
