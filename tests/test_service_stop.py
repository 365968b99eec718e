"""Stopping the service (systemctl stop, Ctrl-C) while its worker processes draw or
forecast: it exits at once, ends every worker mid-task, quietly, and leaves no partial
file.

The workers are real (spawned by the service itself); the test holds them still with
SIGSTOP, so that a chunk of charts or forecasts "never finishes" whatever the machine's
speed: a service that waits for its workers then never exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from exporters.snapshotfile import load_snapshot, snapshot_path
from forecasts.schema import ForecastSettings
from kpiwatch.report import WORKERS
from tests.service_helpers import KPIWATCH, free_port, get, ready, wait_for

# Enough targets for the forecasts and the bulletin's charts to go to worker processes.
INDICATORS = 10
# A generous bound that only ends a hung test: the service exits in about a second.
EXIT_SECONDS = 30


def _config(forecasts: bool) -> str:
    parts = [
        f'[store]\npath = "store.duckdb"\n\n[forecasts]\nenabled = {str(forecasts).lower()}\n'
        'paths = 100\n\n[[regions]]\nid = "west_coast"\nname = "西海岸新区"\n'
    ]
    for i in range(INDICATORS):
        parts.append(
            f'\n[[indicators]]\nid = "k{i}"\nname = "指标{i}"\nunit = "个"\nkind = "flow"\n'
            f'owner = "单位{i}"\n\n[[targets]]\nindicator = "k{i}"\nregion = "west_coast"\n'
            f"year = 2026\nannual = {100 + 10 * i}\n"
        )
    parts.append(
        '\n[[sources]]\nname = "data"\npath = "data.csv"\nlayout = "long"\n'
        '[sources.columns]\nperiod = "period"\nregion = "region"\nseries = "indicator"\n'
        'measure = "measure"\nvalue = "value"\n'
    )
    return "".join(parts)


def _data(last_month: int = 10) -> str:
    """Every indicator's months to `last_month`, the first's to October (the current
    bulletin's month)."""
    lines = ["period,region,indicator,measure,value"]
    for i in range(INDICATORS):
        months = range(1, 11 if i == 0 else last_month + 1)
        lines += [f"2026-{m:02d},west_coast,k{i},value,{7 + i + m % 3}" for m in months]
    return "\n".join(lines) + "\n"


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (state first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _workers(pid: int) -> list[int]:
    """The worker processes a process spawned (multiprocessing's spawn), oldest first."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = _stat(int(entry.name))
            cmdline = (entry / "cmdline").read_bytes()
            if int(fields[1]) == pid and b"spawn_main" in cmdline and fields[0] != "Z":
                found.append((int(fields[19]), int(entry.name)))  # by start time
    return [p for _, p in sorted(found)]


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(_stat(int(entry.name))[1]) == pid:
                    out.add(int(entry.name))
    return out


@contextlib.contextmanager
def _service(workdir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`kpiwatch serve`; whatever the test leaves running is killed afterwards."""
    log = (workdir / "serve.log").open("wb")
    proc = subprocess.Popen(
        [KPIWATCH, "serve", "--listen", f"127.0.0.1:{port}", "--today", "2026-11-05"],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as in a terminal of its own
    )
    seen: set[int] = set()
    try:
        yield proc
    finally:
        seen |= _children(proc.pid)
        proc.kill()
        proc.wait()
        log.close()
        for pid in seen:  # a failed test leaves no stopped process behind
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _hold(pick: Callable[[], list[int]], count: int, what: str) -> list[int]:
    """Stop (SIGSTOP) the workers `pick` finds until `count` are held: a pool starts all
    its workers at once, and one left running could draw the page to its end."""
    held: set[int] = set()

    def found() -> bool:
        for pid in set(pick()) - held:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
                held.add(pid)
        return len(held) >= count

    wait_for(found, 120, what)
    return sorted(held)


def _forecast_workers(workdir: Path, port: int, proc: subprocess.Popen[bytes]) -> list[int]:
    def forecasting() -> list[int]:
        # the first refresh's forecasts: the only workers before the first snapshot
        return [] if ready(port) else _workers(proc.pid)

    return _hold(forecasting, ForecastSettings().workers, "forecast workers")


def _chart_workers(workdir: Path, port: int, proc: subprocess.Popen[bytes]) -> list[int]:
    # after the first refresh: the snapshot's render worker (the oldest) and the chart
    # workers of the bulletin being drawn
    wait_for(lambda: ready(port), 120, "the first snapshot")
    return _hold(lambda: _workers(proc.pid)[1:], WORKERS, "the bulletin's chart workers")


def _ask(url: str) -> None:
    with contextlib.suppress(OSError):  # the service stops before it answers
        get(url)


def _page_workers(workdir: Path, port: int, proc: subprocess.Popen[bytes]) -> list[int]:
    # September's page, drawn on request (October's, one chart, is drawn in-process)
    url = f"http://127.0.0.1:{port}/bulletin"
    wait_for(lambda: get(url)[0] == 200, 120, "the current bulletin")
    threading.Thread(target=_ask, args=(f"{url}/2026-09",), daemon=True).start()
    return _hold(lambda: _workers(proc.pid)[1:], WORKERS, "the requested page's chart workers")


def _sigterm(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)  # systemctl stop, docker stop


def _ctrl_c(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches its workers too


class Case(NamedTuple):
    busy: Callable[[Path, int, subprocess.Popen[bytes]], list[int]]
    stop: Callable[[subprocess.Popen[bytes]], None]
    forecasts: bool = False  # without them the bulletin's cases refresh quicker
    last_month: int = 10


CASES = {
    "forecasts-ctrl-c": Case(_forecast_workers, _ctrl_c, forecasts=True),
    "bulletin-sigterm": Case(_chart_workers, _sigterm),
    "page-on-request-sigterm": Case(_page_workers, _sigterm, last_month=9),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_a_stop_ends_the_service_and_its_busy_workers_at_once(tmp_path: Path, case: Case) -> None:
    workdir = tmp_path
    (workdir / "config.toml").write_text(_config(case.forecasts), encoding="utf-8")
    (workdir / "data.csv").write_text(_data(case.last_month), encoding="utf-8")
    port = free_port()
    with _service(workdir, port) as proc:
        held = case.busy(workdir, port, proc)
        children = _children(proc.pid)
        assert set(held) <= children
        case.stop(proc)
        try:
            proc.wait(EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"kpiwatch serve still runs {EXIT_SECONDS} s after it was stopped")
    # every worker ended, none left running or stopped as an orphan
    wait_for(lambda: not any(_alive(p) for p in children), EXIT_SECONDS, "the workers gone")
    # nor a word from the workers: a Ctrl-C is the service's to act on, not theirs
    log = (workdir / "serve.log").read_text(encoding="utf-8")
    assert "stopping" in log and "Traceback" not in log, log
    # no partial file: write_atomic's temp files are dot-files beside their target
    assert sorted(p.name for p in workdir.rglob(".*")) == []
    saved = snapshot_path(workdir / "store.duckdb")
    if saved.exists():
        assert load_snapshot(saved) is not None
