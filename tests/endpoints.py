"""Local endpoints that misbehave on purpose: HTTP (Slack, PagerDuty, webhook) and SMTP.

Used by the secret-planting and channel-fault tests. Each HTTP path has a mode:

``ok``        200 ``ok`` (Slack's success body; PagerDuty also accepts 200)
``express``   404 ``Cannot POST <path and query>`` (Express's default page)
``echo500``   500 echoing the path, query and request body
``echo400``   400 echoing the request body (PagerDuty's "invalid routing key" style)
``notfound``  404 ``no_service``
``hang``      waits until :meth:`HttpEndpoints.release` (or 60 s), then 200
``hold``      waits until :meth:`HttpEndpoints.release`, then 200 ``ok`` (holds a run in
              its delivery step)
``sNNN``      status NNN with body ``status NNN``

Every request is kept in ``requests`` as [path, JSON body, status, monotonic arrival]
(status None while answering, -1 for a held request released after the client left).
"""

from __future__ import annotations

import base64
import http.server
import json
import socket
import socketserver
import threading
import time
from collections import Counter
from typing import Any


class HttpEndpoints:
    """A threaded HTTP server on 127.0.0.1 whose answer per path prefix is a mode."""

    def __init__(self) -> None:
        self.modes: dict[str, str] = {}
        self.requests: list[list[Any]] = []  # [path, JSON body, status, arrival time]
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.hanging = threading.Event()  # set once a request is held by "hang"
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                route = self.path.split("?", 1)[0]
                mode = next((m for p, m in owner.modes.items() if route.startswith(p)), "ok")
                entry: list[Any] = [route, body, None, time.monotonic()]
                with owner._lock:
                    owner.requests.append(entry)
                if mode == "hold":
                    owner.hanging.set()
                    owner._release.wait(120)
                    mode = "ok"
                if mode == "hang":
                    owner.hanging.set()
                    owner._release.wait(60)
                    entry[2] = -1  # held past the client's timeout: never an answer it saw
                    return
                if mode.startswith("s") and mode[1:].isdigit():
                    status, text = int(mode[1:]), f"status {mode[1:]}"
                else:
                    status, text = {
                        "ok": (200, "ok"),
                        "express": (404, f"Cannot POST {self.path}"),
                        "echo500": (500, f"server fault at {self.path}: {raw.decode()}"),
                        "echo400": (400, f'{{"message": "invalid event {raw.decode()}"}}'),
                        "notfound": (404, "no_service"),
                    }[mode]
                entry[2] = status
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, prefix: str) -> int:
        with self._lock:
            return sum(r[0].startswith(prefix) for r in self.requests)

    def bodies(self, prefix: str, *, ok: bool = False) -> list[dict[str, Any]]:
        """JSON bodies sent to a path (only the accepted ones with ``ok``)."""
        with self._lock:
            return [
                r[1]
                for r in self.requests
                if r[0].startswith(prefix) and (not ok or (r[2] is not None and 200 <= r[2] < 300))
            ]

    def times(self, prefix: str) -> list[float]:
        with self._lock:
            return [r[3] for r in self.requests if r[0].startswith(prefix)]

    def release(self) -> None:
        self._release.set()

    def rearm(self) -> None:
        """Hold again: forget the release and the last held request."""
        self._release.clear()
        self.hanging.clear()
        with self._lock:
            self.requests.clear()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


class SmtpEndpoint:
    """A small SMTP server: AUTH PLAIN that fails echoing the password, or accepts mail.

    ``mode`` is ``ok`` (store every message), ``echo-auth`` (535 naming the
    decoded credentials) or ``echo550`` (550 at DATA, repeating the login).
    """

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.messages: list[bytes] = []
        self.times: list[float] = []
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                def say(line: str) -> None:
                    self.wfile.write((line + "\r\n").encode())
                    self.wfile.flush()

                say("220 test ESMTP")
                login = ""
                while True:
                    line = self.rfile.readline().decode(errors="replace").rstrip("\r\n")
                    if not line:
                        return
                    verb = line.split(" ", 1)[0].upper()
                    if verb in {"EHLO", "HELO"}:
                        say("250-test")
                        say("250 AUTH PLAIN")
                    elif verb == "AUTH":
                        login = base64.b64decode(line.split()[-1]).decode(errors="replace")
                        if owner.mode == "echo-auth":
                            say(f"535 5.7.8 authentication failed for {login!r}")
                        else:
                            say("235 ok")
                    elif verb in {"MAIL", "RCPT", "RSET", "NOOP"}:
                        say("250 ok")
                    elif verb == "DATA":
                        if owner.mode == "echo550":
                            say(f"550 mailbox of {login!r} unavailable")
                            continue
                        say("354 go on")
                        data = b""
                        while True:
                            chunk = self.rfile.readline()
                            if chunk in {b".\r\n", b""}:
                                break
                            data += chunk
                        owner.messages.append(data)
                        owner.times.append(time.monotonic())
                        say("250 queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("502 no")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def incident_counts(bodies: list[dict[str, Any]], key: str = "dedup_key") -> Counter[Any]:
    """How often each (incident, action) reached an endpoint."""
    return Counter((b.get(key), b.get("event_action")) for b in bodies)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
