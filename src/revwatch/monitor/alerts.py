"""Alert channels: Slack, email (SMTP), PagerDuty Events API v2 and a JSON webhook.

Each channel turns one or more :class:`Alert` (an incident in a state:
``open`` or ``resolved``) into a message and sends it, raising
:class:`~revwatch.errors.DeliveryError` when the endpoint refuses it or keeps
failing. HTTP channels retry on 429 and 5xx with exponential backoff (a
``Retry-After`` header is honoured, capped) and never on other 4xx. Secrets
(webhook URLs, routing keys, SMTP passwords) come from environment variables
named in the config, are registered with :func:`revwatch.redact.register_secret`
and never appear in messages or logs: every error text passes
:func:`~revwatch.redact.redact`.

Errors are classified (``DeliveryError.permanent``): 4xx other than 408/429,
SMTP 5xx and malformed URLs are permanent (fix the config; never retried);
timeouts, 408, 429, 5xx and unreachable endpoints are transient, retried with
backoff while the channel's time budget (``HttpPolicy.deadline``) lasts.

Which alert goes where, and exactly once, is decided by
:mod:`revwatch.monitor` and the delivery ledger of :mod:`revwatch.monitor.store`.

Examples
--------
>>> alert = Alert(incident={"incident_id": "ab12", "metric": "mrr",
...     "series_key": {"account": "Acme"}, "type": "drop", "direction": "down",
...     "tier": "critical", "severity": 9.1, "impact": -4200.0,
...     "start_period": "2025-03-01", "end_period": "2025-03-01"}, state="open")
>>> alert.summary()
'[CRITICAL] mrr drop (down) for account=Acme from 2025-03-01: impact −$4,200, severity 9.1'
>>> Alert(incident={**alert.incident, "unit": "count", "impact": -1152.0}).summary().split(": ")[1]
'impact −1,152 (count), severity 9.1'
>>> payload = PagerDutyChannel("http://pd.local", "KEY").payload(alert)
>>> payload["event_action"], payload["dedup_key"], payload["payload"]["severity"]
('trigger', 'ab12', 'critical')
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import http.client
import json
import logging
import os
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, ClassVar, Protocol

from revwatch.data.keys import series_key_text
from revwatch.errors import ConfigError, DeliveryError
from revwatch.redact import redact, register_secret
from revwatch.units import Unit, format_amount

logger = logging.getLogger(__name__)

__all__ = [
    "Alert",
    "AlertChannel",
    "EmailChannel",
    "HttpPolicy",
    "PagerDutyChannel",
    "SlackChannel",
    "WebhookChannel",
    "build_channels",
    "check_url",
    "post_json",
    "render_chart",
]

SLACK_MAX_BLOCKS = 50
_PD_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}


@dataclass(frozen=True)
class Alert:
    """One incident in one state, to be told to people.

    Attributes
    ----------
    incident : dict
        The incident row from the store.
    state : {"open", "esc:warning", "esc:critical", "resolved", "reopen:<k>", "resolved:<k>"}
        The state change being announced (``esc:<tier>``: an announced
        incident reached a higher tier; PagerDuty gets a trigger with the same
        dedup key, so it pages once if the incident was not paged before;
        ``reopen:<k>``: a resolved incident is open again, a later step of the
        same move, and ``resolved:<k>`` resolves that reopening).
    """

    incident: dict[str, Any]
    state: str = "open"

    @property
    def resolves(self) -> bool:
        """Whether the alert announces a resolve (``resolved`` or ``resolved:<k>``)."""
        return self.state == "resolved" or self.state.startswith("resolved:")

    @property
    def opens(self) -> bool:
        """Whether the alert announces an incident (again): ``open`` or ``reopen:<k>``."""
        return self.state == "open" or self.state.startswith("reopen:")

    @property
    def incident_id(self) -> str:
        """The incident's id (PagerDuty's dedup key)."""
        return str(self.incident["incident_id"])

    def series_text(self) -> str:
        """``key=value`` pairs of the series key."""
        return series_key_text(self.incident.get("series_key"))

    def summary(self) -> str:
        """One line for notifications and PagerDuty's summary (<= 1024 characters)."""
        inc = self.incident
        start = str(inc.get("start_period", ""))[:10]
        if self.resolves:
            prefix = "RESOLVED"
        elif self.state.startswith("esc:"):
            prefix = f"ESCALATED TO {self.state.removeprefix('esc:').upper()}"
        elif self.state.startswith("reopen:"):
            prefix = f"REOPENED {str(inc.get('tier', 'info')).upper()}"
        else:
            prefix = str(inc.get("tier", "info")).upper()
        impact = inc.get("impact")
        severity = inc.get("severity")
        parts = [
            f"[{prefix}] {inc.get('metric')} {inc.get('type')} ({inc.get('direction')}) "
            f"for {self.series_text()} from {start}"
        ]
        if impact is not None:
            unit = Unit.parse(inc.get("unit"))
            suffix = " (count)" if unit.kind == "count" else ""
            parts.append(f"impact {format_amount(impact, unit)}{suffix}")
        if severity is not None:
            parts.append(f"severity {severity:.1f}")
        return ": ".join([parts[0], ", ".join(parts[1:])])[:1024] if len(parts) > 1 else parts[0]


@dataclass(frozen=True)
class HttpPolicy:
    """Retry and timeout settings of HTTP channels.

    Attributes
    ----------
    retries : int
        Extra attempts after the first, on 429, 5xx and connection errors.
    backoff : float
        First wait in seconds; doubled after each attempt.
    max_backoff : float
        Cap on any wait, ``Retry-After`` included.
    timeout : float
        Seconds per request.
    sleep : callable
        How to wait (tests pass a fast one).
    deadline : float, optional
        ``time.monotonic()`` value after which no new attempt starts and no
        wait is begun (the channel's budget for this run); None: no limit.
    """

    retries: int = 4
    backoff: float = 1.0
    max_backoff: float = 60.0
    timeout: float = 10.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    deadline: float | None = field(default=None, compare=False)

    def remaining(self) -> float:
        """Seconds left in the budget (infinite without a deadline)."""
        if self.deadline is None:
            return float("inf")
        return self.deadline - time.monotonic()


def check_url(url: str, what: str) -> None:
    """Raise a one-line :class:`ConfigError` (without the URL) for a URL no request can use.

    Examples
    --------
    >>> check_url("https://hooks.example/x", "SLACK_WEBHOOK_URL")
    >>> check_url("https://hooks.example/x\\n", "SLACK_WEBHOOK_URL")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    revwatch.errors.ConfigError: SLACK_WEBHOOK_URL: the URL contains a space or control ...
    """
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ConfigError(
            f"{what}: the URL contains a space or control character (a stray newline from "
            "an env file?); fix the value"
        )


def _malformed(url: str) -> str | None:
    """Why a URL cannot be requested (scheme, host), or None."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "not a URL"
    if parts.scheme not in {"http", "https"}:
        return f"scheme {parts.scheme or '(none)'!r} is not http or https"
    if not parts.hostname:
        return "no host"
    return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    name: str,
    policy: HttpPolicy,
    accept: Sequence[int] = (200, 201, 202, 204),
    body_ok: str | None = None,
) -> tuple[int, str]:
    """POST JSON with retries; return (status, body) of the accepted response.

    Parameters
    ----------
    url : str
        The endpoint (never logged: it may hold a secret).
    payload : dict
        The JSON body.
    name : str
        The channel name, for messages.
    policy : HttpPolicy
        Retries, backoff and timeout.
    accept : sequence of int
        Statuses that mean success.
    body_ok : str, optional
        The exact body success must carry (Slack: ``ok``).

    Raises
    ------
    DeliveryError
        4xx other than 408/429 and malformed URLs at once (``permanent =
        True``); 408/429/5xx/timeouts/network errors once the retries or the
        policy's time budget are spent (``permanent = False``).
    """
    bad = _malformed(url)
    if bad is not None:
        _raise(f"{name}: malformed endpoint URL ({bad}); fix the config (not retried)", True)
    data = json.dumps(payload, default=str).encode("utf-8")
    attempt = 0
    while True:
        left = policy.remaining()
        if left <= 0:
            _raise(f"{name}: time budget of this run spent; left queued for the next run", False)
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        wait: float | None = None
        try:
            with urllib.request.urlopen(request, timeout=min(policy.timeout, left)) as response:
                status = int(response.status)
                body = response.read(4096).decode("utf-8", "replace")
            if status in accept and (body_ok is None or body.strip() == body_ok):
                return status, body
            problem = f"{name}: unexpected answer HTTP {status} {redact(body[:200])!r}"
            _raise(problem, permanent=True)
        except urllib.error.HTTPError as exc:
            status = exc.code
            body = exc.read(4096).decode("utf-8", "replace")[:200]
            problem = f"{name}: HTTP {status} {redact(body)!r}"
            if status not in (408, 429) and status < 500:
                _raise(problem + " (not retried: fix the request or its credentials)", True)
            wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        except (http.client.InvalidURL, ValueError) as exc:
            _raise(f"{name}: malformed endpoint URL ({redact(exc)}); fix the config", True)
        except TimeoutError:
            problem = f"{name}: endpoint timed out"
        except (urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                problem = f"{name}: endpoint timed out"
            else:
                problem = f"{name}: endpoint unreachable ({redact(reason)})"
        if attempt >= policy.retries:
            _raise(f"{problem} after {attempt + 1} attempts", False)
        delay = policy.backoff * (2**attempt) if wait is None else wait
        delay = min(delay, policy.max_backoff)
        if delay >= policy.remaining():
            _raise(f"{problem}; time budget of this run spent after {attempt + 1} attempts", False)
        logger.warning("%s; retrying in %.2fs", problem, delay)
        policy.sleep(delay)
        attempt += 1


def _raise(message: str, permanent: bool) -> None:
    error = DeliveryError(redact(message))
    error.permanent = permanent  # type: ignore[attr-defined]
    raise error


class AlertChannel(Protocol):
    """What every channel provides."""

    name: str
    digest_capable: bool

    def send(self, alerts: Sequence[Alert]) -> None:
        """Send one message about ``alerts`` (one alert unless digesting)."""


def slack_escape(text: str) -> str:
    """Escape Slack's control characters ``&``, ``<`` and ``>`` in message text.

    Examples
    --------
    >>> slack_escape("A&B <Ltd> > 1")
    'A&amp;B &lt;Ltd&gt; &gt; 1'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def incident_url(dashboard_url: str | None, incident_id: str) -> str | None:
    """The incident's page on the review app, when its address is configured.

    Examples
    --------
    >>> incident_url("https://rw.example/", "ab12")
    'https://rw.example/incidents/ab12'
    """
    if not dashboard_url:
        return None
    return f"{dashboard_url.rstrip('/')}/incidents/{urllib.parse.quote(incident_id, safe='')}"


def _event(state: str) -> str:
    """The webhook's ``event`` of a ledger state.

    Examples
    --------
    >>> [_event(s) for s in ("open", "esc:critical", "resolved", "reopen:2", "resolved:2")]
    ['opened', 'esc:critical', 'resolved', 'reopened', 'resolved']
    """
    if state == "open":
        return "opened"
    if state.startswith("reopen:"):
        return "reopened"
    if state.startswith("resolved:"):
        return "resolved"
    return state


def _digest_title(alerts: Sequence[Alert]) -> str:
    if len(alerts) == 1:
        return alerts[0].summary()
    opened = sum(a.opens for a in alerts)
    escalated = sum(a.state.startswith("esc:") for a in alerts)
    resolved = len(alerts) - opened - escalated
    text = f"revwatch: {opened} new, "
    if escalated:
        text += f"{escalated} escalated, "
    return text + f"{resolved} resolved incidents"


@dataclass
class SlackChannel:
    """Slack incoming webhook: Block Kit blocks plus a plain ``text`` fallback."""

    url: str
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    dashboard_url: str | None = None
    name: str = "slack"
    digest_capable: ClassVar[bool] = True

    def payload(self, alerts: Sequence[Alert]) -> dict[str, Any]:
        """The webhook body (at most 50 blocks; the rest is counted in the last one)."""
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": _digest_title(alerts)[:150]}}
        ]
        room = SLACK_MAX_BLOCKS - 2
        for alert in alerts[:room]:
            inc = alert.incident
            ident = slack_escape(alert.incident_id)
            link = incident_url(self.dashboard_url, alert.incident_id)
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"*{slack_escape(alert.summary())}*"},
                    "fields": [
                        {
                            "type": "mrkdwn",
                            "text": f"*Incident*\n<{link}|{ident}>"
                            if link
                            else f"*Incident*\n`{ident}`",
                        },
                        {"type": "mrkdwn", "text": f"*Tier*\n{slack_escape(str(inc.get('tier')))}"},
                    ],
                }
            )
        extra = len(alerts) - room
        footer = f"and {extra} more" if extra > 0 else "revwatch"
        if self.dashboard_url:
            footer += f" | <{self.dashboard_url}|open the dashboard>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
        text = "\n".join(slack_escape(a.summary()) for a in alerts[:20])
        return {"text": text, "blocks": blocks[:SLACK_MAX_BLOCKS]}

    def send(self, alerts: Sequence[Alert]) -> None:
        """POST to the webhook; success is HTTP 200 with body ``ok``."""
        post_json(self.url, self.payload(alerts), name="slack", policy=self.policy, body_ok="ok")


@dataclass
class PagerDutyChannel:
    """PagerDuty Events API v2 (``<url>/v2/enqueue``); one event per incident."""

    url: str
    routing_key: str
    source: str = "revwatch"
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    name: str = "pagerduty"
    digest_capable: ClassVar[bool] = False

    def payload(self, alert: Alert) -> dict[str, Any]:
        """The event: trigger or resolve, dedup_key = incident id."""
        action = "resolve" if alert.resolves else "trigger"
        body: dict[str, Any] = {
            "routing_key": self.routing_key,
            "event_action": action,
            "dedup_key": alert.incident_id,
        }
        if action == "trigger":
            inc = alert.incident
            body["payload"] = {
                "summary": alert.summary(),
                "source": self.source,
                "severity": _PD_SEVERITY.get(str(inc.get("tier")), "error"),
                "custom_details": {
                    k: inc.get(k)
                    for k in ("metric", "series_key", "type", "direction", "impact", "severity")
                },
            }
        return body

    def send(self, alerts: Sequence[Alert]) -> None:
        """Enqueue each event; 202 is success."""
        for alert in alerts:
            post_json(
                self.url.rstrip("/") + "/v2/enqueue",
                self.payload(alert),
                name="pagerduty",
                policy=self.policy,
                accept=(200, 202),
            )


@dataclass
class WebhookChannel:
    """A generic JSON webhook: ``{"source": "revwatch", "alerts": [...]}``."""

    url: str
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    name: str = "webhook"
    digest_capable: ClassVar[bool] = True

    def payload(self, alerts: Sequence[Alert]) -> dict[str, Any]:
        """The body: each alert says the change it announces (``event``, ``status``).

        ``status`` is the state announced (an ``open`` alert sent after the
        incident resolved still says ``open``); ``current_status`` is the
        incident's status when the message was sent.
        """
        items = []
        for a in alerts:
            item = {k: v for k, v in a.incident.items() if k != "context"}
            item.update(
                event=_event(a.state),
                state=a.state,
                status=a.state,
                current_status=a.incident.get("status"),
                summary=a.summary(),
            )
            items.append(item)
        return {"source": "revwatch", "alerts": items}

    def send(self, alerts: Sequence[Alert]) -> None:
        """POST the alerts; any 2xx is success."""
        post_json(self.url, self.payload(alerts), name="webhook", policy=self.policy)


def render_chart(alert: Alert) -> bytes:
    """A small PNG of the incident's series with its normal band (from the stored context).

    Drawn by :func:`revwatch.report.chart.incident_chart_png`, the chart of the review pages,
    titled with the alert's summary.
    """
    from revwatch.report.chart import incident_chart_png  # matplotlib only when drawn

    inc = alert.incident
    unit = Unit.parse(inc.get("unit")) if inc.get("unit") else None
    return incident_chart_png(inc, unit=unit, title=alert.summary()[:90], size=(6, 2.4), dpi=100)


@dataclass
class EmailChannel:
    """SMTP email: plain text plus an HTML body with each incident's chart inline."""

    host: str
    port: int
    sender: str
    recipients: list[str]
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    dashboard_url: str | None = None
    name: str = "email"
    digest_capable: ClassVar[bool] = True

    def message(self, alerts: Sequence[Alert]) -> EmailMessage:
        """The email (with ``Date``, ``Message-ID``, links to the incidents), charts inline."""
        msg = EmailMessage()
        msg["Subject"] = _digest_title(alerts)[:200]
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        domain = self.sender.rsplit("@", 1)[-1] if "@" in self.sender else "revwatch.local"
        msg["Message-ID"] = email.utils.make_msgid("revwatch", domain=domain)
        lines = []
        for alert in alerts:
            link = incident_url(self.dashboard_url, alert.incident_id)
            lines.append(alert.summary() + (f"\n  {link}" if link else ""))
        msg.set_content("\n".join(lines))
        parts = []
        for i, alert in enumerate(alerts):
            link = incident_url(self.dashboard_url, alert.incident_id)
            ident = html.escape(alert.incident_id)
            shown = (
                f'<a href="{html.escape(link)}">{ident}</a>' if link else f"<code>{ident}</code>"
            )
            parts.append(f"<h3>{html.escape(alert.summary())}</h3><p>Incident {shown}</p>")
            if alert.opens:
                parts.append(f'<img src="cid:chart{i}" alt="chart of the series">')
        msg.add_alternative(f"<html><body>{''.join(parts)}</body></html>", subtype="html")
        html_part: Any = msg.get_payload()[1]  # type: ignore[index]
        for i, alert in enumerate(alerts):
            if not alert.opens:
                continue  # a resolve needs no chart
            html_part.add_related(
                render_chart(alert), maintype="image", subtype="png", cid=f"<chart{i}>"
            )
        return msg

    def send(self, alerts: Sequence[Alert]) -> None:
        """Send over SMTP; retried on connection errors and 4xx SMTP replies."""
        msg = self.message(alerts)
        attempt = 0
        while True:
            left = self.policy.remaining()
            if left <= 0:
                _raise("email: time budget of this run spent; left queued for the next run", False)
            try:
                with smtplib.SMTP(
                    self.host, self.port, timeout=min(self.policy.timeout, left)
                ) as smtp:
                    if self.starttls:
                        smtp.starttls()
                    if self.username and self.password:
                        smtp.login(self.username, self.password)
                    smtp.send_message(msg)
                return
            except smtplib.SMTPResponseException as exc:
                reply = exc.smtp_error
                text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
                problem = f"email: SMTP {exc.smtp_code} {redact(text[:200])!r}"
                if exc.smtp_code >= 500:
                    _raise(problem + " (not retried)", True)
            except smtplib.SMTPRecipientsRefused as exc:
                _raise(f"email: every recipient refused ({redact(exc)}) (not retried)", True)
            except (smtplib.SMTPException, OSError) as exc:
                problem = f"email: SMTP server {self.host}:{self.port} unreachable ({redact(exc)})"
            if attempt >= self.policy.retries:
                _raise(f"{problem} after {attempt + 1} attempts", False)
            delay = min(self.policy.backoff * 2**attempt, self.policy.max_backoff)
            if delay >= self.policy.remaining():
                _raise(f"{problem}; time budget of this run spent", False)
            self.policy.sleep(delay)
            attempt += 1


def _secret(variable: str, what: str, *, url: bool = False) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(
            f"{what}: environment variable {variable} is not set; export it "
            "(secrets are read from the environment, never from the config file)"
        )
    register_secret(value)
    if url:
        check_url(value, f"{what} ({variable})")
    return value


def build_channels(
    alerts: Any,
    *,
    sleep: Callable[[float], None] = time.sleep,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Build the configured channels from an :class:`~revwatch.monitor.config.AlertsConfig`.

    Secrets are read from the environment variables the config names and
    registered for redaction; secret URLs are checked (a space or control
    character is a config error, without the URL in the message).

    Parameters
    ----------
    alerts : AlertsConfig
    sleep : callable
        How retries wait.
    errors : dict, optional
        When given, a channel whose config is broken is left out and its
        one-line error stored here by channel name (the other channels are
        still built); else the first such error is raised.

    Raises
    ------
    ConfigError
        A named environment variable is not set or holds an unusable URL (the
        message names the variable, never its value).
    """
    policy = HttpPolicy(
        retries=alerts.retries,
        backoff=alerts.backoff_seconds,
        max_backoff=alerts.max_backoff_seconds,
        timeout=alerts.timeout_seconds,
        sleep=sleep,
    )
    dashboard = getattr(alerts, "dashboard_url", None)

    def slack() -> Any:
        url = _secret(alerts.slack.webhook_url_env, "alerts.slack.webhook_url_env", url=True)
        return SlackChannel(url, policy=policy, dashboard_url=dashboard)

    def pagerduty() -> Any:
        pd_cfg = alerts.pagerduty
        check_url(pd_cfg.url, "alerts.pagerduty.url")
        key = _secret(pd_cfg.routing_key_env, "alerts.pagerduty.routing_key_env")
        return PagerDutyChannel(pd_cfg.url, key, source=pd_cfg.source, policy=policy)

    def webhook() -> Any:
        hook = alerts.webhook
        if hook.url:
            register_secret(hook.url)
            check_url(hook.url, "alerts.webhook.url")
            return WebhookChannel(hook.url, policy=policy)
        return WebhookChannel(
            _secret(hook.url_env, "alerts.webhook.url_env", url=True), policy=policy
        )

    def email_channel() -> Any:
        mail = alerts.email
        return EmailChannel(
            host=mail.host,
            port=mail.port,
            sender=mail.sender,
            recipients=list(mail.recipients),
            username=_secret(mail.username_env, "alerts.email.username_env")
            if mail.username_env
            else None,
            password=_secret(mail.password_env, "alerts.email.password_env")
            if mail.password_env
            else None,
            starttls=mail.starttls,
            policy=policy,
            dashboard_url=dashboard,
        )

    builders: dict[str, Callable[[], Any]] = {
        "slack": slack,
        "pagerduty": pagerduty,
        "webhook": webhook,
        "email": email_channel,
    }
    out: dict[str, Any] = {}
    for name, build in builders.items():
        if getattr(alerts, name, None) is None:
            continue
        try:
            out[name] = build()
        except ConfigError as exc:
            if errors is None:
                raise
            errors[name] = redact(exc)
    return out
