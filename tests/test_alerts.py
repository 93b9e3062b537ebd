"""Alert channels against real local servers (pytest-httpserver, aiosmtpd)."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from revwatch.errors import DeliveryError
from revwatch.monitor.alerts import (
    Alert,
    EmailChannel,
    HttpPolicy,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)

FAST = HttpPolicy(retries=3, backoff=0.001, max_backoff=0.01, timeout=5)


def _alert(n: int = 0, state: str = "open") -> Alert:
    return Alert(
        incident={
            "incident_id": f"inc{n:013d}",
            "metric": "mrr",
            "series_key": {"account": f"A{n}"},
            "type": "drop",
            "direction": "down",
            "tier": "critical",
            "severity": 9.5,
            "impact": -1200.0,
            "start_period": "2025-03-01",
            "end_period": "2025-03-01",
            "context": [
                ["2025-01-01", 100.0, 100.0, 90.0, 110.0],
                ["2025-02-01", 101.0, 100.0, 90.0, 110.0],
                ["2025-03-01", 40.0, 100.0, 90.0, 110.0],
            ],
        },
        state=state,
    )


def test_slack_blocks_and_text(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    SlackChannel(httpserver.url_for("/hook"), policy=FAST).send([_alert()])
    (request, _), *_ = httpserver.log
    body = request.get_json()
    assert body["text"].startswith("[CRITICAL] mrr drop")
    assert body["blocks"][0]["type"] == "header"


def test_slack_digest_caps_blocks_at_50() -> None:
    payload = SlackChannel("http://unused").payload([_alert(i) for i in range(80)])
    assert len(payload["blocks"]) == 50
    assert "and 32 more" in payload["blocks"][-1]["elements"][0]["text"]


def test_slack_needs_body_ok(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("invalid_payload", status=200)
    with pytest.raises(DeliveryError, match="unexpected answer"):
        SlackChannel(httpserver.url_for("/hook"), policy=FAST).send([_alert()])


def test_429_then_200_is_retried_with_retry_after(httpserver: HTTPServer) -> None:
    waits: list[float] = []
    policy = HttpPolicy(retries=3, backoff=5.0, max_backoff=0.5, sleep=waits.append)
    httpserver.expect_ordered_request("/hook").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "7"})
    )
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    SlackChannel(httpserver.url_for("/hook"), policy=policy).send([_alert()])
    assert len(httpserver.log) == 2
    assert waits == [0.5]  # Retry-After honoured, capped by max_backoff


def test_400_is_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v2/enqueue").respond_with_data("bad key", status=400)
    channel = PagerDutyChannel(httpserver.url_for(""), "SECRET-KEY", policy=FAST)
    with pytest.raises(DeliveryError) as info:
        channel.send([_alert()])
    assert len(httpserver.log) == 1
    assert getattr(info.value, "permanent", False)
    assert "SECRET-KEY" not in str(info.value)


def test_5xx_exhausts_retries(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    with pytest.raises(DeliveryError, match="after 4 attempts"):
        WebhookChannel(httpserver.url_for("/hook"), policy=FAST).send([_alert()])
    assert len(httpserver.log) == 4


def test_unreachable_endpoint() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DeliveryError, match="unreachable"):
        WebhookChannel(f"http://127.0.0.1:{port}/x", policy=FAST).send([_alert()])


def test_pagerduty_trigger_and_resolve_share_dedup_key(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v2/enqueue").respond_with_json({"status": "success"}, status=202)
    channel = PagerDutyChannel(httpserver.url_for(""), "KEY", policy=FAST)
    channel.send([_alert(1), _alert(1, state="resolved")])
    bodies = [req.get_json() for req, _ in httpserver.log]
    assert [b["event_action"] for b in bodies] == ["trigger", "resolve"]
    assert {b["dedup_key"] for b in bodies} == {"inc0000000000001"}
    assert bodies[0]["payload"]["severity"] == "critical"
    assert bodies[0]["routing_key"] == "KEY"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (aiosmtpd's Controller does not accept port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_email_html_with_inline_chart(smtp_inbox: tuple[_Inbox, int]) -> None:
    inbox, port = smtp_inbox
    channel = EmailChannel("127.0.0.1", port, "rw@test", ["oncall@test"], policy=FAST)
    channel.send([_alert(1), _alert(2)])
    (message,) = inbox.messages
    assert "2 new" in message["Subject"]
    parts = list(message.walk())
    html = next(p for p in parts if p.get_content_type() == "text/html")
    assert 'src="cid:chart0"' in html.get_payload(decode=True).decode()
    images = [p for p in parts if p.get_content_type() == "image/png"]
    assert len(images) == 2
    assert images[0].get_payload(decode=True)[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("state", "prefix", "action"),
    [
        ("open", "[CRITICAL]", "trigger"),
        ("esc:critical", "[ESCALATED TO CRITICAL]", "trigger"),
        ("resolved", "[RESOLVED]", "resolve"),
        ("reopen:1", "[REOPENED CRITICAL]", "trigger"),
        ("resolved:1", "[RESOLVED]", "resolve"),
        ("reopen:12", "[REOPENED CRITICAL]", "trigger"),
    ],
)
def test_every_ledger_state_says_what_it_announces(state: str, prefix: str, action: str) -> None:
    alert = _alert(state=state)
    assert alert.summary().startswith(prefix)
    channel = PagerDutyChannel(routing_key="k", url="http://127.0.0.1:9/v2/enqueue")
    assert channel.payload(alert)["event_action"] == action
