"""The escalation ladder's throughput: levels against a bare window query of run lengths.

Builds ITEMS × PERIODS item-periods (default 20,000 × 50 = 1,000,000) with statuses
drawn at random (behind 35 %, at risk 15 %, on track 45 %, no data 5 %), of the three
kinds the ladder reads: checks (60 %), tasks' pace (20 %) and at-least-one-per-period
rules (20 %). Their sources (`progress`, `task_pace_as_of`, `every_period_as_of`) read
the stored rows, so what is timed is the ladder's own SQL as metrics.ladder.views
installs it; the sources' cost is the checks' and tasks' benches. Then times, in ROUNDS
alternating rounds (default 3), by the clock and by CPU time (all threads), each stored
in a temporary table as the service would read it:
  1. the floor: each item's consecutive-behind run length (the islands of one status,
     numbered by the row-number difference, and the row number inside each),
  2. escalation_history_as_of(d), every column, without talks, and
  3. the same with the talk rule's pass (one recorded talk per 50 units).
Ratios are medians over the rounds of each query's time to the floor's in the same round.
Usage: python -m bench.ladder [ITEMS [PERIODS [ROUNDS]]]   (from the repository root)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date

import duckdb

from bench.timing import load_average, rounds
from metrics.ladder import Escalation, Talk, views

FLOOR = """
SELECT item, seq, CASE WHEN status = 'behind'
                       THEN row_number() OVER (PARTITION BY item, status, isl ORDER BY seq)
                       ELSE 0 END AS run
FROM (SELECT *, seq - row_number() OVER (PARTITION BY item, status ORDER BY seq) AS isl
      FROM (SELECT *, row_number() OVER (PARTITION BY item ORDER BY period_end) AS seq
            FROM items WHERE status <> 'no_data'))
"""

# Stand-ins for the ladder's sources, with the columns it reads from each.
SOURCES = """
CREATE VIEW progress AS
SELECT item AS indicator, region, unit AS owner, period AS as_of, period_end AS as_of_end,
       status, 'month' AS horizon
FROM items WHERE item_kind = 'check';
CREATE MACRO task_pace_as_of(d) AS TABLE
SELECT item AS task, unit, period, period_end, status FROM items WHERE item_kind = 'task_pace';
CREATE MACRO every_period_as_of(d) AS TABLE
SELECT item AS rule, unit, region, period, period_end, status
FROM items WHERE item_kind = 'every_period';
-- overdue tasks and project nodes are dated directly, not by periods: none here
CREATE MACRO task_status_as_of(d) AS TABLE
SELECT '' AS task, '' AS unit, DATE '2000-01-01' AS deadline, NULL::DATE AS done_on,
       0 AS days_late, '' AS status WHERE false;
CREATE MACRO project_nodes_at(t, d) AS TABLE
SELECT '' AS register, '' AS project, '' AS node, '' AS unit, '' AS region,
       DATE '2000-01-01' AS planned, NULL::DATE AS actual, 0 AS days_late, '' AS state
WHERE false;
CREATE TABLE units AS SELECT 'u' || i AS id, 'unit ' || i AS name FROM range(1000) r(i);
CREATE TABLE escalation_talks AS
SELECT DATE '2001-06-15' AS talk_date, 'u' || (i * 50) AS unit, '' AS note FROM range(20) r(i);
"""


def build(con: duckdb.DuckDBPyConnection, items: int, periods: int) -> None:
    """The item-periods, their sources and the talks, in memory."""
    con.execute("SELECT setseed(0.19)")
    con.execute(
        """
        CREATE TABLE items AS
        SELECT ['check', 'check', 'check', 'task_pace', 'every_period'][i % 5 + 1]
                   AS item_kind,
               'i' || i AS item, 'u' || (i % 1000) AS unit, 'r' || (i // 100) AS region,
               CAST(p AS VARCHAR) AS period,
               last_day(make_date(2000 + p // 12, p % 12 + 1, 1)) AS period_end,
               CASE WHEN x < 0.35 THEN 'behind' WHEN x < 0.5 THEN 'at_risk'
                    WHEN x < 0.95 THEN 'on_track' ELSE 'no_data' END AS status
        FROM (SELECT i, p, random() AS x FROM range($items) a(i), range($periods) b(p))
        """,
        {"items": items, "periods": periods},
    )
    con.execute(SOURCES)
    # the ladder with talks under its own name, then without under the service's
    talks = Escalation(talks=(Talk(date=date(2001, 6, 15), unit="u0"),))
    con.execute(views(talks).replace("escalation_history_as_of", "talked_history_as_of"))
    con.execute(views(Escalation()))


def stored(con: duckdb.DuckDBPyConnection, sql: str) -> Callable[[], object]:
    """A run of a query stored in a temporary table (no transfer to Python)."""
    return lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE bench_out AS {sql}")


def main(items: int, periods: int, count: int) -> dict[str, object]:
    con = duckdb.connect()
    build(con, items, periods)
    day = "DATE '2100-01-01'"
    queries = {
        "floor": FLOOR,
        "levels": f"SELECT * FROM escalation_history_as_of({day})",
        "levels_with_talks": f"SELECT * FROM talked_history_as_of({day})",
    }
    load = load_average()
    timed = rounds({name: stored(con, sql) for name, sql in queries.items()}, count)
    top = con.execute(
        f"SELECT level, count(*) FROM talked_history_as_of({day}) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return {
        "item_periods": items * periods,
        "rounds": count,
        "load_average": [load, load_average()],
        **timed,
        "levels_by_level_with_talks": {int(k): int(n) for k, n in top},
        "goal_ratio": 3.0,
    }


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    print(json.dumps(main(*(args + [20_000, 50, 3][len(args) :])), indent=1))
