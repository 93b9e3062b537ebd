"""Tests of revwatch.evaluation.labelled and ``revwatch evaluate`` on a labelled set's directory.

The expected numbers are worked out by hand from the scoring rules of the
shared labelled sets (window recall, flag precision, false flags per 1000
scored rows, median delay; per group, overall, macro).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from revwatch.cli import app
from revwatch.errors import InputError
from revwatch.evaluation.labelled import (
    count_flags,
    evaluate_labelled,
    is_labelled_set,
    read_labelled_set,
    score_labelled,
)


def _write_set(root: Path, series: dict[str, dict[str, object]]) -> Path:
    """Write a labelled set: one CSV per series (series,time,value) and truth.json."""
    root.mkdir(parents=True, exist_ok=True)
    truth: dict[str, dict[str, object]] = {}
    for name, spec in series.items():
        times = spec["times"]
        values = spec.get("values", np.arange(len(times), dtype=float) % 3 + 10.0)  # type: ignore[arg-type]
        pd.DataFrame({"series": name, "time": times, "value": values}).to_csv(
            root / f"{name}.csv", index=False
        )
        truth[name] = {
            "dataset": spec["group"],
            "file": f"{name}.csv",
            "scoring_start": spec["scoring_start"],
            "windows": spec["windows"],
            "note": "",
        }
    (root / "truth.json").write_text(json.dumps({"series": truth}))
    return root


def _tiny(root: Path) -> Path:
    daily = pd.date_range("2024-01-01", periods=20, freq="D").strftime("%Y-%m-%d").tolist()
    monthly = pd.date_range("2020-01-01", periods=10, freq="MS").strftime("%Y-%m-%d").tolist()
    control = pd.date_range("2023-01-01", periods=5, freq="D").strftime("%Y-%m-%d").tolist()
    return _write_set(
        root,
        {
            "A": {"group": "g1", "times": daily, "scoring_start": "2024-01-04",
                  "windows": [["2024-01-08", "2024-01-10"], ["2024-01-15", "2024-01-15"]]},
            "B": {"group": "g1", "times": monthly, "scoring_start": "2020-03-01",
                  "windows": [["2020-06-01", "2020-07-01"]]},
            "C": {"group": "control", "times": control, "scoring_start": "2023-01-02",
                  "windows": []},
        },
    )  # fmt: skip


TINY_FLAGS = pd.DataFrame(
    [
        ("A", "2024-01-02"),  # warm-up: not scored
        ("A", "2024-01-09"),  # window 1, one row after its start
        ("A", "2024-01-09 00:00:00"),  # the same row again: counts once
        ("A", "2024-01-12"),  # outside: false
        ("A", "2024-01-15 12:00"),  # half a step from two rows: the earlier, window 2
        ("A", "2024-03-01"),  # no row within half a step: unmatched
        ("A", "not a date"),  # unmatched
        ("B", "2020-04-01"),  # false
        ("B", "2020-04-03"),  # the same row (within half a month)
        ("C", "2023-01-04"),  # a control series: false
        ("Z", "2024-01-09"),  # no such series
    ],
    columns=["series", "period"],
)

# By hand. A: windows 2, both detected (delays 1 and 0), 3 scored flags (rows 8, 11, 14),
# 2 inside, 17 scored rows, 2 unmatched. B: 1 window, missed, 1 flag, 8 scored rows.
# C: no window, 1 flag, 4 scored rows.
EXPECTED = {
    # dataset: windows, detected, recall, flags, true, precision, f1, false/1000, delay, points
    "g1": (3, 2, 2 / 3, 4, 2, 0.5, 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3), 1000 * 2 / 25, 0.5, 25),
    "control": (0, 0, None, 1, 0, 0.0, None, 1000 / 4, None, 4),
    "overall": (3, 2, 2 / 3, 5, 2, 0.4, 0.5, 1000 * 3 / 29, 0.5, 29),
}
COLUMNS = ("windows", "detected", "recall", "flags", "true_flags", "precision", "f1",
           "false_per_1000", "delay", "points")  # fmt: skip


def _same(got: object, want: object) -> bool:
    if want is None:
        return got is pd.NA or (isinstance(got, float) and math.isnan(got))
    return math.isclose(float(got), float(want), rel_tol=1e-12)  # type: ignore[arg-type]


def test_score_by_hand(tmp_path: Path) -> None:
    root = _tiny(tmp_path / "set")
    assert is_labelled_set(root) and not is_labelled_set(tmp_path)
    score = score_labelled(root, TINY_FLAGS, method="hand")
    table = score.table.set_index("dataset")
    assert list(table.index) == ["g1", "control", "overall", "macro"]
    for dataset, expected in EXPECTED.items():
        for column, want in zip(COLUMNS, expected, strict=True):
            assert _same(table.loc[dataset, column], want), (dataset, column)
    # macro: the mean over groups with windows (only g1 here)
    for column in ("recall", "precision", "f1"):
        assert _same(table.loc["macro", column], table.loc["g1", column])
    assert table.loc["macro", ["windows", "flags", "false_per_1000"]].isna().all()
    assert score.unknown_series == ["Z"]
    per = score.per_series.set_index("series_name")
    assert per.loc["A", "unmatched"] == 2 and per.loc["A", "delays"] == [1, 0]
    assert (score.table["method"] == "hand").all()


@pytest.mark.parametrize(
    ("flags", "flagged", "detected", "delays"),
    [
        ([], 0, 0, []),
        (["2024-01-08"], 1, 1, [0]),  # the window's first row
        (["2024-01-10"], 1, 1, [2]),  # its last row (inclusive)
        (["2024-01-11"], 1, 0, []),  # the row after
        (["2024-01-10", "2024-01-08"], 2, 1, [0]),  # the delay is the first flag's
        (["2024-01-03"], 0, 0, []),  # before scoring_start
        (["2024-01-04"], 1, 0, []),  # the first scored row
        (["2024-01-08 11:59"], 1, 1, [0]),  # nearest row, within half a day
    ],
)
def test_count_flags_rules(
    flags: list[str], flagged: int, detected: int, delays: list[int]
) -> None:
    t = pd.date_range("2024-01-01", periods=12, freq="D").to_numpy()
    windows = [(pd.Timestamp("2024-01-08"), pd.Timestamp("2024-01-10"))]
    out = count_flags(t, pd.Timestamp("2024-01-04"), windows,
                      pd.to_datetime(pd.Series(flags, dtype=str)).to_numpy())  # fmt: skip
    assert (out["flags"], out["detected"], out["delays"]) == (flagged, detected, delays)
    assert out["points"] == 9 and out["windows"] == 1


def test_cli_flags_markdown(tmp_path: Path) -> None:
    root = _tiny(tmp_path / "set")
    half = len(TINY_FLAGS) // 2
    TINY_FLAGS.iloc[:half].to_csv(tmp_path / "a.csv", index=False)
    TINY_FLAGS.iloc[half:].rename(columns={"period": "time"}).to_csv(
        tmp_path / "b.csv", index=False
    )
    (tmp_path / "empty.csv").write_text("")
    result = CliRunner().invoke(
        app,
        ["evaluate", str(root), "--flags", str(tmp_path / "a.csv"), "--flags",
         str(tmp_path / "b.csv"), "--flags", str(tmp_path / "empty.csv"), "-f", "markdown"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "| method | dataset | windows | detected | recall | flags | precision | F1 | "
        "false/1000 | median delay |",
        "|---|---|---|---|---|---|---|---|---|---|",
        "| flags | g1 | 3 | 2 | 0.67 | 4 | 0.50 | 0.57 | 80.0 | 0.5 |",
        "| flags | control | 0 | 0 | - | 1 | 0.00 | - | 250.0 | - |",
        "| flags | overall | 3 | 2 | 0.67 | 5 | 0.40 | 0.50 | 103.4 | 0.5 |",
        "| flags | macro | - | - | 0.67 | - | 0.50 | 0.57 | - | - |",
    ]
    assert "2 flags match no row" in result.stderr and "['Z']" in result.stderr


def test_methods_run_like_detect(tmp_path: Path) -> None:
    """evaluate --methods scores exactly the flags `revwatch detect --format csv` writes."""
    rng = np.random.default_rng(1)
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    values = 100 + rng.normal(0, 2, 120)
    values[80] = 160.0
    values[100:103] = 40.0
    root = _write_set(
        tmp_path / "set",
        {
            "up": {"group": "g", "times": days.strftime("%Y-%m-%d").tolist(), "values": values,
                   "scoring_start": "2024-01-31", "windows": [["2024-03-20", "2024-03-22"]]},
            "down": {"group": "g", "times": days.strftime("%Y-%m-%d").tolist(),
                     "values": values[::-1].copy(), "scoring_start": "2024-01-31",
                     "windows": [["2024-01-18", "2024-01-22"]]},
            "bad": {"group": "h", "times": ["2024-01-01", "2024-01-01 00:07", "2024-01-05"],
                    "scoring_start": "2024-01-01", "windows": [["2024-01-05", "2024-01-05"]]},
        },
    )  # fmt: skip
    runner = CliRunner()
    files = []
    for name in ("up", "down"):
        out = tmp_path / f"{name}_flags.csv"
        args = ["detect", str(root / f"{name}.csv"), "--id", "series", "--time", "time",
                "--value", "value", "--method", "rolling-zscore", "--format", "csv"]  # fmt: skip
        result = runner.invoke(app, [*args, "--output", str(out)])
        assert result.exit_code == 0, result.output
        files.append(out)
    by_flags = evaluate_labelled(root, flags=files).table
    by_method = evaluate_labelled(root, "rolling-zscore")
    assert "bad" in by_method.failed  # refused input: no flags, listed
    cols = ["dataset", "windows", "detected", "flags", "true_flags", "recall", "precision"]
    pd.testing.assert_frame_equal(by_flags[cols], by_method.table[cols])
    overall = by_method.table.set_index("dataset").loc["overall"]
    assert overall["flags"] >= 2 and overall["detected"] >= 1  # the spike is found
    assert by_method.table.set_index("dataset").loc["h", "failed"] == 1


@pytest.mark.parametrize(
    ("break_it", "args", "message"),
    [
        (lambda r: (r / "truth.json").write_text("{"), [], "cannot be read as JSON"),
        (lambda r: (r / "A.csv").unlink(), [], "does not exist"),
        (lambda r: (r / "truth.json").write_text('{"series": {"A": {"file": "A.csv"}}}'), [],
         "has no 'dataset'"),
        (lambda r: None, ["--labels", "x.csv"], "is a labelled set"),
        (lambda r: None, ["--flags", "missing.csv"], "flags file missing.csv does not exist"),
        (lambda r: None, ["--methods", "nope"], "unknown method 'nope'"),
    ],
)  # fmt: skip
def test_cli_labelled_errors(tmp_path: Path, break_it, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    root = _tiny(tmp_path / "set")
    break_it(root)
    result = CliRunner().invoke(app, ["evaluate", str(root), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_flags_need_a_labelled_set(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    pd.DataFrame({"id": "a", "period": ["2024-01-01"], "value": [1.0]}).to_csv(data, index=False)
    result = CliRunner().invoke(app, ["evaluate", str(data), "--flags", str(data)])
    assert result.exit_code == 2 and "--flags needs a labelled set" in result.stderr
    result = CliRunner().invoke(app, ["evaluate", str(data)])
    assert result.exit_code == 2 and "pass --labels" in result.stderr


def test_read_labelled_set_times_go_backwards(tmp_path: Path) -> None:
    spec = {"group": "g", "times": ["2024-01-02", "2024-01-01"], "scoring_start": "2024-01-01",
            "windows": []}  # fmt: skip
    root = _write_set(tmp_path / "s", {"A": spec})
    with pytest.raises(InputError, match="line 3: times go backwards"):
        read_labelled_set(root).series["A"].times()
