"""The review app under attack, over HTTP: forged posts, forged Host, headers, logins, sessions.

The browser half (real Chromium posting from another origin) is in
``test_web_browser``. The store is ``test_web``'s, filled by real runs.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from revwatch.cli import app as cli_app
from revwatch.errors import ConfigError
from revwatch.monitor.store import Store

pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revwatch.web import uvicorn_config
from revwatch.web.app import MAX_BODY_BYTES, SECURITY_HEADERS, create_app
from revwatch.web.security import LoginLimiter
from tests.test_web import BASE, TOKEN, built_store, csrf_of, store_url  # noqa: F401

OTHER_PORT = "http://localhost:8765"  # same site (localhost), another origin


def _client(url: str, **options: Any) -> TestClient:
    return TestClient(create_app(url, **options), base_url=BASE, headers={"Origin": BASE})


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:  # noqa: F811
    with _client(store_url, token=TOKEN) as test_client:
        yield test_client


@pytest.fixture
def open_client(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:  # noqa: F811
    monkeypatch.delenv("REVWATCH_API_TOKEN", raising=False)
    with _client(store_url) as test_client:
        yield test_client


def _login(client: TestClient) -> None:
    answer = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def _first_open(url: str) -> str:
    return str(Store(url).incidents(status="open")[0]["incident_id"])


def _unchanged(url: str, ident: str) -> None:
    store = Store(url)
    assert store.labels() == []
    assert store.incident(ident)["status"] == "open"


# --------------------------------------------------------- forged posts

FORGERIES = [
    # (what, headers, send the real CSRF token?)
    ("no Origin nor Referer, with token", {"Origin": ""}, True),
    ("another port, with token", {"Origin": OTHER_PORT}, True),
    ("another site, with token", {"Origin": "http://evil.example"}, True),
    ("opaque origin, with token", {"Origin": "null"}, True),
    ("referer of another port", {"Origin": "", "Referer": OTHER_PORT + "/x"}, True),
    ("own origin, no token", {}, False),
    ("another port, no token", {"Origin": OTHER_PORT}, False),
]


@pytest.mark.parametrize(("what", "headers", "with_csrf"), FORGERIES, ids=[f[0] for f in FORGERIES])
@pytest.mark.parametrize("server_token", [True, False], ids=["api-token", "no-api-token"])
def test_forged_form_posts_are_refused(
    store_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    server_token: bool,
    what: str,
    headers: dict[str, str],
    with_csrf: bool,
) -> None:
    monkeypatch.delenv("REVWATCH_API_TOKEN", raising=False)
    ident = _first_open(store_url)
    with _client(store_url, token=TOKEN if server_token else None) as client:
        if server_token:
            _login(client)
        csrf = csrf_of(client, f"/incidents/{ident}")
        form = {"label": "benign", "cause": "forged"} | ({"csrf_token": csrf} if with_csrf else {})
        for action, data in (("label", form), ("ack", form), ("resolve", form)):
            answer = client.post(
                f"/incidents/{ident}/{action}", data=data, headers=headers, follow_redirects=False
            )
            assert answer.status_code == 403, (what, action, answer.status_code)
        _unchanged(store_url, ident)
        # the same session, from its own page, is let through
        good = client.post(
            f"/incidents/{ident}/label",
            data={"label": "benign", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert good.status_code == 303
        assert [r["label"] for r in Store(store_url).labels()] == ["benign"]


def test_a_csrf_token_of_another_session_is_refused(store_url: str) -> None:  # noqa: F811
    ident = _first_open(store_url)
    app = create_app(store_url, token=TOKEN)
    with (
        TestClient(app, base_url=BASE, headers={"Origin": BASE}) as mine,
        TestClient(app, base_url=BASE, headers={"Origin": BASE}) as theirs,
    ):
        _login(mine)
        _login(theirs)
        their_csrf = csrf_of(theirs, f"/incidents/{ident}")
        assert csrf_of(mine, f"/incidents/{ident}") != their_csrf
        answer = mine.post(
            f"/incidents/{ident}/ack", data={"csrf_token": their_csrf}, follow_redirects=False
        )
        assert answer.status_code == 403
    _unchanged(store_url, ident)


def test_api_writes_from_another_origin_are_refused(client: TestClient, store_url: str) -> None:  # noqa: F811
    ident = _first_open(store_url)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    forged = client.post(
        f"/api/incidents/{ident}/label",
        json={"label": "benign"},
        headers={**auth, "Origin": OTHER_PORT},
    )
    assert forged.status_code == 403 and "cross-site" in forged.json()["error"]
    _unchanged(store_url, ident)
    # a script or curl sends no Origin: the bearer token is the proof
    plain = client.post(
        f"/api/incidents/{ident}/label", json={"label": "benign"}, headers={**auth, "Origin": ""}
    )
    assert plain.status_code == 201


# ---------------------------------------------------------------- Host


@pytest.mark.parametrize("path", ["/incidents", "/api/incidents", "/login", "/static/style.css"])
def test_a_forged_host_is_refused(client: TestClient, path: str) -> None:
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", ""):
        answer = client.get(path, headers={"Host": host})
        assert answer.status_code == 400, (path, host)
        assert "Host" in answer.json()["error"]
    assert client.get(path, headers={"Host": "127.0.0.1:8000"}).status_code in {200, 303, 401}


def test_allowed_hosts_admit_a_reverse_proxy_name(store_url: str) -> None:  # noqa: F811
    app = create_app(
        store_url, token=TOKEN, allowed_hosts=["revwatch.example.com"], host="10.0.0.5"
    )
    with TestClient(app, base_url="https://revwatch.example.com") as proxied:
        assert proxied.get("/login").status_code == 200
        assert proxied.get("/login", headers={"Host": "10.0.0.5:8000"}).status_code == 200
        assert proxied.get("/login", headers={"Host": "localhost"}).status_code == 200
        assert proxied.get("/login", headers={"Host": "other.example.com"}).status_code == 400
        answer = proxied.post(
            "/login",
            data={"token": TOKEN},
            headers={"Origin": "https://revwatch.example.com"},
            follow_redirects=False,
        )
        assert answer.status_code == 303


# ------------------------------------------------------------- headers


@pytest.mark.parametrize(
    "path", ["/login", "/incidents", "/api/incidents", "/api/openapi.json", "/static/style.css"]
)
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    _login(client)
    answer = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value, name
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    missing = client.get("/incidents/nope123")
    assert missing.status_code == 404 and missing.headers["x-content-type-options"] == "nosniff"


# --------------------------------------------------------------- login


def test_login_attempts_are_limited_with_backoff(client: TestClient) -> None:
    now = [1000.0]
    web = client.app.state.web  # type: ignore[attr-defined]
    web.logins = LoginLimiter(clock=lambda: now[0])
    codes = [client.post("/login", data={"token": f"guess-{i}"}).status_code for i in range(200)]
    assert codes[:5] == [403] * 5  # the free attempts
    assert codes.count(429) >= 190  # then locked out: 200 guesses are 6 tries, not 200
    locked = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert "revwatch_session" not in locked.cookies
    # the lock-out doubles: after a wait the next wrong guess locks for longer
    now[0] += 2
    assert client.post("/login", data={"token": "again"}).status_code == 403
    second = client.post("/login", data={"token": "again"})
    assert second.status_code == 429 and int(second.headers["retry-after"]) >= 2
    now[0] += 10
    assert client.post("/login", data={"token": TOKEN}, follow_redirects=False).status_code == 303
    # a good login clears the count: the next mistake is free again
    assert client.post("/login", data={"token": "typo"}).status_code == 403


def test_the_limit_is_per_client(store_url: str) -> None:  # noqa: F811
    app = create_app(store_url, token=TOKEN)
    with (
        TestClient(app, base_url=BASE, headers={"Origin": BASE}, client=("10.0.0.1", 5000)) as a,
        TestClient(app, base_url=BASE, headers={"Origin": BASE}, client=("10.0.0.2", 5000)) as b,
    ):
        for _ in range(8):
            a.post("/login", data={"token": "wrong"})
        assert a.post("/login", data={"token": TOKEN}).status_code == 429
        assert b.post("/login", data={"token": TOKEN}, follow_redirects=False).status_code == 303


# ------------------------------------------------------------ sessions


def test_sessions_are_random_and_revoked_by_logout(client: TestClient, store_url: str) -> None:  # noqa: F811
    ident = _first_open(store_url)
    _login(client)
    first = client.cookies["revwatch_session"]
    client.cookies.clear()
    _login(client)
    assert client.cookies["revwatch_session"] != first  # random, not an HMAC of the token
    cookie = client.cookies["revwatch_session"]
    csrf = csrf_of(client, f"/incidents/{ident}")
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    # the old cookie, replayed, is refused for reads and writes
    client.cookies.set("revwatch_session", cookie)
    assert client.get("/incidents", follow_redirects=False).status_code == 303
    replay = client.post(
        f"/incidents/{ident}/ack", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")
    _unchanged(store_url, ident)
    # and stays refused after another login by someone else
    other = TestClient(client.app, base_url=BASE, headers={"Origin": BASE})
    _login(other)
    client.cookies.set("revwatch_session", cookie)
    assert client.get("/incidents", follow_redirects=False).status_code == 303


def test_token_rotation_revokes_every_session(client: TestClient) -> None:
    _login(client)
    assert client.get("/incidents", follow_redirects=False).status_code == 200
    web = client.app.state.web  # type: ignore[attr-defined]
    web.rotate_token("a-brand-new-token-9f2c1e")
    assert client.get("/incidents", follow_redirects=False).status_code == 303
    assert client.post("/login", data={"token": TOKEN}).status_code == 403
    fresh = client.post(
        "/login", data={"token": "a-brand-new-token-9f2c1e"}, follow_redirects=False
    )
    assert fresh.status_code == 303
    assert client.get("/incidents", follow_redirects=False).status_code == 200


def test_a_restarted_server_knows_no_old_session(store_url: str) -> None:  # noqa: F811
    with _client(store_url, token=TOKEN) as before:
        _login(before)
        cookie = before.cookies["revwatch_session"]
    with _client(store_url, token=TOKEN) as after:
        after.cookies.set("revwatch_session", cookie)
        assert after.get("/incidents", follow_redirects=False).status_code == 303


# ---------------------------------------------------------- input limits


def test_forms_and_api_share_the_input_limits(client: TestClient, store_url: str) -> None:  # noqa: F811
    ident = _first_open(store_url)
    _login(client)
    csrf = csrf_of(client, f"/incidents/{ident}")
    too_long = "x" * 2001
    form = client.post(
        f"/incidents/{ident}/label", data={"label": "benign", "cause": too_long, "csrf_token": csrf}
    )
    assert form.status_code == 422
    api = client.post(
        f"/api/incidents/{ident}/label",
        json={"label": "benign", "cause": too_long},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert api.status_code == 422
    huge = client.post(
        f"/incidents/{ident}/label",
        data={"label": "benign", "cause": "x" * 900_000, "csrf_token": csrf},
    )
    assert huge.status_code == 413 and MAX_BODY_BYTES < 900_000
    assert Store(store_url).labels() == []
    fits = client.post(
        f"/incidents/{ident}/label",
        data={"label": "benign", "cause": "y" * 2000, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert fits.status_code == 303 and Store(store_url).labels()[0]["cause"] == "y" * 2000


# ------------------------------------------------------ start-up checks


@pytest.mark.parametrize("weak", ["change-me", "CHANGE-ME", "short-token", "x" * 15])
def test_weak_tokens_are_refused_at_start_up(store_url: str, weak: str) -> None:  # noqa: F811
    with pytest.raises(ConfigError) as caught:
        create_app(store_url, token=weak)
    assert weak not in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({"REVWATCH_API_TOKEN": "change-me"}, [], "placeholder"),
        ({"REVWATCH_API_TOKEN": "abc123"}, [], "shorter than 16"),
        ({}, ["--host", "0.0.0.0"], "without an API token"),
        ({}, ["--host", "192.168.1.20"], "without an API token"),
    ],
)
def test_serve_refuses_unsafe_start_ups(
    store_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    args: list[str],
    expected: str,
) -> None:
    monkeypatch.delenv("REVWATCH_API_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli_app, ["serve", "--store", store_url, "--port", "1", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.output
    assert "change-me" not in result.output and "abc123" not in result.output


def test_no_secret_in_the_access_log(
    client: TestClient,
    store_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "SECRET-in-the-query-1f2e3d"
    with caplog.at_level(logging.INFO, logger="revwatch.web.access"):
        client.get(f"/api/incidents?token={secret}", headers={"Authorization": f"Bearer {TOKEN}"})
        client.get(f"/login?next=/incidents%3Ftoken%3D{secret}")
        client.post("/login", data={"token": secret})
    lines = [r.getMessage() for r in caplog.records if r.name == "revwatch.web.access"]
    assert len(lines) == 3 and "/api/incidents" in lines[0] and "/login" in lines[1]
    server_side = [r.getMessage() for r in caplog.records if r.name != "httpx"]  # not the client
    assert not any(secret in line or TOKEN in line for line in server_side)
    config = uvicorn_config(client.app, host="127.0.0.1", port=8000)
    assert config.access_log is False  # uvicorn's own access line would show the query


# ------------------------------------------- no 500 on any schema endpoint


def _schema_requests() -> list[tuple[str, str, list[dict[str, Any]], bool]]:
    schema = create_app("sqlite://", token=TOKEN).openapi()
    out = []
    for path, methods in schema["paths"].items():
        for method, spec in methods.items():
            out.append((method, path, spec.get("parameters", []), "requestBody" in spec))
    return out


_TEXT = st.text(alphabet=string.printable + "éß€\u202e", max_size=30)


def _value(parameter: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema = parameter.get("schema", {})
    options = [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]
    first = options[0] if options else {}
    if "enum" in first:
        return st.sampled_from(first["enum"]) | _TEXT
    if first.get("type") == "integer":
        return st.integers(-(2**40), 2**40).map(str) | _TEXT
    return _TEXT


@pytest.fixture(scope="module")
def probe_app(built_store: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:  # noqa: F811
    """An app over a throw-away copy of the built store (the probes write to it)."""
    import shutil

    copy = tmp_path_factory.mktemp("probe") / "store.db"
    shutil.copy(built_store, copy)
    url = f"sqlite:///{copy}"
    return create_app(url, token=TOKEN, open_reads=True), str(
        Store(url).incidents()[0]["incident_id"]
    )


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_endpoint_of_the_schema_answers_500(data: st.DataObject, probe_app: Any) -> None:
    app, ident = probe_app
    method, path, parameters, has_body = data.draw(st.sampled_from(_schema_requests()))
    query: dict[str, str] = {}
    target = path
    for parameter in parameters:
        value = data.draw(_value(parameter))
        if parameter["in"] == "path":
            chosen = data.draw(st.sampled_from([ident, ident[:6], str(value) or "x"]))
            target = target.replace("{" + parameter["name"] + "}", quote(chosen, safe=""))
        elif parameter["in"] == "query" and data.draw(st.booleans()):
            query[parameter["name"]] = str(value)
    body = (
        data.draw(
            st.one_of(
                st.fixed_dictionaries(
                    {"label": st.sampled_from(["benign", "confirmed", "x"])},
                    optional={"cause": st.text(max_size=2100)},
                ),
                st.dictionaries(_TEXT, _TEXT | st.integers() | st.none(), max_size=3),
                st.none(),
            )
        )
        if has_body
        else None
    )
    headers = data.draw(
        st.sampled_from([{"Authorization": f"Bearer {TOKEN}"}, {}, {"Authorization": "Bearer x"}])
    )
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as probe:
        answer = probe.request(method.upper(), target, params=query, json=body, headers=headers)
    assert answer.status_code < 500, (method, target, query, body, answer.text[:300])
