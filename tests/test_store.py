"""Store: migrations from v1, the unique delivery ledger, status changes, feedback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from revwatch.errors import ParameterError, StoreError
from revwatch.monitor.store import LATEST_VERSION, Store


def _incident(store: Store, incident_id: str = "inc0000000000001") -> None:
    with store.begin() as conn:
        store.save_incident(
            conn,
            {
                "incident_id": incident_id,
                "metric": "mrr",
                "series_key": {"account": "Acme"},
                "start_period": dt.datetime(2025, 1, 1),
                "end_period": dt.datetime(2025, 1, 1),
                "type": "drop",
                "direction": "down",
                "tier": "critical",
                "severity": 9.0,
                "impact": -100.0,
                "status": "open",
                "suppressed": False,
                "first_seen_run": 1,
            },
        )


def test_upgrade_from_v1_keeps_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Store(url, target_version=1)
    assert old.version == 1
    with old.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO incidents (incident_id, metric, series_key, start_period, end_period,"
                " type, direction, tier, status, suppressed) VALUES ('x1', 'mrr', '{}',"
                " '2025-01-01 00:00:00', '2025-01-01 00:00:00', 'drop', 'down', 'warning',"
                " 'open', 0)"
            )
        )
    old.dispose()
    new = Store(url)
    assert new.version == LATEST_VERSION == 4
    row = new.incident("x1")
    assert row is not None and row["status"] == "open" and row["last_seen_run"] is None
    assert row["impact_low"] is None and row["impact_high"] is None  # added by v3
    assert new.watermark("mrr") is None
    assert set(sa.inspect(new.engine).get_table_names()) >= {"feedback", "scores", "models"}


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE schema_version SET version = 99"))
    with pytest.raises(StoreError, match="newer than this revwatch"):
        Store(url)


def test_ledger_is_unique_per_incident_state_channel() -> None:
    store = Store("sqlite://")
    _incident(store)
    with store.begin() as conn:
        added = store.enqueue(conn, "inc0000000000001", "open", ["slack", "pagerduty"], run_id=1)
        assert added == 2
        assert store.enqueue(conn, "inc0000000000001", "open", ["slack"], run_id=2) == 0
    assert len(store.deliveries()) == 2


def test_resolve_queues_resolved_on_triggered_channels_only() -> None:
    store = Store("sqlite://")
    _incident(store)
    with store.begin() as conn:
        store.enqueue(conn, "inc0000000000001", "open", ["pagerduty"], run_id=1)
    store.mark_delivery([store.deliveries()[0]["id"]], "sent")
    row = store.set_status("inc000000", "resolved")
    assert row["status"] == "resolved"
    resolved = store.deliveries(status="pending")
    assert [(d["state"], d["channel"]) for d in resolved] == [("resolved", "pagerduty")]
    store.set_status("inc0000000000001", "resolved")  # already resolved: nothing new
    assert len(store.deliveries()) == 2


def test_crashed_run_is_marked_by_the_next() -> None:
    store = Store("sqlite://")
    first = store.start_run("a.toml")
    second = store.start_run("a.toml")
    statuses = {r["id"]: r["status"] for r in store.runs()}
    assert statuses == {first: "crashed", second: "running"}


def test_labels_and_errors() -> None:
    store = Store("sqlite://")
    _incident(store)
    store.add_label("inc0000000000001", "benign", cause="promo")
    (label,) = store.labels(label="benign")
    assert label["cause"] == "promo" and label["type"] == "drop"
    with pytest.raises(ParameterError, match="benign or confirmed"):
        store.add_label("inc0000000000001", "maybe")
    with pytest.raises(ParameterError, match="no incident"):
        store.set_status("missing", "acknowledged")


def test_transaction_rolls_back_on_error() -> None:
    store = Store("sqlite://")

    class BoomError(Exception):
        pass

    def crash() -> None:
        with store.begin() as conn:
            store.set_watermark(conn, "mrr", dt.datetime(2025, 1, 1), 1)
            raise BoomError

    with pytest.raises(BoomError):
        crash()
    assert store.watermark("mrr") is None
