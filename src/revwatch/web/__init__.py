"""The review web app (``revwatch serve``): incident pages, actions and a JSON API.

Server-rendered pages (FastAPI + Jinja2, plain HTML forms, no JavaScript and
nothing loaded from the internet) and a JSON API under ``/api/`` over one
:class:`~revwatch.store.Store`. Actions call the same store methods as the
``revwatch incidents`` commands, so the CLI, the pages and the API always see
the same state.

Needs the ``web`` extra (``pip install 'revwatch[web]'``). Modules:

:mod:`revwatch.web.views`
    Framework-free data for pages, API and the HTML report.
:mod:`revwatch.web.app`
    :func:`~revwatch.web.app.create_app`, the pages and the error handling.
:mod:`revwatch.web.api`
    The ``/api/`` routes.
:mod:`revwatch.web.security`
    Token and login-cookie rules.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from revwatch.errors import MissingDependencyError

logger = logging.getLogger(__name__)

__all__ = ["require_web", "serve"]


def require_web() -> None:
    """Raise :class:`~revwatch.errors.MissingDependencyError` unless the ``web`` extra is here.

    Examples
    --------
    >>> require_web()  # the test environment has the extra
    """
    for module in ("fastapi", "uvicorn", "jinja2", "python_multipart"):
        try:
            __import__(module)
        except ImportError:
            raise MissingDependencyError(
                "python-multipart" if module == "python_multipart" else module, "web"
            ) from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(store: Any, *, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Run the review app with uvicorn until interrupted.

    Parameters
    ----------
    store : str or Store
        The store (URL or open store).
    host : str, default "127.0.0.1"
    port : int, default 8000
    **options
        Passed to :func:`revwatch.web.app.create_app` (``token``,
        ``open_reads``, ``token_env``, ``config``, ``currency``, ``country``).
    """
    require_web()
    import uvicorn

    config = options.get("config")
    web_config = getattr(config, "web", None)
    if not options.get("token_env"):
        # the config's ``[web] token_env`` names the variable; else the default
        named = getattr(web_config, "token_env", None)
        options["token_env"] = named or "REVWATCH_API_TOKEN"
    if getattr(web_config, "open_reads", False):
        options["open_reads"] = True

    from revwatch.web.app import create_app

    app = create_app(store, **options)
    if app.state.web.token is None and not _loopback(host):
        logger.warning(
            "listening on %s without an API token: anyone who reaches it can read and act "
            "through the pages; set %s",
            host,
            options.get("token_env", "REVWATCH_API_TOKEN"),
        )
    logger.info("revwatch review app on http://%s:%d/incidents", host, port)
    uvicorn.run(app, host=host, port=port, log_level="info")
