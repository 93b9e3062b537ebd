"""Method facts are tags on the detector classes, read by the registry, compare and the monitor."""

from __future__ import annotations

import datetime as dt

import pytest

from revwatch.detectors import METHODS, Detector, detector_class, get_detector, method_tags
from revwatch.detectors.registry import MethodTags
from revwatch.errors import ParameterError

#: The table the tags replaced (evaluate.COMPLEXITY and monitor.RETRAIN_DAYS), kept here to show
#: that every fact survived the move.
OLD_COMPLEXITY = {
    "auto": "Medium (robust event-aware baseline, peer-relative when peers co-move)",
    "peer": "Low (medians across series and periods)",
    "seed-rolling": "Very low (rolling mean/std)",
    "threshold": "Very low (fixed bound)",
    "rolling-zscore": "Very low (rolling mean/std)",
    "rolling-iqr": "Very low (rolling quartiles)",
    "naive-zscore": "Very low (global mean/std)",
    "naive-zscore-retro": "Very low (global mean/std)",
    "group-zscore": "Low (groupby + zscore)",
    "group-zscore-retro": "Low (groupby + zscore)",
    "seasonal-zscore": "Low (groupby + month logic)",
    "seasonal-zscore-retro": "Low (groupby + month logic)",
    "empirical-zscore": "Low (groupby + percentile)",
    "empirical-zscore-retro": "Low (groupby + percentile)",
    "log-zscore": "Low (log + groupby + zscore)",
    "log-zscore-retro": "Low (log + groupby + zscore)",
    "iqr": "Low (groupby + quartiles)",
    "iqr-retro": "Low (groupby + quartiles)",
    "isolation-forest": "Medium (tree ensemble, features)",
    "lof": "Medium (distance calculations)",
    "dbscan-retro": "Medium (distance calculations)",
    "stl": "Medium (seasonal decomposition)",
    "prophet": "High (Bayesian curve fit per series)",
    "ensemble": "Medium (IF + STL, seed weights)",
    "seed-ensemble": "High (IF + Prophet)",
}
OLD_RETRAIN_DAYS = {"isolation-forest": (7.0, 90.0), "prophet": (30.0, None)}


def test_every_registered_method_has_its_facts() -> None:
    assert set(OLD_COMPLEXITY) == set(METHODS)
    for name in METHODS:
        tags = method_tags(name)
        assert isinstance(tags, MethodTags)
        assert tags.name == name == detector_class(name).name
        assert tags.complexity == OLD_COMPLEXITY[name], name
        assert tags.retrain_days == OLD_RETRAIN_DAYS.get(name), name
        assert tags.retrospective == name.endswith("-retro"), name


def test_extra_needed() -> None:
    needs = {name: method_tags(name).extra for name in METHODS if method_tags(name).extra}
    assert needs == {"prophet": "prophet", "seed-ensemble": "prophet"}


def test_tags_of_an_instance_or_a_class_are_its_class_tags() -> None:
    detector = get_detector("isolation-forest")
    assert method_tags(detector) == method_tags(type(detector)) == method_tags("isolation-forest")
    assert isinstance(detector, detector_class("isolation-forest"))
    from revwatch.detectors.ensemble import WeightedEnsemble

    assert method_tags(WeightedEnsemble).complexity == "Medium-high (weighted detectors)"


def test_unknown_method() -> None:
    with pytest.raises(ParameterError, match="unknown method 'nope'"):
        method_tags("nope")
    with pytest.raises(ParameterError, match="unknown method 'nope'"):
        detector_class("nope")


def test_defaults_on_the_base_class() -> None:
    assert Detector.complexity == "" and Detector.retrain_days is None and Detector.extra is None


def test_compare_reads_the_complexity_tag() -> None:
    from revwatch.datasets import generate
    from revwatch.evaluation.metrics import evaluate

    table = evaluate(generate("saas-mrr", seed=1), methods="rolling-zscore,iqr-retro")
    assert table["complexity"].tolist() == [
        OLD_COMPLEXITY["rolling-zscore"],
        OLD_COMPLEXITY["iqr-retro"],
    ]
    assert table["retrospective"].tolist() == [False, True]


def test_monitor_reads_the_retraining_tag() -> None:
    from revwatch.monitor.runner import health
    from revwatch.monitor.store import Store

    store = Store("sqlite://")
    trained = dt.datetime(2026, 1, 1)
    with store.begin() as conn:
        store.record_model(conn, metric="mrr", method="isolation-forest", trained_at=trained)
        store.record_model(conn, metric="arr", method="rolling-zscore", trained_at=trained)
        store.record_model(conn, metric="old", method="no-longer-registered", trained_at=trained)
    report = health(store, now=dt.datetime(2026, 1, 11))
    checks = {c.name: c for c in report.checks}
    assert checks["model:mrr"].status == "warning"
    assert "schedule every 7 days on a 90-day window" in checks["model:mrr"].detail
    assert checks["model:arr"].status == "ok"
    assert "refits on every run" in checks["model:arr"].detail
    assert "refits on every run" in checks["model:old"].detail


def test_the_robust_part_and_auto_are_named_apart() -> None:
    """``auto`` stays the default and the CLI's name; its robust part has a name of its own."""
    import inspect

    import revwatch
    from revwatch.detectors.auto import AutoDetector
    from revwatch.detectors.robust import RobustShiftDetector

    assert AutoDetector.name == "auto" and RobustShiftDetector.name == "robust"
    assert detector_class("auto") is AutoDetector
    assert "robust" not in METHODS
    assert inspect.signature(revwatch.detect).parameters["method"].default == "auto"
    assert get_detector().name == "auto"
