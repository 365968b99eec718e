"""Project registers: kpiwatch's register ingest and counts against bare DuckDB, same run.

Generates VERSIONS monthly registers of PROJECTS projects × 10 nodes (planned and
reported dates per node; each month more nodes are reported and the plans of 6 projects
in 7 move, so most node versions change every month), then, for each file in order:
  1. DuckDB's bare read_csv of the file into a table (the ingest baseline), and
  2. kpiwatch's load_register (checks, versions, derived counts, one transaction).
Then all derived counts (the project_counts view: regions rolled up, 旬, month, quarter,
year) against a bare GROUP BY of the same events by region, node and month (best of 3
each), and project_counts_at(d) for a d before the last load (every stored version
resolved). Wall and CPU seconds (this process, DuckDB's threads included, and any
children), the load average, and peak RSS of the run.
Usage: python -m bench.projects [PROJECTS [VERSIONS [LAYOUT]]]
       (defaults 100000, 12, projects; LAYOUT events: one row per project × node)
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from ingest.register_schema import DEFAULT_NODES, Count, Register
from ingest.register_store import load_register
from ingest.schema import Region
from ingest.store import open_store

REGIONS = [Region(id="area", name="新区")] + [
    Region(id=f"zone{i}", name=f"园区{i}", parent="area") for i in range(8)
]


_PROJECT = """printf('P%06d', p) AS 项目编号, printf('项目%d', p) AS 项目名称,
    printf('园区%d', p % 8) AS 区域, printf('单位%d', p % 20) AS 责任单位, '' AS 配合单位,
    round(0.5 + (p % 1000) / 10.0, 1) AS "总投资(亿元)", '' AS 类别"""


def _dates(k: str, version: int) -> tuple[str, str]:
    """Node k's planned and reported texts: ~40 days after node k-1, reported once due
    (3 days later) by the register's month; 6 projects in 7 slip a day a month per 7."""
    cut = f"DATE '2026-01-01' + INTERVAL {30 * version} DAY"
    planned = f"DATE '2025-06-01' + INTERVAL (p % 300 + 40 * {k} + (p % 7) * {version}) DAY"
    done = f"{planned} + INTERVAL 3 DAY"
    reported = f"CASE WHEN {done} <= {cut} THEN strftime({done}, '%Y/%-m/%-d') END"
    return f"strftime({planned}, '%Y-%m-%d')", reported


def generate(path: Path, projects: int, version: int, layout: str = "projects") -> None:
    """One month's register, one row per project (or per project × node: `events`)."""
    if layout == "events":
        names = ", ".join(f"'{n.name}'" for n in DEFAULT_NODES)
        planned, reported = _dates("k", version)
        select = (
            f"SELECT {_PROJECT}, ([{names}])[k + 1] AS 节点, {planned} AS 计划日期, "
            f"{reported} AS 实际日期, NULL AS 认定日期 FROM range({projects}) a(p), range(10) b(k)"
        )
    else:
        cells = []
        for k, node in enumerate(DEFAULT_NODES):
            planned, reported = _dates(str(k), version)
            cells += [f'{planned} AS "{node.name}计划"', f'{reported} AS "{node.name}实际"']
            cells.append(f'NULL AS "{node.name}认定"')
        select = f"SELECT {_PROJECT}, {', '.join(cells)} FROM range({projects}) t(p)"
    duckdb.connect().execute(f"COPY ({select}) TO '{path}' (HEADER)")


COUNTS = [
    Count(indicator="signed_1", node="signed", min_investment=1),
    Count(indicator="signed_50", node="signed", min_investment=50),
    Count(indicator="started", node="started"),
    Count(indicator="completed", node="completed"),
]


def cpu() -> float:
    """CPU seconds of this process (DuckDB's threads included) and of its children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def ingest(
    tmp: Path, files: list[Path], layout: str
) -> tuple[tuple[float, float], tuple[float, float], duckdb.DuckDBPyConnection]:
    """(wall, CPU) seconds of bare read_csv and of kpiwatch for every file in order; the
    store. The two alternate file by file, so both see the same load."""
    register = Register(name="bench", path="*.csv", counts=COUNTS, layout=layout)
    bare = duckdb.connect(str(tmp / "bare.duckdb"))
    con = open_store(tmp / "kpiwatch.duckdb")
    t_bare, t_ours = [0.0, 0.0], [0.0, 0.0]
    for v, f in enumerate(files):
        t, c = time.perf_counter(), cpu()
        bare.execute(f"CREATE OR REPLACE TABLE raw AS SELECT * FROM read_csv('{f}', header = true)")
        t_bare[0] += time.perf_counter() - t
        t_bare[1] += cpu() - c
        t, c = time.perf_counter(), cpu()
        known = datetime(2026, 1, 1, 12) + timedelta(days=30 * v)
        load_register(con, f, register, {}, REGIONS, [register], known_from=known)
        t_ours[0] += time.perf_counter() - t
        t_ours[1] += cpu() - c
    return (t_bare[0], t_bare[1]), (t_ours[0], t_ours[1]), con


def counts(con: duckdb.DuckDBPyConnection) -> tuple[float, float, tuple[float, float], int]:
    """Seconds (best of 3) of all derived counts, of a bare GROUP BY of the same events
    and (wall, CPU) of the counts as known on an earlier day; rows."""
    con.execute(  # the same events, flat: what a bare GROUP BY would be handed
        "CREATE TEMP TABLE flat AS SELECT p.region, n.node, n.reported AS day "
        "FROM node_rows_current n JOIN project_rows_current p USING (register, project) "
        "WHERE n.reported IS NOT NULL"
    )
    t_counts = _best("SELECT count(*) FROM project_counts", con)[0]
    t_group = _best(
        "SELECT region, node, date_trunc('month', day), count(*) FROM flat GROUP BY ALL", con
    )[0]
    t_then = _best("SELECT count(*) FROM project_counts_at(TIMESTAMP '2026-06-01')", con, 2)
    n = con.execute("SELECT count(*) FROM project_counts").fetchall()[0][0]
    return t_counts, t_group, t_then, int(n)


def _best(sql: str, con: duckdb.DuckDBPyConnection, runs: int = 3) -> tuple[float, float]:
    """The shortest wall and CPU seconds of `runs` runs of a query."""
    walls, cpus = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), cpu()
        con.execute(sql).fetchall()
        walls.append(time.perf_counter() - t)
        cpus.append(cpu() - c)
    return min(walls), min(cpus)


def main() -> None:
    projects = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    versions = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    layout = sys.argv[3] if len(sys.argv) > 3 else "projects"
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bench-") as tmp:
        files = [Path(tmp) / f"register_{v:02d}.csv" for v in range(versions)]
        for v, f in enumerate(files):
            generate(f, projects, v, layout)
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        t_bare, t_ours, con = ingest(Path(tmp), files, layout)
        print(f"ingest: {versions} registers of {projects:,} projects × 10 nodes ({layout})")
        for what, i in (("wall", 0), ("CPU", 1)):
            print(
                f"  {what}: bare read_csv {t_bare[i]:.2f} s, kpiwatch {t_ours[i]:.2f} s: "
                f"{t_bare[i] / t_ours[i]:.3f}"
            )
        t_counts, t_group, t_then, n = counts(con)
        print(
            f"counts: project_counts {t_counts:.3f} s ({n:,} rows) vs bare GROUP BY "
            f"{t_group:.3f} s: {t_counts / t_group:.1f}×; as known on 2026-06-01 "
            f"{t_then[0]:.2f} s ({t_then[1]:.2f} CPU s)"
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {rss:.0f} MB; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
