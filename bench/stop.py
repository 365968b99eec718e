"""How long `kpiwatch serve` takes to exit on SIGTERM while its bulletin is drawn.

Builds a store of CHARTS indicators (one region each, forecasts off), starts the service
(its own process, 127.0.0.1, a free port) and sends SIGTERM two seconds into the drawing
of the current page (`drawer`), or of an older month's page asked for over HTTP (`page`);
prints the seconds until the service exited and until its last worker was gone, with the
load average and the CPU seconds of the whole run (service and workers). With TREE, the
service runs the code of that checkout instead (PYTHONPATH), e.g. an older commit's
`git archive`: rounds alternate between the two.
Usage: python -m bench.stop [CHARTS [ROUNDS [TREE]]]   (from the repository root)
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

KPIWATCH = str(Path(sys.executable).parent / "kpiwatch")
SOURCE = (
    '\n[[sources]]\nname = "data"\npath = "data.csv"\nlayout = "long"\n[sources.columns]\n'
    'period = "period"\nregion = "region"\nseries = "indicator"\nmeasure = "measure"\n'
    'value = "value"\n'
)


def write_store(where: Path, charts: int) -> None:
    """config.toml and data.csv: CHARTS indicators of one region, January to October."""
    parts = ['[store]\npath = "store.duckdb"\n[forecasts]\nenabled = false\n']
    parts.append('[[regions]]\nid = "r"\nname = "区"\n')
    rows = ["period,region,indicator,measure,value"]
    for i in range(charts):
        parts.append(
            f'[[indicators]]\nid = "k{i}"\nname = "指标{i}"\nunit = "个"\nkind = "flow"\n'
            f'[[targets]]\nindicator = "k{i}"\nregion = "r"\nyear = 2026\nannual = {100 + i}\n'
        )
        rows += [f"2026-{m:02d},r,k{i},value,{7 + i % 5 + m % 3}" for m in range(1, 11)]
    (where / "config.toml").write_text("\n".join(parts) + SOURCE, encoding="utf-8")
    (where / "data.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=600) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 1800
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("the service never got there")
        time.sleep(0.1)


def children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.add(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def one(base: Path, tree: str | None, case: str) -> tuple[float, float, float]:
    """Seconds to exit, seconds until every worker was gone, CPU seconds of the run."""
    work = Path(tempfile.mkdtemp(dir=base))
    for name in ("config.toml", "data.csv"):
        shutil.copy(base / name, work / name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, **({"PYTHONPATH": tree} if tree else {})}
    url = f"http://127.0.0.1:{port}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with (work / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [KPIWATCH, "serve", "--listen", f"127.0.0.1:{port}", "--today", "2026-11-05"],
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        until(lambda: status(f"{url}/readyz") == 200)
        if case == "page":
            until(lambda: status(f"{url}/bulletin") == 200)
            threading.Thread(target=status, args=(f"{url}/bulletin/2026-09",), daemon=True).start()
        until(lambda: len(children(proc.pid)) >= 4)  # tracker, render and chart workers
        time.sleep(2)  # into the drawing
        workers = children(proc.pid)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        exited = time.monotonic() - sent
        until(lambda: not any(alive(w) for w in workers))
        gone = time.monotonic() - sent
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return exited, gone, cpu


def main() -> None:
    charts = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    other = sys.argv[3] if len(sys.argv) > 3 else None
    trees: list[str | None] = [None, other] if other else [None]
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bench-stop-") as tmp:
        base = Path(tmp)
        write_store(base, charts)
        for n in range(rounds):
            for tree in trees if n % 2 == 0 else trees[::-1]:
                for case in ("drawer", "page"):
                    exited, gone, cpu = one(base, tree, case)
                    print(
                        f"{tree or 'this tree':>12} {case:6}  exit {exited:6.2f} s  "
                        f"workers gone {gone:6.2f} s  CPU of the run {cpu:5.1f} s  "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
