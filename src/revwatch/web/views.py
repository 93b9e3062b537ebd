"""What the review pages, the JSON API and the HTML report show, without any web framework.

Everything here reads the :class:`~revwatch.monitor.store.Store` and returns plain
dicts, lists and PNG bytes, so :mod:`revwatch.web.app`,
:mod:`revwatch.web.http_api` and :mod:`revwatch.report.html` show the same numbers
and rank incidents the same way:

* :func:`filter_incidents` applies the list filters (tier, type, status,
  metric, date range, series text) and :func:`rank_incidents` sorts open
  incidents first, then acknowledged, then resolved, each by money impact
  (largest absolute first).
* :func:`incident_detail` gathers one incident with its delivery and
  feedback history, the series around it (the ``context`` the monitor
  stores), an impact range, root-cause lines and calendar annotations.
* the chart of an incident is :func:`revwatch.report.chart.incident_chart_png` (the one chart
  implementation), on axes in the incident's unit (:func:`unit_of`).

Examples
--------
>>> money(-12345.6)
'−$12,346'
>>> money(1_250_000, compact=True)
'$1.25M'
>>> rows = [
...     {"status": "resolved", "impact": -900.0, "incident_id": "a"},
...     {"status": "open", "impact": 50.0, "incident_id": "b"},
...     {"status": "open", "impact": -400.0, "incident_id": "c"},
... ]
>>> [r["incident_id"] for r in rank_incidents(rows)]
['c', 'b', 'a']
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from revwatch.data.keys import series_key_text
from revwatch.data.panel import STEP_SECONDS, SUB_DAILY
from revwatch.errors import ParameterError
from revwatch.monitor.store import INCIDENT_STATES, LABELS, Store
from revwatch.report.context import context_frame
from revwatch.units import Unit, format_amount

logger = logging.getLogger(__name__)

__all__ = [
    "TIER_ORDER",
    "IncidentFilter",
    "amount",
    "context_frame",
    "filter_incidents",
    "health_summary",
    "incident_detail",
    "money",
    "public_incident",
    "rank_incidents",
    "search_series",
    "unit_of",
    "unit_totals",
]

#: Tiers from most to least urgent.
TIER_ORDER: tuple[str, ...] = ("critical", "warning", "info")
_STATUS_RANK = {state: i for i, state in enumerate(INCIDENT_STATES)}
_MINUS = "\u2212"


def money(value: float | None, *, currency: str = "$", compact: bool = False) -> str:
    """Format an amount of money: ``$12,346``, or ``$12.3k`` when ``compact``.

    :func:`revwatch.units.format_amount` with a money unit written after
    ``currency`` (``"€"``, ``"CHF "`` ...); None or NaN gives ``"–"``.

    Examples
    --------
    >>> money(0.0), money(None), money(999.4, currency="€")
    ('$0', '–', '€999')
    >>> money(-1234.0, compact=True), money(56_789, compact=True)
    ('−$1.23k', '$56.8k')
    >>> [money(v, compact=True) for v in (0, 1, 999, 1_000, 300_000, 1_500_000, -300_000)]
    ['$0', '$1', '$999', '$1k', '$300k', '$1.5M', '−$300k']
    """
    return format_amount(value, Unit("money", None, symbol=currency), compact=compact)


def unit_of(row: dict[str, Any] | str | None, *, currency: str = "$") -> Unit:
    """The unit of an incident row (or unit text); rows of v3 stores are money in ``currency``.

    Examples
    --------
    >>> unit_of({"unit": "count"}).kind, unit_of(None, currency="€").prefix
    ('count', '€')
    """
    text = row.get("unit") if isinstance(row, dict) else row
    if not text:
        return Unit("money", None, symbol=currency)
    return Unit.parse(str(text))


def amount(
    value: float | None, unit: str | None = None, *, currency: str = "$", compact: bool = False
) -> str:
    """An amount in an incident's unit (the pages' and report's ``amount`` filter).

    Examples
    --------
    >>> amount(1152.0, "count"), amount(-300_000, "money:EUR", compact=True), amount(5, None)
    ('1,152', '−€300k', '$5')
    """
    return format_amount(value, unit_of(unit, currency=currency), compact=compact)


def unit_totals(rows: Iterable[dict[str, Any]], *, currency: str = "$") -> list[dict[str, Any]]:
    """Signed impact sums per additive unit, as ``{"unit", "total", "text"}`` (never across units).

    Examples
    --------
    >>> [t["text"] for t in unit_totals([{"impact": -5.0, "unit": "count"},
    ...                                  {"impact": 300_000.0}, {"impact": 0.2, "unit": "ratio"}])]
    ['$300k', '−5']
    """
    sums: dict[str, float] = {}
    for row in rows:
        unit = unit_of(row, currency=currency)
        value = row.get("impact")
        if not unit.additive or value is None or not math.isfinite(float(value)):
            continue
        key = str(row.get("unit") or "")
        sums[key] = sums.get(key, 0.0) + float(value)
    return [
        {
            "unit": key,
            "total": total,
            "text": amount(total, key or None, currency=currency, compact=True),
        }
        for key, total in sorted(
            sums.items(), key=lambda kv: (kv[0] not in ("", "money:USD"), kv[0])
        )
    ]


def _as_date(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ParameterError(f"{value!r} is not a date; write it as YYYY-MM-DD") from None


@dataclass(frozen=True)
class IncidentFilter:
    """The filters of the incident list (every field optional).

    Parameters
    ----------
    tier, type, status, metric : str, optional
        Exact values (``status`` is open, acknowledged or resolved).
    since, until : date or str, optional
        Keep incidents whose span ``[start, end]`` overlaps ``[since, until]``.
    q : str, optional
        Case-insensitive text that the series key or metric must contain.
    """

    tier: str | None = None
    type: str | None = None
    status: str | None = None
    metric: str | None = None
    since: dt.datetime | str | None = None
    until: dt.datetime | str | None = None
    q: str | None = None

    def validated(self) -> IncidentFilter:
        """A copy with empty strings as None and dates parsed; bad values raise ParameterError."""
        status = self.status or None
        if status is not None and status not in INCIDENT_STATES:
            raise ParameterError(f"status {status!r} must be one of {', '.join(INCIDENT_STATES)}")
        tier = self.tier or None
        if tier is not None and tier not in TIER_ORDER:
            raise ParameterError(f"tier {tier!r} must be one of {', '.join(TIER_ORDER)}")
        return IncidentFilter(
            tier=tier,
            type=self.type or None,
            status=status,
            metric=self.metric or None,
            since=_as_date(self.since),
            until=_as_date(self.until),
            q=(self.q or "").strip() or None,
        )


def filter_incidents(
    rows: Iterable[dict[str, Any]], selection: IncidentFilter
) -> list[dict[str, Any]]:
    """The incidents that pass every filter of ``selection``.

    Examples
    --------
    >>> rows = [
    ...     {"tier": "critical", "type": "drop", "status": "open", "metric": "mrr",
    ...      "series_key": {"account": "Apex"}, "start_period": dt.datetime(2026, 1, 1),
    ...      "end_period": dt.datetime(2026, 2, 1)},
    ... ]
    >>> len(filter_incidents(rows, IncidentFilter(q="apex", since="2026-02-01")))
    1
    >>> len(filter_incidents(rows, IncidentFilter(until="2025-12-31")))
    0
    """
    sel = selection.validated()
    out = []
    needle = sel.q.lower() if sel.q else None
    for row in rows:
        if sel.tier and row.get("tier") != sel.tier:
            continue
        if sel.type and row.get("type") != sel.type:
            continue
        if sel.status and row.get("status") != sel.status:
            continue
        if sel.metric and row.get("metric") != sel.metric:
            continue
        if sel.since and row["end_period"] < sel.since:
            continue
        if sel.until and row["start_period"] > sel.until:
            continue
        searched = f"{series_key_text(row.get('series_key'))} {row.get('metric', '')}"
        if needle and needle not in searched.lower():
            continue
        out.append(row)
    return out


def _impact_size(row: dict[str, Any]) -> float:
    value = row.get("impact")
    if value is None or not math.isfinite(float(value)):
        return 0.0
    return abs(float(value))


def rank_incidents(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open first, then acknowledged, then resolved; within each, largest money impact first."""
    return sorted(
        rows,
        key=lambda r: (
            _STATUS_RANK.get(str(r.get("status")), len(_STATUS_RANK)),
            -_impact_size(r),
            str(r.get("incident_id")),
        ),
    )


def public_incident(row: dict[str, Any]) -> dict[str, Any]:
    """An incident row without its stored chart context (for lists and the API)."""
    return {k: v for k, v in row.items() if k != "context"}


# --------------------------------------------------------------------------
# One incident
# --------------------------------------------------------------------------


def _grain(frame: pd.DataFrame) -> str:
    """The grain of a context frame from its median period spacing."""
    if len(frame) < 2:
        return "daily"
    days = pd.Timedelta(frame["period"].diff().median()).total_seconds() / 86400
    if days < 0.5:  # the step shorter than a day nearest to the spacing
        return min(
            SUB_DAILY, key=lambda name: abs(np.log(max(days, 1e-9) * 86400 / STEP_SECONDS[name]))
        )
    for name, limit in (("daily", 3), ("weekly", 10), ("fortnightly", 20), ("monthly", 60)):
        if days < limit:
            return name
    return "quarterly" if days < 200 else "yearly"


def _stored(incident: dict[str, Any], name: str) -> Any:
    """A field kept on the incident row or inside a dict-shaped ``context``."""
    if incident.get(name) is not None:
        return incident[name]
    context = incident.get("context")
    return context.get(name) if isinstance(context, dict) else None


def _impact_range(incident: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    """The impact with its interval (stored) or its range against the band edges."""
    low, high = _stored(incident, "impact_low"), _stored(incident, "impact_high")
    if low is not None and high is not None:
        return {"low": float(low), "high": float(high), "kind": "interval"}
    span = frame[frame["type"] != "normal"]
    ok = span[["value", "lower", "upper"]].notna().all(axis=1)
    if span.empty or not ok.any():
        return {"low": None, "high": None, "kind": "none"}
    # The normal value was anywhere inside the band: the impact lies between
    # "actual minus the upper edge" and "actual minus the lower edge".
    low_v = float((span.loc[ok, "value"] - span.loc[ok, "upper"]).sum())
    high_v = float((span.loc[ok, "value"] - span.loc[ok, "lower"]).sum())
    return {"low": min(low_v, high_v), "high": max(low_v, high_v), "kind": "band"}


def _series_lines(incident: dict[str, Any], frame: pd.DataFrame, currency: str) -> list[str]:
    """What the series did against its band (in its unit): a description, not a root cause.

    The root cause is the incident model's (stored by the monitor); these
    lines describe the stored chart context for incidents without one.
    """
    unit = unit_of(incident, currency=currency)

    def fmt(v: float) -> str:
        return format_amount(v, unit)

    span = frame[frame["type"] != "normal"].dropna(subset=["value", "baseline"])
    if span.empty:
        return []
    gap = (span["value"] - span["baseline"]).abs()
    peak = span.iloc[int(np.argmax(gap.to_numpy()))]
    lines = []
    pct = (
        (peak["value"] - peak["baseline"]) / abs(peak["baseline"]) * 100
        if peak["baseline"]
        else float("nan")
    )
    when = pd.Timestamp(peak["period"]).strftime("%Y-%m-%d")
    text = (
        f"Largest gap on {when}: {fmt(peak['value'])} against a baseline of {fmt(peak['baseline'])}"
    )
    if math.isfinite(pct):
        text += f" ({'+' if pct >= 0 else _MINUS}{abs(pct):.1f} %)"
    lines.append(text + ".")
    if math.isfinite(peak["lower"]) and math.isfinite(peak["upper"]):
        edge = peak["lower"] if peak["value"] < peak["lower"] else peak["upper"]
        if peak["value"] < peak["lower"] or peak["value"] > peak["upper"]:
            lines.append(
                f"It left the normal band ({fmt(peak['lower'])} to "
                f"{fmt(peak['upper'])}) by "
                f"{fmt(abs(peak['value'] - edge))}."
            )
        else:
            lines.append("It stayed inside the normal band; the pattern, not the level, is new.")
    before = frame[frame["period"] < pd.Timestamp(incident["start_period"])].dropna(
        subset=["value"]
    )
    if len(before) >= 3:
        recent = before["value"].tail(3).mean()
        lines.append(f"The three periods before averaged {fmt(recent)}.")
    return lines


def _related(store: Store, incident: dict[str, Any]) -> list[dict[str, Any]]:
    """Other incidents of the same metric whose span overlaps this one."""
    out = []
    for row in store.incidents(metric=incident["metric"]):
        if row["incident_id"] == incident["incident_id"]:
            continue
        if (
            row["start_period"] <= incident["end_period"]
            and row["end_period"] >= incident["start_period"]
        ):
            out.append(public_incident(row))
    return rank_incidents(out)[:10]


def incident_detail(
    store: Store,
    incident_id: str,
    *,
    currency: str = "$",
    country: str | None = None,
) -> dict[str, Any] | None:
    """Everything the incident page shows, or None when there is no such incident.

    Parameters
    ----------
    store : Store
    incident_id : str
        The id, or a unique prefix of at least 6 characters.
    currency : str, default "$"
        Symbol used in the derived text lines.
    country : str, optional
        Country code for public-holiday annotations.

    Returns
    -------
    dict or None
        The incident row (without ``context``) plus ``deliveries``,
        ``labels``, ``series`` (the context frame as records), ``impact_low``
        / ``impact_high`` / ``impact_kind`` (``interval`` when the monitor
        stored one, ``band`` when derived from the normal band, ``none``),
        ``root_cause`` (the incident model's lines, as stored), ``series_lines``
        (what the series did against its band), ``annotations`` and ``related``.
    """
    row = store.incident(incident_id)
    if row is None:
        return None
    frame = context_frame(row)
    detail = public_incident(row)
    ident = row["incident_id"]
    detail["deliveries"] = store.deliveries(incident_id=ident)
    detail["labels"] = [r for r in store.labels(metric=row["metric"]) if r["incident_id"] == ident]
    impact = _impact_range(row, frame)
    detail.update(impact_low=impact["low"], impact_high=impact["high"], impact_kind=impact["kind"])
    detail["root_cause"] = [str(line) for line in (_stored(row, "root_cause") or [])]
    detail["series_lines"] = _series_lines(row, frame, currency)
    notes = list(_stored(row, "annotations") or [])
    computed = _annotations(row, frame, country)
    detail["annotations"] = list(dict.fromkeys([*notes, *computed]))
    detail["related"] = _related(store, row)
    detail["series"] = [
        {
            "period": p.isoformat(),
            **{
                k: (None if not math.isfinite(v) else float(v))
                for k, v in zip(("value", "baseline", "lower", "upper"), vals, strict=True)
            },
        }
        for p, *vals in zip(
            frame["period"],
            frame["value"],
            frame["baseline"],
            frame["lower"],
            frame["upper"],
            strict=True,
        )
    ]
    detail["grain"] = _grain(frame)
    return detail


def _annotations(row: dict[str, Any], frame: pd.DataFrame, country: str | None) -> list[str]:
    from revwatch.incidents.annotations import annotate_windows

    try:
        notes = annotate_windows(
            pd.Series([pd.Timestamp(row["start_period"])]),
            pd.Series([pd.Timestamp(row["end_period"])]),
            freq=_grain(frame),
            country=country,
        )
    except ParameterError as exc:
        logger.warning("no calendar annotations: %s", exc)
        return []
    return notes[0]


# --------------------------------------------------------------------------
# Series search, runs and health
# --------------------------------------------------------------------------


def search_series(rows: Iterable[dict[str, Any]], text: str | None) -> list[dict[str, Any]]:
    """Series (metric + key) with incidents, matching ``text``, most impact first.

    Examples
    --------
    >>> rows = [{"metric": "mrr", "series_key": {"account": "Apex"}, "status": "open",
    ...          "impact": -5.0, "incident_id": "a", "start_period": dt.datetime(2026, 1, 1)}]
    >>> [s["label"] for s in search_series(rows, "ape")]
    ['account=Apex']
    """
    needle = (text or "").strip().lower()
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        label = series_key_text(row.get("series_key"))
        if needle and needle not in f"{label} {row['metric']}".lower():
            continue
        item = found.setdefault(
            (row["metric"], label),
            {
                "metric": row["metric"],
                "label": label,
                "series_key": row.get("series_key") or {},
                "incidents": 0,
                "open": 0,
                "impact": 0.0,
                "latest": None,
            },
        )
        item["incidents"] += 1
        item["open"] += int(row.get("status") == "open")
        item["impact"] += float(row.get("impact") or 0.0)
        if item["latest"] is None or row["start_period"] > item["latest"]["start_period"]:
            item["latest"] = public_incident(row)
    return sorted(found.values(), key=lambda s: (-s["open"], -abs(s["impact"]), s["label"]))


def health_summary(store: Store, config: Any = None) -> dict[str, Any]:
    """Runs and the monitor's health (:func:`revwatch.monitor.runner.health`) as plain data."""
    from revwatch.monitor.runner import health

    report = health(store, config)
    weekly = report.weekly.copy()
    weekly_rows: list[dict[str, Any]] = []
    for record in weekly.to_dict("records"):
        weekly_rows.append(
            {
                "metric": record["metric"],
                "week": pd.Timestamp(record["week"]).date().isoformat(),
                "mean": _finite(record["mean"]),
                "p95": _finite(record["p95"]),
                "periods": int(record["periods"]),
            }
        )
    return {
        "status": report.status,
        "checks": [c.__dict__ for c in report.checks],
        "weekly": weekly_rows,
    }


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def check_label(value: str) -> str:
    """Validate a feedback label (``benign`` or ``confirmed``).

    Examples
    --------
    >>> check_label("benign")
    'benign'
    """
    if value not in LABELS:
        raise ParameterError(f"label {value!r} must be benign or confirmed")
    return value


def distinct(rows: Sequence[dict[str, Any]], field: str) -> list[str]:
    """The sorted distinct non-empty values of one field (for filter menus).

    Examples
    --------
    >>> distinct([{"t": "b"}, {"t": "a"}, {"t": "b"}, {"t": None}], "t")
    ['a', 'b']
    """
    return sorted({str(r[field]) for r in rows if r.get(field)})
