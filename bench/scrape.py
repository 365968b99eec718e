"""Scrape latency: kpiwatch's pre-rendered snapshot against rendering on every scrape.

A snapshot of about 100,000 series (checks of 500 indicators × 200 regions' year
horizon, 11 series each... trimmed to SERIES) is served by a child process, either by
kpiwatch's server (pre-rendered, gzip on request) or by a baseline server that calls
prometheus_client's generate_latest on every scrape. The parent scrapes 500 times in a
row, then with 8 concurrent clients, and for kpiwatch again while refreshes re-render
the snapshot in the background. Usage: python -m bench.scrape [SERIES]
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

CHILD = r"""
if __name__ != "__main__":
    raise SystemExit  # spawned workers import this as __mp_main__: skip the server
import sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from prometheus_client import CollectorRegistry, generate_latest
from exporters.collector import CheckRow, KpiCollector, SnapshotData
from exporters.health import ServiceHealth
from exporters.http import MetricsServer, SnapshotHolder
from exporters.snapshot import render

mode, n_checks = sys.argv[1], int(sys.argv[2])
checks = [CheckRow(f"indicator_{i // 200}", f"region_{i % 200}", "year", "flow", 100.0 + i,
                   95.0, 120.0, 1.05, 5.0, 2.5, "on_track", False) for i in range(n_checks)]
data = SnapshotData(checks, [], [])
if mode == "baseline":
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KpiCollector(data))
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
else:
    holder = SnapshotHolder(ServiceHealth())
    holder.set(render(data, time.time(), 10**7))
    server = MetricsServer(("127.0.0.1", 0), holder, None, lambda: None)
    if mode == "refreshing":  # refresh back to back, rendering in a worker as the service does
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context
        pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"))
        def refresh():
            while True:
                holder.set(pool.submit(render, data, time.time(), 10**7).result())
        threading.Thread(target=refresh, daemon=True).start()
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def scrape(port: int, gzip: bool) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    t = time.perf_counter()
    conn.request("GET", "/metrics", headers=headers)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200
    return time.perf_counter() - t


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(mode: str, checks: int, sequential: int, gzip: bool) -> dict[str, float]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(checks)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its render worker is killed with it
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        scrape(port, gzip)
        t = time.perf_counter()
        seq = [scrape(port, gzip) for _ in range(sequential)]
        seq_rate = sequential / (time.perf_counter() - t)
        with ThreadPoolExecutor(8) as pool:
            t = time.perf_counter()
            conc = list(pool.map(lambda _: scrape(port, gzip), range(sequential)))
            conc_rate = sequential / (time.perf_counter() - t)
        return {
            "median_ms": round(statistics.median(seq) * 1000, 2),
            "p99_ms": round(sorted(seq)[int(0.99 * len(seq)) - 1] * 1000, 2),
            "scrapes_per_s": round(seq_rate, 1),
            "concurrent8_p99_ms": round(sorted(conc)[int(0.99 * len(conc)) - 1] * 1000, 2),
            "concurrent8_scrapes_per_s": round(conc_rate, 1),
            "rss_mb": round(rss_mb(child.pid), 1),
        }
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        if child.stdout:
            child.stdout.close()


def main() -> None:
    series = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    checks = series // 11
    out = {
        "series": checks * 11,
        "kpiwatch": measure("kpiwatch", checks, 500, gzip=True),
        "kpiwatch_while_refreshing": measure("refreshing", checks, 200, gzip=True),
        "baseline_generate_latest": measure("baseline", checks, 50, gzip=False),
    }
    k, b = out["kpiwatch"], out["baseline_generate_latest"]
    out["throughput_ratio"] = round(k["scrapes_per_s"] / b["scrapes_per_s"], 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    threading.stack_size(1 << 20)
    main()
