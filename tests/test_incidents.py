"""Incidents: grouping, ids, merges, impact, tiers, FDR, calendar and the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

from revwatch.cli import app
from revwatch.errors import InputError, MissingColumnError, ParameterError
from revwatch.incidents.annotations import annotate_windows, load_events
from revwatch.incidents.build import (
    IncidentSettings,
    analyze_incidents,
    benjamini_hochberg,
    build_incidents,
    confidence,
    expected_false_alarms_per_week,
    tiers,
)
from revwatch.incidents.impact import ImpactSettings, band_sigma, window_impact
from revwatch.pipeline import analyze

NO_FDR = IncidentSettings(fdr=None)
DAY0 = pd.Timestamp("2025-01-01")


def _noise_frame(
    n_series: int, n_periods: int, *, seed: int = 0, sd: float = 0.02
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = 1000.0 * (1.0 + sd * rng.standard_normal((n_series, n_periods)))
    return _frame(values), values


def _frame(values: np.ndarray) -> pd.DataFrame:
    n_series, n_periods = values.shape
    return pd.DataFrame(
        {
            "acct": np.repeat([f"a{i:04d}" for i in range(n_series)], n_periods),
            "day": np.tile(pd.date_range(DAY0, periods=n_periods, freq="D"), n_series),
            "rev": values.ravel(),
        }
    )


# --------------------------------------------------------------------- grouping


@pytest.mark.parametrize(
    ("flagged", "gap", "expected"),
    [
        ([10, 11, 12], 0, [(10, 3)]),
        ([10, 12], 0, [(10, 1), (12, 1)]),
        ([10, 12], 1, [(10, 3)]),
        ([10, 14], 2, [(10, 1), (14, 1)]),
        ([10, 13, 14], 2, [(10, 5)]),
    ],
)
def test_point_flags_group_with_gap(
    flagged: list[int], gap: int, expected: list[tuple[int, int]]
) -> None:
    values = np.full((1, 30), 100.0)
    values[0, flagged] = 500.0
    detection = analyze(_frame(values), id="acct", time="day", value="rev", method="threshold",
                        upper=200.0)  # fmt: skip
    frame = build_incidents(detection, gap=gap, settings=NO_FDR).frame.sort_values("start")
    got = [((s - DAY0).days, int(p)) for s, p in zip(frame["start"], frame["periods"], strict=True)]
    assert got == expected


def test_event_method_makes_one_incident_per_event() -> None:
    _, values = _noise_frame(1, 60, seed=3)
    values[0, 40:42] *= 0.5
    detection = analyze(_frame(values), id="acct", time="day", value="rev")
    frame = build_incidents(detection, settings=NO_FDR).frame
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["start"], row["periods"], row["type"], row["direction"]) == (
        DAY0 + pd.Timedelta(days=40),
        2,
        "drop",
        "down",
    )
    assert row["status"] == "closed"
    assert row["impact"] == pytest.approx((values[0, 40:42] - 1000.0).sum(), rel=0.1)


def _staged(seed: int, steps: dict[int, float]) -> np.ndarray:
    """A daily series at 1000 with 2 % noise, multiplied by ``factor`` from each day on."""
    _, values = _noise_frame(1, 112, seed=seed)
    for day, factor in sorted(steps.items()):
        values[0, day:] *= factor
    return values


@pytest.mark.parametrize(
    ("case", "steps", "cascade", "expected"),
    [
        # a staged fall (lockdown stages): each step is confirmed, the series never comes back
        ("staged", {60: 0.6, 76: 0.65, 92: 0.7}, None, [(60, "down")]),
        (
            "staged, cascade off",
            {60: 0.6, 76: 0.65, 92: 0.7},
            0,
            [(60, "down"), (76, "down"), (92, "down")],
        ),
        # a drop that recovered, then a new drop: two incidents
        ("recovered", {60: 0.5, 63: 2.0, 70: 0.5, 73: 2.0}, None, [(60, "down"), (70, "down")]),
        # down then up: two incidents
        ("opposite", {60: 0.5, 63: 2.0, 68: 1.5, 71: 1 / 1.5}, None, [(60, "down"), (68, "up")]),
        # the next step down comes after the new level filled the baseline window (28 days)
        ("late", {30: 0.6, 85: 0.6}, None, [(30, "down"), (85, "down")]),
    ],
)
def test_a_move_that_never_came_back_is_one_incident_however_many_steps(
    case: str, steps: dict[int, float], cascade: int | None, expected: list[tuple[int, str]]
) -> None:
    values = _staged(11, steps)
    detection = analyze(_frame(values), id="acct", time="day", value="rev")
    settings = IncidentSettings(fdr=None, cascade=cascade)
    frame = build_incidents(detection, settings=settings).frame.sort_values("start")
    got = [((s - DAY0).days, d) for s, d in zip(frame["start"], frame["direction"], strict=True)]
    assert len(got) == len(expected), (case, got)
    for (day, direction), (want_day, want_direction) in zip(got, expected, strict=True):
        # an onset may be judged a day late, when the first day is within the noise
        assert want_day <= day <= want_day + 1 and direction == want_direction, (case, got)


@pytest.mark.parametrize("cascade", [None, 0])
def test_the_cells_of_a_staged_incident_are_one_stretch_as_it_was_grouped(
    cascade: int | None,
) -> None:
    values = _staged(11, {60: 0.6, 76: 0.65, 92: 0.7})
    detection = analyze(_frame(values), id="acct", time="day", value="rev")
    found = build_incidents(detection, settings=IncidentSettings(fdr=None, cascade=cascade))
    cells = found.cells()[0]
    first, last = np.flatnonzero(cells)[[0, -1]]
    stretches = int(np.count_nonzero(np.diff(cells[first : last + 1].astype(int)) == 1)) + 1
    assert stretches == len(found.frame)  # one shaded stretch per incident
    assert first in (60, 61)


def test_cascade_must_not_be_negative() -> None:
    with pytest.raises(ParameterError, match="cascade must be >= 0"):
        IncidentSettings(cascade=-1)


def test_ids_are_stable_on_rerun_and_on_extended_data() -> None:
    _, values = _noise_frame(3, 90, seed=5)
    values[1, 50] *= 0.5
    values[2, 30:32] *= 1.6
    short = build_incidents(analyze(_frame(values[:, :70]), id="acct", time="day", value="rev"))
    again = build_incidents(analyze(_frame(values[:, :70]), id="acct", time="day", value="rev"))
    longer = build_incidents(analyze(_frame(values), id="acct", time="day", value="rev"))
    ids = set(short.frame["incident_id"])
    assert len(ids) >= 2
    assert ids == set(again.frame["incident_id"])
    assert ids <= set(longer.frame["incident_id"])


def test_open_incident_on_the_last_period_keeps_its_id_when_it_closes() -> None:
    _, values = _noise_frame(1, 60, seed=7)
    values[0, 58:] *= 0.5
    open_ = build_incidents(analyze(_frame(values[:, :59]), id="acct", time="day", value="rev"))
    closed = build_incidents(analyze(_frame(values), id="acct", time="day", value="rev"))
    assert open_.frame["status"].tolist() == ["open"]
    assert pd.isna(open_.frame["end"].iloc[0])
    assert open_.frame["incident_id"].iloc[0] in set(closed.frame["incident_id"])


def test_related_metrics_of_one_series_merge_and_give_the_signature() -> None:
    rng = np.random.default_rng(11)
    count = 100.0 * (1 + 0.02 * rng.standard_normal(60))
    aov = 50.0 * (1 + 0.01 * rng.standard_normal(60))
    count[45] *= 0.6  # payments fail: fewer transactions, same order value
    frame = pd.DataFrame(
        {
            "day": pd.date_range(DAY0, periods=60, freq="D"),
            "revenue": count * aov,
            "transaction_count": count,
        }
    )
    found = analyze_incidents(
        frame, time="day", value="revenue", metrics=["transaction_count"], settings=NO_FDR
    ).frame
    assert len(found) == 1
    row = found.iloc[0]
    assert row["metrics"] == ["revenue", "transaction_count"]
    assert row["metric"] == "revenue"
    assert row["signature"] == "payment_processing"
    assert len(row["flags"]) == 2


def _segments(drop: float, hit: tuple[str, str] = ("a", "x")) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    days = pd.date_range(DAY0, periods=70, freq="D")
    shares = {("a", "x"): 0.45, ("a", "y"): 0.15, ("b", "x"): 0.3, ("b", "y"): 0.1}
    rows = []
    for (method, country), share in shares.items():
        v = 10_000.0 * share * (1 + 0.01 * rng.standard_normal(len(days)))
        if (method, country) == hit:
            v[60:62] *= drop
        rows.append(pd.DataFrame({"method": method, "country": country, "day": days, "rev": v}))
    return pd.concat(rows, ignore_index=True)


def test_total_and_its_segments_merge_into_one_incident_naming_the_segment() -> None:
    found = analyze_incidents(
        _segments(0.3), id=["method", "country"], time="day", value="rev",
        dimensions=["method", "country"], settings=NO_FDR,
    ).frame  # fmt: skip
    hit = found[found["start"] == DAY0 + pd.Timedelta(days=60)]
    assert len(hit) == 1
    row = hit.iloc[0]
    assert row["series"] == "total"
    assert row["segments"] == ["method=a, country=x"]
    assert row["root_cause"][0].startswith("method=a & country=x")
    assert "concentrated" in row["root_cause"][1]
    # the loss is the segment's: 70 % of 4,500 for two days
    assert row["impact"] == pytest.approx(-0.7 * 4500 * 2, rel=0.1)
    assert row["pct_of_portfolio"] == pytest.approx(row["impact"] / 20_000 * 100, rel=0.1)


def test_segments_without_their_total_stay_separate() -> None:
    found = analyze_incidents(
        _segments(0.7, hit=("b", "y")), id=["method", "country"], time="day", value="rev",
        dimensions=["method", "country"], settings=NO_FDR, min_change=0.2,
    ).frame  # fmt: skip
    # a 30 % dip of a 10 % segment moves the total by 3 %, below min_change (20 %)
    hit = found[found["start"] == DAY0 + pd.Timedelta(days=60)]
    assert hit["series"].tolist() == ["method=b, country=y"]
    assert hit["segments"].tolist() == [[]]


@pytest.fixture(scope="module")
def revenue_segments() -> pd.DataFrame:
    from revwatch.datasets import generate

    frame = generate("daily-revenue", segments=True, seed=42).frame
    found = analyze_incidents(
        frame, id=["payment_method", "country"], time="date", value="revenue",
        metrics=["transaction_count", "avg_order_value", "payment_success_rate", "refund_rate"],
        dimensions=["payment_method", "country"], method="auto",
    ).frame  # fmt: skip
    return found


def test_concentrated_segment_outage_is_one_incident_on_the_total(
    revenue_segments: pd.DataFrame,
) -> None:
    # daily-revenue's card/DE outage (2025-09-03..04): -80 % of that segment,
    # ~10 % of the total, which no detector flags on the total itself
    found = revenue_segments
    card_de = "payment_method=card, country=DE"
    start = pd.Timestamp("2025-09-03")
    window = found[(found["start"] >= start) & (found["start"] <= start + pd.Timedelta(days=1))]
    touching = window[
        (window["series"] == card_de) | window["segments"].map(lambda v: card_de in v)
    ]
    assert len(touching) == 1
    row = touching.iloc[0]
    assert (row["series"], row["metric"], row["start"]) == ("total", "revenue", start)
    assert row["periods"] == 2
    assert (row["type"], row["direction"]) == ("drop", "down")
    assert card_de in row["segments"]
    assert row["root_cause"][0].startswith("payment_method=card & country=DE: -")
    assert "% of the impact" in row["root_cause"][0]
    assert row["root_cause"][1].startswith("concentrated")
    # the segment's transaction count dip is part of it (payment failure signature)
    assert "transaction_count" in row["metrics"]
    assert any(f.startswith(card_de + ": transaction_count 2025-09-03") for f in row["flags"])
    assert row["signature"] == "payment_processing"
    # impact on the total (its value minus its baseline over the window)
    assert row["impact"] < 0
    assert -20.0 < row["pct_of_series"] < -5.0
    assert row["pct_of_portfolio"] == pytest.approx(row["pct_of_series"])
    # id: the store's scheme on the earliest episode (the segment's revenue on
    # 2025-09-03), as before promotion: sha256 of [metric, key JSON, start]
    key = json.dumps({"country": "DE", "payment_method": "card"})
    text = json.dumps(["revenue", key, "2025-09-03T00:00:00"])
    assert row["incident_id"] == hashlib.sha256(text.encode()).hexdigest()[:16]
    # the primary series is the total (no key columns left)
    assert row["series_key"] == {} and row["level"] == "total"


def _tiny_segment_drop() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    days = pd.date_range(DAY0, periods=70, freq="D")
    shares = {("a", "x"): 0.5, ("a", "y"): 0.29, ("b", "x"): 0.2, ("b", "y"): 0.01}
    rows = []
    for (method, country), share in shares.items():
        v = 10_000.0 * share * (1 + 0.01 * rng.standard_normal(len(days)))
        if (method, country) == ("b", "y"):
            v[60:62] *= 0.3  # -70 % of a 1 % segment: 0.7 % of the total
        rows.append(pd.DataFrame({"method": method, "country": country, "day": days, "rev": v}))
    return pd.concat(rows, ignore_index=True)


def test_tiny_segment_with_negligible_share_stays_a_segment_incident() -> None:
    frame = _tiny_segment_drop()
    kwargs = {"id": ["method", "country"], "time": "day", "value": "rev",
              "dimensions": ["method", "country"]}  # fmt: skip
    found = analyze_incidents(frame, settings=NO_FDR, **kwargs).frame
    hit = found[found["start"] == DAY0 + pd.Timedelta(days=60)]
    assert hit["series"].tolist() == ["method=b, country=y"]
    assert hit["segments"].tolist() == [[]]
    assert hit["root_cause"].tolist() == [[]]
    # the same cluster is promoted once the share setting is below its 0.7 %
    low = IncidentSettings(fdr=None, rollup_min_share=0.005)
    promoted = analyze_incidents(frame, settings=low, **kwargs).frame
    hit2 = promoted[promoted["start"] == DAY0 + pd.Timedelta(days=60)]
    assert hit2["series"].tolist() == ["total"]
    assert hit2["segments"].tolist() == [["method=b, country=y"]]
    assert hit2["root_cause"].iloc[0][0].startswith("method=b & country=y")
    assert hit2["incident_id"].tolist() == hit["incident_id"].tolist()


def test_rollup_min_share_is_validated() -> None:
    with pytest.raises(ParameterError, match="rollup_min_share"):
        IncidentSettings(rollup_min_share=-0.1)


def test_unknown_dimension_is_a_one_line_error() -> None:
    with pytest.raises(MissingColumnError, match="--dimensions 'region'"):
        analyze_incidents(_segments(0.3), id=["method", "country"], time="day", value="rev",
                          dimensions=["region"])  # fmt: skip


# ----------------------------------------------------------------------- impact


def test_impact_arithmetic_and_interval() -> None:
    out = window_impact(
        actual=np.array([80.0, 90.0, 100.0, np.nan]),
        baseline=np.array([100.0, 100.0, 50.0, 50.0]),
        sigma=np.array([3.0, 4.0, 2.0, 2.0]),
        group=np.array([0, 0, 1, 1]),
        n_groups=2,
        settings=ImpactSettings(level=0.9, rho=0.5),
    )
    assert out["impact"].tolist() == [-30.0, 50.0]
    assert out["periods"].tolist() == [2, 1]
    sd0 = np.sqrt(0.5 * (9 + 16) + 0.5 * 49)
    assert out["impact_sd"][0] == pytest.approx(sd0)
    assert out["impact_low"][0] == pytest.approx(-30 - 1.6448536 * sd0)
    assert out["impact_high"][1] == pytest.approx(50 + 1.6448536 * 2.0)
    assert band_sigma(np.array([70.0]), np.array([130.0]), 3.0).tolist() == [10.0]


def test_impact_interval_covers_the_planted_loss() -> None:
    rng = np.random.default_rng(1)
    n, onset = 300, 40
    clean = 1000.0 * (1 + 0.03 * rng.standard_normal((n, 60)))
    planted = clean.copy()
    length = rng.integers(1, 3, n)
    factor = rng.uniform(0.5, 0.75, n)
    window = (np.arange(60)[None, :] >= onset) & (np.arange(60)[None, :] < onset + length[:, None])
    planted = np.where(window, planted * factor[:, None], planted)
    truth = (planted - clean).sum(axis=1)
    frame = build_incidents(
        analyze(_frame(planted), id="acct", time="day", value="rev"), settings=NO_FDR
    ).frame
    frame = frame[frame["start"] == DAY0 + pd.Timedelta(days=onset)]
    assert len(frame) >= 0.9 * n
    which = frame["series"].str.replace("acct=a", "").astype(int).to_numpy()
    inside = (truth[which] >= frame["impact_low"]) & (truth[which] <= frame["impact_high"])
    assert inside.mean() >= 0.9


# ------------------------------------------------------------------------ tiers


@pytest.mark.parametrize(
    ("conf", "share", "periods", "tier"),
    [
        (0.9, 0.0, 3, "warning"),
        (0.9001, 0.0, 3, "critical"),
        (0.7, 0.0, 3, "warning"),
        (0.6999, 0.0, 3, "info"),
        (0.5, 0.0, 3, "info"),
        (0.4999, 0.0, 3, "none"),
        (0.5, 0.10, 3, "warning"),
        (0.5, 0.1001, 3, "critical"),
        (0.5, 0.03, 3, "warning"),
        (0.5, 0.0299, 3, "info"),
        (0.95, 0.2, 1, "info"),  # min_duration=2 caps a one-period incident
    ],
)
def test_tier_boundaries(conf: float, share: float, periods: int, tier: str) -> None:
    cfg = IncidentSettings(min_duration=2)
    got = tiers(np.array([conf]), np.array([share]), np.array([periods]), cfg)
    assert got.tolist() == [tier]


def test_fdr_failure_suppresses() -> None:
    got = tiers(np.array([0.99]), np.array([0.5]), np.array([3]), fdr_pass=np.array([False]))
    assert got.tolist() == ["suppressed"]


def test_confidence_mapping() -> None:
    assert confidence(np.array([3.5, -3.5, 3.5 + 1.2815516]), 3.5).tolist() == pytest.approx(
        [0.5, 0.5, 0.9]
    )


# -------------------------------------------------------------------------- FDR


def test_benjamini_hochberg_on_the_papers_example() -> None:
    # Benjamini & Hochberg (1995), section 4: 15 p-values, q = 0.05 -> 4 rejections
    p = np.array([0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
                  0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000])  # fmt: skip
    assert benjamini_hochberg(p, 0.05).tolist() == [True] * 4 + [False] * 11
    columns = np.column_stack([p, np.r_[p[::-1]], np.full(15, np.nan)])
    assert benjamini_hochberg(columns, 0.05).sum(axis=0).tolist() == [4, 4, 0]


def test_false_alarms_stay_flat_from_30_to_3000_null_series() -> None:
    counts = {}
    for n in (30, 3000):
        frame, _ = _noise_frame(n, 50, seed=n)
        # a permissive threshold (2.5) so that the uncontrolled alarms are many
        detection = analyze(
            frame, id="acct", time="day", value="rev", min_change=0.0, threshold=2.5
        )
        found = build_incidents(detection, metrics=False).frame
        counts[n] = (int((found["tier"] != "suppressed").sum()), len(found))
    kept_30, _raw_30 = counts[30]
    kept_3000, raw_3000 = counts[3000]
    assert raw_3000 >= 20  # without control the alarms multiply ...
    assert kept_3000 <= 5  # ... with it they stay at a few per run
    assert kept_3000 <= kept_30 + 5


@pytest.mark.slow
def test_false_alarms_stay_flat_from_100_to_10000_null_series() -> None:
    kept = {}
    raw = {}
    for n in (100, 10_000):
        frame, _ = _noise_frame(n, 50, seed=n)
        detection = analyze(
            frame, id="acct", time="day", value="rev", min_change=0.0, threshold=2.5
        )
        found = build_incidents(detection, metrics=False).frame
        kept[n] = int((found["tier"] != "suppressed").sum())
        raw[n] = len(found)
    assert raw[10_000] >= 20 * max(raw[100], 1) / 2  # uncontrolled alarms grow with n ...
    assert kept[10_000] <= kept[100] + 5  # ... controlled ones stay flat within noise


def test_expected_false_alarms_per_week() -> None:
    p = 2 * 0.000232629  # two-sided tail of 3.5 sigma
    per_week = 365.25 / 52.1775
    assert expected_false_alarms_per_week(100, "daily", fdr=None) == pytest.approx(
        100 * p * per_week, rel=1e-3
    )
    flat = expected_false_alarms_per_week(10_000, "daily", fdr=0.05)
    assert flat == pytest.approx(0.05 * per_week)
    assert expected_false_alarms_per_week(100_000, "daily", fdr=0.05) == flat


# --------------------------------------------------------------------- calendar


def test_holiday_and_period_end_annotations() -> None:
    start = pd.Series(pd.to_datetime(["2025-07-04", "2025-06-29", "2025-05-14"]))
    end = pd.Series(pd.to_datetime(["2025-07-04", "2025-07-01", "2025-05-14"]))
    notes = annotate_windows(start, end, country="US")
    assert notes == [["holiday: Independence Day"], ["quarter-end"], []]


def test_events_file(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "start,end,label,kind\n2025-03-01,2025-03-05,spring sale,campaign\n"
        "2025-04-10,,new prices,pricing\n"
    )
    events = load_events(path)
    assert events["end"].tolist() == pd.to_datetime(["2025-03-05", "2025-04-10"]).tolist()
    start = pd.Series(pd.to_datetime(["2025-03-04", "2025-04-09"]))
    assert annotate_windows(start, start + pd.Timedelta(days=1), events=events) == [
        ["campaign: spring sale"],
        ["pricing: new prices"],
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("date,label\n2025-03-01,ok\nsoon,broken\n")
    with pytest.raises(InputError, match=r"line 3, column 'date'"):
        load_events(bad)


# -------------------------------------------------------------------------- CLI


def test_cli_detect_incidents_json(tmp_path: Path) -> None:
    data = tmp_path / "segments.csv"
    _segments(0.3).to_csv(data, index=False)
    events = tmp_path / "events.csv"
    events.write_text("date,label,kind\n2025-03-02,processor maintenance,outage\n")
    result = CliRunner().invoke(
        app,
        ["detect", str(data), "--id", "method", "--id", "country", "--time", "day",
         "--value", "rev", "--incidents", "--dimensions", "method", "--dimensions", "country",
         "--events", str(events), "--country", "US", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    top = next(r for r in records if r["start"] == "2025-03-02")
    assert top["series"] == "total"
    assert top["segments"] == ["method=a, country=x"]
    assert top["impact_low"] <= top["impact"] <= top["impact_high"]
    assert "outage: processor maintenance" in top["annotations"]
    assert top["root_cause"][0].startswith("method=a & country=x")
    impacts = [abs(r["impact"]) for r in records]
    assert impacts == sorted(impacts, reverse=True)


def test_cli_incidents_bad_events_file_exits_2(tmp_path: Path) -> None:
    data = tmp_path / "segments.csv"
    _segments(0.3).to_csv(data, index=False)
    result = CliRunner().invoke(
        app,
        ["detect", str(data), "--id", "method", "--id", "country", "--time", "day",
         "--value", "rev", "--incidents", "--events", str(tmp_path / "none.csv")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "events file not found" in result.output


@pytest.mark.parametrize(
    ("freq", "start", "expected"),
    [
        ("daily", "2025-03-31", ["quarter-end"]),
        ("daily", "2025-04-30", ["month-end"]),
        ("monthly", "2025-04-01", []),  # every month holds a month end: no note
        ("monthly", "2025-03-01", ["quarter-end"]),
        ("quarterly", "2025-01-01", []),
    ],
)
def test_period_end_notes_only_when_they_say_something(
    freq: str, start: str, expected: list[str]
) -> None:
    when = pd.Series(pd.to_datetime([start]))
    notes = annotate_windows(when, when, freq=freq)[0]
    assert [n for n in notes if n.endswith("-end")] == expected


@pytest.mark.parametrize("fmt", ["csv", "markdown", "json"])
def test_sub_daily_incidents_carry_their_time_of_day(fmt: str) -> None:
    from revwatch.incidents.build import build_incidents, format_incidents

    stamps = pd.date_range("2024-01-01", periods=10 * 288, freq="5min")
    rng = np.random.default_rng(3)
    hour = np.asarray(stamps.hour + stamps.minute / 60.0)
    y = (
        100.0
        * (0.4 + np.exp(-0.5 * ((hour - 13) / 3) ** 2))
        * np.exp(0.05 * rng.normal(size=hour.size))
    )
    y[8 * 288 + 150 : 8 * 288 + 160] *= 3.0  # 12:30 to 13:15 on day 9
    frame = pd.DataFrame({"id": "shop", "time": stamps, "value": y})
    incidents = build_incidents(analyze(frame, id="id", time="time", value="value"))
    text = format_incidents(incidents.reported(), fmt)
    assert "2024-01-09" in text
    expected = {"csv": "2024-01-09T12:30:00", "markdown": "2024-01-09 12:30", "json": "12:30"}
    assert expected[fmt] in text


@pytest.mark.parametrize(
    ("value_name", "unit", "noted"),
    [
        ("y", None, True),  # nothing says money: the guess is told
        ("revenue", None, False),
        ("mrr_usd", None, False),
        ("y", "count", False),  # the user said
    ],
)
def test_a_guessed_money_unit_is_told(value_name: str, unit: str | None, noted: bool) -> None:
    from revwatch.incidents.build import build_incidents

    rng = np.random.default_rng(1)
    values = 1_000.0 * np.exp(0.03 * rng.standard_normal(36))
    values[30] *= 2.0
    frame = pd.DataFrame(
        {"period": pd.date_range("2023-01-01", periods=36, freq="MS"), value_name: values}
    )
    incidents = build_incidents(analyze(frame, time="period", value=value_name), unit=unit)
    assert any("--unit" in note for note in incidents.notes) is noted


@settings(max_examples=60, deadline=None)
@given(
    active=hnp.arrays(np.bool_, (3, 40)),
    z=hnp.arrays(np.float64, (3, 40), elements=st.floats(-6, 6)),
    values=hnp.arrays(np.float64, (3, 40), elements=st.floats(1, 200)),
    window=st.integers(0, 12),
)
def test_the_cascade_only_joins_episodes_of_one_series(
    active: np.ndarray, z: np.ndarray, values: np.ndarray, window: int
) -> None:
    from revwatch.detectors.base import Scores
    from revwatch.incidents.build import _cascade

    scores = Scores.empty(active.shape, 3.5)
    scores.z[...] = z
    scores.baseline[...] = 100.0
    out = _cascade(active, scores, values, window)
    assert (out | active).sum() == out.sum()  # nothing active is lost
    added = out & ~active
    # what is added lies between two episodes of its row, at most `window` apart
    for row, col in zip(*np.nonzero(added), strict=True):
        before = np.flatnonzero(active[row, :col])
        after = np.flatnonzero(active[row, col + 1 :])
        assert before.size and after.size
        assert after[0] + col + 1 - before[-1] - 1 <= window
    if window == 0:
        assert (out == active).all()
