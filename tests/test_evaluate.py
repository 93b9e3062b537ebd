"""Tests of revwatch.evaluation.metrics, revwatch.evaluation.advise and their commands."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from revwatch.cli import app
from revwatch.data.panel import Panel
from revwatch.datasets import generate, write_dataset
from revwatch.errors import InputError, MissingColumnError, ParameterError
from revwatch.evaluation.advise import Advice, advise, seasonal_strength
from revwatch.evaluation.metrics import align_labels, compare, evaluate, flag_metrics

from .conftest import make_panel

# --------------------------------------------------------------------------- #
# hand-made flags vs labels
# --------------------------------------------------------------------------- #


def _daily_panel(n_series: int = 1, n_periods: int = 14) -> Panel:
    return make_panel(np.ones((n_series, n_periods)), freq="daily")


def _labels(cells: list[tuple[int, int, int]]) -> pd.DataFrame:
    """(series, period, event start) -> a labels frame for _daily_panel."""
    days = pd.date_range("2024-01-01", periods=400, freq="D")
    return pd.DataFrame(
        {
            "id": [f"s{s:04d}" for s, _, _ in cells],
            "period": [days[t] for _, t, _ in cells],
            "event_start": [days[e] for _, _, e in cells],
            "type": ["spike"] * len(cells),
        }
    )


def _flags(n_series: int, n_periods: int, cells: list[tuple[int, int]]) -> np.ndarray:
    flags = np.zeros((n_series, n_periods), dtype=bool)
    for s, t in cells:
        flags[s, t] = True
    return flags


# labels: one 3-day event at days 2-4 and one 1-day event at day 9, series 0.
EVENTS = [(0, 2, 2), (0, 3, 2), (0, 4, 2), (0, 9, 9)]

CASES = [
    # (name, flags, tolerance, expected metrics)
    (
        "perfect",
        [(0, 2), (0, 3), (0, 4), (0, 9)],
        0,
        dict(point_precision=1.0, point_recall=1.0, point_f1=1.0, event_recall=1.0,
             event_precision=1.0, false_alarms=0, latency_mean_periods=0.0),
    ),
    (
        "one flag per event, late in the first",
        [(0, 4), (0, 9)],
        0,
        dict(point_precision=1.0, point_recall=0.5, point_f1=2 / 3, event_recall=1.0,
             event_precision=1.0, event_f1=1.0, false_alarms=0,
             latency_mean_periods=1.0, latency_median_periods=1.0, latency_mean_days=1.0),
    ),
    (
        "a false alarm and a miss",
        [(0, 3), (0, 12)],
        0,
        dict(point_precision=0.5, point_recall=0.25, point_f1=1 / 3, event_recall=0.5,
             event_precision=0.5, event_f1=0.5, false_alarms=1, latency_mean_periods=1.0),
    ),
    (
        "flag just after the event: false alarm without tolerance",
        [(0, 5)],
        0,
        dict(point_precision=0.0, point_recall=0.0, event_recall=0.0, event_precision=0.0,
             false_alarms=1),
    ),
    (
        "flag just after the event: detection with tolerance 1",
        [(0, 5)],
        1,
        dict(point_precision=0.0, point_recall=0.0, event_recall=0.5, event_precision=1.0,
             false_alarms=0, latency_mean_periods=3.0, latency_mean_days=3.0),
    ),
    (
        "nothing flagged",
        [],
        0,
        dict(point_precision=0.0, point_recall=0.0, point_f1=0.0, event_recall=0.0,
             event_f1=0.0, false_alarms=0),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "flag_cells", "tolerance", "expected"), CASES)
def test_flag_metrics_table(
    name: str, flag_cells: list[tuple[int, int]], tolerance: int, expected: dict[str, float]
) -> None:
    panel = _daily_panel()
    grid = align_labels(panel, _labels(EVENTS))
    metrics = flag_metrics(
        _flags(1, 14, flag_cells), grid, panel.matrix().periods, "daily", tolerance=tolerance
    )
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value), (name, key)
    assert metrics["n_events"] == 2


def test_no_detection_gives_nan_latency() -> None:
    panel = _daily_panel()
    grid = align_labels(panel, _labels(EVENTS))
    metrics = flag_metrics(_flags(1, 14, [(0, 0)]), grid, panel.matrix().periods, "daily")
    assert math.isnan(metrics["latency_mean_days"])
    assert math.isnan(metrics["latency_median_periods"])


def test_event_wise_counts_many_flags_in_one_event_once() -> None:
    # Five flags inside one event, one outside: point precision 5/6 but the
    # event is one alert, so event precision is 1 / (1 + 1).
    panel = _daily_panel()
    labels = _labels([(0, t, 2) for t in range(2, 7)])
    grid = align_labels(panel, labels)
    flags = _flags(1, 14, [(0, t) for t in range(2, 7)] + [(0, 11)])
    m = flag_metrics(flags, grid, panel.matrix().periods, "daily")
    assert m["point_precision"] == pytest.approx(5 / 6)
    assert m["event_precision"] == pytest.approx(0.5)
    assert m["point_recall"] == 1.0 and m["event_recall"] == 1.0


def test_latency_is_measured_from_the_event_start_not_the_first_label() -> None:
    # The event started on day 1 but is only labelled from day 3.
    panel = _daily_panel()
    grid = align_labels(panel, _labels([(0, 3, 1), (0, 4, 1)]))
    m = flag_metrics(_flags(1, 14, [(0, 3)]), grid, panel.matrix().periods, "daily")
    assert m["latency_mean_periods"] == 2.0


def test_events_without_event_start_are_runs() -> None:
    panel = _daily_panel()
    labels = _labels([(0, 2, 0), (0, 3, 0), (0, 7, 0)]).drop(columns="event_start")
    grid = align_labels(panel, labels)
    assert grid.events[["start", "end"]].values.tolist() == [[2, 3], [7, 7]]


def test_false_alarms_per_series_week() -> None:
    # 3 daily series x 14 days = 42 series-days = 6 series-weeks; 3 false alarms.
    panel = _daily_panel(n_series=3)
    grid = align_labels(panel, _labels([(1, 5, 5)]))
    flags = _flags(3, 14, [(0, 1), (2, 8), (2, 9), (1, 5)])
    m = flag_metrics(flags, grid, panel.matrix().periods, "daily")
    assert m["false_alarms"] == 3
    assert m["false_alarms_per_week"] == pytest.approx(3 / 6)


def test_false_alarms_per_week_monthly() -> None:
    # 2 monthly series x 12 months = 24 series-months = 24 * 365.25 / 12 / 7 weeks.
    panel = make_panel(np.ones((2, 12)))
    labels = pd.DataFrame({"id": ["s0000"], "period": ["2024-03-01"], "type": ["drop"]})
    grid = align_labels(panel, labels)
    flags = _flags(2, 12, [(1, 4)])
    m = flag_metrics(flags, grid, panel.matrix().periods, "monthly")
    assert m["false_alarms_per_week"] == pytest.approx(1 / (24 * 365.25 / 12 / 7))


def test_recall_by_type() -> None:
    panel = _daily_panel(n_series=2)
    days = pd.date_range("2024-01-01", periods=14, freq="D")
    labels = pd.DataFrame(
        {
            "id": ["s0000", "s0000", "s0001", "s0001"],
            "period": [days[2], days[8], days[4], days[5]],
            "type": ["spike", "drop", "trend_change", "trend_change"],
        }
    )
    grid = align_labels(panel, labels)
    flags = _flags(2, 14, [(0, 2), (1, 5)])
    m = flag_metrics(flags, grid, panel.matrix().periods, "daily")
    assert m["recall_spike"] == 1.0
    assert m["recall_drop"] == 0.0
    assert m["recall_trend_change"] == 1.0
    assert m["latency_mean_periods"] == pytest.approx(0.5)  # 0 for the spike, 1 for the trend


def test_retrospective_methods_are_marked() -> None:
    table = evaluate(
        generate("smartphone-sales", seed=1),
        methods="group-zscore,group-zscore-retro,seasonal-zscore-retro",
    )
    marked = dict(zip(table["method"], table["retrospective"], strict=True))
    assert marked == {
        "group-zscore": False,
        "group-zscore-retro": True,
        "seasonal-zscore-retro": True,
    }
    # The seed's seasonal z-score can never flag with two years of data.
    seasonal = table.set_index("method").loc["seasonal-zscore-retro"]
    assert seasonal["n_flags"] == 0 and seasonal["point_f1"] == 0.0


def test_evaluate_matches_hand_computation_on_real_detection() -> None:
    dataset = generate("smartphone-sales", seed=2)
    table = evaluate(dataset, methods="iqr-retro").iloc[0]
    from revwatch.pipeline import analyze

    det = analyze(dataset.frame, id=["product", "region"], time="month", value="volume",
                  method="iqr-retro")  # fmt: skip
    flagged = det.results()[["product", "region", "period"]].rename(columns={"period": "month"})
    truth = dataset.labels[["product", "region", "month"]]
    tp = len(flagged.merge(truth))
    assert table["point_precision"] == pytest.approx(tp / len(flagged))
    assert table["point_recall"] == pytest.approx(tp / len(truth))


def test_evaluate_accepts_detections() -> None:
    from revwatch.pipeline import analyze

    ds = generate("saas-mrr", seed=1)
    det = analyze(ds.frame, id="account", time="month", value="revenue", method="auto")
    table = evaluate(det, ds.labels, labels_time="month")
    assert table["method"].tolist() == ["auto"]


# --------------------------------------------------------------------------- #
# bad input
# --------------------------------------------------------------------------- #


def test_labels_missing_column() -> None:
    panel = _daily_panel()
    with pytest.raises(MissingColumnError, match="missing column 'id'"):
        align_labels(panel, pd.DataFrame({"period": ["2024-01-02"]}))


def test_labels_row_not_in_data() -> None:
    panel = _daily_panel()
    labels = pd.DataFrame({"id": ["s0000", "nope"], "period": ["2024-01-02", "2024-01-03"]})
    with pytest.raises(InputError, match=r"row 2 .*'nope'.* matches no series-period"):
        align_labels(panel, labels)


def test_labels_bad_date() -> None:
    panel = _daily_panel()
    labels = pd.DataFrame({"id": ["s0000"], "period": ["not a date"]})
    with pytest.raises(InputError, match="row 1: column 'period'"):
        align_labels(panel, labels)


def test_unknown_method() -> None:
    with pytest.raises(ParameterError, match="unknown method 'nope'"):
        evaluate(generate("saas-mrr"), methods="auto,nope")


def test_negative_tolerance() -> None:
    panel = _daily_panel()
    grid = align_labels(panel, _labels(EVENTS))
    with pytest.raises(ParameterError, match="tolerance"):
        flag_metrics(_flags(1, 14, []), grid, panel.matrix().periods, "daily", tolerance=-1)


# --------------------------------------------------------------------------- #
# compare and advise
# --------------------------------------------------------------------------- #


def test_compare_aggregates_over_seeds() -> None:
    result = compare("smartphone-sales", "group-zscore,iqr", seeds=3, n_jobs=1)
    assert result.seeds == (0, 1, 2)
    assert len(result.runs) == 6
    runs = result.runs[result.runs["method"] == "iqr"]["point_f1"]
    row = result.summary.set_index("method").loc["iqr"]
    assert row["point_f1_mean"] == pytest.approx(runs.mean())
    assert row["point_f1_std"] == pytest.approx(runs.std(ddof=1))
    table = result.table()
    assert {
        "precision",
        "recall",
        "F1",
        "false alarms/week",
        "latency (days)",
        "complexity",
    } <= set(table.columns)
    assert " ± " in str(table.loc[0, "F1"])


def test_compare_in_parallel_equals_sequential() -> None:
    lines: list[str] = []
    methods = "iqr,group-zscore-retro"
    sequential = compare("smartphone-sales", methods, seeds=2, n_jobs=1)
    parallel = compare("smartphone-sales", methods, seeds=2, n_jobs=2, progress=lines.append)
    pd.testing.assert_frame_equal(parallel.runs, sequential.runs)
    pd.testing.assert_frame_equal(parallel.summary, sequential.summary)
    assert parallel.skipped == sequential.skipped == {}
    assert list(parallel.runs["seed"]) == [0, 0, 1, 1]
    assert len(lines) == 4 and all("smartphone-sales: seed" in line for line in lines)


def test_compare_gives_a_parameter_to_the_methods_that_have_it() -> None:
    told = compare("daily-revenue", "auto,iqr", seeds=1, n_jobs=1,
                   dataset_kwargs={"holidays": "US"}, params={"country": "US"})  # fmt: skip
    untold = compare("daily-revenue", "auto,iqr", seeds=1, n_jobs=1,
                     dataset_kwargs={"holidays": "US"})  # fmt: skip
    rows = {name: frame.set_index("method") for name, frame in
            (("told", told.runs), ("untold", untold.runs))}  # fmt: skip
    # auto learns the holidays as calendar terms: fewer false alarms; iqr has no country
    assert rows["told"].loc["auto", "false_alarms"] < rows["untold"].loc["auto", "false_alarms"]
    assert rows["told"].loc["iqr", "n_flags"] == rows["untold"].loc["iqr", "n_flags"]
    with pytest.raises(ParameterError, match="no method has a parameter 'colour'"):
        compare("smartphone-sales", "iqr", seeds=1, n_jobs=1, params={"colour": "red"})


def _compare_csv(args: list[str]) -> pd.DataFrame:
    """``revwatch compare ARGS -f csv``'s summary, one row per method (it must succeed)."""
    result = CliRunner().invoke(app, ["compare", *args, "--jobs", "1", "-f", "csv"])
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout)).set_index("method")


def test_cli_compare_param_reaches_every_method_that_has_it() -> None:
    args = ["saas-mrr", "--seeds", "1", "--methods", "auto,rolling-zscore,iqr"]
    plain = _compare_csv(args)["n_flags_mean"]
    strict = _compare_csv([*args, "-p", "threshold=8"])["n_flags_mean"]
    # a far higher threshold flags less in the methods that have one; iqr has none
    assert strict["auto"] < plain["auto"]
    assert strict["rolling-zscore"] < plain["rolling-zscore"]
    assert strict["iqr"] == plain["iqr"]
    bad = CliRunner().invoke(app, ["compare", *args, "-p", "threshold"])
    assert bad.exit_code == 2 and "NAME=VALUE" in bad.stderr


def test_compare_rejects_bad_n_jobs() -> None:
    with pytest.raises(ParameterError, match="n_jobs"):
        compare("smartphone-sales", "iqr", seeds=1, n_jobs=0)


def test_seasonal_strength_separates_seasonal_from_flat() -> None:
    # Three years of monthly data: 40 seasonal series and 40 white-noise ones.
    # With few seasons the estimate is noisy per series, so compare the medians.
    t = np.arange(36)
    rng = np.random.default_rng(1)
    seasonal = 1000 * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 30, (40, 36))
    flat = 1000 + rng.normal(0, 30, (40, 36))
    strength = seasonal_strength(make_panel(np.vstack([seasonal, flat])))
    assert np.median(strength[:40]) > 0.8
    assert np.median(strength[40:]) < 0.2


def test_advise_with_labels_stops_at_first_good_enough() -> None:
    ds = generate("saas-mrr", seed=3)
    advice = advise(ds.frame, ds.labels, id="account", time="month", value="revenue")
    assert isinstance(advice, Advice)
    tried = [s for s in advice.steps if s.method]
    assert all(s.good_enough is False for s in tried[:-1])
    if tried[-1].good_enough:
        assert advice.recommended == tried[-1].method
        assert tried[-1].metrics["event_f1"] > 0.85
    text = str(advice)
    assert text.startswith("Step 0: test the data's assumptions")
    assert "Recommendation:" in text


def test_advise_without_labels_rejects_a_method_that_flags_size() -> None:
    # 30 accounts whose levels differ 14x: the global z-score only ever flags
    # the biggest accounts, which the unlabelled checks must catch.
    ds = generate("saas-mrr", seed=3)
    advice = advise(ds.frame, id="account", time="month", value="revenue")
    naive = next(s for s in advice.steps if s.method == "naive-zscore")
    assert naive.good_enough is False
    assert "largest series" in naive.reason
    assert advice.recommended != "naive-zscore"


# --------------------------------------------------------------------------- #
# command line
# --------------------------------------------------------------------------- #


@pytest.fixture
def smartphone_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_dataset(generate("smartphone-sales", seed=4), tmp_path / "phones.csv")


def _cols() -> list[str]:
    return ["--id", "product", "--id", "region", "--time", "month", "--value", "volume"]


def test_cli_evaluate_json(smartphone_files: tuple[Path, Path]) -> None:
    data, labels = smartphone_files
    args = ["evaluate", str(data), "--labels", str(labels), *_cols()]
    result = CliRunner().invoke(app, [*args, "--methods", "auto,iqr-retro", "-f", "json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["method"] for r in records] == ["auto", "iqr-retro"]
    assert records[1]["retrospective"] is True
    assert 0.0 <= records[0]["point_f1"] <= 1.0


def test_cli_evaluate_table_goes_to_stderr(smartphone_files: tuple[Path, Path]) -> None:
    data, labels = smartphone_files
    result = CliRunner().invoke(
        app, ["evaluate", str(data), "--labels", str(labels), *_cols(), "--methods", "iqr"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "event_f1" in result.stderr


def test_cli_compare_markdown() -> None:
    result = CliRunner().invoke(
        app,
        ["compare", "smartphone-sales", "--seeds", "2", "--methods", "group-zscore,iqr",
         "--jobs", "1", "-f", "markdown"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| method | retro | precision | recall | F1 |")
    assert len(lines) == 4 and "±" in lines[2]


def test_cli_advise(smartphone_files: tuple[Path, Path]) -> None:
    data, labels = smartphone_files
    result = CliRunner().invoke(app, ["advise", str(data), "--labels", str(labels), *_cols()])
    assert result.exit_code == 0, result.output
    assert "Step 0" in result.stdout and "Recommendation:" in result.stdout


@pytest.mark.parametrize(
    ("mutate", "extra", "message"),
    [
        (lambda f: f.drop(columns="region"), [], "missing column 'region'"),
        (lambda f: f, ["--methods", "auto,bogus"], "unknown method 'bogus'"),
        (lambda f: f, ["--format", "xml"], "--format 'xml'"),
    ],
)
def test_cli_evaluate_bad_input(
    smartphone_files: tuple[Path, Path],
    tmp_path: Path,
    mutate: Callable[[pd.DataFrame], pd.DataFrame],
    extra: list[str],
    message: str,
) -> None:
    data, labels = smartphone_files
    bad = tmp_path / "bad_labels.csv"
    mutate(pd.read_csv(labels)).to_csv(bad, index=False)
    result = CliRunner().invoke(
        app, ["evaluate", str(data), "--labels", str(bad), *_cols(), *extra]
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_cli_missing_labels_file(smartphone_files: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = smartphone_files
    result = CliRunner().invoke(
        app, ["evaluate", str(data), "--labels", str(tmp_path / "none.csv"), *_cols()]
    )
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_cli_compare_bad_input() -> None:
    runner = CliRunner()
    for args, message in [
        (["compare", "nope", "--seeds", "1"], "unknown data set 'nope'"),
        (["compare", "saas-mrr", "--seeds", "0"], "--seeds must be at least 1"),
        (["compare", "saas-mrr", "--methods", "zzz"], "unknown method 'zzz'"),
        (["compare", "saas-mrr", "--jobs", "0"], "--jobs must be at least 1"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("flags", "anomalous", "point", "onset", "event_precision"),
    [
        # one alert at the onset, the detector keeps the next two periods in its open event
        ([3], [3, 4, 5], (1.0, 1.0), (1.0, 1 / 3), 1.0),
        # the open event runs past the label: those periods cost point precision only
        ([3], [3, 4, 5, 6, 7], (0.6, 1.0), (1.0, 1 / 3), 1.0),
        # no continuation given: the point metrics are the flags'
        ([3, 7], None, (0.5, 1 / 3), (0.5, 1 / 3), 0.5),
    ],
)
def test_point_metrics_count_open_event_periods(
    flags: list[int],
    anomalous: list[int] | None,
    point: tuple[float, float],
    onset: tuple[float, float],
    event_precision: float,
) -> None:
    frame = pd.DataFrame(
        {"id": "a", "period": pd.date_range("2024-01-01", periods=8, freq="D"), "value": 1.0}
    )
    panel = Panel.from_frame(frame, id_columns=["id"], freq="daily")
    labels = pd.DataFrame({"id": "a", "period": pd.date_range("2024-01-04", periods=3)})
    grid = align_labels(panel, labels)

    def mask(cells: list[int]) -> np.ndarray:
        out = np.zeros((1, 8), dtype=bool)
        out[0, cells] = True
        return out

    m = flag_metrics(
        mask(flags), grid, panel.matrix().periods, "daily",
        anomalous=None if anomalous is None else mask(anomalous),
    )  # fmt: skip
    assert (m["point_precision"], m["point_recall"]) == pytest.approx(point)
    p, r = onset
    assert m["onset_f1"] == pytest.approx(2 * p * r / (p + r))
    assert m["event_precision"] == pytest.approx(event_precision)
    assert m["n_flags"] == len(flags)


def test_event_detector_point_recall_uses_its_open_events() -> None:
    """On daily-revenue, auto's open events add labelled periods, never alerts."""
    table = evaluate(generate("daily-revenue", seed=1), methods=["auto"]).iloc[0]
    assert table["point_recall"] > 0
    assert table["point_f1"] >= table["onset_f1"]


# direction matching: event days 2-4 labelled "down", day 9 "up"; (flag cells with signs)
DIRECTION_CASES = [
    ("right ways", [(0, 3, -1.0), (0, 9, 2.0)], dict(event_recall=1.0, false_alarms=0)),
    ("wrong way in the first", [(0, 3, 1.5), (0, 9, 2.0)], dict(event_recall=0.5)),
    ("wrong, then right: latency to the right one", [(0, 2, 1.0), (0, 4, -3.0)],
     dict(event_recall=0.5, latency_mean_periods=2.0)),
    ("no sign (NaN) detects either way", [(0, 3, np.nan), (0, 9, np.nan)],
     dict(event_recall=1.0)),
    ("wrong-way flags are not false alarms", [(0, 3, 1.0), (0, 12, 1.0)],
     dict(event_recall=0.0, false_alarms=1)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "cells", "expected"), DIRECTION_CASES)
def test_flag_metrics_matching_direction(
    name: str, cells: list[tuple[int, int, float]], expected: dict[str, float]
) -> None:
    panel = _daily_panel()
    labels = _labels(EVENTS).assign(direction=["down", "down", "down", "up"])
    grid = align_labels(panel, labels)
    assert grid.events["direction"].tolist() == [-1, 1]
    flags = _flags(1, 14, [(s, t) for s, t, _ in cells])
    sign = np.zeros((1, 14))
    for s, t, v in cells:
        sign[s, t] = v
    periods = panel.matrix().periods
    matched = flag_metrics(flags, grid, periods, "daily", flag_sign=sign)
    for key, value in expected.items():
        assert matched[key] == pytest.approx(value), (name, key)
    # without signs the same flags detect whatever is in the window
    anyway = flag_metrics(flags, grid, periods, "daily")
    assert anyway["event_recall"] >= matched["event_recall"]
    assert anyway["false_alarms"] == matched["false_alarms"]


def test_mixed_or_missing_direction_matches_any_flag() -> None:
    panel = _daily_panel()
    mixed = _labels(EVENTS).assign(direction=["up", "down", "up", ""])
    grid = align_labels(panel, mixed)
    assert grid.events["direction"].tolist() == [0, 0]
    no_column = align_labels(panel, _labels(EVENTS))
    assert no_column.events["direction"].tolist() == [0, 0]
    flags = _flags(1, 14, [(0, 3), (0, 9)])
    sign = np.where(flags, -1.0, 0.0)
    m = flag_metrics(flags, grid, panel.matrix().periods, "daily", flag_sign=sign)
    assert m["event_recall"] == 1.0


def test_compare_match_direction_only_lowers_event_recall() -> None:
    methods = "auto,seasonal-zscore"
    plain = compare("daily-revenue", methods, 2, n_jobs=1)
    matched = compare("daily-revenue", methods, 2, n_jobs=1, match_direction=True)
    a = plain.runs.set_index(["method", "seed"]).sort_index()
    b = matched.runs.set_index(["method", "seed"]).sort_index()
    assert (b["event_recall"] <= a["event_recall"]).all()
    assert (b["point_f1"] == a["point_f1"]).all()
    assert (b["false_alarms"] == a["false_alarms"]).all()
    # the seasonal z-score first flags the daily-revenue decline upward (the holiday ramp)
    trend = "recall_trend_change"
    assert (b.loc["seasonal-zscore", trend] < a.loc["seasonal-zscore", trend]).any()
    # auto's year-over-year growth change flags it downward
    assert (b.loc["auto", trend] == 1.0).all()


def test_cli_evaluate_match_direction(smartphone_files: tuple[Path, Path]) -> None:
    data, labels = smartphone_files
    assert "direction" in pd.read_csv(labels).columns
    runs = {}
    for extra in ([], ["--match-direction"]):
        result = CliRunner().invoke(
            app,
            ["evaluate", str(data), "--labels", str(labels), *_cols(), "-m", "auto,iqr",
             "-f", "json", *extra],
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        runs[bool(extra)] = pd.DataFrame(json.loads(result.stdout)).set_index("method")
    assert (runs[True]["event_recall"] <= runs[False]["event_recall"]).all()
    assert (runs[True]["point_f1"] == runs[False]["point_f1"]).all()


def test_flag_sign_of_the_wrong_shape_is_a_parameter_error() -> None:
    panel = _daily_panel()
    grid = align_labels(panel, _labels(EVENTS))
    with pytest.raises(ParameterError, match="flag_sign"):
        flag_metrics(
            _flags(1, 14, [(0, 3)]), grid, panel.matrix().periods, "daily", flag_sign=np.ones(14)
        )


def test_cli_compare_takes_generator_options() -> None:
    runner = CliRunner()
    args = ["compare", "daily-revenue", "--seeds", "1", "--methods", "rolling-zscore",
            "--jobs", "1", "-f", "csv"]  # fmt: skip
    plain = runner.invoke(app, args)
    busy = runner.invoke(app, [*args, "--holidays", "--billing-bump"])
    assert plain.exit_code == 0 and busy.exit_code == 0, busy.output
    # the calendar is not labelled: the same events, but the holidays cost false alarms
    read = [pd.read_csv(io.StringIO(r.stdout)) for r in (plain, busy)]
    assert read[0]["n_events_mean"].iloc[0] == read[1]["n_events_mean"].iloc[0]
    assert read[1]["false_alarms_mean"].iloc[0] > read[0]["false_alarms_mean"].iloc[0]
    wrong = runner.invoke(app, ["compare", "smartphone-sales", "--seeds", "1", "--yearly-cycle"])
    assert wrong.exit_code == 2
    assert "no option yearly_cycle (--yearly-cycle)" in wrong.stderr
    # --country on a data set without holidays names the flag the user gave
    country = runner.invoke(app, ["compare", "saas-mrr", "--seeds", "1", "--country", "US"])
    assert country.exit_code == 2
    assert "has no holidays (--country)" in country.stderr
    # --country plants the holidays and tells the methods that take a country
    told = runner.invoke(app, [*args, "--country", "US", "--billing-bump", "-f", "table"])
    assert told.exit_code == 0, told.output
    assert "methods told country=US" in told.stderr


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        # events: a spike at 2 and a drop at 6..7; flags at 2 and 7
        ({2: "spike", 7: "drop"}, 1.0),
        ({2: "level_shift", 7: "drop"}, 0.5),
        ({2: "drop", 7: "spike"}, 0.0),
    ],
)
def test_types_right_reads_the_first_flag_in_each_window(
    types: dict[int, str], expected: float
) -> None:
    panel = _daily_panel(1, 10)
    days = panel.matrix().periods
    labels = pd.DataFrame(
        {"id": "s0000", "period": days[[2, 6, 7]], "type": ["spike", "drop", "drop"]}
    )
    grid = align_labels(panel, labels)
    flags = np.zeros((1, 10), dtype=bool)
    flag_type = np.full((1, 10), "normal", dtype=object)
    for col, name in types.items():
        flags[0, col] = True
        flag_type[0, col] = name
    m = flag_metrics(flags, grid, days, "daily", flag_type=flag_type)
    assert m["n_detected"] == 2
    assert m["types_right"] == expected
    assert math.isnan(flag_metrics(flags, grid, days, "daily")["types_right"])


def test_types_right_in_evaluate() -> None:
    table = evaluate(generate("saas-mrr", seed=1), methods="auto,rolling-zscore")
    right = table.set_index("method")["types_right"]
    assert 0.0 <= right["auto"] <= 1.0
    # rolling-zscore only says up or down (spike/drop), never level_shift or trend_change,
    # so it cannot type saas-mrr's churn and erosion right
    assert right["rolling-zscore"] < right["auto"]
