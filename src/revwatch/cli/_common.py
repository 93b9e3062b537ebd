"""What every command module shares: the typer app, the store options and the store they
name, the error handling and the logging set-up (tables and notes go to
:func:`revwatch.report.terminal.stderr_console`).

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
from typing import TYPE_CHECKING, Annotated, Any

import typer

from revwatch.errors import ParameterError, RevwatchError
from revwatch.redact import RedactingFilter, redact
from revwatch.report.terminal import printable

if TYPE_CHECKING:
    from revwatch.monitor.config import Config
    from revwatch.monitor.store import Store


app = typer.Typer(
    name="revwatch",
    help="Find the accounts, products or regions whose revenue behaves differently "
    "from their own normal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
    except BrokenPipeError:
        # the reader went away (`revwatch methods | head -1`): not an error of ours. Point
        # stdout at nothing so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(141) from None
    except Exception as exc:  # a bug: say so in one line unless debugging
        if os.environ.get("REVWATCH_DEBUG"):
            raise
        typer.echo(
            f"revwatch: internal error: {type(exc).__name__}: {redact(exc)} "
            "(set REVWATCH_DEBUG=1 for the traceback and please report it)",
            err=True,
        )
        raise typer.Exit(1) from None


def parse_value(text: str) -> Any:
    """A ``--param`` value: none/null, true/false, an int, a float, else the text."""
    lowered = text.strip().lower()
    if lowered in {"none", "null"}:
        return None
    if lowered in {"true", "false"}:
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``--param NAME=VALUE`` items as a mapping (a one-line error for a malformed one)."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--param {item!r} must look like NAME=VALUE, e.g. threshold=4")
        params[key.strip()] = parse_value(raw)
    return params


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="revwatch: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for handler in logging.getLogger().handlers:  # no secret in any log line
        handler.addFilter(RedactingFilter())


ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Method parameter NAME=VALUE (repeatable)."),
]


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="revwatch.toml (gives the store).")
]


StoreOpt = Annotated[str | None, typer.Option("--store", help="Store URL (instead of --config).")]


def _open_store(config: Path | None, store: str | None) -> tuple[Store, Config | None]:
    """The store ``--store`` or ``--config`` names, and the config when ``--config`` was given.

    Without either, the store of ``revwatch.toml`` in the working directory (its config is not
    returned: only an explicit ``--config`` switches on what a config adds, such as the
    stale-source checks of ``health``). SQLAlchemy and pydantic are imported here: they cost
    about 0.4 s that ``revwatch detect`` never needs.
    """
    from revwatch.monitor.config import load_config
    from revwatch.monitor.runner import open_store
    from revwatch.monitor.store import Store

    cfg = load_config(config) if config else None
    if store:
        return Store(store), cfg
    if cfg is not None:
        return open_store(cfg), cfg
    if not Path("revwatch.toml").exists():
        raise ParameterError("give --config revwatch.toml or --store URL")
    return open_store(load_config(Path("revwatch.toml"))), None
