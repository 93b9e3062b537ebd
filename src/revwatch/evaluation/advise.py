"""Seed 003's stepwise framework: test the assumptions, then try methods simple to complex.

:func:`advise` follows the seed's ``smart_anomaly_detection_framework``:

* **Step 0, assumptions**: normality per series (:func:`normality_table`),
  seasonality strength per series (:func:`seasonal_strength`), the groupings
  (the id columns and how far apart the series' levels are) and the history
  length in seasonal cycles.
* **Steps 1..4, methods from simple to complex**: naive z-score, a
  group-aware method (the z-score, or the log z-score / IQR when step 0 finds
  the series skewed or heavy-tailed), the seasonal z-score, then ``auto``.
  Every method is the causal form (it only uses the past), because the advice
  is for monitoring. The first method that is *good enough* is recommended.

Good enough
    With labels: event-wise F1 above ``f1_target`` (0.85, the seed's bar).
    The event-wise F1 counts an incident once, as an on-call engineer sees
    it; the point-wise F1 (the seed's metric) is shown beside it.

    Without labels the truth is unknown, so the method must look like a
    monitor that fires on rare departures and not on the data's structure:
    it flags something, but at most ``max_flag_rate`` of the periods it
    scores (a z-score at 3 on normal data flags 0.27%); when seasonality is
    strong its flags do not pile up in one season (at most 3 times the
    uniform share in the most-flagged season); when the series' levels
    differ its flags do not pile up in the largest series (at most 60% in
    the top quarter by level); and it is stable: the flag rates of the
    first and second half of the scored history are within a factor of 3.
    The last three checks need at least 5 flags to judge.

If no method is good enough, the best one (highest F1, or fewest failed
checks then lowest flag rate) is recommended and the advice says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revwatch.data.panel import FREQUENCIES, Panel, period_ordinals
from revwatch.detectors.normality import normality_table
from revwatch.evaluation.metrics import align_labels, flag_metrics, read_labels
from revwatch.pipeline import Detection, analyze, to_panel

logger = logging.getLogger(__name__)

__all__ = ["Advice", "Step", "advise", "seasonal_strength"]

#: Fewest flags needed before the concentration and stability checks judge.
MIN_FLAGS_TO_JUDGE = 5


@dataclass(frozen=True)
class Step:
    """One step of the framework.

    Attributes
    ----------
    number : int
        0 for the assumptions, then 1, 2, ...
    title : str
        What the step does.
    method : str or None
        The method tried (None for step 0 and skipped steps).
    findings : tuple of str
        What the step found, one line each.
    good_enough : bool or None
        The verdict (None for step 0 and skipped steps).
    reason : str
        Why.
    metrics : dict
        The numbers behind the verdict.
    """

    number: int
    title: str
    method: str | None
    findings: tuple[str, ...]
    good_enough: bool | None
    reason: str
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Advice:
    """The framework's outcome; ``str(advice)`` renders it as text.

    Attributes
    ----------
    steps : tuple of Step
        Step 0 (assumptions) then every method step tried or skipped.
    recommended : str
        The method to use.
    reason : str
        Why it is recommended.
    assumptions : dict
        Step 0's numbers.
    labelled : bool
        Whether labels judged the methods.
    """

    steps: tuple[Step, ...]
    recommended: str
    reason: str
    assumptions: dict[str, Any]
    labelled: bool

    def to_text(self) -> str:
        """The advice as plain text, one step per paragraph."""
        lines: list[str] = []
        for step in self.steps:
            head = f"Step {step.number}: {step.title}"
            if step.method:
                head += f" [{step.method}]"
            lines.append(head)
            lines.extend(f"  - {f}" for f in step.findings)
            if step.reason:
                verdict = {True: "good enough", False: "not good enough", None: "note"}[
                    step.good_enough
                ]
                lines.append(f"  -> {verdict}: {step.reason}")
        lines.append(f"Recommendation: {self.recommended} ({self.reason})")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_text()


def _robust_var(x: np.ndarray) -> np.ndarray:
    """Row-wise variance from the median absolute deviation (anomalies barely move it)."""
    center = np.nanmedian(x, axis=1, keepdims=True)
    mad = np.nanmedian(np.abs(x - center), axis=1)
    return np.asarray((1.4826 * mad) ** 2)


def seasonal_strength(panel: Panel) -> np.ndarray:
    """Strength of seasonality per series, in [0, 1] (Hyndman's F_S).

    Each series is divided by its median, detrended with a centred moving
    average over one season, and split into a per-phase mean (the seasonal
    component) and a remainder; the strength is
    ``max(0, 1 - var(remainder) / var(detrended))`` with robust (MAD-based)
    variances, so that a few anomalies do not hide the seasonality, the remainder's
    variance corrected for the per-phase means fitted from few seasons (so
    that white noise scores about 0). All series at once.
    NaN for a series with fewer than two full seasons or no spread.

    Examples
    --------
    >>> t = np.arange(48)
    >>> frame = pd.DataFrame({"id": np.repeat(["seasonal", "flat"], 48),
    ...     "period": np.tile(pd.date_range("2020-01-01", periods=48, freq="MS"), 2),
    ...     "value": np.r_[100 + 30 * np.sin(2 * np.pi * t / 12),
    ...                    100 + np.random.default_rng(0).normal(0, 3, 48)]})
    >>> panel = Panel.from_frame(frame, id_columns=["id"], freq="monthly")
    >>> (seasonal_strength(panel) > 0.5).tolist()  # rows sorted by id: flat, seasonal
    [False, True]
    """
    mat = panel.matrix()
    values = mat.values
    season = int(FREQUENCIES[panel.freq][2])
    n_series, n_periods = values.shape
    out = np.full(n_series, np.nan)
    if season < 2 or n_periods < 2 * season:
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        median = np.nanmedian(values, axis=1, keepdims=True) if n_periods else values
        scaled = values / np.where(median != 0, np.abs(median), np.nan)
    trend = (
        pd.DataFrame(scaled.T)
        .rolling(season, center=True, min_periods=season // 2 + 1)
        .median()
        .to_numpy()
        .T
    )
    detrended = scaled - trend
    phase = period_ordinals(mat.periods, panel.freq) % season
    sums = np.zeros((n_series, season))
    counts = np.zeros((n_series, season))
    ok = ~np.isnan(detrended)
    np.add.at(sums.T, phase, np.where(ok, detrended, 0.0).T)
    np.add.at(counts.T, phase, ok.T.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        seasonal = sums / counts
        remainder = detrended - seasonal[:, phase]
        # Per-phase means of k values absorb a share 1/k of pure noise; undo
        # that so that a series without seasonality scores about 0.
        kept = np.nanmean(np.where(counts > 1, 1.0 - 1.0 / counts, np.nan), axis=1)
        var_rem = _robust_var(remainder) / kept
        var_det = _robust_var(detrended)
        strength = np.clip(1.0 - var_rem / var_det, 0.0, 1.0)
    enough = (~np.isnan(values)).sum(axis=1) >= 2 * season
    out[enough & (var_det > 0)] = strength[enough & (var_det > 0)]
    return out


def _assumptions(panel: Panel) -> tuple[Step, dict[str, Any]]:
    normal = normality_table(panel)
    strength = seasonal_strength(panel)
    mat = panel.matrix()
    observed = (~np.isnan(mat.values)).sum(axis=1)
    season = int(FREQUENCIES[panel.freq][2])
    with np.errstate(invalid="ignore"):
        levels = np.nanmedian(np.abs(mat.values), axis=1) if mat.values.size else np.array([])
    positive = levels[levels > 0]
    spread = float(positive.max() / positive.min()) if positive.size >= 2 else 1.0
    recommended = normal["recommended"].value_counts()
    transform = str(recommended.index[0]) if len(recommended) else "raw"
    n_normal = int(normal["is_normal"].sum())
    median_strength = float(np.nanmedian(strength)) if np.isfinite(strength).any() else math.nan
    history = float(np.median(observed)) if observed.size else 0.0
    facts: dict[str, Any] = {
        "n_series": int(panel.n_series),
        "freq": panel.freq,
        "normal_series": n_normal,
        "transform": transform,
        "seasonal_period": season,
        "seasonal_strength": median_strength,
        "groupings": list(panel.id_columns),
        "level_spread": spread,
        "history_periods": history,
        "history_cycles": history / season if season else math.nan,
    }
    strength_text = (
        "not measurable (fewer than two full seasons)"
        if math.isnan(median_strength)
        else f"median strength {median_strength:.2f} at period {season} "
        f"({'strong' if median_strength >= 0.3 else 'weak'})"
    )
    findings = (
        f"normality: {n_normal}/{panel.n_series} series pass (|skew| <= 0.5 and Jarque-Bera "
        f"p >= 0.05); most call for a {transform!r} scoring",
        f"seasonality: {strength_text}",
        (
            f"groupings: {', '.join(panel.id_columns)} ({panel.n_series} series; median "
            f"levels differ {spread:.1f}x)"
            if panel.id_columns
            else "groupings: none (one series)"
        ),
        f"history: {history:.0f} periods per series = {facts['history_cycles']:.1f} seasonal "
        "cycles"
        + (
            "; the seed's seasonal z-score (same month of other years) needs many more"
            if facts["history_cycles"] < 4
            else ""
        ),
    )
    step = Step(0, "test the data's assumptions", None, findings, None, "", {})
    return step, facts


def _ladder(facts: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(title, method or None if skipped, why) from simple to complex."""
    group_method = {"raw": "group-zscore", "log": "log-zscore", "rank": "iqr"}[facts["transform"]]
    group_title = {
        "raw": "group-aware z-score (each series against its own past)",
        "log": "group-aware log z-score (series are right-skewed)",
        "rank": "group-aware IQR fences (series are not normal; distribution-free)",
    }[facts["transform"]]
    steps: list[tuple[str, str | None, str]] = [
        ("naive z-score (one mean and std for all the data)", "naive-zscore", "")
    ]
    if facts["n_series"] > 1 or facts["transform"] != "raw":
        steps.append((group_title, group_method, ""))
    else:
        steps.append((group_title, None, "one series and normal: the same as step 1"))
    steps.append(("seasonal z-score (same season of other years)", "seasonal-zscore", ""))
    steps.append(("auto (robust, event-aware baseline)", "auto", ""))
    return steps


def _unsupervised(detection: Detection, facts: dict[str, Any], max_rate: float) -> Step:
    """Metrics and verdict without labels."""
    scores = detection.scores
    panel = detection.panel
    mat = panel.matrix()
    flags = scores.flag
    scored = np.isfinite(scores.score)
    n_flags = int(flags.sum())
    n_scored = int(scored.sum())
    rate = n_flags / n_scored if n_scored else math.nan
    failures: list[str] = []
    findings = [f"{n_flags} flags in {n_scored} scored periods ({rate:.1%})"]
    if n_flags == 0:
        failures.append("it flags nothing, so it cannot be told apart from a blind method")
    elif rate > max_rate:
        failures.append(f"flag rate {rate:.1%} > {max_rate:.0%}: it flags normal variation")
    season = facts["seasonal_period"]
    if n_flags >= MIN_FLAGS_TO_JUDGE:
        phase = period_ordinals(mat.periods, panel.freq) % season
        per_phase = np.bincount(np.broadcast_to(phase, flags.shape)[flags], minlength=season)
        top_share = per_phase.max() / n_flags
        strong = facts["seasonal_strength"] >= 0.3
        findings.append(f"{top_share:.0%} of flags fall in one season (uniform {1 / season:.0%})")
        if strong and season > 1 and top_share > 3.0 / season:
            failures.append(
                f"{top_share:.0%} of its flags fall in one season: it flags the seasonality"
            )
        if facts["n_series"] >= 4 and facts["level_spread"] >= 1.5:
            levels = np.nanmedian(np.abs(mat.values), axis=1)
            top = levels >= np.quantile(levels, 0.75)
            big_share = flags[top].sum() / n_flags
            findings.append(f"{big_share:.0%} of flags in the largest quarter of series")
            if big_share > 0.6:
                failures.append(
                    f"{big_share:.0%} of its flags are in the largest series: it flags size"
                )
        cols = np.flatnonzero(scored.any(axis=0))
        half = cols[len(cols) // 2] if len(cols) else 0
        first = flags[:, :half].sum() / max(scored[:, :half].sum(), 1)
        second = flags[:, half:].sum() / max(scored[:, half:].sum(), 1)
        floor = 1.0 / max(n_scored, 1)
        ratio = max(first, second, floor) / max(min(first, second), floor)
        findings.append(f"flag rate first/second half {first:.1%} / {second:.1%}")
        if ratio > 3.0:
            failures.append(f"unstable: flag rates of the two halves differ {ratio:.1f}x")
    good = not failures
    reason = (
        f"flag rate {rate:.1%} <= {max_rate:.0%}, no pile-up by season or size, stable"
        if good
        else "; ".join(failures)
    )
    return Step(
        0,
        "",
        detection.method,
        tuple(findings),
        good,
        reason,
        {"flag_rate": rate, "n_flags": float(n_flags), "failed_checks": float(len(failures))},
    )


def _supervised(detection: Detection, labels: pd.DataFrame, target: float, tolerance: int) -> Step:
    panel = detection.panel
    grid = align_labels(panel, labels)
    mat = panel.matrix()
    m = flag_metrics(
        detection.scores.flag,
        grid,
        mat.periods,
        panel.freq,
        observed=~np.isnan(mat.values),
        scored=np.isfinite(detection.scores.score),
        tolerance=tolerance,
    )
    findings = (
        f"event-wise precision {m['event_precision']:.2f}, recall {m['event_recall']:.2f}, "
        f"F1 {m['event_f1']:.2f}",
        f"point-wise precision {m['point_precision']:.2f}, recall {m['point_recall']:.2f}, "
        f"F1 {m['point_f1']:.2f} (the seed's metric)",
        f"false alarms per series-week {m['false_alarms_per_week']:.3f}",
    )
    good = m["event_f1"] > target
    reason = f"event F1 {m['event_f1']:.2f} {'>' if good else '<='} {target:.2f}"
    return Step(0, "", detection.method, findings, good, reason, m)


def advise(
    data: Any,
    labels: str | Path | pd.DataFrame | None = None,
    *,
    id: str | Sequence[str] | None = None,
    time: str | None = None,
    value: str | None = None,
    f1_target: float = 0.85,
    max_flag_rate: float = 0.05,
    tolerance: int = 0,
) -> Advice:
    """Run seed 003's framework on the data and recommend a method.

    Parameters
    ----------
    data : path, frame or Panel
        The data (see :func:`revwatch.pipeline.to_panel`).
    labels : path or DataFrame, optional
        Ground truth (see :func:`revwatch.evaluation.metrics.align_labels`); with it
        methods are judged by event-wise F1, without it by flag rate,
        concentration and stability (see the module docstring).
    id, time, value : optional
        Column names for loading ``data``.
    f1_target : float, default 0.85
        The seed's "good enough" F1.
    max_flag_rate : float, default 0.05
        Highest acceptable share of flagged periods without labels.
    tolerance : int, default 0
        See :func:`revwatch.evaluation.metrics.flag_metrics`.

    Returns
    -------
    Advice

    Examples
    --------
    >>> from revwatch.datasets import generate
    >>> ds = generate("smartphone-sales", seed=3)
    >>> advice = advise(ds.frame, ds.labels, id=["product", "region"], time="month",
    ...                 value="volume")
    >>> [s.method for s in advice.steps][:3]
    [None, 'naive-zscore', 'log-zscore']
    >>> advice.recommended in {s.method for s in advice.steps}
    True
    """
    panel = to_panel(data, id=id, time=time, value=value)
    label_frame = None if labels is None else read_labels(labels)
    if label_frame is not None:
        align_labels(panel, label_frame)  # fail early on bad labels
    step0, facts = _assumptions(panel)
    steps: list[Step] = [step0]
    tried: list[Step] = []
    chosen: Step | None = None
    for number, (title, method, why) in enumerate(_ladder(facts), start=1):
        if method is None:
            steps.append(Step(number, title, None, (), None, f"skipped: {why}"))
            continue
        detection = analyze(panel, method=method)
        judged = (
            _supervised(detection, label_frame, f1_target, tolerance)
            if label_frame is not None
            else _unsupervised(detection, facts, max_flag_rate)
        )
        step = Step(
            number,
            title,
            method,
            judged.findings,
            judged.good_enough,
            judged.reason,
            judged.metrics,
        )
        steps.append(step)
        tried.append(step)
        if step.good_enough:
            chosen = step
            break
    if chosen is not None:
        reason = f"the simplest method that is good enough: {chosen.reason}"
        recommended = str(chosen.method)
    else:
        if label_frame is not None:
            best = max(tried, key=lambda s: s.metrics.get("event_f1", 0.0))
            reason = (
                f"no method reached F1 > {f1_target:.2f}; best event F1 was "
                f"{best.metrics.get('event_f1', 0.0):.2f}. Consider richer models "
                "(see `revwatch methods`) and check the labels"
            )
        else:
            best = min(
                tried,
                key=lambda s: (s.metrics["failed_checks"], abs(s.metrics["flag_rate"] - 0.01)),
            )
            reason = (
                "no method passed every check; this one failed the fewest "
                f"({best.reason}). Consider richer models (see `revwatch methods`)"
            )
        recommended = str(best.method)
        steps.append(Step(len(steps), "all simple approaches underperform", None, (), None, reason))
    logger.info("advise: recommended %s", recommended)
    return Advice(
        steps=tuple(steps),
        recommended=recommended,
        reason=reason,
        assumptions=facts,
        labelled=label_frame is not None,
    )
