"""``revwatch evaluate``, ``revwatch compare`` and ``revwatch advise``.

Thin commands over :mod:`revwatch.evaluation.metrics` and :mod:`revwatch.evaluation.advise`;
registered on :data:`revwatch.cli.app` when :mod:`revwatch.cli` imports this
module. Tables and notes go to stderr; ``--format csv|json|markdown`` goes to
stdout or ``--output``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.table import Table

from revwatch.cli import datasets as cli_datasets
from revwatch.cli._common import ParamOpt, _setup_logging, _user_errors, app, parse_params
from revwatch.datasets import DATASETS
from revwatch.errors import ParameterError
from revwatch.report import write_results
from revwatch.report.formats import check_output_path
from revwatch.report.terminal import stderr_console

if TYPE_CHECKING:
    from revwatch.evaluation.metrics import Comparison

# revwatch.evaluation.metrics and revwatch.evaluation.advise (scipy.stats) are imported inside the
# commands so that other commands do not pay for them.

logger = logging.getLogger(__name__)

_FORMATS = ("table", "csv", "json", "markdown")

IdOption = Annotated[
    list[str] | None, typer.Option("--id", help="Series key column (repeat for several).")
]
FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="table (stderr), csv, json or markdown.")
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write csv/json/markdown here.")
]
ToleranceOption = Annotated[
    int, typer.Option("--tolerance", help="Periods after an event that still detect it.")
]
MatchDirectionOption = Annotated[
    bool,
    typer.Option(
        "--match-direction",
        help="Event-wise: only a flag pointing the labelled way (up/down) detects an event.",
    ),
]


def _check_format(fmt: str, output: Path | None) -> None:
    if fmt not in _FORMATS:
        raise ParameterError(f"--format {fmt!r} is not one of {', '.join(_FORMATS)}")
    if fmt == "table" and output is not None:
        raise ParameterError("--output needs --format csv, json or markdown")


def _print_table(frame: pd.DataFrame, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(frame.columns):
        table.add_column(str(column), justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in frame.itertuples(index=False):
        table.add_row(*("" if pd.isna(v) else _cell(v) for v in row))
    console = stderr_console()
    if not console.is_terminal:  # a log or a pipe: do not wrap at 80 columns
        console.width = 240
    console.print(table)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


def _write(frame: pd.DataFrame, fmt: str, output: Path | None) -> None:
    text = write_results(frame, fmt, id_columns=["method"], output=output)
    if text is not None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        stderr_console().print(f"wrote {len(frame)} rows to {output}", highlight=False)


@app.command("evaluate")
def evaluate_command(
    source: Annotated[
        str,
        typer.Argument(
            help="The data: CSV, Parquet or Excel file, or a labelled set's directory "
            "(truth.json + one CSV per series)."
        ),
    ],
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels", "-l", help="Labels file: id columns, period, [type, event_start]."
        ),
    ] = None,
    methods: Annotated[
        str, typer.Option("--methods", "-m", help="Comma-separated methods, e.g. auto,iqr.")
    ] = "auto",
    flags: Annotated[
        list[Path] | None,
        typer.Option(
            "--flags",
            help="Labelled set: score these flag CSVs (series, period) instead of a method "
            "(repeatable).",
        ),
    ] = None,
    id_columns: IdOption = None,
    time: Annotated[str | None, typer.Option("--time", help="Period column.")] = None,
    value: Annotated[str | None, typer.Option("--value", help="Value column.")] = None,
    tolerance: ToleranceOption = 0,
    match_direction: MatchDirectionOption = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    """Score methods against labels: point-wise and event-wise precision/recall/F1, more.

    On a labelled set's directory: window recall, flag precision, F1, false
    flags per 1000 scored rows and median delay per group, overall and macro.
    """
    _setup_logging(verbose)
    with _user_errors():
        from revwatch.evaluation.labelled import is_labelled_set
        from revwatch.evaluation.metrics import evaluate, parse_methods

        _check_format(fmt, output)
        check_output_path(output, [source, labels])
        if is_labelled_set(source):
            if labels is not None or tolerance or match_direction:
                raise ParameterError(
                    f"{source} is a labelled set (truth.json holds its labels): leave out "
                    "--labels, --tolerance and --match-direction"
                )
            _evaluate_labelled_set(source, methods, flags, fmt, output, verbose)
            return
        if flags:
            raise ParameterError(
                "--flags needs a labelled set's directory (truth.json + series CSVs) as SOURCE"
            )
        if labels is None:
            raise ParameterError(
                f"{source}: pass --labels FILE (or give a labelled set's directory)"
            )
        table = evaluate(
            source,
            labels,
            parse_methods(methods),
            id=id_columns or None,
            time=time,
            value=value,
            tolerance=tolerance,
            match_direction=match_direction,
        )
        if fmt == "table":
            # One column per method, one row per metric: fits a terminal.
            shown = table.set_index("method").T.reset_index(names="metric")
            _print_table(shown, f"revwatch evaluate: {source} (tolerance {tolerance})")
        else:
            _write(table, fmt, output)
        if table["retrospective"].any():
            stderr_console().print(
                "note: retrospective methods judge each period with data after it; "
                "they cannot run as a live monitor",
                highlight=False,
            )


def _evaluate_labelled_set(
    source: str, methods: str, flags: list[Path] | None, fmt: str, output: Path | None,
    verbose: bool,
) -> None:  # fmt: skip
    from revwatch.evaluation.labelled import evaluate_labelled, markdown_table
    from revwatch.evaluation.metrics import parse_methods

    err = stderr_console()
    result = evaluate_labelled(
        source,
        parse_methods(methods),
        flags=flags,
        progress=(lambda line: err.print(line, highlight=False)) if verbose else None,
    )
    table = result.table
    if fmt == "table":
        _print_table(table.drop(columns=["points"]), f"revwatch evaluate: {source}")
    elif fmt == "markdown":
        text = markdown_table(table) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text)
            err.print(f"wrote {len(table)} rows to {output}", highlight=False)
    else:
        _write(table, fmt, output)
    for name, why in result.failed.items():
        err.print(f"note: {name}: not loaded, counted as no flags ({why})", highlight=False)
    unmatched = int(result.per_series["unmatched"].sum())
    if unmatched or result.unknown_series:
        err.print(
            f"warning: {unmatched} flags match no row of their series; unknown series: "
            f"{result.unknown_series[:5]}",
            highlight=False,
        )


@app.command("compare")
def compare_command(
    dataset: Annotated[str, typer.Argument(help=f"Data set: {', '.join(sorted(DATASETS))}.")],
    seeds: Annotated[int, typer.Option("--seeds", help="Number of random seeds (0..N-1).")] = 10,
    methods: Annotated[
        str | None,
        typer.Option("--methods", "-m", help="Comma-separated methods (default: all)."),
    ] = None,
    tolerance: ToleranceOption = 0,
    match_direction: MatchDirectionOption = False,
    param: ParamOpt = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="csv/json: every seed's row instead of mean/std.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            help="Worker processes for the (seed, method) runs (default: all CPUs; 1: none).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
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
    """Regenerate a seed's data set over N seeds and compare methods (mean ± std).

    The generator options (``--holidays``, ``--realistic``, ...) are those of
    ``revwatch generate``. ``--country`` is also given to the methods that take
    a country (``auto``: its public holidays become calendar terms);
    ``--holidays`` alone plants US holidays without telling the methods.
    ``-p NAME=VALUE`` goes to every compared method that has that parameter.
    """
    _setup_logging(verbose)
    with _user_errors():
        from revwatch.evaluation.metrics import compare, parse_methods

        _check_format(fmt, output)
        if seeds < 1:
            raise ParameterError(f"--seeds must be at least 1, got {seeds}")
        if jobs is not None and jobs < 1:
            raise ParameterError(f"--jobs must be at least 1, got {jobs}")
        if dataset not in DATASETS:
            raise ParameterError(
                f"unknown data set {dataset!r}; choose one of: {', '.join(sorted(DATASETS))}"
            )
        options = cli_datasets.generator_options(
            dataset,
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
        names = parse_methods(methods) if methods else None
        err = stderr_console()
        result = compare(
            dataset,
            names,
            seeds,
            tolerance=tolerance,
            dataset_kwargs=options,
            progress=(lambda line: err.print(line, highlight=False)) if verbose else None,
            n_jobs=jobs,
            match_direction=match_direction,
            params={**({"country": country} if country else {}), **parse_params(param)} or None,
        )
        _emit_comparison(result, fmt, output, raw, options, country=country, params=param)


def _emit_comparison(
    result: Comparison,
    fmt: str,
    output: Path | None,
    raw: bool,
    options: dict[str, object] | None = None,
    country: str | None = None,
    params: list[str] | None = None,
) -> None:
    parts = [", ".join(f"{k}={v}" for k, v in (options or {}).items())]
    if country:
        parts.append(f"methods told country={country}")
    if params:
        parts.append(f"methods given {', '.join(params)}")
    shown = "; ".join(p for p in parts if p)
    title = (
        f"revwatch compare {result.dataset}{f' ({shown})' if shown else ''} over "
        f"{len(result.seeds)} seeds "
        "(mean ± std; precision/recall/F1 point-wise unless marked event)"
    )
    if fmt == "table":
        _print_table(result.table(), title)
    elif fmt == "markdown":
        _write(result.table(), fmt, output)
    else:
        _write(result.runs if raw else result.summary, fmt, output)
    for name, why in result.skipped.items():
        stderr_console().print(f"note: skipped {name}: {why}", highlight=False)


@app.command("advise")
def advise_command(
    source: Annotated[str, typer.Argument(help="The data: CSV, Parquet or Excel file.")],
    labels: Annotated[
        Path | None, typer.Option("--labels", "-l", help="Labels file (judge methods by F1).")
    ] = None,
    id_columns: IdOption = None,
    time: Annotated[str | None, typer.Option("--time", help="Period column.")] = None,
    value: Annotated[str | None, typer.Option("--value", help="Value column.")] = None,
    f1_target: Annotated[
        float, typer.Option("--f1-target", help="F1 that is good enough (with labels).")
    ] = 0.85,
    max_flag_rate: Annotated[
        float, typer.Option("--max-flag-rate", help="Highest flag rate (without labels).")
    ] = 0.05,
) -> None:
    """Seed 003's framework: test assumptions, try methods simple to complex, recommend one."""
    _setup_logging(False)
    with _user_errors():
        from revwatch.evaluation.advise import advise

        advice = advise(
            source,
            labels,
            id=id_columns or None,
            time=time,
            value=value,
            f1_target=f1_target,
            max_flag_rate=max_flag_rate,
        )
        typer.echo(advice.to_text(), nl=False)


__all__ = ["advise_command", "compare_command", "evaluate_command"]
