"""Units' lists throughput: task statuses and unit scores against a bare DuckDB aggregate.

Builds a store with TASKS (default 50,000) tasks across 500 units, each with a quantity
target and a year of weekly progress reports (52 per task: 2.6 M rows), then times, in
the same process and on the same rows,
  1. the floor: the progress rows summed by unit and ISO week (a join and a GROUP BY),
  2. every task's status as of a day (task_status_as_of), and
  3. every unit's score and rank (unit_scores_as_of, which computes the statuses too).
Usage: python -m bench.tasks [TASKS]   (from the repository root)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from ingest.store import open_store
from metrics.task_status import TaskScoring, install

UNITS, WEEKS = 500, 52
AS_OF = date(2026, 11, 30)
FLOOR = """
SELECT t.unit, date_trunc('week', r.report_date) AS week, sum(r.quantity), count(*)
FROM report_vintages r JOIN task_vintages t USING (task) GROUP BY ALL
"""


def build(con: duckdb.DuckDBPyConnection, tasks: int) -> None:
    """The units, tasks and weekly reports, written straight into the store's tables."""
    con.execute(
        "INSERT INTO unit_catalog SELECT 'u' || i, 'unit ' || i, 'department', "
        "CASE WHEN i > 0 THEN 'u0' END, NULL, '', [], [] FROM range(?) r(i)",
        [UNITS],
    )
    con.execute("INSERT INTO task_loads VALUES (1, 'tasks', 'bench', '', '2025-12-01', now(), "
                "0, 0, 0, 0)")  # fmt: skip
    con.execute(
        """
        INSERT INTO task_vintages
        SELECT 't' || i, 'task ' || i, 'u' || (i % $units), '', [], 'week', DATE '2026-01-05',
               DATE '2026-01-05' + CAST(60 + i % 300 AS INTEGER), 40 + i % 30, '个', NULL,
               false, 1, i + 2, NULL
        FROM range($tasks) r(i)
        """,
        {"units": UNITS, "tasks": tasks},
    )
    con.execute(
        """
        INSERT INTO report_vintages
        SELECT 't' || i, DATE '2026-01-09' + CAST(7 * w AS INTEGER),
               CAST(hash(i, w) % 3 AS DOUBLE), false, '', 1, i * $weeks + w + 2, NULL
        FROM range($tasks) a(i), range($weeks) b(w)
        """,
        {"tasks": tasks, "weeks": WEEKS},
    )


def timed(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> tuple[float, int]:
    """Best of three wall times of a query materialised in DuckDB (a temporary table: the
    floor and kpiwatch pay the same, no transfer to Python), and its rows."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE bench_out AS {sql}", params)
        best = min(best, time.perf_counter() - started)
    rows = con.execute("SELECT count(*) FROM bench_out").fetchall()[0][0]
    return best, int(rows)


def run(tasks: int, report: Callable[[str], None] = print) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bench-") as tmp:
        con = open_store(Path(tmp) / "bench.duckdb")
        try:
            build(con, tasks)
            install(con, TaskScoring())
            floor, floor_rows = timed(con, FLOOR, [])
            status, status_rows = timed(con, "SELECT * FROM task_status_as_of(?)", [AS_OF])
            scores, score_rows = timed(con, "SELECT * FROM unit_scores_as_of(?)", [AS_OF])
        finally:
            con.close()
    result = {
        "tasks": tasks,
        "progress_rows": tasks * WEEKS,
        "floor_s": round(floor, 3),
        "statuses_s": round(status, 3),
        "unit_scores_s": round(scores, 3),
        "statuses_ratio": round(status / floor, 2),
        "unit_scores_ratio": round(scores / floor, 2),
        "goal_ratio": 3.0,
    }
    report(f"floor: {floor_rows} unit-weeks; statuses: {status_rows}; units: {score_rows}")
    report(json.dumps(result))
    return result


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
