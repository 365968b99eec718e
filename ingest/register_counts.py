"""Project counts written as ordinary observations, so targets and checks need no case.

Each configured count (say, projects started of ≥ 1 亿元) becomes a monthly flow series
(measure `value`) in the project's region and every region above it, every complete
month from January of its first event's year to the last month ended before the load
(zeros included, so the year to date is complete; a month in progress would read as a
month behind its pace; project_counts has it). Only values that differ from the stored
ones are written, as new vintages of the register's load: as-of queries see the counts
as they were known.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from ingest.register_sql import KEPT_DAYS, by_day
from ingest.register_wide import LATEST_COUNT_DAYS

# One value per count, region and month as this load knows it (zeros included), with
# keys stored earlier that no longer have events (they become zero).
_COUNTS = """
CREATE OR REPLACE TEMP TABLE count_values AS
WITH ev AS (SELECT indicator, region, day, n FROM {days}),
monthly AS (
    SELECT e.indicator, t.ancestor AS region, date_trunc('month', e.day)::DATE AS m,
           sum(e.n) AS n
    FROM ev e JOIN region_tree t ON t.region = e.region GROUP BY ALL
),
regs AS (  -- each register's regions found once, not once per version and count
    SELECT DISTINCT c.indicator, t.ancestor AS region
    FROM register_counts c
    JOIN (SELECT DISTINCT register, region FROM project_rows) p ON p.register = c.register
    JOIN region_tree t ON t.region = p.region
),
first AS (SELECT indicator, make_date(year(min(m)), 1, 1) AS m0 FROM monthly GROUP BY ALL),
months AS (
    SELECT r.indicator, r.region,
           unnest(generate_series(
               f.m0, CAST(date_trunc('month', CAST($d AS DATE)) - INTERVAL 1 MONTH AS DATE),
               INTERVAL 1 MONTH))::DATE AS m
    FROM regs r JOIN first f USING (indicator)
),
fresh AS (
    SELECT indicator, region, year(m) * 10000 + month(m) * 101 AS pkey, m,
           CAST(coalesce(n, 0) AS DOUBLE) AS value
    FROM months LEFT JOIN monthly USING (indicator, region, m)
),
prior AS (
    SELECT s.series_id, s.indicator, s.region, v.pkey,
           arg_max(v.value, (l.known_from, v.load_id)) AS value
    FROM vintages v JOIN series s USING (series_id) JOIN loads l USING (load_id)
    WHERE s.measure = 'value' AND s.indicator IN (SELECT indicator FROM register_counts)
    GROUP BY ALL
)
SELECT coalesce(f.indicator, p.indicator) AS indicator,
       coalesce(f.region, p.region) AS region, coalesce(f.pkey, p.pkey) AS pkey,
       coalesce(f.value, 0) AS value, p.value AS prior, p.series_id
FROM fresh f FULL OUTER JOIN prior p USING (indicator, region, pkey)
WHERE p.value IS NULL OR p.value <> coalesce(f.value, 0)
"""

_NEW_SERIES = """
INSERT INTO series
SELECT (SELECT coalesce(max(series_id), -1) FROM series)
       + row_number() OVER (ORDER BY indicator, region), indicator, region, 'value'
FROM (SELECT DISTINCT indicator, region FROM {table} c
      WHERE NOT EXISTS (SELECT 1 FROM series s WHERE s.indicator = c.indicator
                        AND s.region = c.region AND s.measure = 'value'))
"""

_PERIODS = """
INSERT INTO periods (period, period_start, period_end, months, freq, pkey)
SELECT DISTINCT printf('%d-%02d', pkey // 10000, pkey % 100),
       make_date(pkey // 10000, pkey % 100, 1), last_day(make_date(pkey // 10000, pkey % 100, 1)),
       1, 'M', pkey
FROM {table} ON CONFLICT DO NOTHING
"""

_VINTAGES = """
INSERT INTO vintages
SELECT s.series_id, c.pkey, c.value, $load_id, NULL
FROM {table} c JOIN series s
  ON s.indicator = c.indicator AND s.region = c.region AND s.measure = 'value'
"""


def count_days(
    con: duckdb.DuckDBPyConnection, known: datetime, in_order: bool | None = None
) -> str:
    """The count events by region and day (column n) as known at `known` (parameter $d):
    those kept by the loads when no version is known later, else resolved from every
    stored version."""
    if known_now(con, known) if in_order is None else in_order:
        return KEPT_DAYS
    return by_day("project_count_events_at($d)")


def known_now(con: duckdb.DuckDBPyConnection, known: datetime) -> bool:
    """No project or node version is known after `known`: the latest ones are as of then.

    (A load known later that stored any version made it the latest of what it changed.)
    """
    later = con.execute("SELECT count(*) FROM loads WHERE known_from > ?", [known]).fetchall()
    if not later[0][0]:
        return True  # files loaded in order: no need to look through every version
    row = con.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM loads WHERE known_from > $d "
        "AND load_id IN (SELECT DISTINCT load_id FROM project_history))",
        {"d": known},
    ).fetchall()
    return bool(row[0][0])


def write_counts(
    con: duckdb.DuckDBPyConnection, load_id: int, known_from: datetime, in_order: bool
) -> int:
    """Write the counts that changed with this load (inside its transaction); return them.

    Leaves the temp table count_values for the caller to drop (after a rollback).
    """
    con.execute(LATEST_COUNT_DAYS)
    days = count_days(con, known_from, in_order)
    con.execute(_COUNTS.format(days=days), {"d": known_from})
    return _write(con, "count_values", load_id)


# Each sum's value in the load's month for each region with projects of the register
# (the projects this load lists), where it differs from the stored one. A region with
# no project due to start (or none reporting progress) has no start rate (progress).
_SUMS = """
CREATE OR REPLACE TEMP TABLE sum_values AS
WITH p AS (
    SELECT p.* FROM {projects} p
    WHERE p.register = $reg AND NOT EXISTS (
        SELECT 1 FROM project_absences a
        WHERE a.register = p.register AND a.project = p.project AND a.load_id = $load_id)
),
started AS (  -- each project's start: planned, and whether done by the load's day
    SELECT project, planned <= CAST($d AS DATE) AS due,
           coalesce(confirmed, reported) <= CAST($d AS DATE) AS done
    FROM {nodes} WHERE register = $reg AND node = 'started'
),
fresh AS (
    SELECT s.indicator, t.ancestor AS region,
           year(CAST($d AS DATE)) * 10000 + month(CAST($d AS DATE)) * 101 AS pkey,
           CASE s.field
               WHEN 'funds' THEN coalesce(sum(p.funds), 0)
               WHEN 'investment' THEN coalesce(sum(p.investment), 0)
               WHEN 'progress' THEN avg(p.progress)
               ELSE 100.0 * count(*) FILTER (st.due AND st.done)
                    / nullif(count(*) FILTER (st.due), 0) END AS value
    FROM register_sums s JOIN p ON p.register = s.register
    JOIN region_tree t ON t.region = p.region
    LEFT JOIN started st ON st.project = p.project
    WHERE s.register = $reg GROUP BY s.indicator, s.field, t.ancestor
),
prior AS (
    SELECT s.indicator, s.region, v.pkey, arg_max(v.value, (l.known_from, v.load_id)) AS value
    FROM vintages v JOIN series s USING (series_id) JOIN loads l USING (load_id)
    WHERE s.measure = 'value' AND s.indicator IN (SELECT indicator FROM register_sums)
    GROUP BY ALL
)
SELECT f.* FROM fresh f LEFT JOIN prior p USING (indicator, region, pkey)
WHERE f.value IS NOT NULL AND (p.value IS NULL OR p.value <> f.value)
"""


def write_sums(
    con: duckdb.DuckDBPyConnection, name: str, load_id: int, known: datetime, in_order: bool
) -> int:
    """Write the register's sums for the load's month where they changed; return them.

    Leaves the temp table sum_values for the caller to drop.
    """
    sums = con.execute("SELECT count(*) FROM register_sums WHERE register = ?", [name])
    if not sums.fetchall()[0][0]:
        return 0
    sources = {"projects": "project_rows_current", "nodes": "node_rows_current"}
    if not in_order:
        sources = {"projects": "project_latest_at($d)", "nodes": "project_node_latest_at($d)"}
    con.execute(_SUMS.format_map(sources), {"d": known, "reg": name, "load_id": load_id})
    return _write(con, "sum_values", load_id)


def _write(con: duckdb.DuckDBPyConnection, table: str, load_id: int) -> int:
    """Add the series, periods and vintages of a temp table of changed values."""
    changed = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    if changed:
        con.execute(_NEW_SERIES.format(table=table))
        con.execute(_PERIODS.format(table=table))
        con.execute(_VINTAGES.format(table=table), {"load_id": load_id})
    return int(changed)
