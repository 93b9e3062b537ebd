"""From flagged periods to incidents: grouping, money impact, tiers and root cause.

An *incident* is one problem as a person acts on it:

1. **Episodes.** In every scored view (the value of each series, each extra
   metric column of each series, and with ``dimensions`` the roll-up total
   of the segments and its additive metrics) consecutive flagged periods of
   one series form an episode. With an event-aware method (``auto``) an
   episode is an event's onset plus its continuation until it reverts
   (spike/drop) or settles (level shift, trend change); for point methods,
   flags with at most ``gap`` unflagged periods between them. A move in the
   same direction that starts before the series came back from the previous
   one, within ``cascade`` periods of its end, continues the same episode (a
   staged lockdown stepping down three times is one incident; a drop that
   recovered and a new drop a week later are two).
2. **Correlation suppression.** Overlapping episodes of the same series on
   different metrics, and of a roll-up total and the segments under it, are
   one incident. Segments that flag while their total does not become one
   incident on the total when their combined deviation is at least
   ``rollup_min_share`` of the total's expected value over the window
   (seed 001's "averaging out"); below it they stay separate incidents.
3. **Money impact** (:mod:`revwatch.incidents.impact`): actual minus the method's
   baseline summed over the incident window on the value of the incident's
   series (the total when it is part of the incident), with an interval;
   also as % of that series' and of the whole portfolio's counterfactual
   revenue over the window.
4. **Tiers** (seed 001): ``critical`` if the confidence exceeds 0.9 or the
   impact exceeds 10 % of the portfolio's revenue in the window, ``warning``
   from 0.7 or 3 %, ``info`` from 0.5. The confidence maps the peak
   normal-equivalent severity ``z`` to ``Phi(z - threshold)``: the
   probability that the true standardized deviation is beyond the method's
   threshold given what was observed (0.5 at the threshold, 0.7 at
   threshold + 0.52, 0.9 at threshold + 1.28). An incident shorter than
   ``min_duration`` periods is at most ``info``.
5. **False discovery rate.** Every scored cell has a two-sided p-value
   from its normal-equivalent z. Within each period (a monitoring run scores
   the latest period of every series) Benjamini-Hochberg at level ``fdr``
   keeps the flags whose p-value passes; an incident none of whose flags
   passes is ``suppressed``. Without it, 30 000 series raise 1 000 times the
   false alarms of 30; with it, the expected false alarms per period stay
   at most ``fdr`` (:func:`expected_false_alarms_per_week`).
6. **Context**: root cause lines (:mod:`revwatch.incidents.rootcause`) for incidents
   on a total with ``dimensions``, the seed 001 metric signature when a count
   metric is present, the most similar earlier incident of the same series
   and signature, and calendar annotations (:mod:`revwatch.incidents.annotations`).

Every front end (``revwatch detect --incidents``, the nightly ``revwatch
run``, the store, the alerts, the review app and the HTML report) gets its
incidents from :func:`build_incidents`, as :class:`Incident` records
(:meth:`Incidents.incidents`), so they agree on spans, tiers, impact, root
cause and ids.

**Ids** (:func:`incident_id`): the first 16 hex digits of the SHA-256 of
``[metric, series key JSON, start]``, where *metric* is the watched metric's
name (the value column unless a name is given), and *series key* and
*start* are those of the incident's **earliest episode** (for a merged
incident: the segment or extra-metric episode that flagged first, so the id
stays the same when the incident is later promoted to its total or joined by
other metrics). Re-running on the same data, or on the data extended by new
periods, gives the same id to the same event. When later data moves an
incident's start (an earlier episode joins it), the monitor keeps the id it
stored first: a new incident overlapping an open stored incident of the
same metric and series takes over the stored id (see
:func:`revwatch.monitor.runner.run`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from revwatch.data.keys import series_key_texts
from revwatch.data.panel import FREQUENCIES, PERIOD, SUB_DAILY, VALUE, Panel
from revwatch.detectors.base import TYPE_CODES, TYPE_NAMES, Detector, Scores
from revwatch.detectors.robust import baseline_window
from revwatch.errors import MissingColumnError, ParameterError
from revwatch.incidents.annotations import annotate_windows, load_events
from revwatch.incidents.impact import ImpactSettings, band_sigma, window_impact
from revwatch.incidents.rootcause import (
    RootCauseSettings,
    explain_cells,
    match_past,
    metric_signature,
    seasonal_expectation,
)
from revwatch.pipeline import Detection, analyze, to_panel
from revwatch.units import Unit, format_amount, infer_unit, money_name

logger = logging.getLogger(__name__)

__all__ = [
    "INCIDENT_COLUMNS",
    "TIERS",
    "Incident",
    "IncidentSettings",
    "Incidents",
    "analyze_incidents",
    "benjamini_hochberg",
    "build_incidents",
    "confidence",
    "emit_incidents",
    "expected_false_alarms_per_week",
    "format_incidents",
    "incident_id",
    "tiers",
]

#: Tiers from least to most urgent; ``suppressed`` failed the FDR control.
TIERS: tuple[str, ...] = ("suppressed", "none", "info", "warning", "critical")

#: Columns of the incidents frame, in order.
INCIDENT_COLUMNS: tuple[str, ...] = (
    "incident_id",
    "series",
    "metric",
    "start",
    "end",
    "status",
    "periods",
    "type",
    "direction",
    "peak_severity",
    "confidence",
    "tier",
    "impact",
    "impact_low",
    "impact_high",
    "unit",
    "pct_of_series",
    "pct_of_portfolio",
    "signature",
    "similar_to",
    "segments",
    "metrics",
    "flags",
    "root_cause",
    "annotations",
)

#: Columns of the incidents frame used by :class:`Incident` and the monitor, not printed.
_EXTRA_COLUMNS: tuple[str, ...] = ("series_key", "level", "last_period")

_ADDITIVE_HINTS = ("count", "revenue", "amount", "orders", "units", "quantity", "sales", "refunds")
_COUNT_HINTS = ("transaction_count", "transactions", "orders", "order_count", "count")
_TOTAL = "total"


@dataclass(frozen=True)
class IncidentSettings:
    """Grouping, tier and alert-fatigue settings (seed 001 defaults).

    Parameters
    ----------
    gap : int, default 0
        Unflagged periods allowed inside one episode.
    cascade : int or None, default None
        A new episode in the same direction as the previous one of its
        series, starting at most this many periods after that one ended and
        with every value between them still on that episode's side of the
        baseline its onset was judged against (the series never came back),
        joins it. None: the detector's baseline window for the frequency (28
        days, 12 months, ...: until then the new level is not yet the
        window's whole history); 0 switches it off.
    min_duration : int, default 1
        Periods an incident must last to be ``warning`` or above (seed 001
        suggests 2 for hourly data).
    critical_confidence, warning_confidence, info_confidence : float
        Confidence cut-offs (0.9, 0.7, 0.5).
    critical_share, warning_share : float
        Impact as a share of the portfolio's revenue in the window (0.10, 0.03).
    critical_amount, warning_amount : float, optional
        ``|impact|`` (in the metric's unit) from which an incident is at least
        critical / warning, whatever its share; None (default) switches the
        rule off.
    fdr : float or None, default 0.05
        Benjamini-Hochberg level per period; None switches the control off.
    impact : ImpactSettings
        Interval level and within-window correlation.
    stable : float, default 0.03
        Relative change counted as stable by the metric signature.
    count_metric : str, optional
        The transaction count column for the signature; guessed from the
        names (``transaction_count``, ``orders``, ...) when omitted.
    root_cause : RootCauseSettings
        Drill-down settings.
    rollup_min_share : float or None, default 0.03
        With ``dimensions``: overlapping segment episodes of one roll-up
        group with no total episode become one incident on the total when
        the flagged segments' combined value deviation (actual minus
        baseline, summed over the window) is at least this share of the
        total's expected value over the window (seed 001's "averaging out":
        a concentrated dip the total's noise hides). Below it they stay
        incidents of their own series; None switches promotion off.
    """

    gap: int = 0
    cascade: int | None = None
    min_duration: int = 1
    critical_confidence: float = 0.9
    warning_confidence: float = 0.7
    info_confidence: float = 0.5
    critical_share: float = 0.10
    warning_share: float = 0.03
    critical_amount: float | None = None
    warning_amount: float | None = None
    fdr: float | None = 0.05
    impact: ImpactSettings = field(default_factory=ImpactSettings)
    stable: float = 0.03
    count_metric: str | None = None
    root_cause: RootCauseSettings = field(default_factory=RootCauseSettings)
    rollup_min_share: float | None = 0.03

    def __post_init__(self) -> None:
        if int(self.gap) < 0:
            raise ParameterError(f"gap must be >= 0, got {self.gap}")
        if self.cascade is not None and int(self.cascade) < 0:
            raise ParameterError(f"cascade must be >= 0 (or None), got {self.cascade}")
        if int(self.min_duration) < 1:
            raise ParameterError(f"min_duration must be >= 1, got {self.min_duration}")
        if self.fdr is not None and not 0.0 < float(self.fdr) < 1.0:
            raise ParameterError(f"fdr must be between 0 and 1 (or None), got {self.fdr}")
        if not self.info_confidence <= self.warning_confidence <= self.critical_confidence:
            raise ParameterError("confidence cut-offs must satisfy info <= warning <= critical")
        if not self.warning_share <= self.critical_share:
            raise ParameterError("share cut-offs must satisfy warning <= critical")
        for name in ("critical_amount", "warning_amount"):
            amount = getattr(self, name)
            if amount is not None and not float(amount) > 0.0:
                raise ParameterError(f"{name} must be > 0 (or None), got {amount}")
        if (
            self.critical_amount is not None
            and self.warning_amount is not None
            and not self.warning_amount <= self.critical_amount
        ):
            raise ParameterError("amount cut-offs must satisfy warning <= critical")
        if self.rollup_min_share is not None and not float(self.rollup_min_share) >= 0.0:
            raise ParameterError(
                f"rollup_min_share must be >= 0 (or None), got {self.rollup_min_share}"
            )


def _floats(value: Any) -> float:
    return float(value) if value is not None and pd.notna(value) else float("nan")


@dataclass(frozen=True)
class Incident:
    """One incident, as every front end shows it (built by :func:`build_incidents`).

    Attributes
    ----------
    incident_id : str
        See :func:`incident_id`.
    metric : str
        The watched metric (the value column unless named).
    series_key : dict
        Key columns of the incident's series (the total's: the columns not
        broken down; ``{}`` for the whole metric).
    series : str
        The same as text (``account=Apex``, ``total``).
    level : {"series", "total"}
        A series of the panel or a roll-up total over ``dimensions``.
    start : Timestamp
    end : Timestamp or None
        The last period of the incident; None while it is open (it reaches
        the newest period).
    last_period : Timestamp
        The last period of its span (``end``, or the newest period while open).
    type, direction : str
        Of the primary episode (``drop``/``down`` ...).
    severity : float
        Peak normal-equivalent severity.
    confidence : float
        :func:`confidence` of the peak.
    impact, impact_low, impact_high : float
        Actual minus baseline over the span, with its interval.
    unit : str
        The value's unit (:class:`revwatch.units.Unit` text: ``money:USD``, ``count`` ...).
    pct_of_series, pct_of_portfolio : float
        The impact as % of the series' and of the portfolio's expected value.
    tier : str
        One of :data:`TIERS` (:func:`tiers`).
    periods : int
        Duration in periods.
    flags, root_cause, annotations, segments, metrics : tuple of str
        Flag lines, drill-down lines, calendar notes, the segments of a total
        and the metric columns involved.
    signature : str
        Seed 001's metric signature.
    status : {"open", "closed"}
    context : tuple
        The series' last periods up to ``last_period``:
        ``[period, value, baseline, lower, upper]`` rows (for charts).
    """

    incident_id: str
    metric: str
    series_key: dict[str, Any]
    series: str
    level: str
    start: pd.Timestamp
    end: pd.Timestamp | None
    last_period: pd.Timestamp
    type: str
    direction: str
    severity: float
    confidence: float
    impact: float
    impact_low: float
    impact_high: float
    pct_of_series: float
    pct_of_portfolio: float
    tier: str
    periods: int
    unit: str = "money:USD"
    flags: tuple[str, ...] = ()
    root_cause: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    signature: str = ""
    status: str = "open"
    context: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def store_row(self) -> dict[str, Any]:
        """The columns the store keeps for this incident (lifecycle fields excluded)."""

        def finite(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "incident_id": self.incident_id,
            "metric": self.metric,
            "series_key": dict(self.series_key),
            "level": self.level,
            "start_period": self.start.to_pydatetime(),
            "end_period": self.last_period.to_pydatetime(),
            "type": self.type,
            "direction": self.direction,
            "severity": finite(self.severity) or 0.0,
            "confidence": finite(self.confidence),
            "impact": finite(self.impact) or 0.0,
            "impact_low": finite(self.impact_low),
            "impact_high": finite(self.impact_high),
            "pct_of_portfolio": finite(self.pct_of_portfolio),
            "tier": self.tier,
            "unit": self.unit,
            "root_cause": list(self.root_cause),
            "annotations": list(self.annotations),
            "flags": list(self.flags),
            "segments": list(self.segments),
            "context": list(self.context),
        }


@dataclass(frozen=True)
class Incidents:
    """Incidents of one run with the detection they came from.

    Attributes
    ----------
    frame : DataFrame
        One row per incident (:data:`INCIDENT_COLUMNS`), largest ``|impact|``
        first; suppressed incidents are included, see :meth:`reported`.
    detection : Detection
        The detection on the series' values.
    settings : IncidentSettings
        The settings used.
    name : str
        The watched metric's name (in the ids).
    context : dict
        Per incident id, its chart context (see :class:`Incident`).
    notes : list of str
        What the user should be told about how the incidents were built (a unit that was
        guessed); the command line prints them on stderr.
    """

    frame: pd.DataFrame
    detection: Detection
    settings: IncidentSettings
    name: str = ""
    context: dict[str, list[Any]] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)

    def cells(self) -> np.ndarray:
        """Which cells of the detection's series lie inside an episode (series x periods).

        The episodes of the value view as this run grouped them (``gap`` and ``cascade``):
        what a chart shades as "in an incident".
        """
        detection = self.detection
        return _grouped(
            detection.panel, detection.scores, int(self.settings.gap), self.settings.cascade
        )

    def reported(self, *, include_suppressed: bool = False) -> pd.DataFrame:
        """The incidents to show: not suppressed by FDR control unless asked."""
        if include_suppressed:
            return self.frame
        return self.frame[self.frame["tier"] != "suppressed"].reset_index(drop=True)

    def incidents(self, *, include_suppressed: bool = False) -> list[Incident]:
        """The reported incidents as :class:`Incident` records, largest ``|impact|`` first."""
        out = []
        for rec in self.reported(include_suppressed=include_suppressed).to_dict("records"):
            end = rec["end"]
            out.append(
                Incident(
                    incident_id=str(rec["incident_id"]),
                    metric=self.name or str(rec["metric"]),
                    series_key=dict(rec["series_key"]),
                    series=str(rec["series"]),
                    level=str(rec["level"]),
                    start=pd.Timestamp(rec["start"]),
                    end=None if pd.isna(end) else pd.Timestamp(end),
                    last_period=pd.Timestamp(rec["last_period"]),
                    type=str(rec["type"]),
                    direction=str(rec["direction"]),
                    severity=_floats(rec["peak_severity"]),
                    confidence=_floats(rec["confidence"]),
                    impact=_floats(rec["impact"]),
                    impact_low=_floats(rec["impact_low"]),
                    impact_high=_floats(rec["impact_high"]),
                    pct_of_series=_floats(rec["pct_of_series"]),
                    pct_of_portfolio=_floats(rec["pct_of_portfolio"]),
                    tier=str(rec["tier"]),
                    periods=int(rec["periods"]),
                    unit=str(rec["unit"]),
                    flags=tuple(map(str, rec["flags"])),
                    root_cause=tuple(map(str, rec["root_cause"])),
                    annotations=tuple(map(str, rec["annotations"])),
                    segments=tuple(map(str, rec["segments"])),
                    metrics=tuple(map(str, rec["metrics"])),
                    signature=str(rec["signature"]),
                    status=str(rec["status"]),
                    context=tuple(self.context.get(str(rec["incident_id"]), ())),
                )
            )
        return out

    def expected_false_alarms_per_week(self) -> float:
        """:func:`expected_false_alarms_per_week` of these settings and data."""
        panel = self.detection.panel
        return expected_false_alarms_per_week(
            panel.n_series,
            panel.freq,
            threshold=float(self.detection.scores.threshold),
            fdr=self.settings.fdr,
        )


# ----------------------------------------------------------------------- scores


def confidence(z: np.ndarray | float, threshold: float) -> np.ndarray:
    """Map a normal-equivalent severity to a [0, 1] confidence: ``Phi(|z| - threshold)``.

    Examples
    --------
    >>> confidence([3.5, 4.02, 4.78], 3.5).round(2).tolist()
    [0.5, 0.7, 0.9]
    """
    from scipy.stats import norm  # lazily: scipy.stats costs ~0.7 s at CLI start-up

    return np.asarray(norm.cdf(np.abs(np.asarray(z, dtype=float)) - float(threshold)))


def tiers(
    conf: np.ndarray,
    share: np.ndarray,
    periods: np.ndarray,
    settings: IncidentSettings | None = None,
    fdr_pass: np.ndarray | None = None,
    impact: np.ndarray | None = None,
) -> np.ndarray:
    """Tier of each incident from confidence, impact share and amount, duration and FDR.

    The one tier rule of revwatch: the highest of the confidence tier, the
    share tier and (when ``critical_amount`` / ``warning_amount`` are set) the
    amount tier; an incident shorter than ``min_duration`` is at most
    ``info``; one that fails the FDR control is ``suppressed``.

    Parameters
    ----------
    conf : ndarray
        Confidence in [0, 1] (:func:`confidence`).
    share : ndarray
        ``|impact|`` as a fraction of the portfolio's revenue in the window.
    periods : ndarray of int
        Duration in periods.
    settings : IncidentSettings, optional
        Cut-offs.
    fdr_pass : ndarray of bool, optional
        False marks an incident ``suppressed``.
    impact : ndarray, optional
        The impact amounts, for ``critical_amount`` / ``warning_amount``.

    Returns
    -------
    ndarray of str

    Examples
    --------
    >>> tiers(np.array([0.95, 0.8, 0.6, 0.4, 0.6]), np.array([0, 0, 0, 0, 0.2]),
    ...       np.array([3, 3, 3, 3, 3])).tolist()
    ['critical', 'warning', 'info', 'none', 'critical']
    >>> tiers(np.array([0.6, 0.6]), np.array([0.0, 0.0]), np.array([3, 3]),
    ...       IncidentSettings(warning_amount=100.0), impact=np.array([-150.0, 50.0])).tolist()
    ['warning', 'info']
    """
    cfg = settings or IncidentSettings()
    c = np.nan_to_num(np.asarray(conf, dtype=float), nan=0.0)
    s = np.nan_to_num(np.abs(np.asarray(share, dtype=float)), nan=0.0)
    rank = np.select(
        [c > cfg.critical_confidence, c >= cfg.warning_confidence, c >= cfg.info_confidence],
        [4, 3, 2],
        default=1,
    )
    share_rank = np.select([s > cfg.critical_share, s >= cfg.warning_share], [4, 3], default=0)
    rank = np.maximum(rank, share_rank)
    if impact is not None:
        amount = np.nan_to_num(np.abs(np.asarray(impact, dtype=float)), nan=0.0)
        amount_rank = np.zeros(len(amount), dtype=np.int64)
        if cfg.warning_amount is not None:
            amount_rank = np.where(amount >= cfg.warning_amount, 3, amount_rank)
        if cfg.critical_amount is not None:
            amount_rank = np.where(amount >= cfg.critical_amount, 4, amount_rank)
        rank = np.maximum(rank, amount_rank)
    short = np.asarray(periods) < int(cfg.min_duration)
    rank = np.where(short, np.minimum(rank, 2), rank)
    if fdr_pass is not None:
        rank = np.where(np.asarray(fdr_pass, dtype=bool), rank, 0)
    return np.asarray(TIERS, dtype=object)[rank]


def benjamini_hochberg(p: np.ndarray, q: float = 0.05) -> np.ndarray:
    """Benjamini-Hochberg rejections, column by column (NaN = not tested).

    Parameters
    ----------
    p : ndarray, shape (n_tests,) or (n_tests, n_columns)
        p-values; each column is one family (one period across series).
    q : float, default 0.05
        False discovery rate.

    Returns
    -------
    ndarray of bool
        True where the hypothesis is rejected.

    Examples
    --------
    >>> p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    >>> benjamini_hochberg(p, 0.05).sum()
    np.int64(2)
    """
    arr = np.asarray(p, dtype=float)
    flat = arr.ndim == 1
    mat = arr[:, None] if flat else arr
    tested = np.isfinite(mat)
    m = tested.sum(axis=0)
    ordered = np.sort(np.where(tested, mat, np.inf), axis=0)
    k = np.arange(1, mat.shape[0] + 1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = ordered <= float(q) * k / np.maximum(m, 1)[None, :]
    any_ok = ok.any(axis=0)
    last = mat.shape[0] - 1 - np.argmax(ok[::-1], axis=0)
    cutoff = np.where(any_ok, ordered[last, np.arange(mat.shape[1])], -np.inf)
    reject = tested & (mat <= cutoff[None, :])
    return reject[:, 0] if flat else reject


def expected_false_alarms_per_week(
    n_series: int,
    freq: str,
    *,
    threshold: float = 3.5,
    fdr: float | None = 0.05,
) -> float:
    """Expected false alarms per week on clean data with these settings.

    Each series-period is a two-sided test at ``p = 2 × (1 - Phi(threshold))``.
    Without FDR control the expected false alarms per period are
    ``n_series × p``; Benjamini-Hochberg across the series of a period keeps
    the chance of any false alarm in a period at most ``fdr`` when nothing is
    wrong, so the rate is ``min(n_series × p, fdr)`` per period. Times the
    periods per week of ``freq``. An upper bound for event-aware methods,
    which do not re-flag the periods of an open event.

    Examples
    --------
    >>> round(expected_false_alarms_per_week(30, "daily", threshold=3.5, fdr=None), 3)
    0.098
    >>> round(expected_false_alarms_per_week(30_000, "daily", threshold=3.5, fdr=0.05), 3)
    0.35
    """
    if freq not in FREQUENCIES:
        raise ParameterError(f"unknown frequency {freq!r}; use one of {', '.join(FREQUENCIES)}")
    per_week = FREQUENCIES[freq][1] / 52.1775
    p_cell = 2.0 * NormalDist().cdf(-float(threshold))
    per_period = float(n_series) * p_cell
    if fdr is not None:
        per_period = min(per_period, float(fdr))
    return per_period * per_week


# --------------------------------------------------------------------- episodes


@dataclass(frozen=True)
class _View:
    level: str  # "series" or "total"
    metric: str
    panel: Panel
    scores: Scores
    keys: pd.Series  # series key text per matrix row
    group: pd.Series  # roll-up group text per matrix row


def _metric_panel(panel: Panel, column: str) -> Panel:
    frame = panel.frame[[*panel.id_columns, PERIOD]].copy()
    frame[VALUE] = panel.frame[column].to_numpy(dtype=np.float64)
    return Panel(
        frame=frame,
        id_columns=panel.id_columns,
        freq=panel.freq,
        source=panel.source,
        value_name=column,
        time_name=panel.time_name,
    )


def _is_additive(column: str, dtype: Any) -> bool:
    name = column.lower()
    if "rate" in name or "avg" in name or "average" in name or "mean" in name:
        return False
    return bool(np.issubdtype(dtype, np.integer)) or any(h in name for h in _ADDITIVE_HINTS)


def _rollup_panel(panel: Panel, dimensions: Sequence[str]) -> Panel:
    rest = [c for c in panel.id_columns if c not in dimensions]
    additive = [c for c in panel.metric_columns if _is_additive(c, panel.frame[c].dtype)]
    cols = [VALUE, *additive]
    frame = panel.frame.groupby([*rest, PERIOD], sort=True, observed=True)[cols].sum(min_count=1)
    frame = frame.reset_index()
    return Panel.from_frame(
        frame,
        id_columns=tuple(rest),
        freq=panel.freq,
        source=f"{panel.source} (total)",
        value_name=panel.value_name,
        time_name=panel.time_name,
    )


def _fresh(detector: Detector) -> Detector:
    params = detector.get_params(deep=False)
    return type(detector)(
        **{k: _fresh(v) if isinstance(v, Detector) else v for k, v in params.items()}
    )


def _views(
    detection: Detection, dimensions: Sequence[str], metrics: bool
) -> tuple[list[_View], Panel | None]:
    panel = detection.panel
    dims = list(dimensions)
    rest = [c for c in panel.id_columns if c not in dims]

    def make(level: str, metric: str, p: Panel, scores: Scores | None) -> _View:
        if scores is None:
            scores = _fresh(detection.detector).fit(p).detect(p)
        keys = p.matrix().keys
        group = series_key_texts(keys, rest if dims else None)
        return _View(level, metric, p, scores, pd.Series(series_key_texts(keys)), pd.Series(group))

    views = [make("series", panel.value_name, panel, detection.scores)]
    if metrics:
        for column in panel.metric_columns:
            views.append(make("series", column, _metric_panel(panel, column), None))
    rollup = None
    if dims:
        rollup = _rollup_panel(panel, dims)
        views.append(make(_TOTAL, panel.value_name, rollup, None))
        if metrics:
            for column in rollup.metric_columns:
                views.append(make(_TOTAL, column, _metric_panel(rollup, column), None))
    return views, rollup


def active_cells(scores: Scores, gap: int = 0) -> np.ndarray:
    """Cells inside an episode: flags, their event continuation and short gaps.

    For event-tracking detectors (``auto``) an episode runs from the onset
    flag to the period before the series reverted, or to the period its new
    level or trend was confirmed; it is open to the end while unconfirmed.
    """
    return _active(scores, gap)


def _active(scores: Scores, gap: int) -> np.ndarray:
    """Cells inside an episode: flags, their event continuation and short gaps."""
    flag = scores.flag
    n_series, n_periods = flag.shape
    confirm = scores.extra.get("confirm_at")
    active = flag.copy()
    if confirm is not None and flag.any():
        s, t0 = np.nonzero(flag)
        c = confirm[s, t0]
        kind = scores.kind[s, t0]
        settled = (kind == TYPE_CODES["level_shift"]) | (kind == TYPE_CODES["trend_change"])
        end = np.where(c < 0, n_periods - 1, np.where(settled, c, c - 1))
        end = np.clip(np.maximum(end, t0), 0, n_periods - 1).astype(np.int64)
        diff = np.zeros((n_series, n_periods + 1), dtype=np.int64)
        np.add.at(diff, (s, t0), 1)
        np.add.at(diff, (s, end + 1), -1)
        active = np.cumsum(diff[:, :n_periods], axis=1) > 0
    if gap > 0 and active.any():
        cols = np.arange(n_periods)
        last = np.maximum.accumulate(np.where(active, cols, -1), axis=1)
        nxt = np.minimum.accumulate(np.where(active, cols, n_periods)[:, ::-1], axis=1)[:, ::-1]
        between = (~active) & (last >= 0) & (nxt < n_periods) & (nxt - last - 1 <= gap)
        active |= between
    return active


def _cascade(active: np.ndarray, scores: Scores, values: np.ndarray, window: int) -> np.ndarray:
    """``active`` with same-direction episodes joined while the series never came back.

    Episode ``B`` of a series continues the episode before it when both point
    the same way (the sign of ``z`` at their first cell), ``B`` starts at most
    ``window`` periods after it ended, and every known value between them is
    still on the far side of the baseline the chain's first onset was judged
    against (the series' normal before the whole incident).

    Examples
    --------
    >>> from revwatch.detectors.base import Scores
    >>> s = Scores.empty((1, 9), 3.5)
    >>> s.z[0] = [0, -5, 0, 0, -5, 0, 0, 0, -5]
    >>> s.baseline[0] = [100, 100, 60, 60, 60, 40, 40, 40, 45]
    >>> y = np.array([[100, 60, 61, 59, 40, 41, 70, 101, 30]], dtype=float)
    >>> act = np.array([[0, 1, 0, 0, 1, 0, 0, 0, 1]], dtype=bool)
    >>> _cascade(act, s, y, 5).astype(int).tolist()  # the third drop followed a recovery
    [[0, 1, 1, 1, 1, 0, 0, 0, 1]]
    """
    if window <= 0 or not active.any():
        return active
    rows, starts, ends = _runs(active)
    if rows.size < 2:
        return active
    sign = np.sign(np.nan_to_num(scores.z[rows, starts]))
    base = scores.baseline[rows, starts]
    # candidate links between consecutive episodes of one series
    a, b = np.arange(rows.size - 1), np.arange(1, rows.size)
    link = (rows[a] == rows[b]) & (sign[a] == sign[b]) & (sign[a] != 0)
    link &= starts[b] - ends[a] - 1 <= window
    if not link.any():
        return active
    # the cells between each candidate pair: one entry per cell, with its pair number
    lengths = np.where(link, starts[b] - ends[a] - 1, 0)
    which = np.repeat(np.arange(a.size), lengths)
    first = a[which]  # the earlier episode of the pair
    offset = np.arange(which.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = ends[first] + 1 + offset
    between = values[rows[first], cols]
    episodes = np.arange(rows.size)
    while True:
        # each episode's chain root: the first episode of its run of links
        linked_in = np.concatenate([[False], link])
        root = np.maximum.accumulate(np.where(linked_in, -1, episodes))
        ref = base[root[a]]  # per pair: the baseline of its chain's first onset
        came_back = ~np.isfinite(ref[which]) | (
            np.isfinite(between) & (sign[first] * (between - ref[which]) <= 0)
        )
        broken = link & ((np.bincount(which[came_back], minlength=a.size) > 0) | ~np.isfinite(ref))
        if not broken.any():
            break
        link &= ~broken  # links only go, so this ends
    out = active.copy()
    fill = link[which]
    out[rows[first][fill], cols[fill]] = True
    return out


def _runs(active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, first and last column of every run of ``True``, in (row, start) order.

    Examples
    --------
    >>> [v.tolist() for v in _runs(np.array([[1, 1, 0, 1], [0, 0, 0, 1]], dtype=bool))]
    [[0, 0, 1], [0, 3, 3], [1, 3, 3]]
    """
    n_series, n_periods = active.shape
    padded = np.zeros((n_series, n_periods + 2), dtype=bool)
    padded[:, 1:-1] = active
    edge = np.diff(padded.astype(np.int8), axis=1)
    rows, starts = np.nonzero(edge == 1)
    _, ends = np.nonzero(edge == -1)
    return rows, starts, ends - 1


def _grouped(panel: Panel, scores: Scores, gap: int, cascade: int | None) -> np.ndarray:
    """The cells inside an episode: :func:`_active`, then :func:`_cascade` (its window by
    frequency when ``cascade`` is None)."""
    window = baseline_window(panel.freq) if cascade is None else int(cascade)
    return _cascade(_active(scores, gap), scores, panel.matrix().values, window)


def _episodes(view: _View, gap: int, fdr: float | None, cascade: int | None) -> pd.DataFrame:
    scores = view.scores
    active = _grouped(view.panel, scores, gap, cascade)
    n_periods = active.shape[1]
    s_start, t_start, t_end = _runs(active)
    if not s_start.size:
        return pd.DataFrame()
    cell_s, cell_t = np.nonzero(active)
    flat_start = s_start * n_periods + t_start
    run = np.searchsorted(flat_start, cell_s * n_periods + cell_t, side="right") - 1
    from scipy.stats import norm  # lazily: scipy.stats costs ~0.7 s at CLI start-up

    z = scores.z
    p = 2.0 * norm.sf(np.abs(z))
    passed = benjamini_hochberg(p, fdr) if fdr is not None else np.isfinite(p) | True
    severity = scores.severity if scores.severity is not None else scores.score
    flag = scores.flag[cell_s, cell_t]
    sev = np.where(flag, np.nan_to_num(np.abs(severity[cell_s, cell_t]), nan=0.0), -1.0)
    cells = pd.DataFrame(
        {
            "run": run,
            "t": cell_t,
            "flag": flag,
            "sev": sev,
            "pass": flag & passed[cell_s, cell_t],
            "dev": np.nan_to_num(
                view.panel.matrix().values[cell_s, cell_t] - scores.baseline[cell_s, cell_t]
            ),
        }
    )
    top = cells.sort_values(["run", "sev"], ascending=[True, False], kind="stable")
    top = top.drop_duplicates("run").set_index("run")
    kind = scores.kind[s_start[top.index], top["t"].to_numpy()]
    zpk = np.nan_to_num(z[s_start[top.index], top["t"].to_numpy()])
    grouped = cells.groupby("run")
    dev = grouped["dev"].sum().to_numpy()
    sign = np.where(dev != 0, np.sign(dev), np.sign(zpk))
    kind = np.where(kind == 0, np.where(sign < 0, TYPE_CODES["drop"], TYPE_CODES["spike"]), kind)
    periods = view.panel.matrix().periods
    flagged = cells[cells["flag"]]
    flag_lists = (
        flagged.assign(
            text=view.metric
            + " "
            + pd.Series(
                periods[flagged["t"].to_numpy()].strftime(
                    "%Y-%m-%d %H:%M" if view.panel.freq in SUB_DAILY else "%Y-%m-%d"
                ),
                index=flagged.index,
            )
            + " z="
            + flagged["sev"].round(1).astype(str)
        )
        .groupby("run")["text"]
        .agg(list)
    )
    out = pd.DataFrame(
        {
            "level": view.level,
            "metric": view.metric,
            "row": s_start,
            "series": view.keys.to_numpy()[s_start],
            "group": view.group.to_numpy()[s_start],
            "t0": t_start,
            "t1": t_end,
            "type": np.asarray(TYPE_NAMES, dtype=object)[kind],
            "direction": np.where(sign < 0, "down", "up"),
            "severity": top["sev"].to_numpy(),
            "fdr_pass": grouped["pass"].any().to_numpy(),
            "flags": flag_lists.reindex(range(len(s_start))).to_numpy(),
        }
    )
    out["flags"] = out["flags"].apply(lambda v: v if isinstance(v, list) else [])
    out["flags"] = out["series"] + ": " + out["flags"].str.join("; ")
    return out


def _cluster(frame: pd.DataFrame, by: str) -> np.ndarray:
    """Label overlapping ``[t0, t1]`` intervals within each ``by`` group."""
    order = frame.sort_values([by, "t0", "t1"], kind="stable")
    reach = order.groupby(by, sort=False)["t1"].cummax()
    prev = reach.groupby(order[by], sort=False).shift(1)
    new = prev.isna() | (order["t0"] > prev)
    labels = pd.Series(np.cumsum(new.to_numpy()) - 1, index=order.index)
    return labels.reindex(frame.index).to_numpy()


# ---------------------------------------------------------------------- build


def _pick_count(panel: Panel, explicit: str | None) -> str | None:
    if explicit is not None:
        if explicit not in panel.metric_columns:
            raise MissingColumnError(
                f"{panel.source}: count metric {explicit!r} is not a metric column; "
                f"use one of {', '.join(panel.metric_columns) or 'none (pass --metrics)'}"
            )
        return explicit
    for hint in _COUNT_HINTS:
        for column in panel.metric_columns:
            if column.lower() == hint or (hint == "count" and "count" in column.lower()):
                return column
    return None


def _window_cells(t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Incident index and period of every cell of every window (no Python loop)."""
    lengths = (t1 - t0 + 1).astype(np.int64)
    inc = np.repeat(np.arange(len(t0)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return inc, np.repeat(t0, lengths) + offsets


def _total_baseline(views: list[_View], value_metric: str) -> np.ndarray | None:
    """Baseline of the total's value; where it has none, the sum of its segments'.

    A cell of the total falls back to the sum of the segments' baselines only
    when every segment under it has one there; otherwise it stays NaN.
    """
    tot = [v for v in views if v.level == _TOTAL and v.metric == value_metric]
    if not tot:
        return None
    total, leaf = tot[0], views[0]
    base = np.array(total.scores.baseline, dtype=float, copy=True)
    missing = ~np.isfinite(base)
    if missing.any():
        index = {g: i for i, g in enumerate(total.group.to_numpy())}
        rows = np.array([index.get(g, -1) for g in leaf.group.to_numpy()])
        keep = rows >= 0
        lb = np.asarray(leaf.scores.baseline, dtype=float)[keep]
        summed = np.zeros_like(base)
        bad = np.zeros(base.shape, dtype=bool)
        np.add.at(summed, rows[keep], np.nan_to_num(lb))
        np.logical_or.at(bad, rows[keep], ~np.isfinite(lb))
        base = np.where(missing & ~bad, summed, base)
    return base


def _promote_rollups(
    eps: pd.DataFrame,
    views: list[_View],
    value_metric: str,
    total_base: np.ndarray | None,
    min_share: float | None,
) -> pd.DataFrame:
    """Total-level rows for segment clusters whose deviation is material.

    ``eps`` carries ``cluster`` labels; a cluster without a total episode is
    promoted when the flagged segments' combined value deviation over the
    cluster window is at least ``min_share`` of the total's expected value
    there. Returns one synthetic total episode per promoted cluster (empty
    when none), which makes the total the primary series of the incident.
    """
    tot = [i for i, v in enumerate(views) if v.level == _TOTAL and v.metric == value_metric]
    if min_share is None or not tot or total_base is None:
        return pd.DataFrame()
    has_total = (eps["level"] == _TOTAL).groupby(eps["cluster"]).transform("any")
    cand = eps[~has_total & (eps["level"] != _TOTAL) & (eps["metric"] == value_metric)]
    if cand.empty:
        return pd.DataFrame()
    leaf, total = views[0], views[tot[0]]
    window = eps.groupby("cluster").agg(t0=("t0", "min"), t1=("t1", "max"))
    pairs = cand[["cluster", "row"]].drop_duplicates()
    w0 = window["t0"].reindex(pairs["cluster"]).to_numpy()
    w1 = window["t1"].reindex(pairs["cluster"]).to_numpy()
    dev = np.nan_to_num(leaf.panel.matrix().values - leaf.scores.baseline)
    dsum = np.concatenate([np.zeros((dev.shape[0], 1)), np.cumsum(dev, axis=1)], axis=1)
    rows = pairs["row"].to_numpy()
    combined = (
        pd.Series(dsum[rows, w1 + 1] - dsum[rows, w0]).groupby(pairs["cluster"].to_numpy()).sum()
    )
    index = {g: i for i, g in enumerate(total.group.to_numpy())}
    group = cand.groupby("cluster")["group"].first().reindex(combined.index)
    trow = group.map(lambda g: index.get(g, -1)).to_numpy()
    ok = trow >= 0
    esum = np.concatenate(
        [np.zeros((total_base.shape[0], 1)), np.cumsum(np.nan_to_num(total_base), axis=1)], axis=1
    )
    c0 = window["t0"].reindex(combined.index).to_numpy()
    c1 = window["t1"].reindex(combined.index).to_numpy()
    tr = np.where(ok, trow, 0)
    expected = esum[tr, c1 + 1] - esum[tr, c0]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.abs(combined.to_numpy()) / np.abs(expected)
    promote = ok & (expected > 0) & np.isfinite(share) & (share >= float(min_share))
    if not promote.any():
        return pd.DataFrame()
    chosen = combined.index[promote]
    top = cand.sort_values("severity", ascending=False, kind="stable").drop_duplicates("cluster")
    top = top.set_index("cluster").reindex(chosen)
    dev_sign = np.sign(combined.to_numpy()[promote])
    logger.debug("promoted %d segment clusters to the total", len(chosen))
    return pd.DataFrame(
        {
            "level": _TOTAL,
            "metric": value_metric,
            "row": trow[promote],
            "series": total.keys.to_numpy()[trow[promote]],
            "group": group.to_numpy()[promote],
            "t0": c0[promote],
            "t1": c1[promote],
            "type": top["type"].to_numpy(),
            "direction": np.where(dev_sign < 0, "down", "up"),
            "severity": np.nan,
            "fdr_pass": False,
            "flags": None,
            "view": tot[0],
            "cluster": chosen.to_numpy(),
            "synthetic": True,
        }
    )


def build_incidents(
    detection: Detection,
    *,
    min_duration: int | None = None,
    gap: int | None = None,
    dimensions: Sequence[str] | None = None,
    metrics: bool = True,
    country: str | None = None,
    events: pd.DataFrame | str | Path | None = None,
    settings: IncidentSettings | None = None,
    name: str | None = None,
    context_periods: int = 36,
    unit: Unit | str | None = None,
) -> Incidents:
    """Group a detection's flags into incidents with impact, tier and context.

    The one incident-building function of revwatch (see the module notes).

    Parameters
    ----------
    detection : Detection
        The output of :func:`revwatch.analyze`.
    min_duration, gap : int, optional
        Override the fields of ``settings``.
    dimensions : sequence of str, optional
        Id columns that break a total down (``payment_method``, ``country``);
        the total over them is scored too and its incidents get root cause
        lines.
    metrics : bool, default True
        Also score every extra metric column of the panel.
    country : str, optional
        Country code for public holiday annotations.
    events : DataFrame, path or None
        User events (:func:`revwatch.incidents.annotations.load_events`).
    settings : IncidentSettings, optional
        Everything else.
    name : str, optional
        The watched metric's name used in the ids (default: the value column).
    context_periods : int, default 36
        Periods of each incident's series, up to its end, kept for charts.
    unit : Unit or str, optional
        The value's unit (``money:EUR``, ``count``, ``ratio``, ``percent``);
        inferred from the value column by default (:func:`revwatch.units.infer_unit`).

    Returns
    -------
    Incidents

    Examples
    --------
    >>> import pandas as pd
    >>> from revwatch.pipeline import analyze
    >>> frame = pd.DataFrame({
    ...     "account": ["A"] * 12,
    ...     "month": pd.date_range("2025-01-01", periods=12, freq="MS"),
    ...     "mrr": [100.0, 101, 99, 100, 102, 100, 99, 101, 100, 300, 100, 101],
    ... })
    >>> inc = build_incidents(analyze(frame, id="account", time="month", value="mrr"))
    >>> inc.frame.assign(impact=inc.frame["impact"].round(2))[
    ...     ["series", "type", "start", "impact"]
    ... ].values.tolist()
    [['account=A', 'spike', Timestamp('2025-10-01 00:00:00'), 200.0]]
    """
    cfg = settings or IncidentSettings()
    if min_duration is not None or gap is not None:
        cfg = IncidentSettings(
            **{
                **cfg.__dict__,
                **({"min_duration": min_duration} if min_duration is not None else {}),
                **({"gap": gap} if gap is not None else {}),
            }
        )
    panel = detection.panel
    value_unit = (
        unit
        if isinstance(unit, Unit)
        else Unit.parse(unit)
        if unit
        else Unit("percent", None)
        if panel.value_name in panel.percent_columns
        else infer_unit(panel.value_name, panel.frame[VALUE].to_numpy())
    )
    notes = []
    if not unit and value_unit.kind == "money" and not money_name(panel.value_name):
        notes.append(
            f"impact shown as {value_unit.text} (the value column {panel.value_name!r} does not "
            "say its unit); pass --unit count, --unit money:EUR ... to set it"
        )
    dims = list(dimensions or [])
    missing = [d for d in dims if d not in panel.id_columns]
    if missing:
        raise MissingColumnError(
            f"{panel.source}: --dimensions {missing[0]!r} is not a series key column; "
            f"use one of {', '.join(panel.id_columns) or 'none (pass --id)'}"
        )
    views, rollup = _views(detection, dims, metrics)
    parts = [_episodes(v, int(cfg.gap), cfg.fdr, cfg.cascade) for v in views]
    parts = [p.assign(view=i) for i, p in enumerate(parts) if not p.empty]
    if not parts:
        return Incidents(_empty_frame(), detection, cfg, name=name or panel.value_name, notes=notes)
    eps = pd.concat(parts, ignore_index=True)
    periods = panel.matrix().periods
    n_periods = len(periods)

    # correlation suppression: overlapping episodes of one roll-up group; a
    # cluster without a total episode is promoted to the total when its
    # segments' deviation is material, else split back by series
    value_metric = panel.value_name
    eps["cluster"] = _cluster(eps, "group")
    eps["synthetic"] = False
    total_base = _total_baseline(views, value_metric) if dims else None
    promoted = _promote_rollups(eps, views, value_metric, total_base, cfg.rollup_min_share)
    if not promoted.empty:
        eps = pd.concat([eps, promoted], ignore_index=True)
    has_total = (eps["level"] == _TOTAL).groupby(eps["cluster"]).transform("any")
    eps["ckey"] = np.where(
        has_total, "c" + eps["cluster"].astype(str), eps["group"] + "|" + eps["series"]
    )
    if (~has_total).any():
        eps["incident"] = _cluster(eps.assign(ckey=eps["ckey"]), "ckey")
    else:
        eps["incident"] = pd.factorize(eps["ckey"])[0]
    eps["pref"] = (eps["level"] != _TOTAL).astype(int) * 2 + (eps["metric"] != value_metric)
    primary = eps.sort_values(
        ["incident", "pref", "t0", "severity"], ascending=[True, True, True, False]
    )
    primary = primary.drop_duplicates("incident").set_index("incident").sort_index()
    real = eps[~eps["synthetic"].astype(bool)]
    first = real.sort_values(["incident", "t0", "pref", "series", "metric"], kind="stable")
    first = first.drop_duplicates("incident").set_index("incident").sort_index()
    agg = eps.groupby("incident").agg(
        t0=("t0", "min"),
        t1=("t1", "max"),
        severity=("severity", "max"),
        fdr_pass=("fdr_pass", "any"),
    )
    n_inc = len(agg)
    t0 = agg["t0"].to_numpy()
    t1 = agg["t1"].to_numpy()

    # money impact on the value of the primary series (the total when present)
    value_view = {v.level: i for i, v in enumerate(views) if v.metric == value_metric}
    level = primary["level"].to_numpy()
    is_total = level == _TOTAL
    # every view of one level has the same rows (series) in the same order
    rows = primary["row"].to_numpy()
    inc, cell_t = _window_cells(t0, t1)
    impact_parts = []
    for lvl in np.unique(level):
        view = views[value_view[lvl]]
        pick = np.flatnonzero(level[inc] == lvl)
        s = rows[inc[pick]]
        t = cell_t[pick]
        base = view.scores.baseline if lvl != _TOTAL or total_base is None else total_base
        if view.scores.threshold > 0:
            sig = band_sigma(
                view.scores.lower[s, t], view.scores.upper[s, t], view.scores.threshold
            )
        else:  # no calibrated band: no interval
            sig = np.full(len(t), np.nan)
        impact_parts.append(
            (
                inc[pick],
                view.panel.matrix().values[s, t],
                base[s, t],
                sig,
            )
        )
    cat = [np.concatenate(x) for x in zip(*impact_parts, strict=True)]
    money = window_impact(cat[1], cat[2], cat[3], cat[0], n_inc, cfg.impact)
    portfolio = np.nansum(panel.matrix().values, axis=0)
    csum = np.concatenate([[0.0], np.cumsum(portfolio)])
    port_actual = csum[t1 + 1] - csum[t0]
    port_expected = port_actual - money["impact"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        pct_series = money["impact"].to_numpy() / np.abs(money["expected"].to_numpy()) * 100
        pct_port = money["impact"].to_numpy() / np.abs(port_expected) * 100

    # metric signature from the count metric of the primary level
    count_change = np.full(n_inc, np.nan)
    aov_change = np.full(n_inc, np.nan)
    count_col = _pick_count(panel, cfg.count_metric)
    if count_col is not None:
        for lvl in np.unique(level):
            cv = [i for i, v in enumerate(views) if v.level == lvl and v.metric == count_col]
            if not cv:
                continue
            view = views[cv[0]]
            pick = np.flatnonzero(level[inc] == lvl)
            s, t, g = rows[inc[pick]], cell_t[pick], inc[pick]
            ok = np.isfinite(view.scores.baseline[s, t])
            cnt = np.bincount(g, np.where(ok, view.panel.matrix().values[s, t], 0), n_inc)
            cnt_exp = np.bincount(g, np.where(ok, view.scores.baseline[s, t], 0), n_inc)
            mine = np.isin(np.arange(n_inc), g)
            with np.errstate(invalid="ignore", divide="ignore"):
                cc = cnt / cnt_exp - 1.0
                aov = (money["actual"].to_numpy() / cnt) / (money["expected"].to_numpy() / cnt_exp)
            count_change = np.where(mine, cc, count_change)
            aov_change = np.where(mine, aov - 1.0, aov_change)
    signature = metric_signature(count_change, aov_change, stable=cfg.stable)

    conf = confidence(agg["severity"].to_numpy(), float(detection.scores.threshold))
    duration = t1 - t0 + 1
    tier = tiers(
        conf,
        pct_port / 100.0,
        duration,
        cfg,
        agg["fdr_pass"].to_numpy(),
        impact=money["impact"].to_numpy(),
    )
    open_ = t1 >= n_periods - 1
    start = periods[t0]
    end = pd.Series(np.where(open_, np.datetime64("NaT"), periods[t1].to_numpy()))
    watched = name or value_metric
    first_keys = _key_records(views, first["view"].to_numpy(), first["row"].to_numpy())
    first_start = periods[first["t0"].to_numpy()]
    ids = [incident_id(watched, k, t) for k, t in zip(first_keys, first_start, strict=True)]
    primary_keys = _key_records(views, primary["view"].to_numpy(), rows)

    by_inc = real.groupby("incident")
    leaf_eps = eps[eps["level"] != _TOTAL]
    segments = (
        leaf_eps.groupby("incident")["series"]
        .agg(lambda s: sorted(set(s)))
        .reindex(range(n_inc))
        .map(lambda v: v if isinstance(v, list) else [])
    )
    metric_list = by_inc["metric"].agg(lambda s: sorted(set(s)))
    flag_list = by_inc["flags"].agg(list)
    frame = pd.DataFrame(
        {
            "incident_id": ids,
            "series": primary["series"].to_numpy(),
            "metric": primary["metric"].to_numpy(),
            "series_key": primary_keys,
            "level": level,
            "last_period": periods[t1],
            "start": start,
            "end": end.to_numpy(),
            "status": np.where(open_, "open", "closed"),
            "periods": duration,
            "type": primary["type"].to_numpy(),
            "direction": primary["direction"].to_numpy(),
            "peak_severity": agg["severity"].to_numpy(),
            "confidence": conf,
            "tier": tier,
            "impact": money["impact"].to_numpy(),
            "impact_low": money["impact_low"].to_numpy(),
            "impact_high": money["impact_high"].to_numpy(),
            "unit": value_unit.text,
            "pct_of_series": pct_series,
            "pct_of_portfolio": pct_port,
            "signature": signature,
            "count_change": count_change,
            "aov_change": aov_change,
            "segments": [v if is_total[i] else [] for i, v in enumerate(segments.to_list())],
            "metrics": metric_list.to_list(),
            "flags": flag_list.to_list(),
        }
    )
    frame["similar_to"] = match_past(frame.assign(end=frame["end"].fillna(frame["start"])))
    frame["root_cause"] = _root_causes(panel, dims, rollup, primary, is_total, t0, t1, cfg)
    event_table = _events(events)
    frame["annotations"] = annotate_windows(
        frame["start"], frame["end"], freq=panel.freq, country=country, events=event_table
    )
    contexts = _contexts(views, primary, value_view, total_base, t1, context_periods)
    context = dict(zip(frame["incident_id"], contexts, strict=True))
    order = np.argsort(-np.abs(np.nan_to_num(frame["impact"].to_numpy())), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    frame = frame[[*INCIDENT_COLUMNS, "count_change", "aov_change", *_EXTRA_COLUMNS]]
    logger.info("%d incidents from %d episodes", len(frame), len(eps))
    return Incidents(frame, detection, cfg, name=watched, context=context, notes=notes)


def _events(events: pd.DataFrame | str | Path | None) -> pd.DataFrame | None:
    if events is None or isinstance(events, pd.DataFrame):
        return events
    return load_events(events)


def incident_id(metric: str, series_key: dict[str, Any], start: Any) -> str:
    """The incident id: 16 hex digits of the SHA-256 of metric, series key and start.

    The scheme the store has used since v1 (``revwatch run``); see the module
    notes for which series key and start a merged incident uses.

    Examples
    --------
    >>> incident_id("mrr", {"account": "A"}, pd.Timestamp("2025-01-01"))
    'b9973c105bec7f3e'
    """
    key = json.dumps(series_key, sort_keys=True, default=str)
    text = json.dumps([metric, key, pd.Timestamp(start).isoformat()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _key_records(views: list[_View], view: np.ndarray, rows: np.ndarray) -> list[dict[str, Any]]:
    """The series key (column -> value, plain Python values) of each (view, row)."""
    out: list[dict[str, Any]] = [{} for _ in range(len(rows))]
    for v in np.unique(view):
        pick = np.flatnonzero(view == v)
        keys = views[int(v)].panel.matrix().keys
        if keys.shape[1] == 0:
            continue
        records = keys.iloc[rows[pick]].astype(object).to_dict("records")
        for i, rec in zip(pick, records, strict=True):
            out[i] = {
                str(k): (val.item() if hasattr(val, "item") else val) for k, val in rec.items()
            }
    return out


def _contexts(
    views: list[_View],
    primary: pd.DataFrame,
    value_view: dict[str, int],
    total_base: np.ndarray | None,
    t1: np.ndarray,
    n: int,
) -> list[list[list[Any]]]:
    """Per incident: its series' last ``n`` periods up to its end with the band (for charts).

    Rows are ``[period ISO, value, baseline, lower, upper]`` (None where missing).
    """
    out: list[list[list[Any]]] = []
    level = primary["level"].to_numpy()
    rows = primary["row"].to_numpy()
    for i in range(len(rows)):
        view = views[value_view[level[i]]]
        base = view.scores.baseline
        if level[i] == _TOTAL and total_base is not None:
            base = total_base
        lo = max(0, int(t1[i]) + 1 - n)
        cols = slice(lo, int(t1[i]) + 1)
        r = int(rows[i])
        stack = np.vstack(
            [
                view.panel.matrix().values[r, cols],
                base[r, cols],
                view.scores.lower[r, cols],
                view.scores.upper[r, cols],
            ]
        ).T
        when = view.panel.matrix().periods[cols]
        out.append(
            [
                [p.isoformat(), *(float(x) if np.isfinite(x) else None for x in vals)]
                for p, vals in zip(when, stack, strict=True)
            ]
        )
    return out


def _root_causes(
    panel: Panel,
    dims: list[str],
    rollup: Panel | None,
    primary: pd.DataFrame,
    is_total: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    cfg: IncidentSettings,
) -> list[list[str]]:
    """Drill-down lines for incidents on a total (one call per such incident)."""
    out: list[list[str]] = [[] for _ in range(len(t0))]
    if not dims or rollup is None or not is_total.any():
        return out
    mat = panel.matrix()
    season = FREQUENCIES[panel.freq][2]
    expected = seasonal_expectation(mat.values, season, cfg.root_cause.history)
    rest = [c for c in panel.id_columns if c not in dims]
    leaf_group = series_key_texts(mat.keys, rest)
    groups = primary["group"].to_numpy()
    for i in np.flatnonzero(is_total):
        leaves = np.flatnonzero(leaf_group == groups[i])
        cols = np.arange(t0[i], t1[i] + 1)
        cause = explain_cells(
            mat.keys.iloc[leaves],
            mat.values[np.ix_(leaves, cols)],
            expected[np.ix_(leaves, cols)],
            dims,
            cfg.root_cause,
        )
        out[i] = cause.lines
    return out


def _empty_frame() -> pd.DataFrame:
    columns = [*INCIDENT_COLUMNS, "count_change", "aov_change", *_EXTRA_COLUMNS]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


# --------------------------------------------------------------------- run + out


def analyze_incidents(
    data: Any,
    *,
    id: str | Sequence[str] | None = None,
    time: str | None = None,
    value: str | None = None,
    metrics: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    method: str | Detector = "auto",
    country: str | None = None,
    events: pd.DataFrame | str | Path | None = None,
    settings: IncidentSettings | None = None,
    unit: Unit | str | None = None,
    sql: str | None = None,
    aggregate: str | None = None,
    freq: str | None = None,
    sheet: str | int | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    skip_rows: int = 0,
    tz: str | None = None,
    date_format: str | None = None,
    **params: Any,
) -> Incidents:
    """Load ``data`` with its metric columns, detect, and build incidents.

    Parameters are those of :func:`revwatch.analyze` and
    :func:`build_incidents`; ``metrics`` names extra numeric columns (count,
    order value, success rate, ...) to score alongside ``value``.
    """
    panel = to_panel(
        data, id=id, time=time, value=value, sql=sql, aggregate=aggregate, freq=freq,
        sheet=sheet, metrics=metrics, decimal=decimal, encoding=encoding, skip_rows=skip_rows,
        tz=tz, date_format=date_format,
    )  # fmt: skip
    if country and method == "auto" and "country" not in params:
        params = {**params, "country": country}  # holidays are calendar terms of the model too
    detection = analyze(panel, method=method, **params)
    return build_incidents(
        detection,
        dimensions=dimensions,
        country=country,
        events=events,
        settings=settings,
        unit=unit,
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for key, v in rec.items():
            k = str(key)
            if isinstance(v, pd.Timestamp):
                clean[k] = (
                    v.isoformat() if v.time() != pd.Timestamp(0).time() else v.date().isoformat()
                )
            elif isinstance(v, float | np.floating):
                clean[k] = None if not math.isfinite(float(v)) else round(float(v), 4)
            elif isinstance(v, np.integer):
                clean[k] = int(v)
            elif v is None or (not isinstance(v, list) and pd.isna(v)):
                clean[k] = None
            else:
                clean[k] = v
        out.append(clean)
    return out


def stamp_format(frame: pd.DataFrame, *, iso: bool = False) -> str:
    """How an incidents frame's ``start``/``end`` are written: with a time of day if any has one.

    Sub-daily incidents start and end within a day; two on one day must not read the same.

    Examples
    --------
    >>> days = pd.DataFrame({"start": pd.to_datetime(["2024-01-01"]), "end": [pd.NaT]})
    >>> stamp_format(days), stamp_format(days.assign(start=pd.Timestamp("2024-01-01 09:05")))
    ('%Y-%m-%d', '%Y-%m-%d %H:%M')
    """
    for column in ("start", "end"):
        if column in frame:
            stamps = pd.to_datetime(frame[column]).dropna()
            if len(stamps) and (stamps != stamps.dt.normalize()).any():
                return "%Y-%m-%dT%H:%M:%S" if iso else "%Y-%m-%d %H:%M"
    return "%Y-%m-%d"


def format_incidents(frame: pd.DataFrame, fmt: str, *, safe_text: bool = True) -> str:
    """Serialise incidents as ``json``, ``csv`` or ``markdown`` text.

    CSV text cells that a spreadsheet would run as a formula get a ``'`` in
    front unless ``safe_text`` is False (see :func:`revwatch.report.write_results`).

    Lists (flags, root cause, annotations, segments, metrics) become JSON
    arrays, ``"; "``-joined CSV fields and ``<br>``-joined Markdown cells.

    Examples
    --------
    >>> frame = pd.DataFrame({"incident_id": ["inc-1"], "impact": [-5.0], "flags": [["a", "b"]]})
    >>> print(format_incidents(frame, "csv").strip())
    incident_id,impact,flags
    inc-1,-5.0,a; b
    """
    if fmt == "json":
        return json.dumps(_records(frame), indent=2) + "\n"
    lists = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, list)).any()]
    flat = frame.copy()
    for column in lists:
        sep = "; " if fmt == "csv" else "<br>"
        flat[column] = flat[column].map(lambda v, s=sep: s.join(map(str, v)))
    if fmt == "csv":
        if safe_text:
            from revwatch.report.formats import neutralise_text

            for column in flat.columns:
                if not pd.api.types.is_numeric_dtype(flat[column].dtype):
                    flat[column] = neutralise_text(flat[column])
        buffer = io.StringIO()
        flat.to_csv(buffer, index=False, date_format=stamp_format(frame, iso=True))
        return buffer.getvalue()
    if fmt == "markdown":
        show = [
            c
            for c in (
                "incident_id",
                "series",
                "metric",
                "start",
                "end",
                "type",
                "tier",
                "impact",
                "impact_low",
                "impact_high",
                "pct_of_portfolio",
                "signature",
                "root_cause",
                "annotations",
            )
            if c in flat.columns
        ]
        table = flat[show].copy()
        for c in ("start", "end"):
            if c in table:
                table[c] = pd.to_datetime(table[c]).dt.strftime(stamp_format(frame)).fillna("open")
        for c in ("impact", "impact_low", "impact_high"):
            if c in table:
                units = flat["unit"] if "unit" in flat else pd.Series("money:USD", index=flat.index)
                table[c] = [format_amount(v, u) for v, u in zip(table[c], units, strict=True)]
        if "pct_of_portfolio" in table:
            table["pct_of_portfolio"] = table["pct_of_portfolio"].map(lambda v: f"{v:+.2f}%")
        lines = ["| " + " | ".join(show) + " |", "|" + "---|" * len(show)]
        body = table.astype(str).agg(" | ".join, axis=1)
        lines.extend("| " + body + " |")
        return "\n".join(lines) + "\n"
    raise ParameterError(f"--format {fmt!r} is not one of json, csv, markdown, table")


def emit_incidents(
    result: Incidents,
    *,
    fmt: str = "table",
    output: Path | None = None,
    limit: int = 20,
    quiet: bool = False,
    safe_text: bool = True,
) -> None:
    """Write incidents as the command line asked (the table goes to stderr)."""
    frame = result.reported().drop(columns=list(_EXTRA_COLUMNS), errors="ignore")
    rate = result.expected_false_alarms_per_week()
    if fmt == "table":
        if output is not None:
            raise ParameterError("--output needs --format csv, json or markdown")
        from rich.table import Table
        from rich.text import Text

        from revwatch.report.terminal import printable, stderr_console

        table = Table(title=Text(printable(f"revwatch incidents: {result.detection.panel.source}")))
        columns = ("tier", "id", "series", "type", "start", "end", "impact", "interval")
        for column in (*columns, "root cause", "calendar"):
            table.add_column(column)
        shown = stamp_format(frame)
        for rec in frame.head(limit).to_dict(orient="records"):
            unit = Unit.parse(rec["unit"])
            table.add_row(
                str(rec["tier"]),
                str(rec["incident_id"]),
                Text(printable(f"{rec['series']} / {rec['metric']}")),
                f"{rec['type']} {rec['direction']}",
                pd.Timestamp(rec["start"]).strftime(shown),
                "open" if pd.isna(rec["end"]) else pd.Timestamp(rec["end"]).strftime(shown),
                format_amount(rec["impact"], unit, signed=True),
                f"[{format_amount(rec['impact_low'], unit)}, "
                f"{format_amount(rec['impact_high'], unit)}]",
                Text("\n".join(map(printable, rec["root_cause"][:2]))),
                Text("\n".join(map(printable, rec["annotations"]))),
            )
        console = stderr_console(width=180)  # pipes and CI logs: wide enough for every column
        console.print(table)
        if not quiet:
            for note in result.notes:
                console.print(f"note: {note}", markup=False, highlight=False)
            console.print(f"expected false alarms per week with these settings: {rate:.2f}")
        return
    text = format_incidents(frame, fmt, safe_text=safe_text)
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).expanduser().write_text(text, encoding="utf-8")
    if not quiet:
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
        print(
            f"{len(frame)} incidents; expected false alarms per week: {rate:.2f}", file=sys.stderr
        )
