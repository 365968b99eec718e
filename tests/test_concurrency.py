"""Scrapes under load while refreshes and ingests run, and while idle and slow clients hold
connections open: none fails, none is torn."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.checks_helpers import CONFIG
from tests.service_helpers import free_port, kpiwatch_serve, wait_for
from tests.test_access import make_cert
from tests.test_service import BEHIND

SECONDS = float(os.environ.get("KPIWATCH_STRESS_SECONDS", "15"))
HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200)  # a TLS hello, cut short
REQUEST = b"GET /metrics HTTP/1.1\r\nHost: kpiwatch\r\nX-Slow: " + b"x" * 200


def consistent(body: bytes) -> bool:
    """The snapshot size the response reports equals the KPI series it carries."""
    lines = body.decode().splitlines()
    reported = next(
        float(ln.split()[1]) for ln in lines if ln.startswith("kpiwatch_snapshot_series ")
    )
    carried = sum(1 for ln in lines if ln.startswith("kpiwatch_kpi_"))
    return reported == carried


def _refreshes(body: bytes) -> float:
    line = next(ln for ln in body.splitlines() if ln.startswith(b"kpiwatch_refreshes_total "))
    return float(line.split()[1])


def _closed(conn: socket.socket) -> bool:
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def pests(port: int, slow_bytes: bytes, done: threading.Event) -> None:
    """Hold five idle and five slow connections open (a byte every 0.3 s), replacing
    those the server closes, until done."""
    idle: list[socket.socket] = []
    slow: list[tuple[socket.socket, int]] = []
    while not done.wait(0.3):
        for conn in [c for c in idle if _closed(c)] + [c for c, _ in slow if _closed(c)]:
            conn.close()
        idle = [c for c in idle if c.fileno() != -1]
        slow = [(c, n) for c, n in slow if c.fileno() != -1]
        idle += [socket.create_connection(("127.0.0.1", port)) for _ in range(5 - len(idle))]
        slow += [(socket.create_connection(("127.0.0.1", port)), 0) for _ in range(5 - len(slow))]
        for i, (conn, sent) in enumerate(slow):
            if sent < len(slow_bytes):
                with contextlib.suppress(OSError):
                    conn.send(slow_bytes[sent : sent + 1])
                slow[i] = (conn, sent + 1)
    for conn in idle + [c for c, _ in slow]:
        conn.close()


def served(tmp_path: Path, scheme: str) -> ssl.SSLContext | None:
    """Write the config for `scheme`; the client TLS context for https."""
    server = '\n[server]\ninbox = "inbox"\ninbox_poll_seconds = 0.2\n'
    ctx = None
    if scheme == "https":
        make_cert(tmp_path)
        (tmp_path / "web.yml").write_text(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        )
        server += 'web_config_file = "web.yml"\n'
        ctx = ssl.create_default_context(cafile=str(tmp_path / "server.crt"))
    (tmp_path / "config.toml").write_text(
        CONFIG.replace('path = "data.csv"', 'path = "inbox/*.csv"') + BEHIND + server,
        encoding="utf-8",
    )
    return ctx


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_scrapes_under_load_while_refreshing(tmp_path: Path, scheme: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    ctx = served(tmp_path, scheme)
    (inbox / "0.csv").write_text(
        "period,region,indicator,measure,value\n2026年1-2月,zone_a,projects_started,value,30\n"
    )
    port = free_port()
    url = f"{scheme}://127.0.0.1:{port}/metrics"
    failures: list[str] = []
    done = threading.Event()
    counts = [0] * 8

    def scrape() -> bytes:
        with urllib.request.urlopen(url, timeout=10, context=ctx) as r:
            body: bytes = r.read()
            if r.status != 200:
                failures.append(f"status {r.status}")
            return body

    def client(n: int) -> None:
        while not done.is_set():
            try:
                if not consistent(scrape()):
                    failures.append("torn snapshot")
            except Exception as exc:  # every failure counts, whatever its kind
                failures.append(repr(exc))
            counts[n] += 1

    refresh = f"{scheme}://127.0.0.1:{port}/-/refresh"
    with kpiwatch_serve(tmp_path, port, env={"KPIWATCH_REFRESH_TOKEN": "t"}):
        wait_for(lambda: bool(scrape()) and not failures, what="/metrics")
        slow = HELLO if scheme == "https" else REQUEST
        threads = [threading.Thread(target=pests, args=(port, slow, done))]
        threads += [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        # at least SECONDS of load, and until five refreshes ran (however busy the machine)
        try:
            deadline = time.monotonic() + SECONDS
            month = 3
            while time.monotonic() < deadline or _refreshes(scrape()) < 5:
                assert time.monotonic() < deadline + 600, "five refreshes did not finish"
                if month <= 12:  # a new file in the inbox (an ingest), then a requested refresh
                    (inbox / f"{month}.csv").write_text(
                        "period,region,indicator,measure,value\n"
                        f"2026-{month:02d},zone_a,projects_started,value,{10 + month}\n"
                    )
                    month += 1
                request = urllib.request.Request(
                    refresh, headers={"Authorization": "Bearer t"}, method="POST"
                )
                urllib.request.urlopen(request, timeout=10, context=ctx).close()
                time.sleep(0.5)
        finally:
            done.set()
            for t in threads:
                t.join()
    assert failures == []
    assert min(counts) >= 10  # every client kept scraping
    assert "Traceback" not in (tmp_path / "serve.log").read_text()  # stopped mid-refresh too
