"""``revwatch report --html FILE``: one self-contained HTML file of a run's incidents.

The file holds the incidents a run opened, escalated or resolved, ranked
(open first, then by money impact, as on the review pages), their signed net
impact and the part still open or acknowledged, and, for each of the first ``charts``, its
series against the baseline band with the incident span shaded, as an
embedded base64 PNG. The stylesheet is inlined and no URL points outside the
file, so it opens offline and can be attached to an email.

Examples
--------
>>> import tempfile, pathlib
>>> from revwatch.monitor.store import Store
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> store = Store(f"sqlite:///{folder}/s.db")
>>> path = write_html_report(store, folder / "report.html")
>>> "No incidents" in path.read_text(encoding="utf-8")
True
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from revwatch.data.keys import series_key_text
from revwatch.errors import MissingDependencyError, ParameterError
from revwatch.monitor.store import Store, utcnow
from revwatch.web import views

logger = logging.getLogger(__name__)

__all__ = ["render_html_report", "run_incidents", "write_html_report"]

_WEB = Path(__file__).parents[1] / "web"


def _runs_of(row: dict[str, Any]) -> set[int]:
    """The runs that changed an incident's state: opened (or recorded), escalated, resolved."""
    return {
        int(r)
        for r in (row.get("first_seen_run"), row.get("escalated_run"), row.get("resolved_run"))
        if r is not None
    }


def run_incidents(
    store: Store, run_id: int | None = None
) -> tuple[int | None, list[dict[str, Any]]]:
    """The incidents a run opened, escalated or resolved, ranked.

    By default the latest run that did any of that. Incidents a run only saw
    again (still open, unchanged) are not part of its report.

    Returns
    -------
    (int or None, list of dict)
        The run id (None when the store has no incidents) and its incidents.

    Raises
    ------
    ParameterError
        If ``run_id`` is not a run of this store.
    """
    rows = store.incidents()
    if run_id is None:
        changed = [max(_runs_of(r), default=0) for r in rows]
        run_id = max(changed) if changed and max(changed) > 0 else None
        if run_id is None:
            return None, []
    elif run_id not in {int(r["id"]) for r in store.runs(limit=100_000)}:
        raise ParameterError(
            f"no run {run_id} in the store; the /runs page of `revwatch serve` lists them"
        )
    picked = [r for r in rows if run_id in _runs_of(r)]
    return run_id, views.rank_incidents(picked)


def signed_totals(rows: list[dict[str, Any]], *, currency: str = "$") -> list[dict[str, Any]]:
    """Per additive unit: net impact (signed sum) of the rows and of those open or acknowledged.

    Ratios and percents are not summed; no sum mixes units. Money first.

    Examples
    --------
    >>> totals = signed_totals([{"impact": 296.0, "status": "open"},
    ...                {"impact": -100.0, "status": "acknowledged"},
    ...                {"impact": -50.0, "status": "resolved"},
    ...                {"impact": -7.0, "status": "open", "unit": "count"},
    ...                {"impact": -0.2, "status": "open", "unit": "ratio"}])
    >>> [(t["unit"], t["net"], t["at_stake"]) for t in totals]
    [('', 146.0, 196.0), ('count', -7.0, -7.0)]
    """
    live = [r for r in rows if r.get("status") in ("open", "acknowledged")]
    net = {t["unit"]: t["total"] for t in views.unit_totals(rows, currency=currency)}
    stake = {t["unit"]: t["total"] for t in views.unit_totals(live, currency=currency)}
    return [{"unit": u, "net": net[u], "at_stake": stake.get(u, 0.0)} for u in net]


def render_html_report(
    store: Store,
    *,
    run_id: int | None = None,
    currency: str = "$",
    charts: int = 25,
    country: str | None = None,
) -> str:
    """The report as one HTML string (see the module notes).

    Parameters
    ----------
    store : Store
    run_id : int, optional
        The run; default the latest run that saw incidents.
    currency : str, default "$"
    charts : int, default 25
        Chart at most this many incidents (the table lists all).
    country : str, optional
        Country code for public-holiday annotations.
    """
    if charts < 0:
        raise ParameterError(f"charts must be 0 or more; got {charts}")
    try:
        import jinja2
    except ImportError:
        raise MissingDependencyError("jinja2", "web") from None
    import revwatch
    from revwatch.report.chart import chart_data_uri, incident_chart_png

    run, rows = run_incidents(store, run_id)
    out = []
    for rank, row in enumerate(rows):
        item = views.public_incident(row)
        item["chart"] = None
        item["root_cause"] = list(row.get("root_cause") or [])  # the incident model's lines
        item["annotations"], item["series_lines"] = list(row.get("annotations") or []), []
        item["impact_low"] = item["impact_high"] = None
        item.setdefault("unit", None)
        if rank < charts:
            png = incident_chart_png(row, unit=views.unit_of(row, currency=currency))
            item["chart"] = chart_data_uri(png)
            detail = views.incident_detail(
                store, row["incident_id"], currency=currency, country=country
            )
            if detail is not None:
                item.update(
                    root_cause=detail["root_cause"],
                    series_lines=detail["series_lines"],
                    annotations=detail["annotations"],
                    impact_low=detail["impact_low"],
                    impact_high=detail["impact_high"],
                )
        out.append(item)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_WEB / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    env.filters["money"] = lambda v, compact=False: views.money(
        v, currency=currency, compact=compact
    )
    env.filters["amount"] = lambda v, unit=None, compact=False: views.amount(
        v, unit, currency=currency, compact=compact
    )
    env.filters["series_key_text"] = series_key_text
    env.filters["day"] = lambda v: v.strftime("%Y-%m-%d") if isinstance(v, dt.datetime) else "–"
    runs = {int(r["id"]): r for r in store.runs(limit=100_000)}
    info = runs.get(run) if run is not None else None
    title = f"Run {run}" if run is not None else "No runs with incidents"
    subtitle = (
        f"{len(out)} incidents · run {run} started {info['started_at']:%Y-%m-%d %H:%M} UTC, "
        f"status {info['status']}"
        if info
        else f"{len(out)} incidents"
    )
    return env.get_template("report.html").render(
        title=title,
        subtitle=subtitle,
        rows=out,
        charted=min(charts, len(out)),
        totals=signed_totals(out, currency=currency),
        css=(_WEB / "static" / "style.css").read_text(encoding="utf-8"),
        version=revwatch.__version__,
        generated=utcnow().strftime("%Y-%m-%d %H:%M"),
    )


def write_html_report(
    store: Store,
    path: str | Path,
    *,
    run_id: int | None = None,
    currency: str = "$",
    charts: int = 25,
    country: str | None = None,
) -> Path:
    """Write :func:`render_html_report` to ``path`` (parent folders created); return the path."""
    out = Path(path).expanduser()
    text = render_html_report(
        store, run_id=run_id, currency=currency, charts=charts, country=country
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    logger.info("wrote the HTML report (%d bytes) to %s", len(text), out)
    return out
