"""The compiled kernel of the default method gives what the NumPy path gives."""

from __future__ import annotations

import numpy as np
import pytest

from revwatch.detectors import _kernels
from revwatch.detectors.robust import _window_stats_numpy

pytestmark = pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba (the fast extra) missing")


def _random_state(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    clean = np.exp(rng.normal(8, 1, size=(300, 1))) * (1 + 0.05 * rng.standard_normal((300, 40)))
    clean[rng.random(clean.shape) < 0.1] = np.nan  # missing and excluded cells
    clean[:20] -= 5_000.0  # some series with credits (non-positive values)
    seg_start = rng.integers(0, 30, size=300)
    prior = rng.normal(0, 5, size=300)
    return clean, seg_start, prior


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("t", "window", "window_scale"), [(3, 12, 12), (25, 12, 12), (39, 12, 36)])
def test_kernel_matches_numpy(seed: int, t: int, window: int, window_scale: int) -> None:
    clean, seg_start, prior = _random_state(seed)
    divisor = None
    if seed == 2:
        divisor = np.random.default_rng(9).uniform(
            0.7, 1.3, size=(300, t - max(0, t - window_scale))
        )
    fast = _kernels.window_stats(clean, divisor, t, window, window_scale, seg_start, prior)
    slow = _window_stats_numpy(clean, divisor, t, window, window_scale, seg_start, prior)
    assert fast is not None
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_seasonal_kernels_match_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    from revwatch.detectors.robust import _own_seasonal_index, log_spread

    clean, seg_start, _ = _random_state(4)
    clean[5, 10:20] = -3.0  # non-positive values inside a cycle
    fast = [_own_seasonal_index(clean, t, 7, 3, seg_start) for t in (7, 20, 39)]
    spread_fast = log_spread(clean[:, 20:32], min_count=6)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    slow = [_own_seasonal_index(clean, t, 7, 3, seg_start) for t in (7, 20, 39)]
    spread_slow = log_spread(clean[:, 20:32], min_count=6)
    for (a_own, a_n), (b_own, b_n) in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a_own, b_own, rtol=1e-12, equal_nan=True)
        np.testing.assert_array_equal(a_n, b_n)
    np.testing.assert_allclose(spread_fast, spread_slow, rtol=1e-10, equal_nan=True)


def test_without_numba_the_cli_gives_the_same_report(tmp_path) -> None:
    """Users without the fast extra get exactly the same anomalies (NumPy path, own process)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import revwatch

    data = tmp_path / "mrr.csv"
    revwatch.generate("saas-mrr", seed=3).frame.to_csv(data, index=False)
    exe = Path(sys.executable).with_name("revwatch")
    outputs = []
    for disable in ("", "1"):
        env = {k: v for k, v in os.environ.items() if k != "REVWATCH_NO_NUMBA"}
        if disable:
            env["REVWATCH_NO_NUMBA"] = disable
        proc = subprocess.run(
            [str(exe), "detect", str(data), "--all", "-f", "csv", "-q"],
            capture_output=True, text=True, check=True, timeout=300, env=env,
        )  # fmt: skip
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") > 700


@pytest.mark.parametrize("seed", range(4))
def test_small_medians_match_the_insertion_sort(seed: int) -> None:
    """The rank sort and the four-value median give the insertion sort's values exactly."""
    _kernels._compile()
    rng = np.random.default_rng(seed)
    scratch = np.empty(16)
    for k in range(0, 17):
        for _ in range(50):
            # ties, signed zeros, infinities and plain values
            pool = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, 3.25])
            buf = np.where(rng.random(k) < 0.5, rng.choice(pool, k), rng.normal(size=k))
            ref = buf.copy()
            want = _kernels._median_kernel(ref, k)
            # the rank sort pads its input to a multiple of _PAD: give it that scratch
            padded = np.full(k + _kernels._PAD, np.nan)
            padded[:k] = buf
            assert _kernels._sort_into(padded.copy(), k, scratch)
            assert np.array_equal(scratch[:k], ref[:k])
            got = _kernels._median_small(padded.copy(), k, scratch)
            assert got == want or (np.isnan(got) and np.isnan(want))
            if k == 4:
                got4 = _kernels._median_thirds(buf.copy(), 4)
                assert got4 == want or (np.isnan(got4) and np.isnan(want))
    with_nan = np.array([1.0, np.nan, 0.5])
    assert not _kernels._sort_into(with_nan, 3, scratch)
    assert _kernels._median_small(with_nan.copy(), 3, scratch) == _kernels._median_kernel(
        with_nan.copy(), 3
    ) or np.isnan(_kernels._median_kernel(with_nan.copy(), 3))


@pytest.mark.parametrize("seed", range(3))
def test_sliding_window_keeps_the_sorted_values(seed: int) -> None:
    """Sliding a series' sorted window by a period gives the values and changes sorted afresh."""
    _kernels._compile()
    rng = np.random.default_rng(seed)
    no_index = np.empty((1, 0))
    for window, window_scale in ((12, 12), (5, 9), (3, 20), (1, 3)):
        for _ in range(20):
            periods = int(rng.integers(1, 40))
            pool = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, 3.25, np.nan])
            row = np.where(
                rng.random(periods) < 0.4,
                rng.choice(pool, periods),
                np.round(rng.normal(size=periods), 1),
            )
            clean = row[None, :].copy()
            seg = int(rng.integers(0, periods + 1))
            cache_v = np.empty((1, max(window, 1)))
            cache_d = np.empty((1, max(window_scale, 1)))
            counts = np.zeros((1, 2), dtype=np.int64)
            for t in range(1, periods + 1):
                lo, lo_scale = max(0, t - window), max(0, t - window_scale)
                assert _kernels._slide(
                    clean, no_index, True, 0, t, lo, lo_scale, window, window_scale, seg,
                    cache_v, cache_d, counts,
                )  # fmt: skip
                wide = np.where(np.arange(periods) >= seg, row, np.nan)
                vals = wide[lo:t][~np.isnan(wide[lo:t])]
                with np.errstate(invalid="ignore"):  # inf - inf
                    diffs = np.diff(wide[lo_scale:t])
                diffs = diffs[~np.isnan(diffs)]
                assert counts[0, 0] == vals.size and counts[0, 1] == diffs.size
                assert (cache_v[0, : vals.size] == np.sort(vals)).all()
                assert (cache_d[0, : diffs.size] == np.sort(diffs)).all()
    assert _kernels._sorted_remove(np.array([[1.0, 2.0]]), 0, 2, 3.0) == -1


@pytest.mark.parametrize("seed", range(3))
def test_sliding_deseasonalised_window_keeps_the_sorted_values(seed: int) -> None:
    """Values over each column's own seasonal index slide like raw ones (ring of indices)."""
    _kernels._compile()
    rng = np.random.default_rng(seed)
    for window, window_scale, period in ((28, 91, 7), (12, 12, 12), (3, 5, 4)):
        width = max(period, window_scale) + 2  # as the detect kernel sizes its ring
        periods = 3 * width
        row = np.round(rng.lognormal(3.0, 0.3, size=periods), 2)
        row[rng.random(periods) < 0.1] = np.nan
        index = rng.uniform(0.7, 1.3, size=periods)
        clean = row[None, :].copy()
        seg = int(rng.integers(0, periods // 3))
        ring = np.full((1, width), np.nan)
        cache_v = np.empty((1, window))
        cache_d = np.empty((1, window_scale))
        counts = np.zeros((1, 2), dtype=np.int64)
        sorted_once = False
        for t in range(1, periods + 1):
            # the kernel sets column t's index at t, before the window statistics
            ring[0, (t - 1) % width] = index[t - 1]
            if t < periods:
                ring[0, t % width] = index[t]
            lo, lo_scale = max(0, t - window), max(0, t - window_scale)
            if not sorted_once:
                if lo_scale == 0 and t < window_scale:
                    continue  # start from a full window sorted afresh below
                wide = np.where(np.arange(periods) >= seg, row / index, np.nan)
                vals = np.sort(wide[lo:t][~np.isnan(wide[lo:t])])
                diffs = np.diff(wide[lo_scale:t])
                diffs = np.sort(diffs[~np.isnan(diffs)])
                cache_v[0, : vals.size], cache_d[0, : diffs.size] = vals, diffs
                counts[0] = vals.size, diffs.size
                sorted_once = True
                continue
            assert _kernels._slide(
                clean, ring, False, 0, t, lo, lo_scale, window, window_scale, seg,
                cache_v, cache_d, counts,
            )  # fmt: skip
            wide = np.where(np.arange(periods) >= seg, row / index, np.nan)
            vals = wide[lo:t][~np.isnan(wide[lo:t])]
            diffs = np.diff(wide[lo_scale:t])
            diffs = diffs[~np.isnan(diffs)]
            assert counts[0, 0] == vals.size and counts[0, 1] == diffs.size
            assert (cache_v[0, : vals.size] == np.sort(vals)).all()
            assert (cache_d[0, : diffs.size] == np.sort(diffs)).all()
