"""Tests for :mod:`revwatch.data.load` with real files (CSV, Parquet, Excel) and frames."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revwatch.data import Panel, from_frame, load
from revwatch.errors import (
    DuplicateRowsError,
    InputError,
    MissingColumnError,
    ParameterError,
    RevwatchError,
)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write a file exactly as given (bytes) or as UTF-8 text."""
    path = folder / name
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


def values_of(panel: Panel) -> list[float | None]:
    """The value column with NaN as None, for easy comparison."""
    return [None if np.isnan(v) else float(v) for v in panel.frame["value"]]


def periods_of(panel: Panel) -> list[str]:
    return [p.strftime("%Y-%m-%d %H:%M") for p in panel.frame["period"]]


# --------------------------------------------------------------------------
# Parsing what exports contain
# --------------------------------------------------------------------------

PARSE_CASES = [
    pytest.param(
        b"\xef\xbb\xbfmonth,revenue\n2024-01,10\n2024-02,20\n",
        [10.0, 20.0],
        id="utf8-bom",
    ),
    pytest.param(
        'month,revenue\n2024-01,"$1,234.56"\n2024-02,"-$50.00"\n2024-03,"(1,234.00)"\n',
        [1234.56, -50.0, -1234.0],
        id="dollar-currency-and-accounting-negatives",
    ),
    pytest.param(
        "month;revenue\n2024-01;€1.234,56\n2024-02;1 234,56\n2024-03;-12,5\n",
        [1234.56, 1234.56, -12.5],
        id="semicolon-decimal-comma-euro",
    ),
    pytest.param(
        "month;revenue\n2024-01;1,5\n2024-02;2\n2024-03;1.000\n",
        [1.5, 2.0, 1000.0],
        id="semicolon-decimal-comma-dot-thousands",
    ),
    pytest.param(
        "month\trevenue\n2024-01\t100.00\n2024-02\t-25.00\n2024-03\t50.00 CR\n",
        [100.0, -25.0, -50.0],
        id="tab-credits-are-negative",
    ),
    pytest.param(
        "month|revenue\n2024-01|USD 1,000\n2024-02|2,000.50 USD\n2024-03|3000.25-\n",
        [1000.0, 2000.5, -3000.25],
        id="pipe-currency-codes-trailing-minus",
    ),
    pytest.param(
        "month,revenue\n2024-01,10\n2024-02,\n2024-03,N/A\n2024-04,  \n",
        [10.0, None, None, None],
        id="blank-cells-stay-nan",
    ),
    pytest.param(
        'month,revenue\n2024-01,"$ -   "\n2024-02,5\n',
        [0.0, 5.0],
        id="accounting-dash-is-zero",
    ),
    pytest.param(
        "month,revenue\n2024-01,1.5e3\n2024-02,0.25\n",
        [1500.0, 0.25],
        id="scientific-notation",
    ),
]


@pytest.mark.parametrize(("content", "expected"), PARSE_CASES)
def test_parses_export_formats(tmp_path: Path, content: str | bytes, expected: list) -> None:
    path = write(tmp_path, "export.csv", content)
    panel = load(path)
    assert values_of(panel) == expected
    assert panel.time_name == "month"
    assert panel.value_name == "revenue"
    assert panel.frame["value"].dtype == np.float64
    assert panel.freq == "monthly"


def test_latin1_export_is_read_as_cp1252(tmp_path: Path) -> None:
    path = write(tmp_path, "win.csv", "region,month,revenue\nZürich,2024-01,1\nZürich,2024-02,2\n")
    path.write_bytes(path.read_bytes().decode("utf-8").encode("cp1252"))
    panel = load(path)
    assert panel.frame["region"].tolist() == ["Zürich", "Zürich"]
    assert any("cp1252" in note for note in panel.notes)


def test_blank_value_row_is_kept_and_missing_period_not_added(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gaps.csv",
        "account,month,revenue\n"
        "a,2024-01,10\na,2024-02,\na,2024-04,40\n"
        "b,2024-01,1\nb,2024-02,2\nb,2024-03,3\nb,2024-04,4\n",
    )
    panel = load(path)
    a_rows = panel.frame[panel.frame["account"] == "a"]
    assert periods_of(panel)[:3] == ["2024-01-01 00:00", "2024-02-01 00:00", "2024-04-01 00:00"]
    assert len(a_rows) == 3  # March is not added
    assert np.isnan(a_rows["value"].iloc[1])
    matrix = panel.matrix()
    assert matrix.values.shape == (2, 4)
    assert np.isnan(matrix.values[0, 2])  # missing March stays missing, not zero
    assert (panel.frame["value"].fillna(1) != 0).all()


def test_time_column_of_many_date_spellings_infers_monthly(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "month,revenue\nJul 2024,1\nAug 2024,2\nSep 2024,3\n")
    panel = load(path)
    assert periods_of(panel) == ["2024-07-01 00:00", "2024-08-01 00:00", "2024-09-01 00:00"]


@pytest.mark.parametrize(
    "spellings",
    [
        pytest.param(["2024-07", "2024-08"], id="iso-month"),
        pytest.param(["Jul 2024", "Aug 2024"], id="mon-yyyy"),
        pytest.param(["July 2024", "August 2024"], id="month-yyyy"),
        pytest.param(["07/2024", "08/2024"], id="mm/yyyy"),
        pytest.param(["2024-07-01", "2024-08-01"], id="iso-date"),
        pytest.param(["2024-07-31", "2024-08-31"], id="month-ends"),
        pytest.param(["2024-07-01T00:00:00", "2024-08-01T00:00:00"], id="iso-datetime"),
        pytest.param(["2024-07-01 09:30:00", "2024-08-01 09:30:00"], id="datetime-with-time"),
        pytest.param(["07/15/2024", "08/15/2024"], id="us-date"),
        pytest.param(["15.07.2024", "15.08.2024"], id="european-date"),
        pytest.param(["Jul-24", "Aug-24"], id="mon-yy"),
        pytest.param(["202407", "202408"], id="yyyymm"),
    ],
)
def test_date_spellings(tmp_path: Path, spellings: list[str]) -> None:
    content = "month,revenue\n" + "".join(f"{text},1\n" for text in spellings)
    panel = load(write(tmp_path, "d.csv", content))
    assert panel.freq == "monthly"
    assert periods_of(panel) == ["2024-07-01 00:00", "2024-08-01 00:00"]


# --------------------------------------------------------------------------
# Frequencies
# --------------------------------------------------------------------------

FREQ_CASES = [
    pytest.param(
        "hourly",
        ["2024-07-01 10:15", "2024-07-01 11:15", "2024-07-01 12:15"],
        ["2024-07-01 10:15", "2024-07-01 11:15", "2024-07-01 12:15"],
        id="hourly-keeps-its-phase",
    ),
    pytest.param(
        "daily",
        ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"],
        ["2024-07-01 00:00", "2024-07-02 00:00", "2024-07-03 00:00", "2024-07-05 00:00"],
        id="daily",
    ),
    pytest.param(
        "weekly",
        ["2024-07-03", "2024-07-10", "2024-07-17"],  # Wednesdays: the weekday is kept
        ["2024-07-03 00:00", "2024-07-10 00:00", "2024-07-17 00:00"],
        id="weekly-keeps-weekday",
    ),
    pytest.param(
        "monthly",
        ["2024-07-31", "2024-08-31", "2024-09-30"],
        ["2024-07-01 00:00", "2024-08-01 00:00", "2024-09-01 00:00"],
        id="monthly-month-start",
    ),
    pytest.param(
        "quarterly",
        ["2024-03-31", "2024-06-30", "2024-09-30"],
        ["2024-01-01 00:00", "2024-04-01 00:00", "2024-07-01 00:00"],
        id="quarterly-quarter-start",
    ),
    pytest.param(
        "quarterly",
        ["2024Q1", "2024-Q2", "Q3 2024"],
        ["2024-01-01 00:00", "2024-04-01 00:00", "2024-07-01 00:00"],
        id="quarter-labels",
    ),
    pytest.param(
        "yearly",
        ["2021", "2022", "2023"],
        ["2021-01-01 00:00", "2022-01-01 00:00", "2023-01-01 00:00"],
        id="yearly-year-start",
    ),
]


@pytest.mark.parametrize(("freq", "cells", "expected"), FREQ_CASES)
def test_frequency_inferred_and_periods_normalised(
    tmp_path: Path, freq: str, cells: list[str], expected: list[str]
) -> None:
    content = "period_start,amount\n" + "".join(f"{cell},5\n" for cell in cells)
    panel = load(write(tmp_path, "f.csv", content))
    assert panel.freq == freq
    assert periods_of(panel) == expected
    assert any(note.startswith(f"inferred --freq {freq}") for note in panel.notes)


def test_month_end_and_month_start_map_to_same_period(tmp_path: Path) -> None:
    content = "account,month,revenue\na,2024-07-31,1\nb,2024-07-01,2\na,2024-08-31,3\n"
    panel = load(write(tmp_path, "m.csv", content))
    assert set(periods_of(panel)) == {"2024-07-01 00:00", "2024-08-01 00:00"}


def test_monthly_with_missing_months_is_still_monthly(tmp_path: Path) -> None:
    content = "month,revenue\n2024-01,1\n2024-02,1\n2024-05,1\n2024-09,1\n"
    panel = load(write(tmp_path, "m.csv", content))
    assert panel.freq == "monthly"
    assert len(panel.frame) == 4


def test_forced_freq_rolls_daily_up_to_monthly_with_sum(tmp_path: Path) -> None:
    content = "day,revenue\n2024-07-01,1\n2024-07-15,2\n2024-08-03,4\n"
    path = write(tmp_path, "roll.csv", content)
    with pytest.raises(DuplicateRowsError, match=r"roll\.csv"):
        load(path, freq="monthly")
    panel = load(path, freq="monthly", aggregate="sum")
    assert values_of(panel) == [3.0, 4.0]
    assert panel.freq == "monthly"


def test_mixed_weekdays_for_weekly_is_an_error(tmp_path: Path) -> None:
    content = "week,revenue\n2024-07-01,1\n2024-07-08,1\n2024-07-16,1\n2024-07-22,1\n"
    path = write(tmp_path, "w.csv", content)
    with pytest.raises(InputError) as caught:
        load(path, freq="weekly")
    assert "w.csv" in str(caught.value)
    assert "line 4" in str(caught.value)
    assert "'week'" in str(caught.value)


# --------------------------------------------------------------------------
# Column inference and notes
# --------------------------------------------------------------------------


def test_inference_notes_and_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    content = (
        "account,region,month,revenue\n"
        "acme,EU,2024-01,10\nacme,EU,2024-02,11\nbeta,NA,2024-01,5\nbeta,NA,2024-02,6\n"
    )
    with caplog.at_level(logging.INFO, logger="revwatch.data.load"):
        panel = load(write(tmp_path, "sales.csv", content))
    assert panel.notes[0] == "inferred --time month, --value revenue, --id account,region"
    assert panel.id_columns == ("account", "region")
    assert "NA" in set(panel.frame["region"])  # "NA" is North America, not missing
    assert "inferred --time month" in caplog.text
    assert list(panel.frame.columns) == ["account", "region", "period", "value"]


def test_no_note_when_everything_is_named(tmp_path: Path) -> None:
    content = "account,month,revenue\na,2024-01,1\na,2024-02,2\n"
    panel = load(
        write(tmp_path, "s.csv", content),
        id="account",
        time="month",
        value="revenue",
        freq="monthly",
    )
    assert not any(note.startswith("inferred") for note in panel.notes)


def test_numeric_id_column_by_name_and_ignored_numeric_column(tmp_path: Path) -> None:
    content = (
        "customer_id,month,revenue,units\n"
        "1001,2024-01,10,3\n1001,2024-02,20,4\n1002,2024-01,5,1\n1002,2024-02,6,1\n"
    )
    with pytest.raises(MissingColumnError) as caught:
        load(write(tmp_path, "s.csv", content))
    message = str(caught.value)
    assert "s.csv" in message
    assert "--value" in message
    assert "'revenue'" in message and "'units'" in message
    panel = load(tmp_path / "s.csv", value="revenue")
    assert panel.id_columns == ("customer_id",)
    assert panel.frame["customer_id"].tolist() == ["1001", "1001", "1002", "1002"]
    assert any("units (numeric)" in note for note in panel.notes)


def test_metrics_are_kept_and_parsed(tmp_path: Path) -> None:
    content = 'month,revenue,units\n2024-01,"$10.00","1,000"\n2024-02,"$20.00",\n'
    panel = load(write(tmp_path, "s.csv", content), value="revenue", metrics=["units"])
    assert panel.metric_columns == ["units"]
    assert panel.frame["units"].tolist()[0] == 1000.0
    assert np.isnan(panel.frame["units"].iloc[1])


def test_value_column_named_period_is_fine(tmp_path: Path) -> None:
    content = "month,period\n2024-01,1\n2024-02,2\n"
    panel = load(write(tmp_path, "odd.csv", content), time="month", value="period")
    assert values_of(panel) == [1.0, 2.0]
    assert panel.value_name == "period"
    assert panel.time_name == "month"


def test_time_and_value_columns_already_named_period_and_value(tmp_path: Path) -> None:
    content = "shop,period,value\nx,2024-01,1\nx,2024-02,2\n"
    panel = load(write(tmp_path, "canonical.csv", content))
    assert panel.id_columns == ("shop",)
    assert values_of(panel) == [1.0, 2.0]


def test_id_column_named_value_is_an_error(tmp_path: Path) -> None:
    content = "value,month,revenue\nx,2024-01,1\nx,2024-02,2\n"
    with pytest.raises(InputError) as caught:
        load(write(tmp_path, "clash.csv", content), value="revenue")
    message = str(caught.value)
    assert "clash.csv" in message
    assert "'value'" in message
    assert "rename" in message


# --------------------------------------------------------------------------
# Errors: each names the file, the row and the column, on one line
# --------------------------------------------------------------------------

ERROR_CASES = [
    pytest.param(
        "bad_date.csv",
        "account,month,revenue\na,2024-01,1\na,2024-02,2\na,2024-13-45,3\n",
        {},
        InputError,
        ["bad_date.csv", "line 4", "'month'", "'2024-13-45'", "2024-07"],
        id="unparseable-date",
    ),
    pytest.param(
        "bad_number.csv",
        "account,month,revenue\na,2024-01,1\na,2024-02,12abc\na,2024-03,3\n",
        {"value": "revenue"},
        InputError,
        ["bad_number.csv", "line 3", "'revenue'", "'12abc'", "blank"],
        id="unparseable-number",
    ),
    pytest.param(
        "blank_date.csv",
        "account,month,revenue\na,2024-01,1\na,,2\na,2024-03,3\n",
        {},
        InputError,
        ["blank_date.csv", "line 3", "'month'", "blank"],
        id="blank-time-cell",
    ),
    pytest.param(
        "blank_id.csv",
        "account,month,revenue\na,2024-01,1\n,2024-02,2\na,2024-03,3\n",
        {"id": "account"},
        InputError,
        ["blank_id.csv", "line 3", "'account'", "blank"],
        id="blank-id-cell",
    ),
    pytest.param(
        "blank_lines.csv",
        "month,revenue\n2024-01,1\n\n2024-02,oops\n",
        {"value": "revenue"},
        InputError,
        ["blank_lines.csv", "line 4", "'revenue'"],
        id="line-numbers-count-blank-lines",
    ),
    pytest.param(
        "missing_col.csv",
        "account,month,revenue\na,2024-01,1\n",
        {"value": "revenu"},
        MissingColumnError,
        ["missing_col.csv", "'revenu'", "'account', 'month', 'revenue'", "did you mean 'revenue'"],
        id="missing-column",
    ),
    pytest.param(
        "empty.csv",
        "",
        {},
        InputError,
        ["empty.csv", "empty"],
        id="empty-file",
    ),
    pytest.param(
        "header_only.csv",
        "account,month,revenue\n",
        {},
        InputError,
        ["header_only.csv", "no data rows"],
        id="header-only",
    ),
    pytest.param(
        "fake.xlsx",
        "account,month,revenue\na,2024-01,1\n",
        {},
        InputError,
        ["fake.xlsx", "Excel"],
        id="text-named-xlsx",
    ),
    pytest.param(
        "fake.parquet",
        "account,month,revenue\na,2024-01,1\n",
        {},
        InputError,
        ["fake.parquet", "Parquet"],
        id="text-named-parquet",
    ),
    pytest.param(
        "binary.csv",
        bytes(range(256)) * 4,
        {},
        InputError,
        ["binary.csv", "binary"],
        id="binary-named-csv",
    ),
    pytest.param(
        "zip.csv",
        b"PK\x03\x04" + bytes(100),
        {},
        InputError,
        ["zip.csv", "xlsx"],
        id="workbook-named-csv",
    ),
    pytest.param(
        "ragged.csv",
        "month,revenue\n2024-01,1\n2024-02,2,3,4\n",
        {},
        InputError,
        ["ragged.csv", "line 3"],
        id="ragged-csv",
    ),
    pytest.param(
        "data.json",
        "{}",
        {},
        InputError,
        ["data.json", ".csv"],
        id="unsupported-extension",
    ),
    pytest.param(
        "irregular.csv",
        "month,revenue\n2024-01-01,1\n2024-01-04,1\n2024-01-15,1\n2024-01-29,1\n",
        {},
        InputError,
        ["irregular.csv", "--freq", "11 days", "--aggregate"],
        id="irregular-spacing",
    ),
    pytest.param(
        "one_period.csv",
        "account,month,revenue\na,2024-01,1\nb,2024-01,2\n",
        {},
        InputError,
        ["one_period.csv", "--freq"],
        id="single-period",
    ),
    pytest.param(
        "two_numbers.csv",
        "month,revenue,cost\n2024-01,1,2\n2024-02,1,2\n",
        {},
        MissingColumnError,
        ["two_numbers.csv", "--value", "'revenue', 'cost'"],
        id="several-numeric-columns",
    ),
    pytest.param(
        "no_date.csv",
        "account,revenue\na,1\n",
        {},
        MissingColumnError,
        ["no_date.csv", "--time", "no date column"],
        id="no-date-column",
    ),
    pytest.param(
        "two_dates.csv",
        "invoice_date,due_date,revenue\n2024-01-01,2024-02-01,1\n",
        {},
        MissingColumnError,
        ["two_dates.csv", "--time", "'invoice_date', 'due_date'"],
        id="several-date-columns",
    ),
    pytest.param(
        "options.csv",
        "month,revenue\n2024-01,1\n2024-02,1\n",
        {"aggregate": "median"},
        ParameterError,
        ["'median'", "sum", "mean", "last"],
        id="unknown-aggregate",
    ),
    pytest.param(
        "options.csv",
        "month,revenue\n2024-01,1\n2024-02,1\n",
        {"freq": "every other tuesday"},
        ParameterError,
        ["'every other tuesday'", "monthly", "5min", "fortnightly"],
        id="unknown-freq",
    ),
    pytest.param(
        "options.csv",
        "month,revenue\n2024-01,1\n2024-02,1\n",
        {"sql": "select 1"},
        ParameterError,
        ["options.csv", "sql="],
        id="sql-for-csv",
    ),
]


@pytest.mark.parametrize(("name", "content", "options", "error", "fragments"), ERROR_CASES)
def test_bad_input_raises_one_line_error(
    tmp_path: Path,
    name: str,
    content: str | bytes,
    options: dict,
    error: type[RevwatchError],
    fragments: list[str],
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(error) as caught:
        load(path, **options)
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.exit_code == 2
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(InputError, match=r"nowhere\.csv: file does not exist"):
        load(path)


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder"):
        load(tmp_path)


def test_error_counts_further_bad_rows(tmp_path: Path) -> None:
    content = "month,revenue\n2024-01,x\n2024-02,y\n2024-03,z\n"
    with pytest.raises(InputError, match=r"line 2, column 'revenue'.*and 2 more rows"):
        load(write(tmp_path, "bad.csv", content), value="revenue")


# --------------------------------------------------------------------------
# Duplicates
# --------------------------------------------------------------------------

DUPLICATES = (
    "account,month,revenue\n"
    "acme,2024-01,10\n"
    "acme,2024-01,5\n"
    "acme,2024-02,7\n"
    "beta,2024-01,\n"
    "beta,2024-01,\n"
    "beta,2024-02,3\n"
)


def test_duplicates_error_names_series_period_and_lines(tmp_path: Path) -> None:
    with pytest.raises(DuplicateRowsError) as caught:
        load(write(tmp_path, "dups.csv", DUPLICATES))
    message = str(caught.value)
    assert "\n" not in message
    assert "dups.csv" in message
    assert "account='acme', period 2024-01 (lines 2, 3)" in message
    assert "account='beta', period 2024-01 (lines 5, 6)" in message
    assert "pass --aggregate sum to add them up" in message


def test_aggregate_sum_adds_duplicates_and_keeps_all_nan_groups_nan(tmp_path: Path) -> None:
    panel = load(write(tmp_path, "dups.csv", DUPLICATES), aggregate="sum")
    frame = panel.frame
    assert frame["account"].tolist() == ["acme", "acme", "beta", "beta"]
    assert values_of(panel) == [15.0, 7.0, None, 3.0]
    assert any("--aggregate sum" in note for note in panel.notes)


def test_duplicates_error_on_a_single_series(tmp_path: Path) -> None:
    content = "month,revenue\n2024-01,1\n2024-01,2\n2024-02,3\n"
    with pytest.raises(DuplicateRowsError, match=r"period 2024-01 \(lines 2, 3\)"):
        load(write(tmp_path, "one.csv", content))


# --------------------------------------------------------------------------
# Parquet and Excel
# --------------------------------------------------------------------------

SAMPLE = pd.DataFrame(
    {
        "account": ["acme", "acme", "beta", "beta"],
        "month": pd.to_datetime(["2024-01-31", "2024-02-29", "2024-01-31", "2024-02-29"]),
        "revenue": [10.0, 11.0, np.nan, 6.0],
    }
)


def test_parquet_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sales.parquet"
    SAMPLE.to_parquet(path)
    before = path.read_bytes()
    panel = load(path)
    assert panel.id_columns == ("account",)
    assert panel.freq == "monthly"
    assert periods_of(panel)[:2] == ["2024-01-01 00:00", "2024-02-01 00:00"]
    assert values_of(panel) == [10.0, 11.0, None, 6.0]
    assert path.read_bytes() == before


def test_xlsx_round_trip_with_sheet(tmp_path: Path) -> None:
    path = tmp_path / "sales.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(writer, sheet_name="Cover", index=False)
        SAMPLE.to_excel(writer, sheet_name="Data", index=False)
    panel = load(path, sheet="Data")
    assert panel.id_columns == ("account",)
    assert values_of(panel) == [10.0, 11.0, None, 6.0]
    with pytest.raises(InputError, match=r"sales\.xlsx: no sheet named 'Nope'.*'Cover', 'Data'"):
        load(path, sheet="Nope")


def test_xlsx_text_cells_and_spreadsheet_row_numbers(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "typed.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    rows = [
        ("account", "month", "revenue"),
        ("acme", "Jan 2024", "$1,000.00"),
        ("acme", "Feb 2024", "(200.00)"),
        ("acme", "Mar 2024", 300),
    ]
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    panel = load(path)
    assert values_of(panel) == [1000.0, -200.0, 300.0]

    sheet.append(("acme", "Smarch 2024", 5))
    workbook.save(path)
    with pytest.raises(InputError) as caught:
        load(path)
    assert "typed.xlsx, row 5, column 'month'" in str(caught.value)


# --------------------------------------------------------------------------
# Frames (pandas and polars)
# --------------------------------------------------------------------------


def test_from_frame_does_not_modify_the_callers_frame() -> None:
    frame = pd.DataFrame(
        {
            "account": [" a", "a", "b"],
            "month": ["2024-02", "2024-01", "2024-01"],
            "revenue": ["$2", "$1", "$3"],
        }
    )
    snapshot = frame.copy()
    panel = from_frame(frame)
    pd.testing.assert_frame_equal(frame, snapshot)
    assert panel.source == "<frame>"
    assert panel.frame["account"].tolist() == ["a", "a", "b"]
    assert values_of(panel) == [1.0, 2.0, 3.0]


def test_from_frame_errors_name_the_index_label() -> None:
    frame = pd.DataFrame(
        {"month": ["2024-01", "bad", "2024-03"], "revenue": [1.0, 2.0, 3.0]},
        index=[10, 20, 30],
    )
    with pytest.raises(InputError, match=r"^sales frame, index 20, column 'month'"):
        from_frame(frame, time="month", source="sales frame")


def test_from_frame_rejects_other_objects() -> None:
    with pytest.raises(ParameterError, match="DataFrame"):
        from_frame([1, 2, 3])


def test_polars_frame() -> None:
    polars = pytest.importorskip("polars")
    frame = polars.DataFrame(
        {
            "account": ["a", "a", "b", "b"],
            "month": ["2024-01-01", "2024-02-01", "2024-01-01", "2024-02-01"],
            "revenue": [1.0, None, 3.0, 4.0],
        }
    )
    panel = from_frame(frame)
    assert panel.id_columns == ("account",)
    assert panel.freq == "monthly"
    assert values_of(panel) == [1.0, None, 3.0, 4.0]
    with pytest.raises(InputError, match=r"<frame>, row 1, column 'month'"):
        from_frame(
            frame.with_columns(
                polars.Series("month", ["2024-01-01", "x", "2024-01-01", "2024-02-01"])
            )
        )


# --------------------------------------------------------------------------
# Property: the order of input rows does not matter
# --------------------------------------------------------------------------

ROWS = pd.DataFrame(
    {
        "account": ["a", "a", "a", "b", "b", "c"],
        "region": ["EU", "EU", "EU", "US", "US", "EU"],
        "month": ["2024-01", "2024-02", "2024-04", "2024-01", "2024-03", "2024-02"],
        "revenue": ["1", "", "$3", "(4)", "5", "6"],
    }
)
EXPECTED = from_frame(ROWS).frame


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.permutations(range(len(ROWS))))
def test_shuffling_rows_gives_the_same_panel(order: list[int]) -> None:
    shuffled = ROWS.iloc[order]
    pd.testing.assert_frame_equal(from_frame(shuffled).frame, EXPECTED)


@settings(max_examples=10, deadline=None)
@given(
    amounts=st.lists(
        st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False),
        min_size=2,
        max_size=8,
    )
)
def test_formatted_amounts_parse_back(amounts: list) -> None:
    months = [f"2024-{i + 1:02d}" for i in range(len(amounts))]
    us = [f"-${abs(a):,.2f}" if a < 0 else f"${a:,.2f}" for a in amounts]
    european = [f"{a:,.2f}".replace(",", " ").replace(".", ",") for a in amounts]
    for texts in (us, european):
        frame = pd.DataFrame({"month": months, "revenue": texts})
        parsed = from_frame(frame, freq="monthly").frame["value"].to_numpy()
        np.testing.assert_allclose(parsed, [float(a) for a in amounts])


def test_empty_id_list_means_one_series(tmp_path: Path) -> None:
    content = "shop,month,revenue\nx,2024-01,1\nx,2024-02,2\n"
    panel = load(write(tmp_path, "one.csv", content), id=[], value="revenue")
    assert panel.id_columns == ()
    assert list(panel.frame.columns) == ["period", "value"]
    assert panel.matrix().values.shape == (1, 2)
