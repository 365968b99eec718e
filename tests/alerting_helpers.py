"""A real Alertmanager on a free port, and a webhook receiver that records what it gets."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.service_helpers import free_port, until_ready


class Webhook:
    """Notifications received, as (path, JSON body), in arrival order."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def add(self, path: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.received.append((path, body))

    def alerts(self) -> list[tuple[str, dict[str, Any]]]:
        """(receiver path, alert) for every alert of every notification so far."""
        with self._lock:
            return [(path, a) for path, body in self.received for a in body["alerts"]]


@contextlib.contextmanager
def webhook() -> Iterator[Webhook]:
    """Serve POSTs on 127.0.0.1 until the block ends."""
    hook = Webhook(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.add(self.path, json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", hook.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def to_webhook(config: dict[str, Any], port: int) -> dict[str, Any]:
    """The config with every receiver posting to 127.0.0.1:port/<receiver> at once."""
    receivers = [
        {"name": r["name"], "webhook_configs": [{"url": f"http://127.0.0.1:{port}/{r['name']}"}]}
        for r in config["receivers"]
    ]
    route = {**config["route"], "group_wait": "0s", "group_interval": "1s"}
    return {**config, "global": {}, "route": route, "receivers": receivers}


@contextlib.contextmanager
def alertmanager(workdir: Path, config: dict[str, Any]) -> Iterator[int]:
    """Run Debian's Alertmanager with `config`, clustering off; yield its port."""
    binary = shutil.which("prometheus-alertmanager")
    assert binary, "alertmanager is missing: `make tools` installs prometheus-alertmanager"
    port = free_port()
    path = workdir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    args = [
        binary,
        f"--config.file={path}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with until_ready(args, workdir / "alertmanager.log", port, "alertmanager"):
        yield port


def post_alerts(port: int, alerts: list[dict[str, Any]]) -> None:
    """Send alerts to Alertmanager the way Prometheus does."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
