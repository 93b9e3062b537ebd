"""One incident model: the monitor, `detect --incidents`, the web app and the report agree.

Daily revenue of 12 payment-method x country segments (``daily-revenue`` with
segments, March to October 2025) is watched with ``dimensions`` so that
incidents on the total carry root-cause lines. The same file goes through
``revwatch run`` (into a SQLite store) and ``revwatch detect --incidents
--format json``; the store, the JSON API, the incident page and the HTML
report of the run must show the same incidents with the same id, tier,
impact and root cause.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from revwatch.cli import app as cli_app
from revwatch.datasets import generate
from revwatch.monitor.config import load_config
from revwatch.monitor.runner import open_store, run
from revwatch.report.html import render_html_report

pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient

from revwatch.web.app import create_app

TOKEN = "model-token-5e2a"
BASE = "http://localhost"  # an allowed Host; forms post with this Origin
KEYS = ["payment_method", "country"]

CONFIG = """
[store]
url = "sqlite:///store.db"
features_dir = ""

[[sources]]
name = "payments"
path = "revenue.csv"
time = "date"

[[metrics]]
name = "revenue"
source = "payments"
value = "revenue"
keys = ["payment_method", "country"]
dimensions = ["payment_method", "country"]
grain = "daily"

[routing]
critical = []
warning = []
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model")
    frame = generate("daily-revenue", segments=True, seed=42).frame
    frame = frame[(frame["date"] >= "2025-03-01") & (frame["date"] <= "2025-10-31")]
    frame[[*KEYS, "date", "revenue"]].to_csv(path / "revenue.csv", index=False)
    (path / "revwatch.toml").write_text(CONFIG)
    run(load_config(path / "revwatch.toml"))
    return path


@pytest.fixture(scope="module")
def detected(folder: Path) -> list[dict]:
    args = ["detect", str(folder / "revenue.csv"), "--time", "date", "--value", "revenue"]
    for key in KEYS:
        args += ["--id", key, "--dimensions", key]
    result = CliRunner().invoke(cli_app, [*args, "--incidents", "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_monitor_detect_web_and_report_show_the_same_incidents(
    folder: Path, detected: list[dict]
) -> None:
    store = open_store(load_config(folder / "revwatch.toml"))
    stored = {r["incident_id"]: r for r in store.incidents()}
    assert detected and len(stored) == len(detected)
    with_cause = [d for d in detected if d["root_cause"]]
    assert with_cause, "the scenario needs incidents on the total with root cause"
    for item in detected:
        row = stored[item["incident_id"]]  # the same id
        assert row["tier"] == item["tier"]
        assert row["impact"] == pytest.approx(item["impact"], abs=1e-3)
        assert row["root_cause"] == item["root_cause"]
        assert row["annotations"] == item["annotations"]
        assert pd.Timestamp(row["start_period"]) == pd.Timestamp(item["start"])
        assert (row["type"], row["direction"]) == (item["type"], item["direction"])
    top = max(with_cause, key=lambda d: abs(d["impact"]))
    with TestClient(
        create_app(store.url, token=TOKEN), base_url=BASE, headers={"Origin": BASE}
    ) as client:
        api = client.get(
            f"/api/incidents/{top['incident_id']}", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()
        assert (api["incident_id"], api["tier"]) == (top["incident_id"], top["tier"])
        assert api["impact"] == pytest.approx(top["impact"], abs=1e-3)
        assert api["root_cause"] == top["root_cause"]
        # a series incident has no root cause in the model: the page adds no invented one,
        # it describes what the series did, apart
        plain = next(d for d in detected if not d["root_cause"])
        other = client.get(
            f"/api/incidents/{plain['incident_id']}",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).json()
        assert other["root_cause"] == [] and other["series_lines"]
        login = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
        assert login.status_code == 303
        page = client.get(f"/incidents/{top['incident_id']}").text
        for line in top["root_cause"]:
            assert html.escape(line) in page
    report = render_html_report(store, charts=len(stored))
    assert top["incident_id"] in report
    for line in top["root_cause"]:
        assert html.escape(line) in report
    assert f'<span class="tier {top["tier"]}">' in report
