"""Monitoring commands: ``run``, ``config``, ``incidents`` and ``health``.

Registered on :data:`revwatch.cli.app` by importing this module. Every
command is a thin layer over :mod:`revwatch.monitor`, :mod:`revwatch.monitor.store`
and :mod:`revwatch.monitor.config`, imported inside the commands: they bring
SQLAlchemy and pydantic (about 0.4 s), which ``revwatch detect`` never needs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from revwatch.cli._common import (
    ConfigOpt,
    StoreOpt,
    _open_store,
    _setup_logging,
    _user_errors,
    app,
)
from revwatch.errors import ConfigError, ParameterError
from revwatch.report.terminal import stderr_console

logger = logging.getLogger(__name__)

config_app = typer.Typer(help="Validate or create a monitoring config.", no_args_is_help=True)
incidents_app = typer.Typer(help="List, inspect, acknowledge, resolve and label incidents.")
app.add_typer(config_app, name="config")
app.add_typer(incidents_app, name="incidents")


@app.command("run")
def run_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The revwatch.toml to run.")
    ] = Path("revwatch.toml"),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    """One idempotent run: score what is new, update incidents, send pending alerts."""
    from revwatch.monitor.config import load_config
    from revwatch.monitor.runner import run

    _setup_logging(verbose)
    with _user_errors():
        report = run(load_config(config))
        escalated = (
            f"{report.incidents_escalated} escalated, " if report.incidents_escalated else ""
        )
        if report.incidents_reopened:
            escalated += f"{report.incidents_reopened} reopened, "
        recorded = (
            f", {report.incidents_recorded} past incidents recorded without alerts"
            if report.incidents_recorded
            else ""
        )
        stderr_console().print(
            f"run {report.run_id} {report.status}: {report.new_periods} new periods, "
            f"{report.incidents_opened} incidents opened, {escalated}"
            f"{report.incidents_resolved} resolved, {report.deliveries_sent} alerts sent"
            + recorded,
            highlight=False,
        )


@config_app.command("validate")
def validate_command(file: Annotated[Path, typer.Argument(help="The config file.")]) -> None:
    """Check a config; a problem names its line and key (exit 2)."""
    from revwatch.monitor.config import load_config

    with _user_errors():
        cfg = load_config(file)
        stderr_console().print(
            f"{file}: ok ({len(cfg.sources)} sources, {len(cfg.metrics)} metrics)", highlight=False
        )


@config_app.command("init")
def init_command(
    file: Annotated[Path, typer.Argument(help="Where to write it.")] = Path("revwatch.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example config that validates."""
    from revwatch.monitor.config import EXAMPLE_CONFIG, parse_config

    with _user_errors():
        if file.exists() and not force:
            raise ConfigError(f"{file} exists; pass --force to overwrite it")
        parse_config(EXAMPLE_CONFIG, path=str(file))
        file.write_text(EXAMPLE_CONFIG, encoding="utf-8")
        stderr_console().print(f"wrote {file}; edit it, then `revwatch config validate {file}`")


_LIST_HEADER = (
    f"{'id':<16}  {'status':<12} {'tier':<8} {'metric':<12} {'type':<14} {'dir':<4} "
    f"{'start':<10}  {'impact':>12}  series"
)


def _row_text(row: dict[str, Any]) -> str:
    from revwatch.data.keys import series_key_text
    from revwatch.units import Unit, format_amount

    key = series_key_text(row["series_key"])
    impact = format_amount(row.get("impact"), Unit.parse(row.get("unit")), signed=True)
    return (
        f"{row['incident_id']:<16}  {row['status']:<12} {row['tier']:<8} {row['metric']:<12} "
        f"{row['type']:<14} {row['direction']:<4} {str(row['start_period'])[:10]:<10}  "
        f"{impact:>12}  {key}" + ("  (suppressed)" if row.get("suppressed") else "")
    )


def _echo_lines(lines: Any) -> None:
    """Write lines to stdout; a reader that stops early (``| head -1``) ends it quietly."""
    try:
        for line in lines:
            typer.echo(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader is gone: point stdout at /dev/null so the final flush cannot fail
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None


@incidents_app.command("list")
def list_command(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    status: Annotated[
        str | None, typer.Option("--status", help="open, acknowledged or resolved.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
) -> None:
    """List incidents, newest first (a header line, then one line each; --json: JSON lines)."""
    with _user_errors():
        rows = _open_store(config, store)[0].incidents(status=status, limit=limit)
        for row in rows:
            row.pop("context", None)
        if as_json:
            _echo_lines(json.dumps(row, default=str) for row in rows)
        else:
            _echo_lines([_LIST_HEADER, *(_row_text(row) for row in rows)])


@incidents_app.command("show")
def show_command(
    incident: Annotated[str, typer.Argument(help="Incident id (or a unique prefix).")],
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Show one incident, its deliveries and labels as JSON."""
    with _user_errors():
        st = _open_store(config, store)[0]
        row = st.incident(incident)
        if row is None:
            raise ParameterError(f"no incident {incident!r}; see `revwatch incidents list`")
        row.pop("context", None)
        row["deliveries"] = st.deliveries(incident_id=row["incident_id"])
        row["labels"] = [r for r in st.labels() if r["incident_id"] == row["incident_id"]]
        typer.echo(json.dumps(row, default=str, indent=2))


@incidents_app.command("ack")
def ack_command(
    incident: Annotated[str, typer.Argument()], config: ConfigOpt = None, store: StoreOpt = None
) -> None:
    """Acknowledge an incident."""
    with _user_errors():
        row = _open_store(config, store)[0].set_status(incident, "acknowledged")
        stderr_console().print(f"{row['incident_id']} acknowledged", highlight=False)


@incidents_app.command("resolve")
def resolve_command(
    incident: Annotated[str, typer.Argument()], config: ConfigOpt = None, store: StoreOpt = None
) -> None:
    """Resolve an incident; its resolve alerts go out with the next run."""
    with _user_errors():
        row = _open_store(config, store)[0].set_status(incident, "resolved")
        stderr_console().print(f"{row['incident_id']} resolved", highlight=False)


@incidents_app.command("label")
def label_command(
    incident: Annotated[str, typer.Argument()],
    label: Annotated[str, typer.Option("--as", help="benign or confirmed.")],
    cause: Annotated[str | None, typer.Option("--cause", help="What caused it.")] = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Label an incident: benign suppresses similar alerts, confirmed masks it from baselines."""
    with _user_errors():
        row = _open_store(config, store)[0].add_label(incident, label, cause)
        stderr_console().print(f"{row['incident_id']} labelled {label}", highlight=False)


@app.command("health")
def health_command(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Reference time (ISO), default now (UTC).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Monitor the monitor: score drift, stale sources, failed runs, model age.

    Exit 0 when nothing is critical, 1 when something is (for cron/alerting).
    """
    from revwatch.monitor.runner import health

    with _user_errors():
        st, cfg = _open_store(config, store)
        try:
            when = dt.datetime.fromisoformat(now) if now else None
        except ValueError:
            raise ParameterError(
                f"--now {now!r} is not an ISO date like 2026-01-31T06:00"
            ) from None
        report = health(st, cfg, now=when)
        if as_json:
            out = {
                "status": report.status,
                "checks": [c.__dict__ for c in report.checks],
                "weekly": json.loads(report.weekly.to_json(orient="records", date_format="iso")),
            }
            sys.stdout.write(json.dumps(out, indent=2) + "\n")
        else:
            err = stderr_console()
            for check in report.checks:
                err.print(f"{check.status:<8} {check.name:<24} {check.detail}", highlight=False)
            err.print(f"health: {report.status}", highlight=False)
    if report.status == "critical":
        raise typer.Exit(1)
