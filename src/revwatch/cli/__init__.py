"""The ``revwatch`` command line: a thin layer over the public API.

Exit codes: 0 success; 2 bad input or options (one-line message on stderr);
1 an unexpected internal error (set ``REVWATCH_DEBUG=1`` for the traceback).

:mod:`~revwatch.cli._common` holds the app, options, console and error handling every
command module shares; :mod:`~revwatch.cli.main` the entry point and ``detect``,
``generate``, ``methods``, ``demo``; :mod:`~revwatch.cli.monitor`, :mod:`~revwatch.cli.web`
and :mod:`~revwatch.cli.evaluate` the other commands; :mod:`~revwatch.cli.datasets` the
generators' options. Importing this package registers every command on :data:`app`.
"""

from revwatch.cli._common import app
from revwatch.cli.main import command, main

__all__ = ["app", "command", "main"]

# Command modules register themselves on ``app`` when imported (this order is --help's).
# isort: off
from revwatch.cli import monitor  # noqa: F401
from revwatch.cli import web  # noqa: F401
from revwatch.cli import evaluate  # noqa: F401

# isort: on
