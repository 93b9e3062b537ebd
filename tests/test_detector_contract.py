"""One contract, run against every registered detector."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revwatch.detectors import METHODS, Detector, get_detector
from revwatch.errors import MissingDependencyError
from tests.conftest import make_panel

# methods that need parameters to run at all, and the parameters to use
_PARAMS = {"threshold": {"lower": 500.0, "upper": 60_000.0}}


def _detector(name: str) -> Detector:
    try:
        return get_detector(name, **_PARAMS.get(name, {}))
    except MissingDependencyError as exc:  # an optional extra that is not installed
        pytest.skip(str(exc))


ALL = sorted(METHODS)


@pytest.mark.parametrize("name", ALL)
def test_init_stores_keyword_only_params_unchanged(name: str) -> None:
    cls = type(get_detector(name, **_PARAMS.get(name, {})))
    sig = inspect.signature(cls.__init__)
    params = [p for p in sig.parameters.values() if p.name != "self"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    det = cls()
    for p in params:
        assert getattr(det, p.name) is p.default or getattr(det, p.name) == p.default
    assert set(det.get_params()) == {p.name for p in params}


@pytest.mark.parametrize("name", ALL)
def test_fit_returns_self_and_scores_have_panel_shape(name: str, noisy_panel) -> None:
    det = _detector(name)
    assert det.fit(noisy_panel) is det
    scores = det.detect(noisy_panel)
    shape = noisy_panel.matrix().values.shape
    for arr in (scores.score, scores.z, scores.baseline, scores.flag, scores.kind):
        assert arr.shape == shape
    scored = ~np.isnan(scores.score)
    assert (scores.score[scored] >= 0).all()
    # a flag is always on an observed, scored cell
    assert not (scores.flag & np.isnan(noisy_panel.matrix().values)).any()
    assert not (scores.flag & ~scored).any()


@pytest.mark.parametrize("name", ALL)
def test_flat_series_never_flags(name: str) -> None:
    panel = make_panel({"flat": [1000.0] * 24, "flat2": [5.0] * 24})
    scores = _detector(name).fit_detect(panel)
    if name == "threshold":
        pytest.skip("a static threshold flags a flat series outside its bounds by design")
    assert not scores.flag.any()


@pytest.mark.parametrize(
    "name", [n for n in ALL if not get_detector(n, **_PARAMS.get(n, {})).retrospective]
)
def test_causal_methods_do_not_look_ahead(name: str, noisy_panel) -> None:
    base = _detector(name).fit_detect(noisy_panel)
    frame = noisy_panel.frame.copy()
    later = frame["period"] >= frame["period"].unique()[16]
    frame.loc[later, "value"] = frame.loc[later, "value"] * 7.0
    from revwatch.data.panel import Panel

    changed = Panel.from_frame(frame, id_columns=["id"], freq="monthly")
    after = _detector(name).fit_detect(changed)
    cut = 16
    np.testing.assert_array_equal(base.flag[:, :cut], after.flag[:, :cut])
    np.testing.assert_allclose(base.score[:, :cut], after.score[:, :cut], equal_nan=True)


@pytest.mark.parametrize("name", ALL)
def test_series_order_changes_nothing(name: str, noisy_panel) -> None:
    from revwatch.data.panel import Panel

    base = _detector(name).fit_detect(noisy_panel)
    frame = noisy_panel.frame.copy()
    frame["id"] = frame["id"].map(lambda s: f"z{99 - int(s[1:]):03d}")  # reverse sort order
    reordered = Panel.from_frame(frame, id_columns=["id"], freq="monthly")
    after = _detector(name).fit_detect(reordered)
    np.testing.assert_array_equal(base.flag[::-1], after.flag)


@pytest.mark.parametrize("name", ALL)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(factor=st.sampled_from([0.001, 0.37, 3.0, 1000.0, 123456.0]))
def test_scaling_all_values_changes_no_flag(name: str, noisy_panel, factor: float) -> None:
    if name == "threshold":
        return  # absolute bounds are not scale-free by definition
    from revwatch.data.panel import Panel

    base = _detector(name).fit_detect(noisy_panel)
    frame = noisy_panel.frame.copy()
    frame["value"] = frame["value"] * factor
    scaled = _detector(name).fit_detect(Panel.from_frame(frame, id_columns=["id"], freq="monthly"))
    np.testing.assert_array_equal(base.flag, scaled.flag)


@pytest.mark.parametrize("name", ALL)
def test_missing_periods_stay_unflagged(name: str) -> None:
    rng = np.random.default_rng(3)
    values = 1000 * (1 + 0.02 * rng.standard_normal((4, 24)))
    values[1, 10] = np.nan
    values[2, 5:8] = np.nan
    panel = make_panel(values)
    scores = _detector(name).fit_detect(panel)
    assert not scores.flag[1, 10]
    assert not scores.flag[2, 5:8].any()
