"""End-to-end latency: a release dropped into the inbox until /metrics serves its value.

Starts `kpiwatch serve` (its own process, 127.0.0.1, a free port) on the demo config or
on the bench store of bench.checks (1,000,000 observations, 100,000 targets), waits for
its first refresh, then REPEATS times drops a one-release file into the inbox and polls
/metrics until the new value is served; prints min and median seconds.
Usage: python -m bench.latency demo|bench [REPEATS [ROWS]]   (from the repository root;
ROWS: the bench store's observations, 1,000,000 unless given)
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import checks

ROOT = Path(__file__).resolve().parent.parent
SERVER = '\n[server]\ninbox = "inbox"\ninbox_poll_seconds = 0.2\nrefresh_interval_seconds = 86400\n'


def demo(base: Path) -> tuple[Path, str, dict[str, str]]:
    """The demo config with its sample series read from the inbox; what to drop, and the
    sample line /metrics shows for it."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('path = "../shared/', f'path = "{ROOT.parent}/shared/')
    text = text.replace('path = "sample/west_coast_projects.csv"', 'path = "inbox/*.csv"')
    text = text.replace('path = "sample/', f'path = "{ROOT}/sample/')
    text = text.replace('path = "kpiwatch.duckdb"', 'path = "demo.duckdb"')
    (base / "inbox").mkdir()
    shutil.copy(ROOT / "sample" / "west_coast_projects.csv", base / "inbox")
    (base / "config.toml").write_text(text + SERVER, encoding="utf-8")
    row = "2026年11月,guzhenkou,fai_wc,ytd,{value}0000"  # 万元: the file's own unit
    labels = {"indicator": "fai_wc", "region": "guzhenkou", "horizon": "year", "year": "2026"}
    return base / "config.toml", "period,region,indicator,measure,value\n" + row + "\n", labels


def bench(base: Path, rows: int = 1_000_000) -> tuple[Path, str, dict[str, str]]:
    """The bench store's config, its observations read from the inbox."""
    config = checks.build(base, rows)
    (base / "inbox").mkdir()
    shutil.move(base / "obs.csv", base / "inbox" / "obs.csv")
    text = config.read_text(encoding="utf-8").replace(
        f'path = "{base}/obs.csv"', 'path = "inbox/*.csv"'
    )
    config.write_text(text + SERVER, encoding="utf-8")
    lines = "".join(f"2026-11,r{r},i{i},value,{{value}}\n" for i in range(5) for r in range(200))
    labels = {"indicator": "i0", "region": "r0", "horizon": "month", "year": "2026"}
    return config, "period,region,indicator,measure,value\n" + lines, labels


def served(port: int, labels: dict[str, str]) -> float | None:
    """The value of kpiwatch_kpi_actual with these labels, if served."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("kpiwatch_kpi_actual{") and all(w in line for w in wanted):
                return float(line.split()[-1])
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(port: int, sample: dict[str, str], value: float, limit: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        try:
            if served(port, sample) == value:
                return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{sample} never showed {value} within {limit:.0f}s")


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "demo"
    times = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    with tempfile.TemporaryDirectory(prefix="kpiwatch-latency-") as tmp:
        base = Path(tmp)
        config, release, sample = demo(base) if which == "demo" else bench(base, rows)
        port = free_port()
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "kpiwatch"),
                "--config",
                str(config),
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--today",
                "2026-11-20",
                "--log-level",
                "WARNING",
            ],
            cwd=base,
        )
        loads = [os.getloadavg()[0]]
        try:
            first = time.perf_counter()
            served_value(port, sample)
            started = time.perf_counter() - first
            seconds, refreshes = [], []
            for n in range(times):
                value = 170 + n
                drop = base / "inbox" / f"release{n}.csv"
                drop.with_suffix(".tmp").write_text(release.format(value=value), encoding="utf-8")
                drop.with_suffix(".tmp").rename(drop)  # the whole file appears at once
                seconds.append(wait(port, sample, float(value), 1800))
                refreshes.append(refresh_seconds(port))
                loads.append(os.getloadavg()[0])
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(600)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)  # the service and its workers
    print(
        json.dumps(
            {
                "store": which,
                "first_refresh_s": round(started, 2),
                "inbox_to_metrics_s": spread(seconds),
                "refresh_duration_s": spread(refreshes),  # as the service reports it
                "inbox_poll_seconds": 0.2,
                "service_cpu_s": round(cpu.ru_utime + cpu.ru_stime, 1),
                "load_average_1m": [round(x, 1) for x in loads],
            },
            indent=2,
        )
    )


def spread(values: list[float]) -> dict[str, object]:
    return {
        "min": round(min(values), 2),
        "median": round(statistics.median(values), 2),
        "each": [round(v, 2) for v in values],
    }


def refresh_seconds(port: int) -> float:
    """kpiwatch_refresh_duration_seconds: the last refresh, ingest to snapshot."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("kpiwatch_refresh_duration_seconds "):
                return float(line.split()[-1])
    return float("nan")


def served_value(port: int, sample: dict[str, str]) -> float:
    """Wait for the first refresh to serve the sample, whatever its value."""
    start = time.perf_counter()
    while time.perf_counter() - start < 1800:
        try:
            found = served(port, sample)
            if found is not None:
                return found
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{sample} was never served")


if __name__ == "__main__":
    main()
