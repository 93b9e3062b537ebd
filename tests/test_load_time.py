"""The time side of the loader: steps from a minute to a year, phases, mixed steps.

Every case writes a real file (CSV, and Excel or Parquet where the case
applies) and asserts the panel the loader returns (frequency, periods,
values, the note when a reading was chosen) or the one-line exit-2 error.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from revwatch.cli import app
from revwatch.data import FREQUENCIES, Panel, load
from revwatch.errors import DuplicateRowsError, InputError, ParameterError

runner = CliRunner()


def stamps_of(panel: Panel) -> list[str]:
    return [stamp.strftime("%Y-%m-%d %H:%M:%S") for stamp in panel.frame["period"]]


def write_rows(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as CSV (texts as they are), Excel or Parquet by the suffix of ``name``."""
    path = folder / name
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


# --------------------------------------------------------------------------
# Case 9: any fixed step, inferred or given
# --------------------------------------------------------------------------

#: (frequency, first stamp, step as a pandas offset, expected period texts: None = the input's)
STEP_CASES = [
    pytest.param("1min", "2024-03-01 09:00:00", "1min", None, id="1min"),
    pytest.param("5min", "2015-02-26 21:42:53", "5min", None, id="5min-phase-02-53"),
    pytest.param("5min", "2024-03-01 00:00:01", "5min", None, id="5min-one-second-past"),
    pytest.param("10min", "2024-03-01 00:03:00", "10min", None, id="10min-phase"),
    pytest.param("15min", "2024-03-01 00:00:00", "15min", None, id="15min"),
    pytest.param("30min", "2024-03-01 00:30:00", "30min", None, id="30min"),
    pytest.param("hourly", "2024-03-01 00:15:00", "h", None, id="hourly-at-15"),
    pytest.param("daily", "2024-03-01", "D", None, id="daily"),
    pytest.param("weekly", "2024-03-06", "7D", None, id="weekly-wednesday"),
    pytest.param("fortnightly", "2024-03-01", "14D", None, id="two-weekly-friday"),
    pytest.param("monthly", "2024-01-31", "ME", "month-start", id="monthly-month-end"),
    pytest.param("quarterly", "2024-01-01", "QS", None, id="quarterly"),
    pytest.param("yearly", "2001-01-01", "YS", None, id="yearly"),
]


def _step_frame(first: str, step: str, n_periods: int = 40) -> pd.DataFrame:
    stamps = pd.date_range(first, periods=n_periods, freq=step)
    values = np.arange(n_periods, dtype=float) + 10.0
    return pd.DataFrame(
        {
            "series": ["a"] * n_periods + ["b"] * n_periods,
            "time": [*stamps.strftime("%Y-%m-%d %H:%M:%S")] * 2,
            "value": np.concatenate([values, values * 2]),
        }
    )


@pytest.mark.parametrize(("freq", "first", "step", "expected"), STEP_CASES)
@pytest.mark.parametrize("given", [False, True], ids=["inferred", "given"])
def test_every_fixed_step_keeps_its_stamps(
    tmp_path: Path, freq: str, first: str, step: str, expected: str | None, given: bool
) -> None:
    frame = _step_frame(first, step)
    path = write_rows(tmp_path, "steps.csv", frame)
    panel = load(path, id="series", time="time", value="value", freq=freq if given else None)
    assert panel.freq == freq
    if expected is None:
        assert stamps_of(panel) == frame["time"].tolist()
    else:  # month ends are the month's period, which starts on the 1st
        starts = pd.to_datetime(frame["time"]).dt.to_period("M").dt.to_timestamp()
        assert stamps_of(panel) == starts.dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
    assert panel.frame["value"].tolist() == frame["value"].tolist()
    matrix = panel.matrix()
    assert matrix.values.shape == (2, 40)  # consecutive periods: no hole, no doubled column
    assert not np.isnan(matrix.values).any()
    if not given:
        assert any(note.startswith(f"inferred --freq {freq}") for note in panel.notes)


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_five_minute_phase_from_excel_and_parquet(tmp_path: Path, suffix: str) -> None:
    frame = _step_frame("2015-02-26 21:42:53", "5min")
    typed = frame.assign(time=pd.to_datetime(frame["time"]))
    panel = load(write_rows(tmp_path, "tweets" + suffix, typed))
    assert panel.freq == "5min"
    assert stamps_of(panel) == frame["time"].tolist()


def test_stamps_a_few_seconds_off_snap_to_the_step(tmp_path: Path) -> None:
    stamps = pd.date_range("2024-03-01 00:00:00", periods=30, freq="5min")
    jitter = pd.to_timedelta(np.tile([0, 2, -1, 0, 3], 6), unit="s")
    frame = pd.DataFrame(
        {"time": (stamps + jitter).strftime("%Y-%m-%d %H:%M:%S"), "value": np.arange(30.0)}
    )
    panel = load(write_rows(tmp_path, "jitter.csv", frame))
    assert panel.freq == "5min"
    assert stamps_of(panel) == stamps.strftime("%Y-%m-%d %H:%M:%S").tolist()
    moved = [note for note in panel.notes if note.startswith("moved")]
    assert moved and "18 stamp(s)" in moved[0] and "3 s" in moved[0] and "line 3" in moved[0]


def test_series_on_different_phases_keep_their_own_stamps(tmp_path: Path) -> None:
    on_the_hour = pd.date_range("2024-03-01 00:00:00", periods=24, freq="5min")
    late = on_the_hour + pd.Timedelta(seconds=173)
    frame = pd.DataFrame(
        {
            "series": ["a"] * 24 + ["b"] * 24,
            "time": [*on_the_hour.strftime("%Y-%m-%d %H:%M:%S"), *late.strftime("%H:%M:%S")],
            "value": np.arange(48.0),
        }
    )
    frame["time"] = [
        *on_the_hour.strftime("%Y-%m-%d %H:%M:%S"),
        *late.strftime("%Y-%m-%d %H:%M:%S"),
    ]
    panel = load(write_rows(tmp_path, "phases.csv", frame))
    assert panel.freq == "5min"
    assert stamps_of(panel) == frame["time"].tolist()
    assert panel.matrix().values.shape == (2, 24)


def test_gaps_in_a_regular_step_stay_missing(tmp_path: Path) -> None:
    stamps = pd.date_range("2014-04-10 00:04:00", periods=50, freq="5min").delete([10, 11, 30])
    frame = pd.DataFrame({"time": stamps.strftime("%Y-%m-%d %H:%M:%S"), "value": 1.0})
    panel = load(write_rows(tmp_path, "elb.csv", frame))
    assert panel.freq == "5min"
    values = panel.matrix().values[0]
    assert len(values) == 50
    assert (
        np.isnan(values[[10, 11, 30]]).all() and not np.isnan(np.delete(values, [10, 11, 30])).any()
    )


IRREGULAR = (
    "time,value\n2024-03-01 10:00:00,1\n2024-03-01 10:01:10,2\n2024-03-01 10:07:00,3\n"
    "2024-03-01 10:08:00,4\n2024-03-01 10:14:00,5\n2024-03-01 10:21:30,6\n"
    "2024-03-01 10:22:00,7\n2024-03-01 10:31:00,8\n"
)


def test_truly_irregular_steps_are_one_line_error_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(IRREGULAR)
    with pytest.raises(InputError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message and "events.csv" in message
    assert "--freq" in message and "--aggregate sum|mean|last" in message
    result = runner.invoke(app, ["detect", str(path)])
    assert result.exit_code == 2
    assert "--aggregate" in result.output


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [("sum", [15.0, 13.0, 8.0]), ("mean", [3.0, 6.5, 8.0]), ("last", [5.0, 7.0, 8.0])],
)
def test_given_step_rolls_irregular_rows_up(
    tmp_path: Path, aggregate: str, expected: list[float]
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(IRREGULAR)
    with pytest.raises(DuplicateRowsError, match="--aggregate mean"):
        load(path, freq="15min")
    panel = load(path, freq="15min", aggregate=aggregate)
    assert panel.freq == "15min"
    assert stamps_of(panel) == ["2024-03-01 10:00:00", "2024-03-01 10:15:00", "2024-03-01 10:30:00"]
    assert panel.frame["value"].tolist() == expected
    assert any(f"(--aggregate {aggregate})" in note for note in panel.notes)


def test_last_keeps_the_latest_stamp_not_the_last_line(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("day,price\n2024-03-01 17:00,3\n2024-03-01 09:00,1\n2024-03-02 09:00,5\n")
    panel = load(path, freq="daily", aggregate="last")
    assert panel.frame["value"].tolist() == [3.0, 5.0]


@pytest.mark.parametrize(
    ("spelling", "freq"),
    [("5min", "5min"), ("biweekly", "fortnightly"), ("two-weekly", "fortnightly"),
     ("H", "hourly"), ("1min", "1min"), ("inferred", None)],
)  # fmt: skip
def test_freq_spellings(tmp_path: Path, spelling: str, freq: str | None) -> None:
    first, step = {
        "5min": ("2024-03-01", "5min"),
        "fortnightly": ("2024-03-01", "14D"),
        "hourly": ("2024-03-01", "h"),
        "1min": ("2024-03-01", "1min"),
        None: ("2024-03-01", "D"),
    }[freq]
    path = write_rows(tmp_path, "f.csv", _step_frame(first, step))
    panel = load(path, freq=spelling)
    assert panel.freq == (freq or "daily")


def test_unknown_freq_lists_every_step(tmp_path: Path) -> None:
    path = write_rows(tmp_path, "f.csv", _step_frame("2024-03-01", "D"))
    with pytest.raises(ParameterError) as caught:
        load(path, freq="every other tuesday")
    for freq in FREQUENCIES:
        assert freq in str(caught.value)


def test_two_weekly_off_cycle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "pay.csv"
    path.write_text("run,amount\n2024-03-01,1\n2024-03-15,1\n2024-03-22,1\n2024-04-12,1\n")
    with pytest.raises(InputError) as caught:
        load(path, freq="fortnightly")
    assert "line 4" in str(caught.value) and "two-week" in str(caught.value)


# --------------------------------------------------------------------------
# Case 3: series with different steps in one file
# --------------------------------------------------------------------------


def _mixed_frame() -> pd.DataFrame:
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    days = pd.date_range("2024-01-01", periods=366, freq="D")
    monthly = pd.DataFrame(
        {
            "account": np.repeat([f"m{i:02d}" for i in range(5)], 12),
            "date": np.tile(months.strftime("%Y-%m-%d"), 5),
            "revenue": 100.0,
        }
    )
    daily = pd.DataFrame(
        {"account": "daily-one", "date": days.strftime("%Y-%m-%d"), "revenue": 1.0}
    )
    return pd.concat([monthly, daily], ignore_index=True)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_series_of_different_steps_are_refused_naming_both(tmp_path: Path, suffix: str) -> None:
    path = write_rows(tmp_path, "mixed" + suffix, _mixed_frame())
    with pytest.raises(InputError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert "account='daily-one' is daily" in message
    assert "is monthly" in message and "account='m0" in message
    assert "--freq monthly" in message and "--aggregate" in message


def test_given_coarse_step_rolls_the_finer_series_up(tmp_path: Path) -> None:
    path = write_rows(tmp_path, "mixed.csv", _mixed_frame())
    panel = load(path, freq="monthly", aggregate="sum")
    assert panel.freq == "monthly"
    matrix = panel.matrix()
    assert matrix.values.shape == (6, 12)
    daily_row = matrix.keys["account"].tolist().index("daily-one")
    assert matrix.values[daily_row].tolist() == [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    assert (np.delete(matrix.values, daily_row, axis=0) == 100.0).all()


def test_a_stray_row_does_not_make_a_series_daily(tmp_path: Path) -> None:
    frame = _mixed_frame()
    frame = frame[frame["account"] != "daily-one"]
    stray = pd.DataFrame({"account": ["m00"], "date": ["2024-03-02"], "revenue": [1.0]})
    path = write_rows(tmp_path, "stray.csv", pd.concat([frame, stray]))
    panel = load(path, aggregate="sum")
    assert panel.freq == "monthly"


# --------------------------------------------------------------------------
# Copies of labelled rows (../shared/data/labelled), written here
# --------------------------------------------------------------------------

TWEETS = """series,time,value
Twitter_volume_AAPL,2015-02-26 21:42:53,104
Twitter_volume_AAPL,2015-02-26 21:47:53,100
Twitter_volume_AAPL,2015-02-26 21:52:53,99
Twitter_volume_AAPL,2015-02-26 21:57:53,154
Twitter_volume_AAPL,2015-02-26 22:02:53,120
Twitter_volume_AAPL,2015-02-26 22:07:53,86
"""
ELB = """series,time,value
elb_request_count_8c0756,2014-04-10 00:04:00,94.0
elb_request_count_8c0756,2014-04-10 00:09:00,56.0
elb_request_count_8c0756,2014-04-10 00:14:00,187.0
elb_request_count_8c0756,2014-04-10 00:24:00,77.0
elb_request_count_8c0756,2014-04-10 00:29:00,81.0
"""
LICENCES = """series,time,value
shanghai_license,2002-01,3718.0
shanghai_license,2002-02,4590.0
shanghai_license,2002-03,5190.0
"""
COAL = """series,time,value
uk_coal_employ,1913,1107000.0
uk_coal_employ,1914,1038000.0
uk_coal_employ,1915,935000.0
"""
PEDESTRIANS = """ds,y
2017-06-02,39230
2017-06-03,35290
2017-06-04,27083
"""


@pytest.mark.parametrize(
    ("content", "freq", "first", "n_columns"),
    [
        pytest.param(TWEETS, "5min", "2015-02-26 21:42:53", 6, id="nab-tweets"),
        pytest.param(ELB, "5min", "2014-04-10 00:04:00", 6, id="nab-elb-with-a-gap"),
        pytest.param(LICENCES, "monthly", "2002-01-01 00:00:00", 3, id="tcpd-monthly"),
        pytest.param(COAL, "yearly", "1913-01-01 00:00:00", 3, id="tcpd-yearly"),
        pytest.param(PEDESTRIANS, "daily", "2017-06-02 00:00:00", 3, id="real-daily"),
    ],
)
def test_labelled_rows_load_with_default_options(
    tmp_path: Path, content: str, freq: str, first: str, n_columns: int
) -> None:
    path = tmp_path / "sample.csv"
    path.write_text(content)
    panel = load(path)
    assert panel.freq == freq
    assert stamps_of(panel)[0] == first
    assert panel.matrix().values.shape[1] == n_columns
    assert panel.frame["value"].tolist() == pd.read_csv(path).iloc[:, -1].astype(float).tolist()


def test_detect_on_five_minute_rows_exits_zero_and_keeps_the_phase(tmp_path: Path) -> None:
    stamps = pd.date_range("2015-02-26 21:42:53", periods=4 * 288, freq="5min")
    rng = np.random.default_rng(0)
    values = (
        100 + 20 * np.sin(np.arange(len(stamps)) * 2 * np.pi / 288) + rng.normal(0, 3, len(stamps))
    )
    values[1000] = 900.0  # the fourth day: a daily shape is judged once it has a track record
    frame = pd.DataFrame(
        {"series": "tweets", "time": stamps.strftime("%Y-%m-%d %H:%M:%S"), "value": values}
    )
    path = write_rows(tmp_path, "tweets.csv", frame)
    result = runner.invoke(
        app,
        [
            "detect",
            str(path),
            "--id",
            "series",
            "--time",
            "time",
            "--value",
            "value",
            "-f",
            "csv",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    flagged = pd.read_csv(pd.io.common.StringIO(result.output))
    assert (pd.to_datetime(flagged["period"]).dt.second == 53).all()
    assert stamps[1000].strftime("%Y-%m-%dT%H:%M:%S") in flagged["period"].tolist()


# --------------------------------------------------------------------------
# Case 1: time zones
# --------------------------------------------------------------------------


def _iso(stamps: pd.DatetimeIndex) -> list[str]:
    """ISO 8601 texts with their UTC offset (+02:00, or Z for UTC)."""
    return [stamp.isoformat().replace("+00:00", "Z") for stamp in stamps]


BERLIN_MONTHS = pd.date_range("2024-07-01", periods=8, freq="MS", tz="Europe/Berlin")
BERLIN_DAYS = pd.date_range("2024-10-20", periods=14, freq="D", tz="Europe/Berlin")


@pytest.mark.parametrize(
    ("stamps", "freq", "expected"),
    [
        pytest.param(
            BERLIN_MONTHS,
            "monthly",
            pd.date_range("2024-07-01", periods=8, freq="MS"),
            id="berlin-monthly-dst",
        ),
        pytest.param(
            BERLIN_DAYS,
            "daily",
            pd.date_range("2024-10-20", periods=14, freq="D"),
            id="berlin-daily",
        ),
        pytest.param(
            pd.date_range("2024-07-01", periods=8, freq="MS").tz_localize("+02:00"),
            "monthly",
            pd.date_range("2024-07-01", periods=8, freq="MS"),
            id="constant-offset-monthly",
        ),
        pytest.param(
            pd.date_range("2024-03-01", periods=6, freq="MS", tz="Europe/London"),
            "monthly",
            pd.date_range("2024-03-01", periods=6, freq="MS"),
            id="london-z-mixed-with-offsets",
        ),
    ],
)
@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_offsets_of_daily_and_coarser_data_are_wall_dates(
    tmp_path: Path,
    stamps: pd.DatetimeIndex,
    freq: str,
    expected: pd.DatetimeIndex,
    suffix: str,
) -> None:
    cells: object = _iso(stamps) if suffix != ".parquet" else stamps
    frame = pd.DataFrame({"month": cells, "revenue": np.arange(len(stamps), dtype=float)})
    panel = load(write_rows(tmp_path, "zoned" + suffix, frame))
    assert panel.freq == freq
    assert stamps_of(panel) == expected.strftime("%Y-%m-%d %H:%M:%S").tolist()
    assert panel.frame["value"].tolist() == frame["revenue"].tolist()
    assert any("dates in their own zone" in note for note in panel.notes)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_sub_daily_offsets_are_utc_so_no_hour_is_doubled(tmp_path: Path, suffix: str) -> None:
    utc = pd.date_range("2024-10-26 22:00", periods=8, freq="h", tz="UTC")  # DST ends at 01:00Z
    berlin = utc.tz_convert("Europe/Berlin")
    cells: object = _iso(berlin) if suffix == ".csv" else berlin
    panel = load(write_rows(tmp_path, "hours" + suffix, pd.DataFrame({"t": cells, "v": 1.0})))
    assert panel.freq == "hourly"
    assert stamps_of(panel) == utc.strftime("%Y-%m-%d %H:%M:%S").tolist()
    assert panel.matrix().values.shape == (1, 8)
    assert any("are UTC" in note for note in panel.notes)


def test_constant_offset_and_dst_offsets_agree_on_sub_daily_data(tmp_path: Path) -> None:
    utc = pd.date_range("2024-07-01 00:00", periods=6, freq="h", tz="UTC")
    constant = load(
        write_rows(tmp_path, "a.csv", pd.DataFrame({"t": _iso(utc.tz_convert("+02:00")), "v": 1.0}))
    )
    zone = load(
        write_rows(
            tmp_path, "b.csv", pd.DataFrame({"t": _iso(utc.tz_convert("Europe/Berlin")), "v": 1.0})
        )
    )
    assert stamps_of(constant) == stamps_of(zone) == utc.strftime("%Y-%m-%d %H:%M:%S").tolist()


def test_naive_local_stamps_with_tz_place_the_repeated_hour(tmp_path: Path) -> None:
    utc = pd.date_range("2024-10-26 22:00", periods=8, freq="h", tz="UTC")
    local = utc.tz_convert("Europe/Berlin").tz_localize(None)  # 02:00 appears twice
    frame = pd.DataFrame(
        {"series": "a", "t": local.strftime("%Y-%m-%d %H:%M:%S"), "v": np.arange(8.0)}
    )
    path = write_rows(tmp_path, "local.csv", frame)
    with pytest.raises(DuplicateRowsError):
        load(path)
    panel = load(path, tz="Europe/Berlin")
    assert panel.freq == "hourly"
    assert stamps_of(panel) == utc.strftime("%Y-%m-%d %H:%M:%S").tolist()
    assert panel.frame["value"].tolist() == list(np.arange(8.0))


def test_naive_stamp_the_clocks_skip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spring.csv"
    path.write_text("t,v\n2024-03-31 01:00,1\n2024-03-31 02:30,2\n2024-03-31 03:00,3\n")
    with pytest.raises(InputError) as caught:
        load(path, tz="Europe/Berlin", freq="30min")
    assert "line 3" in str(caught.value) and "does not exist in Europe/Berlin" in str(caught.value)


def test_dates_in_a_zone_whose_clocks_change_at_midnight_load(tmp_path: Path) -> None:
    days = pd.date_range("2024-09-01", periods=20, freq="D")  # Santiago: 2024-09-08 00:00 skipped
    path = write_rows(tmp_path, "cl.csv", pd.DataFrame({"d": days.strftime("%Y-%m-%d"), "v": 1.0}))
    panel = load(path, tz="America/Santiago")
    assert panel.freq == "daily"
    assert stamps_of(panel) == days.strftime("%Y-%m-%d %H:%M:%S").tolist()


def test_tz_says_where_the_reporting_day_starts(tmp_path: Path) -> None:
    utc = pd.date_range("2024-07-01 20:00", periods=8, freq="h", tz="UTC")
    path = write_rows(tmp_path, "h.csv", pd.DataFrame({"t": _iso(utc), "v": 1.0}))
    own = load(path, freq="daily", aggregate="sum")  # Z: the day of UTC
    assert stamps_of(own) == ["2024-07-01 00:00:00", "2024-07-02 00:00:00"]
    assert own.frame["value"].tolist() == [4.0, 4.0]
    berlin = load(path, freq="daily", aggregate="sum", tz="Europe/Berlin")  # 22:00Z is midnight
    assert berlin.frame["value"].tolist() == [2.0, 6.0]
    assert any("dates in Europe/Berlin" in note for note in berlin.notes)


def test_unknown_zone_is_a_parameter_error(tmp_path: Path) -> None:
    path = write_rows(tmp_path, "f.csv", _step_frame("2024-03-01", "D"))
    with pytest.raises(ParameterError, match="Europe/Berlin"):
        load(path, tz="Mars/Olympus")
    result = runner.invoke(app, ["detect", str(path), "--tz", "Mars/Olympus"])
    assert result.exit_code == 2


# --------------------------------------------------------------------------
# Case 2: one reading of day and month for the whole column
# --------------------------------------------------------------------------


def _uk_monthly(n_series: int = 2) -> pd.DataFrame:
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    return pd.DataFrame(
        {
            "account": np.repeat([f"acct{i}" for i in range(n_series)], 12),
            "month": np.tile(months.strftime("%d/%m/%Y"), n_series),
            "revenue": np.arange(12.0 * n_series),
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_uk_dates_on_the_first_are_read_day_first(tmp_path: Path, suffix: str) -> None:
    frame = _uk_monthly()
    panel = load(write_rows(tmp_path, "uk" + suffix, frame))
    assert panel.freq == "monthly"
    expected = pd.date_range("2024-01-01", periods=12, freq="MS").strftime("%Y-%m-%d %H:%M:%S")
    assert stamps_of(panel) == [*expected] * 2
    notes = [note for note in panel.notes if "day/month/year" in note]
    assert notes and "%d/%m/%Y" in notes[0]


def test_us_dates_on_the_first_are_read_month_first(tmp_path: Path) -> None:
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    frame = pd.DataFrame({"month": months.strftime("%m/%d/%Y"), "revenue": 1.0})
    panel = load(write_rows(tmp_path, "us.csv", frame))
    assert panel.freq == "monthly"
    assert stamps_of(panel) == months.strftime("%Y-%m-%d %H:%M:%S").tolist()
    assert any("month/day/year" in note for note in panel.notes)


def test_unambiguous_dates_need_no_note(tmp_path: Path) -> None:
    path = tmp_path / "us.csv"
    path.write_text("day,revenue\n07/15/2024,1\n07/16/2024,2\n07/17/2024,3\n")
    panel = load(path)
    assert stamps_of(panel)[0] == "2024-07-15 00:00:00"
    assert not any("day/month" in note for note in panel.notes)


AMBIGUOUS = "month,revenue\n" + "".join(f"03/{month:02d}/2024,{month}\n" for month in range(1, 13))


def test_neither_reading_clearly_right_asks_for_date_format(tmp_path: Path) -> None:
    path = tmp_path / "third.csv"
    path.write_text(AMBIGUOUS)
    with pytest.raises(InputError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message and "third.csv" in message and "'month'" in message
    assert "--date-format %d/%m/%Y" in message and "--date-format %m/%d/%Y" in message
    result = runner.invoke(app, ["detect", str(path)])
    assert result.exit_code == 2 and "--date-format" in result.output
    day_first = load(path, date_format="%d/%m/%Y")
    assert day_first.freq == "monthly"
    assert stamps_of(day_first)[:2] == ["2024-01-01 00:00:00", "2024-02-01 00:00:00"]
    month_first = load(path, date_format="%m/%d/%Y")
    assert month_first.freq == "daily"
    assert stamps_of(month_first)[:2] == ["2024-03-01 00:00:00", "2024-03-02 00:00:00"]


def test_cell_not_matching_the_date_format_is_named(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("day,revenue\n01/02/2024,1\n2024-02-02,2\n")
    with pytest.raises(InputError) as caught:
        load(path, date_format="%d/%m/%Y")
    assert "line 3" in str(caught.value) and "--date-format %d/%m/%Y" in str(caught.value)


def test_api_detect_takes_the_time_options(tmp_path: Path) -> None:
    import revwatch

    path = tmp_path / "third.csv"
    path.write_text(AMBIGUOUS)
    flags = revwatch.detect(path, date_format="%d/%m/%Y", tz="Europe/Berlin", all_rows=True)
    assert len(flags) == 12
    assert pd.to_datetime(flags["period"]).min() == pd.Timestamp("2024-01-01")


# --------------------------------------------------------------------------
# Property: a known panel written with any date spelling reads back exactly, or exit 2
# --------------------------------------------------------------------------

SPELLINGS = ["ISO8601", "%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d %b %Y"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    spelling=st.sampled_from(SPELLINGS),
    freq=st.sampled_from(["daily", "weekly", "monthly"]),
    start=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)),
    n_periods=st.integers(min_value=3, max_value=30),
    n_series=st.integers(min_value=1, max_value=3),
)
def test_any_date_spelling_reads_the_known_panel_or_exits_2(
    tmp_path: Path, spelling: str, freq: str, start: dt.date, n_periods: int, n_series: int
) -> None:
    step = {"daily": "D", "weekly": "7D", "monthly": "MS"}[freq]
    periods = pd.date_range(start, periods=n_periods, freq=step)
    texts = periods.strftime("%Y-%m-%d" if spelling == "ISO8601" else spelling)
    frame = pd.DataFrame(
        {
            "account": np.repeat([f"a{i}" for i in range(n_series)], n_periods),
            "day": np.tile(texts, n_series),
            "revenue": np.arange(n_periods * n_series, dtype=float),
        }
    )
    path = tmp_path / f"{spelling.replace('%', '').replace('/', '-')}-{freq}.csv"
    frame.to_csv(path, index=False)
    refused = ""
    try:
        panel = load(path, id="account", time="day", value="revenue")
    except InputError as error:
        refused = str(error)
    if refused:
        assert "\n" not in refused and path.name in refused
        return
    chosen = [note for note in panel.notes if "read it as" in note]
    if chosen:  # both day/month readings fit: the one on month starts was taken, and said
        spelling = chosen[0].split("(")[1].split(")")[0]
        periods = pd.DatetimeIndex(pd.to_datetime(texts, format=spelling))
        freq = "monthly"
    assert panel.freq == freq
    expected = (
        pd.Series(periods).dt.to_period("M").dt.to_timestamp() if freq == "monthly" else periods
    )
    assert (
        stamps_of(panel) == [*pd.DatetimeIndex(expected).strftime("%Y-%m-%d %H:%M:%S")] * n_series
    )
    assert panel.frame["value"].tolist() == frame["revenue"].tolist()


def test_naive_local_stamps_over_the_autumn_change_point_at_tz(tmp_path: Path) -> None:
    # Berlin clocks go back at 03:00 on 2024-10-27: 02:00-02:59 happens twice
    stamps = [*pd.date_range("2024-10-27 00:00", "2024-10-27 02:45", freq="15min")]
    stamps += [*pd.date_range("2024-10-27 02:00", "2024-10-27 04:00", freq="15min")]
    frame = pd.DataFrame({"time": [s.strftime("%Y-%m-%d %H:%M:%S") for s in stamps], "value": 1.0})
    path = write_rows(tmp_path, "berlin.csv", frame)
    with pytest.raises(DuplicateRowsError, match="--tz") as caught:
        load(path)
    assert "\n" not in str(caught.value)
    panel = load(path, tz="Europe/Berlin")
    assert len(panel.frame) == len(stamps)  # every local stamp kept, none doubled or lost


def test_daily_duplicates_do_not_mention_time_zones(tmp_path: Path) -> None:
    frame = pd.DataFrame({"time": ["2024-01-01", "2024-01-01", "2024-01-02"], "value": 1.0})
    with pytest.raises(DuplicateRowsError) as caught:
        load(write_rows(tmp_path, "days.csv", frame))
    assert "--tz" not in str(caught.value)
