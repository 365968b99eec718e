"""Units' lists throughput: task statuses and unit scores against a bare DuckDB aggregate.

Builds a store with TASKS (default 50,000) tasks across 500 units, each with a quantity
target and a year of weekly progress reports (52 per task: 2.6 M rows), then times, in
the same process and on the same rows, in ROUNDS alternating rounds (default 5),
  1. the floor: the progress rows summed by unit and ISO week (a join and a GROUP BY),
  2. every task's status as of a day (task_status_as_of), and
  3. every unit's score and rank (unit_scores_as_of, which computes the statuses too),
  4. every quantity task's pace, period by period (task_pace_as_of: 1.5 M periods).
Each by the clock and by CPU time (all threads); ratios are medians over the rounds of
each query's time to the floor's in the same round.
Usage: python -m bench.tasks [TASKS [ROUNDS]]   (from the repository root)
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from bench.timing import load_average, rounds
from ingest.store import open_store
from metrics import task_pace
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


def materialise(con: duckdb.DuckDBPyConnection, sql: str) -> Callable[[], object]:
    """A run of a query stored in DuckDB (a temporary table: the floor and kpiwatch pay
    the same, no transfer to Python)."""
    return lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE bench_out AS {sql}", [])


def run(tasks: int, count: int = 5, report: Callable[[str], None] = print) -> dict[str, object]:
    day = f"DATE '{AS_OF}'"
    queries = {
        "floor": FLOOR,
        "statuses": f"SELECT * FROM task_status_as_of({day})",
        "unit_scores": f"SELECT * FROM unit_scores_as_of({day})",
        "task_pace": f"SELECT * FROM task_pace_as_of({day})",
    }
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bench-") as tmp:
        con = open_store(Path(tmp) / "bench.duckdb")
        try:
            build(con, tasks)
            install(con, TaskScoring())
            con.execute(task_pace.MACRO)
            rows = {n: con.execute(f"SELECT count(*) FROM ({q})").fetchall()[0][0]
                    for n, q in queries.items()}  # fmt: skip
            load = load_average()
            timed = rounds({n: materialise(con, q) for n, q in queries.items()}, count)
        finally:
            con.close()
    result = {
        "tasks": tasks,
        "progress_rows": tasks * WEEKS,
        "rounds": count,
        "load_average": [load, load_average()],
        **timed,
        "goal_ratio": 3.0,
    }
    report(", ".join(f"{n}: {r} rows" for n, r in rows.items()))
    report(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    run(*(args + [50_000, 5][len(args) :]))
