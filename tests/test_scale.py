"""Scale work: the fast paths give the same panels and results as the plain ones,
and partitioned processing gives the same results as the in-memory path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revwatch.data.load import _normalise_periods, from_frame
from revwatch.data.panel import Panel, period_ordinals, sorted_keys


def _long(n_series: int, n_periods: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    level = np.exp(rng.uniform(np.log(1_000), np.log(100_000), size=(n_series, 1)))
    values = level * (1 + 0.05 * rng.standard_normal((n_series, n_periods)))
    values[rng.random(n_series) < 0.2, n_periods - 3] *= 3.0
    values[rng.random(n_series) < 0.1, n_periods // 2 :] *= 0.3
    periods = pd.date_range("2023-01-01", periods=n_periods, freq="MS")
    return pd.DataFrame(
        {
            "account": np.repeat([f"acct-{i:05d}" for i in range(n_series)], n_periods),
            "month": np.tile(periods.values, n_series),
            "revenue": values.ravel().round(2),
        }
    )


# ---------------------------------------------------------------- fast paths


def _panel_by_sorting(frame: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """What Panel.from_frame did before its already-sorted fast path."""
    return frame.sort_values([*ids, "period"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("order", ["sorted", "shuffled", "by_period"])
def test_from_frame_same_panel_whatever_the_row_order(order: str) -> None:
    frame = _long(50, 12)
    if order == "shuffled":
        frame = frame.sample(frac=1.0, random_state=1)
    elif order == "by_period":
        frame = frame.sort_values(["month", "account"])
    panel = from_frame(frame, id="account", time="month", value="revenue")
    expected = _panel_by_sorting(
        frame.rename(columns={"month": "period", "revenue": "value"})
        .reset_index(drop=True)
        .astype({"period": "datetime64[ns]"}),
        ["account"],
    )
    pd.testing.assert_frame_equal(panel.frame, expected)
    mat = panel.matrix()
    assert mat.values.shape == (50, 12)
    np.testing.assert_array_equal(mat.keys["account"].to_numpy(), np.unique(frame["account"]))


@pytest.mark.parametrize(
    "ids",
    [
        pd.Series(["b", "a", "a", "b", "c", "a"]),
        pd.Series(["b", "a", "a", "b", "c", "a"], dtype="object"),
        pd.Series(["b", "a", "a", "b", "c", "a"], dtype="string[python]"),
        pd.Series([3, 1, 1, 3, 2, 1]),
        pd.Categorical(["b", "a", "a", "b", "c", "a"], categories=["c", "b", "a"]),
        pd.Series(["é", "e", "z", "é", "É", "e"]),
    ],
)
def test_panel_from_frame_matches_stable_sort(ids: object) -> None:
    frame = pd.DataFrame(
        {
            "id": ids,
            "period": pd.to_datetime(
                ["2024-02-01", "2024-02-01", "2024-01-01", "2024-01-01", "2024-01-01", "2024-03-01"]
            ),
            "value": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    for candidate in (frame, _panel_by_sorting(frame, ["id"])):
        panel = Panel.from_frame(candidate, id_columns=["id"], freq="monthly")
        pd.testing.assert_frame_equal(panel.frame, _panel_by_sorting(frame, ["id"]))


def test_sorted_keys_two_columns_and_ties() -> None:
    frame = pd.DataFrame({"a": ["x", "x", "x", "y"], "b": [1, 2, 2, 0], "t": [5, 1, 1, 9]})
    assert sorted_keys(frame, ["a", "b", "t"]).tolist() == [False, True, False]
    assert sorted_keys(frame, ["a", "t"]) is None
    assert sorted_keys(frame.assign(a=["x", None, "x", "y"]), ["a"]) is None


def test_duplicates_still_refused_when_sorted() -> None:
    from revwatch.errors import DuplicateRowsError

    frame = _long(3, 4)
    frame = pd.concat([frame, frame.iloc[[5]]]).sort_values(["account", "month"])
    with pytest.raises(DuplicateRowsError):
        from_frame(frame, id="account", time="month", value="revenue")
    summed = from_frame(frame, id="account", time="month", value="revenue", aggregate="sum")
    assert len(summed.frame) == 12


def _normalise_with_periods(periods: pd.Series, freq: str) -> pd.Series:
    """The pandas Period-based normalisation the loader used before."""
    if freq in ("monthly", "quarterly", "yearly"):
        code = {"monthly": "M", "quarterly": "Q", "yearly": "Y"}[freq]
        out = periods.dt.to_period(code).dt.to_timestamp()
    elif freq == "hourly":
        out = periods.dt.floor("h")
    else:
        out = periods.dt.normalize()
    return out.astype("datetime64[ns]")


@pytest.mark.parametrize("freq", ["monthly", "quarterly", "yearly", "hourly", "daily", "weekly"])
def test_normalise_periods_matches_pandas_periods(freq: str) -> None:
    rng = np.random.default_rng(3)
    low, high = pd.Timestamp("1678-01-01").value, pd.Timestamp("2261-12-01").value
    stamps = rng.integers(low, high, 5_000).astype("datetime64[ns]")
    periods = pd.Series(stamps, index=np.arange(5_000) * 2)
    pd.testing.assert_series_equal(
        _normalise_periods(periods, freq), _normalise_with_periods(periods, freq)
    )


@pytest.mark.parametrize("freq", ["monthly", "quarterly", "yearly"])
def test_period_ordinals_match_calendar_fields(freq: str) -> None:
    rng = np.random.default_rng(4)
    low, high = pd.Timestamp("1678-01-01").value, pd.Timestamp("2261-12-01").value
    index = pd.DatetimeIndex(rng.integers(low, high, 5_000).astype("datetime64[ns]"))
    expected = {
        "monthly": index.year * 12 + index.month - 1,
        "quarterly": index.year * 4 + (index.month - 1) // 3,
        "yearly": index.year,
    }[freq]
    np.testing.assert_array_equal(period_ordinals(index, freq), np.asarray(expected))
    np.testing.assert_array_equal(period_ordinals(index.as_unit("us"), freq), expected)


def _results_frame_reference(panel, scores, *, all_rows, details, method):  # type: ignore[no-untyped-def]
    """results_frame as it was before it selected the flagged rows first (commit 69bfc3e)."""
    from revwatch.classify import _typed
    from revwatch.detectors.base import TYPE_NAMES

    mat = panel.matrix()
    kind, sign, severity = _typed(scores)
    pick = mat.to_rows
    value = panel.frame["value"].to_numpy(dtype=np.float64)
    baseline = pick(scores.baseline)
    impact = value - baseline
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(baseline != 0, impact / np.abs(baseline) * 100.0, np.nan)
    flag = pick(scores.flag)
    direction = np.where(flag, np.where(pick(sign) < 0, "down", "up"), "")
    data = {col: panel.frame[col].to_numpy() for col in panel.id_columns}
    data.update(
        {
            "period": panel.frame["period"].to_numpy(),
            "value": value,
            "baseline": baseline,
            "pct_vs_baseline": pct,
            "score": pick(scores.score),
            "type": np.asarray(TYPE_NAMES, dtype=object)[pick(kind)],
            "direction": direction,
            "severity": pick(severity),
            "impact": impact,
        }
    )
    if details:
        confirm = scores.extra.get("confirm_at")
        confirmed = np.full(len(value), np.datetime64("NaT"), dtype="datetime64[ns]")
        if confirm is not None:
            at = pick(confirm)
            ok = flag & (at >= 0)
            confirmed[ok] = mat.periods.to_numpy()[at[ok].astype(np.int64)]
        data["provisional"] = flag & pick(scores.provisional)
        data["confirmed_period"] = confirmed
        data["method"] = method or ""
        basis = np.full(len(value), "", dtype=object)
        if "peer" in scores.extra:
            basis[flag] = "own history"
            basis[flag & (pick(scores.extra["peer"]) > 0)] = "peers"
        for key, label in (("intermittent", "intermittent"), ("yoy", "yoy growth")):
            if key in scores.extra:
                basis[flag & (pick(scores.extra[key]) > 0)] = label
        data["basis"] = basis
    frame = pd.DataFrame(data)
    if not all_rows:
        frame = frame.loc[flag]
    order = np.lexsort((-np.abs(frame["impact"].fillna(0.0).to_numpy()), -frame["severity"]))
    return frame.iloc[order].reset_index(drop=True)


@pytest.mark.parametrize("method", ["auto", "seed-rolling", "rolling-iqr"])
@pytest.mark.parametrize(("all_rows", "details"), [(False, False), (True, False), (False, True)])
def test_results_frame_same_as_reference(method: str, all_rows: bool, details: bool) -> None:
    from revwatch.classify import results_frame
    from revwatch.pipeline import analyze

    frame = _long(40, 18, seed=5)
    frame["region"] = np.where(frame["account"].str[-1].isin(list("01234")), "EU", "US")
    frame.loc[frame.index[::7], "revenue"] = np.nan
    detection = analyze(frame, id=["region", "account"], time="month", value="revenue",
                        method=method)  # fmt: skip
    args = {"all_rows": all_rows, "details": details, "method": method}
    got = results_frame(detection.panel, detection.scores, **args)
    want = _results_frame_reference(detection.panel, detection.scores, **args)
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, want)


def test_csv_float_cells_same_as_per_cell_rounding() -> None:
    from revwatch.report.formats import _fixed_float, _fixed_float_cells, _float_cells

    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.lognormal(3, 6, 20_000) * rng.choice([-1, 1], 20_000),
            rng.integers(-(10**6), 10**6, 20_000) / 1000 + 0.005,  # near ties
            rng.integers(-(10**6), 10**6, 20_000) / 100 + 0.0005,
            [0.0, -0.0, -1e-9, 1e-9, np.inf, -np.inf, np.nan, 1e300, -1e-300, 2.675, 1.005],
            [1e15 + 0.3, 2.0**53 + 1.0, 0.5, -0.5, -0.00004, 0.00005],
        ]
    )
    column = pd.Series(values)
    for name in ("value", "score", "other"):
        expected = _float_cells(column, name, _fixed_float)
        assert _fixed_float_cells(column, name).tolist() == expected


# ---------------------------------------------------------------- partitioned


KEYS = ["account", "period"]


@pytest.fixture(scope="module")
def parquet_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, str]:
    frame = _long(600, 24, seed=2)
    path = tmp_path_factory.mktemp("scale") / "panel.parquet"
    # several row groups and shuffled rows: partitions are gathered across batches
    frame.sample(frac=1.0, random_state=3).to_parquet(path, row_group_size=2_000)
    return frame, str(path)


def _whole(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    from revwatch.pipeline import detect

    flags = detect(frame, id="account", time="month", value="revenue", method=method,
                   all_rows=True)  # fmt: skip
    return flags.sort_values(KEYS).reset_index(drop=True)


def _partitioned(path: str, method: str, **options: object) -> pd.DataFrame:
    from revwatch.scale.partitioned import detect_partitioned

    flags = detect_partitioned(path, id="account", time="month", value="revenue", method=method,
                               all_rows=True, **options)  # fmt: skip
    assert isinstance(flags, pd.DataFrame)
    return flags.sort_values(KEYS).reset_index(drop=True)


@pytest.mark.parametrize("partitions", [1, 3, 7])
def test_partitioned_seed_rolling_identical(
    parquet_source: tuple[pd.DataFrame, str], partitions: int
) -> None:
    frame, path = parquet_source
    pd.testing.assert_frame_equal(
        _partitioned(path, "seed-rolling", partitions=partitions), _whole(frame, "seed-rolling")
    )


def test_partitioned_auto_one_partition_identical(parquet_source: tuple[pd.DataFrame, str]) -> None:
    frame, path = parquet_source
    pd.testing.assert_frame_equal(_partitioned(path, "auto", partitions=1), _whole(frame, "auto"))


def test_partitioned_auto_bounded_difference(parquet_source: tuple[pd.DataFrame, str]) -> None:
    """``auto`` pools a relative scale and seasonal indices within each partition.

    With 200 series per partition the rows, periods, values and scored cells
    are the same, and the scores move little (measured here: median |score
    difference| 0.005, 99th percentile 0.06, max 2.0 where one series' event
    opened at a different period; 2 of 177 flags differ).
    """
    frame, path = parquet_source
    whole = _whole(frame, "auto")
    parts = _partitioned(path, "auto", partitions=3)
    pd.testing.assert_frame_equal(parts[[*KEYS, "value"]], whole[[*KEYS, "value"]])
    flagged_whole = whole["type"].ne("normal").to_numpy()
    flagged_parts = parts["type"].ne("normal").to_numpy()
    assert flagged_whole.sum() > 20
    assert (flagged_whole != flagged_parts).sum() <= 0.05 * flagged_whole.sum()
    score_diff = np.abs(parts["score"] - whole["score"]).to_numpy()
    assert np.array_equal(np.isnan(parts["score"]), np.isnan(whole["score"]))
    assert np.nanmedian(score_diff) < 0.02
    assert np.nanquantile(score_diff, 0.99) < 0.25


def test_partitioned_by_series_count_and_output(
    parquet_source: tuple[pd.DataFrame, str], tmp_path: object
) -> None:
    from pathlib import Path

    from revwatch.scale.partitioned import detect_partitioned

    frame, path = parquet_source
    folder = Path(str(tmp_path))
    expected = _whole(frame, "seed-rolling")
    expected = expected[expected["type"] != "normal"]
    for name in ("out.parquet", "out.csv"):
        written = detect_partitioned(path, id="account", time="month", value="revenue",
                                     method="seed-rolling", series_per_partition=250,
                                     output=folder / name)  # fmt: skip
        assert written == folder / name
    back = pd.read_parquet(folder / "out.parquet").sort_values(KEYS).reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected.reset_index(drop=True), check_dtype=False)
    assert len(pd.read_csv(folder / "out.csv")) == len(expected)


def test_partitioned_bad_input(tmp_path: object) -> None:
    from revwatch.errors import InputError, ParameterError
    from revwatch.scale.partitioned import detect_partitioned

    with pytest.raises(InputError, match="does not exist"):
        detect_partitioned(f"{tmp_path}/none.parquet", id="a", time="t", value="v")
    path = f"{tmp_path}/p.parquet"
    _long(3, 6).to_parquet(path)
    with pytest.raises(InputError, match="no column 'a'"):
        detect_partitioned(path, id="a", time="month", value="revenue")
    with pytest.raises(ParameterError):
        detect_partitioned(path, id="account", time="month", value="revenue", partitions=0)
