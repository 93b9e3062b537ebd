"""The top-level Python API: ``revwatch.detect`` and ``revwatch.load``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import revwatch
from revwatch.detectors import get_detector


@pytest.fixture(scope="module")
def mrr() -> pd.DataFrame:
    return revwatch.generate("saas-mrr", seed=42).frame


def test_detect_accepts_pandas_and_polars_alike(mrr: pd.DataFrame) -> None:
    kwargs = {"id": "account", "time": "month", "value": "revenue"}
    from_pandas = revwatch.detect(mrr, **kwargs)
    from_polars = revwatch.detect(pl.from_pandas(mrr), **kwargs)
    pd.testing.assert_frame_equal(from_pandas, from_polars)
    assert {"Apex Holdings", "Lighthouse Media"} <= set(from_pandas["account"])


def test_detect_does_not_modify_the_callers_frame(mrr: pd.DataFrame) -> None:
    before = mrr.copy()
    revwatch.detect(mrr, id="account", time="month", value="revenue", all_rows=True)
    pd.testing.assert_frame_equal(mrr, before)


def test_load_then_detect_a_file(mrr: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "mrr.csv"
    mrr.to_csv(path, index=False)
    panel = revwatch.load(path)
    assert panel.n_series == 30
    assert panel.freq == "monthly"
    flags = revwatch.detect(panel, method="seed-rolling")
    assert (flags["type"] != "normal").all()


def test_detectors_package_is_still_a_package() -> None:
    assert get_detector("auto").name == "auto"
    assert callable(revwatch.detect)


def test_analyze_keeps_scores_and_bands(mrr: pd.DataFrame) -> None:
    result = revwatch.analyze(mrr, id="account", time="month", value="revenue")
    series = result.series()
    assert len(series) == 720
    assert {"lower", "upper", "baseline"} <= set(series.columns)
    flagged = series[series["type"] != "normal"]
    assert len(flagged) == len(result.results())


def test_a_data_error_does_not_wait_for_the_preload(tmp_path: Path) -> None:
    """``analyze`` loads compiled code in a thread while the data loads; a bad file
    raises its error at once, without waiting for that thread."""
    import threading

    from revwatch.errors import InputError

    bad = tmp_path / "bad.csv"
    bad.write_text("account,month,revenue\na,2024-01-01,12\na,2024-02-01,twelve\n")
    release = threading.Event()
    detector = get_detector("auto")
    detector.preload = lambda: release.wait(30)  # type: ignore[method-assign]
    try:
        with pytest.raises(InputError, match=r"bad\.csv"):
            revwatch.analyze(bad, method=detector)
        waiting = [t for t in threading.enumerate() if t.name == "revwatch-preload"]
        assert waiting and all(t.is_alive() and t.daemon for t in waiting)
    finally:
        release.set()


def test_analyze_of_a_file_equals_analyze_of_its_panel(mrr: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "mrr.csv"
    mrr.to_csv(path, index=False)
    from_file = revwatch.analyze(path).results()
    from_panel = revwatch.analyze(revwatch.load(path)).results()
    pd.testing.assert_frame_equal(from_file, from_panel)
