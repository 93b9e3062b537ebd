"""End-to-end tests of the command line on generated data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from revwatch.cli import app

runner = CliRunner()

COLUMNS = [
    "account", "period", "value", "baseline", "pct_vs_baseline", "score",
    "type", "direction", "severity", "impact",
]  # fmt: skip


@pytest.fixture(scope="module")
def mrr_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "mrr.csv"
    result = runner.invoke(app, ["generate", "saas-mrr", "--output", str(path), "--seed", "42"])
    assert result.exit_code == 0, result.output
    return path


def test_generate_writes_data_and_labels(mrr_csv: Path) -> None:
    frame = pd.read_csv(mrr_csv)
    labels = pd.read_csv(mrr_csv.with_name("mrr_labels.csv"))
    assert len(frame) == 720
    assert {"Apex Holdings", "Sterling Capital"} <= set(labels["account"])


def test_detect_csv_to_stdout_has_exact_columns(mrr_csv: Path) -> None:
    result = runner.invoke(app, ["detect", str(mrr_csv), "--format", "csv", "--quiet"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split(",") == COLUMNS
    assert any(line.startswith("Apex Holdings,2026-02-01,") for line in lines)


def test_detect_json_and_inference_note(mrr_csv: Path) -> None:
    result = runner.invoke(app, ["detect", str(mrr_csv), "--format", "json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert list(records[0]) == COLUMNS
    assert {r["account"] for r in records} >= {"Apex Holdings", "Lighthouse Media"}
    assert "inferred" in result.stderr


def test_detect_all_rows_markdown_to_file(mrr_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.md"
    result = runner.invoke(
        app,
        ["detect", str(mrr_csv), "--id", "account", "--time", "month", "--value", "revenue",
         "--all", "--format", "markdown", "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.count("\n") >= 720  # header + separator + one line per row
    assert "| normal |" in text or "normal" in text


def test_detect_table_goes_to_stderr_and_chart_is_written(mrr_csv: Path, tmp_path: Path) -> None:
    chart = tmp_path / "top.png"
    result = runner.invoke(app, ["detect", str(mrr_csv), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "Lighthouse Media" in result.stderr
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seed_method_and_params(mrr_csv: Path) -> None:
    result = runner.invoke(
        app,
        ["detect", str(mrr_csv), "-m", "seed-rolling", "-p", "threshold=3.5", "-f", "csv", "-q"],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(pd.io.common.StringIO(result.stdout))
    points = frame[frame["type"].isin(["spike", "drop"])]
    assert (points["score"] >= 3.5).all()


def test_demo_writes_its_three_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--output-dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    for name in ("saas_mrr.csv", "anomalies.csv", "top_accounts.png"):
        assert (tmp_path / "d" / name).stat().st_size > 0
    anomalies = pd.read_csv(tmp_path / "d" / "anomalies.csv")
    assert list(anomalies.columns) == COLUMNS
    assert "Apex Holdings" in result.stderr


@pytest.mark.parametrize("param", ["threshold=6", "robust__threshold=6"])
def test_auto_takes_robust_params_flat_or_nested(mrr_csv: Path, param: str) -> None:
    base = ["detect", str(mrr_csv), "--format", "csv", "--quiet", "--all"]
    loose = runner.invoke(app, base)
    strict = runner.invoke(app, [*base, "-p", param, "-p", "cusum_limit=10"])
    assert loose.exit_code == 0 and strict.exit_code == 0, strict.output
    assert strict.stdout != loose.stdout
    same = runner.invoke(app, [*base, "-p", "robust__threshold=6", "-p", "robust__cusum_limit=10"])
    assert same.stdout == strict.stdout


def test_methods_lists_auto_and_seed() -> None:
    result = runner.invoke(app, ["methods"])
    assert result.exit_code == 0
    assert "auto" in result.stdout
    assert "seed-rolling" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["detect", "does-not-exist.csv"], "does-not-exist.csv"),
        (["detect", "{csv}", "--method", "nope"], "unknown method 'nope'"),
        (["detect", "{csv}", "-p", "threshold"], "NAME=VALUE"),
        (["detect", "{csv}", "-p", "bogus=1"], "no parameter 'bogus'"),
        (["detect", "{csv}", "-p", "confirm=abc"], "confirm must be a number"),
        (["detect", "{csv}", "--format", "xml"], "--format"),
        (["detect", "{csv}", "--value", "missing_col"], "missing_col"),
        (["detect", "{csv}", "--output", "x.csv"], "--output needs"),
        (["generate", "nope", "--output", "x.csv"], "nope"),
    ],
)
def test_user_errors_are_one_line_exit_2(
    args: list[str], needle: str, mrr_csv: Path, tmp_path: Path
) -> None:
    args = [a.replace("{csv}", str(mrr_csv)) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output


def test_console_script_runs_as_a_real_process(mrr_csv: Path) -> None:
    exe = Path(sys.executable).with_name("revwatch")
    proc = subprocess.run(
        [str(exe), "detect", str(mrr_csv), "--format", "csv", "-q"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split(",") == COLUMNS
    bad = subprocess.run(
        [str(exe), "detect", str(mrr_csv.with_name("missing.csv"))],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "missing.csv" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip()


def test_incidents_with_a_chart_shade_the_incident_spans(mrr_csv: Path, tmp_path: Path) -> None:
    chart = tmp_path / "incidents.png"
    result = runner.invoke(
        app, ["detect", str(mrr_csv), "--incidents", "--chart", str(chart), "-f", "json", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    incidents = json.loads(result.stdout)
    assert any(i["series"] == "account=Apex Holdings" for i in incidents)


def test_legend_has_an_incident_entry_only_when_spans_are_drawn() -> None:
    from revwatch.report.chart import legend_handles

    assert "incident" in [h.get_label() for h in legend_handles(["drop"], spans=True)]
    assert "incident" not in [h.get_label() for h in legend_handles(["drop"])]


def _entry_point(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``revwatch.cli.main`` in a real process after ``code``."""
    argv = f"sys.argv = ['revwatch', *{args!r}]"
    script = "\n".join(["import sys", code, "from revwatch.cli import main", argv, "main()"])
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )


def test_entry_point_runs_atexit_handlers_and_flushes(mrr_csv: Path, tmp_path: Path) -> None:
    """``main`` ends with os._exit (no interpreter teardown) after atexit and a flush."""
    done = _entry_point(
        "import atexit\natexit.register(lambda: print('bye', file=sys.stderr))",
        "detect", str(mrr_csv), "--format", "csv", "-q",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("bye")
    out = tmp_path / "out.csv"
    to_file = _entry_point("", "detect", str(mrr_csv), "--format", "csv", "-q", "-o", str(out))
    assert to_file.returncode == 0, to_file.stderr
    assert done.stdout == out.read_text()  # the piped stdout is complete
    bad = _entry_point("", "detect", str(mrr_csv.with_name("missing.csv")))
    assert bad.returncode == 2 and "missing.csv" in bad.stderr


def test_entry_point_waits_for_a_running_thread(tmp_path: Path) -> None:
    """With another non-daemon thread alive, ``main`` exits the normal way, which waits."""
    marker = tmp_path / "written"
    started = (
        "import threading, time, pathlib\n"
        "def late():\n    time.sleep(0.5)\n"
        f"    pathlib.Path({str(marker)!r}).write_text('done')\n"
        "threading.Thread(target=late).start()"
    )
    done = _entry_point(started, "--version")
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "done"
