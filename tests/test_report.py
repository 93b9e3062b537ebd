"""Tests of revwatch.report: the terminal table, the file writers and the charts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from rich.console import Console

import revwatch.report.chart as chart_module
from revwatch.errors import MissingColumnError, ParameterError
from revwatch.report import (
    FORMATS,
    format_period,
    plot_series,
    plot_top_series,
    render_table,
    write_results,
)
from revwatch.report.terminal import format_number, format_pct, period_resolution

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_SHAPE = (1350, 2100)  # 9 x 14 inches at 150 dpi

RESULT_COLUMNS = [
    "period",
    "value",
    "baseline",
    "pct_vs_baseline",
    "score",
    "type",
    "direction",
    "severity",
    "impact",
]


# --------------------------------------------------------------------------- fixtures


def monthly_results() -> pd.DataFrame:
    """One id column, monthly periods, NaNs, provisional and extra columns."""
    return pd.DataFrame(
        {
            "account": ["Apex Holdings", "Lighthouse Media", "Crestline | Industries"],
            "period": pd.to_datetime(["2026-04-01", "2025-10-01", "2026-01-01"]),
            "value": [8954.904, 115321.8249, 6543.81],
            "baseline": [24896.35, 45438.231, np.nan],
            "pct_vs_baseline": [-64.0312, 153.8, np.nan],
            "score": [73.091234, 31.21, 18.3449],
            "type": ["level_shift", "spike", "drop"],
            "direction": ["down", "up", "down"],
            "severity": [73.09123, 31.2149, np.nan],
            "impact": [-15941.446, 69883.59, np.nan],
            "provisional": [True, False, False],
            "detected_period": pd.to_datetime(["2026-04-01", "2025-10-01", "2026-01-01"]),
            "method": ["rolling_z", "rolling_z", "rolling_z"],
        }
    )


def daily_results() -> pd.DataFrame:
    """Two id columns, daily periods."""
    return pd.DataFrame(
        {
            "product": ["Widgets", "Gadgets"],
            "region": ["EMEA", "APAC"],
            "period": pd.to_datetime(["2025-03-05", "2025-03-17"]),
            "value": [1200.5, 0.0],
            "baseline": [1000.0, 850.25],
            "pct_vs_baseline": [20.05, -100.0],
            "score": [4.5, 9.87654],
            "type": ["spike", "drop"],
            "direction": ["up", "down"],
            "severity": [4.5, 9.87654],
            "impact": [200.5, -850.25],
        }
    )


def hourly_results() -> pd.DataFrame:
    """No id columns, hourly periods."""
    return pd.DataFrame(
        {
            "period": pd.to_datetime(["2025-06-01 13:00", "2025-06-02 07:00"]),
            "value": [10.0, 55.5],
            "baseline": [40.0, 41.0],
            "pct_vs_baseline": [-75.0, 35.37],
            "score": [6.1, 3.2],
            "type": ["drop", "spike"],
            "direction": ["down", "up"],
            "severity": [6.1, 3.2],
            "impact": [-30.0, 14.5],
        }
    )


def empty_results() -> pd.DataFrame:
    frame = monthly_results().iloc[0:0]
    return frame.reset_index(drop=True)


RESULT_CASES = [
    pytest.param(monthly_results, ["account"], id="monthly-1-id"),
    pytest.param(daily_results, ["product", "region"], id="daily-2-ids"),
    pytest.param(hourly_results, [], id="hourly-0-ids"),
]

DECIMALS = {"value": 2, "baseline": 2, "impact": 2, "pct_vs_baseline": 2, "score": 4, "severity": 4}


def make_series(
    names: list[str],
    *,
    flagged: bool = True,
    periods: int = 18,
    freq: str = "MS",
    provisional: bool = True,
) -> pd.DataFrame:
    """A series frame: one id column, a drop or spike per series, NaN bands at the start."""
    rng = np.random.default_rng(7)
    index = pd.date_range("2024-07-01", periods=periods, freq=freq)
    frames = []
    for number, name in enumerate(names):
        level = 10_000.0 * (number + 1)
        value = level * (1 + rng.normal(0, 0.03, periods))
        baseline = pd.Series(value).rolling(4).mean().shift(1).to_numpy()
        spread = pd.Series(value).rolling(4).std().shift(1).to_numpy()
        kind = np.array(["normal"] * periods, dtype=object)
        severity = np.full(periods, np.nan)
        is_provisional = np.zeros(periods, dtype=bool)
        if flagged:
            at = periods - 5 + (number % 3)
            factor = 0.4 if number % 2 == 0 else 2.2
            value[at] *= factor
            kind[at] = "drop" if factor < 1 else "spike"
            severity[at] = 10.0 + number
            if number == 0:
                value[at + 1 :] *= 0.4
                kind[at + 1 : at + 3] = "level_shift"
                severity[at + 1 : at + 3] = 20.0
            if provisional and number == 0:
                kind[-1] = "level_shift"
                severity[-1] = 5.0
                is_provisional[-1] = True
        frames.append(
            pd.DataFrame(
                {
                    "account": name,
                    "period": index,
                    "value": value,
                    "baseline": baseline,
                    "lower": baseline - 3 * spread,
                    "upper": baseline + 3 * spread,
                    "type": kind,
                    "severity": severity,
                    "provisional": is_provisional,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- format_period


@pytest.mark.parametrize(
    ("periods", "display", "iso"),
    [
        (["2026-03-01", "2026-04-01"], ["2026-03", "2026-04"], ["2026-03-01", "2026-04-01"]),
        (["2024-01-31", "2024-02-29"], ["2024-01", "2024-02"], ["2024-01-31", "2024-02-29"]),
        (["2025-03-05", "2025-03-06"], ["2025-03-05", "2025-03-06"], ["2025-03-05", "2025-03-06"]),
        (
            ["2025-06-01 13:00", "2025-06-01 14:00"],
            ["2025-06-01 13:00", "2025-06-01 14:00"],
            ["2025-06-01T13:00:00", "2025-06-01T14:00:00"],
        ),
        (["2025-03-05", None], ["2025-03-05", ""], ["2025-03-05", ""]),
    ],
    ids=["month-start", "month-end", "daily", "hourly", "with-NaT"],
)
def test_format_period_per_frequency(
    periods: list[str | None], display: list[str], iso: list[str]
) -> None:
    series = pd.Series(pd.to_datetime(periods), index=[10, 20])
    shown = format_period(series)
    assert shown.tolist() == display
    assert shown.index.tolist() == [10, 20]
    assert format_period(series, iso=True).tolist() == iso


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.period_range("2025-01", periods=2, freq="M"), ["2025-01", "2025-02"]),
        (pd.period_range("2025-01-01", periods=2, freq="D"), ["2025-01-01", "2025-01-02"]),
        (["2025-01-01", "2025-02-01"], ["2025-01", "2025-02"]),
        (pd.Series([], dtype="datetime64[ns]"), []),
    ],
    ids=["period-month", "period-day", "strings", "empty"],
)
def test_format_period_other_inputs(values: object, expected: list[str]) -> None:
    assert format_period(values).tolist() == expected  # type: ignore[arg-type]


def test_format_period_forced_resolution_and_bad_resolution() -> None:
    periods = pd.Series(pd.to_datetime(["2025-01-01"]))
    assert period_resolution(periods) == "month"
    assert format_period(periods, resolution="day").tolist() == ["2025-01-01"]
    with pytest.raises(ParameterError, match="resolution"):
        format_period(periods, resolution="week")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (1234567.891, {}, "1,234,567.89"),
        (-1234.5, {"currency": "$"}, "-$1,234.50"),
        (-0.001, {}, "0.00"),
        (np.nan, {}, "–"),
        (None, {}, "–"),
        (12.0, {"decimals": 0}, "12"),
    ],
)
def test_format_number(value: object, kwargs: dict[str, object], expected: str) -> None:
    assert format_number(value, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-64.04, "-64.0%"), (153.8, "+153.8%"), (-0.01, "0.0%"), (1234.5, "+1,234.5%")],
)
def test_format_pct(value: float, expected: str) -> None:
    assert format_pct(value) == expected


# --------------------------------------------------------------------------- writers


@pytest.mark.parametrize(("make", "ids"), RESULT_CASES)
def test_csv_round_trips(make: object, ids: list[str]) -> None:
    frame = make()  # type: ignore[operator]
    text = write_results(frame, "csv", id_columns=ids)
    assert text is not None
    back = pd.read_csv(io.StringIO(text))
    assert back.columns.tolist() == frame.columns.tolist()
    assert len(back) == len(frame)
    for name, decimals in DECIMALS.items():
        expected = frame[name].to_numpy(dtype=float)
        got = back[name].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_allclose(got, expected, atol=0.5 * 10.0**-decimals, equal_nan=True)
    assert back["period"].tolist() == format_period(frame["period"], iso=True).tolist()
    assert pd.to_datetime(back["period"]).tolist() == frame["period"].tolist()
    for name in [*ids, "type", "direction"]:
        assert back[name].tolist() == frame[name].tolist()
    if "provisional" in frame.columns:
        assert back["provisional"].dtype == bool
        assert back["provisional"].tolist() == frame["provisional"].tolist()


def test_csv_writes_nan_as_empty_and_no_scientific_notation() -> None:
    frame = monthly_results()
    frame.loc[0, "value"] = 1.5e17
    frame.loc[1, "score"] = 3e-7
    text = write_results(frame, "csv", id_columns=["account"])
    assert text is not None
    assert "e+" not in text.lower() and "e-0" not in text.lower()
    assert "150000000000000000.00" in text
    raw = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)
    assert raw.loc[2, "baseline"] == ""
    assert raw.loc[2, "severity"] == ""
    assert raw.loc[0, "value"] == "150000000000000000.00"
    assert raw.loc[0, "pct_vs_baseline"] == "-64.03"
    assert raw.loc[0, "severity"] == "73.0912"
    assert raw.loc[1, "score"] == "0.0000"
    assert raw.loc[0, "detected_period"] == "2026-04-01"
    # A field with the separator in it is quoted, not split.
    assert raw.loc[2, "account"] == "Crestline | Industries"


@pytest.mark.parametrize(("make", "ids"), RESULT_CASES)
def test_json_records_have_exact_keys(make: object, ids: list[str]) -> None:
    frame = make()  # type: ignore[operator]
    text = write_results(frame, "json", id_columns=ids)
    assert text is not None
    records = json.loads(text)
    assert isinstance(records, list)
    assert len(records) == len(frame)
    periods = format_period(frame["period"], iso=True).tolist()
    for position, record in enumerate(records):
        assert list(record) == frame.columns.tolist()
        assert record["period"] == periods[position]
        for name, decimals in DECIMALS.items():
            expected = frame[name].iloc[position]
            if pd.isna(expected):
                assert record[name] is None
            else:
                assert isinstance(record[name], float)
                assert record[name] == pytest.approx(expected, abs=0.5 * 10.0**-decimals)
        if "provisional" in frame.columns:
            assert record["provisional"] is bool(frame["provisional"].iloc[position])


def test_json_has_no_nan_or_scientific_notation() -> None:
    frame = monthly_results()
    frame.loc[0, "value"] = 1.5e17
    frame.loc[1, "score"] = 3e-7
    text = write_results(frame, "json", id_columns=["account"])
    assert text is not None
    assert "NaN" not in text
    assert "e+" not in text.lower() and "e-0" not in text.lower()
    records = json.loads(text)
    assert records[0]["value"] == 1.5e17
    assert records[1]["score"] == 0.0
    assert records[0]["severity"] == 73.0912
    assert records[0]["detected_period"] == "2026-04-01"
    assert write_results(empty_results(), "json", id_columns=["account"]) == "[]\n"


@pytest.mark.parametrize(("make", "ids"), RESULT_CASES)
def test_markdown_has_header_and_one_line_per_row(make: object, ids: list[str]) -> None:
    frame = make()  # type: ignore[operator]
    text = write_results(frame, "markdown", id_columns=ids)
    assert text is not None
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "| " + " | ".join(frame.columns) + " |"
    assert set(lines[1]) <= {"|", "-", ":"}
    assert lines[1].count("|") == len(frame.columns) + 1
    assert len(lines) == 2 + len(frame)
    for line in lines[2:]:
        assert line.startswith("| ") and line.endswith(" |")
        assert line.replace("\\|", "").count("|") == len(frame.columns) + 1


def test_markdown_formats_like_the_seed() -> None:
    text = write_results(monthly_results(), "markdown", id_columns=["account"])
    assert text is not None
    first = text.split("\n")[2]
    assert first.startswith("| Apex Holdings | 2026-04 | 8,954.90 | 24,896.35 | -64.0% |")
    assert "| 73.09 |" in first
    assert "| yes |" in first
    assert "+153.8%" in text
    assert "Crestline \\| Industries" in text
    assert "$" not in text


def test_table_format_returns_plain_text() -> None:
    text = write_results(daily_results(), "table", id_columns=["product", "region"])
    assert text is not None
    assert "Widgets" in text and "APAC" in text and "+20.1%" in text
    assert "\x1b[" not in text


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "table"])
def test_write_to_path_creates_parents(tmp_path: Path, fmt: str) -> None:
    frame = monthly_results()
    target = tmp_path / "nested" / "dir" / f"results.{fmt}"
    assert write_results(frame, fmt, id_columns=["account"], output=target) is None
    assert target.read_text(encoding="utf-8") == write_results(frame, fmt, id_columns=["account"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_results_still_serialise(fmt: str) -> None:
    text = write_results(empty_results(), fmt, id_columns=["account"])
    assert text is not None
    if fmt == "csv":
        assert pd.read_csv(io.StringIO(text)).columns.tolist() == empty_results().columns.tolist()
    if fmt == "markdown":
        assert len(text.strip().split("\n")) == 2
    if fmt == "table":
        assert "No anomalies found" in text


def test_write_results_rejects_bad_input() -> None:
    with pytest.raises(ParameterError, match="unknown output format"):
        write_results(monthly_results(), "xlsx", id_columns=["account"])
    with pytest.raises(MissingColumnError, match="'customer'"):
        write_results(monthly_results(), "csv", id_columns=["customer"])


def test_writers_do_not_modify_the_frame() -> None:
    frame = monthly_results()
    before = frame.copy()
    for fmt in FORMATS:
        write_results(frame, fmt, id_columns=["account"])
    pd.testing.assert_frame_equal(frame, before)


# --------------------------------------------------------------------------- render_table


def render(frame: pd.DataFrame, ids: list[str], **kwargs: object) -> str:
    buffer = io.StringIO()
    render_table(frame, ids, console=Console(file=buffer, width=200), **kwargs)  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "ids", "expected"),
    [
        pytest.param(
            monthly_results,
            ["account"],
            ["Apex Holdings", "2026-04", "-64.0%", "+153.8%", "8,954.90", "115,321.82", "73.09"],
            id="monthly",
        ),
        pytest.param(
            daily_results,
            ["product", "region"],
            ["Widgets", "EMEA", "2025-03-05", "+20.1%", "-100.0%", "9.88"],
            id="daily",
        ),
        pytest.param(
            hourly_results,
            [],
            ["2025-06-01 13:00", "-75.0%", "+35.4%", "6.10"],
            id="hourly",
        ),
    ],
)
def test_render_table_contents(make: object, ids: list[str], expected: list[str]) -> None:
    out = render(make(), ids)  # type: ignore[operator]
    for text in expected:
        assert text in out


def test_render_table_marks_provisional_rows_only() -> None:
    out = render(monthly_results(), ["account"])
    assert out.count("(provisional)") == 1
    apex = next(line for line in out.splitlines() if "Apex Holdings" in line)
    assert "level_shift (provisional)" in apex
    spike = next(line for line in out.splitlines() if "Lighthouse Media" in line)
    assert "(provisional)" not in spike


def test_render_table_limit_footer_title_and_currency() -> None:
    out = render(monthly_results(), ["account"], limit=2, title="Top anomalies", currency="$")
    assert "showing 2 of 3 rows" in out
    assert "Top anomalies" in out
    assert "$8,954.90" in out
    assert "Crestline" not in out
    assert "showing" not in render(monthly_results(), ["account"], limit=None)
    assert "showing" not in render(monthly_results(), ["account"], limit=3)


def test_render_table_value_label_and_markup_in_ids() -> None:
    frame = daily_results()
    frame.loc[0, "product"] = "[bold]Widgets[/bold]"
    out = render(frame, ["product", "region"], value_label="revenue")
    assert "revenue" in out
    assert "[bold]Widgets[/bold]" in out


def test_render_table_empty() -> None:
    out = render(empty_results(), ["account"])
    assert "No anomalies found" in out
    assert len(out.strip().splitlines()) == 1


def test_render_table_defaults_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    render_table(empty_results(), ["account"])
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "No anomalies found" in captured.err


def test_render_table_rejects_bad_input() -> None:
    with pytest.raises(ParameterError, match="limit"):
        render(monthly_results(), ["account"], limit=0)
    with pytest.raises(MissingColumnError, match="severity"):
        render(monthly_results().drop(columns="severity"), ["account"])


# --------------------------------------------------------------------------- charts


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert imread(path).shape[:2] == PNG_SHAPE


@pytest.mark.parametrize(
    ("count", "flagged", "panels"),
    [(1, True, 1), (3, True, 3), (5, True, 4), (3, False, 3)],
    ids=["1-series", "3-series", "5-series", "none-flagged"],
)
def test_plot_top_series_writes_png(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    count: int,
    flagged: bool,
    panels: int,
) -> None:
    names = [f"Account {chr(65 + i)}" for i in range(count)]
    series = make_series(names, flagged=flagged)
    drawn: list[str | None] = []
    real = chart_module.plot_series

    def spy(frame: pd.DataFrame, ax: object, **kwargs: object) -> object:
        drawn.append(kwargs.get("title"))  # type: ignore[arg-type]
        return real(frame, ax, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(chart_module, "plot_series", spy)
    path = plot_top_series(series, ["account"], tmp_path / "charts" / "top.png", value_label="MRR")
    assert path == tmp_path / "charts" / "top.png"
    assert_png(path)
    assert len(drawn) == panels
    if flagged:
        # Ranked by max severity: Account A has the level shift (severity 20).
        assert drawn[0] == "Account A"
    else:
        # By total value: the last account has the highest level.
        assert drawn[0] == names[-1]


def test_plot_top_series_two_ids_daily_and_no_ids_hourly(tmp_path: Path) -> None:
    daily = make_series(["Widgets", "Gadgets"], freq="D", periods=30)
    daily["region"] = "EMEA"
    assert_png(plot_top_series(daily, ["account", "region"], tmp_path / "daily.png", top=2))
    hourly = make_series(["only"], freq="h", periods=48).drop(columns="account")
    assert_png(plot_top_series(hourly, [], tmp_path / "hourly.png", style="dark"))


def test_plot_top_series_empty_frame(tmp_path: Path) -> None:
    empty = make_series(["x"]).iloc[0:0]
    assert_png(plot_top_series(empty, ["account"], tmp_path / "empty.png"))


def test_plot_top_series_rejects_bad_input(tmp_path: Path) -> None:
    series = make_series(["a"])
    with pytest.raises(ParameterError, match="top"):
        plot_top_series(series, ["account"], tmp_path / "x.png", top=0)
    with pytest.raises(ParameterError, match="style"):
        plot_top_series(series, ["account"], tmp_path / "x.png", style="neon")
    with pytest.raises(MissingColumnError, match="'region'"):
        plot_top_series(series, ["region"], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plot_series_draws_one_panel() -> None:
    series = make_series(["a"])
    ax = Figure().add_subplot()
    assert plot_series(series, ax, title="a", value_label="MRR") is ax
    assert ax.get_title(loc="left") == "a"
    assert "flagged" in ax.get_title(loc="right")
    labels = [text.get_text() for text in ax.texts]
    assert "drop" in labels
    assert "level_shift ×2" in labels
    # Only period and value are required; all-NaN baseline and band are fine.
    bare = series[["period", "value"]].copy()
    bare.loc[3, "value"] = np.nan
    plot_series(bare, Figure().add_subplot())
    nothing = series.assign(value=np.nan, baseline=np.nan)
    ax = plot_series(nothing, Figure().add_subplot(), note="empty")
    assert [text.get_text() for text in ax.texts] == ["no data"]


@pytest.mark.parametrize(
    ("count", "title"), [(1, "The flagged series"), (3, "Top 3 flagged series by severity")]
)
def test_chart_title_counts_the_flagged_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, title: str
) -> None:
    titles: list[str] = []
    real = Figure.suptitle

    def spy(fig: Figure, text: str, **kwargs: object) -> object:
        titles.append(text)
        return real(fig, text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Figure, "suptitle", spy)
    series = make_series([f"Account {chr(65 + i)}" for i in range(count)], flagged=True)
    plot_top_series(series, ["account"], tmp_path / "top.png", value_label="MRR")
    assert titles == [title]


# --------------------------------------------------------------------------- one incident chart


def _stored_incident(unit: str | None = "money:USD") -> dict[str, object]:
    return {
        "incident_id": "x",
        "metric": "mrr",
        "series_key": {"account": "Apex"},
        "type": "drop",
        "severity": 6.0,
        "impact": -6.0,
        "unit": unit,
        "start_period": pd.Timestamp("2026-03-01").to_pydatetime(),
        "end_period": pd.Timestamp("2026-03-01").to_pydatetime(),
        "context": [
            [f"2026-0{m}-01T00:00:00", 10.0 if m != 3 else 4.0, 10.0, 8.0, 12.0]
            for m in range(1, 6)
        ],
    }


def test_incident_chart_is_drawn_by_plot_series(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages, the HTML report and the alert emails draw one chart: report.chart's."""
    from revwatch.monitor.alerts import Alert, render_chart
    from revwatch.report.chart import chart_data_uri, incident_chart_png
    from revwatch.units import Unit

    titles: list[object] = []
    real = chart_module.plot_series

    def spy(frame: pd.DataFrame, ax: object, **kwargs: object) -> object:
        titles.append(kwargs.get("title"))
        return real(frame, ax, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(chart_module, "plot_series", spy)
    inc = _stored_incident()
    png = incident_chart_png(inc, unit=Unit.parse("money:USD"), size=(4, 2), dpi=40)
    assert png[:8] == PNG_SIGNATURE
    assert titles == ["mrr · account=Apex"]
    assert chart_data_uri(png).startswith("data:image/png;base64,")
    alert = Alert(incident=inc)
    assert render_chart(alert)[:8] == PNG_SIGNATURE
    assert titles[-1] == alert.summary()[:90]
    bare = {**_stored_incident(None), "context": []}
    assert incident_chart_png(bare, size=(4, 2), dpi=40)[:8] == PNG_SIGNATURE


def test_context_frame_marks_the_incident_span() -> None:
    from revwatch.report.context import context_frame

    frame = context_frame(_stored_incident())
    assert frame["type"].tolist() == ["normal", "normal", "drop", "normal", "normal"]
    assert frame["severity"].notna().tolist() == [False, False, True, False, False]
    assert context_frame({**_stored_incident(), "context": None}).empty
