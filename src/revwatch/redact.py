"""One redaction function for everything revwatch stores, prints, logs or shows.

Secrets reach revwatch only through environment variables (webhook URLs,
routing keys, SMTP passwords, the API token). Whatever comes back from an
endpoint (an error body, an exception text) may echo them: an Express-style
``Cannot POST /services/T000/B000/SECRET`` repeats the Slack webhook path,
``urllib`` repeats a malformed URL. :func:`redact` removes:

* every value registered with :func:`register_secret` (the channels register
  each secret they read, and for a secret URL its path segments, query
  values and password);
* by pattern, whatever looks like a secret even when never registered:
  passwords in URLs (``scheme://user:PASSWORD@``), values of query
  parameters named like secrets (``token``, ``key``, ``secret``,
  ``password``, ``signature``...), Slack webhook paths
  (``/services/T.../B.../...``), PagerDuty routing keys (32 hex-like
  characters after ``routing_key``) and ``Bearer`` tokens.

Examples
--------
>>> redact("POST https://hooks.example/x?token=abc123&channel=ops failed")
'POST https://hooks.example/x?token=[redacted]&channel=ops failed'
>>> redact("smtp://bob:hunter2@mail.example:25")
'smtp://bob:[redacted]@mail.example:25'
>>> redact("Cannot POST /services/T0001/B0002/XyZsecret")
'Cannot POST /services/[redacted]'
>>> register_secret("https://in.example/hook/s3cr3t-path-part?sig=q9q9q9")
>>> redact("HTTP 404 'Cannot POST /hook/s3cr3t-path-part'")
"HTTP 404 'Cannot POST [redacted]'"
>>> redact("Authorization: Bearer eyJhbGciOi.x.y")
'Authorization: Bearer [redacted]'
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

logger = logging.getLogger(__name__)

__all__ = ["MASK", "RedactingFilter", "clear_secrets", "redact", "register_secret"]

MASK = "[redacted]"
#: Registered values shorter than this are not masked on their own (too many false hits).
MIN_SECRET = 6
# path segments that are parts of an API's shape, not secrets
_PUBLIC_SEGMENTS = frozenset(
    {"services", "hooks", "hook", "webhook", "webhooks", "api", "v1", "v2", "v3", "enqueue"}
)
_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_PATTERN: re.Pattern[str] | None = None

_SECRET_NAMES = (
    r"token|access_token|api_key|apikey|key|secret|client_secret|password|passwd|pwd|sig|"
    r"signature|auth|code|routing_key|integration_key"
)
_NAMED_FIELDS = (
    r"routing_key|integration_key|token|access_token|api_key|apikey|secret|client_secret|"
    r"password|passwd"
)
_RULES: list[tuple[re.Pattern[str], str]] = [
    # user:password@ in any URL
    (re.compile(r"(?P<pre>[a-z][a-z0-9+.\-]*://[^/\s:@'\"]*:)[^@\s/'\"]+(?=@)", re.I), MASK),
    # query (or form) values of secret-looking names
    (
        re.compile(rf"(?P<pre>[?&;](?:{_SECRET_NAMES})=)[^&#\s'\"]+", re.I),
        MASK,
    ),
    # JSON / text "routing_key": "..." and password=...
    (
        re.compile(
            rf"(?P<pre>(?<![A-Za-z0-9_])[\"']?(?:{_NAMED_FIELDS})[\"']?\s*[:=]\s*[\"']?)"
            r"[^\s\"',&}]+",
            re.I,
        ),
        MASK,
    ),
    # Slack incoming-webhook paths
    (re.compile(r"(?P<pre>/services/)[A-Za-z0-9_\-]+/[A-Za-z0-9_\-]+/[A-Za-z0-9_\-]+"), MASK),
    (re.compile(r"(?P<pre>\bBearer\s+)[A-Za-z0-9._~+/=\-]+", re.I), MASK),
]


def _pieces(value: str) -> set[str]:
    """The value and, for a URL, the parts that can leak on their own."""
    found = {value, value.strip()}
    if "://" in value:
        try:
            parts = urlsplit(value.strip())
        except ValueError:
            parts = None
        if parts is not None:
            if parts.password:
                found.add(parts.password)
                found.add(unquote(parts.password))
            if parts.path and parts.path != "/":
                found.add(parts.path)
                for segment in parts.path.split("/"):
                    if segment.lower() not in _PUBLIC_SEGMENTS:
                        found.add(segment)
                        found.add(unquote(segment))
            if parts.query:
                found.add(parts.query)
                for _name, query_value in parse_qsl(parts.query, keep_blank_values=False):
                    found.add(query_value)
    return {p for p in found if len(p) >= MIN_SECRET}


def register_secret(value: str | None) -> None:
    """Remember a secret (and, for a URL, its path segments, query values, password)."""
    global _PATTERN
    if not value:
        return
    with _LOCK:
        before = len(_SECRETS)
        _SECRETS.update(_pieces(value))
        if len(_SECRETS) != before:
            ordered = sorted(_SECRETS, key=len, reverse=True)
            _PATTERN = re.compile("|".join(re.escape(s) for s in ordered))


def clear_secrets() -> None:
    """Forget every registered secret (tests)."""
    global _PATTERN
    with _LOCK:
        _SECRETS.clear()
        _PATTERN = None


def redact(text: Any) -> str:
    """``text`` as a string with every registered or recognisable secret masked."""
    out = str(text)
    pattern = _PATTERN
    if pattern is not None:
        out = pattern.sub(MASK, out)
    for rule, mask in _RULES:
        out = rule.sub(_keep_prefix(mask), out)
    return out


def _keep_prefix(mask: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return match.group("pre") + mask

    return replace


class RedactingFilter(logging.Filter):
    """A logging filter (put it on handlers) that redacts each record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the message by its redacted text; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
