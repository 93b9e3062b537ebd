"""End-to-end speed and peak memory of ``revwatch detect`` on generated Parquet panels.

Usage::

    .venv/bin/python benchmarks/bench_scale.py --series 10000 100000 1000000 --periods 24
    .venv/bin/python benchmarks/bench_scale.py --series 10000 100000 --periods 730
    .venv/bin/python benchmarks/bench_scale.py --sizes 1000000x24 100000x730   # issue 15's two
    .venv/bin/python benchmarks/bench_scale.py --sizes 100000x60    # with the growth change
    .venv/bin/python benchmarks/bench_scale.py --sizes 1000x8640 --freq 5min   # sub-daily

For each size it generates N series x T periods (monthly for T <= 120, daily
otherwise, or the pandas step ``--freq`` gives, with a daily cycle when it is
shorter than a day; lognormal levels, gentle trends, 3 % noise, a few injected
anomalies), writes them to Parquet, then runs the command line
``revwatch detect FILE --id account --time month --value revenue -f csv -o
OUT`` in a child process (load, validate, detect with the default or given
method, classify, rank, write the CSV report) and records its wall time and
peak memory (the child's max RSS from ``wait4``). In the same run it times
the straightforward pandas ``groupby().apply`` implementation of the seed's
rolling z-score on a slice of the same data (per-row rate, extrapolated) and
prints the ratio of the rates (``ratio``: revwatch's rows/s over the
pandas baseline's, both measured in this run); ``--repeat N`` runs both N times and reports
the medians (this machine's timings move by about 20 % from run to run).
Output: a Markdown table (for
``docs/benchmarks.md``) and the machine. With ``--stages`` another child
process times each stage in-process (load and validate, dense matrix,
detect, classify and rank, CSV) and prints the seconds as JSON after each
row.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detect import seed_groupby_apply

#: Rows of the baseline slice (the groupby-apply baseline runs at ~11k rows/s).
BASELINE_ROWS = 48_000
#: Targets of issue 15: (series, periods) -> (end-to-end seconds, peak GB) on 2 cores.
TARGETS: dict[tuple[int, int], tuple[float, float]] = {
    (1_000_000, 24): (8.0, 4.0),
    (100_000, 730): (60.0, 8.0),
}


def make_frame(
    n_series: int, n_periods: int, seed: int = 0, freq: str | None = None
) -> pd.DataFrame:
    """N series x T periods in long format, built in blocks (memory stays near the output)."""
    rng = np.random.default_rng(seed)
    freq = freq or ("MS" if n_periods <= 120 else "D")
    index = pd.date_range("2024-01-01", periods=n_periods, freq=freq)
    periods = index.values
    per_month = 1.0 if freq == "MS" else 30.0 * 86_400 / max(_step_seconds(index), 1.0)
    level = np.exp(rng.uniform(np.log(1_000), np.log(100_000), size=(n_series, 1)))
    growth = 1 + rng.uniform(-0.01, 0.015, size=(n_series, 1)) / per_month
    values = level * growth ** np.arange(n_periods)
    if _step_seconds(index) < 86_400:  # a day's cycle: quiet nights, a busy afternoon
        hours = (index.hour + index.minute / 60.0).to_numpy()
        values = values * (1.0 + 0.6 * np.sin(2 * np.pi * (hours - 9.0) / 24.0))[None, :]
    values *= 1 + 0.03 * rng.standard_normal((n_series, n_periods))
    hit = rng.random(n_series) < 0.02
    values[hit, n_periods - 3] *= 2.5
    names = np.char.add("acct-", np.char.zfill(np.arange(n_series).astype(str), 7))
    return pd.DataFrame(
        {
            "account": pd.array(np.repeat(names, n_periods).astype(object), dtype="str"),
            "month": np.tile(periods, n_series),
            "revenue": values.ravel().round(2),
        }
    )


def _step_seconds(index: pd.DatetimeIndex) -> float:
    return float((index[1] - index[0]).total_seconds()) if len(index) > 1 else 86_400.0


def run_cli(path: Path, out: Path, method: str) -> tuple[float, float]:
    """Seconds and peak RSS (GB) of one ``revwatch detect`` child process."""
    code = "import sys; from revwatch.cli import main; sys.argv[0] = 'revwatch'; main()"
    args = [sys.executable, "-c", code, "detect", str(path), "--id", "account",
            "--time", "month", "--value", "revenue", "--method", method,
            "-f", "csv", "-o", str(out), "-q"]  # fmt: skip
    start = time.perf_counter()
    child = subprocess.Popen(args, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode() if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"revwatch detect failed ({child.returncode}): {stderr.strip()[-500:]}")
    return seconds, usage.ru_maxrss / 1024**2


#: Child process timing each stage of ``revwatch detect`` in-process (--stages).
STAGES_CODE = """
import json, resource, sys, time
from revwatch.classify import results_frame
from revwatch.data.load import load
from revwatch.detectors.registry import get_detector
from revwatch.report import write_results
path, method, out = sys.argv[1:4]
seconds = {}
start = mark = time.perf_counter()
def stage(name):
    global mark
    now = time.perf_counter()
    seconds[name] = round(now - mark, 2)
    mark = now
panel = load(path, id="account", time="month", value="revenue"); stage("load")
panel.matrix(); stage("matrix")
detector = get_detector(method)
scores = detector.fit(panel).detect(panel); stage("detect")
results = results_frame(panel, scores, method=detector.name); stage("classify+rank")
write_results(results, "csv", id_columns=list(panel.id_columns), output=out); stage("csv")
seconds["total"] = round(time.perf_counter() - start, 2)
seconds["peak_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
print(json.dumps(seconds))
"""


def run_stages(path: Path, out: Path, method: str) -> str:
    """Seconds per stage (load, matrix, detect, classify+rank, csv) in one child process."""
    args = [sys.executable, "-c", STAGES_CODE, str(path), method, str(out)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"stage timing failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip().splitlines()[-1]


def baseline_rate(frame: pd.DataFrame, n_periods: int) -> float:
    """Rows per second of the seed's rolling z-score as pandas groupby-apply."""
    rows = min(len(frame), max(BASELINE_ROWS // n_periods, 1) * n_periods)
    sample = frame.iloc[:rows]
    start = time.perf_counter()
    seed_groupby_apply(sample)
    return rows / (time.perf_counter() - start)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024**2:.0f} GiB RAM"
    except (OSError, StopIteration):
        memory = "unknown RAM"
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}, {memory}, "
        f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--periods", type=int, default=24)
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=None,
        help="NxT sizes (e.g. 1000000x24 100000x730); replaces --series/--periods",
    )
    parser.add_argument("--method", default="auto")
    parser.add_argument(
        "--freq", default=None, help="pandas step of the periods (default: MS up to 120, else D)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per size; the table shows the medians"
    )
    parser.add_argument("--folder", type=Path, default=None, help="keep the Parquet files here")
    parser.add_argument(
        "--stages", action="store_true", help="also time each stage in-process (one more child)"
    )
    args = parser.parse_args()

    try:
        sizes = (
            [tuple(int(x) for x in size.lower().split("x", 1)) for size in args.sizes]
            if args.sizes
            else [(n, args.periods) for n in args.series]
        )
    except ValueError:
        parser.error("--sizes takes NxT, e.g. 100000x730")
    folder = args.folder or Path(tempfile.mkdtemp(prefix="revwatch-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    print()
    print(
        "| series | periods | rows | end-to-end s | rows/s | s per 1M rows | peak RSS GB "
        "| groupby-apply rows/s | ratio | flagged | target |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for n, periods in sizes:
        args.periods = periods
        tag = f"-{args.freq}" if args.freq else ""
        path = folder / f"panel-{n}x{args.periods}{tag}.parquet"
        frame = make_frame(n, args.periods, freq=args.freq)
        if not path.exists():
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        repeat = max(args.repeat, 1)
        base = float(np.median([baseline_rate(frame, args.periods) for _ in range(repeat)]))
        rows = len(frame)
        del frame
        out = folder / f"out-{n}x{args.periods}{tag}.csv"
        runs = [run_cli(path, out, args.method) for _ in range(repeat)]
        seconds = float(np.median([r[0] for r in runs]))
        peak_gb = max(r[1] for r in runs)
        flagged = max(sum(1 for _ in out.open()) - 1, 0)
        rate = rows / seconds
        target = TARGETS.get((n, args.periods))
        verdict = "-"
        if target is not None:
            met = seconds <= target[0] and peak_gb <= target[1]
            verdict = f"<= {target[0]:g} s, <= {target[1]:g} GB: {'met' if met else 'missed'}"
        print(
            f"| {n:,} | {args.periods} | {rows:,} | {seconds:.1f} | {rate:,.0f} "
            f"| {seconds / rows * 1e6:.1f} | {peak_gb:.2f} | {base:,.0f} | {rate / base:,.3g}x "
            f"| {flagged:,} | {verdict} |",
            flush=True,
        )
        if args.stages:
            timing = run_stages(path, out, args.method)
            print(f"stages {n:,} x {args.periods}: {timing}", flush=True)
    print()
    shown = "; ".join(f"{n:,} x {t}: <= {s:g} s, <= {g:g} GB" for (n, t), (s, g) in TARGETS.items())
    print(
        f"method {args.method}; ratio = rows/s over the same run's pandas groupby-apply "
        f"baseline; targets on 2 cores (Parquet in, CSV out): {shown}"
    )


if __name__ == "__main__":
    main()
