"""A later step of a staged move reopens the resolved incident, and its resolve follows.

The incident model joins a same-direction move that starts before the series came back to the
incident before it (`cascade`). In the nightly run that incident may already be resolved; the
step must still be announced: `reopen:1` on the channels, then `resolved:1`. Real SQLite store,
real HTTP webhook on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pytest_httpserver import HTTPServer

from revwatch.monitor.config import load_config
from revwatch.monitor.runner import open_store, run
from tests.configs import channels, routing, store, table

DAY0 = pd.Timestamp("2025-01-01")


def _config(folder: Path, url: str) -> Path:
    source = {"name": "rev", "path": str(folder / "rev.csv"), "time": "day"}
    metric = {"name": "rev", "source": "rev", "value": "rev", "keys": ["acct"], "grain": "daily"}
    text = "\n\n".join(
        [
            store(f"sqlite:///{folder / 'store.db'}"),
            table("sources", source, array=True),
            table("metrics", metric, array=True),
            table("metrics.tiers", {"critical_confidence": 0.5, "warning_confidence": 0.5}),
            routing(critical=["webhook"], warning=["webhook"], info=["webhook"]),
            table("alerts", {"retries": 0, "backoff_seconds": 0.01}),
            channels("webhook", webhook_url=url),
        ]
    )
    path = folder / "revwatch.toml"
    path.write_text(text + "\n")
    return path


def test_a_later_step_reopens_the_resolved_incident(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    rng = np.random.default_rng(11)
    n = 112
    values = 1000.0 * (1.0 + 0.02 * rng.standard_normal(n))
    values[60:] *= 0.6  # first step down: a level shift, confirmed a week later
    values[92:] *= 0.65  # second step, 25 days after the first ended: never came back
    frame = pd.DataFrame(
        {"acct": "a", "day": pd.date_range(DAY0, periods=n, freq="D"), "rev": values}
    )
    config = load_config(_config(tmp_path, httpserver.url_for("/hook")))
    # day by day from day 50, as a nightly run meets the data
    for last in range(50, n):
        frame.iloc[: last + 1].to_csv(tmp_path / "rev.csv", index=False)
        run(config, sleep=lambda _s: None)
    db = open_store(config)
    ledger = db.deliveries()
    incidents = [i for i in db.incidents() if i["direction"] == "down"]
    assert len(incidents) == 1, incidents  # the two steps are one incident
    ident = incidents[0]["incident_id"]
    states = [d["state"] for d in ledger if d["incident_id"] == ident]
    # announced, resolved once the first step settled, open again with the second step,
    # resolved again once that settled
    assert states == ["open", "resolved", "reopen:1", "resolved:1"], states
    assert {d["status"] for d in ledger} == {"sent"}
    events = [
        item["event"]
        for req, _ in httpserver.log
        for item in (req.get_json(silent=True) or {}).get("alerts", [])
        if item["incident_id"] == ident
    ]
    assert events == ["opened", "resolved", "reopened", "resolved"]
