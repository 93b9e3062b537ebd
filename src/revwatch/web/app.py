"""The FastAPI app: review pages, action forms, the JSON API and error handling.

:func:`create_app` builds the app over one store. Pages (server-rendered
Jinja2, no JavaScript):

``/incidents``
    Filter by tier, type, status, metric, date range and series text (a
    plain GET form); open incidents first, then by money impact.
``/incidents/{id}``
    The series against its baseline band with the incident span shaded,
    type, tier, impact with its range, root-cause lines, annotations,
    delivery and feedback history, related incidents, and the action forms
    (acknowledge, resolve, label benign/confirmed with a cause). Each form
    posts, updates the store through the same :class:`~revwatch.monitor.store.Store`
    methods the CLI calls, and redirects back (post/redirect/get).
``/series``
    Search the series that have incidents.
``/runs``
    Run history and the monitor's health checks.

The JSON API (:mod:`revwatch.web.http_api`) is under ``/api/``; its OpenAPI
schema is at ``/api/openapi.json`` (the Swagger page is off: it loads
scripts from a CDN).

Every response carries ``Content-Security-Policy`` (nothing but this
server), ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: same-origin``. Requests naming a host outside the allowed
list are refused (400), unsafe requests without our own ``Origin`` or
``Referer`` too (403), and page forms need the session's CSRF token (see
:mod:`revwatch.web.security`). The access log (logger
``revwatch.web.access``) records method, path and status, never a query
string.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from revwatch.data.keys import series_key_text
from revwatch.errors import MissingDependencyError, ParameterError, RevwatchError
from revwatch.monitor.store import INCIDENT_STATES, Store
from revwatch.web import views
from revwatch.web.security import (
    CSRF_FIELD,
    DEFAULT_TOKEN_ENV,
    SESSION_COOKIE,
    check_token,
    default_allowed_hosts,
    host_allowed,
    origin_allowed,
    tokens_match,
)
from revwatch.web.state import WebState, state_of

try:
    from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, RedirectResponse, Response
    from fastapi.staticfiles import StaticFiles
    from fastapi.templating import Jinja2Templates
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(exc.name or "fastapi", "web") from None

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("revwatch.web.access")

__all__ = ["SECURITY_HEADERS", "create_app"]

#: Headers on every response.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: Largest request body accepted (a label's cause is at most 2,000 characters).
MAX_BODY_BYTES = 64 * 1024
#: Longest accepted label cause, in the forms as in the API.
MAX_CAUSE = 2000
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


class _LoginRequiredError(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _page_reader(request: Request) -> WebState:
    web = state_of(request)
    if not web.open_reads and not web.logged_in(request):
        raise _LoginRequiredError(str(request.url.path))
    return web


async def _page_writer(request: Request) -> WebState:
    web = state_of(request)
    if not web.logged_in(request):
        back = request.url.path.rsplit("/", 1)[0]
        raise _LoginRequiredError(back)
    _check_csrf(web, request, await request.form())
    return web


def _check_csrf(web: WebState, request: Request, form: Any) -> None:
    session = web.session(request)
    given = form.get(CSRF_FIELD)
    if session is None or not isinstance(given, str) or not tokens_match(given, session.csrf):
        raise HTTPException(
            403, "this form is stale or was not sent from this site's page; reload the page"
        )


Reader = Annotated[WebState, Depends(_page_reader)]
Writer = Annotated[WebState, Depends(_page_writer)]


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.globals["INCIDENT_STATES"] = INCIDENT_STATES
    env.globals["TIERS"] = views.TIER_ORDER
    env.filters["series_key_text"] = series_key_text
    env.filters["day"] = _day
    env.filters["when"] = _when
    return templates


def _day(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%Y-%m-%d")
    return str(value)[:10]


def _when(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)[:16].replace("T", " ")


def create_app(
    store: str | Store,
    *,
    token: str | None = None,
    open_reads: bool = False,
    token_env: str = DEFAULT_TOKEN_ENV,
    config: Any = None,
    currency: str = "$",
    country: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    host: str | None = None,
) -> FastAPI:
    """Build the review app over a store.

    Parameters
    ----------
    store : str or Store
        A store URL (``sqlite:///revwatch.db``) or an open store.
    token : str, optional
        The API token. Default: the environment variable ``token_env``. Never
        put it in a file.
    open_reads : bool, default False
        Let pages and API reads through without the token (writes still need it).
    token_env : str, default "REVWATCH_API_TOKEN"
        The environment variable read when ``token`` is None.
    config : Config, optional
        The monitoring config (gives each metric's grain to the health page).
    currency : str, default "$"
        Symbol on chart axes and amounts.
    country : str, optional
        Country code for public-holiday annotations.
    allowed_hosts : sequence of str, optional
        Names the ``Host`` header may carry besides ``host`` (unless a
        wildcard address), ``localhost``, ``127.0.0.1`` and ``::1`` (a leading
        dot allows subdomains, ``*`` anything): the public name when a reverse
        proxy forwards to this server.
    host : str, optional
        The address the server listens on (added to the default allowed hosts).

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    ConfigError
        The token is shorter than 16 characters or a placeholder.

    Examples
    --------
    >>> app = create_app("sqlite://", token="a-test-token-of-24-chars")
    >>> [p for p in app.openapi()["paths"] if p.startswith("/api/incidents")][:2]
    ['/api/incidents', '/api/incidents/{incident_id}']
    """
    from revwatch.web.http_api import router as api_router

    st = store if isinstance(store, Store) else Store(store)
    secret = token if token is not None else (os.environ.get(token_env) or None)
    check_token(secret, token_env)
    if secret is None:
        logger.warning(
            "no API token (set %s): API writes are refused and the pages are open", token_env
        )
    app = FastAPI(
        title="revwatch",
        summary="Review revenue incidents: list, inspect, acknowledge, resolve and label.",
        description=(
            "JSON API of the revwatch incident store. Writes need `Authorization: Bearer "
            f"<token>` (the token comes from the `{token_env}` environment variable); reads "
            "need it too unless the server runs with open reads. Errors are "
            '`{"error": "..."}` with 401 (no token), 403 (wrong token), 404 (unknown '
            "incident) or 422 (malformed request)."
        ),
        version=_version(),
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.web = WebState(
        store=st,
        token=secret,
        open_reads=open_reads,
        config=config,
        currency=currency,
        country=country,
        allowed_hosts=default_allowed_hosts(host) + list(allowed_hosts or ()),
    )
    templates = _templates()
    templates.env.filters["money"] = lambda v, compact=False: views.money(
        v, currency=currency, compact=compact
    )
    templates.env.filters["amount"] = lambda v, unit=None, compact=False: views.amount(
        v, unit, currency=currency, compact=compact
    )
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(api_router)
    _add_middleware(app)
    _add_error_handlers(app, templates)
    _add_pages(app, templates)
    return app


def _version() -> str:
    import revwatch

    return str(revwatch.__version__)


# --------------------------------------------------------------------------
# Middleware: host, origin, body size, headers, access log
# --------------------------------------------------------------------------


def _add_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def _guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = _refusal(state_of(request), request)
        if response is None:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        client = request.client.host if request.client else "-"
        access_logger.info(  # the path only: a query string may carry anything
            '%s "%s %s" %d %.0fms',
            client,
            request.method,
            request.url.path[:300],
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response


def _refusal(web: WebState, request: Request) -> Response | None:
    """A response refusing the request before it reaches a route, or None."""
    if not host_allowed(request.headers.get("host"), web.allowed_hosts):
        return JSONResponse(
            {"error": "this Host is not allowed; add it to [web] allowed_hosts"}, status_code=400
        )
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        return JSONResponse({"error": "request body too large"}, status_code=413)
    if request.method in _UNSAFE:
        origin = request.headers.get("origin") or None
        referer = request.headers.get("referer") or None
        browser = origin is not None or referer is not None or not _is_api(request)
        if browser and not origin_allowed(origin, referer, request.headers.get("host")):
            return JSONResponse(
                {"error": "cross-site request refused: Origin/Referer is not this site"},
                status_code=403,
            )
    return None


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "malformed request"


def _add_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    def page(request: Request, status: int, message: str) -> Response:
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "message": message, "web": state_of(request)},
            status_code=status,
        )

    @app.exception_handler(_LoginRequiredError)
    async def _login(request: Request, exc: _LoginRequiredError) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.next_url}), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if _is_api(request):
            return JSONResponse(
                {"error": str(exc.detail)}, status_code=exc.status_code, headers=headers
            )
        return page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        message = _validation_message(exc)
        if _is_api(request):
            return JSONResponse({"error": message}, status_code=422)
        return page(request, 422, message)

    @app.exception_handler(RevwatchError)
    async def _user(request: Request, exc: RevwatchError) -> Response:
        status = 404 if str(exc).startswith("no incident") else 400
        if _is_api(request):
            return JSONResponse({"error": str(exc)}, status_code=status)
        return page(request, status, str(exc))


# --------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------


def _set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


#: Messages the incident page shows for a ``problem`` code of a form's redirect.
_PAGE_PROBLEMS = {"no-label": "Choose benign or confirmed, then save the label."}


def _safe_next(target: str | None) -> str:
    """Only local paths (no ``//host`` or scheme) are followed after the login."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/incidents"
    return target


def _add_pages(app: FastAPI, templates: Jinja2Templates) -> None:
    def render(request: Request, name: str, **context: Any) -> Response:
        web = state_of(request)
        context.setdefault("web", web)
        context.setdefault("nav", name.split(".")[0])
        session = web.session(request)
        new_id = None
        if session is None and web.token is None:
            # a server without token: an anonymous session only to carry the CSRF token
            new_id = web.sessions.create(None)
            session = web.sessions.get(new_id, None)
        context["csrf"] = session.csrf if session else ""
        response = templates.TemplateResponse(request, name, context)
        if new_id:
            _set_session_cookie(request, response, new_id)
        return response

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/incidents", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/incidents") -> Response:
        return render(request, "login.html", next=_safe_next(next), error=None)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=1000)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/incidents",
    ) -> Response:
        web = state_of(request)
        target = _safe_next(next)
        if web.token is None:
            return RedirectResponse(target, status_code=303)
        client = request.client.host if request.client else "-"
        wait = web.logins.wait(client)
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            response = render(
                request,
                "login.html",
                next=target,
                error=f"Too many wrong tokens; try again in {seconds} s.",
            )
            response.status_code = 429
            response.headers["Retry-After"] = str(seconds)
            return response
        if not tokens_match(token, web.token):
            lock = web.logins.failure(client)
            logger.warning("wrong token at /login from %s", client)
            response = render(request, "login.html", next=target, error="That token is not right.")
            response.status_code = 403
            if lock > 0:
                response.headers["Retry-After"] = str(max(1, int(lock + 0.999)))
            return response
        web.logins.success(client)
        web.sessions.revoke(request.cookies.get(SESSION_COOKIE))  # no session fixation
        response = RedirectResponse(target, status_code=303)
        _set_session_cookie(request, response, web.sessions.create(web.token))
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        web = state_of(request)
        if web.session(request) is not None:
            _check_csrf(web, request, await request.form())
            web.sessions.revoke(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/incidents", include_in_schema=False)
    def incidents_page(
        request: Request,
        web: Reader,
        tier: str = "",
        type: str = "",
        status: str = "",
        metric: str = "",
        since: str = "",
        until: str = "",
        q: str = "",
    ) -> Response:
        everything = web.store.incidents()
        selection = views.IncidentFilter(
            tier=tier, type=type, status=status, metric=metric, since=since, until=until, q=q
        )
        rows = views.rank_incidents(views.filter_incidents(everything, selection))
        open_rows = [r for r in everything if r["status"] == "open"]
        summary = {
            "open": len(open_rows),
            "acknowledged": sum(r["status"] == "acknowledged" for r in everything),
            "critical_open": sum(r["tier"] == "critical" for r in open_rows),
            "at_stake": views.unit_totals(open_rows, currency=web.currency),
            "total": len(everything),
        }
        return render(
            request,
            "incidents.html",
            rows=[views.public_incident(r) for r in rows[:500]],
            shown=len(rows),
            summary=summary,
            filters={
                "tier": tier,
                "type": type,
                "status": status,
                "metric": metric,
                "since": since,
                "until": until,
                "q": q,
            },
            types=views.distinct(everything, "type"),
            metrics=views.distinct(everything, "metric"),
        )

    @app.get("/incidents/{incident_id}", include_in_schema=False)
    def incident_page(
        request: Request,
        incident_id: str,
        web: Reader,
        done: str = "",
        problem: Annotated[str, Query(max_length=200)] = "",
    ) -> Response:
        detail = views.incident_detail(
            web.store, incident_id, currency=web.currency, country=web.country
        )
        if detail is None:
            raise HTTPException(404, f"no incident {incident_id!r}")
        return render(
            request,
            "incident.html",
            inc=detail,
            done=done,
            # a fixed text per known code: nothing from the query string is shown
            problem=_PAGE_PROBLEMS.get(problem, ""),
            can_write=web.logged_in(request),
            nav="incidents",
        )

    @app.get("/incidents/{incident_id}/chart.png", include_in_schema=False)
    def incident_chart(incident_id: str, web: Reader) -> Response:
        row = web.store.incident(incident_id)
        if row is None:
            raise HTTPException(404, f"no incident {incident_id!r}")
        from revwatch.report.chart import incident_chart_png  # matplotlib only when drawn

        png = incident_chart_png(row, unit=views.unit_of(row, currency=web.currency))
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    def _back(incident_id: str, done: str) -> Response:
        return RedirectResponse(
            f"/incidents/{incident_id}?" + urlencode({"done": done}), status_code=303
        )

    def _known(web: WebState, incident_id: str) -> str:
        row = web.store.incident(incident_id)
        if row is None:
            raise HTTPException(404, f"no incident {incident_id!r}")
        return str(row["incident_id"])

    @app.post("/incidents/{incident_id}/ack", include_in_schema=False)
    def ack_form(incident_id: str, web: Writer) -> Response:
        ident = _known(web, incident_id)
        web.store.set_status(ident, "acknowledged")
        return _back(ident, "acknowledged")

    @app.post("/incidents/{incident_id}/resolve", include_in_schema=False)
    def resolve_form(incident_id: str, web: Writer) -> Response:
        ident = _known(web, incident_id)
        web.store.set_status(ident, "resolved")
        return _back(ident, "resolved")

    @app.post("/incidents/{incident_id}/label", include_in_schema=False)
    def label_form(
        incident_id: str,
        web: Writer,
        label: Annotated[str, Form(max_length=20)] = "",
        cause: Annotated[str, Form(max_length=MAX_CAUSE)] = "",
    ) -> Response:
        ident = _known(web, incident_id)
        if not label:  # nothing selected: back to the page with a message, nothing saved
            return RedirectResponse(
                f"/incidents/{ident}?" + urlencode({"problem": "no-label"}),
                status_code=303,
            )
        web.store.add_label(ident, views.check_label(label), cause.strip() or None)
        return _back(ident, f"labelled {label}")

    @app.get("/series", include_in_schema=False)
    def series_page(
        request: Request, web: Reader, q: Annotated[str, Query(max_length=200)] = ""
    ) -> Response:
        found = views.search_series(web.store.incidents(), q)
        return render(request, "series.html", q=q, found=found[:300], shown=len(found))

    @app.get("/runs", include_in_schema=False)
    def runs_page(request: Request, web: Reader) -> Response:
        try:
            health = views.health_summary(web.store, web.config)
        except ParameterError as exc:
            health = {"status": "unknown", "checks": [], "weekly": [], "error": str(exc)}
        return render(request, "runs.html", runs=web.store.runs(limit=100), health=health)
