"""Web commands: ``serve`` (the review app) and ``report --html`` (a self-contained file).

Registered on :data:`revwatch.cli.app` by importing this module; each command
is a thin layer over :mod:`revwatch.web` and :mod:`revwatch.report.html`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from revwatch.cli._common import (
    ConfigOpt,
    StoreOpt,
    _open_store,
    _setup_logging,
    _user_errors,
    app,
)
from revwatch.report.terminal import stderr_console
from revwatch.web.security import DEFAULT_TOKEN_ENV

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

CurrencyOpt = Annotated[str, typer.Option("--currency", help="Symbol on amounts and axes.")]
CountryOpt = Annotated[
    str | None, typer.Option("--country", help="Country code for holiday annotations.")
]


@app.command("serve")
def serve_command(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env", help=f"Environment variable holding the API token [{DEFAULT_TOKEN_ENV}]."
        ),
    ] = None,
    open_reads: Annotated[
        bool, typer.Option("--open-reads", help="Pages and API reads without the token.")
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A Host name the server answers to (repeat; for a reverse proxy's public name). "
            "Default: the --host, localhost, 127.0.0.1.",
        ),
    ] = None,
    currency: CurrencyOpt = "$",
    country: CountryOpt = None,
) -> None:
    """Serve the review pages and the JSON API over the store (needs the web extra)."""
    _setup_logging(True)
    with _user_errors():
        from revwatch.web import require_web, serve

        require_web()
        st, cfg = _open_store(config, store)

        def announce() -> None:
            stderr_console().print(
                f"revwatch: review app on http://{host}:{port}/incidents "
                f"(API schema at /api/openapi.json)",
                highlight=False,
            )

        serve(
            st,
            host=host,
            port=port,
            token_env=token_env,
            open_reads=open_reads,
            config=cfg,
            currency=currency,
            country=country,
            allowed_hosts=allowed_host or None,
            announce=announce,
        )


@app.command("report")
def report_command(
    html: Annotated[Path, typer.Option("--html", help="The HTML file to write.")],
    config: ConfigOpt = None,
    store: StoreOpt = None,
    run: Annotated[
        int | None, typer.Option("--run", help="Run id (default: the latest with incidents).")
    ] = None,
    charts: Annotated[int, typer.Option("--charts", min=0, help="Incidents to chart.")] = 25,
    currency: CurrencyOpt = "$",
    country: CountryOpt = None,
) -> None:
    """Write one self-contained HTML file: a run's ranked incidents with a chart each."""
    with _user_errors():
        from revwatch.report.html import write_html_report

        st, _cfg = _open_store(config, store)
        out = write_html_report(
            st, html, run_id=run, currency=currency, charts=charts, country=country
        )
        stderr_console().print(f"wrote {out} ({out.stat().st_size:,} bytes)", highlight=False)
