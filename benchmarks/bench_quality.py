"""Detection quality of ``auto`` and its causal peers on data nobody tuned them on.

Usage::

    .venv/bin/python benchmarks/bench_quality.py [--labelled DIR] [--real DIR]
        [--methods auto,rolling-zscore,rolling-iqr,isolation-forest]
        [--labelled-methods auto,rolling-zscore,rolling-iqr] [--seeds 3]
        [--parts labelled,real,generators] [--jobs 2] [--write docs/benchmarks.md]

Three parts, each a Markdown table (``--parts`` picks them):

``labelled``
    ``revwatch evaluate`` on the shared labelled set (``../shared/data/labelled``
    by default, outside the repository; skipped when absent): window recall,
    flag precision, F1 and false flags per 1000 scored rows per group, pooled
    and macro over groups, with the shared scoring script's rules
    (:mod:`revwatch.evaluation.labelled`).
``real``
    The shared real series (``../shared/data/real``; skipped when absent). US
    retail sales: Decembers after 1992 flagged (should be 0) and whether a
    downward flag falls in 2008-06..2009-06. Melbourne pedestrians, per
    lockdown of ``melbourne_lockdowns.csv``: a downward flag within 7 days of
    its start (either side: crowds thinned before the orders), and the
    downward incidents (:func:`revwatch.incidents.build.build_incidents`, reported
    ones) that start from 7 days before it to its end (one is right).
``generators``
    ``revwatch compare`` on the three generators over ``--seeds`` seeds, each
    with its options off (today's tables) and, for daily-revenue and
    saas-mrr, with ``--realistic`` (holidays + billing bump; yearly cycles,
    heavy tails, late starts, 36 months): event recall, event precision,
    event F1, false alarms per 1000 series-periods and types right (the share
    of detected events whose first flag has the labelled type).

Methods: ``--methods`` for the real series and the generators (default
``auto``, ``rolling-zscore``, ``rolling-iqr``, ``isolation-forest``, the causal
peers that finish in minutes on two cores), ``--labelled-methods`` for the
labelled set (default ``auto``, ``rolling-zscore``, ``rolling-iqr``). The
labelled set has 11 series of 4-16k rows at a 5-minute step; there the
registered ``isolation-forest`` (refitted every 7 rows) and ``prophet``
(refitted every 30 rows) take hours, so they are off by default; the set's
README gives its own causal Isolation Forest and Prophet figures for
comparison. Add them with ``--labelled-methods ...,isolation-forest,prophet``
if you have the time, and ``prophet`` to ``--methods`` likewise (minutes per
generator seed).

Run time on the shared 2-core machine with the defaults and 3 seeds: about
20 minutes, most of it the generators (``--seeds 1`` is about a third).

``--write FILE`` replaces, for each part run, the text between the markers
``<!-- bench_quality:PART:start -->`` and ``<!-- bench_quality:PART:end -->``
in FILE (appending them at the end the first time), so re-running a part
replaces its table and leaves the others; each part says the command, commit
and date it was measured with. The tables are always printed on stdout,
progress on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_LABELLED = ROOT.parent / "shared" / "data" / "labelled"
DEFAULT_REAL = ROOT.parent / "shared" / "data" / "real"
DEFAULT_METHODS = "auto,rolling-zscore,rolling-iqr,isolation-forest"
DEFAULT_LABELLED_METHODS = "auto,rolling-zscore,rolling-iqr"
#: The set's README: macro F1 of its own causal peers (other implementations).
README_PEERS = "rolling z-score 0.26, rolling IQR 0.25, Prophet 0.36, Isolation Forest on lags 0.63"


def markers(part: str) -> tuple[str, str]:
    """The start and end markers of one part's block."""
    return f"<!-- bench_quality:{part}:start -->", f"<!-- bench_quality:{part}:end -->"


logger = logging.getLogger("bench_quality")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _fmt(value: object, digits: int = 2) -> str:
    if value is None or value is pd.NA:
        return "-"
    if isinstance(value, float | np.floating):
        return "-" if np.isnan(value) else f"{float(value):.{digits}f}"
    return str(value)


# --------------------------------------------------------------------------- labelled


def labelled_part(path: Path, methods: list[str]) -> str:
    """One row per method: F1 per group, overall false flags per 1000 rows, macro F1."""
    from revwatch.evaluation.labelled import evaluate_labelled, read_labelled_set

    groups = read_labelled_set(path).groups
    header = (
        "| method | "
        + " | ".join(f"{g} F1" for g in groups)
        + " | overall recall | overall precision | overall false/1000 | macro F1 |"
        " series not loaded | time (s) |"
    )
    lines = [header, "|" + "---|" * (len(groups) + 7)]
    for name in methods:
        started = time.monotonic()
        result = evaluate_labelled(path, name)
        seconds = time.monotonic() - started
        table = result.table.set_index("dataset")
        overall, macro = table.loc["overall"], table.loc["macro"]
        cells = [_fmt(table.loc[g, "f1"]) for g in groups]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {_fmt(overall['recall'])} | "
            f"{_fmt(overall['precision'])} | {_fmt(overall['false_per_1000'], 1)} | "
            f"{_fmt(macro['f1'])} | {len(result.failed)} | {seconds:.0f} |"
        )
        _say(f"labelled: {name} done in {seconds:.0f}s (macro F1 {_fmt(macro['f1'])})")
    lines.append("")
    lines.append(
        f"For reference, the set's README reports these macro F1 for its own causal peers: "
        f"{README_PEERS}. A series not loaded counts as no flags."
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- real


def _flags(path: Path, method: str) -> pd.DataFrame:
    from revwatch.pipeline import analyze

    detection = analyze(path, time="ds", value="y", method=method)
    return detection.results()


def us_retail(path: Path, method: str) -> dict[str, object]:
    """Decembers after the first flagged; a downward flag in the 2008-09 recession."""
    flags = _flags(path, method)
    period = pd.to_datetime(flags["period"])
    decembers = int(((period.dt.month == 12) & (period.dt.year > 1992)).sum())
    down = flags["direction"].astype(str) == "down"
    recession = (period >= "2008-06-01") & (period <= "2009-06-30") & down
    return {"flags": len(flags), "decembers": decembers, "recession": bool(recession.any())}


def melbourne(path: Path, lockdowns: pd.DataFrame, method: str) -> dict[str, object]:
    """Per lockdown: a downward flag within 7 days of its start; downward incidents in it."""
    from revwatch.incidents.build import build_incidents
    from revwatch.pipeline import analyze

    detection = analyze(path, time="ds", value="y", method=method)
    flags = detection.results()
    period = pd.to_datetime(flags["period"])
    down = (flags["direction"].astype(str) == "down").to_numpy()
    incidents = build_incidents(detection).reported()
    inc_start = pd.to_datetime(incidents["start"]) if len(incidents) else pd.Series([])
    inc_down = (
        (incidents["direction"].astype(str) == "down").to_numpy()
        if len(incidents)
        else np.zeros(0, dtype=bool)
    )
    found, per_lockdown = 0, []
    for row in lockdowns.itertuples(index=False):
        start, end = pd.Timestamp(row.start), pd.Timestamp(row.end_inclusive)
        week = pd.Timedelta(days=7)
        early = (period >= start - week) & (period <= start + week)
        found += int((early.to_numpy() & down).any())
        inside = ((inc_start >= start - week) & (inc_start <= end)).to_numpy() & inc_down
        per_lockdown.append(int(inside.sum()))
    return {
        "flags": len(flags),
        "found": found,
        "lockdowns": len(lockdowns),
        "incidents": per_lockdown,
    }


def real_part(path: Path, methods: list[str]) -> str:
    from revwatch.errors import RevwatchError

    lockdowns = pd.read_csv(path / "melbourne_lockdowns.csv")
    lines = [
        "| method | US retail: flags | Decembers after 1992 flagged | down flag 2008-06..2009-06 "
        "| Melbourne: flags | lockdowns with a down flag within 7 days of the start "
        "| down incidents per lockdown | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in methods:
        started = time.monotonic()
        try:
            retail = us_retail(path / "us_retail_sales_monthly.csv", name)
            walk = melbourne(path / "melbourne_pedestrians_daily.csv", lockdowns, name)
        except RevwatchError as exc:
            lines.append(f"| {name} | failed: {str(exc).splitlines()[0][:80]} |||||||")
            continue
        seconds = time.monotonic() - started
        incidents = ", ".join(str(n) for n in walk["incidents"])  # type: ignore[attr-defined]
        lines.append(
            f"| {name} | {retail['flags']} | {retail['decembers']} | "
            f"{'yes' if retail['recession'] else 'no'} | {walk['flags']} | "
            f"{walk['found']} of {walk['lockdowns']} | {incidents} | {seconds:.0f} |"
        )
        _say(f"real: {name} done in {seconds:.0f}s")
    return "\n".join(lines)


# --------------------------------------------------------------------------- generators


def generator_part(methods: list[str], seeds: int, jobs: int) -> str:
    from revwatch.data.panel import FREQUENCIES
    from revwatch.datasets import REALISTIC
    from revwatch.evaluation.metrics import compare

    freq = {"smartphone-sales": "monthly", "saas-mrr": "monthly", "daily-revenue": "daily"}
    realistic_daily = {"segments": True, **REALISTIC["daily-revenue"]}
    # (data set, generator options, method parameters): the last row tells the methods the
    # country of the planted holidays (the "with the country given")
    runs: list[tuple[str, dict[str, object], dict[str, object]]] = [
        ("smartphone-sales", {}, {}),
        ("saas-mrr", {}, {}),
        ("saas-mrr", REALISTIC["saas-mrr"], {}),
        ("daily-revenue", {}, {}),
        ("daily-revenue", {"segments": True}, {}),
        ("daily-revenue", realistic_daily, {}),
        ("daily-revenue", realistic_daily, {"country": "US"}),
    ]
    lines = [
        "| data set | options | method | event recall | event precision | event F1 "
        "| false alarms / 1000 series-periods | types right | point F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for dataset, options, params in runs:
        started = time.monotonic()
        result = compare(
            dataset, methods, seeds, dataset_kwargs=options, n_jobs=jobs, params=params or None
        )
        days_per_period = 365.25 / FREQUENCIES[freq[dataset]][1]
        shown = ", ".join(f"{k}={v}" for k, v in options.items()) or "off"
        if params:
            shown += "; methods told " + ", ".join(f"{k}={v}" for k, v in params.items())
        for row in result.summary.itertuples(index=False):
            per_1000 = row.false_alarms_per_week_mean * days_per_period / 7 * 1000
            spread = row.false_alarms_per_week_std * days_per_period / 7 * 1000
            lines.append(
                f"| {dataset} | {shown} | {row.method} | "
                f"{_pm(row.event_recall_mean, row.event_recall_std)} | "
                f"{_pm(row.event_precision_mean, row.event_precision_std)} | "
                f"{_pm(row.event_f1_mean, row.event_f1_std)} | {_pm(per_1000, spread, 1)} | "
                f"{_pm(row.types_right_mean, row.types_right_std)} | "
                f"{_pm(row.point_f1_mean, row.point_f1_std)} |"
            )
        for name, why in result.skipped.items():
            lines.append(f"| {dataset} | {shown} | {name} | skipped: {why[:80]} ||||||")
        _say(f"generators: {dataset} ({shown}) done in {time.monotonic() - started:.0f}s")
    return "\n".join(lines)


def _pm(mean: float, std: float, digits: int = 2) -> str:
    if not np.isfinite(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if not np.isfinite(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


# --------------------------------------------------------------------------- main


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes in src/)" if dirty else "")


def _short(path: Path) -> str:
    """``../shared/data/labelled`` for the default, the path as given otherwise."""
    return "../shared/data/labelled" if path == DEFAULT_LABELLED else str(path)


def write_between_markers(file: Path, text: str, part: str) -> None:
    """Replace the text between a part's markers in ``file`` (append them the first time)."""
    start, end = markers(part)
    old = file.read_text() if file.is_file() else ""
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        _, tail = rest.split(end, 1)
        new = head + block + tail
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    file.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labelled", type=Path, default=DEFAULT_LABELLED)
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--methods", default=DEFAULT_METHODS)
    parser.add_argument("--labelled-methods", default=DEFAULT_LABELLED_METHODS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--parts", default="labelled,real,generators")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--write", type=Path, help="Markdown file to put the tables in.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="bench_quality: %(message)s")
    # scikit-learn's joblib warns once per fit in every worker; keep the progress readable
    quiet = "ignore:`sklearn.utils.parallel.delayed`:UserWarning"
    os.environ["PYTHONWARNINGS"] = ",".join(
        w for w in (os.environ.get("PYTHONWARNINGS"), quiet) if w
    )
    warnings.filterwarnings("ignore", message="`sklearn.utils.parallel.delayed`")

    from revwatch.evaluation.metrics import parse_methods

    methods = parse_methods(args.methods)
    labelled_methods = parse_methods(args.labelled_methods)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - {"labelled", "real", "generators"}
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; choose labelled, real, generators")
    started = time.monotonic()
    sections: list[str] = []
    runners: list[tuple[str, str, str, Callable[[], str] | None]] = [
        ("labelled", f"Labelled real series ({_short(args.labelled)}, `revwatch evaluate`)",
         f"--labelled-methods {','.join(labelled_methods)}",
         (lambda: labelled_part(args.labelled, labelled_methods))
         if (args.labelled / "truth.json").is_file() else None),
        ("real", "Real series (US retail sales, Melbourne pedestrians)",
         f"--methods {','.join(methods)}",
         (lambda: real_part(args.real, methods))
         if (args.real / "us_retail_sales_monthly.csv").is_file() else None),
        ("generators", f"Generators ({args.seeds} seeds, mean ± std over seeds)",
         f"--methods {','.join(methods)} --seeds {args.seeds}",
         lambda: generator_part(methods, args.seeds, args.jobs)),
    ]  # fmt: skip
    for key, title, options, run in runners:
        if key not in parts:
            continue
        if run is None:
            text = f"### {title}\n\n(skipped: the data is not there)"
            _say(f"{key}: skipped, no data")
        else:
            part_started = time.monotonic()
            body = run()
            minutes = (time.monotonic() - part_started) / 60
            text = (
                f"### {title}\n\n`benchmarks/bench_quality.py --parts {key} {options}` at "
                f"commit {_commit()} on {platform.machine()} ({os.cpu_count()} CPUs), "
                f"{time.strftime('%Y-%m-%d')}, {minutes:.1f} min.\n\n{body}"
            )
        sections.append(text)
        if args.write is not None and run is not None:
            write_between_markers(args.write, text, key)
            _say(f"wrote the {key} table into {args.write}")
    print("\n\n".join(sections))
    _say(f"all parts: {(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
