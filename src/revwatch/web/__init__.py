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

import logging

logger = logging.getLogger(__name__)

__all__: list[str] = []
