"""Unattended monitoring: one idempotent run over a config, and the health of the monitor.

:func:`run` does, for every metric of the config:

1. load its source (files/globs, a SQL query, or raw payment events
   aggregated by :mod:`revwatch.monitor.payment_events`), mask the periods of incidents
   labelled *confirmed* to NaN (so a real incident does not distort the
   baseline of later periods), and score it with the metric's method
   (retrospective methods are refused: they look ahead);
2. skip the metric when its newest period is not after its watermark (a
   re-run processes only what is new);
3. build incidents with :func:`revwatch.incidents.build.build_incidents` (the one
   incident model: episodes, persistence filter, correlation suppression and
   roll-ups over ``dimensions``, FDR, impact, the tier rule, root cause, ids;
   see :func:`metric_incidents`); a new incident overlapping a stored one of
   the same series keeps the stored id. In **one transaction** save the
   incidents, auto-resolve those whose series is back to normal, write the
   pending ledger rows of every state change that matters (the outbox:
   ``open``; ``esc:warning`` / ``esc:critical`` when an announced incident
   reaches a higher tier, so a warning that becomes critical pages once;
   ``resolved``; ``reopen:k`` when a later step of the same move extends an
   incident that was resolved, then ``resolved:k``), the score summary, the model record and the new
   watermark. Incidents in a direction the metric does not alert on
   (``directions``) are routed as ``info``. A run alerts only incidents
   still open or that ended within ``alerts.recent_days`` (at least one
   period of the grain) of its newest period; older ones (the first run, a
   catch-up over months) are recorded silently as ``history``. A crash
   before the commit leaves nothing of this metric; the re-run redoes it.
4. deliver the pending ledger rows (from this run or earlier, failed runs).

Delivery semantics
------------------
A ledger row (incident, state, channel) is unique, and written in the same
transaction as the state change, so each change is queued exactly once.
Sending is an external side effect and cannot share that transaction: the row
is marked ``sending`` (committed) before the request and ``sent`` after the
endpoint accepts it. A crash between the two leaves the row ``sending``, "in
doubt": ``alerts.in_doubt = "resend"`` (default) sends it again on the next run
(at-least-once; PagerDuty deduplicates on ``dedup_key`` = incident id, so a
page is still raised once; Slack/email may show a duplicate), ``"skip"``
marks it ``skipped`` (at-most-once). Outside that window of one request,
delivery is exactly once. 4xx answers mark the row ``failed`` (not retried);
429/5xx/unreachable endpoints leave it ``pending`` for the next run and fail
the run (non-zero exit), losing nothing already stored.

"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any, cast

import numpy as np
import pandas as pd

from revwatch.data.keys import series_key_json, series_key_jsons
from revwatch.data.load import from_frame, load, read_table
from revwatch.data.panel import FREQUENCIES, PERIOD, Panel
from revwatch.detectors.registry import METHODS, get_detector, method_tags
from revwatch.errors import ConfigError, DeliveryError, InputError, RevwatchError
from revwatch.incidents.build import TIERS, Incident, IncidentSettings, build_incidents
from revwatch.monitor.alerts import Alert, HttpPolicy, build_channels
from revwatch.monitor.config import Config, MetricConfig, SourceConfig
from revwatch.monitor.payment_events import aggregate_events
from revwatch.monitor.runlock import RunLock
from revwatch.monitor.store import Store, utcnow
from revwatch.pipeline import Detection, analyze
from revwatch.redact import redact

logger = logging.getLogger(__name__)

__all__ = [
    "GRAIN_DAYS",
    "HealthCheck",
    "HealthReport",
    "RunFailedError",
    "RunReport",
    "health",
    "incident_settings",
    "metric_incidents",
    "open_store",
    "run",
]

#: Approximate length of one period of each grain, in days.
GRAIN_DAYS: dict[str, float] = {
    "1min": 1 / 1440,
    "5min": 5 / 1440,
    "10min": 10 / 1440,
    "15min": 15 / 1440,
    "30min": 30 / 1440,
    "hourly": 1 / 24,
    "daily": 1.0,
    "weekly": 7.0,
    "fortnightly": 14.0,
    "monthly": 31.0,
    "quarterly": 92.0,
    "yearly": 366.0,
}
CONTEXT_PERIODS = 36


class RunFailedError(RevwatchError):
    """A run finished but some metric or delivery failed (the store keeps what succeeded)."""


@dataclass
class RunReport:
    """What one run did."""

    run_id: int
    status: str = "running"
    new_periods: int = 0
    metrics_scored: int = 0
    incidents_opened: int = 0
    incidents_resolved: int = 0
    #: escalated to a higher tier (not a stored counter)
    incidents_escalated: int = 0
    #: resolved ones open again, a later step of the same move (not a stored counter)
    incidents_reopened: int = 0
    #: past incidents recorded without alerts (first run, catch-up; not a stored counter)
    incidents_recorded: int = 0
    deliveries_sent: int = 0
    deliveries_failed: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counters stored on the run row."""
        return {
            "metrics_scored": self.metrics_scored,
            "new_periods": self.new_periods,
            "incidents_opened": self.incidents_opened,
            "incidents_resolved": self.incidents_resolved,
            "deliveries_sent": self.deliveries_sent,
            "deliveries_failed": self.deliveries_failed,
        }


def _retrain_days(method: str) -> tuple[float, float | None] | None:
    """The method's retraining schedule (its class's tag); None for a method not registered."""
    return method_tags(method).retrain_days if method in METHODS else None


def open_store(config: Config) -> Store:
    """The store a config names."""
    return Store(config.store.url, schema=config.store.schema_name)


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------


def _paths(source: SourceConfig) -> list[str]:
    if source.path is None:
        raise InputError(f"source {source.name!r}: give a path (a file or a glob)")
    found = sorted(glob.glob(source.path))
    if not found:
        raise InputError(
            f"source {source.name!r}: no file matches {source.path}; check the path or glob"
        )
    return found


def _read_events(source: SourceConfig) -> pd.DataFrame:
    """The raw events of a source, read by the loader (:func:`revwatch.data.load.read_table`):
    the files of ``path`` (a glob), or ``query`` against ``url``/``url_env``."""
    if source.path is not None:
        return pd.concat([read_table(path) for path in _paths(source)], ignore_index=True)
    url = source.database_url()
    if url is None or source.query is None:
        raise InputError(
            f"source {source.name!r}: events need a path, or a url (or url_env) and a query"
        )
    try:  # the same read-only, one-statement rules as every SQL source
        return read_table(url, sql=source.query)
    except RevwatchError as exc:
        raise InputError(f"source {source.name!r}: {exc}") from None


def load_metric(config: Config, metric: MetricConfig) -> Panel:
    """Load one metric's panel from its source (no detection)."""
    source = config.source(metric.source)
    keys = list(metric.keys)
    if source.kind == "events":
        events = aggregate_events(
            _read_events(source),
            grain=source.grain,
            dimensions=keys or source.dimensions,
            timestamp=source.timestamp,
            amount=source.amount,
            status=source.status,
            currency=source.currency,
            rates=source.rates,
            source=source.name,
        )
        return from_frame(
            events,
            id=keys or list(source.dimensions),
            time=PERIOD,
            value=metric.value,
            freq=metric.grain or source.grain,
            source=source.name,
        )
    if source.kind == "sql":
        return load(
            source.database_url() or "",
            sql=source.query,
            id=keys,
            time=source.time,
            value=metric.value,
            freq=metric.grain,
        )
    paths = _paths(source)
    panels = [
        load(
            p, id=keys, time=source.time, value=metric.value, freq=metric.grain, sheet=source.sheet
        )
        for p in paths
    ]
    if len(panels) == 1:
        return panels[0]
    frame = pd.concat([p.frame for p in panels], ignore_index=True)
    return from_frame(
        frame, id=keys, time=PERIOD, value="value", freq=panels[0].freq, source=source.path or ""
    )


def _mask_confirmed(panel: Panel, labels: list[dict[str, Any]]) -> Panel:
    """Set the periods of confirmed incidents to NaN so they stay out of baselines."""
    if not labels:
        return panel
    frame = panel.frame.copy()
    keys = series_key_jsons(frame, panel.id_columns)
    masked = np.zeros(len(frame), dtype=bool)
    for label in labels:
        key = label["series_key"]
        text = key if isinstance(key, str) else series_key_json(key)
        masked |= (
            (keys == text)
            & (frame[PERIOD] >= label["start_period"]).to_numpy()
            & (frame[PERIOD] <= label["end_period"]).to_numpy()
        )
    if masked.any():
        frame.loc[masked, "value"] = np.nan
        logger.info("masked %d confirmed-incident cells out of the baselines", int(masked.sum()))
    return Panel.from_frame(
        frame,
        id_columns=panel.id_columns,
        freq=panel.freq,
        source=panel.source,
        value_name=panel.value_name,
        time_name=panel.time_name,
        notes=panel.notes,
    )


# --------------------------------------------------------------------------
# Incidents
# --------------------------------------------------------------------------


#: Tiers from least to most urgent, for escalation.
_TIER_RANK = {tier: i for i, tier in enumerate(TIERS)}


def incident_settings(metric: MetricConfig, threshold: float) -> IncidentSettings:
    """The :class:`~revwatch.incidents.build.IncidentSettings` of a metric's config.

    The deprecated ``critical_severity`` / ``warning_severity`` keys become
    the confidence ``Phi(severity - threshold)`` of the metric's detector
    (the same cut on the same peak z), ``critical_impact`` /
    ``warning_impact`` become ``critical_amount`` / ``warning_amount``.

    Examples
    --------
    >>> from revwatch.monitor.config import MetricConfig, TierConfig
    >>> m = MetricConfig(name="m", source="s", value="v",
    ...                  tiers=TierConfig(critical_severity=5.5, critical_impact=100.0))
    >>> cfg = incident_settings(m, 3.5)
    >>> round(cfg.critical_confidence, 3), cfg.critical_amount, cfg.warning_confidence
    (0.977, 100.0, 0.7)
    """
    tiers = metric.tiers
    critical, warning = tiers.critical_confidence, tiers.warning_confidence
    thr = float(threshold) if np.isfinite(threshold) else 0.0
    if tiers.critical_severity is not None:
        critical = NormalDist().cdf(float(tiers.critical_severity) - thr)
    if tiers.warning_severity is not None:
        warning = NormalDist().cdf(float(tiers.warning_severity) - thr)
    warning = min(warning, critical)
    return IncidentSettings(
        min_duration=metric.min_duration,
        critical_confidence=critical,
        warning_confidence=warning,
        info_confidence=min(tiers.info_confidence, warning),
        critical_share=tiers.critical_share,
        warning_share=tiers.warning_share,
        critical_amount=tiers.critical_amount
        if tiers.critical_amount is not None
        else tiers.critical_impact,
        warning_amount=tiers.warning_amount
        if tiers.warning_amount is not None
        else tiers.warning_impact,
        fdr=metric.fdr or None,
    )


def recent_start(last: pd.Timestamp, recent_days: float, freq: str) -> pd.Timestamp:
    """The start of a run's recent window: ``recent_days``, but at least one period of the grain.

    A new incident that ended before it (a catch-up over months) is recorded
    without alerts; the period before the newest one is always recent.

    Examples
    --------
    >>> last = pd.Timestamp("2026-06-01")
    >>> recent_start(last, 7, "daily").date(), recent_start(last, 7, "monthly").date()
    (datetime.date(2026, 5, 25), datetime.date(2026, 5, 1))
    """
    return last - pd.Timedelta(days=max(float(recent_days), GRAIN_DAYS.get(freq, 1.0)))


def metric_incidents(detection: Detection, metric: MetricConfig) -> list[Incident]:
    """The incidents of one metric: :func:`revwatch.incidents.build.build_incidents`, as everywhere.

    The same spans, tiers, impact, root cause and ids as ``revwatch detect
    --incidents`` on the same data (``--dimensions`` = the metric's
    ``dimensions``); incidents that fail the FDR control are left out.
    """
    settings = incident_settings(metric, float(detection.scores.threshold))
    found = build_incidents(
        detection,
        dimensions=metric.dimensions or None,
        settings=settings,
        name=metric.name,
        context_periods=CONTEXT_PERIODS,
        unit=metric.unit,
    )
    return found.incidents()


def _overlapping(
    row: dict[str, Any], known: dict[str, dict[str, Any]], claimed: set[str]
) -> str | None:
    """The id of a stored incident of the same series whose span overlaps this one.

    Keeps ids stable when later data moves an incident's start, and matches
    the incidents of a v3 store (whose spans split on type changes) to the
    v4 model's.
    """
    key = series_key_json(row["series_key"])
    best: tuple[dt.datetime, str] | None = None
    for ident, old in known.items():
        if ident in claimed or series_key_json(old["series_key"]) != key:
            continue
        if old["start_period"] <= row["end_period"] and old["end_period"] >= row["start_period"]:
            candidate = (old["start_period"], ident)
            if best is None or candidate < best:
                best = candidate
    return best[1] if best else None


def _suppressed(incident: dict[str, Any], benign: list[dict[str, Any]], days: float) -> bool:
    """A benign label on the same series, type and direction within the decay window."""
    key = series_key_json(incident["series_key"])
    for label in benign:
        if (
            label["series_key"] == key
            or (
                isinstance(label["series_key"], dict)
                and series_key_json(label["series_key"]) == key
            )
        ) and (label["type"], label["direction"]) == (incident["type"], incident["direction"]):
            gap = pd.Timestamp(incident["start_period"]) - pd.Timestamp(label["end_period"])
            if pd.Timedelta(0) <= gap <= pd.Timedelta(days=days) or gap < pd.Timedelta(0):
                return True
    return False


def _process_metric(config: Config, metric: MetricConfig, store: Store, report: RunReport) -> None:
    detector = get_detector(metric.method, **metric.params)
    if getattr(detector, "retrospective", False):
        raise ConfigError(
            f"{config.path}: metric {metric.name!r}: method {metric.method!r} is retrospective "
            "(it looks ahead) and cannot monitor; use auto or a causal method"
        )
    panel = load_metric(config, metric)
    if panel.frame.empty:
        raise InputError(f"metric {metric.name!r}: the source has no rows")
    confirmed = store.labels(metric=metric.name, label="confirmed")
    panel = _mask_confirmed(panel, confirmed)
    last = pd.Timestamp(panel.frame[PERIOD].max())
    mark = store.watermark(metric.name)
    if mark is not None and last <= pd.Timestamp(mark):
        logger.info("metric %s: nothing after %s", metric.name, mark)
        return
    detection = analyze(panel, method=metric.method, **metric.params)
    rows = detection.results(all_rows=True, details=True)
    fresh = rows if mark is None else rows[rows[PERIOD] > pd.Timestamp(mark)]
    report.new_periods += int(fresh[PERIOD].nunique())
    report.metrics_scored += 1
    if config.store.features_dir:
        _write_features(fresh, detection, metric, Path(config.store.features_dir))
    summary = [
        {
            "metric": metric.name,
            "period": pd.Timestamp(cast(Any, period)).to_pydatetime(),
            "run_id": report.run_id,
            "n_series": len(part),
            "n_flagged": int((part["type"] != "normal").sum()),
            "mean_score": _finite(np.nanmean(np.abs(part["score"].to_numpy(dtype=float)))),
            "p95_score": _finite(np.nanpercentile(np.abs(part["score"].to_numpy(dtype=float)), 95)),
        }
        for period, part in fresh.groupby(PERIOD, sort=True)
        if np.isfinite(part["score"].to_numpy(dtype=float)).any()
    ]
    incidents = metric_incidents(detection, metric)
    mat = detection.panel.matrix()
    observed = ~np.isnan(mat.values)
    last_pos = np.where(
        observed.any(axis=1), observed.shape[1] - 1 - np.argmax(observed[:, ::-1], axis=1), -1
    )
    key_pos = {k: i for i, k in enumerate(series_key_jsons(mat.keys, detection.panel.id_columns))}
    period_pos = {p: i for i, p in enumerate(mat.periods)}
    newest = int(last_pos.max()) if len(last_pos) else -1
    benign = store.labels(metric=metric.name, label="benign")
    confirmed_ids = {lab["incident_id"] for lab in confirmed}
    first_run = mark is None
    routing = metric.routing or config.routing
    recent = recent_start(last, config.alerts.recent_days, detection.panel.freq)
    with store.begin() as conn:
        known = {r["incident_id"]: r for r in store.incidents(metric=metric.name, conn=conn)}
        seen: set[str] = set()
        for incident in incidents:
            inc = incident.store_row()
            if inc["incident_id"] not in known:
                matched = _overlapping(inc, known, seen)
                if matched is not None:
                    logger.info(
                        "incident %s keeps the stored id %s (overlapping span)",
                        inc["incident_id"],
                        matched,
                    )
                    inc["incident_id"] = matched
            ident = inc["incident_id"]
            if ident in seen:  # two incidents of one series matched one stored id
                continue
            seen.add(ident)
            key = series_key_json(inc["series_key"])
            row = key_pos.get(key) if incident.level == "series" else None
            series_last = last_pos[row] if row is not None else newest
            end_pos = period_pos.get(pd.Timestamp(inc["end_period"]), -1)
            active = series_last - end_pos < metric.active_periods
            alerting = incident.direction in metric.directions
            channels = routing.channels(inc["tier"] if alerting else "info")
            in_window = active or pd.Timestamp(inc["end_period"]) >= recent
            old = known.get(ident)
            if old is not None and _reopens(old, inc, alerting=alerting, in_window=in_window):
                # a later step of the same move (the incident model joined it: the series never
                # came back) after the incident was resolved: open it again and say so (one
                # recorded as history was never announced: it opens now)
                reopen = (
                    "open"
                    if old.get("resolution") == "history"
                    else f"reopen:{store.reopen_count(ident, conn=conn) + 1}"
                )
                inc.update(
                    status="open",
                    alerted_tier=inc["tier"],
                    resolved_at=None,
                    resolution=None,
                    resolved_run=None,
                    last_seen_run=report.run_id,
                )
                store.save_incident(conn, inc)
                store.enqueue(conn, ident, reopen, channels, run_id=report.run_id)
                report.incidents_reopened += reopen != "open"
                report.incidents_opened += reopen == "open"
                if not active:
                    _resolve(store, conn, ident, report)
                continue
            if old is not None:
                inc["status"] = old["status"]
                inc["last_seen_run"] = report.run_id
                was = old.get("alerted_tier")
                if (
                    old["status"] != "resolved"
                    and not old["suppressed"]
                    and alerting
                    and in_window
                    and was is not None
                    and inc["tier"] in ("warning", "critical")
                    and _TIER_RANK.get(inc["tier"], 0) > _TIER_RANK.get(was, 0)
                ):
                    inc.update(alerted_tier=inc["tier"], escalated_run=report.run_id)
                    store.save_incident(conn, inc)
                    store.enqueue(conn, ident, f"esc:{inc['tier']}", channels, run_id=report.run_id)
                    report.incidents_escalated += 1
                else:
                    store.save_incident(conn, inc)
                if old["status"] != "resolved" and not active:
                    _resolve(store, conn, ident, report)
                continue
            inc.update(first_seen_run=report.run_id, last_seen_run=report.run_id)
            if not active and (first_run or not in_window):
                # before the first run, or ended before the recent window of a catch-up
                inc.update(
                    status="resolved",
                    resolution="history",
                    resolved_at=utcnow(),
                    resolved_run=report.run_id,
                )
                store.save_incident(conn, inc)
                report.incidents_recorded += 1
                continue
            inc["suppressed"] = _suppressed(inc, benign, config.feedback.suppress_days)
            inc["status"] = "open"
            if not inc["suppressed"]:
                inc["alerted_tier"] = inc["tier"]
            store.save_incident(conn, inc)
            report.incidents_opened += 1
            if not inc["suppressed"]:
                store.enqueue(conn, ident, "open", channels, run_id=report.run_id)
            if not active:
                _resolve(store, conn, ident, report)
        for old_id, old in known.items():
            if old_id in seen or old["status"] == "resolved" or old_id in confirmed_ids:
                continue
            if pd.Timestamp(old["end_period"]) < last:
                _resolve(store, conn, old_id, report)
        store.write_scores(conn, summary)
        store.record_model(
            conn,
            metric=metric.name,
            method=detection.method,
            trained_at=utcnow(),
            train_start=pd.Timestamp(mat.periods[0]).to_pydatetime(),
            train_end=last.to_pydatetime(),
            n_periods=len(mat.periods),
        )
        store.set_watermark(conn, metric.name, last.to_pydatetime(), report.run_id)
    logger.info("metric %s: scored up to %s", metric.name, last.date())


def _reopens(old: dict[str, Any], inc: dict[str, Any], *, alerting: bool, in_window: bool) -> bool:
    """Whether a stored, resolved incident is open again: it now ends later (a new step).

    Not a suppressed one, nor one in a direction the metric does not alert on, nor outside
    the recent window (a catch-up over old data extends it silently).
    """
    if old["status"] != "resolved" or old.get("suppressed") or not (alerting and in_window):
        return False
    return bool(pd.Timestamp(inc["end_period"]) > pd.Timestamp(old["end_period"]))


def _resolve(store: Store, conn: Any, incident_id_: str, report: RunReport) -> None:
    store.set_status(incident_id_, "resolved", resolution="auto", conn=conn, run_id=report.run_id)
    report.incidents_resolved += 1


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _write_features(
    rows: pd.DataFrame, detection: Detection, metric: MetricConfig, folder: Path
) -> None:
    """Append the new periods' scores to the date-partitioned Parquet feature store.

    File names are derived from the metric and the period range, so a re-run
    after a crash overwrites the same files instead of duplicating rows.
    """
    if rows.empty:
        return
    import pyarrow as pa
    import pyarrow.dataset as ds

    frame = rows.copy()
    frame.insert(0, "metric", metric.name)
    frame["series_key"] = series_key_jsons(frame, detection.panel.id_columns)
    frame = frame.drop(columns=list(detection.panel.id_columns))
    frame["date"] = pd.to_datetime(frame[PERIOD]).dt.strftime("%Y-%m-%d")
    for column in ("type", "direction", "method", "metric", "series_key", "date"):
        frame[column] = frame[column].astype(object).astype(str)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    first = pd.Timestamp(frame[PERIOD].min()).strftime("%Y%m%dT%H")
    final = pd.Timestamp(frame[PERIOD].max()).strftime("%Y%m%dT%H")
    ds.write_dataset(
        table,
        folder,
        format="parquet",
        partitioning=ds.partitioning(
            pa.schema([("metric", pa.string()), ("date", pa.string())]), flavor="hive"
        ),
        basename_template=f"{metric.name}-{first}-{final}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
    )


# --------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------


@dataclass
class _ChannelOutcome:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def deliver_pending(
    config: Config,
    store: Store,
    report: RunReport,
    *,
    channels: dict[str, Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send every pending ledger row (see the module notes for the semantics).

    Each channel delivers in its own worker thread with its own time budget
    (``alerts.channel_budget_seconds``), so a dead or hanging endpoint never
    delays another channel. A permanent error (4xx other than 408/429, a
    malformed URL) marks the row ``failed``; a transient one (timeout, 408,
    429, 5xx) is retried with backoff inside the budget, after which that
    channel's remaining rows stay ``pending`` for the next run.
    """
    rows = store.deliveries(status=["pending", "sending"])
    if not rows:
        return
    if config.alerts.in_doubt == "skip":
        doubt = [r["id"] for r in rows if r["status"] == "sending"]
        if doubt:
            store.mark_delivery(doubt, "skipped", "in doubt after a crash; skipped (in_doubt=skip)")
            rows = [r for r in rows if r["status"] != "sending"]
    broken: dict[str, str] = {}
    if channels is None:
        channels = build_channels(config.alerts, sleep=sleep, errors=broken)
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_channel.setdefault(row["channel"], []).append(row)
    deadline = time.monotonic() + float(getattr(config.alerts, "channel_budget_seconds", 120.0))
    jobs: list[tuple[str, Any, list[dict[str, Any]]]] = []
    for name, items in by_channel.items():
        ids = [r["id"] for r in items]
        if name in broken:  # its config is broken: keep the rows queued, say why
            store.mark_delivery(ids, "pending", broken[name])
            report.errors.append(broken[name])
            continue
        channel = channels.get(name)
        if channel is None:
            store.mark_delivery(ids, "failed", f"no [alerts.{name}] table")
            report.deliveries_failed += len(items)
            report.errors.append(f"{name}: no [alerts.{name}] table in the config")
            continue
        policy = getattr(channel, "policy", None)
        if isinstance(policy, HttpPolicy):
            channel.policy = dataclasses.replace(policy, deadline=deadline)
        jobs.append((name, channel, items))
    if not jobs:
        return
    if len(jobs) == 1 or store.in_memory:  # an in-memory SQLite store is per thread
        outcomes = [_deliver_channel(config, store, *job) for job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="revwatch-send") as pool:
            outcomes = list(pool.map(lambda job: _deliver_channel(config, store, *job), jobs))
    for outcome in outcomes:
        report.deliveries_sent += outcome.sent
        report.deliveries_failed += outcome.failed
        report.errors.extend(outcome.errors)


def _deliver_channel(
    config: Config, store: Store, name: str, channel: Any, items: list[dict[str, Any]]
) -> _ChannelOutcome:
    """One channel's rows, in order; stops at the first transient failure."""
    outcome = _ChannelOutcome()
    alerts = []
    for row in items:
        incident = store.incident(row["incident_id"])
        known = incident or {"incident_id": row["incident_id"]}
        alerts.append((row, Alert(incident=known, state=row["state"])))
    digest = config.alerts.digest and channel.digest_capable
    batches = [alerts] if digest else [[a] for a in alerts]
    for done, batch in enumerate(batches):
        ids = [row["id"] for row, _ in batch]
        store.mark_delivery(ids, "sending")
        try:
            channel.send([alert for _, alert in batch])
        except DeliveryError as exc:
            message = redact(exc)
            if getattr(exc, "permanent", False):
                store.mark_delivery(ids, "failed", message)
                outcome.failed += len(ids)
                outcome.errors.append(message)
                continue
            store.mark_delivery(ids, "pending", message)
            left = sum(len(b) for b in batches[done + 1 :])
            queued = f"; {left} more {name} alerts left queued for the next run" if left else ""
            outcome.errors.append(message + queued)
            break
        store.mark_delivery(ids, "sent")
        outcome.sent += len(ids)
    return outcome


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------


def run(
    config: Config,
    *,
    store: Store | None = None,
    channels: dict[str, Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunReport:
    """One idempotent run over everything the config names.

    Parameters
    ----------
    config : Config
        The validated config.
    store : Store, optional
        Defaults to the store the config names.
    channels : dict, optional
        Channel objects by name (defaults: built from the config and the
        environment).
    sleep : callable
        How retries wait.

    Returns
    -------
    RunReport

    Raises
    ------
    RunFailedError
        After the run is recorded, when a metric or delivery failed; what
        succeeded stays stored and pending deliveries are retried next run.
    RunLockedError
        Another run over the same store is in progress (nothing was done).
    """
    store = store or open_store(config)
    with RunLock(store):  # a second overlapping run stops here (exit 2), sending nothing
        return _locked_run(config, store, channels, sleep)


def _locked_run(
    config: Config,
    store: Store,
    channels: dict[str, Any] | None,
    sleep: Callable[[float], None],
) -> RunReport:
    report = RunReport(run_id=store.start_run(config.path))
    try:
        for metric in config.metrics:
            try:
                _process_metric(config, metric, store, report)
            except RevwatchError as exc:
                logger.error("metric %s: %s", metric.name, exc)
                report.errors.append(f"metric {metric.name!r}: {exc}")
        try:
            deliver_pending(config, store, report, channels=channels, sleep=sleep)
        except ConfigError as exc:
            report.errors.append(str(exc))
    except Exception as exc:
        store.finish_run(
            report.run_id, "failed", error=redact(f"{type(exc).__name__}: {exc}"), **report.counts()
        )
        raise
    if report.errors:
        report.status = "failed"
    elif report.new_periods == 0 and report.deliveries_sent == 0:
        report.status = "empty"
    else:
        report.status = "ok"
    store.finish_run(
        report.run_id, report.status, error="; ".join(report.errors) or None, **report.counts()
    )
    if report.errors:
        more = f" (+{len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
        raise RunFailedError(f"run {report.run_id} failed: {report.errors[0]}{more}")
    return report


# --------------------------------------------------------------------------
# Monitor the monitor
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthCheck:
    """One finding of :func:`health`: ``status`` is ok, warning or critical."""

    name: str
    status: str
    detail: str


@dataclass
class HealthReport:
    """Checks plus the weekly score distribution per metric."""

    checks: list[HealthCheck]
    weekly: pd.DataFrame

    @property
    def status(self) -> str:
        """The worst status of the checks."""
        order = {"ok": 0, "warning": 1, "critical": 2}
        worst = max((order[c.status] for c in self.checks), default=0)
        return {v: k for k, v in order.items()}[worst]


def weekly_scores(store: Store) -> pd.DataFrame:
    """Per metric and week: mean and p95 of the anomaly scores (from the score summary).

    The weekly mean weights each period by its series; the weekly p95 is the
    largest per-period p95 of the week (an upper bound of the exact p95,
    which the Parquet feature store can give).
    """
    frame = pd.DataFrame(store.scores())
    if frame.empty:
        return pd.DataFrame(columns=["metric", "week", "mean", "p95", "periods"])
    frame["week"] = pd.to_datetime(frame["period"]).dt.to_period("W-SUN").dt.start_time
    frame["weighted"] = frame["mean_score"] * frame["n_series"]
    out = (
        frame.groupby(["metric", "week"], sort=True)
        .agg(
            weighted=("weighted", "sum"),
            n=("n_series", "sum"),
            p95=("p95_score", "max"),
            periods=("period", "count"),
        )
        .reset_index()
    )
    out["mean"] = out["weighted"] / out["n"]
    return out[["metric", "week", "mean", "p95", "periods"]]


def health(
    store: Store,
    config: Config | None = None,
    *,
    now: dt.datetime | None = None,
    stale_factor: float = 2.0,
    drift_weeks: int = 4,
) -> HealthReport:
    """Check the monitor itself (seed 001's "monitor the monitor").

    * score distribution per week (mean, p95) and its drift: the mean of the
      last ``drift_weeks`` weeks against the weeks before, in units of their
      spread (> 3: warning, the model is losing calibration; retrain);
    * stale sources: no new period for more than ``stale_factor`` x grain
      (critical);
    * runs that failed, crashed or produced nothing;
    * model age against seed 001's schedule (the ``retrain_days`` tag of the
      method's class, :func:`~revwatch.detectors.registry.method_tags`: Isolation
      Forest weekly on 90 days, Prophet monthly); statistical methods refit
      on every run.

    Parameters
    ----------
    store : Store
    config : Config, optional
        Gives each metric's grain (else inferred from its scored periods).
    now : datetime, optional
        The reference time (UTC); defaults to now.
    """
    now = now or utcnow()
    checks: list[HealthCheck] = []
    weekly = weekly_scores(store)
    for metric, part in weekly.groupby("metric", sort=True):
        means = part["mean"].to_numpy(dtype=float)
        if len(means) >= drift_weeks * 3:
            recent, prior = means[-drift_weeks:], means[:-drift_weeks]
            spread = float(np.nanstd(prior)) or 1e-9
            shift = (float(np.nanmean(recent)) - float(np.nanmean(prior))) / spread
            status = "warning" if abs(shift) > 3 else "ok"
            checks.append(
                HealthCheck(
                    f"drift:{metric}",
                    status,
                    f"mean score of the last {drift_weeks} weeks is {shift:+.1f} spreads "
                    "from before" + ("; retrain or review the model" if status != "ok" else ""),
                )
            )
        else:
            checks.append(
                HealthCheck(
                    f"drift:{metric}", "ok", f"{len(means)} weeks scored; too few to judge drift"
                )
            )
    grains = {m.name: (m.grain or "") for m in config.metrics} if config else {}
    summaries = pd.DataFrame(store.scores())
    for metric, mark in sorted(store.watermarks().items()):
        grain = grains.get(metric) or _infer_grain(summaries, metric)
        days = GRAIN_DAYS.get(grain, 1.0)
        age = now - (pd.Timestamp(mark["last_period"]).to_pydatetime() + dt.timedelta(days=days))
        age_days = age.total_seconds() / 86400
        stale = age_days > stale_factor * days
        checks.append(
            HealthCheck(
                f"freshness:{metric}",
                "critical" if stale else "ok",
                f"last period {pd.Timestamp(mark['last_period'])} ({grain or 'unknown grain'}); "
                + (
                    f"{age_days:.1f} days since it closed"
                    if age_days >= 0
                    else f"it closes {-age_days:.1f} days after the reference time"
                )
                + (
                    f", more than {stale_factor:g} x the grain: the source stopped updating"
                    if stale
                    else ""
                ),
            )
        )
    runs = store.runs(limit=20)
    bad = [r for r in runs if r["status"] in {"failed", "crashed"}]
    if (
        runs
        and all(r["status"] in {"failed", "crashed", "empty"} for r in runs[:3])
        and len(runs) >= 3
    ):
        checks.append(HealthCheck("runs", "critical", "the last 3 runs failed or produced nothing"))
    elif bad:
        checks.append(
            HealthCheck(
                "runs",
                "warning",
                f"{len(bad)} of the last {len(runs)} runs failed or crashed (latest: run "
                f"{bad[0]['id']}: {bad[0]['error'] or bad[0]['status']})",
            )
        )
    else:
        checks.append(
            HealthCheck(
                "runs",
                "ok" if runs else "warning",
                f"{len(runs)} recent runs" if runs else "no runs yet",
            )
        )
    checks.extend(_delivery_checks(store))
    for model in store.models():
        schedule = _retrain_days(str(model["method"]))
        age_days = (
            (now - model["trained_at"]).total_seconds() / 86400
            if model["trained_at"]
            else float("inf")
        )
        if age_days < 0:  # --now before the fit: judge it as just fitted, and say so
            checks.append(
                HealthCheck(
                    f"model:{model['metric']}",
                    "ok",
                    f"{model['method']} was fitted on {model['trained_at']:%Y-%m-%d %H:%M}, "
                    f"{-age_days:.1f} days after the reference time {now:%Y-%m-%d %H:%M}",
                )
            )
            continue
        if schedule is None:
            checks.append(
                HealthCheck(
                    f"model:{model['metric']}",
                    "ok",
                    f"{model['method']} refits on every run; last fit {age_days:.1f} days ago",
                )
            )
            continue
        every, window = schedule
        status = "warning" if age_days > every else "ok"
        note = (
            f"{model['method']} last trained {age_days:.1f} days ago; schedule every {every:g} days"
        )
        if window is not None:
            note += f" on a {window:g}-day window"
        checks.append(
            HealthCheck(
                f"model:{model['metric']}",
                status,
                note + ("; retrain now" if status != "ok" else ""),
            )
        )
    return HealthReport(checks=checks, weekly=weekly)


def _delivery_checks(store: Store) -> list[HealthCheck]:
    """Per channel: alerts refused for good (fix the config) and alerts still waiting."""
    checks = []
    ledger = store.deliveries(status=["failed", "pending"])
    for channel in sorted({d["channel"] for d in ledger}):
        mine = [d for d in ledger if d["channel"] == channel]
        failed = [d for d in mine if d["status"] == "failed"]
        waiting = [d for d in mine if d["status"] == "pending" and d["last_error"]]
        if failed:
            checks.append(
                HealthCheck(
                    f"delivery:{channel}",
                    "critical",
                    f"{len(failed)} alerts refused for good, not retried (latest: "
                    f"{redact(failed[-1]['last_error'] or 'unknown error')}); fix the channel's "
                    "config, then re-queue or resolve them",
                )
            )
        if waiting:
            checks.append(
                HealthCheck(
                    f"delivery:{channel}",
                    "warning",
                    f"{len(waiting)} alerts waiting for the next run after errors (latest: "
                    f"{redact(waiting[-1]['last_error'])})",
                )
            )
    return checks


def _infer_grain(summaries: pd.DataFrame, metric: str) -> str:
    if summaries.empty:
        return "daily"
    periods = pd.to_datetime(summaries.loc[summaries["metric"] == metric, "period"]).sort_values()
    if len(periods) < 2:
        return "daily"
    step = float(periods.diff().median().total_seconds()) / 86400
    return min(GRAIN_DAYS, key=lambda g: abs(np.log(max(step, 1e-6)) - np.log(GRAIN_DAYS[g])))


_ = FREQUENCIES  # the grains of GRAIN_DAYS are the keys of FREQUENCIES
