"""The JSON API under ``/api/``: incidents, actions, runs and health.

Every write needs ``Authorization: Bearer <token>``; reads need it unless the
app runs with ``open_reads``. Errors are ``{"error": "..."}``: 401 without a
token, 403 with a wrong one (or when the server has none), 404 for an
unknown incident, 422 for a malformed request. Actions call the same
:class:`~revwatch.monitor.store.Store` methods as ``revwatch incidents ack|resolve|label``.

============================================  =========================================
``GET /api/incidents``                        ranked list; filters as on the page
``GET /api/incidents/{id}``                   one incident, deliveries, labels, series
``POST /api/incidents/{id}/ack``              acknowledge
``POST /api/incidents/{id}/resolve``          resolve (queues resolve alerts)
``POST /api/incidents/{id}/label``            ``{"label": "benign", "cause": "promo"}``
``GET /api/runs``                             run history, newest first
``GET /api/health``                           the monitor's health checks
============================================  =========================================
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from revwatch.web import views
from revwatch.web.security import tokens_match
from revwatch.web.state import WebState, state_of

logger = logging.getLogger(__name__)

__all__ = ["LabelBody", "router"]

_bearer = HTTPBearer(auto_error=False, description="The token from REVWATCH_API_TOKEN.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _check(web: WebState, credentials: HTTPAuthorizationCredentials | None) -> None:
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            401,
            "missing token: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if web.token is None:
        raise HTTPException(403, "this server has no API token set; writes are disabled")
    if not tokens_match(credentials.credentials, web.token):
        raise HTTPException(403, "wrong token")


def _reader(request: Request, credentials: Credentials) -> WebState:
    web = state_of(request)
    if not web.open_reads:
        _check(web, credentials)
    return web


def _writer(request: Request, credentials: Credentials) -> WebState:
    web = state_of(request)
    _check(web, credentials)
    return web


Reader = Annotated[WebState, Depends(_reader)]
Writer = Annotated[WebState, Depends(_writer)]


class Error(BaseModel):
    """Every error response."""

    error: str = Field(examples=["no incident 'abc123'"])


class Incident(BaseModel):
    """One incident as stored."""

    model_config = ConfigDict(extra="allow")

    incident_id: str
    metric: str
    series_key: dict[str, Any]
    start_period: dt.datetime
    end_period: dt.datetime
    type: str
    direction: str
    tier: str
    severity: float | None = None
    impact: float | None = Field(None, description="Actual minus baseline over the span (money).")
    status: Literal["open", "acknowledged", "resolved"]
    suppressed: bool = False
    first_seen_run: int | None = None
    last_seen_run: int | None = None
    updated_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    resolution: str | None = None


class IncidentList(BaseModel):
    """A ranked page of incidents: open first, then by absolute money impact."""

    count: int = Field(description="Incidents matching the filters (before the limit).")
    incidents: list[Incident]


class IncidentDetail(Incident):
    """One incident with its history and the series around it."""

    deliveries: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    impact_low: float | None = None
    impact_high: float | None = None
    impact_kind: Literal["interval", "band", "none"] = "none"
    root_cause: list[str] = Field([], description="The incident model's root-cause lines.")
    series_lines: list[str] = Field([], description="What the series did against its band.")
    annotations: list[str] = []
    series: list[dict[str, Any]] = []


class LabelBody(BaseModel):
    """A feedback label: benign suppresses similar alerts, confirmed masks the span."""

    model_config = ConfigDict(extra="forbid")

    label: Literal["benign", "confirmed"]
    cause: str | None = Field(None, max_length=2000, examples=["price change"])


class Label(BaseModel):
    """A stored label."""

    model_config = ConfigDict(extra="allow")

    incident_id: str
    label: str
    cause: str | None = None
    created_at: dt.datetime | None = None


class HealthOut(BaseModel):
    """The monitor's own health (``revwatch health``)."""

    status: str
    checks: list[dict[str, Any]]
    weekly: list[dict[str, Any]]


_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "No token"},
    403: {"model": Error},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "Unknown incident"}
}
_BAD: dict[int | str, dict[str, Any]] = {422: {"model": Error, "description": "Malformed request"}}

router = APIRouter(prefix="/api", tags=["incidents"], responses={**_AUTH, **_BAD})


def _found(web: WebState, incident_id: str) -> dict[str, Any]:
    row = web.store.incident(incident_id)
    if row is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return row


@router.get("/incidents", response_model=IncidentList)
def list_incidents(
    web: Reader,
    tier: Literal["critical", "warning", "info"] | None = None,
    type: str | None = None,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    metric: str | None = None,
    since: Annotated[dt.date | None, Query(description="Span ends on or after.")] = None,
    until: Annotated[dt.date | None, Query(description="Span starts on or before.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Series text.")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> dict[str, Any]:
    """Incidents, open first, then by absolute money impact."""
    selection = views.IncidentFilter(
        tier=tier,
        type=type,
        status=status,
        metric=metric,
        since=dt.datetime.combine(since, dt.time()) if since else None,
        until=dt.datetime.combine(until, dt.time()) if until else None,
        q=q,
    )
    rows = views.rank_incidents(views.filter_incidents(web.store.incidents(), selection))
    return {"count": len(rows), "incidents": [views.public_incident(r) for r in rows[:limit]]}


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses=_NOT_FOUND)
def get_incident(incident_id: str, web: Reader) -> dict[str, Any]:
    """One incident (id or a unique prefix of 6+ characters) with deliveries and labels."""
    detail = views.incident_detail(
        web.store, incident_id, currency=web.currency, country=web.country
    )
    if detail is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return detail


@router.post("/incidents/{incident_id}/ack", response_model=Incident, responses=_NOT_FOUND)
def ack_incident(incident_id: str, web: Writer) -> dict[str, Any]:
    """Acknowledge (as ``revwatch incidents ack``)."""
    row = _found(web, incident_id)
    return views.public_incident(web.store.set_status(row["incident_id"], "acknowledged"))


@router.post("/incidents/{incident_id}/resolve", response_model=Incident, responses=_NOT_FOUND)
def resolve_incident(incident_id: str, web: Writer) -> dict[str, Any]:
    """Resolve (as ``revwatch incidents resolve``); resolve alerts go out with the next run."""
    row = _found(web, incident_id)
    return views.public_incident(web.store.set_status(row["incident_id"], "resolved"))


@router.post(
    "/incidents/{incident_id}/label", response_model=Label, status_code=201, responses=_NOT_FOUND
)
def label_incident(incident_id: str, body: LabelBody, web: Writer) -> dict[str, Any]:
    """Label benign or confirmed with a cause (as ``revwatch incidents label``)."""
    row = _found(web, incident_id)
    return web.store.add_label(row["incident_id"], body.label, body.cause)


@router.get("/runs", tags=["monitor"])
def list_runs(
    web: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[dict[str, Any]]:
    """Run history, newest first."""
    return web.store.runs(limit=limit)


@router.get("/health", response_model=HealthOut, tags=["monitor"])
def get_health(web: Reader) -> dict[str, Any]:
    """Score drift, stale sources, failed runs, model age (as ``revwatch health``)."""
    return views.health_summary(web.store, web.config)
