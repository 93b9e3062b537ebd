"""Rows per second of ``revwatch.detect`` on generated monthly panels.

Usage::

    .venv/bin/python benchmarks/bench_detect.py [--series 10000 100000] [--periods 24]
        [--methods auto seed-rolling] [--baseline]

For each size it generates N series x T months (lognormal levels, gentle
trends, 3 % noise, a few injected anomalies), then times the whole API call
(validation, detection, classification, ranking). ``--baseline`` also times a
straightforward pandas ``groupby().apply`` implementation of the seed's
rolling z-score on the same data and prints the speed ratio.
Results are printed as a Markdown table (copy into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
import pandas as pd

import revwatch.pipeline as api


def make_panel(n_series: int, n_periods: int, seed: int = 0) -> pd.DataFrame:
    """N series x T monthly periods in long format."""
    rng = np.random.default_rng(seed)
    level = np.exp(rng.uniform(np.log(1_000), np.log(100_000), size=(n_series, 1)))
    trend = (1 + rng.uniform(-0.01, 0.015, size=(n_series, 1))) ** np.arange(n_periods)
    values = level * trend * (1 + 0.03 * rng.standard_normal((n_series, n_periods)))
    hit = rng.random(n_series) < 0.02
    values[hit, n_periods - 3] *= 2.5
    periods = pd.date_range("2024-01-01", periods=n_periods, freq="MS")
    return pd.DataFrame(
        {
            "account": np.repeat([f"acct-{i:07d}" for i in range(n_series)], n_periods),
            "month": np.tile(periods.values, n_series),
            "revenue": values.ravel().round(2),
        }
    )


def seed_groupby_apply(frame: pd.DataFrame) -> pd.DataFrame:
    """The seed's rolling z-score written the straightforward way (the baseline)."""

    def per_account(g: pd.DataFrame) -> pd.DataFrame:
        g = g.sort_values("month")
        mean = g["revenue"].rolling(6).mean().shift(1)
        std = g["revenue"].rolling(6).std().shift(1)
        g = g.assign(z=(g["revenue"] - mean) / std)
        return g.assign(flag=g["z"].abs() >= 2.5)

    return frame.groupby("account", group_keys=False).apply(per_account)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--periods", type=int, default=24)
    parser.add_argument("--methods", nargs="+", default=["auto", "seed-rolling"])
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"python {platform.python_version()}"
    )
    print()
    print("| method | series | periods | rows | seconds | rows/s | vs groupby-apply |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in args.series:
        frame = make_panel(n, args.periods)
        rows = len(frame)
        baseline_rate = None
        if args.baseline:
            sample = frame.iloc[: min(rows, 240_000)]  # the baseline is slow: time a slice
            start = time.perf_counter()
            seed_groupby_apply(sample)
            baseline_rate = len(sample) / (time.perf_counter() - start)
            print(
                f"| pandas groupby-apply (seed) | {len(sample) // args.periods} | "
                f"{args.periods} | {len(sample)} | - | {baseline_rate:,.0f} | 1.0x |"
            )
        for method in args.methods:
            start = time.perf_counter()
            api.detect(frame, id="account", time="month", value="revenue", method=method)
            seconds = time.perf_counter() - start
            rate = rows / seconds
            ratio = f"{rate / baseline_rate:,.0f}x" if baseline_rate else "-"
            print(
                f"| {method} | {n} | {args.periods} | {rows} | {seconds:.2f} "
                f"| {rate:,.0f} | {ratio} |"
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"peak memory (max RSS): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
