"""Who may read and write, and proof that a write came from our own page.

The token is a secret and comes only from the environment (``REVWATCH_API_TOKEN``
by default, or the variable ``revwatch serve --token-env`` names). Rules:

* **The token itself**: shorter than :data:`MIN_TOKEN_LENGTH` characters or a
  known placeholder (``change-me``) is refused at start-up
  (:func:`check_token`).
* **API writes** (ack, resolve, label) always need ``Authorization: Bearer
  <token>``; a server started without a token refuses them.
* **API reads** need the token too unless the app was created with
  ``open_reads=True``.
* **Pages**: when a token is set, the action forms (and the pages themselves
  unless ``open_reads``) need a login: ``/login`` takes the token once and
  sets an HttpOnly, SameSite=Strict cookie holding a random session id. The
  session lives on the server (:class:`Sessions`): logging out deletes it, and
  a session made under another token (after a rotation) is refused. Without a
  token the pages are open, which ``revwatch serve`` allows on loopback only.
* **Every unsafe request** (POST, PUT, PATCH, DELETE) must carry an ``Origin``
  (or, without one, a ``Referer``) naming the host it was sent to; page forms
  must also carry the session's CSRF token (:func:`origin_allowed`).
* **Every request** must name an allowed ``Host`` (DNS rebinding).
* **Login attempts** are limited per client with a doubling back-off
  (:class:`LoginLimiter`).

Examples
--------
>>> tokens_match("abc", "abc"), tokens_match("abc", "abd"), tokens_match(None, "abc")
(True, False, False)
>>> sessions = Sessions()
>>> sid = sessions.create("a-long-enough-token-1")
>>> sessions.get(sid, "a-long-enough-token-1") is not None
True
>>> sessions.get(sid, "the-rotated-token-value") is None  # another token: revoked
True
>>> host_allowed("127.0.0.1:8000", ["127.0.0.1"]), host_allowed("evil.test", ["localhost"])
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from revwatch.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "CSRF_FIELD",
    "DEFAULT_TOKEN_ENV",
    "MIN_TOKEN_LENGTH",
    "PLACEHOLDER_TOKENS",
    "SESSION_COOKIE",
    "LoginLimiter",
    "Session",
    "Sessions",
    "check_token",
    "default_allowed_hosts",
    "host_allowed",
    "is_loopback",
    "origin_allowed",
    "tokens_match",
]

#: The environment variable read for the API token when none is named.
DEFAULT_TOKEN_ENV = "REVWATCH_API_TOKEN"
#: Name of the pages' session cookie.
SESSION_COOKIE = "revwatch_session"
#: Name of the hidden form field that carries the CSRF token.
CSRF_FIELD = "csrf_token"
#: The shortest token accepted.
MIN_TOKEN_LENGTH = 16
#: Tokens copied from examples; refused whatever their length.
PLACEHOLDER_TOKENS = frozenset(
    {
        "change-me",
        "changeme",
        "change-me-please",
        "replace-me",
        "secret",
        "password",
        "token",
        "your-token-here",
        "example-token",
    }
)


def tokens_match(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; False when either side is missing."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def check_token(token: str | None, variable: str = DEFAULT_TOKEN_ENV) -> None:
    """Refuse a weak token with a one-line :class:`~revwatch.errors.ConfigError`.

    The message names the variable, never the value.

    Examples
    --------
    >>> check_token("x" * 16)
    >>> check_token("change-me")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    revwatch.errors.ConfigError: REVWATCH_API_TOKEN holds a placeholder token; set it to ...
    """
    if token is None:
        return
    hint = '(python -c "import secrets; print(secrets.token_urlsafe(32))")'
    if token.strip().lower() in PLACEHOLDER_TOKENS or "change-me" in token.lower():
        raise ConfigError(
            f"{variable} holds a placeholder token; set it to a random value of "
            f"{MIN_TOKEN_LENGTH}+ characters {hint}"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"{variable} is shorter than {MIN_TOKEN_LENGTH} characters; set it to a random "
            f"value {hint}"
        )


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is the local machine only."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_allowed_hosts(bound: str | None = None) -> list[str]:
    """The bound host (unless it is a wildcard), ``localhost`` and ``127.0.0.1``."""
    hosts = ["localhost", "127.0.0.1", "::1"]
    if bound and bound not in {"0.0.0.0", "::", ""} and bound not in hosts:
        hosts.insert(0, bound)
    return hosts


def _host_name(netloc: str) -> str:
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def host_allowed(host_header: str | None, allowed: Sequence[str]) -> bool:
    """Whether a ``Host`` header names an allowed host (any port; ``*`` allows all)."""
    if not host_header:
        return False
    if "*" in allowed:
        return True
    name = _host_name(host_header)
    for entry in allowed:
        entry = entry.lower().strip("[]")
        if entry.startswith(".") and (name.endswith(entry) or name == entry[1:]):
            return True
        if name == entry:
            return True
    return False


def origin_allowed(origin: str | None, referer: str | None, host_header: str | None) -> bool:
    """Whether an unsafe request names the host it was sent to in ``Origin`` or ``Referer``.

    Either header must be present (browsers send ``Origin`` with every POST;
    our ``Referrer-Policy: same-origin`` keeps ``Referer`` for our own pages)
    and its host and port must equal the ``Host`` header. A page on another
    port of the same machine is another origin and is refused.

    Examples
    --------
    >>> origin_allowed("http://127.0.0.1:8000", None, "127.0.0.1:8000")
    True
    >>> origin_allowed("http://127.0.0.1:9000", None, "127.0.0.1:8000")
    False
    >>> origin_allowed(None, "http://127.0.0.1:8000/incidents/x", "127.0.0.1:8000")
    True
    >>> origin_allowed("null", None, "127.0.0.1:8000"), origin_allowed(None, None, "h")
    (False, False)
    """
    if not host_header:
        return False
    source = origin if origin else referer
    if not source or source == "null":
        return False
    try:
        parts = urlsplit(source)
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return False
    netloc = parts.netloc.lower()
    host = host_header.strip().lower()
    default_port = {"http": ":80", "https": ":443"}[parts.scheme]
    return netloc == host or netloc + default_port == host or netloc == host + default_port


def _fingerprint(token: str | None) -> str:
    if token is None:
        return "-"
    return hmac.new(token.encode(), b"revwatch-web-session-v2", hashlib.sha256).hexdigest()


@dataclass
class Session:
    """One browser session: its CSRF token and the token it was made under."""

    session_id: str
    csrf: str
    token_fingerprint: str
    created: float
    last_seen: float


class Sessions:
    """Server-side sessions keyed by a random id (the only thing the cookie holds).

    Parameters
    ----------
    max_sessions : int, default 10000
        The oldest session is dropped beyond this many.
    idle_seconds : float, default 12 hours
        A session unused for longer is gone.
    clock : callable
        Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        *,
        max_sessions: int = 10_000,
        idle_seconds: float = 12 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._items: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, token: str | None) -> str:
        """A new session under ``token`` (None: a server without token); return its id."""
        now = self.clock()
        session = Session(
            session_id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            token_fingerprint=_fingerprint(token),
            created=now,
            last_seen=now,
        )
        with self._lock:
            self._items[session.session_id] = session
            while len(self._items) > self.max_sessions:
                self._items.popitem(last=False)
        return session.session_id

    def get(self, session_id: str | None, token: str | None) -> Session | None:
        """The live session of that id made under ``token``, or None (and it is dropped)."""
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            session = self._items.get(session_id)
            if session is None:
                return None
            stale = now - session.last_seen > self.idle_seconds
            if stale or not hmac.compare_digest(session.token_fingerprint, _fingerprint(token)):
                del self._items[session_id]
                return None
            session.last_seen = now
            self._items.move_to_end(session_id)
            return session

    def revoke(self, session_id: str | None) -> None:
        """Delete one session (logout)."""
        if session_id:
            with self._lock:
                self._items.pop(session_id, None)

    def revoke_all(self) -> None:
        """Delete every session (token rotation)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class LoginLimiter:
    """Failed logins per client: after ``free`` failures each further one doubles a lock-out.

    Parameters
    ----------
    free : int, default 5
        Failures allowed before the back-off starts.
    base_seconds : float, default 1.0
        The first lock-out; doubled after every further failure.
    max_seconds : float, default 300.0
        Cap on a lock-out.
    forget_seconds : float, default 3600.0
        A client with no failure for this long starts afresh.

    Examples
    --------
    >>> now = [0.0]
    >>> limiter = LoginLimiter(free=2, clock=lambda: now[0])
    >>> [limiter.failure("c") for _ in range(4)]
    [0.0, 0.0, 1.0, 2.0]
    >>> limiter.wait("c") > 0, limiter.wait("other")
    (True, 0.0)
    """

    def __init__(
        self,
        *,
        free: int = 5,
        base_seconds: float = 1.0,
        max_seconds: float = 300.0,
        forget_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.forget_seconds = forget_seconds
        self.clock = clock
        self._failures: dict[str, tuple[int, float, float]] = {}  # count, last, locked until
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds this client must wait before its next attempt (0: go ahead)."""
        now = self.clock()
        with self._lock:
            entry = self._failures.get(client)
            if entry is None:
                return 0.0
            _count, last, until = entry
            if now - last > self.forget_seconds:
                del self._failures[client]
                return 0.0
            return max(0.0, until - now)

    def failure(self, client: str) -> float:
        """Record a failed attempt; return the lock-out it starts (0: none yet)."""
        now = self.clock()
        with self._lock:
            count, last, _until = self._failures.get(client, (0, now, now))
            if now - last > self.forget_seconds:
                count = 0
            count += 1
            over = count - self.free
            lock = 0.0 if over <= 0 else min(self.max_seconds, self.base_seconds * 2 ** (over - 1))
            self._failures[client] = (count, now, now + lock)
            if len(self._failures) > 100_000:  # a flood of addresses: forget the oldest
                oldest = min(self._failures, key=lambda k: self._failures[k][1])
                del self._failures[oldest]
            return lock

    def success(self, client: str) -> None:
        """Forget a client's failures after a good login."""
        with self._lock:
            self._failures.pop(client, None)
