"""The quality benchmark's command (benchmarks/bench_quality.py) on a tiny labelled set."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from .test_evaluate_labelled import _tiny

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_quality.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_quality", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_write_between_markers_replaces(tmp_path: Path) -> None:
    bench = _bench()
    doc = tmp_path / "b.md"
    doc.write_text("# Title\n\ntext before\n")
    start, end = bench.markers("real")
    bench.write_between_markers(doc, "first table", "real")
    bench.write_between_markers(doc, "other part", "labelled")
    bench.write_between_markers(doc, "second table", "real")
    text = doc.read_text()
    assert text.count(start) == 1 and text.count(end) == 1
    assert "second table" in text and "first table" not in text and "other part" in text
    assert text.startswith("# Title\n\ntext before\n")
    doc.write_text(text.replace(end, end + "\nafter the block"))
    bench.write_between_markers(doc, "third", "real")
    assert ("third\n" + end + "\nafter the block") in doc.read_text()


def test_labelled_part_on_a_tiny_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench()
    root = _tiny(tmp_path / "set")
    doc = tmp_path / "bench.md"
    args = ["--parts", "labelled", "--labelled", str(root), "--labelled-methods",
            "rolling-zscore,rolling-iqr", "--write", str(doc)]  # fmt: skip
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| rolling-")]
    assert [r.split(" | ")[0] for r in rows] == ["| rolling-zscore", "| rolling-iqr"]
    assert "| method | g1 F1 | control F1 | overall recall |" in out
    assert out.strip() in doc.read_text()
    with pytest.raises(SystemExit):
        bench.main(["--parts", "nope"])
