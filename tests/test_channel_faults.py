"""Channels under failure against real local servers: independence, classification, no loss.

One channel answers 500 and another hangs: the others deliver every alert in
the same run, in parallel. Permanent errors (4xx other than 408/429,
malformed URLs) are recorded, shown by ``health`` and never retried; the
transient ones stay queued, and later runs deliver each alert exactly once.
"""

from __future__ import annotations

import collections
import email
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from revwatch.datasets import generate
from revwatch.errors import DeliveryError, RevwatchError
from revwatch.monitor.alerts import Alert, HttpPolicy, WebhookChannel, post_json
from revwatch.monitor.config import load_config
from revwatch.monitor.runner import health, open_store, run
from tests.configs import CHANNELS, Raw, mrr_config, routing, store
from tests.endpoints import HttpEndpoints, SmtpEndpoint

CHANNELS_ROUTED = ["pagerduty", "slack", "webhook", "email"]

CONFIG = mrr_config(
    store_block=store("sqlite:///{folder}/store.db"),
    routes=routing(critical=CHANNELS_ROUTED, warning=CHANNELS_ROUTED, info=CHANNELS_ROUTED),
    alerts={
        "retries": 2,
        "backoff_seconds": 0.05,
        "timeout_seconds": Raw("{timeout}"),
        "channel_budget_seconds": Raw("{budget}"),
        # the scenario catches up six months and must still alert
        "recent_days": 400,
        "dashboard_url": "https://revwatch.example",
    },
    delivers_to=CHANNELS,
    sender="revwatch@test.example",
)


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HttpEndpoints, SmtpEndpoint]]:
    http = HttpEndpoints()
    smtp = SmtpEndpoint("ok")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", http.url("/slack"))
    monkeypatch.setenv("REVWATCH_WEBHOOK_URL", http.url("/hook"))
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "routing-key-for-tests")
    try:
        yield http, smtp
    finally:
        http.close()
        smtp.close()


def _config(folder: Path, http: HttpEndpoints, smtp: SmtpEndpoint, **values: Any) -> Any:
    values = {"timeout": 4, "budget": 6} | values
    path = folder / "revwatch.toml"
    text = CONFIG.format(folder=folder, pd_url=http.url("/pd"), smtp_port=smtp.port, **values)
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _stage(folder: Path, cutoff: str) -> None:
    frame = generate("saas-mrr", seed=42).frame
    frame[frame["month"] <= cutoff].to_csv(folder / "mrr.csv", index=False)


def _run(config: Any) -> tuple[str, float]:
    started = time.monotonic()
    try:
        run(config)
        outcome = "ok"
    except RevwatchError as exc:
        outcome = str(exc)
    return outcome, time.monotonic() - started


def _rows(config: Any, channel: str) -> list[dict[str, Any]]:
    return [d for d in open_store(config).deliveries() if d["channel"] == channel]


@pytest.mark.slow
def test_a_dead_and_a_hanging_channel_never_delay_the_others(
    tmp_path: Path, servers: tuple[HttpEndpoints, SmtpEndpoint]
) -> None:
    http, smtp = servers
    config = _config(tmp_path, http, smtp)
    _stage(tmp_path, "2025-12-01")
    run(config)
    http.modes.update({"/slack": "echo500", "/hook": "hang"})
    _stage(tmp_path, "2026-02-01")
    outcome, _seconds = _run(config)
    assert "failed" in outcome
    pd_rows, mail_rows = _rows(config, "pagerduty"), _rows(config, "email")
    assert len(pd_rows) >= 3, "the scenario must alert"
    # every PagerDuty and email alert went out in this same run
    assert {d["status"] for d in pd_rows} == {"sent"}
    assert {d["status"] for d in mail_rows} == {"sent"}
    assert len(http.bodies("/pd", ok=True)) == len(pd_rows)
    assert len(smtp.messages) == len(mail_rows)
    # ... and did not wait for the hanging webhook (4 s per attempt) nor the 500s
    first = min(http.times("/pd") + http.times("/hook") + http.times("/slack"))
    # (waiting for one hanging attempt alone would take its whole 4 s timeout)
    assert max(http.times("/pd")) - first < 4.0
    assert max(smtp.times) - first < 4.0
    # the dead channels were tried within their budget, then left queued
    assert http.count("/slack") == 3  # one alert: 1 + 2 retries, then the channel stops
    assert 1 <= http.count("/hook") <= 2  # a 4 s timeout inside a 6 s budget
    for channel in ("slack", "webhook"):
        rows = _rows(config, channel)
        assert rows and {d["status"] for d in rows} == {"pending"}, channel
    assert _rows(config, "slack")[0]["last_error"].startswith("slack: HTTP 500")
    assert "timed out" in _rows(config, "webhook")[0]["last_error"]
    # the endpoints recover: the next run delivers the rest, each alert exactly once
    http.release()
    http.modes.update({"/slack": "ok", "/hook": "ok"})
    outcome, _seconds = _run(config)
    assert outcome == "ok"
    for channel in ("pagerduty", "slack", "webhook", "email"):
        assert {d["status"] for d in _rows(config, channel)} == {"sent"}, channel
    assert len(http.bodies("/slack", ok=True)) == len(_rows(config, "slack"))
    hook = [
        (a["incident_id"], a["state"]) for b in http.bodies("/hook", ok=True) for a in b["alerts"]
    ]
    counts = collections.Counter(hook)
    assert set(counts) == {(d["incident_id"], d["state"]) for d in _rows(config, "webhook")}
    assert all(n == 1 for n in counts.values()), counts
    pd_keys = collections.Counter((b["dedup_key"], b["event_action"]) for b in http.bodies("/pd"))
    assert all(n == 1 for n in pd_keys.values()), pd_keys
    assert len(smtp.messages) == len(mail_rows)  # nothing re-sent
    outcome, _ = _run(config)  # a quiet run sends nothing
    assert outcome == "ok" and len(smtp.messages) == len(mail_rows)


def test_permanent_errors_are_recorded_not_retried_and_shown_by_health(
    tmp_path: Path, servers: tuple[HttpEndpoints, SmtpEndpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    http, smtp = servers
    monkeypatch.setenv("REVWATCH_WEBHOOK_URL", http.url("/hook").replace("http://", "htps://"))
    config = _config(tmp_path, http, smtp, timeout=2, budget=5)
    _stage(tmp_path, "2025-12-01")
    run(config)
    http.modes.update({"/slack": "notfound"})
    _stage(tmp_path, "2026-02-01")
    outcome, _ = _run(config)
    assert "failed" in outcome
    slack_rows = _rows(config, "slack")
    assert slack_rows and {d["status"] for d in slack_rows} == {"failed"}
    assert http.count("/slack") == len(slack_rows)  # once each: never retried
    assert all(d["attempts"] == 1 for d in slack_rows)
    hook_rows = _rows(config, "webhook")
    assert {d["status"] for d in hook_rows} == {"failed"} and http.count("/hook") == 0
    assert "malformed endpoint URL" in hook_rows[0]["last_error"]
    assert {d["status"] for d in _rows(config, "pagerduty")} == {"sent"}
    checks = {c.name: c for c in health(open_store(config), config).checks}
    assert checks["delivery:slack"].status == "critical"
    assert f"{len(slack_rows)} alerts refused for good" in checks["delivery:slack"].detail
    assert checks["delivery:webhook"].status == "critical"
    # fixing the endpoint does not resend what was refused for good
    http.modes.update({"/slack": "ok"})
    before = http.count("/slack")
    _run(config)
    assert http.count("/slack") == before


@pytest.mark.parametrize(
    ("mode", "permanent", "requests"),
    [
        ("s400", True, 1),
        ("s401", True, 1),
        ("s403", True, 1),
        ("s404", True, 1),
        ("s410", True, 1),
        ("s408", False, 3),
        ("s429", False, 3),
        ("s500", False, 3),
        ("s502", False, 3),
        ("s503", False, 3),
    ],
)
def test_http_errors_are_classified(mode: str, permanent: bool, requests: int) -> None:
    http = HttpEndpoints()
    http.modes["/x"] = mode
    try:
        policy = HttpPolicy(retries=2, backoff=0.01, max_backoff=0.02, timeout=2)
        with pytest.raises(DeliveryError) as caught:
            post_json(http.url("/x"), {"a": 1}, name="test", policy=policy)
        assert caught.value.permanent is permanent  # type: ignore[attr-defined]
        assert http.count("/x") == requests
    finally:
        http.close()


@pytest.mark.parametrize("url", ["htps://127.0.0.1:1/x", "http:///nohost", "ftp://127.0.0.1/x"])
def test_malformed_urls_are_permanent_and_send_nothing(url: str) -> None:
    with pytest.raises(DeliveryError, match="malformed endpoint URL") as caught:
        post_json(url, {}, name="test", policy=HttpPolicy(retries=3, backoff=0.01))
    assert caught.value.permanent is True  # type: ignore[attr-defined]


def test_the_budget_bounds_a_hanging_endpoint() -> None:
    http = HttpEndpoints()
    http.modes["/x"] = "hang"
    try:
        policy = HttpPolicy(retries=10, backoff=0.01, timeout=30, deadline=time.monotonic() + 1.0)
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"timed out|budget") as caught:
            post_json(http.url("/x"), {}, name="test", policy=policy)
        assert time.monotonic() - started < 3.0
        assert caught.value.permanent is False  # type: ignore[attr-defined]
    finally:
        http.close()


# ------------------------------------------------------------ messages

INCIDENT = {
    "incident_id": "ab12cd34ef56ab78",
    "metric": "mrr",
    "series_key": {"account": "Smith & <Sons> Ltd"},
    "type": "drop",
    "direction": "down",
    "tier": "critical",
    "severity": 5.0,
    "impact": -1000.0,
    "start_period": "2026-01-01",
    "end_period": "2026-01-01",
    "status": "resolved",
}


def test_email_has_date_message_id_and_the_incident_link(
    servers: tuple[HttpEndpoints, SmtpEndpoint],
) -> None:
    from revwatch.monitor.alerts import EmailChannel

    _http, smtp = servers
    channel = EmailChannel(
        "127.0.0.1",
        smtp.port,
        "revwatch@test.example",
        ["oncall@test"],
        dashboard_url="https://revwatch.example/",
    )
    channel.send([Alert(incident=dict(INCIDENT, context=[]), state="open")])
    (raw,) = smtp.messages
    message = email.message_from_bytes(raw)
    assert email.utils.parsedate_to_datetime(message["Date"]) is not None
    assert message["Message-ID"].startswith("<") and "@test.example>" in message["Message-ID"]
    link = "https://revwatch.example/incidents/ab12cd34ef56ab78"
    texts = [
        p.get_payload(decode=True).decode()
        for p in message.walk()
        if p.get_content_maintype() == "text"
    ]
    assert all(link in text for text in texts) and len(texts) == 2
    assert "Smith &amp; &lt;Sons&gt; Ltd" in texts[1]  # the HTML part is escaped


def test_slack_escapes_control_characters() -> None:
    from revwatch.monitor.alerts import SlackChannel

    body = SlackChannel("http://x", dashboard_url="https://rw.example").payload(
        [Alert(incident=INCIDENT, state="open")]
    )
    assert "Smith &amp; &lt;Sons&gt; Ltd" in body["text"]
    section = body["blocks"][1]
    assert "Smith &amp; &lt;Sons&gt; Ltd" in section["text"]["text"]
    assert "<Sons>" not in str(body["blocks"][1:])
    assert "<https://rw.example/incidents/ab12cd34ef56ab78|ab12cd34ef56ab78>" in str(section)


def test_webhook_payload_says_which_change_it_announces() -> None:
    channel = WebhookChannel("http://x")
    opened = channel.payload([Alert(incident=INCIDENT, state="open")])["alerts"][0]
    assert opened["event"] == "opened" and opened["status"] == "open"
    assert opened["current_status"] == "resolved"  # it resolved before the message went out
    resolved = channel.payload([Alert(incident=INCIDENT, state="resolved")])["alerts"][0]
    assert resolved["event"] == "resolved" and resolved["status"] == "resolved"
