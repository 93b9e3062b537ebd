"""Plant a recognisable secret in every configurable place, break every endpoint, grep everything.

Secrets: the Slack webhook URL's last path segment, the PagerDuty routing key,
the SMTP password and a webhook URL's ``?token=``. Breakages: an Express-style
404 (``Cannot POST <path?query>``), a 500 echoing the request, a 400 echoing
the body, an SMTP server echoing the login, and malformed URLs (a stray
newline, a ``htps://`` typo). Then stdout, stderr, the logs, the store file,
every page and every API response are searched for each secret.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revwatch.cli import app as cli_app
from revwatch.datasets import generate
from revwatch.monitor.store import Store
from revwatch.redact import clear_secrets
from tests.endpoints import HttpEndpoints, SmtpEndpoint

pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient

from revwatch.web.app import create_app
from tests.configs import CHANNELS, mrr_config, routing, store, table

SLACK_SECRET = "SLACKsecret7f3a9cQ"
PD_KEY = "PDroutingKEY0b1c2d3e4f"
SMTP_PASSWORD = "SMTPpassw0rd5e6fZ"
HOOK_TOKEN = "HOOKtoken8a9b0cX"
API_TOKEN = "api-token-for-the-secret-test-1"
SECRETS = (SLACK_SECRET, PD_KEY, SMTP_PASSWORD, HOOK_TOKEN, API_TOKEN)

CONFIG = mrr_config(
    store_block=store("sqlite:///{folder}/store.db"),
    routes=routing(
        critical=["pagerduty", "slack", "webhook", "email"], warning=["slack", "webhook", "email"]
    ),
    alerts={
        "retries": 1,
        "backoff_seconds": 0.01,
        "timeout_seconds": 2,
        "channel_budget_seconds": 20,
        "dashboard_url": "http://127.0.0.1:8000",
    },
    delivers_to=CHANNELS,
    email_login=True,
    extra=table("web", {"token_env": "REVWATCH_API_TOKEN"}),
)

# how each channel is broken: (http modes by path, smtp mode, slack url, webhook url, pd path)
BREAKS = {
    "express-404": ({"/services": "express", "/hook": "express", "/pd": "express"}, "echo-auth"),
    "echo-500": ({"/services": "echo500", "/hook": "echo500", "/pd": "echo500"}, "echo550"),
    "echo-400": ({"/services": "echo400", "/hook": "echo400", "/pd": "echo400"}, "echo-auth"),
    "malformed-url": ({"/pd": "echo400"}, "echo-auth"),
}


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    clear_secrets()  # prove that the channels themselves register what they read
    yield
    clear_secrets()


def _config(folder: Path, http: HttpEndpoints, smtp: SmtpEndpoint) -> Path:
    path = folder / "revwatch.toml"
    path.write_text(
        CONFIG.format(folder=folder, pd_url=http.url("/pd"), smtp_port=smtp.port), encoding="utf-8"
    )
    return path


def _everything_shown(folder: Path, config: Path, outputs: list[str]) -> dict[str, str]:
    """Every text a person or a program can see: CLI, store bytes, pages, API."""
    seen = {f"output {i}": text for i, text in enumerate(outputs)}
    url = f"sqlite:///{folder}/store.db"
    seen["store file"] = (folder / "store.db").read_bytes().decode("latin-1")
    with sqlite3.connect(folder / "store.db") as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            seen[f"table {table}"] = repr(rows)
    runner = CliRunner()
    store = Store(url)
    ids = [r["incident_id"] for r in store.incidents()]
    assert ids, "the scenario must open incidents"
    commands = [
        ["incidents", "list", "--config", str(config), "--json"],
        ["health", "--config", str(config)],
        ["health", "--config", str(config), "--json"],
        *[["incidents", "show", i, "--config", str(config)] for i in ids],
    ]
    for args in commands:
        seen[" ".join(args[:2])] = runner.invoke(cli_app, args).output
    app = create_app(url, token=API_TOKEN)
    base = "http://localhost"
    with TestClient(app, base_url=base, headers={"Origin": base}) as client:
        login = client.post("/login", data={"token": API_TOKEN}, follow_redirects=False)
        assert login.status_code == 303
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        paths = ["/incidents", "/runs", "/series?q=a", "/api/incidents", "/api/runs"]
        paths += ["/api/health", "/api/openapi.json"]
        paths += [f"/incidents/{i}" for i in ids] + [f"/api/incidents/{i}" for i in ids]
        for path in paths:
            answer = client.get(path, headers=auth)
            assert answer.status_code == 200, path
            seen[path] = answer.text + repr(dict(answer.headers))
    return seen


@pytest.mark.parametrize("breakage", list(BREAKS))
def test_no_secret_leaks_when_endpoints_break(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    breakage: str,
) -> None:
    modes, smtp_mode = BREAKS[breakage]
    http = HttpEndpoints()
    http.modes.update(modes)
    smtp = SmtpEndpoint(smtp_mode)
    try:
        slack = http.url(f"/services/T000/B000/{SLACK_SECRET}")
        hook = http.url(f"/hook?token={HOOK_TOKEN}")
        if breakage == "malformed-url":
            slack += "\n"  # a stray newline from an env file
            hook = hook.replace("http://", "htps://")  # a typo
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack)
        monkeypatch.setenv("REVWATCH_WEBHOOK_URL", hook)
        monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", PD_KEY)
        monkeypatch.setenv("SMTP_USER", "alerts")
        monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
        monkeypatch.setenv("REVWATCH_API_TOKEN", API_TOKEN)
        config = _config(tmp_path, http, smtp)
        frame = generate("saas-mrr", seed=42).frame
        outputs = []
        with caplog.at_level(logging.DEBUG):
            codes = []
            for cutoff in ("2025-12-01", "2026-01-01", "2026-02-01"):
                frame[frame["month"] <= cutoff].to_csv(tmp_path / "mrr.csv", index=False)
                result = CliRunner().invoke(cli_app, ["run", "--config", str(config), "-v"])
                outputs.append(result.output)
                codes.append(result.exit_code)
                assert "Traceback" not in result.output and "internal error" not in result.output
            assert codes[-1] == 2, outputs[-1]  # the deliveries failed
        outputs.append("\n".join(caplog.messages))
        outputs.append("\n".join(logging.Formatter().format(r) for r in caplog.records))
        # the endpoints really saw the secrets (else the test proves nothing)
        if breakage != "malformed-url":
            assert http.count("/services") > 0 and http.count("/hook") > 0
        assert http.count("/pd") > 0
        store = Store(f"sqlite:///{tmp_path}/store.db")
        errors = [d["last_error"] for d in store.deliveries() if d["last_error"]]
        broken = {d["channel"] for d in store.deliveries() if d["last_error"]}
        assert broken == {"pagerduty", "email", "slack", "webhook"}
        assert errors and any("[redacted]" in e for e in errors), errors
        seen = _everything_shown(tmp_path, config, outputs)
        for where, text in seen.items():
            for secret in SECRETS:
                assert secret not in text, (
                    f"{secret} shown in {where}: "
                    + text[max(0, text.find(secret) - 200) : text.find(secret) + 50]
                )
        if breakage == "malformed-url":
            run_errors = " ".join(r["error"] or "" for r in store.runs())
            assert "SLACK_WEBHOOK_URL" in run_errors and "control character" in run_errors
            assert "InvalidURL" not in run_errors
            hook_rows = [d for d in store.deliveries() if d["channel"] == "webhook"]
            assert hook_rows and {d["status"] for d in hook_rows} == {"failed"}  # permanent
            assert all("malformed" in d["last_error"] for d in hook_rows)
    finally:
        http.close()
        smtp.close()


def test_every_secret_place_is_registered_by_the_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    from revwatch.monitor.alerts import build_channels
    from revwatch.monitor.config import parse_config
    from revwatch.redact import redact

    text = CONFIG.format(folder="/tmp/x", pd_url="http://127.0.0.1:1/pd", smtp_port=25)
    config = parse_config(text, path="revwatch.toml")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"https://hooks.example/services/T1/B1/{SLACK_SECRET}")
    monkeypatch.setenv("REVWATCH_WEBHOOK_URL", f"https://in.example/h?token={HOOK_TOKEN}&x=1")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", PD_KEY)
    monkeypatch.setenv("SMTP_USER", "alerts")
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    clear_secrets()
    plain = " ".join(SECRETS[:4])
    assert redact(plain) == plain  # nothing registered, no pattern: shown as is
    build_channels(config.alerts)
    masked = redact(plain)
    assert not any(secret in masked for secret in SECRETS[:4]), masked
    assert re.fullmatch(r"(\[redacted\] ?){4}", masked.strip() + " ")


def test_a_broken_channel_config_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stray newline in one secret URL is that channel's config error; the rest deliver."""
    http = HttpEndpoints()
    smtp = SmtpEndpoint("ok")
    try:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", http.url(f"/services/T/B/{SLACK_SECRET}") + " \n")
        monkeypatch.setenv("REVWATCH_WEBHOOK_URL", http.url(f"/hook?token={HOOK_TOKEN}"))
        monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", PD_KEY)
        monkeypatch.setenv("SMTP_USER", "alerts")
        monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
        config = _config(tmp_path, http, smtp)
        frame = generate("saas-mrr", seed=42).frame
        for cutoff in ("2025-12-01", "2026-01-01"):
            frame[frame["month"] <= cutoff].to_csv(tmp_path / "mrr.csv", index=False)
            result = CliRunner().invoke(cli_app, ["run", "--config", str(config)])
        assert result.exit_code == 2
        lines = [line for line in result.output.splitlines() if "error" in line]
        assert len(lines) == 1 and "SLACK_WEBHOOK_URL" in lines[0] and SLACK_SECRET not in lines[0]
        ledger = Store(f"sqlite:///{tmp_path}/store.db").deliveries()
        status = {(d["channel"], d["status"]) for d in ledger}
        assert {s for c, s in status if c == "slack"} == {"pending"}  # kept for after the fix
        for channel in ("pagerduty", "webhook", "email"):
            assert {s for c, s in status if c == channel} == {"sent"}, channel
        assert http.count("/services") == 0
    finally:
        http.close()
        smtp.close()
