"""Compile revwatch's numba kernels once, so later processes load them from the cache.

``make test`` runs this before the test suite: otherwise every test process
(and every CLI subprocess a test starts) that reaches the default detector
before the cache exists compiles the kernels itself, 20-40 s of CPU each.
Without numba installed it only runs the NumPy path (a few seconds).
"""

from __future__ import annotations

import time

import revwatch

if __name__ == "__main__":
    start = time.perf_counter()
    for name in ("saas-mrr", "daily-revenue"):
        dataset = revwatch.generate(name, seed=0)
        revwatch.detect(
            dataset.frame,
            id=list(dataset.id_columns) or None,
            time=dataset.time_column,
            value=dataset.value_column,
        )
    print(
        f"default detector warmed up (numba kernels compiled or loaded) in "
        f"{time.perf_counter() - start:.0f} s"
    )
