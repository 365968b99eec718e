"""Progress checks, set-based in DuckDB: pace, attainment, gap, required rate, status.

One row per target × as-of month × horizon (month, quarter, year). Statuses follow the
thresholds, then hysteresis, then the cascade 以月保季、以季保年: a month behind puts its
quarter at risk, a quarter behind puts its year at risk.
"""

from __future__ import annotations

from datetime import date

import duckdb

SEVERITY = "CASE {0} WHEN 'behind' THEN 3 WHEN 'at_risk' THEN 2 WHEN 'on_track' THEN 1 ELSE 0 END"
# Statuses and horizons are the store's enum types from the start: casting millions of
# strings when storing cost more than computing them.
STATUS_OF = (
    "CASE {0} WHEN 3 THEN 'behind'::check_status WHEN 2 THEN 'at_risk'::check_status "
    "WHEN 1 THEN 'on_track'::check_status END"
)

AS_OF = """
CREATE OR REPLACE TEMP TABLE as_of_months AS
WITH spans AS (
    SELECT indicator, region, year, max(month) AS max_m,
           bool_or(month = 2 AND own_months = 2) AS jan_feb
    FROM actuals GROUP BY ALL
)
SELECT t.target_id, g.m
FROM targets_t t JOIN spans s USING (indicator, region, year)
CROSS JOIN generate_series(1, 12) AS g(m)
WHERE g.m <= s.max_m
  AND (t.frequency = 'monthly' OR g.m % 3 = 0)
  AND NOT (g.m = 1 AND s.jan_feb)   -- the Jan–Feb release is checked at February
"""

BASE = """
CREATE OR REPLACE TEMP TABLE base AS
SELECT t.target_id, t.kind, t.direction, t.frequency, t.annual, t.behind_below,
       t.at_risk_below, t.growth_behind_pp, t.growth_at_risk_pp, t.recover_after,
       x.m, a.to_date, a.own, coalesce(a.rolled_up, false) AS rolled_up,
       coalesce(a.own_months, CASE t.frequency WHEN 'quarterly' THEN 3 ELSE 1 END) AS span,
       pm.pace AS pace_m, pp.pace AS pace_prev, pm.q_target, ps.pace AS pace_qs,
       CASE WHEN ps.m = 0 THEN 0 ELSE aq.to_date END AS to_date_qs,
       CAST(ceil(x.m / 3) * 3 AS INTEGER) AS q_end,
       CASE t.frequency WHEN 'quarterly' THEN 3 ELSE 1 END AS step
FROM as_of_months x JOIN targets_t t USING (target_id)
LEFT JOIN actuals a
  ON a.indicator = t.indicator AND a.region = t.region AND a.year = t.year AND a.month = x.m
JOIN pace_t pm ON pm.target_id = x.target_id AND pm.m = x.m
JOIN pace_t pp ON pp.target_id = x.target_id
 AND pp.m = x.m - coalesce(a.own_months, CASE t.frequency WHEN 'quarterly' THEN 3 ELSE 1 END)
JOIN pace_t ps ON ps.target_id = x.target_id AND ps.m = CAST(ceil(x.m / 3) * 3 AS INTEGER) - 3
LEFT JOIN actuals aq
  ON aq.indicator = t.indicator AND aq.region = t.region AND aq.year = t.year AND aq.month = ps.m
"""

# Each horizon: actual, pace to date, horizon target, periods left, horizon end month.
# A flow's quarter is the quarter's own delivery, so a strong earlier quarter cannot
# hide a weak current one (以季保年).
HORIZONS = """
SELECT *, 'year'::check_horizon AS horizon, to_date AS actual,
       CASE kind WHEN 'growth' THEN annual ELSE pace_m END AS pace,
       annual AS horizon_target, (12 - m) // step AS remaining, 12 AS h_end
FROM base
UNION ALL
SELECT *, 'quarter'::check_horizon,
       CASE WHEN kind = 'flow' THEN to_date - to_date_qs
            WHEN kind = 'growth' AND frequency = 'quarterly' THEN own
            ELSE to_date END,
       CASE kind WHEN 'growth' THEN q_target WHEN 'flow' THEN pace_m - pace_qs ELSE pace_m END,
       CASE kind WHEN 'flow' THEN q_target - pace_qs ELSE q_target END,
       (q_end - m) // step, q_end
FROM base
UNION ALL
SELECT *, 'month'::check_horizon, own,
       CASE kind WHEN 'flow' THEN pace_m - pace_prev ELSE pace_m END,
       CASE kind WHEN 'flow' THEN pace_m - pace_prev ELSE pace_m END, 0, m
FROM base WHERE frequency = 'monthly'
"""

SCORED = """
CREATE OR REPLACE TEMP TABLE scored AS
WITH horizons AS ({horizons}),
g AS (
    SELECT *,
           CASE WHEN direction = 'lower' THEN pace - actual ELSE actual - pace END AS gap
    FROM horizons
),
a AS (
    SELECT *,
           CASE WHEN kind = 'growth' THEN gap
                WHEN pace IS NULL OR pace <= 0 THEN NULL
                WHEN direction = 'lower' THEN 2 - actual / pace
                ELSE actual / pace END AS attainment,
           CASE WHEN remaining > 0 AND kind <> 'growth'
                THEN (horizon_target - actual) / remaining END AS required_rate
    FROM g
),
r AS (
    SELECT *,
           CASE WHEN actual IS NULL THEN 'no_data'::check_status
                WHEN kind = 'growth' THEN
                     CASE WHEN gap < growth_behind_pp THEN 'behind'::check_status
                          WHEN gap < growth_at_risk_pp THEN 'at_risk'::check_status
                          ELSE 'on_track'::check_status END
                WHEN attainment IS NULL THEN 'on_track'::check_status
                WHEN attainment < behind_below THEN 'behind'::check_status
                WHEN attainment < at_risk_below THEN 'at_risk'::check_status
                ELSE 'on_track'::check_status END AS raw_status
    FROM a
)
SELECT target_id, m, horizon, h_end, step, actual, pace, horizon_target, attainment, gap,
       required_rate, remaining, raw_status, rolled_up, {own_status} AS own_status
FROM {rows}
"""

# Hysteresis: an on-pace period within `recover_after` periods of a red one stays yellow.
# The windows cost a sort of all rows, so they run only when some target asks for them.
HYSTERESIS = (
    """CASE WHEN raw_status = 'on_track' AND recover_after > 0
         AND seq - max(CASE WHEN raw_status = 'behind' THEN seq END) OVER (
                 PARTITION BY target_id, horizon ORDER BY seq
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) <= recover_after
       THEN 'at_risk'::check_status ELSE raw_status END""",
    "(SELECT *, row_number() OVER (PARTITION BY target_id, horizon ORDER BY m) AS seq FROM r)",
)

CASCADE = f"""
CREATE OR REPLACE TEMP TABLE cascaded AS
WITH s AS (
    SELECT target_id, m,
           max({SEVERITY.format("own_status")}) FILTER (horizon = 'month') AS sm,
           max({SEVERITY.format("own_status")}) FILTER (horizon = 'quarter') AS sq,
           max({SEVERITY.format("own_status")}) FILTER (horizon = 'year') AS sy
    FROM scored GROUP BY ALL
),
c AS (  -- a child behind makes its parent at least at risk
    SELECT target_id, m, sm,
           greatest(sq, CASE WHEN sm = 3 THEN 2 ELSE 0 END) AS cq, sy
    FROM s
)
SELECT target_id, m, sm, cq,
       greatest(sy, CASE WHEN cq = 3 THEN 2 ELSE 0 END) AS cy,
       cq > sq AS q_from_month, cq = 3 AND sy < 2 AS y_from_quarter
FROM (SELECT c.*, s.sq FROM c JOIN s USING (target_id, m))
"""

# Per target: its series' newest month, and whether the next release is overdue.
LATEST = """
CREATE OR REPLACE TEMP TABLE latest AS
WITH per_series AS (
    SELECT indicator, region, max(year * 100 + month) AS ym FROM actuals GROUP BY ALL
),
t AS (
    SELECT target_id, indicator, region, year,
           CASE frequency WHEN 'quarterly' THEN 3 ELSE 1 END AS step
    FROM targets_t
)
SELECT t.target_id, t.year, p.ym,
       $today > last_day(make_date(p.ym // 100, p.ym % 100, 1) + to_months(t.step))
                + to_days(CASE t.step WHEN 3 THEN $lag_q ELSE $lag_m END) AS overdue
FROM t JOIN per_series p USING (indicator, region)
"""

# Regions are ranked within their parent by attainment (the monthly ranking of units).
RANKS = """
CREATE OR REPLACE TEMP TABLE ranks AS
SELECT s.target_id, s.m, s.horizon,
       rank() OVER (PARTITION BY t.indicator, g.parent, t.year, s.m, s.horizon
                    ORDER BY s.attainment DESC NULLS LAST) AS rank_in_parent
FROM scored s JOIN targets_t t USING (target_id)
JOIN regions g ON g.id = t.region AND g.parent IS NOT NULL
"""

# The checks by target id: names are stored once per target in check_targets, which
# keeps the millions of rows written on each refresh narrow.
CLEAR = ("DELETE FROM check_results", "DELETE FROM check_targets")
STORE = (
    "INSERT INTO check_targets SELECT target_id, indicator, region, year, pacing FROM targets_t",
    f"""
    INSERT INTO check_results
    SELECT s.target_id, s.m, s.horizon, s.h_end, s.actual, s.pace, s.horizon_target,
           s.attainment, s.gap, s.required_rate, s.remaining, s.raw_status,
           CASE s.horizon
             WHEN 'month' THEN s.own_status
             WHEN 'quarter' THEN coalesce({STATUS_OF.format("c.cq")}, s.own_status)
             ELSE coalesce({STATUS_OF.format("c.cy")}, s.own_status) END,
           CASE WHEN s.horizon = 'quarter' AND c.q_from_month THEN 1
                WHEN s.horizon = 'year' AND c.y_from_quarter THEN 2 END,
           s.rolled_up, coalesce(l.overdue AND l.ym = l.year * 100 + s.m, false),
           r.rank_in_parent, now()
    FROM scored s
    JOIN cascaded c USING (target_id, m)
    LEFT JOIN latest l USING (target_id)
    LEFT JOIN ranks r USING (target_id, m, horizon)
    """,
)
TABLES = ("as_of_months", "base", "scored", "cascaded", "latest", "ranks")


def compute_checks(
    con: duckdb.DuckDBPyConnection, today: date, lag_monthly: int, lag_quarterly: int
) -> None:
    """From temp tables actuals, targets_t and pace_t build the tables STORE reads."""
    row = con.execute("SELECT bool_or(recover_after > 0) FROM targets_t").fetchall()[0]
    own_status, rows = HYSTERESIS if row and row[0] else ("raw_status", "r")
    scored = SCORED.format(horizons=HORIZONS, own_status=own_status, rows=rows)
    for sql in (AS_OF, BASE, scored, CASCADE, RANKS):
        con.execute(sql)
    con.execute(LATEST, {"today": today, "lag_m": lag_monthly, "lag_q": lag_quarterly})


def drop_check_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")
