"""The one series-key text (revwatch.data.keys) and the places that show it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from revwatch.data.keys import (
    TOTAL,
    series_key_json,
    series_key_jsons,
    series_key_text,
    series_key_texts,
)


def test_text_of_a_key_is_column_equals_value_in_key_order() -> None:
    assert series_key_text({"region": "EU", "account": "Apex"}) == "region=EU, account=Apex"
    assert series_key_text({"n": 3}) == "n=3"


def test_empty_key_is_total() -> None:
    assert TOTAL == "total"
    assert series_key_text({}) == series_key_text(None) == "total"


def test_vectorised_text_equals_the_scalar_one() -> None:
    frame = pd.DataFrame(
        {"account": ["Apex", "Bolt", "Core"], "region": ["EU", "US", "EU"], "n": [1, 2, 3]}
    )
    texts = series_key_texts(frame)
    assert isinstance(texts, np.ndarray) and texts.dtype == object
    assert texts.tolist() == [series_key_text(r) for r in frame.to_dict("records")]
    assert series_key_texts(frame, ["region"]).tolist() == ["region=EU", "region=US", "region=EU"]
    assert series_key_texts(frame, []).tolist() == ["total"] * 3
    assert series_key_texts(frame.iloc[:0]).tolist() == []


def test_vectorised_text_ignores_the_frame_index() -> None:
    frame = pd.DataFrame({"a": ["x", "y"]}, index=[10, 3])
    assert series_key_texts(frame).tolist() == ["a=x", "a=y"]


def test_stored_form_is_canonical_json() -> None:
    assert series_key_json({"b": 1, "a": "x"}) == series_key_json({"a": "x", "b": 1})
    assert json.loads(series_key_json({"b": 1, "a": "x"})) == {"a": "x", "b": 1}
    assert series_key_json({"a": 1}) != series_key_json({"a": "1"})
    frame = pd.DataFrame({"b": [1, 2], "a": ["x", "y"]})
    assert series_key_jsons(frame, ["b", "a"]).tolist() == [
        series_key_json({"b": 1, "a": "x"}),
        series_key_json({"b": 2, "a": "y"}),
    ]
    assert series_key_jsons(frame, []).tolist() == ["{}", "{}"]


def test_alerts_and_web_show_the_one_text() -> None:
    from revwatch.monitor.alerts import Alert

    incident = {"incident_id": "x", "series_key": {"account": "Apex"}}
    assert Alert(incident=incident).series_text() == "account=Apex"
    assert Alert(incident={"incident_id": "x", "series_key": {}}).series_text() == "total"


def test_chart_titles_use_the_one_text() -> None:
    from revwatch.report.chart import _title

    assert _title(["product", "region"], ("Widgets", "EMEA")) == "Widgets / EMEA"
    assert _title(["account"], "Apex") == "Apex"
    assert _title(["account"], (None,)) == "–"
    assert _title([], ()) == "all series"


def test_short_form_shows_the_values() -> None:
    assert series_key_text({"a": "x", "b": 2}, names=False) == "x / 2"
    assert series_key_text({}, names=False) == "total"
