"""Series per second of kpiwatch's forecaster against statsforecast's AutoETS, timed live.

On a shared machine a figure cached at another time measures another load, so both
forecast the same fixed sample of a set in this process, alternating (AutoETS, kpiwatch,
AutoETS, kpiwatch, ...) after one untimed warm-up of each; each round gives a ratio of
wall and of CPU seconds (this process and its finished workers), and the median round is
the figure. Both use two worker processes, started anew for every run.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.forecast_baselines import run
from bench.forecast_sets import SeriesSet

SAMPLE = 96
ROUNDS = 2


@dataclass(frozen=True)
class Timing:
    """Median ratios (AutoETS seconds / kpiwatch seconds) and each round's figures."""

    wall_ratio: float
    cpu_ratio: float
    rounds: list[tuple[float, float, float, float]]  # ETS wall, cpu; kpiwatch wall, cpu
    series: int
    load: tuple[float, float]  # load average before and after


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    cpu, start = _cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - start, _cpu() - cpu


def sample(s: SeriesSet, n: int = SAMPLE) -> SeriesSet:
    """Every k-th series of the set, n of them (fixed: the same in every run)."""
    k = max(1, len(s.ids) // n)
    rows = list(range(0, len(s.ids), k))[:n]
    return SeriesSet(
        s.name,
        s.season,
        s.h,
        [s.ids[i] for i in rows],
        [s.trains[i] for i in rows],
        s.tests[rows],
    )


def throughput(s: SeriesSet, ours: Callable[[SeriesSet], object]) -> Timing:
    """AutoETS and `ours` on a fixed sample of s, alternating, ROUNDS times each."""
    part = sample(s)
    load_before = os.getloadavg()[0]
    warm = sample(part, 8)
    run(warm.trains, warm.h, warm.season, "AutoETS")  # numba compiles on first use
    ours(warm)
    rounds = []
    for _ in range(ROUNDS):
        ets = _timed(lambda: run(part.trains, part.h, part.season, "AutoETS"))
        mine = _timed(lambda: ours(part))
        rounds.append((*ets, *mine))
    return Timing(
        statistics.median(r[0] / r[2] for r in rounds),
        statistics.median(r[1] / r[3] for r in rounds),
        rounds,
        len(part.ids),
        (load_before, os.getloadavg()[0]),
    )


def lines(t: Timing) -> list[str]:
    """The timing as Markdown lines."""
    out = [
        f"throughput, timed live on {t.series} series ({ROUNDS} alternating rounds, load"
        f" average {t.load[0]:.1f} -> {t.load[1]:.1f}): {t.wall_ratio:.2f}x AutoETS by wall"
        f" clock, {t.cpu_ratio:.2f}x by CPU seconds; goal >= 1.0",
        "| round | AutoETS wall s | AutoETS CPU s | kpiwatch wall s | kpiwatch CPU s |",
        "|---|---|---|---|---|",
    ]
    for i, r in enumerate(t.rounds, 1):
        out.append(f"| {i} | {r[0]:.1f} | {r[1]:.1f} | {r[2]:.1f} | {r[3]:.1f} |")
    return out
