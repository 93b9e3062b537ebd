"""Table-driven cases for the ML, decomposition, Prophet and ensemble detectors."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from revwatch.data.load import from_frame
from revwatch.data.panel import Panel
from revwatch.datasets.daily_revenue import daily_revenue
from revwatch.detectors import get_detector
from revwatch.detectors.ensemble import WeightedEnsemble, normalise_causal
from revwatch.errors import MissingDependencyError, ParameterError
from tests.conftest import make_panel

SEED_METRICS = ["transaction_count", "avg_order_value", "payment_success_rate", "refund_rate"]


def _monthly_seasonal(n_years: int = 4, dip_at: int | None = 40, n_series: int = 3) -> Panel:
    months = pd.date_range("2020-01-01", periods=12 * n_years, freq="MS")
    rng = np.random.default_rng(11)
    season = np.where(months.month == 12, 1.6, np.where(months.month == 11, 1.25, 1.0))
    trend = 1 + 0.01 * np.arange(len(months))
    base = rng.uniform(500, 5000, size=(n_series, 1))
    values = base * season * trend * (1 + 0.02 * rng.standard_normal((n_series, len(months))))
    if dip_at is not None:
        values[0, dip_at] *= 0.6
    return make_panel(values)


def _daily(n_days: int = 400, n_series: int = 1, spike_at: int | None = None) -> Panel:
    rng = np.random.default_rng(5)
    days = np.arange(n_days)
    weekly = np.array([1.04, 1.06, 1.06, 1.05, 1.0, 0.8, 0.74])[(days + 0) % 7]
    values = 1000 * weekly * (1 + 0.02 * rng.standard_normal((n_series, n_days)))
    if spike_at is not None:
        values[0, spike_at] *= 1.8
    return make_panel(values, freq="daily")


# --------------------------------------------------------------------------- #
# STL
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("dip_at", "expected"),
    [(None, []), (40, [40]), (44, [44])],
    ids=["december-peaks-only", "dip-in-may", "dip-in-september"],
)
def test_stl_ignores_december_peaks_and_flags_a_dip(
    dip_at: int | None, expected: list[int]
) -> None:
    panel = _monthly_seasonal(dip_at=dip_at)
    scores = get_detector("stl").fit_detect(panel)
    assert np.flatnonzero(scores.flag[0]).tolist() == expected
    assert not scores.flag[1:].any()
    decembers = np.flatnonzero(panel.matrix().periods.month == 12)
    assert np.isfinite(scores.score[:, decembers[2:]]).all()  # they were scored, not skipped


def test_stl_needs_min_cycles_of_history() -> None:
    scores = get_detector("stl", min_cycles=3).fit_detect(_monthly_seasonal())
    assert np.isnan(scores.score[:, :36]).all()
    assert np.isfinite(scores.score[:, 36:]).all()


@pytest.mark.parametrize("bad", [{"threshold": 0}, {"min_cycles": 0}, {"period": -1}])
def test_stl_rejects_bad_parameters(bad: dict[str, float]) -> None:
    with pytest.raises(ParameterError):
        get_detector("stl", **bad).fit_detect(_monthly_seasonal())


# --------------------------------------------------------------------------- #
# Isolation Forest, LOF, DBSCAN
# --------------------------------------------------------------------------- #


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="known limitation: on seed 001's 9 features the forest isolates calendar-sparse "
    "days (day_of_month, holidays) as easily as the 2025-03-12 outage, which ranks about "
    "the 96th training percentile; the default 0.99 threshold misses it",
)
def test_isolation_forest_flags_the_payment_outage() -> None:
    ds = daily_revenue()
    panel = from_frame(ds.frame, time="date", value="revenue", metrics=SEED_METRICS)
    scores = get_detector("isolation-forest", retrain_every=30).fit_detect(panel)
    assert scores.flag[0, 436]


def test_isolation_forest_uses_the_seed_vector_on_daily_metrics() -> None:
    ds = daily_revenue()
    frame = ds.frame.iloc[:200]
    panel = from_frame(frame, time="date", value="revenue", metrics=SEED_METRICS)
    det = get_detector("isolation-forest", retrain_every=60, n_estimators=50)
    scores = det.fit_detect(panel)
    assert det.feature_names_[:5] == ["revenue", *SEED_METRICS]
    assert len(det.feature_names_) == 9
    scored = scores.score[np.isfinite(scores.score)]
    assert scored.size > 50
    assert ((scored >= 0) & (scored <= 1)).all()


@pytest.mark.parametrize("name", ["isolation-forest", "lof"])
def test_rolling_models_flag_a_large_spike_and_are_causal(name: str) -> None:
    longer = _daily(n_days=260, n_series=4, spike_at=150)
    frame = longer.frame
    first = frame["period"] < pd.Timestamp("2024-01-01") + pd.Timedelta(days=200)
    panel = Panel.from_frame(frame[first], id_columns=["id"], freq="daily")
    params = {"retrain_every": 50}
    if name == "isolation-forest":
        params["n_estimators"] = 50
    base = get_detector(name, **params).fit_detect(panel)
    assert base.flag[0, 150]
    assert base.flag.sum() <= 0.03 * np.isfinite(base.score).sum() + 1
    # appending future rows (and changing them wildly) changes no past score
    changed = frame.copy()
    changed.loc[~first, "value"] *= 9.0
    after = get_detector(name, **params).fit_detect(
        Panel.from_frame(changed, id_columns=["id"], freq="daily")
    )
    np.testing.assert_array_equal(base.score, after.score[:, :200])


def test_isolation_forest_is_deterministic_with_its_seed() -> None:
    panel = _daily(n_days=160, n_series=3, spike_at=120)
    one = get_detector("isolation-forest", retrain_every=40, n_estimators=50).fit_detect(panel)
    two = get_detector("isolation-forest", retrain_every=40, n_estimators=50).fit_detect(panel)
    other = get_detector(
        "isolation-forest", retrain_every=40, n_estimators=50, random_state=7
    ).fit_detect(panel)
    np.testing.assert_array_equal(one.score, two.score)
    assert not np.array_equal(np.nan_to_num(one.score), np.nan_to_num(other.score))


def test_isolation_forest_threads_do_not_change_the_scores() -> None:
    """Retraining blocks run in threads (``n_jobs``); the training subsample is drawn in
    block order in the caller, so one thread and three give the same scores."""
    panel = _daily(n_days=200, n_series=40, spike_at=150)
    params = {"retrain_every": 10, "n_estimators": 30, "min_train_rows": 64}
    one = get_detector("isolation-forest", n_jobs=1, **params)
    three = get_detector("isolation-forest", n_jobs=3, **params)
    a, b = one.fit_detect(panel), three.fit_detect(panel)
    np.testing.assert_array_equal(a.score, b.score)
    assert one.n_models_ == three.n_models_ > 10


@pytest.mark.parametrize("jobs", [0, -2, 1.5, True, "all"])
def test_isolation_forest_rejects_bad_n_jobs(jobs: object) -> None:
    with pytest.raises(ParameterError, match="n_jobs"):
        get_detector("isolation-forest", n_jobs=jobs).fit_detect(_daily(n_days=80))


@pytest.mark.parametrize(
    ("values", "flagged"),
    [
        ([10.0, 11, 10, 12, 11, 10, 11, 12, 10, 11, 30, 11], [10]),
        (list(np.linspace(90.0, 110.0, 24)), []),
        ([5.0] * 12, []),
    ],
    ids=["isolated-point", "no-outlier", "constant"],
)
def test_dbscan_retro_marks_points_with_few_neighbours(
    values: list[float], flagged: list[int]
) -> None:
    scores = get_detector("dbscan-retro").fit_detect(make_panel({"a": values}))
    assert scores.retrospective
    assert np.flatnonzero(scores.flag[0]).tolist() == flagged


# --------------------------------------------------------------------------- #
# ensembles
# --------------------------------------------------------------------------- #


def test_ensemble_combines_normalised_member_scores_with_its_weights() -> None:
    panel = _monthly_seasonal()
    ens = WeightedEnsemble(
        detectors=("rolling-zscore", "stl"), weights=(1.0, 3.0), normalise=("rank", "minmax")
    )
    scores = ens.fit_detect(panel)
    first = normalise_causal(get_detector("rolling-zscore").fit_detect(panel).score, "rank")
    second = normalise_causal(get_detector("stl").fit_detect(panel).score, "minmax")
    expected = 0.25 * first + 0.75 * second
    np.testing.assert_allclose(scores.score, expected, equal_nan=True)
    np.testing.assert_array_equal(scores.flag, np.nan_to_num(expected) > 0.65)


@pytest.mark.parametrize(
    "params",
    [
        {"weights": (1.0,)},
        {"weights": (-1.0, 2.0)},
        {"normalise": "zscore"},
        {"detectors": ()},
        {"detectors": (42, "stl")},
    ],
)
def test_ensemble_rejects_bad_parameters(params: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        get_detector("ensemble", **params).fit_detect(_monthly_seasonal(n_years=2, dip_at=None))


def test_ensemble_is_causal() -> None:
    panel = _monthly_seasonal()
    ens = {"detectors": ("rolling-zscore", "stl"), "weights": (0.5, 0.5)}
    base = get_detector("ensemble", **ens).fit_detect(panel)
    frame = panel.frame.copy()
    frame.loc[frame["period"] >= pd.Timestamp("2023-01-01"), "value"] *= 5.0
    after = get_detector("ensemble", **ens).fit_detect(
        Panel.from_frame(frame, id_columns=["id"], freq="monthly")
    )
    # rolling-zscore centres each series on its whole mean first: rounding differs
    np.testing.assert_allclose(base.score[:, :36], after.score[:, :36], rtol=1e-9)
    np.testing.assert_array_equal(base.flag[:, :36], after.flag[:, :36])


# --------------------------------------------------------------------------- #
# Prophet
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", ["prophet", "seed-ensemble"])
def test_missing_prophet_gives_the_install_hint(name: str, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "prophet", None)  # a real ImportError on import
    with pytest.raises(MissingDependencyError, match=r"pip install 'revwatch\[prophet\]'"):
        get_detector(name).fit(_daily(n_days=40))


@pytest.mark.slow
def test_prophet_flags_a_spike_in_its_causal_block() -> None:
    pytest.importorskip("prophet")
    panel = _daily(n_days=400, spike_at=385)
    det = get_detector("prophet", min_history=370, refit_every=30, n_jobs=1)
    scores = det.fit_detect(panel)
    assert det.n_fits_ == 1
    assert np.isnan(scores.score[0, :370]).all()
    assert np.isfinite(scores.score[0, 370:]).all()
    assert scores.flag[0, 385]
    assert scores.extra["strict_flag"][0, 385]
    assert scores.flag[0].sum() <= 4  # a 95% band: a few values fall outside by chance
    # the 99% band contains the 95% band
    assert (scores.extra["lower_strict"][0, 370:] <= scores.lower[0, 370:]).all()
    # causal: a later change does not move the block's scores before it
    again = det.fit_detect(panel)
    np.testing.assert_array_equal(scores.score, again.score)
