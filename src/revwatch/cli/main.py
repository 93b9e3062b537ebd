"""The ``revwatch`` command line: a thin layer over the public API.

Exit codes: 0 success; 2 bad input or options (one-line message on stderr);
1 an unexpected internal error (set ``REVWATCH_DEBUG=1`` for the traceback).
Tables, notes and progress go to stderr; ``--format csv|json|markdown``
output goes to stdout (or ``--output FILE``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

import revwatch
from revwatch import report
from revwatch.cli import datasets as cli_datasets
from revwatch.cli._common import ParamOpt, _setup_logging, _user_errors, app, parse_params
from revwatch.datasets import DATASETS, generate, write_dataset
from revwatch.detectors.registry import get_detector, method_names
from revwatch.errors import ParameterError
from revwatch.pipeline import Detection, analyze
from revwatch.report import render_table, write_results
from revwatch.report.formats import check_output_path
from revwatch.report.terminal import printable, stderr_console

logger = logging.getLogger(__name__)


_FORMATS = ("table", "csv", "json", "markdown")


def _emit(
    detection: Detection,
    *,
    fmt: str,
    output: Path | None,
    all_rows: bool,
    details: bool,
    limit: int,
    chart: Path | None,
    quiet: bool,
    safe_text: bool = True,
) -> None:
    """Write the results of one detection as the user asked."""
    ids = list(detection.panel.id_columns)
    results = detection.results(all_rows=all_rows, details=details)
    err = stderr_console()
    if fmt == "table":
        table_rows = detection.results(details=True)
        render_table(
            table_rows,
            ids,
            console=err,
            limit=limit,
            title=f"revwatch: {detection.panel.source} ({detection.method})",
            value_label=detection.panel.value_name,
        )
    else:
        text = write_results(results, fmt, id_columns=ids, output=output, safe_text=safe_text)
        if text is not None:
            sys.stdout.write(text)
            if not text.endswith("\n"):
                sys.stdout.write("\n")
        elif not quiet:
            err.print(f"wrote {len(results)} rows to {output}")
    if chart is not None:
        report.plot_top_series(
            detection.series(), ids, chart, top=4, value_label=detection.panel.value_name
        )
        if not quiet:
            err.print(f"wrote chart to {chart}")
    if detection.scores.retrospective and not quiet:
        err.print(
            f"note: {detection.method} is retrospective: it judges each period with data "
            "after it, so it cannot be used for live monitoring"
        )


def _chart_incidents(found: Any, chart: Path, *, quiet: bool) -> None:
    """The four-panel chart with the periods inside incidents shaded."""
    detection = found.detection
    series = detection.series()
    series["in_incident"] = detection.panel.matrix().to_rows(found.cells())
    ids = list(detection.panel.id_columns)
    report.plot_top_series(series, ids, chart, top=4, value_label=detection.panel.value_name)
    if not quiet:
        stderr_console().print(f"wrote chart to {chart}")


def _with_country(params: dict[str, Any], method: str, country: str | None) -> dict[str, Any]:
    """``auto``'s parameters with ``--country`` (its public holidays are calendar terms)."""
    if country and method == "auto" and "country" not in params:
        return {**params, "country": country}
    return params


@app.command("detect")
def detect_command(
    source: Annotated[
        str, typer.Argument(help="CSV, Parquet or Excel file, database file or SQLAlchemy URL.")
    ],
    id_columns: Annotated[
        list[str] | None, typer.Option("--id", help="Series key column (repeat for several).")
    ] = None,
    time: Annotated[str | None, typer.Option("--time", help="Period column.")] = None,
    value: Annotated[str | None, typer.Option("--value", help="Value column.")] = None,
    sql: Annotated[
        str | None, typer.Option("--sql", help="Query to run against a database source.")
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="Excel sheet name.")] = None,
    aggregate: Annotated[
        str | None,
        typer.Option(
            "--aggregate",
            help="Rows sharing a series and period: sum adds them up, mean averages, last keeps "
            "the latest.",
        ),
    ] = None,
    freq: Annotated[
        str | None,
        typer.Option(
            "--freq",
            help="1min, 5min, 10min, 15min, 30min, hourly, daily, weekly, fortnightly, monthly, "
            "quarterly or yearly (default: inferred).",
        ),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", "-m", help="Detection method (see `revwatch methods`).")
    ] = "auto",
    param: ParamOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table, csv, json or markdown.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write csv/json/markdown here.")
    ] = None,
    all_rows: Annotated[
        bool, typer.Option("--all", help="Every row, unflagged ones as type normal.")
    ] = False,
    details: Annotated[
        bool,
        typer.Option(
            "--details", help="Add provisional, confirmed_period, method and basis columns."
        ),
    ] = False,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the four-panel PNG chart here.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows in the terminal table.")] = 20,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No notes on stderr.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress on stderr.")
    ] = False,
    incidents: Annotated[
        bool, typer.Option("--incidents", help="Report incidents ranked by money impact.")
    ] = False,
    metrics: Annotated[
        list[str] | None, typer.Option("--metrics", help="Extra metric column (repeatable).")
    ] = None,
    dimensions: Annotated[
        list[str] | None,
        typer.Option("--dimensions", help="Id column a total breaks down by (repeatable)."),
    ] = None,
    country: Annotated[
        str | None,
        typer.Option(
            "--country", help="Country code: public holidays are learned (auto) and annotated."
        ),
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="Events CSV: date or start,end,label,kind.")
    ] = None,
    unit: Annotated[
        str | None,
        typer.Option(
            "--unit",
            help="Unit of the value: money:USD (any ISO code), count, ratio or percent "
            "(default: inferred from the column).",
        ),
    ] = None,
    # reading inputs and writing safe outputs (issue 14)
    decimal: Annotated[str | None, typer.Option("--decimal", help="Decimal mark: . or ,")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="CSV encoding.")] = None,
    skip_rows: Annotated[int, typer.Option("--skip-rows", help="Lines above the header.")] = 0,
    raw_text: Annotated[
        bool, typer.Option("--raw-text", help="CSV: no ' before text cells like =, +, -, @.")
    ] = False,
    # time options of the loader (see README, "Loading data")
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            help="Time zone (e.g. Europe/Berlin) of naive stamps and of the reporting day.",
        ),
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option("--date-format", help="Spelling of the dates, e.g. %d/%m/%Y or ISO8601."),
    ] = None,
) -> None:
    """Score every series against its own past and list the anomalies, most severe first."""
    _setup_logging(verbose)
    with _user_errors():
        if fmt not in _FORMATS:
            raise ParameterError(f"--format {fmt!r} is not one of {', '.join(_FORMATS)}")
        check_output_path(output, [source, events])
        check_output_path(chart, [source, events, output], option="--chart")
        if incidents:
            from revwatch.incidents.build import analyze_incidents, emit_incidents

            found = analyze_incidents(
                source, id=id_columns or None, time=time, value=value, sql=sql, sheet=sheet,
                aggregate=aggregate, freq=freq, method=method, metrics=metrics or None,
                dimensions=dimensions or None, country=country, events=events, unit=unit,
                decimal=decimal, encoding=encoding, skip_rows=skip_rows,
                tz=tz, date_format=date_format, **parse_params(param),
            )  # fmt: skip
            emit_incidents(
                found, fmt=fmt, output=output, limit=limit, quiet=quiet, safe_text=not raw_text
            )
            if chart is not None:
                _chart_incidents(found, chart, quiet=quiet)
            return
        if fmt == "table" and output is not None:
            raise ParameterError("--output needs --format csv, json or markdown")
        detection = analyze(
            source,
            id=id_columns or None,
            time=time,
            value=value,
            sql=sql,
            sheet=sheet,
            aggregate=aggregate,
            freq=freq,
            method=method,
            decimal=decimal,
            encoding=encoding,
            skip_rows=skip_rows,
            tz=tz,
            date_format=date_format,
            **_with_country(parse_params(param), method, country),
        )
        if not quiet:
            for note in detection.panel.notes:
                stderr_console().print(f"note: {printable(note)}", highlight=False, markup=False)
        _emit(
            detection,
            fmt=fmt,
            output=output,
            all_rows=all_rows,
            details=details,
            limit=limit,
            chart=chart,
            quiet=quiet,
            safe_text=not raw_text,
        )


@app.command("generate")
def generate_command(
    name: Annotated[str, typer.Argument(help=f"Data set: {', '.join(sorted(DATASETS))}.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV or Parquet file to write.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 42,
    segments: cli_datasets.SegmentsOption = False,
    holidays: cli_datasets.HolidaysOption = False,
    country: cli_datasets.CountryOption = None,
    billing_bump: cli_datasets.BillingBumpOption = False,
    months: cli_datasets.MonthsOption = None,
    yearly_cycle: cli_datasets.YearlyCycleOption = False,
    heavy_tails: cli_datasets.HeavyTailsOption = False,
    late_starts: cli_datasets.LateStartsOption = False,
    realistic: cli_datasets.RealisticOption = False,
) -> None:
    """Write a generated data set, with its labels file beside it.

    The calendar and portfolio options are off by default; they add normal
    behaviour (never labels) that real revenue has.
    """
    with _user_errors():
        options = cli_datasets.generator_options(
            name,
            segments=segments,
            holidays=holidays,
            country=country,
            billing_bump=billing_bump,
            months=months,
            yearly_cycle=yearly_cycle,
            heavy_tails=heavy_tails,
            late_starts=late_starts,
            realistic=realistic,
        )
        dataset = generate(name, seed=seed, **options)
        data_path, labels_path = write_dataset(dataset, output)
        stderr_console().print(
            f"wrote {len(dataset.frame)} rows to {data_path} and labels to {labels_path}",
            highlight=False,
        )


@app.command("methods")
def methods_command() -> None:
    """List the detection methods and their parameters."""
    with _user_errors():
        for name in method_names():
            params = get_detector(name).settable_params()
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
            typer.echo(f"{name:24s} {shown}")


@app.command("demo")
def demo_command(
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="Where to write the demo files.")
    ] = Path("revwatch-demo"),
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the generated data.")] = 42,
) -> None:
    """Generate the seed's SaaS MRR data, detect, print the ranked table, write CSV and chart."""
    _setup_logging(False)
    with _user_errors():
        err = stderr_console()
        dataset = generate("saas-mrr", seed=seed)
        data_path, _ = write_dataset(dataset, output_dir / "saas_mrr.csv")
        detection = analyze(
            data_path,
            id=list(dataset.id_columns),
            time=dataset.time_column,
            value=dataset.value_column,
        )
        render_table(
            detection.results(details=True),
            list(detection.panel.id_columns),
            console=err,
            limit=20,
            title="revwatch demo: 30 SaaS accounts, Jul 2024 - Jun 2026 (method auto)",
            value_label=detection.panel.value_name,
        )
        write_results(
            detection.results(),
            "csv",
            id_columns=list(detection.panel.id_columns),
            output=output_dir / "anomalies.csv",
        )
        report.plot_top_series(
            detection.series(),
            list(detection.panel.id_columns),
            output_dir / "top_accounts.png",
            top=4,
            value_label=detection.panel.value_name,
        )
        err.print(
            f"wrote {data_path}, {output_dir / 'anomalies.csv'} and "
            f"{output_dir / 'top_accounts.png'}",
            highlight=False,
        )


def _print_version(value: bool) -> None:
    if value:
        typer.echo(revwatch.__version__)
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Find what behaves differently from its own normal in revenue data."""


def _plain_metavars(command: Any) -> None:
    """No ``<bool>`` beside flags in ``--help``; ``<str>``, not ``<list[str]>``, for repeatables."""
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option" and param.metavar is None:
            if param.is_flag:
                param.metavar = ""
            elif param.multiple and hasattr(param, "bare_type"):
                element = param.bare_type().removeprefix("list[").removesuffix("]")
                param.metavar = f"<{element}>"
    built = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = built(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)


def command() -> Any:
    """The click command of :data:`app`, with plain metavars (what ``revwatch`` runs)."""
    cmd = typer.main.get_command(app)
    _plain_metavars(cmd)
    return cmd


def main() -> None:
    """Console-script entry point.

    Once the command is done, its atexit handlers run and its output is
    flushed, the process ends with ``os._exit``: the interpreter's own
    teardown frees every array one by one, about a quarter of a second after
    a million-series run. While another (non-daemon) thread still runs, the
    exit is the normal one.
    """
    try:
        command()(prog_name="revwatch")
        code: int | str | None = 0
    except SystemExit as done:
        code = done.code
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(t.is_alive() and not t.daemon for t in others):
        sys.exit(code)
    if isinstance(code, str):  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        code = 1
    status = 0 if code is None else int(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a closed pipe
            stream.flush()
    os._exit(status)
