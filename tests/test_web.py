"""The review app's JSON API, pages, forms and the self-contained HTML report.

The store is filled by real ``revwatch run``s over generated MRR data
(``saas-mrr``, as in ``test_monitor_e2e``), with alerts going to a real local
webhook server so the pages have delivery history.
"""

from __future__ import annotations

import html
import http.server
import json
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from revwatch.cli import app as cli_app
from revwatch.datasets import generate
from revwatch.monitor.config import parse_config
from revwatch.monitor.runner import run
from revwatch.monitor.store import Store

pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient

from revwatch.web.app import create_app
from revwatch.web.views import money
from tests.configs import mrr_config, routing, store

TOKEN = "test-token-8c1f-2e9a-77d0"
BASE = "http://localhost"  # an allowed Host; forms post with this Origin
STAGES = ("2025-12-01", "2026-01-01", "2026-02-01")

CONFIG = mrr_config(
    store_block=store("sqlite:///{folder}/store.db"),
    tiers={"critical_severity": 3.0, "warning_severity": 2.0},
    routes=routing(critical=["webhook"], warning=["webhook"]),
    delivers_to=["webhook"],
    webhook_url="http://127.0.0.1:{port}/hook",
)


class _Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store after three monitoring runs (open and resolved incidents, deliveries)."""
    folder = tmp_path_factory.mktemp("web-store")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = parse_config(
            CONFIG.format(folder=folder, port=server.server_port), path="revwatch.toml"
        )
        frame = generate("saas-mrr", seed=42).frame
        for cutoff in STAGES:
            frame[frame["month"] <= cutoff].to_csv(folder / "mrr.csv", index=False)
            run(config, sleep=lambda _s: None)
    finally:
        server.shutdown()
        server.server_close()
    return folder / "store.db"


@pytest.fixture
def store_url(built_store: Path, tmp_path: Path) -> str:
    """A private copy of the built store for one test."""
    copy = tmp_path / "store.db"
    shutil.copy(built_store, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    with TestClient(
        create_app(store_url, token=TOKEN), base_url=BASE, headers={"Origin": BASE}
    ) as test_client:
        yield test_client


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _open_ids(store_url: str) -> list[str]:
    return [r["incident_id"] for r in Store(store_url).incidents(status="open")]


def test_the_fixture_has_open_incidents_and_deliveries(store_url: str) -> None:
    store = Store(store_url)
    assert len(_open_ids(store_url)) >= 2
    assert store.deliveries(), "the pages need delivery history"


# ---------------------------------------------------------------- auth


def test_reads_and_writes_need_the_token(client: TestClient, store_url: str) -> None:
    ident = _open_ids(store_url)[0]
    missing = client.get("/api/incidents")
    assert missing.status_code == 401
    assert "missing token" in missing.json()["error"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = client.get("/api/incidents", headers=_auth("nope"))
    assert wrong.status_code == 403 and wrong.json() == {"error": "wrong token"}
    assert client.post(f"/api/incidents/{ident}/ack").status_code == 401
    assert client.post(f"/api/incidents/{ident}/ack", headers=_auth("nope")).status_code == 403
    assert Store(store_url).incident(ident)["status"] == "open"  # nothing changed
    ok = client.get("/api/incidents", headers=_auth())
    assert ok.status_code == 200 and ok.json()["count"] == len(Store(store_url).incidents())


def test_open_reads_still_protect_writes(store_url: str) -> None:
    ident = _open_ids(store_url)[0]
    with TestClient(
        create_app(store_url, token=TOKEN, open_reads=True), base_url=BASE
    ) as open_client:
        assert open_client.get("/api/incidents").status_code == 200
        assert open_client.get(f"/api/incidents/{ident}").status_code == 200
        assert open_client.post(f"/api/incidents/{ident}/ack").status_code == 401


def test_a_server_without_token_refuses_api_writes(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVWATCH_API_TOKEN", raising=False)
    ident = _open_ids(store_url)[0]
    with TestClient(create_app(store_url, open_reads=True), base_url=BASE) as no_token:
        refused = no_token.post(f"/api/incidents/{ident}/ack", headers=_auth("anything"))
        assert refused.status_code == 403
        assert "no API token" in refused.json()["error"]


def test_token_comes_from_the_named_environment_variable(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_REVWATCH_TOKEN", "from-env-0123456789")
    with TestClient(
        create_app(store_url, token_env="MY_REVWATCH_TOKEN"), base_url=BASE
    ) as env_client:
        assert env_client.get("/api/runs", headers=_auth("from-env-0123456789")).status_code == 200
        assert env_client.get("/api/runs", headers=_auth(TOKEN)).status_code == 403


# ----------------------------------------------------------- bad input


def test_unknown_incident_is_404_json(client: TestClient) -> None:
    for method, path, body in (
        ("get", "/api/incidents/doesnotexist", None),
        ("post", "/api/incidents/doesnotexist/ack", None),
        ("post", "/api/incidents/doesnotexist/resolve", None),
        ("post", "/api/incidents/doesnotexist/label", {"label": "benign"}),
    ):
        answer = client.request(method, path, headers=_auth(), json=body)
        assert answer.status_code == 404, path
        assert answer.json() == {"error": "no incident 'doesnotexist'"}


@pytest.mark.parametrize(
    "body",
    [
        {"label": "maybe"},
        {"cause": "no label"},
        {"label": "benign", "colour": "red"},
        "not json at all",
        None,
    ],
)
def test_malformed_label_body_is_422_json(client: TestClient, store_url: str, body: object) -> None:
    ident = _open_ids(store_url)[0]
    if isinstance(body, str):
        answer = client.post(
            f"/api/incidents/{ident}/label",
            headers={**_auth(), "Content-Type": "application/json"},
            content=body,
        )
    else:
        answer = client.post(f"/api/incidents/{ident}/label", headers=_auth(), json=body)
    assert answer.status_code == 422
    assert set(answer.json()) == {"error"} and answer.json()["error"]
    assert Store(store_url).labels() == []


def test_bad_query_values_are_422(client: TestClient) -> None:
    answer = client.get("/api/incidents?status=sleeping", headers=_auth())
    assert answer.status_code == 422 and "status" in answer.json()["error"]
    assert client.get("/api/incidents?since=yesterday", headers=_auth()).status_code == 422


# ------------------------------------------------------- API and CLI agree


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(cli_app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_api_and_cli_see_the_same_state(client: TestClient, store_url: str) -> None:
    first, second = _open_ids(store_url)[:2]
    # API -> CLI
    acked = client.post(f"/api/incidents/{first}/ack", headers=_auth())
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    shown = json.loads(_cli("incidents", "show", first, "--store", store_url).stdout)
    assert shown["status"] == "acknowledged"
    labelled = client.post(
        f"/api/incidents/{first}/label",
        headers=_auth(),
        json={"label": "confirmed", "cause": "contract downgrade"},
    )
    assert labelled.status_code == 201
    shown = json.loads(_cli("incidents", "show", first, "--store", store_url).stdout)
    assert [(x["label"], x["cause"]) for x in shown["labels"]] == [
        ("confirmed", "contract downgrade")
    ]
    # CLI -> API
    _cli("incidents", "label", second, "--as", "benign", "--cause", "promo", "--store", store_url)
    _cli("incidents", "resolve", second, "--store", store_url)
    detail = client.get(f"/api/incidents/{second}", headers=_auth()).json()
    assert detail["status"] == "resolved" and detail["resolution"] == "manual"
    assert [(x["label"], x["cause"]) for x in detail["labels"]] == [("benign", "promo")]
    listed = client.get("/api/incidents?status=open", headers=_auth()).json()
    assert first not in {r["incident_id"] for r in listed["incidents"]}
    # an API resolve queues the same resolve alerts as the CLI resolve
    client.post(f"/api/incidents/{first}/resolve", headers=_auth())
    store = Store(store_url)
    for ident in (first, second):
        opened = {d["channel"] for d in store.deliveries(incident_id=ident) if d["state"] == "open"}
        resolved = {
            d["channel"] for d in store.deliveries(incident_id=ident) if d["state"] == "resolved"
        }
        assert resolved == opened


def test_api_lists_rank_open_first_then_by_impact(client: TestClient) -> None:
    rows = client.get("/api/incidents", headers=_auth()).json()["incidents"]
    order = {"open": 0, "acknowledged": 1, "resolved": 2}
    keys = [(order[r["status"]], -abs(r["impact"] or 0)) for r in rows]
    assert keys == sorted(keys)
    crit = client.get("/api/incidents?tier=critical&status=open", headers=_auth()).json()
    assert all(r["tier"] == "critical" and r["status"] == "open" for r in crit["incidents"])
    assert "context" not in rows[0]


def test_runs_health_and_openapi(client: TestClient) -> None:
    runs = client.get("/api/runs", headers=_auth()).json()
    assert [r["id"] for r in runs] == sorted((r["id"] for r in runs), reverse=True)
    health = client.get("/api/health", headers=_auth()).json()
    assert health["status"] in {"ok", "warning", "critical"} and health["checks"]
    schema = client.get("/api/openapi.json").json()
    assert "/api/incidents/{incident_id}/label" in schema["paths"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 404  # Swagger UI would load a CDN


# --------------------------------------------------------------- pages


def _login(client: TestClient) -> None:
    answer = client.post(
        "/login", data={"token": TOKEN, "next": "/incidents"}, follow_redirects=False
    )
    assert answer.status_code == 303


def csrf_of(client: TestClient, path: str) -> str:
    """The CSRF token of the form on a page (as a browser would submit it)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def test_pages_need_a_login_and_render(client: TestClient, store_url: str) -> None:
    away = client.get("/incidents", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/login")
    wrong = client.post("/login", data={"token": "nope"}, follow_redirects=False)
    assert wrong.status_code == 403
    _login(client)
    assert TOKEN not in str(client.cookies.get("revwatch_session"))
    listing = client.get("/incidents")
    assert listing.status_code == 200
    ids = _open_ids(store_url)
    assert all(ident in listing.text for ident in ids)
    only_open = client.get("/incidents", params={"status": "open"}).text
    resolved = [r["incident_id"] for r in Store(store_url).incidents(status="resolved")]
    assert resolved and not any(f"/incidents/{r}" in only_open for r in resolved)
    none_left = client.get("/incidents", params={"until": "2000-01-01"}).text
    assert "No incidents match" in none_left
    page = client.get(f"/incidents/{ids[0]}")
    assert page.status_code == 200 and f"/incidents/{ids[0]}/chart.png" in page.text
    assert "Money impact" in page.text and "Alerts" in page.text
    chart = client.get(f"/incidents/{ids[0]}/chart.png")
    assert chart.headers["content-type"] == "image/png" and chart.content[:4] == b"\x89PNG"
    assert client.get("/incidents/nope123").status_code == 404
    series = client.get("/series", params={"q": "a"})
    assert series.status_code == 200 and "account=" in series.text
    runs = client.get("/runs")
    assert runs.status_code == 200 and "Runs" in runs.text
    bad = client.get("/incidents", params={"since": "not a date"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    assert "<script" not in page.text and "http://" not in page.text.replace(
        "http://www.w3.org", ""
    )


def test_form_posts_update_the_store_and_redirect_back(client: TestClient, store_url: str) -> None:
    first, second = _open_ids(store_url)[:2]
    # not logged in: sent to the login page, nothing changes
    refused = client.post(f"/incidents/{first}/ack", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    assert Store(store_url).incident(first)["status"] == "open"
    _login(client)
    csrf = csrf_of(client, f"/incidents/{first}")
    acked = client.post(
        f"/incidents/{first}/ack", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert acked.status_code == 303
    assert acked.headers["location"] == f"/incidents/{first}?done=acknowledged"
    assert Store(store_url).incident(first)["status"] == "acknowledged"
    assert "Incident acknowledged." in client.get(acked.headers["location"]).text
    labelled = client.post(
        f"/incidents/{second}/label",
        data={"label": "benign", "cause": "annual prepayment", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert labelled.status_code == 303
    assert [(r["label"], r["cause"]) for r in Store(store_url).labels()] == [
        ("benign", "annual prepayment")
    ]
    resolved = client.post(
        f"/incidents/{second}/resolve", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert resolved.status_code == 303
    assert Store(store_url).incident(second)["status"] == "resolved"
    bad = client.post(f"/incidents/{second}/label", data={"label": "maybe", "csrf_token": csrf})
    assert bad.status_code == 400 and "benign or confirmed" in bad.text
    missing = client.post(
        f"/incidents/{second}/label", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert missing.status_code == 303  # nothing selected: back to the page, with a message
    assert "Choose benign or confirmed" in client.get(missing.headers["location"]).text
    assert "Choose benign" not in client.get(f"/incidents/{second}?problem=forged text").text
    assert len(Store(store_url).labels()) == 1


def test_ack_on_a_resolved_incident_is_refused_by_cli_api_and_page(
    client: TestClient, store_url: str
) -> None:
    from revwatch.monitor.store import ack_refusal

    resolved = next(r["incident_id"] for r in Store(store_url).incidents(status="resolved"))
    message = ack_refusal(resolved)
    cli = CliRunner().invoke(cli_app, ["incidents", "ack", resolved, "--store", store_url])
    assert cli.exit_code == 2 and message in " ".join(cli.output.split())
    api = client.post(f"/api/incidents/{resolved}/ack", headers=_auth())
    assert api.status_code == 400 and api.json()["error"] == message
    _login(client)
    page = client.get(f"/incidents/{resolved}").text
    ack_button = re.search(r"<button[^>]*>Acknowledge</button>", page)
    assert ack_button and "disabled" in ack_button.group(0)
    form = client.post(
        f"/incidents/{resolved}/ack",
        data={"csrf_token": csrf_of(client, f"/incidents/{resolved}")},
        follow_redirects=False,
    )
    assert form.status_code == 400 and html.escape(message) in form.text
    assert Store(store_url).incident(resolved)["status"] == "resolved"  # type: ignore[index]


def test_login_next_is_local_only(client: TestClient) -> None:
    answer = client.post(
        "/login", data={"token": TOKEN, "next": "//evil.example/x"}, follow_redirects=False
    )
    assert answer.headers["location"] == "/incidents"


# ---------------------------------------------------------- HTML report


def test_html_report_is_one_self_contained_file(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(cli_app, ["report", "--html", str(out), "--store", store_url])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]
    text = out.read_text(encoding="utf-8")
    images = re.findall(r'<img src="([^"]*)"', text)
    store = Store(store_url)

    def changed_in(row: dict[str, Any]) -> set[int]:
        return {row[k] for k in ("first_seen_run", "escalated_run", "resolved_run") if row[k]}

    run_id = max(max(changed_in(r)) for r in store.incidents())
    expected = [r for r in store.incidents() if run_id in changed_in(r)]
    only_seen = [
        r for r in store.incidents() if r["last_seen_run"] == run_id and run_id not in changed_in(r)
    ]
    assert len(images) == min(25, len(expected)) > 0
    # the run's incidents only (opened, escalated or resolved in it), signed totals
    assert f"{len(expected)} incidents" in text
    assert only_seen  # the scenario has incidents the last run only saw again
    for row in only_seen:
        assert row["incident_id"] not in text
    net = sum(r["impact"] for r in expected)
    found = re.search(r'data-total="net" data-unit="money:USD">([^<]*)<', text)
    assert found is not None and found.group(1) == money(net)
    assert all(src.startswith("data:image/png;base64,") for src in images)
    links = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert all(not link.startswith(("http://", "https://", "//")) for link in links), links
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", text)
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert "url(" not in text  # no external fonts or images from CSS
    for row in expected:
        assert row["incident_id"] in text
    first_open = text.index("open</span>")
    assert first_open < text.index("resolved</span>") if "resolved</span>" in text else True


def test_html_report_bad_run_is_exit_2(store_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["report", "--html", str(tmp_path / "r.html"), "--store", store_url, "--run", "999"],
    )
    assert result.exit_code == 2
    assert "no run 999" in result.output and "Traceback" not in result.output


def test_serve_without_the_web_extra_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # what an absent package looks like
    result = CliRunner().invoke(cli_app, ["serve", "--store", "sqlite://"])
    assert result.exit_code == 2
    assert "fastapi is not installed" in result.output
    assert "pip install 'revwatch[web]'" in result.output
