"""The review web app (``revwatch serve``): incident pages, actions and a JSON API.

Server-rendered pages (FastAPI + Jinja2, plain HTML forms, no JavaScript and
nothing loaded from the internet) and a JSON API under ``/api/`` over one
:class:`~revwatch.monitor.store.Store`. Actions call the same store methods as the
``revwatch incidents`` commands, so the CLI, the pages and the API always see
the same state.

Needs the ``web`` extra (``pip install 'revwatch[web]'``). Modules:

:mod:`revwatch.web.views`
    Framework-free data for pages, API and the HTML report.
:mod:`revwatch.web.app`
    :func:`~revwatch.web.app.create_app`, the pages and the error handling.
:mod:`revwatch.web.http_api`
    The ``/api/`` routes.
:mod:`revwatch.web.security`
    Token and login-cookie rules.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from revwatch.errors import ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)

__all__ = ["require_web", "serve", "uvicorn_config"]


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


def uvicorn_config(app: Any, *, host: str, port: int) -> Any:
    """uvicorn's config for the app: its own access log off (it logs query strings).

    The app logs each request itself (logger ``revwatch.web.access``: method,
    path, status; never the query string). ``proxy_headers`` stays off, so a
    client cannot choose the address the login limit counts.
    """
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


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
        ``open_reads``, ``token_env``, ``config``, ``currency``, ``country``,
        ``allowed_hosts``).

    Raises
    ------
    ConfigError
        A weak token, or a non-loopback address without a token.
    """
    require_web()
    import uvicorn

    from revwatch.web.security import is_loopback

    config = options.get("config")
    web_config = getattr(config, "web", None)
    if not options.get("token_env"):
        # the config's ``[web] token_env`` names the variable; else the default
        named = getattr(web_config, "token_env", None)
        options["token_env"] = named or "REVWATCH_API_TOKEN"
    if getattr(web_config, "open_reads", False):
        options["open_reads"] = True
    configured_hosts = getattr(web_config, "allowed_hosts", None)
    if not options.get("allowed_hosts") and configured_hosts:
        options["allowed_hosts"] = list(configured_hosts)

    from revwatch.web.app import create_app

    announce = options.pop("announce", None)
    if config is not None and getattr(config, "alerts", None) is not None:
        # read the channels' secrets only to register them for redaction, so that even
        # errors stored by an older revwatch never show them on a page
        from revwatch.monitor.alerts import build_channels

        build_channels(config.alerts, errors={})
    token = options.get("token") or os.environ.get(options["token_env"]) or None
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without an API token: anyone who reaches it could "
            f"act through the pages; set {options['token_env']} or listen on 127.0.0.1"
        )
    app = create_app(store, host=host, **options)
    if announce is not None:  # the caller says it (the CLI on stderr): once, not also logged
        announce()
    else:
        logger.info("revwatch review app on http://%s:%d/incidents", host, port)
    uvicorn.Server(uvicorn_config(app, host=host, port=port)).run()
