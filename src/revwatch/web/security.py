"""Who may read and write: the API token (Bearer) and the pages' login cookie.

The token is a secret and comes only from the environment (``REVWATCH_API_TOKEN``
by default, or the variable ``revwatch serve --token-env`` names). Rules:

* **API writes** (ack, resolve, label) always need ``Authorization: Bearer
  <token>``; a server started without a token refuses them.
* **API reads** need the token too unless the app was created with
  ``open_reads=True``.
* **Pages**: when a token is set, the action forms (and the pages themselves
  unless ``open_reads``) need a login: ``/login`` takes the token once and
  sets an HttpOnly, SameSite=Strict cookie holding an HMAC of it (never the
  token itself). Without a token the pages are open (a single-user server on
  127.0.0.1; ``revwatch serve`` warns when it listens elsewhere).

Examples
--------
>>> session_value("s3cret") == session_value("s3cret") != session_value("other")
True
>>> tokens_match("abc", "abc"), tokens_match("abc", "abd"), tokens_match(None, "abc")
(True, False, False)
"""

from __future__ import annotations

import hashlib
import hmac
import logging

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_TOKEN_ENV", "SESSION_COOKIE", "session_value", "tokens_match"]

#: The environment variable read for the API token when none is named.
DEFAULT_TOKEN_ENV = "REVWATCH_API_TOKEN"
#: Name of the pages' login cookie.
SESSION_COOKIE = "revwatch_session"


def tokens_match(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; False when either side is missing."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def session_value(token: str) -> str:
    """The login cookie's value for a token: an HMAC, so the cookie never holds the token."""
    return hmac.new(token.encode(), b"revwatch-web-session-v1", hashlib.sha256).hexdigest()
