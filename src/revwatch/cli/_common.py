"""What every command module shares: the typer app, the store options,
the one stderr console, the error handling and the logging set-up.

The command modules import this module, never each other, so there is no import circle
inside :mod:`revwatch.cli`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from revwatch.errors import ParameterError, RevwatchError
from revwatch.redact import RedactingFilter, redact
from revwatch.report.terminal import printable

if TYPE_CHECKING:
    from revwatch.monitor.store import Store


app = typer.Typer(
    name="revwatch",
    help="Find the accounts, products or regions whose revenue behaves differently "
    "from their own normal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _stderr() -> Console:
    """Console on stderr; wide when it is not a terminal (pipes, CI logs) so tables fit."""
    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=140)
    return console


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn user errors into a one-line message and exit code 2."""
    try:
        yield
    except RevwatchError as exc:
        typer.echo(f"revwatch: error: {printable(redact(exc))}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        typer.echo("revwatch: interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:  # a bug: say so in one line unless debugging
        if os.environ.get("REVWATCH_DEBUG"):
            raise
        typer.echo(
            f"revwatch: internal error: {type(exc).__name__}: {redact(exc)} "
            "(set REVWATCH_DEBUG=1 for the traceback and please report it)",
            err=True,
        )
        raise typer.Exit(1) from None


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="revwatch: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for handler in logging.getLogger().handlers:  # no secret in any log line
        handler.addFilter(RedactingFilter())


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="revwatch.toml (gives the store).")
]


StoreOpt = Annotated[str | None, typer.Option("--store", help="Store URL (instead of --config).")]


def _store(config: Path | None, store: str | None) -> Store:
    from revwatch.monitor.config import load_config
    from revwatch.monitor.runner import open_store
    from revwatch.monitor.store import Store

    if store:
        return Store(store)
    if config is None:
        if Path("revwatch.toml").exists():
            config = Path("revwatch.toml")
        else:
            raise ParameterError("give --config revwatch.toml or --store URL")
    return open_store(load_config(config))
