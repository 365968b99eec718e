"""The HTTP endpoint: /metrics, /healthz, /readyz, an index page and POST /-/refresh."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporters.health import ServiceHealth
from exporters.snapshot import Exposition, Snapshot, expose
from exporters.webconfig import BasicAuth, WebConfig

log = logging.getLogger(__name__)
TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OM_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
INDEX = b"""<!doctype html><html><head><meta charset="utf-8"><title>kpiwatch</title></head>
<body><h1>kpiwatch</h1><p>KPI progress checks and forecasts for Prometheus.</p>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/healthz">/healthz</a></li>
<li><a href="/readyz">/readyz</a></li></ul></body></html>
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
        return expose(generate_latest(registry), generate_openmetrics(registry), snapshot)


class Handler(BaseHTTPRequestHandler):
    """Routes requests; the server object carries the shared state."""

    server: MetricsServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if not self._authorised():
            return
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._metrics()
        elif path == "/healthz":
            self._send(200, "text/plain; charset=utf-8", b"ok\n")
        elif path == "/readyz":
            ready = self.server.holder.get() is not None
            body = b"ready\n" if ready else b"no snapshot loaded yet\n"
            self._send(200 if ready else 503, "text/plain; charset=utf-8", body)
        elif path == "/":
            self._send(200, "text/html; charset=utf-8", INDEX)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if self.path.split("?", 1)[0] != "/-/refresh":
            self._send(404, "text/plain; charset=utf-8", b"not found\n")
            return
        token = self.server.token
        if token is None:
            self._send(403, "text/plain; charset=utf-8", b"refresh endpoint disabled\n")
            return
        given = (
            self.headers.get("X-Refresh-Token")
            or self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        )
        if not hmac.compare_digest(given.encode(), token.encode()):
            self._send(401, "text/plain; charset=utf-8", b"bad or missing token\n")
            return
        self.server.on_refresh()
        self._send(202, "text/plain; charset=utf-8", b"refresh scheduled\n")

    def _authorised(self) -> bool:
        if self.server.auth.allows(self.headers.get("Authorization")):
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="kpiwatch"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def _metrics(self) -> None:
        openmetrics = "application/openmetrics-text" in self.headers.get("Accept", "")
        gz = "gzip" in self.headers.get("Accept-Encoding", "")
        e = self.server.holder.exposition()
        if openmetrics:
            body = e.openmetrics_gz if gz else e.openmetrics
        else:
            body = e.text_gz if gz else e.text
        self._send(200, OM_TYPE if openmetrics else TEXT_TYPE, body, gz)

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


class MetricsServer(ThreadingHTTPServer):
    """A threading HTTP server holding the snapshot, health metrics and refresh hook."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        holder: SnapshotHolder,
        token: str | None,
        on_refresh: Callable[[], None],
        web: WebConfig | None = None,
    ) -> None:
        super().__init__(address, Handler)
        web = web or WebConfig()
        context = web.ssl_context()
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.auth = BasicAuth(web.users)
        self.holder = holder
        self.token = token
        self.on_refresh = on_refresh

    def serve_in_thread(self) -> threading.Thread:
        """Serve until shutdown() in a daemon thread."""
        thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        thread.start()
        return thread
