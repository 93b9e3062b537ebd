"""Tests of the statistical baseline detectors and the normality table."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from revwatch.data.panel import Panel
from revwatch.detectors.base import Detector, Scores
from revwatch.detectors.normality import normality_table
from revwatch.detectors.registry import METHODS, get_detector
from revwatch.detectors.statistical import SCORE_CAP
from revwatch.errors import ParameterError

STATISTICAL = sorted(name for name, target in METHODS.items() if ".statistical:" in target)
#: Parameters a method needs to run at all.
REQUIRED = {"threshold": {"lower": 50.0, "upper": 150.0}}
RETRO = [name for name in STATISTICAL if name.endswith("-retro")]
CAUSAL = [name for name in STATISTICAL if not name.endswith("-retro")]
#: Methods whose flags depend on the unit of the values (documented).
UNIT_DEPENDENT = {"threshold", "log-zscore-retro"}

SEASONAL_FACTORS = np.array([0.8, 0.75, 0.85, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3, 1.5, 1.8])


def make_panel(
    values: np.ndarray | list[list[float]] | list[float],
    *,
    ids: list[str] | None = None,
    freq: str = "monthly",
    start: str = "2020-01-01",
) -> Panel:
    """Panel from a (n_series, n_periods) matrix; NaN cells are absent rows."""
    matrix = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n_series, n_periods = matrix.shape
    ids = ids if ids is not None else [f"s{i:04d}" for i in range(n_series)]
    alias = {"monthly": "MS", "daily": "D"}[freq]
    periods = pd.date_range(start, periods=n_periods, freq=alias)
    frame = pd.DataFrame(
        {
            "id": np.repeat(ids, n_periods),
            "period": np.tile(periods, n_series),
            "value": matrix.ravel(),
        }
    )
    frame = frame[frame["value"].notna()]
    return Panel.from_frame(frame, id_columns=["id"], freq=freq)


def detector(name: str, **params: object) -> Detector:
    return get_detector(name, **{**REQUIRED.get(name, {}), **params})


def seasonal_matrix(n_series: int, n_years: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    levels = rng.uniform(500, 5000, n_series)[:, None]
    seasonal = np.tile(SEASONAL_FACTORS, n_years)[None, :]
    return levels * seasonal * rng.normal(1.0, noise, (n_series, 12 * n_years))


def random_panel(seed: int = 0, n_series: int = 4, n_years: int = 3) -> Panel:
    return make_panel(seasonal_matrix(n_series, n_years, 0.1, seed))


# --------------------------------------------------------------------------- #
# expected flags on hand-made matrices
# --------------------------------------------------------------------------- #

CALM = [10.0, 11, 9, 10, 11, 10, 9, 10, 11, 10]

CASES = [
    ("threshold", {"lower": 10, "upper": 100}, [[5.0, 50, 500]], {(0, 0), (0, 2)}),
    ("threshold", {"upper": 100}, [[5.0, 50, 500]], {(0, 2)}),
    ("threshold", {"lower": 10}, [[5.0, 50, 500]], {(0, 0)}),
    ("rolling-zscore", {"window": 4, "min_periods": 3}, [[10.0, 11, 9, 10, 11, 40]], {(0, 5)}),
    ("rolling-zscore", {"window": 4, "min_periods": 3}, [[10.0, 11, 9, 10, 11, -20]], {(0, 5)}),
    # the spike at 3 is flagged; while it is in the window the std is large
    (
        "rolling-zscore",
        {"window": 3, "min_periods": 3},
        [[10.0, 11, 9, 50, 10, 11, 10, 9]],
        {(0, 3)},
    ),
    ("rolling-iqr", {"window": 5, "min_periods": 4}, [[10.0, 12, 9, 11, 10, 30]], {(0, 5)}),
    ("rolling-iqr", {"window": 5, "min_periods": 4}, [[10.0, 12, 9, 11, 10, 11]], set()),
    ("naive-zscore", {}, [CALM, [*CALM[:-1], 60.0]], {(1, 9)}),
    ("naive-zscore-retro", {}, [CALM * 2 + [100.0]], {(0, 20)}),
    ("group-zscore", {}, [CALM, [v * 100 for v in CALM[:-1]] + [1600.0]], {(1, 9)}),
    ("group-zscore-retro", {}, [CALM * 2 + [100.0]], {(0, 20)}),
    ("log-zscore", {}, [[100.0, 110, 90, 105, 95, 100, 5]], {(0, 6)}),
    ("log-zscore", {}, [[100.0, 110, 90, 105, 95, 100, 0]], {(0, 6)}),
    ("log-zscore-retro", {}, [[*CALM * 2, 0.0]], {(0, 20)}),
    ("iqr", {}, [[10.0, 12, 9, 11, 10, 30]], {(0, 5)}),
    ("iqr", {}, [[10.0, 12, 9, 11, 10, 12]], set()),
    ("iqr-retro", {}, [[10.0, 12, 9, 11, 10, 30]], {(0, 5)}),
]


@pytest.mark.parametrize(("method", "params", "values", "expected"), CASES)
def test_expected_flags(
    method: str, params: dict[str, float], values: list[list[float]], expected: set
) -> None:
    scores = get_detector(method, **params).fit_detect(make_panel(values))
    assert set(zip(*np.nonzero(scores.flag), strict=True)) == expected


def test_empirical_zscore_flags_above_past_percentile() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(100, 5, (6, 20))
    values[2, 19] = 200.0
    scores = get_detector("empirical-zscore").fit_detect(make_panel(values))
    assert scores.flag[2, 19]
    assert scores.threshold == 1.0
    cut = scores.extra["empirical_threshold"]
    # the threshold of period t is the 95th percentile of |z| in periods < t
    z = get_detector("group-zscore").fit_detect(make_panel(values)).score
    past = z[:, :19]
    assert cut[2, 19] == pytest.approx(np.quantile(past[np.isfinite(past)], 0.95))
    assert scores.score[2, 19] == pytest.approx(z[2, 19] / cut[2, 19])


def test_static_threshold_needs_a_bound() -> None:
    with pytest.raises(ParameterError, match="lower"):
        get_detector("threshold").detect(make_panel([[1.0, 2.0]]))


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("rolling-zscore", {"threshold": -1.0}),
        ("rolling-zscore", {"window": 1}),
        ("rolling-iqr", {"multiplier": 0}),
        ("group-zscore", {"groups": ["nope"]}),
        ("empirical-zscore", {"percentile": 100}),
        ("threshold", {"lower": 5.0, "upper": 1.0}),
    ],
)
def test_bad_parameters_raise(method: str, params: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        get_detector(method, **params).detect(make_panel([CALM]))


# --------------------------------------------------------------------------- #
# the seeds' formulas (retrospective methods) against pandas
# --------------------------------------------------------------------------- #


def seed_frame(seed: int = 7) -> tuple[Panel, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    months = pd.date_range("2023-01-01", "2024-12-01", freq="MS")
    for product, base in {"pro": 5000, "std": 8000, "pixel": 3000}.items():
        for region, mult in {"na": 1.2, "eu": 1.0}.items():
            for month in months:
                volume = base * mult * SEASONAL_FACTORS[month.month - 1] * rng.normal(1, 0.1)
                if rng.random() < 0.15:
                    volume *= rng.choice([0.4, 2.5])
                rows.append((product, region, month, float(int(volume))))
    frame = pd.DataFrame(rows, columns=["product", "region", "period", "value"])
    panel = Panel.from_frame(frame, id_columns=["product", "region"], freq="monthly")
    return panel, panel.frame


def test_retro_methods_match_the_seed_formulas() -> None:
    panel, df = seed_frame()
    rows = panel.matrix().to_rows
    groups = df.groupby(["product", "region"])["value"]
    expected_z = {
        "naive-zscore-retro": (df["value"] - df["value"].mean()) / df["value"].std(),
        "group-zscore-retro": (df["value"] - groups.transform("mean")) / groups.transform("std"),
    }
    logs = np.log1p(df["value"]).groupby([df["product"], df["region"]])
    expected_z["log-zscore-retro"] = (np.log1p(df["value"]) - logs.transform("mean")) / (
        logs.transform("std")
    )
    by_month = df.groupby(["product", "region", df["period"].dt.month])["value"]
    expected_z["seasonal-zscore-retro"] = (df["value"] - by_month.transform("mean")) / (
        by_month.transform("std")
    )
    for method, z in expected_z.items():
        scores = get_detector(method).fit_detect(panel)
        np.testing.assert_allclose(rows(scores.z), z, rtol=1e-9, err_msg=method)
        np.testing.assert_array_equal(rows(scores.flag), z.abs() > 3, err_msg=method)

    group_z = expected_z["group-zscore-retro"]
    cut = group_z.abs().quantile(0.95)
    empirical = get_detector("empirical-zscore-retro").fit_detect(panel)
    np.testing.assert_array_equal(rows(empirical.flag), group_z.abs() > cut)

    q1, q3 = (
        groups.transform(lambda s: s.quantile(0.25)),
        groups.transform(lambda s: s.quantile(0.75)),
    )
    fence = (df["value"] < q1 - 1.5 * (q3 - q1)) | (df["value"] > q3 + 1.5 * (q3 - q1))
    iqr = get_detector("iqr-retro").fit_detect(panel)
    np.testing.assert_array_equal(rows(iqr.flag), fence)
    assert fence.any()


def test_group_zscore_pools_by_id_columns() -> None:
    panel, _ = seed_frame(seed=11)
    values = panel.matrix().values
    keys = panel.matrix().keys
    scores = get_detector("group-zscore", groups=["product"]).fit_detect(panel)
    expected = np.full(values.shape, np.nan)
    for product in keys["product"].unique():
        rows = np.flatnonzero(keys["product"].to_numpy() == product)
        for t in range(values.shape[1]):
            history = values[rows, :t].ravel()
            if history.size >= 3:
                expected[rows, t] = (values[rows, t] - history.mean()) / history.std(ddof=1)
    np.testing.assert_allclose(scores.z, expected, rtol=1e-9)


# --------------------------------------------------------------------------- #
# properties
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("method", CAUSAL)
def test_future_values_never_change_earlier_scores(method: str) -> None:
    panel = random_panel(seed=1)
    values = panel.matrix().values
    changed = values.copy()
    changed[:, 30:] *= np.random.default_rng(2).uniform(0.1, 10.0, changed[:, 30:].shape)
    changed[1, 33] = np.nan
    before = detector(method).fit_detect(panel)
    after = detector(method).fit_detect(make_panel(changed))
    assert not before.retrospective
    for field in ("score", "z", "baseline", "lower", "upper", "flag"):
        np.testing.assert_array_equal(
            getattr(before, field)[:, :30], getattr(after, field)[:, :30], err_msg=field
        )


@pytest.mark.parametrize("method", STATISTICAL)
def test_retrospective_flag(method: str) -> None:
    scores = detector(method).fit_detect(random_panel())
    assert scores.retrospective is (method in RETRO)
    assert type(detector(method)).retrospective is (method in RETRO)


@pytest.mark.parametrize("method", STATISTICAL)
def test_contract(method: str) -> None:
    panel = random_panel(seed=4)
    instance = detector(method)
    assert instance.fit(panel) is instance
    signature = inspect.signature(type(instance).__init__)
    assert set(instance.get_params()) == set(signature.parameters) - {"self"}
    scores = instance.detect(panel)
    assert isinstance(scores, Scores)
    shape = panel.matrix().values.shape
    for field in ("score", "z", "baseline", "lower", "upper", "flag", "kind"):
        assert getattr(scores, field).shape == shape, field
    scored = ~np.isnan(scores.score)
    assert scored.any()
    assert (scores.score[scored] >= 0).all()
    assert np.isfinite(scores.score[scored]).all()
    assert (scores.score[scores.flag] > scores.threshold).all()
    assert not scores.flag[~scored].any()
    if not method.startswith("empirical"):  # empirical: score = |z| / threshold_t
        np.testing.assert_array_equal(np.abs(scores.z[scored]), scores.score[scored])
    assert (scores.kind == 0).all()


def test_seasonal_retro_cannot_flag_with_two_years() -> None:
    values = seasonal_matrix(5, 2, 0.3, seed=5)
    values[0, 20] *= 5.0
    scores = get_detector("seasonal-zscore-retro").fit_detect(make_panel(values))
    np.testing.assert_allclose(scores.score, 1 / np.sqrt(2))
    assert not scores.flag.any()


def test_seasonal_zscore_flags_anomaly_not_december() -> None:
    values = seasonal_matrix(4, 2, 0.03, seed=7)
    values[0, 20] *= 0.5  # September of the second year
    scores = get_detector("seasonal-zscore").fit_detect(make_panel(values))
    assert set(zip(*np.nonzero(scores.flag), strict=True)) == {(0, 20)}
    assert np.isfinite(scores.score[:, 23]).all()  # the December peaks are scored
    assert scores.z[0, 20] < 0
    assert scores.lower[0, 20] > values[0, 20]
    assert (scores.lower[:, 23] < values[:, 23]).all()
    assert (values[:, 23] < scores.upper[:, 23]).all()


def test_seasonal_zscore_rates_on_many_series() -> None:
    # A statistical check. With 3% noise about 0.4% of normal cells flag; right
    # after an anomaly (in its trailing level and residual history) about 1.5%.
    # Every injected halving flags; the December peaks are not singled out.
    n_series = 100
    values = seasonal_matrix(n_series, 2, 0.03, seed=21)
    where = np.random.default_rng(22).integers(18, 23, n_series)
    values[np.arange(n_series), where] *= 0.5
    scores = get_detector("seasonal-zscore").fit_detect(make_panel(values))
    assert scores.flag[np.arange(n_series), where].all()
    normal = np.isfinite(scores.score)
    normal[np.arange(n_series), where] = False
    assert scores.flag[normal].mean() < 0.04
    assert scores.flag[:, 23][normal[:, 23]].mean() < 0.05


def test_constant_history_gives_zero_or_capped_score() -> None:
    panel = make_panel([[5.0] * 8 + [5.0], [5.0] * 8 + [7.0], [5.0] * 8 + [3.0]])
    for method in ("rolling-zscore", "naive-zscore", "group-zscore", "log-zscore", "iqr"):
        params = {"window": 6, "min_periods": 3} if method == "rolling-zscore" else {}
        scores = get_detector(method, **params).fit_detect(panel)
        if method != "naive-zscore":
            assert scores.score[0, 8] == 0.0, method
        assert scores.score[1, 8] == SCORE_CAP, method
        assert scores.z[2, 8] == -SCORE_CAP, method
        assert scores.flag[1, 8], method
        assert not scores.flag[0, 8], method


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.floats(min_value=1.0, max_value=1e4, allow_nan=False, width=32),
        min_size=3 * 30,
        max_size=3 * 30,
    ),
    exponent=st.integers(min_value=-12, max_value=12),
)
def test_scale_invariance(values: list[float], exponent: int) -> None:
    matrix = np.asarray(values).reshape(3, 30)
    matrix[1, 7] = np.nan
    factor = 2.0**exponent
    for method in STATISTICAL:
        if method in UNIT_DEPENDENT:
            continue
        base = detector(method).fit_detect(make_panel(matrix))
        scaled = detector(method).fit_detect(make_panel(matrix * factor))
        np.testing.assert_array_equal(base.flag, scaled.flag, err_msg=method)


@pytest.mark.parametrize("method", sorted(set(STATISTICAL) - UNIT_DEPENDENT))
def test_scale_invariance_by_a_thousand(method: str) -> None:
    panel = random_panel(seed=8)
    values = panel.matrix().values
    base = detector(method).fit_detect(panel)
    scaled = detector(method).fit_detect(make_panel(values * 1000.0))
    np.testing.assert_array_equal(base.flag, scaled.flag)
    np.testing.assert_allclose(base.score, scaled.score, rtol=1e-6)


@pytest.mark.parametrize("method", STATISTICAL)
def test_missing_period_is_unflagged_and_neighbours_still_scored(method: str) -> None:
    full = random_panel(seed=9).matrix().values
    gappy = full.copy()
    gappy[1, 26] = np.nan
    base = detector(method).fit_detect(make_panel(full))
    scores = detector(method).fit_detect(make_panel(gappy))
    assert np.isnan(scores.score[1, 26])
    assert not scores.flag[1, 26]
    later = np.isfinite(base.score[1, 27:])
    assert np.isfinite(scores.score[1, 27:][later]).all()
    # the other series do not notice, unless the method pools across series
    pooled = {"naive-zscore", "naive-zscore-retro", "empirical-zscore", "empirical-zscore-retro"}
    if method not in pooled | {"seasonal-zscore"}:
        np.testing.assert_array_equal(base.score[[0, 2, 3]], scores.score[[0, 2, 3]])


@pytest.mark.parametrize("method", STATISTICAL)
def test_series_order_does_not_matter(method: str) -> None:
    values = random_panel(seed=10).matrix().values
    ids = ["a", "b", "c", "d"]
    shuffled_ids = ["d", "a", "c", "b"]  # row i keeps its values under another name
    first = detector(method).fit_detect(make_panel(values, ids=ids))
    second = detector(method).fit_detect(make_panel(values, ids=shuffled_ids))
    # second panel sorts rows by id: a, b, c, d -> original rows 1, 3, 2, 0
    order = [1, 3, 2, 0]
    np.testing.assert_allclose(second.score, first.score[order], rtol=1e-9)
    np.testing.assert_array_equal(second.flag, first.flag[order])


# --------------------------------------------------------------------------- #
# normality
# --------------------------------------------------------------------------- #


def test_normality_table_lognormal_vs_normal() -> None:
    rng = np.random.default_rng(12)
    n = 400
    values = np.vstack(
        [
            rng.normal(1000, 50, n),
            rng.lognormal(3, 0.8, n),
            rng.standard_t(2, n) * 10,
            rng.normal(0, 1, n),
        ]
    )
    values[0, 5] = np.nan
    short = np.full((1, n), np.nan)
    short[0, :5] = [1.0, 2.0, 3.0, 4.0, 5.0]
    panel = make_panel(np.vstack([values, short]), ids=["normal", "lognormal", "t2", "z", "short"])
    table = normality_table(panel).set_index("id")
    assert list(table.columns) == [
        "n",
        "skewness",
        "excess_kurtosis",
        "jarque_bera",
        "jb_pvalue",
        "is_normal",
        "recommended",
    ]
    assert table.loc["normal", "is_normal"]
    assert table.loc["normal", "recommended"] == "raw"
    assert table.loc["normal", "n"] == n - 1
    assert not table.loc["lognormal", "is_normal"]
    assert table.loc["lognormal", "skewness"] > 0.5
    assert table.loc["lognormal", "recommended"] == "log"
    assert table.loc["t2", "recommended"] == "rank"
    assert table.loc["short", "recommended"] == "raw"
    assert np.isnan(table.loc["short", "jarque_bera"])

    sample = values[1]
    skew = stats.skew(sample, bias=False)
    kurt = stats.kurtosis(sample, bias=False)
    assert table.loc["lognormal", "skewness"] == pytest.approx(skew)
    assert table.loc["lognormal", "excess_kurtosis"] == pytest.approx(kurt)
    jb = n / 6 * (skew**2 + kurt**2 / 4)
    assert table.loc["lognormal", "jarque_bera"] == pytest.approx(jb)
    assert table.loc["lognormal", "jb_pvalue"] == pytest.approx(stats.chi2.sf(jb, 2))
