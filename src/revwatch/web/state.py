"""What every request of the review app needs: :class:`WebState` and
:func:`state_of`.

Its own module so that the pages (:mod:`revwatch.web.app`) and the JSON API
(:mod:`revwatch.web.http_api`) both import it and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from revwatch.monitor.store import Store
from revwatch.web.security import (
    SESSION_COOKIE,
    LoginLimiter,
    Session,
    Sessions,
    check_token,
    default_allowed_hosts,
)

if TYPE_CHECKING:
    from fastapi import Request


@dataclass
class WebState:
    """What every request needs: the store and the access rules."""

    store: Store
    token: str | None
    open_reads: bool
    config: Any = None
    currency: str = "$"
    country: str | None = None
    allowed_hosts: list[str] = field(default_factory=default_allowed_hosts)
    sessions: Sessions = field(default_factory=Sessions)
    logins: LoginLimiter = field(default_factory=LoginLimiter)

    def session(self, request: Request) -> Session | None:
        """The live server-side session the request's cookie names, or None."""
        return self.sessions.get(request.cookies.get(SESSION_COOKIE), self.token)

    def logged_in(self, request: Request) -> bool:
        """Whether the request may act: a server without token, or a live session."""
        if self.token is None:
            return True
        return self.session(request) is not None

    def rotate_token(self, token: str | None) -> None:
        """Switch to a new token; every session made under the old one is revoked."""
        check_token(token)
        self.token = token
        self.sessions.revoke_all()


def state_of(request: Request) -> WebState:
    """The :class:`WebState` of the app serving ``request``."""
    state: WebState = request.app.state.web
    return state
