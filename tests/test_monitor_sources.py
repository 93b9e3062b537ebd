"""`revwatch run` over the other source kinds: raw payment events and a SQL query."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from revwatch.datasets import generate
from revwatch.errors import RevwatchError
from revwatch.monitor.config import load_config
from revwatch.monitor.runner import open_store, run

EVENTS_CONFIG = """
[store]
url = "sqlite:///{store}"

[[sources]]
name = "payments"
kind = "events"
path = "events.csv"
grain = "daily"
dimensions = ["country"]

[[metrics]]
name = "success"
source = "payments"
value = "payment_success_rate"
keys = ["country"]
grain = "daily"
method = "auto"

[routing]
critical = []
warning = []
"""

SQL_CONFIG = """
[store]
url = "sqlite:///{store}"

[[sources]]
name = "warehouse"
kind = "sql"
url_env = "REVWATCH_TEST_DB_URL"
query = "select account, month, revenue from mrr"
time = "month"

[[metrics]]
name = "mrr"
source = "warehouse"
value = "revenue"
keys = ["account"]
grain = "monthly"

[routing]
critical = []
warning = []
"""


def _payment_events(seed: int = 3) -> pd.DataFrame:
    """Charge attempts for 4 countries over 70 days; DE card payments fail on day 60."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2025-01-01", periods=70, freq="D")
    countries = np.array(["US", "UK", "DE", "FR"])
    per_day = 400
    day_idx = np.repeat(np.arange(len(days)), per_day * len(countries))
    country = np.tile(np.repeat(countries, per_day), len(days))
    seconds = rng.integers(0, 86_400, size=day_idx.size)
    timestamp = days.values[day_idx] + seconds.astype("timedelta64[s]")
    fail_p = np.full(day_idx.size, 0.04)
    fail_p[(day_idx == 60) & (country == "DE")] = 0.60
    u = rng.random(day_idx.size)
    status = np.where(u < fail_p, "failed", np.where(u < fail_p + 0.02, "refunded", "succeeded"))
    return pd.DataFrame(
        {
            "timestamp": timestamp,
            "amount": rng.gamma(4.0, 20.0, size=day_idx.size).round(2),
            "currency": "USD",
            "status": status,
            "country": country,
        }
    )


def test_raw_payment_events_are_aggregated_and_scored(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _payment_events().to_csv("events.csv", index=False)
    Path("revwatch.toml").write_text(EVENTS_CONFIG.format(store=tmp_path / "rw.db"))
    config = load_config("revwatch.toml")
    report = run(config)
    assert report.status == "ok"
    store = open_store(config)
    incidents = store.incidents()
    outage_day = pd.Timestamp("2025-03-02")
    on_day = [i for i in incidents if pd.Timestamp(i["start_period"]) == outage_day]
    assert [i["series_key"] for i in on_day] == [{"country": "DE"}], incidents
    assert on_day[0]["direction"] == "down"
    assert on_day[0]["metric"] == "success"
    # the success rate fell from about 0.96 to about 0.40
    assert on_day[0]["impact"] < -0.4
    # a re-run finds nothing new
    again = run(config)
    assert again.status == "empty"


def test_sql_source_is_read_and_a_broken_query_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "warehouse.db"
    frame = generate("saas-mrr", seed=42).frame
    frame = frame.assign(month=frame["month"].dt.strftime("%Y-%m-%d"))
    with sqlite3.connect(db) as conn:
        frame.to_sql("mrr", conn, index=False)
    monkeypatch.setenv("REVWATCH_TEST_DB_URL", f"sqlite:///{db}")
    Path("revwatch.toml").write_text(SQL_CONFIG.format(store=tmp_path / "rw.db"))
    config = load_config("revwatch.toml")
    assert run(config).status == "ok"
    stored = open_store(config).incidents()
    accounts = {i["series_key"]["account"] for i in stored}
    assert {"Apex Holdings", "Lighthouse Media", "Crestline Industries"} <= accounts
    # the churn is one incident over its event (onset to confirmation), with its money interval
    apex = next(i for i in stored if i["series_key"]["account"] == "Apex Holdings")
    assert pd.Timestamp(apex["end_period"]) > pd.Timestamp(apex["start_period"])
    assert apex["impact_low"] <= apex["impact"] <= apex["impact_high"] < 0
    assert apex["impact"] < -2 * 20_000  # more than the onset month's ~ -23k

    broken = SQL_CONFIG.replace("from mrr", "from no_such_table")
    Path("broken.toml").write_text(broken.format(store=tmp_path / "rw.db"))
    before = len(open_store(config).incidents())
    with pytest.raises(RevwatchError, match=r"no_such_table|no such table"):
        run(load_config("broken.toml"))
    assert len(open_store(config).incidents()) == before


ROUTED_CONFIG = """
[store]
url = "sqlite:///{store}"

[[sources]]
name = "mrr"
path = "mrr.csv"
time = "month"

[[metrics]]
name = "mrr"
source = "mrr"
value = "revenue"
keys = ["account"]
grain = "monthly"

[metrics.routing]
critical = ["webhook"]
warning = ["webhook"]

[metrics.tiers]
critical_severity = 3.0
warning_severity = 2.0

[routing]
critical = ["slack"]
warning = ["slack"]

[alerts]
retries = 1
backoff_seconds = 0.01

[alerts.slack]
webhook_url_env = "SLACK_WEBHOOK_URL"

[alerts.webhook]
url_env = "REVWATCH_WEBHOOK_URL"
"""


def test_a_metric_can_route_its_alerts_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver
) -> None:
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    httpserver.expect_request("/webhook", method="POST").respond_with_data("", status=204)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", httpserver.url_for("/slack"))
    monkeypatch.setenv("REVWATCH_WEBHOOK_URL", httpserver.url_for("/webhook"))
    monkeypatch.chdir(tmp_path)
    frame = generate("saas-mrr", seed=42).frame
    Path("revwatch.toml").write_text(ROUTED_CONFIG.format(store=tmp_path / "rw.db"))
    config = load_config("revwatch.toml")
    # history first (recorded without alerting), then the months up to the churn: a run that
    # catches up further would record incidents that ended before its recent window silently
    frame[frame["month"] < "2025-12-01"].to_csv("mrr.csv", index=False)
    run(config)
    frame[frame["month"] < "2026-03-01"].to_csv("mrr.csv", index=False)
    report = run(config)
    assert report.deliveries_sent >= 1
    paths = [request.path for request, _ in httpserver.log]
    assert "/webhook" in paths
    assert "/slack" not in paths


# --------------------------------------------------------------------------- read by the loader


def _events_source(tmp_path: Path, path: str) -> object:
    config = EVENTS_CONFIG.replace('path = "events.csv"', f'path = "{path}"')
    (tmp_path / "revwatch.toml").write_text(config.format(store=tmp_path / "rw.db"))
    return load_config(tmp_path / "revwatch.toml").source("payments")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("events.csv", b""),  # empty file
        ("events.json", b'{"a": 1}'),  # a type the loader does not read
        ("events.parquet", b"not a parquet file"),  # unreadable
    ],
)
def test_event_files_fail_as_detect_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes
) -> None:
    """An events file the loader refuses gives the loader's message (the one `detect` gives)."""
    from revwatch import load
    from revwatch.monitor.runner import _read_events

    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(content)
    source = _events_source(tmp_path, name)
    with pytest.raises(RevwatchError) as from_detect:
        load(tmp_path / name)
    with pytest.raises(RevwatchError) as from_monitor:
        _read_events(source)  # type: ignore[arg-type]
    assert type(from_monitor.value) is type(from_detect.value)
    assert str(from_monitor.value) == str(from_detect.value)


def test_event_files_are_read_by_the_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A glob of event files is read as the loader reads them: numbers stay numbers (a numeric
    dimension keeps its series key), the text stays text, a `;` export is sniffed."""
    from revwatch.data import read_table
    from revwatch.monitor.runner import _read_events

    monkeypatch.chdir(tmp_path)
    events = _payment_events().head(6).assign(country=[1, 2, 1, 2, 1, 2])
    events.iloc[:3].to_csv("events-1.csv", index=False)
    events.iloc[3:].to_csv("events-2.csv", index=False, sep=";")
    source = _events_source(tmp_path, "events-*.csv")
    read = _read_events(source)  # type: ignore[arg-type]
    assert read["country"].tolist() == [1, 2, 1, 2, 1, 2]
    assert read["amount"].tolist() == events["amount"].tolist()
    assert read["status"].tolist() == events["status"].tolist()
    first = read_table("events-1.csv")
    assert first.dtypes.to_dict() == read.iloc[:3].dtypes.to_dict()
    assert pd.to_datetime(read["timestamp"]).tolist() == events["timestamp"].tolist()
