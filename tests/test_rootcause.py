"""Root cause drill-down, metric signatures and past-incident matching."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revwatch.datasets import generate
from revwatch.errors import MissingColumnError, ParameterError
from revwatch.incidents.rootcause import explain, match_past, metric_signature, seasonal_expectation


@pytest.fixture(scope="module")
def segments() -> pd.DataFrame:
    return generate("daily-revenue", segments=True).frame


def test_daily_revenue_de_card_outage_is_named_with_its_share(segments: pd.DataFrame) -> None:
    cause = explain(segments, ["payment_method", "country"], "2025-09-03", "2025-09-04",
                    time="date", value="revenue")  # fmt: skip
    top = cause.candidates.iloc[0]
    assert top["element"] == "payment_method=card & country=DE"
    assert top["order"] == 2
    assert top["change_pct"] == pytest.approx(-80, abs=8)
    # the segment carries the whole dip (other segments drift up a little)
    assert 0.8 <= top["share_of_impact"] <= 1.5
    assert cause.pattern == "concentrated"
    chosen = cause.dimensions[cause.dimensions["chosen"]]
    assert set(zip(chosen["dimension"], chosen["value"], strict=True)) == {
        ("country", "DE"),
        ("payment_method", "card"),
    }
    assert cause.lines[0].startswith("payment_method=card & country=DE:")


def test_everywhere_outage_is_diffuse(segments: pd.DataFrame) -> None:
    # 2025-03-12: the payment outage hits every segment (-26 %)
    cause = explain(segments, ["payment_method", "country"], "2025-03-12", "2025-03-12",
                    time="date", value="revenue")  # fmt: skip
    assert cause.pattern == "diffuse"
    assert cause.deviation < 0
    assert cause.root_score > cause.candidates["potential_score"].iloc[0]


def test_single_dimension_and_a_quiet_window() -> None:
    days = pd.date_range("2025-01-01", periods=42, freq="D")
    frame = pd.DataFrame(
        [(d, c, 100.0) for d in days for c in ("x", "y", "z")], columns=["day", "c", "v"]
    )
    quiet = explain(frame, ["c"], days[-1], days[-1], time="day", value="v")
    assert quiet.pattern == "none"
    frame.loc[(frame["day"] == days[-1]) & (frame["c"] == "z"), "v"] = 10.0
    cause = explain(frame, ["c"], days[-1], days[-1], time="day", value="v")
    assert cause.best == "c=z"
    assert cause.candidates["share_of_impact"].iloc[0] == pytest.approx(1.0)


def test_explain_errors_are_one_line(segments: pd.DataFrame) -> None:
    with pytest.raises(MissingColumnError, match="'region'"):
        explain(segments, ["region"], "2025-09-03", "2025-09-04", time="date", value="revenue")
    with pytest.raises(ParameterError, match="no period between"):
        explain(segments, ["country"], "2030-01-01", "2030-01-02", time="date", value="revenue")
    with pytest.raises(ParameterError, match="at least one dimension"):
        explain(segments, [], "2025-09-03", "2025-09-04", time="date", value="revenue")


def test_seasonal_expectation_is_causal() -> None:
    y = np.arange(1.0, 29.0)[None, :]
    out = seasonal_expectation(y, 7, history=4)
    assert np.isnan(out[0, :7]).all()
    changed = y.copy()
    changed[0, 20:] = 1e6  # the future must not move earlier expectations
    assert np.array_equal(seasonal_expectation(changed, 7)[0, :21], out[0, :21], equal_nan=True)


@pytest.mark.parametrize(
    ("count", "aov", "expected"),
    [
        (-0.20, 0.00, "payment_processing"),
        (-0.20, 0.029, "payment_processing"),
        (-0.20, -0.10, "checkout"),
        (-0.20, 0.08, "payment_processing"),  # mix: the failing payments were small ones
        (-0.10, 0.06, "mixed"),  # AOV up more than half the count's fall
        (0.00, 0.12, "pricing"),
        (0.01, -0.08, "pricing"),
        (0.30, 0.00, "volume_up"),
        (0.10, 0.10, "mixed"),
        (np.nan, 0.10, "unknown"),
    ],
)
def test_signature_rules(count: float, aov: float, expected: str) -> None:
    assert metric_signature(count, aov).tolist() == [expected]


def test_match_past_picks_nearest_earlier_same_signature() -> None:
    frame = pd.DataFrame(
        {
            "incident_id": ["a", "b", "c", "d"],
            "series": ["s", "s", "s", "t"],
            "signature": ["checkout", "pricing", "checkout", "checkout"],
            "start": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"]),
            "end": pd.to_datetime(["2025-01-02", "2025-02-02", "2025-03-02", "2025-04-02"]),
            "count_change": [-0.3, 0.0, -0.25, -0.3],
            "aov_change": [-0.1, 0.1, -0.1, -0.1],
        }
    )
    assert match_past(frame).tolist() == [None, None, "a", None]
