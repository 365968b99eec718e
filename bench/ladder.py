"""The escalation ladder's throughput: levels against a bare window query of run lengths.

Builds ITEMS × PERIODS item-periods (default 20,000 × 50 = 1,000,000) with statuses
drawn at random (behind 35 %, at risk 15 %, on track 45 %, no data 5 %), then times, in
the same process and on the same rows,
  1. the floor: each item's consecutive-behind run length (the islands of one status,
     numbered by the row-number difference, and the row number inside each), and
  2. every item-period's level (metrics.ladder.history_sql), without talks recorded, and
  3. the same with the talk rule's pass (one recorded talk per 50 units).
Usage: python -m bench.ladder [ITEMS [PERIODS]]   (from the repository root)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import date

import duckdb

from metrics.ladder import Escalation, Talk, history_sql

FLOOR = """
SELECT item, seq, CASE WHEN status = 'behind'
                       THEN row_number() OVER (PARTITION BY item, status, isl ORDER BY seq)
                       ELSE 0 END AS run
FROM (SELECT *, seq - row_number() OVER (PARTITION BY item, status ORDER BY seq) AS isl
      FROM (SELECT *, row_number() OVER (PARTITION BY item ORDER BY period_end) AS seq
            FROM items WHERE status <> 'no_data'))
"""
SOURCE = "SELECT * FROM items"


def build(con: duckdb.DuckDBPyConnection, items: int, periods: int) -> None:
    """The item-periods and the talks, in memory."""
    con.execute("SELECT setseed(0.19)")
    con.execute(
        """
        CREATE TABLE items AS
        SELECT 'check' AS item_kind, 'i' || i AS item, 'u' || (i % 1000) AS unit,
               'ind' || (i % 100) AS indicator, 'r' || (i // 100) AS region,
               CAST(p AS VARCHAR) AS period,
               last_day(make_date(2000 + p // 12, p % 12 + 1, 1)) AS period_end,
               CASE WHEN x < 0.35 THEN 'behind' WHEN x < 0.5 THEN 'at_risk'
                    WHEN x < 0.95 THEN 'on_track' ELSE 'no_data' END AS status
        FROM (SELECT i, p, random() AS x FROM range($items) a(i), range($periods) b(p))
        """,
        {"items": items, "periods": periods},
    )
    con.execute(
        "CREATE TABLE escalation_talk_units AS SELECT DATE '2001-06-15' AS talk_date, "
        "'u' || (i * 50) AS unit_key FROM range(20) r(i)"
    )


def timed(run: Callable[[], object], repeat: int = 3) -> float:
    """The best of `repeat` wall-clock runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main(items: int, periods: int) -> dict[str, object]:
    con = duckdb.connect()
    build(con, items, periods)
    levels = history_sql(Escalation(), SOURCE)
    talked = history_sql(Escalation(talks=(Talk(date=date(2001, 6, 15), unit="u0"),)), SOURCE)
    floor = timed(lambda: con.execute(f"SELECT count(*), sum(run) FROM ({FLOOR})").fetchall())
    plain = timed(lambda: con.execute(f"SELECT count(*), sum(level) FROM ({levels})").fetchall())
    talks = timed(lambda: con.execute(f"SELECT count(*), sum(level) FROM ({talked})").fetchall())
    top = con.execute(f"SELECT level, count(*) FROM ({talked}) GROUP BY 1 ORDER BY 1").fetchall()
    return {
        "item_periods": items * periods,
        "floor_s": round(floor, 3),
        "levels_s": round(plain, 3),
        "levels_with_talks_s": round(talks, 3),
        "ratio": round(plain / floor, 2),
        "ratio_with_talks": round(talks / floor, 2),
        "levels": {int(k): int(n) for k, n in top},
    }


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(main(*(args + [20_000, 50][len(args) :])), indent=1))
