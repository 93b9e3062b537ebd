"""Drive the real review pages in headless Chromium (Debian's ``chromium`` with Playwright).

A uvicorn server runs in a thread on 127.0.0.1 over a store filled by real
monitoring runs (the ``built_store`` fixture of ``test_web``). The browser
logs in, lists the incidents, opens one, acknowledges it, labels another
benign, reloads and sees both changes persisted. It also takes the
screenshot of the incident page for the docs: into ``docs/incident_page.png``
when ``REVWATCH_WRITE_SCREENSHOT=1``, else into the test's tmp folder.
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from revwatch.monitor.store import Store

pytest.importorskip("fastapi", reason="the web extra is not installed")
pytest.importorskip("playwright", reason="playwright is not installed (dev extra)")
import uvicorn
from playwright.sync_api import expect, sync_playwright

from revwatch.web.app import create_app
from tests.test_web import TOKEN, built_store, store_url  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[1] / "docs"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install -y chromium)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(app: Any) -> tuple[str, Callable[[], None]]:
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)

    def stop() -> None:
        srv.should_exit = True
        thread.join(timeout=10)

    return f"http://127.0.0.1:{port}", stop


@pytest.fixture
def server(store_url: str) -> Iterator[str]:  # noqa: F811
    port = _free_port()
    config = uvicorn.Config(
        create_app(store_url, token=TOKEN), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.mark.slow
def test_review_in_the_browser(server: str, store_url: str, tmp_path: Path) -> None:  # noqa: F811
    store = Store(store_url)
    ranked = sorted(store.incidents(status="open"), key=lambda r: -abs(r["impact"]))
    first, second = ranked[0]["incident_id"], ranked[1]["incident_id"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # log in with the token
            page.goto(f"{server}/incidents")
            expect(page).to_have_url(f"{server}/login?next=%2Fincidents")
            page.fill("input[name=token]", TOKEN)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{server}/incidents")
            # the list: open first, the largest money impact on top
            rows = page.locator("table.incidents tbody tr")
            expect(rows).to_have_count(len(store.incidents()))
            expect(rows.nth(0).locator(".pill")).to_have_text("open")
            # filter with the plain GET form
            page.select_option("select[name=status]", "resolved")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**/incidents?*status=resolved*")
            expect(page.locator("table.incidents .pill.open")).to_have_count(0)
            page.click("a.reset")
            # open the top incident and acknowledge it
            rows.nth(0).locator("a.series").click()
            expect(page).to_have_url(f"{server}/incidents/{first}")
            expect(page.get_by_test_id("status")).to_have_text("open")
            chart = page.locator("section.chart img")
            expect(chart).to_be_visible()
            page.wait_for_function(  # the chart PNG arrived and decoded
                "() => document.querySelector('section.chart img').naturalWidth > 500"
            )
            page.get_by_role("button", name="Acknowledge").click()
            expect(page.get_by_role("status")).to_have_text("Incident acknowledged.")
            page.reload()
            expect(page.get_by_test_id("status")).to_have_text("acknowledged")
            expect(page.get_by_role("button", name="Acknowledge")).to_be_disabled()
            # mark another incident benign with a cause
            page.goto(f"{server}/incidents/{second}")
            page.check("input[name=label][value=benign]")
            page.fill("input[name=cause]", "annual price change")
            page.get_by_role("button", name="Save label").click()
            expect(page.get_by_role("status")).to_have_text("Incident labelled benign.")
            page.goto(f"{server}/incidents/{second}")
            labels = page.get_by_test_id("labels")
            expect(labels).to_contain_text("benign")
            expect(labels).to_contain_text("annual price change")
            # both changes persisted: the list after a reload, and the store itself
            page.goto(f"{server}/incidents")
            page.reload()
            expect(page.locator(f"tr:has(a[href='/incidents/{first}']) .pill").first).to_have_text(
                "acknowledged"
            )
            assert store.incident(first)["status"] == "acknowledged"
            assert [(r["incident_id"], r["label"]) for r in store.labels()] == [(second, "benign")]
            # the screenshot of the incident page for the docs
            page.goto(f"{server}/incidents/{first}")
            page.wait_for_function(
                "() => document.querySelector('section.chart img').naturalWidth > 500"
            )
            target = (
                DOCS / "incident_page.png"
                if os.environ.get("REVWATCH_WRITE_SCREENSHOT") == "1"
                else tmp_path / "incident_page.png"
            )
            page.screenshot(path=str(target), full_page=True)
            assert target.stat().st_size > 20_000
        finally:
            browser.close()


def _attacker(html: str, host: str = "127.0.0.1") -> tuple[str, Callable[[], None]]:
    """A hostile page on another port (same site as 127.0.0.1, or another site via localhost)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://{host}:{server.server_port}/", stop


def _forged_form(target: str, action: str, csrf: str) -> str:
    field = f'<input type="hidden" name="csrf_token" value="{csrf}">' if csrf else ""
    return (
        f'<html><body><form id="f" method="post" action="{target}/{action}">'
        '<input type="hidden" name="label" value="benign">'
        '<input type="hidden" name="cause" value="forged">'
        f"{field}</form><script>document.getElementById('f').submit()</script></body></html>"
    )


@pytest.mark.slow
@pytest.mark.parametrize("with_token", [True, False], ids=["api-token", "no-api-token"])
def test_forged_posts_from_other_origins_are_refused_in_the_browser(
    store_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    with_token: bool,
) -> None:
    """A logged-in browser visits hostile pages on another port of 127.0.0.1 (same site:
    SameSite cookies are sent) and on localhost (another site); each page auto-submits a
    label/ack form to the review app, with no CSRF token and with the victim's real one
    (as if it had leaked). Nothing is stored; the app's own form still works."""
    monkeypatch.delenv("REVWATCH_API_TOKEN", raising=False)
    store = Store(store_url)
    ident = store.incidents(status="open")[0]["incident_id"]
    app_url, stop_app = _start(create_app(store_url, token=TOKEN if with_token else None))
    stoppers = [stop_app]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = browser.new_page()
                if with_token:
                    page.goto(f"{app_url}/login")
                    page.fill("input[name=token]", TOKEN)
                    page.click("button[type=submit]")
                    expect(page).to_have_url(f"{app_url}/incidents")
                page.goto(f"{app_url}/incidents/{ident}")
                real_csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
                assert real_csrf
                # the page may not be framed
                headers = page.goto(f"{app_url}/incidents/{ident}").headers  # type: ignore[union-attr]
                assert headers["x-frame-options"] == "DENY"
                assert "frame-ancestors 'none'" in headers["content-security-policy"]
                for host in ("127.0.0.1", "localhost"):
                    for action in ("label", "ack"):
                        for csrf in ("", real_csrf):
                            html = _forged_form(f"{app_url}/incidents/{ident}", action, csrf)
                            evil, stop = _attacker(html, host)
                            stoppers.append(stop)
                            with page.expect_response(
                                lambda r, a=action: r.url.endswith(f"/{a}")
                            ) as answer:
                                page.goto(evil)
                            status = answer.value.status
                            refused = status == 403 or (
                                status == 303  # not logged in on another site: sent to /login
                                and "/login" in (answer.value.headers.get("location") or "")
                            )
                            assert refused, (host, action, bool(csrf), status)
                            assert store.labels() == [], (host, action, bool(csrf))
                            assert store.incident(ident)["status"] == "open"
                # the app's own page still acts
                page.goto(f"{app_url}/incidents/{ident}")
                page.get_by_role("button", name="Acknowledge").click()
                expect(page.get_by_role("status")).to_have_text("Incident acknowledged.")
                assert store.incident(ident)["status"] == "acknowledged"
            finally:
                browser.close()
    finally:
        for stop in stoppers:
            stop()


UNITS_CONFIG = """
[store]
url = "sqlite:///{folder}/units.db"
features_dir = ""

[[sources]]
name = "accounts"
path = "{folder}/accounts.csv"
time = "day"

[[metrics]]
name = "revenue"
source = "accounts"
value = "revenue"
keys = ["account"]
grain = "daily"

[[metrics]]
name = "transactions"
source = "accounts"
value = "transactions"
keys = ["account"]
grain = "daily"

[routing]
critical = []
warning = []
"""


@pytest.fixture
def units_server(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """A store with incidents of a money metric and of a count metric (inferred units)."""
    from revwatch.monitor.config import parse_config
    from revwatch.monitor.runner import run
    from tests.test_incident_lifecycle import accounts

    frame = accounts()
    frame["transactions"] = np.round(frame["revenue"] / 10).astype(int)
    frame.to_csv(tmp_path / "accounts.csv", index=False)
    run(parse_config(UNITS_CONFIG.format(folder=tmp_path), path="revwatch.toml"))
    url = f"sqlite:///{tmp_path}/units.db"
    port = _free_port()
    srv = uvicorn.Server(
        uvicorn.Config(
            create_app(url, token=TOKEN), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", Store(url)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.mark.slow
def test_incident_pages_of_a_count_and_a_money_metric(
    units_server: tuple[str, Store],
) -> None:
    server, store = units_server
    by_metric = {r["metric"]: r for r in sorted(store.incidents(), key=lambda r: -abs(r["impact"]))}
    count, cash = by_metric["transactions"], by_metric["revenue"]
    assert (count["unit"], cash["unit"]) == ("count", "money:USD")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{server}/login")
            page.fill("input[name=token]", TOKEN)
            page.click("button[type=submit]")
            page.goto(f"{server}/incidents/{count['incident_id']}")
            expect(page.get_by_test_id("impact-label")).to_have_text("Impact (count)")
            shown = page.get_by_test_id("impact").inner_text()
            assert "$" not in shown and shown.lstrip("\u2212").replace(",", "").isdigit()
            assert (
                "$" not in page.locator("section.card").filter(has_text="Root cause").inner_text()
            )
            page.goto(f"{server}/incidents/{cash['incident_id']}")
            expect(page.get_by_test_id("impact-label")).to_have_text("Money impact")
            expect(page.get_by_test_id("impact")).to_contain_text("$")
            # the list shows each in its unit, and the at-stake totals never add them up
            page.goto(f"{server}/incidents")
            row = page.locator(f"tr:has(a[href='/incidents/{count['incident_id']}']) td.num")
            assert "$" not in row.first.inner_text()
        finally:
            browser.close()
