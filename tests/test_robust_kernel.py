"""The compiled default method (one numba pass) gives what the NumPy loop gives.

``RobustShiftDetector.detect`` runs :func:`revwatch.detectors._kernels.detect_arrays`
when numba is installed and its NumPy loop otherwise; both must report the
same anomalies (flags, types, provisional marks exactly; scores, bands and
severities to float rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from revwatch.detectors import _kernels
from revwatch.detectors.base import TYPE_CODES
from revwatch.detectors.robust import RobustShiftDetector

pytestmark = [
    pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba (the fast extra) missing"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),  # the NumPy path's empty slices
]

_FLOATS = ("score", "z", "baseline", "lower", "upper", "severity")
_EXACT = ("flag", "kind", "provisional")


@dataclass
class _Matrix:
    values: np.ndarray


@dataclass
class _Panel:
    """Just what the detector reads of a Panel: the value matrix and the frequency."""

    y: np.ndarray
    freq: str

    def matrix(self, column: str = "value") -> _Matrix:
        return _Matrix(self.y.copy())


def _random_panel(seed: int, n: int, periods: int, season: int) -> np.ndarray:
    """Trends, seasonality, spikes, drops, steps, drifts, gaps, zeros, credits, short series."""
    rng = np.random.default_rng(seed)
    level = np.exp(rng.uniform(np.log(100), np.log(1e5), size=(n, 1)))
    t = np.arange(periods)
    y = level * (1 + rng.uniform(-0.02, 0.03, size=(n, 1))) ** t
    phase = rng.uniform(0, 6, size=(n, 1))
    y *= 1 + rng.uniform(0, 0.3, size=(n, 1)) * np.sin(2 * np.pi * t / season + phase)
    y *= 1 + rng.uniform(0.005, 0.1, size=(n, 1)) * rng.standard_normal((n, periods))
    for _ in range(n // 3):
        i, at = rng.integers(n), rng.integers(periods)
        factor = rng.uniform(0.1, 4.0)
        match rng.integers(4):
            case 0:
                y[i, at] *= factor
            case 1:
                y[i, at:] *= factor
            case _:
                y[i, at:] *= np.linspace(1, factor, periods - at)
    y[rng.random(y.shape) < 0.05] = np.nan
    k = max(n // 20, 1)
    y[:k] = np.where(rng.random((k, periods)) < 0.2, 0.0, y[:k])  # zeros
    y[k : 2 * k] -= level[k : 2 * k] * 1.1  # credits: negative values
    for i in range(2 * k, 4 * k):
        y[i, : rng.integers(periods)] = np.nan  # short series
    if n > 4 * k + 1:
        y[4 * k] = np.nan
        y[4 * k + 1] = 500.0  # constant
    return np.round(y, 2)


def _both(y: np.ndarray, freq: str, monkeypatch: pytest.MonkeyPatch, **params: object) -> tuple:
    detector = RobustShiftDetector(**params)  # type: ignore[arg-type]
    fast = detector.detect(_Panel(y, freq))  # type: ignore[arg-type]
    with monkeypatch.context() as m:
        m.setattr(_kernels, "HAVE_NUMBA", False)
        slow = detector.detect(_Panel(y, freq))  # type: ignore[arg-type]
    return fast, slow


def _assert_same(fast, slow) -> None:  # type: ignore[no-untyped-def]
    for name in _EXACT:
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
    for name in _FLOATS:
        a, b = getattr(fast, name), getattr(slow, name)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=0, equal_nan=True, err_msg=name)
    for name in ("confirm_at", "seasonal_index"):
        np.testing.assert_allclose(
            fast.extra[name], slow.extra[name], rtol=1e-9, equal_nan=True, err_msg=name
        )


@pytest.mark.parametrize(
    ("name", "seed"),
    [("saas-mrr", 1), ("smartphone-sales", 2), ("daily-revenue", 0)],
)
def test_bundled_datasets(name: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from revwatch.datasets import generate
    from revwatch.pipeline import to_panel

    ds = generate(name, seed=seed)
    panel = to_panel(
        ds.frame, id=list(ds.id_columns) or None, time=ds.time_column, value=ds.value_column
    )
    y = panel.matrix().values
    fast, slow = _both(y, panel.freq, monkeypatch)
    assert slow.flag.any()
    _assert_same(fast, slow)


@pytest.mark.parametrize(
    ("seed", "n", "periods", "freq", "params"),
    [
        (0, 300, 40, "monthly", {}),
        (1, 4, 36, "monthly", {}),  # too few series to pool
        (2, 100, 40, "monthly", {"window": 6, "scale_window": 24, "confirm": 2}),
        (3, 150, 30, "monthly", {"seasonal": False, "cusum_limit": None}),
        (4, 80, 30, "monthly", {"min_change": 0.0, "threshold": 2.5, "seasonal_cycles": 2}),
        (5, 60, 90, "daily", {}),
        (6, 60, 20, "quarterly", {}),
        (7, 20, 1, "monthly", {}),
    ],
)
def test_random_panels(
    seed: int,
    n: int,
    periods: int,
    freq: str,
    params: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    season = {"daily": 7, "quarterly": 4}.get(freq, 12)
    y = _random_panel(seed, n, periods, season)
    fast, slow = _both(y, freq, monkeypatch, **params)
    if n >= 10 and periods > 10:  # the panels exercise settled events, not only spikes
        assert np.isin(slow.kind, [TYPE_CODES["level_shift"], TYPE_CODES["trend_change"]]).any()
    _assert_same(fast, slow)


def test_empty_and_all_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for y in (np.empty((0, 12)), np.full((6, 15), np.nan)):
        fast, slow = _both(y, "monthly", monkeypatch)
        _assert_same(fast, slow)
        assert not fast.flag.any()


def test_portfolio_medians_match_numpy() -> None:
    """The cross-series medians use NumPy's definitions (nanmedian_rows and np.median)."""
    from revwatch.detectors._arrays import nanmedian_rows

    _kernels._compile()
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 6, 101, 1000):
        for values in (rng.standard_normal(n), rng.integers(0, 3, n).astype(float)):
            buf = values.copy()
            assert _kernels._big_median(buf, n, True) == np.median(values)
            buf = values.copy()
            assert _kernels._big_median(buf, n, False) == nanmedian_rows(values[None, :])[0][0]
    assert np.isnan(_kernels._big_median(np.empty(0), 0, True))


def test_pairwise_sum_is_numpys() -> None:
    """Cycle means add in NumPy's pairwise order, so they agree to the last bit."""
    _kernels._compile()
    rng = np.random.default_rng(1)
    for n in (1, 7, 8, 12, 13, 52, 100):
        rows = rng.lognormal(8, 2, size=(50, n))
        expected = rows.sum(axis=1)
        got = [_kernels._pairwise_sum(row, n) for row in rows]
        np.testing.assert_array_equal(got, expected)


def test_sorted_mad() -> None:
    _kernels._compile()
    rng = np.random.default_rng(2)
    for n in range(1, 30):
        d = np.sort(np.round(rng.standard_normal(n), 1))
        med = float(np.median(d))
        expected = float(np.median(np.abs(d - med)))
        assert _kernels._sorted_mad(d, n, med) == pytest.approx(expected, rel=0, abs=0)


@pytest.mark.parametrize(
    "values",
    [
        [[1.0, -5.0]],
        [[np.nan, np.nan]],
        [[np.inf, 5.0]],
        [[np.inf, -np.inf]],
        [[np.nan, -np.inf, 3.0]],
        [[0.0, np.nan]],
        [[-7.0, 2.0, np.nan], [1e6, np.nan, -2e6]],
    ],
)
def test_smallest_scale_is_the_plain_formula_without_temporaries(values: list) -> None:
    """1e-12 x the largest |y|, or 1e-12 when no value is finite, as the plain formula."""
    from revwatch.detectors.robust import _smallest_scale

    y = np.array(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        plain = 1e-12 * float(np.nanmax(np.abs(y))) if np.isfinite(y).any() else 1e-12
    assert _smallest_scale(y) == plain
    assert _smallest_scale(np.zeros((0, 3))) == 1e-12


def test_preload_loads_the_signature_detect_uses() -> None:
    """``preload`` (run by ``analyze`` while the data loads) leaves nothing to load later."""
    RobustShiftDetector().preload()
    loaded = list(_kernels._detect_kernel.signatures)
    assert loaded
    y = np.random.default_rng(3).gamma(9.0, 100.0, size=(20, 30))
    RobustShiftDetector().detect(_Panel(y, "monthly"))  # type: ignore[arg-type]
    assert list(_kernels._detect_kernel.signatures) == loaded


def test_preload_failure_is_left_to_detect(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no compiler")

    monkeypatch.setattr(_kernels, "detect_arrays", broken)
    with caplog.at_level("DEBUG", logger="revwatch.detectors._kernels"):
        _kernels.preload_kernel()  # does not raise
    assert "no compiler" in caplog.text


@pytest.mark.parametrize("n", [10, 70_001, 131_072])
@pytest.mark.parametrize("exact_odd", [True, False])
@pytest.mark.parametrize("data", ["normal", "ties", "nan", "skewed"])
def test_pooled_median_is_the_serial_median(n: int, exact_odd: bool, data: str) -> None:
    """The parallel portfolio median gives exactly the serial one (odd and even counts)."""
    _kernels._compile()
    rng = np.random.default_rng(n + exact_odd)
    values = {
        "normal": rng.standard_normal(n),
        "ties": rng.integers(0, 5, n).astype(float),
        "nan": np.where(rng.random(n) < 0.3, np.nan, rng.standard_normal(n)),
        "skewed": np.sort(rng.lognormal(0.0, 3.0, n)),  # sorted: the sample sees the tails
    }[data]
    for drop in (0, 1):  # an odd and an even count
        v = values.copy()
        if drop:
            v[np.flatnonzero(~np.isnan(v))[0]] = np.nan
        kept = v[~np.isnan(v)]
        got, count = _kernels._pooled_median(v, np.empty(n), 4, exact_odd)
        serial = _kernels._big_median(kept.copy(), kept.size, exact_odd)
        assert count == kept.size
        assert got == serial == np.median(kept)


def test_compile_from_two_threads_at_once_is_safe() -> None:
    """The preload thread and a caller may both reach ``_compile``: one compiles."""
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        try:
            _kernels._compile()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    y = np.random.default_rng(5).gamma(9.0, 100.0, size=(10, 30))
    assert RobustShiftDetector().detect(_Panel(y, "monthly")).score.shape == y.shape  # type: ignore[arg-type]
