"""Wall and CPU clocks for benches on a shared machine: every query is timed by both,
in rounds that alternate it with its floor, and judged against the floor of its round."""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable, Mapping


def cpu_seconds() -> float:
    """CPU time of this process (all its threads) and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def clocked(run: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of one run."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    run()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def rounds(
    runs: Mapping[str, Callable[[], object]], count: int, floor: str = "floor"
) -> dict[str, dict[str, float]]:
    """Each run once per round, alternating; per run its best wall and CPU seconds and the
    median over rounds of its ratio to the floor's run in the same round."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(count):
        for name, run in runs.items():
            times[name].append(clocked(run))
    return {name: _summary(got, times[floor]) for name, got in times.items()}


def _summary(got: list[tuple[float, float]], base: list[tuple[float, float]]) -> dict[str, float]:
    pairs = list(zip(got, base, strict=True))
    return {
        "wall_s": round(min(w for w, _ in got), 3),
        "cpu_s": round(min(c for _, c in got), 3),
        "wall_ratio": round(statistics.median(g[0] / b[0] for g, b in pairs), 2),
        "cpu_ratio": round(statistics.median(g[1] / b[1] for g, b in pairs), 2),
    }


def load_average() -> float:
    """The one-minute load average."""
    return round(os.getloadavg()[0], 1)
