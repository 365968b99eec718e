"""Scrapes under load while refreshes and ingests run: none fails, none is torn."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from pathlib import Path

from tests.checks_helpers import CONFIG
from tests.service_helpers import free_port, get, kpiwatch_serve, ready, wait_for
from tests.test_service import BEHIND

SECONDS = float(os.environ.get("KPIWATCH_STRESS_SECONDS", "15"))


def consistent(body: bytes) -> bool:
    """The snapshot size the response reports equals the KPI series it carries."""
    lines = body.decode().splitlines()
    reported = next(
        float(ln.split()[1]) for ln in lines if ln.startswith("kpiwatch_snapshot_series ")
    )
    carried = sum(1 for ln in lines if ln.startswith("kpiwatch_kpi_"))
    return reported == carried


def test_scrapes_under_load_while_refreshing(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "config.toml").write_text(
        CONFIG.replace('path = "data.csv"', 'path = "inbox/*.csv"')
        + BEHIND
        + '\n[server]\ninbox = "inbox"\ninbox_poll_seconds = 0.2\n',
        encoding="utf-8",
    )
    (inbox / "0.csv").write_text(
        "period,region,indicator,measure,value\n2026年1-2月,zone_a,projects_started,value,30\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    failures: list[str] = []
    done = threading.Event()
    counts = [0] * 8

    def client(n: int) -> None:
        while not done.is_set():
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    body = r.read()
                if r.status != 200 or not consistent(body):
                    failures.append(f"status {r.status} or torn snapshot")
            except Exception as exc:  # every failure counts, whatever its kind
                failures.append(repr(exc))
            counts[n] += 1

    with kpiwatch_serve(tmp_path, port, env={"KPIWATCH_REFRESH_TOKEN": "t"}):
        wait_for(lambda: ready(port), what="/readyz")
        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + SECONDS
        month = 3
        while time.monotonic() < deadline:
            if month <= 12:  # a new file in the inbox (an ingest), then a requested refresh
                (inbox / f"{month}.csv").write_text(
                    "period,region,indicator,measure,value\n"
                    f"2026-{month:02d},zone_a,projects_started,value,{10 + month}\n"
                )
                month += 1
            get(f"http://127.0.0.1:{port}/-/refresh", {"Authorization": "Bearer t"}, "POST")
            time.sleep(0.5)
        done.set()
        for t in threads:
            t.join()
        refreshes = get(url)[2].decode()
    assert failures == []
    assert sum(counts) > 8 * SECONDS  # the clients kept scraping all along
    total = next(ln for ln in refreshes.splitlines() if ln.startswith("kpiwatch_refreshes_total"))
    assert float(total.split()[1]) >= 5
