"""The DuckDB store: opening, schema migrations and the analysts' views."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ingest import register_sql
from ingest.errors import StoreError
from ingest.schema import Indicator, Region
from ingest.task_tables import MIGRATION as TASK_TABLES
from ingest.task_tables import VIEWS as TASK_VIEWS

# Each migration runs once, in order, inside one transaction with its version row.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE loads (
            load_id BIGINT PRIMARY KEY,
            source VARCHAR,
            file VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            known_from TIMESTAMP NOT NULL,
            loaded_at TIMESTAMP NOT NULL,
            rows_read BIGINT NOT NULL,
            new_values BIGINT NOT NULL,
            revised_values BIGINT NOT NULL,
            unchanged_values BIGINT NOT NULL
        );
        CREATE TABLE periods (
            period VARCHAR PRIMARY KEY,
            period_start DATE NOT NULL,
            period_end DATE NOT NULL,
            months TINYINT NOT NULL,
            freq VARCHAR NOT NULL
        );
        CREATE TABLE observation_vintages (
            indicator VARCHAR NOT NULL,
            region VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            value DOUBLE NOT NULL,
            load_id BIGINT NOT NULL,
            line BIGINT
        );
        CREATE TABLE indicators (
            id VARCHAR PRIMARY KEY, name VARCHAR, unit VARCHAR, kind VARCHAR,
            frequency VARCHAR, direction VARCHAR, owner VARCHAR, illustrative BOOLEAN
        );
        CREATE TABLE regions (id VARCHAR PRIMARY KEY, name VARCHAR, parent VARCHAR);
        """,
    ),
    (
        2,
        """
        CREATE TABLE progress_checks (
            indicator VARCHAR NOT NULL, region VARCHAR NOT NULL, year INTEGER NOT NULL,
            month INTEGER NOT NULL, horizon VARCHAR NOT NULL, horizon_month INTEGER NOT NULL,
            actual DOUBLE, pace_target DOUBLE, horizon_target DOUBLE, attainment DOUBLE,
            gap DOUBLE, required_rate DOUBLE, remaining_periods INTEGER,
            raw_status VARCHAR NOT NULL, status VARCHAR NOT NULL, cascade_note VARCHAR,
            pacing VARCHAR, rolled_up BOOLEAN, stale BOOLEAN, rank_in_parent INTEGER,
            computed_at TIMESTAMP NOT NULL
        );
        CREATE TABLE rollup_mismatches (
            indicator VARCHAR, region VARCHAR, year INTEGER, month INTEGER,
            reported DOUBLE, children_sum DOUBLE
        );
        CREATE TABLE status_labels (status VARCHAR PRIMARY KEY, label VARCHAR);
        """,
    ),
    (
        3,
        """
        CREATE TABLE forecast_results (
            indicator VARCHAR NOT NULL, region VARCHAR NOT NULL, year INTEGER NOT NULL,
            month INTEGER NOT NULL, horizon VARCHAR NOT NULL, horizon_month INTEGER NOT NULL,
            target DOUBLE, point DOUBLE, lower80 DOUBLE, upper80 DOUBLE, lower95 DOUBLE,
            upper95 DOUBLE, p_meet DOUBLE, expected_shortfall DOUBLE,
            forecast_status VARCHAR, model VARCHAR NOT NULL, backtest_mase DOUBLE,
            note VARCHAR, input_hash VARCHAR NOT NULL, computed_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        4,
        # Vintages keyed by integers: a series id (indicator × region × measure) and the
        # period key yyyy·10⁴ + first month·100 + last month. Writing and grouping
        # integers is several times cheaper than strings; observation_vintages stays
        # as a view with the same columns.
        """
        CREATE TABLE series (
            series_id INTEGER PRIMARY KEY,
            indicator VARCHAR NOT NULL,
            region VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            UNIQUE (indicator, region, measure)
        );
        ALTER TABLE periods ADD COLUMN pkey INTEGER;
        UPDATE periods
        SET pkey = year(period_start) * 10000 + month(period_start) * 100 + month(period_end);
        CREATE TABLE vintages (
            series_id INTEGER NOT NULL,
            pkey INTEGER NOT NULL,
            value DOUBLE NOT NULL,
            load_id BIGINT NOT NULL,
            line BIGINT
        );
        INSERT INTO series
        SELECT row_number() OVER (ORDER BY indicator, region, measure) - 1, *
        FROM (SELECT DISTINCT indicator, region, measure FROM observation_vintages);
        INSERT INTO vintages
        SELECT s.series_id, p.pkey, v.value, v.load_id, v.line
        FROM observation_vintages v
        JOIN series s USING (indicator, region, measure) JOIN periods p USING (period);
        DROP TABLE observation_vintages;
        """,
    ),
    (
        5,
        # Checks stored by target id with enum statuses: a refresh rewrites millions of
        # rows, and repeating the names on each made storing them the slowest step.
        # progress_checks stays as a view with the same columns.
        """
        CREATE TYPE check_horizon AS ENUM ('month', 'quarter', 'year');
        CREATE TYPE check_status AS ENUM ('no_data', 'on_track', 'at_risk', 'behind');
        CREATE TABLE check_targets (
            target_id INTEGER PRIMARY KEY, indicator VARCHAR NOT NULL,
            region VARCHAR NOT NULL, year INTEGER NOT NULL, pacing VARCHAR
        );
        CREATE TABLE check_results (
            target_id INTEGER NOT NULL, month INTEGER NOT NULL, horizon check_horizon NOT NULL,
            horizon_month INTEGER NOT NULL, actual DOUBLE, pace_target DOUBLE,
            horizon_target DOUBLE, attainment DOUBLE, gap DOUBLE, required_rate DOUBLE,
            remaining_periods INTEGER, raw_status check_status NOT NULL,
            status check_status NOT NULL,
            cascade TINYINT,  -- 1: the month is behind, 2: the quarter is behind
            rolled_up BOOLEAN, stale BOOLEAN, rank_in_parent INTEGER,
            computed_at TIMESTAMP NOT NULL
        );
        INSERT INTO check_targets
        SELECT row_number() OVER (ORDER BY indicator, region, year) - 1, *
        FROM (SELECT DISTINCT indicator, region, year, pacing FROM progress_checks);
        INSERT INTO check_results
        SELECT t.target_id, p.month, p.horizon, p.horizon_month, p.actual, p.pace_target,
               p.horizon_target, p.attainment, p.gap, p.required_rate, p.remaining_periods,
               p.raw_status, p.status,
               CASE p.cascade_note WHEN 'this month is behind its own target' THEN 1
                                   WHEN 'the current quarter is behind' THEN 2 END,
               p.rolled_up, p.stale, p.rank_in_parent, p.computed_at
        FROM progress_checks p JOIN check_targets t USING (indicator, region, year);
        DROP TABLE progress_checks;
        """,
    ),
    (
        6,
        # One row per target and as-of month with the three horizons side by side, each
        # horizon's statuses in one small code (raw severity + 4 × severity + 16 when the
        # cascade raised it; severities 0 no data … 3 behind), and what follows from the
        # numbers (attainment, gap, required rate, periods left) derived in the view:
        # every stored column cost about 0.03 s per million checks on each refresh.
        # What is constant per target (annual target, staleness, computed_at) lives in
        # check_targets.
        """
        CREATE TABLE check_targets_6 (
            target_id INTEGER NOT NULL, indicator VARCHAR NOT NULL,
            region VARCHAR NOT NULL, year INTEGER NOT NULL, pacing VARCHAR,
            kind VARCHAR NOT NULL, direction VARCHAR NOT NULL, step TINYINT NOT NULL,
            annual DOUBLE, stale_month TINYINT, computed_at TIMESTAMP NOT NULL
        );
        INSERT INTO check_targets_6
        SELECT t.target_id, t.indicator, t.region, t.year, t.pacing,
               coalesce(i.kind, 'flow'), coalesce(i.direction, 'higher'),
               CASE i.frequency WHEN 'quarterly' THEN 3 ELSE 1 END, c.annual,
               c.stale_month, coalesce(c.computed_at, now())
        FROM check_targets t LEFT JOIN indicators i ON i.id = t.indicator
        LEFT JOIN (SELECT target_id, max(month) FILTER (stale) AS stale_month,
                          any_value(horizon_target) FILTER (horizon = 'year') AS annual,
                          max(computed_at) AS computed_at
                   FROM check_results GROUP BY target_id) c USING (target_id);
        CREATE TABLE check_results_6 (
            target_id INTEGER NOT NULL, month TINYINT NOT NULL, rolled_up BOOLEAN,
            y_actual DOUBLE, y_pace DOUBLE, y_code UTINYINT, y_rank INTEGER,
            q_actual DOUBLE, q_pace DOUBLE, q_target DOUBLE, q_code UTINYINT, q_rank INTEGER,
            m_actual DOUBLE, m_pace DOUBLE, m_code UTINYINT, m_rank INTEGER
        );
        INSERT INTO check_results_6
        WITH c AS (
            SELECT *, enum_code(raw_status) + 4 * enum_code(status)
                      + 16 * CAST(cascade IS NOT NULL AS INTEGER) AS code
            FROM check_results
        )
        SELECT target_id, month, bool_or(rolled_up),
               any_value(actual) FILTER (horizon = 'year'),
               any_value(pace_target) FILTER (horizon = 'year'),
               any_value(code) FILTER (horizon = 'year'),
               any_value(rank_in_parent) FILTER (horizon = 'year'),
               any_value(actual) FILTER (horizon = 'quarter'),
               any_value(pace_target) FILTER (horizon = 'quarter'),
               any_value(horizon_target) FILTER (horizon = 'quarter'),
               any_value(code) FILTER (horizon = 'quarter'),
               any_value(rank_in_parent) FILTER (horizon = 'quarter'),
               any_value(actual) FILTER (horizon = 'month'),
               any_value(pace_target) FILTER (horizon = 'month'),
               any_value(code) FILTER (horizon = 'month'),
               any_value(rank_in_parent) FILTER (horizon = 'month')
        FROM c GROUP BY target_id, month;
        DROP TABLE check_results;
        DROP TABLE check_targets;
        DROP TYPE check_horizon;
        DROP TYPE check_status;
        ALTER TABLE check_targets_6 RENAME TO check_targets;
        ALTER TABLE check_results_6 RENAME TO check_results;
        """,
    ),
    (
        7,
        # The unit answering for a target (its own, else its region's; the indicator's
        # owner is joined in the views), and the last month of the target's year with
        # data (NULL: none at all, the target is checked once as no_data).
        """
        ALTER TABLE check_targets ADD COLUMN owner VARCHAR;
        ALTER TABLE check_targets ADD COLUMN data_month TINYINT;
        """,
    ),
    # Units, tasks, progress reports and problems (ingest/task_tables.py).
    (8, TASK_TABLES),
    (9, register_sql.TABLES),  # the project register (ingest/register_sql.py)
    # Values a load brought with a vintage older than the stored one: kept as history.
    (10, "ALTER TABLE loads ADD COLUMN older_values BIGINT NOT NULL DEFAULT 0;"),
    # No table changes: the register's views gain project_latest_at and friends, and the
    # views are re-created with every migration.
    (11, "SELECT 1;"),
    # Stock indicators summed over a register's projects ([[registers.sums]]).
    (
        12,
        "CREATE TABLE register_sums "
        "(indicator VARCHAR PRIMARY KEY, register VARCHAR, field VARCHAR);",
    ),
]

VIEWS = """
-- A check's severity (0..3) in words.
CREATE OR REPLACE MACRO check_status_name(severity) AS
['no_data', 'on_track', 'at_risk', 'behind'][severity + 1];

-- How far a check is from its pace: percentage points for growth rates, the ratio
-- actual ÷ pace otherwise, mirrored for indicators where lower is better.
CREATE OR REPLACE MACRO check_gap(direction, actual, pace) AS
CASE WHEN direction = 'lower' THEN pace - actual ELSE actual - pace END;

CREATE OR REPLACE MACRO check_attainment(kind, direction, actual, pace) AS
CASE WHEN kind = 'growth' THEN check_gap(direction, actual, pace)
     WHEN pace IS NULL OR pace <= 0 THEN NULL
     WHEN direction = 'lower' THEN 2 - actual / pace
     ELSE actual / pace END;

-- What a check has delivered, in words that read right for a target and a ceiling.
CREATE OR REPLACE MACRO progress_done(kind, direction, actual, pace, gap, as_of) AS
CASE WHEN kind = 'growth' THEN printf('%.2f%% against %.2f%% (%+.2f pp)', actual, pace, gap)
     WHEN direction = 'lower' AND pace > 0
     THEN printf('%.2f used of %.2f allowed by %s (%.1f%% of the allowance)',
                 actual, pace, as_of, actual / pace * 100)
     WHEN direction = 'lower' AND round(actual, 2) > round(pace, 2)
     THEN printf('%.2f used, %.2f allowed by %s', actual, pace, as_of)
     WHEN direction = 'lower' THEN printf('%.2f used, within %.2f allowed by %s',
                                          actual, pace, as_of)
     WHEN pace <= 0 THEN printf('%.2f done, nothing due by %s', actual, as_of)
     ELSE printf('%.2f done of %.2f due by %s (%.1f%% of pace)',
                 actual, pace, as_of, actual / pace * 100) END;

-- What the remaining periods must deliver (a target) or may still use (a ceiling).
CREATE OR REPLACE MACRO progress_needed(direction, rate, horizon, target, actual, per,
                                        label) AS
CASE WHEN rate IS NULL THEN NULL
     WHEN direction = 'higher' AND rate > 0
     THEN printf('%.2f a %s needed to reach %.2f by %s', rate, per, target, label)
     WHEN direction = 'higher' THEN printf('%s target of %.2f already reached', horizon, target)
     WHEN rate > 0
     THEN printf('at most %.2f a %s more to stay within %.2f by %s', rate, per, target, label)
     WHEN rate = 0 THEN printf('%s ceiling of %.2f reached: nothing more allowed', horizon, target)
     ELSE printf('%s ceiling of %.2f already exceeded by %.2f', horizon, target, actual - target)
     END;

CREATE OR REPLACE VIEW observation_vintages AS
SELECT s.indicator, s.region, p.period, s.measure, v.value, v.load_id, v.line
FROM vintages v JOIN series s USING (series_id) JOIN periods p USING (pkey);

CREATE OR REPLACE VIEW observations AS
SELECT s.indicator, s.region, p.period, s.measure, v.value,
       p.period_start, p.period_end, p.months, p.freq,
       l.known_from,
       lead(l.known_from) OVER w AS known_until,
       l.source, l.file, v.line, v.load_id
FROM vintages v JOIN series s USING (series_id) JOIN periods p USING (pkey)
JOIN loads l USING (load_id)
WINDOW w AS (PARTITION BY v.series_id, v.pkey ORDER BY l.known_from, v.load_id);

CREATE OR REPLACE VIEW observations_latest AS
SELECT * EXCLUDE (known_until) FROM observations WHERE known_until IS NULL;

CREATE OR REPLACE MACRO observations_as_of(d) AS TABLE
SELECT * EXCLUDE (known_until) FROM observations
WHERE known_from <= CAST(d AS TIMESTAMP)
  AND (known_until IS NULL OR known_until > CAST(d AS TIMESTAMP));

CREATE OR REPLACE VIEW progress_checks AS
WITH h AS (
    SELECT target_id, month, 'year' AS horizon, 12 AS horizon_month, y_actual AS actual,
           y_pace AS pace_target, NULL AS horizon_target, y_code AS code, rolled_up,
           y_rank AS rank_in_parent
    FROM check_results WHERE y_code IS NOT NULL
    UNION ALL
    SELECT target_id, month, 'quarter', (month + 2) // 3 * 3, q_actual, q_pace, q_target,
           q_code, rolled_up, q_rank
    FROM check_results WHERE q_code IS NOT NULL
    UNION ALL  -- a month's target is its pace
    SELECT target_id, month, 'month', month, m_actual, m_pace, m_pace, m_code, rolled_up,
           m_rank
    FROM check_results WHERE m_code IS NOT NULL
),
r AS (
    SELECT h.* EXCLUDE (horizon_target), t.indicator, t.region, t.year, t.pacing, t.kind,
           t.direction, t.stale_month, t.computed_at, t.owner, t.data_month,
           CASE h.horizon WHEN 'year' THEN t.annual ELSE h.horizon_target END
               AS horizon_target,
           (h.horizon_month - h.month) // t.step AS remaining
    FROM h JOIN check_targets t USING (target_id)
)
SELECT indicator, region, year, CAST(month AS INTEGER) AS month, horizon,
       CAST(horizon_month AS INTEGER) AS horizon_month, actual, pace_target, horizon_target,
       check_attainment(kind, direction, actual, pace_target) AS attainment,
       check_gap(direction, actual, pace_target) AS gap,
       CASE WHEN remaining > 0 AND kind <> 'growth'
            THEN (horizon_target - actual) / remaining END AS required_rate,
       CAST(remaining AS INTEGER) AS remaining_periods,
       check_status_name(code % 4) AS raw_status,
       check_status_name(code // 4 % 4) AS status,
       CASE WHEN code >= 16 AND horizon = 'quarter' THEN 'this month is behind its own target'
            WHEN code >= 16 THEN 'the current quarter is behind' END AS cascade_note,
       pacing, rolled_up, coalesce(stale_month = month, false) AS stale, rank_in_parent,
       computed_at, owner, data_month
FROM r;

CREATE OR REPLACE VIEW progress AS
WITH p AS (
    SELECT p.* EXCLUDE (status, cascade_note, owner),
           CASE WHEN f.forecast_status = 'behind' AND p.status IN ('on_track', 'at_risk')
                  THEN 'behind'
                WHEN f.forecast_status = 'at_risk' AND p.status = 'on_track' THEN 'at_risk'
                ELSE p.status END AS status,
           concat_ws('; ', p.cascade_note,
                     CASE WHEN f.forecast_status IN ('at_risk', 'behind')
                          THEN printf('forecast: %.0f%% likely to meet the %s target',
                                      f.p_meet * 100, p.horizon) END) AS cascade_note,
           i.name AS indicator_name, i.unit, i.kind, i.direction,
           coalesce(nullif(p.owner, ''), i.owner) AS owner,
           coalesce(i.illustrative, false) AS illustrative,
           r.name AS region_name,
           CASE i.frequency WHEN 'quarterly' THEN 3 ELSE 1 END AS step
    FROM progress_checks p
    LEFT JOIN indicators i ON i.id = p.indicator
    LEFT JOIN regions r ON r.id = p.region
    LEFT JOIN forecast_results f
      ON f.indicator = p.indicator AND f.region = p.region AND f.year = p.year
     AND f.month = p.month AND f.horizon = p.horizon
),
q AS (
    SELECT *,
           CASE step WHEN 3 THEN printf('%dQ%d', year, month // 3)
                ELSE printf('%d-%02d', year, month) END AS as_of,
           CASE step WHEN 3 THEN printf('%dQ%d', year, horizon_month // 3)
                ELSE printf('%d-%02d', year, horizon_month) END AS horizon_label
    FROM p
)
SELECT q.indicator, q.indicator_name, q.unit, q.kind, q.owner, q.region, q.region_name,
       q.year, q.as_of, last_day(make_date(q.year, q.month, 1)) AS as_of_end, q.horizon,
       last_day(make_date(q.year, q.horizon_month, 1)) AS horizon_end,
       q.actual, q.pace_target, q.horizon_target, q.attainment, q.gap, q.required_rate,
       q.remaining_periods, q.status, coalesce(l.label, q.status) AS status_label,
       q.raw_status,
       CASE WHEN q.status = 'no_data' AND q.data_month IS NULL
            THEN printf('no data for %d', q.year)
            WHEN q.status = 'no_data' THEN 'no data for ' || q.as_of
       ELSE concat_ws('; ', progress_done(q.kind, q.direction, q.actual, q.pace_target,
                                          q.gap, q.as_of),
           progress_needed(q.direction, round(q.required_rate, 2), q.horizon,
                           q.horizon_target, q.actual,
                           CASE q.step WHEN 3 THEN 'quarter' ELSE 'month' END,
                           q.horizon_label),
           nullif(q.cascade_note, ''),
           CASE WHEN q.stale THEN 'the next release is late' END,
           CASE WHEN q.rolled_up THEN 'summed from sub-regions' END)
       END AS reason,
       q.pacing, q.rolled_up, q.stale, q.rank_in_parent, q.computed_at, q.illustrative
FROM q LEFT JOIN status_labels l ON l.status = q.status;

CREATE OR REPLACE VIEW monthly AS
WITH latest AS (
    SELECT o.*, i.kind FROM observations_latest o JOIN indicators i ON i.id = o.indicator
    WHERE o.freq = 'M'
),
published AS (
    SELECT indicator, region, period, period_start, period_end, months, value,
           'published' AS basis
    FROM latest
    WHERE measure = CASE kind WHEN 'growth' THEN 'yoy_pct' ELSE 'value' END
),
ytd AS (
    SELECT indicator, region, year(period_end) AS year, month(period_end) AS m, value
    FROM latest WHERE kind = 'flow' AND measure = 'ytd'
),
derived AS (
    SELECT a.indicator, a.region, a.year, a.m,
           CASE WHEN a.m = 1 OR p.value IS NOT NULL THEN a.m
                WHEN a.m = 2 THEN 1 END AS first_month,
           CASE WHEN a.m = 1 THEN a.value
                WHEN p.value IS NOT NULL THEN a.value - p.value
                WHEN a.m = 2 THEN a.value END AS value
    FROM ytd a LEFT JOIN ytd p
      ON p.indicator = a.indicator AND p.region = a.region
     AND p.year = a.year AND p.m = a.m - 1
),
from_ytd AS (
    SELECT indicator, region,
           CASE WHEN first_month = 1 AND m = 2
                THEN printf('%d-01/02', year) ELSE printf('%d-%02d', year, m) END AS period,
           make_date(year, coalesce(first_month, m), 1) AS period_start,
           last_day(make_date(year, m, 1)) AS period_end,
           CAST(m - coalesce(first_month, m) + 1 AS TINYINT) AS months,
           value,
           CASE WHEN value IS NULL THEN 'gap' ELSE 'from_ytd' END AS basis
    FROM derived
)
SELECT * FROM published
UNION ALL
SELECT f.* FROM from_ytd f
WHERE NOT EXISTS (
    SELECT 1 FROM published p
    WHERE p.indicator = f.indicator AND p.region = f.region AND p.period_end = f.period_end
);
"""


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the block in one transaction: all of it commits, or none of it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def open_store(
    path: str | Path, read_only: bool = False, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, creating and migrating the schema when writable.

    With a memory limit, what does not fit (a large file's staged rows) spills to
    `<store>.tmp/` instead of growing the process.
    """
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise StoreError(f"{path}: cannot open the DuckDB file: {exc}") from exc
    # The progress bar would write into the CLI's output and the service's log.
    con.execute("SET enable_progress_bar = false")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
        con.execute("SET temp_directory = ?", [f"{path}.tmp"])
        con.execute("SET preserve_insertion_order = true")
    if not read_only:
        migrate(con)
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open store (0 when empty)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0]
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0]
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Apply pending migrations; each one commits with its version row or not at all."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
    )
    current = schema_version(con)
    latest = MIGRATIONS[-1][0]
    if current > latest:
        raise StoreError(f"store schema version {current} is newer than this kpiwatch ({latest})")
    if current == latest:
        return
    try:
        with transaction(con):
            for version, sql in MIGRATIONS:
                if version > current:
                    con.execute(sql)
                    con.execute("INSERT INTO schema_version VALUES (?, now())", [version])
            con.execute(VIEWS)
            con.execute(TASK_VIEWS)
            con.execute(register_sql.VIEWS)
    except duckdb.Error as exc:
        raise StoreError(f"schema migration failed: {exc}") from exc


def sync_catalog(
    con: duckdb.DuckDBPyConnection, indicators: Iterable[Indicator], regions: Iterable[Region]
) -> bool:
    """Mirror the configured indicators and regions into their tables; True if changed."""
    ind_rows = sorted(
        (i.id, i.name, i.unit, i.kind, i.frequency, i.direction, i.owner, i.illustrative)
        for i in indicators
    )
    reg_rows = sorted((r.id, r.name, r.parent) for r in regions)
    if (
        con.execute("SELECT * FROM indicators ORDER BY id").fetchall() == ind_rows
        and con.execute("SELECT * FROM regions ORDER BY id").fetchall() == reg_rows
    ):
        return False
    con.execute("DELETE FROM indicators")
    con.execute("DELETE FROM regions")
    # Whole columns as list parameters: executemany costs a statement per row.
    if ind_rows:
        con.execute(
            "INSERT INTO indicators SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::BOOLEAN[])",
            [list(column) for column in zip(*ind_rows, strict=True)],
        )
    if reg_rows:
        con.execute(
            "INSERT INTO regions SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[])",
            [list(column) for column in zip(*reg_rows, strict=True)],
        )
    return True
