"""The HTTP endpoint: /metrics, /healthz, /readyz, /bulletin, an index page, POST /-/refresh
and /-/reload.

One thread per connection; TLS handshakes run in that thread under a timeout, so an idle
or slow client holds only its own connection, never the accept loop.
"""

from __future__ import annotations

import gzip
import hmac
import logging
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from exporters.deadlines import Deadlines
from exporters.health import HANDLERS, ServiceHealth, openmetrics_format, text_format
from exporters.listen import Listen
from exporters.snapshot import Exposition, Snapshot, expose
from exporters.webconfig import BasicAuth, TlsContext, WebConfig

log = logging.getLogger(__name__)
TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OM_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
PLAIN = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
INDEX = b"""<!doctype html><html><head><meta charset="utf-8"><title>kpiwatch</title></head>
<body><h1>kpiwatch</h1><p>KPI progress checks and forecasts for Prometheus.</p>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/healthz">/healthz</a></li>
<li><a href="/readyz">/readyz</a></li><li><a href="/bulletin">/bulletin</a></li></ul>
</body></html>
"""


class SnapshotHolder:
    """The snapshot and the bytes being served; each replaced whole, never modified."""

    def __init__(self, health: ServiceHealth) -> None:
        self._health = health
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._exposition = self._render(None)

    def get(self) -> Snapshot | None:
        return self._snapshot

    def exposition(self) -> Exposition:
        return self._exposition  # a reference read: the old bytes or the new, whole

    def set(self, snapshot: Snapshot) -> None:
        """Serve a new snapshot."""
        with self._lock:
            self._snapshot = snapshot
            self._exposition = self._render(snapshot)

    def health_changed(self) -> None:
        """Re-render after the service's own metrics changed."""
        with self._lock:
            self._exposition = self._render(self._snapshot)

    def _render(self, snapshot: Snapshot | None) -> Exposition:
        registry = self._health.registry
        return expose(text_format(registry), openmetrics_format(registry), snapshot)


@dataclass(frozen=True)
class Hooks:
    """What the lifecycle endpoints call, and the token that guards them."""

    token: str | None
    on_refresh: Callable[[], None]
    on_reload: Callable[[], str | None]  # the error, or None when the reload worked
    # the bulletin page of a month (None: the current one) and a query string
    # (?region=R&unit=U) as (HTTP status, body)
    bulletin: Callable[[str | None, str], tuple[int, bytes]] | None = None


@dataclass(frozen=True)
class Timeouts:
    """Seconds a connection may take for its TLS handshake, and stay silent."""

    handshake: float = 10
    idle: float = 120


@dataclass(frozen=True)
class Access:
    """Basic auth and TLS, replaced whole on reload: a connection sees the old or the new."""

    auth: BasicAuth
    tls: TlsContext | None


class Handler(BaseHTTPRequestHandler):
    """Routes requests; the server object carries the shared state."""

    server: MetricsServer
    protocol_version = "HTTP/1.1"
    handler = "other"  # the bounded `handler` label of this request's metrics
    target = ""  # the path as the client sent it

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.timeouts.idle)

    def handle_one_request(self) -> None:
        # the request line and headers must arrive within the idle timeout, however slowly
        self.server.deadlines.set(self.connection, self.server.timeouts.idle)
        try:
            super().handle_one_request()
        finally:
            self.server.deadlines.clear(self.connection)

    def parse_request(self) -> bool:
        self.handler = "other"
        ok = super().parse_request()
        self.server.deadlines.clear(self.connection)
        if not ok:
            return False
        # Route on the target as sent: http.server turns //metrics into /metrics.
        self.target = self.requestline.split()[1].split("?", 1)[0]
        self.handler = self.target if self.target in HANDLERS else "other"
        if self.target.startswith("/bulletin/"):
            self.handler = "/bulletin"  # one label for every month
        return True

    def send_response(self, code: int, message: str | None = None) -> None:
        self.server.health.requests.labels(self.handler, str(code)).inc()
        super().send_response(code, message)

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.target == "/metrics":
            self._metrics()
        elif self.target == "/healthz":
            self._send(200, PLAIN, b"ok\n")
        elif self.target == "/readyz":
            ready = self.server.holder.get() is not None
            body = b"ready\n" if ready else b"no snapshot loaded yet\n"
            self._send(200 if ready else 503, PLAIN, body)
        elif self.target == "/":
            self._send(200, HTML, INDEX)
        elif self.handler == "/bulletin":
            self._bulletin()
        elif self.target in ("/-/refresh", "/-/reload"):
            self._not_allowed("POST")
        else:
            self._send(404, PLAIN, b"not found\n")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if self.headers.get("Content-Length", "0") != "0" or "Transfer-Encoding" in self.headers:
            self.close_connection = True  # a body is never read: the next bytes are not a request
        if not self._authorised():
            return
        if self.target not in ("/-/refresh", "/-/reload"):
            if (
                self.target in ("/metrics", "/healthz", "/readyz", "/")
                or self.handler == "/bulletin"
            ):
                self._not_allowed("GET, HEAD")
            else:
                self._send(404, PLAIN, b"not found\n")
            return
        if not self._token_given():
            return
        if self.target == "/-/refresh":
            self.server.hooks.on_refresh()
            self._send(202, PLAIN, b"refresh scheduled\n")
            return
        error = self.server.hooks.on_reload()
        if error is None:
            self._send(200, PLAIN, b"config reloaded\n")
        else:
            self._send(500, PLAIN, f"reload failed, the old config stays: {error}\n".encode())

    def _token_given(self) -> bool:
        token = self.server.hooks.token
        if token is None:
            self._send(403, PLAIN, b"lifecycle endpoints disabled: no refresh token is set\n")
            return False
        given = (
            self.headers.get("X-Refresh-Token")
            or self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        )
        if hmac.compare_digest(given.encode(), token.encode()):
            return True
        self.server.health.auth_failures.labels(self.handler).inc()
        self._send(401, PLAIN, b"bad or missing token\n")
        return False

    def _authorised(self) -> bool:
        if self.server.access.auth.allows(self.headers.get("Authorization")):
            return True
        self.server.health.auth_failures.labels(self.handler).inc()
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="kpiwatch"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def _not_allowed(self, allow: str) -> None:
        self.send_response(405)
        self.send_header("Allow", allow)
        self.send_header("Content-Type", PLAIN)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _metrics(self) -> None:
        openmetrics = "application/openmetrics-text" in self.headers.get("Accept", "")
        gz = "gzip" in self.headers.get("Accept-Encoding", "")
        live = self.server.health.live  # process and HTTP metrics: rendered per scrape
        e = self.server.holder.exposition()
        if openmetrics:
            head, body = openmetrics_format(live), e.openmetrics_gz if gz else e.openmetrics
        else:
            head, body = text_format(live), e.text_gz if gz else e.text
        # two gzip members in one body are one gzip stream to every decoder
        self._send(200, OM_TYPE if openmetrics else TEXT_TYPE, _gz(head, gz) + body, gz)

    def _bulletin(self) -> None:
        pages = self.server.hooks.bulletin
        if pages is None:
            self._send(404, PLAIN, b"not found\n")
            return
        query = self.requestline.split()[1].partition("?")[2]
        code, body = pages(self.target.removeprefix("/bulletin").strip("/") or None, query)
        self._send(code, HTML if code == 200 else PLAIN, body)

    def _send(self, code: int, ctype: str, body: bytes, gz: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if gz:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def _gz(data: bytes, gz: bool) -> bytes:
    return gzip.compress(data, 1) if gz else data


class MetricsServer(ThreadingHTTPServer):
    """A threading HTTP server holding the snapshot, health metrics and lifecycle hooks."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 makes a burst of scrapers wait for a retry

    def __init__(
        self,
        listen: Listen,
        holder: SnapshotHolder,
        health: ServiceHealth,
        hooks: Hooks,
        web: WebConfig | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.address_family = listen.family
        super().__init__((listen.host, listen.port), Handler)
        self.holder = holder
        self.health = health
        self.hooks = hooks
        self.timeouts = timeouts or Timeouts()
        self.deadlines = Deadlines()
        self.set_web(web or WebConfig())

    def set_web(self, web: WebConfig) -> None:
        """Use new basic auth users and TLS files for the next connections."""
        self.access = Access(BasicAuth(web.users), web.tls())

    @property
    def scheme(self) -> str:
        return "http" if self.access.tls is None else "https"

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        """Handshake in this connection's thread, within the handshake timeout."""
        tls = self.access.tls
        if tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(self.timeouts.handshake)
        try:
            conn = tls.get().wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        except OSError as exc:
            self._handshake_failed(client_address, exc)
            return
        try:
            if self._handshake(conn, client_address):
                super().finish_request(conn, client_address)
        finally:
            self.shutdown_request(conn)

    def _handshake(self, conn: ssl.SSLSocket, client_address: object) -> bool:
        """The TLS handshake, within the handshake timeout however slow the client."""
        self.deadlines.set(conn, self.timeouts.handshake)
        try:
            conn.do_handshake()
        except OSError as exc:  # ssl.SSLError and timeouts are OSErrors
            self._handshake_failed(client_address, exc)
            return False
        finally:
            self.deadlines.clear(conn)
        return True

    def _handshake_failed(self, client_address: object, exc: OSError) -> None:
        self.health.tls_failures.inc()
        log.debug("TLS handshake with %s failed: %s", client_address, exc)

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # a client that went away
            log.debug("connection from %s: %s", client_address, exc)
        else:
            log.exception("request from %s failed", client_address)

    def server_close(self) -> None:
        self.deadlines.close()
        super().server_close()

    def serve_in_thread(self) -> threading.Thread:
        """Serve until shutdown() in a daemon thread."""
        thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        thread.start()
        return thread
