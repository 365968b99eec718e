"""Checks throughput: kpiwatch's progress checks against a persisted YTD window query.

Builds a store with ROWS (default 1,000,000) monthly observations — indicators × 200
regions × 10 months of 2026, one target per series (100,000) — then times, in the same
process and REPEATS times each (min and median reported):
  1. the floor: a DuckDB window query computing only YTD sums, written to a table and
     committed (what any stored result costs);
  2. a full recompute of the checks (actuals, roll-up, pace, three horizons, status,
     store), as `kpiwatch refresh` runs it (forecasts off: 100,000 series of them are
     timed by bench.forecast_accuracy), and the escalation ladder after it;
  3. a refresh after one release that touches 1 % of the series (a new month of 1,000
     series, loaded by kpiwatch's ingest, timed apart).
Goals: the full recompute ≤ 3× the floor; the refresh after a release ≤ 0.05× the full.
Usage: python -m bench.checks [ROWS [REPEATS]]   (from the repository root)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb

from ingest.store import open_store, transaction
from kpiwatch import app
from kpiwatch.config import Config, load_config

REGIONS, MONTHS = 200, 10
TODAY = date(2026, 11, 15)
FLOOR = """
CREATE OR REPLACE TABLE bench_floor AS
SELECT indicator, region, period_end,
       sum(value) OVER (PARTITION BY indicator, region, year(period_end) ORDER BY period_end)
           AS ytd
FROM observations_latest
"""


def build(base: Path, rows: int) -> Path:
    indicators = max(1, rows // (REGIONS * MONTHS))
    data = base / "obs.csv"
    duckdb.connect().execute(
        f"""
        COPY (SELECT printf('2026-%02d', m + 1) AS period, 'r' || r AS region,
                     'i' || i AS indicator, 'value' AS measure,
                     round(80 + 40 * random()) AS value
              FROM range({indicators}) a(i), range({REGIONS}) b(r), range({MONTHS}) c(m))
        TO '{data}' (HEADER)
        """
    )
    cfg = textwrap.dedent(f"""
        [store]
        path = "bench.duckdb"
        [forecasts]
        enabled = false
        [[sources]]
        name = "bench"
        path = "{data}"
        layout = "long"
        [sources.columns]
        period = "period"
        region = "region"
        series = "indicator"
        measure = "measure"
        value = "value"
    """)
    cfg += "".join(
        f'[[indicators]]\nid = "i{i}"\nname = "i{i}"\nkind = "flow"\n' for i in range(indicators)
    )
    cfg += "".join(f'[[regions]]\nid = "r{r}"\nname = "r{r}"\n' for r in range(REGIONS))
    cfg += "".join(
        f'[[targets]]\nindicator = "i{i}"\nregion = "r{r}"\nyear = 2026\nannual = 1200\n'
        f"quarters = {{ Q1 = 280 }}\n"
        for i in range(indicators)
        for r in range(REGIONS)
    )
    (base / "config.toml").write_text(cfg, encoding="utf-8")
    return base / "config.toml"


def release(base: Path, rows: int, n: int) -> Path:
    """The n-th release: November's value of 1 % of the series (a different 1 % each)."""
    indicators = max(1, rows // (REGIONS * MONTHS))
    per = max(1, indicators // 100)  # every region of 1 % of the indicators
    path = base / f"release{n}.csv"
    duckdb.connect().execute(
        f"""
        COPY (SELECT '2026-11' AS period, 'r' || r AS region, 'i' || i AS indicator,
                     'value' AS measure, round(80 + 40 * random()) AS value
              FROM range({n * per}, {(n + 1) * per}) a(i), range({REGIONS}) b(r))
        TO '{path}' (HEADER)
        """
    )
    return path


def refresh(config: Config, full: bool) -> tuple[float, float, int, float]:
    """Seconds to the checks stored, seconds in all (the ladder too), targets recomputed,
    CPU seconds to the checks stored (DuckDB's threads included)."""
    con = open_store(config.store_path)
    marks: dict[str, tuple[float, float]] = {}

    def mark(stage: str) -> None:
        marks.setdefault(stage, (time.perf_counter(), time.process_time()))

    try:
        start, cpu = time.perf_counter(), time.process_time()
        checks, _ = app.refresh_with(con, config, TODAY, mark, full=full)
        wall, at = marks["escalation"]
        return wall - start, time.perf_counter() - start, checks.recomputed, at - cpu
    finally:
        con.close()


def floor(config: Config) -> tuple[float, float]:
    """Wall and CPU seconds of the floor."""
    con = open_store(config.store_path)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        with transaction(con):
            con.execute(FLOOR)
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        con.close()


def spread(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3)}


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    times = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bench-") as tmp:
        base = Path(tmp)
        config = load_config(build(base, rows))
        (outcome,) = app.ingest(config)
        assert outcome.error is None, outcome.error
        config.check_inputs()  # digested once per config: a service does it at start or reload
        load = [os.getloadavg()[0]]
        floors, fulls = [], []
        for _ in range(times):  # alternating: the machine's load falls on both alike
            floors.append(floor(config))
            fulls.append(refresh(config, True))
        load.append(os.getloadavg()[0])
        loads: list[float] = []
        after: list[tuple[float, float, int, float]] = []
        for n in range(times):
            path = release(base, rows, n)
            start = time.perf_counter()
            (outcome,) = app.ingest(config, [path], source_name="bench")
            assert outcome.error is None, outcome.error
            loads.append(time.perf_counter() - start)
            after.append(refresh(config, False))
    load.append(os.getloadavg()[0])
    full = statistics.median(f[0] for f in fulls)
    full_cpu = statistics.median(f[3] for f in fulls)
    print(
        json.dumps(
            {
                "observations": rows,
                "targets": len(config.targets),
                "floor_persisted_s": spread([f[0] for f in floors]),
                "floor_persisted_cpu_s": spread([f[1] for f in floors]),
                "full_checks_s": spread([f[0] for f in fulls]),
                "full_checks_cpu_s": spread([f[3] for f in fulls]),
                "full_with_ladder_s": spread([f[1] for f in fulls]),
                "release_ingest_s": spread(loads),
                "release_checks_s": spread([a[0] for a in after]),
                "release_with_ladder_s": spread([a[1] for a in after]),
                "release_checks_cpu_s": spread([a[3] for a in after]),
                "release_targets_recomputed": after[0][2],
                "full_to_floor": round(full / statistics.median(f[0] for f in floors), 2),
                "full_to_floor_cpu": round(full_cpu / statistics.median(f[1] for f in floors), 2),
                "release_to_full": round(statistics.median(a[0] for a in after) / full, 3),
                "load_average_1m": [round(x, 1) for x in load],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
