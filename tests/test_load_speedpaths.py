"""The fast paths of issue 7 (loading, the dense matrix, results and CSV) give
exactly what the plain paths give, on inputs big enough to take them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revwatch.data.load import SMALL_COLUMN, _normalise_periods, from_frame, load
from revwatch.data.panel import DISTINCT_FIRST, Panel, key_order, period_ordinals
from revwatch.errors import DuplicateRowsError, InputError
from revwatch.report.formats import (
    _fixed_float_cells,
    _fixed_float_texts,
    _to_csv,
    _to_csv_arrow,
    _to_csv_pandas,
)

N_SERIES, N_PERIODS = 2_200, 24  # 52,800 rows: above DISTINCT_FIRST and SMALL_COLUMN
assert max(DISTINCT_FIRST, SMALL_COLUMN) <= N_SERIES * N_PERIODS


def _long(n_series: int = N_SERIES, n_periods: int = N_PERIODS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2023-01-01", periods=n_periods, freq="MS")
    values = np.exp(rng.uniform(6, 11, (n_series, 1))) * (
        1 + 0.05 * rng.standard_normal((n_series, n_periods))
    )
    values[rng.random(n_series) < 0.1, n_periods - 2] *= 3.0
    names = np.char.add("acct-", np.char.zfill(np.arange(n_series).astype(str), 5))
    return pd.DataFrame(
        {
            "account": pd.array(np.repeat(names, n_periods).astype(object), dtype="str"),
            "month": np.tile(periods.values, n_series),
            "revenue": values.ravel().round(2),
        }
    )


def _reference_matrix(panel: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """The dense matrix as the general (scatter) path builds it."""
    frame = panel.frame
    ids = list(panel.id_columns)
    changed = np.ones(len(frame), dtype=bool)
    changed[1:] = (frame[ids].to_numpy()[1:] != frame[ids].to_numpy()[:-1]).any(axis=1)
    row_series = np.cumsum(changed) - 1
    ordinals = np.asarray(frame["period"].dt.year * 12 + frame["period"].dt.month - 1)
    row_period = ordinals - ordinals.min()
    values = np.full((row_series.max() + 1, row_period.max() + 1), np.nan)
    values[row_series, row_period] = frame["value"].to_numpy()
    keys = frame.loc[changed, ids].reset_index(drop=True)
    return values, row_series, row_period, keys


@pytest.mark.parametrize("shape", ["full", "gaps", "shuffled", "mid_month"])
def test_matrix_same_as_scatter(shape: str) -> None:
    frame = _long()
    if shape == "gaps":
        frame = frame.drop(frame.index[5::29])
    elif shape == "shuffled":
        frame = frame.sample(frac=1.0, random_state=2)
    elif shape == "mid_month":
        frame = frame.assign(month=frame["month"] + pd.Timedelta(days=14))
    panel = from_frame(frame, id="account", time="month", value="revenue")
    mat = panel.matrix()
    values, row_series, row_period, keys = _reference_matrix(panel)
    assert mat.full == (shape != "gaps")
    np.testing.assert_array_equal(mat.values, values)
    np.testing.assert_array_equal(mat.row_series, row_series)
    np.testing.assert_array_equal(mat.row_period, row_period)
    assert mat.row_series.dtype == mat.row_period.dtype == np.int64
    pd.testing.assert_frame_equal(mat.keys, keys)
    assert mat.values.flags.writeable and mat.values.flags.c_contiguous
    assert not np.shares_memory(mat.values, panel.frame["value"].to_numpy())
    pd.testing.assert_index_equal(
        mat.periods, pd.date_range("2023-01-01", periods=N_PERIODS, freq="MS").as_unit("ns")
    )
    cells = np.arange(mat.values.size, dtype=np.float64).reshape(mat.values.shape)
    expected = cells[row_series, row_period]
    np.testing.assert_array_equal(mat.to_rows(cells), expected)
    rows = np.flatnonzero(np.arange(len(panel.frame)) % 7 == 3)
    np.testing.assert_array_equal(mat.cells(cells, rows), expected[rows])
    out = mat.to_rows(cells)
    out[:] = -1  # a copy, never a view of the caller's array
    assert cells.min() == 0


def test_single_series_full_grid() -> None:
    periods = pd.date_range("2000-01-01", periods=DISTINCT_FIRST + 10, freq="h")
    frame = pd.DataFrame({"hour": periods, "sales": np.arange(len(periods), dtype=float)})
    panel = from_frame(frame, time="hour", value="sales", id=[])
    mat = panel.matrix()
    assert mat.full and mat.values.shape == (1, len(periods))
    np.testing.assert_array_equal(mat.values[0], frame["sales"].to_numpy())
    np.testing.assert_array_equal(mat.row_period, np.arange(len(periods)))


def test_key_order_ties_and_unsorted() -> None:
    frame = _long(3_000, 24).rename(columns={"month": "period"})
    order = key_order(frame, ["account"])
    assert order is not None
    assert not order.same_key.any()
    assert (~order.same_series).sum() == 2_999
    assert key_order(frame.iloc[::-1], ["account"]) is None


@pytest.mark.parametrize("freq", ["monthly", "quarterly", "yearly", "weekly", "daily", "hourly"])
def test_period_helpers_once_per_distinct_period(freq: str) -> None:
    rng = np.random.default_rng(1)
    distinct = pd.DatetimeIndex(rng.integers(0, 2 * 10**18, 40).astype("datetime64[ns]"))
    stamps = distinct[rng.integers(0, 40, DISTINCT_FIRST * 2)]
    series = pd.Series(stamps, index=np.arange(len(stamps)) * 3, name="t")
    got = _normalise_periods(series, freq)
    step = len(series) // 200  # small pieces take the per-row path
    pieces = [series.iloc[start : start + step] for start in range(0, len(series), step)]
    expected = pd.concat([_normalise_periods(piece, freq) for piece in pieces])
    pd.testing.assert_series_equal(got, expected)
    again = _normalise_periods(got, freq)  # already normalised: the values are kept
    pd.testing.assert_series_equal(again, got)
    small = np.concatenate(
        [period_ordinals(pd.DatetimeIndex(chunk), freq) for chunk in np.array_split(stamps, 200)]
    )
    np.testing.assert_array_equal(period_ordinals(stamps, freq), small)


def test_ids_with_spaces_and_blanks_take_the_general_path(tmp_path: object) -> None:
    frame = _long()
    padded = frame.assign(account=frame["account"].where(frame.index % 997 != 5, " x "))
    panel = from_frame(padded, id="account", time="month", value="revenue", aggregate="sum")
    assert " x " not in set(panel.frame["account"]) and "x" in set(panel.frame["account"])
    blank = frame.assign(account=frame["account"].where(frame.index != 40_001, "  "))
    with pytest.raises(
        InputError, match=r"<frame>, index 40001, column 'account': the series key is blank"
    ):
        from_frame(blank, id="account", time="month", value="revenue")
    path = f"{tmp_path}/blank.parquet"
    frame.assign(account=frame["account"].where(frame.index != 40_001, None)).to_parquet(path)
    with pytest.raises(InputError, match=r"blank.parquet, row 40002, column 'account': the series"):
        load(path, id="account", time="month", value="revenue")


def test_duplicates_in_a_big_sorted_frame_named_by_label() -> None:
    frame = _long()
    frame.index = frame.index + 1_000
    doubled = pd.concat([frame, frame.iloc[[30_000]]]).sort_values(
        ["account", "month"], kind="stable"
    )
    with pytest.raises(DuplicateRowsError, match=r"2 rows share .* \(index labels 31000, 31000\)"):
        from_frame(doubled, id="account", time="month", value="revenue")


def test_panel_frame_does_not_share_writes_with_the_input() -> None:
    frame = _long()
    before = frame.copy()
    panel = from_frame(frame, id="account", time="month", value="revenue")
    panel.frame.loc[0, "value"] = -1.0
    panel.matrix().values[0, 0] = -2.0
    pd.testing.assert_frame_equal(frame, before)


# ---------------------------------------------------------------- CSV


def test_float_texts_same_as_python_formatting() -> None:
    rng = np.random.default_rng(0)
    n = 30_000
    values = np.concatenate(
        [
            rng.lognormal(3, 6, n) * rng.choice([-1, 1], n),
            rng.integers(-(10**6), 10**6, n) / 1000 + 0.005,  # near ties at 2 decimals
            rng.integers(-(10**8), 10**8, n) / 10**5 + 0.00005,  # near ties at 4 decimals
            rng.integers(-(10**9), 10**9, n) / 100,
            rng.uniform(-1, 1, n),
            [0.0, -0.0, -1e-9, 1e-9, np.inf, -np.inf, np.nan, 1e300, -1e-300, 2.675, 1.005],
            [1e15 + 0.3, 2.0**53 + 1.0, 0.5, -0.5, -0.00004, 0.00005, 2.0**50 / 100],
        ]
    )
    for decimals in (0, 2, 4):
        expected = _fixed_float_cells(pd.Series(values), "", decimals=decimals).tolist()
        assert _fixed_float_texts(values, decimals).to_pylist() == expected


def _odd_results(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    texts = np.array(["plain", "a,b", 'say "hi"', "two\nlines", " pad ", "", "ünïcödé", "x;y"])
    frame = pd.DataFrame(
        {
            "account": pd.array(texts[rng.integers(0, len(texts), n)], dtype="str"),
            "region": np.where(rng.random(n) < 0.1, None, texts[rng.integers(0, 8, n)]).astype(
                object
            ),
            "period": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, n), "D"),
            "value": rng.normal(0, 1e4, n),
            "score": np.where(rng.random(n) < 0.05, np.nan, rng.exponential(3, n)),
            "type": pd.array(rng.choice(["spike", "drop", "level_shift"], n), dtype="str"),
            "provisional": rng.random(n) < 0.5,
            "count": rng.integers(-5, 5, n),
            "confirmed_period": pd.to_datetime("2024-02-01").to_datetime64(),
            "method": "auto",
        }
    )
    frame.loc[frame.index[::11], "confirmed_period"] = pd.NaT
    return frame


@pytest.mark.parametrize("n", [0, 1, 500])
def test_csv_same_as_pandas(n: int) -> None:
    results = _odd_results(n)
    text = _to_csv_arrow(results)
    assert text is not None
    assert text == _to_csv_pandas(results)


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(account=f["account"].str.replace("plain", "car\rriage")),
        lambda f: f[["account"]],
        lambda f: f.rename(columns={"count": 7}),
        lambda f: f.assign(count=f["count"].astype("Int64")),
        lambda f: f.assign(region=f["region"].where(f.index % 2 == 0, 5)),
    ],
)
def test_csv_falls_back_to_pandas(change: object) -> None:
    results = change(_odd_results(200))  # type: ignore[operator]
    assert _to_csv_arrow(results) is None
    assert _to_csv(results) == _to_csv_pandas(results)


@pytest.mark.parametrize(
    "periods",
    [
        pd.Series(pd.to_datetime(["2024-01-01 13:00", None, "2024-01-02 00:00"])),
        pd.Series(pd.to_datetime(["2024-01-31", "2024-02-29", None])),
        pd.Series(pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-01"]).tz_localize("UTC")),
        pd.Series(pd.period_range("2024-01", periods=3, freq="M")),
        pd.Series(pd.to_datetime([None, None, None])),
    ],
)
def test_csv_periods_same_as_pandas(periods: pd.Series) -> None:
    results = pd.DataFrame(
        {"account": ["a", "b", "c"], "period": periods, "value": [1.0, 2.0, 3.0]}
    )
    assert _to_csv_arrow(results) == _to_csv_pandas(results)


def test_csv_file_same_bytes_as_text(tmp_path: object) -> None:
    from pathlib import Path

    from revwatch.report.formats import write_results

    results = _odd_results(300)
    path = Path(str(tmp_path)) / "deep" / "out.csv"
    assert write_results(results, "csv", id_columns=["account"], output=path) is None
    assert path.read_bytes() == _to_csv_pandas(results).encode("utf-8")
    assert write_results(results, "csv", id_columns=["account"]) == _to_csv_pandas(results)


@pytest.mark.parametrize("ties", [False, True])
def test_most_severe_first_same_as_lexsort(ties: bool) -> None:
    from revwatch.classify import _most_severe_first

    rng = np.random.default_rng(7)
    severity = rng.exponential(3, 50_000)
    if ties:
        severity = np.round(severity, 1)
        severity[::5] = 0.0
        severity[1::50] = -0.0
    impact = rng.normal(0, 100, 50_000)
    impact[::9] = np.nan
    expected = np.lexsort((-np.abs(np.nan_to_num(impact, nan=0.0)), -severity))
    np.testing.assert_array_equal(_most_severe_first(severity, impact), expected)
